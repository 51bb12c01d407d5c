//! `roundup-mailgw`: feed e-mail to a tracker, with Roundup's command line.
//!
//! ```text
//! roundup-mailgw [-h] [-v] [-c class] [-S [class.]prop=value]... [-O dir] [-T url]
//!                [instance_home] [source specification [mailbox]]
//! ```
//!
//! Without a source one message is read from standard input (the MTA
//! alias pipe). `mailbox FILE` handles every message of an mbox file,
//! locked, and empties it only when every message was handled; `maildir
//! DIR` (not in Roundup) handles `new/` and moves each handled message to
//! `cur/`. The network sources fetch from a server given as
//! `[user[:password]@]server[:port]`: `pop`, `pops` (TLS), `apop`, `imap`,
//! `imaps` (TLS), `imaps_cram` (TLS, CRAM-MD5) and `imaps_oauth` (TLS,
//! XOAUTH2 with the access token in the -O directory, renewed at the -T
//! token endpoint when refused), the IMAP ones with
//! an optional mailbox (INBOX by default). A user name or password not
//! given is looked up in ~/.netrc, then asked for on the terminal. A
//! message is deleted on the server only once the tracker took it; if the
//! tracker fails, it and the rest stay there and the exit status is 1.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use roundup_core::QueuedMail;
use roundup_mailgw::fetch::{self, ErrorKind, ImapLogin, Netrc, PopLogin, Server};
use roundup_mailgw::gateway::{handle, Commit, GatewayOptions, Outcome};
use roundup_mailgw::sources::{maildir_messages, mark_done, read_mbox};
use roundup_tracker::log::{Level, TrackerLog};
use roundup_tracker::Tracker;

const USAGE: &str = "\
usage: roundup-mailgw [-h] [-v] [-c DEFAULT_CLASS] [-S SET_VALUE]
                      [-O OAUTH_DIRECTORY] [-T OAUTH_TOKEN_ENDPOINT]
                      [args ...]

positional arguments:
  args                  [instance_home] [source specification [mailbox]]

options:
  -h, --help            show this help message and exit
  -v, --version         print version and exit
  -c DEFAULT_CLASS, --default-class DEFAULT_CLASS
                        class of the items new mail creates (overrides
                        [mailgw] default_class)
  -S SET_VALUE, --set-value SET_VALUE
                        '[class.]property=value[;property=value]' set on
                        what each message creates; class defaults to msg
  -O OAUTH_DIRECTORY, --oauth-directory OAUTH_DIRECTORY
                        directory with OAuth credentials (imaps_oauth)
  -T OAUTH_TOKEN_ENDPOINT, --oauth-token-endpoint OAUTH_TOKEN_ENDPOINT
                        OAuth token endpoint URL for renewing the access
                        token (imaps_oauth), by default
                        https://login.microsoftonline.com/organizations/oauth2/v2.0/token

Ways to call it:
 . without arguments: the tracker home is taken from ROUNDUP_INSTANCE and
   one message is read from standard input;
 . with the tracker home only: one message from standard input;
 . with the tracker home, 'mailbox' and an mbox file: every message in it;
 . with the tracker home, 'maildir' and a maildir: every new message;
 . with the tracker home, a network source and [user[:password]@]server[:port]
   (and for IMAP a mailbox, INBOX by default): every message on the server:
     pop, pops (TLS), apop (APOP digest login),
     imap, imaps (TLS), imaps_cram (TLS, CRAM-MD5),
     imaps_oauth user@server (TLS, XOAUTH2 with the access_token file of the
       -O directory, by default 'oauth' in the tracker home; when the server
       refuses it, a new one is got from the -T endpoint with the files
       refresh_token, client_id and client_secret there).
   A user name or password not given is taken from ~/.netrc (machine
   server), else asked for on the terminal. Each message is deleted on the
   server once the tracker has it; when the tracker fails, the message and
   the ones after it stay on the server.
";

struct Args {
    default_class: Option<String>,
    set_values: Vec<String>,
    oauth_directory: Option<String>,
    oauth_token_endpoint: Option<String>,
    positional: Vec<String>,
    version: bool,
    help: bool,
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mut a = Args {
        default_class: None,
        set_values: Vec::new(),
        oauth_directory: None,
        oauth_token_endpoint: None,
        positional: Vec::new(),
        version: false,
        help: false,
    };
    let mut i = 0;
    let value = |i: &mut usize, name: &str, inline: Option<&str>| -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v.to_string());
        }
        *i += 1;
        argv.get(*i)
            .cloned()
            .ok_or_else(|| format!("argument {name}: expected one argument"))
    };
    while i < argv.len() {
        let arg = argv[i].as_str();
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg, None),
        };
        match name {
            "-h" | "--help" => a.help = true,
            "-v" | "--version" => a.version = true,
            "-c" | "--default-class" | "--default" => {
                a.default_class = Some(value(&mut i, "-c/--default-class", inline)?)
            }
            "-S" | "--set-value" | "--set" => {
                a.set_values.push(value(&mut i, "-S/--set-value", inline)?)
            }
            "-O" | "--oauth-directory" => {
                a.oauth_directory = Some(value(&mut i, "-O/--oauth-directory", inline)?)
            }
            "-T" | "--oauth-token-endpoint" => {
                a.oauth_token_endpoint = Some(value(&mut i, "-T/--oauth-token-endpoint", inline)?)
            }
            s if s.len() > 2 && s.starts_with("-c") => a.default_class = Some(s[2..].to_string()),
            s if s.len() > 2 && s.starts_with("-S") => a.set_values.push(s[2..].to_string()),
            s if s.starts_with('-') && s.len() > 1 => {
                return Err(format!("unrecognized arguments: {s}"));
            }
            _ => a.positional.push(arg.to_string()),
        }
        i += 1;
    }
    Ok(a)
}

fn fail(msg: &str) -> ExitCode {
    eprint!("{USAGE}");
    eprintln!("\nError: {msg}");
    ExitCode::from(1)
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprint!("{USAGE}");
            eprintln!("roundup-mailgw: error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!(
            "{} (Roundup in Rust {}, compatible with Roundup 2.6)",
            roundup_mail::ROUNDUP_VERSION,
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    let home = match args.positional.first() {
        Some(h) => h.clone(),
        None => std::env::var("ROUNDUP_INSTANCE").unwrap_or_default(),
    };
    if home.is_empty() || !Path::new(&home).is_dir() {
        return fail("The instance home must be specified");
    }
    let tracker = match Tracker::open(Path::new(&home)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("roundup-mailgw: {home}: {e}");
            return ExitCode::from(1);
        }
    };
    let opts = match GatewayOptions::from_config(
        tracker.config(),
        args.default_class.as_deref(),
        &args.set_values,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("roundup-mailgw: {home}: {e}");
            return ExitCode::from(1);
        }
    };
    // A logging configuration that cannot be used stops the gateway, as
    // it stops Roundup's.
    let log = match TrackerLog::open(tracker.config(), "roundup.mailgw") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("roundup-mailgw: {home}: {e}");
            return ExitCode::from(1);
        }
    };
    let gw = Gw {
        tracker: &tracker,
        opts: &opts,
        db: std::cell::RefCell::new(None),
        log,
    };
    match args.positional.len() {
        0 | 1 => gw.pipe(),
        2 => fail("not enough source specification information"),
        _ => {
            let source = args.positional[1].as_str();
            let spec = args.positional[2].as_str();
            match source {
                "mailbox" => gw.mailbox(Path::new(spec)),
                "maildir" => gw.maildir(Path::new(spec)),
                "pop" | "pops" | "apop" | "imap" | "imaps" | "imaps_cram" | "imaps_oauth" => {
                    let mailbox = args.positional.get(3).map(String::as_str).unwrap_or("");
                    let oauth_dir = args
                        .oauth_directory
                        .as_ref()
                        .map(PathBuf::from)
                        .unwrap_or_else(|| Path::new(&home).join("oauth"));
                    gw.network(
                        source,
                        spec,
                        mailbox,
                        &oauth_dir,
                        args.oauth_token_endpoint.as_deref(),
                    )
                }
                _ => fail(
                    "The source must be either \"mailbox\", \"maildir\", \"pop\", \"pops\", \"apop\", \"imap\", \"imaps\", \"imaps_cram\", or \"imaps_oauth\"",
                ),
            }
        }
    }
}

struct Gw<'a> {
    tracker: &'a Tracker,
    opts: &'a GatewayOptions,
    /// One connection for all the messages of a run (opening one per
    /// message cost a checkpoint of the SQLite WAL each time).
    db: std::cell::RefCell<Option<roundup_core::Db>>,
    /// The tracker's log (`[logging]`): a line per message.
    log: TrackerLog,
}

/// A message's Message-Id for the log, or `(no Message-Id)`.
fn message_id(raw: &[u8]) -> String {
    let head = &raw[..raw.len().min(64 * 1024)];
    String::from_utf8_lossy(head)
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("message-id")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "(no Message-Id)".into())
}

impl Gw<'_> {
    /// Handle one message; `Err` when the tracker failed (the message
    /// must then be kept by the caller; in a batch, every message since
    /// the last commit, which is rolled back).
    fn one(&self, raw: &[u8], mode: Commit) -> Result<Outcome, String> {
        let mut slot = self.db.borrow_mut();
        if slot.is_none() {
            *slot = Some(self.tracker.open_db("1").map_err(|e| e.to_string())?);
        }
        let db = slot.as_ref().expect("opened above");
        let otks = || {
            self.tracker
                .open_key_store(roundup_core::sessions::StoreKind::Otks)
        };
        let outcome = match handle(db, &otks, self.opts, raw, mode) {
            Ok(o) => o,
            Err(e) => {
                // Undo what is left uncommitted (its staged files too) and
                // start the next message on a fresh connection.
                if let Err(e2) = db.rollback() {
                    self.log
                        .log(Level::Error, &format!("rolling back failed too: {e2}"));
                }
                *slot = None;
                self.log
                    .log(Level::Error, &format!("the tracker failed: {e}"));
                return Err(e.to_string());
            }
        };
        drop(slot);
        let mid = message_id(raw);
        match &outcome {
            Outcome::Applied { class, id, created } => self.log.log(
                Level::Info,
                &format!(
                    "{} {class}{id} from message {mid}",
                    if *created { "created" } else { "updated" }
                ),
            ),
            Outcome::Ignored(why) => self
                .log
                .log(Level::Info, &format!("message {mid} ignored ({why})")),
            Outcome::Registered(uid) => self.log.log(
                Level::Info,
                &format!("registration confirmed (user{uid}) by message {mid}"),
            ),
            Outcome::Bounced(why) => self.log.log(
                Level::Warning,
                &format!(
                    "message {mid} refused, the sender was told: {}",
                    why.lines().next().unwrap_or("")
                ),
            ),
            Outcome::Unusable(why) => {
                let kept = self.keep(raw);
                self.log.log(Level::Error, &format!("{why}; {kept}"));
            }
            Outcome::OwnTransaction => {}
        }
        Ok(outcome)
    }

    /// Commit the batch of messages handled since the last commit; its
    /// notifications wait for [`Gw::deliver`].
    fn commit_batch(&self) -> Result<QueuedMail, String> {
        let mut slot = self.db.borrow_mut();
        let Some(db) = slot.as_ref() else {
            return Ok(QueuedMail::default());
        };
        match db.commit_holding_mail() {
            Ok(mail) => Ok(mail),
            Err(e) => {
                let _ = db.rollback();
                *slot = None;
                self.log
                    .log(Level::Error, &format!("the tracker failed: {e}"));
                Err(e.to_string())
            }
        }
    }

    /// Hand the notifications of a commit to the mail server; what cannot
    /// go now stays in the outbox for a retry.
    fn deliver(&self, mail: QueuedMail) {
        if mail.is_empty() {
            return;
        }
        if let Some(db) = self.db.borrow().as_ref() {
            if let Err(e) = db.deliver_queued(mail) {
                self.log.log(
                    Level::Error,
                    &format!("the outbox could not be delivered: {e}"),
                );
            }
        }
    }

    /// Keep a copy of a message nobody can be told about, so that it is
    /// not lost: `<db>/mailgw-unusable/<time>.eml`.
    fn keep(&self, raw: &[u8]) -> String {
        let dir: PathBuf = self.tracker.config().database_dir().join("mailgw-unusable");
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%d%H%M%S%.6f"),
            std::process::id()
        );
        let path = dir.join(name);
        match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, raw)) {
            Ok(()) => format!("kept as {}", path.display()),
            Err(e) => format!("could not keep a copy in {}: {e}", dir.display()),
        }
    }

    fn pipe(&self) -> ExitCode {
        let mut raw = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
            eprintln!("roundup-mailgw: reading the message from standard input: {e}");
            return ExitCode::from(1);
        }
        match self.one(&raw, Commit::Each) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                // A temporary failure for the MTA: it keeps the message
                // and tries again (EX_TEMPFAIL).
                eprintln!("roundup-mailgw: {e}");
                ExitCode::from(75)
            }
        }
    }

    fn mailbox(&self, path: &Path) -> ExitCode {
        let mut mbox = match read_mbox(path) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("roundup-mailgw: {e}");
                return ExitCode::from(1);
            }
        };
        // All messages are handled in one transaction, each under a mark
        // of its own (a refused one is undone alone and bounced), and
        // committed together at the end: one commit and one sync for the
        // mailbox. A registration confirmation commits the batch before
        // it and is handled alone. When the tracker fails, what was not
        // committed is rolled back and stays in the mailbox.
        let count = mbox.len();
        let mut committed = 0;
        let mut failure = None;
        for i in 0..count {
            let data = &mbox.messages()[i].data;
            let r = match self.one(data, Commit::Batch) {
                Ok(Outcome::OwnTransaction) => self.commit_batch().and_then(|mail| {
                    committed = i;
                    self.deliver(mail);
                    self.one(data, Commit::Each).map(|_| committed = i + 1)
                }),
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                failure = Some(format!("message {}: {e}", i + 1));
                break;
            }
        }
        let mut mail = QueuedMail::default();
        if failure.is_none() {
            match self.commit_batch() {
                Ok(m) => {
                    mail = m;
                    committed = count;
                }
                Err(e) => {
                    failure = Some(format!(
                        "committing messages {} to {count}: {e}",
                        committed + 1
                    ))
                }
            }
        }
        for i in 0..committed {
            mbox.remove(i);
        }
        // The mailbox first: what is committed must not be read again if
        // the process dies while the notifications go out.
        let closed = mbox.close();
        self.deliver(mail);
        if let Err(e) = closed {
            eprintln!("roundup-mailgw: {e}");
            return ExitCode::from(1);
        }
        match failure {
            None => ExitCode::SUCCESS,
            Some(e) => {
                eprintln!(
                    "roundup-mailgw: {}: {e}; messages {} to {count} left in the mailbox",
                    path.display(),
                    committed + 1,
                );
                // A temporary failure: run again later (EX_TEMPFAIL).
                ExitCode::from(75)
            }
        }
    }

    fn maildir(&self, dir: &Path) -> ExitCode {
        let paths = match maildir_messages(dir) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("roundup-mailgw: {e}");
                return ExitCode::from(1);
            }
        };
        for p in paths {
            let raw = match std::fs::read(&p) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("roundup-mailgw: {}: {e}", p.display());
                    return ExitCode::from(1);
                }
            };
            if let Err(e) = self.one(&raw, Commit::Each) {
                eprintln!("roundup-mailgw: {}: {e}; left in new/", p.display());
                return ExitCode::from(1);
            }
            if let Err(e) = mark_done(&p) {
                eprintln!("roundup-mailgw: {e}");
                return ExitCode::from(1);
            }
        }
        ExitCode::SUCCESS
    }

    /// A network source: fetch every message from a POP3 or IMAP server.
    fn network(
        &self,
        source: &str,
        spec: &str,
        mailbox: &str,
        oauth_dir: &Path,
        token_endpoint: Option<&str>,
    ) -> ExitCode {
        let oauth = source == "imaps_oauth";
        let creds = match credentials(spec, !oauth) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("roundup-mailgw: {e}");
                return ExitCode::from(1);
            }
        };
        let (default_port, tls) = match source {
            "pop" | "apop" => (110, false),
            "pops" => (995, true),
            "imap" => (143, false),
            _ => (993, true),
        };
        let server = Server {
            host: creds.host.clone(),
            port: creds.port.unwrap_or(default_port),
            tls,
        };
        let mut handler = |raw: &[u8]| self.one(raw, Commit::Each).map(|_| ());
        let result = match source {
            "pop" | "pops" | "apop" => {
                let login = if source == "apop" {
                    PopLogin::Apop
                } else {
                    PopLogin::UserPass
                };
                fetch::pop3(&server, &creds.user, &creds.password, login, &mut handler)
            }
            "imaps_oauth" => {
                let mut token = match fetch::read_oauth_file(oauth_dir, "access_token") {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("roundup-mailgw: OAuth: {e}");
                        return ExitCode::from(1);
                    }
                };
                let endpoint = token_endpoint.unwrap_or(fetch::DEFAULT_TOKEN_ENDPOINT);
                let mut renewed = false;
                loop {
                    let login = ImapLogin::XOAuth2 {
                        access_token: token.clone(),
                    };
                    let r = fetch::imap(&server, &creds.user, &login, mailbox, &mut handler);
                    match &r {
                        // the token may have expired: renew it once, as Roundup does
                        Err(e) if e.kind == ErrorKind::Auth && !renewed => {
                            eprintln!(
                                "roundup-mailgw: {source} {e}; renewing the access token at {endpoint}"
                            );
                            match fetch::renew_oauth_tokens(oauth_dir, endpoint) {
                                Ok(t) => token = t,
                                Err(e) => {
                                    eprintln!(
                                        "roundup-mailgw: renewing the OAuth access token at {endpoint}: {e}"
                                    );
                                    return ExitCode::from(1);
                                }
                            }
                            renewed = true;
                        }
                        _ => break r,
                    }
                }
            }
            _ => {
                let login = if source == "imaps_cram" {
                    ImapLogin::CramMd5 {
                        password: creds.password.clone(),
                    }
                } else {
                    ImapLogin::Plain {
                        password: creds.password.clone(),
                    }
                };
                fetch::imap(&server, &creds.user, &login, mailbox, &mut handler)
            }
        };
        match result {
            Ok(done) => {
                eprintln!(
                    "roundup-mailgw: {}:{}: {} message{} handled",
                    server.host,
                    server.port,
                    done.handled,
                    if done.handled == 1 { "" } else { "s" }
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("roundup-mailgw: {source} {e}");
                ExitCode::from(1)
            }
        }
    }
}

/// Who to log in as, where.
struct Credentials {
    user: String,
    password: String,
    host: String,
    port: Option<u16>,
}

/// The user and password for a source specification: from the
/// specification itself, else from ~/.netrc (the entry for the server as
/// written, then for the host alone, then the default entry; a password
/// for a user named in the specification only from an entry with that
/// login), else asked for on the terminal. `want_password` is false for
/// OAuth, which needs none.
fn credentials(spec: &str, want_password: bool) -> Result<Credentials, String> {
    let parsed = fetch::parse_spec(spec);
    let mut user = parsed.user.clone();
    let mut password = parsed.password.clone();
    if user.is_none() || (password.is_none() && want_password) {
        if let Some(netrc) = Netrc::load()? {
            let server_as_written = spec.rsplit_once('@').map_or(spec, |(_, s)| s);
            let entry = match &user {
                None => netrc
                    .machine(server_as_written)
                    .or_else(|| netrc.lookup(&parsed.host)),
                Some(u) => [server_as_written, parsed.host.as_str()]
                    .into_iter()
                    .filter_map(|m| netrc.machine(m))
                    .find(|e| &e.login == u),
            };
            if let Some(e) = entry {
                if user.is_none() && !e.login.is_empty() {
                    user = Some(e.login.clone());
                }
                if password.is_none() && !e.password.is_empty() {
                    password = Some(e.password.clone());
                }
            }
        }
    }
    let user = match user {
        Some(u) => u,
        None => ask_user().map_err(|e| {
            format!(
                "{spec}: no user name in the specification or ~/.netrc, and none could be asked for ({e})"
            )
        })?,
    };
    let password = match password {
        Some(p) => p,
        None if !want_password => String::new(),
        None => rpassword::prompt_password(format!("Password for {user}@{}: ", parsed.host))
            .map_err(|e| {
                format!(
                    "{spec}: no password for {user} in the specification or ~/.netrc, and none could be asked for ({e})"
                )
            })?,
    };
    Ok(Credentials {
        user,
        password,
        host: parsed.host,
        port: parsed.port,
    })
}

/// Asks for a user name on the terminal (not standard input, which may be
/// a pipe).
fn ask_user() -> std::io::Result<String> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    tty.write_all(b"User: ")?;
    tty.flush()?;
    let mut line = String::new();
    std::io::BufReader::new(tty).read_line(&mut line)?;
    let name = line.trim().to_string();
    if name.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "aborted",
        ));
    }
    Ok(name)
}
