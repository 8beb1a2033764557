//! The syscall table for the host architecture; one row per syscall (`table/x86_64.rs`), and
//! the compatibility page `docs/syscalls.md` rendered from those rows (a test keeps it current).

mod x86_64;

use sentry::kernel::{Support, SyscallTable};

pub use x86_64::table;

/// The compatibility page: one line per row, in number order.
pub fn render_compat_markdown(t: &SyscallTable) -> String {
    let mut out = String::from(
        "# System call compatibility (x86_64)\n\n\
         Generated from `syscalls/src/table/x86_64.rs` by \
         `UPDATE_DOCS=1 cargo test -p syscalls compat_page`; do not edit by hand.\n\
         A number not listed returns ENOSYS and is logged once per sandbox.\n\n\
         | nr | name | support | notes |\n|---:|---|---|---|\n",
    );
    for e in t.entries() {
        let (level, note) = match e.support {
            Support::Full(_) => ("full", String::new()),
            Support::Partial(_, n) => ("partial", n.to_string()),
            Support::Unsupported(errno, n) => (
                "unsupported",
                format!("{}: {n}", sentry::kernel::strace::errno_name(errno)),
            ),
        };
        out.push_str(&format!("| {} | {} | {level} | {note} |\n", e.nr, e.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/syscalls.md matches the table; `UPDATE_DOCS=1` rewrites it.
    #[test]
    fn compat_page_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/syscalls.md");
        let want = render_compat_markdown(&table());
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/syscalls.md is stale: run UPDATE_DOCS=1 cargo test -p syscalls compat_page"
        );
    }

    #[test]
    fn rendering_lists_every_row_once() {
        let t = table();
        let page = render_compat_markdown(&t);
        // Every row, plus the header line.
        assert_eq!(page.matches("\n| ").count(), t.entries().count() + 1);
        assert!(page.contains("| 0 | read | full |"));
    }
}
