//! Rate limiting with a GCRA leaky bucket, as Roundup does for the API.
//!
//! `count` calls may be made in a burst; after that one call comes back
//! every `period / count` seconds. The state of each bucket (its
//! "theoretical arrival time") lives in one process-wide table shared by
//! the REST and XML-RPC endpoints, keyed by tracker and purpose (calls of
//! a user, failed logins of a login name). Entries expire once their
//! bucket is full again, and the table is bounded.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A limit: `count` calls per `period`.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    pub count: u32,
    pub period: Duration,
}

impl RateLimit {
    /// `None` when either number is zero (limiting switched off).
    pub fn new(count: i64, period_secs: i64) -> Option<RateLimit> {
        if count <= 0 || period_secs <= 0 {
            return None;
        }
        // periods beyond ten years are treated as ten years, so that time
        // arithmetic cannot overflow
        const MAX_PERIOD: u64 = 10 * 366 * 24 * 3600;
        let period = u64::try_from(period_secs)
            .unwrap_or(MAX_PERIOD)
            .min(MAX_PERIOD);
        Some(RateLimit {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            period: Duration::from_secs(period),
        })
    }

    /// Seconds that refill one call.
    fn inverse(&self) -> f64 {
        self.period.as_secs_f64() / f64::from(self.count)
    }
}

/// What a request learns about its bucket.
#[derive(Clone, Debug)]
pub struct LimitStatus {
    pub rejected: bool,
    /// Headers to send: X-RateLimit-Limit, -Limit-Period, -Remaining,
    /// -Reset, and Retry-After when the next call would be refused.
    pub headers: Vec<(String, String)>,
    /// Whole seconds until one more call is allowed (when rejected).
    pub retry_after: u64,
}

const MAX_ENTRIES: usize = 100_000;

struct Table {
    tat: HashMap<String, Instant>,
}

fn table() -> &'static Mutex<Table> {
    static T: OnceLock<Mutex<Table>> = OnceLock::new();
    T.get_or_init(|| {
        Mutex::new(Table {
            tat: HashMap::new(),
        })
    })
}

/// Count one call against the bucket `key`. With `record == false` the
/// verdict is computed but the bucket is left as it was (Roundup uses this
/// to refuse a correct password while an account is locked out).
pub fn hit(key: &str, limit: &RateLimit, record: bool) -> LimitStatus {
    let now = Instant::now();
    let inverse = Duration::from_secs_f64(limit.inverse());
    let mut t = match table().lock() {
        Ok(t) => t,
        Err(poisoned) => poisoned.into_inner(),
    };
    if t.tat.len() >= MAX_ENTRIES {
        t.tat.retain(|_, tat| *tat > now);
        if t.tat.len() >= MAX_ENTRIES {
            // Still full of live buckets: drop the ones closest to refilled.
            let mut v: Vec<(String, Instant)> = t.tat.drain().collect();
            v.sort_by_key(|(_, tat)| std::cmp::Reverse(*tat));
            v.truncate(MAX_ENTRIES / 2);
            t.tat.extend(v);
        }
    }
    let tat = t.tat.get(key).copied().filter(|x| *x > now).unwrap_or(now);
    let separation = tat.saturating_duration_since(now).as_secs_f64();
    let max_interval = limit.period.as_secs_f64() - limit.inverse();
    let rejected = separation > max_interval;
    let mut new_tat = tat;
    if !rejected {
        new_tat = tat.checked_add(inverse).unwrap_or(tat);
        if record {
            t.tat.insert(key.to_string(), new_tat);
        }
    }
    let effective = if record { new_tat } else { tat };
    // status as seen after this call
    let ahead = effective.saturating_duration_since(now).as_secs_f64();
    let remaining_f = (limit.period.as_secs_f64() - ahead) / limit.inverse();
    let remaining = (remaining_f.max(0.0).floor() as u64).min(u64::from(limit.count));
    let mut headers = vec![
        ("X-RateLimit-Limit".to_string(), limit.count.to_string()),
        (
            "X-RateLimit-Limit-Period".to_string(),
            limit.period.as_secs().to_string(),
        ),
        ("X-RateLimit-Remaining".to_string(), remaining.to_string()),
        ("X-RateLimit-Reset".to_string(), format!("{ahead:.6}")),
    ];
    let next_refused = ahead > max_interval;
    let retry_after = limit.inverse().max(1.0) as u64;
    if rejected || next_refused {
        headers.push(("Retry-After".to_string(), retry_after.to_string()));
    }
    LimitStatus {
        rejected,
        headers,
        retry_after,
    }
}

/// Forget every bucket whose key starts with `prefix` (tests, and a
/// tracker being re-created under the same home).
pub fn reset(prefix: &str) {
    if let Ok(mut t) = table().lock() {
        t.tat.retain(|k, _| !k.starts_with(prefix));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse() {
        let key = "test-burst-then-refuse";
        reset(key);
        let limit = RateLimit::new(3, 3600).unwrap_or(RateLimit {
            count: 3,
            period: Duration::from_secs(3600),
        });
        let a = hit(key, &limit, true);
        assert!(!a.rejected);
        assert!(a
            .headers
            .iter()
            .any(|(k, v)| k == "X-RateLimit-Remaining" && v == "2"));
        assert!(!hit(key, &limit, true).rejected);
        let c = hit(key, &limit, true);
        assert!(!c.rejected);
        assert!(c.headers.iter().any(|(k, _)| k == "Retry-After"));
        let d = hit(key, &limit, true);
        assert!(d.rejected);
        assert_eq!(d.retry_after, 1200);
    }

    #[test]
    fn zero_disables() {
        assert!(RateLimit::new(0, 60).is_none());
        assert!(RateLimit::new(10, 0).is_none());
    }
}
