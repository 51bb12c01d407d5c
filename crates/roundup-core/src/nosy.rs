//! Nosy notification: who hears about a change to an item, and what the
//! message says. The one place this is decided; the stock `nosyreaction`
//! detector reaches it through `db.<class>.nosymessage`, and the mail
//! gateway and every other front end only make changes that fire it.
//!
//! Roundup's rules, as its `roundupdb` applies them:
//! * recipients are the message's author (per `[nosy] messages_to_author`),
//!   the item's nosy list and the caller's `cc`, less the anonymous user,
//!   users who already received the message (its `recipients`), users
//!   who may not view the message's content and files, and users without
//!   an address; the message's `recipients` then gain them;
//! * the body is the author line, the message content, files too big to
//!   attach as links, the change (or creation) note and the tracker's
//!   signature;
//! * the subject is `[<class><id>] <title>`; headers name the item and
//!   its linked values (`X-Roundup-issue-status: chatting`);
//! * with `[pgp] enable` and `encrypt`, the recipients with one of the
//!   `[pgp] roles` (every user when none are set) get their copy
//!   encrypted to their key, composed apart from the plain one;
//!   addresses that are not users (`cc_emails`, `bcc_emails`) are
//!   encrypted only when no roles are set.
//!
//! The message is composed by the tracker's [`Mailer`] and queued in the
//! outbox of the open transaction ([`Db::queue_mail`]).

use std::collections::HashSet;

use crate::db::{Db, Values};
use crate::error::Result;
use crate::mail::{MailAttachment, Notification, ReplyTo, SignaturePosition, ToAuthor};
use crate::schema::PropType;
use crate::value::Value;

/// The arguments of `nosymessage` beyond the item and the message.
#[derive(Clone, Debug, Default)]
pub struct NosyOptions {
    /// The multilink of users to notify (`nosy` unless told otherwise).
    pub whichnosy: Option<String>,
    pub from_address: Option<String>,
    /// Further users to send to, shown in `To`.
    pub cc: Vec<String>,
    /// Further users to send to, not shown.
    pub bcc: Vec<String>,
    /// Further addresses (not users).
    pub cc_emails: Vec<String>,
    pub bcc_emails: Vec<String>,
    pub subject: Option<String>,
    /// The note to use instead of the generated one (a caller's
    /// `note_filter` has rewritten it).
    pub note: Option<String>,
    pub add_headers: Vec<(String, String)>,
    /// The author to name, instead of the message's (or, without a
    /// message, the current user).
    pub authid: Option<String>,
    /// Encrypt the mail to each recipient's PGP key (Roundup's `crypt`).
    pub crypt: bool,
}

/// Send message `msgid` (or, without one, a "system message" with only the
/// note) about item `class``id` to its nosy list. `oldvalues` are the
/// values before the change; `None` (or empty) means the item was just
/// created. Without a mail setup on the connection nothing is sent.
pub fn nosymessage(
    db: &Db,
    class: &str,
    id: &str,
    msgid: Option<&str>,
    oldvalues: Option<&Values>,
    opts: &NosyOptions,
) -> Result<()> {
    let Some(setup) = db.mail().cloned() else {
        return Ok(());
    };
    let s = &setup.settings;
    let whichnosy = opts.whichnosy.as_deref().unwrap_or("nosy");
    let created = oldvalues.is_none_or(|o| o.is_empty());

    let (authid, mut recipients) = match msgid {
        Some(m) => (
            link_of(db.get("msg", m, "author")?),
            ids_of(db.get("msg", m, "recipients")?),
        ),
        None => (None, Vec::new()),
    };
    let mut seen: HashSet<String> = recipients.iter().cloned().collect();
    // Plain and encrypted recipients ([pgp] encrypt, per [pgp] roles).
    let mut sendto = Split::default();
    let mut bcc_sendto = Split::default();

    let good = |db: &Db, uid: &str, seen: &HashSet<String>| -> Result<bool> {
        if uid.is_empty() || seen.contains(uid) {
            return Ok(false);
        }
        if str_of(db.get("user", uid, "username")?) == "anonymous" {
            return Ok(false);
        }
        if let Some(m) = msgid {
            let msgclass = db.class("msg")?;
            for prop in ["content", "files"] {
                if msgclass.prop(prop).is_some()
                    && !db.security().has_permission(
                        db,
                        "View",
                        uid,
                        Some("msg"),
                        Some(prop),
                        Some(m),
                    )?
                {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    };
    let add = |db: &Db, uid: &str, to: &mut Split, recipients: &mut Vec<String>| -> Result<()> {
        let address = str_of(db.get("user", uid, "address")?);
        if !address.is_empty() {
            let crypt = s.pgp_encrypt
                && (s.pgp_roles.is_empty()
                    || db.user_roles(uid)?.iter().any(|r| s.pgp_roles.contains(r)));
            if crypt {
                to.crypt.push(address);
            } else {
                to.plain.push(address);
            }
            recipients.push(uid.to_string());
        }
        Ok(())
    };
    // Addresses that are not users are encrypted only when every
    // recipient's mail is.
    let emails_crypt = s.pgp_encrypt && s.pgp_roles.is_empty();

    let nosy = ids_of(db.get(class, id, whichnosy)?);
    if let Some(a) = &authid {
        let wanted = match s.messages_to_author {
            ToAuthor::Yes => true,
            ToAuthor::New => created,
            ToAuthor::Nosy => nosy.contains(a),
            ToAuthor::No => false,
        };
        if wanted && good(db, a, &seen)? {
            add(db, a, &mut sendto, &mut recipients)?;
        }
        seen.insert(a.clone());
    }
    for uid in opts.cc.iter().chain(nosy.iter()) {
        if good(db, uid, &seen)? {
            add(db, uid, &mut sendto, &mut recipients)?;
            seen.insert(uid.clone());
        }
    }
    sendto.extend_emails(&opts.cc_emails, emails_crypt);
    for uid in &opts.bcc {
        if good(db, uid, &seen)? {
            add(db, uid, &mut bcc_sendto, &mut recipients)?;
            seen.insert(uid.clone());
        }
    }
    bcc_sendto.extend_emails(&opts.bcc_emails, emails_crypt);

    let note = match &opts.note {
        Some(n) => n.clone(),
        None => match oldvalues {
            Some(old) if !old.is_empty() => change_note(db, class, id, old)?,
            _ => create_note(db, class, id)?,
        },
    };

    if !sendto.is_empty() {
        if let Some(m) = msgid {
            let mut v = Values::new();
            v.insert("recipients".into(), Some(Value::Multilink(recipients)));
            db.set("msg", m, v)?;
        }
    }
    // Roundup's two calls: the plain copies, then the encrypted ones.
    for (to, bcc, crypt) in [
        (sendto.plain, bcc_sendto.plain, false),
        (sendto.crypt, bcc_sendto.crypt, true),
    ] {
        if !to.is_empty() || !bcc.is_empty() {
            let o = NosyOptions {
                crypt,
                ..opts.clone()
            };
            send_message(db, class, id, msgid, &note, to, bcc, &o)?;
        }
    }
    Ok(())
}

/// Recipient addresses, split by whether their mail is encrypted.
#[derive(Default)]
struct Split {
    plain: Vec<String>,
    crypt: Vec<String>,
}

impl Split {
    fn is_empty(&self) -> bool {
        self.plain.is_empty() && self.crypt.is_empty()
    }

    fn extend_emails(&mut self, emails: &[String], crypt: bool) {
        if crypt {
            self.crypt.extend(emails.iter().cloned());
        } else {
            self.plain.extend(emails.iter().cloned());
        }
    }
}

/// Mail message `msgid` (or only `note`) about item `class``id` to the
/// given addresses (Roundup's `send_message`; `nosymessage` picks the
/// addresses and calls it), encrypted to their PGP keys with
/// `opts.crypt`. Queued in the open transaction.
#[allow(clippy::too_many_arguments)]
pub fn send_message(
    db: &Db,
    class: &str,
    id: &str,
    msgid: Option<&str>,
    note: &str,
    sendto: Vec<String>,
    bcc: Vec<String>,
    opts: &NosyOptions,
) -> Result<()> {
    let Some(setup) = db.mail().cloned() else {
        return Ok(());
    };
    let mut n = notification(
        db,
        &setup.settings,
        class,
        id,
        msgid,
        note,
        sendto,
        bcc,
        opts,
    )?;
    n.encrypt = opts.crypt;
    for envelope in setup.mailer.compose_notification(&n)? {
        db.queue_mail(&envelope)?;
    }
    Ok(())
}

/// Word the message (Roundup's `send_message`).
#[allow(clippy::too_many_arguments)]
fn notification(
    db: &Db,
    s: &crate::mail::NosySettings,
    class: &str,
    id: &str,
    msgid: Option<&str>,
    note: &str,
    mut sendto: Vec<String>,
    bcc: Vec<String>,
    opts: &NosyOptions,
) -> Result<Notification> {
    let (mut inreplyto, mut messageid) = match msgid {
        Some(m) => (
            opt_str(db.get("msg", m, "inreplyto")?),
            opt_str(db.get("msg", m, "messageid")?),
        ),
        None => (None, None),
    };
    if messageid.is_none() {
        // A message made on the web has no id yet: give it one, so that
        // replies thread.
        let made = made_up_message_id(class, id, &s.mail_domain);
        if let Some(m) = msgid {
            let mut v = Values::new();
            v.insert("messageid".into(), Some(Value::String(made.clone())));
            db.set("msg", m, v)?;
        }
        messageid = Some(made);
    }
    let title = match opt_str(db.get(class, id, "title").unwrap_or(None)) {
        Some(t) => t,
        None => format!("{class} message copy"),
    };
    let authid = match (&opts.authid, msgid) {
        (Some(a), _) => Some(a.clone()),
        (None, Some(m)) => link_of(db.get("msg", m, "author")?),
        (None, None) => Some(db.getuid()),
    };
    let (authname, authaddr_raw) = match &authid {
        Some(a) => {
            let real = str_of(db.get("user", a, "realname").unwrap_or(None));
            let name = if real.is_empty() {
                str_of(db.get("user", a, "username")?)
            } else {
                real
            };
            (name, str_of(db.get("user", a, "address")?))
        }
        None => (String::new(), String::new()),
    };
    let authaddr = if !authaddr_raw.is_empty() && s.add_authoremail {
        format!(" <{authaddr_raw}>")
    } else {
        String::new()
    };

    let mut m: Vec<String> = vec![String::new()];
    if s.signature_position == SignaturePosition::Top {
        m.push(signature(s, class, id));
    }
    if authid.is_some() && s.add_authorinfo {
        let messages = ids_of(db.get(class, id, "messages").unwrap_or(None));
        if msgid.is_some() && messages.len() == 1 {
            m.push(format!("New submission from {authname}{authaddr}:"));
        } else if msgid.is_some() {
            m.push(format!("{authname}{authaddr} added the comment:"));
        } else {
            m.push(format!("Change by {authname}{authaddr}:"));
        }
        m.push(String::new());
    }
    let mut attachments = Vec::new();
    if let Some(mid) = msgid {
        m.push(str_of(db.get("msg", mid, "content")?));
        for fid in ids_of(db.get("msg", mid, "files")?) {
            let data = db.file_content("file", &fid)?;
            let name = str_of(db.get("file", &fid, "name")?);
            if data.len() as u64 <= s.max_attachment_size {
                let mime_type = opt_str(db.get("file", &fid, "type")?)
                    .unwrap_or_else(|| crate::db::guess_type(&name));
                attachments.push(MailAttachment {
                    name,
                    mime_type,
                    data,
                });
            } else {
                m.push(format!(
                    "File '{name}' not attached - you can download it from {}file{fid}.",
                    s.tracker_web
                ));
            }
        }
    }
    if !note.is_empty() {
        m.push(note.to_string());
    }
    if s.signature_position == SignaturePosition::Bottom {
        m.push(signature(s, class, id));
    }
    sendto.sort();

    let from_address = opts
        .from_address
        .clone()
        .unwrap_or_else(|| s.tracker_email.clone());
    let from_tag = if s.email_from_tag.is_empty() {
        String::new()
    } else {
        format!(" {}", s.email_from_tag)
    };
    let reply_to = if s.replyto_address.is_empty() {
        ReplyTo::Tracker
    } else if s.replyto_address == "AUTHOR" {
        ReplyTo::Author {
            name: authname.clone(),
            address: authaddr_raw.clone(),
        }
    } else {
        ReplyTo::Fixed(s.replyto_address.clone())
    };

    let mut headers = Vec::new();
    let cdef = db.class(class)?.clone();
    for pname in cdef.prop_names(true) {
        let Some(prop) = cdef.prop(&pname) else {
            continue;
        };
        if !matches!(prop.ptype, PropType::Link | PropType::Multilink) {
            continue;
        }
        let Some(lc) = prop.link_class.as_deref() else {
            continue;
        };
        let Ok(ldef) = db.class(lc) else {
            continue;
        };
        let label = match prop.msg_header_property.as_deref() {
            Some("") => None,
            Some(p) if ldef.prop(p).is_some() => Some(p.to_string()),
            _ if ldef.props.contains_key("name") => Some("name".to_string()),
            _ => None,
        };
        let Some(label) = label else {
            continue;
        };
        let ids = match db.get(class, id, &pname)? {
            Some(Value::Link(l)) => vec![l],
            Some(Value::Multilink(ids)) if !ids.is_empty() => ids,
            _ => continue,
        };
        let mut labels = Vec::new();
        for lid in ids {
            labels.push(plain(db.get(lc, &lid, &label)?));
        }
        headers.push((format!("X-Roundup-{class}-{pname}"), labels.join(", ")));
    }
    headers.push((format!("X-Roundup-{class}-Id"), id.to_string()));
    headers.extend(opts.add_headers.iter().cloned());

    if inreplyto.is_none() {
        // Thread under the item's first message.
        let msgs = ids_of(db.get(class, id, "messages").unwrap_or(None));
        if let Some(first) = msgs.first() {
            if Some(first.as_str()) != msgid {
                inreplyto = opt_str(db.get("msg", first, "messageid")?);
            }
        }
    }

    Ok(Notification {
        from_name: format!("{authname}{from_tag}"),
        from_address,
        to: sendto,
        bcc,
        subject: opts
            .subject
            .clone()
            .unwrap_or_else(|| format!("[{class}{id}] {title}")),
        reply_to,
        message_id: messageid,
        in_reply_to: inreplyto,
        headers,
        body: m.join("\n"),
        attachments,
        separate: !s.single_message,
        encrypt: false,
    })
}

/// The tracker's signature block: its name and address and the item's URL.
fn signature(s: &crate::mail::NosySettings, class: &str, id: &str) -> String {
    let base = &s.tracker_web;
    let web = if base.starts_with("http://") || base.starts_with("https://") {
        let slash = if base.ends_with('/') { "" } else { "/" };
        format!("{base}{slash}{class}{id}")
    } else {
        "Configuration Error: TRACKER_WEB isn't a fully-qualified URL".to_string()
    };
    let email = format_address(&s.tracker_name, &s.tracker_email);
    let width = (web.chars().count() + 2).max(email.chars().count());
    let line = "_".repeat(width);
    format!("\n{line}\n{email}\n<{web}>\n{line}")
}

/// `name <address>` with the name quoted when it holds characters that
/// need it (Python's `email.utils.formataddr` for ASCII names).
pub fn format_address(name: &str, address: &str) -> String {
    if name.is_empty() {
        return address.to_string();
    }
    let special = name.chars().any(|c| "][\\()<>@,:;\".".contains(c));
    if special {
        let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\" <{address}>")
    } else {
        format!("{name} <{address}>")
    }
}

/// The note listing an item's values when it was created: one line per
/// non-empty, non-quiet property, sorted by name.
pub fn create_note(db: &Db, class: &str, id: &str) -> Result<String> {
    let cdef = db.class(class)?.clone();
    let mut names: Vec<&String> = cdef.props.keys().collect();
    names.sort();
    let mut m = vec![String::new(), "----------".to_string()];
    for name in names {
        let prop = &cdef.props[name];
        if prop.quiet {
            continue;
        }
        let Some(value) = db.get(class, id, name)? else {
            continue;
        };
        let text = match &value {
            Value::Link(l) => label(db, prop.link_class.as_deref(), l)?,
            Value::Multilink(ids) => {
                if ids.is_empty() {
                    continue;
                }
                let mut labels = Vec::new();
                for l in ids {
                    labels.push(label(db, prop.link_class.as_deref(), l)?);
                }
                labels.sort();
                labels.join(", ")
            }
            other => {
                if falsy(other) {
                    continue;
                }
                let t = other.to_string();
                if t.contains('\n') {
                    format!("\n{}", indent(&t))
                } else {
                    t
                }
            }
        };
        m.push(format!("{name}: {text}"));
    }
    Ok(m.join("\n"))
}

/// The note listing what changed: `status: unread -> chatting`,
/// `nosy: +alice -bob`, and for multi-line text the new and old text.
pub fn change_note(db: &Db, class: &str, id: &str, oldvalues: &Values) -> Result<String> {
    let cdef = db.class(class)?.clone();
    let mut changed: Vec<(String, Option<Value>)> = Vec::new();
    for (key, old) in oldvalues {
        if matches!(
            key.as_str(),
            "files" | "messages" | "actor" | "activity" | "creator" | "creation"
        ) {
            continue;
        }
        if !cdef.props.contains_key(key) {
            continue;
        }
        let new = db.get(class, id, key)?;
        if !same(&new, old) {
            changed.push((key.clone(), old.clone()));
        }
    }
    changed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut m = Vec::new();
    for (name, old) in changed {
        let prop = &cdef.props[&name];
        if prop.quiet {
            continue;
        }
        let new = db.get(class, id, &name)?;
        let change = match prop.ptype {
            PropType::Link => {
                let lc = prop.link_class.as_deref();
                let show = |v: &Option<Value>| -> Result<String> {
                    match v {
                        Some(Value::Link(l)) => label(db, lc, l),
                        _ => Ok(String::new()),
                    }
                };
                format!("{} -> {}", show(&old)?, show(&new)?)
            }
            PropType::Multilink => {
                let lc = prop.link_class.as_deref();
                let new_ids = new
                    .as_ref()
                    .and_then(|v| v.as_ids())
                    .unwrap_or(&[])
                    .to_vec();
                let old_ids = old
                    .as_ref()
                    .and_then(|v| v.as_ids())
                    .unwrap_or(&[])
                    .to_vec();
                let mut added = Vec::new();
                for e in new_ids.iter().filter(|e| !old_ids.contains(e)) {
                    added.push(label(db, lc, e)?);
                }
                let mut removed = Vec::new();
                for e in old_ids.iter().filter(|e| !new_ids.contains(e)) {
                    removed.push(label(db, lc, e)?);
                }
                let mut change = String::new();
                if !added.is_empty() {
                    added.sort();
                    change = format!("+{}", added.join(", "));
                }
                if !removed.is_empty() {
                    removed.sort();
                    change.push_str(&format!(" -{}", removed.join(", ")));
                }
                change
            }
            _ => {
                let o = py_str(&old);
                let n = py_str(&new);
                let change = format!("{o} -> {n}");
                if change.contains('\n') {
                    format!("\nNow:\n{}\nWas:\n{}", indent(&n), indent(&o))
                } else {
                    change
                }
            }
        };
        m.push(format!("{name}: {change}"));
    }
    if !m.is_empty() {
        m.insert(0, "----------".to_string());
        m.insert(0, String::new());
    }
    Ok(m.join("\n"))
}

/// Whether a stored value and an old value are the same (multilinks
/// compared as sets of ids, as Roundup sorts both before comparing).
fn same(new: &Option<Value>, old: &Option<Value>) -> bool {
    match (new, old) {
        (Some(Value::Multilink(a)), Some(Value::Multilink(b))) => {
            let mut a = a.clone();
            let mut b = b.clone();
            a.sort();
            b.sort();
            a == b
        }
        (Some(Value::Multilink(a)), None) | (None, Some(Value::Multilink(a))) => a.is_empty(),
        _ => new == old,
    }
}

/// Python's `str()` of a value as the change note shows it (`None` for
/// no value).
fn py_str(v: &Option<Value>) -> String {
    match v {
        None => "None".to_string(),
        Some(v) => v.to_string(),
    }
}

/// Python's truth of a value (the create note skips false ones).
fn falsy(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Integer(i) => *i == 0,
        Value::Number(n) => *n == 0.0,
        Value::Boolean(b) => !b,
        Value::Link(l) => l.is_empty(),
        Value::Multilink(ids) => ids.is_empty(),
        _ => false,
    }
}

fn indent(text: &str) -> String {
    text.trim_end_matches('\n')
        .split('\n')
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The label of a linked item (its label property, or its id).
fn label(db: &Db, class: Option<&str>, id: &str) -> Result<String> {
    let Some(class) = class else {
        return Ok(id.to_string());
    };
    let key = db.class(class)?.label_prop(true);
    if key == "id" {
        return Ok(id.to_string());
    }
    Ok(plain(db.get(class, id, &key)?))
}

fn plain(v: Option<Value>) -> String {
    match v {
        None => String::new(),
        Some(Value::String(s)) | Some(Value::Link(s)) => s,
        Some(other) => other.to_string(),
    }
}

fn str_of(v: Option<Value>) -> String {
    opt_str(v).unwrap_or_default()
}

fn opt_str(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        _ => None,
    }
}

fn link_of(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::Link(l)) if !l.is_empty() => Some(l),
        _ => None,
    }
}

fn ids_of(v: Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Multilink(ids)) => ids,
        _ => Vec::new(),
    }
}

/// A Message-Id for a message that came without one, as Roundup makes
/// them: `<time.random.<class><id>@<mail domain>>` (`id` is `None` for an
/// item not created yet).
pub fn made_up_message_id(class: &str, id: &str, domain: &str) -> String {
    format!(
        "<{}.{}.{class}{id}@{domain}>",
        crate::mail::now(),
        random_token()
    )
}

/// Sixteen base-32 characters from the system's random source (the
/// middle part of a made-up Message-Id).
fn random_token() -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let bytes: [u8; 10] = rand::random();
    let mut bits: u128 = 0;
    for b in bytes {
        bits = (bits << 8) | u128::from(b);
    }
    (0..16)
        .map(|i| ALPHABET[((bits >> (75 - 5 * i)) & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_quote_names_with_specials() {
        assert_eq!(format_address("Roundup", "a@b"), "Roundup <a@b>");
        assert_eq!(
            format_address("Roundup issue tracker", "a@b"),
            "Roundup issue tracker <a@b>"
        );
        assert_eq!(format_address("Smith, J.", "a@b"), "\"Smith, J.\" <a@b>");
        assert_eq!(format_address("", "a@b"), "a@b");
    }

    #[test]
    fn tokens_are_base32() {
        let t = random_token();
        assert_eq!(t.len(), 16);
        assert!(t
            .bytes()
            .all(|c| c.is_ascii_uppercase() || (b'2'..=b'7').contains(&c)));
        assert_ne!(t, random_token());
    }

    #[test]
    fn indent_and_truth() {
        assert_eq!(indent("a\nb\n"), "  a\n  b");
        assert!(falsy(&Value::Integer(0)));
        assert!(!falsy(&Value::Boolean(true)));
        assert!(same(
            &Some(Value::Multilink(vec!["2".into(), "1".into()])),
            &Some(Value::Multilink(vec!["1".into(), "2".into()]))
        ));
        assert!(same(&None, &Some(Value::Multilink(vec![]))));
    }
}
