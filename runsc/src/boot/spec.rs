//! The boot spec: what the front end tells `runsc boot` about the sandbox to start (the role of
//! gVisor's `runsc/boot` arguments plus the OCI `process`), sent as JSON over a pipe.
//!
//! Byte strings (argv, environment, cwd) are JSON strings when they are UTF-8 and arrays of byte
//! values otherwise, so that any Linux argument survives the trip.

use serde_json::{json, Map, Value};
use thiserror::Error;

/// Everything `runsc boot` needs besides its descriptors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootSpec {
    pub argv: Vec<Vec<u8>>,
    pub envv: Vec<Vec<u8>>,
    /// Absolute working directory in the sandbox.
    pub cwd: Vec<u8>,
    pub hostname: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// `None`: no strace; `Some(None)`: every syscall; `Some(Some(names))`: only those.
    pub strace: Option<Option<Vec<String>>>,
    pub debug: bool,
    /// The root is served read-only (EROFS) instead of as a writable overlay.
    pub root_readonly: bool,
    /// Bind mounts, in mount order; the n-th is served on the n-th `--mount-fd` channel.
    pub mounts: Vec<MountSpec>,
}

/// A bind mount as the sentry sees it: where, and whether writes are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// Absolute path in the sandbox.
    pub dest: Vec<u8>,
    pub readonly: bool,
}

/// A boot spec that does not parse.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("boot spec is not JSON: {0}")]
    Json(String),
    #[error("boot spec field {field:?}: {what}")]
    Field {
        field: &'static str,
        what: &'static str,
    },
}

fn bytes_to_value(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => Value::Array(b.iter().map(|&x| Value::from(x)).collect()),
    }
}

fn bad(field: &'static str, what: &'static str) -> SpecError {
    SpecError::Field { field, what }
}

fn value_to_bytes(v: &Value, field: &'static str) -> Result<Vec<u8>, SpecError> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or(bad(field, "byte array holds a non-byte"))
            })
            .collect(),
        _ => Err(bad(field, "not a string or byte array")),
    }
}

fn field<'a>(m: &'a Map<String, Value>, name: &'static str) -> Result<&'a Value, SpecError> {
    m.get(name).ok_or(bad(name, "missing"))
}

fn byte_list(m: &Map<String, Value>, name: &'static str) -> Result<Vec<Vec<u8>>, SpecError> {
    field(m, name)?
        .as_array()
        .ok_or(bad(name, "not an array"))?
        .iter()
        .map(|v| value_to_bytes(v, name))
        .collect()
}

fn u32_of(v: &Value, name: &'static str) -> Result<u32, SpecError> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(bad(name, "not a 32-bit id"))
}

impl BootSpec {
    pub fn to_json(&self) -> Vec<u8> {
        let strace = match &self.strace {
            None => Value::Null,
            Some(None) => json!({ "only": null }),
            Some(Some(names)) => json!({ "only": names }),
        };
        let v = json!({
            "argv": self.argv.iter().map(|a| bytes_to_value(a)).collect::<Vec<_>>(),
            "envv": self.envv.iter().map(|a| bytes_to_value(a)).collect::<Vec<_>>(),
            "cwd": bytes_to_value(&self.cwd),
            "hostname": self.hostname,
            "uid": self.uid,
            "gid": self.gid,
            "groups": self.groups,
            "strace": strace,
            "debug": self.debug,
            "rootReadonly": self.root_readonly,
            "mounts": self.mounts.iter().map(|m| json!({
                "dest": bytes_to_value(&m.dest),
                "readonly": m.readonly,
            })).collect::<Vec<_>>(),
        });
        v.to_string().into_bytes()
    }

    pub fn from_json(data: &[u8]) -> Result<BootSpec, SpecError> {
        let v: Value = serde_json::from_slice(data).map_err(|e| SpecError::Json(e.to_string()))?;
        let m = v
            .as_object()
            .ok_or(SpecError::Json("not an object".into()))?;
        let argv = byte_list(m, "argv")?;
        if argv.is_empty() {
            return Err(bad("argv", "empty"));
        }
        let cwd = value_to_bytes(field(m, "cwd")?, "cwd")?;
        if cwd.first() != Some(&b'/') {
            return Err(bad("cwd", "not absolute"));
        }
        let strace = match field(m, "strace")? {
            Value::Null => None,
            Value::Object(s) => match s.get("only") {
                None | Some(Value::Null) => Some(None),
                Some(Value::Array(a)) => Some(Some(
                    a.iter()
                        .map(|n| {
                            n.as_str()
                                .map(str::to_string)
                                .ok_or(bad("strace", "non-string name"))
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                )),
                Some(_) => return Err(bad("strace", "only is not an array")),
            },
            _ => return Err(bad("strace", "not an object or null")),
        };
        Ok(BootSpec {
            argv,
            envv: byte_list(m, "envv")?,
            cwd,
            hostname: field(m, "hostname")?
                .as_str()
                .ok_or(bad("hostname", "not a string"))?
                .to_string(),
            uid: u32_of(field(m, "uid")?, "uid")?,
            gid: u32_of(field(m, "gid")?, "gid")?,
            groups: field(m, "groups")?
                .as_array()
                .ok_or(bad("groups", "not an array"))?
                .iter()
                .map(|g| u32_of(g, "groups"))
                .collect::<Result<_, _>>()?,
            strace,
            debug: field(m, "debug")?
                .as_bool()
                .ok_or(bad("debug", "not a bool"))?,
            root_readonly: match m.get("rootReadonly") {
                None => false,
                Some(v) => v.as_bool().ok_or(bad("rootReadonly", "not a bool"))?,
            },
            mounts: match m.get("mounts") {
                None => Vec::new(),
                Some(v) => v
                    .as_array()
                    .ok_or(bad("mounts", "not an array"))?
                    .iter()
                    .map(mount_of)
                    .collect::<Result<_, _>>()?,
            },
        })
    }
}

fn mount_of(v: &Value) -> Result<MountSpec, SpecError> {
    let m = v.as_object().ok_or(bad("mounts", "entry not an object"))?;
    let dest = value_to_bytes(
        m.get("dest").ok_or(bad("mounts", "dest missing"))?,
        "mounts",
    )?;
    if dest.first() != Some(&b'/') {
        return Err(bad("mounts", "dest not absolute"));
    }
    let readonly = m
        .get("readonly")
        .and_then(Value::as_bool)
        .ok_or(bad("mounts", "readonly missing or not a bool"))?;
    Ok(MountSpec { dest, readonly })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BootSpec {
        BootSpec {
            argv: vec![b"/bin/ls".to_vec(), b"-la".to_vec(), vec![0xff, b'x']],
            envv: vec![b"PATH=/bin".to_vec()],
            cwd: b"/tmp".to_vec(),
            hostname: "vm".into(),
            uid: 1000,
            gid: 100,
            groups: vec![100, 27],
            strace: Some(Some(vec!["read".into()])),
            debug: true,
            root_readonly: true,
            mounts: vec![MountSpec {
                dest: b"/data".to_vec(),
                readonly: false,
            }],
        }
    }

    #[test]
    fn round_trip_including_non_utf8_bytes() {
        let s = sample();
        assert_eq!(BootSpec::from_json(&s.to_json()).unwrap(), s);
        let mut s2 = s.clone();
        s2.strace = Some(None);
        assert_eq!(BootSpec::from_json(&s2.to_json()).unwrap(), s2);
        s2.strace = None;
        assert_eq!(BootSpec::from_json(&s2.to_json()).unwrap(), s2);
    }

    #[test]
    fn utf8_strings_stay_readable() {
        let text = String::from_utf8(sample().to_json()).unwrap();
        assert!(text.contains("\"/bin/ls\""), "{text}");
        assert!(text.contains("[255,120]"), "{text}");
    }

    #[test]
    fn rejects_bad_specs_without_panicking() {
        assert!(matches!(
            BootSpec::from_json(b"nope"),
            Err(SpecError::Json(_))
        ));
        let mut s = sample();
        s.argv.clear();
        assert_eq!(BootSpec::from_json(&s.to_json()), Err(bad("argv", "empty")));
        let mut s = sample();
        s.cwd = b"rel".to_vec();
        assert_eq!(
            BootSpec::from_json(&s.to_json()),
            Err(bad("cwd", "not absolute"))
        );
        let j = br#"{"argv":["/x"],"envv":[],"cwd":"/","hostname":"h","uid":-1,"gid":0,"groups":[],"strace":null,"debug":false}"#;
        assert_eq!(BootSpec::from_json(j), Err(bad("uid", "not a 32-bit id")));
        let j = br#"{"argv":[[300]],"envv":[],"cwd":"/"}"#;
        assert!(BootSpec::from_json(j).is_err());
    }
}
