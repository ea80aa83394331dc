//! Redis failures as [`StoreError`]s, each naming the store operation that failed.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use sessio::StoreError;

use crate::reply::BadReply;

/// Sorts a Redis error into the store's error kinds:
/// - cannot talk to Redis (I/O, refused, dropped, loading, failover) → `Unavailable`;
/// - Redis declines to write (`OOM`, `READONLY`, `MISCONF`, `NOPERM`) → `Refused`;
/// - anything else (type errors, script errors, unexpected replies) → `Protocol`.
pub(crate) fn from_redis(op: &'static str, err: &RedisError) -> StoreError {
    let message = format!("redis {op}: {err}");
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
            | ServerErrorKind::MasterDown,
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
    }
}
