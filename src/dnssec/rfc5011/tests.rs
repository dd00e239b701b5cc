//! Every RFC 5011 transition with an injected clock, and a full root KSK
//! rollover with the state written and read back in between. Keys are
//! ECDSA P-256 (fast to make); the state machine does not care.

use super::*;

use hickory_proto::dnssec::crypto::EcdsaSigningKey;
use hickory_proto::dnssec::rdata::{DNSSECRData, SigInput, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, SigningKey, TBS};
use hickory_proto::rr::{RData, RecordType, SerialNumber};

use crate::dnssec::anchors::FLAG_REVOKE;

mod persistence;

/// 2027-01-15: any fixed clock does.
const T0: UnixTime = 1_800_000_000;
const TTL: u32 = 172_800;

struct Key {
    signer: EcdsaSigningKey,
    dnskey: DNSKEY,
}

impl Key {
    fn new(flags: u16) -> Self {
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(Algorithm::ECDSAP256SHA256).unwrap();
        let signer = EcdsaSigningKey::from_pkcs8(&pkcs8, Algorithm::ECDSAP256SHA256).unwrap();
        let dnskey = DNSKEY::with_flags(flags, signer.to_public_key().unwrap());
        Self { signer, dnskey }
    }

    fn ksk() -> Self {
        Self::new(257)
    }

    /// The key as published with the REVOKE bit.
    fn revoked(&self) -> DNSKEY {
        DNSKEY::with_flags(
            self.dnskey.flags() | FLAG_REVOKE,
            self.dnskey.public_key().clone(),
        )
    }

    fn tag(&self) -> u16 {
        key_tag(&self.dnskey)
    }

    fn ds(&self, zone: &Name) -> DS {
        let digest = self.dnskey.to_digest(zone, DigestType::SHA256).unwrap();
        DS::new(
            self.tag(),
            Algorithm::ECDSAP256SHA256,
            DigestType::SHA256,
            digest.as_ref().to_vec(),
        )
    }
}

/// A DNSKEY RRset of `zone` and its RRSIGs, valid from a day before `now`
/// for 60 days.
struct Answer {
    records: Vec<Record>,
    sigs: Vec<Record>,
}

fn answer(
    zone: &Name,
    published: &[&DNSKEY],
    signers: &[(&Key, &DNSKEY)],
    now: UnixTime,
) -> Answer {
    answer_with(
        zone,
        published,
        signers,
        now - 86_400,
        now + 60 * 86_400,
        TTL,
    )
}

fn answer_with(
    zone: &Name,
    published: &[&DNSKEY],
    signers: &[(&Key, &DNSKEY)],
    inception: UnixTime,
    expiration: UnixTime,
    ttl: u32,
) -> Answer {
    let records: Vec<Record> = published
        .iter()
        .map(|k| {
            Record::from_rdata(
                zone.clone(),
                ttl,
                RData::DNSSEC(DNSSECRData::DNSKEY((*k).clone())),
            )
        })
        .collect();
    let sigs = signers
        .iter()
        .map(|(key, as_published)| {
            let input = SigInput {
                type_covered: RecordType::DNSKEY,
                algorithm: Algorithm::ECDSAP256SHA256,
                num_labels: zone.num_labels(),
                original_ttl: ttl,
                sig_expiration: SerialNumber::new(expiration as u32),
                sig_inception: SerialNumber::new(inception as u32),
                key_tag: key_tag(as_published),
                signer_name: zone.clone(),
            };
            let data = crate::dnssec::canonical::signed_data(&input, &records).unwrap();
            let tbs = TBS::from(&data[..]);
            let sig = key.signer.sign(&tbs).unwrap();
            Record::from_rdata(
                zone.clone(),
                ttl,
                RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))),
            )
        })
        .collect();
    Answer { records, sigs }
}

/// A fresh state directory per test.
fn state_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dnsward-5011-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn anchored(zone: &Name, anchors: Vec<Anchor>) -> AnchorSet {
    let mut set = AnchorSet::new();
    set.set_zone(zone.clone(), anchors);
    set
}

fn tracker(configured: &AnchorSet, dir: &Path) -> Rfc5011 {
    let (tracker, errors) = Rfc5011::new(configured, Some(dir), Timers::default());
    assert!(errors.is_empty(), "{errors:?}");
    tracker
}

fn observe(t: &mut Rfc5011, zone: &Name, a: &Answer, now: UnixTime) -> Observed {
    let seen = t.observe(zone, &a.records, &a.sigs, now);
    assert!(seen.persist_error.is_none(), "{:?}", seen.persist_error);
    seen
}

fn state_of(t: &Rfc5011, zone: &Name, key: &Key) -> Option<KeyState> {
    t.point(zone)?
        .keys
        .iter()
        .find(|k| same_key_ignoring_revoke(&k.key, &key.dnskey))
        .map(|k| k.state)
}

fn trusts(t: &Rfc5011, zone: &Name, key: &Key) -> bool {
    t.anchors_for(zone)
        .iter()
        .any(|a| a.matches(zone, &key.dnskey))
}

const DAY: u64 = 86_400;

/// The whole root KSK rollover as RFC 5011 6 describes it: the new key is
/// published (AddPend), becomes Valid after 30 days, the old key is
/// revoked (Revoked) and forgotten after the remove hold-down; the state
/// file is read back between the steps as after a restart.
#[test]
fn full_root_ksk_rollover_with_restarts() {
    let root = Name::root();
    let dir = state_dir("rollover");
    let old = Key::ksk();
    let new = Key::ksk();
    // Configured as IANA publishes it: the DS of the old KSK.
    let configured = anchored(&root, vec![Anchor::Ds(old.ds(&root))]);
    let mut t = tracker(&configured, &dir);
    assert_eq!(t.due(T0), vec![root.clone()]);

    // Day 0: only the old key. The DS makes it Valid at once.
    let seen = observe(
        &mut t,
        &root,
        &answer(&root, &[&old.dnskey], &[(&old, &old.dnskey)], T0),
        T0,
    );
    assert_eq!(seen.outcome, Outcome::Updated);
    assert_eq!(state_of(&t, &root, &old), Some(KeyState::Valid));
    assert!(t.point(&root).unwrap().ds.is_empty());
    let file = std::fs::read_to_string(dir.join("root.key")).unwrap();
    assert!(file.contains(";;id: . 1"), "{file}");
    assert!(file.contains(";;state=2 [  VALID  ] ;;count=0"), "{file}");

    // Day 1: the new key is published, signed by the old one.
    let both = answer(
        &root,
        &[&old.dnskey, &new.dnskey],
        &[(&old, &old.dnskey)],
        T0 + DAY,
    );
    let seen = observe(&mut t, &root, &both, T0 + DAY);
    assert_eq!(
        seen.transitions,
        [Transition {
            key_tag: new.tag(),
            from: KeyState::Start,
            to: KeyState::AddPend
        }]
    );
    assert!(!trusts(&t, &root, &new));

    // Restart: the state file is the truth now.
    let mut t = tracker(&configured, &dir);
    assert_eq!(state_of(&t, &root, &new), Some(KeyState::AddPend));
    let both = answer(
        &root,
        &[&old.dnskey, &new.dnskey],
        &[(&old, &old.dnskey)],
        T0 + 15 * DAY,
    );
    observe(&mut t, &root, &both, T0 + 15 * DAY);
    assert_eq!(state_of(&t, &root, &new), Some(KeyState::AddPend));
    assert!(!trusts(&t, &root, &new));

    // Day 31: 30 days after first seen, the new key is Valid.
    let both = answer(
        &root,
        &[&old.dnskey, &new.dnskey],
        &[(&old, &old.dnskey)],
        T0 + 31 * DAY + 1,
    );
    let seen = observe(&mut t, &root, &both, T0 + 31 * DAY + 1);
    assert!(seen.transitions.contains(&Transition {
        key_tag: new.tag(),
        from: KeyState::AddPend,
        to: KeyState::Valid
    }));
    assert!(trusts(&t, &root, &new) && trusts(&t, &root, &old));

    // Restart; day 40: the old key is revoked, signed by itself and the new.
    let mut t = tracker(&configured, &dir);
    assert!(trusts(&t, &root, &new));
    let revoked = old.revoked();
    let rolled = answer(
        &root,
        &[&revoked, &new.dnskey],
        &[(&old, &revoked), (&new, &new.dnskey)],
        T0 + 40 * DAY,
    );
    let seen = observe(&mut t, &root, &rolled, T0 + 40 * DAY);
    assert_eq!(seen.outcome, Outcome::Updated);
    assert!(seen.transitions.contains(&Transition {
        key_tag: key_tag(&revoked),
        from: KeyState::Valid,
        to: KeyState::Revoked
    }));
    assert!(!trusts(&t, &root, &old));
    assert_eq!(
        t.anchors_for(&root),
        vec![Anchor::Dnskey(new.dnskey.clone())]
    );
    let file = std::fs::read_to_string(dir.join("root.key")).unwrap();
    assert!(file.contains(";;state=4 [ REVOKED ]"), "{file}");
    assert!(
        file.contains(&format!("{} 3 13", 257 | FLAG_REVOKE)),
        "{file}"
    );

    // Restart; day 60: still within the remove hold-down.
    let mut t = tracker(&configured, &dir);
    assert_eq!(state_of(&t, &root, &old), Some(KeyState::Revoked));
    let only_new = answer(&root, &[&new.dnskey], &[(&new, &new.dnskey)], T0 + 60 * DAY);
    observe(&mut t, &root, &only_new, T0 + 60 * DAY);
    assert_eq!(state_of(&t, &root, &old), Some(KeyState::Revoked));

    // Day 71: 30 days after the revocation the old key is gone.
    let only_new = answer(&root, &[&new.dnskey], &[(&new, &new.dnskey)], T0 + 71 * DAY);
    let seen = observe(&mut t, &root, &only_new, T0 + 71 * DAY);
    assert!(seen.transitions.contains(&Transition {
        key_tag: key_tag(&revoked),
        from: KeyState::Revoked,
        to: KeyState::Removed
    }));
    assert_eq!(state_of(&t, &root, &old), None);
    let t = tracker(&configured, &dir);
    assert_eq!(
        t.anchors_for(&root),
        vec![Anchor::Dnskey(new.dnskey.clone())]
    );
    let file = std::fs::read_to_string(dir.join("root.key")).unwrap();
    assert_eq!(file.matches("IN\tDNSKEY").count(), 1, "{file}");
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["root.key"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Start -> AddPend -> Start: a key withdrawn before its hold-down ends is
/// forgotten, and must wait the whole hold-down again when it returns.
#[test]
fn pending_key_withdrawn_goes_back_to_start() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("withdrawn");
    let a = Key::ksk();
    let b = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey, &b.dnskey], &[(&a, &a.dnskey)], T0),
        T0,
    );
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::AddPend));
    let seen = observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0 + DAY),
        T0 + DAY,
    );
    assert!(seen.transitions.contains(&Transition {
        key_tag: b.tag(),
        from: KeyState::AddPend,
        to: KeyState::Start
    }));
    assert_eq!(state_of(&t, &zone, &b), None);
    let back = answer(
        &zone,
        &[&a.dnskey, &b.dnskey],
        &[(&a, &a.dnskey)],
        T0 + 31 * DAY,
    );
    observe(&mut t, &zone, &back, T0 + 31 * DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::AddPend));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// AddPend -> Valid needs the hold-down to pass *and* two sightings; the
/// hold-down is the DNSKEY TTL when that is longer than 30 days.
#[test]
fn add_holddown_needs_time_two_sightings_and_the_longer_ttl() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("holddown");
    let a = Key::ksk();
    let b = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    let long_ttl = 40 * DAY as u32;
    let at = |now: UnixTime| {
        answer_with(
            &zone,
            &[&a.dnskey, &b.dnskey],
            &[(&a, &a.dnskey)],
            now - DAY,
            now + 60 * DAY,
            long_ttl,
        )
    };
    observe(&mut t, &zone, &at(T0), T0);
    // 31 days: past 30 days but not past the 40-day TTL.
    observe(&mut t, &zone, &at(T0 + 31 * DAY), T0 + 31 * DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::AddPend));
    observe(&mut t, &zone, &at(T0 + 41 * DAY), T0 + 41 * DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Valid));

    // One sighting is not enough, however long ago: the probe that would
    // make it valid must see it again.
    let c = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &state_dir("holddown2"),
    );
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey, &c.dnskey], &[(&a, &a.dnskey)], T0),
        T0,
    );
    assert_eq!(t.point(&zone).unwrap().keys[1].pending_count, 1);
    let without = answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0 + 40 * DAY);
    observe(&mut t, &zone, &without, T0 + 40 * DAY);
    assert_eq!(state_of(&t, &zone, &c), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Valid -> Missing -> Valid, and Missing -> Revoked.
#[test]
fn missing_key_comes_back_or_is_revoked() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("missing");
    let a = Key::ksk();
    let b = Key::ksk();
    let configured = anchored(
        &zone,
        vec![
            Anchor::Dnskey(a.dnskey.clone()),
            Anchor::Dnskey(b.dnskey.clone()),
        ],
    );
    let mut t = tracker(&configured, &dir);
    let only_a = answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0);
    let seen = observe(&mut t, &zone, &only_a, T0);
    assert!(seen.transitions.contains(&Transition {
        key_tag: b.tag(),
        from: KeyState::Valid,
        to: KeyState::Missing
    }));
    // A missing key is still trusted (RFC 5011 4.2).
    assert!(trusts(&t, &zone, &b));
    let both = answer(&zone, &[&a.dnskey, &b.dnskey], &[(&a, &a.dnskey)], T0 + DAY);
    observe(&mut t, &zone, &both, T0 + DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Valid));
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0 + 2 * DAY),
        T0 + 2 * DAY,
    );
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Missing));
    let rb = b.revoked();
    let revoking = answer(
        &zone,
        &[&a.dnskey, &rb],
        &[(&a, &a.dnskey), (&b, &rb)],
        T0 + 3 * DAY,
    );
    observe(&mut t, &zone, &revoking, T0 + 3 * DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Revoked));
    assert!(!trusts(&t, &zone, &b));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A REVOKE bit without the key's own signature over the RRset proves
/// nothing: the key is merely missing.
#[test]
fn revocation_needs_the_keys_own_signature() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("unsigned-revoke");
    let a = Key::ksk();
    let b = Key::ksk();
    let configured = anchored(
        &zone,
        vec![
            Anchor::Dnskey(a.dnskey.clone()),
            Anchor::Dnskey(b.dnskey.clone()),
        ],
    );
    let mut t = tracker(&configured, &dir);
    let rb = b.revoked();
    let forged = answer(&zone, &[&a.dnskey, &rb], &[(&a, &a.dnskey)], T0);
    observe(&mut t, &zone, &forged, T0);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Missing));
    // A signature by another key under the revoked key's tag fails too.
    let wrong = answer(
        &zone,
        &[&a.dnskey, &rb],
        &[(&a, &a.dnskey), (&a, &rb)],
        T0 + DAY,
    );
    observe(&mut t, &zone, &wrong, T0 + DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Missing));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Revoked -> (republished without REVOKE: hold-down restarts) -> Removed.
#[test]
fn remove_holddown_restarts_when_the_key_is_published_unrevoked() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("revoked-back");
    let a = Key::ksk();
    let b = Key::ksk();
    let configured = anchored(
        &zone,
        vec![
            Anchor::Dnskey(a.dnskey.clone()),
            Anchor::Dnskey(b.dnskey.clone()),
        ],
    );
    let mut t = tracker(&configured, &dir);
    let rb = b.revoked();
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey, &rb], &[(&a, &a.dnskey), (&b, &rb)], T0),
        T0,
    );
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Revoked));
    let again = answer(
        &zone,
        &[&a.dnskey, &b.dnskey],
        &[(&a, &a.dnskey)],
        T0 + 20 * DAY,
    );
    observe(&mut t, &zone, &again, T0 + 20 * DAY);
    // Revocation is final: the key stays revoked, not trusted.
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Revoked));
    assert!(!trusts(&t, &zone, &b));
    let only_a = |now| answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], now);
    observe(&mut t, &zone, &only_a(T0 + 45 * DAY), T0 + 45 * DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Revoked));
    observe(&mut t, &zone, &only_a(T0 + 51 * DAY), T0 + 51 * DAY);
    assert_eq!(state_of(&t, &zone, &b), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// When every trusted key is revoked the zone has no anchor left (as
/// Unbound: answers below it become insecure); the state file says so and a
/// restart keeps it so.
#[test]
fn revoking_every_key_removes_the_trust_point() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("all-revoked");
    let a = Key::ksk();
    let configured = anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]);
    let mut t = tracker(&configured, &dir);
    let ra = a.revoked();
    let seen = observe(&mut t, &zone, &answer(&zone, &[&ra], &[(&a, &ra)], T0), T0);
    assert_eq!(seen.outcome, Outcome::TrustPointRevoked);
    assert!(t.anchors_for(&zone).is_empty());
    assert!(t.trusted().is_empty());
    assert!(t.due(T0 + 100 * DAY).is_empty());
    let file = std::fs::read_to_string(dir.join("example.key")).unwrap();
    assert!(
        file.starts_with("; autotrust trust anchor file\n;;REVOKED\n"),
        "{file}"
    );
    let mut t = tracker(&configured, &dir);
    assert!(t.anchors_for(&zone).is_empty());
    assert_eq!(
        t.observe(&zone, &[], &[], T0 + DAY).outcome,
        Outcome::Ignored
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An RRset not signed by a trusted key, or signed outside the validity
/// window, teaches nothing, and counts as a failed probe.
#[test]
fn unverified_rrset_adds_no_key() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("unverified");
    let a = Key::ksk();
    let intruder = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0),
        T0,
    );
    let spoofed = answer(
        &zone,
        &[&a.dnskey, &intruder.dnskey],
        &[(&intruder, &intruder.dnskey)],
        T0 + DAY,
    );
    let seen = observe(&mut t, &zone, &spoofed, T0 + DAY);
    assert_eq!(seen.outcome, Outcome::NotValidated);
    assert_eq!(state_of(&t, &zone, &intruder), None);
    assert_eq!(t.point(&zone).unwrap().query_failed, 1);
    assert_eq!(t.stats().probe_failures, 1);
    // Retried at the retry time, not at the refresh interval.
    assert_eq!(t.next_due(), Some(T0 + DAY + 17_280));

    let expired = answer_with(
        &zone,
        &[&a.dnskey, &intruder.dnskey],
        &[(&a, &a.dnskey)],
        T0 - 10 * DAY,
        T0 + DAY,
        TTL,
    );
    let seen = observe(&mut t, &zone, &expired, T0 + 2 * DAY);
    assert_eq!(seen.outcome, Outcome::NotValidated);
    let early = answer_with(
        &zone,
        &[&a.dnskey],
        &[(&a, &a.dnskey)],
        T0 + 5 * DAY,
        T0 + 9 * DAY,
        TTL,
    );
    assert_eq!(
        observe(&mut t, &zone, &early, T0 + 2 * DAY).outcome,
        Outcome::NotValidated
    );
    assert_eq!(t.point(&zone).unwrap().query_failed, 3);
    // A good probe resets the failure count.
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0 + 3 * DAY),
        T0 + 3 * DAY,
    );
    assert_eq!(t.point(&zone).unwrap().query_failed, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// RFC 5011 2.3: MAX(1 h, MIN(15 d, TTL/2, expiry/2)); retry
/// MAX(1 h, MIN(1 d, TTL/10, expiry/10)).
#[test]
fn refresh_interval_rule() {
    let zone = Name::root();
    let a = Key::ksk();
    let sig_of = |expires_in: u64| {
        let ans = answer_with(
            &zone,
            &[&a.dnskey],
            &[(&a, &a.dnskey)],
            T0 - DAY,
            T0 + expires_in,
            TTL,
        );
        match &ans.sigs[0].data {
            RData::DNSSEC(DNSSECRData::RRSIG(sig)) => sig.clone(),
            _ => unreachable!(),
        }
    };
    let long = sig_of(60 * DAY);
    assert_eq!(refresh_intervals(172_800, &[&long], T0), (86_400, 17_280));
    let short = sig_of(4 * 3600);
    assert_eq!(refresh_intervals(172_800, &[&short], T0), (7_200, 3_600));
    assert_eq!(refresh_intervals(600, &[&long], T0), (3_600, 3_600));
    assert_eq!(
        refresh_intervals(100 * DAY as u32, &[], T0),
        (7 * DAY + 12 * 3600, DAY)
    );
}

/// due() hands out a zone once and schedules its retry; a good probe sets
/// the refresh interval, a failed one the retry time.
#[test]
fn probe_schedule() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("schedule");
    let a = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    assert_eq!(t.next_due(), Some(0));
    assert_eq!(t.due(T0), vec![zone.clone()]);
    assert!(t.due(T0 + 10).is_empty());
    assert_eq!(t.next_due(), Some(T0 + 3600));
    observe(
        &mut t,
        &zone,
        &answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], T0),
        T0,
    );
    assert_eq!(t.next_due(), Some(T0 + 86_400));
    assert!(t.due(T0 + 86_399).is_empty());
    assert_eq!(t.due(T0 + 86_400), vec![zone.clone()]);
    t.probe_failed(&zone, T0 + 86_400);
    assert_eq!(t.next_due(), Some(T0 + 86_400 + 17_280));
    // The schedule survives a restart.
    let t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    assert_eq!(t.point(&zone).unwrap().next_probe_time, T0 + 86_400);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A clock that went backwards delays the hold-down instead of ending it.
#[test]
fn clock_going_backwards_delays_the_holddown() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("backwards");
    let a = Key::ksk();
    let b = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(a.dnskey.clone())]),
        &dir,
    );
    let both = |now| answer(&zone, &[&a.dnskey, &b.dnskey], &[(&a, &a.dnskey)], now);
    observe(&mut t, &zone, &both(T0 + 100 * DAY), T0 + 100 * DAY);
    observe(&mut t, &zone, &both(T0), T0);
    observe(&mut t, &zone, &both(T0 + 40 * DAY), T0 + 40 * DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::AddPend));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A key missing longer than keep-missing is dropped once another is valid.
#[test]
fn long_missing_key_is_dropped() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("keep-missing");
    let a = Key::ksk();
    let b = Key::ksk();
    let configured = anchored(
        &zone,
        vec![
            Anchor::Dnskey(a.dnskey.clone()),
            Anchor::Dnskey(b.dnskey.clone()),
        ],
    );
    let mut t = tracker(&configured, &dir);
    let only_a = |now| answer(&zone, &[&a.dnskey], &[(&a, &a.dnskey)], now);
    observe(&mut t, &zone, &only_a(T0), T0);
    observe(&mut t, &zone, &only_a(T0 + 300 * DAY), T0 + 300 * DAY);
    assert_eq!(state_of(&t, &zone, &b), Some(KeyState::Missing));
    observe(&mut t, &zone, &only_a(T0 + 367 * DAY), T0 + 367 * DAY);
    assert_eq!(state_of(&t, &zone, &b), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A configured ZSK anchor trusts the KSKs it finds at once and then gives
/// way to them (Unbound's bootstrap from a ZSK).
#[test]
fn zsk_anchor_bootstraps_the_ksk() {
    let zone = Name::from_ascii("example.").unwrap();
    let dir = state_dir("zsk");
    let zsk = Key::new(256);
    let ksk = Key::ksk();
    let mut t = tracker(
        &anchored(&zone, vec![Anchor::Dnskey(zsk.dnskey.clone())]),
        &dir,
    );
    let keys = answer(
        &zone,
        &[&zsk.dnskey, &ksk.dnskey],
        &[(&zsk, &zsk.dnskey), (&ksk, &ksk.dnskey)],
        T0,
    );
    observe(&mut t, &zone, &keys, T0);
    assert_eq!(state_of(&t, &zone, &ksk), Some(KeyState::Valid));
    assert_eq!(state_of(&t, &zone, &zsk), None);
    assert_eq!(
        t.anchors_for(&zone),
        vec![Anchor::Dnskey(ksk.dnskey.clone())]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A revoked trust point leaves the trusted set, so its names fall to the
/// anchor above it.
#[test]
fn revoked_trust_point_falls_back_to_the_parent_anchor() {
    let root = Name::root();
    let zone = Name::from_ascii("corp.example.").unwrap();
    let dir = state_dir("parent");
    let r = Key::ksk();
    let z = Key::ksk();
    let mut configured = anchored(&root, vec![Anchor::Dnskey(r.dnskey.clone())]);
    configured.set_zone(zone.clone(), vec![Anchor::Dnskey(z.dnskey.clone())]);
    let mut t = tracker(&configured, &dir);
    let rz = z.revoked();
    let seen = observe(&mut t, &zone, &answer(&zone, &[&rz], &[(&z, &rz)], T0), T0);
    assert_eq!(seen.outcome, Outcome::TrustPointRevoked);
    let trusted = t.trusted();
    let name = Name::from_ascii("www.corp.example.").unwrap();
    let (start, _) = trusted.closest_enclosing(&name).unwrap();
    assert!(start.is_root());
    std::fs::remove_dir_all(&dir).unwrap();
}
