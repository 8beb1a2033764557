//! The `runsc` executable: front end, sentry (`runsc boot`) and gofer (`runsc gofer`) in one
//! binary; see the library crate.

fn main() {
    runsc::main()
}
