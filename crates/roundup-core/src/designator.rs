//! Designators: an item named by its class and id, `issue12`.
//!
//! Roundup's rule (hyperdb's `splitDesignator`): the class name starts
//! with a letter, may contain letters, digits and underscores, and does not
//! end in a digit; the id is the digits after it. So a class name may hold
//! digits (`test2class5` is item `5` of class `test2class`), and the id is
//! always the whole run of trailing digits.
//!
//! Every front end splits designators here: the web UI (URLs and form
//! variables), XML-RPC, `roundup-admin` and, later, the mail gateway.

use crate::schema::Schema;
use crate::Error;

/// A string that is not a designator. Displays as Roundup words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesignatorError(pub String);

impl std::fmt::Display for DesignatorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\" not a node designator", self.0)
    }
}

impl std::error::Error for DesignatorError {}

impl From<DesignatorError> for Error {
    fn from(e: DesignatorError) -> Error {
        Error::Value(e.to_string())
    }
}

/// Whether `name` has the form of a class name in a designator.
fn is_class_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.ends_with(|c: char| c.is_ascii_digit())
}

/// Split `issue12` into `("issue", "12")` by Roundup's rule. The id is
/// returned as written (leading zeros kept).
pub fn split(designator: &str) -> Result<(&str, &str), DesignatorError> {
    let class = designator.trim_end_matches(|c: char| c.is_ascii_digit());
    let id = &designator[class.len()..];
    if id.is_empty() || !is_class_name(class) {
        return Err(DesignatorError(designator.to_string()));
    }
    Ok((class, id))
}

/// As [`split`], with the id normalised the way the web UI reads URLs
/// (`issue007` is `issue7`; an id of only zeros stays `0`).
pub fn split_normalised(designator: &str) -> Result<(&str, String), DesignatorError> {
    let (class, id) = split(designator)?;
    let trimmed = id.trim_start_matches('0');
    Ok((
        class,
        if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        },
    ))
}

/// As [`split`], and the class must exist in the schema.
pub fn split_known<'a>(schema: &Schema, designator: &'a str) -> Result<(&'a str, &'a str), Error> {
    let (class, id) = split(designator)?;
    schema.class(class)?;
    Ok((class, id))
}

/// A designator at the start of `text` as web forms write them: one of
/// `classes` followed by an id that may name a new item (`msg-1`), then
/// whatever follows (`@title`). The longest class name that fits wins,
/// so `test2class5` is found even when `test` is a class too.
/// Returns (class, id, rest).
pub fn split_form_prefix<'a>(
    text: &'a str,
    classes: &[&str],
) -> Option<(&'a str, &'a str, &'a str)> {
    let mut best: Option<(&str, &str, &str)> = None;
    for cn in classes {
        let Some(after) = text.strip_prefix(cn) else {
            continue;
        };
        let digits_from = usize::from(after.starts_with('-'));
        let n = after[digits_from..]
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        if n == 0 {
            continue;
        }
        let end = digits_from + n;
        let found = (&text[..cn.len()], &after[..end], &after[end..]);
        if best.is_none_or(|(c, _, _)| c.len() < cn.len()) {
            best = Some(found);
        }
    }
    best
}

/// A whole form designator (`msg-1`, `issue23`) naming one of `classes`.
pub fn split_form<'a>(text: &'a str, classes: &[&str]) -> Option<(&'a str, &'a str)> {
    match split_form_prefix(text, classes) {
        Some((class, id, "")) => Some((class, id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundup_rule() {
        assert_eq!(split("issue12"), Ok(("issue", "12")));
        assert_eq!(split("a_b2c3"), Ok(("a_b2c", "3")));
        assert_eq!(split("test2class5"), Ok(("test2class", "5")));
        assert_eq!(split("x1"), Ok(("x", "1")));
        assert_eq!(split("issue007"), Ok(("issue", "007")));
        for bad in [
            "xyz", "12", "_a1", "is-sue1", "", "issue-1", "2x1", "issue 1",
        ] {
            assert_eq!(
                split(bad).unwrap_err().to_string(),
                format!("\"{bad}\" not a node designator"),
                "{bad}"
            );
        }
    }

    #[test]
    fn normalised_ids() {
        assert_eq!(split_normalised("issue007"), Ok(("issue", "7".to_string())));
        assert_eq!(split_normalised("issue0"), Ok(("issue", "0".to_string())));
        assert!(split_normalised("issue").is_err());
    }

    #[test]
    fn form_designators() {
        let classes = ["test", "test2class", "msg", "issue"];
        assert_eq!(split_form("msg-1", &classes), Some(("msg", "-1")));
        assert_eq!(split_form("issue23", &classes), Some(("issue", "23")));
        assert_eq!(
            split_form("test2class5", &classes),
            Some(("test2class", "5"))
        );
        assert_eq!(split_form("test7", &classes), Some(("test", "7")));
        assert_eq!(split_form("issue", &classes), None);
        assert_eq!(split_form("issue-", &classes), None);
        assert_eq!(split_form("nosuch1", &classes), None);
        assert_eq!(split_form("issue1x", &classes), None);
        assert_eq!(
            split_form_prefix("test2class-3@title", &classes),
            Some(("test2class", "-3", "@title"))
        );
        assert_eq!(
            split_form_prefix("issue1@link@messages", &classes),
            Some(("issue", "1", "@link@messages"))
        );
    }
}
