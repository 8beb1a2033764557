//! `#!` interpreter scripts (after Linux `fs/binfmt_script.c`): the first line names an
//! interpreter and at most one argument; argv becomes `interp [arg] path argv[1..]`.

use crate::{Errno, SysResult};

/// How much of the file Linux looks at (`BINPRM_BUF_SIZE`).
pub const BINPRM_BUF_SIZE: usize = 256;

/// A parsed `#!` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shebang {
    pub interp: Vec<u8>,
    /// Everything after the interpreter, leading and trailing blanks removed (one argument,
    /// inner spaces kept).
    pub arg: Option<Vec<u8>>,
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Parses the start of a file. `None` if it is not a script; ENOEXEC if the `#!` line names no
/// interpreter, or the interpreter name does not fit in the first `BINPRM_BUF_SIZE` bytes.
pub fn parse_shebang(head: &[u8]) -> SysResult<Option<Shebang>> {
    let Some(rest) = head.strip_prefix(b"#!") else {
        return Ok(None);
    };
    let head_len = head.len().min(BINPRM_BUF_SIZE);
    let rest = &rest[..head_len - 2];
    let newline = rest.iter().position(|&b| b == b'\n');
    let mut line = &rest[..newline.unwrap_or(rest.len())];
    // The kernel treats the line as a C string.
    if let Some(nul) = line.iter().position(|&b| b == 0) {
        line = &line[..nul];
    }
    let start = line
        .iter()
        .position(|&b| !is_blank(b))
        .ok_or(Errno::ENOEXEC)?;
    let line = &line[start..];
    let end = line
        .iter()
        .rposition(|&b| !is_blank(b))
        .map_or(0, |i| i + 1);
    let line = &line[..end];
    let name_end = line.iter().position(|&b| is_blank(b)).unwrap_or(line.len());
    if newline.is_none() && name_end == line.len() && head.len() >= BINPRM_BUF_SIZE {
        // The interpreter name may have been cut off by the buffer's end.
        return Err(Errno::ENOEXEC);
    }
    let interp = line[..name_end].to_vec();
    let arg = line[name_end..]
        .iter()
        .position(|&b| !is_blank(b))
        .map(|i| line[name_end + i..].to_vec());
    Ok(Some(Shebang { interp, arg }))
}

/// argv for the interpreter: `interp [arg] path argv[1..]` (argv[0] is dropped, `path` is the
/// name the script was executed by).
pub fn rewrite_argv(sb: &Shebang, path: &[u8], argv: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = vec![sb.interp.clone()];
    out.extend(sb.arg.clone());
    out.push(path.to_vec());
    out.extend(argv.into_iter().skip(1));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sb(i: &[u8], a: Option<&[u8]>) -> Option<Shebang> {
        Some(Shebang {
            interp: i.to_vec(),
            arg: a.map(|a| a.to_vec()),
        })
    }

    #[test]
    fn parses_interpreter_and_one_argument() {
        assert_eq!(
            parse_shebang(b"#!/bin/sh\necho hi\n"),
            Ok(sb(b"/bin/sh", None))
        );
        assert_eq!(
            parse_shebang(b"#! /usr/bin/env  python3 -u \t\nx"),
            Ok(sb(b"/usr/bin/env", Some(b"python3 -u")))
        );
        assert_eq!(
            parse_shebang(b"#!/bin/sh -e"),
            Ok(sb(b"/bin/sh", Some(b"-e")))
        );
        assert_eq!(parse_shebang(b"\x7fELF"), Ok(None));
        assert_eq!(parse_shebang(b"#!   \nfoo"), Err(Errno::ENOEXEC));
        assert_eq!(parse_shebang(b"#!"), Err(Errno::ENOEXEC));
    }

    #[test]
    fn truncated_interpreter_name_is_enoexec_but_long_argument_is_cut() {
        let mut long_name = b"#!/".to_vec();
        long_name.resize(300, b'a');
        assert_eq!(parse_shebang(&long_name), Err(Errno::ENOEXEC));
        let mut long_arg = b"#!/bin/sh ".to_vec();
        long_arg.resize(300, b'x');
        let got = parse_shebang(&long_arg).unwrap().unwrap();
        assert_eq!(got.interp, b"/bin/sh".to_vec());
        assert_eq!(got.arg.unwrap().len(), BINPRM_BUF_SIZE - 10);
    }

    #[test]
    fn argv_is_rewritten_like_linux() {
        let s = Shebang {
            interp: b"/bin/sh".to_vec(),
            arg: Some(b"-e".to_vec()),
        };
        let argv = vec![b"script".to_vec(), b"a1".to_vec(), b"a2".to_vec()];
        assert_eq!(
            rewrite_argv(&s, b"./script", argv),
            vec![
                b"/bin/sh".to_vec(),
                b"-e".to_vec(),
                b"./script".to_vec(),
                b"a1".to_vec(),
                b"a2".to_vec()
            ]
        );
        let s = Shebang {
            interp: b"/bin/sh".to_vec(),
            arg: None,
        };
        assert_eq!(
            rewrite_argv(&s, b"/x", vec![]),
            vec![b"/bin/sh".to_vec(), b"/x".to_vec()]
        );
    }
}
