//! The loopback test hierarchy: root, TLD and leaf servers (and the odd
//! ones) on 127.0.1.0/24, built from [`super::auth`].

use super::*;

/// A three-level hierarchy on loopback: root (127.0.1.1), `zz.` (127.0.1.2)
/// and `example.zz.` (127.0.1.3), all on one ephemeral port, plus servers
/// for the iterator's harder cases (same port):
/// * `yy.` on 127.0.1.4 (`www.yy.`, and `dns.yy.`, the name server of
///   `glueless.zz.`; it answers REFUSED for anything else);
/// * `glueless.zz.` on 127.0.1.5, delegated by `zz.` to `dns.yy.` with no
///   glue;
/// * `failover.zz.`: NS 127.0.1.6 (a socket that never answers), 127.0.1.4
///   (REFUSED: lame) and 127.0.1.7 (the real server);
/// * `up.zz.` on 127.0.1.8, which serves a copy of the root zone and so
///   refers every question back up to `zz.`;
/// * `spoof.zz.` on 127.0.1.9, which sends forged replies before each real
///   one;
/// * `slow.zz.` on 127.0.1.10, which answers UDP after 300 ms;
/// * `old.zz.` on 127.0.1.11, which answers FORMERR to EDNS queries;
/// * `dead.zz.`, whose only server is the silent 127.0.1.6;
/// * `cyc1.zz.`/`cyc2.zz.`, each delegated to a name server inside the
///   other, with no glue (a loop); `priv.zz.`, delegated to 0.1.2.3 (never
///   to be queried).
pub struct Hierarchy {
    pub port: u16,
    pub root: AuthServer,
    pub tld: AuthServer,
    pub leaf: AuthServer,
    pub yy: AuthServer,
    pub glueless: AuthServer,
    pub failover: AuthServer,
    pub up: AuthServer,
    pub spoof: AuthServer,
    pub slow: AuthServer,
    pub old: AuthServer,
    /// Bound, never read: the silent server of `failover.zz.`.
    pub silent: std::net::UdpSocket,
}

pub const ROOT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 1);
pub const TLD_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 2);
pub const LEAF_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 3);
pub const YY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 4);
pub const GLUELESS_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 5);
pub const SILENT_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 6);
pub const FAILOVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 7);
pub const UP_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 8);
pub const SPOOF_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 9);
pub const SLOW_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 10);
pub const OLD_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 1, 11);

/// A root server ([`root_zone`] on [`ROOT_IP`]) and one server per
/// `(address, zones)` of `others()`, all on the root's ephemeral port (the
/// resolver reaches every server on one port), started again on a new port
/// until every address can bind it. For hierarchies a test shapes itself.
pub async fn start_on_one_port<const N: usize>(
    others: impl Fn() -> [(Ipv4Addr, Vec<Zone>); N],
) -> (AuthServer, [AuthServer; N]) {
    'port: for _ in 0..50 {
        let root = AuthServer::start(SocketAddr::new(ROOT_IP.into(), 0), vec![root_zone()])
            .await
            .expect("root server");
        let port = root.addr.port();
        let mut started = Vec::with_capacity(N);
        for (ip, zones) in others() {
            match AuthServer::start(SocketAddr::new(ip.into(), port), zones).await {
                Ok(server) => started.push(server),
                Err(_) => continue 'port,
            }
        }
        if let Ok(servers) = <[AuthServer; N]>::try_from(started) {
            return (root, servers);
        }
    }
    panic!("no port free on every address of the hierarchy");
}

pub fn root_zone() -> Zone {
    Zone {
        origin: Name::root(),
        records: records(
            ". 86400 SOA a.root-servers.zz. hostmaster.zz. 1 3600
             . 518400 NS a.root-servers.zz.
             zz. 172800 NS ns1.zz.
             ns1.zz. 172800 A 127.0.1.2
             yy. 172800 NS ns1.yy.
             ns1.yy. 172800 A 127.0.1.4
             a.root-servers.zz. 518400 A 127.0.1.1",
        ),
    }
}

pub fn tld_zone() -> Zone {
    Zone {
        origin: Name::from_ascii("zz.").expect("name"),
        records: records(
            "zz. 86400 SOA ns1.zz. hostmaster.zz. 1 900
             zz. 172800 NS ns1.zz.
             ns1.zz. 172800 A 127.0.1.2
             a.root-servers.zz. 518400 A 127.0.1.1
             example.zz. 172800 NS ns1.example.zz.
             ns1.example.zz. 172800 A 127.0.1.3
             glueless.zz. 172800 NS dns.yy.
             failover.zz. 172800 NS ns1.failover.zz.
             failover.zz. 172800 NS ns2.failover.zz.
             failover.zz. 172800 NS ns3.failover.zz.
             ns1.failover.zz. 172800 A 127.0.1.6
             ns2.failover.zz. 172800 A 127.0.1.4
             ns3.failover.zz. 172800 A 127.0.1.7
             up.zz. 172800 NS ns1.up.zz.
             ns1.up.zz. 172800 A 127.0.1.8
             spoof.zz. 172800 NS ns1.spoof.zz.
             ns1.spoof.zz. 172800 A 127.0.1.9
             slow.zz. 172800 NS ns1.slow.zz.
             ns1.slow.zz. 172800 A 127.0.1.10
             dead.zz. 172800 NS ns1.dead.zz.
             ns1.dead.zz. 172800 A 127.0.1.6
             old.zz. 172800 NS ns1.old.zz.
             ns1.old.zz. 172800 A 127.0.1.11
             cyc1.zz. 172800 NS ns.cyc2.zz.
             cyc2.zz. 172800 NS ns.cyc1.zz.
             priv.zz. 172800 NS ns1.priv.zz.
             ns1.priv.zz. 172800 A 0.1.2.3",
        ),
    }
}

pub fn leaf_zone() -> Zone {
    let mut text = String::from(
        "example.zz. 3600 SOA ns1.example.zz. hostmaster.example.zz. 1 300
         example.zz. 3600 NS ns1.example.zz.
         ns1.example.zz. 3600 A 127.0.1.3
         www.example.zz. 300 A 192.0.2.10
         www.example.zz. 300 AAAA 2001:db8::10
         alias.example.zz. 300 CNAME www.example.zz.
         chain.example.zz. 300 CNAME alias.example.zz.
         out.example.zz. 300 CNAME www.yy.
         loop1.example.zz. 300 CNAME loop2.example.zz.
         loop2.example.zz. 300 CNAME loop1.example.zz.
         mail.example.zz. 300 MX 10 www.example.zz.
         txt.example.zz. 300 TXT hello world
         ads.example.zz. 300 A 192.0.2.66
         tracker.ads.example.zz. 300 A 192.0.2.67
         ok.ads.example.zz. 300 A 192.0.2.68
         short.example.zz. 1 A 192.0.2.11
         deep.sub.example.zz. 300 A 192.0.2.12\n",
    );
    for i in 0..40 {
        text.push_str(&format!(
            "big.example.zz. 300 TXT record-number-{i:02}-padding-padding-padding-padding\n"
        ));
    }
    Zone {
        origin: Name::from_ascii("example.zz.").expect("name"),
        records: records(&text),
    }
}

/// A zone from master-file lines (see [`records`]).
pub fn zone(origin: &str, text: &str) -> Zone {
    Zone {
        origin: Name::from_ascii(origin).expect("name"),
        records: records(text),
    }
}

pub(super) fn yy_zone() -> Zone {
    zone(
        "yy.",
        "yy. 86400 SOA ns1.yy. hostmaster.yy. 1 300
         yy. 86400 NS ns1.yy.
         ns1.yy. 86400 A 127.0.1.4
         dns.yy. 86400 A 127.0.1.5
         www.yy. 300 A 192.0.2.40",
    )
}

pub(super) fn glueless_zone() -> Zone {
    zone(
        "glueless.zz.",
        "glueless.zz. 3600 SOA dns.yy. hostmaster.glueless.zz. 1 300
         glueless.zz. 3600 NS dns.yy.
         www.glueless.zz. 300 A 192.0.2.50",
    )
}

pub(super) fn failover_zone() -> Zone {
    zone(
        "failover.zz.",
        "failover.zz. 3600 SOA ns3.failover.zz. hostmaster.failover.zz. 1 300
         failover.zz. 3600 NS ns1.failover.zz.
         failover.zz. 3600 NS ns2.failover.zz.
         failover.zz. 3600 NS ns3.failover.zz.
         www.failover.zz. 300 A 192.0.2.60
         www2.failover.zz. 300 A 192.0.2.61",
    )
}

pub(super) fn spoof_zone() -> Zone {
    zone(
        "spoof.zz.",
        "spoof.zz. 3600 SOA ns1.spoof.zz. hostmaster.spoof.zz. 1 300
         spoof.zz. 3600 NS ns1.spoof.zz.
         ns1.spoof.zz. 3600 A 127.0.1.9
         www.spoof.zz. 300 A 192.0.2.70
         www2.spoof.zz. 300 A 192.0.2.71",
    )
}

pub(super) fn slow_zone() -> Zone {
    zone(
        "slow.zz.",
        "slow.zz. 3600 SOA ns1.slow.zz. hostmaster.slow.zz. 1 300
         slow.zz. 3600 NS ns1.slow.zz.
         ns1.slow.zz. 3600 A 127.0.1.10
         www.slow.zz. 300 A 192.0.2.80",
    )
}

pub(super) fn old_zone() -> Zone {
    zone(
        "old.zz.",
        "old.zz. 3600 SOA ns1.old.zz. hostmaster.old.zz. 1 300
         old.zz. 3600 NS ns1.old.zz.
         ns1.old.zz. 3600 A 127.0.1.11
         www.old.zz. 300 A 192.0.2.90",
    )
}

impl Hierarchy {
    /// How many queries reached the silent server since the last call
    /// (drains its socket without blocking; it never answers them).
    pub fn silent_queries(&self) -> usize {
        self.silent.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 512];
        let mut n = 0;
        while self.silent.recv(&mut buf).is_ok() {
            n += 1;
        }
        n
    }

    pub async fn start() -> Self {
        for _ in 0..50 {
            let root = AuthServer::start(SocketAddr::new(ROOT_IP.into(), 0), vec![root_zone()])
                .await
                .expect("root server");
            let port = root.addr.port();
            let at = |ip: Ipv4Addr| SocketAddr::new(ip.into(), port);
            let (
                Ok(tld),
                Ok(leaf),
                Ok(yy),
                Ok(glueless),
                Ok(failover),
                Ok(up),
                Ok(spoof),
                Ok(silent),
            ) = (
                AuthServer::start(at(TLD_IP), vec![tld_zone()]).await,
                AuthServer::start(at(LEAF_IP), vec![leaf_zone()]).await,
                AuthServer::start(at(YY_IP), vec![yy_zone()]).await,
                AuthServer::start(at(GLUELESS_IP), vec![glueless_zone()]).await,
                AuthServer::start(at(FAILOVER_IP), vec![failover_zone()]).await,
                AuthServer::start(at(UP_IP), vec![root_zone()]).await,
                AuthServer::start_with(
                    at(SPOOF_IP),
                    vec![spoof_zone()],
                    Behaviour {
                        forge: true,
                        ..Behaviour::default()
                    },
                )
                .await,
                std::net::UdpSocket::bind(at(SILENT_IP)),
            )
            else {
                continue;
            };
            let Ok(slow) = AuthServer::start_with(
                at(SLOW_IP),
                vec![slow_zone()],
                Behaviour {
                    delay: Duration::from_millis(300),
                    ..Behaviour::default()
                },
            )
            .await
            else {
                continue;
            };
            let Ok(old) = AuthServer::start_with(
                at(OLD_IP),
                vec![old_zone()],
                Behaviour {
                    no_edns: true,
                    ..Behaviour::default()
                },
            )
            .await
            else {
                continue;
            };
            return Self {
                port,
                root,
                tld,
                leaf,
                yy,
                glueless,
                failover,
                up,
                spoof,
                slow,
                old,
                silent,
            };
        }
        panic!("no free port for the test hierarchy");
    }

    /// `[resolver]` TOML pointing dnsward at this hierarchy.
    pub fn resolver_toml(&self) -> String {
        resolver_toml_at(self.port, 3000, "")
    }
}
