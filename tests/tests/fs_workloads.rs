//! Real tools on real files, natively and sandboxed, with identical output: `tar` create, list and
//! extract of a tree with symlinks, hard links, a FIFO and special permission bits
//! and foreign owners; `cp -a`,
//! `find`, `du --apparent-size`, `ln` and `mv` across directories (also of a directory that lives
//! in the overlay's lower layer, which Linux overlayfs answers with EXDEV and mv copies instead);
//! python's `sqlite3` in WAL mode with a concurrent reader connection and a reader process.
//! Every workload runs on tmpfs (/tmp) and on the overlay root (/var/tmp in the sandbox; natively
//! a host scratch directory under /var/tmp that is removed afterwards).
//!
//! The sandboxed run goes first: its writes never reach the host, so the native run that follows
//! starts from the same state (what matters for fixtures in the lower layer).

use std::path::{Path, PathBuf};
use tests::{unique_tmp_path, Case, Outcome};

/// Where a workload runs: `/tmp/NAME` (tmpfs in the sandbox) or `/var/tmp/NAME` (the overlay).
fn base(parent: &str, prefix: &str) -> PathBuf {
    let p = unique_tmp_path(prefix);
    Path::new(parent).join(
        p.file_name()
            .expect("invariant: unique_tmp_path has a name"),
    )
}

/// Runs `case` sandboxed, then natively, removes `dir` on the host, and asserts the same stdout
/// and status. Returns the native outcome.
fn same(case: &Case, dir: &Path) -> Outcome {
    let sandboxed = case.run_sandboxed();
    let native = case.run_native();
    let _ = std::fs::remove_dir_all(dir);
    assert_eq!(
        (native.status, &native.stdout),
        (sandboxed.status, &sandboxed.stdout),
        "`{}` differs (left: native, right: sandboxed)\nnative stdout:\n{}\nsandboxed stdout:\n{}\n\
         native stderr:\n{}\nsandboxed stderr:\n{}",
        case.describe(),
        native.stdout_str(),
        sandboxed.stdout_str(),
        native.stderr_str(),
        sandboxed.stderr_str(),
    );
    assert_eq!(
        native.status,
        0,
        "native run failed:\n{}",
        native.stderr_str()
    );
    native
}

/// Prints a tree the way the comparisons need it: type, path, mode, owner, link count, size (not for
/// directories, whose size is file-system specific), link target, mtime; then file checksums.
const TREE_FN: &str = r#"
tree() {
  find "$1" -printf '%y ' \( -type d -printf '%p %M %U:%G %n %TY%Tm%Td%TH%TM%TS\n' \
    -o -printf '%p %M %U:%G %n %s %l %TY%Tm%Td%TH%TM%TS\n' \) | sort
  ( cd "$1" && find . -type f -exec sha256sum {} + | sort -k2 )
}
"#;

/// Builds a tree with symlinks (relative, absolute dangling, to a directory), a hard link, a
/// FIFO, setuid/setgid/sticky bits and fixed times, then archives, lists, extracts and copies it.
const TREE_SCRIPT: &str = r#"
set -e
D=$1; mkdir -p "$D"; cd "$D"
umask 022
mkdir -p src/sub/deep src/empty src/sgid
printf 'hello\n' > src/a.txt
head -c 100000 /dev/zero | tr '\0' x > src/sub/big
seq 1 5000 > src/sub/deep/nums
: > src/zero
chmod 640 src/a.txt; chmod 755 src/sub/big; chmod 700 src/sub/deep
chmod 2750 src/sgid; chmod 1777 src/empty; chmod 4711 src/zero
ln src/a.txt src/sub/hard
ln -s ../a.txt src/sub/rel
ln -s /nonexistent src/dangling
ln -s sub src/dirlink
mkfifo src/fifo
chown 1234:5678 src/sub/big src/sgid; chown -h 42:43 src/sub/rel
find src -exec touch -h -d '2020-01-02 03:04:05' {} +
echo "== src"; tree src
echo "== tar"
tar --sort=name --numeric-owner -C src -cf t.tar .
tar --numeric-owner -tvf t.tar
sha256sum t.tar
mkdir x; tar -C x -xpf t.tar
echo "== extracted"; tree x
echo "== cp -a"; cp -a src cpy; tree cpy
echo "== tar of the copy"
tar --sort=name --numeric-owner -C cpy -cf c.tar .
cmp t.tar c.tar && echo same archive
echo "== find"
find src -type f -name '*.txt' | sort
find src -type f -perm -u+x | sort
find src -type f -links 2 | sort
find src -empty | sort
find src -maxdepth 1 -type l -printf '%p -> %l\n' | sort
find -L src/dirlink -type f | sort
find src -newermt '2021-01-01' | sort
find src -type f -size +10k | sort
find src -perm -4000 -o -perm -2000 -o -perm -1000 | sort
echo "== du"
du -ab src/a.txt src/sub/big src/sub/deep/nums src/zero
du -s --apparent-size -k src/sub/big
dirs() { find "$1" -type d -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
echo "du of src without directories: $(( $(du -s --apparent-size -b src | cut -f1) - $(dirs src) ))"
echo "du of x without directories: $(( $(du -s --apparent-size -b x | cut -f1) - $(dirs x) ))"
echo "du -l counts the hard link: $(( $(du -sl --apparent-size -b src | cut -f1) - $(dirs src) ))"
echo done
"#;

/// `ln` and `mv` across directories: files, a hard link moved away from its twin, a directory
/// moved to another parent, a symlink moved (it keeps its relative target), over an existing file.
const MOVE_SCRIPT: &str = r#"
set -e
D=$1; mkdir -p "$D"; cd "$D"
umask 022
mkdir -p p1/d/in p2 p3
echo moved > p1/d/in/f
echo one > p1/one
ln p1/one p1/one-hard
ln -s ../p1/one p2/sym
ln -s d p1/dl
ln p1/one p3/one-3
stat -c '%n %h %F' p1/one p1/one-hard p2/sym p3/one-3
readlink p2/sym p1/dl
ln p1/d p3/dirhard 2>/dev/null || echo "directory hard link refused"
ln p1/one p1/one-hard 2>/dev/null || echo "existing name refused"
ln -f p1/d/in/f p1/one-hard
mv p1/d p2/
mv p1/one p2/one
mv p2/sym p3/
cat p3/sym 2>/dev/null || echo "moved symlink dangles"
echo other > p3/victim
mv -f p2/one p3/victim
mv p1/dl p3/
mv p2/d/in/f p1/g
mkdir -p p3/full/x
mv p2/d p3/full 2>/dev/null && echo moved into || echo refused
mv p3/full/d p1/ && echo moved back
find . -printf '%y %p %M %n %l\n' | sort
find . -type f -exec sha256sum {} + | sort -k2
echo done
"#;

fn tree_case(dir: &Path) -> Case {
    let script = format!("{TREE_FN}{TREE_SCRIPT}");
    Case::new(
        "/bin/sh",
        ["-c", script.as_str(), "sh", &dir.to_string_lossy()],
    )
}

fn check_tree(parent: &str) {
    let dir = base(parent, "fsw-tree");
    let native = same(&tree_case(&dir), &dir);
    let out = native.stdout_str();
    assert!(out.contains("hrw-r----- 0/0 "), "{out}");
    assert!(out.contains("./sub/hard link to ./a.txt\n"), "{out}");
    assert!(out.contains("same archive\n"), "{out}");
    assert!(
        out.contains("f x/sub/big -rwxr-xr-x 1234:5678 1 100000 "),
        "{out}"
    );
    assert!(
        out.contains("l x/sub/rel lrwxrwxrwx 42:43 1 8 ../a.txt "),
        "{out}"
    );
    assert!(
        out.contains("du of x without directories: 123922\n"),
        "{out}"
    );
    assert!(out.ends_with("done\n"), "{out}");
}

#[test]
fn tar_cp_find_du_on_tmpfs() {
    check_tree("/tmp");
}

#[test]
fn tar_cp_find_du_on_the_overlay_root() {
    check_tree("/var/tmp");
}

fn check_moves(parent: &str) {
    let dir = base(parent, "fsw-mv");
    let case = Case::new("/bin/sh", ["-c", MOVE_SCRIPT, "sh", &dir.to_string_lossy()]);
    let out = same(&case, &dir).stdout_str();
    assert!(out.contains("directory hard link refused\n"), "{out}");
    assert!(out.contains("moved back\n"), "{out}");
    assert!(out.ends_with("done\n"), "{out}");
}

#[test]
fn ln_and_mv_across_directories_on_tmpfs() {
    check_moves("/tmp");
}

#[test]
fn ln_and_mv_across_directories_on_the_overlay_root() {
    check_moves("/var/tmp");
}

/// Files and a directory tree that exist in the lower layer (on the host) are linked, moved to
/// other parents and renamed; moving the lower directory is EXDEV on Linux overlayfs, so mv falls
/// back to copying, and the result must be the same tree as natively.
#[test]
fn mv_and_ln_of_lower_layer_entries() {
    let dir = base("/var/tmp", "fsw-lower");
    let mk = |p: &str, body: &str| {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().expect("invariant: has a parent")).unwrap();
        std::fs::write(path, body).unwrap();
    };
    mk("p1/d/in/f", "deep\n");
    mk("p1/d/g", "g\n");
    mk("p1/file", "file\n");
    std::fs::create_dir_all(dir.join("p2")).unwrap();
    std::os::unix::fs::symlink("in/f", dir.join("p1/d/lnk")).unwrap();
    let script = r#"
set -e
cd "$1"
ln p1/file p2/file-hard
stat -c '%n %h' p1/file p2/file-hard
mv p1/d p2/
mv p1/file p2/file
echo appended >> p2/file
cat p2/file-hard
mv p2/d/in p1/in2
find . -printf '%y %p %M %n %l\n' | sort
find . -type f -exec sha256sum {} + | sort -k2
rm -r p1 p2
ls -A
echo done
"#;
    let case = Case::new("/bin/sh", ["-c", script, "sh", &dir.to_string_lossy()]);
    let out = same(&case, &dir).stdout_str();
    assert!(out.contains("p1/file 2\np2/file-hard 2\n"), "{out}");
    assert!(out.contains("file\nappended\n"), "{out}");
    assert!(out.ends_with("done\n"), "{out}");
}

/// A WAL database: 1000 rows in one transaction, a second connection that must not see them
/// before the commit, a snapshot held across a delete, a reader process mapping the shared
/// memory index, a truncating checkpoint and an integrity check.
const SQLITE: &str = r#"
import os, sqlite3, subprocess, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
p = os.path.join(d, "t.db")
w = sqlite3.connect(p, isolation_level=None)
print("mode", w.execute("PRAGMA journal_mode=WAL").fetchone()[0])
w.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, v REAL)")
r = sqlite3.connect(p, isolation_level=None)
w.execute("BEGIN")
w.executemany("INSERT INTO t (name, v) VALUES (?, ?)",
              ((f"n{i}", i * 0.5) for i in range(1000)))
print("reader during txn", r.execute("SELECT count(*) FROM t").fetchone()[0])
w.execute("COMMIT")
print("reader after commit", r.execute("SELECT count(*), sum(v) FROM t").fetchone())
r.execute("BEGIN")
print("snapshot", r.execute("SELECT count(*) FROM t").fetchone()[0])
w.execute("DELETE FROM t WHERE id % 2 = 0")
print("snapshot still", r.execute("SELECT count(*) FROM t").fetchone()[0])
r.execute("COMMIT")
print("reader sees delete", r.execute("SELECT count(*) FROM t").fetchone()[0])
code = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); " \
       "print('process reader', c.execute('SELECT count(*), max(id) FROM t').fetchone())"
sys.stdout.flush()
subprocess.run([sys.executable, "-c", code, p], check=True)
print("files", sorted(os.listdir(d)))
print("wal nonempty", os.path.getsize(p + "-wal") > 0)
print("checkpoint", w.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone())
print("wal after", os.path.getsize(p + "-wal"))
print("integrity", w.execute("PRAGMA integrity_check").fetchone()[0])
print("last", w.execute("SELECT id, name, v FROM t ORDER BY id DESC LIMIT 2").fetchall())
r.close(); w.close()
print("files after close", sorted(os.listdir(d)))
w = sqlite3.connect(p)
print("reopen", w.execute("SELECT count(*) FROM t").fetchone()[0],
      w.execute("PRAGMA journal_mode").fetchone()[0])
w.close()
for f in os.listdir(d): os.unlink(os.path.join(d, f))
os.rmdir(d)
print("done")
"#;

fn check_sqlite(parent: &str) {
    let dir = base(parent, "fsw-sqlite");
    let case = Case::new("python3", ["-c", SQLITE, &dir.to_string_lossy()]);
    let out = same(&case, &dir).stdout_str();
    assert!(out.contains("mode wal\n"), "{out}");
    assert!(out.contains("reader during txn 0\n"), "{out}");
    assert!(out.contains("snapshot still 1000\n"), "{out}");
    assert!(out.contains("process reader (500, 999)\n"), "{out}");
    assert!(out.contains("integrity ok\n"), "{out}");
    assert!(out.contains("reopen 500 wal\n"), "{out}");
}

#[test]
fn sqlite_wal_on_tmpfs() {
    check_sqlite("/tmp");
}

#[test]
fn sqlite_wal_on_the_overlay_root() {
    check_sqlite("/var/tmp");
}

/// A tree in the lower layer (made on the host, read through the gofer) with a hard link, symlinks,
/// special modes and fixed times: listed, archived, copied with `cp -a` to tmpfs and to the
/// overlay, and extracted back over itself (each member replaces a lower-layer entry).
#[test]
fn tar_and_cp_of_a_lower_layer_tree() {
    let dir = base("/var/tmp", "fsw-lowtree");
    let setup = r#"
set -e
mkdir -p "$1/l/sub/deep" && cd "$1/l"
umask 022
printf 'lower\n' > a; seq 1 3000 > sub/deep/n; : > e
chown 1234:5678 sub/deep/n; chmod 604 a; chmod 4755 e; chmod 2770 sub/deep
ln a sub/a-hard; ln -s ../a sub/rel; ln -s /nowhere dangling
find . -exec touch -h -d '2019-05-06 07:08:09' {} +
"#;
    let s = Case::new("/bin/sh", ["-c", setup, "sh", &dir.to_string_lossy()]).run_native();
    assert_eq!(s.status, 0, "setup: {}", s.stderr_str());
    let script = format!(
        "{TREE_FN}{}",
        r#"
set -e
cd "$1"
T=/tmp/fsw-lowtree-$$
echo "== lower"; tree l
tar --sort=name --numeric-owner -C l -cf "$T.tar" .
tar --numeric-owner -tvf "$T.tar"
sha256sum < "$T.tar"
cp -a l "$T"; echo "== copy on tmpfs"; tree "$T" | sed "s|$T|T|"
cp -a l l2; echo "== copy on the overlay"; tree l2
echo changed > l/a
tar -C l -xpf "$T.tar"
echo "== extracted over the lower tree"; tree l
rm -rf "$T" "$T.tar"
echo done
"#
    );
    let case = Case::new(
        "/bin/sh",
        ["-c", script.as_str(), "sh", &dir.to_string_lossy()],
    );
    let out = same(&case, &dir).stdout_str();
    assert!(out.contains("f l/sub/a-hard -rw----r-- 0:0 2 6 "), "{out}");
    assert!(out.contains("f l2/e -rwsr-xr-x 0:0 1 0 "), "{out}");
    assert!(
        out.contains("f l2/sub/deep/n -rw-r--r-- 1234:5678 1 13893 "),
        "{out}"
    );
    assert!(out.ends_with("done\n"), "{out}");
}
