//! Request hardening: the `Host` check against `TRUSTED_HOSTS`, the optional HTTPS redirect,
//! the security headers on every response, and `Cache-Control: no-store` on every API
//! response.
//!
//! - The `Host` header is parsed strictly ([`Host::parse`]): a host name, an IPv4 address or a
//!   bracketed IPv6 address, then optionally `:` and a port (1–65535). Anything else — userinfo
//!   (`localhost:8000@evil.com`), a bad or empty port, a bare IPv6 address, whitespace or any
//!   other character — is a 400 problem `invalid_host`, whatever `TRUSTED_HOSTS` says. A
//!   well-formed host outside `TRUSTED_HOSTS` is the same 400. Entries are host names
//!   (compared without the port, case-insensitively), `*.example.com` for any subdomain, or
//!   `*` for any host. The operational routes (those the route table marks operational:
//!   `/health`, `/ready`, `/metrics`) are exempt: probes and scrapers address pods by IP.
//! - With `SECURITY_HTTPS_REDIRECT`, a request that did not arrive over HTTPS (here or, per
//!   [`crate::client_addr`], at a trusted proxy) is redirected with 308 to the same URL on
//!   `https://` — operational routes again exempt.
//! - Every response carries `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy`,
//!   `Cross-Origin-Opener-Policy`, `Cross-Origin-Resource-Policy` and the CSP (unless
//!   disabled), and `Strict-Transport-Security` when enabled and the request was HTTPS (RFC
//!   6797 forbids it over plain HTTP). A handler that sets one of these itself keeps its value.
//! - Every response under `/api` is `Cache-Control: no-store` + `Pragma: no-cache`: those
//!   responses carry tokens (login, refresh, OAuth callbacks) or one user's data, and no cache
//!   between client and server may keep them. Every API route declares it (the per-route layer
//!   sets it), and this middleware sets it on every other answer under `/api` (unknown path,
//!   wrong method, payload too large). The path it reads is the canonical one
//!   ([`crate::middleware::canonical_path`] runs first), so no spelling escapes it.

use crate::client_addr;
use crate::middleware::{Served, problem_response};
use crate::problem::Problem;
use actix_web::dev::ServiceRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::{HttpResponse, web};
use std::future::Future;

/// The Content-Security-Policy: same-origin everything; inline styles (Swagger UI and ReDoc
/// set style attributes), `data:` images and fonts (icons embedded in their CSS) and `blob:`
/// workers (ReDoc's search) — no inline or remote script, no framing.
pub const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// Allowed `Host` values.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedHosts {
    any: bool,
    exact: Vec<String>,
    /// `.example.com` for `*.example.com`.
    suffixes: Vec<String>,
}

fn normalise_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// A well-formed `Host` header value: a name or address, and an optional port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Lower-case, without a trailing dot; an IPv6 address without its brackets.
    name: String,
    ipv6: bool,
    port: Option<u16>,
}

impl Host {
    /// Parses a `Host` value strictly (see the module docs); `None` when it is malformed.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let (name, ipv6, port) = if let Some(rest) = value.strip_prefix('[') {
            let (address, after) = rest.split_once(']')?;
            address.parse::<std::net::Ipv6Addr>().ok()?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':')?),
            };
            (address, true, port)
        } else {
            match value.split_once(':') {
                Some((name, port)) => (name, false, Some(port)),
                None => (value, false, None),
            }
        };
        let port = match port {
            None => None,
            Some(digits) => {
                if digits.is_empty()
                    || digits.len() > 5
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return None;
                }
                Some(digits.parse::<u16>().ok().filter(|p| *p != 0)?)
            }
        };
        let valid_name = ipv6
            || (!name.is_empty()
                && name.len() <= 253
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'));
        valid_name.then(|| Self {
            name: normalise_host(name),
            ipv6,
            port,
        })
    }

    /// The host name (lower-case; an IPv6 address without brackets).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host as it goes in a URL, without the port (`[::1]` for IPv6).
    #[must_use]
    pub fn url_host(&self) -> String {
        if self.ipv6 {
            format!("[{}]", self.name)
        } else {
            self.name.clone()
        }
    }

    /// The host and port as they go in a URL (`example.com:8443`, `[::1]:8000`).
    #[must_use]
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.url_host()),
            None => self.url_host(),
        }
    }
}

/// The host name of a `TRUSTED_HOSTS` entry (a port, if given, is ignored).
fn pattern_name(pattern: &str) -> String {
    Host::parse(pattern).map_or_else(|| normalise_host(pattern), |h| h.name)
}

impl TrustedHosts {
    /// Allows `patterns` (see the module docs).
    #[must_use]
    pub fn new(patterns: &[String]) -> Self {
        let mut hosts = Self::default();
        for pattern in patterns {
            let pattern = pattern.trim();
            if pattern == "*" {
                hosts.any = true;
            } else if let Some(domain) = pattern.strip_prefix("*.") {
                hosts.suffixes.push(format!(".{}", normalise_host(domain)));
            } else {
                hosts.exact.push(pattern_name(pattern));
            }
        }
        hosts
    }

    /// Whether a request with this `Host` value is served: a well-formed host (see
    /// [`Host::parse`]) that the patterns allow.
    #[must_use]
    pub fn allows(&self, host: &str) -> bool {
        Host::parse(host).is_some_and(|host| self.allows_host(&host))
    }

    /// Whether the patterns allow this host.
    #[must_use]
    pub fn allows_host(&self, host: &Host) -> bool {
        let name = host.name();
        self.any
            || self.exact.iter().any(|e| e == name)
            || self.suffixes.iter().any(|s| name.ends_with(s.as_str()))
    }
}

/// What [`harden`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardeningSettings {
    /// Allowed `Host` values.
    pub trusted_hosts: TrustedHosts,
    /// Send the security headers.
    pub headers: bool,
    /// The Content-Security-Policy, if any.
    pub csp: Option<String>,
    /// HSTS `max-age`, when HSTS is on.
    pub hsts_max_age: Option<u64>,
    /// Redirect plain HTTP to HTTPS.
    pub https_redirect: bool,
}

impl Default for HardeningSettings {
    fn default() -> Self {
        Self {
            trusted_hosts: TrustedHosts::new(&["*".to_owned()]),
            headers: true,
            csp: Some(DEFAULT_CSP.to_owned()),
            hsts_max_age: None,
            https_redirect: false,
        }
    }
}

fn request_host(req: &ServiceRequest) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

const COOP: HeaderName = HeaderName::from_static("cross-origin-opener-policy");
const CORP: HeaderName = HeaderName::from_static("cross-origin-resource-policy");

/// Sets `name` to `value` unless the response already has `name`, whose values then stay.
///
/// Inserts first and puts a handler's own values back in the rare case there were any: one
/// hash-map lookup per header on every response instead of two (a `contains_key` then an
/// `insert`).
fn insert_absent(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    let mut own = headers.insert(name.clone(), value);
    if let Some(first) = own.next() {
        headers.insert(name.clone(), first);
        for more in own {
            headers.append(name.clone(), more);
        }
    }
}

/// [`HardeningSettings`] with its response headers made once, for every response of an app.
#[derive(Debug)]
pub(crate) struct Hardening {
    settings: HardeningSettings,
    /// The security headers every response carries (empty when they are off).
    headers: Vec<(HeaderName, HeaderValue)>,
    /// `Strict-Transport-Security`, for responses to HTTPS requests, when HSTS is on.
    hsts: Option<HeaderValue>,
}

impl Hardening {
    pub(crate) fn new(settings: HardeningSettings) -> Self {
        let mut headers = Vec::new();
        if settings.headers {
            headers.extend(
                [
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    (header::X_FRAME_OPTIONS, "DENY"),
                    (header::REFERRER_POLICY, "no-referrer"),
                    (COOP, "same-origin"),
                    (CORP, "same-origin"),
                ]
                .map(|(name, value)| (name, HeaderValue::from_static(value))),
            );
            if let Some(csp) = settings
                .csp
                .as_deref()
                .and_then(|c| HeaderValue::from_str(c).ok())
            {
                headers.push((header::CONTENT_SECURITY_POLICY, csp));
            }
        }
        let hsts = settings.hsts_max_age.and_then(|max_age| {
            HeaderValue::from_str(&format!("max-age={max_age}; includeSubDomains")).ok()
        });
        Self {
            settings,
            headers,
            hsts,
        }
    }

    fn apply(&self, headers: &mut HeaderMap, secure: bool) {
        for (name, value) in &self.headers {
            insert_absent(headers, name.clone(), value.clone());
        }
        if let (Some(hsts), true) = (&self.hsts, secure) {
            insert_absent(headers, header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
    }
}

fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// Applies the host check, the HTTPS redirect and the response headers (see the module docs).
pub async fn harden<Fut: Future<Output = Served>>(
    req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    let hardening = req
        .app_data::<web::Data<Hardening>>()
        .cloned()
        .unwrap_or_else(|| web::Data::new(Hardening::new(HardeningSettings::default())));
    let settings = &hardening.settings;
    let secure = client_addr::of(req.request()).secure;
    let operational =
        crate::routes::table::operational_paths().contains(&req.path().trim_end_matches('/'));
    // Operational routes are exempt from the check and the redirect: their host is not read.
    let host = if operational {
        None
    } else {
        request_host(&req).and_then(Host::parse)
    };
    if !operational
        && !host
            .as_ref()
            .is_some_and(|h| settings.trusted_hosts.allows_host(h))
    {
        let problem = Problem::new(
            StatusCode::BAD_REQUEST,
            crate::error_code::ErrorCode::InvalidHost,
            "Invalid host header",
        );
        let mut res = problem_response(&req, &problem, HttpResponse::BadRequest().finish());
        hardening.apply(res.headers_mut(), secure);
        return Ok(req.into_response(res));
    }
    if settings.https_redirect && !secure && !operational {
        let path_and_query = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        let location = format!(
            "https://{}{path_and_query}",
            host.as_ref().map(Host::url_host).unwrap_or_default()
        );
        let mut res = HttpResponse::PermanentRedirect();
        if let Ok(location) = HeaderValue::from_str(&location) {
            res.insert_header((header::LOCATION, location));
        }
        let mut res = res.finish();
        hardening.apply(res.headers_mut(), secure);
        return Ok(req.into_response(res));
    }
    let api = is_api_path(req.path());
    let mut res = inner(req).await?;
    let headers = res.headers_mut();
    hardening.apply(headers, secure);
    if api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(patterns: &[&str]) -> TrustedHosts {
        let patterns: Vec<String> = patterns.iter().map(|s| (*s).to_owned()).collect();
        TrustedHosts::new(&patterns)
    }

    #[test]
    fn a_header_the_response_has_keeps_its_values_and_a_missing_one_is_set() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        );
        headers.insert(CORP, HeaderValue::from_static("cross-origin"));
        headers.append(CORP, HeaderValue::from_static("same-site"));
        insert_absent(
            &mut headers,
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        );
        insert_absent(&mut headers, CORP, HeaderValue::from_static("same-origin"));
        insert_absent(&mut headers, COOP, HeaderValue::from_static("same-origin"));
        let values = |name: &HeaderName| -> Vec<&str> {
            headers
                .get_all(name)
                .map(|v| v.to_str().expect("ascii"))
                .collect()
        };
        assert_eq!(values(&header::X_FRAME_OPTIONS), ["SAMEORIGIN"]);
        assert_eq!(values(&CORP), ["cross-origin", "same-site"]);
        assert_eq!(values(&COOP), ["same-origin"]);
    }

    #[test]
    fn hosts_match_by_name_without_port() {
        let h = hosts(&[
            "localhost",
            "127.0.0.1",
            "API.example.com",
            "*.apps.test",
            "[::1]",
        ]);
        for ok in [
            "localhost",
            "localhost:8000",
            "127.0.0.1:1",
            "api.example.com",
            "Api.Example.Com.",
            "x.apps.test",
            "a.b.apps.test:443",
            "[::1]:8000",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for refused in [
            "evil.test",
            "apps.test",
            "example.com",
            "",
            "localhost.evil.test",
        ] {
            assert!(!h.allows(refused), "{refused}");
        }
        assert!(hosts(&["*"]).allows("anything"));
    }

    #[test]
    fn the_csp_is_the_agreed_one() {
        assert!(DEFAULT_CSP.contains("script-src 'self';"));
        assert!(DEFAULT_CSP.ends_with("object-src 'none'"));
        assert!(!DEFAULT_CSP.contains("unsafe-eval"));
        assert!(!DEFAULT_CSP.contains("  "));
    }
}
