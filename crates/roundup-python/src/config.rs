//! The read-only view of the tracker configuration that scripts see as
//! `db.config`.

use std::collections::BTreeMap;

/// Tracker settings as text, under the names Roundup gives them.
///
/// Each option is reachable by its upper-case name (`OPTION` for `[main]`,
/// `SECTION_OPTION` for the other sections, e.g. `TRACKER_NAME`,
/// `MAIL_DOMAIN`) and by section and option. Options of the detectors'
/// own `config.ini` (and of `extensions/config.ini`) are kept apart, named
/// the same way, as Roundup's `db.config.detectors` (`db.config.ext`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigView {
    names: BTreeMap<String, String>,
    sections: BTreeMap<String, BTreeMap<String, String>>,
    detectors: BTreeMap<String, String>,
    extensions: BTreeMap<String, String>,
    /// How Roundup types an option's value for Python, by upper-case name
    /// (see [`ValueKind`]); options not here are text.
    kinds: BTreeMap<String, ValueKind>,
}

/// The Python type Roundup's `db.config.<NAME>` has for an option kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// `str`.
    Text,
    /// `1` or `0` (Roundup's BooleanOption).
    Boolean,
    Integer,
    /// An integer written in octal (`umask`).
    Octal,
    Float,
    /// `None` when empty, else `str`.
    Nullable,
    /// A path joined to the tracker home.
    Path,
    /// `None` when empty, else a path joined to the tracker home.
    NullablePath,
    /// `None` when empty, else a list of paths (space separated).
    MultiPath,
    /// A list split at commas.
    CommaList,
    /// A list split at commas, each item's leading blanks dropped.
    SecretList,
    /// A list split at whitespace.
    SpaceList,
    /// A compiled regular expression.
    RegExp,
    /// Not set and without default: reading it raises OptionUnsetError.
    Unset,
}

impl ValueKind {
    /// The one-letter code the Python side converts by.
    pub fn code(self) -> &'static str {
        match self {
            ValueKind::Text => "s",
            ValueKind::Boolean => "b",
            ValueKind::Integer => "i",
            ValueKind::Octal => "o",
            ValueKind::Float => "f",
            ValueKind::Nullable => "n",
            ValueKind::Path => "p",
            ValueKind::NullablePath => "q",
            ValueKind::MultiPath => "m",
            ValueKind::CommaList => "c",
            ValueKind::SecretList => "l",
            ValueKind::SpaceList => "w",
            ValueKind::RegExp => "r",
            ValueKind::Unset => "u",
        }
    }
}

/// Roundup's upper-case option name.
fn upper_name(section: &str, option: &str) -> String {
    let section = section.trim().to_lowercase();
    if section == "main" {
        option.trim().to_uppercase()
    } else {
        format!(
            "{}_{}",
            section.to_uppercase(),
            option.trim().to_uppercase()
        )
    }
}

impl ConfigView {
    pub fn new() -> ConfigView {
        ConfigView::default()
    }

    /// Set an option of the tracker's `config.ini`.
    pub fn set(&mut self, section: &str, option: &str, value: &str) {
        self.names
            .insert(upper_name(section, option), value.to_string());
        self.sections
            .entry(section.trim().to_lowercase())
            .or_default()
            .insert(option.trim().to_lowercase(), value.to_string());
    }

    /// Make an option reachable under an extra upper-case name too (Roundup's
    /// aliases, e.g. `ADD_AUTHOR_TO_NOSY` for `[nosy] add_author`).
    pub fn set_alias(&mut self, name: &str, value: &str) {
        self.names
            .insert(name.trim().to_uppercase(), value.to_string());
    }

    /// Say how the option of that upper-case name is typed for Python.
    pub fn set_kind(&mut self, name: &str, kind: ValueKind) {
        if kind != ValueKind::Text {
            self.kinds.insert(name.trim().to_uppercase(), kind);
        }
    }

    /// How the option of that upper-case name is typed for Python.
    pub fn kind(&self, name: &str) -> ValueKind {
        self.kinds
            .get(&name.to_uppercase())
            .copied()
            .unwrap_or(ValueKind::Text)
    }

    /// Set an option of `detectors/config.ini`.
    pub fn set_detector_option(&mut self, section: &str, option: &str, value: &str) {
        self.detectors
            .insert(upper_name(section, option), value.to_string());
    }

    /// Set an option of `extensions/config.ini`.
    pub fn set_extension_option(&mut self, section: &str, option: &str, value: &str) {
        self.extensions
            .insert(upper_name(section, option), value.to_string());
    }

    /// An option by its upper-case name (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.names.get(&name.to_uppercase()).map(String::as_str)
    }

    /// An option by section and option name.
    pub fn get_in(&self, section: &str, option: &str) -> Option<&str> {
        self.sections
            .get(&section.to_lowercase())
            .and_then(|s| s.get(&option.to_lowercase()))
            .map(String::as_str)
    }

    /// The options of one section (lower-case option names).
    pub fn section(&self, section: &str) -> Option<&BTreeMap<String, String>> {
        self.sections.get(&section.to_lowercase())
    }

    /// A detector option by its upper-case name.
    pub fn detector_option(&self, name: &str) -> Option<&str> {
        self.detectors.get(&name.to_uppercase()).map(String::as_str)
    }

    pub fn detector_options(&self) -> &BTreeMap<String, String> {
        &self.detectors
    }

    pub fn extension_options(&self) -> &BTreeMap<String, String> {
        &self.extensions
    }

    /// Every option as (upper-case name, value).
    pub fn options(&self) -> &BTreeMap<String, String> {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_roundup() {
        let mut c = ConfigView::new();
        c.set("tracker", "name", "Demo");
        c.set("main", "database", "db");
        c.set("mail", "domain", "example.com");
        c.set_detector_option("statusauditor", "chatting_requires_two_users", "yes");
        assert_eq!(c.get("TRACKER_NAME"), Some("Demo"));
        assert_eq!(c.get("database"), Some("db"));
        assert_eq!(c.get("MAIL_DOMAIN"), Some("example.com"));
        assert_eq!(c.get_in("Mail", "DOMAIN"), Some("example.com"));
        assert_eq!(
            c.detector_option("STATUSAUDITOR_CHATTING_REQUIRES_TWO_USERS"),
            Some("yes")
        );
        assert_eq!(c.get("MAIL_NOPE"), None);
    }
}
