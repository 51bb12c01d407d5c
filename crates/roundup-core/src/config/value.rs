//! Checking and normalising option values the way Roundup's option types
//! accept them (Python `int()`, booleans, octal numbers, time zones, ...).

use std::str::FromStr;

use super::options::{OptionDef, OptionKind};

/// Parses an integer the way Python's `int(text, radix)` does: surrounding
/// white space, an optional sign, digits with single underscores between
/// them, and for radix 8 an optional `0o` prefix.
pub fn parse_python_int(text: &str, radix: u32) -> Result<i64, String> {
    let what = if radix == 8 {
        "not an octal number"
    } else {
        "not an integer"
    };
    let t = text.trim();
    let (negative, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let rest = if radix == 8 {
        rest.strip_prefix("0o")
            .or_else(|| rest.strip_prefix("0O"))
            .map_or(rest, |r| {
                // Python allows an underscore right after the prefix.
                r.strip_prefix('_').unwrap_or(r)
            })
    } else {
        rest
    };
    if rest.is_empty() || rest.starts_with('_') || rest.ends_with('_') || rest.contains("__") {
        return Err(what.to_string());
    }
    let digits: String = rest.chars().filter(|c| *c != '_').collect();
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(what.to_string());
    }
    let magnitude = i128::from_str_radix(&digits, radix).map_err(|_| format!("{what} in range"))?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).map_err(|_| "integer out of range".to_string())
}

/// Parses a float the way Python's `float()` accepts it.
pub fn parse_python_float(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let bad = || "not a floating point number".to_string();
    if t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return Err(bad());
    }
    let cleaned: String = t.chars().filter(|c| *c != '_').collect();
    f64::from_str(&cleaned).map_err(|_| bad())
}

/// Roundup's boolean words: yes/true/on/1 and no/false/off/0, any case.
pub fn parse_bool(text: &str) -> Result<bool, String> {
    match text.to_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        _ => Err("not a boolean; use yes or no".to_string()),
    }
}

/// Whether Roundup (with a time zone database available) accepts `text` as
/// a time zone: a whole number of hours, or a zone name in any letter case.
pub fn is_valid_timezone(text: &str) -> bool {
    if parse_python_int(text, 10).is_ok() {
        return true;
    }
    if chrono_tz::Tz::from_str(text).is_ok() {
        return true;
    }
    let lower = text.to_lowercase();
    chrono_tz::TZ_VARIANTS
        .iter()
        .any(|tz| tz.name().to_lowercase() == lower)
}

/// A rough syntax check of a Python regular expression: balanced groups,
/// closed character sets, no dangling backslash, no unknown letter escape
/// and no repeat with nothing before it.
pub fn check_python_regex(pattern: &str) -> Result<(), String> {
    const ESCAPES: &str = "abBdDfnrsStvwWZAuUxN";
    let chars: Vec<char> = pattern.chars().collect();
    let mut depth = 0usize;
    let mut i = 0usize;
    // true when the next token could not be repeated (start, after '(' or '|')
    let mut at_start = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err("ends with a lone backslash".to_string());
                };
                if next.is_ascii_alphabetic() && !ESCAPES.contains(next) {
                    return Err(format!("bad escape \\{next} at position {i}"));
                }
                i += 2;
                at_start = false;
                continue;
            }
            '[' => {
                let start = i;
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!("unterminated character set at position {start}"))
                        }
                        Some('\\') => i += 2,
                        Some(']') => break,
                        Some(_) => i += 1,
                    }
                }
                at_start = false;
            }
            '(' => {
                depth += 1;
                at_start = true;
                if chars.get(i + 1) == Some(&'?') {
                    i += 1;
                }
            }
            ')' => {
                if depth == 0 {
                    return Err(format!("unbalanced parenthesis at position {i}"));
                }
                depth -= 1;
                at_start = false;
            }
            '|' => at_start = true,
            '*' | '+' | '?' => {
                if at_start {
                    return Err(format!("nothing to repeat at position {i}"));
                }
            }
            _ => at_start = false,
        }
        i += 1;
    }
    if depth > 0 {
        return Err("missing ), unterminated subpattern".to_string());
    }
    Ok(())
}

fn choice(text: &str, allowed: &[&str]) -> Result<String, String> {
    let lower = text.to_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        let shown: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
        Err(format!("must be one of {}", shown.join(", ")))
    }
}

fn octal_text(v: i64) -> String {
    if v < 0 {
        format!("-0o{:o}", v.unsigned_abs())
    } else {
        format!("0o{v:o}")
    }
}

/// Checks `text` as a value for the option `def` and returns the form in
/// which it is kept (and written back): booleans become yes/no, integers
/// lose white space and underscores, choices are lower-cased, and so on.
/// The error is the reason the value is refused.
pub fn normalize(def: &OptionDef, text: &str) -> Result<String, String> {
    use OptionKind::*;
    match def.kind {
        Text | FilePath | NullableFilePath | MultiFilePath | Nullable | WordList | MailAddress
        | SecretNullable | ListSecret | SessiondbBackend => Ok(text.to_string()),
        Mandatory | SecretMandatory => {
            if text.is_empty() {
                Err("must not be empty".to_string())
            } else {
                Ok(text.to_string())
            }
        }
        Boolean => parse_bool(text).map(|b| if b { "yes" } else { "no" }.to_string()),
        ByteSize => super::options::parse_byte_size(text).map(|_| text.trim().to_string()),
        Integer => parse_python_int(text, 10).map(|v| v.to_string()),
        IntegerGeqZero => match parse_python_int(text, 10)? {
            v if v < 0 => Err("must be an integer of 0 or more".to_string()),
            v => Ok(v.to_string()),
        },
        IntegerGtZero => match parse_python_int(text, 10)? {
            v if v < 1 => Err("must be an integer of 1 or more".to_string()),
            v => Ok(v.to_string()),
        },
        Float => {
            let v = parse_python_float(text)?;
            let s = format!("{v:?}");
            Ok(s.strip_suffix(".0")
                .map_or_else(|| s.clone(), str::to_string))
        }
        Octal => parse_python_int(text, 8).map(octal_text),
        RegExp => {
            check_python_regex(text).map_err(|e| format!("not a valid regular expression: {e}"))?;
            Ok(text.to_string())
        }
        Timezone => {
            if is_valid_timezone(text) {
                Ok(text.to_string())
            } else {
                Err("not a known time zone name or whole number of hours from UTC".to_string())
            }
        }
        WebUrl => {
            if text.is_empty() {
                return Err("must not be empty".to_string());
            }
            let mut problems = Vec::new();
            if !(text.starts_with("http://") || text.starts_with("https://")) {
                problems.push("must start with http:// or https://");
            }
            if !text.ends_with('/') {
                problems.push("must end with '/'");
            }
            if problems.is_empty() {
                Ok(text.to_string())
            } else {
                Err(problems.join(" and "))
            }
        }
        RedisUrl => {
            if text.contains("decode_responses") {
                Err("the URL must not contain decode_responses".to_string())
            } else {
                Ok(text.to_string())
            }
        }
        Choice(allowed) => choice(text, allowed),
        CapitalizedChoice(allowed) => choice(text, allowed).map(|lower| {
            let mut cs = lower.chars();
            match cs.next() {
                Some(first) => first.to_uppercase().chain(cs).collect(),
                None => String::new(),
            }
        }),
        LoggingFormat => check_logging_format(text),
        OriginList => {
            let items: Vec<&str> = text.split_whitespace().collect();
            if items.contains(&"*") && items.first() != Some(&"*") {
                Err("'*' may only be the first entry".to_string())
            } else {
                Ok(text.to_string())
            }
        }
    }
}

/// A logging format may reach us with `%%(` still doubled (when set from
/// code rather than read from the file); undo that, then check that every
/// `%(name)` placeholder is followed by a conversion character.
fn check_logging_format(text: &str) -> Result<String, String> {
    let unquoted = text.replace("%%(", "%(");
    let mut leftover = String::new();
    let mut rest = unquoted.as_str();
    while let Some(pos) = rest.find("%(") {
        leftover.push_str(&rest[..pos]);
        let after = &rest[pos + 2..];
        let name_len = after
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '_')
            .count();
        let tail = &after[name_len..];
        let mut tail_chars = tail.chars();
        match (name_len > 0, tail_chars.next(), tail_chars.next()) {
            (true, Some(')'), Some(conv)) if !conv.is_whitespace() => {
                rest = &tail[1 + conv.len_utf8()..];
            }
            _ => {
                return Err(format!(
                    "each %(name) placeholder needs a conversion character such as 's' right \
                     after ')'; problem at: {}",
                    &rest[pos..]
                ))
            }
        }
    }
    Ok(unquoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_ints() {
        assert_eq!(parse_python_int(" 42 ", 10), Ok(42));
        assert_eq!(parse_python_int("+1_000", 10), Ok(1000));
        assert_eq!(parse_python_int("-7", 10), Ok(-7));
        assert_eq!(parse_python_int("010", 10), Ok(10));
        assert!(parse_python_int("1__0", 10).is_err());
        assert!(parse_python_int("_1", 10).is_err());
        assert!(parse_python_int("1.5", 10).is_err());
        assert!(parse_python_int("", 10).is_err());
        assert_eq!(parse_python_int("0o002", 8), Ok(2));
        assert_eq!(parse_python_int("022", 8), Ok(18));
        assert!(parse_python_int("8", 8).is_err());
        assert!(parse_python_int("99999999999999999999", 10).is_err());
    }

    #[test]
    fn regex_checks() {
        assert!(check_python_regex(r"(\s*\W?\s*(fw|fwd|re|aw|sv|ang)\W)+").is_ok());
        assert!(check_python_regex(r"^[>|\s]*-----\s?Original Message\s?-----$").is_ok());
        assert!(check_python_regex(r"[]a]").is_ok());
        assert!(check_python_regex(r"(?i)abc").is_ok());
        assert!(check_python_regex("(abc").is_err());
        assert!(check_python_regex("abc)").is_err());
        assert!(check_python_regex("[abc").is_err());
        assert!(check_python_regex("*a").is_err());
        assert!(check_python_regex(r"a\q").is_err());
        assert!(check_python_regex("a\\").is_err());
    }

    #[test]
    fn logging_formats() {
        assert_eq!(
            check_logging_format("%%(asctime)s x").as_deref(),
            Ok("%(asctime)s x")
        );
        assert!(check_logging_format("%(levelname) %(message)s").is_err());
        assert!(check_logging_format("%(").is_err());
        assert!(check_logging_format("100% %(message)s").is_ok());
    }

    #[test]
    fn timezones() {
        assert!(is_valid_timezone("UTC"));
        assert!(is_valid_timezone("europe/warsaw"));
        assert!(is_valid_timezone("-5"));
        assert!(is_valid_timezone("EST"));
        assert!(!is_valid_timezone("Mars/Olympus"));
    }
}
