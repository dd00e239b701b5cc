//! The RFC 5011 state table (section 4) for one probe of one trust point,
//! after Unbound's autotrust: revocations first, then the RRset must verify
//! with a key trusted now, then every KSK moves by what the RRset shows.

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, RRSIG};
use hickory_proto::dnssec::PublicKey;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{KeyState, Outcome, Timers, TrackedKey, Transition, TrustPoint, UnixTime, DAY, HOUR};
use super::{MAX_VERIFICATIONS, MIN_PENDING_COUNT};
use crate::dnssec::anchors::{key_tag, Anchor, FLAG_REVOKE, FLAG_SEP};
use crate::dnssec::canonical::signed_data;
use crate::dnssec::{supported_algorithm, verify_signature};

/// The DNSKEYs at `zone` with their TTLs.
fn dnskeys_of<'r>(zone: &Name, records: &'r [Record]) -> Vec<(&'r Record, &'r DNSKEY)> {
    records
        .iter()
        .filter(|r| r.name == *zone && r.dns_class == DNSClass::IN)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some((r, key)),
            _ => None,
        })
        .collect()
}

/// The RRSIGs over `zone`'s DNSKEY RRset signed by the zone itself.
fn rrsigs_of<'r>(zone: &Name, records: &'r [Record]) -> Vec<&'r RRSIG> {
    records
        .iter()
        .filter(|r| r.name == *zone)
        .filter_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig),
            _ => None,
        })
        .filter(|sig| {
            sig.input().type_covered == RecordType::DNSKEY && sig.input().signer_name == *zone
        })
        .collect()
}

/// Whether `now` is inside the signature's validity window (serial number
/// arithmetic, RFC 4034 3.1.5).
fn in_window(sig: &RRSIG, now: UnixTime) -> bool {
    let now = now as u32;
    let inception = sig.input().sig_inception.get();
    let expiration = sig.input().sig_expiration.get();
    (now.wrapping_sub(inception) as i32) >= 0 && (expiration.wrapping_sub(now) as i32) >= 0
}

/// Whether one of `sigs` by `key` verifies the RRset `records`. The signed
/// data and the verification are the validation library's, so a probe
/// and a query agree on what a valid signature is.
fn signed_by(
    records: &[Record],
    sigs: &[&RRSIG],
    key: &DNSKEY,
    now: UnixTime,
    budget: &mut u32,
) -> bool {
    let tag = key_tag(key);
    let algorithm = key.public_key().algorithm();
    for sig in sigs {
        if sig.input().key_tag != tag || sig.input().algorithm != algorithm || !in_window(sig, now)
        {
            continue;
        }
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let Ok(data) = signed_data(sig.input(), records) else {
            continue;
        };
        if verify_signature(key, &data, sig.sig()) {
            return true;
        }
    }
    false
}

/// RFC 5011 2.3 active refresh: MAX(1 hour, MIN(15 days, TTL/2, expiry/2)),
/// and the retry after a failure MAX(1 hour, MIN(1 day, TTL/10, expiry/10));
/// `expiry` is the time to the earliest signature expiry (15 days at most).
pub fn refresh_intervals(ttl: u32, sigs: &[&RRSIG], now: UnixTime) -> (u64, u64) {
    let mut expiry = 15 * DAY;
    for sig in sigs {
        let left = sig.input().sig_expiration.get().wrapping_sub(now as u32) as i32;
        if left > 0 {
            expiry = expiry.min(left as u64);
        }
    }
    let ttl = u64::from(ttl);
    let query = (15 * DAY).min(ttl / 2).min(expiry / 2).max(HOUR);
    let retry = DAY.min(ttl / 10).min(expiry / 10).max(HOUR);
    (query, retry)
}

/// Seconds past `holddown` since the key's last change (0: not yet, or the
/// clock went backwards).
fn holddown_exceeded(key: &TrackedKey, holddown: u64, now: UnixTime) -> bool {
    now >= key.last_change && now - key.last_change > holddown
}

/// AddTime event: a pending key seen often enough becomes Valid once its
/// hold-down (the larger of the add hold-down and its TTL) is over.
fn add_time(
    point: &mut TrustPoint,
    i: usize,
    timers: Timers,
    now: UnixTime,
    out: &mut Vec<Transition>,
) {
    let key = &point.keys[i];
    let holddown = timers.add_holddown_secs.max(u64::from(key.ttl));
    if key.state == KeyState::AddPend
        && holddown_exceeded(key, holddown, now)
        && key.pending_count >= MIN_PENDING_COUNT
    {
        point.set_state(i, KeyState::Valid, now, out);
        point.keys[i].pending_count = 0;
    }
}

/// One probe through the state table (Unbound's autr_process_prime).
pub(super) fn process(
    point: &mut TrustPoint,
    dnskey_records: &[Record],
    rrsig_records: &[Record],
    now: UnixTime,
    timers: Timers,
    out: &mut Vec<Transition>,
) -> Outcome {
    let zone = point.zone.clone();
    point.last_queried = now;
    // Time alone may make a pending key valid, before the RRset is judged.
    for i in 0..point.keys.len() {
        if point.keys[i].is_sep() {
            add_time(point, i, timers, now, out);
        }
    }
    let keys = dnskeys_of(&zone, dnskey_records);
    let records: Vec<Record> = keys.iter().map(|(r, _)| (*r).clone()).collect();
    let sigs = rrsigs_of(&zone, rrsig_records);
    let mut budget = MAX_VERIFICATIONS;

    // Self-signed revocations prove themselves (RFC 5011 2.1).
    for (_, key) in &keys {
        if key.flags() & FLAG_REVOKE == 0 || key.flags() & FLAG_SEP == 0 {
            continue;
        }
        let Some(i) = point.find(key) else { continue };
        if !point.keys[i].state.trusted() {
            continue;
        }
        if signed_by(&records, &sigs, key, now, &mut budget) {
            point.keys[i].key = (*key).clone();
            point.set_state(i, KeyState::Revoked, now, out);
        }
    }
    if point.ds.is_empty() && !point.keys.iter().any(|k| k.state.trusted()) {
        point.revoked = true;
        point.last_success = now;
        point.next_probe_time = 0;
        return Outcome::TrustPointRevoked;
    }

    // The RRset must verify with a key trusted now.
    let trusted: Vec<&DNSKEY> =
        keys.iter()
            .map(|(_, k)| *k)
            .filter(|k| {
                point
                    .ds
                    .iter()
                    .any(|ds| Anchor::Ds(ds.clone()).matches(&zone, k))
                    || point.keys.iter().any(|t| {
                        t.state.trusted() && Anchor::Dnskey(t.key.clone()).matches(&zone, k)
                    })
            })
            .collect();
    let verified = trusted
        .iter()
        .any(|k| signed_by(&records, &sigs, k, now, &mut budget));
    if !verified {
        if point.last_success != 0 {
            point.query_failed = point.query_failed.saturating_add(1);
        }
        point.next_probe_time = now + point.retry_time.max(HOUR);
        return Outcome::NotValidated;
    }
    point.last_success = now;
    point.query_failed = 0;

    // Which KSKs are in the RRset; new ones start tracking.
    for key in &mut point.keys {
        key.fetched = false;
    }
    let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
    for (record, key) in &keys {
        if key.flags() & FLAG_SEP == 0
            || key.flags() & FLAG_REVOKE != 0
            || !supported_algorithm(key.public_key().algorithm())
        {
            continue;
        }
        let i = match point.find(key) {
            Some(i) => i,
            None => {
                let by_ds = point
                    .ds
                    .iter()
                    .any(|ds| Anchor::Ds(ds.clone()).matches(&zone, key));
                let state = if by_ds {
                    KeyState::Valid
                } else {
                    KeyState::Start
                };
                point
                    .keys
                    .push(TrackedKey::new((*key).clone(), record.ttl, state));
                point.keys.len() - 1
            }
        };
        let tracked = &mut point.keys[i];
        tracked.fetched = true;
        tracked.ttl = record.ttl;
        tracked.pending_count = tracked.pending_count.saturating_add(1).min(250);
    }
    let (query, retry) = refresh_intervals(ttl, &sigs, now);
    point.query_interval = query;
    point.retry_time = retry;

    // The state table, for KSKs (RFC 5011 4).
    for i in 0..point.keys.len() {
        if !point.keys[i].is_sep() {
            continue;
        }
        let fetched = point.keys[i].fetched;
        match point.keys[i].state {
            KeyState::Start if fetched => point.set_state(i, KeyState::AddPend, now, out),
            KeyState::AddPend if !fetched => {
                point.set_state(i, KeyState::Start, now, out);
                point.keys[i].pending_count = 0;
            }
            KeyState::AddPend => add_time(point, i, timers, now, out),
            KeyState::Valid if !fetched => point.set_state(i, KeyState::Missing, now, out),
            KeyState::Valid if point.keys[i].last_change == 0 => point.keys[i].last_change = now,
            KeyState::Missing if fetched => point.set_state(i, KeyState::Valid, now, out),
            // Published again without REVOKE: the remove hold-down restarts.
            KeyState::Revoked if fetched => point.keys[i].last_change = now,
            KeyState::Revoked
                if holddown_exceeded(&point.keys[i], timers.remove_holddown_secs, now) =>
            {
                point.set_state(i, KeyState::Removed, now, out);
            }
            _ => {}
        }
    }
    remove_stale(point, timers, now, out);

    // Forget what is no longer tracked; DS anchors have done their work
    // once the keys they name are tracked (Unbound keeps DNSKEYs only).
    point
        .keys
        .retain(|k| !matches!(k.state, KeyState::Start | KeyState::Removed));
    for key in &mut point.keys {
        key.fetched = false;
        if key.state != KeyState::AddPend {
            key.pending_count = 0;
        }
    }
    point.ds.clear();
    point.next_probe_time = now + point.query_interval;
    if !point.keys.iter().any(|k| k.state.trusted()) {
        point.revoked = true;
        point.next_probe_time = 0;
        return Outcome::TrustPointRevoked;
    }
    Outcome::Updated
}

/// Configured non-KSK anchors give way to a valid KSK (a ZSK anchor alone
/// makes the pending KSKs valid at once, as it is all there is to trust);
/// keys missing past keep-missing go when another KSK is valid.
fn remove_stale(point: &mut TrustPoint, timers: Timers, now: UnixTime, out: &mut Vec<Transition>) {
    let mut valid = point
        .keys
        .iter()
        .filter(|k| k.is_sep() && k.state == KeyState::Valid)
        .count();
    if valid == 0 {
        let zsk_anchor = point
            .keys
            .iter()
            .any(|k| !k.is_sep() && k.state == KeyState::Valid && k.last_change == 0);
        if !zsk_anchor {
            return;
        }
        for i in 0..point.keys.len() {
            if point.keys[i].is_sep() && point.keys[i].state == KeyState::AddPend {
                point.set_state(i, KeyState::Valid, now, out);
                valid += 1;
            }
        }
        if valid == 0 {
            return;
        }
    }
    for i in 0..point.keys.len() {
        let key = &point.keys[i];
        if key.state == KeyState::Start {
            continue;
        }
        if !key.is_sep() {
            point.set_state(i, KeyState::Removed, now, out);
            continue;
        }
        if key.state == KeyState::Missing
            && timers.keep_missing_secs != 0
            && holddown_exceeded(key, timers.keep_missing_secs, now)
        {
            point.set_state(i, KeyState::Removed, now, out);
        }
    }
}
