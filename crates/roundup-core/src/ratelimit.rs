//! Rate limits kept in the one-time-key store, as Roundup keeps them.
//!
//! Roundup limits login attempts and API calls with a GCRA leaky bucket:
//! `count` events may come in a burst, after that one every
//! `period / count` seconds. A bucket's state is its "theoretical arrival
//! time" (`tat`), stored as an ISO 8601 text in the otk record named by
//! the bucket's key (`LOGIN-<name>` for the web login form,
//! `LOGIN-API<name>` for REST and XML-RPC logins, `ApiLimit-<userid>` for
//! API calls). Because the state lives in the shared store, every server
//! process sees the same buckets, and records written by Roundup itself
//! are read and continued.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

use crate::pyrepr::PyValue;
use crate::sessions::{now, KeyStore, Record};
use crate::Result;

/// A limit: `count` events per `period` seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub count: u32,
    pub period: f64,
}

/// Periods beyond ten years are taken as ten years (no time overflow).
const MAX_PERIOD: i64 = 10 * 366 * 24 * 3600;

impl RateLimit {
    /// `None` when either number is zero or negative (limiting off).
    pub fn new(count: i64, period_secs: i64) -> Option<RateLimit> {
        if count <= 0 || period_secs <= 0 {
            return None;
        }
        Some(RateLimit {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            period: period_secs.min(MAX_PERIOD) as f64,
        })
    }

    /// Seconds that refill one event.
    pub fn inverse(&self) -> f64 {
        self.period / f64::from(self.count)
    }
}

/// What one event learned about its bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct LimitStatus {
    /// The event was refused.
    pub rejected: bool,
    /// Headers for API clients: X-RateLimit-Limit, -Limit-Period,
    /// -Remaining, -Reset, and Retry-After when the next event would be
    /// refused.
    pub headers: Vec<(String, String)>,
    /// Whole seconds until one more event is allowed.
    pub retry_after: u64,
}

impl LimitStatus {
    /// The value of one of the headers.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Unix time as Python's `datetime.isoformat()` writes an aware UTC
/// time: `2025-01-02T03:04:05.123456+00:00` (no fraction when it is 0).
pub fn tat_to_text(t: f64) -> String {
    let micros = (t * 1e6).round() as i64;
    let dt = Utc
        .timestamp_micros(micros)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    if dt.timestamp_subsec_micros() == 0 {
        dt.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// A stored `tat` back to Unix time: ISO 8601 with an offset (Roundup on
/// Python 3.11 and later) or without one (older Pythons, meaning UTC).
pub fn tat_from_text(text: &str) -> Option<f64> {
    let text = text.trim();
    let dt = match DateTime::parse_from_rfc3339(text) {
        Ok(d) => d.with_timezone(&Utc),
        Err(_) => {
            let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
                .ok()?;
            Utc.from_utc_datetime(&naive)
        }
    };
    Some(dt.timestamp_micros() as f64 / 1e6)
}

/// Python's `str()` of a float: `0.0`, `12.5`, `899.999123`.
fn py_float(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e16 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// Count one event against the bucket `key` in `store`.
///
/// With `update` the new state is written (living `keep_secs` seconds, as
/// Roundup makes its otk records expire); without it the verdict is
/// computed and the bucket left alone (Roundup uses this to refuse a
/// correct password while a name is locked out).
pub fn hit(
    store: &mut dyn KeyStore,
    key: &str,
    limit: &RateLimit,
    update: bool,
    keep_secs: f64,
) -> Result<LimitStatus> {
    let t = now();
    let stored = match store.get(key, "tat")? {
        Some(PyValue::Str(s)) => tat_from_text(&s),
        _ => None,
    };
    let inverse = limit.inverse();
    let max_interval = limit.period - inverse;
    let tat = stored.unwrap_or(t).max(t);
    let rejected = tat - t > max_interval;
    let new_tat = if rejected { tat } else { tat + inverse };
    if update {
        let mut rec = Record::new();
        rec.insert("tat".into(), PyValue::Str(tat_to_text(new_tat)));
        store.set(key, rec, Some(t + keep_secs))?;
        store.commit()?;
    }
    // the state as seen after this event
    let ahead = (new_tat - t).max(0.0);
    let remaining = ((limit.period - ahead) / inverse).floor().max(0.0) as u64;
    let mut headers = vec![
        ("X-RateLimit-Limit".to_string(), limit.count.to_string()),
        (
            "X-RateLimit-Limit-Period".to_string(),
            (limit.period as u64).to_string(),
        ),
        (
            "X-RateLimit-Remaining".to_string(),
            remaining.min(u64::from(limit.count)).to_string(),
        ),
        ("X-RateLimit-Reset".to_string(), py_float(ahead)),
    ];
    let retry_after = inverse.max(1.0) as u64;
    if ahead > max_interval {
        headers.push(("Retry-After".to_string(), retry_after.to_string()));
    }
    Ok(LimitStatus {
        rejected,
        headers,
        retry_after,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::{MemoryStore, StoreKind};

    #[test]
    fn burst_then_refuse_and_state_in_the_store() {
        let mut s = MemoryStore::new(StoreKind::Otks);
        let limit = RateLimit::new(3, 3600).unwrap();
        let a = hit(&mut s, "k", &limit, true, 7200.0).unwrap();
        assert!(!a.rejected);
        assert_eq!(a.header("X-RateLimit-Remaining"), Some("2"));
        assert_eq!(a.header("X-RateLimit-Limit"), Some("3"));
        assert_eq!(a.header("X-RateLimit-Limit-Period"), Some("3600"));
        assert!(!hit(&mut s, "k", &limit, true, 7200.0).unwrap().rejected);
        let c = hit(&mut s, "k", &limit, true, 7200.0).unwrap();
        assert!(!c.rejected);
        assert_eq!(c.header("Retry-After"), Some("1200"));
        let d = hit(&mut s, "k", &limit, true, 7200.0).unwrap();
        assert!(d.rejected);
        assert_eq!(d.retry_after, 1200);
        // the state is the otk record Roundup writes: a tat text
        let tat = match s.get("k", "tat").unwrap() {
            Some(PyValue::Str(t)) => t,
            other => panic!("tat: {other:?}"),
        };
        assert!(tat.ends_with("+00:00"), "{tat}");
        let ahead = tat_from_text(&tat).unwrap() - now();
        assert!((3590.0..=3600.0).contains(&ahead), "{ahead}");
        // another bucket is independent
        assert!(!hit(&mut s, "other", &limit, true, 7200.0).unwrap().rejected);
    }

    #[test]
    fn checking_without_update_leaves_the_bucket() {
        let mut s = MemoryStore::new(StoreKind::Otks);
        let limit = RateLimit::new(1, 60).unwrap();
        assert!(!hit(&mut s, "k", &limit, false, 120.0).unwrap().rejected);
        assert!(s.get_all("k").unwrap().is_none());
        assert!(!hit(&mut s, "k", &limit, true, 120.0).unwrap().rejected);
        assert!(hit(&mut s, "k", &limit, false, 120.0).unwrap().rejected);
    }

    #[test]
    fn roundup_tat_texts() {
        let t = 1_700_000_000.25;
        assert_eq!(tat_to_text(t), "2023-11-14T22:13:20.250000+00:00");
        assert_eq!(tat_to_text(1_700_000_000.0), "2023-11-14T22:13:20+00:00");
        assert_eq!(tat_from_text("2023-11-14T22:13:20.250000+00:00"), Some(t));
        // Python before 3.11 wrote naive UTC times
        assert_eq!(tat_from_text("2023-11-14T22:13:20.250000"), Some(t));
        assert_eq!(tat_from_text("2023-11-14T22:13:20"), Some(1_700_000_000.0));
        // Roundup's "never" (datetime.min)
        assert!(tat_from_text("0001-01-01T00:00:00+00:00").unwrap() < 0.0);
        assert_eq!(tat_from_text("bogus"), None);
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(12.5), "12.5");
    }

    #[test]
    fn zero_disables() {
        assert!(RateLimit::new(0, 60).is_none());
        assert!(RateLimit::new(10, 0).is_none());
        assert_eq!(
            RateLimit::new(1, i64::MAX).unwrap().period,
            MAX_PERIOD as f64
        );
    }
}
