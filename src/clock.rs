//! The clock every time rule reads, and the time zone dates are counted in.
//!
//! Instants are stored in UTC; a *date* (due today, overdue, which month, a publicity window,
//! an age) is the local date in the configured zone (`time_zone`, default `Asia/Shanghai`), so
//! between 00:00 and 08:00 Beijing time "today" is already the new day. Production reads the
//! system time; tests set the clock to a fixed instant (`set`) and move it (`advance_days`), so
//! no test depends on the day it runs.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

/// A configured time zone. China has kept one offset (UTC+8, no daylight saving) since 1991,
/// so the zones a Chinese deployment names are fixed offsets; anything else is refused at
/// start rather than guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    pub offset: FixedOffset,
}

impl Default for Zone {
    fn default() -> Self {
        Self::BEIJING
    }
}

impl Zone {
    pub const BEIJING: Zone = Zone {
        offset: match FixedOffset::east_opt(8 * 3600) {
            Some(o) => o,
            None => panic!("UTC+8 is a valid offset"),
        },
    };

    /// `Asia/Shanghai` (and its aliases), `UTC`, or a fixed offset such as `+08:00`.
    pub fn parse(name: &str) -> Result<Self, String> {
        let n = name.trim();
        match n {
            "Asia/Shanghai" | "Asia/Chongqing" | "Asia/Chungking" | "Asia/Harbin" | "PRC"
            | "Asia/Beijing" | "Asia/Hong_Kong" | "Asia/Macau" | "Asia/Taipei" => {
                return Ok(Self::BEIJING)
            }
            "UTC" | "Etc/UTC" | "Z" => {
                return Ok(Zone {
                    offset: FixedOffset::east_opt(0).ok_or("offset")?,
                })
            }
            _ => {}
        }
        let bad = || format!("{n:?}: use Asia/Shanghai, UTC or an offset like +08:00");
        let (sign, rest) = match n.as_bytes().first() {
            Some(b'+') => (1, &n[1..]),
            Some(b'-') => (-1, &n[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(|offset| Zone { offset })
            .ok_or_else(bad)
    }

    pub fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset)
    }

    /// The local date of an instant.
    pub fn date_of(&self, t: DateTime<Utc>) -> NaiveDate {
        self.local(t).date_naive()
    }

    /// The instant a local wall-clock time names.
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.offset.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => {
                t.with_timezone(&Utc)
            }
            // a fixed offset has no gaps
            chrono::LocalResult::None => DateTime::from_naive_utc_and_offset(local, Utc),
        }
    }

    /// Local midnight at the start of `d`, as an instant.
    pub fn start_of(&self, d: NaiveDate) -> DateTime<Utc> {
        self.instant(d.and_time(chrono::NaiveTime::MIN))
    }
}

/// The zone times are shown in: set once at start from the configuration (templates and
/// file names format with it; they have no context of their own).
static DISPLAY_ZONE: OnceLock<Zone> = OnceLock::new();

pub fn set_display_zone(z: Zone) {
    let _ = DISPLAY_ZONE.set(z);
}

pub fn display_zone() -> Zone {
    DISPLAY_ZONE.get().copied().unwrap_or_default()
}

/// An instant as local wall-clock text (`2026-12-06 14:21`), in the display zone.
pub fn fmt_local(t: DateTime<Utc>, fmt: &str) -> String {
    display_zone().local(t).format(fmt).to_string()
}

/// Reads a stored or serialised instant (RFC 3339, `…Z`, or `YYYY-MM-DD HH:MM:SS[.f][+zz]`)
/// and formats it in the display zone; text that is not an instant comes back unchanged.
pub fn fmt_local_text(s: &str, fmt: &str) -> String {
    parse_instant(s).map_or_else(|| s.to_string(), |t| fmt_local(t, fmt))
}

pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(DateTime::from_naive_utc_and_offset(t, Utc));
        }
    }
    None
}

#[derive(Debug, Default)]
struct Inner {
    /// Seconds added to the time (moved by `advance_days`).
    offset_secs: AtomicI64,
    /// When set, the clock stands at `fixed_micros` (plus the offset) instead of the system time.
    fixed: AtomicBool,
    fixed_micros: AtomicI64,
}

/// System time (or a fixed instant) plus an offset, in a zone.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    inner: Arc<Inner>,
    zone: Zone,
}

impl Clock {
    /// The system clock in `zone`.
    pub fn system(zone: Zone) -> Self {
        Self {
            inner: Default::default(),
            zone,
        }
    }

    pub fn zone(&self) -> Zone {
        self.zone
    }

    pub fn now(&self) -> DateTime<Utc> {
        let base = if self.inner.fixed.load(Ordering::Acquire) {
            DateTime::from_timestamp_micros(self.inner.fixed_micros.load(Ordering::Acquire))
                .unwrap_or_default()
        } else {
            Utc::now()
        };
        base + Duration::seconds(self.inner.offset_secs.load(Ordering::Relaxed))
    }

    /// Today's date in the configured zone.
    pub fn today(&self) -> NaiveDate {
        self.zone.date_of(self.now())
    }

    /// Stops the clock (and every clone of it) at `t`; `advance_days` still moves it.
    pub fn set(&self, t: DateTime<Utc>) {
        self.inner.offset_secs.store(0, Ordering::Relaxed);
        self.inner
            .fixed_micros
            .store(t.timestamp_micros(), Ordering::Release);
        self.inner.fixed.store(true, Ordering::Release);
    }

    /// Stops the clock at a local wall-clock time of this clock's zone.
    pub fn set_local(&self, local: NaiveDateTime) {
        self.set(self.zone.instant(local))
    }

    /// Moves this clock (and every clone of it) forward by `days`.
    pub fn advance_days(&self, days: i64) {
        self.advance(Duration::days(days));
    }

    pub fn advance(&self, by: Duration) {
        self.inner
            .offset_secs
            .fetch_add(by.num_seconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    #[test]
    fn advancing_moves_every_clone() {
        let c = Clock::default();
        c.set_local(at("2026-03-10 12:00"));
        let other = c.clone();
        other.advance_days(40);
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2026, 4, 19).expect("d"));
    }

    #[test]
    fn the_date_is_the_local_date_not_the_utc_date() {
        let c = Clock::system(Zone::BEIJING);
        // 00:01 Beijing is 16:01 UTC of the day before
        c.set_local(at("2027-01-01 00:01"));
        assert_eq!(
            c.now().date_naive(),
            NaiveDate::from_ymd_opt(2026, 12, 31).expect("d")
        );
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2027, 1, 1).expect("d"));
        // 23:59 Beijing is still the same day
        c.set_local(at("2026-12-31 23:59"));
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2026, 12, 31).expect("d"));
        c.advance(Duration::minutes(2));
        assert_eq!(c.today(), NaiveDate::from_ymd_opt(2027, 1, 1).expect("d"));
        // in UTC the same instant is still 2026
        let u = Clock::system(Zone::parse("UTC").expect("utc"));
        u.set(c.now());
        assert_eq!(u.today(), NaiveDate::from_ymd_opt(2026, 12, 31).expect("d"));
    }

    #[test]
    fn zones_parse_or_are_refused() {
        assert_eq!(Zone::parse("Asia/Shanghai"), Ok(Zone::BEIJING));
        assert_eq!(Zone::parse("+08:00"), Ok(Zone::BEIJING));
        assert_eq!(
            Zone::parse("-05:30").map(|z| z.offset.local_minus_utc()),
            Ok(-(5 * 3600 + 1800))
        );
        for bad in ["Europe/Berlin", "8", "+15:00", "+08:61", ""] {
            assert!(Zone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_instants_are_shown_in_the_display_zone() {
        assert_eq!(
            fmt_local_text("2026-12-06T06:21:54.123456Z", "%Y-%m-%d %H:%M"),
            "2026-12-06 14:21"
        );
        assert_eq!(
            fmt_local_text("2026-12-06 16:30:00+00:00", "%m-%d %H:%M"),
            "12-07 00:30"
        );
        assert_eq!(fmt_local_text("不是时间", "%H:%M"), "不是时间");
    }
}
