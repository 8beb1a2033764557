//! A threaded TCP echo server under 50 concurrent clients on loopback (tests/c/tcp_stress.c),
//! every byte checked: the same result natively, in the sandbox's network stack, and through
//! host sockets (`--network=host`).

use tests::{c_prog, Case};

#[test]
fn fifty_clients_echo_every_byte() {
    let (native, _) = Case::new(c_prog("tcp_stress"), Vec::<&str>::new()).assert_same();
    assert_eq!(
        native.stdout_str(),
        "clients=50 sent=3276800 received=3276800 mismatches=0 failed=0\n"
    );
}

#[test]
fn fifty_clients_echo_every_byte_through_host_sockets() {
    let case = Case::new(c_prog("tcp_stress"), Vec::<&str>::new());
    let out = case.run_sandboxed_with(&["--network=host"]);
    assert_eq!(
        (out.status, out.stdout_str()),
        (
            0,
            "clients=50 sent=3276800 received=3276800 mismatches=0 failed=0\n".to_string()
        ),
        "--network=host: {}",
        out.stderr_str()
    );
}
