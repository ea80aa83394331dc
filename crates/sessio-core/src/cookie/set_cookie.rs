//! Writing the `Set-Cookie` header value.
//!
//! Attributes come in one fixed order, so headers are byte-for-byte predictable in tests
//! and logs: `name=value; Path=…; Domain=…; Max-Age=…; Expires=…; Secure; HttpOnly;
//! SameSite=…; Partitioned`, each only when set (`Path` always is). Everything is appended
//! to the caller's buffer; nothing is allocated on the side.

use alloc::string::String;

use super::date::write_imf_fixdate;
use super::{CookieSettings, CookieUpdate};
use crate::time::Timestamp;

/// What [`CookieUpdate::Remove`] sends: a cookie that expired the moment it was set.
const REMOVAL: &str = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";

/// Room for everything but name, path and domain: a signed value, `Max-Age` with 20
/// digits, `Expires` and all flags. Reserving once keeps a fresh buffer from regrowing.
const FIXED_PART_LEN: usize = 87 + 160;

impl CookieSettings {
    /// Appends one `Set-Cookie` header *value* (no `Set-Cookie: ` prefix) to `out`.
    ///
    /// `now` only matters for a persistent cookie, whose `Expires` is `now + max_age`.
    /// `Max-Age` counts whole seconds, rounded down, as the rest of the core does; browsers
    /// cap it at 400 days on their side.
    ///
    /// ```
    /// use core::time::Duration;
    /// use sessio_core::cookie::{CookieConfig, CookieUpdate};
    /// use sessio_core::{SessionId, Timestamp};
    ///
    /// let settings = CookieConfig::new().build()?;
    /// let id = SessionId::generate(&mut rand::rng());
    /// let week = CookieUpdate::Set { id, max_age: Some(Duration::from_secs(7 * 86_400)) };
    /// let mut out = String::new();
    /// settings.write_set_cookie(&week, Timestamp::from_unix_secs(784_111_777), &mut out);
    /// assert!(out.contains("; Max-Age=604800; Expires=Sun, 13 Nov 1994 08:49:37 GMT;"));
    ///
    /// out.clear(); // reuse the buffer
    /// settings.write_set_cookie(&CookieUpdate::Remove, Timestamp::from_unix_secs(0), &mut out);
    /// assert!(out.starts_with("sessio=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970"));
    /// # Ok::<(), sessio_core::cookie::CookieConfigError>(())
    /// ```
    pub fn write_set_cookie(&self, update: &CookieUpdate, now: Timestamp, out: &mut String) {
        let domain_len = self.domain.as_ref().map_or(0, String::len);
        out.reserve(self.name.len() + self.path.len() + domain_len + FIXED_PART_LEN);

        out.push_str(&self.name);
        out.push('=');
        if let CookieUpdate::Set { id, .. } = update {
            out.push_str(id.encode().as_str());
            if let Some(keys) = &self.keys {
                out.push('.');
                // The tag alphabet is ASCII, so this never falls back.
                out.push_str(core::str::from_utf8(&keys.sign(id)).unwrap_or(""));
            }
        }
        out.push_str("; Path=");
        out.push_str(&self.path);
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        match update {
            CookieUpdate::Set {
                max_age: Some(max_age),
                ..
            } => {
                out.push_str("; Max-Age=");
                push_decimal(max_age.as_secs(), out);
                out.push_str("; Expires=");
                write_imf_fixdate(now.saturating_add(*max_age), out);
            }
            CookieUpdate::Set { max_age: None, .. } => {}
            CookieUpdate::Remove => out.push_str(REMOVAL),
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        out.push_str("; SameSite=");
        out.push_str(self.same_site.as_str());
        if self.partitioned {
            out.push_str("; Partitioned");
        }
    }

    /// [`CookieSettings::write_set_cookie`] into a new `String`.
    pub fn set_cookie(&self, update: &CookieUpdate, now: Timestamp) -> String {
        let mut out = String::new();
        self.write_set_cookie(update, now, &mut out);
        out
    }
}

fn push_decimal(mut n: u64, out: &mut String) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &digit in digits.get(start..).unwrap_or_default() {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cookie::{CookieConfig, KeyRing, SameSite};
    use crate::id::SessionId;
    use alloc::format;
    use core::time::Duration;
    use rand_chacha::rand_core::SeedableRng;

    fn id() -> SessionId {
        SessionId::generate(&mut rand_chacha::ChaCha20Rng::seed_from_u64(11))
    }

    fn session(id: &SessionId) -> CookieUpdate {
        CookieUpdate::Set {
            id: id.clone(),
            max_age: None,
        }
    }

    const NOW: Timestamp = Timestamp::from_unix_secs(784_111_777);

    #[test]
    fn defaults() {
        let s = CookieConfig::new().build().unwrap();
        let id = id();
        let value = id.encode();
        assert_eq!(
            s.set_cookie(&session(&id), NOW),
            format!(
                "sessio={}; Path=/; Secure; HttpOnly; SameSite=Lax",
                value.as_str()
            )
        );
    }

    #[test]
    fn removal() {
        let s = CookieConfig::new().build().unwrap();
        assert_eq!(
            s.set_cookie(&CookieUpdate::Remove, NOW),
            "sessio=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; \
             HttpOnly; SameSite=Lax"
        );
    }

    #[test]
    fn persistent() {
        let s = CookieConfig::new().build().unwrap();
        let id = id();
        let update = CookieUpdate::Set {
            id: id.clone(),
            max_age: Some(Duration::from_millis(3_600_999)),
        };
        assert_eq!(
            s.set_cookie(&update, NOW),
            format!(
                "sessio={}; Path=/; Max-Age=3600; Expires=Sun, 06 Nov 1994 09:49:37 GMT; \
                 Secure; HttpOnly; SameSite=Lax",
                id.encode().as_str()
            )
        );
        // Absurd lifetimes clamp the date, not the header.
        let forever = CookieUpdate::Set {
            id,
            max_age: Some(Duration::MAX),
        };
        let header = s.set_cookie(&forever, NOW);
        assert!(
            header.contains(&format!("; Max-Age={}; ", u64::MAX)),
            "{header}"
        );
        assert!(
            header.contains("Expires=Fri, 31 Dec 9999 23:59:59 GMT"),
            "{header}"
        );
    }

    #[test]
    fn every_attribute_in_order() {
        let s = CookieConfig::new()
            .name("__Secure-sid")
            .path("/app")
            .domain(".example.com")
            .same_site(SameSite::None)
            .partitioned(true)
            .build()
            .unwrap();
        let update = CookieUpdate::Set {
            id: id(),
            max_age: Some(Duration::from_secs(60)),
        };
        let header = s.set_cookie(&update, Timestamp::UNIX_EPOCH);
        let attributes = header.split_once("; ").unwrap().1;
        assert_eq!(
            attributes,
            "Path=/app; Domain=example.com; Max-Age=60; Expires=Thu, 01 Jan 1970 00:01:00 GMT; \
             Secure; HttpOnly; SameSite=None; Partitioned"
        );
        assert_eq!(
            s.set_cookie(&CookieUpdate::Remove, NOW),
            "__Secure-sid=; Path=/app; Domain=example.com; Max-Age=0; \
             Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; SameSite=None; Partitioned"
        );
    }

    #[test]
    fn flags_off() {
        let s = CookieConfig::new()
            .secure(false)
            .http_only(false)
            .same_site(SameSite::Strict)
            .build()
            .unwrap();
        let header = s.set_cookie(&session(&id()), NOW);
        assert!(header.ends_with("; Path=/; SameSite=Strict"), "{header}");
    }

    #[test]
    fn signed_value_shape() {
        let s = CookieConfig::new()
            .signing_keys(KeyRing::new([1; 32]))
            .build()
            .unwrap();
        let id = id();
        let header = s.set_cookie(&session(&id), NOW);
        let value = header
            .strip_prefix("sessio=")
            .and_then(|rest| rest.split(';').next())
            .unwrap();
        assert_eq!(value.len(), 87);
        let (plain, tag) = value.split_once('.').unwrap();
        assert_eq!(plain, id.encode().as_str());
        assert!(SessionId::parse(tag.as_bytes()).is_ok());
        // Removal carries no value, signed or not.
        assert!(s
            .set_cookie(&CookieUpdate::Remove, NOW)
            .starts_with("sessio=; "));
    }

    #[test]
    fn appends_to_the_buffer() {
        let s = CookieConfig::new().build().unwrap();
        let mut out = String::from("prefix|");
        s.write_set_cookie(&CookieUpdate::Remove, NOW, &mut out);
        assert!(out.starts_with("prefix|sessio=; "));
    }

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 99, 100, 604_800, u64::MAX] {
            let mut out = String::new();
            push_decimal(n, &mut out);
            assert_eq!(out, format!("{n}"));
        }
    }
}
