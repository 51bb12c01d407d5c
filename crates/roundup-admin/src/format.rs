//! Text forms that scripts parse: Python's `str()` and `repr()` of the
//! values Roundup's admin tool prints, and `textwrap.fill` for template
//! descriptions.

use roundup_core::date::Date;
use roundup_core::pyrepr::{repr, PyValue};
use roundup_core::storage::JournalEntry;
use roundup_core::Value;

/// `str(value)` of a property value as Roundup prints it (`None` when unset).
pub fn value_str(v: &Option<Value>) -> String {
    match v {
        None => "None".to_string(),
        Some(v) => v.to_string(),
    }
}

/// Python's `repr()` of a string.
pub fn str_repr(s: &str) -> String {
    repr(&PyValue::Str(s.to_string()))
}

/// Python's `repr()` of a list of strings: `['1', '2']`.
pub fn list_repr(items: &[String]) -> String {
    repr(&PyValue::List(
        items.iter().map(|s| PyValue::Str(s.clone())).collect(),
    ))
}

/// Python's `repr()` of a tuple of strings: `('a', 'b')`, `('a',)`.
pub fn tuple_repr(items: &[String]) -> String {
    repr(&PyValue::Tuple(
        items.iter().map(|s| PyValue::Str(s.clone())).collect(),
    ))
}

/// Digits of a serialised date (`YYYYmmddHHMMSS.fff`) as its parts.
fn date_parts(d: &Date) -> Option<(String, String)> {
    let s = d.serialise();
    if s.len() < 14 || !s.is_char_boundary(14) || !s[..14].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day = format!(
        "{}-{}-{}.{}:{}",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[8..10],
        &s[10..12]
    );
    Some((day, s[12..].to_string()))
}

/// `str(date)`: `2026-11-21.11:59:32`.
pub fn date_str(d: &Date) -> String {
    match date_parts(d) {
        Some((day, secs)) => format!("{day}:{}", &secs[..2.min(secs.len())]),
        None => d.to_string(),
    }
}

/// `repr(date)`: `<Date 2026-11-21.11:59:32.621>`.
pub fn date_repr(d: &Date) -> String {
    match date_parts(d) {
        Some((day, secs)) => {
            let (whole, frac) = secs.split_once('.').unwrap_or((secs.as_str(), ""));
            let mut frac = frac.to_string();
            frac.truncate(3);
            while frac.len() < 3 {
                frac.push('0');
            }
            format!("<Date {day}:{whole}.{frac}>")
        }
        None => format!("<Date {d}>"),
    }
}

/// The `raw` form of `history`: Python's repr of the journal list.
pub fn journal_repr(entries: &[JournalEntry]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "({}, {}, {}, {}, {})",
                str_repr(&e.nodeid),
                date_repr(&e.date),
                str_repr(&e.tag),
                str_repr(&e.action),
                repr(&e.params)
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

/// Python's `str.capitalize()`: first character upper case, the rest lower.
pub fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// Left-justify to `width` characters (never truncates).
pub fn ljust(s: &str, width: usize) -> String {
    let n = s.chars().count();
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
    out
}

/// The first `width` characters.
pub fn truncate_chars(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

/// `textwrap.fill(text, width, subsequent_indent=indent)` with Python's
/// defaults: whitespace characters become spaces, runs of spaces inside a
/// line are kept, spaces at line breaks are dropped, over-long words are
/// broken.
pub fn fill(text: &str, width: usize, indent: &str) -> String {
    let text: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    // Alternating runs of spaces and of other characters.
    let mut chunks: Vec<String> = Vec::new();
    for c in text.chars() {
        let space = c == ' ';
        match chunks.last_mut() {
            Some(last) if last.starts_with(' ') == space => last.push(c),
            _ => chunks.push(c.to_string()),
        }
    }
    chunks.reverse();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let prefix = if lines.is_empty() { "" } else { indent };
        let avail = width.saturating_sub(prefix.chars().count()).max(1);
        let mut line: Vec<String> = Vec::new();
        let mut len = 0;
        if !lines.is_empty() && chunks.last().is_some_and(|c| c.starts_with(' ')) {
            chunks.pop();
        }
        while let Some(chunk) = chunks.last() {
            let l = chunk.chars().count();
            if len + l <= avail {
                len += l;
                line.push(chunks.pop().unwrap_or_default());
            } else {
                break;
            }
        }
        if let Some(chunk) = chunks.last() {
            if chunk.chars().count() > avail && line.is_empty() {
                let chunk = chunks.pop().unwrap_or_default();
                let head: String = chunk.chars().take(avail).collect();
                let tail: String = chunk.chars().skip(avail).collect();
                line.push(head);
                chunks.push(tail);
            }
        }
        if line.last().is_some_and(|c| c.starts_with(' ')) {
            line.pop();
        }
        if line.is_empty() && chunks.iter().all(|c| c.starts_with(' ')) {
            break;
        }
        lines.push(format!("{prefix}{}", line.concat()));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_keeps_inner_double_spaces_and_indents() {
        let text = "This is a generic issue tracker based on classic schema. It uses Jinja2 for templating and Twitter bootstrap for responsive markup.  You will need jinja and gettext for this to work.";
        let out = fill(text, 70, "      ");
        assert_eq!(
            out,
            "This is a generic issue tracker based on classic schema. It uses\n      Jinja2 for templating and Twitter bootstrap for responsive\n      markup.  You will need jinja and gettext for this to work."
        );
    }

    #[test]
    fn capitalize_and_ljust() {
        assert_eq!(capitalize("assignedTo"), "Assignedto");
        assert_eq!(ljust("ab", 4), "ab  ");
        assert_eq!(ljust("abcdef", 4), "abcdef");
        assert_eq!(truncate_chars("abcdef", 4), "abcd");
    }
}
