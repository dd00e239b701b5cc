use super::*;
use crate::config::*;

fn problems(toml_text: &str) -> Vec<String> {
    let c: Config = toml::from_str(toml_text).expect("toml");
    match c.validate(Path::new("t.toml"), Path::new(".")) {
        Ok(_) => vec![],
        Err(ConfigError::Invalid { problems, .. }) => problems.into_iter().map(|p| p.key).collect(),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn feed_lists_need_no_cached_file_and_check_their_keys() {
    // The issue's example: valid before its first fetch.
    let ok = r#"
        [[lists]]
        name = "ministry"
        url = "https://feeds.example/blocked.txt"
        path = "state/no-such-ministry.txt"
        format = "auto"
        refresh_secs = 600
        "#;
    assert!(problems(ok).is_empty(), "{:?}", problems(ok));
    let c: Config = toml::from_str(ok).expect("toml");
    let v = c
        .validate(Path::new("t.toml"), Path::new("."))
        .expect("valid");
    let printed = v.effective_toml().expect("print");
    assert!(printed.contains("refresh_secs = 600"), "{printed}");
    assert!(!printed.contains("sha256_url"), "unset keys stay out");
    let keys = problems(
        r#"
        [[lists]]
        name = "a"
        url = "gopher://feeds.example/x"
        path = "state/a.txt"
        refresh_secs = 0
        [[lists]]
        name = "b"
        path = "state/no-such-b.txt"
        sha256_url = "https://feeds.example/x.sha256"
        "#,
    );
    assert_eq!(
        keys,
        [
            "lists[0].url",
            "lists[0].refresh_secs",
            "lists[1].sha256_url",
            "lists[1].path"
        ]
    );
}

#[test]
fn a_list_is_a_feed_or_a_zone_secondary_not_both() {
    let both = problems(
        r#"
        [[lists]]
        name = "court"
        format = "rpz"
        url = "https://feeds.example/court.rpz"
        path = "state/no-such-court.rpz"
        [lists.transfer]
        primaries = ["192.0.2.53"]
        zone = "rpz.court.example."
        "#,
    );
    assert_eq!(both, ["lists[0].url"]);
}

#[test]
fn list_dates_are_parsed_and_ordered() {
    let dir = std::env::temp_dir().join(format!("dnsward-cfg-dates-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("l.txt"), "a.example\n").expect("write");
    let check = |from: &str, until: &str| {
        let text = format!(
            "[[lists]]\nname = \"l\"\npath = \"l.txt\"\neffective_from = \"{from}\"\nexpires_at = \"{until}\"\n"
        );
        let c: Config = toml::from_str(&text).expect("toml");
        match c.validate(Path::new("t.toml"), &dir) {
            Ok(v) => Ok(v.lists[0].window),
            Err(ConfigError::Invalid { problems, .. }) => Err(problems
                .into_iter()
                .map(|p| format!("{}: {}", p.key, p.reason))
                .collect::<Vec<_>>()),
            Err(e) => panic!("{e}"),
        }
    };
    let w = check("2026-12-01T00:00:00Z", "2026-12-31T23:00:00+01:00").expect("valid");
    assert_eq!(w.from, Some(1_796_083_200));
    assert_eq!(w.until, Some(1_798_754_400));
    assert_eq!(w.state(1_796_083_199), ListState::Pending);
    assert_eq!(w.state(1_796_083_200), ListState::Active);
    assert_eq!(w.state(1_798_754_400), ListState::Expired);

    let e = check("1 December", "2026-12-01T00:00:00Z").expect_err("bad date");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("lists[0].effective_from: `1 December` is not an RFC 3339"),
        "{e:?}"
    );
    let e = check("2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z").expect_err("order");
    assert_eq!(e, ["lists[0].expires_at: must be after effective_from"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transfer_tables_are_checked() {
    let keys = problems(
        r#"
        [[lists]]
        name = "court"
        format = "domains"
        path = "/nonexistent/seed.rpz"
        [lists.transfer]
        primaries = ["192.0.2.53:53", "not an address"]
        zone = "bad..zone"
        tsig_key_file = "/nonexistent/court.key"
        timeout_secs = 0
        "#,
    );
    assert_eq!(
        keys,
        vec![
            "lists[0].format",
            "lists[0].transfer.primaries[1]",
            "lists[0].transfer.zone",
            "lists[0].transfer.timeout_secs",
            "lists[0].transfer.tsig_key_file",
        ]
    );
    // A missing seed is fine: the list is empty until its first transfer.
    assert!(problems(
        "[[lists]]\nname = \"c\"\nformat = \"rpz\"\npath = \"/nonexistent/seed.rpz\"\n[lists.transfer]\nprimaries = [\"127.0.0.1\"]\nzone = \"rpz.c.\"\nexpire_policy = \"drop\"\n"
    )
    .is_empty());
}

#[test]
fn defaults_are_valid() {
    assert!(problems("").is_empty());
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let keys = problems(
        r#"
            [server]
            listen = ["nope", "127.0.0.1:53"]
            max_udp_payload = 100
            [resolver]
            mode = "forward"
            [[lists]]
            name = "a b"
            path = "/nonexistent/list"
            ede = 3
            "#,
    );
    assert_eq!(
        keys,
        vec![
            "server.listen[0]",
            "server.max_udp_payload",
            "resolver.upstreams",
            "lists[0].name",
            "lists[0].ede",
            "lists[0].path"
        ]
    );
}

#[test]
fn iterator_limits_are_checked() {
    let keys = problems(
        "[resolver]\nmax_upstream_queries = 0\ndelegation_cache_size = 0\nsocket_reuse = 5000\n",
    );
    assert_eq!(
        keys,
        vec![
            "resolver.delegation_cache_size",
            "resolver.max_upstream_queries",
            "resolver.socket_reuse"
        ]
    );
    assert!(problems("[resolver]\nmax_upstream_queries = 200\nsocket_reuse = 1\n").is_empty());
}

#[test]
fn denied_root_servers_name_the_key_to_add() {
    let c: Config =
        toml::from_str("[resolver]\nroot_servers = [\"192.0.2.7\", \"127.0.0.1:5300\"]\n")
            .expect("toml");
    let Err(ConfigError::Invalid {
        problems: found, ..
    }) = c.validate(Path::new("t"), Path::new("."))
    else {
        panic!("a loopback root server must be refused");
    };
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].key, "resolver.root_servers[1]");
    assert!(
        found[0]
            .reason
            .contains("add \"127.0.0.0/8\" to resolver.authority_allow"),
        "{}",
        found[0].reason
    );
    assert!(problems(
        "[resolver]\nroot_servers = [\"127.0.0.1:5300\"]\nauthority_allow = [\"127.0.0.0/8\"]\n"
    )
    .is_empty());
    // Forwarding to a private resolver is normal: no such rule there.
    assert!(problems("[resolver]\nmode = \"forward\"\nupstreams = [\"10.0.0.53\"]\n").is_empty());
}

#[test]
fn effective_toml_is_a_config_with_every_default() {
    let v = Config::default()
        .validate(Path::new("t"), Path::new("."))
        .expect("valid");
    let text = v.effective_toml().expect("serialize");
    for key in [
        "tcp_idle_timeout_secs = 10",
        "qps = 200",
        "blocked_queries_max_per_sec = 10",
    ] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
    let back: Config = toml::from_str(&text).expect("parses as a config");
    let again = back
        .validate(Path::new("t"), Path::new("."))
        .expect("valid")
        .effective_toml()
        .expect("serialize");
    assert_eq!(text, again);
}

#[test]
fn unknown_keys_are_rejected() {
    assert!(toml::from_str::<Config>("[server]\nlisten_addr = []").is_err());
}

#[test]
fn addresses_default_their_port() {
    assert_eq!(
        parse_addr("127.0.0.1", 53).ok(),
        "127.0.0.1:53".parse().ok()
    );
    assert_eq!(parse_addr("[::1]:5300", 53).ok(), "[::1]:5300".parse().ok());
    assert!(parse_addr("localhost", 53).is_err());
}
