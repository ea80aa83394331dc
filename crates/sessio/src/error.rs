//! Errors a handler sees from the session handle.

use crate::StoreError;

/// Why a session operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The store failed (unreachable, timed out, ...). Adapters answer 503.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A value could not be serialized.
    #[error("cannot serialize session value {name:?}: {source}")]
    Serialize {
        /// The value's name.
        name: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// A stored value does not deserialize as the requested type.
    #[error("session value {name:?} does not have the requested type: {source}")]
    Deserialize {
        /// The value's name.
        name: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// An atomic update lost the race this many times in a row.
    #[error("session value {name:?} is updated too often concurrently ({attempts} attempts)")]
    Contention {
        /// The value's name.
        name: String,
        /// How many compare-and-set attempts failed.
        attempts: u32,
    },
    /// The session is read-only for this request: the store failed and the manager is
    /// configured to fail open, so the request runs as anonymous and nothing is written.
    #[error("the session store is unavailable; this request's session is read-only")]
    ReadOnly,
    /// The session was already finished (its response headers were produced).
    #[error("the session was already finished for this request")]
    Finished,
}

impl SessionError {
    /// Whether the error comes from the store being unavailable, as opposed to a bug or a
    /// bad value: adapters answer 503 for these and 500 for the rest.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            SessionError::Store(_) | SessionError::ReadOnly | SessionError::Contention { .. }
        )
    }

    /// The HTTP status an adapter answers with by default.
    pub fn status_code(&self) -> u16 {
        if self.is_unavailable() {
            503
        } else {
            500
        }
    }
}
