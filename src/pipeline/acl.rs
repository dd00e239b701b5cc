//! Access control: which client addresses may use the resolver at all.
//!
//! A resolver that answers anyone on the internet is an open resolver: a
//! reflection amplifier for DDoS and a cache anyone can probe. So the
//! built-in allow list covers only address space a subscriber network uses
//! (loopback, RFC 1918, CGNAT, ULA, link-local); an ISP's public customer
//! ranges must be allowed explicitly, and a fresh install answers nobody
//! outside its own networks.
//!
//! The ACL is the first stage after the listener, before the rate limiter:
//! a refused client must cost no parsing, no cache lookup and no rate-limit
//! bucket (which would let spoofed floods from outside fill the limiter's
//! table).
//!
//! Matching is longest-prefix across both lists, so a specific entry can
//! carve an exception out of a broader one in either direction; on a tie
//! deny wins, so listing the same network in both is never an accidental
//! allow.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::config::parse_network as parse_entry;

use crate::config::{AclConfig, Problem};

/// Why a client was refused; a bounded metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// No allow entry covers the client: the usual case for a stray
    /// client from the internet.
    NotAllowed,
    /// An explicit deny entry covers the client at least as specifically
    /// as any allow entry: an operator decision.
    Denied,
}

impl DenyReason {
    /// Label value for metrics (`not_allowed`, `denied`).
    pub fn as_str(&self) -> &'static str {
        match self {
            DenyReason::NotAllowed => "not_allowed",
            DenyReason::Denied => "denied",
        }
    }
}

/// Outcome of [`Acl::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AclDecision {
    /// The client may be served.
    Allow,
    /// The client must not be served.
    Deny(DenyReason),
}

/// Whether an entry came from `allow` or `deny`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deny,
    Allow,
}

/// One compiled entry: `addr & mask == network` means it matches.
#[derive(Debug, Clone, Copy)]
struct Rule<T> {
    network: T,
    mask: T,
    prefix_len: u8,
    kind: Kind,
}

/// A compiled [`AclConfig`], checked once per query.
///
/// Entries are kept per address family as integer (network, mask) pairs,
/// sorted longest prefix first and deny before allow at equal length, so
/// the first match is the answer. [`Acl::check`] is therefore a linear scan:
/// O(entries of that family), one AND and one compare each, no allocation
/// and no lock. That is a few nanoseconds for the tens of entries an ACL
/// normally has; a config with thousands of entries would want a
/// per-prefix-length hash table instead.
#[derive(Debug, Clone)]
pub struct Acl {
    v4: Vec<Rule<u32>>,
    v6: Vec<Rule<u128>>,
}

impl Acl {
    /// Compile a config; every bad entry is reported, keyed like
    /// `acl.deny[1]`, so an ACL is never half applied.
    pub fn new(config: &AclConfig) -> Result<Acl, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let lists = [
            ("allow", Kind::Allow, &config.allow),
            ("deny", Kind::Deny, &config.deny),
        ];
        for (name, kind, entries) in lists {
            for (i, entry) in entries.iter().enumerate() {
                match parse_entry(entry) {
                    Ok(IpNet::V4(n)) => v4.push(Rule {
                        network: u32::from(n.network()),
                        mask: u32::from(n.netmask()),
                        prefix_len: n.prefix_len(),
                        kind,
                    }),
                    Ok(IpNet::V6(n)) => v6.push(Rule {
                        network: u128::from(n.network()),
                        mask: u128::from(n.netmask()),
                        prefix_len: n.prefix_len(),
                        kind,
                    }),
                    Err(reason) => problems.push(Problem {
                        key: format!("acl.{name}[{i}]"),
                        reason,
                    }),
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        // Longest prefix first; `Kind::Deny < Kind::Allow` by declaration
        // order puts deny first on a tie.
        v4.sort_by_key(|r| (std::cmp::Reverse(r.prefix_len), r.kind as u8));
        v6.sort_by_key(|r| (std::cmp::Reverse(r.prefix_len), r.kind as u8));
        Ok(Acl { v4, v6 })
    }

    /// Decide whether `ip` may be served. IPv4-mapped IPv6 sources
    /// (`::ffff:a.b.c.d`, as seen on dual-stack sockets) are matched as the
    /// IPv4 address they carry, so one IPv4 entry covers both socket kinds.
    pub fn check(&self, ip: IpAddr) -> AclDecision {
        let kind = match ip.to_canonical() {
            IpAddr::V4(a) => first_match(&self.v4, u32::from(a)),
            IpAddr::V6(a) => first_match(&self.v6, u128::from(a)),
        };
        match kind {
            Some(Kind::Allow) => AclDecision::Allow,
            Some(Kind::Deny) => AclDecision::Deny(DenyReason::Denied),
            None => AclDecision::Deny(DenyReason::NotAllowed),
        }
    }
}

impl TryFrom<&AclConfig> for Acl {
    type Error = Vec<Problem>;

    fn try_from(config: &AclConfig) -> Result<Acl, Vec<Problem>> {
        Acl::new(config)
    }
}

fn first_match<T>(rules: &[Rule<T>], addr: T) -> Option<Kind>
where
    T: Copy + Eq + std::ops::BitAnd<Output = T>,
{
    rules
        .iter()
        .find(|r| addr & r.mask == r.network)
        .map(|r| r.kind)
}

impl AclConfig {
    /// Every unusable entry, keyed `acl.allow[i]` / `acl.deny[i]`, so
    /// `check-config` can report them all at once.
    /// Beside [`Acl::new`] so the check is the one start-up runs.
    pub fn validate(&self) -> Vec<Problem> {
        match Acl::new(self) {
            Ok(_) => Vec::new(),
            Err(problems) => problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_ALLOW;

    fn compile(allow: &[&str], deny: &[&str]) -> Acl {
        Acl::new(&AclConfig {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        })
        .expect("valid acl")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    const NOT_ALLOWED: AclDecision = AclDecision::Deny(DenyReason::NotAllowed);
    const DENIED: AclDecision = AclDecision::Deny(DenyReason::Denied);

    #[test]
    fn defaults_allow_local_networks_only() {
        let acl = Acl::new(&AclConfig::default()).expect("defaults compile");
        for a in [
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.254",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert_eq!(acl.check(ip(a)), AclDecision::Allow, "{a}");
        }
        for a in [
            "8.8.8.8",
            "2001:db8::1",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "::ffff:8.8.8.8",
            "::2",
            "0.0.0.0",
        ] {
            assert_eq!(acl.check(ip(a)), NOT_ALLOWED, "{a}");
        }
    }

    #[test]
    fn defaults_validate() {
        assert!(AclConfig::default().validate().is_empty());
    }

    #[test]
    fn deny_beats_allow_at_equal_prefix() {
        let acl = compile(
            &["10.0.0.0/8", "2001:db8::/32"],
            &["10.0.0.0/8", "2001:db8::/32"],
        );
        assert_eq!(acl.check(ip("10.9.9.9")), DENIED);
        assert_eq!(acl.check(ip("2001:db8::5")), DENIED);
        // A host entry in both lists: still deny.
        let acl = compile(&["192.0.2.1"], &["192.0.2.1/32"]);
        assert_eq!(acl.check(ip("192.0.2.1")), DENIED);
    }

    #[test]
    fn longest_prefix_wins_in_both_directions() {
        let acl = compile(
            &[
                "10.0.0.0/8",
                "10.66.1.0/24",
                "2001:db8::/32",
                "2001:db8:0:1::/64",
            ],
            &["10.66.0.0/16", "10.66.1.7", "2001:db8::/48"],
        );
        // Deny inside allow.
        assert_eq!(acl.check(ip("10.66.2.1")), DENIED);
        // More specific allow inside the deny range.
        assert_eq!(acl.check(ip("10.66.1.1")), AclDecision::Allow);
        // And a host deny inside that allow.
        assert_eq!(acl.check(ip("10.66.1.7")), DENIED);
        assert_eq!(acl.check(ip("10.1.1.1")), AclDecision::Allow);
        assert_eq!(acl.check(ip("11.0.0.1")), NOT_ALLOWED);
        assert_eq!(acl.check(ip("2001:db8::1")), DENIED);
        assert_eq!(acl.check(ip("2001:db8:0:1::1")), AclDecision::Allow);
        assert_eq!(acl.check(ip("2001:db8:1::1")), AclDecision::Allow);
    }

    #[test]
    fn mapped_clients_and_entries_are_ipv4() {
        let acl = compile(&["::ffff:192.0.2.0/120", "0.0.0.0/0"], &["198.51.100.0/24"]);
        assert_eq!(acl.check(ip("192.0.2.1")), AclDecision::Allow);
        assert_eq!(acl.check(ip("::ffff:198.51.100.1")), DENIED);
        assert_eq!(acl.check(ip("::ffff:203.0.113.1")), AclDecision::Allow);
        // 0.0.0.0/0 is IPv4 only.
        assert_eq!(acl.check(ip("2001:db8::1")), NOT_ALLOWED);
        // And ::/0 does not cover IPv4 (mapped or not).
        let acl = compile(&["::/0"], &[]);
        assert_eq!(acl.check(ip("2001:db8::1")), AclDecision::Allow);
        assert_eq!(acl.check(ip("::ffff:192.0.2.1")), NOT_ALLOWED);
    }

    #[test]
    fn bare_addresses_are_host_entries() {
        let acl = compile(&["192.0.2.1", "2001:db8::1"], &[]);
        assert_eq!(acl.check(ip("192.0.2.1")), AclDecision::Allow);
        assert_eq!(acl.check(ip("192.0.2.2")), NOT_ALLOWED);
        assert_eq!(acl.check(ip("2001:db8::1")), AclDecision::Allow);
        assert_eq!(acl.check(ip("2001:db8::2")), NOT_ALLOWED);
    }

    #[test]
    fn empty_allow_refuses_everyone() {
        let acl = compile(&[], &[]);
        assert_eq!(acl.check(ip("127.0.0.1")), NOT_ALLOWED);
        assert_eq!(acl.check(ip("::1")), NOT_ALLOWED);
    }

    #[test]
    fn bad_entries_are_reported_with_their_key() {
        let config = AclConfig {
            allow: vec!["10.0.0.0/8".into(), "10.0.0.0/33".into(), "nope".into()],
            deny: vec![
                "192.0.2.0/24".into(),
                "192.0.2.0/40".into(),
                "10.1.2.3/8".into(),
                " 10.0.0.1".into(),
            ],
        };
        let problems = config.validate();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "acl.allow[1]",
                "acl.allow[2]",
                "acl.deny[1]",
                "acl.deny[2]",
                "acl.deny[3]"
            ]
        );
        assert!(problems[3].reason.contains("10.0.0.0/8"), "{}", problems[3]);
        assert_eq!(Acl::try_from(&config).err(), Some(problems));
    }

    #[test]
    fn toml_table_parses_and_rejects_unknown_keys() {
        let c: AclConfig = toml::from_str("deny = [\"10.9.0.0/16\"]").expect("toml");
        assert_eq!(c.allow.len(), DEFAULT_ALLOW.len());
        assert_eq!(c.deny, ["10.9.0.0/16"]);
        let c: AclConfig = toml::from_str("allow = []").expect("toml");
        assert!(c.allow.is_empty());
        assert!(toml::from_str::<AclConfig>("allowed = []").is_err());
    }

    #[test]
    fn reasons_have_metric_labels() {
        assert_eq!(DenyReason::NotAllowed.as_str(), "not_allowed");
        assert_eq!(DenyReason::Denied.as_str(), "denied");
    }
}
