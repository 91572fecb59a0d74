//! The client's address and scheme: the socket peer, unless `TRUST_PROXY_HEADERS=true` and the
//! peer is one of `TRUSTED_PROXIES` — then `X-Forwarded-For` is walked from the right, skipping
//! trusted hops, and `X-Forwarded-Proto` says whether the client used HTTPS: the value at the
//! same distance from the right as the client's address (the one the proxy that received the
//! client wrote), never the left-most, which the client can choose.
//!
//! A forwarding header from any other peer changes nothing, so a client cannot choose the
//! address its requests are rate-limited under. [`client_info`] stores the result in the
//! request's extensions as [`ClientInfo`] for everything after it (rate limiting, HTTPS
//! redirect, HSTS, secure cookies).

use crate::middleware::Served;
use actix_web::dev::ServiceRequest;
use actix_web::http::header::{HeaderMap, HeaderName};
use actix_web::{HttpMessage, web};
use ipnet::IpNet;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Where a request came from, as far as this server can trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's address.
    pub address: IpAddr,
    /// Whether the client's connection used HTTPS (here or at a trusted proxy).
    pub secure: bool,
}

/// A `TRUSTED_PROXIES` entry that is neither a CIDR nor an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a CIDR (10.0.0.0/8, fd00::/8) or an IP address")]
pub struct InvalidProxy(pub String);

/// Which peers' forwarding headers count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProxyTrust {
    enabled: bool,
    proxies: Vec<IpNet>,
}

fn unmapped(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

/// An address in a forwarding header: bare, or with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })
        .map(unmapped)
}

impl ProxyTrust {
    /// Trust forwarding headers (when `enabled`) from peers inside `proxies` (CIDRs, or plain
    /// addresses meaning a single host).
    ///
    /// # Errors
    /// [`InvalidProxy`] naming the first entry that is neither.
    pub fn new(enabled: bool, proxies: &[String]) -> Result<Self, InvalidProxy> {
        let proxies = proxies
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| InvalidProxy(entry.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { enabled, proxies })
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = unmapped(address);
        self.proxies.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer` given the request's headers (see the module docs). Without a
    /// peer address (not a TCP connection) the client is `0.0.0.0`.
    #[must_use]
    pub fn resolve(&self, peer: Option<IpAddr>, headers: &HeaderMap, tls: bool) -> ClientInfo {
        let peer = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), unmapped);
        if !(self.enabled && self.trusts(peer)) {
            return ClientInfo {
                address: peer,
                secure: tls,
            };
        }
        let hops: Vec<&str> = headers
            .get_all(X_FORWARDED_FOR)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut address = peer;
        // How many hops from the right the client is: 0 when our peer (a trusted proxy)
        // received the client's own connection.
        let mut depth = 0;
        for (index, hop) in hops.iter().rev().enumerate() {
            // A hop that is not an address was not written by a trusted proxy: stop at the
            // last one we could check.
            let Some(hop) = parse_hop(hop) else { break };
            address = hop;
            depth = index;
            if !self.trusts(hop) {
                break;
            }
        }
        // Proxies append the scheme they received beside the address they received it from,
        // so the client's scheme sits as far from the right of `X-Forwarded-Proto` as the
        // client's address does in `X-Forwarded-For`; a proxy that overwrites the header
        // leaves one value, its own. What a client wrote further left is never read.
        let protos: Vec<&str> = headers
            .get_all(X_FORWARDED_PROTO)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let forwarded_https = protos
            .iter()
            .rev()
            .nth(depth.min(protos.len().saturating_sub(1)))
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
        ClientInfo {
            address,
            secure: tls || forwarded_https,
        }
    }
}

/// The [`ClientInfo`] of a request: the one [`client_info`] stored, or the peer's.
pub fn of(req: &actix_web::HttpRequest) -> ClientInfo {
    req.extensions()
        .get::<ClientInfo>()
        .copied()
        .unwrap_or_else(|| ClientInfo {
            address: req
                .peer_addr()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| unmapped(a.ip())),
            secure: req.app_config().secure(),
        })
}

/// Resolves the client of every request and stores it as [`ClientInfo`].
pub async fn client_info<Fut: Future<Output = Served>>(
    req: ServiceRequest,
    inner: impl FnOnce(ServiceRequest) -> Fut,
) -> Served {
    let trust = req
        .app_data::<web::Data<ProxyTrust>>()
        .cloned()
        .unwrap_or_default();
    // Whether this server terminated TLS itself. (Not `connection_info()`: it believes
    // forwarding headers from anyone.)
    let tls = req.app_config().secure();
    let info = trust.resolve(req.peer_addr().map(|a| a.ip()), req.headers(), tls);
    req.extensions_mut().insert(info);
    inner(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    fn trust(enabled: bool, proxies: &[&str]) -> ProxyTrust {
        let proxies: Vec<String> = proxies.iter().map(|s| (*s).to_owned()).collect();
        ProxyTrust::new(enabled, &proxies).expect("valid")
    }

    #[test]
    fn forwarding_headers_are_ignored_unless_enabled_and_from_a_trusted_peer() {
        let spoofed = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ]);
        let peer = Some(ip("127.0.0.1"));
        let off = trust(false, &["127.0.0.1/32"]).resolve(peer, &spoofed, false);
        assert_eq!(
            off,
            ClientInfo {
                address: ip("127.0.0.1"),
                secure: false
            }
        );
        let untrusted_peer = trust(true, &["10.0.0.0/8"]).resolve(peer, &spoofed, false);
        assert_eq!(untrusted_peer.address, ip("127.0.0.1"));
        assert!(!untrusted_peer.secure);
        let trusted = trust(true, &["127.0.0.1/32"]).resolve(peer, &spoofed, false);
        assert_eq!(
            trusted,
            ClientInfo {
                address: ip("6.6.6.6"),
                secure: true
            }
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let t = trust(true, &["10.0.0.0/8", "::1"]);
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-for", "10.0.0.7 , 10.0.0.8"),
        ]);
        assert_eq!(
            t.resolve(Some(ip("10.0.0.9")), &h, false).address,
            ip("2.2.2.2")
        );
        // Every hop trusted: the farthest one.
        let h = headers(&[("x-forwarded-for", "10.0.0.1, 10.0.0.2")]);
        assert_eq!(
            t.resolve(Some(ip("::1")), &h, false).address,
            ip("10.0.0.1")
        );
        // Garbage stops the walk at the last address that could be checked.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, nonsense, 10.0.0.2")]);
        assert_eq!(
            t.resolve(Some(ip("10.0.0.9")), &h, false).address,
            ip("10.0.0.2")
        );
        // Ports and brackets are tolerated; mapped IPv4 is unmapped.
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443, 3.3.3.3:80")]);
        assert_eq!(
            t.resolve(Some(ip("::ffff:10.1.1.1")), &h, false).address,
            ip("3.3.3.3")
        );
        // No header: the peer.
        assert_eq!(
            t.resolve(Some(ip("10.0.0.9")), &HeaderMap::new(), true),
            ClientInfo {
                address: ip("10.0.0.9"),
                secure: true
            }
        );
    }

    #[test]
    fn the_scheme_is_the_one_the_proxy_that_received_the_client_wrote() {
        let t = trust(true, &["10.0.0.0/8"]);
        let peer = Some(ip("10.0.0.9"));
        let secure =
            |pairs: &[(&'static str, &'static str)]| t.resolve(peer, &headers(pairs), false).secure;
        // A client claiming https in front of a proxy that appends what it saw.
        assert!(!secure(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https, http"),
        ]));
        assert!(!secure(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-proto", "http"),
        ]));
        // One proxy that overwrote the header, or appended to none.
        assert!(secure(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ]));
        // Two trusted proxies: the client reached the first over https, which reached the
        // second over http.
        assert!(secure(&[
            ("x-forwarded-for", "6.6.6.6, 10.0.0.1"),
            ("x-forwarded-proto", "https, http"),
        ]));
        assert!(!secure(&[
            ("x-forwarded-for", "6.6.6.6, 10.0.0.1"),
            ("x-forwarded-proto", "http, https"),
        ]));
        // An overwriting chain leaves one value: the last proxy's.
        assert!(secure(&[
            ("x-forwarded-for", "6.6.6.6, 10.0.0.1"),
            ("x-forwarded-proto", "https"),
        ]));
    }

    #[test]
    fn proxies_are_cidrs_or_addresses() {
        assert!(ProxyTrust::new(true, &["10.0.0.0/8".into(), "192.0.2.1".into()]).is_ok());
        assert_eq!(
            ProxyTrust::new(true, &["10.0.0.0/33".into()]),
            Err(InvalidProxy("10.0.0.0/33".into()))
        );
        assert!(ProxyTrust::new(true, &["example.com".into()]).is_err());
    }
}
