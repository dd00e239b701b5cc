//! `LookupKey::from_dotted` (the `explain` CLI and HTTP endpoint build keys
//! from text), `LookupKey::from_labels` on arbitrary labels and
//! `LookupKey::assign_wire` on arbitrary wire bytes (the server's path): suffix
//! hashes must match `hash_name`, suffix texts must match `suffix(depth)`
//! and be suffixes of the name, and nothing may panic, whatever the labels
//! (empty, huge, many, holding dots or any byte). The key must be exactly
//! the model below: empty labels skipped, whole labels kept while the
//! dotted name fits 255 bytes and `MAX_LABELS` labels, lowercased.
#![no_main]

use libfuzzer_sys::fuzz_target;

use dnsward::policy::matcher::{hash_name, LookupKey, MAX_LABELS};

/// What `from_labels` keeps (regressions: seeds/lookup_key/regress-*):
/// the dotted name and the kept labels, lowercased.
fn model<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (mut name, mut kept) = (Vec::new(), Vec::new());
    for label in labels.into_iter().filter(|l| !l.is_empty()) {
        let need = label.len() + usize::from(!name.is_empty());
        if kept.len() == MAX_LABELS || name.len() + need > 255 {
            break;
        }
        if !name.is_empty() {
            name.push(b'.');
        }
        let lower: Vec<u8> = label.iter().map(u8::to_ascii_lowercase).collect();
        name.extend_from_slice(&lower);
        kept.push(lower);
    }
    (name, kept)
}

/// The labels `assign_wire` reads from wire bytes: up to the zero label,
/// a length over 63 (a pointer) or one running past the input.
fn wire_labels(w: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&l) = w.get(i) {
        let l = usize::from(l);
        if l == 0 || l > 63 || i + 1 + l > w.len() {
            break;
        }
        out.push(&w[i + 1..i + 1 + l]);
        i += 1 + l;
    }
    out
}

fn check(key: &LookupKey, want: (Vec<u8>, Vec<Vec<u8>>)) {
    assert!(key.labels() <= MAX_LABELS);
    assert!(key.name_bytes().len() <= 255);
    assert_eq!(key.name_bytes(), want.0.as_slice(), "key text");
    assert_eq!(key.labels(), want.1.len(), "key labels");
    // The cache's key: the kept labels in wire form, whatever they hold.
    let wire: Vec<u8> = want
        .1
        .iter()
        .flat_map(|l| std::iter::once(l.len() as u8).chain(l.iter().copied()))
        .collect();
    assert_eq!(key.wire_name(&mut [0; 256]), wire.as_slice(), "wire name");
    let dotted = want.1.iter().any(|l| l.contains(&b'.'));
    assert_eq!(key.has_label_dots(), dotted, "in-label dots");
    if dotted {
        // Same labels, none holding a dot; the suffixes right of the
        // last odd label unchanged.
        let fixed = key.without_label_dots();
        assert!(!fixed.has_label_dots());
        assert_eq!(fixed.labels(), key.labels());
        let last_odd = want.1.iter().rposition(|l| l.contains(&b'.')).unwrap_or(0);
        for d in last_odd + 1..key.labels() {
            assert_eq!(fixed.suffix(d), key.suffix(d));
        }
    }
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
        check(
            &LookupKey::from_dotted(s),
            model(t.split('.').map(str::as_bytes)),
        );
    }
    // Raw labels: split on 0x00 (so labels may hold dots, any byte, be empty).
    check(
        &LookupKey::from_labels(data.split(|&b| b == 0)),
        model(data.split(|&b| b == 0)),
    );
    // The same bytes as a wire name, into a key that held another name.
    let mut key = LookupKey::from_dotted("Stale.Previous.Name.example");
    key.assign_wire(data);
    check(&key, model(wire_labels(data)));
});
