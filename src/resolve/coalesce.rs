//! One resolution per question in flight: identical cache misses that
//! arrive while it runs wait for its result instead of starting their own.
//!
//! Why: when a popular name expires, every client asking for it in the
//! next few milliseconds misses the cache; without this each would send
//! its own upstream queries (a burst towards one zone's servers, and the
//! traffic amplification DNSBomb-style attacks build on).
//!
//! The first caller (leader) resolves; followers get a copy of its result.
//! If the leader is cancelled (its client's time budget ran out), its
//! guard removes the entry and the followers resolve on their own.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use hickory_proto::op::Query;
use tokio::sync::oneshot;

use super::{Answer, ResolveError};
use crate::wire::name::LowerName;

type Outcome = Result<Answer, ResolveError>;
/// The question: name in lowercase wire form ([`LowerName`]), then the
/// type and the DO bit (a byte string hashes in one pass; a `Name` label
/// by label).
type Key = Arc<[u8]>;

/// Questions being resolved, with the callers waiting for each.
#[derive(Default)]
pub struct InFlight {
    map: Mutex<HashMap<Key, Vec<oneshot::Sender<Outcome>>>>,
}

/// Removes the leader's entry however the leader ends; waiters still
/// listed then see their sender dropped.
struct Leader<'a> {
    flights: &'a InFlight,
    key: Option<Key>,
}

impl Drop for Leader<'_> {
    fn drop(&mut self) {
        if let Some(k) = self.key.take() {
            self.flights.lock().remove(&k);
        }
    }
}

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Vec<oneshot::Sender<Outcome>>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Questions being resolved right now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing is being resolved.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Run `resolve` for `query`, unless the same question (name case
    /// folded, type, DO) is already being resolved: then wait for that.
    pub async fn run<F>(&self, query: &Query, dnssec_ok: bool, resolve: F) -> Outcome
    where
        F: Future<Output = Outcome>,
    {
        // The key on the stack; allocated only when this call leads.
        let name = LowerName::new(query.name());
        let name = name.as_bytes();
        let mut buf = [0u8; 258];
        buf[..name.len()].copy_from_slice(name);
        buf[name.len()..name.len() + 2]
            .copy_from_slice(&u16::from(query.query_type()).to_be_bytes());
        buf[name.len() + 2] = u8::from(dnssec_ok);
        let wanted = &buf[..name.len() + 3];
        let (waiting, key) = {
            let mut map = self.lock();
            match map.get_mut(wanted) {
                Some(waiters) => {
                    let (tx, rx) = oneshot::channel();
                    waiters.push(tx);
                    (Some(rx), None)
                }
                None => {
                    let key: Key = Arc::from(wanted);
                    map.insert(key.clone(), Vec::new());
                    (None, Some(key))
                }
            }
        };
        if let Some(rx) = waiting {
            // The leader was cancelled: resolve alone rather than fail.
            return match rx.await {
                Ok(outcome) => outcome,
                Err(_) => resolve.await,
            };
        }
        let mut leader = Leader { flights: self, key };
        let outcome = resolve.await;
        let waiters = leader
            .key
            .take()
            .and_then(|k| self.lock().remove(&k))
            .unwrap_or_default();
        for w in waiters {
            let _ = w.send(outcome.clone());
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use hickory_proto::rr::{Name, RecordType};

    fn q(name: &str) -> Query {
        Query::query(Name::from_ascii(name).expect("name"), RecordType::A)
    }

    #[tokio::test]
    async fn identical_questions_share_one_resolution() {
        let flights = Arc::new(InFlight::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (f, c) = (flights.clone(), calls.clone());
            let name = if i % 2 == 0 {
                "www.example."
            } else {
                "WWW.Example."
            };
            tasks.push(tokio::spawn(async move {
                f.run(&q(name), false, async {
                    c.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok(Answer::unchecked(hickory_proto::op::Message::query()))
                })
                .await
            }));
        }
        for t in tasks {
            assert!(t.await.expect("join").is_ok());
        }
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        assert!(flights.is_empty());
    }

    #[tokio::test]
    async fn a_cancelled_leader_lets_followers_resolve() {
        let flights = Arc::new(InFlight::default());
        let f = flights.clone();
        let leader = tokio::spawn(async move {
            f.run(&q("x.example."), false, async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Err(ResolveError::network("never", "never"))
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        let f = flights.clone();
        let follower = tokio::spawn(async move {
            f.run(&q("x.example."), false, async {
                Ok(Answer::unchecked(hickory_proto::op::Message::query()))
            })
            .await
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        let out = tokio::time::timeout(Duration::from_secs(5), follower)
            .await
            .expect("follower not stuck")
            .expect("join");
        assert!(out.is_ok());
        assert!(flights.is_empty());
    }
}
