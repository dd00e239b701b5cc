//! Units of the spine: list names as absolute names, and a message read
//! once by its listener going down the whole query path without being
//! parsed again.

use super::*;
use crate::config::{AclConfig, CacheConfig, RateLimitConfig, SinkholeConfig};
use crate::resolve::forward::Forwarder;
use crate::wire::quick::tests::parses;
use hickory_proto::rr::rdata::A;

#[test]
fn list_names_become_absolute_names() {
    for t in [
        "-ads.example",
        "garden.example.",
        "garden.example",
        "under_score.x",
    ] {
        let n = dotted_name(t).expect(t);
        assert!(n.is_fqdn());
        let labels: Vec<&[u8]> = n.iter().collect();
        let want: Vec<&[u8]> = t
            .trim_end_matches('.')
            .split('.')
            .map(str::as_bytes)
            .collect();
        assert_eq!(labels, want);
    }
}

/// A handler with no lists, a forwarder it never reaches (every query
/// here is answered from the cache) and default access control.
fn handler() -> Handler {
    let metrics = Arc::new(Metrics::new().expect("metrics"));
    let exempt = AclConfig {
        allow: RateLimitConfig::default().exempt,
        deny: Vec::new(),
    };
    Handler {
        policy: Arc::new(PolicyStore::new(Vec::new(), metrics.clone(), None)),
        cache: AnswerCache::new(CacheConfig::default()),
        upstream: Upstream::forward(Forwarder::new(
            vec![SocketAddr::from(([127, 0, 0, 1], 9))],
            Duration::from_millis(10),
        )),
        sinkhole: Sinkhole::new(&SinkholeConfig::default()),
        metrics: metrics.clone(),
        max_udp_payload: 1232,
        resolve_timeout: Duration::from_millis(10),
        log_blocked: false,
        dnstap: None,
        chained: None,
        blocked_log_cap: crate::logcap::LineCap::new(
            10,
            metrics.log_suppressed.with_label_values(&["blocked"]),
            Instant::now(),
        ),
        querylog: None,
        acl: ArcSwap::from_pointee(Acl::new(&AclConfig::default()).expect("acl")),
        limiter: ArcSwap::from_pointee(
            RateLimiter::new(&RateLimitConfig::default()).expect("limiter"),
        ),
        limiter_exempt: ArcSwap::from_pointee(Acl::new(&exempt).expect("exempt")),
        resolve_slots: Semaphore::new(4),
        inflight: AtomicUsize::new(0),
        prefetch: None,
        notify: crate::transfer::NotifyRouter::new(Vec::new()),
    }
}

/// `www.example. A` with EDNS, as a stub sends it.
fn query_bytes(id: u16) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    let name = Name::from_ascii("www.example.").expect("name");
    m.add_query(Query::query(name, RecordType::A));
    m.edns = Some(Edns::new());
    m.to_vec().expect("encode")
}

#[tokio::test]
async fn a_message_is_quick_parsed_once_on_every_path() {
    let h = handler();
    let name = Name::from_ascii("www.example.").expect("name");
    let query = Query::query(name.clone(), RecordType::A);
    let mut answer = Message::response(0, OpCode::Query);
    answer.add_query(query.clone());
    answer.answers.push(Record::from_rdata(
        name,
        300,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    let stored = h
        .cache
        .insert(&cache_key(&query, false), &query, &answer, Instant::now());
    assert!(stored.is_some(), "cached");
    let client = SocketAddr::from(([127, 0, 0, 1], 5300));
    let answered = |bytes: &[u8], id: u16| {
        let m = Message::from_vec(bytes).expect("decode");
        assert_eq!(m.metadata.id, id);
        assert_eq!(m.answers.len(), 1, "{m:?}");
    };

    // UDP as the receive loop does it: one parse, then the fast path
    // (query 1) or, as when the fast path declines, the normal path in a
    // task with a copy of the packet (query 2: the answer is rendered from
    // the entry's template, which needs the parse again).
    let mut key = LookupKey::new();
    for id in [1, 2] {
        let bytes = query_bytes(id);
        let before = parses();
        let packet = Packet::read(&bytes);
        let q = packet.quick.expect("a plain query");
        key.assign_wire(q.qname);
        let out = if id == 1 {
            h.try_fast(&bytes, &q, &key, client).expect("served fast")
        } else {
            let copy = packet.to_buf();
            h.handle_admitted(copy.view(), Transport::Udp, Admission::Allow, client)
                .await
                .expect("an answer")
        };
        answered(&out, id);
        assert_eq!(parses() - before, 1, "query {id} over UDP");
    }

    // TCP: the connection task reads the message once.
    let bytes = query_bytes(3);
    let before = parses();
    let out = h
        .handle(Packet::read(&bytes), Transport::Tcp, client)
        .await
        .expect("an answer");
    answered(&out, 3);
    assert_eq!(parses() - before, 1, "over TCP");
}
