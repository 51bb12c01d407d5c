//! Pragmas: the tool's own settings, set with `-P name=value` (and, in the
//! shell, the `pragma` command). Names, types and accepted values are
//! Roundup 2.6's.

/// Which items list-like commands show (`show_retired`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowRetired {
    No,
    Only,
    Both,
}

impl ShowRetired {
    /// As a retired filter: `Some(false)` active only, `Some(true)`
    /// retired only, `None` both.
    pub fn filter(self) -> Option<bool> {
        match self {
            ShowRetired::No => Some(false),
            ShowRetired::Only => Some(true),
            ShowRetired::Both => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            ShowRetired::No => "no",
            ShowRetired::Only => "only",
            ShowRetired::Both => "both",
        }
    }
}

/// All pragmas with their current values.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub display_header: bool,
    pub display_protected: bool,
    pub indexer_backend: String,
    pub history_features: i64,
    pub history_length: i64,
    pub reopen_tracker: bool,
    pub savepoint_limit: i64,
    pub show_retired: ShowRetired,
    pub verbose: bool,
    pub inttest: i64,
    pub floattest: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            display_header: false,
            display_protected: false,
            indexer_backend: "as set in config.ini".to_string(),
            history_features: 0,
            history_length: -1,
            reopen_tracker: false,
            savepoint_limit: 10000,
            show_retired: ShowRetired::No,
            verbose: false,
            inttest: 3,
            floattest: 3.5,
        }
    }
}

fn parse_bool(setting: &str, value: &str) -> Result<bool, String> {
    match value.to_lowercase().as_str() {
        "yes" | "true" | "on" | "1" => Ok(true),
        "no" | "false" | "off" | "0" => Ok(false),
        other => Err(format!(
            "Incorrect value for boolean setting {setting}: {other}."
        )),
    }
}

fn parse_int(setting: &str, value: &str) -> Result<i64, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("Incorrect value for integer setting {setting}: {value}."))
}

impl Settings {
    /// Apply `name=value`; the error is the message Roundup prints.
    pub fn apply(&mut self, arg: &str) -> Result<(), String> {
        let Some((setting, value)) = arg.split_once('=') else {
            return Err(format!("Argument must be setting=value, was given: {arg}."));
        };
        match setting {
            "display_header" => self.display_header = parse_bool(setting, value)?,
            "display_protected" => self.display_protected = parse_bool(setting, value)?,
            "_reopen_tracker" => self.reopen_tracker = parse_bool(setting, value)?,
            "verbose" => self.verbose = parse_bool(setting, value)?,
            "history_features" => self.history_features = parse_int(setting, value)?,
            "history_length" => self.history_length = parse_int(setting, value)?,
            "savepoint_limit" => self.savepoint_limit = parse_int(setting, value)?,
            "_inttest" => self.inttest = parse_int(setting, value)?,
            "_floattest" => {
                self.floattest = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("Incorrect value for float setting {setting}: {value}."))?
            }
            "indexer_backend" => self.indexer_backend = value.to_string(),
            "show_retired" => {
                self.show_retired = match value {
                    "no" => ShowRetired::No,
                    "only" => ShowRetired::Only,
                    "both" => ShowRetired::Both,
                    _ => {
                        return Err(format!(
                    "Incorrect value for setting {setting}: {value}. Should be no, both, or only."
                ))
                    }
                }
            }
            "_retired_val" => {
                return Err(format!(
                    "{setting} follows show_retired and cannot be set directly."
                ))
            }
            _ => return Err(format!("Unknown setting {setting}. Try \"pragma list\".")),
        }
        Ok(())
    }

    /// `(name, value)` for every pragma in name order, as `pragma list`
    /// shows them (Python's `str()` of each value).
    pub fn list(&self) -> Vec<(&'static str, String)> {
        let b = |v: bool| if v { "True" } else { "False" }.to_string();
        let retired_val = match self.show_retired.filter() {
            Some(v) => b(v),
            None => "None".to_string(),
        };
        vec![
            ("_floattest", format!("{:?}", self.floattest)),
            ("_inttest", self.inttest.to_string()),
            ("_reopen_tracker", b(self.reopen_tracker)),
            ("_retired_val", retired_val),
            ("display_header", b(self.display_header)),
            ("display_protected", b(self.display_protected)),
            ("history_features", self.history_features.to_string()),
            ("history_length", self.history_length.to_string()),
            ("indexer_backend", self.indexer_backend.clone()),
            ("savepoint_limit", self.savepoint_limit.to_string()),
            ("show_retired", self.show_retired.name().to_string()),
            ("verbose", b(self.verbose)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_errors() {
        let mut s = Settings::default();
        s.apply("display_header=YES").unwrap();
        assert!(s.display_header);
        s.apply("show_retired=both").unwrap();
        assert_eq!(s.show_retired.filter(), None);
        assert_eq!(
            s.apply("bogus=1").unwrap_err(),
            "Unknown setting bogus. Try \"pragma list\"."
        );
        assert_eq!(
            s.apply("show_retired=maybe").unwrap_err(),
            "Incorrect value for setting show_retired: maybe. Should be no, both, or only."
        );
        assert_eq!(
            s.apply("verbose=perhaps").unwrap_err(),
            "Incorrect value for boolean setting verbose: perhaps."
        );
        assert_eq!(
            s.apply("history_length=x").unwrap_err(),
            "Incorrect value for integer setting history_length: x."
        );
    }
}
