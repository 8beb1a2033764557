//! Syscall patching on the seccomp-trap platform: a syscall site of the common shape
//! `mov $nr, %eax; syscall` (or `mov $nr, %rax; syscall`), or glibc's `syscall(3)` ending
//! `mov 0x8(%rsp), %r9; syscall`, that trapped `PATCH_AFTER` times is rewritten into a jump to
//! the stub's fast path (`stub::FAST_ENTRY_OFFSET`), so that its later calls reach the sentry
//! without a signal. After gVisor's `pkg/sentry/platform/systrap` syscall patching.
//!
//! The site's first 7 bytes become `jmp *abs32` (`ff 24 25 disp32`, Intel SDM vol. 2 "JMP"),
//! through a pointer in a record of the patch region, a private read-and-execute mapping at
//! `PATCH_BASE` in every stub (reserved in the sentry's layout, so the application cannot map,
//! unmap or change it). Each record holds that pointer and a few instructions: the one the
//! jump replaced (`mov $nr, %eax`, or the load of `r9`), then `movabs $return, %rcx; jmp
//! common`, and the common code at record 0 jumps to the fast path. `rcx` and `r11` are free
//! there, as after a real `syscall`.
//!
//! Every record address lies in `0x050f_0000..0x0510_0000`, so the displacement's last two
//! bytes are `0f 05`: the bytes where the original `syscall` was stay a `syscall`. A thread
//! that stopped between the `mov` and the `syscall` while the site changed (an interrupt just
//! there, or a syscall restart, which rewinds `rip` by two) still runs a real, trapping,
//! syscall with the right number.
//!
//! Changing the code under running threads: when the jump's seven bytes lie in one aligned
//! word they are written at once; otherwise the first byte becomes `int3` first, then the
//! rest is written, then the first byte; a thread that meets the `int3` traps, and the context
//! moves it back to the site (`is_patched_site`). Writes go through PTRACE_POKEDATA, which
//! copies a read-only private code page as a debugger's breakpoint does; a site in a shared
//! mapping the application cannot write is refused by the host and stays as it is.
//! The records' count lives in record 0, in the region, so that a forked stub, which inherits
//! the region and the patched code, goes on from where its parent was.

use std::collections::HashSet;

use super::address_space::{SystrapAddressSpace, SLOTS_BASE, SLOTS_LEN};
use crate::platform::ptrace::stub::{FAST_ENTRY_OFFSET, STUB_BASE, STUB_END};
use crate::platform::{Prot, ReservedRange};
use crate::Errno;

/// Where the patch region lies: every address in it ends in the bytes `0f 05` when written as
/// a little-endian 32-bit displacement.
pub const PATCH_BASE: u64 = 0x050f_0000;
pub const PATCH_LEN: u64 = 0x1_0000;
/// One record: the pointer a patched site jumps through, then its code.
const RECORD: u64 = 32;
const MAX_RECORDS: u64 = PATCH_LEN / RECORD;
/// A site is patched once it trapped this many times by signal (or sooner, when the thread
/// is stopped anyway). Writing needs the stub thread stopped under ptrace (a seize and its
/// undoing, about 100 µs), and each later call saves about 1 µs: most sites that start-up
/// code calls once or a few times would never repay it, while a site in a loop reaches this
/// count at once.
pub const PATCH_AFTER: usize = 16;
/// At most this many sites wait for their count per address space.
const MAX_PENDING: usize = 256;
/// At most this many call sites are remembered as not patchable per address space.
const MAX_REFUSED: usize = 4096;

/// The layout's reservation for the patch region.
pub fn reserved_range() -> ReservedRange {
    ReservedRange {
        start: PATCH_BASE,
        end: PATCH_BASE + PATCH_LEN,
        name: "[stub]",
        // A big static executable's segments may cover it: the process then goes unpatched.
        yields: true,
    }
}

/// What an address space remembers of its patching (under its lock, which `fork` also
/// takes, so that a child never inherits a half-written site).
#[derive(Default)]
pub struct PatchState {
    /// Sites (the address of their first byte) patched or being patched in this stub.
    sites: HashSet<u64>,
    /// Call addresses (after the `syscall`) whose code has another shape.
    refused: HashSet<u64>,
    /// Patchable sites (call address, syscall number, traps so far) waiting to be written.
    pending: Vec<(u64, u32, usize)>,
    /// The patch region was given up to the application (or is not ours): no patching.
    given_up: bool,
}

/// The instruction a patched site's jump replaced, before its `syscall`, which its record
/// makes in its place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `mov $nr, %eax` or `mov $nr, %rax` (libc's wrappers): the record loads `nr` into
    /// `eax`.
    Number(u32),
    /// `mov 0x8(%rsp), %r9` (glibc's `syscall(3)`, the number already in `rax`): the
    /// record loads the sixth argument the same way (a jump leaves `rsp` as it was).
    SixthArgument,
}

/// `mov 0x8(%rsp), %r9`.
const LOAD_SIXTH_ARGUMENT: [u8; 5] = [0x4c, 0x8b, 0x4c, 0x24, 0x08];

/// The shape of a patchable site ending at `call_addr` (`syscall` is the last two bytes):
/// its first byte's address and what its jump replaces, if its bytes load `nr` into
/// `eax`/`rax` right before, or are glibc's `syscall(3)` ending. `read` reads the code at
/// an address, false where it cannot.
fn site_of(
    mut read: impl FnMut(u64, &mut [u8]) -> bool,
    call_addr: u64,
    nr: u32,
) -> Option<(u64, Shape)> {
    let number = nr.to_le_bytes();
    let mut code = [0u8; 7];
    if !read(call_addr.checked_sub(7)?, &mut code) || code[5..7] != [0x0f, 0x05] {
        return None;
    }
    if code[0] == 0xb8 && code[1..5] == number {
        return Some((call_addr - 7, Shape::Number(nr)));
    }
    if code[0..5] == LOAD_SIXTH_ARGUMENT {
        return Some((call_addr - 7, Shape::SixthArgument));
    }
    let mut full = [0u8; 9];
    if read(call_addr.checked_sub(9)?, &mut full)
        && full[0..3] == [0x48, 0xc7, 0xc0]
        && full[3..7] == number
    {
        return Some((call_addr - 9, Shape::Number(nr)));
    }
    None
}

/// Counts a trap by signal at the site ending at `call_addr` in `pending` and returns its
/// count. A new site takes the place of the coldest one when `MAX_PENDING` wait already, so
/// that a site that becomes hot late in a long run is still counted.
fn count_trap(pending: &mut Vec<(u64, u32, usize)>, call_addr: u64, nr: u32) -> usize {
    if let Some(site) = pending.iter_mut().find(|p| p.0 == call_addr) {
        site.2 += 1;
        return site.2;
    }
    if pending.len() < MAX_PENDING {
        pending.push((call_addr, nr, 1));
    } else if let Some(coldest) = pending.iter_mut().min_by_key(|p| p.2) {
        *coldest = (call_addr, nr, 1);
    }
    1
}

/// Record `index` for a site of `shape` returning to `return_addr`.
fn record(index: u64, shape: Shape, return_addr: u64) -> [u8; RECORD as usize] {
    let at = PATCH_BASE + index * RECORD;
    let mut r = [0xcc_u8; RECORD as usize];
    r[0..8].copy_from_slice(&(at + 8).to_le_bytes());
    match shape {
        Shape::Number(nr) => {
            r[8] = 0xb8; // mov $nr, %eax
            r[9..13].copy_from_slice(&nr.to_le_bytes());
        }
        Shape::SixthArgument => r[8..13].copy_from_slice(&LOAD_SIXTH_ARGUMENT),
    }
    r[13..15].copy_from_slice(&[0x48, 0xb9]); // movabs $return, %rcx
    r[15..23].copy_from_slice(&return_addr.to_le_bytes());
    r[23] = 0xe9; // jmp rel32 to the common code
    let rel = (PATCH_BASE + 8).wrapping_sub(at + 28) as u32;
    r[24..28].copy_from_slice(&rel.to_le_bytes());
    r
}

/// Record 0: the count of records in use, then `jmp *0(%rip)` to the fast path.
fn common_record(count: u64) -> [u8; RECORD as usize] {
    let mut r = [0xcc_u8; RECORD as usize];
    r[0..8].copy_from_slice(&count.to_le_bytes());
    r[8..14].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
    r[14..22].copy_from_slice(&(STUB_BASE + FAST_ENTRY_OFFSET).to_le_bytes());
    r
}

/// Maps the patch region into a fresh stub (the calling thread drives it, stopped).
pub fn map_region(space: &SystrapAddressSpace) -> Result<(), Errno> {
    use crate::platform::AddressSpace;
    space
        .inner
        .map_anon(PATCH_BASE, PATCH_LEN, Prot::READ | Prot::EXEC, false)?;
    space.inner.poke_caller(PATCH_BASE, &common_record(1))
}

/// Whether `addr` is outside the application's code: the stub, its slots, the patch region.
fn is_stub_memory(addr: u64) -> bool {
    (STUB_BASE..STUB_END).contains(&addr)
        || (SLOTS_BASE..SLOTS_BASE + SLOTS_LEN).contains(&addr)
        || (PATCH_BASE..PATCH_BASE + PATCH_LEN).contains(&addr)
}

impl SystrapAddressSpace {
    /// After a syscall `nr` trapped by signal with its `syscall` ending at `call_addr`: counts
    /// the trap, and once the site is due (`patch_after`) patches it if it has a patchable
    /// shape and the region has room. Failures leave the code as it was (the site keeps
    /// trapping by signal, which is correct, only slower). Returns false when the site at
    /// `call_addr` is known never to be patched (another shape, stub memory, patching given
    /// up), so that the caller need not ask again.
    pub(super) fn patch_site(&self, call_addr: u64, nr: u64) -> bool {
        let Ok(nr) = u32::try_from(nr) else {
            return false;
        };
        if call_addr < 9 || is_stub_memory(call_addr - 9) || is_stub_memory(call_addr - 1) {
            return false;
        }
        let mut state = self.lock_patches();
        if state.given_up
            || state.refused.contains(&call_addr)
            || state.refused.len() >= MAX_REFUSED
        {
            return false;
        }
        // Writing needs the stub thread stopped under ptrace, which costs more than the
        // patch: sites wait until one of them has trapped `patch_after` times (it is hot), or
        // the thread is stopped anyway. Then every site that trapped more than once goes
        // with it. The code's shape is read only then: most sites are never due.
        let traps = count_trap(&mut state.pending, call_addr, nr);
        let attached = self.inner.caller_attached().unwrap_or(false);
        if traps >= self.patch_after || attached {
            let warm = self.patch_after.min(2);
            // The region may be the application's own memory: an executable whose segments
            // took it, inherited by a fork. Only the common record shows it is ours.
            if !self.region_is_ours() {
                state.given_up = true;
                state.pending.clear();
                return false;
            }
            let (due, cold) = std::mem::take(&mut state.pending)
                .into_iter()
                .partition(|p| attached || p.2 >= warm || p.0 == call_addr);
            state.pending = cold;
            for (call_addr, nr, _) in due {
                let Some((site, shape)) = self.site_at(call_addr, nr) else {
                    state.refused.insert(call_addr);
                    continue;
                };
                if state.sites.contains(&site) {
                    continue;
                }
                if self
                    .write_patch(&mut state, site, shape, call_addr)
                    .is_err()
                {
                    state.refused.insert(call_addr);
                }
            }
        }
        true
    }

    /// Whether the patch region holds the common record's code (so it is the region this
    /// platform mapped, not application memory at the same place).
    fn region_is_ours(&self) -> bool {
        let mut code = [0u8; 14];
        let expected = &common_record(0)[8..22];
        crate::platform::AddressSpace::read(self, PATCH_BASE + 8, &mut code) == Ok(code.len())
            && code == expected
    }

    /// A fixed mapping wants (part of) the patch region: given up while no site jumps there.
    pub(super) fn yield_patch_region(&self, start: u64, end: u64) -> Result<(), Errno> {
        if !(start < PATCH_BASE + PATCH_LEN && PATCH_BASE < end) {
            return Err(Errno::ENOMEM);
        }
        let mut state = self.lock_patches();
        // Records in use (this space's, or a parent's that a fork inherited with its
        // patched code): sites jump there.
        let mut count = [0u8; 8];
        let used = self.region_is_ours()
            && crate::platform::AddressSpace::read(self, PATCH_BASE, &mut count) == Ok(8)
            && u64::from_le_bytes(count) > 1;
        if used || !state.sites.is_empty() {
            return Err(Errno::ENOMEM);
        }
        state.given_up = true;
        state.pending.clear();
        Ok(())
    }

    /// The patchable site whose `syscall` ends at `call_addr`, if the code has that shape.
    fn site_at(&self, call_addr: u64, nr: u32) -> Option<(u64, Shape)> {
        let read = |addr: u64, buf: &mut [u8]| {
            crate::platform::AddressSpace::read(self, addr, buf) == Ok(buf.len())
        };
        site_of(read, call_addr, nr)
    }

    fn write_patch(
        &self,
        state: &mut PatchState,
        site: u64,
        shape: Shape,
        call_addr: u64,
    ) -> Result<(), Errno> {
        let mut count = [0u8; 8];
        crate::platform::AddressSpace::read(self, PATCH_BASE, &mut count)?;
        let index = u64::from_le_bytes(count);
        if index == 0 || index >= MAX_RECORDS {
            return Err(Errno::ENOSPC);
        }
        let at = PATCH_BASE + index * RECORD;
        self.inner
            .poke_caller(at, &record(index, shape, call_addr))?;
        self.inner
            .poke_caller(PATCH_BASE, &(index + 1).to_le_bytes())?;
        let target = (at as u32).to_le_bytes();
        debug_assert_eq!(target[2..4], [0x0f, 0x05]);
        let jump = [0xff, 0x24, 0x25, target[0], target[1], target[2], target[3]];
        state.sites.insert(site);
        if site / 8 == (site + 6) / 8 {
            return self.inner.poke_caller(site, &jump);
        }
        self.inner.poke_caller(site, &[0xcc])?;
        self.inner.poke_caller(site + 1, &jump[1..])?;
        self.inner.poke_caller(site, &jump[..1])
    }

    /// Whether a breakpoint trap with `rip` came from the `int3` of a site being patched (or
    /// patched since): the thread should go back to the site.
    pub(super) fn is_patched_site(&self, rip: u64) -> bool {
        rip.checked_sub(1)
            .is_some_and(|site| self.lock_patches().sites.contains(&site))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_are_counted_per_site_and_a_full_list_drops_its_coldest() {
        let mut pending = Vec::new();
        assert_eq!(count_trap(&mut pending, 0x1000, 39), 1);
        assert_eq!(count_trap(&mut pending, 0x1000, 39), 2);
        for i in 1..MAX_PENDING as u64 {
            count_trap(&mut pending, 0x1000 + i * 16, 39);
        }
        assert_eq!(pending.len(), MAX_PENDING);
        // Full: a new site replaces one seen once, never the site seen twice.
        assert_eq!(count_trap(&mut pending, 0x9_0000, 62), 1);
        assert_eq!(pending.len(), MAX_PENDING);
        assert!(pending.contains(&(0x9_0000, 62, 1)));
        assert_eq!(count_trap(&mut pending, 0x1000, 39), 3);
    }

    #[test]
    fn record_addresses_keep_the_syscall_bytes() {
        for index in [0, 1, MAX_RECORDS - 1] {
            let at = (PATCH_BASE + index * RECORD) as u32;
            assert_eq!(at.to_le_bytes()[2..4], [0x0f, 0x05]);
        }
    }

    #[test]
    fn site_shapes() {
        let call = 0x40_1009;
        let shapes = |code: [u8; 9]| {
            move |addr: u64, buf: &mut [u8]| {
                let Some(start) = addr.checked_sub(call - 9) else {
                    return false;
                };
                let start = start as usize;
                buf.copy_from_slice(&code[start..start + buf.len()]);
                true
            }
        };
        // mov $39, %eax; syscall
        let number = Shape::Number(39);
        let code = [0x90, 0x90, 0xb8, 39, 0, 0, 0, 0x0f, 0x05];
        assert_eq!(site_of(shapes(code), call, 39), Some((call - 7, number)));
        assert_eq!(site_of(shapes(code), call, 40), None);
        // mov $39, %rax; syscall
        let code = [0x48, 0xc7, 0xc0, 39, 0, 0, 0, 0x0f, 0x05];
        assert_eq!(site_of(shapes(code), call, 39), Some((call - 9, number)));
        // glibc's syscall(3): mov %r9, %r8; mov 0x8(%rsp), %r9; syscall, any number.
        let code = [0x4d, 0x89, 0xc8, 0x4c, 0x8b, 0x4c, 0x24, 0x08, 0x0f];
        let shifted = |addr: u64, buf: &mut [u8]| {
            let mut full = [0u8; 10];
            full[..9].copy_from_slice(&code);
            full[9] = 0x05;
            let start = (addr + 10 - call) as usize;
            buf.copy_from_slice(&full[start..start + buf.len()]);
            true
        };
        assert_eq!(
            site_of(shifted, call, 62),
            Some((call - 7, Shape::SixthArgument))
        );
        // Other ways to reach a syscall: not patchable.
        let code = [0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x90, 0x0f, 0x05];
        assert_eq!(site_of(shapes(code), call, 39), None);
        let code = [0x4c, 0x8b, 0x4c, 0x24, 0x10, 0x90, 0x90, 0x0f, 0x05];
        assert_eq!(site_of(shapes(code), call, 39), None);
        // A site at the start of a mapping: the bytes before it cannot be read.
        let code = [0, 0, 0xb8, 39, 0, 0, 0, 0x0f, 0x05];
        let first_page = |addr: u64, buf: &mut [u8]| addr >= call - 7 && shapes(code)(addr, buf);
        assert_eq!(site_of(first_page, call, 39), Some((call - 7, number)));
    }

    #[test]
    fn record_code_jumps_to_the_common_code() {
        let r = record(3, Shape::Number(39), 0x1234_5678_9abc);
        let at = PATCH_BASE + 3 * RECORD;
        assert_eq!(u64::from_le_bytes(r[0..8].try_into().unwrap()), at + 8);
        assert_eq!(&r[8..13], &[0xb8, 39, 0, 0, 0]);
        assert_eq!(
            u64::from_le_bytes(r[15..23].try_into().unwrap()),
            0x1234_5678_9abc
        );
        let rel = i32::from_le_bytes(r[24..28].try_into().unwrap());
        assert_eq!((at + 28).wrapping_add(rel as i64 as u64), PATCH_BASE + 8);
        let sixth = record(3, Shape::SixthArgument, 0x1234_5678_9abc);
        assert_eq!(&sixth[8..13], &LOAD_SIXTH_ARGUMENT);
        assert_eq!(&sixth[13..], &r[13..], "the rest is the same");
        let common = common_record(1);
        assert_eq!(
            u64::from_le_bytes(common[14..22].try_into().unwrap()),
            STUB_BASE + FAST_ENTRY_OFFSET
        );
    }
}
