//! /proc/sysvipc/{shm,sem,msg} (Linux `ipc/util.c` `sysvipc_proc_show` with the show functions
//! of `ipc/shm.c`, `ipc/sem.c` and `ipc/msg.c`): one header line, then one row per object of
//! the sandbox's IPC namespace in index order, in Linux's 64-bit column format. Rows come from
//! the `*_STAT_ANY` view of `kernel::ipc::IpcNamespace`, so no permission is needed.

use crate::kernel::creds::Credentials;
use crate::kernel::ipc::msg::MsgStat;
use crate::kernel::ipc::sem::SemStat;
use crate::kernel::ipc::shm::ShmStat;
use crate::kernel::ipc::IpcNamespace;

/// The files of /proc/sysvipc.
pub const FILES: &[&str] = &["msg", "sem", "shm"];

const SHM_HEADER: &str = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n";
const SEM_HEADER: &str =
    "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n";
const MSG_HEADER: &str = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n";

const PAGE_SIZE: u64 = 4096;

/// One shm row. The sandbox keeps every page of a segment resident: rss is its page-rounded
/// size, swap 0.
pub fn shm_row(id: i32, s: &ShmStat) -> String {
    let p = &s.perm;
    let rss = s.segsz.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    format!(
        "{:>10} {:>10}  {:>4o} {:>21} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10} {:>21} {:>21}\n",
        p.key, id, p.mode, s.segsz, s.cpid, s.lpid, s.nattch, p.uid, p.gid, p.cuid, p.cgid,
        s.atime, s.dtime, s.ctime, rss, 0
    )
}

/// One sem row.
pub fn sem_row(id: i32, s: &SemStat) -> String {
    let p = &s.perm;
    format!(
        "{:>10} {:>10}  {:>4o} {:>10} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10}\n",
        p.key, id, p.mode, s.nsems, p.uid, p.gid, p.cuid, p.cgid, s.otime, s.ctime
    )
}

/// One msg row.
pub fn msg_row(id: i32, s: &MsgStat) -> String {
    let p = &s.perm;
    format!(
        "{:>10} {:>10}  {:>4o}  {:>10} {:>10} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10}\n",
        p.key, id, p.mode, s.cbytes, s.qnum, s.lspid, s.lrpid, p.uid, p.gid, p.cuid, p.cgid,
        s.stime, s.rtime, s.ctime
    )
}

/// The value of /proc/sys/`path` for the System V IPC limits the sentry enforces
/// (kernel/shm*, kernel/msg*, kernel/sem), without the newline; None for other paths.
pub fn limit(path: &str) -> Option<String> {
    use crate::kernel::ipc::{msg, sem, shm};
    Some(match path {
        "kernel/shmmax" => shm::SHMMAX.to_string(),
        "kernel/shmall" => shm::SHMALL.to_string(),
        "kernel/shmmni" => shm::SHMMNI.to_string(),
        "kernel/msgmax" => msg::MSGMAX.to_string(),
        "kernel/msgmnb" => msg::MSGMNB.to_string(),
        "kernel/msgmni" => msg::MSGMNI.to_string(),
        "kernel/sem" => format!(
            "{}\t{}\t{}\t{}",
            sem::SEMMSL,
            sem::SEMMNS,
            sem::SEMOPM,
            sem::SEMMNI
        ),
        _ => return None,
    })
}

/// The contents of /proc/sysvipc/`name` (empty for an unknown name).
pub fn generate(ipc: &IpcNamespace, cr: &Credentials, name: &str) -> Vec<u8> {
    let mut out = String::new();
    match name {
        "shm" => {
            out.push_str(SHM_HEADER);
            let (max, _) = ipc.shm_info();
            for idx in 0..=max {
                if let Ok((id, s)) = ipc.shm_stat(cr, idx, true, true) {
                    out.push_str(&shm_row(id, &s));
                }
            }
        }
        "sem" => {
            out.push_str(SEM_HEADER);
            let (max, _) = ipc.sem_info(false);
            for idx in 0..=max {
                if let Ok((id, s)) = ipc.sem_stat(cr, idx, true, true) {
                    out.push_str(&sem_row(id, &s));
                }
            }
        }
        "msg" => {
            out.push_str(MSG_HEADER);
            let (max, _) = ipc.msg_info(false);
            for idx in 0..=max {
                if let Ok((id, s)) = ipc.msg_stat(cr, idx, true, true) {
                    out.push_str(&msg_row(id, &s));
                }
            }
        }
        _ => {}
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::ipc::{IPC_CREAT, IPC_PRIVATE};

    fn root() -> Credentials {
        Credentials::new(0, 0, vec![])
    }

    #[test]
    fn rows_line_up_under_their_headers() {
        let ipc = IpcNamespace::new();
        let cr = root();
        let id = ipc.semget(&cr, 0x1234, 2, IPC_CREAT | 0o640).unwrap();
        ipc.msgget(&cr, IPC_PRIVATE, IPC_CREAT | 0o600).unwrap();
        let sem = String::from_utf8(generate(&ipc, &cr, "sem")).unwrap();
        let lines: Vec<&str> = sem.lines().collect();
        assert_eq!(lines.len(), 2, "{sem}");
        assert_eq!(
            lines[0].find("perms").unwrap() + 5,
            lines[1].find("640").unwrap() + 3
        );
        assert!(lines[1].starts_with(&format!("{:>10} {:>10}", 0x1234, id)));
        let msg = String::from_utf8(generate(&ipc, &cr, "msg")).unwrap();
        assert_eq!(msg.lines().count(), 2);
        let shm = String::from_utf8(generate(&ipc, &cr, "shm")).unwrap();
        assert_eq!(shm, SHM_HEADER);
    }

    #[test]
    fn limits_are_linux_defaults() {
        assert_eq!(limit("kernel/shmmax").unwrap(), "18446744073692774399");
        assert_eq!(
            limit("kernel/sem").unwrap(),
            "32000\t1024000000\t500\t32000"
        );
        assert_eq!(limit("kernel/msgmnb").unwrap(), "16384");
        assert_eq!(limit("kernel/hostname"), None);
    }
}
