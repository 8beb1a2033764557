//! Program loading for execve (after `fs/exec.c`, `fs/binfmt_elf.c` and `fs/binfmt_script.c`):
//! static, static-PIE and dynamic ELF (PT_INTERP), `#!` scripts, the initial stack with argv,
//! envp, auxv.
//!
//! Placement: the stack is RLIMIT_STACK (bounded) of grows-down anonymous memory under
//! `MemoryManager::stack_top`; ET_EXEC goes at its addresses, a main ET_DYN at
//! `ELF_ET_DYN_BASE`, the interpreter wherever the top-down search puts it. Up to
//! `MAX_SCRIPT_DEPTH` `#!` rewrites are followed; one more is ELOOP.

pub mod elf;
pub mod script;
pub mod stack;
mod sys;

use std::sync::Arc;

use crate::abi::auxv::*;
use crate::kernel::creds::Credentials;
use crate::kernel::Task;
use crate::mm::{MappedFile, MemoryManager, MmapRequest, STACK_SIZE};
use crate::platform::Prot;
use crate::vfs::FileDescription;
use crate::{Errno, SysResult};

use self::elf::{ElfInfo, ExecSource, ELF_ET_DYN_BASE, ET_DYN, PHDR_SIZE};

/// `#!` rewrites allowed before ELOOP.
pub const MAX_SCRIPT_DEPTH: usize = 4;
/// Longest single argument or environment string (`MAX_ARG_STRLEN`).
const MAX_ARG_STRLEN: usize = 32 * 4096;
/// argv + envp (strings and pointers) may use at most 1/4 of RLIMIT_STACK, and never more than
/// 1/4 of the stack region the loader maps.
const MAX_ARGS_BYTES: usize = (STACK_SIZE / 4) as usize;

/// Where a freshly loaded program starts.
#[derive(Debug, Clone)]
pub struct LoadedProgram {
    /// Initial instruction pointer (the interpreter's entry for dynamic programs).
    pub entry: u64,
    /// Initial stack pointer (points at argc).
    pub stack_pointer: u64,
    /// The path that was executed, after `#!` resolution: what /proc/self/exe names.
    pub exe_path: Vec<u8>,
    /// argv as loaded (after `#!` rewriting): /proc/self/cmdline.
    pub argv: Vec<Vec<u8>>,
    /// The auxiliary vector on the initial stack, raw (/proc/self/auxv).
    pub auxv: Vec<u8>,
}

/// Loads `path` with `argv` and `envv` into the task's (fresh, empty) memory manager, resolving
/// the path in the task's filesystem context. Errors are what execve returns: ENOENT, EACCES,
/// ENOEXEC, ELOOP (too many `#!` levels), E2BIG, ENOMEM.
pub fn load(
    task: &mut Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envv: Vec<Vec<u8>>,
) -> SysResult<LoadedProgram> {
    let (loaded, creds) = load_image(task, path, argv, envv)?;
    if creds != *task.creds {
        task.set_creds(creds);
    }
    Ok(loaded)
}

/// The owner, group and mode of the program's file and whether its mount ignores set-id bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ExecIds {
    uid: u32,
    gid: u32,
    mode: u32,
    nosuid: bool,
}

/// The credentials after exec (Linux `bprm_fill_uid`, `cap_bprm_creds_from_file`): a
/// set-user-id file (set-group-id with group execute) gives its owner (group) as effective id,
/// unless its mount is nosuid or the task has no_new_privs; the saved and filesystem ids then
/// follow the effective ones. An effective uid leaving 0 clears the effective capabilities; one
/// becoming 0 raises them to the full set.
fn exec_creds(old: &Credentials, ids: ExecIds, no_new_privs: bool) -> Credentials {
    let mut c = old.clone();
    if !ids.nosuid && !no_new_privs {
        if ids.mode & libc::S_ISUID != 0 {
            c.euid = ids.uid;
        }
        if ids.mode & (libc::S_ISGID | libc::S_IXGRP) == libc::S_ISGID | libc::S_IXGRP {
            c.egid = ids.gid;
        }
    }
    c.suid = c.euid;
    c.fsuid = c.euid;
    c.sgid = c.egid;
    c.fsgid = c.egid;
    if old.euid != 0 && c.euid == 0 {
        c.caps.permitted = c.caps.bounding;
        c.caps.effective = c.caps.permitted;
    } else if old.euid == 0 && c.euid != 0 {
        c.caps.effective = 0;
    }
    c
}

/// `load` up to the credentials: the image, and the credentials it runs with.
fn load_image(
    task: &Task,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envv: Vec<Vec<u8>>,
) -> SysResult<(LoadedProgram, Credentials)> {
    let rlim = task
        .tg
        .with_state(|s| s.rlimits[libc::RLIMIT_STACK as usize].cur);
    let limit = usize::try_from(rlim / 4)
        .unwrap_or(usize::MAX)
        .min(MAX_ARGS_BYTES);
    check_arg_sizes(&argv, &envv, limit)?;
    let execfn = path.to_vec();
    let mut path = path.to_vec();
    let mut argv = argv;
    for depth in 0..=MAX_SCRIPT_DEPTH {
        let src = open_exec(task, &path)?;
        let head = read_head(&src)?;
        match script::parse_shebang(&head)? {
            Some(sb) => {
                if depth == MAX_SCRIPT_DEPTH {
                    return Err(Errno::ELOOP);
                }
                argv = script::rewrite_argv(&sb, &path, argv);
                check_arg_sizes(&argv, &envv, limit)?;
                path = sb.interp;
            }
            None => {
                let info = elf::read_elf(&src, &head)?;
                let exe_path = src.file.path();
                let creds = exec_creds(&task.creds, src.ids, task.no_new_privs);
                let (entry, stack) = load_elf(task, &src, &info, &execfn, &argv, &envv, &creds)?;
                let loaded = LoadedProgram {
                    entry,
                    stack_pointer: stack.sp,
                    exe_path,
                    argv,
                    auxv: stack.auxv,
                };
                return Ok((loaded, creds));
            }
        }
    }
    Err(Errno::ELOOP)
}

/// E2BIG if one string exceeds `MAX_ARG_STRLEN` or all of them (with pointers) exceed `limit`.
fn check_arg_sizes(argv: &[Vec<u8>], envv: &[Vec<u8>], limit: usize) -> SysResult<()> {
    let mut total = 0usize;
    for s in argv.iter().chain(envv) {
        if s.len() + 1 > MAX_ARG_STRLEN {
            return Err(Errno::E2BIG);
        }
        total += s.len() + 1 + 8;
    }
    if total + 16 > limit {
        return Err(Errno::E2BIG);
    }
    Ok(())
}

/// An executable opened in the task's filesystem context.
struct TaskFile<'a> {
    task: &'a Task,
    file: Arc<FileDescription>,
    dev: u64,
    ino: u64,
    ids: ExecIds,
}

impl ExecSource for TaskFile<'_> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
        self.file.pread(self.task, buf, offset)
    }
    fn mapped_file(&self) -> SysResult<MappedFile> {
        let host_fd = self.file.host_fd_for_mmap()?;
        Ok(MappedFile {
            host_fd,
            offset: 0,
            dev: self.dev,
            ino: self.ino,
        })
    }
    fn name(&self) -> Vec<u8> {
        self.file.path()
    }
}

/// Opens `path` for execution: a regular file the task may execute, not on a noexec mount
/// (EACCES otherwise; Linux `do_open_execat`).
fn open_exec<'a>(task: &'a Task, path: &[u8]) -> SysResult<TaskFile<'a>> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    let file = task
        .kernel
        .vfs
        .open(task, libc::AT_FDCWD, path, libc::O_RDONLY, 0)?;
    let st = file.stat(task)?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Errno::EACCES);
    }
    let c = &task.creds;
    let in_group = st.st_gid == c.egid || c.groups.contains(&st.st_gid);
    if !may_execute(st.st_mode, c.euid == 0, c.euid == st.st_uid, in_group) {
        return Err(Errno::EACCES);
    }
    let mount = &file.dentry().mount;
    if mount.noexec() {
        return Err(Errno::EACCES);
    }
    let ids = ExecIds {
        uid: st.st_uid,
        gid: st.st_gid,
        mode: st.st_mode,
        nosuid: mount.nosuid(),
    };
    Ok(TaskFile {
        task,
        file,
        dev: st.st_dev,
        ino: st.st_ino,
        ids,
    })
}

/// The execute permission check (`generic_permission` for MAY_EXEC): root needs any x bit.
fn may_execute(mode: u32, root: bool, owner: bool, group: bool) -> bool {
    if root {
        return mode & 0o111 != 0;
    }
    let bit = if owner {
        0o100
    } else if group {
        0o010
    } else {
        0o001
    };
    mode & bit != 0
}

/// The first `BINPRM_BUF_SIZE` bytes (fewer for a short file).
fn read_head(src: &dyn ExecSource) -> SysResult<Vec<u8>> {
    let mut head = vec![0u8; script::BINPRM_BUF_SIZE];
    let mut n = 0;
    while n < head.len() {
        match src.read_at(&mut head[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    head.truncate(n);
    Ok(head)
}

/// Maps the program (and its interpreter) and the stack; returns (entry, stack pointer).
fn load_elf(
    task: &Task,
    src: &dyn ExecSource,
    info: &ElfInfo,
    execfn: &[u8],
    argv: &[Vec<u8>],
    envv: &[Vec<u8>],
    creds: &Credentials,
) -> SysResult<(u64, stack::InitialStack)> {
    let mm = &task.mm;
    let interp = match &info.interp {
        Some(path) => {
            let isrc = open_exec(task, path)?;
            let ihead = read_head(&isrc)?;
            let iinfo = elf::read_elf(&isrc, &ihead).map_err(|e| {
                if e == Errno::ENOEXEC {
                    Errno::ELIBBAD
                } else {
                    e
                }
            })?;
            Some((isrc, iinfo))
        }
        None => None,
    };
    let interp_ref = interp.as_ref().map(|(s, i)| (s as &dyn ExecSource, i));
    // The ids the program runs with, and AT_SECURE when they differ from the real ones (Linux
    // `bprm->secureexec`): the C library then ignores LD_* and the like.
    let c = creds;
    let secure = u64::from(c.euid != c.uid || c.egid != c.gid);
    let ids = [
        (AT_UID, c.uid),
        (AT_EUID, c.euid),
        (AT_GID, c.gid),
        (AT_EGID, c.egid),
    ];
    let mut random = [0u8; 16];
    crate::kernel::random_fill(&mut random)?;
    let stack_rlimit = task
        .tg
        .with_state(|s| s.rlimits[libc::RLIMIT_STACK as usize].cur);
    let stack = StackPlan {
        size: stack_size(stack_rlimit),
        random,
        secure,
    };
    load_into(mm, src, info, interp_ref, execfn, argv, envv, ids, stack)
}

/// The main thread's stack: its size (from RLIMIT_STACK), AT_RANDOM's bytes and AT_SECURE.
struct StackPlan {
    size: u64,
    random: [u8; 16],
    /// AT_SECURE.
    secure: u64,
}

/// Smallest stack region the loader maps, whatever RLIMIT_STACK says (Linux keeps at least
/// 128 KiB above the arguments, `stack_expand`).
const MIN_STACK: u64 = 128 << 10;

/// The stack region for RLIMIT_STACK `rlimit`: the limit itself, page aligned, so that a
/// program recursing past it faults (SIGSEGV) as on Linux, where the stack grows on demand
/// up to the limit. Host memory is only used as pages are touched. Bounded by the gap kept
/// free under the stack top (`mm::STACK_GAP`, less a 16 MiB guard) for an unlimited or huge
/// limit.
fn stack_size(rlimit: u64) -> u64 {
    let max = crate::mm::STACK_GAP - (16 << 20);
    (rlimit.clamp(MIN_STACK, max) + crate::mm::PAGE_SIZE - 1) & !(crate::mm::PAGE_SIZE - 1)
}

/// Everything after the files are open: stack, images, brk, initial stack contents.
#[allow(clippy::too_many_arguments)]
fn load_into(
    mm: &MemoryManager,
    src: &dyn ExecSource,
    info: &ElfInfo,
    interp: Option<(&dyn ExecSource, &ElfInfo)>,
    execfn: &[u8],
    argv: &[Vec<u8>],
    envv: &[Vec<u8>],
    ids: [(u64, u32); 4],
    stack: StackPlan,
) -> SysResult<(u64, stack::InitialStack)> {
    let StackPlan {
        size: stack_size,
        random,
        secure,
    } = stack;
    let top = mm.stack_top();
    let mut stack_prot = Prot::READ | Prot::WRITE;
    if info.exec_stack {
        stack_prot |= Prot::EXEC;
    }
    mm.mmap(MmapRequest {
        fixed: true,
        grows_down: true,
        name: Some(b"[stack]".to_vec()),
        ..MmapRequest::anon(top - stack_size, stack_size, stack_prot)
    })?;
    let main = elf::map_image(
        mm,
        src,
        info,
        if info.ehdr.e_type == ET_DYN {
            ELF_ET_DYN_BASE
        } else {
            0
        },
    )?;
    mm.set_brk_start(main.end);
    let (entry, interp_base) = match interp {
        Some((isrc, iinfo)) => {
            let img = elf::map_image(mm, isrc, iinfo, 0)?;
            (img.entry, img.base)
        }
        None => (main.entry, 0),
    };
    let mut auxv: Vec<(u64, u64)> = Vec::new();
    if let Some(vdso) = mm.layout().vdso_base {
        auxv.push((AT_SYSINFO_EHDR, vdso));
    }
    auxv.extend([
        (AT_MINSIGSTKSZ, sys::min_sigstksz()),
        (AT_HWCAP, sys::hwcap()),
        (AT_PAGESZ, crate::mm::PAGE_SIZE),
        (AT_CLKTCK, 100),
        (AT_PHDR, main.phdr_addr),
        (AT_PHENT, PHDR_SIZE as u64),
        (AT_PHNUM, u64::from(main.phnum)),
        (AT_BASE, interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, main.entry),
    ]);
    auxv.extend(ids.iter().map(|&(k, v)| (k, u64::from(v))));
    auxv.extend([
        (AT_SECURE, secure),
        (AT_RANDOM, 0),
        (AT_HWCAP2, sys::hwcap2()),
        (AT_EXECFN, 0),
        (AT_PLATFORM, 0),
    ]);
    let args = stack::StackArgs {
        argv,
        envv,
        execfn,
        auxv: &auxv,
        random,
    };
    let stack = stack::build_stack(mm, top, stack_size, &args)?;
    Ok((entry, stack))
}

#[cfg(test)]
mod tests {
    use super::elf::tests::{ehdr, phdr};
    use super::elf::{Phdr, ET_EXEC, PT_INTERP, PT_LOAD, PT_PHDR};
    use super::*;
    use crate::mm::testing::{dummy_fd, new_mm, Call};

    #[test]
    fn set_id_files_change_the_effective_ids_unless_nosuid() {
        let root = Credentials::new(0, 0, vec![]);
        let file = ExecIds {
            uid: 1000,
            gid: 100,
            mode: libc::S_IFREG | libc::S_ISUID | libc::S_ISGID | 0o755,
            nosuid: false,
        };
        let c = exec_creds(&root, file, false);
        assert_eq!((c.uid, c.euid, c.suid, c.fsuid), (0, 1000, 1000, 1000));
        assert_eq!((c.gid, c.egid, c.sgid, c.fsgid), (0, 100, 100, 100));
        assert_eq!(c.caps.effective, 0);
        assert_eq!(c.caps.permitted, root.caps.permitted);
        assert_eq!(
            exec_creds(
                &root,
                ExecIds {
                    nosuid: true,
                    ..file
                },
                false
            ),
            root
        );
        assert_eq!(exec_creds(&root, file, true), root);
        // Set-group-id needs group execute.
        let g = exec_creds(
            &root,
            ExecIds {
                mode: libc::S_ISGID | 0o705,
                ..file
            },
            false,
        );
        assert_eq!(g, root);
        // A user running a set-user-id-root file gains every capability.
        let user = Credentials::new(5, 5, vec![]);
        let r = exec_creds(&user, ExecIds { uid: 0, ..file }, false);
        assert_eq!((r.uid, r.euid), (5, 0));
        assert!(r.has_cap(21));
    }

    /// A file in memory; `mappable` decides whether it offers a host fd.
    struct MemFile {
        data: Vec<u8>,
        mappable: bool,
    }

    impl ExecSource for MemFile {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> SysResult<usize> {
            let off = (offset as usize).min(self.data.len());
            let n = buf.len().min(self.data.len() - off);
            buf[..n].copy_from_slice(&self.data[off..off + n]);
            Ok(n)
        }
        fn mapped_file(&self) -> SysResult<MappedFile> {
            if self.mappable {
                Ok(MappedFile {
                    host_fd: dummy_fd(),
                    offset: 0,
                    dev: 1,
                    ino: 2,
                })
            } else {
                Err(Errno::ENODEV)
            }
        }
        fn name(&self) -> Vec<u8> {
            b"/bin/prog".to_vec()
        }
    }

    /// A static executable: text at 0x400000 (one page of file), data+bss at 0x401000.
    fn static_exe(mappable: bool) -> MemFile {
        let loads = [
            Phdr {
                p_type: PT_LOAD,
                p_flags: 5,
                offset: 0,
                vaddr: 0x40_0000,
                filesz: 0x1000,
                memsz: 0x1000,
            },
            Phdr {
                p_type: PT_LOAD,
                p_flags: 6,
                offset: 0x1000,
                vaddr: 0x40_2000,
                filesz: 0x100,
                memsz: 0x3000,
            },
        ];
        let mut data = ehdr(ET_EXEC, 0x40_0100, 2);
        for p in &loads {
            data.extend(phdr(p));
        }
        data.resize(0x1100, 0xaa);
        MemFile { data, mappable }
    }

    fn auxv_of(mm: &MemoryManager, sp: u64) -> Vec<(u64, u64)> {
        let argc = mm.copy_in_pod::<u64>(sp).unwrap();
        let mut at = sp + 8 * (argc + 2);
        while mm.copy_in_pod::<u64>(at).unwrap() != 0 {
            at += 8;
        }
        at += 8;
        let mut out = Vec::new();
        loop {
            let k = mm.copy_in_pod::<u64>(at).unwrap();
            if k == AT_NULL {
                return out;
            }
            out.push((k, mm.copy_in_pod::<u64>(at + 8).unwrap()));
            at += 16;
        }
    }

    fn plan() -> StackPlan {
        StackPlan {
            size: STACK_SIZE,
            random: [1; 16],
            secure: 0,
        }
    }

    #[test]
    fn stack_follows_rlimit_stack_within_bounds() {
        assert_eq!(stack_size(8 << 20), 8 << 20);
        assert_eq!(stack_size(1 << 20), 1 << 20);
        assert_eq!(stack_size(1000), MIN_STACK);
        assert_eq!(stack_size((1 << 20) + 1), (1 << 20) + 4096);
        assert_eq!(stack_size(u64::MAX), crate::mm::STACK_GAP - (16 << 20));
    }

    fn ids() -> [(u64, u32); 4] {
        [
            (AT_UID, 1000),
            (AT_EUID, 1000),
            (AT_GID, 100),
            (AT_EGID, 100),
        ]
    }

    #[test]
    fn static_exec_is_mapped_from_the_file_with_bss() {
        let (fake, mm) = new_mm();
        let f = static_exe(true);
        let info = elf::read_elf(&f, &f.data).unwrap();
        let argv = vec![b"prog".to_vec()];
        let (entry, stack) =
            load_into(&mm, &f, &info, None, b"prog", &argv, &[], ids(), plan()).unwrap();
        let sp = stack.sp;
        assert_eq!(entry, 0x40_0100);
        assert_eq!(sp % 16, 0);
        let calls = fake.calls();
        assert!(calls.contains(&Call::MapFile {
            addr: 0x40_0000,
            len: 0x1000,
            prot: Prot::READ | Prot::EXEC,
            shared: false,
            offset: 0
        }));
        assert!(calls.contains(&Call::MapFile {
            addr: 0x40_2000,
            len: 0x1000,
            prot: Prot::READ | Prot::WRITE,
            shared: false,
            offset: 0x1000
        }));
        assert!(calls.contains(&Call::MapAnon {
            addr: 0x40_3000,
            len: 0x2000,
            prot: Prot::READ | Prot::WRITE,
            shared: false
        }));
        // The partial page after the file data is zeroed; the hole between segments is unmapped.
        assert_eq!(mm.copy_in_pod::<[u8; 4]>(0x40_2100).unwrap(), [0; 4]);
        assert!(mm.vma_at(0x40_1000).is_none());
        assert_eq!(mm.brk_range(), (0x40_5000, 0x40_5000));
        let aux = auxv_of(&mm, sp);
        assert!(aux.contains(&(AT_PHDR, 0x40_0040)));
        assert!(aux.contains(&(AT_ENTRY, 0x40_0100)));
        assert!(aux.contains(&(AT_BASE, 0)));
        assert!(aux.contains(&(AT_UID, 1000)));
        assert!(aux.contains(&(AT_SECURE, 0)));
        assert_eq!(aux[0], (AT_SYSINFO_EHDR, crate::mm::testing::VDSO));
        let stack = mm.vma_at(sp).unwrap();
        assert!(stack.grows_down && stack.name.as_deref() == Some(b"[stack]".as_slice()));
    }

    #[test]
    fn unmappable_file_falls_back_to_copies() {
        let (fake, mm) = new_mm();
        let f = static_exe(false);
        let info = elf::read_elf(&f, &f.data).unwrap();
        let secure = StackPlan {
            secure: 1,
            ..plan()
        };
        let (_, stack) = load_into(&mm, &f, &info, None, b"prog", &[], &[], ids(), secure).unwrap();
        assert!(stack
            .auxv
            .chunks(16)
            .any(|c| c[..8] == AT_SECURE.to_ne_bytes() && c[8..] == 1u64.to_ne_bytes()));
        assert!(!fake
            .calls()
            .iter()
            .any(|c| matches!(c, Call::MapFile { .. })));
        assert_eq!(mm.copy_in_pod::<[u8; 4]>(0x40_00fc).unwrap(), [0xaa; 4]);
        assert_eq!(mm.copy_in_pod::<[u8; 2]>(0x40_20ff).unwrap(), [0xaa, 0]);
        assert_eq!(mm.vma_at(0x40_0000).unwrap().prot, Prot::READ | Prot::EXEC);
    }

    #[test]
    fn dynamic_program_gets_interpreter_entry_and_base() {
        let (_, mm) = new_mm();
        // A PIE with PT_PHDR and PT_INTERP.
        let phdrs = [
            Phdr {
                p_type: PT_PHDR,
                p_flags: 4,
                offset: 64,
                vaddr: 64,
                filesz: 3 * 56,
                memsz: 3 * 56,
            },
            Phdr {
                p_type: PT_INTERP,
                p_flags: 4,
                offset: 0x200,
                vaddr: 0x200,
                filesz: 5,
                memsz: 5,
            },
            Phdr {
                p_type: PT_LOAD,
                p_flags: 5,
                offset: 0,
                vaddr: 0,
                filesz: 0x300,
                memsz: 0x300,
            },
        ];
        let mut data = ehdr(ET_DYN, 0x120, 3);
        for p in &phdrs {
            data.extend(phdr(p));
        }
        data.resize(0x200, 0);
        data.extend(b"/ld\0\0");
        data.resize(0x300, 0);
        let exe = MemFile {
            data,
            mappable: true,
        };
        let info = elf::read_elf(&exe, &exe.data).unwrap();
        assert_eq!(info.interp.as_deref(), Some(b"/ld".as_slice()));
        let ld = static_exe(true);
        let mut ld_info = elf::read_elf(&ld, &ld.data).unwrap();
        ld_info.ehdr.e_type = ET_DYN;
        let (entry, stack) = load_into(
            &mm,
            &exe,
            &info,
            Some((&ld, &ld_info)),
            b"p",
            &[],
            &[],
            ids(),
            plan(),
        )
        .unwrap();
        let aux = auxv_of(&mm, stack.sp);
        let base = aux.iter().find(|(k, _)| *k == AT_BASE).unwrap().1;
        assert!(base != 0 && base < mm.mmap_base());
        assert_eq!(entry, base - 0x40_0000 + 0x40_0100);
        assert!(aux.contains(&(AT_PHDR, ELF_ET_DYN_BASE + 64)));
        assert!(aux.contains(&(AT_ENTRY, ELF_ET_DYN_BASE + 0x120)));
    }

    #[test]
    fn execute_permission() {
        assert!(may_execute(0o100755, false, true, false));
        assert!(!may_execute(0o100644, false, true, true));
        assert!(may_execute(0o100010, false, false, true));
        assert!(!may_execute(0o100700, false, false, false));
        assert!(may_execute(0o100001, true, false, false));
        assert!(!may_execute(0o100644, true, true, true));
    }

    #[test]
    fn argument_limits() {
        assert_eq!(
            check_arg_sizes(&[vec![b'a'; MAX_ARG_STRLEN]], &[], MAX_ARGS_BYTES),
            Err(Errno::E2BIG)
        );
        let many = vec![vec![b'a'; 100_000]; 30];
        assert_eq!(
            check_arg_sizes(&[], &many, MAX_ARGS_BYTES),
            Err(Errno::E2BIG)
        );
        assert_eq!(check_arg_sizes(&[], &many[..1], 4096), Err(Errno::E2BIG));
        assert_eq!(
            check_arg_sizes(&[b"ls".to_vec()], &[b"A=b".to_vec()], MAX_ARGS_BYTES),
            Ok(())
        );
    }

    #[test]
    fn read_elf_rejects_garbage_and_bad_segments() {
        let junk = MemFile {
            data: b"#include <stdio.h>\n".to_vec(),
            mappable: false,
        };
        assert_eq!(elf::read_elf(&junk, &junk.data).err(), Some(Errno::ENOEXEC));
        let mut data = ehdr(ET_EXEC, 0, 1);
        data.extend(phdr(&Phdr {
            p_type: PT_LOAD,
            p_flags: 5,
            offset: 0x10,
            vaddr: 0x40_0000,
            filesz: 1,
            memsz: 1,
        }));
        let misaligned = MemFile {
            data,
            mappable: false,
        };
        assert_eq!(
            elf::read_elf(&misaligned, &misaligned.data).err(),
            Some(Errno::ENOEXEC)
        );
        // Program headers past the end of the file.
        let short = MemFile {
            data: ehdr(ET_EXEC, 0, 4),
            mappable: false,
        };
        assert_eq!(
            elf::read_elf(&short, &short.data).err(),
            Some(Errno::ENOEXEC)
        );
    }
}
