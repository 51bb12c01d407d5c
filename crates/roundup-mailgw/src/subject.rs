//! Reading the subject line: `Re: [issue12] title [prop=value;...]`.
//!
//! The parts are taken off the subject in this order:
//!
//! 1. reply/forward markers at the start (`Re:`, `Fwd:`, `AW:`, ... as
//!    `[mailgw] refwd_re` says);
//! 2. a double quote some mailers put around the rest;
//! 3. the first `[class]` or `[class123]` naming a class of the tracker,
//!    anywhere (mailing list tags may come before it), with optional
//!    spaces inside the brackets; everything up to it is dropped;
//! 4. a trailing `[...]` holding `prop=value;...` assignments;
//! 5. what is left is the title.
//!
//! The brackets are `[mailgw] subject_suffix_delimiters`. Class names
//! match without regard to case, but only an exact name is used as the
//! class; anything else falls back to `[mailgw] default_class`.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use regex::{Regex, RegexBuilder};
use roundup_core::config::Config;

use crate::{options, MailError};

/// How strictly a `[prefix]` or `[suffix]` of the subject is read
/// (`subject_prefix_parsing`, `subject_suffix_parsing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ParsingMode {
    /// Bounce mail whose prefix/suffix cannot be used.
    #[default]
    Strict,
    /// Use what can be used, keep the rest in the title.
    Loose,
    /// Do not interpret it at all.
    None,
}

impl ParsingMode {
    /// Reads the option's text. Roundup only tests for `strict` and
    /// `none`, so any other value behaves as `loose`; case is ignored.
    pub fn from_option(text: &str) -> ParsingMode {
        match text.trim().to_ascii_lowercase().as_str() {
            "strict" => ParsingMode::Strict,
            "none" => ParsingMode::None,
            _ => ParsingMode::Loose,
        }
    }
}

/// `[mailgw] subject_content_match`: whether a subject without designator
/// is matched against the titles of existing items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentMatch {
    /// Never: such mail always opens a new item.
    Never,
    /// Any item with the same title (the most recent one wins).
    Always,
    /// Only items created within the interval (Roundup interval syntax,
    /// e.g. `+ 1w`, left for the caller to parse).
    Creation(String),
    /// Only items with activity within the interval.
    Activity(String),
}

impl ContentMatch {
    /// Reads the option's text: `never`, `always`, `creation INTERVAL` or
    /// `activity INTERVAL`; any other text means `always`, as in Roundup.
    pub fn from_option(text: &str) -> Result<ContentMatch, MailError> {
        let text = text.trim();
        if text == "never" {
            return Ok(ContentMatch::Never);
        }
        for (word, make) in [
            (
                "creation",
                ContentMatch::Creation as fn(String) -> ContentMatch,
            ),
            ("activity", ContentMatch::Activity),
        ] {
            if text.starts_with(word) {
                return match text.split_once(' ') {
                    Some((head, interval)) if head == word && !interval.trim().is_empty() => {
                        Ok(make(interval.trim().to_string()))
                    }
                    _ => Err(MailError::BadOption {
                        option: "subject_content_match",
                        value: text.to_string(),
                        expected: "never, always, \"creation INTERVAL\" or \"activity INTERVAL\"",
                    }),
                };
            }
        }
        Ok(ContentMatch::Always)
    }
}

/// The `[mailgw]` options that govern the subject line, with Roundup
/// 2.6's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectOptions {
    /// `refwd_re`: one reply/forward marker (a Python-style regular
    /// expression, matched ignoring case, in verbose mode).
    pub refwd_re: String,
    /// `subject_prefix_parsing`.
    pub subject_prefix_parsing: ParsingMode,
    /// `subject_suffix_parsing`.
    pub subject_suffix_parsing: ParsingMode,
    /// `subject_suffix_delimiters`: the opening and closing bracket.
    pub subject_suffix_delimiters: String,
    /// `subject_content_match` as written.
    pub subject_content_match: String,
    /// `default_class` (or the gateway's `-c` option): the class used
    /// when the subject names none; empty for none.
    pub default_class: String,
}

impl Default for SubjectOptions {
    fn default() -> Self {
        SubjectOptions {
            refwd_re: r"(\s*\W?\s*(fw|fwd|re|aw|sv|ang)\W)+".to_string(),
            subject_prefix_parsing: ParsingMode::Strict,
            subject_suffix_parsing: ParsingMode::Strict,
            subject_suffix_delimiters: "[]".to_string(),
            subject_content_match: "always".to_string(),
            default_class: "issue".to_string(),
        }
    }
}

impl SubjectOptions {
    /// The options as the tracker configures them.
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        Ok(SubjectOptions {
            refwd_re: options::text(config, "refwd_re")?,
            subject_prefix_parsing: ParsingMode::from_option(&options::text(
                config,
                "subject_prefix_parsing",
            )?),
            subject_suffix_parsing: ParsingMode::from_option(&options::text(
                config,
                "subject_suffix_parsing",
            )?),
            subject_suffix_delimiters: options::text(config, "subject_suffix_delimiters")?,
            subject_content_match: options::text(config, "subject_content_match")?,
            default_class: options::text(config, "default_class")?.trim().to_string(),
        })
    }

    /// `subject_content_match` read (see [`ContentMatch::from_option`]).
    pub fn content_match(&self) -> Result<ContentMatch, MailError> {
        ContentMatch::from_option(&self.subject_content_match)
    }

    /// The two delimiters, regex-escaped.
    fn delimiters(&self) -> Result<(String, String), MailError> {
        let mut chars = self.subject_suffix_delimiters.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some(open), Some(close), None) => Ok((
                regex::escape(&open.to_string()),
                regex::escape(&close.to_string()),
            )),
            _ => Err(MailError::BadOption {
                option: "subject_suffix_delimiters",
                value: self.subject_suffix_delimiters.clone(),
                expected: "exactly two characters, the opening and the closing bracket",
            }),
        }
    }
}

/// The parts of a subject line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedSubject {
    /// The whole subject as given.
    pub subject: String,
    /// The reply/forward markers at the start (`Re: Fwd:`), if any.
    pub prefix: Option<String>,
    /// Whether the rest was in double quotes.
    pub quoted: bool,
    /// The class the message is for: the one named in the subject when
    /// it is exactly a class name, else the default class.
    pub classname: String,
    /// The class as written in the subject's `[...]`, when one matched
    /// (also under prefix parsing `none`, which ignores it).
    pub named_class: Option<String>,
    /// The item number from the subject's designator, when there is one
    /// and prefix parsing is not `none`.
    pub nodeid: Option<String>,
    /// The item number as written, whatever the prefix parsing.
    pub named_nodeid: Option<String>,
    /// The title: what is left of the subject.
    pub title: String,
    /// The text inside the trailing `[...]`, when there is one.
    pub args: Option<String>,
    /// The trailing `[...]` with its brackets.
    pub args_whole: Option<String>,
}

/// The subject taken apart, before the class is checked.
struct Matches {
    prefix: Option<String>,
    quoted: bool,
    has_prefix: bool,
    classname: Option<String>,
    nodeid: Option<String>,
    title: String,
    args: Option<String>,
    args_whole: Option<String>,
}

/// Compiles a pattern, case-insensitively. The expressions depend only on
/// the options and the class list, which rarely change, and compiling
/// them costs more than matching: the last few are kept. They are shared,
/// not cloned: a cloned `Regex` starts with empty search caches, and
/// building those again for every message showed in the profile.
fn compile(option: &'static str, pattern: &str, source: &str) -> Result<Arc<Regex>, MailError> {
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<Regex>>>> = LazyLock::new(Default::default);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(re) = cache.get(pattern) {
        return Ok(re.clone());
    }
    let re = Arc::new(
        RegexBuilder::new(pattern)
            .case_insensitive(true)
            .build()
            .map_err(|e| MailError::bad_regex(option, source, e))?,
    );
    if cache.len() >= 64 {
        cache.clear();
    }
    cache.insert(pattern.to_string(), re.clone());
    Ok(re)
}

fn match_subject(
    subject: &str,
    opts: &SubjectOptions,
    classes: &[&str],
) -> Result<Matches, MailError> {
    let (open, close) = opts.delimiters()?;
    let mut rest = subject;

    // 1. Re:/Fwd: markers. The option is matched in verbose mode, as
    // Roundup compiles it; the white space after it is not consumed.
    let refwd = compile(
        "refwd_re",
        // (The line end keeps a `#` comment in the option from eating the
        // closing parentheses.)
        &format!("\\A(?x:(?P<refwd>{}\n))\\s*", opts.refwd_re),
        &opts.refwd_re,
    )?;
    let mut prefix = None;
    if let Some(m) = refwd.captures(rest).and_then(|c| c.name("refwd")) {
        if !m.as_str().is_empty() {
            prefix = Some(m.as_str().to_string());
            rest = &rest[m.end()..];
        }
    }

    // 2. An opening quote.
    static QUOTE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"\A\s*""#).expect("constant pattern"));
    let quoted = match QUOTE.find(rest) {
        Some(m) => {
            rest = &rest[m.end()..];
            true
        }
        None => false,
    };

    // Something like a [prefix] right at the start?
    let has_prefix = compile(
        "subject_suffix_delimiters",
        &format!(r"\A{open}\s*\w+\s*{close}"),
        &opts.subject_suffix_delimiters,
    )?
    .is_match(rest.trim());

    // 3. The first [class] or [class123]. Roundup lists the classes
    // sorted, which decides between names that are prefixes of others.
    let mut sorted: Vec<&str> = classes.to_vec();
    sorted.sort_unstable();
    let names: Vec<String> = sorted.iter().map(|c| regex::escape(c)).collect();
    let class_re = compile(
        "subject_suffix_delimiters",
        &format!(
            r"{open}\s*(?P<classname>{})\s*(?P<nodeid>\d+)?\s*{close}",
            names.join("|")
        ),
        &opts.subject_suffix_delimiters,
    )?;
    let mut classname = None;
    let mut nodeid = None;
    if let Some(caps) = class_re.captures(rest) {
        classname = caps
            .name("classname")
            .map(|m| m.as_str().to_string())
            .filter(|c| !c.is_empty());
        nodeid = caps.name("nodeid").map(|m| m.as_str().to_string());
        rest = &rest[caps.get(0).map_or(0, |m| m.end())..];
    }

    // 4. The trailing [args], with the closing quote when there was an
    // opening one.
    let args_re = compile(
        "subject_suffix_delimiters",
        &format!(
            r"(?P<whole>{open}(?P<args>[^{close}]*){close}){}\z",
            if quoted { "\"?" } else { "" }
        ),
        &opts.subject_suffix_delimiters,
    )?;
    // Roundup matches on the stripped text; the position is taken back
    // to the unstripped one here (Roundup cuts at the stripped offset,
    // which loses a character of the title when white space led).
    let trimmed = rest.trim();
    let lead = rest.len() - rest.trim_start().len();
    let mut args = None;
    let mut args_whole = None;
    if let Some(caps) = args_re.captures(trimmed) {
        args = caps.name("args").map(|m| m.as_str().to_string());
        args_whole = caps.name("whole").map(|m| m.as_str().to_string());
        let start = caps.get(0).map_or(trimmed.len(), |m| m.start());
        rest = &rest[..lead + start];
    }

    // 5. The title, without the closing quote of a quoted subject.
    let mut title = rest.trim();
    if quoted && args_whole.is_none() {
        title = title.strip_suffix('"').unwrap_or(title);
    }

    Ok(Matches {
        prefix,
        quoted,
        has_prefix,
        classname,
        nodeid,
        title: title.to_string(),
        args,
        args_whole,
    })
}

/// Takes a subject apart (see the module documentation) and decides the
/// class the message is for.
///
/// `classes` are the tracker's class names. Errors, all meant for the
/// sender: [`MailError::MalformedPrefix`] when the subject starts with a
/// `[word]` that names no class and prefix parsing is strict,
/// [`MailError::UnknownClass`] when the class named is not exactly a
/// class name and there is no default class, [`MailError::NoClass`] when
/// no class is named and there is no default class. Bad options give
/// [`MailError::BadRegex`] or [`MailError::BadOption`].
pub fn parse_subject(
    subject: &str,
    opts: &SubjectOptions,
    classes: &[&str],
) -> Result<ParsedSubject, MailError> {
    let m = match_subject(subject, opts, classes)?;
    let prefix_mode = opts.subject_prefix_parsing;

    let wanted = match prefix_mode {
        ParsingMode::None => None,
        _ => m.classname.clone(),
    };
    if wanted.is_none() && m.has_prefix && prefix_mode == ParsingMode::Strict {
        return Err(MailError::MalformedPrefix {
            subject: subject.to_string(),
        });
    }
    let default = opts.default_class.trim();
    let resolved = wanted
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(default))
        .find(|name| !name.is_empty() && classes.contains(name));
    let Some(classname) = resolved else {
        return Err(match wanted {
            Some(classname) => MailError::UnknownClass {
                classname,
                valid: classes.iter().map(|c| c.to_string()).collect(),
                subject: subject.to_string(),
            },
            None => MailError::NoClass {
                subject: subject.to_string(),
            },
        });
    };

    Ok(ParsedSubject {
        subject: subject.to_string(),
        prefix: m.prefix,
        quoted: m.quoted,
        classname: classname.to_string(),
        named_class: m.classname,
        nodeid: match prefix_mode {
            ParsingMode::None => None,
            _ => m.nodeid.clone(),
        },
        named_nodeid: m.nodeid,
        title: m.title,
        args: m.args,
        args_whole: m.args_whole,
    })
}

/// The one-time key of a registration confirmation (`-- key` followed by
/// 32 letters and digits) in the subject's title, if there is one. The
/// gateway looks for it (when `[email] registration_confirmation` is on)
/// before it needs a class, so this does not check the class.
pub fn registration_key(
    subject: &str,
    opts: &SubjectOptions,
    classes: &[&str],
) -> Result<Option<String>, MailError> {
    let m = match_subject(subject, opts, classes)?;
    static KEY: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"-- key ([a-zA-Z0-9]{32})").expect("constant pattern"));
    Ok(KEY
        .captures(&m.title)
        .and_then(|c| c.get(1))
        .map(|k| k.as_str().to_string()))
}

impl ParsedSubject {
    /// Whether the subject had `Re:`-like markers: only replies are
    /// matched to existing items by title.
    pub fn is_reply(&self) -> bool {
        self.prefix.is_some()
    }

    /// The designator named in the subject, e.g. `issue12`.
    pub fn designator(&self) -> Option<String> {
        Some(format!(
            "{}{}",
            self.named_class.as_ref()?,
            self.nodeid.as_ref()?
        ))
    }

    /// The `prop=value;...` text to apply to the item, when there is one
    /// and suffix parsing is not `none` (which keeps it in the title).
    pub fn suffix_args(&self, opts: &SubjectOptions) -> Option<&str> {
        match opts.subject_suffix_parsing {
            ParsingMode::None => None,
            _ => self.args.as_deref().filter(|a| !a.is_empty()),
        }
    }

    /// What to do when the suffix could not be applied (`problems` says
    /// why, one line each; none means it was applied). Strict suffix
    /// parsing bounces ([`MailError::BadSubjectArgs`]); otherwise the
    /// answer is whether the `[...]` goes back into the title (pass it
    /// to [`ParsedSubject::item_title`]). In that case Roundup still
    /// applies the assignments that were valid.
    pub fn reject_args(
        &self,
        problems: Vec<String>,
        opts: &SubjectOptions,
    ) -> Result<bool, MailError> {
        if problems.is_empty() {
            return Ok(false);
        }
        match opts.subject_suffix_parsing {
            ParsingMode::Strict => Err(MailError::BadSubjectArgs {
                problems,
                subject: self.subject.clone(),
            }),
            _ => Ok(true),
        }
    }

    /// The title to give the item.
    ///
    /// `item_found` says whether the message was matched to an existing
    /// item: when the subject named an item number but no item was used
    /// (e.g. it does not exist and prefix parsing is loose), the whole
    /// subject becomes the title. `args_in_title` puts the `[...]` suffix
    /// back (from [`ParsedSubject::reject_args`]); under suffix parsing
    /// `none` it always is.
    pub fn item_title(
        &self,
        item_found: bool,
        args_in_title: bool,
        opts: &SubjectOptions,
    ) -> String {
        let mut title = if self.named_nodeid.is_some() && !item_found {
            self.subject.clone()
        } else {
            self.title.clone()
        };
        let keep = args_in_title || opts.subject_suffix_parsing == ParsingMode::None;
        if let (true, Some(_), Some(whole)) = (
            keep,
            self.args.as_deref().filter(|a| !a.is_empty()),
            self.args_whole.as_deref(),
        ) {
            title.push(' ');
            title.push_str(whole);
        }
        title.trim().to_string()
    }

    /// Checks that the message can be tied to an item: it needs an item
    /// number (from the subject or found otherwise, `nodeid`) or a title.
    pub fn check_matchable(&self, nodeid: Option<&str>) -> Result<(), MailError> {
        if nodeid.is_none() && self.title.is_empty() {
            return Err(MailError::NoNodeMatch {
                subject: self.subject.clone(),
            });
        }
        Ok(())
    }

    /// What to do when the item numbered in the subject does not exist:
    /// strict prefix parsing bounces ([`MailError::UnknownNode`]), the
    /// others carry on without an item number.
    pub fn missing_node(&self, nodeid: &str, opts: &SubjectOptions) -> Result<(), MailError> {
        match opts.subject_prefix_parsing {
            ParsingMode::Strict => Err(MailError::UnknownNode {
                designator: format!("{}{}", self.classname, nodeid),
                subject: self.subject.clone(),
            }),
            _ => Ok(()),
        }
    }
}

/// One `name=value` of a subject's `[...]` suffix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropAssignment {
    /// The property name, without surrounding spaces.
    pub name: String,
    /// The value without surrounding spaces, for the core's conversion of
    /// text input (which reads `a,b` lists and `+a`/`-b` edits of
    /// multilinks the way Roundup's `rawToHyperdb` does).
    pub value: String,
}

/// Splits a suffix like `status=open; nosy=+ann,-bob` into assignments.
///
/// Pieces are separated by `;` and each must contain exactly one `=`;
/// the first that does not ends the list with
/// [`MailError::MalformedArgs`], which carries the assignments before it.
/// Property names are not checked here.
pub fn parse_args(args: &str) -> Result<Vec<PropAssignment>, MailError> {
    let mut props = Vec::new();
    for piece in args.split(';') {
        let mut halves = piece.split('=');
        match (halves.next(), halves.next(), halves.next()) {
            (Some(name), Some(value), None) => props.push(PropAssignment {
                name: name.trim().to_string(),
                value: value.trim().to_string(),
            }),
            _ => {
                return Err(MailError::MalformedArgs {
                    piece: piece.to_string(),
                    parsed_before: props,
                })
            }
        }
    }
    Ok(props)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: &[&str] = &[
        "file", "issue", "keyword", "msg", "priority", "status", "user",
    ];

    fn parse(subject: &str) -> ParsedSubject {
        parse_subject(subject, &SubjectOptions::default(), CLASSES).unwrap()
    }

    #[test]
    fn designator_title_and_args() {
        let s = parse("Re: [issue12] the coffee machine is broken! [priority=urgent]");
        assert_eq!(s.prefix.as_deref(), Some("Re:"));
        assert!(s.is_reply());
        assert_eq!(s.classname, "issue");
        assert_eq!(s.nodeid.as_deref(), Some("12"));
        assert_eq!(s.title, "the coffee machine is broken!");
        assert_eq!(s.args.as_deref(), Some("priority=urgent"));
        assert_eq!(s.args_whole.as_deref(), Some("[priority=urgent]"));
        assert_eq!(s.designator().as_deref(), Some("issue12"));
    }

    #[test]
    fn spaces_inside_the_brackets() {
        let s = parse("Re: [ issue 2 ] we're out of widgets [nosy=-richard;priority=bug]");
        assert_eq!(s.nodeid.as_deref(), Some("2"));
        assert_eq!(s.title, "we're out of widgets");
        assert_eq!(s.args.as_deref(), Some("nosy=-richard;priority=bug"));
    }

    #[test]
    fn list_tag_before_the_designator_is_dropped() {
        let s = parse("[dev-list] Re: [issue3] crash on start");
        // The marker is not at the start, so it is no reply prefix.
        assert_eq!(s.prefix, None);
        assert_eq!(s.nodeid.as_deref(), Some("3"));
        assert_eq!(s.title, "crash on start");
    }

    #[test]
    fn no_designator_uses_default_class() {
        let s = parse("Fwd: Re: printer on fire");
        assert_eq!(s.prefix.as_deref(), Some("Fwd: Re:"));
        assert_eq!(s.classname, "issue");
        assert_eq!(s.named_class, None);
        assert_eq!(s.nodeid, None);
        assert_eq!(s.title, "printer on fire");
    }

    #[test]
    fn quoted_subject() {
        let s = parse("Re: \"[issue1] bla blah\"");
        assert!(s.quoted);
        assert_eq!(s.title, "bla blah");
        let s = parse("Re: \"[issue1] bla blah [status=open]\"");
        assert_eq!(s.title, "bla blah");
        assert_eq!(s.args.as_deref(), Some("status=open"));
    }

    #[test]
    fn prefix_modes() {
        // strict: a [word] at the start that is no class is bounced
        let err =
            parse_subject("[frobozz] hello", &SubjectOptions::default(), CLASSES).unwrap_err();
        assert!(matches!(err, MailError::MalformedPrefix { .. }), "{err}");
        // loose: it stays in the title
        let loose = SubjectOptions {
            subject_prefix_parsing: ParsingMode::Loose,
            ..SubjectOptions::default()
        };
        let s = parse_subject("[frobozz] hello", &loose, CLASSES).unwrap();
        assert_eq!(s.classname, "issue");
        assert_eq!(s.title, "[frobozz] hello");
        // none: the designator is matched (and removed from the title)
        // but not used
        let none = SubjectOptions {
            subject_prefix_parsing: ParsingMode::None,
            ..SubjectOptions::default()
        };
        let s = parse_subject("[user5] hello", &none, CLASSES).unwrap();
        assert_eq!(s.classname, "issue");
        assert_eq!(s.nodeid, None);
        assert_eq!(s.named_nodeid.as_deref(), Some("5"));
        assert_eq!(s.title, "hello");
        // ... and with no item found the whole subject is the title
        assert_eq!(s.item_title(false, false, &none), "[user5] hello");
    }

    #[test]
    fn class_case_and_default() {
        // Matched ignoring case, but "ISSUE" is no class: the default is
        // used, with the number from the subject.
        let s = parse("[ISSUE7] shouting");
        assert_eq!(s.classname, "issue");
        assert_eq!(s.named_class.as_deref(), Some("ISSUE"));
        assert_eq!(s.nodeid.as_deref(), Some("7"));
        // Without a default class that is an error naming the class.
        let no_default = SubjectOptions {
            default_class: String::new(),
            ..SubjectOptions::default()
        };
        let err = parse_subject("[USER7] x", &no_default, CLASSES).unwrap_err();
        match &err {
            MailError::UnknownClass {
                classname, valid, ..
            } => {
                assert_eq!(classname, "USER");
                assert_eq!(valid.len(), CLASSES.len());
            }
            other => panic!("{other}"),
        }
        assert!(err.to_string().contains("\"USER\""));
        let err = parse_subject("no class here", &no_default, CLASSES).unwrap_err();
        assert!(matches!(err, MailError::NoClass { .. }));
        // A named class wins over the default.
        let s = parse_subject("[user] new user", &no_default, CLASSES).unwrap();
        assert_eq!(s.classname, "user");
        assert_eq!(s.nodeid, None);
    }

    #[test]
    fn other_delimiters() {
        let opts = SubjectOptions {
            subject_suffix_delimiters: "{}".to_string(),
            ..SubjectOptions::default()
        };
        let s = parse_subject("Re: {issue4} title {status=open}", &opts, CLASSES).unwrap();
        assert_eq!(s.nodeid.as_deref(), Some("4"));
        assert_eq!(s.title, "title");
        assert_eq!(s.args.as_deref(), Some("status=open"));
        let bad = SubjectOptions {
            subject_suffix_delimiters: "[".to_string(),
            ..SubjectOptions::default()
        };
        assert!(matches!(
            parse_subject("x", &bad, CLASSES),
            Err(MailError::BadOption { .. })
        ));
    }

    #[test]
    fn bad_refwd_regex_names_the_option() {
        let opts = SubjectOptions {
            refwd_re: "(re".to_string(),
            ..SubjectOptions::default()
        };
        let err = parse_subject("Re: x", &opts, CLASSES).unwrap_err();
        assert!(err.to_string().contains("refwd_re"), "{err}");
    }

    #[test]
    fn suffix_modes_and_titles() {
        let s = parse("[issue1] title [status=open]");
        let strict = SubjectOptions::default();
        assert_eq!(s.suffix_args(&strict), Some("status=open"));
        assert!(matches!(
            s.reject_args(vec!["no such status".into()], &strict),
            Err(MailError::BadSubjectArgs { .. })
        ));
        assert_eq!(s.item_title(true, false, &strict), "title");
        let loose = SubjectOptions {
            subject_suffix_parsing: ParsingMode::Loose,
            ..SubjectOptions::default()
        };
        assert!(s.reject_args(vec!["x".into()], &loose).unwrap());
        assert_eq!(s.item_title(true, true, &loose), "title [status=open]");
        let none = SubjectOptions {
            subject_suffix_parsing: ParsingMode::None,
            ..SubjectOptions::default()
        };
        assert_eq!(s.suffix_args(&none), None);
        assert_eq!(s.item_title(true, false, &none), "title [status=open]");
    }

    #[test]
    fn matching_checks() {
        let s = parse("Re: [issue]");
        assert!(matches!(
            s.check_matchable(None),
            Err(MailError::NoNodeMatch { .. })
        ));
        assert!(s.check_matchable(Some("3")).is_ok());
        let s = parse("[issue99] gone");
        let err = s
            .missing_node("99", &SubjectOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("issue99"), "{err}");
    }

    #[test]
    fn registration_keys() {
        let key = "a".repeat(16) + &"7".repeat(16);
        let subject = format!("Re: Complete your registration to Tracker -- key {key}");
        assert_eq!(
            registration_key(&subject, &SubjectOptions::default(), CLASSES).unwrap(),
            Some(key)
        );
        assert_eq!(
            registration_key("-- key short", &SubjectOptions::default(), CLASSES).unwrap(),
            None
        );
    }

    #[test]
    fn content_match_option() {
        assert_eq!(
            ContentMatch::from_option("never").unwrap(),
            ContentMatch::Never
        );
        assert_eq!(
            ContentMatch::from_option("always").unwrap(),
            ContentMatch::Always
        );
        assert_eq!(
            ContentMatch::from_option("creation + 1w").unwrap(),
            ContentMatch::Creation("+ 1w".into())
        );
        assert_eq!(
            ContentMatch::from_option("activity -2d").unwrap(),
            ContentMatch::Activity("-2d".into())
        );
        assert!(ContentMatch::from_option("creation").is_err());
        assert_eq!(
            ContentMatch::from_option("whatever").unwrap(),
            ContentMatch::Always
        );
    }

    #[test]
    fn args_split() {
        assert_eq!(
            parse_args(" status = open ;nosy=+ann, -bob").unwrap(),
            vec![
                PropAssignment {
                    name: "status".into(),
                    value: "open".into()
                },
                PropAssignment {
                    name: "nosy".into(),
                    value: "+ann, -bob".into()
                },
            ]
        );
        match parse_args("priority=bug;junk;status=open") {
            Err(MailError::MalformedArgs {
                piece,
                parsed_before,
            }) => {
                assert_eq!(piece, "junk");
                assert_eq!(parsed_before.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        // "a=b=c" and a trailing ";" are malformed too
        assert!(parse_args("title=a=b").is_err());
        assert!(parse_args("status=open;").is_err());
    }
}
