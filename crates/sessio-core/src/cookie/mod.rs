//! The session cookie: reading it from `Cookie` request headers and writing `Set-Cookie`.
//!
//! The `cookie` crate needs std, so the no_std core writes its own headers. The surface is
//! small on purpose: one cookie, one name, attributes fixed at configuration time.
//!
//! # Life cycle
//! 1. Configure once: [`CookieConfig`] → [`CookieConfig::build`] → [`CookieSettings`].
//!    Every rule that can be checked without a request (name syntax, `__Host-`/`__Secure-`
//!    prefixes, `SameSite=None` and `Partitioned` needing `Secure`) is checked here, so a
//!    misconfiguration fails at start-up, not as a cookie the browser silently drops.
//! 2. Per request, input: [`CookieSettings::find_session_id`] over the raw `Cookie`
//!    headers gives a [`CookieLookup`]. Absent and malformed are kept apart: both mean
//!    "anonymous request", but only the second is worth a log line.
//! 3. Per response, output: [`CookieSettings::write_set_cookie`] turns a [`CookieUpdate`]
//!    into one `Set-Cookie` header value, appended to a buffer the caller owns.
//!
//! # Signed ids
//! Optional ([`CookieConfig::signing_keys`]): the cookie value becomes `<id>.<tag>`, with a
//! keyed BLAKE3 tag. Ids are already unguessable, so signing adds no secrecy; what it buys
//! is that a forged or random value is refused here, before it costs a store round trip.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::id::SessionId;

mod date;
mod parse;
mod set_cookie;
mod signing;

pub use date::write_imf_fixdate;
pub use signing::KeyRing;

/// The `SameSite` attribute: which cross-site requests carry the cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// Only same-site requests.
    Strict,
    /// Same-site requests and top-level cross-site navigations (the browser default).
    Lax,
    /// Every request; browsers then require `Secure`.
    None,
}

impl SameSite {
    /// The attribute value as written in `Set-Cookie`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        }
    }
}

/// How the session cookie is named and scoped: a builder of plain data.
///
/// [`Default`] (= [`CookieConfig::new`]) is the safe choice: name `sessio`, `Path=/`, no
/// `Domain` (host-only), `Secure`, `HttpOnly`, `SameSite=Lax`, not partitioned, unsigned.
/// Nothing is checked until [`CookieConfig::build`], which checks everything at once.
///
/// ```
/// use sessio_core::cookie::{CookieConfig, CookieUpdate, KeyRing, SameSite};
/// use sessio_core::{SessionId, Timestamp};
///
/// let settings = CookieConfig::new()
///     .name("__Host-sid")
///     .same_site(SameSite::Strict)
///     .signing_keys(KeyRing::new([7; 32]))
///     .build()?;
///
/// let id = SessionId::generate(&mut rand::rng());
/// let header = settings.set_cookie(
///     &CookieUpdate::Set { id: id.clone(), max_age: None },
///     Timestamp::from_unix_secs(1_700_000_000),
/// );
/// assert!(header.starts_with("__Host-sid="));
/// assert!(header.ends_with("; Path=/; Secure; HttpOnly; SameSite=Strict"));
/// # Ok::<(), sessio_core::cookie::CookieConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CookieConfig {
    name: String,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    partitioned: bool,
    keys: Option<KeyRing>,
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            name: String::from("sessio"),
            path: String::from("/"),
            domain: None,
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            partitioned: false,
            keys: None,
        }
    }
}

impl CookieConfig {
    /// The safe defaults; see [`CookieConfig`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The cookie name (default `sessio`): a non-empty RFC 7230 token.
    ///
    /// A name starting with `__Secure-` or `__Host-` opts into the browser's prefix rules,
    /// in any letter case, as browsers match them case-insensitively since 2024.
    pub fn name(mut self, name: &str) -> Self {
        self.name = String::from(name);
        self
    }

    /// The `Path` attribute (default `/`): must start with `/`.
    pub fn path(mut self, path: &str) -> Self {
        self.path = String::from(path);
        self
    }

    /// The `Domain` attribute (default none: the cookie goes back to this host only).
    ///
    /// Setting it widens the cookie to every sub-domain, so leave it unset unless they
    /// must share the session. One leading dot is accepted and stripped: browsers ignore
    /// it anyway, so `.example.com` and `example.com` mean the same.
    pub fn domain(mut self, domain: &str) -> Self {
        self.domain = Some(String::from(domain));
        self
    }

    /// The `Secure` attribute (default on): the cookie only travels over HTTPS.
    ///
    /// Turn it off only for plain-HTTP development; prefixed names, `SameSite=None` and
    /// `Partitioned` refuse to build without it.
    pub fn secure(mut self, on: bool) -> Self {
        self.secure = on;
        self
    }

    /// The `HttpOnly` attribute (default on): scripts cannot read the id, so an XSS bug
    /// cannot exfiltrate the session.
    pub fn http_only(mut self, on: bool) -> Self {
        self.http_only = on;
        self
    }

    /// The `SameSite` attribute (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The `Partitioned` attribute (CHIPS, default off): for sessions inside third-party
    /// iframes, kept in a cookie jar per top-level site.
    pub fn partitioned(mut self, on: bool) -> Self {
        self.partitioned = on;
        self
    }

    /// Signs cookie values with the ring's newest key and accepts any of its keys (default:
    /// unsigned). Turning signing on refuses every unsigned cookie issued before.
    pub fn signing_keys(mut self, keys: KeyRing) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Checks every rule and freezes the result.
    pub fn build(self) -> Result<CookieSettings, CookieConfigError> {
        let CookieConfig {
            name,
            path,
            domain,
            secure,
            http_only,
            same_site,
            partitioned,
            keys,
        } = self;
        if name.is_empty() {
            return Err(CookieConfigError::EmptyName);
        }
        if !name.bytes().all(is_tchar) {
            return Err(CookieConfigError::InvalidName { name });
        }
        if !path.starts_with('/') {
            return Err(CookieConfigError::PathNotAbsolute { path });
        }
        if !path.bytes().all(is_attribute_byte) {
            return Err(CookieConfigError::InvalidPath { path });
        }
        let domain = match domain {
            None => None,
            Some(given) => Some(check_domain(given)?),
        };
        let secure_prefix = has_prefix(&name, "__Secure-");
        let host_prefix = has_prefix(&name, "__Host-");
        if (secure_prefix || host_prefix) && !secure {
            return Err(CookieConfigError::PrefixRequiresSecure { name });
        }
        if host_prefix && path != "/" {
            return Err(CookieConfigError::HostPrefixRequiresRootPath { path });
        }
        if host_prefix {
            if let Some(domain) = domain {
                return Err(CookieConfigError::HostPrefixForbidsDomain { domain });
            }
        }
        if same_site == SameSite::None && !secure {
            return Err(CookieConfigError::SameSiteNoneRequiresSecure);
        }
        if partitioned && !secure {
            return Err(CookieConfigError::PartitionedRequiresSecure);
        }
        Ok(CookieSettings {
            name,
            path,
            domain,
            secure,
            http_only,
            same_site,
            partitioned,
            keys,
        })
    }
}

/// RFC 7230 `tchar`, which is what RFC 6265 means by a cookie-name `token`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// What may appear in an attribute value without breaking the header: printable ASCII
/// (space included, as RFC 6265 allows it) except `;`, which would start a new attribute.
fn is_attribute_byte(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b';'
}

fn has_prefix(name: &str, prefix: &str) -> bool {
    name.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// A plausible DNS host name (or IPv4 address): labels of letters, digits and inner `-`,
/// 1 to 63 bytes each, 253 bytes in all. Anything else is a typo the browser would drop.
fn check_domain(given: String) -> Result<String, CookieConfigError> {
    let host = given.strip_prefix('.').unwrap_or(&given);
    if host.is_empty() {
        return Err(CookieConfigError::EmptyDomain);
    }
    let plausible = host.len() <= 253
        && host.split('.').all(|label| {
            let bytes = label.as_bytes();
            (1..=63).contains(&bytes.len())
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                && bytes.first() != Some(&b'-')
                && bytes.last() != Some(&b'-')
        });
    if !plausible {
        return Err(CookieConfigError::InvalidDomain { domain: given });
    }
    Ok(String::from(host))
}

/// Why a [`CookieConfig`] does not build: a configuration mistake, found at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieConfigError {
    /// The cookie name is empty.
    EmptyName,
    /// The cookie name has a byte outside the RFC 7230 token characters.
    InvalidName {
        /// The name as configured.
        name: String,
    },
    /// The path does not start with `/`.
    PathNotAbsolute {
        /// The path as configured.
        path: String,
    },
    /// The path has a control character, a `;` or a non-ASCII character.
    InvalidPath {
        /// The path as configured.
        path: String,
    },
    /// The domain is empty (or just a dot).
    EmptyDomain,
    /// The domain is not a plausible host name.
    InvalidDomain {
        /// The domain as configured.
        domain: String,
    },
    /// A `__Secure-` or `__Host-` name without `Secure`: the browser would drop the cookie.
    PrefixRequiresSecure {
        /// The name as configured.
        name: String,
    },
    /// A `__Host-` name with a path other than `/`: the browser would drop the cookie.
    HostPrefixRequiresRootPath {
        /// The path as configured.
        path: String,
    },
    /// A `__Host-` name with a `Domain`: the browser would drop the cookie.
    HostPrefixForbidsDomain {
        /// The domain as configured (leading dot stripped).
        domain: String,
    },
    /// `SameSite=None` without `Secure`: the browser would drop the cookie.
    SameSiteNoneRequiresSecure,
    /// `Partitioned` without `Secure`: the browser would drop the cookie.
    PartitionedRequiresSecure,
    /// A [`KeyRing`] was built from no keys at all.
    NoSigningKeys,
}

impl fmt::Display for CookieConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values print with `{:?}`, so a stray control character shows escaped in logs.
        match self {
            Self::EmptyName => f.write_str("cookie name is empty"),
            Self::InvalidName { name } => write!(
                f,
                "cookie name {name:?} must be a token: letters, digits and !#$%&'*+-.^_`|~"
            ),
            Self::PathNotAbsolute { path } => {
                write!(f, "cookie path {path:?} must start with '/'")
            }
            Self::InvalidPath { path } => write!(
                f,
                "cookie path {path:?} must be printable ASCII without ';'"
            ),
            Self::EmptyDomain => f.write_str("cookie domain is empty"),
            Self::InvalidDomain { domain } => write!(
                f,
                "cookie domain {domain:?} is not a host name (letters, digits, '-' and '.')"
            ),
            Self::PrefixRequiresSecure { name } => {
                write!(
                    f,
                    "cookie name {name:?} has a __Secure-/__Host- prefix, which requires Secure"
                )
            }
            Self::HostPrefixRequiresRootPath { path } => {
                write!(f, "a __Host- cookie requires Path=/, not {path:?}")
            }
            Self::HostPrefixForbidsDomain { domain } => {
                write!(f, "a __Host- cookie must not set a Domain, got {domain:?}")
            }
            Self::SameSiteNoneRequiresSecure => f.write_str("SameSite=None requires Secure"),
            Self::PartitionedRequiresSecure => f.write_str("Partitioned requires Secure"),
            Self::NoSigningKeys => f.write_str("a signing key ring needs at least one key"),
        }
    }
}

impl core::error::Error for CookieConfigError {}

/// A validated cookie configuration: reads the session id from requests and writes the
/// session cookie into responses.
///
/// Immutable: build it once and share it by reference or in an `Arc`. `Debug` shows the attributes and how many signing keys
/// there are, never the keys.
///
/// - Input: [`CookieSettings::find_session_id`], once per request.
/// - Output: [`CookieSettings::write_set_cookie`] (or [`CookieSettings::set_cookie`]),
///   once per response that changes the cookie.
/// - Getters: the attributes as configured.
///
/// ```
/// use sessio_core::cookie::{CookieConfig, CookieLookup, CookieUpdate};
/// use sessio_core::{SessionId, Timestamp};
///
/// let settings = CookieConfig::new().build()?;
/// let id = SessionId::generate(&mut rand::rng());
/// let update = CookieUpdate::Set { id: id.clone(), max_age: None };
/// let header = settings.set_cookie(&update, Timestamp::from_unix_secs(0));
///
/// // The browser sends back only `name=value`, possibly among other cookies.
/// let pair = header.split(';').next().unwrap_or_default();
/// let request = format!("theme=dark; {pair}; lang=en");
/// assert_eq!(settings.find_session_id([request.as_bytes()]), CookieLookup::Found(id));
/// assert_eq!(settings.find_session_id([&b"theme=dark"[..]]), CookieLookup::Absent);
/// assert_eq!(settings.find_session_id([&b"sessio=forged"[..]]), CookieLookup::Malformed);
/// # Ok::<(), sessio_core::cookie::CookieConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct CookieSettings {
    name: String,
    path: String,
    domain: Option<String>,
    secure: bool,
    http_only: bool,
    same_site: SameSite,
    partitioned: bool,
    keys: Option<KeyRing>,
}

impl CookieSettings {
    /// The cookie name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `Path` attribute.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `Domain` attribute, without a leading dot; `None` for a host-only cookie.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// Whether the cookie carries `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Whether the cookie carries `HttpOnly`.
    pub fn is_http_only(&self) -> bool {
        self.http_only
    }

    /// The `SameSite` attribute.
    pub fn same_site(&self) -> SameSite {
        self.same_site
    }

    /// Whether the cookie carries `Partitioned`.
    pub fn is_partitioned(&self) -> bool {
        self.partitioned
    }

    /// Whether cookie values are signed (and unsigned ones refused).
    pub fn is_signed(&self) -> bool {
        self.keys.is_some()
    }
}

/// What the request's `Cookie` headers say about the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieLookup {
    /// No cookie of our name in the request: a normal anonymous request.
    Absent,
    /// A cookie of our name was present but no value was a well-formed (and, with signing,
    /// correctly signed) id: treat as anonymous, but it is worth a log line.
    Malformed,
    /// The first well-formed id among cookies of our name.
    Found(SessionId),
}

/// What the response should do with the session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieUpdate {
    /// Send the session cookie. `max_age: None` = a browser-session cookie (no
    /// `Max-Age`/`Expires`); `Some(d)` = persistent: `Max-Age=<whole seconds of d>` and
    /// `Expires=<IMF-fixdate of now + d>`, the latter for clients that ignore `Max-Age`.
    Set {
        /// The id to store in the cookie.
        id: SessionId,
        /// How long the browser should keep the cookie; `None` until it closes.
        max_age: Option<Duration>,
    },
    /// Clear the cookie: same name/path/domain/attributes, empty value, `Max-Age=0` and
    /// `Expires=Thu, 01 Jan 1970 00:00:00 GMT`.
    Remove,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
