//! Fetching mail from POP3 and IMAP servers: the network sources of
//! `roundup-mailgw` (`pop`, `pops`, `apop`, `imap`, `imaps`, `imaps_cram`,
//! `imaps_oauth`).
//!
//! Each message's raw bytes go to a handler; a message is deleted on the
//! server (POP3 `DELE`, committed by `QUIT`; IMAP `\Deleted` and
//! `EXPUNGE`) only once the handler returned `Ok` for it. When the handler
//! fails, fetching stops there and that message and every later one stay
//! on the server for the next run: nothing is lost when the tracker is
//! down.
//!
//! Both clients speak over a [`Conn`]: TCP with 60 second timeouts (as
//! Roundup sets for its network sources), optionally wrapped in TLS from
//! the start (pops on port 995, imaps on 993) with rustls, verifying the
//! server's certificate against the system's trust store. POP3 is a small
//! client of its own; IMAP uses the `imap` crate over the same connection.
//! For `imaps_oauth` an expired access token is renewed at the OAuth token
//! endpoint with the refresh token ([`renew_oauth_tokens`]).
//!
//! Line endings: messages are handed over with `\n` line ends (CRLF pairs
//! on the wire become LF), as a local MTA delivers them to the pipe or a
//! mailbox, and as Roundup's POP source joins the lines it receives.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long connecting, and each read or write, may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong while fetching, naming the server and the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    /// `host:port`.
    pub server: String,
    /// What was being done, e.g. "connecting", "login as bob".
    pub step: String,
    /// The server's answer or the system's error.
    pub detail: String,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server refused the credentials.
    Auth,
    /// The handler failed for a message; it and the ones after it were
    /// left on the server.
    Handler,
    /// Anything else: the network, TLS, a protocol error.
    Other,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.server, self.step, self.detail)
    }
}

impl std::error::Error for FetchError {}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    /// TLS from the first byte (pops, imaps*).
    pub tls: bool,
}

impl Server {
    fn name(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn err(
        &self,
        kind: ErrorKind,
        step: impl Into<String>,
        detail: impl fmt::Display,
    ) -> FetchError {
        FetchError {
            server: self.name(),
            step: step.into(),
            detail: detail.to_string(),
            kind,
        }
    }
}

/// What was done: messages handled (and deleted on the server).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fetched {
    pub handled: usize,
}

// --- the source specification --------------------------------------------------

/// A parsed `[user[:password]@]server[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: String,
    pub port: Option<u16>,
}

/// Reads a source specification the way Roundup's regular expression
/// does: the credentials end at the last `@`; the user name ends at the
/// first `:` of them and the rest is the password. An empty user or
/// password counts as not given. A trailing `:digits` is the port (not in
/// Roundup, whose libraries take a host name only); an IPv6 address with
/// a port is written `[::1]:110`.
pub fn parse_spec(spec: &str) -> Spec {
    let (user, password, server) = match spec.rsplit_once('@') {
        Some((cred, server)) if !cred.is_empty() && !cred.starts_with(':') => {
            match cred.split_once(':') {
                Some((u, p)) => (
                    Some(u.to_string()),
                    (!p.is_empty()).then(|| p.to_string()),
                    server,
                ),
                None => (Some(cred.to_string()), None, server),
            }
        }
        _ => (None, None, spec),
    };
    let (host, port) = split_port(server);
    Spec {
        user,
        password,
        host,
        port,
    }
}

fn split_port(server: &str) -> (String, Option<u16>) {
    if let Some(rest) = server.strip_prefix('[') {
        if let Some((addr, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').and_then(|p| p.parse().ok());
            return (addr.to_string(), port);
        }
    }
    match server.rsplit_once(':') {
        // one colon only: an IPv6 address without brackets has several
        Some((h, p))
            if !h.contains(':') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            match p.parse() {
                Ok(port) => (h.to_string(), Some(port)),
                Err(_) => (server.to_string(), None),
            }
        }
        _ => (server.to_string(), None),
    }
}

// --- ~/.netrc --------------------------------------------------------------------

/// One entry of a netrc file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetrcEntry {
    pub login: String,
    pub account: String,
    pub password: String,
}

/// The entries of a netrc file: `machine NAME` ones and the `default`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Netrc {
    pub machines: Vec<(String, NetrcEntry)>,
    pub default: Option<NetrcEntry>,
}

impl Netrc {
    /// Parses netrc text: whitespace-separated tokens (double quotes group
    /// a token with spaces, a backslash escapes the next character),
    /// `machine`, `default`, `login`, `password`, `account`; `macdef`
    /// bodies (up to an empty line) are skipped, as are `#` comments at the
    /// start of a token.
    pub fn parse(text: &str) -> Result<Netrc, String> {
        let mut out = Netrc::default();
        let mut lines = text.lines().enumerate().peekable();
        // the entry being filled: Some(name) for a machine, None for default
        let mut current: Option<(Option<String>, NetrcEntry)> = None;
        let finish = |out: &mut Netrc, cur: Option<(Option<String>, NetrcEntry)>| match cur {
            Some((Some(name), e)) => out.machines.push((name, e)),
            Some((None, e)) => out.default = Some(e),
            None => {}
        };
        let mut tokens: Vec<(usize, String)> = Vec::new();
        let mut pending_macdef = false;
        while let Some((no, line)) = lines.next() {
            if pending_macdef {
                // skip the macro body, which ends at an empty line
                let mut l = line;
                while !l.trim().is_empty() {
                    match lines.next() {
                        Some((_, next)) => l = next,
                        None => break,
                    }
                }
                pending_macdef = false;
                continue;
            }
            tokens.clear();
            tokenize(line, no + 1, &mut tokens)?;
            let mut i = 0;
            while i < tokens.len() {
                let (lineno, tok) = (tokens[i].0, tokens[i].1.as_str());
                let mut arg = |what: &str| -> Result<String, String> {
                    i += 1;
                    tokens
                        .get(i)
                        .map(|t| t.1.clone())
                        .ok_or_else(|| format!("line {lineno}: {what} needs a value"))
                };
                match tok {
                    "machine" => {
                        let name = arg("machine")?;
                        finish(&mut out, current.take());
                        current = Some((Some(name), NetrcEntry::default()));
                    }
                    "default" => {
                        finish(&mut out, current.take());
                        current = Some((None, NetrcEntry::default()));
                    }
                    "login" | "user" => {
                        let v = arg(tok)?;
                        match current.as_mut() {
                            Some((_, e)) => e.login = v,
                            None => return Err(format!("line {lineno}: {tok} before machine")),
                        }
                    }
                    "password" => {
                        let v = arg(tok)?;
                        match current.as_mut() {
                            Some((_, e)) => e.password = v,
                            None => return Err(format!("line {lineno}: {tok} before machine")),
                        }
                    }
                    "account" => {
                        let v = arg(tok)?;
                        match current.as_mut() {
                            Some((_, e)) => e.account = v,
                            None => return Err(format!("line {lineno}: {tok} before machine")),
                        }
                    }
                    "macdef" => {
                        arg("macdef")?;
                        pending_macdef = true;
                        break;
                    }
                    t if t.starts_with('#') => break,
                    t => return Err(format!("line {lineno}: unexpected '{t}'")),
                }
                i += 1;
            }
        }
        finish(&mut out, current.take());
        Ok(out)
    }

    /// The entry for `host`, else the default one (what Python's
    /// `netrc.authenticators` answers).
    pub fn lookup(&self, host: &str) -> Option<&NetrcEntry> {
        self.machines
            .iter()
            .find(|(m, _)| m == host)
            .map(|(_, e)| e)
            .or(self.default.as_ref())
    }

    /// The entry for `host` itself, ignoring the default.
    pub fn machine(&self, host: &str) -> Option<&NetrcEntry> {
        self.machines
            .iter()
            .find(|(m, _)| m == host)
            .map(|(_, e)| e)
    }

    /// Reads `$NETRC` if set, else `~/.netrc`; `Ok(None)` when there is
    /// none. Like Python's netrc module, a file with passwords that others
    /// can read, or that belongs to someone else, is refused.
    pub fn load() -> Result<Option<Netrc>, String> {
        let path = match std::env::var_os("NETRC") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => match std::env::var_os("HOME") {
                Some(h) if !h.is_empty() => Path::new(&h).join(".netrc"),
                _ => return Ok(None),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let netrc = Netrc::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let has_password = netrc
            .machines
            .iter()
            .map(|(_, e)| e)
            .chain(netrc.default.as_ref())
            .any(|e| !e.password.is_empty());
        if has_password {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            if meta.uid() != uid {
                return Err(format!(
                    "{}: holds passwords but does not belong to you",
                    path.display()
                ));
            }
            if meta.mode() & 0o077 != 0 {
                return Err(format!(
                    "{}: holds passwords but others can read it (chmod 600 it)",
                    path.display()
                ));
            }
        }
        Ok(Some(netrc))
    }
}

fn tokenize(line: &str, lineno: usize, out: &mut Vec<(usize, String)>) -> Result<(), String> {
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(());
        };
        let mut tok = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => tok.extend(chars.next()),
                    Some(c) => tok.push(c),
                    None => return Err(format!("line {lineno}: unterminated quote")),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    tok.extend(chars.next());
                } else {
                    tok.push(c);
                }
            }
        }
        out.push((lineno, tok));
    }
}

// --- the connection ------------------------------------------------------------------

/// A connection to a mail server: TCP, or TLS over TCP.
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conn::Plain(_) => "Conn::Plain",
            Conn::Tls(_) => "Conn::Tls",
        })
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        // a certificate the system has but rustls cannot use is skipped
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(format!("no trusted certificates in the system store{why}"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Connects (each address of the host in turn) with [`TIMEOUT`], and does
/// the TLS handshake when the server wants TLS.
pub fn connect(server: &Server) -> Result<Conn, FetchError> {
    let other = |step: &str, e: &dyn fmt::Display| server.err(ErrorKind::Other, step, e);
    let addrs: Vec<_> = (server.host.as_str(), server.port)
        .to_socket_addrs()
        .map_err(|e| other("looking up the host", &e))?
        .collect();
    let mut last = None;
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, TIMEOUT) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let tcp = match tcp {
        Some(t) => t,
        None => {
            let why = last.map_or_else(|| "no address".to_string(), |e| e.to_string());
            return Err(other("connecting", &why));
        }
    };
    tcp.set_read_timeout(Some(TIMEOUT))
        .and_then(|_| tcp.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| other("connecting", &e))?;
    if !server.tls {
        return Ok(Conn::Plain(tcp));
    }
    let config = tls_config().map_err(|e| other("setting up TLS", &e))?;
    let name = rustls::pki_types::ServerName::try_from(server.host.clone())
        .map_err(|e| other("setting up TLS", &e))?;
    let conn =
        rustls::ClientConnection::new(config, name).map_err(|e| other("setting up TLS", &e))?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| other("TLS handshake", &e))?;
    }
    Ok(Conn::Tls(Box::new(stream)))
}

/// CRLF pairs become LF.
fn lf_line_ends(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex(&Md5::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// --- POP3 ------------------------------------------------------------------------------

/// How to log in to a POP3 server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopLogin {
    /// `USER` and `PASS`.
    UserPass,
    /// `APOP` with the MD5 digest of the greeting's timestamp and the
    /// password (RFC 1939).
    Apop,
}

struct Pop3 {
    io: BufReader<Conn>,
    server: Server,
}

impl Pop3 {
    fn line(&mut self, step: &str) -> Result<Vec<u8>, FetchError> {
        let mut line = Vec::new();
        match self.io.read_until(b'\n', &mut line) {
            Ok(0) => {
                Err(self
                    .server
                    .err(ErrorKind::Other, step, "the server closed the connection"))
            }
            Ok(_) => Ok(line),
            Err(e) => Err(self.server.err(ErrorKind::Other, step, e)),
        }
    }

    /// Reads a status line; `Err` for `-ERR` (with `kind`).
    fn status(&mut self, step: &str, kind: ErrorKind) -> Result<String, FetchError> {
        let line = self.line(step)?;
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        if text.starts_with("+OK") {
            Ok(text)
        } else if text.starts_with("-ERR") {
            Err(self.server.err(kind, step, text))
        } else {
            Err(self.server.err(
                ErrorKind::Other,
                step,
                format!("unexpected answer {text:?}"),
            ))
        }
    }

    fn send(&mut self, cmd: &str, step: &str) -> Result<(), FetchError> {
        let w = self.io.get_mut();
        w.write_all(cmd.as_bytes())
            .and_then(|_| w.write_all(b"\r\n"))
            .and_then(|_| w.flush())
            .map_err(|e| self.server.err(ErrorKind::Other, step, e))
    }

    fn command(&mut self, cmd: &str, step: &str, kind: ErrorKind) -> Result<String, FetchError> {
        self.send(cmd, step)?;
        self.status(step, kind)
    }

    /// The lines of a multi-line answer up to the lone `.`, dot-unstuffed,
    /// each without its line end.
    fn multiline(&mut self, step: &str) -> Result<Vec<Vec<u8>>, FetchError> {
        let mut lines = Vec::new();
        loop {
            let mut line = self.line(step)?;
            if line.last() == Some(&b'\n') {
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
            } else {
                return Err(self.server.err(
                    ErrorKind::Other,
                    step,
                    "the server closed the connection",
                ));
            }
            if line == b"." {
                return Ok(lines);
            }
            if line.first() == Some(&b'.') {
                line.remove(0);
            }
            lines.push(line);
        }
    }
}

/// Fetches every message of a POP3 mailbox, handing each to `handle` and
/// deleting it once `handle` returned `Ok`. On the first `Err` the rest is
/// left on the server and a [`ErrorKind::Handler`] error names the message.
/// The deletions of the messages handled before are committed all the same
/// (`QUIT`).
pub fn pop3<F>(
    server: &Server,
    user: &str,
    password: &str,
    login: PopLogin,
    mut handle: F,
) -> Result<Fetched, FetchError>
where
    F: FnMut(&[u8]) -> Result<(), String>,
{
    let conn = connect(server)?;
    let mut pop = Pop3 {
        io: BufReader::new(conn),
        server: server.clone(),
    };
    let greeting = pop.status("reading the greeting", ErrorKind::Other)?;
    for (what, v) in [("user name", user), ("password", password)] {
        if v.contains(['\r', '\n']) {
            return Err(server.err(
                ErrorKind::Other,
                format!("login as {user}"),
                format!("the {what} has a line break"),
            ));
        }
    }
    let step = format!("login as {user}");
    match login {
        PopLogin::UserPass => {
            pop.command(&format!("USER {user}"), &step, ErrorKind::Auth)?;
            pop.command(&format!("PASS {password}"), &step, ErrorKind::Auth)?;
        }
        PopLogin::Apop => {
            let stamp = greeting
                .find('<')
                .and_then(|a| greeting[a..].find('>').map(|b| &greeting[a..=a + b]))
                .ok_or_else(|| {
                    server.err(
                        ErrorKind::Auth,
                        &step,
                        format!("the server does not offer APOP (no <timestamp> in its greeting {greeting:?})"),
                    )
                })?;
            let digest = md5_hex(format!("{stamp}{password}").as_bytes());
            pop.command(&format!("APOP {user} {digest}"), &step, ErrorKind::Auth)?;
        }
    }
    let mut fetched = Fetched::default();
    let result = pop3_messages(&mut pop, &mut handle, &mut fetched);
    // QUIT commits the deletions: sent after a failure too, so that what
    // the tracker took is not fetched again
    let quit = pop.command(
        "QUIT",
        "QUIT (deleting the handled messages)",
        ErrorKind::Other,
    );
    match (result, quit) {
        (Ok(()), Ok(_)) => Ok(fetched),
        (Err(e), Ok(_)) => Err(e),
        (Ok(()), Err(q)) => Err(FetchError {
            detail: format!(
                "{}; the {} handled messages may still be on the server",
                q.detail, fetched.handled
            ),
            ..q
        }),
        (Err(e), Err(_)) if fetched.handled > 0 => Err(FetchError {
            detail: format!(
                "{}; QUIT failed too, so the {} handled messages may still be on the server",
                e.detail, fetched.handled
            ),
            ..e
        }),
        (Err(e), Err(_)) => Err(e),
    }
}

/// The rest of a message's story after `handle` refused it.
fn left_note(rest: usize) -> String {
    match rest {
        0 => "it was left on the server".to_string(),
        n => format!("it and the {n} after it were left on the server"),
    }
}

/// LIST, then RETR, handle and DELE each message in turn.
fn pop3_messages<F>(pop: &mut Pop3, handle: &mut F, fetched: &mut Fetched) -> Result<(), FetchError>
where
    F: FnMut(&[u8]) -> Result<(), String>,
{
    pop.command("LIST", "listing the messages", ErrorKind::Other)?;
    let numbers: Vec<u64> = pop
        .multiline("listing the messages")?
        .iter()
        .filter_map(|l| {
            String::from_utf8_lossy(l)
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
        })
        .collect();
    let total = numbers.len();
    for (i, n) in numbers.iter().enumerate() {
        let step = format!("fetching message {n} (RETR)");
        pop.command(&format!("RETR {n}"), &step, ErrorKind::Other)?;
        let mut raw = Vec::new();
        for line in pop.multiline(&step)? {
            raw.extend_from_slice(&line);
            raw.push(b'\n');
        }
        if let Err(e) = handle(&raw) {
            return Err(pop.server.err(
                ErrorKind::Handler,
                format!("message {n}"),
                format!("{e}; {}", left_note(total - i - 1)),
            ));
        }
        pop.command(
            &format!("DELE {n}"),
            &format!(
                "deleting message {n} (the tracker has it; left on the server \
                 it would be fetched again)"
            ),
            ErrorKind::Other,
        )?;
        fetched.handled += 1;
    }
    Ok(())
}

// --- IMAP ------------------------------------------------------------------------------

/// How to log in to an IMAP server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImapLogin {
    /// `LOGIN user password`.
    Plain { password: String },
    /// `AUTHENTICATE CRAM-MD5` (RFC 2195).
    CramMd5 { password: String },
    /// `AUTHENTICATE XOAUTH2` with an OAuth 2 access token.
    XOAuth2 { access_token: String },
}

struct CramMd5<'a> {
    user: &'a str,
    password: &'a str,
}

impl imap::Authenticator for CramMd5<'_> {
    type Response = String;
    fn process(&self, challenge: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<md5::Md5> as Mac>::new_from_slice(self.password.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(challenge);
        format!("{} {}", self.user, hex(&mac.finalize().into_bytes()))
    }
}

struct XOAuth2<'a> {
    user: &'a str,
    token: &'a str,
}

impl imap::Authenticator for XOAuth2<'_> {
    type Response = String;
    fn process(&self, challenge: &[u8]) -> String {
        if challenge.is_empty() {
            format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
        } else {
            // the server's error report (JSON): an empty answer ends the
            // exchange, and the server then says NO
            String::new()
        }
    }
}

/// Fetches every message of an IMAP mailbox (INBOX when `mailbox` is
/// empty), handing each to `handle`; once `handle` returned `Ok` the
/// message is flagged `\Deleted` and expunged at once, so a broken
/// connection later can not make it come back. On the first `Err` the
/// rest is left on the server, untouched and unread (`BODY.PEEK`).
///
/// Messages already flagged `\Deleted` are skipped (an earlier run, or a
/// mail client, marked them for removal; the next `EXPUNGE` removes them).
pub fn imap<F>(
    server: &Server,
    user: &str,
    login: &ImapLogin,
    mailbox: &str,
    mut handle: F,
) -> Result<Fetched, FetchError>
where
    F: FnMut(&[u8]) -> Result<(), String>,
{
    let mailbox = if mailbox.is_empty() { "INBOX" } else { mailbox };
    let conn = connect(server)?;
    let mut client = imap::Client::new(conn);
    client
        .read_greeting()
        .map_err(|e| server.err(ErrorKind::Other, "reading the greeting", imap_text(&e)))?;
    let step = format!("login as {user}");
    let auth_err = |e: imap::Error| {
        let kind = match e {
            imap::Error::No(_) | imap::Error::Bad(_) => ErrorKind::Auth,
            _ => ErrorKind::Other,
        };
        server.err(kind, &step, imap_text(&e))
    };
    let mut session = match login {
        ImapLogin::Plain { password } => client.login(user, password),
        ImapLogin::CramMd5 { password } => {
            client.authenticate("CRAM-MD5", &CramMd5 { user, password })
        }
        ImapLogin::XOAuth2 { access_token } => client.authenticate(
            "XOAUTH2",
            &XOAuth2 {
                user,
                token: access_token,
            },
        ),
    }
    .map_err(|(e, _)| auth_err(e))?;
    let result = imap_session(server, &mut session, mailbox, &mut handle);
    let logout = session.logout();
    let fetched = result?;
    logout.map_err(|e| server.err(ErrorKind::Other, "LOGOUT", imap_text(&e)))?;
    Ok(fetched)
}

fn imap_session<F>(
    server: &Server,
    session: &mut imap::Session<Conn>,
    mailbox: &str,
    handle: &mut F,
) -> Result<Fetched, FetchError>
where
    F: FnMut(&[u8]) -> Result<(), String>,
{
    let other = |step: &str, e: imap::Error| server.err(ErrorKind::Other, step, imap_text(&e));
    // SELECT, STORE and EXPUNGE go through the crate's plain command call,
    // which only checks the tagged answer: its parsers for them panic on
    // some legal answers (an untagged NO warning during SELECT, which
    // dovecot sends when it cannot write its index files, for one).
    let step = format!("selecting mailbox {mailbox:?}");
    let name = quoted(mailbox).map_err(|e| server.err(ErrorKind::Other, &step, e))?;
    let untagged = session
        .run_command_and_read_response(format!("SELECT {name}"))
        .map_err(|e| other(&step, e))?;
    for warning in warnings(&untagged) {
        crate::log(&format!(
            "{}: mailbox {mailbox:?}: the server warns: {warning}",
            server.name()
        ));
    }
    let mut uids: Vec<u32> = session
        .uid_search("UNDELETED")
        .map_err(|e| other(&format!("listing the messages of {mailbox:?}"), e))?
        .into_iter()
        .collect();
    uids.sort_unstable();
    let total = uids.len();
    let mut fetched = Fetched::default();
    for (i, uid) in uids.into_iter().enumerate() {
        let step = format!("fetching message UID {uid} of {mailbox:?}");
        let fetches = session
            .uid_fetch(uid.to_string(), "BODY.PEEK[]")
            .map_err(|e| other(&step, e))?;
        let raw = fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.body())
            .map(lf_line_ends);
        let Some(raw) = raw else {
            // expunged by another client meanwhile
            continue;
        };
        if let Err(e) = handle(&raw) {
            return Err(server.err(
                ErrorKind::Handler,
                format!("message UID {uid} of {mailbox:?}"),
                format!("{e}; {}", left_note(total - i - 1)),
            ));
        }
        let step = format!(
            "deleting message UID {uid} of {mailbox:?} (the tracker has it; \
             left on the server it would be fetched again)"
        );
        session
            .run_command_and_check_ok(format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"))
            .map_err(|e| other(&step, e))?;
        session
            .run_command_and_check_ok("EXPUNGE")
            .map_err(|e| other(&step, e))?;
        fetched.handled += 1;
    }
    Ok(fetched)
}

// --- OAuth tokens (imaps_oauth) ----------------------------------------------------

/// Where `-T` points by default, as in Roundup: Microsoft's endpoint for
/// work and school accounts.
pub const DEFAULT_TOKEN_ENDPOINT: &str =
    "https://login.microsoftonline.com/organizations/oauth2/v2.0/token";

/// Reads one of the OAuth files (`access_token`, `refresh_token`,
/// `client_id`, `client_secret`) of `dir`, trimmed.
pub fn read_oauth_file(dir: &Path, name: &str) -> Result<String, String> {
    let path = dir.join(name);
    std::fs::read_to_string(&path)
        .map(|t| t.trim().to_string())
        .map_err(|e| format!("reading {}: {e}", path.display()))
}

/// Replaces the token file `name` of `dir`, keeping the previous one as
/// `NAME.old` (as Roundup does); the new file is readable by its owner
/// only.
fn replace_oauth_file(dir: &Path, name: &str, value: &str) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let old = dir.join(format!("{name}.old"));
    let write = || -> io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(value.as_bytes())?;
        f.sync_all()?;
        match std::fs::rename(&path, &old) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Gets a new access token from the token endpoint with the refresh token
/// (RFC 6749 section 6), client id and client secret in `dir`, stores it
/// (and a new refresh token, when the endpoint sends one) there, and
/// returns it.
pub fn renew_oauth_tokens(dir: &Path, endpoint: &str) -> Result<String, String> {
    let client_id = read_oauth_file(dir, "client_id")?;
    let client_secret = read_oauth_file(dir, "client_secret")?;
    let refresh_token = read_oauth_file(dir, "refresh_token")?;
    let old_access = read_oauth_file(dir, "access_token").unwrap_or_default();
    let mut tls = ureq::tls::TlsConfig::builder();
    let roots: Vec<ureq::tls::Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    if !roots.is_empty() {
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
    }
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .tls_config(tls.build())
        .build();
    let agent = ureq::Agent::new_with_config(config);
    let mut response = agent
        .post(endpoint)
        .send_form([
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.as_str()),
            ("refresh_token", refresh_token.as_str()),
            ("grant_type", "refresh_token"),
        ])
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("reading the answer: {e}"))?;
    if !status.is_success() {
        let mut body = body.trim().to_string();
        if body.len() > 500 {
            let mut end = 500;
            while !body.is_char_boundary(end) {
                end -= 1;
            }
            body.truncate(end);
            body.push_str("...");
        }
        return Err(format!("HTTP {status}: {body}"));
    }
    let json: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let access = json
        .get("access_token")
        .and_then(|v| v.as_str())
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no access_token")?
        .to_string();
    if let Some(new_refresh) = json.get("refresh_token").and_then(|v| v.as_str()) {
        if !new_refresh.is_empty() && new_refresh != refresh_token {
            replace_oauth_file(dir, "refresh_token", new_refresh)?;
        }
    }
    if access != old_access {
        replace_oauth_file(dir, "access_token", &access)?;
    }
    Ok(access)
}

/// An IMAP error as the server said it (`NO ...`), or the crate's text.
fn imap_text(e: &imap::Error) -> String {
    match e {
        imap::Error::No(r) => format!("NO {}", r.information),
        imap::Error::Bad(r) => format!("BAD {}", r.information),
        imap::Error::Bye(r) => format!("BYE {}", r.information),
        imap::Error::ConnectionLost => "the server closed the connection".to_string(),
        e => e.to_string(),
    }
}

/// The texts of the untagged `NO` and `BAD` answers among `lines`.
fn warnings(lines: &[u8]) -> Vec<String> {
    lines
        .split(|&b| b == b'\n')
        .filter_map(|l| {
            l.strip_prefix(b"* NO ")
                .or_else(|| l.strip_prefix(b"* BAD "))
        })
        .map(|t| String::from_utf8_lossy(t).trim_end().to_string())
        .collect()
}

/// An IMAP quoted string.
fn quoted(s: &str) -> Result<String, String> {
    if s.contains(['\r', '\n', '\0']) {
        return Err(format!("{s:?} has a line break"));
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(u: Option<&str>, p: Option<&str>, h: &str, port: Option<u16>) -> Spec {
        Spec {
            user: u.map(str::to_string),
            password: p.map(str::to_string),
            host: h.to_string(),
            port,
        }
    }

    #[test]
    fn specifications() {
        assert_eq!(
            parse_spec("mail.example.com"),
            spec(None, None, "mail.example.com", None)
        );
        assert_eq!(
            parse_spec("bob@mail"),
            spec(Some("bob"), None, "mail", None)
        );
        assert_eq!(
            parse_spec("bob:pw@mail"),
            spec(Some("bob"), Some("pw"), "mail", None)
        );
        // the password may hold ':' and '@'; the user ends at the first ':'
        assert_eq!(
            parse_spec("bob:p:w@x@mail:995"),
            spec(Some("bob"), Some("p:w@x"), "mail", Some(995))
        );
        // an address as the user name
        assert_eq!(
            parse_spec("bob@example.com:pw@mail"),
            spec(Some("bob@example.com"), Some("pw"), "mail", None)
        );
        assert_eq!(
            parse_spec("bob:@mail"),
            spec(Some("bob"), None, "mail", None)
        );
        assert_eq!(parse_spec("[::1]:143"), spec(None, None, "::1", Some(143)));
        assert_eq!(parse_spec("::1"), spec(None, None, "::1", None));
        assert_eq!(parse_spec("mail:http"), spec(None, None, "mail:http", None));
    }

    #[test]
    fn netrc_files() {
        let n = Netrc::parse(
            "# mine\nmachine mail.example.com login bob password \"s3 cret\"\n\
             macdef init\ncd /\nls\n\nmachine other login ann\naccount x password p\\ q\n\
             default login anon password guest\n",
        )
        .unwrap();
        let e = n.lookup("mail.example.com").unwrap();
        assert_eq!((e.login.as_str(), e.password.as_str()), ("bob", "s3 cret"));
        let e = n.lookup("other").unwrap();
        assert_eq!(
            (e.login.as_str(), e.password.as_str(), e.account.as_str()),
            ("ann", "p q", "x")
        );
        assert_eq!(n.lookup("elsewhere").unwrap().login, "anon");
        assert!(n.machine("elsewhere").is_none());
        assert!(Netrc::parse("login bob").is_err());
        assert!(Netrc::parse("machine").is_err());
        assert!(Netrc::parse("machine a frob b").is_err());
    }

    #[test]
    fn digests() {
        // RFC 1939's APOP example
        assert_eq!(
            md5_hex(b"<1896.697170952@dbc.mtview.ca.us>tanstaaf"),
            "c4c9334bac560ecc979e58001b3e22fb"
        );
        // RFC 2195's CRAM-MD5 example
        let c = CramMd5 {
            user: "tim",
            password: "tanstaaftanstaaf",
        };
        assert_eq!(
            imap::Authenticator::process(&c, b"<1896.697170952@postoffice.reston.mci.net>"),
            "tim b913a602c7eda7a495b4e6e7334d3890"
        );
        assert_eq!(lf_line_ends(b"a\r\nb\rc\r\n\r\n"), b"a\nb\rc\n\n");
        assert_eq!(quoted("a \"b\" \\c").unwrap(), "\"a \\\"b\\\" \\\\c\"");
        assert!(quoted("a\r\nb").is_err());
        assert_eq!(
            warnings(b"* NO Showing only old mail.\r\n* 0 EXISTS\r\n* BAD x\r\n"),
            vec!["Showing only old mail.", "x"]
        );
    }
}
