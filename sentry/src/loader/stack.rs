//! The initial process stack (after Linux `fs/exec.c` copy_strings and `fs/binfmt_elf.c`
//! create_elf_tables): strings at the top, then the platform string and AT_RANDOM bytes, then
//! argc, argv, envp and auxv with the stack pointer 16-byte aligned at argc.

use crate::abi::auxv::{AT_EXECFN, AT_NULL, AT_PLATFORM, AT_RANDOM};
use crate::mm::MemoryManager;
use crate::{Errno, SysResult};

const PLATFORM: &[u8] = b"x86_64\0";

/// What goes on the stack besides argv and envp.
pub struct StackArgs<'a> {
    pub argv: &'a [Vec<u8>],
    pub envv: &'a [Vec<u8>],
    /// The path as given to execve (AT_EXECFN).
    pub execfn: &'a [u8],
    /// Auxiliary vector without AT_NULL; the values of AT_RANDOM, AT_EXECFN and AT_PLATFORM
    /// are replaced by the addresses of what they point at.
    pub auxv: &'a [(u64, u64)],
    pub random: [u8; 16],
}

/// A written initial stack.
pub struct InitialStack {
    /// The stack pointer, pointing at argc.
    pub sp: u64,
    /// The auxiliary vector as written, (type, value) pairs as raw bytes up to and with the
    /// AT_NULL pair: what /proc/PID/auxv shows.
    pub auxv: Vec<u8>,
}

/// Writes the initial stack below `stack_top` (in a mapped, writable region of at least
/// `limit` bytes). E2BIG if it does not fit.
pub fn build_stack(
    mm: &MemoryManager,
    stack_top: u64,
    limit: u64,
    a: &StackArgs<'_>,
) -> SysResult<InitialStack> {
    let mut p = stack_top - 8; // A NULL word ends the stack, as on Linux.
    let push_str = |s: &[u8], p: &mut u64| -> u64 {
        *p -= s.len() as u64 + 1;
        *p
    };
    // Strings ascending from argv[0]: argv..., envp..., execfn.
    let execfn_addr = push_str(a.execfn, &mut p);
    let env_addrs: Vec<u64> = a
        .envv
        .iter()
        .rev()
        .map(|s| push_str(s, &mut p))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let arg_addrs: Vec<u64> = a
        .argv
        .iter()
        .rev()
        .map(|s| push_str(s, &mut p))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let strings_start = p;
    p &= !15;
    p -= PLATFORM.len() as u64;
    let platform_addr = p;
    p -= 16;
    let random_addr = p;
    let mut words: Vec<u64> = Vec::new();
    words.push(a.argv.len() as u64);
    words.extend(&arg_addrs);
    words.push(0);
    words.extend(&env_addrs);
    words.push(0);
    let auxv_start = words.len();
    for &(k, v) in a.auxv {
        let v = match k {
            AT_RANDOM => random_addr,
            AT_EXECFN => execfn_addr,
            AT_PLATFORM => platform_addr,
            _ => v,
        };
        words.extend([k, v]);
    }
    words.extend([AT_NULL, 0]);
    let sp = p.checked_sub(words.len() as u64 * 8).ok_or(Errno::E2BIG)? & !15;
    if stack_top - sp > limit {
        return Err(Errno::E2BIG);
    }
    // One image from sp to the top, written with one copy.
    let mut image = vec![0u8; (stack_top - sp) as usize];
    let at = |addr: u64| (addr - sp) as usize;
    for (i, w) in words.iter().enumerate() {
        image[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
    }
    image[at(random_addr)..at(random_addr) + 16].copy_from_slice(&a.random);
    image[at(platform_addr)..at(platform_addr) + PLATFORM.len()].copy_from_slice(PLATFORM);
    let mut put = |addr: u64, s: &[u8]| image[at(addr)..at(addr) + s.len()].copy_from_slice(s);
    for (addr, s) in arg_addrs
        .iter()
        .zip(a.argv)
        .chain(env_addrs.iter().zip(a.envv))
    {
        put(*addr, s);
    }
    put(execfn_addr, a.execfn);
    debug_assert!(
        strings_start >= sp,
        "invariant: strings lie above the tables"
    );
    mm.copy_out(sp, &image)?;
    let auxv = image[auxv_start * 8..words.len() * 8].to_vec();
    Ok(InitialStack { sp, auxv })
}

/// The auxiliary vector of the initial stack at `sp` (argc, argv, NULL, envp, NULL, then
/// (type, value) pairs up to AT_NULL), as raw bytes with the AT_NULL pair, read back from
/// memory.
#[cfg(test)]
pub fn read_auxv(mm: &MemoryManager, sp: u64) -> SysResult<Vec<u8>> {
    let word = |addr: u64| -> SysResult<u64> {
        let mut b = [0u8; 8];
        mm.copy_in(addr, &mut b)?;
        Ok(u64::from_ne_bytes(b))
    };
    let argc = word(sp)?;
    let mut p = sp + 8 * (argc + 2);
    // envp up to its NULL.
    while word(p)? != 0 {
        p += 8;
    }
    p += 8;
    let mut out = Vec::new();
    // Bounded: a loader-made stack has a few dozen entries.
    for _ in 0..64 {
        let (k, v) = (word(p)?, word(p + 8)?);
        out.extend_from_slice(&k.to_ne_bytes());
        out.extend_from_slice(&v.to_ne_bytes());
        if k == AT_NULL {
            return Ok(out);
        }
        p += 16;
    }
    Err(Errno::EINVAL)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::auxv::{AT_PAGESZ, AT_PHNUM};
    use crate::mm::testing::new_mm;
    use crate::mm::{MmapRequest, STACK_SIZE};
    use crate::platform::Prot;

    fn read_u64(mm: &MemoryManager, addr: u64) -> u64 {
        mm.copy_in_pod::<u64>(addr).unwrap()
    }

    fn read_str(mm: &MemoryManager, addr: u64) -> Vec<u8> {
        mm.copy_in_cstring(addr, 4096).unwrap()
    }

    #[test]
    fn layout_parses_back() {
        let (_, mm) = new_mm();
        let top = mm.stack_top();
        let base = top - STACK_SIZE;
        mm.mmap(MmapRequest {
            fixed: true,
            ..MmapRequest::anon(base, STACK_SIZE, Prot::READ | Prot::WRITE)
        })
        .unwrap();
        let argv = vec![b"/bin/prog".to_vec(), b"-x".to_vec(), b"".to_vec()];
        let envv = vec![b"HOME=/".to_vec(), b"A=b".to_vec()];
        let auxv = [
            (AT_PAGESZ, 4096),
            (AT_RANDOM, 0),
            (AT_PHNUM, 9),
            (AT_EXECFN, 0),
            (AT_PLATFORM, 0),
        ];
        let random = [7u8; 16];
        let args = StackArgs {
            argv: &argv,
            envv: &envv,
            execfn: b"prog",
            auxv: &auxv,
            random,
        };
        let stack = build_stack(&mm, top, STACK_SIZE, &args).unwrap();
        let sp = stack.sp;
        assert_eq!(sp % 16, 0);
        assert_eq!(
            stack.auxv,
            read_auxv(&mm, sp).unwrap(),
            "the auxv as written"
        );
        assert_eq!(read_u64(&mm, sp), 3);
        let mut at = sp + 8;
        let mut got_argv = Vec::new();
        while read_u64(&mm, at) != 0 {
            got_argv.push(read_str(&mm, read_u64(&mm, at)));
            at += 8;
        }
        assert_eq!(got_argv, argv);
        at += 8;
        let mut got_env = Vec::new();
        while read_u64(&mm, at) != 0 {
            got_env.push(read_str(&mm, read_u64(&mm, at)));
            at += 8;
        }
        assert_eq!(got_env, envv);
        at += 8;
        let mut aux = Vec::new();
        loop {
            let (k, v) = (read_u64(&mm, at), read_u64(&mm, at + 8));
            at += 16;
            if k == AT_NULL {
                break;
            }
            aux.push((k, v));
        }
        assert_eq!(aux.len(), auxv.len());
        assert_eq!(aux[0], (AT_PAGESZ, 4096));
        let mut rnd = [0u8; 16];
        mm.copy_in(aux[1].1, &mut rnd).unwrap();
        assert_eq!(rnd, random);
        assert_eq!(read_str(&mm, aux[3].1), b"prog".to_vec());
        assert_eq!(read_str(&mm, aux[4].1), b"x86_64".to_vec());
        // The strings sit at the very top, below one NULL word.
        assert_eq!(aux[3].1 + 5, top - 8);
        assert_eq!(read_u64(&mm, top - 8), 0);
    }

    #[test]
    fn too_big_is_e2big() {
        let (_, mm) = new_mm();
        let top = mm.stack_top();
        let argv = vec![vec![b'a'; 8192]];
        let args = StackArgs {
            argv: &argv,
            envv: &[],
            execfn: b"x",
            auxv: &[],
            random: [0; 16],
        };
        assert_eq!(build_stack(&mm, top, 4096, &args).err(), Some(Errno::E2BIG));
    }
}
