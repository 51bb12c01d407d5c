//! Reading `[mailgw]` options from a tracker's configuration.

use roundup_core::config::Config;

use crate::MailError;

pub(crate) fn text(config: &Config, option: &'static str) -> Result<String, MailError> {
    config
        .get_str("mailgw", option)
        .map_err(|e| MailError::config("mailgw", option, e))
}

pub(crate) fn flag(config: &Config, option: &'static str) -> Result<bool, MailError> {
    config
        .get_bool("mailgw", option)
        .map_err(|e| MailError::config("mailgw", option, e))
}

/// Compiles a configured pattern. Roundup's patterns are Python regular
/// expressions; the common syntax is the same in the `regex` crate, and a
/// pattern that is not (look-around, back-references) is reported with
/// the option's name.
pub(crate) fn regex(
    option: &'static str,
    pattern: &str,
    wrap: &str,
) -> Result<regex::Regex, MailError> {
    let full = wrap.replace("{}", pattern);
    regex::Regex::new(&full).map_err(|e| MailError::bad_regex(option, pattern, e))
}
