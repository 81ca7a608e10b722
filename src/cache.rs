//! Answers reused for a short while: a value computed once per key and time-to-live, with
//! concurrent requests for the same key waiting for the one computation instead of each
//! running it (a campaign morning's thirty staff opening the city's dashboard at once count
//! the city once).
//!
//! When a value expires, the caller that finds it so computes the new one, and the callers
//! arriving meanwhile get the expired value (which says when it was computed) instead of
//! queueing behind the computation: under load a recount of the city takes seconds, and
//! every dashboard request would otherwise wait for it.
//!
//! Only for figures that may be a few seconds old and say when they were computed (the
//! dashboards); never for anything a rule or an authorisation decision reads.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// A computed value with the moment it was computed.
#[derive(Debug, Clone)]
pub struct Computed<V> {
    pub value: V,
    pub at: DateTime<Utc>,
}

type Slot<V> = Arc<OnceCell<(Instant, Computed<V>)>>;

struct Entry<V> {
    /// The value being computed or computed last.
    slot: Slot<V>,
    /// The value before it, answered while `slot` is being computed.
    stale: Option<Computed<V>>,
    /// Whether a caller is computing `slot` now (when one failed, the next one tries).
    computing: Arc<AtomicBool>,
}

pub struct TtlCache<V> {
    ttl: Duration,
    slots: Mutex<HashMap<String, Entry<V>>>,
}

impl<V: Clone> TtlCache<V> {
    /// A cache keeping each value for `ttl`; a zero `ttl` computes on every call.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key`: the cached one while it is younger than the time-to-live, else
    /// computed by `f` — once, however many callers ask meanwhile. An error is returned to
    /// the callers waiting for it and not kept.
    pub async fn get_or_compute<E, F, Fut>(&self, key: &str, f: F) -> Result<Computed<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if self.ttl.is_zero() {
            let value = f().await?;
            return Ok(Computed {
                value,
                at: Utc::now(),
            });
        }
        let (slot, computing) = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let ttl = self.ttl;
            let stale = match slots.get(key) {
                Some(e) => match e.slot.get() {
                    Some((t, c)) if t.elapsed() < ttl => return Ok(c.clone()),
                    // expired: this caller computes; the next ones get this value meanwhile
                    Some((_, c)) => Some(c.clone()),
                    None => match &e.stale {
                        Some(c) if e.computing.load(Ordering::SeqCst) => return Ok(c.clone()),
                        // the last computation failed: this caller tries again
                        Some(c) => Some(c.clone()),
                        // the first computation: everyone waits for it
                        None => None,
                    },
                },
                None => {
                    // drop what has long expired, so keys of departed users do not pile up
                    slots.retain(|_, e| e.slot.get().is_none_or(|(t, _)| t.elapsed() < ttl * 4));
                    None
                }
            };
            match (stale, slots.get(key)) {
                (None, Some(e)) => (e.slot.clone(), e.computing.clone()),
                (stale, _) => {
                    let e = Entry {
                        slot: Arc::new(OnceCell::new()),
                        stale,
                        computing: Arc::new(AtomicBool::new(true)),
                    };
                    let pair = (e.slot.clone(), e.computing.clone());
                    slots.insert(key.to_string(), e);
                    pair
                }
            }
        };
        computing.store(true, Ordering::SeqCst);
        let result = slot
            .get_or_try_init(|| async {
                let value = f().await?;
                Ok::<_, E>((
                    Instant::now(),
                    Computed {
                        value,
                        at: Utc::now(),
                    },
                ))
            })
            .await;
        computing.store(false, Ordering::SeqCst);
        let (_, c) = result?;
        Ok(c.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn computes_once_per_key_and_lifetime() {
        let c = TtlCache::new(Duration::from_millis(200));
        let runs = AtomicUsize::new(0);
        let f = || async {
            runs.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, ()>(7)
        };
        // concurrent callers share one computation
        let (a, b) = tokio::join!(c.get_or_compute("k", f), c.get_or_compute("k", f));
        assert_eq!((a, b).0.map(|x| x.value), Ok(7));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        // another key is its own
        let _ = c.get_or_compute("other", f).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // expired: computed again
        tokio::time::sleep(Duration::from_millis(250)).await;
        let _ = c.get_or_compute("k", f).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn an_expired_value_answers_while_its_successor_is_computed() {
        let c = TtlCache::new(Duration::from_millis(50));
        let first = c.get_or_compute("k", || async { Ok::<_, ()>(1) }).await;
        assert_eq!(first.map(|x| x.value), Ok(1));
        tokio::time::sleep(Duration::from_millis(80)).await;
        let slow = || async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, ()>(2)
        };
        let meanwhile = async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            c.get_or_compute("k", || async { Ok::<_, ()>(3) }).await
        };
        let (computed, answered) = tokio::join!(c.get_or_compute("k", slow), meanwhile);
        assert_eq!(
            computed.map(|x| x.value),
            Ok(2),
            "the caller that found it expired computes"
        );
        assert_eq!(
            answered.map(|x| x.value),
            Ok(1),
            "the next one gets the expired value at once"
        );
        assert_eq!(
            c.get_or_compute("k", || async { Ok::<_, ()>(4) })
                .await
                .map(|x| x.value),
            Ok(2)
        );
    }

    #[tokio::test]
    async fn errors_are_not_kept_and_zero_never_caches() {
        let c: TtlCache<i32> = TtlCache::new(Duration::from_secs(60));
        assert!(c
            .get_or_compute("k", || async { Err::<i32, _>("x") })
            .await
            .is_err());
        assert_eq!(
            c.get_or_compute("k", || async { Ok::<_, ()>(1) })
                .await
                .map(|x| x.value),
            Ok(1)
        );
        let z: TtlCache<i32> = TtlCache::new(Duration::ZERO);
        let runs = AtomicUsize::new(0);
        for _ in 0..3 {
            let _ = z
                .get_or_compute("k", || async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>(1)
                })
                .await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
    }
}
