//! The actix cart app as users run it: a real process on a free port, driven over TCP.
#![allow(missing_docs)]

#[test]
fn memory_store() {
    cart_e2e::run_memory_suite(env!("CARGO_BIN_EXE_actix-cart"));
}

#[test]
fn redis_store() {
    cart_e2e::run_redis_suite(env!("CARGO_BIN_EXE_actix-cart"));
}
