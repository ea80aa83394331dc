//! The Lua scripts, one per store method, each prefixed with `lua/common.lua`, and
//! `push.lua`, which stands alone. Redis runs a script atomically, which is what makes
//! each store method one round trip.

use std::sync::LazyLock;

use redis::Script;

pub(crate) struct Scripts {
    pub(crate) load: Script,
    pub(crate) load_and_push: Script,
    /// `load_and_push` for a session that needs no touch: the write path's common case,
    /// without `common.lua`'s functions (see the script's header).
    pub(crate) push: Script,
    pub(crate) write: Script,
    pub(crate) compare_and_set: Script,
    pub(crate) user_sessions: Script,
    pub(crate) revoke_user: Script,
}

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(include_str!("lua/common.lua"), include_str!($file)))
    };
}

/// Built once per process: building a [`Script`] hashes its source.
pub(crate) static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    load: script!("lua/load.lua"),
    load_and_push: script!("lua/load_and_push.lua"),
    push: Script::new(include_str!("lua/push.lua")),
    write: script!("lua/write.lua"),
    compare_and_set: script!("lua/compare_and_set.lua"),
    user_sessions: script!("lua/user_sessions.lua"),
    revoke_user: script!("lua/revoke_user.lua"),
});
