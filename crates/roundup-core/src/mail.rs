//! Outgoing mail as the core sees it: what a notification says, the
//! settings that shape it, and the durable outbox.
//!
//! The core decides *what* is sent and *to whom* (see [`crate::nosy`]);
//! turning a [`Notification`] into MIME bytes and handing them to an SMTP
//! server (or the `[mail] debug` file) is the job of a [`Mailer`], which
//! the `roundup-mail` crate implements and the tracker installs on every
//! connection ([`crate::db::Db::with_mail`]).
//!
//! Mail is never sent from inside a transaction. A message is first
//! written to the tracker database's outbox in the same transaction as
//! the change it reports ([`crate::db::Db::queue_mail`]); after the commit
//! the connection hands due outbox entries to the mailer, removing each
//! one delivered and keeping the others with a later retry time. A
//! rollback takes the queued messages with it; an SMTP outage delays mail
//! and loses none.

use crate::config::Config;

/// One file sent along with a notification.
#[derive(Clone, Debug, PartialEq)]
pub struct MailAttachment {
    pub name: String,
    pub mime_type: String,
    pub data: Vec<u8>,
}

/// What the `Reply-To` header of a notification says.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyTo {
    /// The tracker: `"<tracker name>" <from address>`.
    Tracker,
    /// The author of the message (`replyto_address = AUTHOR`).
    Author { name: String, address: String },
    /// A fixed address from `[tracker] replyto_address`.
    Fixed(String),
}

/// A message about an item, addressed and worded, not yet encoded.
#[derive(Clone, Debug, PartialEq)]
pub struct Notification {
    /// Display name of the `From` header (author's name and the from tag).
    pub from_name: String,
    /// Address of the `From` header (the tracker's address by default).
    pub from_address: String,
    /// Recipients shown in `To` (each gets a copy of their own when
    /// `[nosy] email_sending` is `multiple`).
    pub to: Vec<String>,
    /// Recipients not shown in any header.
    pub bcc: Vec<String>,
    pub subject: String,
    pub reply_to: ReplyTo,
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Further headers (`X-Roundup-issue-status`, ..., the caller's own).
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub attachments: Vec<MailAttachment>,
    /// One message per recipient (`[nosy] email_sending = multiple`)
    /// rather than one for all.
    pub separate: bool,
    /// Sent PGP encrypted to each recipient's key (`[pgp] encrypt`, for
    /// the recipients with `[pgp] roles`).
    pub encrypt: bool,
}

/// A plain message from the tracker itself (registration, password reset,
/// error replies of the mail gateway).
#[derive(Clone, Debug, PartialEq)]
pub struct PlainMail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    /// `(name, address)` of the sender; the tracker (name and admin
    /// address) when `None`.
    pub author: Option<(String, String)>,
    /// Further parts after the text (a bounced message, for example).
    pub attachments: Vec<MailAttachment>,
}

/// A composed message on its way out.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The SMTP envelope sender (bounces go there: the admin address).
    pub sender: String,
    pub recipients: Vec<String>,
    /// The whole RFC 5322 message, 7-bit clean.
    pub message: String,
}

/// One message waiting in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    /// When it was queued (seconds since the epoch).
    pub queued: f64,
    pub envelope: Envelope,
    /// How many deliveries were tried and failed.
    pub attempts: i64,
    /// Not to be tried again before this time (seconds since the epoch).
    pub next_try: f64,
    /// Why the last try failed.
    pub last_error: Option<String>,
}

/// Turns messages into bytes and delivers them.
pub trait Mailer: Send + Sync {
    /// Compose one message per envelope for a notification (one for all
    /// recipients, or one each, per `[nosy] email_sending`; the bcc list
    /// gets the first message's text).
    fn compose_notification(&self, n: &Notification) -> crate::Result<Vec<Envelope>>;
    /// Compose a plain message from the tracker.
    fn compose_plain(&self, m: &PlainMail) -> crate::Result<Envelope>;
    /// Compose a plain message encrypted to its recipients' PGP keys, to
    /// those recipients that have a key; `None` when none has (or the
    /// mailer cannot encrypt).
    fn compose_plain_encrypted(&self, _m: &PlainMail) -> crate::Result<Option<Envelope>> {
        Ok(None)
    }
    /// Hand one composed message to the mail server (or the debug file).
    /// `Err` says why it could not be delivered.
    fn deliver(&self, envelope: &Envelope) -> Result<(), String>;
    /// Whether a mail server (or the debug file) is configured at all.
    fn configured(&self) -> bool {
        true
    }
    /// On how many connections at once messages may be handed over:
    /// `deliver` is then called from that many threads.
    fn connections(&self) -> usize {
        1
    }
}

/// How `messages_to_author` decides whether the author gets a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToAuthor {
    No,
    Yes,
    /// Only for the message that creates the item.
    New,
    /// Only when the author is on the nosy list.
    Nosy,
}

/// Where the tracker's signature goes in a notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignaturePosition {
    Top,
    Bottom,
    None,
}

/// The configuration a notification is built from (`[nosy]`, `[mail]`,
/// `[tracker]` and a few `[main]` options), read once per tracker.
#[derive(Clone, Debug, PartialEq)]
pub struct NosySettings {
    pub messages_to_author: ToAuthor,
    pub signature_position: SignaturePosition,
    /// One message for all recipients (`single`) or one each.
    pub single_message: bool,
    pub max_attachment_size: u64,
    pub add_authorinfo: bool,
    pub add_authoremail: bool,
    pub tracker_name: String,
    pub tracker_web: String,
    pub tracker_email: String,
    /// `[tracker] replyto_address`, empty when unset.
    pub replyto_address: String,
    pub email_from_tag: String,
    pub mail_domain: String,
    /// `[pgp] enable` and `encrypt` both on: notifications to the users
    /// with `pgp_roles` are encrypted.
    pub pgp_encrypt: bool,
    /// `[pgp] roles`, lower case; empty means every user.
    pub pgp_roles: Vec<String>,
}

impl NosySettings {
    /// Read the settings from a tracker's configuration. Unset options
    /// that Roundup requires only when mail is sent come out empty.
    pub fn from_config(c: &Config) -> NosySettings {
        let s = |sec: &str, opt: &str| c.get_str(sec, opt).unwrap_or_default();
        let b = |sec: &str, opt: &str, d: bool| c.get_bool(sec, opt).unwrap_or(d);
        NosySettings {
            messages_to_author: match s("nosy", "messages_to_author").to_lowercase().as_str() {
                "yes" => ToAuthor::Yes,
                "new" => ToAuthor::New,
                "nosy" => ToAuthor::Nosy,
                _ => ToAuthor::No,
            },
            signature_position: match s("nosy", "signature_position").to_lowercase().as_str() {
                "top" => SignaturePosition::Top,
                "none" => SignaturePosition::None,
                _ => SignaturePosition::Bottom,
            },
            single_message: s("nosy", "email_sending").eq_ignore_ascii_case("single"),
            max_attachment_size: c
                .get_int("nosy", "max_attachment_size")
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(u64::MAX),
            add_authorinfo: b("mail", "add_authorinfo", true),
            add_authoremail: b("mail", "add_authoremail", true),
            tracker_name: s("tracker", "name"),
            tracker_web: s("tracker", "web"),
            tracker_email: s("tracker", "email"),
            replyto_address: s("tracker", "replyto_address"),
            email_from_tag: s("main", "email_from_tag"),
            mail_domain: s("mail", "domain"),
            pgp_encrypt: b("pgp", "enable", false) && b("pgp", "encrypt", false),
            pgp_roles: crate::security::parse_roles(&s("pgp", "roles")),
        }
    }
}

/// What a connection needs to send mail: the settings and the mailer.
pub struct MailSetup {
    pub settings: NosySettings,
    pub mailer: std::sync::Arc<dyn Mailer>,
}

impl std::fmt::Debug for MailSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSetup")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How long an outbox entry waits before its next try after `attempts`
/// failed ones: a minute, doubling up to an hour.
pub fn retry_delay(attempts: i64) -> f64 {
    let exp = attempts.clamp(0, 6) as u32;
    (60.0 * f64::from(2u32.pow(exp))).min(3600.0)
}

/// Seconds since the epoch, now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_and_caps() {
        assert_eq!(retry_delay(0), 60.0);
        assert_eq!(retry_delay(1), 120.0);
        assert_eq!(retry_delay(5), 1920.0);
        assert_eq!(retry_delay(6), 3600.0);
        assert_eq!(retry_delay(60), 3600.0);
    }
}
