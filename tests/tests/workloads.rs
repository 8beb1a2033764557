//! Real workloads that need the whole process model (fork, exec, wait, pipes, signals, threads):
//! the same shell script under dash and bash, a `make -j2` build, python's threading,
//! subprocess, signal and selectors modules; native vs sandboxed, identical output.

use tests::{unique_tmp_path, Case};

const SCRIPT: &str = r#"
set -e
echo start
echo "a b c" | tr ' ' '\n' | sort -r | head -2
x=$(echo sub; (echo nested) | cat)
echo "$x"
( cd /; echo "in subshell $(pwd)"; exit 3 ) || echo "subshell status $?"
sleep 0.05 & p1=$!
(echo bg2 > /dev/null; exit 4) & p2=$!
wait $p1; echo "w1 $?"
wait $p2 || echo "w2 $?"
got=0
trap 'got=$((got+1)); echo trapped' USR1
kill -USR1 $$
kill -USR1 $$
echo "got $got"
for i in 1 2 3; do echo $i; done | while read l; do echo "line $l"; done
true & false & wait
echo "exit of a pipeline: $(false | true; echo $?)"
echo done
"#;

const EXPECTED: &str = "start\nc\nb\nsub\nnested\nin subshell /\nsubshell status 3\nw1 0\n\
w2 4\ntrapped\ntrapped\ngot 2\nline 1\nline 2\nline 3\nexit of a pipeline: 0\ndone\n";

#[test]
fn dash_runs_pipelines_subshells_jobs_and_traps() {
    let (native, _) = Case::new("/bin/sh", ["-c", SCRIPT]).assert_same();
    assert_eq!(native.stdout_str(), EXPECTED);
}

#[test]
fn bash_runs_the_same_script() {
    let (native, _) = Case::new("/bin/bash", ["-c", SCRIPT]).assert_same();
    assert_eq!(native.stdout_str(), EXPECTED);
}

#[test]
fn python_threading_subprocess_signal_selectors() {
    let code = r#"
import os, selectors, signal, subprocess, threading
out = []
lock = threading.Lock()
def work(i):
    with lock:
        out.append(i * i)
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print("threads", sorted(out))
r = subprocess.run(["/bin/sh", "-c", "echo from child; exit 5"], capture_output=True)
print("subprocess", r.returncode, r.stdout.decode().strip())
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print("popen", p.communicate(b"piped")[0].decode(), p.returncode)
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
print("signal", got == [signal.SIGUSR1])
rfd, wfd = os.pipe()
sel = selectors.DefaultSelector()
sel.register(rfd, selectors.EVENT_READ)
print("select empty", sel.select(timeout=0.05))
os.write(wfd, b"x")
print("select ready", [k.fd == rfd for k, _ in sel.select(timeout=1)])
"#;
    let (native, _) = Case::new("python3", ["-c", code]).assert_same();
    let out = native.stdout_str();
    assert!(out.contains("threads [0, 1, 4, 9]\n"), "{out}");
    assert!(out.contains("subprocess 5 from child\n"), "{out}");
    assert!(out.contains("popen piped 0\n"), "{out}");
    assert!(out.contains("signal True\n"), "{out}");
    assert!(out.contains("select ready [True]\n"), "{out}");
}

/// A small C project built with `make -j2`: the sources are on the (read-only) gofer root
/// under /var/tmp, copied to /tmp and built there. make waits for its jobs in pselect6 with
/// SIGCHLD unblocked only there, so this also covers pselect6's temporary signal mask.
#[test]
fn make_j2_builds_and_runs_a_c_project() {
    let src = unique_tmp_path("procbench-make").with_extension("src");
    let src = std::path::Path::new("/var/tmp").join(src.file_name().expect("a name"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.c"), "int a(void) { return 20; }\n").unwrap();
    std::fs::write(src.join("b.c"), "int b(void) { return 22; }\n").unwrap();
    std::fs::write(
        src.join("main.c"),
        "#include <stdio.h>\nint a(void); int b(void);\n\
         int main(void) { printf(\"sum %d\\n\", a() + b()); return 0; }\n",
    )
    .unwrap();
    std::fs::write(
        src.join("Makefile"),
        "prog: a.o b.o main.o\n\t$(CC) -o $@ $^\n%.o: %.c\n\t$(CC) -O1 -c -o $@ $<\n",
    )
    .unwrap();
    let build = format!("/tmp/{}-b", src.file_name().unwrap().to_string_lossy());
    let script = format!(
        "cp -r {} {build} && make -s --no-print-directory -C {build} -j2 && {build}/prog; \
         s=$?; rm -rf {build}; exit $s",
        src.display()
    );
    let case = Case::new("/bin/sh", ["-c", &script]);
    let r = std::panic::catch_unwind(|| case.assert_same());
    let _ = std::fs::remove_dir_all(&src);
    let (native, _) = r.unwrap();
    assert_eq!(native.stdout_str(), "sum 42\n");
}
