//! `LookupKey::from_dotted` (the `explain` CLI and HTTP endpoint build keys
//! from text) and `LookupKey::from_labels` on arbitrary labels: suffix
//! hashes must match `hash_name`, suffix texts must match `suffix(depth)`
//! and be suffixes of the name, and nothing may panic, whatever the labels
//! (empty, huge, many, holding dots or any byte).
#![no_main]

use libfuzzer_sys::fuzz_target;

use dnsward::policy::matcher::{hash_name, LookupKey, MAX_LABELS};

/// See list_parsers.rs: known dnsward issues are skipped while fuzzing.
fn skip_known() -> bool {
    static S: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *S.get_or_init(|| std::env::var_os("DNSWARD_FUZZ_SKIP_KNOWN").is_some())
}

/// Mirrors `from_labels`' loop to spot the two known bugs:
/// - crash-empty-label-at-255: an empty label starting at byte 256 is
///   stored as start 0 (`k.len as u8`), and `suffixes` then slices
///   `buf[start..0]` and panics;
/// - crash-leading-empty-label: a label added while the key is still empty
///   (after a leading empty label) gets no separating dot, but `suffixes`
///   folds one into the hash, so the hash of that suffix is wrong.
fn hits_known<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> bool {
    let (mut len, mut n) = (0usize, 0usize);
    for label in labels {
        let need = label.len() + usize::from(len > 0);
        if n == MAX_LABELS || len + need > 256 {
            return false;
        }
        if n > 0 && len == 0 {
            return true;
        }
        len += need;
        n += 1;
        if len == 256 && label.is_empty() {
            return true;
        }
    }
    false
}

fn check(key: &LookupKey) {
    assert!(key.labels() <= MAX_LABELS);
    assert!(key.name_bytes().len() <= 256);
    let mut seen = 0;
    let mut prev_len = 0;
    for sfx in key.suffixes() {
        seen += 1;
        assert_eq!(
            sfx.hash,
            hash_name(sfx.name),
            "suffix hash mismatch at depth {}",
            sfx.depth
        );
        assert_eq!(sfx.name, key.suffix(sfx.depth));
        assert!(sfx.name.len() >= prev_len, "suffixes must grow");
        prev_len = sfx.name.len();
        assert!(key.name_bytes().ends_with(sfx.name));
        assert!(!sfx.name.iter().any(u8::is_ascii_uppercase));
        let _ = key.suffix_str(sfx.depth);
    }
    assert_eq!(seen, key.labels());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let t = s.strip_suffix('.').unwrap_or(s);
        if !(skip_known() && !t.is_empty() && hits_known(t.split('.').map(str::as_bytes))) {
            check(&LookupKey::from_dotted(s));
        }
    }
    // Raw labels: split on 0x00 (so labels may hold dots, any byte, be empty).
    if !(skip_known() && hits_known(data.split(|&b| b == 0))) {
        check(&LookupKey::from_labels(data.split(|&b| b == 0)));
    }
});
