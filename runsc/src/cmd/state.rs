//! The read-only commands (after runc's `state.go`, `list.go` and `ps.go`): `runsc state`
//! prints a container's OCI state, `runsc list` every container, `runsc ps` the host processes
//! of one (the sentry, which is the pid-file pid, and everything under it).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::cli::{GlobalOpts, ListArgs, PsArgs};
use crate::cmd::create::EXIT_FAILURE;
use crate::container::{Container, Status};
use crate::log;

/// `runsc state ID`.
pub fn state(global: &GlobalOpts, id: &str) -> i32 {
    match Container::load(&global.root, id) {
        Ok(c) => {
            crate::cmd::out(&format!("{}\n", pretty(&c.oci_state())));
            0
        }
        Err(e) => {
            log::error(&e.to_string());
            EXIT_FAILURE
        }
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("invariant: a JSON value always serializes")
}

/// `runsc list [--format table|json] [-q]`.
pub fn list(global: &GlobalOpts, args: &ListArgs) -> i32 {
    let result = Container::list(&global.root).map_err(|e| e.to_string());
    let ids = match result {
        Ok(ids) => ids,
        Err(msg) => {
            log::error(&msg);
            return EXIT_FAILURE;
        }
    };
    let containers: Vec<Container> = ids
        .iter()
        .filter_map(|id| Container::load(&global.root, id).ok())
        .collect();
    if args.quiet {
        for c in &containers {
            crate::cmd::out(&format!("{}\n", c.id));
        }
        return 0;
    }
    match args.format.as_str() {
        "json" => {
            let all: Vec<Value> = containers.iter().map(Container::oci_state).collect();
            crate::cmd::out(&format!("{}\n", Value::Array(all)));
        }
        "table" => {
            let rows: Vec<[String; 5]> = containers
                .iter()
                .map(|c| {
                    let st = c.oci_state();
                    [
                        c.id.clone(),
                        st["pid"].to_string(),
                        st["status"].as_str().unwrap_or("").to_string(),
                        c.bundle.display().to_string(),
                        c.created.clone(),
                    ]
                })
                .collect();
            crate::cmd::out(&table(&["ID", "PID", "STATUS", "BUNDLE", "CREATED"], &rows));
        }
        other => {
            log::error(&format!("invalid --format {other:?} (table or json)"));
            return EXIT_FAILURE;
        }
    }
    0
}

/// Columns padded to their widest cell, separated by three spaces (runc's tabwriter look).
fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == N {
                s.push_str(cell);
            } else {
                s.push_str(&format!("{cell:<w$}   "));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// `runsc ps [--format table|json] ID`.
pub fn ps(global: &GlobalOpts, args: &PsArgs) -> i32 {
    let c = match Container::load(&global.root, &args.id) {
        Ok(c) => c,
        Err(e) => {
            log::error(&e.to_string());
            return EXIT_FAILURE;
        }
    };
    let pids = if c.status() == Status::Stopped {
        Vec::new()
    } else {
        host_tree(c.pid)
    };
    match args.format.as_str() {
        "json" => {
            crate::cmd::out(&format!("{}\n", serde_json::json!(pids)));
        }
        "table" => {
            let rows: Vec<[String; 2]> = pids
                .iter()
                .map(|p| {
                    let comm =
                        std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                    [p.to_string(), comm.trim_end().to_string()]
                })
                .collect();
            crate::cmd::out(&table(&["PID", "CMD"], &rows));
        }
        other => {
            log::error(&format!("invalid --format {other:?} (table or json)"));
            return EXIT_FAILURE;
        }
    }
    0
}

/// Host pid `root` and all its descendants, ascending (from /proc/*/stat's ppid field).
pub fn host_tree(root: i32) -> Vec<i32> {
    let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            if let Some(ppid) = ppid_of(pid) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids);
        }
        i += 1;
    }
    out.sort_unstable();
    out
}

fn ppid_of(pid: i32) -> Option<i32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    rest.split(' ').nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let t = table(
            &["ID", "PID"],
            &[["a".into(), "1".into()], ["longer".into(), "22".into()]],
        );
        assert_eq!(t, "ID       PID\na        1\nlonger   22\n");
    }

    #[test]
    fn host_tree_holds_our_children() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let tree = host_tree(me);
        let _ = child.kill();
        let _ = child.wait();
        assert!(tree.contains(&me));
        assert!(tree.contains(&(child.id() as i32)), "{tree:?}");
    }
}
