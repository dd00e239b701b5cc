//! `LookupKey::from_dotted` (the `explain` CLI and tests build keys from
//! text) and `LookupKey::from_labels` on arbitrary labels: suffix hashes must
//! match `hash_name`, suffix texts must match `suffix(depth)`, and nothing
//! may panic, whatever the labels (empty, huge, many).
#![no_main]

use libfuzzer_sys::fuzz_target;

use dnsward::policy::matcher::{hash_name, LookupKey, MAX_LABELS};

fn check(key: &LookupKey) {
    assert!(key.labels() <= MAX_LABELS);
    assert!(key.name_bytes().len() <= 256);
    let mut seen = 0;
    let mut prev_len = 0;
    for sfx in key.suffixes() {
        seen += 1;
        assert_eq!(sfx.hash, hash_name(sfx.name), "suffix hash mismatch at depth {}", sfx.depth);
        assert_eq!(sfx.name, key.suffix(sfx.depth));
        assert!(sfx.name.len() >= prev_len, "suffixes must grow");
        prev_len = sfx.name.len();
        assert!(key.name_bytes().ends_with(sfx.name));
        let _ = key.suffix_str(sfx.depth);
    }
    assert_eq!(seen, key.labels());
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check(&LookupKey::from_dotted(s));
    }
    // Raw labels: split on 0x00 (so labels may hold dots, any byte, be empty).
    check(&LookupKey::from_labels(data.split(|&b| b == 0)));
});
