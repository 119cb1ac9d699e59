//! Network targets for the `net` permission: `host[:port]`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which host a `net` permission names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NetHost {
    /// `*`: any host at all.
    Any,
    /// A DNS name, stored lowercase since DNS is case-insensitive.
    Name(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl fmt::Display for NetHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Name(name) => f.write_str(name),
            Self::Ipv4(ip) => write!(f, "{ip}"),
            Self::Ipv6(ip) => write!(f, "[{ip}]"),
        }
    }
}

/// A host and an optional port (`None` means any port).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetTarget {
    pub host: NetHost,
    pub port: Option<u16>,
}

/// Longest DNS name, per RFC 1035.
const MAX_NAME_LEN: usize = 253;
/// Longest DNS label, per RFC 1035.
const MAX_LABEL_LEN: usize = 63;

impl NetTarget {
    /// Whether the host is `*`, which is what makes `net` critical.
    pub fn is_any_host(&self) -> bool {
        self.host == NetHost::Any
    }

    /// Whether a connection to `ip:port` is covered by this target.
    ///
    /// `resolved_names` are the DNS names the caller resolved to obtain `ip`
    /// (empty when the guest connected to a literal address). A DNS name
    /// cannot be checked against a raw IP without resolution, so a
    /// `net(example.com)` grant only matches when the host itself did the
    /// lookup and passes `example.com` here. `localhost` also matches any
    /// loopback address without a lookup. IPv4-mapped IPv6 addresses are
    /// compared as the IPv4 address they carry, so the mapping cannot be
    /// used to dodge a grant or a refusal.
    ///
    /// Any other name never covers an address of this machine or its link
    /// (loopback, link-local, unspecified), whatever it resolves to: a DNS
    /// answer pointing there is how a name the plugin's author controls
    /// would lead it to services only the user's machine can reach (a
    /// database on 127.0.0.1, a cloud's metadata at 169.254.169.254). Such
    /// an address is reached only by a grant naming it, or `localhost`.
    /// Private networks (10/8, 192.168/16, fc00::/7) stay reachable by
    /// name, as intranet names resolve there.
    pub fn allows(&self, ip: IpAddr, port: u16, resolved_names: &[&str]) -> bool {
        let port_ok = self.port.is_none_or(|allowed| allowed == port);
        let ip = ip.to_canonical();
        let host_ok = match &self.host {
            NetHost::Any => true,
            NetHost::Ipv4(allowed) => IpAddr::V4(*allowed) == ip,
            NetHost::Ipv6(allowed) => IpAddr::V6(*allowed).to_canonical() == ip,
            NetHost::Name(name) => {
                (name == "localhost" && ip.is_loopback())
                    || (!on_this_machine_or_link(ip)
                        && resolved_names.iter().any(|resolved| {
                            resolved
                                .strip_suffix('.')
                                .unwrap_or(resolved)
                                .eq_ignore_ascii_case(name)
                        }))
            }
        };
        port_ok && host_ok
    }

    /// Parses `host[:port]`; the error is the problem only, the caller adds
    /// which permission it was for.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let (host_text, port_text) = split_host_port(text)?;
        let port = port_text.map(parse_port).transpose()?;
        Ok(Self {
            host: parse_host(host_text)?,
            port,
        })
    }
}

/// Loopback, link-local or unspecified: an address that leads to this
/// machine or its own link rather than to a host on a network; and the
/// clouds' metadata services outside those ranges (AWS's IPv6
/// `fd00:ec2::254`, Alibaba's `100.100.100.200`). The machine's own
/// network address is not among them: it is no different from a
/// neighbour's.
fn on_this_machine_or_link(ip: IpAddr) -> bool {
    const METADATA_V4: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);
    const METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() || v4 == METADATA_V4
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == METADATA_V6
        }
    }
}

impl fmt::Display for NetTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Splits off the port, keeping `[ipv6]` brackets on the host so that
/// `parse_host` can tell an IPv6 literal from a name.
fn split_host_port(text: &str) -> Result<(&str, Option<&str>), String> {
    if text.starts_with('[') {
        let close = text
            .find(']')
            .ok_or("`[` opens an IPv6 address that is never closed with `]`")?;
        let (host, rest) = text.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if rest.is_empty() => Ok((host, None)),
            None => Err(format!(
                "unexpected `{rest}` after the IPv6 address; expected `:PORT` or nothing"
            )),
        };
    }
    match text.split_once(':') {
        Some((_, port)) if port.contains(':') => Err(
            "IPv6 addresses must be written in brackets, like `[::1]` or `[::1]:8080`".to_owned(),
        ),
        Some((host, port)) => Ok((host, Some(port))),
        None => Ok((text, None)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    let out_of_range =
        || format!("port `{text}` is not valid; allowed 1..=65535, or leave it out for any port");
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(out_of_range());
    }
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(out_of_range()),
        Ok(port) => Ok(port),
    }
}

fn parse_host(text: &str) -> Result<NetHost, String> {
    const EXPECTED: &str = "a DNS name, an IPv4 address, `[ipv6]` or `*`";
    if text == "*" {
        return Ok(NetHost::Any);
    }
    if text.is_empty() {
        return Err(format!("the host is missing; expected {EXPECTED}"));
    }
    if let Some(inner) = text.strip_prefix('[') {
        let inner = inner.strip_suffix(']').unwrap_or(inner);
        return inner
            .parse::<Ipv6Addr>()
            .map(NetHost::Ipv6)
            .map_err(|_| format!("`{inner}` is not a valid IPv6 address"));
    }
    if let Ok(ip) = text.parse::<Ipv4Addr>() {
        return Ok(NetHost::Ipv4(ip));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '.'))
    {
        return Err(format!(
            "character `{bad}` is not allowed in a host; expected {EXPECTED}"
        ));
    }
    if text.len() > MAX_NAME_LEN {
        return Err(format!(
            "the host name is {} characters long; allowed at most {MAX_NAME_LEN}",
            text.len()
        ));
    }
    let labels: Vec<&str> = text.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(format!(
                "host `{text}` has an empty label; labels are separated by single dots"
            ));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(format!(
                "host label `{label}` is longer than {MAX_LABEL_LEN} characters"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "host label `{label}` must not start or end with `-`"
            ));
        }
    }
    // No top-level domain is numeric, so something like `999.1.1.1` is a
    // mistyped IPv4 address, not a name. A last label in hexadecimal
    // (`0x7f000001`, `10.0x1`) is one too: the system's resolver reads it
    // as an address (inet_aton's forms, as the URL standard's "ends in a
    // number" does), so a grant the user reads as a name would reach
    // 127.0.0.1.
    if labels.last().is_some_and(|tld| {
        tld.bytes().all(|b| b.is_ascii_digit())
            || tld
                .strip_prefix("0x")
                .or_else(|| tld.strip_prefix("0X"))
                .is_some_and(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
    }) {
        return Err(format!(
            "`{text}` is not a valid IPv4 address (write an address as four decimal numbers, \
             a name with letters in its last label)"
        ));
    }
    Ok(NetHost::Name(text.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<&str, &str>) {
        let got = NetTarget::parse(input).map(|t| t.to_string());
        assert_eq!(
            got,
            expected.map(str::to_owned).map_err(str::to_owned),
            "input {input:?}"
        );
    }

    #[test]
    fn parse_and_display() {
        let cases: &[(&str, Result<&str, &str>)] = &[
            ("api.example.com", Ok("api.example.com")),
            ("api.example.com:443", Ok("api.example.com:443")),
            ("API.Example.com", Ok("api.example.com")),
            ("localhost:8080", Ok("localhost:8080")),
            ("10.0.0.1", Ok("10.0.0.1")),
            ("10.0.0.1:5432", Ok("10.0.0.1:5432")),
            ("[::1]", Ok("[::1]")),
            ("[2001:db8::1]:443", Ok("[2001:db8::1]:443")),
            ("*", Ok("*")),
            ("*:443", Ok("*:443")),
            (
                "",
                Err("the host is missing; expected a DNS name, an IPv4 address, `[ipv6]` or `*`"),
            ),
            (
                ":80",
                Err("the host is missing; expected a DNS name, an IPv4 address, `[ipv6]` or `*`"),
            ),
            (
                "example.com:0",
                Err("port `0` is not valid; allowed 1..=65535, or leave it out for any port"),
            ),
            (
                "example.com:65536",
                Err("port `65536` is not valid; allowed 1..=65535, or leave it out for any port"),
            ),
            (
                "example.com:",
                Err("port `` is not valid; allowed 1..=65535, or leave it out for any port"),
            ),
            (
                "example.com:+80",
                Err("port `+80` is not valid; allowed 1..=65535, or leave it out for any port"),
            ),
            (
                "::1",
                Err("IPv6 addresses must be written in brackets, like `[::1]` or `[::1]:8080`"),
            ),
            (
                "[::1",
                Err("`[` opens an IPv6 address that is never closed with `]`"),
            ),
            (
                "[::1]x",
                Err("unexpected `x` after the IPv6 address; expected `:PORT` or nothing"),
            ),
            ("[nope]", Err("`nope` is not a valid IPv6 address")),
            (
                "*.example.com",
                Err(
                    "character `*` is not allowed in a host; expected a DNS name, an IPv4 address, `[ipv6]` or `*`",
                ),
            ),
            (
                "exa_mple.com",
                Err(
                    "character `_` is not allowed in a host; expected a DNS name, an IPv4 address, `[ipv6]` or `*`",
                ),
            ),
            (
                "a..b",
                Err("host `a..b` has an empty label; labels are separated by single dots"),
            ),
            (
                "-a.com",
                Err("host label `-a` must not start or end with `-`"),
            ),
            (
                "999.1.1.1",
                Err(
                    "`999.1.1.1` is not a valid IPv4 address (write an address as four decimal numbers, a name with letters in its last label)",
                ),
            ),
            // Hexadecimal forms the resolver reads as 127.0.0.1.
            (
                "0x7f000001:6379",
                Err(
                    "`0x7f000001` is not a valid IPv4 address (write an address as four decimal numbers, a name with letters in its last label)",
                ),
            ),
            (
                "127.0X1",
                Err(
                    "`127.0X1` is not a valid IPv4 address (write an address as four decimal numbers, a name with letters in its last label)",
                ),
            ),
            // A name whose last label only starts like one stays a name.
            ("cache.0xdead.example", Ok("cache.0xdead.example")),
            ("redis.0xbeefy", Ok("redis.0xbeefy")),
        ];
        for (input, expected) in cases {
            check(input, *expected);
        }
    }

    #[test]
    fn allows() {
        let v4 = |s: &str| IpAddr::V4(s.parse().unwrap());
        let v6 = |s: &str| IpAddr::V6(s.parse().unwrap());
        let cases: &[(&str, IpAddr, u16, &[&str], bool)] = &[
            ("*", v4("1.2.3.4"), 80, &[], true),
            ("*:443", v4("1.2.3.4"), 80, &[], false),
            ("*:443", v6("2001:db8::1"), 443, &[], true),
            ("10.0.0.1", v4("10.0.0.1"), 1234, &[], true),
            ("10.0.0.1", v4("10.0.0.2"), 1234, &[], false),
            ("10.0.0.1", v6("::ffff:10.0.0.1"), 1234, &[], true),
            ("10.0.0.1:5432", v4("10.0.0.1"), 5433, &[], false),
            ("[::1]:8080", v6("::1"), 8080, &[], true),
            ("[::1]:8080", v4("127.0.0.1"), 8080, &[], false),
            ("localhost", v4("127.0.0.1"), 3000, &[], true),
            ("localhost", v6("::1"), 3000, &[], true),
            ("localhost", v4("10.0.0.1"), 3000, &[], false),
            // A name only matches when the caller resolved it.
            ("api.example.com:443", v4("93.184.216.34"), 443, &[], false),
            (
                "api.example.com:443",
                v4("93.184.216.34"),
                443,
                &["api.example.com"],
                true,
            ),
            (
                "api.example.com:443",
                v4("93.184.216.34"),
                443,
                &["API.example.com."],
                true,
            ),
            (
                "api.example.com:443",
                v4("93.184.216.34"),
                443,
                &["evil.example.com"],
                false,
            ),
            (
                "api.example.com:443",
                v4("93.184.216.34"),
                80,
                &["api.example.com"],
                false,
            ),
            // A name whose DNS answer points at this machine or its link
            // does not reach it; an intranet address it may.
            (
                "api.example.com",
                v4("127.0.0.1"),
                6379,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v4("127.8.9.1"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v4("169.254.169.254"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v4("0.0.0.0"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v6("::1"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v6("::ffff:127.0.0.1"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v6("fe80::1"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v4("100.100.100.200"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "api.example.com",
                v6("fd00:ec2::254"),
                80,
                &["api.example.com"],
                false,
            ),
            (
                "db.corp.example",
                v4("10.1.2.3"),
                5432,
                &["db.corp.example"],
                true,
            ),
            (
                "db.corp.example",
                v6("fd00::5"),
                5432,
                &["db.corp.example"],
                true,
            ),
            // Named outright, such an address is the user's to grant.
            ("127.0.0.1:6379", v4("127.0.0.1"), 6379, &[], true),
            ("169.254.169.254", v4("169.254.169.254"), 80, &[], true),
        ];
        for (target, ip, port, names, expected) in cases {
            let parsed = NetTarget::parse(target).unwrap();
            assert_eq!(
                parsed.allows(*ip, *port, names),
                *expected,
                "{target} vs {ip}:{port} resolved from {names:?}"
            );
        }
    }
}
