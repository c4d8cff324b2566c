//! The client's address: the connection's peer, or, when the peer is one of the
//! TRUSTED_PROXIES, the nearest address in X-Forwarded-For that is not a trusted proxy.
//! Entries a client wrote itself (to the left of the first untrusted hop) are never believed.

use std::net::IpAddr;

use actix_web::HttpRequest;
use ipnet::IpNet;

pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let forwarded = req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    Some(resolve(peer, &forwarded, trusted))
}

/// The request's client address as abuse limits count it (see `limit_key`); "unknown" when
/// the connection has no peer address.
pub fn limit_subject(req: &HttpRequest, trusted: &[IpNet]) -> String {
    client_ip(req, trusted).map_or_else(|| "unknown".into(), limit_key)
}

/// What a limit keyed by client address counts: an IPv4 address as it is, an IPv6 address
/// as its /64 (one customer line or host gets a whole /64, so its single addresses are
/// free to make). An IPv4 address written as IPv6 (`::ffff:1.2.3.4`) counts as itself.
pub fn limit_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{net}/64")
        }
    }
}

/// The same, from the parts (for tests): `forwarded` are the header's values in order.
pub fn resolve(peer: IpAddr, forwarded: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded.iter().flat_map(|v| v.split(',')).map(str::trim).collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            // Garbage: believe nothing further left.
            None => break,
        }
    }
    client
}

fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    // "1.2.3.4:5678" or "[::1]:5678"
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(sa.ip());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn believes_forwarded_for_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // Not from a proxy: the header is the client's own words.
        assert_eq!(resolve(ip("203.0.113.9"), &["1.1.1.1"], &trusted), ip("203.0.113.9"));
        // From the balancer: the hop it saw.
        assert_eq!(resolve(ip("10.0.0.2"), &["203.0.113.9"], &trusted), ip("203.0.113.9"));
        // A spoofed entry to the left of the real one is ignored.
        assert_eq!(resolve(ip("10.0.0.2"), &["6.6.6.6, 203.0.113.9"], &trusted), ip("203.0.113.9"));
        // Two proxies in a row, header split over two lines.
        assert_eq!(resolve(ip("10.0.0.2"), &["203.0.113.9", "10.1.1.1"], &trusted), ip("203.0.113.9"));
        // Garbage stops the walk at the last proxy.
        assert_eq!(resolve(ip("10.0.0.2"), &["nonsense"], &trusted), ip("10.0.0.2"));
        assert_eq!(resolve(ip("10.0.0.2"), &["[2001:db8::1]:443"], &trusted), ip("2001:db8::1"));
        // No proxies trusted: the peer, always.
        assert_eq!(resolve(ip("10.0.0.2"), &["203.0.113.9"], &[]), ip("10.0.0.2"));
    }

    #[test]
    fn limits_count_ipv6_by_its_64_and_ipv4_by_the_address() {
        assert_eq!(limit_key(ip("203.0.113.9")), "203.0.113.9");
        assert_ne!(limit_key(ip("203.0.113.9")), limit_key(ip("203.0.113.10")));
        assert_eq!(limit_key(ip("::ffff:203.0.113.9")), "203.0.113.9");
        // Every address of one /64 is one subject…
        assert_eq!(limit_key(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_eq!(limit_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
        assert_eq!(limit_key(ip("2001:db8:1:2:aaaa::9")), limit_key(ip("2001:db8:1:2::1")));
        // …and the next /64 is another.
        assert_ne!(limit_key(ip("2001:db8:1:3::1")), limit_key(ip("2001:db8:1:2::1")));
        assert_eq!(limit_key(ip("::1")), "::/64");
    }
}
