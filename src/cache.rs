//! Answers reused for a short while: a value computed once per key and time-to-live, with
//! concurrent requests for the same key waiting for the one computation instead of each
//! running it (a campaign morning's thirty staff opening the city's dashboard at once count
//! the city once).
//!
//! Only for figures that may be a few seconds old and say when they were computed (the
//! dashboards); never for anything a rule or an authorisation decision reads.

use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::future::Future;
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

pub struct TtlCache<V> {
    ttl: Duration,
    slots: Mutex<HashMap<String, Slot<V>>>,
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
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            let fresh = slots
                .get(key)
                .filter(|s| s.get().is_none_or(|(t, _)| t.elapsed() < self.ttl))
                .cloned();
            match fresh {
                Some(s) => s,
                None => {
                    // drop what has expired, so keys of departed users do not pile up
                    let ttl = self.ttl;
                    slots.retain(|_, s| s.get().is_none_or(|(t, _)| t.elapsed() < ttl));
                    let s: Slot<V> = Arc::new(OnceCell::new());
                    slots.insert(key.to_string(), s.clone());
                    s
                }
            }
        };
        let (_, c) = slot
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
            .await?;
        Ok(c.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

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
