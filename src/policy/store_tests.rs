//! Unit tests of the store: refusals, audit lines, time formatting.
use super::*;
use crate::config::ListKind;
use crate::policy::matcher::LookupKey;
use crate::policy::rule::Format;
use crate::policy::Decision;

#[test]
fn failed_reload_keeps_old_version_counts_and_audits() {
    let dir = std::env::temp_dir().join(format!("dnsward-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let path = dir.join("l.txt");
    let audit = dir.join("audit.jsonl");
    std::fs::write(&path, "blocked.example\n").expect("write");
    let metrics = Arc::new(Metrics::new().expect("metrics"));
    let mut cfg = ListConfig::simple("l", path.clone(), ListKind::Block);
    cfg.format = Format::Domains;
    cfg.order_id = Some("ORDER-1".into());
    let store = PolicyStore::new(vec![cfg], metrics.clone(), Some(audit.clone()));
    assert_eq!(store.reload(ReloadRequest::default()).reloaded().len(), 1);
    assert_eq!(store.reload(ReloadRequest::default()).unchanged().len(), 1);
    std::fs::write(&path, "!!! garbage !!!\n").expect("write");
    let out = store.reload(ReloadRequest {
        reread: true,
        force: false,
    });
    let failed = out.failed();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].error.as_deref().unwrap_or("").contains(":1:"));
    let p = store.load();
    assert!(matches!(
        p.decide(&LookupKey::from_dotted("www.blocked.example"))
            .decision,
        Decision::Blocked(_)
    ));
    assert_eq!(
        metrics
            .list_reload_failures
            .with_label_values(&["l", "no_usable_entries"])
            .get(),
        1
    );
    // The same refused file is not re-read until it changes.
    let again = store.reload(ReloadRequest::default());
    assert_eq!(again.unchanged().len(), 1, "{again:?}");
    let text = std::fs::read_to_string(&audit).expect("audit");
    for l in text.lines() {
        // serde_json keeps the last of duplicate keys; log readers differ.
        assert_eq!(l.matches("\"list\":").count(), 1, "one list key: {l}");
    }
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["result"], "reloaded");
    assert_eq!(lines[0]["list"], "l");
    assert_eq!(lines[0]["entries_after"], 1);
    assert_eq!(lines[0]["order_id"], "ORDER-1");
    assert_eq!(lines[0]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(lines[1]["result"], "refused");
    assert_eq!(lines[1]["reason"], "no_usable_entries");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rfc3339_formats_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_764_435_600), "2025-11-29T17:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}
