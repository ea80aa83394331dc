//! How typed values become the bytes a store keeps.
//!
//! JSON, chosen on purpose: a session outlives deployments, and JSON lets a value type
//! gain an optional field (`#[serde(default)]`) or be read by an operator in `redis-cli`
//! without a migration, where a positional format (postcard, bincode) turns every schema
//! change into unreadable sessions. The measured cost (`cargo bench -p sessio --bench
//! codec`) is small next to a store round trip; the figures are in the crate README.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::SessionError;

pub(crate) fn encode<T: Serialize + ?Sized>(
    name: &str,
    value: &T,
) -> Result<Vec<u8>, SessionError> {
    serde_json::to_vec(value).map_err(|source| SessionError::Serialize {
        name: name.to_owned(),
        source,
    })
}

pub(crate) fn decode<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, SessionError> {
    serde_json::from_slice(bytes).map_err(|source| SessionError::Deserialize {
        name: name.to_owned(),
        source,
    })
}
