//! What of a message body is kept, and its summary line.
//!
//! The body is cut into sections at blank lines (`[mailgw] blankline_re`)
//! and sections into lines (`eol_re`). A section whose first or second
//! line starts with `>` or `|` is quoting. Unless quoted text is kept
//! (`keep_quoted_text`):
//!
//! * a quoting section with no unquoted line after its quoted ones is
//!   dropped; one that has is cut down to the lines from that answer on;
//! * of a quoting section whose first line is not quoted (`Ann wrote:`),
//!   that first line is kept unless it ends in `:` (and is not the first
//!   section).
//!
//! Whatever the settings, the kept text stops at the signature (a last
//! section of 2 to 10 lines starting with `sign_re`, `-- `) and at an
//! Outlook-style quoted original (`origmsg_re`); neither can be the first
//! kept section. The summary is taken from the first kept section: its
//! first line or its first sentence (which may run over the line end),
//! whichever is longer. With `leave_body_unchanged` the
//! content is the body as it came, only the summary is computed.

use std::sync::LazyLock;

use regex::Regex;
use roundup_core::config::Config;

use crate::{options, MailError};

/// A `yes`/`no`/`new` option (`keep_quoted_text`,
/// `leave_body_unchanged`): `new` means "yes when the message creates a
/// new item".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YesNoNew {
    /// Always.
    Yes,
    /// Never.
    No,
    /// Only for a message that creates an item.
    New,
}

impl YesNoNew {
    /// Whether it applies to a message that does (`is_new_issue`) or does
    /// not create an item.
    pub fn applies(self, is_new_issue: bool) -> bool {
        match self {
            YesNoNew::Yes => true,
            YesNoNew::No => false,
            YesNoNew::New => is_new_issue,
        }
    }

    fn parse(option: &'static str, text: &str) -> Result<YesNoNew, MailError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "yes" => Ok(YesNoNew::Yes),
            "no" => Ok(YesNoNew::No),
            "new" => Ok(YesNoNew::New),
            _ => Err(MailError::BadOption {
                option,
                value: text.to_string(),
                expected: "yes, no or new",
            }),
        }
    }
}

/// The `[mailgw]` options of [`parse_content`], with the expressions
/// compiled.
#[derive(Clone, Debug)]
pub struct ContentOptions {
    /// `keep_quoted_text` (Roundup's default: yes).
    pub keep_quoted_text: YesNoNew,
    /// `leave_body_unchanged` (default: no).
    pub leave_body_unchanged: YesNoNew,
    eol: Regex,
    blankline: Regex,
    signature: Regex,
    original_message: Regex,
}

/// Roundup 2.6's defaults of the expression options.
pub const DEFAULT_EOL_RE: &str = r"[\r\n]+";
/// Default `blankline_re`.
pub const DEFAULT_BLANKLINE_RE: &str = r"[\r\n]+\s*[\r\n]+";
/// Default `sign_re`.
pub const DEFAULT_SIGN_RE: &str = r"^[>|\s]*-- ?$";
/// Default `origmsg_re`.
pub const DEFAULT_ORIGMSG_RE: &str = r"^[>|\s]*-----\s?Original Message\s?-----$";

impl Default for ContentOptions {
    fn default() -> Self {
        ContentOptions::new(
            YesNoNew::Yes,
            YesNoNew::No,
            DEFAULT_EOL_RE,
            DEFAULT_BLANKLINE_RE,
            DEFAULT_SIGN_RE,
            DEFAULT_ORIGMSG_RE,
        )
        .expect("the default expressions compile")
    }
}

impl ContentOptions {
    /// Options from their values; the expressions are Python-style
    /// regular expressions as in config.ini (`sign_re` and `origmsg_re`
    /// must match at the start of a line, like Python's `re.match`).
    pub fn new(
        keep_quoted_text: YesNoNew,
        leave_body_unchanged: YesNoNew,
        eol_re: &str,
        blankline_re: &str,
        sign_re: &str,
        origmsg_re: &str,
    ) -> Result<Self, MailError> {
        Ok(ContentOptions {
            keep_quoted_text,
            leave_body_unchanged,
            eol: options::regex("eol_re", eol_re, "{}")?,
            blankline: options::regex("blankline_re", blankline_re, "{}")?,
            signature: options::regex("sign_re", sign_re, "\\A(?:{})")?,
            original_message: options::regex("origmsg_re", origmsg_re, "\\A(?:{})")?,
        })
    }

    /// The options as the tracker configures them.
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        ContentOptions::new(
            YesNoNew::parse(
                "keep_quoted_text",
                &options::text(config, "keep_quoted_text")?,
            )?,
            YesNoNew::parse(
                "leave_body_unchanged",
                &options::text(config, "leave_body_unchanged")?,
            )?,
            &options::text(config, "eol_re")?,
            &options::text(config, "blankline_re")?,
            &options::text(config, "sign_re")?,
            &options::text(config, "origmsg_re")?,
        )
    }
}

fn is_quote(line: &str) -> bool {
    line.starts_with(['>', '|'])
}

/// Splits a message body into its summary and the content to store (see
/// the module documentation for the rules). `is_new_issue` says whether
/// the message creates an item, for the `new` setting of the options.
/// The content is not trimmed; Roundup trims it before storing it.
pub fn parse_content(text: &str, opts: &ContentOptions, is_new_issue: bool) -> (String, String) {
    let keep_quotes = opts.keep_quoted_text.applies(is_new_issue);
    let keep_body = opts.leave_body_unchanged.applies(is_new_issue);

    // Leading line ends go, but a body of nothing else keeps its last one
    // (as Roundup's loop over the characters does).
    let start = text
        .char_indices()
        .find(|&(_, c)| c != '\r' && c != '\n')
        .map(|(i, _)| i)
        .unwrap_or_else(|| text.char_indices().last().map_or(0, |(i, _)| i));
    let sections: Vec<&str> = opts.blankline.split(&text[start..]).collect();

    let last_nonempty = sections.iter().rposition(|s| !s.is_empty()).unwrap_or(0);
    let mut summary: Option<String> = None;
    let mut kept: Vec<String> = Vec::new();

    for (index, &section) in sections.iter().enumerate() {
        if section.is_empty() {
            continue;
        }
        let mut lines: Vec<&str> = opts.eol.split(section).collect();
        let mut section = section.to_string();
        let quote_first = is_quote(lines[0]);
        let quote_second = lines.get(1).is_some_and(|l| is_quote(l));
        if quote_first || quote_second {
            // "Ann wrote:" above a quote: kept unless it ends in ':'.
            if index > 0
                && !quote_first
                && !lines[0].is_empty()
                && !keep_quotes
                && !lines[0].ends_with(':')
            {
                kept.push(lines[0].to_string());
            }
            // An answer written right below the quote, without a blank
            // line, keeps the section.
            match lines[1..]
                .iter()
                .position(|l| !l.is_empty() && !is_quote(l))
            {
                None => {
                    if keep_quotes {
                        kept.push(section);
                    }
                    continue;
                }
                Some(answer) => {
                    if !keep_quotes {
                        lines.drain(..=answer);
                    }
                    section = lines.join("\n");
                }
            }
        }

        let first_line = lines.first().copied().unwrap_or_default();
        if summary.is_none() {
            summary = Some(section.clone());
        } else {
            // The first kept section is never cut off.
            let signature = index == last_nonempty
                && opts.signature.is_match(first_line)
                && (2..=10).contains(&lines.len());
            if signature || opts.original_message.is_match(first_line) {
                break;
            }
        }
        kept.push(section);
    }

    let summary = summarise(&summary.unwrap_or_default(), &opts.eol);
    let content = if keep_body {
        text.to_string()
    } else {
        kept.join("\n\n")
    };
    (summary, content)
}

/// The first line or the first sentence of `section`, whichever is
/// longer. (Roundup takes Python's `max` of the two strings; as both
/// start at the section's start, that is the longer one.)
fn summarise(section: &str, eol: &Regex) -> String {
    static SENTENCE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\A([^!?.]+[!?.])").expect("constant pattern"));
    let sentence = SENTENCE
        .captures(section)
        .and_then(|c| c.get(1))
        .map_or("", |m| m.as_str());
    let first = eol.split(section).next().unwrap_or_default();
    sentence.max(first).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip(text: &str) -> (String, String) {
        let opts = ContentOptions {
            keep_quoted_text: YesNoNew::No,
            ..ContentOptions::default()
        };
        parse_content(text, &opts, false)
    }

    // Expected values below were produced by Roundup 2.6's
    // roundup.mailgw.parseContent with keep_quoted_text "no" (the
    // cross-check test in tests/python_crosscheck.rs compares many more).

    #[test]
    fn plain_body_is_kept() {
        let (summary, content) = strip("Hello.\nThis is it.\n");
        assert_eq!(summary, "Hello.");
        assert_eq!(content, "Hello.\nThis is it.\n");
    }

    #[test]
    fn quoted_reply_is_stripped() {
        let text = "Ann wrote:\n> the printer\n> is broken\n\nI fixed it.\n";
        let (summary, content) = strip(text);
        assert_eq!(summary, "I fixed it.");
        assert_eq!(content, "I fixed it.\n");
    }

    #[test]
    fn answer_inside_quote_section() {
        let text = "> quoted line\nmy answer\nmore\n";
        let (summary, content) = strip(text);
        assert_eq!(summary, "my answer");
        assert_eq!(content, "my answer\nmore\n");
    }

    #[test]
    fn signature_is_dropped_only_at_the_end() {
        let text = "First part.\n\n-- \nAnn\nExample Corp\n";
        let (_, content) = strip(text);
        assert_eq!(content, "First part.");
        // kept when it is not the last section
        let text = "First.\n\n-- \nnot a sig\n\nlast words\n";
        let (_, content) = strip(text);
        assert_eq!(content, "First.\n\n-- \nnot a sig\n\nlast words\n");
    }

    #[test]
    fn outlook_original_message_cuts() {
        let text = "Thanks!\n\n-----Original Message-----\nFrom: x\n\nold text\n";
        let (summary, content) = strip(text);
        assert_eq!(summary, "Thanks!");
        assert_eq!(content, "Thanks!");
    }

    #[test]
    fn keep_quotes_and_leave_body() {
        let text = "\n\nAnn wrote:\n> quote\n\nreply\n\n-- \nsig\n";
        let (summary, content) = parse_content(text, &ContentOptions::default(), false);
        // A kept quote never gives the summary.
        assert_eq!(summary, "reply");
        assert_eq!(content, "Ann wrote:\n> quote\n\nreply");
        let unchanged = ContentOptions {
            leave_body_unchanged: YesNoNew::New,
            ..ContentOptions::default()
        };
        let (_, content) = parse_content(text, &unchanged, true);
        assert_eq!(content, text);
        let (_, content) = parse_content(text, &unchanged, false);
        assert_eq!(content, "Ann wrote:\n> quote\n\nreply");
    }

    #[test]
    fn summary_is_the_longer_of_line_and_sentence() {
        // The sentence may run over the line end; it starts like the
        // first line and is longer, so it is the greater string.
        let (summary, _) = strip("a first line\nb. next");
        assert_eq!(summary, "a first line\nb.");
        // The whole line is longer than its first sentence.
        let (summary, _) = strip("Zed. and more on the line\n");
        assert_eq!(summary, "Zed. and more on the line");
        let (summary, _) = strip("I see. Yes\n");
        assert_eq!(summary, "I see. Yes");
    }

    #[test]
    fn degenerate_bodies() {
        assert_eq!(strip(""), (String::new(), String::new()));
        assert_eq!(strip("\n\n\n"), (String::new(), "\n".to_string()));
        assert_eq!(strip(">"), (String::new(), String::new()));
    }

    #[test]
    fn bad_expression_names_its_option() {
        let err = ContentOptions::new(YesNoNew::Yes, YesNoNew::No, "[", "x", "y", "z").unwrap_err();
        assert!(err.to_string().contains("eol_re"), "{err}");
        assert!(YesNoNew::parse("keep_quoted_text", "maybe").is_err());
        assert_eq!(YesNoNew::parse("x", "NEW").unwrap(), YesNoNew::New);
    }
}
