//! Dates, intervals, date ranges and timezones with the behaviour of
//! Roundup 2.6's `roundup.date` module.
//!
//! * [`Date`] is an instant in UTC with millisecond precision.  User input
//!   is read in the user's [`Timezone`]; the text forms (`Display`,
//!   [`Date::serialise`]) are the ones Roundup writes.
//! * [`Interval`] keeps a sign and separate year / month / day / hour /
//!   minute / second counts, exactly like Roundup, because month and year
//!   steps have no fixed length.  Ordering and equality go by
//!   [`Interval::as_seconds`] (months count 30 days, years 365 days), as in
//!   Roundup.
//! * [`Range`] and [`IntervalRange`] are the search forms
//!   (`"from X to Y"`, `"X;Y"`, and a bare value widened to its granularity).
//!
//! Every spec that depends on the current time has an `*_at` variant taking
//! the "now" to use, so results can be reproduced.
//!
//! Known deliberate differences from Roundup: only ASCII digits are accepted
//! (Python also takes other Unicode decimal digits); values whose fields are
//! impossible (month 13, second 75, year 0 or 10000) are errors here instead
//! of being stored as they are; fractional seconds are rounded to the
//! millisecond when parsed.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike,
};
use chrono_tz::{OffsetComponents, Tz};

/// What went wrong while reading a date, interval, range or timezone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// The text has none of the date shapes Roundup understands.
    #[error(
        "not a date spec: {spec:?} (expected \"yyyy-mm-dd\", \"mm-dd\", \"HH:MM\", \"HH:MM:SS\" \
         or \"yyyy-mm-dd.HH:MM:SS.SSS\", optionally followed by an interval like \"-1d\" \
         or a zone like \"+0200\")"
    )]
    NotADateSpec { spec: String },
    /// The text has a date shape but names a day or time that does not exist.
    #[error("invalid date {spec:?}: {reason}")]
    InvalidDate { spec: String, reason: String },
    /// The part after the date should have been an interval and is not.
    #[error(
        "{spec:?} is not a date / time spec: {offset:?} after the date is not an interval \
         (expected \"yyyy-mm-dd\", \"mm-dd\", \"HH:MM\", \"HH:MM:SS\" or \
         \"yyyy-mm-dd.HH:MM:SS.SSS\" followed by e.g. \"-1d\" or \"+2w 3d\")"
    )]
    BadDateOffset { spec: String, offset: String },
    /// The text is not an interval.
    #[error(
        "not an interval spec: {spec:?} (expected [+-] [#y] [#m] [#w] [#d] [[[H]H:MM]:SS] \
         [date spec], e.g. \"3y\", \"-1w 2d\" or \"1:30\")"
    )]
    NotAnIntervalSpec { spec: String },
    /// A bare value given as a range has no usable granularity.
    #[error("cannot use {spec:?} as a range: {reason}")]
    NoGranularity { spec: String, reason: &'static str },
    /// The timezone is neither a known zone name nor a whole hour offset.
    #[error(
        "unknown timezone {spec:?}: expected a timezone name such as \"UTC\" or \
         \"Europe/Vienna\", or a whole number of hours from UTC such as \"+2\" or \"-5\""
    )]
    UnknownTimezone { spec: String },
    /// Not the `yyyymmddHHMMSS[.fff]` storage form of a date.
    #[error("not a serialised date: {spec:?} (expected yyyymmddHHMMSS or yyyymmddHHMMSS.fff)")]
    NotASerialisedDate { spec: String },
    /// Not the `+yyyymmddHHMMSS` storage form of an interval.
    #[error("not a serialised interval: {spec:?} (expected a sign followed by yyyymmddHHMMSS)")]
    NotASerialisedInterval { spec: String },
    /// A number in the spec is too large to be meaningful.
    #[error("number {number:?} in {spec:?} is too large")]
    NumberTooLarge { spec: String, number: String },
    /// The result would fall outside the years 1 to 9999.
    #[error("date out of range (years 1 to 9999 only): {what}")]
    OutOfRange { what: String },
    /// Division of an interval that cannot be divided.
    #[error("cannot divide interval {interval:?}: {reason}")]
    BadDivision {
        interval: String,
        reason: &'static str,
    },
}

// ---------------------------------------------------------------------------
// Timezones
// ---------------------------------------------------------------------------

/// A user's or tracker's timezone.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Timezone {
    /// Coordinated universal time.
    #[default]
    Utc,
    /// An IANA zone with its daylight saving rules.
    Named(Tz),
    /// A fixed offset from UTC in hours (east positive).  [`Timezone::parse`]
    /// only produces whole hours, like Roundup; a fraction given directly is
    /// honoured to the second.
    Offset(f64),
}

impl Timezone {
    /// Reads a timezone the way Roundup's configuration and user `timezone`
    /// property are read: a whole number of hours (`"2"`, `"+2"`, `"-5"`,
    /// `"0"` is UTC) or a zone name looked up without regard to case
    /// (`"UTC"`, `"Europe/Vienna"`, `"EST"`).  An empty string means UTC.
    /// Fractional hours such as `"5.5"` are refused, as Roundup refuses them.
    pub fn parse(s: &str) -> Result<Timezone, DateError> {
        let t = s.trim();
        if t.is_empty() {
            return Ok(Timezone::Utc);
        }
        if let Some(hours) = parse_whole_hours(t) {
            if hours == 0 {
                return Ok(Timezone::Utc);
            }
            if hours.abs() >= 24 {
                return Err(DateError::UnknownTimezone {
                    spec: s.to_string(),
                });
            }
            return Ok(Timezone::Offset(hours as f64));
        }
        if t.eq_ignore_ascii_case("utc") {
            return Ok(Timezone::Utc);
        }
        chrono_tz::TZ_VARIANTS
            .iter()
            .find(|z| z.name().eq_ignore_ascii_case(t))
            .map(|z| Timezone::Named(*z))
            .ok_or_else(|| DateError::UnknownTimezone {
                spec: s.to_string(),
            })
    }

    /// The name of the zone as it would be configured.
    pub fn name(&self) -> String {
        match self {
            Timezone::Utc => "UTC".to_string(),
            Timezone::Named(tz) => tz.name().to_string(),
            Timezone::Offset(h) if h.fract() == 0.0 => format!("{:+}", *h as i64),
            Timezone::Offset(h) => format!("{h:+}"),
        }
    }

    fn fixed_offset(hours: f64) -> TimeDelta {
        if !hours.is_finite() {
            return TimeDelta::zero();
        }
        // Offsets beyond a day are meaningless; clamp to keep arithmetic safe.
        let secs = (hours * 3600.0).round().clamp(-86_399.0, 86_399.0) as i64;
        TimeDelta::try_seconds(secs).unwrap_or_else(TimeDelta::zero)
    }

    /// Converts a wall-clock time in this zone to UTC.  Times that do not
    /// exist (clocks jumped forward) use the offset from before the jump;
    /// times that happen twice use standard time, as Roundup (through pytz)
    /// does.
    pub fn local_to_utc(&self, local: NaiveDateTime) -> NaiveDateTime {
        match self {
            Timezone::Utc => local,
            Timezone::Offset(h) => local
                .checked_sub_signed(Self::fixed_offset(*h))
                .unwrap_or(local),
            Timezone::Named(tz) => {
                let off = named_offset_for_local(tz, local);
                local.checked_sub_signed(off).unwrap_or(local)
            }
        }
    }

    /// Converts a UTC time to the wall-clock time in this zone.
    pub fn utc_to_local(&self, utc: NaiveDateTime) -> NaiveDateTime {
        match self {
            Timezone::Utc => utc,
            Timezone::Offset(h) => utc
                .checked_add_signed(Self::fixed_offset(*h))
                .unwrap_or(utc),
            Timezone::Named(tz) => tz.from_utc_datetime(&utc).naive_local(),
        }
    }
}

/// Whole hours as Python's `int()` reads them: optional sign, digits,
/// surrounding blanks already removed.
fn parse_whole_hours(t: &str) -> Option<i64> {
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(if t.starts_with('-') { -n } else { n })
}

fn named_offset_for_local(tz: &Tz, local: NaiveDateTime) -> TimeDelta {
    use chrono::LocalResult;
    let offset_of = |dt: &DateTime<Tz>| {
        let o = dt.offset();
        o.base_utc_offset() + o.dst_offset()
    };
    match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) => offset_of(&dt),
        LocalResult::Ambiguous(a, b) => {
            let a_std = a.offset().dst_offset().is_zero();
            let b_std = b.offset().dst_offset().is_zero();
            match (a_std, b_std) {
                (true, false) => offset_of(&a),
                (false, true) => offset_of(&b),
                // Same kind on both sides: take the later instant, i.e. the
                // smaller offset.
                _ => offset_of(&a).min(offset_of(&b)),
            }
        }
        LocalResult::None => {
            // Use the offset in force a few hours before the gap.
            let earlier = local
                .checked_sub_signed(TimeDelta::hours(6))
                .unwrap_or(local);
            match tz.from_local_datetime(&earlier) {
                LocalResult::Single(dt) => offset_of(&dt),
                LocalResult::Ambiguous(a, b) => offset_of(&a).min(offset_of(&b)),
                LocalResult::None => offset_of(&tz.from_utc_datetime(&local)),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Date
// ---------------------------------------------------------------------------

/// An instant in UTC with millisecond precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Milliseconds since 1970-01-01T00:00:00Z.  Always within years
    /// 1..=9999.
    ms: i64,
}

/// Milliseconds of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59.999Z.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

fn year_in_range(y: i64) -> bool {
    (1..=9999).contains(&y)
}

impl Date {
    /// The current time.
    pub fn now() -> Date {
        Date {
            ms: chrono::Utc::now().timestamp_millis().clamp(MIN_MS, MAX_MS),
        }
    }

    fn from_naive_utc(n: NaiveDateTime) -> Result<Date, DateError> {
        if !year_in_range(i64::from(n.year())) {
            return Err(DateError::OutOfRange {
                what: n.to_string(),
            });
        }
        Ok(Date {
            ms: n.and_utc().timestamp_millis(),
        })
    }

    /// Builds a date from UTC fields.
    pub fn from_utc_fields(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        millisecond: u32,
    ) -> Result<Date, DateError> {
        // Only an error needs the fields as text.
        let text = || {
            format!(
                "{year:04}-{month:02}-{day:02}.{hour:02}:{minute:02}:{second:02}.{millisecond:03}"
            )
        };
        let n =
            checked_naive(i64::from(year), month, day, hour, minute, second).map_err(|reason| {
                DateError::InvalidDate {
                    spec: text(),
                    reason,
                }
            })?;
        if millisecond > 999 {
            return Err(DateError::InvalidDate {
                spec: text(),
                reason: "milliseconds must be in 0..999".to_string(),
            });
        }
        let d = Date::from_naive_utc(n)?;
        Ok(Date {
            ms: d.ms + i64::from(millisecond),
        })
    }

    /// The instant as a naive UTC date and time (milliseconds included).
    pub fn naive_utc(&self) -> NaiveDateTime {
        DateTime::from_timestamp_millis(self.ms)
            .unwrap_or(DateTime::UNIX_EPOCH)
            .naive_utc()
    }

    /// The wall-clock date and time in `tz` (milliseconds included).
    pub fn local(&self, tz: &Timezone) -> NaiveDateTime {
        tz.utc_to_local(self.naive_utc())
    }

    /// UTC year.
    pub fn year(&self) -> i32 {
        self.naive_utc().year()
    }
    /// UTC month, 1..=12.
    pub fn month(&self) -> u32 {
        self.naive_utc().month()
    }
    /// UTC day of month.
    pub fn day(&self) -> u32 {
        self.naive_utc().day()
    }
    /// UTC hour.
    pub fn hour(&self) -> u32 {
        self.naive_utc().hour()
    }
    /// UTC minute.
    pub fn minute(&self) -> u32 {
        self.naive_utc().minute()
    }
    /// Whole seconds of the minute.
    pub fn second(&self) -> u32 {
        self.naive_utc().second()
    }
    /// Milliseconds within the second.
    pub fn millisecond(&self) -> u32 {
        self.ms.rem_euclid(1000) as u32
    }

    /// Seconds since the Unix epoch, with the fraction.
    pub fn timestamp(&self) -> f64 {
        self.ms as f64 / 1000.0
    }

    /// Milliseconds since the Unix epoch.
    pub fn timestamp_millis(&self) -> i64 {
        self.ms
    }

    /// The date at `secs` seconds after the Unix epoch.  Values outside the
    /// years 1..=9999 are clamped to those bounds; NaN gives the epoch.
    pub fn from_timestamp(secs: f64) -> Date {
        if secs.is_nan() {
            return Date { ms: 0 };
        }
        let whole = secs.trunc();
        let micros = ((secs - whole) * 1_000_000.0).trunc();
        let ms = whole * 1000.0 + (micros / 1000.0).round();
        Date {
            ms: ms.clamp(MIN_MS as f64, MAX_MS as f64) as i64,
        }
    }

    /// Reads a date spec, interpreting it in `tz`, relative to the current
    /// time.  See [`Date::parse_at`].
    pub fn parse(spec: &str, tz: &Timezone) -> Result<Date, DateError> {
        Date::parse_at(spec, tz, Date::now())
    }

    /// Reads every form Roundup's `Date(spec, offset)` accepts, taking
    /// missing parts from `now`:
    ///
    /// * the storage form `yyyymmddHHMMSS[.fff]` (always UTC);
    /// * `yyyy`, `yyyy-mm`, `yyyy-mm-dd`, `mm-dd` (`/` also separates),
    ///   each optionally followed by `.` or `T` and `HH:MM` or `HH:MM:SS[.f]`;
    ///   a time alone (`14:25`) takes today's UTC date;
    /// * `.` or the empty string for now;
    /// * any of these followed by an interval (`". -1d"`, `"2003-04 +2w"`,
    ///   `"-1m"`) applied after conversion to UTC, or by a `+HHMM`/`-HHMM`
    ///   zone that then replaces `tz`.
    ///
    /// A date or time given is wall-clock time in `tz`; a spec with neither
    /// starts from `now` unchanged.
    pub fn parse_at(spec: &str, tz: &Timezone, now: Date) -> Result<Date, DateError> {
        parse_date(spec, tz, now, false)
    }

    /// Reads the storage form written by [`Date::serialise`]:
    /// `yyyymmddHHMMSS` optionally followed by `.` and a fraction.
    pub fn from_serialised(s: &str) -> Result<Date, DateError> {
        if let Some(d) = serialised_exact(s) {
            return Ok(d);
        }
        Date::from_serialised_general(s)
    }

    /// [`Date::from_serialised`] for every form the storage grammar takes.
    fn from_serialised_general(s: &str) -> Result<Date, DateError> {
        let bad = || DateError::NotASerialisedDate {
            spec: s.to_string(),
        };
        match serialised_date_prefix(s) {
            Some((fields, used)) if used == s.len() => fields.build(s).map_err(|e| match e {
                DateError::InvalidDate { .. } | DateError::OutOfRange { .. } => e,
                _ => bad(),
            }),
            _ => Err(bad()),
        }
    }

    /// The storage form Roundup writes: `yyyymmddHHMMSS.fff` in UTC.
    pub fn serialise(&self) -> String {
        let n = self.naive_utc();
        if !(0..=9999).contains(&n.year()) {
            return format!(
                "{:04}{:02}{:02}{:02}{:02}{:02}.{:03}",
                n.year(),
                n.month(),
                n.day(),
                n.hour(),
                n.minute(),
                n.second(),
                self.millisecond()
            );
        }
        // Written digit by digit: imports serialise hundreds of thousands.
        let mut out = String::with_capacity(18);
        for (value, width) in [
            (n.year() as u32, 4),
            (n.month(), 2),
            (n.day(), 2),
            (n.hour(), 2),
            (n.minute(), 2),
            (n.second(), 2),
        ] {
            push_digits(&mut out, value, width);
        }
        out.push('.');
        push_digits(&mut out, self.millisecond(), 3);
        out
    }

    /// The full date format `yyyy-mm-dd.HH:MM:SS` shown in `tz`.
    pub fn formal(&self, tz: &Timezone) -> String {
        let n = self.local(tz);
        // Written digit by digit: index pages show a date in every row,
        // and `format!` with widths costs several times as much.
        let mut out = String::with_capacity(19);
        push_digits(&mut out, n.year() as u32, 4);
        out.push('-');
        push_digits(&mut out, n.month(), 2);
        out.push('-');
        push_digits(&mut out, n.day(), 2);
        out.push('.');
        push_digits(&mut out, n.hour(), 2);
        out.push(':');
        push_digits(&mut out, n.minute(), 2);
        out.push(':');
        push_digits(&mut out, n.second(), 2);
        out
    }

    /// The form Roundup's `repr()` shows: `yyyy-mm-dd.HH:MM:SS.fff` in UTC.
    pub fn formal_millis(&self) -> String {
        format!("{}.{:03}", self.formal(&Timezone::Utc), self.millisecond())
    }

    /// ISO 8601 in UTC to the second: `2003-04-05T12:34:56Z`.
    pub fn iso(&self) -> String {
        let n = self.naive_utc();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            n.year(),
            n.month(),
            n.day(),
            n.hour(),
            n.minute(),
            n.second()
        )
    }

    /// Exactly what Roundup's `Date.isoformat()` returns, including its
    /// quirk of writing the seconds as six digits
    /// (`2003-04-05T12:34:000056`).  Only for byte-for-byte compatibility.
    pub fn roundup_isoformat(&self) -> String {
        let n = self.naive_utc();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:06}",
            n.year(),
            n.month(),
            n.day(),
            n.hour(),
            n.minute(),
            n.second()
        )
    }

    /// Formats the date, shown in `tz`, with a strftime-style `format`
    /// (default `"%d %B %Y"`, English names).  As in Roundup, when the
    /// format starts with `%d` a leading zero of the day becomes a space.
    pub fn pretty(&self, tz: &Timezone, format: Option<&str>) -> String {
        let fmt = format.unwrap_or("%d %B %Y");
        let out = strftime(&self.local(tz), fmt);
        if fmt.starts_with("%d") && out.starts_with('0') {
            format!(" {}", &out[1..])
        } else {
            out
        }
    }

    /// Adds an interval the way Roundup does: the fields are added one by
    /// one (years, months and days as calendar steps, hours, minutes and
    /// seconds as time), overflowing days roll into the following months,
    /// and the fraction of a second is dropped.  Errors if the result leaves
    /// the years 1..=9999.
    pub fn checked_add(&self, iv: &Interval) -> Result<Date, DateError> {
        shift_fields(self.naive_utc(), iv)
            .and_then(|n| Date::from_naive_utc(n).ok())
            .ok_or_else(|| DateError::OutOfRange {
                what: format!("{self} + ({iv})"),
            })
    }

    /// [`Date::checked_add`], clamping to the first or last representable
    /// instant when the result would leave the years 1..=9999.
    pub fn add(&self, iv: &Interval) -> Date {
        self.checked_add(iv).unwrap_or_else(|_| {
            let positive = iv.as_seconds() > 0 || (iv.as_seconds() == 0 && iv.sign > 0);
            Date {
                ms: if positive { MAX_MS - 999 } else { MIN_MS },
            }
        })
    }

    /// Subtracts an interval (adds its negation).
    pub fn sub(&self, iv: &Interval) -> Date {
        self.add(&iv.neg())
    }

    /// [`Date::sub`] reporting range errors instead of clamping.
    pub fn checked_sub(&self, iv: &Interval) -> Result<Date, DateError> {
        self.checked_add(&iv.neg())
    }

    /// `self - other` as Roundup computes it: whole seconds (the fraction is
    /// cut towards zero) split into days, hours, minutes and seconds.  A
    /// zero difference carries a minus sign, as in Roundup.
    pub fn diff(&self, other: &Date) -> Interval {
        let secs = (self.ms - other.ms) / 1000;
        let mut iv = Interval::from_seconds(secs);
        if secs == 0 {
            iv.sign = -1;
        }
        iv
    }
}

impl fmt::Display for Date {
    /// Roundup's `str(date)`: `yyyy-mm-dd.HH:MM:SS` in UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.formal(&Timezone::Utc))
    }
}

impl std::ops::Add<&Interval> for Date {
    type Output = Date;
    fn add(self, rhs: &Interval) -> Date {
        Date::add(&self, rhs)
    }
}

impl std::ops::Sub<&Interval> for Date {
    type Output = Date;
    fn sub(self, rhs: &Interval) -> Date {
        Date::sub(&self, rhs)
    }
}

impl std::ops::Sub<Date> for Date {
    type Output = Interval;
    fn sub(self, rhs: Date) -> Interval {
        self.diff(&rhs)
    }
}

/// Roundup's field-by-field addition of an interval to a UTC date and
/// time, dropping the fraction of a second.  Intermediate results may leave
/// the years 1..=9999 (Roundup only checks the final value); `None` only
/// when even chrono's range is exceeded.
fn shift_fields(n: NaiveDateTime, iv: &Interval) -> Option<NaiveDateTime> {
    let s = i64::from(iv.sign);
    let year = i64::from(n.year()).saturating_add(s.saturating_mul(iv.years));
    let month = i64::from(n.month()).saturating_add(s.saturating_mul(iv.months));
    let day = i64::from(n.day()).saturating_add(s.saturating_mul(iv.days));
    let iv_secs =
        (i128::from(iv.hours) * 3600 + i128::from(iv.minutes) * 60 + i128::from(iv.seconds))
            * i128::from(s);
    let tod = i128::from(n.num_seconds_from_midnight()) + iv_secs;
    let carry = i64::try_from(tod.div_euclid(86_400)).ok()?;
    let tod = u32::try_from(tod.rem_euclid(86_400)).ok()?;
    let day = day.saturating_add(carry);
    let year = year.saturating_add((month - 1).div_euclid(12));
    let month = u32::try_from((month - 1).rem_euclid(12) + 1).ok()?;
    if year.unsigned_abs() > 200_000 || day.unsigned_abs() > 40_000_000 {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, 1)?;
    let date = first.checked_add_signed(TimeDelta::try_days(day - 1)?)?;
    Some(date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(tod, 0)?))
}

/// Checks the fields of a date and time and builds it.
fn checked_naive(
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Result<NaiveDateTime, String> {
    if !year_in_range(year) {
        return Err(format!("year {year} is not in 1..9999"));
    }
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is not in 1..12"));
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or_else(|| format!("day {day} is out of range for month {year:04}-{month:02}"))?;
    if hour > 23 {
        return Err(format!("hour {hour} is not in 0..23"));
    }
    if minute > 59 {
        return Err(format!("minute {minute} is not in 0..59"));
    }
    if second > 59 {
        return Err(format!("second {second} is not in 0..59"));
    }
    let time = NaiveTime::from_hms_opt(hour, minute, second)
        .ok_or_else(|| format!("time {hour:02}:{minute:02}:{second:02} is invalid"))?;
    Ok(date.and_time(time))
}

// --- reading date specs ------------------------------------------------------

fn digit_run(b: &[u8], pos: usize, n: usize) -> bool {
    pos + n <= b.len() && b[pos..pos + n].iter().all(u8::is_ascii_digit)
}

fn byte_at(b: &[u8], pos: usize) -> Option<u8> {
    b.get(pos).copied()
}

fn is_date_sep(b: &[u8], pos: usize) -> bool {
    matches!(byte_at(b, pos), Some(b'-' | b'/'))
}

fn count_digits(b: &[u8], pos: usize) -> usize {
    b.get(pos..)
        .map(|rest| rest.iter().take_while(|c| c.is_ascii_digit()).count())
        .unwrap_or(0)
}

/// Fields read from a storage-form date.
struct SerialFields<'a> {
    year: &'a str,
    month: &'a str,
    day: &'a str,
    hour: &'a str,
    minute: &'a str,
    second: &'a str,
}

impl SerialFields<'_> {
    fn build(&self, spec: &str) -> Result<Date, DateError> {
        let invalid = |reason: String| DateError::InvalidDate {
            spec: spec.to_string(),
            reason,
        };
        let num = |t: &str| {
            t.parse::<u32>()
                .map_err(|_| invalid(format!("bad number {t:?}")))
        };
        let (sec, micros) = split_seconds(self.second);
        // Roundup stores a float second as `%06.3f`, so 59.9995 and over
        // is written "60.000"; Roundup reads that back, and so do we: as
        // the next minute's first second (the same instant).
        let (sec, carry_ms) = if sec == 60 { (59, 1000) } else { (sec, 0) };
        let n = checked_naive(
            i64::from(num(self.year)?),
            num(self.month)?,
            num(self.day)?,
            num(self.hour)?,
            num(self.minute)?,
            sec,
        )
        .map_err(invalid)?;
        let base = Date::from_naive_utc(n)?;
        Ok(Date {
            ms: (base.ms + carry_ms + micros_to_ms(sec, micros)).min(MAX_MS),
        })
    }
}

/// Append the last `width` decimal digits of `value`, zero-padded.
fn push_digits(out: &mut String, value: u32, width: u32) {
    for k in (0..width).rev() {
        let d = (value / 10u32.pow(k)) % 10;
        out.push(char::from(b'0' + d as u8));
    }
}

/// The storage form at the start of `s`, if there is one, and how many bytes
/// it used.  Text after it is ignored by Roundup when parsing a spec.
fn serialised_date_prefix(s: &str) -> Option<(SerialFields<'_>, usize)> {
    let b = s.as_bytes();
    if !digit_run(b, 0, 13) {
        return None;
    }
    let mut end = if digit_run(b, 12, 2) { 14 } else { 13 };
    if byte_at(b, end) == Some(b'.') {
        let frac = count_digits(b, end + 1);
        if frac > 0 {
            end += 1 + frac;
        }
    }
    Some((
        SerialFields {
            year: &s[0..4],
            month: &s[4..6],
            day: &s[6..8],
            hour: &s[8..10],
            minute: &s[10..12],
            second: &s[12..end],
        },
        end,
    ))
}

/// The form Roundup and we write, `yyyymmddHHMMSS.fff` with the seconds
/// below 60, read without the general parser's text handling (an index
/// page reads a hundred dates). `None` for anything else, which the
/// general parser then reads; the two agree (see the tests).
fn serialised_exact(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 18 || b[14] != b'.' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |v, &c| {
            c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
        })
    };
    let second = num(12, 14)?;
    if second >= 60 {
        return None;
    }
    let n = checked_naive(
        i64::from(num(0, 4)?),
        num(4, 6)?,
        num(6, 8)?,
        num(8, 10)?,
        num(10, 12)?,
        second,
    )
    .ok()?;
    let base = Date::from_naive_utc(n).ok()?;
    Some(Date {
        ms: (base.ms + i64::from(num(15, 18)?)).min(MAX_MS),
    })
}

/// Splits `"56.25"` into whole seconds and microseconds (the microseconds
/// cut, not rounded, as Roundup does).  The text is digits with at most one
/// dot.
fn split_seconds(t: &str) -> (u32, u32) {
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    let whole = whole.parse::<u32>().unwrap_or(u32::MAX);
    let f: f64 = format!("0.{}", if frac.is_empty() { "0" } else { frac })
        .parse()
        .unwrap_or(0.0);
    let micros = ((f * 1_000_000.0).trunc() as u32).min(999_999);
    (whole, micros)
}

/// Rounds `second + micros` to milliseconds the way Roundup's `%06.3f`
/// storage format does, returning the milliseconds to add (0..=1000).
fn micros_to_ms(second: u32, micros: u32) -> i64 {
    let value = f64::from(second) + f64::from(micros) / 1_000_000.0;
    let rounded: f64 = format!("{value:.3}").parse().unwrap_or(f64::from(second));
    ((rounded - f64::from(second)) * 1000.0).round() as i64
}

/// What the user-facing date grammar captured.
#[derive(Clone, Copy, Default, Debug)]
struct DateSpecParts<'a> {
    year: Option<&'a str>,
    month: Option<&'a str>,
    day: Option<&'a str>,
    md_month: Option<&'a str>,
    md_day: Option<&'a str>,
    hour: Option<&'a str>,
    minute: Option<&'a str>,
    second: Option<&'a str>,
    zone: Option<&'a str>,
    offset: Option<&'a str>,
}

/// Ways the leading date part can be read, most preferred first, with the
/// position after each.
fn date_part_options(s: &str) -> Vec<(DateSpecParts<'_>, usize)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    if digit_run(b, 0, 4) {
        let year = Some(&s[0..4]);
        if is_date_sep(b, 4) {
            for mlen in [2, 1] {
                if !digit_run(b, 5, mlen) {
                    continue;
                }
                let q = 5 + mlen;
                let month = Some(&s[5..q]);
                if is_date_sep(b, q) {
                    for dlen in [2, 1] {
                        if digit_run(b, q + 1, dlen) {
                            let day = Some(&s[q + 1..q + 1 + dlen]);
                            let p = DateSpecParts {
                                year,
                                month,
                                day,
                                ..Default::default()
                            };
                            out.push((p, q + 1 + dlen));
                        }
                    }
                }
                out.push((
                    DateSpecParts {
                        year,
                        month,
                        ..Default::default()
                    },
                    q,
                ));
            }
        }
        out.push((
            DateSpecParts {
                year,
                ..Default::default()
            },
            4,
        ));
    }
    for alen in [2, 1] {
        if digit_run(b, 0, alen) && is_date_sep(b, alen) {
            for blen in [2, 1] {
                if digit_run(b, alen + 1, blen) {
                    let p = DateSpecParts {
                        md_month: Some(&s[0..alen]),
                        md_day: Some(&s[alen + 1..alen + 1 + blen]),
                        ..Default::default()
                    };
                    out.push((p, alen + 1 + blen));
                }
            }
        }
    }
    out.push((DateSpecParts::default(), 0));
    out
}

/// Ways the time part starting at `p` can be read, most preferred first:
/// (hour, minute, seconds text, end).
type TimeOption<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, usize);

fn time_options(s: &str, p: usize) -> Vec<TimeOption<'_>> {
    let b = s.as_bytes();
    let mut hm: Vec<(Option<&str>, Option<&str>, usize)> = Vec::new();
    for hlen in [2, 1] {
        if digit_run(b, p, hlen)
            && byte_at(b, p + hlen) == Some(b':')
            && digit_run(b, p + hlen + 1, 2)
        {
            hm.push((
                Some(&s[p..p + hlen]),
                Some(&s[p + hlen + 1..p + hlen + 3]),
                p + hlen + 3,
            ));
        }
    }
    hm.push((None, None, p));
    let mut out = Vec::new();
    for (h, m, q) in hm {
        if byte_at(b, q) == Some(b':') {
            for slen in [2, 1] {
                if !digit_run(b, q + 1, slen) {
                    continue;
                }
                let base = q + 1 + slen;
                if byte_at(b, base) == Some(b'.') {
                    let frac = count_digits(b, base + 1);
                    for k in (1..=frac).rev() {
                        out.push((h, m, Some(&s[q + 1..base + 1 + k]), base + 1 + k));
                    }
                }
                out.push((h, m, Some(&s[q + 1..base]), base));
            }
        }
        out.push((h, m, None, q));
    }
    out
}

fn is_offset_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_whitespace() || matches!(c, 'm' | 'y' | 'w' | 'd' | '-' | '+')
}

/// A `+HHMM` / `-HHMM` zone filling all of `rest` (one blank may precede
/// it, one newline may follow).
fn is_zone_suffix(rest: &str) -> bool {
    let body = rest.strip_suffix('\n').unwrap_or(rest);
    let check = |t: &str| {
        let b = t.as_bytes();
        b.len() == 5 && matches!(b[0], b'+' | b'-') && digit_run(b, 1, 4)
    };
    if check(body) {
        return true;
    }
    let mut chars = body.chars();
    match chars.next() {
        Some(c) if c.is_whitespace() => check(chars.as_str()),
        _ => false,
    }
}

/// Reads the user-facing date grammar over the whole of `s`.
fn match_date_spec(s: &str) -> Option<DateSpecParts<'_>> {
    let b = s.as_bytes();
    for (date, p1) in date_part_options(s) {
        let mut seps = vec![p1];
        if matches!(byte_at(b, p1), Some(b'.' | b'T')) {
            seps.insert(0, p1 + 1);
        }
        for p2 in seps {
            for (hour, minute, second, p3) in time_options(s, p2) {
                let rest = &s[p3..];
                let mut parts = DateSpecParts {
                    hour,
                    minute,
                    second,
                    ..date
                };
                if is_zone_suffix(rest) {
                    parts.zone = Some(rest);
                } else if !rest.is_empty() && rest.chars().all(is_offset_char) {
                    parts.offset = Some(rest);
                } else if !rest.is_empty() {
                    continue;
                }
                return Some(parts);
            }
        }
    }
    None
}

fn parse_field(spec: &str, t: &str) -> Result<u32, DateError> {
    t.trim().parse::<u32>().map_err(|_| DateError::InvalidDate {
        spec: spec.to_string(),
        reason: format!("bad number {t:?}"),
    })
}

fn parse_date(spec: &str, tz: &Timezone, now: Date, granular: bool) -> Result<Date, DateError> {
    if let Some((fields, _)) = serialised_date_prefix(spec) {
        // The storage form is UTC and has no granularity widening.
        return fields.build(spec);
    }
    let parts = match_date_spec(spec).ok_or_else(|| DateError::NotADateSpec {
        spec: spec.to_string(),
    })?;

    let widen = if granular {
        Some(granularity_of(spec, &parts)?)
    } else {
        None
    };

    let now_n = now.naive_utc();
    let mut year = i64::from(now_n.year());
    let (mut month, mut day) = (now_n.month(), now_n.day());
    let (mut hour, mut minute, mut second) = (now_n.hour(), now_n.minute(), now_n.second());
    let mut micros = now.millisecond() * 1000;
    let mut wall_clock = false;

    if parts.year.is_some() || parts.md_month.is_some() {
        if let Some(y) = parts.year {
            year = i64::from(parse_field(spec, y)?);
            month = 1;
            day = 1;
            if let Some(m) = parts.month {
                month = parse_field(spec, m)?;
                if let Some(d) = parts.day {
                    day = parse_field(spec, d)?;
                }
            }
        }
        if let (Some(a), Some(b)) = (parts.md_month, parts.md_day) {
            month = parse_field(spec, a)?;
            day = parse_field(spec, b)?;
        }
        hour = 0;
        minute = 0;
        second = 0;
        micros = 0;
        wall_clock = true;
    }
    if let (Some(h), Some(m)) = (parts.hour, parts.minute) {
        hour = parse_field(spec, h)?;
        minute = parse_field(spec, m)?;
        second = 0;
        micros = 0;
        if let Some(sec) = parts.second {
            let (w, f) = split_seconds(sec);
            second = w;
            micros = f;
        }
        wall_clock = true;
    }

    let naive = checked_naive(year, month, day, hour, minute, second).map_err(|reason| {
        DateError::InvalidDate {
            spec: spec.to_string(),
            reason,
        }
    })?;
    let utc = if wall_clock {
        // An explicit +HHMM zone is applied below instead of `tz`.
        let zone = if parts.zone.is_some() {
            &Timezone::Utc
        } else {
            tz
        };
        zone.local_to_utc(naive)
    } else {
        naive
    };
    let out_of_range = || DateError::OutOfRange {
        what: spec.to_string(),
    };
    let mut work = utc
        .checked_add_signed(TimeDelta::milliseconds(micros_to_ms(second, micros)))
        .ok_or_else(out_of_range)?;

    if let Some(off) = parts.offset {
        let iv = parse_interval(off, false, false, now).map_err(|_| DateError::BadDateOffset {
            spec: spec.to_string(),
            offset: off.to_string(),
        })?;
        work = shift_fields(work, &iv).ok_or_else(out_of_range)?;
    }
    if let Some(zone) = parts.zone {
        let z = zone.trim();
        let hours = parse_field(spec, z.get(1..3).unwrap_or(""))?;
        let minutes = parse_field(spec, z.get(3..5).unwrap_or(""))?;
        // "-0500" is five hours behind UTC, so five hours are added.
        let sign = if z.starts_with('-') { 1 } else { -1 };
        let iv = Interval::new(sign, 0, 0, 0, i64::from(hours), i64::from(minutes), 0);
        work = shift_fields(work, &iv).ok_or_else(out_of_range)?;
    }
    if let Some(step) = widen {
        work = shift_fields(work, &step).ok_or_else(out_of_range)?;
        work = shift_fields(work, &Interval::new(-1, 0, 0, 0, 0, 0, 1)).ok_or_else(out_of_range)?;
    }
    Date::from_naive_utc(work).map_err(|_| out_of_range())
}

/// The step a bare date spec covers when used as a range.
fn granularity_of(spec: &str, parts: &DateSpecParts<'_>) -> Result<Interval, DateError> {
    let no = |reason| DateError::NoGranularity {
        spec: spec.to_string(),
        reason,
    };
    if parts.second.is_some() {
        Err(no(
            "a time with seconds is already exact; give a range with \"from\"/\"to\" or \";\"",
        ))
    } else if parts.minute.is_some() {
        Ok(Interval::new(1, 0, 0, 0, 0, 1, 0))
    } else if parts.day.is_some() {
        Ok(Interval::new(1, 0, 0, 1, 0, 0, 0))
    } else if parts.month.is_some() {
        Ok(Interval::new(1, 0, 1, 0, 0, 0, 0))
    } else if parts.year.is_some() {
        Ok(Interval::new(1, 1, 0, 0, 0, 0, 0))
    } else {
        Err(no(
            "could not determine granularity (give a year, month, day or time, \
             or a range with \"from\"/\"to\" or \";\")",
        ))
    }
}

// ---------------------------------------------------------------------------
// Interval
// ---------------------------------------------------------------------------

/// Largest count accepted for a single interval field.
const MAX_COUNT: i64 = 1_000_000_000_000;

/// A span of time kept as Roundup keeps it: a sign and separate counts of
/// years, months, days, hours, minutes and seconds (weeks become 7 days).
///
/// Comparison, equality and hashing use [`Interval::as_seconds`], like
/// Roundup's, so `1d` equals `24:00`.  Use [`Interval::fields`] to compare
/// the stored parts.
#[derive(Clone, Copy, Debug)]
pub struct Interval {
    sign: i8,
    years: i64,
    months: i64,
    days: i64,
    hours: i64,
    minutes: i64,
    seconds: i64,
}

impl PartialEq for Interval {
    fn eq(&self, other: &Self) -> bool {
        self.as_seconds_wide() == other.as_seconds_wide()
    }
}
impl Eq for Interval {}
impl Hash for Interval {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_seconds_wide().hash(state);
    }
}
impl PartialOrd for Interval {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Interval {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_seconds_wide().cmp(&other.as_seconds_wide())
    }
}

impl Default for Interval {
    fn default() -> Self {
        Interval::new(1, 0, 0, 0, 0, 0, 0)
    }
}

impl Interval {
    /// Builds an interval from its parts; `sign` below zero means negative.
    pub fn new(
        sign: i32,
        years: i64,
        months: i64,
        days: i64,
        hours: i64,
        minutes: i64,
        seconds: i64,
    ) -> Interval {
        Interval {
            sign: if sign < 0 { -1 } else { 1 },
            years,
            months,
            days,
            hours,
            minutes,
            seconds,
        }
    }

    /// `(sign, years, months, days, hours, minutes, seconds)` as stored.
    pub fn fields(&self) -> (i32, i64, i64, i64, i64, i64, i64) {
        (
            i32::from(self.sign),
            self.years,
            self.months,
            self.days,
            self.hours,
            self.minutes,
            self.seconds,
        )
    }

    /// +1 or -1.
    pub fn sign(&self) -> i32 {
        i32::from(self.sign)
    }
    pub fn years(&self) -> i64 {
        self.years
    }
    pub fn months(&self) -> i64 {
        self.months
    }
    pub fn days(&self) -> i64 {
        self.days
    }
    pub fn hours(&self) -> i64 {
        self.hours
    }
    pub fn minutes(&self) -> i64 {
        self.minutes
    }
    pub fn seconds(&self) -> i64 {
        self.seconds
    }

    /// An interval of `secs` seconds split into days, hours, minutes and
    /// seconds (no months or years), as Roundup builds one from a number.
    pub fn from_seconds(secs: i64) -> Interval {
        let sign = if secs < 0 { -1 } else { 1 };
        let v = secs.unsigned_abs();
        Interval {
            sign,
            years: 0,
            months: 0,
            days: (v / 86_400) as i64,
            hours: ((v / 3600) % 24) as i64,
            minutes: ((v / 60) % 60) as i64,
            seconds: (v % 60) as i64,
        }
    }

    /// Reads an interval spec relative to the current time.  See
    /// [`Interval::parse_at`].
    pub fn parse(spec: &str) -> Result<Interval, DateError> {
        Interval::parse_at(spec, Date::now())
    }

    /// Reads what Roundup's `Interval(spec)` accepts:
    /// `[+-] [#y] [#m] [#w] [#d] [[[H]H:MM]:SS] [date]`, blanks allowed
    /// between parts (`"3y"`, `"- 1w 2d"`, `"1:00"`, `"2d 3:30:15"`), the
    /// storage form `+yyyymmddHHMMSS`, and a trailing date
    /// (`"2003-03-18"`, `"-4d 2003-03-18"`) which turns the result into
    /// the distance from that date (moved by the interval) to `now`.  As in
    /// Roundup, text after the recognised part is ignored.
    pub fn parse_at(spec: &str, now: Date) -> Result<Interval, DateError> {
        parse_interval(spec, true, false, now)
    }

    /// Reads the storage form written by [`Interval::serialise`].
    pub fn from_serialised(s: &str) -> Result<Interval, DateError> {
        let bad = || DateError::NotASerialisedInterval {
            spec: s.to_string(),
        };
        let (parts, used) = serialised_interval_prefix(s).ok_or_else(bad)?;
        if used != s.len() {
            return Err(bad());
        }
        interval_from_parts(s, &parts).map_err(|_| bad())
    }

    /// Roundup's storage form: sign and `yyyymmddHHMMSS`
    /// (`"+000000010200"` for one day two hours).
    pub fn serialise(&self) -> String {
        format!(
            "{}{:04}{:02}{:02}{:02}{:02}{:02}",
            if self.sign > 0 { '+' } else { '-' },
            self.years,
            self.months,
            self.days,
            self.hours,
            self.minutes,
            self.seconds
        )
    }

    /// Roundup's `isoformat()`: an ISO 8601 duration of the absolute value,
    /// `P0001Y02M03DT04H05M06S`.
    pub fn iso(&self) -> String {
        format!(
            "P{:04}Y{:02}M{:02}DT{:02}H{:02}M{:02}S",
            self.years, self.months, self.days, self.hours, self.minutes, self.seconds
        )
    }

    fn as_seconds_wide(&self) -> i128 {
        let days =
            i128::from(self.years) * 365 + i128::from(self.months) * 30 + i128::from(self.days);
        let secs = ((days * 24 + i128::from(self.hours)) * 60 + i128::from(self.minutes)) * 60
            + i128::from(self.seconds);
        secs * i128::from(self.sign)
    }

    /// Length in seconds with months counted as 30 days and years as 365,
    /// signed (Roundup's `as_seconds()`; what the SQL backends store for
    /// sorting and searching).
    pub fn as_seconds(&self) -> i64 {
        let w = self.as_seconds_wide();
        i64::try_from(w).unwrap_or(if w < 0 { i64::MIN } else { i64::MAX })
    }

    /// The same interval with the opposite sign.
    pub fn neg(&self) -> Interval {
        Interval {
            sign: -self.sign,
            ..*self
        }
    }

    fn combine(&self, other: &Interval, factor: i64) -> Interval {
        let a = i64::from(self.sign);
        let b = i64::from(other.sign).saturating_mul(factor);
        let mix = |x: i64, y: i64| a.saturating_mul(x).saturating_add(b.saturating_mul(y));
        normalise_time(
            mix(self.years, other.years),
            mix(self.months, other.months),
            mix(self.days, other.days),
            mix(self.hours, other.hours),
            mix(self.minutes, other.minutes),
            mix(self.seconds, other.seconds),
        )
    }

    /// Interval + interval, as Roundup adds them: if the day/time parts do
    /// not cancel out they are renormalised (and decide the sign) while the
    /// years and months are kept as summed; otherwise years and months are
    /// renormalised and decide the sign.
    pub fn add(&self, other: &Interval) -> Interval {
        self.combine(other, 1)
    }

    /// Interval - interval (see [`Interval::add`]).
    pub fn sub(&self, other: &Interval) -> Interval {
        self.combine(other, -1)
    }

    /// Roundup's interval division: an interval of only years and months
    /// divides the month count; one of only days and times divides the
    /// seconds; one with both cannot be divided.  Results are cut towards
    /// zero.
    pub fn div(&self, by: f64) -> Result<Interval, DateError> {
        let refuse = |reason| DateError::BadDivision {
            interval: self.to_string(),
            reason,
        };
        if by == 0.0 || !by.is_finite() {
            return Err(refuse("the divisor must be a non-zero finite number"));
        }
        let sign = i64::from(self.sign);
        if self.years != 0 || self.months != 0 {
            if self.days != 0 || self.hours != 0 || self.minutes != 0 || self.seconds != 0 {
                return Err(refuse("it has both a date part and a time part"));
            }
            let months = self
                .years
                .saturating_mul(12)
                .saturating_add(self.months)
                .saturating_mul(sign);
            let months = (months as f64 / by).trunc() as i64;
            Ok(Interval::new(
                if months < 0 { -1 } else { 1 },
                months.div_euclid(12),
                months.rem_euclid(12),
                0,
                0,
                0,
                0,
            ))
        } else {
            let secs = (i128::from(self.days) * 86_400
                + i128::from(self.hours) * 3600
                + i128::from(self.minutes) * 60
                + i128::from(self.seconds))
                * i128::from(sign);
            let secs = (secs as f64 / by).trunc() as i64;
            Ok(Interval::from_seconds(secs))
        }
    }

    /// Roundup's `Interval.pretty()`: a rough English description such as
    /// "in 2 hours", "3 weeks ago", "tomorrow", "just now".
    pub fn pretty(&self) -> String {
        self.pretty_in(&crate::i18n::Translator::default())
    }

    /// [`Interval::pretty`] in the translator's language (Roundup's
    /// messages: `%(number)s week`, `%s ago`, `just now`, ...).
    pub fn pretty_in(&self, t: &crate::i18n::Translator) -> String {
        let count = |n: i64, one: &str, many: &str| -> String {
            crate::i18n::tr_nfmt(
                t,
                one,
                many,
                n.unsigned_abs(),
                &[("number", &n.to_string())],
            )
        };
        let ahead = self.sign > 0;
        let quarters = self.minutes.div_euclid(15);
        let text = if self.years != 0 {
            count(self.years, "%(number)s year", "%(number)s years")
        } else if self.months != 0 || self.days > 28 {
            let months = (self.months.saturating_mul(30).saturating_add(self.days) / 30).max(1);
            count(months, "%(number)s month", "%(number)s months")
        } else if self.days > 7 {
            count(self.days / 7, "%(number)s week", "%(number)s weeks")
        } else if self.days > 1 {
            count(self.days, "%(number)s day", "%(number)s days")
        } else if self.days == 1 || self.hours > 12 {
            return t
                .gettext(if ahead { "tomorrow" } else { "yesterday" })
                .to_string();
        } else if self.hours > 1 {
            count(self.hours, "%(number)s hour", "%(number)s hours")
        } else if self.hours == 1 {
            if self.minutes < 15 {
                t.gettext("an hour").to_string()
            } else if quarters == 2 {
                t.gettext("1 1/2 hours").to_string()
            } else {
                count(quarters, "1 %(number)s/4 hours", "1 %(number)s/4 hours")
            }
        } else if self.minutes < 1 {
            return t
                .gettext(if ahead { "in a moment" } else { "just now" })
                .to_string();
        } else if self.minutes == 1 {
            t.gettext("1 minute").to_string()
        } else if self.minutes < 15 {
            count(self.minutes, "%(number)s minute", "%(number)s minutes")
        } else if quarters == 2 {
            t.gettext("1/2 an hour").to_string()
        } else {
            count(quarters, "%(number)s/4 hour", "%(number)s/4 hours")
        };
        crate::i18n::tr_fmt(t, if ahead { "in %s" } else { "%s ago" }, &[("", &text)])
    }
}

/// Roundup's carrying rule for interval sums.
fn normalise_time(y: i64, m: i64, d: i64, h: i64, mi: i64, s: i64) -> Interval {
    let secs = i128::from(s) + i128::from(mi) * 60 + i128::from(h) * 3600 + i128::from(d) * 86_400;
    if secs != 0 {
        let sign = if secs < 0 { -1 } else { 1 };
        let v = secs.unsigned_abs();
        let clamp = |x: u128| i64::try_from(x).unwrap_or(i64::MAX);
        Interval {
            sign,
            years: y,
            months: m,
            days: clamp(v / 86_400),
            hours: clamp((v / 3600) % 24),
            minutes: clamp((v / 60) % 60),
            seconds: clamp(v % 60),
        }
    } else {
        let months = i128::from(y) * 12 + i128::from(m);
        let sign = if months < 0 { -1 } else { 1 };
        let v = months.unsigned_abs();
        let clamp = |x: u128| i64::try_from(x).unwrap_or(i64::MAX);
        Interval {
            sign,
            years: clamp(v / 12),
            months: clamp(v % 12),
            days: d,
            hours: h,
            minutes: mi,
            seconds: s,
        }
    }
}

impl fmt::Display for Interval {
    /// Roundup's `str(interval)`: `"+ 1y 2m 3d 4:05:06"`, `"- 3d"`,
    /// `"+ 1:30"`, and `"00:00"` when every part is zero.  This is the text
    /// the SQL backends store.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if self.years != 0 {
            parts.push(format!("{}y", self.years));
        }
        if self.months != 0 {
            parts.push(format!("{}m", self.months));
        }
        if self.days != 0 {
            parts.push(format!("{}d", self.days));
        }
        if self.seconds != 0 {
            parts.push(format!(
                "{}:{:02}:{:02}",
                self.hours, self.minutes, self.seconds
            ));
        } else if self.hours != 0 || self.minutes != 0 {
            parts.push(format!("{}:{:02}", self.hours, self.minutes));
        }
        if parts.is_empty() {
            return f.write_str("00:00");
        }
        f.write_str(if self.sign > 0 { "+ " } else { "- " })?;
        f.write_str(&parts.join(" "))
    }
}

impl std::ops::Neg for Interval {
    type Output = Interval;
    fn neg(self) -> Interval {
        Interval::neg(&self)
    }
}

impl std::ops::Add for Interval {
    type Output = Interval;
    fn add(self, rhs: Interval) -> Interval {
        Interval::add(&self, &rhs)
    }
}

impl std::ops::Sub for Interval {
    type Output = Interval;
    fn sub(self, rhs: Interval) -> Interval {
        Interval::sub(&self, &rhs)
    }
}

// --- reading interval specs --------------------------------------------------

/// What the interval grammar captured.
#[derive(Clone, Copy, Default, Debug)]
struct IntervalParts<'a> {
    sign: Option<u8>,
    years: Option<&'a str>,
    months: Option<&'a str>,
    weeks: Option<&'a str>,
    days: Option<&'a str>,
    hours: Option<&'a str>,
    minutes: Option<&'a str>,
    seconds: Option<&'a str>,
    date: Option<&'a str>,
}

fn skip_blanks(s: &str, mut p: usize) -> usize {
    while let Some(c) = s.get(p..).and_then(|r| r.chars().next()) {
        if !c.is_whitespace() {
            break;
        }
        p += c.len_utf8();
    }
    p
}

/// The storage form `[+-][1]yyyymmddHHMMSS` (year may be three blanks and
/// a digit) at the start of `s`, and how many bytes it used.
fn serialised_interval_prefix(s: &str) -> Option<(IntervalParts<'_>, usize)> {
    let b = s.as_bytes();
    for signed in [true, false] {
        let mut p = 0;
        let mut sign = None;
        if signed {
            match byte_at(b, 0) {
                Some(c @ (b'+' | b'-')) => {
                    sign = Some(c);
                    p = 1;
                }
                _ => continue,
            }
        }
        for with_one in [true, false] {
            let mut q = p;
            if with_one {
                if byte_at(b, q) != Some(b'1') {
                    continue;
                }
                q += 1;
            }
            let year_ok = digit_run(b, q, 4)
                || (b.get(q..q + 3) == Some(b"   ".as_slice()) && digit_run(b, q + 3, 1));
            if !year_ok || !digit_run(b, q + 4, 10) {
                continue;
            }
            let parts = IntervalParts {
                sign,
                years: Some(&s[q..q + 4]),
                months: Some(&s[q + 4..q + 6]),
                days: Some(&s[q + 6..q + 8]),
                hours: Some(&s[q + 8..q + 10]),
                minutes: Some(&s[q + 10..q + 12]),
                seconds: Some(&s[q + 12..q + 14]),
                ..Default::default()
            };
            return Some((parts, q + 14));
        }
    }
    None
}

/// A count followed (after optional blanks) by its unit letter.
fn count_with_unit(s: &str, p: usize, unit: u8) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    let n = count_digits(b, p);
    if n == 0 {
        return None;
    }
    let q = skip_blanks(s, p + n);
    (byte_at(b, q) == Some(unit)).then(|| (&s[p..p + n], q + 1))
}

/// The date that may end an interval spec: `[yyyy-][m]m-[d]d[.][H]H:MM[:SS]`
/// with every part but one separator optional.
fn interval_date_at(s: &str, p: usize) -> Option<&str> {
    let b = s.as_bytes();
    let mut starts = Vec::new();
    if digit_run(b, p, 4) && is_date_sep(b, p + 4) {
        starts.push(p + 5);
    }
    starts.push(p);
    for a in starts {
        let mut month_ends = Vec::new();
        if digit_run(b, a, 2) {
            month_ends.push(a + 2);
        }
        if digit_run(b, a, 1) {
            month_ends.push(a + 1);
        }
        month_ends.push(a);
        for m in month_ends {
            if !is_date_sep(b, m) {
                continue;
            }
            let mut c = m + 1;
            if digit_run(b, c, 2) {
                c += 2;
            } else if digit_run(b, c, 1) {
                c += 1;
            }
            if byte_at(b, c) == Some(b'.') {
                c += 1;
            }
            if digit_run(b, c, 2) && byte_at(b, c + 2) == Some(b':') && digit_run(b, c + 3, 2) {
                c += 5;
            } else if digit_run(b, c, 1)
                && byte_at(b, c + 1) == Some(b':')
                && digit_run(b, c + 2, 2)
            {
                c += 4;
            }
            if byte_at(b, c) == Some(b':') && digit_run(b, c + 1, 2) {
                c += 3;
            }
            return Some(&s[p..c]);
        }
    }
    None
}

/// Reads the interval grammar from the start of `s`; it always matches,
/// possibly capturing nothing.
fn match_interval_spec(s: &str) -> IntervalParts<'_> {
    let b = s.as_bytes();
    let mut parts = IntervalParts::default();
    let mut p = skip_blanks(s, 0);
    if let Some(c @ (b'+' | b'-')) = byte_at(b, p) {
        parts.sign = Some(c);
        p += 1;
    }
    for (unit, slot) in [
        (b'y', &mut parts.years),
        (b'm', &mut parts.months),
        (b'w', &mut parts.weeks),
        (b'd', &mut parts.days),
    ] {
        p = skip_blanks(s, p);
        if let Some((n, q)) = count_with_unit(s, p, unit) {
            *slot = Some(n);
            p = q;
        }
    }
    p = skip_blanks(s, p);
    let h = count_digits(b, p);
    if h > 0 && byte_at(b, p + h) == Some(b':') {
        let m = count_digits(b, p + h + 1);
        if m > 0 {
            parts.hours = Some(&s[p..p + h]);
            parts.minutes = Some(&s[p + h + 1..p + h + 1 + m]);
            p += h + 1 + m;
        }
    }
    if byte_at(b, p) == Some(b':') {
        let n = count_digits(b, p + 1);
        if n > 0 {
            parts.seconds = Some(&s[p + 1..p + 1 + n]);
            p += 1 + n;
        }
    }
    p = skip_blanks(s, p);
    parts.date = interval_date_at(s, p);
    parts
}

fn parse_count(spec: &str, t: &str) -> Result<i64, DateError> {
    let t = t.trim();
    let too_big = || DateError::NumberTooLarge {
        spec: spec.to_string(),
        number: t.to_string(),
    };
    let n: i64 = t.parse().map_err(|_| too_big())?;
    if n > MAX_COUNT {
        return Err(too_big());
    }
    Ok(n)
}

fn interval_from_parts(spec: &str, parts: &IntervalParts<'_>) -> Result<Interval, DateError> {
    let get = |f: Option<&str>| f.map(|t| parse_count(spec, t)).transpose();
    let weeks = get(parts.weeks)?.unwrap_or(0);
    Ok(Interval {
        sign: if parts.sign == Some(b'-') { -1 } else { 1 },
        years: get(parts.years)?.unwrap_or(0),
        months: get(parts.months)?.unwrap_or(0),
        days: get(parts.days)?.unwrap_or(0) + weeks * 7,
        hours: get(parts.hours)?.unwrap_or(0),
        minutes: get(parts.minutes)?.unwrap_or(0),
        seconds: get(parts.seconds)?.unwrap_or(0),
    })
}

fn parse_interval(
    spec: &str,
    allow_date: bool,
    granular: bool,
    now: Date,
) -> Result<Interval, DateError> {
    let (parts, serialised) = match serialised_interval_prefix(spec) {
        Some((p, _)) => (p, true),
        None => (match_interval_spec(spec), false),
    };
    let has_count = [
        parts.years,
        parts.months,
        parts.weeks,
        parts.days,
        parts.hours,
        parts.minutes,
        parts.seconds,
    ]
    .iter()
    .any(Option::is_some);
    if !has_count && parts.date.is_none() {
        return Err(DateError::NotAnIntervalSpec {
            spec: spec.to_string(),
        });
    }
    let mut iv = interval_from_parts(spec, &parts)?;
    if granular {
        // Widen the finest unit given by one step away from the sign.
        let step = if parts.sign == Some(b'-') { -1 } else { 1 };
        if parts.seconds.is_some() {
            iv.seconds += step;
        } else if parts.minutes.is_some() {
            iv.minutes += step;
        } else if parts.hours.is_some() {
            iv.hours += step;
        } else if parts.days.is_some() {
            iv.days += step;
        } else if parts.weeks.is_some() {
            iv.days += 7 * step;
        } else if parts.months.is_some() {
            iv.months += step;
        } else if parts.years.is_some() {
            iv.years += step;
        }
    }
    if let (true, false, Some(d)) = (allow_date, serialised, parts.date) {
        let date = parse_date(d, &Timezone::Utc, now, false)?;
        let dn = date.naive_utc();
        let mut base = now;
        if dn.hour() == 0 || dn.minute() != 0 || dn.second() != 0 || date.millisecond() != 0 {
            base = Date::from_naive_utc(now.naive_utc().date().and_time(NaiveTime::MIN))?;
        }
        if date != base {
            let moved = date.checked_add(&iv)?;
            iv = base.diff(&moved);
        }
    }
    Ok(iv)
}

// ---------------------------------------------------------------------------
// Ranges
// ---------------------------------------------------------------------------

/// How a range spec splits.
enum RangeShape<'a> {
    /// Explicit bounds; `None` is open.
    Bounds(Option<&'a str>, Option<&'a str>),
    /// A single value to widen by its granularity.
    Whole,
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// Splits `"from A to B"`, `"A;B"` and their partial forms the way Roundup
/// does (keywords without regard to case, "from" optional).
fn range_shape(spec: &str) -> RangeShape<'_> {
    let s = spec.trim();
    if spec.contains(';') {
        // The first ';' after at least one character splits; a leading ';'
        // means there is no lower bound.
        let first = s.char_indices().nth(1).map(|(i, _)| i).unwrap_or(s.len());
        let split = s[first..].find(';').map(|i| i + first);
        return match split {
            Some(i) if !s[..i].contains('\n') => {
                RangeShape::Bounds(Some(&s[..i]), non_empty(&s[i + 1..]))
            }
            _ if s.starts_with(';') => RangeShape::Bounds(None, non_empty(&s[1..])),
            _ => RangeShape::Whole,
        };
    }
    let lower = s.to_ascii_lowercase();
    let start = if lower.starts_with("from") { 4 } else { 0 };
    let after_one = s[start..]
        .chars()
        .next()
        .map(|c| start + c.len_utf8())
        .unwrap_or(s.len());
    if let Some(i) = lower[after_one..].find("to").map(|i| i + after_one) {
        return RangeShape::Bounds(Some(&s[start..i]), non_empty(&s[i + 2..]));
    }
    if lower[start..].starts_with("to") {
        return RangeShape::Bounds(None, non_empty(&s[start + 2..]));
    }
    if start == 4 && s.len() > 4 {
        return RangeShape::Bounds(Some(&s[4..]), None);
    }
    RangeShape::Whole
}

/// A date range for searching; both bounds are inclusive and `None` is
/// open-ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub from: Option<Date>,
    pub to: Option<Date>,
}

impl Range {
    /// Reads a date range relative to the current time.  See
    /// [`Range::parse_date_range_at`].
    pub fn parse_date_range(spec: &str, tz: &Timezone) -> Result<Range, DateError> {
        Range::parse_date_range_at(spec, tz, Date::now())
    }

    /// Reads Roundup's date range forms: `"from A to B"`, `"A to B"`,
    /// `"from A"`, `"to B"`, `"A;B"`, `"A;"`, `";B"`, where each bound is
    /// any date spec (so intervals like `"-2m"` work).  A single date
    /// without a range keyword covers its whole granularity: `"2003"` is the
    /// year, `"2003-04"` the month, `"2003-04-05"` the day, `"12:00"` that
    /// minute (the upper bound is the last second).  Bare values that are
    /// not widenable (`"."`, `"-1d"`, `"04-05"`, a time with seconds) are
    /// errors, as in Roundup.
    pub fn parse_date_range_at(spec: &str, tz: &Timezone, now: Date) -> Result<Range, DateError> {
        match range_shape(spec) {
            RangeShape::Bounds(from, to) => Ok(Range {
                from: from
                    .map(|f| parse_date(f.trim(), tz, now, false))
                    .transpose()?,
                to: to
                    .map(|t| parse_date(t.trim(), tz, now, false))
                    .transpose()?,
            }),
            RangeShape::Whole => Ok(Range {
                from: Some(parse_date(spec, tz, now, false)?),
                to: Some(parse_date(spec, tz, now, true)?),
            }),
        }
    }

    /// Whether `d` lies within the bounds.
    pub fn contains(&self, d: &Date) -> bool {
        self.from.is_none_or(|f| *d >= f) && self.to.is_none_or(|t| *d <= t)
    }
}

fn show_bound<T: fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "None".to_string(), ToString::to_string)
}

impl fmt::Display for Range {
    /// `from 2003-04-01.00:00:00 to None`, as Roundup prints a range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "from {} to {}",
            show_bound(&self.from),
            show_bound(&self.to)
        )
    }
}

/// An interval range for searching Interval properties (compared by
/// [`Interval::as_seconds`]); bounds inclusive, `None` open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntervalRange {
    pub from: Option<Interval>,
    pub to: Option<Interval>,
}

impl IntervalRange {
    /// Reads an interval range relative to the current time (only matters
    /// for bounds that contain a date).
    pub fn parse(spec: &str) -> Result<IntervalRange, DateError> {
        IntervalRange::parse_at(spec, Date::now())
    }

    /// The same range forms as [`Range::parse_date_range_at`] with interval
    /// bounds.  A single interval covers one step of its finest unit, moved
    /// away from its sign: `"1d"` is `+ 1d` to `+ 2d`, `"-2w 1d"` is
    /// `- 15d` to `- 14d`.
    pub fn parse_at(spec: &str, now: Date) -> Result<IntervalRange, DateError> {
        match range_shape(spec) {
            RangeShape::Bounds(from, to) => Ok(IntervalRange {
                from: from
                    .map(|f| parse_interval(f.trim(), true, false, now))
                    .transpose()?,
                to: to
                    .map(|t| parse_interval(t.trim(), true, false, now))
                    .transpose()?,
            }),
            RangeShape::Whole => Ok(IntervalRange {
                from: Some(parse_interval(spec, true, false, now)?),
                to: Some(parse_interval(spec, true, true, now)?),
            }),
        }
    }

    /// Whether `iv` lies within the bounds.
    pub fn contains(&self, iv: &Interval) -> bool {
        self.from.is_none_or(|f| *iv >= f) && self.to.is_none_or(|t| *iv <= t)
    }
}

impl fmt::Display for IntervalRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "from {} to {}",
            show_bound(&self.from),
            show_bound(&self.to)
        )
    }
}

// ---------------------------------------------------------------------------
// strftime
// ---------------------------------------------------------------------------

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// C-locale strftime of a naive date and time, as Python's
/// `datetime.strftime` produces on glibc for a datetime without zone:
/// `%Z`/`%z` are empty, `%f` gives microseconds, the glibc flags `-`, `_`,
/// `0` and `^` are honoured, and unknown directives are copied as they are.
fn strftime(n: &NaiveDateTime, fmt: &str) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut flag = None;
        if let Some(&f @ ('-' | '_' | '0' | '^' | '#')) = chars.peek() {
            flag = Some(f);
            chars.next();
        }
        let Some(d) = chars.next() else {
            out.push('%');
            if let Some(f) = flag {
                out.push(f);
            }
            break;
        };
        let num = |v: i64, width: usize, pad: char| -> String {
            match flag {
                Some('-') => v.to_string(),
                Some('_') => format!("{v:>width$}"),
                Some('0') => format!("{v:0>width$}"),
                _ if pad == ' ' => format!("{v:>width$}"),
                _ => format!("{v:0>width$}"),
            }
        };
        let text = |t: String| -> String {
            if flag == Some('^') {
                t.to_uppercase()
            } else {
                t
            }
        };
        let wd = n.weekday().num_days_from_monday() as usize;
        let mo = n.month0() as usize;
        let hour12 = match n.hour() % 12 {
            0 => 12,
            h => h,
        };
        let ampm = if n.hour() < 12 { "AM" } else { "PM" };
        let piece = match d {
            'a' => text(WEEKDAYS[wd][..3].to_string()),
            'A' => text(WEEKDAYS[wd].to_string()),
            'b' | 'h' => text(MONTHS[mo][..3].to_string()),
            'B' => text(MONTHS[mo].to_string()),
            'c' => format!(
                "{} {} {:>2} {:02}:{:02}:{:02} {}",
                &WEEKDAYS[wd][..3],
                &MONTHS[mo][..3],
                n.day(),
                n.hour(),
                n.minute(),
                n.second(),
                n.year()
            ),
            'C' => num(i64::from(n.year()) / 100, 2, '0'),
            'd' => num(i64::from(n.day()), 2, '0'),
            'D' | 'x' => format!(
                "{:02}/{:02}/{:02}",
                n.month(),
                n.day(),
                n.year().rem_euclid(100)
            ),
            'e' => num(i64::from(n.day()), 2, ' '),
            'f' => format!("{:06}", n.nanosecond() / 1000),
            'F' => format!("{}-{:02}-{:02}", n.year(), n.month(), n.day()),
            'g' => num(i64::from(n.iso_week().year()).rem_euclid(100), 2, '0'),
            'G' => n.iso_week().year().to_string(),
            'H' => num(i64::from(n.hour()), 2, '0'),
            'I' => num(i64::from(hour12), 2, '0'),
            'j' => num(i64::from(n.ordinal()), 3, '0'),
            'k' => num(i64::from(n.hour()), 2, ' '),
            'l' => num(i64::from(hour12), 2, ' '),
            'm' => num(i64::from(n.month()), 2, '0'),
            'M' => num(i64::from(n.minute()), 2, '0'),
            'n' => "\n".to_string(),
            'p' => text(ampm.to_string()),
            'P' => ampm.to_lowercase(),
            'r' => format!("{:02}:{:02}:{:02} {}", hour12, n.minute(), n.second(), ampm),
            'R' => format!("{:02}:{:02}", n.hour(), n.minute()),
            's' => n.and_utc().timestamp().to_string(),
            'S' => num(i64::from(n.second()), 2, '0'),
            't' => "\t".to_string(),
            'T' | 'X' => format!("{:02}:{:02}:{:02}", n.hour(), n.minute(), n.second()),
            'u' => (wd + 1).to_string(),
            'U' => {
                let sunday_based = n.weekday().num_days_from_sunday() as i64;
                num((i64::from(n.ordinal0()) + 7 - sunday_based) / 7, 2, '0')
            }
            'V' => num(i64::from(n.iso_week().week()), 2, '0'),
            'w' => n.weekday().num_days_from_sunday().to_string(),
            'W' => num((i64::from(n.ordinal0()) + 7 - wd as i64) / 7, 2, '0'),
            'y' => num(i64::from(n.year()).rem_euclid(100), 2, '0'),
            'Y' => n.year().to_string(),
            'z' | 'Z' => String::new(),
            '%' => "%".to_string(),
            other => {
                let mut s = String::from('%');
                if let Some(f) = flag {
                    s.push(f);
                }
                s.push(other);
                s
            }
        };
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The short cut for the stored form answers exactly what the general
    /// parser does: every second and millisecond of a minute, and dates
    /// across the calendar (leap days, the ends of the range, invalid days
    /// that both refuse).
    #[test]
    fn stored_form_short_cut_agrees_with_the_general_parser() {
        let check = |s: &str| {
            let fast = serialised_exact(s);
            let general = Date::from_serialised_general(s).ok();
            match fast {
                Some(d) => assert_eq!(Some(d), general, "{s}"),
                // Left to the general parser: what it refuses too, and
                // the second 60 it reads as the next minute's first.
                None => assert!(general.is_none() || &s[12..14] == "60", "{s}"),
            }
        };
        for sec in 0..=60 {
            for ms in 0..1000 {
                check(&format!("2026120705{:02}{sec:02}.{ms:03}", sec % 60));
            }
        }
        for day in [
            "00010101", "99991231", "20240229", "20230229", "20001231", "19700101", "20261300",
            "20260431", "00000101", "21000229",
        ] {
            for time in [
                "000000.000",
                "235959.999",
                "120000.500",
                "246000.000",
                "236000.000",
            ] {
                check(&format!("{day}{time}"));
            }
        }
        assert!(serialised_exact("20261207054900.58").is_none());
        assert!(serialised_exact("2026120705490a.583").is_none());
        assert_eq!(
            serialised_exact("20261207054900.583").map(|d| d.serialise()),
            Some("20261207054900.583".to_string())
        );
    }

    fn at(spec: &str) -> Date {
        match Date::from_serialised(spec) {
            Ok(d) => d,
            Err(e) => panic!("bad test fixture {spec}: {e}"),
        }
    }

    #[test]
    fn date_grammar_prefers_zone_over_offset() {
        let p = match_date_spec("2000-04-17-0500");
        assert!(matches!(
            p,
            Some(DateSpecParts {
                zone: Some("-0500"),
                ..
            })
        ));
        let p = match_date_spec("2003-04-05 -05001");
        assert!(matches!(
            p,
            Some(DateSpecParts {
                offset: Some(" -05001"),
                ..
            })
        ));
        assert!(match_date_spec("2003-04-05 12:00").is_none());
    }

    #[test]
    fn interval_grammar_reads_prefix_only() {
        let p = match_interval_spec(" - 2w 3d 4:05:06 trailing");
        assert_eq!(p.sign, Some(b'-'));
        assert_eq!(p.weeks, Some("2"));
        assert_eq!(p.days, Some("3"));
        assert_eq!(p.seconds, Some("06"));
        assert_eq!(interval_date_at("2003-03-18 x", 0), Some("2003-03-18"));
        assert_eq!(interval_date_at("2003-5", 0), None);
    }

    #[test]
    fn range_shapes() {
        assert!(matches!(
            range_shape("from 2-12 to 4-2"),
            RangeShape::Bounds(Some(" 2-12 "), Some(" 4-2"))
        ));
        assert!(matches!(
            range_shape("tO +3d"),
            RangeShape::Bounds(None, Some(" +3d"))
        ));
        assert!(matches!(
            range_shape(";x"),
            RangeShape::Bounds(None, Some("x"))
        ));
        assert!(matches!(
            range_shape("x;"),
            RangeShape::Bounds(Some("x"), None)
        ));
        assert!(matches!(range_shape("2003"), RangeShape::Whole));
        assert!(matches!(
            range_shape("from 2003"),
            RangeShape::Bounds(Some(" 2003"), None)
        ));
    }

    #[test]
    fn strftime_directives() {
        let d = at("20030405133456.250").naive_utc();
        assert_eq!(
            strftime(&d, "%a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %%"),
            "Sat Saturday Apr April 05  5 13 01 095 04 34 PM 56 03 2003 %"
        );
        assert_eq!(strftime(&d, "%-d/%-m %f %Q %Z|%z"), "5/4 250000 %Q |");
        assert_eq!(strftime(&d, "%c"), "Sat Apr  5 13:34:56 2003");
        assert_eq!(strftime(&d, "trailing %"), "trailing %");
    }

    #[test]
    fn serialise_pads_every_field() {
        for (fields, want) in [
            ((2026, 11, 21, 12, 21, 48, 898), "20261121122148.898"),
            ((5, 1, 2, 3, 4, 5, 7), "00050102030405.007"),
            ((1999, 12, 31, 23, 59, 59, 0), "19991231235959.000"),
            ((9999, 10, 1, 0, 0, 0, 90), "99991001000000.090"),
        ] {
            let (y, mo, d, h, mi, s, ms) = fields;
            let date = Date::from_utc_fields(y, mo, d, h, mi, s, ms).unwrap();
            assert_eq!(date.serialise(), want);
            assert_eq!(Date::from_serialised(want).unwrap(), date);
        }
    }

    #[test]
    fn millisecond_rounding_matches_storage_format() {
        assert_eq!(micros_to_ms(56, 250_000), 250);
        assert_eq!(micros_to_ms(56, 122_999), 123);
        assert_eq!(micros_to_ms(56, 999_600), 1000);
        assert_eq!(split_seconds("05.123456789"), (5, 123_456));
    }
}
