//! OCI lifecycle hooks (runtime-spec `config.md` "POSIX-platform Hooks", after runc's
//! `libcontainer/configs.Hook`): host programs run with the container's state JSON on stdin.
//!
//! Where they run in our sandbox: `prestart`, `createRuntime` and `createContainer` at the end
//! of `create` (the sandbox exists, its init is loaded and has not run); `poststart` after
//! `start`; `poststop` in `delete`. A failing prestart/createRuntime/createContainer hook fails
//! `create` (which then removes the container); failing poststart and poststop hooks are
//! logged as warnings and the lifecycle goes on, as the spec says. `startContainer` hooks would
//! have to run inside the container, where no host program can: they are reported and skipped.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The hook points, by their config.json names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Point {
    pub fn key(self) -> &'static str {
        match self {
            Point::Prestart => "prestart",
            Point::CreateRuntime => "createRuntime",
            Point::CreateContainer => "createContainer",
            Point::StartContainer => "startContainer",
            Point::Poststart => "poststart",
            Point::Poststop => "poststop",
        }
    }
}

/// Runs the hooks of `point` listed in `hooks` (config.json's `hooks` object, or null) in
/// order, each fed `state` on stdin. Stops at the first failure and returns its message.
pub fn run(hooks: &Value, point: Point, state: &Value) -> Result<(), String> {
    let Some(list) = hooks.get(point.key()).and_then(Value::as_array) else {
        return Ok(());
    };
    let input = state.to_string();
    for (i, hook) in list.iter().enumerate() {
        run_one(hook, &input).map_err(|e| format!("{} hook #{i}: {e}", point.key()))?;
    }
    Ok(())
}

fn run_one(hook: &Value, input: &str) -> Result<(), String> {
    let path = hook.get("path").and_then(Value::as_str).ok_or("no path")?;
    let strings = |key: &str| -> Vec<String> {
        hook.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let args = strings("args");
    let env = strings("env");
    let timeout = hook.get("timeout").and_then(Value::as_i64);
    if timeout.is_some_and(|t| t <= 0) {
        return Err("timeout must be positive".into());
    }
    let mut cmd = Command::new(path);
    // args[0] is the program's argv[0], as execv(3) takes it.
    if let Some((arg0, rest)) = args.split_first() {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in &env {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{path}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state gets EPIPE here: not an error of the hook.
        let _ = stdin.write_all(input.as_bytes());
    }
    let mut stderr = child.stderr.take();
    let mut stdout = child.stdout.take();
    let output = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.read_to_string(&mut text);
        }
        let mut out = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = o.read_to_string(&mut out);
        }
        text + &out
    });
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs(t.unsigned_abs()));
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => return Err(format!("{path}: {e}")),
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{path}: timed out after {}s", timeout.unwrap_or(0)));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let text = output.join().unwrap_or_default();
    if status.success() {
        Ok(())
    } else {
        Err(format!("{path}: {status}: {}", text.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hooks_get_the_state_on_stdin_in_order_and_failures_stop() {
        let dir = std::env::temp_dir().join(format!("runsc-hooks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        // argv[0] (from /proc), then $0 (the first argument after the script) and the env.
        let script = format!(
            "cat >> {o}; echo \" $(tr '\\0' ' ' < /proc/$$/cmdline | cut -d' ' -f1) $0 $X\" >> {o}",
            o = out.display()
        );
        let hooks = json!({
            "prestart": [
                { "path": "/bin/sh", "args": ["first", "-c", script, "a1"], "env": ["X=1"] },
                { "path": "/bin/sh", "args": ["second", "-c", script, "a2"], "env": ["X=2"] },
            ],
            "poststop": [
                { "path": "/bin/sh", "args": ["sh", "-c", "echo bad >&2; exit 3"] },
                { "path": "/bin/sh", "args": ["sh", "-c", "touch never"] },
            ],
            "poststart": [ { "path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1 } ],
        });
        let state = json!({ "id": "c", "pid": 7 });
        run(&hooks, Point::Prestart, &state).unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, format!("{state} first a1 1\n{state} second a2 2\n"));

        let err = run(&hooks, Point::Poststop, &state).unwrap_err();
        assert!(err.starts_with("poststop hook #0: /bin/sh"), "{err}");
        assert!(err.contains("bad"), "{err}");
        let err = run(&hooks, Point::Poststart, &state).unwrap_err();
        assert!(err.contains("timed out"), "{err}");
        // No hooks at a point, or none at all: nothing to do.
        run(&hooks, Point::CreateRuntime, &state).unwrap();
        run(&Value::Null, Point::Prestart, &state).unwrap();
        let err = run(
            &json!({"prestart": [{"path": "/nonexistent"}]}),
            Point::Prestart,
            &state,
        )
        .unwrap_err();
        assert!(err.contains("/nonexistent"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
