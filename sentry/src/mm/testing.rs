//! Test support: an in-memory `AddressSpace` that records every host call and keeps page
//! contents in a map, so the memory manager and the loader can be tested without a platform.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex};

use super::{MemoryManager, PAGE_SIZE};
use crate::platform::{AddressSpace, Layout, Prot, ReservedRange};
use crate::Errno;

/// One recorded host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    MapAnon {
        addr: u64,
        len: u64,
        prot: Prot,
        shared: bool,
    },
    MapFile {
        addr: u64,
        len: u64,
        prot: Prot,
        shared: bool,
        offset: u64,
    },
    Unmap {
        addr: u64,
        len: u64,
    },
    Protect {
        addr: u64,
        len: u64,
        prot: Prot,
    },
    Remap {
        old: u64,
        old_len: u64,
        new: u64,
        new_len: u64,
    },
}

#[derive(Default)]
struct Inner {
    calls: Vec<Call>,
    /// Page address -> (protection, contents).
    pages: HashMap<u64, (Prot, Vec<u8>)>,
}

#[derive(Default)]
pub struct FakeAddressSpace {
    inner: Mutex<Inner>,
}

impl FakeAddressSpace {
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().unwrap().calls.clone()
    }
    pub fn clear_calls(&self) {
        self.inner.lock().unwrap().calls.clear();
    }
    fn fill(&self, addr: u64, len: u64, prot: Prot, contents: impl Fn(u64) -> Vec<u8>) {
        let mut g = self.inner.lock().unwrap();
        let mut a = addr;
        while a < addr + len {
            g.pages.insert(a, (prot, contents(a - addr)));
            a += PAGE_SIZE;
        }
    }
    fn access(
        &self,
        addr: u64,
        len: usize,
        mut f: impl FnMut(&mut Vec<u8>, usize, usize, usize),
        write: bool,
    ) -> Result<usize, Errno> {
        let mut g = self.inner.lock().unwrap();
        let mut done = 0usize;
        while done < len {
            let a = addr + done as u64;
            let page = a & !(PAGE_SIZE - 1);
            let off = (a - page) as usize;
            let n = (PAGE_SIZE as usize - off).min(len - done);
            match g.pages.get_mut(&page) {
                Some((prot, data)) if !write || prot.contains(Prot::WRITE) => f(data, off, done, n),
                _ => break,
            }
            done += n;
        }
        if done == 0 && len > 0 {
            return Err(Errno::EFAULT);
        }
        Ok(done)
    }
}

impl AddressSpace for FakeAddressSpace {
    fn map_anon(&self, addr: u64, len: u64, prot: Prot, shared: bool) -> Result<(), Errno> {
        self.inner.lock().unwrap().calls.push(Call::MapAnon {
            addr,
            len,
            prot,
            shared,
        });
        self.fill(addr, len, prot, |_| vec![0; PAGE_SIZE as usize]);
        Ok(())
    }
    fn map_file(
        &self,
        addr: u64,
        len: u64,
        prot: Prot,
        shared: bool,
        _fd: BorrowedFd<'_>,
        offset: u64,
    ) -> Result<(), Errno> {
        self.inner.lock().unwrap().calls.push(Call::MapFile {
            addr,
            len,
            prot,
            shared,
            offset,
        });
        // Contents: each byte is the low byte of its file offset / page number, recognisable.
        self.fill(addr, len, prot, |rel| {
            vec![((offset + rel) / PAGE_SIZE) as u8; PAGE_SIZE as usize]
        });
        Ok(())
    }
    fn unmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        let mut g = self.inner.lock().unwrap();
        g.calls.push(Call::Unmap { addr, len });
        let mut a = addr;
        while a < addr + len {
            g.pages.remove(&a);
            a += PAGE_SIZE;
        }
        Ok(())
    }
    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<(), Errno> {
        let mut g = self.inner.lock().unwrap();
        g.calls.push(Call::Protect { addr, len, prot });
        let mut a = addr;
        while a < addr + len {
            match g.pages.get_mut(&a) {
                Some(p) => p.0 = prot,
                None => return Err(Errno::ENOMEM),
            }
            a += PAGE_SIZE;
        }
        Ok(())
    }
    fn remap(&self, old: u64, old_len: u64, new: u64, new_len: u64) -> Result<(), Errno> {
        let mut g = self.inner.lock().unwrap();
        g.calls.push(Call::Remap {
            old,
            old_len,
            new,
            new_len,
        });
        let mut moved = Vec::new();
        let mut a = old;
        while a < old + old_len {
            if let Some(p) = g.pages.remove(&a) {
                moved.push((a - old, p));
            }
            a += PAGE_SIZE;
        }
        let prot = moved.first().map(|(_, p)| p.0).unwrap_or(Prot::empty());
        for (rel, p) in moved {
            if rel < new_len {
                g.pages.insert(new + rel, p);
            }
        }
        let mut rel = old_len;
        while rel < new_len {
            g.pages
                .insert(new + rel, (prot, vec![0; PAGE_SIZE as usize]));
            rel += PAGE_SIZE;
        }
        Ok(())
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<usize, Errno> {
        let len = buf.len();
        self.access(
            addr,
            len,
            |data, off, done, n| buf[done..done + n].copy_from_slice(&data[off..off + n]),
            false,
        )
    }
    fn write(&self, addr: u64, buf: &[u8]) -> Result<usize, Errno> {
        self.access(
            addr,
            buf.len(),
            |data, off, done, n| data[off..off + n].copy_from_slice(&buf[done..done + n]),
            true,
        )
    }
    fn host_pid(&self) -> i32 {
        0
    }
    fn release(&self) {}
}

pub const MAX_ADDR: u64 = 0x7fff_ffff_f000;
pub const VDSO: u64 = 0x7fff_f000_0000;

/// A layout like the ptrace platform's: the stub page and the vDSO/vvar near the top.
pub fn layout() -> Layout {
    Layout {
        reserved: vec![
            ReservedRange {
                start: VDSO - 0x4000,
                end: VDSO,
                name: "[vvar]",
                yields: false,
            },
            ReservedRange {
                start: VDSO,
                end: VDSO + 0x2000,
                name: "[vdso]",
                yields: false,
            },
            ReservedRange {
                start: MAX_ADDR - 0x1000,
                end: MAX_ADDR,
                name: "[stub]",
                yields: false,
            },
        ],
        vdso_base: Some(VDSO),
        max_addr: MAX_ADDR,
    }
}

/// A memory manager over a fresh fake address space.
pub fn new_mm() -> (Arc<FakeAddressSpace>, MemoryManager) {
    let fake = Arc::new(FakeAddressSpace::default());
    let mm = MemoryManager::new(fake.clone(), layout());
    (fake, mm)
}

/// A host fd to put in `MappedFile`s (never actually mapped by the fake): a pipe's end, so
/// that not even the sentry's tests open a host path for it.
pub fn dummy_fd() -> Arc<std::os::fd::OwnedFd> {
    Arc::new(nix::unistd::pipe().unwrap().0)
}
