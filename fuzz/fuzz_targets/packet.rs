//! The packet path, minus the network: raw bytes from a client go through
//! `pipeline::check_wire`; an accepted query is turned into a `LookupKey`,
//! matched against a small list (directly and through `Policy::decide`),
//! given the blocked answer the pipeline would build, and re-encoded.
//!
//! Invariants checked (besides "nothing panics"):
//! - a reject's reply is a 12-byte header carrying the request's ID;
//! - an accepted packet has exactly one question;
//! - every suffix's hash equals `hash_name` of its text, its text equals
//!   `key.suffix(depth)`, and it holds no ASCII uppercase;
//! - a name that fits DNS limits is not truncated by `LookupKey`.
#![no_main]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use hickory_proto::op::{Edns, Message, OpCode};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

use dnsward::config::{Action, ListKind, SinkholeConfig};
use dnsward::pipeline::check_wire;
use dnsward::policy::matcher::{hash_name, DomainSet, DomainSetBuilder, LookupKey};
use dnsward::policy::parse::{Coverage, ParseReport};
use dnsward::policy::{CompiledList, Decision, Policy};
use dnsward::sinkhole::{ede, Sinkhole};

const BLOCKED: &[(&str, Coverage)] = &[
    ("example", Coverage::SUBTREE),
    ("ads.example", Coverage::SUBTREE),
    ("track.example", Coverage::BELOW),
    ("a.b.c.d.e.f", Coverage::SUBTREE),
    ("xn--bcher-kva.example", Coverage::SUBTREE),
    ("under_score.test", Coverage::SUBTREE),
    ("com", Coverage::BELOW),
];
const ALLOWED: &[(&str, Coverage)] = &[("ok.ads.example", Coverage::SUBTREE)];

fn set(names: &[(&str, Coverage)]) -> DomainSet {
    let mut b = DomainSetBuilder::default();
    for (i, (n, c)) in names.iter().enumerate() {
        b.insert(n, *c, i as u32 + 1).expect("insert seed name");
    }
    b.finish()
}

fn compiled(name: &str, kind: ListKind, action: Action, names: &[(&str, Coverage)]) -> CompiledList {
    CompiledList {
        name: name.to_string(),
        kind,
        action,
        ede: 15,
        path: PathBuf::from("fuzz"),
        set: set(names),
        report: ParseReport::default(),
        loaded_at: SystemTime::UNIX_EPOCH,
        fingerprint: None,
    }
}

struct Fixture {
    set: DomainSet,
    policies: Vec<Policy>,
    sinkhole: Sinkhole,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let policies = [Action::Sinkhole, Action::Nxdomain, Action::Nodata, Action::Refused]
            .into_iter()
            .map(|action| Policy {
                lists: vec![
                    Some(Arc::new(compiled("exempt", ListKind::Allow, action, ALLOWED))),
                    None,
                    Some(Arc::new(compiled("court", ListKind::Block, action, BLOCKED))),
                ],
            })
            .collect();
        Fixture {
            set: set(BLOCKED),
            policies,
            sinkhole: Sinkhole::new(&SinkholeConfig::default()),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let message = match check_wire(data) {
        Ok(m) => m,
        Err(reject) => {
            assert!(!reject.reason.is_empty());
            if let Some(reply) = &reject.reply {
                assert_eq!(reply.len(), 12, "reject reply is not a bare header");
                assert_eq!(&reply[..2], &data[..2], "reject reply lost the query ID");
                assert_ne!(reply[2] & 0x80, 0, "reject reply is not a response");
            }
            return;
        }
    };
    let f = fixture();
    assert_eq!(message.queries.len(), 1, "check_wire accepted != 1 question");
    let query = &message.queries[0];
    let qname = query.name();

    let key = LookupKey::from_labels(qname.iter());
    // A wire name is at most 255 bytes, so its dotted form fits the key.
    assert_eq!(key.labels(), qname.iter().count(), "LookupKey truncated a wire name");
    let mut most_specific = None;
    let mut seen = 0;
    for sfx in key.suffixes() {
        seen += 1;
        assert_eq!(sfx.hash, hash_name(sfx.name), "suffix hash mismatch at {}", sfx.depth);
        assert_eq!(sfx.name, key.suffix(sfx.depth));
        assert!(!sfx.name.iter().any(u8::is_ascii_uppercase));
        if f.set.covers(&sfx).is_some() {
            most_specific = Some(sfx.depth);
        }
        let _ = f.set.get_hashed(sfx.name, sfx.hash);
    }
    assert_eq!(seen, key.labels());
    if seen > 0 {
        assert_eq!(key.suffix(0), key.name_bytes());
    }

    // The pipeline's blocked path, for each action.
    let action_pick = usize::from(message.metadata.id) % f.policies.len();
    let policy = &f.policies[action_pick];
    let decided = match policy.decide(&key) {
        Decision::Blocked { list, suffix, line } => {
            assert!(line >= 1);
            Some((list, suffix))
        }
        Decision::Allowed { list } => {
            assert_eq!(list.kind, ListKind::Allow);
            None
        }
        Decision::NotListed => {
            assert!(most_specific.is_none(), "set covers the name but policy says not listed");
            None
        }
    };
    let _ = policy.explain(&key);

    let mut resp = Message::response(message.metadata.id, OpCode::Query);
    resp.metadata.recursion_desired = message.metadata.recursion_desired;
    resp.queries = message.queries.clone();
    if let Some(req_edns) = &message.edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(req_edns.flags().dnssec_ok);
        resp.edns = Some(e);
    }
    if let Some((list, suffix)) = decided {
        let zone = Name::from_ascii(format!("{}.", key.suffix_str(suffix))).unwrap_or_else(|_| Name::root());
        f.sinkhole.answer(&mut resp, qname, query.query_type(), list.action, zone);
        if let Some(e) = resp.edns.as_mut() {
            e.options_mut().insert(ede(list.ede, &format!("blocked by list {}", list.name)));
        }
    }
    if let Ok(bytes) = resp.to_vec() {
        assert!(bytes.len() >= 12);
        assert_eq!(&bytes[..2], &data[..2]);
    }
    let _ = resp.truncate().to_vec();

    let _ = message.to_vec();
});
