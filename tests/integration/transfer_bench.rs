//! The 1,000,000-record zone transfer benchmark (ignored; run by hand, see
//! docs/benchmarks.md), beside the transfer tests whose helpers it uses.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use super::transfer::{
    framed, list_toml, node_toml, rcode, read_request, serial, transfers, NxProber,
};
use crate::common::*;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::AsyncWriteExt;

/// Not a test: the time for a 1,000,000-record AXFR (transfer, TSIG off,
/// render the seed, compile, swap), then for an IXFR of 1,000 changes
/// (500 names removed, 500 added) from NOTIFY to serving, with queries
/// probed throughout the IXFR. Run with
/// `cargo test --release --test integration -- --ignored --nocapture axfr_1m`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn axfr_1m_records_bench() {
    let n = 1_000_000;
    let soa = |serial: u32| {
        records(&format!(
            "rpz.test. 300 SOA ns.rpz.test. h.rpz.test. {serial} 30\n"
        ))
    };
    let block = |name: &str| records(&format!("{name}.example.rpz.test. 300 CNAME .\n"));
    let mut all = soa(20);
    for i in 0..n {
        all.extend(block(&format!("b{i}")));
    }
    all.extend(soa(20));
    let mut diff = soa(21);
    diff.extend(soa(20));
    for i in 0..500 {
        diff.extend(block(&format!("b{i}")));
    }
    diff.extend(soa(21));
    for i in 0..500 {
        diff.extend(block(&format!("c{i}")));
    }
    diff.extend(soa(21));
    let (all, diff) = (std::sync::Arc::new(all), std::sync::Arc::new(diff));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let primary = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let (all, diff) = (all.clone(), diff.clone());
            tokio::spawn(async move {
                let Some(q) = read_request(&mut s).await else {
                    return;
                };
                let ixfr_from_20 = q.queries[0].query_type == RecordType::IXFR
                    && q.authorities.first().is_some_and(
                        |r| matches!(&r.data, hickory_proto::rr::RData::SOA(s) if s.serial == 20),
                    );
                let answer = if ixfr_from_20 { diff } else { all };
                for chunk in answer.chunks(1000) {
                    let mut m = Message::response(q.metadata.id, OpCode::Query);
                    m.queries = q.queries.clone();
                    m.answers = chunk.to_vec();
                    let out = framed(m.to_vec().unwrap());
                    if s.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = TempDir::new("xfr-bench");
    let seed = dir.path().join("court.rpz");
    let extra = "max_shrink_percent = 100\n";
    let toml = node_toml(&list_toml(&seed, primary, None, "")).replace(
        "order_id = \"ORDER-7\"\n",
        &format!("order_id = \"ORDER-7\"\n{extra}"),
    );
    let t0 = Instant::now();
    let r = start_dnsward(&dir, &toml).await;
    let deadline = Instant::now() + Duration::from_secs(600);
    while serial(&r) != 20 {
        assert!(Instant::now() < deadline, "no transfer");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = t0.elapsed();
    let entries = r.metrics.list_entries.with_label_values(&["court"]).get();
    eprintln!(
        "AXFR of {n} records: {:.2} s from start to serving ({entries} entries), seed {} MB",
        took.as_secs_f64(),
        std::fs::metadata(&seed).map(|m| m.len()).unwrap_or(0) / 1_000_000
    );
    assert_eq!(entries, n as i64);

    // IXFR: NOTIFY from the primary's address, queries probed throughout.
    let prober = NxProber::start(r.dns[0], "b900.example", Duration::from_millis(1));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut m = Message::new(9, hickory_proto::op::MessageType::Query, OpCode::Notify);
    m.add_query(hickory_proto::op::Query::query(
        hickory_proto::rr::Name::from_ascii("rpz.test.").unwrap(),
        RecordType::SOA,
    ));
    let t1 = Instant::now();
    let _ = udp_raw(r.dns[0], &m.to_vec().unwrap(), Duration::from_secs(2)).await;
    while serial(&r) != 21 {
        assert!(t1.elapsed() < Duration::from_secs(60), "no IXFR");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let ixfr = t1.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (sent, lost) = prober.finish().await;
    let entries = r.metrics.list_entries.with_label_values(&["court"]).get();
    eprintln!(
        "IXFR of 1000 changes on {n} records: {:.0} ms from NOTIFY to serving ({entries} entries); {sent} queries probed, {lost} unanswered or not blocked",
        ixfr.as_secs_f64() * 1000.0
    );
    assert_eq!(transfers(&r, "ixfr", "success"), 1);
    assert_eq!(entries, n as i64);
    assert_eq!(rcode(&r, "c7.example").await, ResponseCode::NXDomain);
    assert_ne!(rcode(&r, "b7.example").await, ResponseCode::NXDomain);
    assert_eq!(lost, 0);
}
