//! From raw bytes to a [`ParsedMail`]: headers, body text and files.
//!
//! All MIME work (structure, transfer encodings, charsets, RFC 2047 and
//! RFC 2231 words) is mail-parser's and HTML to text is
//! [`crate::dehtml`]'s; this module applies Roundup's rules on top of the
//! tree mail-parser builds:
//!
//! * the body is the first non-empty `text/plain` part found walking the
//!   tree in order; every other part becomes a file, except
//!   * inside a `multipart/alternative`, a later `text/plain` alternative
//!     replaces an earlier one as the body (the earlier one becomes a
//!     file), and with `ignore_alternatives` all other parts of the
//!     alternative that gave the body are dropped;
//!   * the signature part of a `multipart/signed` message is dropped;
//! * `text/html` parts are converted to text and used as the body when no
//!   `text/plain` came first, unless `convert_htmltotext` is `none`; the
//!   HTML itself is kept as a file;
//! * a `message/rfc822` part is one file named after its subject (plus
//!   `.eml`), or, with `unpack_rfc822`, is walked like a multipart;
//! * a part without a name is called `unnamed`;
//! * text parts stored as files are stored as UTF-8 text.

use std::borrow::Cow;

use mail_parser::decoders::base64::base64_decode;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::quoted_printable_decode;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    Encoding, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use roundup_core::config::Config;

use crate::{options, MailError};

/// The name Roundup gives a file whose part has none.
pub const UNNAMED: &str = "unnamed";

/// A mailbox from an address header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Address {
    /// The display name, decoded; empty when there is none.
    pub name: String,
    /// The address itself (`user@example.com`); empty when the header
    /// had only a name.
    pub email: String,
}

/// A part of the message that is stored as a file.
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The file name from the part's headers, [`UNNAMED`] when it has
    /// none; a forwarded message is named after its subject plus `.eml`.
    pub name: String,
    /// The part's MIME type, lower case, without parameters.
    pub mime_type: String,
    /// The decoded content. Text parts (and parts with a charset) are
    /// converted to UTF-8; others are the bytes as sent.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .field("mime_type", &self.mime_type)
            .field("data", &format_args!("{} bytes", self.data.len()))
            .finish()
    }
}

/// Which HTML to text converter `[mailgw] convert_htmltotext` names.
///
/// Roundup uses BeautifulSoup or justhtml when they are installed and its
/// own `dehtml` otherwise; here all three give `dehtml`'s text (see
/// [`crate::dehtml`]), and `None` turns conversion off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HtmlToText {
    /// HTML-only mail is refused.
    #[default]
    None,
    /// Roundup's built-in converter.
    Dehtml,
    /// BeautifulSoup 4.
    BeautifulSoup,
    /// justhtml.
    JustHtml,
}

impl HtmlToText {
    /// Whether HTML parts are converted at all.
    pub fn enabled(self) -> bool {
        self != HtmlToText::None
    }
}

impl std::str::FromStr for HtmlToText {
    type Err = MailError;

    fn from_str(s: &str) -> Result<Self, MailError> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(HtmlToText::None),
            "dehtml" => Ok(HtmlToText::Dehtml),
            "beautifulsoup" => Ok(HtmlToText::BeautifulSoup),
            "justhtml" => Ok(HtmlToText::JustHtml),
            _ => Err(MailError::BadOption {
                option: "convert_htmltotext",
                value: s.to_string(),
                expected: "beautifulsoup, justhtml, dehtml or none",
            }),
        }
    }
}

/// The `[mailgw]` options that decide what of a message becomes its body
/// and what becomes files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BodyOptions {
    /// `ignore_alternatives`: drop the other parts of the
    /// `multipart/alternative` the body was taken from.
    pub ignore_alternatives: bool,
    /// `unpack_rfc822`: store the parts of an attached message one by
    /// one instead of the message as one file.
    pub unpack_rfc822: bool,
    /// `convert_htmltotext`.
    pub convert_htmltotext: HtmlToText,
}

impl BodyOptions {
    /// The options as the tracker configures them.
    pub fn from_config(config: &Config) -> Result<Self, MailError> {
        Ok(BodyOptions {
            ignore_alternatives: options::flag(config, "ignore_alternatives")?,
            unpack_rfc822: options::flag(config, "unpack_rfc822")?,
            convert_htmltotext: options::text(config, "convert_htmltotext")?.parse()?,
        })
    }
}

/// Whether the message is signed or encrypted with OpenPGP/MIME
/// (RFC 3156). Checking signatures and decrypting is not done here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pgp {
    /// A plain message.
    #[default]
    None,
    /// `multipart/signed` with `protocol="application/pgp-signature"`.
    Signed,
    /// `multipart/encrypted` with `protocol="application/pgp-encrypted"`.
    Encrypted,
}

/// Why the gateway should drop a message without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IgnoreReason {
    /// It carries `X-Roundup-Loop`: the tracker sent it itself.
    Loop,
    /// `Precedence: bulk`, i.e. from a mailing list.
    Bulk,
    /// `Auto-Submitted` is present and not `no` (RFC 3834).
    AutoSubmitted,
    /// The subject says "autoreply" (past its first character).
    AutoReplySubject,
}

impl IgnoreReason {
    /// Whether this is a mail loop rather than bulk or automatic mail.
    pub fn is_loop(self) -> bool {
        self == IgnoreReason::Loop
    }
}

/// A message taken apart the way Roundup's mail gateway needs it.
#[derive(Clone, Debug, Default)]
pub struct ParsedMail {
    /// The first address of `From:`.
    pub from: Option<Address>,
    /// The first address of `Resent-From:` (see [`ParsedMail::author`]).
    pub resent_from: Option<Address>,
    /// Every address of every `To:` header.
    pub to: Vec<Address>,
    /// Every address of every `Cc:` header.
    pub cc: Vec<Address>,
    /// Every address of every `Reply-To:` header.
    pub reply_to: Vec<Address>,
    /// The decoded subject, folding removed; empty when there is none.
    pub subject: String,
    /// `Message-ID:` as written, angle brackets included.
    pub message_id: Option<String>,
    /// `In-Reply-To:` as written.
    pub in_reply_to: Option<String>,
    /// The ids of `References:`, each in angle brackets.
    pub references: Vec<String>,
    /// `Date:` as Unix seconds, when it is a valid date.
    pub date: Option<i64>,
    /// The text Roundup takes as the message's content (before quotes and
    /// signatures are stripped, see [`crate::parse_content`]).
    pub body: String,
    /// Whether [`ParsedMail::body`] was converted from a `text/html` part.
    pub body_from_html: bool,
    /// Whether the message has a `text/html` part anywhere.
    pub html_seen: bool,
    /// The parts stored as files, in message order.
    pub attachments: Vec<Attachment>,
    /// OpenPGP/MIME wrapping of the whole message.
    pub pgp: Pgp,
    headers: Vec<(String, String)>,
}

impl ParsedMail {
    /// The first header called `name` (any case), decoded (RFC 2047) and
    /// unfolded, without surrounding white space.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name`, in order, decoded like
    /// [`ParsedMail::header`].
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All headers as (name, decoded value), in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Who sent the message: `Resent-From:` when there is one (a message
    /// bounced on to the tracker), else `From:`; with `keep_real_from`
    /// (`[mailgw] keep_real_from`) always `From:`.
    pub fn author(&self, keep_real_from: bool) -> Option<&Address> {
        if keep_real_from {
            self.from.as_ref()
        } else {
            self.resent_from.as_ref().or(self.from.as_ref())
        }
    }

    /// Why the gateway should drop this message, if it should: loops
    /// (`X-Roundup-Loop`), list mail (`Precedence: bulk`), automatic
    /// replies (`Auto-Submitted` other than `no`, or "autoreply" in the
    /// subject after its first character).
    pub fn ignore_reason(&self) -> Option<IgnoreReason> {
        if self.header("x-roundup-loop").is_some_and(|v| !v.is_empty()) {
            return Some(IgnoreReason::Loop);
        }
        if self.header("precedence") == Some("bulk") {
            return Some(IgnoreReason::Bulk);
        }
        // An empty Auto-Submitted counts as "not no", as in Roundup.
        if let Some(auto) = self.header("auto-submitted") {
            if !auto.trim_end().eq_ignore_ascii_case("no") {
                return Some(IgnoreReason::AutoSubmitted);
            }
        }
        if self
            .subject
            .to_lowercase()
            .find("autoreply")
            .is_some_and(|at| at > 0)
        {
            return Some(IgnoreReason::AutoReplySubject);
        }
        None
    }

    /// Whether the message asks for the gateway's help text: its subject
    /// is just "help", in any case.
    pub fn is_help_request(&self) -> bool {
        self.subject.trim().eq_ignore_ascii_case("help")
    }
}

/// Parses a raw RFC 5322 message (CRLF or LF line ends) and picks its
/// body and files by Roundup's rules (see the module documentation).
///
/// Malformed mail is read as leniently as mail-parser allows. Errors:
/// [`MailError::Unparseable`] when there is no message at all (empty
/// input), [`MailError::NoTextPart`] when there is nothing to use as the
/// body; that error carries the rest of the parsed message.
pub fn parse_message(raw: &[u8], opts: &BodyOptions) -> Result<ParsedMail, MailError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MailError::Unparseable {
            reason: "it is empty",
        });
    }
    let message = MessageParser::default()
        .parse(raw)
        .ok_or(MailError::Unparseable {
            reason: "mail-parser found no header block",
        })?;

    let mut mail = read_headers(&message);
    let root = Entity {
        msg: &message,
        part: message.root_part(),
        in_digest: false,
    };
    mail.pgp = root.pgp();

    let mut walker = Walker {
        opts,
        html_seen: false,
    };
    let found = walker.extract(root, None, opts.ignore_alternatives);
    mail.html_seen = walker.html_seen;
    mail.attachments = found.attachments;
    match found.content {
        Some(body) => {
            mail.body = body;
            mail.body_from_html = found.body_is_html;
            Ok(mail)
        }
        None => Err(MailError::NoTextPart(Box::new(mail))),
    }
}

/// The two parts of an OpenPGP/MIME message (RFC 3156), as checking a
/// signature or decrypting needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgpParts {
    /// The first part as sent, headers and body, up to (not including)
    /// the line break before the next boundary: what a
    /// `multipart/signed` signature is over.
    pub first_raw: Vec<u8>,
    /// The first part's type (`application/pgp-encrypted` for an
    /// encrypted message).
    pub first_type: String,
    /// The first part's decoded body (`Version: 1` for an encrypted
    /// message).
    pub first_body: Vec<u8>,
    /// The second part's type (`application/pgp-signature` for a signed
    /// message).
    pub second_type: String,
    /// The second part's decoded body: the signature, or the encrypted
    /// message.
    pub second_body: Vec<u8>,
}

/// The parts of a `multipart/signed` or `multipart/encrypted` message;
/// `None` when the message is not one or has fewer than two parts.
pub fn pgp_parts(raw: &[u8]) -> Option<PgpParts> {
    let message = MessageParser::default().parse(raw)?;
    let root = Entity {
        msg: &message,
        part: message.root_part(),
        in_digest: false,
    };
    if root.pgp() == Pgp::None {
        return None;
    }
    let children = root.children()?;
    let (first, second) = (children.first()?, children.get(1)?);
    // mail-parser ends a part before the line break that precedes the
    // next boundary (which belongs to the boundary, RFC 2046).
    let start = first.part.offset_header as usize;
    let end = (first.part.offset_end as usize).min(raw.len());
    let body = |e: &Entity<'_, '_>| -> Vec<u8> {
        match &e.part.body {
            PartType::Text(t) | PartType::Html(t) => t.as_bytes().to_vec(),
            PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
            PartType::Message(m) => m.raw_message().to_vec(),
            PartType::Multipart(_) => Vec::new(),
        }
    };
    Some(PgpParts {
        first_raw: raw.get(start..end.max(start))?.to_vec(),
        first_type: first.mime_type(),
        first_body: body(first),
        second_type: second.mime_type(),
        second_body: body(second),
    })
}

fn read_headers(message: &Message<'_>) -> ParsedMail {
    // Every header is decoded again from its raw bytes, so that raw 8-bit
    // bytes that are not UTF-8 can be read as Latin-1 first.
    let raw_headers: Vec<(&str, Cow<'_, [u8]>)> = message
        .headers()
        .iter()
        .map(|h| {
            let raw = message
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            (h.name.as_str(), header_bytes(raw))
        })
        .collect();
    let named = |name: &'static str| {
        raw_headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, raw)| raw.as_ref())
    };
    let addresses = |name| named(name).flat_map(parse_addresses).collect::<Vec<_>>();
    let mut mail = ParsedMail {
        from: addresses("From").into_iter().next(),
        resent_from: addresses("Resent-From").into_iter().next(),
        to: addresses("To"),
        cc: addresses("Cc"),
        reply_to: addresses("Reply-To"),
        date: named("Date")
            .next()
            .and_then(|raw| match MessageStream::new(raw).parse_date() {
                HeaderValue::DateTime(d) if d.is_valid() => Some(d.to_timestamp()),
                _ => None,
            }),
        references: named("References")
            .flat_map(|raw| message_ids(&MessageStream::new(raw).parse_id()))
            .collect(),
        headers: raw_headers
            .iter()
            .map(|(name, raw)| (name.to_string(), decode_unstructured(raw)))
            .collect(),
        ..ParsedMail::default()
    };
    mail.subject = mail.header("subject").unwrap_or_default().to_string();
    mail.message_id = non_empty(mail.header("message-id"));
    mail.in_reply_to = non_empty(mail.header("in-reply-to"));
    mail
}

/// A header's raw value ready for mail-parser's field parsers: bytes that
/// are not UTF-8 read as Latin-1 (mail-parser would make them U+FFFD;
/// Python's email package fails), and ending in a line end, which the
/// parsers need to finish (the last header of a message without body may
/// lack one).
fn header_bytes(raw: &[u8]) -> Cow<'_, [u8]> {
    let mut value = if std::str::from_utf8(raw).is_ok() {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(decode_fallback(raw).into_bytes())
    };
    if !value.ends_with(b"\n") {
        value.to_mut().push(b'\n');
    }
    value
}

/// A header's raw value read as unstructured text: folding removed,
/// encoded words decoded.
fn decode_unstructured(raw: &[u8]) -> String {
    match MessageStream::new(raw).parse_unstructured() {
        HeaderValue::Text(text) => text.trim().to_string(),
        HeaderValue::TextList(list) => list.join(" ").trim().to_string(),
        _ => String::new(),
    }
}

/// The mailboxes of an address header's raw value (groups flattened).
fn parse_addresses(raw: &[u8]) -> Vec<Address> {
    let value = MessageStream::new(raw).parse_address();
    let Some(list) = value.as_address() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|addr| {
            let name = addr.name.as_deref().unwrap_or_default().trim();
            let email = addr.address.as_deref().unwrap_or_default().trim();
            (!name.is_empty() || !email.is_empty()).then(|| Address {
                name: name.to_string(),
                email: email.to_string(),
            })
        })
        .collect()
}

fn non_empty(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn message_ids(value: &HeaderValue<'_>) -> Vec<String> {
    let wrap = |id: &str| format!("<{}>", id.trim());
    match value {
        HeaderValue::Text(id) => vec![wrap(id)],
        HeaderValue::TextList(ids) => ids.iter().map(|id| wrap(id)).collect(),
        _ => Vec::new(),
    }
}

/// Decodes text whose charset is missing or unknown: UTF-8 when the
/// bytes are valid UTF-8, else ISO-8859-1 (Roundup's fallback; mail-parser
/// reads that label as Windows-1252, its superset).
fn decode_fallback(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => match charset_decoder(b"iso-8859-1") {
            Some(decode) => decode(bytes),
            None => String::from_utf8_lossy(bytes).into_owned(),
        },
    }
}

fn is_utf8_label(charset: &str) -> bool {
    matches!(charset.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
}

/// One MIME entity, with the message whose raw bytes its offsets index.
#[derive(Clone, Copy)]
struct Entity<'m, 'x> {
    msg: &'m Message<'x>,
    part: &'m MessagePart<'x>,
    /// Whether the parent is a `multipart/digest` (whose parts default to
    /// `message/rfc822`).
    in_digest: bool,
}

impl<'m, 'x> Entity<'m, 'x> {
    /// The content type, lower case, with Python's defaults: `text/plain`
    /// when missing or invalid, `message/rfc822` when missing in a digest.
    fn mime_type(&self) -> String {
        match self.part.content_type() {
            Some(ct) => match ct.subtype() {
                Some(sub) if !ct.ctype().is_empty() && !sub.is_empty() => format!(
                    "{}/{}",
                    ct.ctype().to_ascii_lowercase(),
                    sub.to_ascii_lowercase()
                ),
                _ => "text/plain".to_string(),
            },
            None if self.in_digest => "message/rfc822".to_string(),
            None => "text/plain".to_string(),
        }
    }

    fn param(&self, name: &str) -> Option<&'m str> {
        self.part.content_type().and_then(|ct| ct.attribute(name))
    }

    fn charset(&self) -> Option<&'m str> {
        self.param("charset").filter(|c| !c.trim().is_empty())
    }

    /// Whether mail-parser decoded the text with the declared charset.
    fn charset_understood(&self) -> bool {
        self.charset()
            .is_some_and(|c| is_utf8_label(c) || charset_decoder(c.as_bytes()).is_some())
    }

    fn filename(&self) -> Option<String> {
        self.part
            .attachment_name()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }

    /// The sub-entities of a multipart, or the one message inside a
    /// `message/rfc822`; `None` for a leaf.
    fn children(&self) -> Option<Vec<Entity<'m, 'x>>> {
        match &self.part.body {
            PartType::Multipart(ids) => {
                let in_digest = self.mime_type() == "multipart/digest";
                Some(
                    ids.iter()
                        .filter_map(|&id| self.msg.parts.get(id as usize))
                        .map(|part| Entity {
                            msg: self.msg,
                            part,
                            in_digest,
                        })
                        .collect(),
                )
            }
            PartType::Message(inner) => Some(
                inner
                    .parts
                    .first()
                    .map(|part| Entity {
                        msg: inner,
                        part,
                        in_digest: false,
                    })
                    .into_iter()
                    .collect(),
            ),
            _ => None,
        }
    }

    /// The body after its transfer encoding is undone, read again from
    /// the raw message.
    fn transfer_decoded(&self) -> Option<Vec<u8>> {
        let raw = self
            .msg
            .raw_message
            .get(self.part.offset_body as usize..self.part.offset_end as usize)?;
        match self.part.encoding {
            Encoding::None => Some(raw.to_vec()),
            Encoding::Base64 => base64_decode(raw),
            Encoding::QuotedPrintable => quoted_printable_decode(raw),
        }
    }

    /// The body as text.
    fn text(&self) -> String {
        match &self.part.body {
            PartType::Text(text) | PartType::Html(text) => {
                // Without a usable charset mail-parser reads the bytes as
                // UTF-8; when they are not, fall back to Latin-1.
                if !self.charset_understood() && text.contains(char::REPLACEMENT_CHARACTER) {
                    if let Some(bytes) = self.transfer_decoded() {
                        return decode_fallback(&bytes);
                    }
                }
                text.to_string()
            }
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => self.decode(bytes),
            PartType::Message(inner) => decode_fallback(inner.raw_message()),
            PartType::Multipart(_) => String::new(),
        }
    }

    fn decode(&self, bytes: &[u8]) -> String {
        match self.charset() {
            Some(c) if is_utf8_label(c) => String::from_utf8_lossy(bytes).into_owned(),
            Some(c) => match charset_decoder(c.as_bytes()) {
                Some(decode) => decode(bytes),
                None => decode_fallback(bytes),
            },
            None => decode_fallback(bytes),
        }
    }

    /// The entity stored as a file.
    fn as_attachment(&self) -> Attachment {
        let mime_type = self.mime_type();
        let mut name = self.filename();
        let data = match &self.part.body {
            PartType::Message(inner) => {
                // A forwarded message is named after its subject.
                if let Some(subject) = inner.subject().map(str::trim).filter(|s| !s.is_empty()) {
                    name = Some(format!("{subject}.eml"));
                }
                inner.raw_message().to_vec()
            }
            PartType::Text(_) | PartType::Html(_) => self.text().into_bytes(),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
                if self.charset().is_some() || mime_type.starts_with("text/") {
                    self.decode(bytes).into_bytes()
                } else {
                    bytes.to_vec()
                }
            }
            PartType::Multipart(_) => Vec::new(),
        };
        Attachment {
            name: name.unwrap_or_else(|| UNNAMED.to_string()),
            mime_type,
            data,
        }
    }

    /// The first `text/plain` entity inside this one (itself, when it is
    /// a leaf) as a file: what is kept of a text part that lost the body
    /// to another one.
    fn text_as_attachment(&self) -> Option<Attachment> {
        let Some(children) = self.children() else {
            return Some(self.as_attachment());
        };
        children.iter().find_map(|child| {
            if child.children().is_some() {
                child.text_as_attachment()
            } else if child.mime_type() == "text/plain" {
                Some(child.as_attachment())
            } else {
                None
            }
        })
    }

    fn pgp(&self) -> Pgp {
        let protocol = self.param("protocol").map(str::to_ascii_lowercase);
        match (self.mime_type().as_str(), protocol.as_deref()) {
            ("multipart/signed", Some("application/pgp-signature")) => Pgp::Signed,
            ("multipart/encrypted", Some("application/pgp-encrypted")) => Pgp::Encrypted,
            _ => Pgp::None,
        }
    }
}

/// What one entity contributes: its body candidate and its files.
#[derive(Default)]
struct Extracted {
    /// `Some("")` is an empty text part: it counts as no body when a later
    /// part could give one, but unlike `None` it is a body in the end.
    content: Option<String>,
    attachments: Vec<Attachment>,
    /// Python's "this part is converted HTML" flag, which a multipart
    /// does not pass up.
    from_html: bool,
    /// Whether `content` came from converted HTML, passed up.
    body_is_html: bool,
}

/// Roundup's `dehtml` conversion (see [`crate::dehtml`]).
fn html_as_text(html: &str) -> String {
    crate::dehtml::html_to_text(html)
}

fn has_text(content: &Option<String>) -> bool {
    content.as_deref().is_some_and(|c| !c.is_empty())
}

struct Walker<'o> {
    opts: &'o BodyOptions,
    html_seen: bool,
}

impl Walker<'_> {
    fn extract(
        &mut self,
        entity: Entity<'_, '_>,
        parent_type: Option<&str>,
        ignore_alternatives: bool,
    ) -> Extracted {
        let mime_type = entity.mime_type();
        let mut out = Extracted::default();
        if mime_type == "text/html" {
            self.html_seen = true;
        }
        if mime_type == "text/plain" {
            out.content = Some(entity.text());
        } else if mime_type == "text/html" && self.opts.convert_htmltotext.enabled() {
            out.content = Some(html_as_text(&entity.text()));
            out.attachments.push(entity.as_attachment());
            out.from_html = true;
            out.body_is_html = true;
        } else if mime_type == "message/rfc822" && !self.opts.unpack_rfc822 {
            out.attachments.push(entity.as_attachment());
        } else if mime_type == "message/delivery-status" {
            // Python reads a delivery status as header blocks, each an
            // empty text part: Roundup keeps nothing of it.
            out.content = Some(String::new());
        } else if let Some(children) = entity.children() {
            self.extract_children(&mime_type, children, ignore_alternatives, &mut out);
        } else if parent_type == Some("multipart/signed")
            && mime_type == "application/pgp-signature"
        {
            // The detached signature is not kept.
        } else {
            out.attachments.push(entity.as_attachment());
        }
        out
    }

    fn extract_children(
        &mut self,
        mime_type: &str,
        children: Vec<Entity<'_, '_>>,
        ignore_alternatives: bool,
        out: &mut Extracted,
    ) {
        let alternative = mime_type == "multipart/alternative";
        let mut content: Option<String> = None;
        let mut body_is_html = false;
        let mut chosen: Option<Entity<'_, '_>> = None;
        let mut html_chosen = false;
        for child in children {
            let pass_ignore = ignore_alternatives && !has_text(&content);
            let found = self.extract(child, Some(mime_type), pass_ignore);
            if !has_text(&content) {
                content = found.content;
                body_is_html = found.body_is_html;
                chosen = Some(child);
                html_chosen |= found.from_html;
            } else if has_text(&found.content) && !found.from_html {
                if !alternative {
                    // A second text part of a mixed message is a file.
                    out.attachments.extend(child.text_as_attachment());
                } else if html_chosen {
                    // Plain text after converted HTML: the text wins, the
                    // HTML is already kept as a file.
                    content = found.content;
                    body_is_html = found.body_is_html;
                    chosen = Some(child);
                } else {
                    // Later alternatives are the better ones (RFC 2046
                    // 5.1.4): the earlier text becomes a file.
                    if let Some(earlier) = chosen {
                        out.attachments.extend(earlier.text_as_attachment());
                    }
                    content = found.content;
                    body_is_html = found.body_is_html;
                    chosen = Some(child);
                }
            }
            out.attachments.extend(found.attachments);
        }
        if ignore_alternatives && alternative && has_text(&content) {
            out.attachments.clear();
        }
        out.content = content;
        out.body_is_html = body_is_html;
        out.from_html = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> ParsedMail {
        parse_message(raw.as_bytes(), &BodyOptions::default()).unwrap()
    }

    #[test]
    fn simple_message_headers_and_body() {
        let mail = parse(
            "From: Ann Example <ann@example.com>\r\n\
             To: tracker@example.org, \"Doe, John\" <john@example.net>\r\n\
             Cc: bob@example.com\r\n\
             Subject: [issue12]  the printer\r\n  is on fire\r\n\
             Message-ID: <m1@example.com>\r\n\
             In-Reply-To: <m0@example.com>\r\n\
             References: <a@x> <m0@example.com>\r\n\
             Date: Tue, 02 Jan 2024 10:00:00 +0100\r\n\
             X-Roundup-Issue-Status: open\r\n\
             \r\n\
             It is burning.\r\n",
        );
        assert_eq!(
            mail.from,
            Some(Address {
                name: "Ann Example".into(),
                email: "ann@example.com".into()
            })
        );
        assert_eq!(mail.to.len(), 2);
        assert_eq!(mail.to[1].name, "Doe, John");
        assert_eq!(mail.to[1].email, "john@example.net");
        assert_eq!(mail.cc[0].email, "bob@example.com");
        assert_eq!(mail.subject, "[issue12]  the printer is on fire");
        assert_eq!(mail.message_id.as_deref(), Some("<m1@example.com>"));
        assert_eq!(mail.in_reply_to.as_deref(), Some("<m0@example.com>"));
        assert_eq!(mail.references, ["<a@x>", "<m0@example.com>"]);
        assert_eq!(mail.date, Some(1_704_186_000));
        assert_eq!(mail.header("x-roundup-issue-status"), Some("open"));
        assert_eq!(mail.header("X-ROUNDUP-ISSUE-STATUS"), Some("open"));
        assert_eq!(mail.header("x-missing"), None);
        assert_eq!(mail.body, "It is burning.\r\n");
        assert!(mail.attachments.is_empty());
        assert_eq!(mail.pgp, Pgp::None);
        assert_eq!(mail.ignore_reason(), None);
    }

    #[test]
    fn empty_input_is_an_error_not_a_panic() {
        for raw in [&b""[..], b"\r\n\r\n", b"   "] {
            let err = parse_message(raw, &BodyOptions::default()).unwrap_err();
            assert!(matches!(err, MailError::Unparseable { .. }), "{err}");
        }
    }

    #[test]
    fn headers_only_without_final_newline() {
        let mail = parse("From: a@b.example\nSubject: =?utf-8?q?caf=C3=A9?=");
        assert_eq!(mail.subject, "café");
        assert_eq!(mail.from.unwrap().email, "a@b.example");
        assert_eq!(mail.body, "");
    }

    #[test]
    fn groups_and_odd_address_lists() {
        let mail = parse(
            "From: a@b.example\n\
             To: undisclosed-recipients:;\n\
             Cc: Team: ann@x.example, \"Bob B.\" <bob@x.example>;, carol@y.example\n\
             \n\
             x",
        );
        assert!(mail.to.is_empty());
        let cc: Vec<_> = mail.cc.iter().map(|a| a.email.as_str()).collect();
        assert_eq!(cc, ["ann@x.example", "bob@x.example", "carol@y.example"]);
        assert_eq!(mail.cc[1].name, "Bob B.");
    }

    #[test]
    fn author_prefers_resent_from() {
        let mail =
            parse("From: orig@example.com\nResent-From: moderator@example.com\nSubject: x\n\nhi\n");
        assert_eq!(mail.author(false).unwrap().email, "moderator@example.com");
        assert_eq!(mail.author(true).unwrap().email, "orig@example.com");
    }

    #[test]
    fn ignore_reasons() {
        let reason =
            |headers: &str| parse(&format!("From: a@b.c\n{headers}\n\nx\n")).ignore_reason();
        assert_eq!(reason("X-Roundup-Loop: hello"), Some(IgnoreReason::Loop));
        assert_eq!(reason("Precedence: bulk"), Some(IgnoreReason::Bulk));
        assert_eq!(reason("Precedence: list"), None);
        assert_eq!(
            reason("Auto-Submitted: auto-replied"),
            Some(IgnoreReason::AutoSubmitted)
        );
        assert_eq!(reason("Auto-Submitted: No  "), None);
        assert_eq!(
            reason("Subject: Out of office AutoReply"),
            Some(IgnoreReason::AutoReplySubject)
        );
        // At the very start it does not count (Roundup tests `find(...) > 0`).
        assert_eq!(reason("Subject: autoreply: away"), None);
        assert!(parse("Subject:  Help \n\nx").is_help_request());
        assert!(!parse("Subject: help me\n\nx").is_help_request());
    }

    #[test]
    fn options_from_strings() {
        assert_eq!("DeHtml".parse::<HtmlToText>().unwrap(), HtmlToText::Dehtml);
        assert!("lynx".parse::<HtmlToText>().is_err());
    }
}
