//! System V IPC: the sandbox's one IPC namespace (after Linux `ipc/util.c`, `ipc/namespace.c`
//! and gVisor's `pkg/sentry/kernel/ipc`): key-to-id registries for shared memory segments
//! (`shm`), semaphore sets (`sem`) and message queues (`msg`), the `ipc_perm` of each object,
//! the permission check of `ipcperms`, and the id encoding `seq * 32768 + index`.
//!
//! Lock order: `IpcNamespace::state` is taken first; memory-manager calls (shmat/shmdt/exit)
//! and wait-queue notifications may be made under it. Nothing here takes a task's lock.

pub mod msg;
pub mod sem;
pub mod shm;
mod sys;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::kernel::Credentials;
use crate::mm::MemoryManager;
use crate::{Errno, SysResult};

/// `IPC_PRIVATE`: a key that always makes a new object.
pub const IPC_PRIVATE: i32 = 0;
pub const IPC_CREAT: i32 = 0o1000;
pub const IPC_EXCL: i32 = 0o2000;
pub const IPC_NOWAIT: i32 = 0o4000;

/// Ids per type (`IPCMNI`) and the multiplier of the sequence number in an id.
pub const IPCMNI: u32 = 32768;
/// The largest sequence number (`ipcid_seq_max`: INT_MAX / IPCMNI).
const SEQ_MAX: u32 = (i32::MAX as u32) / IPCMNI;

const CAP_IPC_OWNER: u32 = 15;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;

/// The permissions and owners of one IPC object (`struct kern_ipc_perm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// The low 9 bits are the access modes; shm adds `SHM_DEST` and `SHM_LOCKED` above them.
    pub mode: u32,
    pub seq: u16,
}

impl Perm {
    fn new(key: i32, flags: i32, cr: &Credentials) -> Perm {
        Perm {
            key,
            uid: cr.euid,
            gid: cr.egid,
            cuid: cr.euid,
            cgid: cr.egid,
            mode: (flags & 0o777) as u32,
            seq: 0,
        }
    }

    /// Linux `ipcperms`: whether `cr` may access with the rwx bits of `flag` (any of the owner,
    /// group or other triplets), CAP_IPC_OWNER overriding.
    pub fn allows(&self, cr: &Credentials, flag: i32) -> bool {
        let flag = (flag & 0o777) as u32;
        let requested = (flag >> 6) | (flag >> 3) | flag;
        let mut granted = self.mode;
        if cr.euid == self.cuid || cr.euid == self.uid {
            granted >>= 6;
        } else if in_group(cr, self.cgid) || in_group(cr, self.gid) {
            granted >>= 3;
        }
        requested & !granted & 0o7 == 0 || cr.has_cap(CAP_IPC_OWNER)
    }

    /// Linux `ipcctl_obtain_check`: IPC_SET and IPC_RMID need the owner, the creator or
    /// CAP_SYS_ADMIN (EPERM).
    fn check_owner(&self, cr: &Credentials) -> SysResult<()> {
        if cr.euid == self.uid || cr.euid == self.cuid || cr.has_cap(CAP_SYS_ADMIN) {
            Ok(())
        } else {
            Err(Errno::EPERM)
        }
    }

    /// IPC_SET's change of owner and access modes (the bits above 0o777 stay).
    fn set(&mut self, new: &PermSet) {
        self.uid = new.uid;
        self.gid = new.gid;
        self.mode = (self.mode & !0o777) | (new.mode & 0o777);
    }
}

fn in_group(cr: &Credentials, gid: u32) -> bool {
    cr.egid == gid || cr.groups.contains(&gid)
}

/// What IPC_SET may change in any object's `ipc_perm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermSet {
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// Seconds since the epoch (the `*_time` fields).
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Access to the `Perm` of an object in a registry.
pub trait IpcObject {
    fn perm(&self) -> &Perm;
    fn perm_mut(&mut self) -> &mut Perm;
}

/// One type's registry (`struct ipc_ids`): objects by index, indexes allocated cyclically
/// with the sequence number bumped on wrap, as Linux's `ipc_idr_alloc` does.
pub struct Ids<T> {
    objects: BTreeMap<u32, T>,
    seq: u32,
    /// The last index handed out (None before the first).
    last_idx: Option<u32>,
}

impl<T> Default for Ids<T> {
    fn default() -> Self {
        Ids {
            objects: BTreeMap::new(),
            seq: 0,
            last_idx: None,
        }
    }
}

/// The id of the object at `idx` with sequence number `seq`.
pub fn make_id(seq: u16, idx: u32) -> i32 {
    (u32::from(seq) * IPCMNI + idx) as i32
}

impl<T: IpcObject> Ids<T> {
    /// Adds `obj`: its index is the next free one after the last allocated (wrapping), and
    /// its `perm.seq` is set. ENOSPC when every index is used. Returns the id.
    fn add(&mut self, mut obj: T) -> SysResult<i32> {
        let start = self.last_idx.map_or(0, |i| (i + 1) % IPCMNI);
        let idx = (0..IPCMNI)
            .map(|k| (start + k) % IPCMNI)
            .find(|i| !self.objects.contains_key(i))
            .ok_or(Errno::ENOSPC)?;
        if self.last_idx.is_some_and(|last| idx <= last) {
            self.seq += 1;
            if self.seq >= SEQ_MAX {
                self.seq = 0;
            }
        }
        self.last_idx = Some(idx);
        obj.perm_mut().seq = self.seq as u16;
        let id = make_id(self.seq as u16, idx);
        self.objects.insert(idx, obj);
        Ok(id)
    }

    /// The index of `id` if an object with this id exists (EINVAL otherwise).
    fn index_of(&self, id: i32) -> SysResult<u32> {
        let id = u32::try_from(id).map_err(|_| Errno::EINVAL)?;
        let idx = id % IPCMNI;
        match self.objects.get(&idx) {
            Some(o) if u32::from(o.perm().seq) == id / IPCMNI => Ok(idx),
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn get(&self, id: i32) -> SysResult<&T> {
        let idx = self.index_of(id)?;
        self.objects.get(&idx).ok_or(Errno::EINVAL)
    }

    pub fn get_mut(&mut self, id: i32) -> SysResult<&mut T> {
        let idx = self.index_of(id)?;
        self.objects.get_mut(&idx).ok_or(Errno::EINVAL)
    }

    fn remove(&mut self, id: i32) -> Option<T> {
        let idx = self.index_of(id).ok()?;
        self.objects.remove(&idx)
    }

    /// The id of the object with `key` (never IPC_PRIVATE).
    fn find_key(&self, key: i32) -> Option<i32> {
        self.objects
            .iter()
            .find(|(_, o)| o.perm().key == key)
            .map(|(&idx, o)| make_id(o.perm().seq, idx))
    }

    /// The highest index in use, or -1 (`ipc_get_maxidx`).
    pub fn max_idx(&self) -> i32 {
        self.objects.keys().next_back().map_or(-1, |&i| i as i32)
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The object at index `idx` and its id (the `*_STAT` commands take an index).
    fn by_index(&self, idx: i32) -> SysResult<(i32, &T)> {
        let idx = u32::try_from(idx).map_err(|_| Errno::EINVAL)?;
        let o = self.objects.get(&idx).ok_or(Errno::EINVAL)?;
        Ok((make_id(o.perm().seq, idx), o))
    }

    fn iter(&self) -> impl Iterator<Item = &T> {
        self.objects.values()
    }

    /// Linux `ipcget`: IPC_PRIVATE always creates; otherwise the key's object is looked up,
    /// ENOENT without IPC_CREAT, EEXIST with IPC_CREAT|IPC_EXCL, `check` (size checks,
    /// EINVAL) then the permission check (EACCES) on an existing object; `create` makes a
    /// new one.
    fn get_or_create(
        &mut self,
        cr: &Credentials,
        key: i32,
        flags: i32,
        check: impl FnOnce(&T) -> SysResult<()>,
        create: impl FnOnce(Perm) -> SysResult<T>,
    ) -> SysResult<i32> {
        if key != IPC_PRIVATE {
            if let Some(id) = self.find_key(key) {
                if flags & IPC_CREAT != 0 && flags & IPC_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                let obj = self.get(id)?;
                check(obj)?;
                if !obj.perm().allows(cr, flags) {
                    return Err(Errno::EACCES);
                }
                return Ok(id);
            }
            if flags & IPC_CREAT == 0 {
                return Err(Errno::ENOENT);
            }
        }
        let obj = create(Perm::new(key, flags, cr))?;
        self.add(obj)
    }
}

/// Everything behind the namespace's lock.
#[derive(Default)]
struct IpcState {
    shm: Ids<shm::Segment>,
    sem: Ids<sem::SemSet>,
    msg: Ids<msg::MsgQueue>,
    /// SEM_UNDO adjustments by process (tgid), then semaphore set id.
    undo: HashMap<i32, BTreeMap<i32, Vec<i32>>>,
}

/// The sandbox's IPC namespace (one per sandbox).
#[derive(Default)]
pub struct IpcNamespace {
    state: Mutex<IpcState>,
}

impl IpcNamespace {
    pub fn new() -> IpcNamespace {
        IpcNamespace::default()
    }

    fn lock(&self) -> MutexGuard<'_, IpcState> {
        // Every change is complete before the lock is released; a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Process `pid`'s exit (Linux `exit_sem` and `exit_shm`): its SEM_UNDO adjustments are
    /// applied, and if `mm` is no longer shared its shared memory attachments are detached
    /// (so that the parent sees the attach count drop before it can reap the child).
    pub fn exit_process(&self, pid: i32, mm: &Arc<MemoryManager>) {
        let mut st = self.lock();
        sem::exit_undo(&mut st, pid);
        if Arc::strong_count(mm) == 1 {
            shm::detach_all(&mut st, pid, mm);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Obj(Perm);
    impl IpcObject for Obj {
        fn perm(&self) -> &Perm {
            &self.0
        }
        fn perm_mut(&mut self) -> &mut Perm {
            &mut self.0
        }
    }

    fn user(uid: u32) -> Credentials {
        Credentials::new(uid, uid, vec![])
    }

    #[test]
    fn ids_encode_seq_and_index_and_reuse_cyclically() {
        let mut ids: Ids<Obj> = Ids::default();
        let cr = user(1000);
        let a = ids.add(Obj(Perm::new(0, 0o600, &cr))).unwrap();
        let b = ids.add(Obj(Perm::new(0, 0o600, &cr))).unwrap();
        assert_eq!((a, b), (0, 1));
        ids.remove(a).unwrap();
        assert_eq!(ids.get(a).err(), Some(Errno::EINVAL));
        let c = ids.add(Obj(Perm::new(0, 0o600, &cr))).unwrap();
        assert_eq!(c, 2);
        assert_eq!(ids.max_idx(), 2);
        assert_eq!(ids.get(-1).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn get_or_create_follows_ipcget() {
        let mut ids: Ids<Obj> = Ids::default();
        let cr = user(1000);
        let mk = |p: Perm| Ok(Obj(p));
        assert_eq!(
            ids.get_or_create(&cr, 5, 0o600, |_| Ok(()), mk),
            Err(Errno::ENOENT)
        );
        let id = ids
            .get_or_create(&cr, 5, IPC_CREAT | 0o600, |_| Ok(()), mk)
            .unwrap();
        assert_eq!(ids.get_or_create(&cr, 5, 0, |_| Ok(()), mk), Ok(id));
        assert_eq!(
            ids.get_or_create(&cr, 5, IPC_CREAT | IPC_EXCL, |_| Ok(()), mk),
            Err(Errno::EEXIST)
        );
        let other = user(1001);
        assert_eq!(
            ids.get_or_create(&other, 5, 0o400, |_| Ok(()), mk),
            Err(Errno::EACCES)
        );
        assert_ne!(
            ids.get_or_create(&cr, IPC_PRIVATE, 0o600, |_| Ok(()), mk),
            Ok(id)
        );
    }

    #[test]
    fn perms_pick_owner_group_other_bits() {
        let owner = user(1000);
        let p = Perm::new(0, 0o640, &owner);
        assert!(p.allows(&owner, 0o600));
        let mut grp = user(1001);
        grp.egid = 1000;
        assert!(p.allows(&grp, 0o400));
        assert!(!p.allows(&grp, 0o200));
        assert!(!p.allows(&user(1002), 0o400));
        assert!(p.allows(&user(0), 0o600));
        assert!(p.allows(&user(1002), 0));
    }
}
