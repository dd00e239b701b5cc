//! Serving the signed hierarchy of [`super::signed`]: NSD per host octet
//! on one port, and a validating Unbound as the reference.

use super::signed::*;
use super::*;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// One process started here, stopped by its PID when dropped: SIGTERM
/// first, so NSD stops its server processes before it exits (killed, the
/// main process leaves them answering on the port a moment longer), then
/// SIGKILL after 5 s.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if !matches!(self.0.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Are the tools the signed hierarchy needs installed? Tests skip, with a
/// message, when not (`.ci/run` installs them).
pub fn have_signing_tools() -> bool {
    ["ldns-keygen", "ldns-signzone", "ldns-key2ds", "nsd"]
        .iter()
        .all(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t} || test -x /usr/sbin/{t}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        })
}

/// The prepared zones served by NSD: one process per host octet, all on
/// one port.
pub struct SignedHierarchy {
    pub port: u16,
    /// The root DS (trust anchor), fields separated by single spaces.
    pub root_ds: String,
    /// The zones served, `(zone, host octet, file)`: the prepared ones,
    /// the root's replaced by [`Self::restart_root`].
    zones: Vec<(String, u8, PathBuf)>,
    /// One NSD per host octet (dropped, so stopped, before the directory).
    procs: Vec<(u8, Proc)>,
    dir: TempDir,
}

impl SignedHierarchy {
    /// Start NSD for every host of [`prepared`] on a port free on all of
    /// them (tried again on another port when one is taken).
    pub async fn start() -> Self {
        let p = tokio::task::spawn_blocking(prepared)
            .await
            .expect("prepare");
        let root_ds = p.root_ds.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut hosts: Vec<u8> = p.zones.iter().map(|z| z.1).collect();
        hosts.sort_unstable();
        hosts.dedup();
        for _ in 0..10 {
            let port = std::net::UdpSocket::bind((signed_ip(ROOT_HOST), 0))
                .and_then(|s| s.local_addr())
                .expect("bind")
                .port();
            let dir = TempDir::new("signed-nsd");
            let mut procs = Vec::new();
            for &host in &hosts {
                procs.push((host, start_nsd(&dir, &p.zones, host, port)));
            }
            let mut ok = true;
            for &host in &hosts {
                let zone = p
                    .zones
                    .iter()
                    .find(|z| z.1 == host)
                    .map(|z| z.0.as_str())
                    .unwrap_or(".");
                ok &= nsd_ready(
                    SocketAddr::new(signed_ip(host).into(), port),
                    zone,
                    &mut procs,
                )
                .await;
            }
            if ok {
                return Self {
                    port,
                    root_ds,
                    zones: p.zones.clone(),
                    procs,
                    dir,
                };
            }
        }
        panic!("NSD did not start on any port (logs under /tmp/dnsward-test-signed-nsd-*)");
    }

    /// Serve `root_zone` (a signed root zone's text) instead: the root's
    /// NSD is stopped and started again on the same address and port.
    pub async fn restart_root(&mut self, root_zone: &str) {
        static N: AtomicU64 = AtomicU64::new(0);
        let file = self.dir.write(
            &format!("root-{}.zone", N.fetch_add(1, Ordering::Relaxed)),
            root_zone,
        );
        for z in self.zones.iter_mut().filter(|z| z.0 == ".") {
            z.2 = file.clone();
        }
        self.procs.retain(|(host, _)| *host != ROOT_HOST);
        // The stopped NSD's server processes may hold the port a moment
        // longer: the new one then exits at once and is started again.
        for _ in 0..20 {
            let mut proc = [(
                ROOT_HOST,
                start_nsd(&self.dir, &self.zones, ROOT_HOST, self.port),
            )];
            if nsd_ready(self.root(), ".", &mut proc).await {
                let [proc] = proc;
                self.procs.push(proc);
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "root NSD did not come back on port {} (logs in {})",
            self.port,
            self.dir.path().display()
        );
    }

    /// Stop the NSD of host octet `host` and wait (at most 5 s) until
    /// nothing answers there: NSD's server processes may outlive the
    /// main one for a moment.
    pub async fn stop_host(&mut self, host: u8) {
        self.procs.retain(|(h, _)| *h != host);
        let addr = SocketAddr::new(signed_ip(host).into(), self.port);
        let q = make_query(".", RecordType::SOA, None)
            .to_vec()
            .expect("encode");
        for _ in 0..50 {
            if udp_raw(addr, &q, Duration::from_millis(100))
                .await
                .is_none()
            {
                return;
            }
        }
        panic!("NSD on {addr} still answers after it was stopped");
    }

    /// The root server's address.
    pub fn root(&self) -> SocketAddr {
        SocketAddr::new(signed_ip(ROOT_HOST).into(), self.port)
    }

    /// dnsward's `[resolver]` (recursing from this root) and `[dnssec]`
    /// with the root DS as its only anchor, then `dnssec_extra` lines.
    pub fn dnsward_toml(&self, dnssec_extra: &str) -> String {
        self.dnsward_toml_anchored(&self.root_ds, dnssec_extra)
    }

    /// [`Self::dnsward_toml`] with `anchor` (DS or DNSKEY) as the anchor.
    pub fn dnsward_toml_anchored(&self, anchor: &str, dnssec_extra: &str) -> String {
        base_toml(&format!(
            "[resolver]\nmode = \"recursive\"\nroot_servers = [\"{}\"]\nauthority_allow = [\"127.0.0.0/8\"]\n\
             timeout_ms = 2000\n[dnssec]\nvalidation = true\ntrust_anchors = [\"{}\"]\n{dnssec_extra}",
            self.root(),
            anchor
        ))
    }

    /// Unbound's `server:` lines and a stub zone per zone (Unbound cannot
    /// reach glue addresses on a port other than 53, so every zone is named
    /// with its server and port), validating from `anchor`, a config line
    /// (`trust-anchor: "<DS>"`, `auto-trust-anchor-file: "<file>"`).
    pub fn unbound_conf_anchored(
        &self,
        dir: &TempDir,
        port: u16,
        anchor: &str,
        extra: &str,
    ) -> String {
        let mut conf = format!(
            "server:\n  interface: 127.0.0.1@{port}\n  port: {port}\n  do-daemonize: no\n  \
             username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"\"\n  \
             use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  verbosity: 1\n  val-log-level: 2\n  \
             num-threads: 1\n  ede: yes\n  do-ip6: no\n  do-not-query-localhost: no\n  \
             access-control: 127.0.0.0/8 allow\n  module-config: \"validator iterator\"\n  \
             {anchor}\n  target-fetch-policy: \"0 0 0 0 0\"\n  \
             trust-anchor-signaling: no\n  root-key-sentinel: no\n{extra}",
            d = dir.path().display(),
        );
        for (zone, host, _) in &self.zones {
            conf.push_str(&format!(
                "stub-zone:\n  name: \"{zone}\"\n  stub-addr: {}@{}\n",
                signed_ip(*host),
                self.port
            ));
        }
        conf
    }
}

fn start_nsd(dir: &TempDir, zones: &[(String, u8, PathBuf)], host: u8, port: u16) -> Proc {
    static N: AtomicU64 = AtomicU64::new(0);
    let d = dir
        .path()
        .join(format!("nsd{host}-{}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&d).expect("mkdir");
    let mut conf = format!(
        "server:\n  ip-address: {ip}\n  port: {port}\n  do-ip6: no\n  server-count: 1\n  \
         username: \"\"\n  chroot: \"\"\n  zonesdir: \"{d}\"\n  database: \"\"\n  \
         zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  \
         pidfile: \"{d}/nsd.pid\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 1\n  \
         rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  tcp-count: 100\n\
         remote-control:\n  control-enable: no\n",
        ip = signed_ip(host),
        d = d.display()
    );
    for (zone, _, file) in zones.iter().filter(|z| z.1 == host) {
        conf.push_str(&format!(
            "zone:\n  name: \"{zone}\"\n  zonefile: \"{}\"\n",
            file.display()
        ));
    }
    std::fs::write(d.join("nsd.conf"), conf).expect("nsd.conf");
    let child = Command::new("nsd")
        .args(["-d", "-c"])
        .arg(d.join("nsd.conf"))
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(d.join("nsd.err"))
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
        )
        .spawn()
        .expect("spawn nsd");
    Proc(child)
}

/// Does `addr` answer `zone` SOA authoritatively within ~10 s? False at
/// once when an NSD process has exited (its port was taken).
async fn nsd_ready(addr: SocketAddr, zone: &str, procs: &mut [(u8, Proc)]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if procs
            .iter_mut()
            .any(|(_, p)| !matches!(p.0.try_wait(), Ok(None)))
        {
            return false;
        }
        let mut q = make_query(zone, RecordType::SOA, Some(1232));
        q.metadata.recursion_desired = false;
        let bytes = q.to_vec().expect("encode");
        if let Some(raw) = udp_raw(addr, &bytes, Duration::from_millis(300)).await {
            if Message::from_vec(&raw).is_ok_and(|m| m.metadata.authoritative) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A validating Unbound on a free loopback port, configured by
/// [`SignedHierarchy::unbound_conf`] plus `extra` server lines; returns once
/// it answers.
pub async fn start_unbound_validator(
    dir: &TempDir,
    h: &SignedHierarchy,
    extra: &str,
) -> (Proc, SocketAddr) {
    let anchor = format!("trust-anchor: \"{}\"", h.root_ds);
    start_unbound_with(dir, h, &anchor, extra, &[]).await
}

/// [`start_unbound_validator`] with `anchor` as the anchor's config line
/// and `env` set for the process (libfaketime's variables).
pub async fn start_unbound_with(
    dir: &TempDir,
    h: &SignedHierarchy,
    anchor: &str,
    extra: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> (Proc, SocketAddr) {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("bind")
        .port();
    let conf = dir.write(
        "unbound.conf",
        &h.unbound_conf_anchored(dir, port, anchor, extra),
    );
    let child = Command::new("/usr/sbin/unbound")
        .args(["-d", "-c"])
        .arg(&conf)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn unbound");
    let mut proc = Proc(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            matches!(proc.0.try_wait(), Ok(None)),
            "unbound exited; see {}/unbound.log",
            dir.path().display()
        );
        let q = make_query("localhost.", RecordType::A, Some(1232));
        if udp_raw(
            addr,
            &q.to_vec().expect("encode"),
            Duration::from_millis(300),
        )
        .await
        .is_some()
        {
            return (proc, addr);
        }
        assert!(Instant::now() < deadline, "unbound never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
