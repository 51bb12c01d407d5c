//! Outgoing mail of a Roundup tracker: composing messages (with
//! `mail-builder`) and handing them to an SMTP server (with `lettre`), or
//! appending them to the `[mail] debug` file instead, as Roundup does.
//!
//! The core decides what a notification says and who gets it
//! (`roundup_core::nosy`) and keeps messages in the outbox until they are
//! delivered (`roundup_core::mail`); this crate implements the core's
//! [`Mailer`] trait for a tracker's `config.ini`:
//! * `[mail]` host, port, username, password, tls, tls_certfile,
//!   tls_keyfile, local_hostname, debug (and the `SENDMAILDEBUG`
//!   environment variable, which wins, as in Roundup);
//! * `[main]` admin_email (envelope sender and author of the tracker's
//!   own mail), `[tracker] name`.
//!
//! * `[pgp]` enable, encrypt, homedir: a notification the core marks for
//!   encryption (recipients with `[pgp] roles`, see `roundup_core::nosy`)
//!   is sent as RFC 3156 `multipart/encrypted` to each recipient's key,
//!   as is a gateway error reply to a sender who wrote encrypted (see
//!   [`pgp`]).
//!
//! Messages are composed 7-bit clean (quoted-printable or base64 bodies,
//! RFC 2047 headers), with CRLF line ends; the debug file gets them with
//! LF line ends, after a `From ` line and `FROM:`/`TO:` lines as Roundup
//! writes them.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use mail_builder::headers::address::Address;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::MessageBuilder;
use roundup_core::config::Config;
use roundup_core::mail::{
    Envelope, MailSetup, Mailer, NosySettings, Notification, PlainMail, ReplyTo,
};
use roundup_core::{Error, Result};

pub mod pgp;
use pgp::PgpConfig;

/// The Roundup version our headers claim (`X-Roundup-Version`), the one
/// whose behaviour this implementation follows.
pub const ROUNDUP_VERSION: &str = "2.6.0";

/// How to reach the mail server, from `[mail]` and `[main]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MailConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
    pub tls: bool,
    pub tls_certfile: Option<PathBuf>,
    pub tls_keyfile: Option<PathBuf>,
    pub local_hostname: String,
    /// Where messages are written instead of sent.
    pub debug: Option<PathBuf>,
    /// Envelope sender and the tracker's own author address.
    pub admin_email: String,
    pub tracker_name: String,
    /// `[pgp]`: encryption of outgoing mail.
    pub pgp: PgpConfig,
}

impl MailConfig {
    /// Read the settings from a tracker configuration.
    pub fn from_config(c: &Config) -> MailConfig {
        let s = |sec: &str, opt: &str| c.get_str(sec, opt).unwrap_or_default();
        let debug = std::env::var_os("SENDMAILDEBUG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| c.get_path("mail", "debug").ok().flatten());
        MailConfig {
            host: s("mail", "host"),
            port: c
                .get_int("mail", "port")
                .ok()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(25),
            username: s("mail", "username"),
            password: s("mail", "password"),
            tls: c.get_bool("mail", "tls").unwrap_or(false),
            tls_certfile: c.get_path("mail", "tls_certfile").ok().flatten(),
            tls_keyfile: c.get_path("mail", "tls_keyfile").ok().flatten(),
            local_hostname: s("mail", "local_hostname"),
            debug,
            admin_email: s("main", "admin_email"),
            tracker_name: s("tracker", "name"),
            pgp: PgpConfig::from_config(c),
        }
    }
}

/// The tracker's mailer: composes and delivers per [`MailConfig`].
pub struct TrackerMailer {
    cfg: MailConfig,
    /// SMTP sessions kept open between messages (checked with NOOP before
    /// reuse; the server closing an idle one just means a new one).
    idle: std::sync::Mutex<Vec<SmtpConnection>>,
}

/// At most this many idle SMTP sessions are kept.
const IDLE_SESSIONS: usize = 4;

impl TrackerMailer {
    pub fn new(cfg: MailConfig) -> TrackerMailer {
        TrackerMailer {
            cfg,
            idle: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// An open session: an idle one that still answers, or a new one.
    fn take_session(&self) -> std::result::Result<SmtpConnection, String> {
        loop {
            let next = self.idle.lock().map(|mut v| v.pop()).unwrap_or(None);
            match next {
                Some(mut conn) => {
                    if conn.test_connected() {
                        return Ok(conn);
                    }
                    conn.abort();
                }
                None => return self.session(),
            }
        }
    }

    fn put_session(&self, mut conn: SmtpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < IDLE_SESSIONS {
                idle.push(conn);
                return;
            }
        }
        let _ = conn.quit();
    }

    pub fn config(&self) -> &MailConfig {
        &self.cfg
    }

    fn reply_to<'x>(&'x self, n: &'x Notification) -> Address<'x> {
        match &n.reply_to {
            ReplyTo::Tracker => sender(self.cfg.tracker_name.as_str(), n.from_address.as_str()),
            ReplyTo::Author { name, address } => sender(name.as_str(), address.as_str()),
            ReplyTo::Fixed(a) => Address::new_address(None::<&str>, a.as_str()),
        }
    }

    /// A notification's composed text `inner` encrypted to `to`, inside
    /// a message with the tracker's headers and the notification's
    /// Message-Id, Reply-To and In-Reply-To.
    fn encrypted(&self, n: &Notification, to: &[String], inner: &str) -> Result<String> {
        let armored = self
            .cfg
            .pgp
            .keyring()
            .encrypt_to(to, inner.as_bytes())
            .map_err(|e| {
                Error::Config(format!("[pgp] encrypt: cannot encrypt a notification: {e}"))
            })?;
        let mut b = MessageBuilder::new().reply_to(self.reply_to(n));
        if let Some(id) = &n.message_id {
            b = b.message_id(MessageId::new(bare_id(id)));
        }
        if let Some(id) = &n.in_reply_to {
            b = b.in_reply_to(MessageId::new(bare_id(id)));
        }
        b = self.standard(b, to, &n.subject, (&n.from_name, &n.from_address));
        write(b.body(pgp::encrypted_body(armored)))
    }

    /// The headers every message of the tracker carries (Roundup's
    /// `set_message_attributes`).
    fn standard<'x>(
        &'x self,
        mut b: MessageBuilder<'x>,
        to: &'x [String],
        subject: &'x str,
        author: (&'x str, &'x str),
    ) -> MessageBuilder<'x> {
        let to: Vec<Address<'x>> = to
            .iter()
            .map(|a| Address::new_address(None::<&str>, a.as_str()))
            .collect();
        b = b
            .subject(Text::new(subject))
            .to(Address::new_list(to))
            .from(sender(author.0, author.1))
            .header("Precedence", Raw::new("bulk"))
            .header("X-Roundup-Name", Text::new(self.cfg.tracker_name.as_str()))
            .header("X-Roundup-Loop", Raw::new("hello"))
            .header("X-Roundup-Version", Raw::new(ROUNDUP_VERSION));
        b
    }

    /// Open an SMTP session per `[mail]`: implicit TLS on port 465,
    /// STARTTLS when `tls` is on, AUTH when a username is set. The
    /// session's socket has Nagle's algorithm turned off (see
    /// [`no_delay_to`]).
    fn session(&self) -> std::result::Result<SmtpConnection, String> {
        let cfg = &self.cfg;
        if cfg.host.is_empty() {
            return Err("[mail] host is not set in config.ini, so no mail can be sent".into());
        }
        let hello = if cfg.local_hostname.is_empty() {
            ClientId::default()
        } else {
            ClientId::Domain(cfg.local_hostname.clone())
        };
        let tls = if cfg.tls || cfg.port == 465 {
            let mut params = TlsParameters::builder(cfg.host.clone());
            if let Some(cert) = &cfg.tls_certfile {
                let cert_pem = std::fs::read(cert)
                    .map_err(|e| format!("[mail] tls_certfile {}: {e}", cert.display()))?;
                let key_pem = match &cfg.tls_keyfile {
                    Some(k) => std::fs::read(k)
                        .map_err(|e| format!("[mail] tls_keyfile {}: {e}", k.display()))?,
                    None => cert_pem.clone(),
                };
                let identity =
                    lettre::transport::smtp::client::Identity::from_pem(&cert_pem, &key_pem)
                        .map_err(|e| format!("[mail] tls_certfile/tls_keyfile: {e}"))?;
                params = params.identify_with(identity);
            }
            Some(
                params
                    .build_rustls()
                    .map_err(|e| format!("TLS set-up for {}: {e}", cfg.host))?,
            )
        } else {
            None
        };
        let wrapper = cfg.port == 465 && !cfg.tls;
        let net =
            |e: lettre::transport::smtp::Error| format!("mailhost {}:{}: {e}", cfg.host, cfg.port);
        let mut conn = SmtpConnection::connect(
            (cfg.host.as_str(), cfg.port),
            Some(Duration::from_secs(60)),
            &hello,
            if wrapper { tls.as_ref() } else { None },
            None,
        )
        .map_err(net)?;
        no_delay_to(&cfg.host, cfg.port);
        if let (Some(params), false) = (&tls, wrapper) {
            conn.starttls(params, &hello).map_err(net)?;
        }
        if !cfg.username.is_empty() {
            conn.auth(
                DEFAULT_MECHANISMS,
                &Credentials::new(cfg.username.clone(), cfg.password.clone()),
            )
            .map_err(net)?;
        }
        Ok(conn)
    }
}

/// Turn Nagle's algorithm off on this process's TCP sockets connected to
/// `host:port`.
///
/// lettre 0.11.23 writes a message and its `.` terminator in two writes
/// and leaves Nagle on, so the terminator waits for the server's delayed
/// ACK: 40 ms per message on Linux, which capped delivery at about 22
/// messages a second. lettre's own fix (TCP_NODELAY, lettre PR #1159) is
/// not released yet; until it is, the socket lettre just opened is found
/// among the process's descriptors by its peer address and given
/// `TCP_NODELAY` here. Other sockets to the same server, if any, are ours
/// too, and only gain from it.
fn no_delay_to(host: &str, port: u16) {
    use std::net::ToSocketAddrs;
    let Ok(peers) = (host, port).to_socket_addrs() else {
        return;
    };
    let peers: Vec<std::net::SocketAddr> = peers.collect();
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if peer_of(fd).is_some_and(|p| peers.contains(&p)) {
            let one: libc::c_int = 1;
            // SAFETY: fd is an open socket of this process; the option
            // value is a valid c_int for its whole size.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                );
            }
        }
    }
}

/// The address a descriptor's socket is connected to, if it is an IP
/// socket.
fn peer_of(fd: i32) -> Option<std::net::SocketAddr> {
    // SAFETY: the storage is zeroed and large enough for any address;
    // getpeername writes at most `len` bytes and fails harmlessly on
    // descriptors that are not sockets.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getpeername(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        ) != 0
        {
            return None;
        }
        match i32::from(storage.ss_family) {
            libc::AF_INET => {
                let a: libc::sockaddr_in =
                    std::ptr::read((&storage as *const libc::sockaddr_storage).cast());
                Some(std::net::SocketAddr::from((
                    std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let a: libc::sockaddr_in6 =
                    std::ptr::read((&storage as *const libc::sockaddr_storage).cast());
                Some(std::net::SocketAddr::from((
                    std::net::Ipv6Addr::from(a.sin6_addr.s6_addr),
                    u16::from_be(a.sin6_port),
                )))
            }
            _ => None,
        }
    }
}

/// `name <address>` as a header address (the name encoded when it is
/// not ASCII, quoted when it needs to be).
fn sender<'x>(name: &'x str, address: &'x str) -> Address<'x> {
    if name.is_empty() {
        Address::new_address(None::<&str>, address)
    } else {
        Address::new_address(Some(name), address)
    }
}

/// A stored message id (`<...>`) without its angle brackets.
fn bare_id(id: &str) -> &str {
    id.trim().trim_start_matches('<').trim_end_matches('>')
}

fn write(b: MessageBuilder<'_>) -> Result<String> {
    b.write_to_string()
        .map_err(|e| Error::io("composing a mail message", e))
}

impl Drop for TrackerMailer {
    fn drop(&mut self) {
        if let Ok(mut idle) = self.idle.lock() {
            for mut conn in idle.drain(..) {
                let _ = conn.quit();
            }
        }
    }
}

impl Mailer for TrackerMailer {
    fn compose_notification(&self, n: &Notification) -> Result<Vec<Envelope>> {
        let batches: Vec<Vec<String>> = if n.to.is_empty() {
            vec![Vec::new()]
        } else if !n.separate {
            vec![n.to.clone()]
        } else {
            n.to.iter().map(|a| vec![a.clone()]).collect()
        };
        let mut out = Vec::new();
        let mut first_text: Option<String> = None;
        for to in &batches {
            let mut b = MessageBuilder::new();
            b = b.reply_to(self.reply_to(n));
            if let Some(id) = &n.message_id {
                b = b.message_id(MessageId::new(bare_id(id)));
            }
            if let Some(id) = &n.in_reply_to {
                b = b.in_reply_to(MessageId::new(bare_id(id)));
            }
            for (k, v) in &n.headers {
                b = b.header(k.as_str(), Text::new(v.as_str()));
            }
            if !n.encrypt {
                b = self.standard(b, to, &n.subject, (&n.from_name, &n.from_address));
            }
            b = b.text_body(n.body.as_str());
            for a in &n.attachments {
                b = b.attachment(a.mime_type.as_str(), a.name.as_str(), a.data.as_slice());
            }
            let text = write(b)?;
            if n.encrypt {
                // Roundup's encrypt_to: the message is the encrypted part;
                // the envelope around it has the addressing headers and
                // the threading ones, one per recipient list (and one per
                // bcc recipient, so that nobody learns of the others from
                // the keys the message is encrypted to).
                let mut lists: Vec<&[String]> = Vec::new();
                if !to.is_empty() {
                    lists.push(to.as_slice());
                }
                if first_text.is_none() {
                    lists.extend(n.bcc.chunks(1));
                }
                first_text = Some(String::new());
                for list in lists {
                    out.push(Envelope {
                        sender: self.cfg.admin_email.clone(),
                        recipients: list.to_vec(),
                        message: self.encrypted(n, list, &text)?,
                    });
                }
                continue;
            }
            if first_text.is_none() {
                first_text = Some(text.clone());
            }
            if !to.is_empty() {
                out.push(Envelope {
                    sender: self.cfg.admin_email.clone(),
                    recipients: to.clone(),
                    message: text,
                });
            }
        }
        if !n.bcc.is_empty() && !n.encrypt {
            if let Some(text) = first_text {
                out.push(Envelope {
                    sender: self.cfg.admin_email.clone(),
                    recipients: n.bcc.clone(),
                    message: text,
                });
            }
        }
        Ok(out)
    }

    fn compose_plain(&self, m: &PlainMail) -> Result<Envelope> {
        let (name, address) = match &m.author {
            Some((n, a)) => (n.as_str(), a.as_str()),
            None => (
                self.cfg.tracker_name.as_str(),
                self.cfg.admin_email.as_str(),
            ),
        };
        let mut b = MessageBuilder::new();
        b = self.standard(b, &m.to, &m.subject, (name, address));
        b = b.text_body(m.body.as_str());
        for a in &m.attachments {
            b = b.attachment(a.mime_type.as_str(), a.name.as_str(), a.data.as_slice());
        }
        Ok(Envelope {
            sender: self.cfg.admin_email.clone(),
            recipients: m.to.clone(),
            message: write(b)?,
        })
    }

    fn compose_plain_encrypted(&self, m: &PlainMail) -> Result<Option<Envelope>> {
        let (name, address) = match &m.author {
            Some((n, a)) => (n.as_str(), a.as_str()),
            None => (
                self.cfg.tracker_name.as_str(),
                self.cfg.admin_email.as_str(),
            ),
        };
        let mut inner = MessageBuilder::new().text_body(m.body.as_str());
        for a in &m.attachments {
            inner = inner.attachment(a.mime_type.as_str(), a.name.as_str(), a.data.as_slice());
        }
        let inner = write(inner)?;
        // Roundup sends the reply only to the recipients it has keys for.
        let keyring = self.cfg.pgp.keyring();
        let to: Vec<String> =
            m.to.iter()
                .filter(|a| keyring.encrypt_to(std::slice::from_ref(*a), b"").is_ok())
                .cloned()
                .collect();
        if to.is_empty() {
            return Ok(None);
        }
        let armored = keyring
            .encrypt_to(&to, inner.as_bytes())
            .map_err(|e| Error::Config(format!("[pgp]: cannot encrypt a reply: {e}")))?;
        let mut b = MessageBuilder::new();
        b = self.standard(b, &to, &m.subject, (name, address));
        Ok(Some(Envelope {
            sender: self.cfg.admin_email.clone(),
            recipients: to.clone(),
            message: write(b.body(pgp::encrypted_body(armored)))?,
        }))
    }

    fn configured(&self) -> bool {
        self.cfg.debug.is_some() || !self.cfg.host.is_empty()
    }

    /// SMTP sessions run side by side (the server accepts each message
    /// with a flush to its disk, so one session waits on that flush
    /// after every message); the debug file is written in order.
    fn connections(&self) -> usize {
        if self.cfg.debug.is_some() {
            1
        } else {
            IDLE_SESSIONS
        }
    }

    fn deliver(&self, e: &Envelope) -> std::result::Result<(), String> {
        if let Some(path) = &self.cfg.debug {
            return append_debug(path, e);
        }
        let from = e
            .sender
            .parse()
            .map_err(|err| format!("envelope sender {:?}: {err}", e.sender))?;
        let mut to = Vec::new();
        for r in &e.recipients {
            to.push(
                r.parse()
                    .map_err(|err| format!("recipient address {r:?}: {err}"))?,
            );
        }
        let envelope = lettre::address::Envelope::new(Some(from), to)
            .map_err(|err| format!("mail envelope: {err}"))?;
        let mut conn = self
            .take_session()
            .map_err(|err| format!("couldn't send email: {err}"))?;
        let sent = conn.send(&envelope, e.message.as_bytes());
        if sent.is_ok() && !conn.has_broken() {
            self.put_session(conn);
        } else {
            conn.abort();
        }
        sent.map(|_| ()).map_err(|err| {
            format!(
                "couldn't send email: mailhost {}:{}: {err}",
                self.cfg.host, self.cfg.port
            )
        })
    }
}

/// Append a message to the debug file as Roundup does: a `From ` line,
/// `FROM:` and `TO:` lines, the message with LF line ends, a blank line.
fn append_debug(path: &std::path::Path, e: &Envelope) -> std::result::Result<(), String> {
    let when = chrono::Local::now().format("%a %b %m %H:%M:%S %Y");
    let text = format!(
        "From {sender} {when}\nFROM: {sender}\nTO: {to}\n{message}\n\n",
        sender = e.sender,
        to = e.recipients.join(", "),
        message = e.message.replace("\r\n", "\n"),
    );
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|err| format!("[mail] debug file {}: {err}", path.display()))
}

/// The mail setup a tracker's connections use.
pub fn setup(config: &Config) -> Arc<MailSetup> {
    Arc::new(MailSetup {
        settings: NosySettings::from_config(config),
        mailer: Arc::new(TrackerMailer::new(MailConfig::from_config(config))),
    })
}
