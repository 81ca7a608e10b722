//! The clock every time rule reads. Production uses the system time; tests move it forward
//! (`advance_days`) to cross a deadline without waiting, through the same code path.

use chrono::{DateTime, Duration, Local, NaiveDate, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// System time plus an offset in seconds (zero unless a test moved it).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_secs: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Today's date in the server's time zone.
    pub fn today(&self) -> NaiveDate {
        (Local::now() + Duration::seconds(self.offset_secs.load(Ordering::Relaxed))).date_naive()
    }

    /// Moves this clock (and every clone of it) forward by `days`.
    pub fn advance_days(&self, days: i64) {
        self.offset_secs.fetch_add(days * 86_400, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let c = Clock::default();
        let d0 = c.today();
        let other = c.clone();
        other.advance_days(40);
        assert_eq!(c.today(), d0 + Duration::days(40));
        assert!(c.now() > Utc::now() + Duration::days(39));
    }
}
