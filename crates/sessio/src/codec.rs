//! How typed values become the bytes a store keeps.
//!
//! JSON, chosen by measurement and on purpose. `cargo bench -p sessio --bench codec`
//! compares it with postcard on typical values (a user name, a five-item cart, a small
//! profile struct). Measured once on the 2-core development machine: postcard is smaller
//! (26 vs 36 bytes for the cart, 33 vs 86 for the profile) and decodes 1.5–3× faster
//! (cart 388 vs 575 ns, profile 292 vs 705 ns). Those are sub-microsecond differences next
//! to a store round trip (tens of microseconds to Redis) and an HTTP request, while a
//! session outlives deployments: JSON lets a value type gain an optional field
//! (`#[serde(default)]`) or be read by an operator in `redis-cli` without a migration,
//! where a positional format turns every schema change into unreadable sessions.

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
