//! The per-address limit on failed sign-ins (等保 2.0 登录失败处理, beside the per-account
//! lock): after `ip_max_failures` failed password or second-factor attempts from one client
//! address within `ip_window_minutes`, that address is refused before any password is
//! checked — whichever user it names — until the oldest failure leaves the window. Kept in the
//! server's memory: a restart forgets it (the per-account lock, in the database, does not).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Addresses remembered at most; past that the ones without a failure in the window go.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl LoginThrottle {
    /// Seconds until `ip` may try again, or `None` when it may now (`now` in seconds).
    pub fn wait(&self, ip: &str, now: i64, max: u32, window: i64) -> Option<i64> {
        let map = self.failures.lock().ok()?;
        let times = map.get(ip)?;
        let recent: Vec<i64> = times.iter().copied().filter(|t| now - t < window).collect();
        (recent.len() >= max as usize).then(|| {
            // the failure that must leave the window before one more attempt is allowed
            let oldest = recent[recent.len() - max as usize];
            (oldest + window - now).max(1)
        })
    }

    /// Records a failed attempt from `ip`.
    pub fn fail(&self, ip: &str, now: i64, max: u32, window: i64) {
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        if map.len() >= MAX_ADDRESSES && !map.contains_key(ip) {
            map.retain(|_, t| t.back().is_some_and(|last| now - last < window));
        }
        let times = map.entry(ip.to_string()).or_default();
        times.push_back(now);
        while times.front().is_some_and(|t| now - t >= window) || times.len() > max as usize {
            times.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_held_at_the_limit_until_its_oldest_failure_leaves_the_window() {
        let t = LoginThrottle::default();
        let (max, window) = (3, 900);
        for i in 0..2 {
            t.fail("10.0.0.1", 1000 + i, max, window);
        }
        assert_eq!(
            t.wait("10.0.0.1", 1002, max, window),
            None,
            "below the limit"
        );
        t.fail("10.0.0.1", 1002, max, window);
        assert_eq!(
            t.wait("10.0.0.1", 1003, max, window),
            Some(897),
            "at the limit"
        );
        assert_eq!(
            t.wait("10.0.0.2", 1003, max, window),
            None,
            "another address"
        );
        assert_eq!(
            t.wait("10.0.0.1", 1000 + 899, max, window),
            Some(1),
            "one second before"
        );
        assert_eq!(
            t.wait("10.0.0.1", 1000 + 900, max, window),
            None,
            "the oldest has left"
        );
    }
}
