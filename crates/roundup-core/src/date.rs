//! PLACEHOLDER until the `date` branch merges: just enough of the agreed API
//! for the rest of the core to compile.
#![allow(dead_code)]
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub enum Timezone {
    Utc,
    Named(chrono_tz::Tz),
    Offset(f64),
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DateError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(i64);
impl Date {
    pub fn now() -> Date {
        Date(chrono::Utc::now().timestamp_millis())
    }
    pub fn parse(spec: &str, _tz: &Timezone) -> Result<Date, DateError> {
        Date::from_serialised(spec)
    }
    pub fn from_serialised(s: &str) -> Result<Date, DateError> {
        chrono::NaiveDateTime::parse_from_str(s, "%Y%m%d%H%M%S%.3f")
            .map(|d| Date(d.and_utc().timestamp_millis()))
            .map_err(|e| DateError(format!("{s}: {e}")))
    }
    pub fn serialise(&self) -> String {
        chrono::DateTime::from_timestamp_millis(self.0)
            .map(|d| d.format("%Y%m%d%H%M%S%.3f").to_string())
            .unwrap_or_default()
    }
}
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = chrono::DateTime::from_timestamp_millis(self.0).unwrap_or_default();
        write!(f, "{}", d.format("%Y-%m-%d.%H:%M:%S"))
    }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Interval(i64);
impl Interval {
    pub fn parse(spec: &str) -> Result<Interval, DateError> {
        spec.trim()
            .parse()
            .map(Interval)
            .map_err(|_| DateError(spec.into()))
    }
    pub fn from_serialised(s: &str) -> Result<Interval, DateError> {
        Interval::parse(s)
    }
    pub fn serialise(&self) -> String {
        self.0.to_string()
    }
    pub fn as_seconds(&self) -> i64 {
        self.0
    }
}
impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
pub struct Range {
    pub from: Option<Date>,
    pub to: Option<Date>,
}
impl Range {
    pub fn parse_date_range(spec: &str, tz: &Timezone) -> Result<Range, DateError> {
        let (a, b) = spec.split_once(';').unwrap_or((spec, spec));
        let p = |s: &str| {
            if s.is_empty() {
                Ok(None)
            } else {
                Date::parse(s, tz).map(Some)
            }
        };
        Ok(Range {
            from: p(a)?,
            to: p(b)?,
        })
    }
}
