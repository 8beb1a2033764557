//! Task credentials (`include/linux/cred.h`): real, effective, saved and filesystem ids, and the
//! capability sets (`capabilities(7)`, `security/commoncap.c`).

/// The highest capability number the sandbox knows (`CAP_CHECKPOINT_RESTORE`, Linux 5.9), as
/// /proc/sys/kernel/cap_last_cap says.
pub const CAP_LAST_CAP: u32 = 40;

/// Every capability up to [`CAP_LAST_CAP`].
pub const CAP_FULL: u64 = (1 << (CAP_LAST_CAP + 1)) - 1;

/// The five capability sets of a task, as bit masks (bit N is capability N).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub bounding: u64,
    pub ambient: u64,
}

impl CapSets {
    /// What a process of user `uid` has without a container runtime restricting it: root holds
    /// every capability, anyone else none; the bounding set is full.
    pub fn for_uid(uid: u32) -> CapSets {
        let held = if uid == 0 { CAP_FULL } else { 0 };
        CapSets {
            effective: held,
            permitted: held,
            inheritable: 0,
            bounding: CAP_FULL,
            ambient: 0,
        }
    }
}

/// The identity a task acts with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub groups: Vec<u32>,
    pub caps: CapSets,
}

impl Credentials {
    /// Everything set to one user and group, with that user's usual capabilities.
    pub fn new(uid: u32, gid: u32, groups: Vec<u32>) -> Credentials {
        Credentials {
            uid,
            euid: uid,
            suid: uid,
            fsuid: uid,
            gid,
            egid: gid,
            sgid: gid,
            fsgid: gid,
            groups,
            caps: CapSets::for_uid(uid),
        }
    }

    /// Whether capability `cap` is in the effective set.
    pub fn has_cap(&self, cap: u32) -> bool {
        cap <= CAP_LAST_CAP && self.caps.effective & (1 << cap) != 0
    }

    /// The capability changes of a uid change (`cap_emulate_setxuid` in
    /// `security/commoncap.c`, without SECBIT_KEEP_CAPS): leaving uid 0 in all of real,
    /// effective and saved ids clears the permitted, effective and ambient sets; an effective
    /// uid leaving 0 clears the effective set; one becoming 0 raises it to the permitted set.
    pub fn fix_caps_after_setuid(&mut self, old: [u32; 3]) {
        let [old_r, old_e, old_s] = old;
        let had_root = old_r == 0 || old_e == 0 || old_s == 0;
        if had_root && self.uid != 0 && self.euid != 0 && self.suid != 0 {
            self.caps.permitted = 0;
            self.caps.effective = 0;
            self.caps.ambient = 0;
        }
        if old_e == 0 && self.euid != 0 {
            self.caps.effective = 0;
        }
        if old_e != 0 && self.euid == 0 {
            self.caps.effective = self.caps.permitted;
        }
    }

    /// After a setfsuid(2) from `old_fsuid` (Linux `cap_task_fix_setuid`, LSM_SETID_FS):
    /// leaving uid 0 drops the filesystem capabilities from the effective set, coming back
    /// raises those of them that are permitted.
    pub fn fix_caps_after_setfsuid(&mut self, old_fsuid: u32) {
        if old_fsuid == 0 && self.fsuid != 0 {
            self.caps.effective &= !CAP_FS_MASK;
        }
        if old_fsuid != 0 && self.fsuid == 0 {
            self.caps.effective |= self.caps.permitted & CAP_FS_MASK;
        }
    }
}

/// The capabilities that follow the filesystem uid (Linux `CAP_FS_MASK`): CHOWN,
/// DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER, FSETID, LINUX_IMMUTABLE, MKNOD, MAC_OVERRIDE.
pub const CAP_FS_MASK: u64 =
    (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 9) | (1 << 27) | (1 << 32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_holds_every_capability_others_none() {
        let root = Credentials::new(0, 0, vec![]);
        assert!(root.has_cap(21) && root.has_cap(CAP_LAST_CAP));
        assert!(!root.has_cap(CAP_LAST_CAP + 1));
        let user = Credentials::new(1000, 1000, vec![]);
        assert!(!user.has_cap(0));
        assert_eq!(user.caps.bounding, CAP_FULL);
    }

    #[test]
    fn setuid_away_from_root_drops_capabilities() {
        let mut c = Credentials::new(0, 0, vec![]);
        c.euid = 1000;
        c.fix_caps_after_setuid([0, 0, 0]);
        assert_eq!((c.caps.effective, c.caps.permitted), (0, CAP_FULL));
        c.euid = 0;
        c.fix_caps_after_setuid([0, 1000, 0]);
        assert_eq!(c.caps.effective, CAP_FULL);
        (c.uid, c.euid, c.suid) = (1000, 1000, 1000);
        c.fix_caps_after_setuid([0, 0, 0]);
        assert_eq!(
            c.caps,
            CapSets {
                bounding: CAP_FULL,
                ..CapSets::default()
            }
        );
    }
}
