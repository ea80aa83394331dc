//! Redis failures as [`StoreError`]s, each naming the store operation that failed.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use sessio::StoreError;

use crate::reply::BadReply;

/// Sorts a Redis error into the store's error kinds:
/// - cannot talk to Redis (I/O, refused, dropped, loading, failover, a cluster slot on the
///   move) → `Unavailable`;
/// - Redis declines to write (`OOM`, `READONLY`, `MISCONF`, `NOPERM`) → `Refused`;
/// - anything else (type errors, script errors, unexpected replies) → `Protocol`.
pub(crate) fn from_redis(op: &'static str, err: &RedisError) -> StoreError {
    let message = if err.kind() == ErrorKind::ClusterConnectionNotFound {
        // The cluster client drops why it could not connect; say what it may have been.
        format!(
            "redis {op}: no connection to the cluster node (down, unreachable, or refusing \
             the configured password): {err}"
        )
    } else {
        format!("redis {op}: {err}")
    };
    if refused_code(err.code()) {
        return StoreError::Refused(message);
    }
    match err.kind() {
        ErrorKind::Io
        | ErrorKind::AuthenticationFailed
        | ErrorKind::ClusterConnectionNotFound
        | ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::Moved
            | ServerErrorKind::Ask,
        ) => StoreError::Unavailable(message),
        ErrorKind::Server(
            ServerErrorKind::ReadOnly | ServerErrorKind::NoPerm | ServerErrorKind::ExecAbort,
        ) => StoreError::Refused(message),
        _ if err.is_connection_dropped() || err.is_connection_refusal() => {
            StoreError::Unavailable(message)
        }
        _ => StoreError::Protocol(message),
    }
}

/// Whether Redis certainly did not run the command: a cluster node that does not serve the
/// key's slot (now or yet), a cluster without a quorum, a node still loading, a replica
/// (a write after failover, before the client saw the new primary), or no connection to
/// send it on. Only such failures are worth retrying: after an I/O error the script may
/// have run, and running a write twice is not harmless (a compare-and-set would conflict
/// with its own write and the caller re-apply its change).
pub(crate) fn did_not_run(err: &RedisError) -> bool {
    matches!(
        err.kind(),
        ErrorKind::ClusterConnectionNotFound
            | ErrorKind::Server(
                ServerErrorKind::Moved
                    | ServerErrorKind::Ask
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::BusyLoading
                    | ServerErrorKind::ReadOnly
            )
    )
}

/// Error codes of a server that works but will not take the write. A script passes on
/// the code of the command that failed inside it.
fn refused_code(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("OOM" | "READONLY" | "MISCONF" | "NOPERM" | "NOREPLICAS")
    )
}

pub(crate) fn from_reply(op: &'static str, err: BadReply) -> StoreError {
    StoreError::Protocol(format!("redis {op}: {}", err.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_sorted() {
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(
            matches!(from_redis("load", &io), StoreError::Unavailable(m) if m.starts_with("redis load:"))
        );
        let oom =
            redis::make_extension_error("OOM".to_owned(), Some("command not allowed".to_owned()));
        assert!(matches!(from_redis("write", &oom), StoreError::Refused(_)));
        let ty = RedisError::from((ErrorKind::UnexpectedReturnType, "bad"));
        assert!(matches!(from_redis("write", &ty), StoreError::Protocol(_)));
        let none = RedisError::from((ErrorKind::ClusterConnectionNotFound, "No connections"));
        assert!(matches!(
            from_redis("load", &none),
            StoreError::Unavailable(m) if m.starts_with("redis load: no connection to the cluster node")
                && m.contains("password")
        ));
        let moved = RedisError::from((ErrorKind::Server(ServerErrorKind::Moved), "moved"));
        assert!(matches!(
            from_redis("load", &moved),
            StoreError::Unavailable(_)
        ));
    }

    #[test]
    fn only_failures_before_the_script_ran_are_retried() {
        let server = |kind| RedisError::from((ErrorKind::Server(kind), "from the server"));
        for kind in [
            ServerErrorKind::Moved,
            ServerErrorKind::Ask,
            ServerErrorKind::TryAgain,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::BusyLoading,
            ServerErrorKind::ReadOnly,
        ] {
            assert!(did_not_run(&server(kind)), "{kind:?}");
        }
        for kind in [
            ServerErrorKind::ResponseError,
            ServerErrorKind::NoScript,
            ServerErrorKind::CrossSlot,
        ] {
            assert!(!did_not_run(&server(kind)), "{kind:?}");
        }
        let oom = redis::make_extension_error("OOM".to_owned(), None);
        assert!(!did_not_run(&oom));
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(
            !did_not_run(&io),
            "the script may have run before the connection broke"
        );
    }
}
