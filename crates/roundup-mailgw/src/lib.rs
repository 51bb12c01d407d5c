//! The parts of Roundup's e-mail gateway that need no tracker database.
//!
//! Mail reaches a tracker as raw bytes (from a pipe, an mbox file or a
//! maildir, see [`sources`]). [`parse_message`] turns them into a
//! [`ParsedMail`]: decoded headers, the text Roundup keeps as the message
//! body and the parts it stores as files. [`parse_subject`] reads the
//! subject line the way the gateway does (`Re: [issue12] title
//! [status=open]`), and [`parse_content`] strips quotes and signatures
//! and picks the summary line of a message body.
//!
//! [`fetch`] gets mail from POP3 and IMAP servers for the network
//! sources, handing each message to a callback and deleting it on the
//! server only once the callback took it.
//!
//! Everything that looks at the tracker (users, items, permissions) is
//! left to the caller; the functions here take what they need of it as
//! plain arguments, e.g. the list of class names.

mod error;
mod options;

pub mod body;
pub mod dehtml;
pub mod fetch;
pub mod gateway;
pub mod parse;
pub mod sources;
pub mod subject;

pub use body::{parse_content, ContentOptions, YesNoNew};
pub use error::MailError;
pub use parse::{
    parse_message, pgp_parts, Address, Attachment, BodyOptions, HtmlToText, IgnoreReason,
    ParsedMail, Pgp, PgpParts,
};
pub use sources::{maildir_messages, mark_done, read_mbox, Mbox, MboxMessage};
pub use subject::{
    parse_args, parse_subject, registration_key, ContentMatch, ParsedSubject, ParsingMode,
    PropAssignment, SubjectOptions,
};

/// A line for the gateway's log (standard error, which the MTA or cron
/// keeps).
pub(crate) fn log(line: &str) {
    roundup_core::errln!("roundup-mailgw: {line}");
}
