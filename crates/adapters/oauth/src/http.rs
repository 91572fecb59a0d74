//! The one HTTP client every provider uses: a timeout on every request, the production address
//! policy, error classification, and the adapter that lets `openidconnect` send its
//! requests through it.

use crate::HttpOptions;
use keel_ports::ProviderError;
use openidconnect::url::{Host, Url};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// How much of an unexpected answer is kept in an error message (characters).
const ERROR_BODY_CHARS: usize = 200;

/// Why a request was not answered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The URL breaks the address policy (production: https only, no loopback/private hosts).
    #[error("refused URL {url}: {reason}")]
    Refused {
        /// The refused URL.
        url: String,
        /// Why.
        reason: &'static str,
    },
    /// Connecting, sending or reading failed, or the timeout elapsed.
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The URL of the request.
        url: String,
        /// The client's error.
        #[source]
        source: reqwest::Error,
    },
}

impl HttpError {
    /// Every transport failure and every refused URL means the provider cannot be used.
    pub(crate) fn unreachable(self) -> ProviderError {
        ProviderError::Unreachable(Box::new(self))
    }
}

/// An answer: status and body (already read, within the timeout).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The start of the body, for error messages.
    pub(crate) fn snippet(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(ERROR_BODY_CHARS)
            .collect()
    }
}

/// The shared client.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    allow_insecure: bool,
}

impl Http {
    /// A client with `options.timeout` on every request (connecting included). Outside
    /// `allow_insecure`, names resolving to loopback/private addresses are refused too.
    pub(crate) fn new(options: &HttpOptions) -> Result<Self, reqwest::Error> {
        crate::install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout)
            // Token, JWKS, discovery and profile endpoints answer directly; a redirect could
            // lead a credential-carrying request somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("keel/", env!("CARGO_PKG_VERSION")));
        if !options.allow_insecure {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Self {
            client: builder.build()?,
            allow_insecure: options.allow_insecure,
        })
    }

    /// Checks `url` against the address policy.
    pub(crate) fn check(&self, url: &Url) -> Result<(), HttpError> {
        check_url(url, self.allow_insecure)
    }

    /// Sends `request` (built from this client) after checking its URL, and reads the answer.
    pub(crate) async fn send(&self, request: reqwest::RequestBuilder) -> Result<Answer, HttpError> {
        let request = request.build().map_err(|source| HttpError::Transport {
            url: String::new(),
            source,
        })?;
        let url = request.url().clone();
        self.check(&url)?;
        let transport = |source| HttpError::Transport {
            url: redacted(&url),
            source,
        };
        let response = self.client.execute(request).await.map_err(transport)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(transport)?.to_vec();
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }

    /// A GET request.
    pub(crate) fn get(&self, url: Url) -> reqwest::RequestBuilder {
        self.client.get(url)
    }

    /// A POST request.
    pub(crate) fn post(&self, url: Url) -> reqwest::RequestBuilder {
        self.client.post(url)
    }

    /// Sends one of `openidconnect`'s requests (discovery, JWKS) through this client.
    pub(crate) async fn call(
        &self,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        let (parts, body) = request.into_parts();
        let url = Url::parse(&parts.uri.to_string()).map_err(|_| HttpError::Refused {
            url: parts.uri.to_string(),
            reason: "not an absolute URL",
        })?;
        let builder = self
            .client
            .request(parts.method, url)
            .headers(parts.headers)
            .body(body);
        let answer = self.send(builder).await?;
        let mut response = openidconnect::http::Response::new(answer.body);
        *response.status_mut() = openidconnect::http::StatusCode::from_u16(answer.status)
            .unwrap_or(openidconnect::http::StatusCode::BAD_GATEWAY);
        if let Some(value) = answer
            .content_type
            .and_then(|text| openidconnect::http::HeaderValue::from_str(&text).ok())
        {
            response
                .headers_mut()
                .insert(openidconnect::http::header::CONTENT_TYPE, value);
        }
        Ok(response)
    }
}

/// The URL without its query (which may carry secrets) for error messages.
fn redacted(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// The address policy of provider endpoints: outside production anything http(s) goes; in production
/// only `https://` to a host that is not `localhost` nor a loopback, private, link-local,
/// unique-local, shared or unspecified address.
pub(crate) fn check_url(url: &Url, allow_insecure: bool) -> Result<(), HttpError> {
    let refuse = |reason| HttpError::Refused {
        url: redacted(url),
        reason,
    };
    match url.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        "http" => return Err(refuse("http:// is refused in production")),
        _ => return Err(refuse("only http(s) URLs are allowed")),
    }
    if allow_insecure {
        return if url.host().is_some() {
            Ok(())
        } else {
            Err(refuse("the URL has no host"))
        };
    }
    match url.host() {
        None => Err(refuse("the URL has no host")),
        Some(Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                Err(refuse("loopback hosts are refused in production"))
            } else {
                Ok(())
            }
        }
        Some(Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => Err(refuse(
            "loopback/private addresses are refused in production",
        )),
        Some(Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => Err(refuse(
            "loopback/private addresses are refused in production",
        )),
        Some(_) => Ok(()),
    }
}

/// Whether `ip` is a globally routable address (not loopback, private, link-local, unique
/// local, carrier-grade shared, documentation, unspecified, broadcast or multicast).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || v6 == Ipv6Addr::LOCALHOST)
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))) // shared address space 100.64.0.0/10
}

/// The production resolver: a name is resolved normally and every non-public address is
/// dropped, so a public name pointing at an internal address is refused as well.
#[derive(Debug)]
struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no public address (refused in production)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL")
    }

    #[test]
    fn production_refuses_http_loopback_and_private_hosts() {
        for bad in [
            "http://accounts.example.com/",
            "https://localhost/x",
            "https://127.0.0.1/x",
            "https://10.1.2.3/",
            "https://192.168.0.1/",
            "https://172.16.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://0.0.0.0/",
            "ftp://example.com/",
        ] {
            assert!(
                check_url(&url(bad), false).is_err(),
                "{bad} must be refused"
            );
        }
        for good in ["https://accounts.google.com/", "https://93.184.216.34/"] {
            assert!(
                check_url(&url(good), false).is_ok(),
                "{good} must be allowed"
            );
        }
    }

    #[test]
    fn outside_production_http_and_loopback_are_allowed() {
        for good in [
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "https://10.0.0.1/",
        ] {
            assert!(
                check_url(&url(good), true).is_ok(),
                "{good} must be allowed"
            );
        }
        assert!(check_url(&url("ftp://127.0.0.1/"), true).is_err());
    }

    #[tokio::test]
    async fn the_production_resolver_drops_loopback_addresses() {
        for host in ["localhost", "127.0.0.1"] {
            let name: Name = host.parse().expect("a host name");
            let resolved = PublicOnlyResolver.resolve(name).await;
            assert!(resolved.is_err(), "{host} must not resolve in production");
        }
    }
}
