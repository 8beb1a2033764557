//! runsc's own user-facing messages: one line on stderr per failure, mirrored to the `--log`
//! file as runc/logrus do (`--log-format json` is what containerd parses: it shows the `msg` of
//! the last `"level":"error"` line to its user; see OCI-CONTRACT.md).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::LogFormat;

struct LogFile {
    file: Mutex<File>,
    format: LogFormat,
}

static LOG_FILE: OnceLock<LogFile> = OnceLock::new();

/// Opens the `--log` file (append, created if missing). Called once, early.
pub fn init(path: &Path, format: LogFormat) -> std::io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let _ = LOG_FILE.set(LogFile {
        file: Mutex::new(file),
        format,
    });
    Ok(())
}

/// Reports a failure: `runsc: MSG` on stderr and an error line in the log file.
pub fn error(msg: &str) {
    eprintln!("runsc: {msg}");
    to_file("error", msg);
}

/// Reports a warning the same way.
pub fn warning(msg: &str) {
    eprintln!("runsc: warning: {msg}");
    to_file("warning", msg);
}

/// A warning only for the log file: for the OCI commands, whose stderr is often the
/// container's own.
pub fn warning_to_log(msg: &str) {
    to_file("warning", msg);
}

/// Writes a line only to the log file (debug chatter that must not clutter stderr).
pub fn info(msg: &str) {
    to_file("info", msg);
}

fn to_file(level: &str, msg: &str) {
    let Some(log) = LOG_FILE.get() else { return };
    let line = format_line(log.format, level, msg, SystemTime::now());
    let mut f = log.file.lock().unwrap_or_else(|p| p.into_inner());
    // Best effort: a full disk must not turn a clear error into a different one.
    let _ = f.write_all(line.as_bytes());
}

/// One log line, newline-terminated.
fn format_line(format: LogFormat, level: &str, msg: &str, now: SystemTime) -> String {
    let time = rfc3339(now);
    match format {
        LogFormat::Json => {
            let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
            format!("{v}\n")
        }
        LogFormat::Text => {
            let quoted = serde_json::Value::String(msg.to_string());
            format!("time=\"{time}\" level={level} msg={quoted}\n")
        }
    }
}

/// `2024-01-02T03:04:05.678Z` (UTC).
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }

    #[test]
    fn json_line_is_what_containerd_parses() {
        let t = UNIX_EPOCH + Duration::from_millis(1_704_164_645_678);
        let line = format_line(LogFormat::Json, "error", "bad \"thing\"", t);
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "bad \"thing\"");
        assert_eq!(v["time"], "2024-01-02T03:04:05.678Z");
    }

    #[test]
    fn text_line_quotes_the_message() {
        let line = format_line(LogFormat::Text, "error", "a \"b\"", UNIX_EPOCH);
        assert_eq!(
            line,
            "time=\"1970-01-01T00:00:00.000Z\" level=error msg=\"a \\\"b\\\"\"\n"
        );
    }
}
