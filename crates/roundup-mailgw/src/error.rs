//! The gateway's error type.

use std::path::PathBuf;

use roundup_core::config::ConfigError;

use crate::parse::ParsedMail;
use crate::subject::PropAssignment;

/// Everything that can go wrong in this crate.
///
/// Some variants are the sender's fault and are meant to be sent back to
/// them (see [`MailError::is_usage_error`]); the others are problems of
/// the tracker's set-up or of the machine.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// mail-parser found nothing it could read as a message.
    #[error("the input is not an e-mail message: {reason}")]
    Unparseable {
        /// What was wrong with it.
        reason: &'static str,
    },

    /// The message has no `text/plain` part to take as its body, and no
    /// HTML part that could be converted instead. The rest of the message
    /// (headers, attachments) was parsed and comes with the error, so
    /// that the caller can still decide to ignore or bounce it.
    #[error(
        "the message has no text/plain part to use as its body{}",
        if .0.html_seen { " ([mailgw] convert_htmltotext is \"none\", so its HTML was not converted)" } else { "" }
    )]
    NoTextPart(Box<ParsedMail>),

    /// A regular expression option does not compile.
    #[error("[mailgw] {option}: the regular expression {pattern:?} is not usable: {source}")]
    BadRegex {
        /// The option's name.
        option: &'static str,
        /// The expression as configured.
        pattern: String,
        /// What the regex engine said.
        #[source]
        source: Box<regex::Error>,
    },

    /// An option has a value this crate cannot use.
    #[error("[mailgw] {option}: {value:?} is not allowed ({expected})")]
    BadOption {
        /// The option's name.
        option: &'static str,
        /// The value as configured.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },

    /// Reading an option from the tracker configuration failed.
    #[error("reading [{section}] {option} from the tracker configuration: {source}")]
    Config {
        /// The option's section.
        section: &'static str,
        /// The option's name.
        option: &'static str,
        /// The configuration error.
        #[source]
        source: Box<ConfigError>,
    },

    /// The subject starts with `[word]` that is no class name or
    /// designator, and `subject_prefix_parsing` is strict.
    #[error(
        "the subject {subject:?} starts with a [prefix] that names no class of this tracker; \
         use e.g. \"[issue] title\" to open an issue or \"[issue12] ...\" to follow up on issue 12"
    )]
    MalformedPrefix {
        /// The whole subject.
        subject: String,
    },

    /// The class named in the subject is not one of the tracker's (it
    /// matched only when ignoring case) and there is no default class.
    #[error(
        "the subject {subject:?} names the class {classname:?}, which this tracker does not have \
         (its classes: {})",
        valid.join(", ")
    )]
    UnknownClass {
        /// The class as written in the subject.
        classname: String,
        /// The tracker's classes.
        valid: Vec<String>,
        /// The whole subject.
        subject: String,
    },

    /// The subject names no class and the tracker has no default class.
    #[error(
        "the subject {subject:?} names no class and this tracker has no default class for mail; \
         use e.g. \"[issue] title\" to open an issue or \"[issue12] ...\" to follow up on issue 12"
    )]
    NoClass {
        /// The whole subject.
        subject: String,
    },

    /// There is neither a designator nor a title to find the item by.
    #[error(
        "the subject {subject:?} has no title and names no item: give a designator such as \
         [issue12], or keep the item's title in the subject"
    )]
    NoNodeMatch {
        /// The whole subject.
        subject: String,
    },

    /// The designator in the subject names an item that does not exist
    /// (strict prefix parsing).
    #[error("the subject {subject:?} names {designator}, which does not exist")]
    UnknownNode {
        /// The item's designator, e.g. `issue12`.
        designator: String,
        /// The whole subject.
        subject: String,
    },

    /// A piece of the `[prop=value;...]` suffix is not `name=value`.
    #[error(
        "{piece:?} in the subject's [...] suffix is not of the form property=value \
         (pieces are separated by \";\", list values by \",\")"
    )]
    MalformedArgs {
        /// The offending piece.
        piece: String,
        /// The assignments that came before it, which Roundup still
        /// applies when suffix parsing is loose.
        parsed_before: Vec<PropAssignment>,
    },

    /// The subject's `[prop=value;...]` suffix could not be applied and
    /// `subject_suffix_parsing` is strict.
    #[error(
        "the [...] suffix of the subject {subject:?} could not be applied: {}",
        problems.join("; ")
    )]
    BadSubjectArgs {
        /// One line per problem.
        problems: Vec<String>,
        /// The whole subject.
        subject: String,
    },

    /// A file system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "reading the mailbox".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// Another program holds the mailbox's lock.
    #[error("the mailbox {} is locked by another program ({how})", path.display())]
    MailboxLocked {
        /// The mailbox file.
        path: PathBuf,
        /// Which lock was taken: the fcntl lock or the `.lock` file.
        how: &'static str,
    },

    /// Something wrote to the mailbox while we held it.
    #[error(
        "the mailbox {} changed size while it was being read ({expected} bytes, now {found}); \
         it was left as it is",
        path.display()
    )]
    MailboxChanged {
        /// The mailbox file.
        path: PathBuf,
        /// Its size when it was read.
        expected: u64,
        /// Its size now.
        found: u64,
    },

    /// A directory lacks the `new`/`cur` subdirectories of a maildir.
    #[error("{} is not a maildir: it has no {missing}/ directory", path.display())]
    NotAMaildir {
        /// The directory.
        path: PathBuf,
        /// The missing subdirectory.
        missing: &'static str,
    },
}

impl MailError {
    /// Whether the error is about what the sender wrote (so the message
    /// should be bounced back with the error's text), rather than about
    /// the tracker's configuration or the machine.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            MailError::Unparseable { .. }
                | MailError::NoTextPart(_)
                | MailError::MalformedPrefix { .. }
                | MailError::UnknownClass { .. }
                | MailError::NoClass { .. }
                | MailError::NoNodeMatch { .. }
                | MailError::UnknownNode { .. }
                | MailError::MalformedArgs { .. }
                | MailError::BadSubjectArgs { .. }
        )
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        MailError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn bad_regex(option: &'static str, pattern: &str, source: regex::Error) -> Self {
        MailError::BadRegex {
            option,
            pattern: pattern.to_string(),
            source: Box::new(source),
        }
    }

    pub(crate) fn config(section: &'static str, option: &'static str, source: ConfigError) -> Self {
        MailError::Config {
            section,
            option,
            source: Box::new(source),
        }
    }
}
