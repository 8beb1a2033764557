//! A threaded TCP echo server under 50 concurrent clients on loopback (tests/c/tcp_stress.c),
//! every byte checked: the same result natively and in the sandbox's network stack.

use tests::{c_prog, Case};

#[test]
fn fifty_clients_echo_every_byte() {
    let (native, _) = Case::new(c_prog("tcp_stress"), Vec::<&str>::new()).assert_same();
    assert_eq!(
        native.stdout_str(),
        "clients=50 sent=3276800 received=3276800 mismatches=0 failed=0\n"
    );
}
