//! The packet path, minus the network: raw bytes from a client go through
//! `wire::check::check_wire`; an accepted query is turned into a `LookupKey`,
//! matched against a small list set (directly, and through
//! `Policy::decide`/`explain` over domains, RPZ, allow and dry-run lists),
//! given the blocked answer the pipeline would build, and re-encoded.
//!
//! Invariants checked (besides "nothing panics"):
//! - a reject's reply is a 12-byte response header carrying the request ID;
//! - an accepted packet has exactly one question;
//! - every suffix's hash equals `hash_name` of its text, its text equals
//!   `key.suffix(depth)` and holds no ASCII uppercase; a wire name (at most
//!   255 bytes) is never truncated by `LookupKey`;
//! - `Policy::decide` (anchor early exit) agrees with a plain walk over
//!   every suffix of the name, and `DomainSet::lookup` with `covers`;
//! - the blocked answer the pipeline builds encodes (an encoding failure
//!   turns a policy answer into SERVFAIL).
#![no_main]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use hickory_proto::op::{Edns, Message, OpCode};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;

use dnsward::config::{Action, ListConfig, ListKind, ListMode, SinkholeConfig};
use dnsward::pipeline::{dotted_name, effect_of, Transport};
use dnsward::wire::check::check_wire;
use dnsward::policy::matcher::{hash_name, DomainSet, DomainSetBuilder, Hit, LookupKey};
use dnsward::policy::parse::{parse_reader, EntryAction, Format, Item};
use dnsward::policy::{ede_text_for, CompiledList, Decision, LocalDataMap, Policy};
use dnsward::sinkhole::{Effect, Sinkhole};

const COURT: &str = "example\nads.example\n*.track.example\na.b.c.d.e.f\ndeep.sub.example.com\n\
                     under_score.test\nxn--bcher-kva.example\n*.com\n";
const EXEMPT: &str = "ok.ads.example\n";
const DRY: &str = "dry.example\nx.y.z.dry.test\n";
const RPZ: &str = "$TTL 60\n$ORIGIN rpz.test.\n@ SOA ns. h. 1 2 3 4 5\n NS ns.\n\
nx.example CNAME .\n*.nx.example CNAME *.\nnodata.example CNAME *.\npass.ads.example CNAME rpz-passthru.\n\
drop.example CNAME rpz-drop.\ntcp.example CNAME rpz-tcp-only.\nlocal.example A 10.0.0.1\n AAAA 2001:db8::1\n TXT \"walled garden\"\n\
*.local.example A 10.0.0.2\nwalled.example CNAME garden.example.net.\nrel.example CNAME garden\n";

fn compile(
    name: &str,
    kind: ListKind,
    action: Action,
    mode: ListMode,
    format: Format,
    text: &str,
) -> CompiledList {
    let mut cfg = ListConfig::simple(name, PathBuf::from(name), kind);
    cfg.action = action;
    cfg.mode = mode;
    cfg.format = format;
    if action == Action::Redirect {
        cfg.redirect_to = Some("garden.example".into());
    }
    let mut b = DomainSetBuilder::default();
    let mut local: LocalDataMap = HashMap::new();
    let report = parse_reader(
        text.as_bytes(),
        Path::new(name),
        format,
        &mut |item| match item {
            Item::Entry(e) => b
                .insert(e.name, e.scope, e.action, e.line)
                .expect("insert fixture"),
            Item::Local {
                name,
                below,
                ttl,
                data,
            } => local
                .entry((Box::from(name), below))
                .or_default()
                .push((ttl, data)),
        },
    )
    .expect("parse fixture");
    assert_eq!(report.rejected, 0, "fixture {name}: {:?}", report.rejects);
    CompiledList {
        ede_text: ede_text_for(&cfg),
        cfg,
        set: b.finish().expect("finish fixture"),
        local,
        report,
        loaded_at: SystemTime::UNIX_EPOCH,
        fingerprint: None,
    }
}

struct Fixture {
    set: DomainSet,
    /// One policy per configured action of the domains list.
    policies: Vec<Policy>,
    sinkhole: Sinkhole,
}

const ACTIONS: [Action; 6] = [
    Action::Sinkhole,
    Action::Nxdomain,
    Action::Nodata,
    Action::Refused,
    Action::Drop,
    Action::Redirect,
];

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let policies = ACTIONS
            .into_iter()
            .map(|action| {
                let l = |n, k, m, f, t| Some(Arc::new(compile(n, k, action, m, f, t)));
                Policy {
                    lists: vec![
                        l(
                            "exempt",
                            ListKind::Allow,
                            ListMode::Enforce,
                            Format::Domains,
                            EXEMPT,
                        ),
                        None,
                        l(
                            "dry",
                            ListKind::Block,
                            ListMode::DryRun,
                            Format::Domains,
                            DRY,
                        ),
                        l(
                            "court",
                            ListKind::Block,
                            ListMode::Enforce,
                            Format::Domains,
                            COURT,
                        ),
                        l("rpz", ListKind::Block, ListMode::Enforce, Format::Rpz, RPZ),
                    ],
                    held: vec![],
                }
            })
            .collect();
        let c = compile(
            "court",
            ListKind::Block,
            Action::Sinkhole,
            ListMode::Enforce,
            Format::Domains,
            COURT,
        );
        Fixture {
            set: c.set,
            policies,
            sinkhole: Sinkhole::new(&SinkholeConfig::default()),
        }
    })
}

/// `Policy::decide` without the anchor early exit: every suffix, every list.
fn reference(
    policy: &Policy,
    key: &LookupKey,
) -> (
    Option<(String, u32)>,
    Option<(String, usize, Hit)>,
    Option<(String, usize, Hit)>,
) {
    let (mut allowed, mut best, mut dry) = (None, None, None);
    for sfx in key.suffixes() {
        let (mut found_here, mut dry_here) = (false, false);
        for list in policy.lists.iter().flatten() {
            let Some(hit) = list.set.covers(&sfx) else {
                continue;
            };
            if list.cfg.kind == ListKind::Allow || hit.action == EntryAction::Passthru {
                allowed.get_or_insert((list.cfg.name.clone(), hit.line));
            } else if list.cfg.mode == ListMode::DryRun {
                if !dry_here {
                    dry = Some((list.cfg.name.clone(), sfx.depth, hit));
                    dry_here = true;
                }
            } else if !found_here {
                best = Some((list.cfg.name.clone(), sfx.depth, hit));
                found_here = true;
            }
        }
    }
    (allowed, best, dry)
}

fuzz_target!(|data: &[u8]| {
    let message = match check_wire(data) {
        Ok(m) => m,
        Err(reject) => {
            assert!(!reject.reason.label().is_empty());
            if let Some(reply) = &reject.reply {
                assert_eq!(reply.len(), 12, "reject reply is not a bare header");
                assert_eq!(&reply[..2], &data[..2], "reject reply lost the query ID");
                assert_ne!(reply[2] & 0x80, 0, "reject reply is not a response");
            }
            return;
        }
    };
    let f = fixture();
    assert_eq!(
        message.queries.len(),
        1,
        "check_wire accepted != 1 question"
    );
    let query = &message.queries[0];
    let qname = query.name();
    let qtype = query.query_type();

    let key = LookupKey::from_labels(qname.iter());
    // A wire name is at most 255 bytes, so its dotted form fits the key.
    assert_eq!(
        key.labels(),
        qname.iter().count(),
        "LookupKey truncated a wire name"
    );
    let mut naive = None;
    let mut seen = 0;
    for sfx in key.suffixes() {
        seen += 1;
        assert_eq!(
            sfx.hash,
            hash_name(sfx.name),
            "suffix hash mismatch at {}",
            sfx.depth
        );
        assert_eq!(sfx.name, key.suffix(sfx.depth));
        assert!(!sfx.name.iter().any(u8::is_ascii_uppercase));
        if let Some(h) = f.set.covers(&sfx) {
            naive = Some((sfx.depth, h));
        }
    }
    assert_eq!(seen, key.labels());
    if seen > 0 {
        assert_eq!(key.suffix(0), key.name_bytes());
    }
    // The anchor early exit works on the dotted text; a wire label holding
    // a `.` makes label and text structure differ, so only compare for
    // names whose labels hold no dot.
    let plain = qname.iter().all(|l| !l.contains(&b'.'));
    if plain {
        assert_eq!(
            f.set.lookup(&key),
            naive,
            "DomainSet::lookup != walk over covers"
        );
    }

    let id = message.metadata.id;
    let policy = &f.policies[usize::from(id) % f.policies.len()];
    let verdict = policy.decide(&key);
    let _ = policy.explain(&key);
    if plain {
        let (allowed, best, dry) = reference(policy, &key);
        match &verdict.decision {
            Decision::Allowed { list, line } => {
                assert_eq!(allowed, Some((list.cfg.name.clone(), *line)))
            }
            Decision::Blocked(b) => {
                assert_eq!(allowed, None);
                assert_eq!(best, Some((b.list.cfg.name.clone(), b.depth, b.hit)));
            }
            Decision::NotListed => {
                assert_eq!((&allowed, &best), (&None, &None), "decide missed a rule")
            }
        }
        if allowed.is_none() && best.is_none() {
            let got = verdict
                .would_block
                .map(|b| (b.list.cfg.name.clone(), b.depth, b.hit));
            assert_eq!(got, dry, "dry-run verdict");
        }
    }

    // The pipeline's response skeleton and blocked answer (pipeline/mod.rs
    // `skeleton` + `policy_stage`).
    let mut resp = Message::response(id, OpCode::Query);
    resp.metadata.recursion_desired = message.metadata.recursion_desired;
    resp.metadata.recursion_available = true;
    resp.queries = message.queries.clone();
    if let Some(req_edns) = &message.edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(req_edns.flags().dnssec_ok);
        resp.edns = Some(e);
    }
    let mut blocked_answer = false;
    if let Decision::Blocked(b) = verdict.decision {
        let list = b.list;
        let cfg = &list.cfg;
        let zone_text = key.suffix_str(b.depth);
        // An independent check of decide's result; the mapping itself is
        // the pipeline's own, over both transports (RPZ tcp-only differs).
        assert!(
            b.hit.action != EntryAction::Passthru,
            "decide returned a passthru rule as a block"
        );
        let transport = if id & 1 == 0 {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let effect = effect_of(&b, &zone_text, transport);
        assert_eq!(
            effect.is_none(),
            b.hit.action == EntryAction::TcpOnly && transport == Transport::Tcp,
            "only tcp-only over TCP resolves normally"
        );
        if let Some(effect) = effect {
            let _ = effect.label();
            if !matches!(effect, Effect::Drop) {
                b.ede().attach(&mut resp);
                let zone = dotted_name(&zone_text).unwrap_or_else(Name::root);
                let ttl = cfg.ttl_secs.unwrap_or(f.sinkhole.ttl());
                if !matches!(effect, Effect::Redirect(_)) {
                    f.sinkhole
                        .apply(&mut resp, qname, qtype, &effect, zone, ttl);
                    blocked_answer = true;
                }
            }
        }
    }
    match resp.to_vec() {
        Ok(bytes) => {
            assert!(bytes.len() >= 12);
            assert_eq!(&bytes[..2], &data[..2]);
        }
        // The question came off the wire, so it re-encodes; what we added
        // (SOA, A/AAAA, local data, EDE) must too.
        Err(e) => assert!(!blocked_answer, "blocked answer does not encode: {e}"),
    }
    let _ = resp.truncate().to_vec();
    let _ = message.to_vec();
});
