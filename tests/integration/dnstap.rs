//! dnstap over a unix socket, read by real Debian tools: `fstrm_capture`
//! (fstrm-bin) does the collector's half of the bidirectional Frame
//! Streams handshake and writes what it receives to a file, and
//! `dnstap-ldns` (the packaged version reads files only, `-r`) decodes it:
//! the query names and types appear as CLIENT_QUERY / CLIENT_RESPONSE.
//! Also: the collector restarting (dnsward reconnects), and entries with
//! no collector dropped and counted while answering goes on.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::groups::{ask_from, sinkholed, upstream, FAMILY, OTHER};

/// `fstrm_capture` on `socket`, writing `out`; stopped (SIGTERM, so it
/// closes the file properly) on drop.
struct Capture(Child);

impl Capture {
    fn start(socket: &Path, out: &Path) -> Self {
        let _ = std::fs::remove_file(socket);
        let child = Command::new("fstrm_capture")
            .args(["-t", "protobuf:dnstap.Dnstap", "-u"])
            .arg(socket)
            .arg("-w")
            .arg(out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("fstrm_capture (Debian fstrm-bin, installed by .ci/run)");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "fstrm_capture made no socket");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self(child)
    }

    /// Stop and wait, so the file is complete.
    fn stop(mut self) {
        self.term();
    }

    fn term(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.term();
        }
    }
}

/// `dnstap-ldns -y` of a capture file.
fn decode(file: &Path) -> String {
    let out = Command::new("dnstap-ldns")
        .arg("-y")
        .arg("-r")
        .arg(file)
        .output()
        .expect("dnstap-ldns (Debian dnstap-ldns, installed by .ci/run)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn metric(d: &dnsward::app::Running, key: &str) -> f64 {
    let (_, body) = http_get(d.metrics_addr.expect("metrics"), "/metrics").await;
    parse_metrics(&body).get(key).copied().unwrap_or(0.0)
}

fn dnstap_toml(socket: &Path, what: &str) -> String {
    format!(
        "[dnstap]\nsocket = \"{}\"\nwhat = \"{what}\"\nidentity = \"dnsward-test\"\nreconnect_ms = 100\nqueue = 64\n",
        socket.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnstap_ldns_decodes_what_dnsward_sends_and_dnsward_reconnects() {
    let auth = upstream().await;
    let dir = TempDir::new("dnstap");
    let socket = dir.path().join("tap.sock");
    let first = dir.path().join("first.fstrm");
    let cap = Capture::start(&socket, &first);
    let toml = crate::groups::config(
        &dir,
        auth.addr,
        &format!("\"{FAMILY}/32\""),
        &dnstap_toml(&socket, "all"),
    );
    let d = start_dnsward(&dir, &toml).await;
    wait_until("collector connected", || async {
        metric(&d, "dnsward_dnstap_connected").await == 1.0
    })
    .await;
    assert!(sinkholed(&ask_from(FAMILY, d.dns[0], "adult.zz.").await));
    assert!(!sinkholed(&ask_from(OTHER, d.dns[0], "free.zz.").await));
    // And once from the fast path (cached).
    assert!(!sinkholed(&ask_from(OTHER, d.dns[0], "free.zz.").await));
    wait_until("six messages sent", || async {
        metric(&d, "dnsward_dnstap_sent_total").await >= 6.0
    })
    .await;
    cap.stop();
    let text = decode(&first);
    for want in [
        "type: CLIENT_QUERY",
        "type: CLIENT_RESPONSE",
        "identity: \"dnsward-test\"",
        "query_address: \"127.0.0.2\"",
        "query_address: \"127.0.0.3\"",
        "socket_protocol: UDP",
        "adult.zz.",
        "free.zz.",
        "IN\tA",
        // The sinkhole answer in the response message.
        "192.0.2.1",
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
    assert_eq!(text.matches("type: CLIENT_QUERY").count(), 3, "{text}");
    assert_eq!(text.matches("type: CLIENT_RESPONSE").count(), 3, "{text}");

    // The collector comes back: dnsward reconnects and goes on.
    let second = dir.path().join("second.fstrm");
    let cap = Capture::start(&socket, &second);
    let sent = metric(&d, "dnsward_dnstap_sent_total").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    // The first query after the restart finds the old connection gone.
    while metric(&d, "dnsward_dnstap_sent_total").await < sent + 2.0 {
        assert!(Instant::now() < deadline, "no reconnect");
        let _ = ask_from(FAMILY, d.dns[0], "court.zz.").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(metric(&d, "dnsward_dnstap_connected").await, 1.0);
    // Sent means flushed into the socket; give the collector a moment to
    // read it before it is stopped.
    tokio::time::sleep(Duration::from_millis(300)).await;
    cap.stop();
    let text = decode(&second);
    assert!(text.contains("court.zz."), "{text}");
    d.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_collector_entries_are_dropped_and_counted() {
    let auth = upstream().await;
    let dir = TempDir::new("dnstap-none");
    let socket = dir.path().join("nobody.sock");
    let toml = crate::groups::config(
        &dir,
        auth.addr,
        &format!("\"{FAMILY}/32\""),
        &dnstap_toml(&socket, "blocked"),
    );
    let d = start_dnsward(&dir, &toml).await;
    for _ in 0..20 {
        assert!(sinkholed(&ask_from(FAMILY, d.dns[0], "court.zz.").await));
    }
    // Not blocked: not even queued with what = "blocked".
    assert!(!sinkholed(&ask_from(OTHER, d.dns[0], "free.zz.").await));
    wait_until("20 dropped", || async {
        metric(&d, "dnsward_dnstap_dropped_total").await == 20.0
    })
    .await;
    assert_eq!(metric(&d, "dnsward_dnstap_sent_total").await, 0.0);
    assert_eq!(metric(&d, "dnsward_dnstap_connected").await, 0.0);
    d.shutdown(Duration::from_secs(1)).await;
}
