//! The client's address: the TCP peer, or, when the peer is one of `server.trusted_proxies`,
//! the first untrusted address of `Forwarded` (RFC 7239 `for=`) or `X-Forwarded-For`, walking
//! the chain from the right. Headers from untrusted peers are ignored; malformed ones fall back
//! to the peer.

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

/// An address block (`10.0.0.0/8`, `2001:db8::/32`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?} has an invalid prefix length"))?,
        };
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, a dual-stack listener's view) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(blocks: Vec<Cidr>) -> Self {
        Self(blocks)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    /// The client's address for a request that arrived from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        // `Forwarded` wins when present; a malformed chain means "don't know": the peer.
        let chain = if headers.contains_key("forwarded") {
            forwarded_chain(headers)
        } else {
            x_forwarded_for_chain(headers)
        };
        let Some(chain) = chain else {
            return peer;
        };
        // From the right: each trusted hop vouches for the one to its left.
        for ip in chain.iter().rev() {
            let ip = canonical(*ip);
            if !self.trusts(ip) {
                return ip;
            }
        }
        // Every hop is a proxy of ours: the left-most is the closest we know to the client.
        chain.first().map_or(peer, |ip| canonical(*ip))
    }
}

/// The addresses of every `X-Forwarded-For` header, in order; `None` if absent or malformed.
fn x_forwarded_for_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut chain = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for item in value.to_str().ok()?.split(',') {
            chain.push(parse_node(item.trim())?);
        }
    }
    (!chain.is_empty()).then_some(chain)
}

/// The `for=` addresses of every `Forwarded` header (RFC 7239), in order; `None` if absent,
/// malformed, or naming an obfuscated or `unknown` node.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut chain = Vec::new();
    for value in headers.get_all("forwarded") {
        for element in value.to_str().ok()?.split(',') {
            for pair in element.split(';') {
                let pair = pair.trim();
                if pair.is_empty() {
                    continue;
                }
                let (key, val) = pair.split_once('=')?;
                if key.trim().eq_ignore_ascii_case("for") {
                    let val = val.trim();
                    let val = match val.strip_prefix('"') {
                        Some(rest) => rest.strip_suffix('"')?,
                        None => val,
                    };
                    chain.push(parse_node(val)?);
                }
            }
        }
    }
    (!chain.is_empty()).then_some(chain)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`, `2001:db8::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        return addr.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6);
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    let (addr, port) = s.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The derived address, for `Meta` and the request log.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

/// Middleware: puts `ClientIp` in the request's extensions.
pub async fn derive(
    axum::extract::State(trusted): axum::extract::State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    if let Some(peer) = peer {
        let ip = trusted.client_ip(peer, req.headers());
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

/// The client's address of a request: the derived one, else the TCP peer.
pub fn of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions.get::<ClientIp>().map(|c| c.0).or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| canonical(addr.ip()))
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn trusted(blocks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(blocks.iter().map(|b| b.parse().unwrap()).collect())
    }
    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }
    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks_parse_and_match() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.1.2.3")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")));
        let c: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(c.contains(ip("2001:db8::1")));
        assert!(!c.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("192.0.2.1")));
        let one: Cidr = "192.0.2.1".parse().unwrap();
        assert!(one.contains(ip("192.0.2.1")) && !one.contains(ip("192.0.2.2")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0/8", "::/129", "10.0.0.0/"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(trusted(&[]).client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        assert_eq!(
            trusted(&["10.0.0.0/8"]).client_ip(ip("127.0.0.1"), &h),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn spoofed_left_most_entries_are_skipped() {
        let t = trusted(&["10.0.0.0/8"]);
        // The client claims 1.2.3.4; our proxy appended the address it saw.
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.7"));
        // Several headers form one list.
        let h = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "203.0.113.9"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("203.0.113.9"));
        // Only proxies of ours: the left-most.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.0.0.2")]);
        assert_eq!(t.client_ip(ip("10.0.0.1"), &h), ip("10.9.9.9"));
    }

    #[test]
    fn forwarded_header_with_ipv6_and_ports() {
        let t = trusted(&["127.0.0.0/8"]);
        let h = headers(&[("forwarded", r#"for="[2001:db8::1]:4711";proto=https"#)]);
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("2001:db8::1"));
        let h = headers(&[(
            "forwarded",
            r#"for=1.2.3.4, For="198.51.100.2:80";by=127.0.0.1, for=127.0.0.5"#,
        )]);
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.2"));
        // Forwarded wins over X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=198.51.100.3"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(t.client_ip(ip("127.0.0.1"), &h), ip("198.51.100.3"));
    }

    #[test]
    fn garbage_falls_back_to_the_peer() {
        let t = trusted(&["127.0.0.0/8"]);
        for (name, value) in [
            ("x-forwarded-for", "not-an-ip"),
            ("x-forwarded-for", "203.0.113.7, , 10.0.0.1"),
            ("x-forwarded-for", ""),
            ("x-forwarded-for", "203.0.113.7:99999999"),
            ("forwarded", "for=unknown"),
            ("forwarded", "for=_hidden"),
            ("forwarded", r#"for="[2001:db8::1"#),
            ("forwarded", "for"),
            ("forwarded", "proto=https"),
            ("forwarded", "for=[2001:db8::1]x"),
        ] {
            let h = headers(&[(name, value)]);
            assert_eq!(
                t.client_ip(ip("127.0.0.1"), &h),
                ip("127.0.0.1"),
                "{name}: {value}"
            );
        }
    }
}
