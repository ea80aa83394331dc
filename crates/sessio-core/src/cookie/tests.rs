//! Tests of cookie configuration and `Set-Cookie` building.

use super::*;
use alloc::format;
use alloc::string::ToString;

fn err(config: CookieConfig) -> CookieConfigError {
    config.build().unwrap_err()
}

#[test]
fn defaults_are_the_safe_ones() {
    let s = CookieConfig::new().build().unwrap();
    assert_eq!(s.name(), "sessio");
    assert_eq!(s.path(), "/");
    assert_eq!(s.domain(), None);
    assert!(s.is_secure() && s.is_http_only());
    assert_eq!(s.same_site(), SameSite::Lax);
    assert!(!s.is_partitioned() && !s.is_signed());
}

#[test]
fn names_must_be_tokens() {
    assert_eq!(
        err(CookieConfig::new().name("")),
        CookieConfigError::EmptyName
    );
    for bad in [
        "a b", "a;b", "a=b", "a,b", "\"a\"", "a\tb", "sé", "a\u{7f}", "(a)", "a/b",
    ] {
        assert_eq!(
            err(CookieConfig::new().name(bad)),
            CookieConfigError::InvalidName {
                name: String::from(bad)
            },
            "{bad:?}"
        );
    }
    for good in ["a", "SID", "!#$%&'*+-.^_`|~09azAZ"] {
        assert_eq!(CookieConfig::new().name(good).build().unwrap().name(), good);
    }
}

#[test]
fn paths() {
    assert_eq!(
        err(CookieConfig::new().path("app")),
        CookieConfigError::PathNotAbsolute {
            path: String::from("app")
        }
    );
    assert_eq!(
        err(CookieConfig::new().path("")),
        CookieConfigError::PathNotAbsolute {
            path: String::new()
        }
    );
    for bad in ["/a;b", "/a\nb", "/a\0", "/é", "/\u{7f}"] {
        assert_eq!(
            err(CookieConfig::new().path(bad)),
            CookieConfigError::InvalidPath {
                path: String::from(bad)
            },
            "{bad:?}"
        );
    }
    let s = CookieConfig::new().path("/app/v1 beta").build().unwrap();
    assert_eq!(s.path(), "/app/v1 beta");
}

#[test]
fn domains() {
    let domain = |d: &str| {
        CookieConfig::new()
            .domain(d)
            .build()
            .map(|s| s.domain().map(String::from))
    };
    assert_eq!(domain("example.com"), Ok(Some(String::from("example.com"))));
    // One leading dot is stripped; browsers ignore it anyway.
    assert_eq!(
        domain(".example.com"),
        Ok(Some(String::from("example.com")))
    );
    assert_eq!(
        domain("a-b.c0.EXAMPLE"),
        Ok(Some(String::from("a-b.c0.EXAMPLE")))
    );
    assert_eq!(domain("127.0.0.1"), Ok(Some(String::from("127.0.0.1"))));
    assert_eq!(domain(""), Err(CookieConfigError::EmptyDomain));
    assert_eq!(domain("."), Err(CookieConfigError::EmptyDomain));
    let long_label = "a".repeat(64);
    let long_name = ["abc"; 64].join(".");
    for bad in [
        "..example.com",
        "example..com",
        "example.com.",
        "exa mple.com",
        "example.com;x=y",
        "exämple.com",
        "-example.com",
        "example-.com",
        "ex_ample.com",
        "example.com:8080",
        "[::1]",
        long_label.as_str(),
        long_name.as_str(),
    ] {
        assert_eq!(
            domain(bad),
            Err(CookieConfigError::InvalidDomain {
                domain: String::from(bad)
            }),
            "{bad:?}"
        );
    }
}

#[test]
fn secure_prefix_in_any_case() {
    for name in ["__Secure-sid", "__secure-sid", "__SECURE-sid"] {
        assert_eq!(
            err(CookieConfig::new().name(name).secure(false)),
            CookieConfigError::PrefixRequiresSecure {
                name: String::from(name)
            }
        );
        let ok = CookieConfig::new()
            .name(name)
            .path("/app")
            .domain("example.com");
        assert!(ok.build().is_ok(), "{name}");
    }
    // Not a prefix: missing dash, or not at the start.
    assert!(CookieConfig::new()
        .name("__Secure")
        .secure(false)
        .build()
        .is_ok());
    assert!(CookieConfig::new()
        .name("x__Secure-a")
        .secure(false)
        .build()
        .is_ok());
}

#[test]
fn host_prefix_in_any_case() {
    for name in ["__Host-sid", "__host-sid", "__HOST-sid", "__hOsT-"] {
        assert_eq!(
            err(CookieConfig::new().name(name).secure(false)),
            CookieConfigError::PrefixRequiresSecure {
                name: String::from(name)
            }
        );
        assert_eq!(
            err(CookieConfig::new().name(name).path("/app")),
            CookieConfigError::HostPrefixRequiresRootPath {
                path: String::from("/app")
            }
        );
        assert_eq!(
            err(CookieConfig::new().name(name).domain(".example.com")),
            CookieConfigError::HostPrefixForbidsDomain {
                domain: String::from("example.com")
            }
        );
        assert!(CookieConfig::new().name(name).build().is_ok(), "{name}");
    }
}

#[test]
fn same_site_none_and_partitioned_need_secure() {
    assert_eq!(
        err(CookieConfig::new().same_site(SameSite::None).secure(false)),
        CookieConfigError::SameSiteNoneRequiresSecure
    );
    assert!(CookieConfig::new()
        .same_site(SameSite::None)
        .build()
        .is_ok());
    assert!(CookieConfig::new()
        .same_site(SameSite::Strict)
        .secure(false)
        .build()
        .is_ok());
    assert_eq!(
        err(CookieConfig::new().partitioned(true).secure(false)),
        CookieConfigError::PartitionedRequiresSecure
    );
    assert!(CookieConfig::new()
        .partitioned(true)
        .build()
        .unwrap()
        .is_partitioned());
}

#[test]
fn errors_name_the_value() {
    let shown = err(CookieConfig::new().name("bad name\n")).to_string();
    assert!(shown.contains("\"bad name\\n\""), "{shown}");
    let shown = err(CookieConfig::new().domain("ex ample")).to_string();
    assert!(shown.contains("\"ex ample\""), "{shown}");
    let shown = err(CookieConfig::new().name("__Host-x").path("/a")).to_string();
    assert!(shown.contains("\"/a\""), "{shown}");
    for e in [
        CookieConfigError::EmptyName,
        CookieConfigError::EmptyDomain,
        CookieConfigError::SameSiteNoneRequiresSecure,
        CookieConfigError::PartitionedRequiresSecure,
        CookieConfigError::NoSigningKeys,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

#[test]
fn debug_never_shows_keys() {
    let key = [0xA5; 32];
    let config = CookieConfig::new().signing_keys(KeyRing::new(key));
    let settings = config.clone().build().unwrap();
    for shown in [format!("{config:?}"), format!("{settings:?}")] {
        assert!(shown.contains("KeyRing { keys: 1, .. }"), "{shown}");
        assert!(!shown.contains("165"), "{shown}");
        assert!(!shown.to_lowercase().contains("a5"), "{shown}");
    }
    assert!(settings.is_signed());
}
