//! Policy groups in the real binary: SIGHUP and `POST /admin/reload` move
//! a client network from one group member to another, the change logged
//! key by key, and `dnsward explain --client` names the group.

use std::time::{Duration, Instant};

use super::{run_cli, Proc};
use crate::common::*;
use crate::groups::{ask_from, config, sinkholed, upstream, FAMILY, OTHER};

/// Poll until `src` gets (or no longer gets) the sinkhole for adult.zz.
async fn wait_blocked(p: &Proc, src: &str, blocked: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sinkholed(&ask_from(src, p.dns, "adult.zz.").await) != blocked {
        assert!(
            Instant::now() < deadline,
            "{src}: blocked={blocked} never held\n{}",
            p.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_and_admin_reload_move_a_network_between_groups() {
    let auth = upstream().await;
    let dir = TempDir::new("cli-groups");
    let path = dir.write(
        "dnsward.toml",
        &config(&dir, auth.addr, &format!("\"{FAMILY}/32\""), ""),
    );
    let p = Proc::start(&path);
    wait_blocked(&p, FAMILY, true).await;
    wait_blocked(&p, OTHER, false).await;

    // SIGHUP: the network moves to the other address.
    dir.write(
        "dnsward.toml",
        &config(&dir, auth.addr, &format!("\"{OTHER}/32\""), ""),
    );
    p.signal("-HUP");
    wait_blocked(&p, OTHER, true).await;
    wait_blocked(&p, FAMILY, false).await;
    p.wait_log(&format!(
        "config reloaded: groups[family].clients: 1 -> 1 networks (+{OTHER}/32, -{FAMILY}/32)"
    ));

    // POST /admin/reload re-reads the file as well.
    dir.write(
        "dnsward.toml",
        &config(&dir, auth.addr, &format!("\"{FAMILY}/32\""), ""),
    );
    let (status, body) = http_post(p.http, "/admin/reload").await;
    assert_eq!(status, 200, "{body}");
    wait_blocked(&p, FAMILY, true).await;
    wait_blocked(&p, OTHER, false).await;
    p.wait_log(&format!(
        "config reloaded: groups[family].clients: 1 -> 1 networks (+{FAMILY}/32, -{OTHER}/32)"
    ));

    // A broken group is refused on SIGHUP naming its key; the serving
    // groups stay.
    dir.write(
        "dnsward.toml",
        &config(&dir, auth.addr, "\"10.0.0.0/33\"", ""),
    );
    p.signal("-HUP");
    p.wait_log("groups[0].clients[0]");
    wait_blocked(&p, FAMILY, true).await;

    // Offline explain for a client says which group applied.
    let cfg = path.to_str().expect("utf8").to_string();
    dir.write(
        "dnsward.toml",
        &config(&dir, auth.addr, &format!("\"{FAMILY}/32\""), ""),
    );
    let (ok, out) = tokio::task::spawn_blocking(move || {
        run_cli(&["explain", "adult.zz", "--client", FAMILY, "--config", &cfg])
    })
    .await
    .expect("join");
    assert!(ok, "{out}");
    assert!(
        out.contains("adult.zz: blocked by block list adult [groups family]"),
        "{out}"
    );
    assert!(
        out.contains(&format!("client {FAMILY}: group family")),
        "{out}"
    );
    let cfg = path.to_str().expect("utf8").to_string();
    let (ok, out) = tokio::task::spawn_blocking(move || {
        run_cli(&["explain", "adult.zz", "--client", OTHER, "--config", &cfg])
    })
    .await
    .expect("join");
    assert!(ok, "{out}");
    assert!(out.contains("adult.zz: not listed"), "{out}");
    assert!(out.contains("not applied to this group"), "{out}");
    p.signal("-TERM");
}
