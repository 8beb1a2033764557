//! Signal ABI for x86_64: `siginfo_t` (`include/uapi/asm-generic/siginfo.h`), `stack_t`,
//! `struct sigcontext` (`arch/x86/include/uapi/asm/sigcontext.h`), the kernel's `struct
//! ucontext` (`arch/x86/include/uapi/asm/ucontext.h`) and `struct rt_sigframe`
//! (`arch/x86/include/asm/sigframe.h`). Values are encoded to and decoded from bytes at their
//! uapi offsets, so no application memory is ever viewed as a Rust struct.

use crate::platform::Regs;

/// `sa_flags` bits (`include/uapi/asm-generic/signal-defs.h`, x86 `SA_RESTORER`).
pub const SA_SIGINFO: u64 = 0x4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

/// `si_code` values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TIMER: i32 = -2;
pub const SI_TKILL: i32 = -6;

/// `ss_flags` bits.
pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;
pub const MINSIGSTKSZ: u64 = 2048;

/// `uc_flags` bits.
pub const UC_FP_XSTATE: u64 = 0x1;
pub const UC_SIGCONTEXT_SS: u64 = 0x2;
pub const UC_STRICT_RESTORE_SS: u64 = 0x4;

/// `struct _fpx_sw_bytes` magics (`arch/x86/include/uapi/asm/sigcontext.h`).
pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Size of the legacy `fxsave` area (`struct _fpstate_64`).
pub const FXSAVE_SIZE: usize = 512;
/// Offset of `sw_reserved` (`struct _fpx_sw_bytes`) inside the fxsave area.
const SW_RESERVED: usize = 464;

pub const SIGINFO_SIZE: usize = 128;
pub const STACK_SIZE: usize = 24;
pub const SIGCONTEXT_SIZE: usize = 256;
/// The kernel's `struct ucontext`: flags, link, stack, sigcontext, an 8-byte sigset.
pub const UCONTEXT_SIZE: usize = 8 + 8 + STACK_SIZE + SIGCONTEXT_SIZE + 8;
/// Offsets inside `struct ucontext`.
pub const UC_STACK: usize = 16;
pub const UC_MCONTEXT: usize = UC_STACK + STACK_SIZE;
pub const UC_SIGMASK: usize = UC_MCONTEXT + SIGCONTEXT_SIZE;
/// `struct rt_sigframe`: pretcode, ucontext, siginfo.
pub const RT_SIGFRAME_SIZE: usize = 8 + UCONTEXT_SIZE + SIGINFO_SIZE;
pub const FRAME_UC: usize = 8;
pub const FRAME_INFO: usize = 8 + UCONTEXT_SIZE;
/// Offset of the `fpstate` pointer inside `struct sigcontext`.
const SC_FPSTATE: usize = 184;

const _: () = assert!(UCONTEXT_SIZE == 304);
const _: () = assert!(RT_SIGFRAME_SIZE == 440);
const _: () = assert!(FRAME_INFO == 312);

fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_ne_bytes());
}

fn put_i32(b: &mut [u8], off: usize, v: i32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}

pub fn get_u64(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(w)
}

pub fn get_u32(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(w)
}

fn get_i32(b: &[u8], off: usize) -> i32 {
    get_u32(b, off) as i32
}

fn get_u16(b: &[u8], off: usize) -> u16 {
    let mut w = [0u8; 2];
    w.copy_from_slice(&b[off..off + 2]);
    u16::from_ne_bytes(w)
}

/// A `siginfo_t` (128 bytes): signo, errno, code, then the union at offset 16.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SigInfo {
    pub bytes: [u8; SIGINFO_SIZE],
}

impl std::fmt::Debug for SigInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigInfo(signo {}, code {})", self.signo(), self.code())
    }
}

impl SigInfo {
    pub fn new(signo: i32, code: i32) -> SigInfo {
        let mut bytes = [0u8; SIGINFO_SIZE];
        put_i32(&mut bytes, 0, signo);
        put_i32(&mut bytes, 8, code);
        SigInfo { bytes }
    }

    /// Sent by a process (`_kill`: si_pid, si_uid).
    pub fn from_sender(signo: i32, code: i32, pid: i32, uid: u32) -> SigInfo {
        let mut s = SigInfo::new(signo, code);
        put_i32(&mut s.bytes, 16, pid);
        put_i32(&mut s.bytes, 20, uid as i32);
        s
    }

    /// A fault (`_sigfault`: si_addr).
    pub fn fault(signo: i32, code: i32, addr: u64) -> SigInfo {
        let mut s = SigInfo::new(signo, code);
        put_u64(&mut s.bytes, 16, addr);
        s
    }

    pub fn signo(&self) -> i32 {
        get_i32(&self.bytes, 0)
    }

    pub fn set_signo(&mut self, signo: i32) {
        put_i32(&mut self.bytes, 0, signo);
    }

    pub fn code(&self) -> i32 {
        get_i32(&self.bytes, 8)
    }

    /// `si_addr` of a fault.
    pub fn addr(&self) -> u64 {
        get_u64(&self.bytes, 16)
    }
}

/// A `stack_t`: { ss_sp, ss_flags (int, padded), ss_size }.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigStack {
    pub sp: u64,
    pub flags: i32,
    pub size: u64,
}

impl SigStack {
    pub fn to_bytes(&self) -> [u8; STACK_SIZE] {
        let mut b = [0u8; STACK_SIZE];
        put_u64(&mut b, 0, self.sp);
        put_i32(&mut b, 8, self.flags);
        put_u64(&mut b, 16, self.size);
        b
    }

    pub fn from_bytes(b: &[u8]) -> SigStack {
        SigStack {
            sp: get_u64(b, 0),
            flags: get_i32(b, 8),
            size: get_u64(b, 16),
        }
    }
}

/// The 18 words that open `struct sigcontext`: r8 .. r15, rdi, rsi, rbp, rbx, rdx, rax, rcx,
/// rsp, rip, eflags.
pub fn sigcontext_gprs(regs: &Regs) -> [u64; 18] {
    [
        regs.r8,
        regs.r9,
        regs.r10,
        regs.r11,
        regs.r12,
        regs.r13,
        regs.r14,
        regs.r15,
        regs.rdi,
        regs.rsi,
        regs.rbp,
        regs.rbx,
        regs.rdx,
        regs.rax,
        regs.rcx,
        regs.rsp,
        regs.rip,
        regs.eflags,
    ]
}

/// Writes `struct sigcontext` for `regs` into `b` (256 bytes).
pub fn encode_sigcontext(b: &mut [u8], regs: &Regs, oldmask: u64, cr2: u64, fpstate: u64) {
    for (i, v) in sigcontext_gprs(regs).iter().enumerate() {
        put_u64(b, i * 8, *v);
    }
    put_u16(b, 144, regs.cs as u16);
    put_u16(b, 146, regs.gs as u16);
    put_u16(b, 148, regs.fs as u16);
    put_u16(b, 150, regs.ss as u16);
    // err, trapno at 152 and 160 stay zero.
    put_u64(b, 168, oldmask);
    put_u64(b, 176, cr2);
    put_u64(b, SC_FPSTATE, fpstate);
}

/// The registers a `struct sigcontext` holds, applied over `regs`; returns the fpstate
/// pointer. Segment registers and flags are left to the caller to validate.
pub fn decode_sigcontext(b: &[u8], regs: &mut Regs) -> (u64, u64, u16) {
    let g = |i: usize| get_u64(b, i * 8);
    regs.r8 = g(0);
    regs.r9 = g(1);
    regs.r10 = g(2);
    regs.r11 = g(3);
    regs.r12 = g(4);
    regs.r13 = g(5);
    regs.r14 = g(6);
    regs.r15 = g(7);
    regs.rdi = g(8);
    regs.rsi = g(9);
    regs.rbp = g(10);
    regs.rbx = g(11);
    regs.rdx = g(12);
    regs.rax = g(13);
    regs.rcx = g(14);
    regs.rsp = g(15);
    regs.rip = g(16);
    (g(17), get_u64(b, SC_FPSTATE), get_u16(b, 150))
}

/// A legacy fxsave area in its reset state (FCW 0x37f, MXCSR 0x1f80), for when the platform
/// cannot report the FP state.
pub fn default_fxsave() -> Vec<u8> {
    let mut b = vec![0u8; FXSAVE_SIZE];
    put_u16(&mut b, 0, 0x37f);
    put_i32(&mut b, 24, 0x1f80);
    put_i32(&mut b, 28, 0xffff);
    b
}

/// The extended size (`_fpx_sw_bytes.extended_size`, which includes the trailing MAGIC2) and
/// the xstate size of an fxsave area that announces an XSAVE frame; `None` for legacy fxsave.
pub fn xstate_sizes(fx: &[u8]) -> Option<(usize, usize)> {
    if fx.len() < FXSAVE_SIZE || get_u32(fx, SW_RESERVED) != FP_XSTATE_MAGIC1 {
        return None;
    }
    let extended = get_u32(fx, SW_RESERVED + 4) as usize;
    let xstate = get_u32(fx, SW_RESERVED + 16) as usize;
    (xstate >= FXSAVE_SIZE && extended == xstate + 4 && extended <= 1 << 20)
        .then_some((extended, xstate))
}

/// Size of the XSAVE header that follows the legacy area.
const XSAVE_HEADER_SIZE: usize = 64;

/// Prepares an FP state image for a signal frame. A full XSAVE image as ptrace's
/// `NT_X86_XSTATE` gives it (XCR0 in the first word of sw_reserved) gets the signal frame's
/// `_fpx_sw_bytes` (magic1, extended size, features, xstate size) and the trailing MAGIC2,
/// as `save_xstate_epilog` writes them; an fxsave-only image has sw_reserved cleared.
/// Returns the bytes and whether they are an XSAVE frame.
pub fn frame_fpstate(mut fp: Vec<u8>) -> (Vec<u8>, bool) {
    if fp.len() < FXSAVE_SIZE {
        return (default_fxsave(), false);
    }
    if xstate_sizes(&fp).is_none() && fp.len() >= FXSAVE_SIZE + XSAVE_HEADER_SIZE {
        let len = fp.len();
        let mut features = get_u64(&fp, SW_RESERVED);
        if features == 0 {
            features = get_u64(&fp, FXSAVE_SIZE);
        }
        fp[SW_RESERVED..FXSAVE_SIZE].fill(0);
        put_i32(&mut fp, SW_RESERVED, FP_XSTATE_MAGIC1 as i32);
        put_i32(&mut fp, SW_RESERVED + 4, (len + 4) as i32);
        put_u64(&mut fp, SW_RESERVED + 8, features);
        put_i32(&mut fp, SW_RESERVED + 16, len as i32);
    }
    match xstate_sizes(&fp) {
        Some((extended, xstate)) if fp.len() >= xstate => {
            fp.resize(extended, 0);
            fp[xstate..xstate + 4].copy_from_slice(&FP_XSTATE_MAGIC2.to_ne_bytes());
            (fp, true)
        }
        _ => {
            fp.truncate(FXSAVE_SIZE);
            fp[SW_RESERVED..].fill(0);
            (fp, false)
        }
    }
}

/// Undoes `frame_fpstate`'s sw_reserved for the platform: XCR0 back in its first word.
pub fn fpstate_for_restore(fp: &mut [u8]) {
    if xstate_sizes(fp).is_some() {
        let features = get_u64(fp, SW_RESERVED + 8);
        fp[SW_RESERVED..FXSAVE_SIZE].fill(0);
        put_u64(fp, SW_RESERVED, features);
    } else if fp.len() >= FXSAVE_SIZE {
        fp[SW_RESERVED..FXSAVE_SIZE].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zero_regs() -> Regs {
        crate::platform::zeroed_regs()
    }

    #[test]
    fn siginfo_fields_sit_at_uapi_offsets() {
        let s = SigInfo::from_sender(10, SI_TKILL, 7, 1000);
        assert_eq!(&s.bytes[0..4], &10i32.to_ne_bytes());
        assert_eq!(&s.bytes[8..12], &(-6i32).to_ne_bytes());
        assert_eq!(&s.bytes[16..20], &7i32.to_ne_bytes());
        assert_eq!(&s.bytes[20..24], &1000i32.to_ne_bytes());
        assert_eq!(SigInfo::fault(11, 1, 0xdead).addr(), 0xdead);
    }

    #[test]
    fn sigcontext_round_trips_general_registers() {
        let mut regs = zero_regs();
        regs.rip = 0x401000;
        regs.rsp = 0x7ff0;
        regs.r15 = 15;
        regs.rax = 42;
        regs.eflags = 0x246;
        let mut b = [0u8; SIGCONTEXT_SIZE];
        encode_sigcontext(&mut b, &regs, 0, 0, 0x1000);
        let mut back = zero_regs();
        let (flags, fp, _) = decode_sigcontext(&b, &mut back);
        assert_eq!(
            (back.rip, back.rsp, back.r15, back.rax),
            (0x401000, 0x7ff0, 15, 42)
        );
        assert_eq!((flags, fp), (0x246, 0x1000));
    }

    #[test]
    fn legacy_fpstate_keeps_512_bytes_and_xsave_gets_magic2() {
        let (fx, xsave) = frame_fpstate(default_fxsave());
        assert_eq!((fx.len(), xsave), (FXSAVE_SIZE, false));
        let mut x = vec![0u8; 832];
        x[SW_RESERVED..SW_RESERVED + 4].copy_from_slice(&FP_XSTATE_MAGIC1.to_ne_bytes());
        x[SW_RESERVED + 4..SW_RESERVED + 8].copy_from_slice(&836u32.to_ne_bytes());
        x[SW_RESERVED + 16..SW_RESERVED + 20].copy_from_slice(&832u32.to_ne_bytes());
        let (x, xsave) = frame_fpstate(x);
        assert_eq!((x.len(), xsave), (836, true));
        assert_eq!(get_u32(&x, 832), FP_XSTATE_MAGIC2);
    }

    #[test]
    fn ptrace_xstate_gets_signal_frame_sw_bytes_and_back() {
        let mut x = vec![0u8; 2688];
        x[SW_RESERVED..SW_RESERVED + 8].copy_from_slice(&0xe7u64.to_ne_bytes());
        let (mut f, xsave) = frame_fpstate(x);
        assert!(xsave);
        assert_eq!(xstate_sizes(&f), Some((2692, 2688)));
        assert_eq!(get_u64(&f, SW_RESERVED + 8), 0xe7);
        assert_eq!(get_u32(&f, 2688), FP_XSTATE_MAGIC2);
        f.truncate(2688);
        fpstate_for_restore(&mut f);
        assert_eq!(get_u64(&f, SW_RESERVED), 0xe7);
        assert_eq!(get_u32(&f, SW_RESERVED + 8), 0);
    }
}
