//! The axum cart app on a private Redis that is paused (SIGSTOP) and then killed and
//! restarted under steady load: 503 within the store timeout, nothing lost, self-recovery.
//! Skips loudly without `redis-server` (fails with SESSIO_REQUIRE_REDIS=1).
#![allow(missing_docs)]

#[test]
fn redis_pause_and_restart_under_load() {
    cart_e2e::faults::run_store_fault_suite(env!("CARGO_BIN_EXE_axum-cart"));
}
