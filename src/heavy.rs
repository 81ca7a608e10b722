//! Heavy reads: the reports that aggregate a subtree (recruitment statistics, the points
//! boards and rankings of a county or a city, the ledger's bulletin, star rounds, review
//! results, the dashboard's recount, ...).
//!
//! They run under their own bounded concurrency, below the connection pool's size, so that a
//! burst of them never takes every connection from the everyday pages; identical concurrent
//! requests (same report, same subtree, same parameters) share one computation; and a request
//! that cannot get a turn within `heavy_wait_ms` is answered at once with 503 and
//! `Retry-After` instead of queueing until the pool's acquire timeout.
//!
//! The key of a computation must name everything its result depends on (the report, the
//! organisation, the period, the language where the result holds labels); authorisation is
//! checked before, by each caller, never inside.

use crate::error::{AppError, AppResult};
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};

type Shared = Arc<OnceCell<Arc<dyn Any + Send + Sync>>>;

pub struct Heavy {
    permits: Semaphore,
    limit: usize,
    wait: Duration,
    inflight: Mutex<HashMap<String, Shared>>,
    /// Computations run (not shared), for tests and the drill's report.
    runs: AtomicUsize,
    /// Requests answered 503 for want of a turn.
    refused: AtomicUsize,
}

impl Heavy {
    /// At most `limit` heavy computations at once; a request waits at most `wait` for a turn.
    pub fn new(limit: usize, wait: Duration) -> Self {
        let limit = limit.max(1);
        Self {
            permits: Semaphore::new(limit),
            limit,
            wait,
            inflight: Mutex::new(HashMap::new()),
            runs: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// (computations run, requests refused) since start.
    pub fn counts(&self) -> (usize, usize) {
        (
            self.runs.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
        )
    }

    /// The result of `f` for `key`: computed under a permit, or shared with the computation of
    /// the same key already running. `Busy` (503, `Retry-After`) when no turn comes within the
    /// wait. An error is not shared: a waiting caller then tries on its own.
    pub async fn run<T, F, Fut>(&self, key: &str, f: F) -> AppResult<Arc<T>>
    where
        T: Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        let cell: Shared = {
            let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(key.to_string()).or_default().clone()
        };
        let result = cell
            .get_or_try_init(|| async {
                let permit = match tokio::time::timeout(self.wait, self.permits.acquire()).await {
                    Ok(Ok(p)) => p,
                    _ => {
                        self.refused.fetch_add(1, Ordering::Relaxed);
                        return Err(AppError::Busy(retry_after(self.wait)));
                    }
                };
                self.runs.fetch_add(1, Ordering::Relaxed);
                let value = f().await;
                drop(permit);
                value.map(|v| Arc::new(v) as Arc<dyn Any + Send + Sync>)
            })
            .await
            .cloned();
        // the computation is over (or this caller gave up): the next request computes anew
        {
            let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            let ours = map.get(key).is_some_and(|c| Arc::ptr_eq(c, &cell));
            // done, or failed with nobody else waiting on it (the map's and this caller's)
            if ours && (cell.initialized() || Arc::strong_count(&cell) <= 2) {
                map.remove(key);
            }
        }
        let any = result?;
        any.downcast::<T>()
            .map_err(|_| AppError::Internal(format!("heavy key {key} holds another type")))
    }
}

impl Heavy {
    /// [`Heavy::run`] for a value the caller keeps (a report's rows, cloned from the shared
    /// one).
    pub async fn run_cloned<T, F, Fut>(&self, key: &str, f: F) -> AppResult<T>
    where
        T: Clone + Send + Sync + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<T>>,
    {
        Ok((*self.run(key, f).await?).clone())
    }
}

/// Seconds to tell a client to wait: the wait rounded up, at least one.
fn retry_after(wait: Duration) -> i64 {
    (wait.as_millis() as i64 + 999) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[tokio::test]
    async fn identical_concurrent_requests_share_one_computation() {
        let h = Arc::new(Heavy::new(2, Duration::from_secs(5)));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (h, calls) = (h.clone(), calls.clone());
            tasks.push(tokio::spawn(async move {
                h.run("stats|7|2026", || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Ok::<_, AppError>(42_i64)
                })
                .await
            }));
        }
        for t in tasks {
            assert_eq!(*t.await.expect("join").expect("value"), 42);
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one computation for ten requests"
        );
        // over: the next request computes anew
        let again = h
            .run("stats|7|2026", || async { Ok::<_, AppError>(43_i64) })
            .await;
        assert_eq!(*again.expect("value"), 43);
        assert_eq!(h.counts(), (2, 0));
    }

    #[tokio::test]
    async fn a_request_without_a_turn_is_refused_quickly() {
        let h = Arc::new(Heavy::new(1, Duration::from_millis(50)));
        let slow = {
            let h = h.clone();
            tokio::spawn(async move {
                h.run("board|1", || async {
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    Ok::<_, AppError>(1_i64)
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        let started = std::time::Instant::now();
        // another key: it needs a permit, and the only one is held
        let r = h
            .run("board|2", || async { Ok::<_, AppError>(2_i64) })
            .await;
        assert!(matches!(r, Err(AppError::Busy(1))), "{r:?}");
        assert!(started.elapsed() < Duration::from_millis(300));
        assert_eq!(*slow.await.expect("join").expect("value"), 1);
        assert_eq!(h.counts(), (1, 1));
        // the permit is back
        assert_eq!(
            *h.run("board|2", || async { Ok::<_, AppError>(2_i64) })
                .await
                .expect("value"),
            2
        );
    }

    #[tokio::test]
    async fn a_failed_computation_is_not_shared_and_not_kept() {
        let h = Heavy::new(2, Duration::from_secs(1));
        let r: AppResult<Arc<i64>> = h
            .run("x", || async { Err(AppError::Internal("boom".into())) })
            .await;
        assert!(r.is_err());
        let ok = h.run("x", || async { Ok::<_, AppError>(5_i64) }).await;
        assert_eq!(*ok.expect("value"), 5);
        assert!(h.inflight.lock().map(|m| m.is_empty()).unwrap_or(false));
    }
}
