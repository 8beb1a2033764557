//! OCI lifecycle hooks (runtime-spec `config.md` "POSIX-platform Hooks", after runc's
//! `libcontainer/configs.Hook`): host programs run with the container's state JSON on stdin.
//!
//! Where they run in our sandbox: `prestart`, `createRuntime` and `createContainer` at the end
//! of `create` (the sandbox exists, its init is loaded and has not run); `poststart` after
//! `start`; `poststop` in `delete`. A failing prestart/createRuntime/createContainer hook fails
//! `create` (which then removes the container); failing poststart and poststop hooks are
//! logged as warnings and the lifecycle goes on, as the spec says. `startContainer` hooks run
//! inside the container ([`run_in_container`]): during `start`, before init is let go, each is
//! a process the sentry starts in the container (its path resolved in the container's root, as
//! root, in /), fed the state on stdin and waited for; a failing one fails `start`, whose
//! caller then kills the container (runc's `libcontainer/process_linux.go` runs them in the
//! container's init before it execs the user's program).

use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::container::control::{self, ExecRequest};

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

/// Runs the `startContainer` hooks of `hooks` inside the container whose control socket is in
/// `dir` (created, init not yet running), in order, each with `state` on stdin; stops at the
/// first failure and returns its message. A hook's path is its argv[0] in the sandbox (the
/// sentry execs argv[0]); its `args[1..]` follow.
pub fn run_in_container(dir: &Path, hooks: &Value, state: &Value) -> Result<(), String> {
    let point = Point::StartContainer;
    let Some(list) = hooks.get(point.key()).and_then(Value::as_array) else {
        return Ok(());
    };
    let input = state.to_string();
    for (i, hook) in list.iter().enumerate() {
        run_one_inside(dir, hook, &input).map_err(|e| format!("{} hook #{i}: {e}", point.key()))?;
    }
    Ok(())
}

fn run_one_inside(dir: &Path, hook: &Value, input: &str) -> Result<(), String> {
    let HookFields {
        path,
        args,
        env,
        timeout,
    } = hook_fields(hook)?;
    let argv = std::iter::once(path.to_string())
        .chain(args.into_iter().skip(1))
        .map(String::into_bytes)
        .collect();
    let request = ExecRequest {
        argv,
        envv: env.into_iter().map(String::into_bytes).collect(),
        cwd: b"/".to_vec(),
        uid: 0,
        gid: 0,
        groups: Vec::new(),
    };
    let pipe = || nix::unistd::pipe().map_err(|e| format!("pipe: {e}"));
    let (in_r, in_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let fds = [in_r.as_fd(), out_w.as_fd(), out_w.as_fd()];
    let conn = control::exec(dir, &request, &fds).map_err(|e| format!("{path}: {e}"))?;
    drop((in_r, out_w));
    let pid = conn.pid;
    // Writer and reader on threads of their own: neither may block the wait below.
    let input = input.as_bytes().to_vec();
    std::thread::spawn(move || {
        // A hook that does not read its state gets EPIPE here: not an error of the hook.
        let _ = std::fs::File::from(in_w).write_all(&input);
    });
    let output = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::fs::File::from(out_r).read_to_string(&mut text);
        text
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(conn.wait());
    });
    let limit = timeout.map(|t| Duration::from_secs(t.unsigned_abs()));
    let status = match limit {
        Some(limit) => rx.recv_timeout(limit).map_err(|_| ()),
        None => rx.recv().map_err(|_| ()),
    };
    let Ok(status) = status else {
        // The sandbox may be gone already: nothing more to report than the timeout.
        let _ = control::call(dir, &format!("signal {} pid {pid}", libc::SIGKILL));
        return Err(format!("{path}: timed out after {}s", timeout.unwrap_or(0)));
    };
    if status == 0 {
        return Ok(());
    }
    // The output is complete once every holder of the pipe has ended: bounded by the hook.
    let text = output.join().unwrap_or_default();
    Err(format!("{path}: exit status {status}: {}", text.trim()))
}

/// A hook's fields: path, args, env and timeout (seconds, positive when given).
struct HookFields<'a> {
    path: &'a str,
    args: Vec<String>,
    env: Vec<String>,
    timeout: Option<i64>,
}

fn hook_fields(hook: &Value) -> Result<HookFields<'_>, String> {
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
    let timeout = hook.get("timeout").and_then(Value::as_i64);
    if timeout.is_some_and(|t| t <= 0) {
        return Err("timeout must be positive".into());
    }
    Ok(HookFields {
        path,
        args: strings("args"),
        env: strings("env"),
        timeout,
    })
}

fn run_one(hook: &Value, input: &str) -> Result<(), String> {
    let HookFields {
        path,
        args,
        env,
        timeout,
    } = hook_fields(hook)?;
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

    #[test]
    fn start_container_hooks_need_no_sandbox_when_there_are_none_and_check_their_fields() {
        let nowhere = Path::new("/nonexistent/runsc-hooks");
        let state = json!({"id": "x"});
        assert_eq!(run_in_container(nowhere, &Value::Null, &state), Ok(()));
        let other = json!({"prestart": [{ "path": "/bin/true" }]});
        assert_eq!(run_in_container(nowhere, &other, &state), Ok(()));
        let bad = json!({"startContainer": [{ "path": "/bin/true", "timeout": 0 }]});
        let err = run_in_container(nowhere, &bad, &state).unwrap_err();
        assert!(err.starts_with("startContainer hook #0: timeout"), "{err}");
        let unreachable = json!({"startContainer": [{ "path": "/bin/true" }]});
        let err = run_in_container(nowhere, &unreachable, &state).unwrap_err();
        assert!(err.contains("/bin/true"), "{err}");
        let hook = json!({"path": "/p", "args": ["a", "b"], "env": ["K=V"], "timeout": 3});
        let f = hook_fields(&hook).unwrap();
        assert_eq!((f.path, f.timeout), ("/p", Some(3)));
        assert_eq!(
            (f.args, f.env),
            (vec!["a".into(), "b".into()], vec!["K=V".into()])
        );
    }
}
