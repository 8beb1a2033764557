//! The VMA set of one address space (after Linux `mm/mmap.c`'s `vm_area_struct` tree and gVisor's
//! `pkg/sentry/mm/vma.go`): non-overlapping page-aligned ranges keyed by start, with splitting,
//! merging, the top-down gap search and the `/proc/PID/maps` line format (`fs/proc/task_mmu.c`).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use super::MappedFile;
use crate::platform::{Prot, ReservedRange};

pub const PAGE_SIZE: u64 = 4096;

/// Rounds up to a page; `None` on overflow.
pub fn page_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

pub fn page_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

pub fn is_page_aligned(x: u64) -> bool {
    x & (PAGE_SIZE - 1) == 0
}

/// The identity of one shared anonymous memory object and an offset in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedAnon {
    pub id: u64,
    pub offset: u64,
}

impl SharedAnon {
    /// A new object (ids are unique for the life of the sentry), at offset 0.
    pub fn fresh() -> SharedAnon {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        SharedAnon {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            offset: 0,
        }
    }
}

/// One mapping: `[start, end)` with one protection and one backing.
#[derive(Debug, Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: Prot,
    /// The most `mprotect` may grant (a file opened read-only caps shared mappings at READ|EXEC).
    pub max_prot: Prot,
    pub shared: bool,
    pub grows_down: bool,
    /// The file behind the mapping; its `offset` is the file offset of `start`.
    pub file: Option<MappedFile>,
    /// For shared anonymous memory: the memory object (`SharedAnon::id`, unique per mmap and
    /// kept across fork and mremap) and the object offset of `start` (what Linux keys shared
    /// futexes on: the shmem inode and page index).
    pub shared_anon: Option<SharedAnon>,
    /// Name shown in /proc/PID/maps ("[heap]", "[stack]", a file path).
    pub name: Option<Vec<u8>>,
}

impl Vma {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// The part of this VMA in `[start, end)` (which must intersect it), with the file offset
    /// adjusted.
    pub fn slice(&self, start: u64, end: u64) -> Vma {
        let s = start.max(self.start);
        let e = end.min(self.end);
        let mut v = self.clone();
        if let Some(f) = &mut v.file {
            f.offset += s - self.start;
        }
        if let Some(a) = &mut v.shared_anon {
            a.offset += s - self.start;
        }
        v.start = s;
        v.end = e;
        v
    }

    /// Whether `next` (starting where this ends) could be one VMA with this one.
    fn can_merge(&self, next: &Vma) -> bool {
        if self.end != next.start
            || self.prot != next.prot
            || self.max_prot != next.max_prot
            || self.shared != next.shared
            || self.grows_down != next.grows_down
            || self.name != next.name
        {
            return false;
        }
        match (&self.file, &next.file) {
            (None, None) => !self.shared,
            (Some(a), Some(b)) => {
                Arc::ptr_eq(&a.host_fd, &b.host_fd) && a.offset + self.len() == b.offset
            }
            _ => false,
        }
    }

    /// One /proc/PID/maps line (`show_map_vma`): the header, then the name padded to column 73.
    pub fn maps_line(&self, out: &mut Vec<u8>) {
        let (offset, dev, ino) = match &self.file {
            Some(f) => (f.offset, f.dev, f.ino),
            None => (0, 0, 0),
        };
        maps_line(
            out,
            self.start,
            self.end,
            self.prot,
            self.shared,
            offset,
            dev,
            ino,
            self.name.as_deref(),
        );
    }
}

/// Formats one line as Linux does:
/// `"%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu "`, then (with a name) spaces up to 72 columns,
/// one more space and the name; then a newline.
#[allow(clippy::too_many_arguments)]
pub fn maps_line(
    out: &mut Vec<u8>,
    start: u64,
    end: u64,
    prot: Prot,
    shared: bool,
    offset: u64,
    dev: u64,
    ino: u64,
    name: Option<&[u8]>,
) {
    let line_start = out.len();
    let flag = |p: Prot, c: char| if prot.contains(p) { c } else { '-' };
    // Linux's new_decode_dev: a 12-bit major and a 20-bit minor from the user dev_t encoding.
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        start,
        end,
        flag(Prot::READ, 'r'),
        flag(Prot::WRITE, 'w'),
        flag(Prot::EXEC, 'x'),
        if shared { 's' } else { 'p' },
        offset,
        major,
        minor,
        ino
    );
    if let Some(name) = name {
        let width = out.len() - line_start;
        if width < 72 {
            out.resize(line_start + 72, b' ');
        }
        out.push(b' ');
        out.extend_from_slice(name);
    }
    out.push(b'\n');
}

/// The set: VMAs keyed by start address, never overlapping.
#[derive(Debug, Clone, Default)]
pub struct VmaSet {
    map: BTreeMap<u64, Vma>,
}

impl VmaSet {
    pub fn new() -> VmaSet {
        VmaSet::default()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Vma> {
        self.map.values()
    }

    /// The VMA containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Vma> {
        self.map
            .range(..=addr)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| addr < v.end)
    }

    /// VMAs intersecting `[start, end)`, in address order.
    pub fn intersecting(&self, start: u64, end: u64) -> impl Iterator<Item = &Vma> {
        let first = self.find(start).map(|v| v.start).unwrap_or(start);
        self.map
            .range(first..end)
            .map(|(_, v)| v)
            .filter(move |v| v.end > start)
    }

    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        self.intersecting(start, end).next().is_some()
    }

    /// Whether every page of `[start, end)` is in some VMA.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        let mut at = start;
        for v in self.intersecting(start, end) {
            if v.start > at {
                return false;
            }
            at = v.end;
            if at >= end {
                return true;
            }
        }
        at >= end
    }

    /// Splits the VMA that strictly contains `addr` into two at `addr`.
    pub fn split_at(&mut self, addr: u64) {
        let Some(v) = self.find(addr) else { return };
        if v.start == addr {
            return;
        }
        let v = v.clone();
        self.map.insert(v.start, v.slice(v.start, addr));
        self.map.insert(addr, v.slice(addr, v.end));
    }

    /// Removes every VMA piece in `[start, end)` (splitting at the edges) and returns them.
    pub fn remove_range(&mut self, start: u64, end: u64) -> Vec<Vma> {
        self.split_at(start);
        self.split_at(end);
        let keys: Vec<u64> = self.map.range(start..end).map(|(k, _)| *k).collect();
        keys.into_iter()
            .filter_map(|k| self.map.remove(&k))
            .collect()
    }

    /// Inserts a VMA; the caller has made room (`remove_range`).
    pub fn insert(&mut self, vma: Vma) {
        debug_assert!(
            !self.overlaps(vma.start, vma.end),
            "invariant: VMAs never overlap"
        );
        self.map.insert(vma.start, vma);
    }

    /// Changes the protection of `[start, end)`, every page of which is mapped.
    pub fn set_prot(&mut self, start: u64, end: u64, prot: Prot) {
        self.split_at(start);
        self.split_at(end);
        for (_, v) in self.map.range_mut(start..end) {
            v.prot = prot;
        }
        self.merge_around(start, end);
    }

    /// Merges compatible neighbours among the VMAs touching `[start, end]`.
    pub fn merge_around(&mut self, start: u64, end: u64) {
        let from = self
            .find(start.saturating_sub(1))
            .map(|v| v.start)
            .unwrap_or(start);
        let keys: Vec<u64> = self.map.range(from..=end).map(|(k, _)| *k).collect();
        let mut cur = match keys.first() {
            Some(k) => *k,
            None => return,
        };
        for k in keys.into_iter().skip(1) {
            let (Some(a), Some(b)) = (self.map.get(&cur), self.map.get(&k)) else {
                continue;
            };
            if a.can_merge(b) {
                let new_end = b.end;
                self.map.remove(&k);
                if let Some(a) = self.map.get_mut(&cur) {
                    a.end = new_end;
                }
            } else {
                cur = k;
            }
        }
    }

    /// The highest `addr` with `[addr, addr + len)` inside `[low, high)` and clear of every
    /// VMA and reserved range (Linux's `unmapped_area_topdown`).
    pub fn find_gap_top_down(
        &self,
        len: u64,
        low: u64,
        high: u64,
        reserved: &[ReservedRange],
    ) -> Option<u64> {
        if len == 0 || high < low || high - low < len {
            return None;
        }
        let mut obstacles: Vec<(u64, u64)> = self.map.values().map(|v| (v.start, v.end)).collect();
        obstacles.extend(
            reserved
                .iter()
                .map(|r| (page_down(r.start), page_up(r.end).unwrap_or(u64::MAX))),
        );
        obstacles.sort_unstable_by_key(|o| std::cmp::Reverse(o.0));
        let mut top = high;
        for (s, e) in obstacles {
            if s >= top {
                continue;
            }
            let bottom = e.max(low);
            if top > bottom && top - bottom >= len {
                return Some(top - len);
            }
            top = s;
            if top <= low {
                return None;
            }
        }
        (top > low && top - low >= len).then(|| top - len)
    }
}

/// Whether `[start, end)` touches any reserved range.
pub fn hits_reserved(reserved: &[ReservedRange], start: u64, end: u64) -> bool {
    reserved.iter().any(|r| r.start < end && start < r.end)
}

/// Whether `[start, end)` touches a reserved range that never yields to a fixed mapping.
pub fn hits_hard_reserved(reserved: &[ReservedRange], start: u64, end: u64) -> bool {
    reserved
        .iter()
        .any(|r| !r.yields && r.start < end && start < r.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon(start: u64, end: u64, prot: Prot) -> Vma {
        Vma {
            start,
            end,
            prot,
            max_prot: Prot::all(),
            shared: false,
            grows_down: false,
            file: None,
            shared_anon: None,
            name: None,
        }
    }

    #[test]
    fn gap_search_is_top_down_and_skips_reserved() {
        let mut s = VmaSet::new();
        s.insert(anon(0x9000, 0xa000, Prot::READ));
        let reserved = [ReservedRange {
            start: 0x7000,
            end: 0x8000,
            name: "[vdso]",
            yields: false,
        }];
        // Highest fit below 0xb000 is right under it, above the VMA.
        assert_eq!(
            s.find_gap_top_down(0x1000, 0x1000, 0xb000, &reserved),
            Some(0xa000)
        );
        // Two pages do not fit above the VMA or between it and the reserved page.
        assert_eq!(
            s.find_gap_top_down(0x2000, 0x1000, 0xb000, &reserved),
            Some(0x5000)
        );
        assert_eq!(s.find_gap_top_down(0x8000, 0x1000, 0xb000, &reserved), None);
    }

    #[test]
    fn split_and_merge() {
        let mut s = VmaSet::new();
        s.insert(anon(0x1000, 0x5000, Prot::READ));
        s.set_prot(0x2000, 0x3000, Prot::READ | Prot::WRITE);
        assert_eq!(s.iter().count(), 3);
        s.set_prot(0x2000, 0x3000, Prot::READ);
        assert_eq!(s.iter().count(), 1);
        let gone = s.remove_range(0x2000, 0x3000);
        assert_eq!((gone[0].start, gone[0].end), (0x2000, 0x3000));
        assert!(s.covers(0x1000, 0x2000) && !s.covers(0x1000, 0x3000));
    }

    #[test]
    fn maps_line_matches_linux() {
        let mut out = Vec::new();
        maps_line(
            &mut out,
            0x400000,
            0x452000,
            Prot::READ | Prot::EXEC,
            false,
            0,
            0x802,
            173521,
            Some(b"/usr/bin/dbus-daemon"),
        );
        // The name starts at column 74 (after 72 padded columns and one space), as on Linux.
        let want = format!(
            "00400000-00452000 r-xp 00000000 08:02 173521{}/usr/bin/dbus-daemon\n",
            " ".repeat(29)
        );
        assert_eq!(String::from_utf8(out).unwrap(), want);
        let mut out = Vec::new();
        maps_line(
            &mut out,
            0x7f00_0000_0000,
            0x7f00_0000_1000,
            Prot::READ | Prot::WRITE,
            true,
            0x3000,
            0,
            0,
            None,
        );
        assert_eq!(
            out,
            b"7f0000000000-7f0000001000 rw-s 00003000 00:00 0 \n".to_vec()
        );
    }
}
