//! The line discipline of a pseudo-terminal (after Linux `drivers/tty/n_tty.c` and gVisor's
//! `pkg/sentry/fsimpl/devpts/line_discipline.go`): input from the master goes through input
//! translation (ICRNL, INLCR, IGNCR), signal characters (ISIG), canonical line editing
//! (ICANON: VERASE, VKILL, VWERASE, VEOF, VEOL) and echo (ECHO, ECHOE, ECHOK, ECHOKE, ECHONL,
//! ECHOCTL) into the queue the replica reads; output of the replica goes through output
//! processing (OPOST, ONLCR, OCRNL, ONLRET, ONOCR) into the queue the master reads. The
//! termios is the kernel's `struct termios` (include/uapi/asm-generic/termbits.h).
//!
//! Pure state: blocking, signals and job control are the caller's (`devpts`).
//!
//! Not modelled: IXON flow control (VSTART/VSTOP are consumed without stopping output),
//! VREPRINT, VLNEXT, VDISCARD, ECHOPRT, tab expansion, parity and break handling.

use std::collections::VecDeque;

/// `NCCS` of the kernel's `struct termios`.
pub const NCCS: usize = 19;
/// `sizeof(struct termios)`.
pub const TERMIOS_SIZE: usize = 36;
/// A canonical line holds at most this many bytes (`N_TTY_BUF_SIZE - 1`); more are dropped.
pub const MAX_CANON: usize = 4095;
/// Bytes the replica's input queue takes before master writes wait.
pub const INPUT_CAP: usize = 65536;
/// Bytes the master's read queue takes before replica writes wait.
pub const OUTPUT_CAP: usize = 65536;

/// `c_cc` indices.
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSTART: usize = 8;
pub const VSTOP: usize = 9;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VWERASE: usize = 14;
pub const VEOL2: usize = 16;

/// The kernel's `struct termios` (include/uapi/asm-generic/termbits.h), 36 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
}

impl Termios {
    /// A new pty replica's settings (Linux `tty_std_termios` as `pty.c` sets it up).
    pub fn default_pty() -> Termios {
        let mut cc = [0u8; NCCS];
        cc[..17].copy_from_slice(&[3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0]);
        Termios {
            iflag: libc::ICRNL | libc::IXON,
            oflag: libc::OPOST | libc::ONLCR,
            cflag: libc::B38400 | libc::CS8 | libc::CREAD,
            lflag: libc::ISIG
                | libc::ICANON
                | libc::ECHO
                | libc::ECHOE
                | libc::ECHOK
                | libc::ECHOCTL
                | libc::ECHOKE
                | libc::IEXTEN,
            line: 0,
            cc,
        }
    }

    pub fn to_bytes(&self) -> [u8; TERMIOS_SIZE] {
        let mut b = [0u8; TERMIOS_SIZE];
        b[0..4].copy_from_slice(&self.iflag.to_ne_bytes());
        b[4..8].copy_from_slice(&self.oflag.to_ne_bytes());
        b[8..12].copy_from_slice(&self.cflag.to_ne_bytes());
        b[12..16].copy_from_slice(&self.lflag.to_ne_bytes());
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    pub fn from_bytes(b: &[u8; TERMIOS_SIZE]) -> Termios {
        let word = |i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&b[17..]);
        Termios {
            iflag: word(0),
            oflag: word(4),
            cflag: word(8),
            lflag: word(12),
            line: b[16],
            cc,
        }
    }

    fn l(&self, f: u32) -> bool {
        self.lflag & f != 0
    }
    fn i(&self, f: u32) -> bool {
        self.iflag & f != 0
    }
    fn o(&self, f: u32) -> bool {
        self.oflag & f != 0
    }
    pub fn canonical(&self) -> bool {
        self.l(libc::ICANON)
    }
    /// Whether `c` is the enabled special character `idx` (0 = `_POSIX_VDISABLE`).
    fn is(&self, c: u8, idx: usize) -> bool {
        c != 0 && self.cc[idx] == c
    }
}

/// The line discipline's queues.
#[derive(Debug)]
pub struct LineDiscipline {
    pub termios: Termios,
    /// The canonical line being edited.
    line: Vec<u8>,
    /// Bytes the replica may read.
    ready: VecDeque<u8>,
    /// In canonical mode, the lengths of the complete lines in `ready` (0: an end of file).
    lines: VecDeque<usize>,
    /// Bytes for the master to read (processed output and echoes).
    output: VecDeque<u8>,
    /// Output column (for ONOCR).
    column: usize,
}

impl Default for LineDiscipline {
    fn default() -> Self {
        LineDiscipline::new()
    }
}

fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

impl LineDiscipline {
    pub fn new() -> LineDiscipline {
        LineDiscipline {
            termios: Termios::default_pty(),
            line: Vec::new(),
            ready: VecDeque::new(),
            lines: VecDeque::new(),
            output: VecDeque::new(),
            column: 0,
        }
    }

    /// TCSETS: on leaving canonical mode the edited line becomes readable; on entering it, what
    /// was readable becomes one line.
    pub fn set_termios(&mut self, t: Termios) {
        let was = self.termios.canonical();
        self.termios = t;
        match (was, t.canonical()) {
            (true, false) => {
                let line = std::mem::take(&mut self.line);
                self.ready.extend(line);
                self.lines.clear();
            }
            (false, true) => {
                self.lines.clear();
                if !self.ready.is_empty() {
                    self.lines.push_back(self.ready.len());
                }
            }
            _ => {}
        }
    }

    /// Whether a read would return now (canonical: a complete line or an end of file).
    pub fn input_ready(&self) -> bool {
        if self.termios.canonical() {
            !self.lines.is_empty()
        } else {
            !self.ready.is_empty()
        }
    }

    /// Bytes readable now (FIONREAD): complete lines in canonical mode.
    pub fn input_len(&self) -> usize {
        if self.termios.canonical() {
            self.lines.iter().sum()
        } else {
            self.ready.len()
        }
    }

    /// Whether the master may write more input.
    pub fn input_room(&self) -> bool {
        self.ready.len() + self.line.len() < INPUT_CAP
    }

    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    pub fn output_room(&self) -> bool {
        self.output.len() < OUTPUT_CAP
    }

    /// TCIFLUSH on the replica (and what ISIG does without NOFLSH).
    pub fn flush_input(&mut self) {
        self.line.clear();
        self.ready.clear();
        self.lines.clear();
    }

    /// TCOFLUSH on the replica.
    pub fn flush_output(&mut self) {
        self.output.clear();
    }

    /// A replica read: one line (possibly partly, possibly empty for an end of file) in
    /// canonical mode; what is there in raw mode.
    pub fn read(&mut self, buf: &mut [u8]) -> usize {
        if self.termios.canonical() {
            let Some(len) = self.lines.pop_front() else {
                return 0;
            };
            let n = len.min(buf.len());
            for (dst, src) in buf.iter_mut().zip(self.ready.drain(..n)) {
                *dst = src;
            }
            if n < len {
                self.lines.push_front(len - n);
            }
            n
        } else {
            let n = self.ready.len().min(buf.len());
            for (dst, src) in buf.iter_mut().zip(self.ready.drain(..n)) {
                *dst = src;
            }
            n
        }
    }

    /// A master read.
    pub fn read_output(&mut self, buf: &mut [u8]) -> usize {
        let n = self.output.len().min(buf.len());
        for (dst, src) in buf.iter_mut().zip(self.output.drain(..n)) {
            *dst = src;
        }
        n
    }

    /// One byte of output through OPOST processing (`do_output_char`).
    fn put_output(&mut self, c: u8) {
        let t = self.termios;
        if !t.o(libc::OPOST) {
            self.output.push_back(c);
            return;
        }
        match c {
            b'\n' => {
                if t.o(libc::ONLRET) {
                    self.column = 0;
                }
                if t.o(libc::ONLCR) {
                    self.column = 0;
                    self.output.push_back(b'\r');
                }
                self.output.push_back(b'\n');
            }
            b'\r' => {
                if t.o(libc::ONOCR) && self.column == 0 {
                    return;
                }
                if t.o(libc::OCRNL) {
                    if t.o(libc::ONLRET) {
                        self.column = 0;
                    }
                    self.output.push_back(b'\n');
                } else {
                    self.column = 0;
                    self.output.push_back(b'\r');
                }
            }
            b'\x08' => {
                self.column = self.column.saturating_sub(1);
                self.output.push_back(c);
            }
            _ => {
                if !is_cntrl(c) {
                    self.column += 1;
                }
                self.output.push_back(c);
            }
        }
    }

    /// A replica write: as much of `buf` as the output queue takes.
    pub fn write(&mut self, buf: &[u8]) -> usize {
        let mut n = 0;
        for &c in buf {
            if !self.output_room() {
                break;
            }
            self.put_output(c);
            n += 1;
        }
        n
    }

    /// `echo_char`: control characters as `^X` with ECHOCTL (tab excepted).
    fn echo(&mut self, c: u8) {
        if self.termios.l(libc::ECHOCTL) && is_cntrl(c) && c != b'\t' {
            self.put_output(b'^');
            self.put_output(c ^ 0o100);
        } else {
            self.put_output(c);
        }
    }

    fn echo_erase_one(&mut self, c: u8) {
        let ctl = self.termios.l(libc::ECHOCTL);
        let times = if is_cntrl(c) {
            if ctl {
                2
            } else {
                0
            }
        } else {
            1
        };
        for _ in 0..times {
            for b in *b"\x08 \x08" {
                self.put_output(b);
            }
        }
    }

    /// `eraser`: VERASE, VWERASE or VKILL on the edited line.
    fn erase(&mut self, c: u8) {
        let t = self.termios;
        if self.line.is_empty() {
            return;
        }
        let kill = t.is(c, VKILL);
        let werase = !kill && t.is(c, VWERASE);
        if kill {
            if !t.l(libc::ECHO) {
                self.line.clear();
                return;
            }
            if !t.l(libc::ECHOK) || !t.l(libc::ECHOKE) || !t.l(libc::ECHOE) {
                self.line.clear();
                self.echo(c);
                if t.l(libc::ECHOK) {
                    self.put_output(b'\n');
                }
                return;
            }
        }
        let mut seen_alnum = false;
        while let Some(&last) = self.line.last() {
            if werase {
                if last.is_ascii_alphanumeric() || last == b'_' {
                    seen_alnum = true;
                } else if seen_alnum {
                    break;
                }
            }
            self.line.pop();
            if t.l(libc::ECHO) {
                if !kill && !werase && !t.l(libc::ECHOE) {
                    self.echo(c);
                } else {
                    self.echo_erase_one(last);
                }
            }
            if !kill && !werase {
                break;
            }
        }
    }

    /// Ends the edited line (newline, VEOL, or VEOF when `keep` is None).
    fn end_line(&mut self, keep: Option<u8>) {
        let mut line = std::mem::take(&mut self.line);
        if let Some(c) = keep {
            line.push(c);
        }
        self.lines.push_back(line.len());
        self.ready.extend(line);
    }

    /// Master input: processes `buf` while there is room; returns how many bytes were taken and
    /// the signals (SIGINT, SIGQUIT, SIGTSTP) for the foreground process group.
    pub fn receive(&mut self, buf: &[u8]) -> (usize, Vec<i32>) {
        let mut sigs = Vec::new();
        let mut n = 0;
        for &raw in buf {
            if !self.input_room() {
                break;
            }
            n += 1;
            let t = self.termios;
            let mut c = raw;
            if t.i(libc::ISTRIP) {
                c &= 0x7f;
            }
            if c == b'\r' {
                if t.i(libc::IGNCR) {
                    continue;
                }
                if t.i(libc::ICRNL) {
                    c = b'\n';
                }
            } else if c == b'\n' && t.i(libc::INLCR) {
                c = b'\r';
            }
            if t.l(libc::ISIG) {
                let sig = if t.is(c, VINTR) {
                    Some(libc::SIGINT)
                } else if t.is(c, VQUIT) {
                    Some(libc::SIGQUIT)
                } else if t.is(c, VSUSP) {
                    Some(libc::SIGTSTP)
                } else {
                    None
                };
                if let Some(sig) = sig {
                    sigs.push(sig);
                    if !t.l(libc::NOFLSH) {
                        self.flush_input();
                        self.flush_output();
                    }
                    if t.l(libc::ECHO) {
                        self.echo(c);
                    }
                    continue;
                }
            }
            if t.i(libc::IXON) && (t.is(c, VSTART) || t.is(c, VSTOP)) {
                continue;
            }
            if !t.canonical() {
                self.ready.push_back(c);
                if t.l(libc::ECHO) {
                    self.echo(c);
                }
                continue;
            }
            if t.is(c, VERASE) || t.is(c, VKILL) || (t.l(libc::IEXTEN) && t.is(c, VWERASE)) {
                self.erase(c);
                continue;
            }
            if c == b'\n' {
                if t.l(libc::ECHO) || t.l(libc::ECHONL) {
                    self.put_output(b'\n');
                }
                self.end_line(Some(c));
                continue;
            }
            if t.is(c, VEOF) {
                self.end_line(None);
                continue;
            }
            if t.is(c, VEOL) || (t.l(libc::IEXTEN) && t.is(c, VEOL2)) {
                if t.l(libc::ECHO) {
                    self.echo(c);
                }
                self.end_line(Some(c));
                continue;
            }
            if self.line.len() >= MAX_CANON {
                continue;
            }
            if t.l(libc::ECHO) {
                self.echo(c);
            }
            self.line.push(c);
        }
        (n, sigs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(ld: &mut LineDiscipline) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        let n = ld.read_output(&mut b);
        b.truncate(n);
        b
    }
    fn inp(ld: &mut LineDiscipline) -> Vec<u8> {
        let mut b = vec![0u8; 1024];
        let n = ld.read(&mut b);
        b.truncate(n);
        b
    }

    #[test]
    fn termios_round_trips_through_bytes() {
        let t = Termios::default_pty();
        assert_eq!(Termios::from_bytes(&t.to_bytes()), t);
        assert_eq!(t.to_bytes()[17 + VERASE], 127);
    }

    #[test]
    fn canonical_line_is_echoed_with_crlf_and_delivered_on_newline() {
        let mut ld = LineDiscipline::new();
        assert_eq!(ld.receive(b"hel").0, 3);
        assert!(!ld.input_ready());
        ld.receive(b"lo\r");
        assert_eq!(out(&mut ld), b"hello\r\n");
        assert_eq!(ld.input_len(), 6);
        assert_eq!(inp(&mut ld), b"hello\n");
    }

    #[test]
    fn erase_kill_and_eof_edit_the_line() {
        let mut ld = LineDiscipline::new();
        ld.receive(b"abX\x7fc\n");
        assert_eq!(inp(&mut ld), b"abc\n");
        assert_eq!(out(&mut ld), b"abX\x08 \x08c\r\n");
        ld.receive(b"junk\x15ok\x04");
        assert_eq!(inp(&mut ld), b"ok");
        ld.receive(b"\x04");
        assert!(ld.input_ready());
        assert_eq!(inp(&mut ld), b"");
        assert!(!ld.input_ready());
        ld.receive(b"one two\x17\n");
        assert_eq!(inp(&mut ld), b"one \n");
    }

    #[test]
    fn signal_characters_flush_and_echo_as_caret() {
        let mut ld = LineDiscipline::new();
        ld.receive(b"partial");
        let (_, sigs) = ld.receive(b"\x03");
        assert_eq!(sigs, vec![libc::SIGINT]);
        assert_eq!(out(&mut ld), b"^C");
        assert_eq!(
            ld.receive(b"\x1c\x1a").1,
            vec![libc::SIGQUIT, libc::SIGTSTP]
        );
        ld.receive(b"x\n");
        assert_eq!(inp(&mut ld), b"x\n");
    }

    #[test]
    fn raw_mode_passes_bytes_unchanged() {
        let mut ld = LineDiscipline::new();
        ld.receive(b"pending");
        let mut t = ld.termios;
        t.iflag = 0;
        t.oflag = 0;
        t.lflag = 0;
        ld.set_termios(t);
        assert_eq!(inp(&mut ld), b"pending");
        out(&mut ld);
        ld.receive(b"\x03\r\n\x7f");
        assert_eq!(inp(&mut ld), b"\x03\r\n\x7f");
        assert_eq!(out(&mut ld), b"");
        ld.write(b"a\nb");
        assert_eq!(out(&mut ld), b"a\nb");
    }

    #[test]
    fn output_processing_maps_newlines_and_partial_line_reads_continue() {
        let mut ld = LineDiscipline::new();
        assert_eq!(ld.write(b"x\ny"), 3);
        assert_eq!(out(&mut ld), b"x\r\ny");
        ld.receive(b"abcdef\n");
        let mut b = [0u8; 4];
        assert_eq!(ld.read(&mut b), 4);
        assert_eq!(inp(&mut ld), b"ef\n");
    }
}
