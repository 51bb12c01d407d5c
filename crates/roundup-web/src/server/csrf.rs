//! The header half of Roundup's CSRF defence for POSTs: Referer, Origin,
//! X-Forwarded-Host and Host must point at this tracker, each as strictly
//! as its `[web] csrf_enforce_header_*` option says, and at least
//! `csrf_header_min_count` of them must pass.

use super::client::Flow;
use super::reply::Incoming;
use super::settings::{Enforce, WebSettings};

fn fail(
    enforce: Enforce,
    userid: &str,
    what: &str,
    value: &str,
    message: String,
) -> Result<(), Flow> {
    match enforce {
        Enforce::Yes | Enforce::Required => {
            eprintln!(
                "roundup-server: csrf {what} header check failed for user{userid}. Value={value}"
            );
            Err(Flow::Unauthorised(message))
        }
        Enforce::LogFailure => {
            eprintln!("roundup-server: csrf {what} header check failed for user{userid}. Value={value} (logged only)");
            Ok(())
        }
        Enforce::No => Ok(()),
    }
}

/// `scheme://host/` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    Some(format!("{scheme}://{host}/"))
}

/// `://host/` appears right after the scheme of `base`.
fn host_matches(base: &str, host: &str) -> bool {
    let needle = format!("://{host}/");
    matches!(base.find(&needle), Some(4) | Some(5))
}

pub fn check_headers(
    s: &WebSettings,
    inc: &Incoming,
    base: &str,
    userid: &str,
) -> Result<(), Flow> {
    for (name, enforce) in [
        ("origin", s.csrf_origin),
        ("referer", s.csrf_referer),
        ("x-forwarded-host", s.csrf_x_forwarded_host),
        ("host", s.csrf_host),
    ] {
        if enforce == Enforce::Required && inc.header(name).is_none() {
            eprintln!("roundup-server: csrf header {name} required but missing for user{userid}.");
            return Err(Flow::Unauthorised(format!(
                "Missing header: {}",
                name.to_uppercase()
            )));
        }
    }
    let mut passed = 0u64;
    if let Some(referer) = inc.header("referer") {
        if s.csrf_referer != Enforce::No {
            if origin_of(referer).is_some_and(|o| base.starts_with(&o)) {
                passed += 1;
            } else {
                fail(
                    s.csrf_referer,
                    userid,
                    "Referer",
                    referer,
                    format!("Invalid Referer: {referer}"),
                )?;
            }
        }
    }
    if let Some(origin) = inc.header("origin") {
        if s.csrf_origin != Enforce::No {
            if base.starts_with(&format!("{origin}/")) {
                passed += 1;
            } else {
                fail(
                    s.csrf_origin,
                    userid,
                    "Origin",
                    origin,
                    format!("Invalid Origin {origin}"),
                )?;
            }
        }
    }
    if let Some(xfh) = inc.header("x-forwarded-host") {
        if s.csrf_x_forwarded_host != Enforce::No {
            if host_matches(base, xfh) {
                passed += 1;
            } else {
                fail(
                    s.csrf_x_forwarded_host,
                    userid,
                    "X-FORWARDED-HOST",
                    xfh,
                    format!("Invalid X-FORWARDED-HOST {xfh}"),
                )?;
            }
        }
    } else if let Some(host) = inc.header("host") {
        if s.csrf_host != Enforce::No {
            if host_matches(base, host) {
                passed += 1;
            } else {
                fail(
                    s.csrf_host,
                    userid,
                    "HOST",
                    host,
                    format!("Invalid HOST {host}"),
                )?;
            }
        }
    }
    if passed < s.csrf_header_min_count {
        eprintln!("roundup-server: csrf: unable to verify sufficient headers for user{userid}");
        return Err(Flow::BadRequest(
            "Unable to verify sufficient headers".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_hosts() {
        assert_eq!(
            origin_of("http://h:1/demo/issue?x=1").as_deref(),
            Some("http://h:1/")
        );
        assert!(host_matches("http://h:1/demo/", "h:1"));
        assert!(host_matches("https://h:1/demo/", "h:1"));
        assert!(!host_matches("http://evil/h:1/", "h:1"));
        assert!(!host_matches("http://h:12/", "h:1"));
    }
}
