//! The syscall table for the host architecture; one row per syscall (`table/x86_64.rs`).

mod x86_64;

pub use x86_64::table;
