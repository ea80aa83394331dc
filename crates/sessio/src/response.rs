//! The headers a session adds to a response, and the rules for adding them, written once
//! here so that every adapter only moves them into its framework's header map.

/// What the end of a request's session adds to the response.
///
/// `Debug` says whether a cookie is set, never its value: the value is the session id.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionResponse {
    used: bool,
    set_cookie: Option<String>,
}

impl std::fmt::Debug for SessionResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cookie = match &self.set_cookie {
            None => "none",
            Some(c) if c.contains("Max-Age=0") => "removal",
            Some(_) => "session cookie (value hidden)",
        };
        f.debug_struct("SessionResponse")
            .field("used", &self.used)
            .field("set_cookie", &cookie)
            .finish()
    }
}

impl SessionResponse {
    pub(crate) fn untouched() -> Self {
        SessionResponse {
            used: false,
            set_cookie: None,
        }
    }

    pub(crate) fn used(set_cookie: Option<String>) -> Self {
        SessionResponse {
            used: true,
            set_cookie,
        }
    }

    /// The `Set-Cookie` value to append, if any.
    pub fn set_cookie(&self) -> Option<&str> {
        self.set_cookie.as_deref()
    }

    /// Whether the handler used the session: the response then depends on the `Cookie`
    /// header and must say so with `Vary: Cookie`.
    pub fn used_session(&self) -> bool {
        self.used
    }

    /// Applies the headers to a response: appends `Set-Cookie` (never replacing cookies
    /// the handler or other middleware set), adds `Cookie` to `Vary` when the session was
    /// used, and keeps shared caches from storing a response that sets the session cookie
    /// (`Cache-Control: private`, keeping the handler's other directives; `public` and
    /// `s-maxage` are dropped because they contradict it).
    pub fn apply_to<H: HeaderAccess + ?Sized>(&self, headers: &mut H) {
        if let Some(cookie) = &self.set_cookie {
            headers.append(SessionHeader::SetCookie, cookie.clone());
            let mut existing = Vec::new();
            headers.any_value(SessionHeader::CacheControl, &mut |value| {
                existing.push(value.to_owned());
                false
            });
            if let Some(value) = private_cache_control(&existing) {
                headers.replace(SessionHeader::CacheControl, value);
            }
        }
        if self.used {
            // Every response that read the session answers this: checked without copying
            // a header, and `Vary: Cookie` added from a static string.
            let covered = headers.any_value(SessionHeader::Vary, &mut |value| {
                value
                    .split(',')
                    .map(str::trim)
                    .any(|t| t == "*" || t.eq_ignore_ascii_case("cookie"))
            });
            if !covered {
                headers.append_static(SessionHeader::Vary, "Cookie");
            }
        }
    }
}

/// `Cache-Control` for a response that sets the session cookie, given the values the
/// response already has; `None` when they already keep shared caches out.
fn private_cache_control(existing: &[String]) -> Option<String> {
    let directives: Vec<&str> = existing
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .collect();
    let name = |d: &str| {
        d.split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    if directives
        .iter()
        .any(|d| matches!(name(d).as_str(), "private" | "no-store"))
    {
        return None;
    }
    let mut out = String::from("private");
    for d in directives {
        if !matches!(name(d).as_str(), "public" | "s-maxage") {
            out.push_str(", ");
            out.push_str(d);
        }
    }
    Some(out)
}

/// The response headers [`SessionResponse::apply_to`] reads or writes. A closed set, so
/// that a header map with predefined names (`http`'s, actix's) uses them instead of
/// parsing a name on every response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionHeader {
    /// `set-cookie`: the session cookie, or its removal.
    SetCookie,
    /// `cache-control`: made `private` whenever a cookie is set.
    CacheControl,
    /// `vary`: `Cookie`, on every response that read the session.
    Vary,
}

impl SessionHeader {
    /// The header's name, lowercase.
    pub const fn as_str(self) -> &'static str {
        match self {
            SessionHeader::SetCookie => "set-cookie",
            SessionHeader::CacheControl => "cache-control",
            SessionHeader::Vary => "vary",
        }
    }
}

impl std::fmt::Display for SessionHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The little a response's header map must offer for [`SessionResponse::apply_to`].
/// Implemented here for `http::HeaderMap`; adapters for frameworks with their own header
/// types implement it in a few lines.
pub trait HeaderAccess {
    /// Calls `matches` with each value of header `name` that is valid text, until it
    /// returns `true`; returns whether one did. A callback rather than a list, so that the
    /// common check (is `Vary: Cookie` already there?) copies nothing.
    fn any_value(&self, name: SessionHeader, matches: &mut dyn FnMut(&str) -> bool) -> bool;
    /// Appends a value, keeping existing ones.
    fn append(&mut self, name: SessionHeader, value: String);
    /// Appends a value known when compiling; maps that can hold a static value without
    /// copying it override this.
    fn append_static(&mut self, name: SessionHeader, value: &'static str) {
        self.append(name, value.to_owned());
    }
    /// Replaces all values with one.
    fn replace(&mut self, name: SessionHeader, value: String);
}

/// Whether `value` is a header value as it stands: visible ASCII, spaces and tabs. Header
/// maps that take a `&'static str` without copying it (and panic on anything else) check
/// this first, in [`HeaderAccess::append_static`].
pub fn is_plain_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// `http`'s predefined name for `name`: no parsing, and a precomputed hash.
fn http_name(name: SessionHeader) -> http::HeaderName {
    match name {
        SessionHeader::SetCookie => http::header::SET_COOKIE,
        SessionHeader::CacheControl => http::header::CACHE_CONTROL,
        SessionHeader::Vary => http::header::VARY,
    }
}

impl HeaderAccess for http::HeaderMap {
    fn any_value(&self, name: SessionHeader, matches: &mut dyn FnMut(&str) -> bool) -> bool {
        http::HeaderMap::get_all(self, http_name(name))
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(matches)
    }

    fn append(&mut self, name: SessionHeader, value: String) {
        if let Ok(value) = http::HeaderValue::try_from(value) {
            http::HeaderMap::append(self, http_name(name), value);
        }
    }

    fn append_static(&mut self, name: SessionHeader, value: &'static str) {
        // `from_static` would panic on a byte a header value cannot hold; such a value is
        // dropped, as `append` drops one.
        if is_plain_header_value(value) {
            http::HeaderMap::append(self, http_name(name), http::HeaderValue::from_static(value));
        }
    }

    fn replace(&mut self, name: SessionHeader, value: String) {
        if let Ok(value) = http::HeaderValue::try_from(value) {
            self.insert(http_name(name), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_rules() {
        assert_eq!(private_cache_control(&[]), Some("private".into()));
        assert_eq!(private_cache_control(&["no-store".into()]), None);
        assert_eq!(private_cache_control(&["Private, max-age=5".into()]), None);
        assert_eq!(
            private_cache_control(&["public, max-age=60, s-maxage=600".into()]),
            Some("private, max-age=60".into())
        );
    }

    #[test]
    fn http_names_are_the_header_names() {
        for name in [
            SessionHeader::SetCookie,
            SessionHeader::CacheControl,
            SessionHeader::Vary,
        ] {
            assert_eq!(http_name(name).as_str(), name.as_str());
        }
    }

    #[test]
    fn applies_headers_without_replacing_cookies() {
        let mut headers = http::HeaderMap::new();
        headers.append("set-cookie", http::HeaderValue::from_static("theme=dark"));
        headers.append("vary", http::HeaderValue::from_static("Accept-Encoding"));
        SessionResponse::used(Some("sessio=x; Path=/".into())).apply_to(&mut headers);
        let cookies: Vec<_> = headers.get_all("set-cookie").iter().collect();
        assert_eq!(cookies.len(), 2);
        assert_eq!(headers.get_all("vary").iter().count(), 2);
        assert_eq!(headers["cache-control"], "private");

        let mut again = http::HeaderMap::new();
        again.append("vary", http::HeaderValue::from_static("cookie"));
        SessionResponse::used(None).apply_to(&mut again);
        assert_eq!(again.get_all("vary").iter().count(), 1);
        assert!(again.get("cache-control").is_none());

        let mut headers = http::HeaderMap::new();
        headers.append_static(SessionHeader::Vary, "Cookie\n");
        assert!(
            headers.is_empty(),
            "an invalid value is dropped, not a panic"
        );

        let mut untouched = http::HeaderMap::new();
        SessionResponse::untouched().apply_to(&mut untouched);
        assert!(untouched.is_empty());
    }
}
