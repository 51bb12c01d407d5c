//! Applying one e-mail to a tracker: Roundup's gateway rules on the
//! core's `Db`.
//!
//! The steps, in Roundup's order: drop loops and bulk mail; answer
//! `help`; read the subject (class, item, title, `[prop=value]`); find
//! the item (designator, `In-Reply-To`, or a title match for replies);
//! find or register the sender and check "Email Access" and the
//! Create/Edit permissions; register the recipients; store attachments
//! as files and the body as a message; create or update the item; commit.
//! Detectors run as for any other change, so the stock nosyreaction mails
//! the nosy list from the outbox after the commit.
//!
//! Whatever the sender got wrong is answered by mail (a "bounce" with the
//! reason and the original attached) and nothing of the message is kept:
//! the transaction is rolled back, except for users registered before the
//! failure, which Roundup commits too.

use roundup_core::config::Config;
use roundup_core::db::{Db, Values};
use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::mail::{MailAttachment, MailSetup, PlainMail};
use roundup_core::password::Password;
use roundup_core::value::Value;
use roundup_core::{Error, TxSource};

use crate::body::{parse_content, ContentOptions};
use crate::parse::{parse_message, pgp_parts, Address, BodyOptions, ParsedMail, Pgp};
use crate::subject::{parse_args, parse_subject, registration_key, ContentMatch, SubjectOptions};
use crate::MailError;
use roundup_core::auth::{confirm_registration, Confirmed};
use roundup_core::nosy::made_up_message_id;
use roundup_core::sessions::{alnum_key, KeyStore};
use roundup_mail::pgp::{PgpConfig, PgpError};

/// What the gateway needs of the tracker's configuration, read once.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    pub subject: SubjectOptions,
    pub body: BodyOptions,
    pub content: ContentOptions,
    /// `-S [class.]prop=value` settings from the command line, by class
    /// (`msg` when no class is named), in order.
    pub set_values: Vec<(String, String)>,
    pub keep_real_from: bool,
    pub subject_updates_title: bool,
    pub tracker_email: String,
    pub tracker_web: String,
    pub admin_email: String,
    pub dispatcher_email: String,
    /// `user`, `dispatcher` or `both`.
    pub error_messages_to: String,
    pub new_email_user_roles: String,
    /// `[main] new_web_user_roles`: roles of a user whose registration
    /// is confirmed by mail.
    pub new_web_user_roles: String,
    /// `[main] email_registration_confirmation`.
    pub registration_by_mail: bool,
    pub tracker_name: String,
    pub mail_domain: String,
    /// `[pgp]`: signed and encrypted mail.
    pub pgp: PgpConfig,
}

impl GatewayOptions {
    /// Read the options; `default_class` (from `-c`) wins over `[mailgw]
    /// default_class` when not empty.
    pub fn from_config(
        config: &Config,
        default_class: Option<&str>,
        set_values: &[String],
    ) -> Result<GatewayOptions, String> {
        let mut subject = SubjectOptions::from_config(config).map_err(|e| e.to_string())?;
        if let Some(c) = default_class.map(str::trim).filter(|c| !c.is_empty()) {
            subject.default_class = c.to_string();
        }
        let s = |sec: &str, opt: &str| config.get_str(sec, opt).unwrap_or_default();
        let mut sets = Vec::new();
        for v in set_values {
            let Some((name, value)) = v.split_once('=') else {
                return Err(format!("-S {v:?}: not of the form [class.]property=value"));
            };
            match name.split_once('.') {
                Some((class, prop)) => sets.push((class.to_string(), format!("{prop}={value}"))),
                None => sets.push(("msg".to_string(), v.clone())),
            }
        }
        Ok(GatewayOptions {
            subject,
            body: BodyOptions::from_config(config).map_err(|e| e.to_string())?,
            content: ContentOptions::from_config(config).map_err(|e| e.to_string())?,
            set_values: sets,
            keep_real_from: config
                .get_bool("main", "email_keep_real_from")
                .unwrap_or(false),
            subject_updates_title: config
                .get_bool("mailgw", "subject_updates_title")
                .unwrap_or(true),
            tracker_email: s("tracker", "email"),
            tracker_web: s("tracker", "web"),
            admin_email: s("main", "admin_email"),
            dispatcher_email: s("main", "dispatcher_email"),
            error_messages_to: s("main", "error_messages_to"),
            new_email_user_roles: config.new_email_user_roles().to_string(),
            new_web_user_roles: s("main", "new_web_user_roles"),
            registration_by_mail: config
                .get_bool("main", "email_registration_confirmation")
                .unwrap_or(true),
            tracker_name: s("tracker", "name"),
            mail_domain: s("mail", "domain"),
            pgp: PgpConfig::from_config(config),
        })
    }
}

/// What became of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The item was created or updated.
    Applied {
        class: String,
        id: String,
        created: bool,
    },
    /// Dropped without an answer (a mail loop, bulk mail, an autoreply).
    Ignored(String),
    /// Refused; the sender was told why (the text here).
    Bounced(String),
    /// A reply to the registration mail confirmed a registration: the
    /// new user's id.
    Registered(String),
    /// Not even a sender could be found; logged and dropped.
    Unusable(String),
    /// In a batch ([`Commit::Batch`]) only: the message must be handled
    /// in a transaction of its own (a registration confirmation spends
    /// its key in the one-time-key store, which the batch's rollback
    /// could not undo). Nothing was done: commit the batch and hand the
    /// message to [`handle`] with [`Commit::Each`].
    OwnTransaction,
}

/// How the changes of a message end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Commit {
    /// Every message is a transaction of its own, committed (or rolled
    /// back) before [`handle`] returns.
    Each,
    /// Messages share the open transaction, each one under a mark of its
    /// own: a refused message is rolled back to it (and its bounce
    /// queued), an accepted one stays, and the caller commits the batch
    /// (one commit and one sync for a whole mailbox). A storage failure
    /// is returned at once with nothing queued for it: the caller rolls
    /// the whole batch back.
    Batch,
}

/// The transaction steps of one message, by [`Commit`] mode.
struct Tx<'a> {
    db: &'a Db,
    /// The message's mark in a batch.
    mark: std::cell::RefCell<Option<roundup_core::Mark>>,
}

impl<'a> Tx<'a> {
    fn begin(db: &'a Db, mode: Commit) -> roundup_core::Result<Tx<'a>> {
        let mark = match mode {
            Commit::Each => None,
            Commit::Batch => Some(db.mark()?),
        };
        Ok(Tx {
            db,
            mark: std::cell::RefCell::new(mark),
        })
    }

    fn batched(&self) -> bool {
        self.mark.borrow().is_some()
    }

    /// Make what was done so far stay, whatever happens later.
    fn keep(&self) -> roundup_core::Result<()> {
        self.step(Db::commit, Db::release)
    }

    /// Undo what was done since the last `keep`.
    fn undo(&self) -> roundup_core::Result<()> {
        self.step(Db::rollback, Db::rollback_to)
    }

    /// End the part done since the last step, by `each` alone or by
    /// `batched` on its mark (then marking the next part).
    fn step(
        &self,
        each: fn(&Db) -> roundup_core::Result<()>,
        batched: fn(&Db, roundup_core::Mark) -> roundup_core::Result<()>,
    ) -> roundup_core::Result<()> {
        let mut slot = self.mark.borrow_mut();
        match slot.take() {
            None => each(self.db),
            Some(m) => {
                batched(self.db, m)?;
                *slot = Some(self.db.mark()?);
                Ok(())
            }
        }
    }

    /// The message is done: commit it, or leave it in the batch.
    fn end(&self) -> roundup_core::Result<()> {
        match self.mark.borrow_mut().take() {
            None => self.db.commit(),
            Some(m) => self.db.release(m),
        }
    }
}

/// Why a message is refused, as the sender is told.
enum Refusal {
    Usage(String),
    Unauthorized(String),
    Help,
    /// Something is wrong on the tracker's side.
    Failure(Error),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        match e {
            Error::Reject(m) => Refusal::Usage(format!(
                "\nThere was a problem with the message you sent:\n   {m}\n"
            )),
            Error::Unauthorised(m) => Refusal::Unauthorized(m),
            other => Refusal::Failure(other),
        }
    }
}

impl From<MailError> for Refusal {
    fn from(e: MailError) -> Refusal {
        if e.is_usage_error() {
            Refusal::Usage(format!("\n{e}\n"))
        } else {
            Refusal::Failure(Error::Config(e.to_string()))
        }
    }
}

/// The gateway text sent with every refusal (ours, not Roundup's docstring).
pub const HELP: &str = "\
Mail Gateway Help
=================
Mail to this tracker becomes a message on an item. The subject line says
which item:

  Subject: [issue] A new problem          creates a new issue
  Subject: Re: [issue42] old title        adds the message to issue42
  Subject: A new problem                  creates an item of the default class

Properties can be set at the end of the subject, separated by semicolons:

  Subject: [issue42] old title [status=resolved; nosy=+alice]

Values are given as on the web: names of linked items (or their ids),
and +name/-name to add to or remove from a list. A reply without a
designator is matched to its item by In-Reply-To or, for \"Re:\" subjects,
by the title. Quoted text and signatures are cut from the message; files
attached become files of the item.
";

/// Apply one raw message to the tracker through `db` (it may have served
/// earlier messages: it is set back to the admin user and its item cache
/// emptied first). With [`Commit::Each`] no transaction may be open and
/// the message is committed here; with [`Commit::Batch`] it joins the
/// open transaction (see there). Bounces are queued in the tracker's
/// outbox (and delivered after their commit).
pub fn handle(
    db: &Db,
    open_otks: &dyn Fn() -> roundup_core::Result<Box<dyn KeyStore>>,
    opts: &GatewayOptions,
    raw: &[u8],
    mode: Commit,
) -> roundup_core::Result<Outcome> {
    let (parsed, no_text) = match parse_message(raw, &opts.body) {
        Ok(p) => (p, false),
        Err(MailError::NoTextPart(p)) => (*p, true),
        Err(e) => {
            return Ok(Outcome::Unusable(format!(
                "the message cannot be read: {e}"
            )));
        }
    };
    let Some(sender) = parsed.author(opts.keep_real_from).cloned() else {
        let headers: Vec<String> = parsed.headers().map(|(k, v)| format!("{k}: {v}")).collect();
        return Ok(Outcome::Unusable(format!(
            "badly formed message (no sender); headers:\n{}",
            headers.join("\n")
        )));
    };
    if let Some(reason) = parsed.ignore_reason() {
        return Ok(Outcome::Ignored(format!("{reason:?}")));
    }
    // Mail from the tracker's own address is its own mail come back (a
    // forwarding loop without our loop header): never act on it, never
    // answer it.
    let own = |a: &str| !a.is_empty() && a.eq_ignore_ascii_case(sender.email.trim());
    if own(opts.tracker_email.trim()) || own(opts.admin_email.trim()) {
        return Ok(Outcome::Ignored(format!(
            "sent from the tracker's own address {}",
            sender.email
        )));
    }
    db.set_uid("1");
    // Roundup's handle_message: the changes of a message come from mail
    // (from signed mail once its signature is checked, in `Step::pgp`).
    db.set_tx_source(Some(TxSource::Email));
    db.clear_cache();
    let tx = Tx::begin(db, mode)?;
    let mut step = Step {
        db,
        tx: &tx,
        open_otks,
        opts,
        mail: &parsed,
        raw,
        content: (!no_text).then(|| parsed.body.clone()),
        crypt: false,
    };
    let result = step.run();
    let crypt = step.crypt;
    match result {
        Ok(Done::Item(class, id, created)) => {
            tx.end()?;
            Ok(Outcome::Applied { class, id, created })
        }
        Ok(Done::OwnTransaction) => {
            tx.end()?;
            Ok(Outcome::OwnTransaction)
        }
        Ok(Done::Registered(uid)) => {
            let subject = format!("Your registration to {} is complete", opts.tracker_name);
            let to = vec![sender.email.clone()];
            if let Some(setup) = db.mail().cloned() {
                let envelope = setup.mailer.compose_plain(&PlainMail {
                    to,
                    subject,
                    body: String::new(),
                    author: None,
                    attachments: Vec::new(),
                })?;
                db.queue_mail(&envelope)?;
            }
            tx.end()?;
            Ok(Outcome::Registered(uid))
        }
        Err(Refusal::Failure(e @ (Error::Storage(_) | Error::Io { .. }))) if tx.batched() => {
            // The whole batch goes back; the caller keeps every message.
            Err(e)
        }
        Err(refusal) => {
            tx.undo()?;
            let (text, failure) = match refusal {
                Refusal::Usage(t) => (format!("{t}\n\n{HELP}"), None),
                Refusal::Unauthorized(t) => (format!("\n{t}"), None),
                Refusal::Help => (format!("\n\n{HELP}"), None),
                Refusal::Failure(e) => (
                    "\nAn unexpected error occurred during the processing\nof your message. The tracker administrator is being\nnotified.\n".to_string(),
                    Some(e),
                ),
            };
            let subject = if parsed.is_help_request() {
                "Mail Gateway Help"
            } else {
                "Failed issue tracker submission"
            };
            bounce(db, opts, raw, &sender, subject, &text, crypt)?;
            if let Some(e) = &failure {
                let admin = opts.admin_email.clone();
                queue_plain(
                    db,
                    vec![admin],
                    subject,
                    &format!("{text}\n----------------\n{e}"),
                    raw,
                )?;
            }
            tx.end()?;
            match failure {
                // The database or the disk failed: the caller keeps the
                // message to try again.
                Some(e @ (Error::Storage(_) | Error::Io { .. })) => Err(e),
                Some(e) => Ok(Outcome::Bounced(format!("unexpected error: {e}"))),
                None => Ok(Outcome::Bounced(text.trim().to_string())),
            }
        }
    }
}

/// Send the sender (or the dispatcher, per `error_messages_to`) the reason
/// with the original message attached; with `crypt` (the sender wrote
/// encrypted, or gets encrypted mail per `[pgp]`) the sender's copy is
/// encrypted to their key, and not sent when there is none.
fn bounce(
    db: &Db,
    opts: &GatewayOptions,
    raw: &[u8],
    sender: &Address,
    subject: &str,
    text: &str,
    crypt: bool,
) -> roundup_core::Result<()> {
    let mut email = sender.email.trim().to_string();
    if email.is_empty() {
        // A From header too broken to parse: take what looks like an
        // address in it, so that the sender still hears back.
        let raw_from = String::from_utf8_lossy(raw)
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("from:"))
            .unwrap_or("")
            .to_string();
        email = raw_from
            .split(|c: char| c.is_whitespace() || "<>\"(),;".contains(c))
            .find(|w| w.contains('@') && !w.starts_with('@') && !w.ends_with('@'))
            .unwrap_or("")
            .to_string();
    }
    if email.is_empty() {
        crate::log(&format!("no address to tell of the refusal: {text}"));
        return Ok(());
    }
    let mut to = vec![email];
    match opts.error_messages_to.as_str() {
        "dispatcher" => {
            return queue_plain(db, vec![opts.dispatcher_email.clone()], subject, text, raw)
        }
        "both" if crypt => {
            queue_plain(db, vec![opts.dispatcher_email.clone()], subject, text, raw)?;
        }
        "both" => to.push(opts.dispatcher_email.clone()),
        _ => {}
    }
    if !crypt {
        return queue_plain(db, to, subject, text, raw);
    }
    let Some(setup) = db.mail().cloned() else {
        return Ok(());
    };
    match setup.mailer.compose_plain_encrypted(&plain_with_original(
        to.clone(),
        subject,
        text,
        raw,
    ))? {
        Some(envelope) => db.queue_mail(&envelope).map(drop),
        None => {
            crate::log(&format!(
                "no PGP key for {} to encrypt the refusal to: not sent ({})",
                to.join(", "),
                text.trim()
            ));
            Ok(())
        }
    }
}

/// The tracker's reply: `text` with the original message attached.
fn plain_with_original(to: Vec<String>, subject: &str, text: &str, raw: &[u8]) -> PlainMail {
    PlainMail {
        to,
        subject: subject.to_string(),
        body: text.to_string(),
        author: None,
        attachments: vec![MailAttachment {
            name: "submission.eml".into(),
            mime_type: "text/plain".into(),
            data: raw.to_vec(),
        }],
    }
}

fn queue_plain(
    db: &Db,
    to: Vec<String>,
    subject: &str,
    text: &str,
    raw: &[u8],
) -> roundup_core::Result<()> {
    let Some(setup) = db.mail().cloned() else {
        return Ok(());
    };
    let setup: &MailSetup = &setup;
    let envelope = setup
        .mailer
        .compose_plain(&plain_with_original(to, subject, text, raw))?;
    db.queue_mail(&envelope)?;
    Ok(())
}

/// What a message did.
enum Done {
    Item(String, String, bool),
    Registered(String),
    /// A registration confirmation met in a batch: nothing done.
    OwnTransaction,
}

struct Step<'a> {
    db: &'a Db,
    tx: &'a Tx<'a>,
    open_otks: &'a dyn Fn() -> roundup_core::Result<Box<dyn KeyStore>>,
    opts: &'a GatewayOptions,
    mail: &'a ParsedMail,
    /// The message as received (signatures are checked over it).
    raw: &'a [u8],
    /// The body text; `None` when the message had no usable text part.
    content: Option<String>,
    /// Replies to the sender are encrypted (`[pgp]`).
    crypt: bool,
}

impl Step<'_> {
    /// `[pgp]` for a message from user `author` (Roundup's order and
    /// rules): users with the PGP roles must send signed or encrypted
    /// mail (or encrypted, per `require_incoming`); a signature present is
    /// checked whoever sent it; an encrypted message is decrypted and
    /// returned, and its body becomes the content.
    fn pgp(&mut self, author: &str) -> Result<Option<ParsedMail>, Refusal> {
        let cfg = &self.opts.pgp;
        if !cfg.enable {
            return Ok(None);
        }
        let db = self.db;
        let role = cfg.applies_to(&db.user_roles(author)?);
        if role && cfg.encrypt {
            self.crypt = true;
        }
        // Signed mail must be signed by the user's primary address.
        let address = match db.get("user", author, "address")? {
            Some(Value::String(a)) => a,
            _ => String::new(),
        };
        let usage = |t: &str| Refusal::Usage(format!("\n{t}\n"));
        let refused = |e: PgpError| match e {
            PgpError::Refused(t) => usage(&t),
            setup => Refusal::Failure(Error::Config(format!("[pgp] {setup}"))),
        };
        let keyring = cfg.keyring();
        let wants_encrypted = matches!(cfg.require_incoming.as_str(), "encrypted" | "both");
        if wants_encrypted && role && self.mail.pgp != Pgp::Encrypted {
            return Err(usage(
                "This tracker accepts only PGP encrypted mail from you.",
            ));
        }
        match self.mail.pgp {
            Pgp::Signed => {
                let no_signature =
                    "The multipart/signed message has no application/pgp-signature part.";
                let parts = pgp_parts(self.raw).ok_or_else(|| usage(no_signature))?;
                if parts.second_type != "application/pgp-signature" {
                    return Err(usage(no_signature));
                }
                keyring
                    .verify_detached(&parts.first_raw, &parts.second_body, &address)
                    .map_err(refused)?;
                db.set_tx_source(Some(TxSource::EmailSigOpenpgp));
                Ok(None)
            }
            Pgp::Encrypted => {
                self.crypt = true;
                let bad_version = "The multipart/encrypted message is not of version 1 (RFC 3156).";
                let parts = pgp_parts(self.raw).ok_or_else(|| usage(bad_version))?;
                if parts.first_type != "application/pgp-encrypted"
                    || String::from_utf8_lossy(&parts.first_body).trim() != "Version: 1"
                {
                    return Err(usage(bad_version));
                }
                // Unsigned encrypted mail is enough from users without
                // the roles, or when only encryption is required.
                let may_be_unsigned = cfg.require_incoming == "encrypted" || !role;
                let decrypted = keyring
                    .decrypt(&parts.second_body, &address, may_be_unsigned)
                    .map_err(refused)?;
                if decrypted.signed {
                    db.set_tx_source(Some(TxSource::EmailSigOpenpgp));
                }
                let plain = decrypted.plain;
                let inner = match parse_message(&plain, &self.opts.body) {
                    Ok(p) => {
                        self.content = Some(p.body.clone());
                        p
                    }
                    Err(MailError::NoTextPart(p)) => {
                        self.content = None;
                        *p
                    }
                    Err(e) => {
                        return Err(usage(&format!("The decrypted message cannot be read: {e}")))
                    }
                };
                Ok(Some(inner))
            }
            Pgp::None if role => Err(usage(
                "This tracker accepts only PGP signed or encrypted mail from you.",
            )),
            Pgp::None => Ok(None),
        }
    }

    fn run(&mut self) -> Result<Done, Refusal> {
        let db = self.db;
        let opts = self.opts;
        let mail = self.mail;
        if mail.is_help_request() {
            return Err(Refusal::Help);
        }
        if mail.subject.trim().is_empty() {
            return Err(Refusal::Usage(
                "\nEmails to Roundup trackers must include a Subject: line!\n".into(),
            ));
        }
        let classes: Vec<String> = db.schema().classes.keys().cloned().collect();
        let class_refs: Vec<&str> = classes.iter().map(String::as_str).collect();
        let subj = parse_subject(&mail.subject, &opts.subject, &class_refs)?;
        if opts.registration_by_mail {
            if let Some(otk) = registration_key(&mail.subject, &opts.subject, &class_refs)? {
                if self.tx.batched() {
                    return Ok(Done::OwnTransaction);
                }
                let mut otks = (self.open_otks)()?;
                return match confirm_registration(db, otks.as_mut(), &otk, &opts.new_web_user_roles)? {
                    Confirmed::User(uid) => Ok(Done::Registered(uid)),
                    Confirmed::NoSuchKey => Err(Refusal::Usage(format!(
                        "\nThere is no registration waiting for the key {otk}: it was used\nalready, or it expired. Register again on the web.\n"
                    ))),
                };
            }
        }
        let class = subj.classname.clone();
        let cdef = db.class(&class)?.clone();

        // ---- which item
        let mut nodeid = subj.nodeid.clone();
        let mut reply = subj.is_reply();
        if nodeid.is_none() {
            if let Some(irt) = mail.in_reply_to.as_deref().filter(|s| !s.is_empty()) {
                if db.schema().classes.contains_key("msg") && cdef.prop("messages").is_some() {
                    let parents = db.stringfind("msg", &[("messageid", irt)])?;
                    if !parents.is_empty() {
                        let spec = FilterSpec {
                            filterspec: vec![("messages".into(), SpecValue::Many(parents))],
                            ..FilterSpec::default()
                        };
                        let found = db.filter(&class, &spec)?;
                        match found.len() {
                            1 => nodeid = found.into_iter().next(),
                            0 => {}
                            _ => reply = true,
                        }
                    }
                }
            }
        }
        subj.check_matchable(nodeid.as_deref())?;
        let matching = opts.subject.content_match()?;
        if nodeid.is_none()
            && reply
            && matching != ContentMatch::Never
            && cdef.prop("title").is_some()
        {
            let ids = db.stringfind(&class, &[("title", subj.title.as_str())])?;
            let now = roundup_core::date::Date::now();
            for id in ids {
                let ok = match &matching {
                    ContentMatch::Never => false,
                    ContentMatch::Always => true,
                    ContentMatch::Creation(iv) | ContentMatch::Activity(iv) => {
                        let prop = if matches!(matching, ContentMatch::Creation(_)) {
                            "creation"
                        } else {
                            "activity"
                        };
                        let iv = roundup_core::date::Interval::parse(iv).map_err(|e| {
                            Refusal::Failure(Error::Config(format!(
                                "[mailgw] subject_content_match: {iv:?} is not an interval: {e}"
                            )))
                        })?;
                        let threshold = now.sub(&iv);
                        matches!(db.get(&class, &id, prop)?, Some(Value::Date(d)) if d > threshold)
                    }
                };
                if ok {
                    nodeid = Some(id);
                }
            }
        }
        if let Some(id) = nodeid.clone() {
            if !db.has_node(&class, &id)? || db.is_retired(&class, &id)? {
                subj.missing_node(&id, &opts.subject)?;
                nodeid = None;
            }
        }

        // ---- who
        let anon = db.lookup("user", "anonymous").ok();
        let sec = db.security();
        let may_register = match &anon {
            Some(a) => {
                sec.has_permission(db, "Register", a, Some("user"), None, None)?
                    && sec.has_permission(db, "Email Access", a, None, None, None)?
            }
            None => false,
        };
        let sender = mail
            .author(opts.keep_real_from)
            .cloned()
            .unwrap_or_default();
        let user_props = self.class_arguments("user", None, None)?;
        let author = match self.uid_from_address(&sender, may_register, &user_props)? {
            Some(a) => a,
            None => anon.clone().unwrap_or_default(),
        };
        if !sec.has_permission(db, "Email Access", &author, None, None, None)? {
            if Some(&author) == anon.as_ref() {
                let mut info = String::new();
                if sec.has_permission(db, "Web Access", &author, None, None, None)?
                    && sec.has_permission(db, "Register", &author, Some("user"), None, None)?
                {
                    info = format!(
                        " Please register at:\n\n{}user?@template=register\n\n...before sending mail to the tracker.",
                        opts.tracker_web
                    );
                }
                return Err(Refusal::Unauthorized(format!(
                    "\nYou are not a registered user.{info}\n\nUnknown address: {}\n",
                    sender.email
                )));
            }
            return Err(Refusal::Unauthorized(
                "You are not permitted to access this tracker.".into(),
            ));
        }
        match &nodeid {
            Some(id) => {
                if !sec.has_permission(db, "Edit", &author, Some(&class), None, Some(id))? {
                    return Err(Refusal::Unauthorized(format!(
                        "You are not permitted to edit {class}."
                    )));
                }
            }
            None => {
                if !sec.has_permission(db, "Create", &author, Some(&class), None, None)? {
                    return Err(Refusal::Unauthorized(format!(
                        "You are not permitted to create {class}."
                    )));
                }
            }
        }
        // A user registered above stays, as in Roundup, even when the
        // message is refused later.
        self.tx.keep()?;
        db.set_uid(&author);

        // ---- recipients
        let mut recipients = Vec::new();
        let tracker_email = opts.tracker_email.to_lowercase();
        for r in mail.to.iter().chain(mail.cc.iter()) {
            let addr = r.email.trim().to_lowercase();
            if addr.is_empty() || addr == tracker_email {
                continue;
            }
            if let Some(uid) = self.uid_from_address(r, may_register, &user_props)? {
                recipients.push(uid);
            }
        }

        // ---- properties from the subject and -S
        let mut props = Values::new();
        let mut args_in_title = false;
        if let Some(args) = subj.suffix_args(&opts.subject) {
            let mut problems = Vec::new();
            let assignments = match parse_args(args) {
                Ok(a) => a,
                Err(MailError::MalformedArgs { parsed_before, .. }) => {
                    problems
                        .push("not of form [arg=value,value,...;arg=value,value,...]".to_string());
                    parsed_before
                }
                Err(e) => return Err(e.into()),
            };
            for a in assignments {
                match db.raw_to_value(&class, &a.name, &a.value, nodeid.as_deref()) {
                    Ok(v) => {
                        props.insert(a.name.clone(), v);
                    }
                    Err(e) => problems.push(e.to_string()),
                }
            }
            args_in_title = subj.reject_args(problems, &opts.subject)?;
        }
        let mut item_props = self.class_arguments("issue", Some(&class), nodeid.as_deref())?;
        let title = subj.item_title(nodeid.is_some(), args_in_title, &opts.subject);
        if !title.is_empty() && cdef.prop("title").is_some() && !item_props.contains_key("title") {
            item_props.insert("title".into(), Some(Value::String(title)));
        }
        if let Some(id) = &nodeid {
            if cdef.prop("title").is_some() && !opts.subject_updates_title {
                item_props.insert("title".into(), db.get(&class, id, "title")?);
            }
        }
        for (k, v) in item_props {
            props.entry(k).or_insert(v);
        }

        // ---- PGP: the signature checked, or the message decrypted (its
        // body and files are then the decrypted message's)
        let decrypted = self.pgp(&author)?;
        let body_mail: &ParsedMail = decrypted.as_ref().unwrap_or(mail);

        // ---- files
        let mut msg_props = Values::new();
        if cdef.prop("files").is_some() && !body_mail.attachments.is_empty() {
            let file_props = self.class_arguments("file", None, None)?;
            let mut files = Vec::new();
            for a in &body_mail.attachments {
                if !sec.has_permission(db, "Create", &author, Some("file"), None, None)? {
                    return Err(Refusal::Unauthorized(
                        "You are not permitted to create files.".into(),
                    ));
                }
                let name = if a.name.is_empty() {
                    "unnamed"
                } else {
                    a.name.as_str()
                };
                let mut v = file_props.clone();
                v.insert("type".into(), Some(Value::String(a.mime_type.clone())));
                v.insert("name".into(), Some(Value::String(name.to_string())));
                match db.create_with_content("file", v, a.data.clone()) {
                    Ok(id) => files.push(id),
                    Err(Error::Reject(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            if nodeid.is_some()
                && !sec.has_permission(db, "Edit", &author, Some(&class), Some("files"), None)?
            {
                return Err(Refusal::Unauthorized(format!(
                    "You are not permitted to add files to {class}."
                )));
            }
            msg_props.insert("files".into(), Some(Value::Multilink(files.clone())));
            if let Some(id) = &nodeid {
                let mut all = ids(db.get(&class, id, "files")?);
                all.extend(files);
                files = all;
            }
            props.insert("files".into(), Some(Value::Multilink(files)));
        }

        // ---- the message
        if cdef.prop("messages").is_some() {
            for (k, v) in self.class_arguments("msg", None, None)? {
                msg_props.insert(k, v);
            }
            let messageid = match mail.message_id.as_deref().filter(|m| !m.is_empty()) {
                Some(m) => m.to_string(),
                None => made_up_message_id(
                    &class,
                    nodeid.as_deref().unwrap_or("None"),
                    &opts.mail_domain,
                ),
            };
            let Some(text) = &self.content else {
                return Err(Refusal::Usage(
                    "\nRoundup requires the submission to be plain text. The message parser could\nnot find a text/plain part to use.\n".into(),
                ));
            };
            let (summary, content) = parse_content(text, &opts.content, nodeid.is_none());
            let content = content.trim().to_string();
            if !content.is_empty() {
                if !sec.has_permission(db, "Create", &author, Some("msg"), None, None)? {
                    return Err(Refusal::Unauthorized(
                        "You are not permitted to create messages.".into(),
                    ));
                }
                let mdef = db.class("msg")?.clone();
                let mut v = msg_props.clone();
                v.insert("author".into(), Some(Value::Link(author.clone())));
                v.insert(
                    "recipients".into(),
                    Some(Value::Multilink(recipients.clone())),
                );
                v.insert(
                    "date".into(),
                    Some(Value::Date(roundup_core::date::Date::now())),
                );
                if mdef.prop("summary").is_some() {
                    v.insert("summary".into(), Some(Value::String(summary)));
                }
                v.insert("messageid".into(), Some(Value::String(messageid)));
                v.insert(
                    "inreplyto".into(),
                    Some(Value::String(mail.in_reply_to.clone().unwrap_or_default())),
                );
                let msgid = match db.create_with_content("msg", v, content.into_bytes()) {
                    Ok(id) => id,
                    Err(Error::Reject(e)) => {
                        return Err(Refusal::Usage(format!(
                            "\nMail message was rejected by a detector.\n{e}\n"
                        )))
                    }
                    Err(e) => return Err(e.into()),
                };
                if nodeid.is_some()
                    && !sec.has_permission(
                        db,
                        "Edit",
                        &author,
                        Some(&class),
                        Some("messages"),
                        None,
                    )?
                {
                    return Err(Refusal::Unauthorized(format!(
                        "You are not permitted to add messages to {class}."
                    )));
                }
                let mut messages = match &nodeid {
                    Some(id) => ids(db.get(&class, id, "messages")?),
                    None => Vec::new(),
                };
                messages.push(msgid);
                props.insert("messages".into(), Some(Value::Multilink(messages)));
            }
        }

        // ---- the item
        let perm = if nodeid.is_some() { "Edit" } else { "Create" };
        for prop in props.keys() {
            if !sec.has_permission(db, perm, &author, Some(&class), Some(prop), None)? {
                let what = if nodeid.is_some() { "edit" } else { "set" };
                return Err(Refusal::Unauthorized(format!(
                    "You are not permitted to {what} property {prop} of class {class}."
                )));
            }
        }
        let result = match &nodeid {
            Some(id) => db.set(&class, id, props).map(|_| id.clone()),
            None => db.create(&class, props),
        };
        match result {
            Ok(id) => Ok(Done::Item(class, id, nodeid.is_none())),
            Err(e @ (Error::Reject(_) | Error::Value(_) | Error::NoSuchProperty { .. })) => {
                let text = match e {
                    Error::Reject(m) | Error::Value(m) => m,
                    other => other.to_string(),
                };
                Err(Refusal::Usage(format!(
                    "\nThere was a problem with the message you sent:\n   {text}\n"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The `-S` settings for a class (`class_type` is how the command line
    /// names it: `issue` stands for the item's class), converted.
    fn class_arguments(
        &self,
        class_type: &str,
        classname: Option<&str>,
        itemid: Option<&str>,
    ) -> Result<Values, Refusal> {
        let class = classname.unwrap_or(class_type);
        let mut out = Values::new();
        let settings: Vec<&String> = self
            .opts
            .set_values
            .iter()
            .filter(|(c, _)| c == class_type || c == class)
            .map(|(_, s)| s)
            .collect();
        if settings.is_empty() {
            return Ok(out);
        }
        let mut problems = Vec::new();
        for s in settings {
            for piece in s.split(';') {
                let Some((name, value)) = piece.split_once('=') else {
                    problems.push(format!("{piece:?} is not of the form property=value"));
                    continue;
                };
                match self.db.raw_to_value(class, name.trim(), value, itemid) {
                    Ok(v) => {
                        out.insert(name.trim().to_string(), v);
                    }
                    Err(e) => problems.push(e.to_string()),
                }
            }
        }
        if !problems.is_empty() {
            return Err(Refusal::Usage(format!(
                "\nThe mail gateway is not properly set up. Please contact\n{} and have them fix the incorrect properties:\n  {}\n",
                self.opts.admin_email,
                problems.join("\n  ")
            )));
        }
        Ok(out)
    }

    /// The user with this address (or alternate address); registered
    /// when `create` (anonymous may register by mail). `None` when
    /// unknown and not registered.
    fn uid_from_address(
        &self,
        address: &Address,
        create: bool,
        user_props: &Values,
    ) -> Result<Option<String>, Refusal> {
        let db = self.db;
        let email = address.email.as_str();
        if let Some(u) = pick_user(db, db.stringfind("user", &[("address", email)])?)? {
            return Ok(Some(u));
        }
        let udef = db.class("user")?.clone();
        if udef.prop("alternate_addresses").is_some() {
            let spec = FilterSpec {
                filterspec: vec![(
                    "alternate_addresses".into(),
                    SpecValue::One(email.to_string()),
                )],
                ..FilterSpec::default()
            };
            let mut found = Vec::new();
            for u in db.filter("user", &spec)? {
                let alt = match db.get("user", &u, "alternate_addresses")? {
                    Some(Value::String(s)) => s,
                    _ => String::new(),
                };
                if alt
                    .split('\n')
                    .any(|a| a.trim().eq_ignore_ascii_case(email))
                {
                    found.push(u);
                }
            }
            if let Some(u) = pick_user(db, found)? {
                return Ok(Some(u));
            }
        }
        if !create {
            return Ok(None);
        }
        let base = email.split('@').next().unwrap_or(email).to_string();
        let mut trying = base.clone();
        let mut n = 0;
        while db.lookup("user", &trying).is_ok() {
            n += 1;
            trying = format!("{base}{n}");
        }
        let mut v = user_props.clone();
        v.insert("username".into(), Some(Value::String(trying)));
        v.insert("address".into(), Some(Value::String(email.to_string())));
        v.insert("realname".into(), Some(Value::String(address.name.clone())));
        v.insert(
            "roles".into(),
            Some(Value::String(self.opts.new_email_user_roles.clone())),
        );
        let o = db.options();
        v.insert(
            "password".into(),
            Some(Value::Password(Password::hash(
                &alnum_key(16),
                o.password_scheme,
                o.password_rounds,
            ))),
        );
        match db.create("user", v) {
            Ok(id) => Ok(Some(id)),
            Err(Error::Reject(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// Roundup's choice among users matching an address: the first that is
/// neither admin nor anonymous, else the first.
fn pick_user(db: &Db, users: Vec<String>) -> roundup_core::Result<Option<String>> {
    if users.len() > 1 {
        for u in &users {
            let name = match db.get("user", u, "username")? {
                Some(Value::String(s)) => s,
                _ => String::new(),
            };
            if name != "admin" && name != "anonymous" {
                return Ok(Some(u.clone()));
            }
        }
    }
    Ok(users.into_iter().next())
}

fn ids(v: Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Multilink(ids)) => ids,
        _ => Vec::new(),
    }
}
