//! Reads of many small pieces of application memory that share pages, a whole page per host
//! read with the last page kept: execve's argv and envp (Linux `fs/exec.c` copy_strings reads
//! them a page at a time too, through `get_arg_page`). Protection is per page, so reading the
//! whole page of a readable byte never faults where the byte itself would not.

use super::{MemoryManager, PAGE_SIZE};
use crate::{Errno, SysResult};

pub struct PageReader<'a> {
    mm: &'a MemoryManager,
    /// The address of the page `data` holds, if any.
    page: Option<u64>,
    data: Vec<u8>,
}

impl<'a> PageReader<'a> {
    pub fn new(mm: &'a MemoryManager) -> PageReader<'a> {
        PageReader {
            mm,
            page: None,
            data: vec![0; PAGE_SIZE as usize],
        }
    }

    /// The page holding `addr`, from `at` = `addr`'s offset in it.
    fn page_from(&mut self, addr: u64) -> SysResult<&[u8]> {
        let page = addr & !(PAGE_SIZE - 1);
        if self.page != Some(page) {
            self.page = None;
            self.mm.copy_in(page, &mut self.data)?;
            self.page = Some(page);
        }
        Ok(&self.data[(addr - page) as usize..])
    }

    /// Fills `buf` from `addr`; EFAULT where a page of it is not readable.
    pub fn read(&mut self, mut addr: u64, buf: &mut [u8]) -> SysResult<()> {
        let mut done = 0;
        while done < buf.len() {
            let rest = self.page_from(addr)?;
            let n = rest.len().min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&rest[..n]);
            done += n;
            addr = addr.checked_add(n as u64).ok_or(Errno::EFAULT)?;
        }
        Ok(())
    }

    pub fn read_u64(&mut self, addr: u64) -> SysResult<u64> {
        let mut word = [0u8; 8];
        self.read(addr, &mut word)?;
        Ok(u64::from_ne_bytes(word))
    }

    /// A NUL-terminated string of at most `max` bytes (without the NUL): ENAMETOOLONG past
    /// `max`, EFAULT on a bad pointer (`MemoryManager::copy_in_cstring` is this).
    pub fn read_cstring(&mut self, mut addr: u64, max: usize) -> SysResult<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let rest = self.page_from(addr)?;
            let want = rest.len().min(max + 1 - out.len());
            if let Some(i) = rest[..want].iter().position(|&b| b == 0) {
                out.extend_from_slice(&rest[..i]);
                return Ok(out);
            }
            out.extend_from_slice(&rest[..want]);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            addr = addr.checked_add(want as u64).ok_or(Errno::EFAULT)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mm::testing::new_mm;
    use crate::mm::MmapRequest;
    use crate::platform::Prot;

    fn map(mm: &MemoryManager, addr: u64, len: u64) {
        mm.mmap(MmapRequest {
            fixed: true,
            ..MmapRequest::anon(addr, len, Prot::READ | Prot::WRITE)
        })
        .unwrap();
    }

    #[test]
    fn strings_and_words_across_pages_as_copy_in_reads_them() {
        let (_, mm) = new_mm();
        map(&mm, 0x10_0000, 0x2000);
        mm.copy_out(0x10_0ff8, &[1, 2, 3, 4, 5]).unwrap();
        mm.copy_out(0x10_0ffd, b"abcdef\0").unwrap();
        mm.copy_out(0x10_1010, b"gh\0").unwrap();
        let mut r = PageReader::new(&mm);
        assert_eq!(r.read_cstring(0x10_0ffd, 100), Ok(b"abcdef".to_vec()));
        assert_eq!(r.read_cstring(0x10_0ffd, 6), Ok(b"abcdef".to_vec()));
        assert_eq!(r.read_cstring(0x10_0ffd, 5), Err(Errno::ENAMETOOLONG));
        assert_eq!(r.read_cstring(0x10_1010, 5), Ok(b"gh".to_vec()));
        // A word across the page boundary: four bytes in the first page, four in the next.
        let want = [5, b'a', b'b', b'c', b'd', b'e', b'f', 0];
        assert_eq!(r.read_u64(0x10_0ffc), Ok(u64::from_ne_bytes(want)));
        assert_eq!(r.read_cstring(0x10_1fff, 100), Ok(Vec::new()));
    }

    #[test]
    fn unreadable_pages_fault() {
        let (_, mm) = new_mm();
        map(&mm, 0x10_0000, 0x1000);
        mm.copy_out(0x10_0ffe, b"xy").unwrap();
        let mut r = PageReader::new(&mm);
        assert_eq!(r.read_cstring(0x10_0ffe, 100), Err(Errno::EFAULT));
        assert_eq!(r.read_u64(0x10_0ffc), Err(Errno::EFAULT));
        assert_eq!(r.read_u64(0), Err(Errno::EFAULT));
        // Still reads what is readable afterwards.
        assert_eq!(r.read_cstring(0x10_0fff, 0), Err(Errno::ENAMETOOLONG));
        assert_eq!(r.read_u64(0x10_0ff0), Ok(0));
    }
}
