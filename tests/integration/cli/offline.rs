//! The commands that serve nothing: check-config, check-list, explain,
//! config --print, run against the built binary.

use super::*;

/// Deterministic pseudo-random bytes (xorshift), no dependency.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn check_config_reports_every_problem_by_key() {
    let dir = TempDir::new("checkcfg");
    dir.write("l.txt", "ads.example\n");
    let good = dir.write(
        "good.toml",
        "[server]\nlisten = [\"127.0.0.1:5353\"]\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
    );
    let (ok, text) = run_cli(&["check-config", good.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    assert!(text.contains("list l: 1 entries"), "{text}");

    let bad = dir.write(
        "bad.toml",
        "[server]\nlisten = [\"not-an-address\"]\n[resolver]\nmode = \"forward\"\n[[lists]]\nname = \"l\"\npath = \"missing.txt\"\nede = 99\n",
    );
    let (ok, text) = run_cli(&["check-config", bad.to_str().expect("utf8")]);
    assert!(!ok);
    for key in [
        "server.listen[0]",
        "resolver.upstreams",
        "lists[0].path",
        "lists[0].ede",
    ] {
        assert!(text.contains(key), "{key} not named in:\n{text}");
    }

    let typo = dir.write("typo.toml", "[server]\nlisen = []\n");
    let (ok, text) = run_cli(&["check-config", typo.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(text.contains("lisen") && text.contains("line 2"), "{text}");

    dir.write("garbage.txt", "<html>\n</html>\n");
    let bad_list = dir.write(
        "badlist.toml",
        "[[lists]]\nname = \"g\"\npath = \"garbage.txt\"\n",
    );
    let (ok, text) = run_cli(&["check-config", bad_list.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(text.contains("garbage.txt:1:"), "{text}");
}

#[test]
fn check_list_prints_file_line_reason_and_counts() {
    let dir = TempDir::new("checklist");
    let f = dir.write(
        "l.txt",
        "# comment\ngood.example\nbad..example\n192.0.2.1\n*.wild.example\n",
    );
    let (ok, text) = run_cli(&["check-list", f.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    let p = f.display().to_string();
    assert!(text.contains(&format!("{p}:3: ")), "{text}");
    assert!(text.contains(&format!("{p}:4: ")), "{text}");
    assert!(text.contains("2 entries accepted"), "{text}");
    assert!(text.contains("2 rejected"), "{text}");

    let g = dir.write("g.txt", "!!!\n???\n");
    let (ok, _) = run_cli(&["check-list", g.to_str().expect("utf8")]);
    assert!(!ok, "nothing usable must fail");

    // A real hosts list: every line is accounted for.
    let real = shared("blocklists/1hosts-lite-hosts-format/hosts.txt");
    let (ok, text) = run_cli(&["check-list", real.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    assert!(text.contains("format hosts"), "{text}");
    assert!(text.contains("73878 entries accepted"), "{text}");
}

#[test]
fn explain_names_the_list_line_and_the_overriding_allow() {
    let dir = TempDir::new("explain");
    dir.write("block.txt", "# order\nads.example\n");
    dir.write("allow.txt", "ok.ads.example\n");
    let cfg = dir.write(
        "c.toml",
        "[[lists]]\nname = \"court\"\npath = \"block.txt\"\n[[lists]]\nname = \"exempt\"\npath = \"allow.txt\"\nkind = \"allow\"\n",
    );
    let c = cfg.to_str().expect("utf8");
    let (ok, text) = run_cli(&["explain", "x.ads.example", "--config", c]);
    assert!(ok);
    assert!(
        text.contains("x.ads.example: blocked by block list court `ads.example`")
            && text.contains("block.txt:2)"),
        "{text}"
    );
    let (_, text) = run_cli(&["explain", "ok.ads.example", "--config", c]);
    assert!(
        text.contains("allowed by allow list exempt `ok.ads.example`"),
        "{text}"
    );
    assert!(
        text.contains("matched: block list court `ads.example`"),
        "{text}"
    );
    let (_, text) = run_cli(&["explain", "other.example", "--config", c]);
    assert!(text.contains("not listed"), "{text}");
}

#[test]
fn config_print_shows_every_default_and_round_trips_through_check_config() {
    let a = TempDir::new("cfgprint-a");
    a.write("l.txt", "ads.example\n");
    let cfg = a.write(
        "c.toml",
        "[ratelimit]\nqps = 50\n[[lists]]\nname = \"l\"\npath = \"l.txt\"\n",
    );
    let (ok, text) = run_cli(&["config", "--print", "--config", cfg.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    let table: toml::Table = toml::from_str(&text).expect("output parses as TOML");
    // Defaults the file never mentioned are there, with their values.
    assert_eq!(
        table["server"]["tcp_idle_timeout_secs"].as_integer(),
        Some(10)
    );
    assert_eq!(table["ratelimit"]["qps"].as_integer(), Some(50));
    assert_eq!(
        table["logging"]["blocked_queries_max_per_sec"].as_integer(),
        Some(10)
    );
    // The relative list path became absolute, so the output works elsewhere.
    let path = table["lists"][0]["path"].as_str().expect("path");
    assert_eq!(std::path::Path::new(path), a.path().join("l.txt"));

    let b = TempDir::new("cfgprint-b");
    let copy = b.write("effective.toml", &text);
    let (ok, out) = run_cli(&["check-config", copy.to_str().expect("utf8")]);
    assert!(ok && out.contains("list l: 1 entries"), "{out}");
    let (ok, again) = run_cli(&[
        "config",
        "--print",
        "--config",
        copy.to_str().expect("utf8"),
    ]);
    assert!(ok);
    let body = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(&text), body(&again), "printing is a fixed point");

    // Without --config: the built-in default, lists found in ./blocklists.
    let c = TempDir::new("cfgprint-c");
    std::fs::create_dir(c.path().join("blocklists")).expect("mkdir");
    c.write("blocklists/court.txt", "ads.example\n");
    c.write("blocklists/ignored.TXT", "x.example\n");
    let out = Command::new(BIN)
        .args(["config", "--print"])
        .current_dir(c.path())
        .output()
        .expect("run");
    assert!(out.status.success());
    let table: toml::Table =
        toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("built-in parses");
    let lists = table["lists"].as_array().expect("lists");
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(lists[0]["name"].as_str(), Some("court"));
    assert_eq!(
        table["server"]["listen"][0].as_str(),
        Some("127.0.0.1:5353")
    );
}

#[test]
fn check_config_names_authority_allow_for_a_denied_root_server() {
    let dir = TempDir::new("deniedroot");
    let cfg = dir.write(
        "c.toml",
        "[resolver]\nroot_servers = [\"127.0.0.1:5300\"]\n",
    );
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("resolver.root_servers[0]")
            && text.contains("add \"127.0.0.0/8\" to resolver.authority_allow"),
        "{text}"
    );
    // Start-up refuses it with the same words instead of serving SERVFAIL.
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&cfg)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resolver.authority_allow"), "{err}");
}

#[test]
fn check_config_lists_every_type_error_with_its_key() {
    let dir = TempDir::new("typeerrs");
    let cfg = dir.write(
        "c.toml",
        "[server]\nmax_udp_payload = \"big\"\ntcp_idle_timeout_secs = -1\n[cache]\nmax_entries = \"lots\"\n[resolver]\nmode = \"forwad\"\n[acl]\nallow = [\"10.0.0.0/8\", 7]\n",
    );
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(!ok);
    for (key, line) in [
        ("server.max_udp_payload", 2),
        ("server.tcp_idle_timeout_secs", 3),
        ("cache.max_entries", 5),
        ("resolver.mode", 7),
        ("acl.allow[1]", 9),
    ] {
        assert!(
            text.contains(&format!("{key}: line {line}: ")),
            "{key} (line {line}) not listed in:\n{text}"
        );
    }
    assert!(text.contains("5 problem(s)"), "{text}");

    // Type errors and value errors come in the same report.
    let mixed = dir.write(
        "m.toml",
        "[server]\nlisten = [\"nope\"]\nmax_udp_payload = \"big\"\n",
    );
    let (ok, text) = run_cli(&["check-config", mixed.to_str().expect("utf8")]);
    assert!(!ok);
    assert!(
        text.contains("server.max_udp_payload: line 3") && text.contains("server.listen[0]"),
        "{text}"
    );
}

#[test]
fn check_config_says_a_config_without_lists_blocks_nothing() {
    let dir = TempDir::new("nolists");
    let cfg = dir.write("c.toml", "");
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(ok, "{text}");
    assert!(text.contains("no lists: nothing will be blocked"), "{text}");
}

#[test]
fn check_list_fails_on_mostly_garbage_even_with_a_few_good_names() {
    let dir = TempDir::new("checkgarbage");
    let mut body = b"ads.example\nwww.example\n".to_vec();
    body.extend(random_bytes(256 * 1024));
    let f = dir.path().join("random.txt");
    std::fs::write(&f, &body).expect("write");
    let (ok, text) = run_cli(&["check-list", f.to_str().expect("utf8")]);
    assert!(
        !ok,
        "random bytes accepted:\n{}",
        text.lines().last().unwrap_or("")
    );
    assert!(text.contains("too_many_rejected"), "{text}");
    assert!(text.contains("max_rejected_percent 50"), "{text}");
    // The guard is the list setting: 100 turns it off.
    let (ok, _) = run_cli(&[
        "check-list",
        f.to_str().expect("utf8"),
        "--max-rejected-percent",
        "100",
    ]);
    assert!(ok);
}

#[test]
fn single_label_entries_are_rejected_with_a_reason_unless_allowed() {
    let dir = TempDir::new("tld");
    let f = dir.write("l.txt", "com\nads.example\n*.net\n");
    let p = f.display().to_string();
    let (ok, text) = run_cli(&["check-list", &p]);
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("{p}:1: `com` is a single label"))
            && text.contains(&format!("{p}:3: `net` is a single label"))
            && text.contains("allow_tld_entries = true"),
        "{text}"
    );
    assert!(text.contains("1 entries accepted"), "{text}");
    assert!(
        text.contains(&format!("warning: 2 single-label entries (first at {p}:1)")),
        "{text}"
    );
    let (ok, text) = run_cli(&["check-list", &p, "--allow-tld-entries"]);
    assert!(ok, "{text}");
    assert!(text.contains("3 entries accepted"), "{text}");
    assert!(text.contains("warning: 2 single-label entries"), "{text}");

    // The list setting, through check-config.
    let cfg = dir.write("c.toml", "[[lists]]\nname = \"l\"\npath = \"l.txt\"\n");
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(
        ok && text.contains("list l: 1 entries, 2 rejected"),
        "{text}"
    );
    let cfg = dir.write(
        "c2.toml",
        "[[lists]]\nname = \"l\"\npath = \"l.txt\"\nallow_tld_entries = true\n",
    );
    let (ok, text) = run_cli(&["check-config", cfg.to_str().expect("utf8")]);
    assert!(
        ok && text.contains("list l: 3 entries, 0 rejected"),
        "{text}"
    );
}

#[test]
fn explain_refuses_invalid_names_and_shows_the_rule_scope() {
    let dir = TempDir::new("explainbad");
    dir.write("block.txt", "*.ads.example\nexact.example\n");
    let cfg = dir.write(
        "c.toml",
        "[[lists]]\nname = \"court\"\npath = \"block.txt\"\nformat = \"domains\"\n",
    );
    let c = cfg.to_str().expect("utf8");
    let long = format!("{}.example", "a".repeat(292));
    for (name, why) in [
        ("", "empty name"),
        ("a..b", "empty label"),
        (long.as_str(), "300 bytes long (max 253)"),
        ("192.0.2.1", "IP address"),
    ] {
        let (ok, text) = run_cli(&["explain", name, "--config", c]);
        assert!(!ok, "`{name}` explained: {text}");
        assert!(
            text.contains("invalid name") && text.contains(why),
            "`{name}`: {text}"
        );
        assert!(!text.contains("not listed"), "{text}");
    }
    let (ok, text) = run_cli(&["explain", "x.ads.example", "--config", c]);
    assert!(ok, "{text}");
    assert!(
        text.contains("blocked by block list court `*.ads.example` ("),
        "{text}"
    );
    let (_, text) = run_cli(&["explain", "ads.example", "--config", c]);
    assert!(text.contains("ads.example: not listed"), "{text}");
}

#[test]
fn the_try_forward_config_of_the_readme_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/try-forward.toml");
    let (ok, text) = run_cli(&["check-config", path]);
    assert!(ok, "{text}");
    assert!(text.contains("list court-orders: "), "{text}");
}
