//! roundup-mailgw's network sources against a real server: Debian's
//! dovecot on 127.0.0.1, set up by `.ci/run` (POP3 110, POP3S 995, IMAP
//! 143, IMAPS 993 with a certificate for localhost that the system
//! trusts). Any user name logs in there with the password `secret` (also
//! as an XOAUTH2 token) and has the maildir /var/mail-ci/USER, so each test
//! delivers into a user of its own by writing files, and they run side by
//! side.
//!
//! Every test checks both sides: the tracker got the issues, and the
//! server's mailbox is empty afterwards (or, when the tracker or the login
//! failed, still holds every message).

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use roundup_mailgw::fetch::{self, ErrorKind, ImapLogin, PopLogin, Server};
use roundup_testkit::{missing_because, Tool};

mod support;

const OURS: &str = env!("CARGO_BIN_EXE_roundup-mailgw");
const SPOOL: &str = "/var/mail-ci";

const DOVECOT: Tool = Tool {
    what: "dovecot on 127.0.0.1 (POP3 110/995, IMAP 143/993; any user, password \"secret\", maildirs in /var/mail-ci)",
    ci_provides: ".ci/run: apt-get install dovecot-imapd dovecot-pop3d, /etc/dovecot/roundup-ci.conf and `dovecot -c` it",
};

fn answers(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_secs(2),
    )
    .is_ok()
}

fn dovecot_ready() -> bool {
    if !Path::new("/usr/sbin/dovecot").exists() {
        missing_because(&DOVECOT, "/usr/sbin/dovecot is not installed");
        return false;
    }
    for port in [110, 995, 143, 993] {
        if !answers(port) {
            missing_because(&DOVECOT, &format!("nothing answers on 127.0.0.1:{port}"));
            return false;
        }
    }
    if !Path::new(SPOOL).is_dir() {
        missing_because(&DOVECOT, &format!("{SPOOL} does not exist"));
        return false;
    }
    true
}

/// A user of dovecot's no test has used before.
fn new_user(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "rt{}-{tag}-{}{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

fn maildir(user: &str, folder: Option<&str>) -> PathBuf {
    let root = Path::new(SPOOL).join(user);
    match folder {
        // Maildir++: folder X is the directory .X
        Some(f) => root.join(format!(".{f}")),
        None => root,
    }
}

fn open_dir(p: &Path) {
    std::fs::create_dir_all(p).unwrap();
    // dovecot works on the maildir as user mailci; the tests may be root
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
}

/// Puts messages into a user's maildir (INBOX, or a folder), as a local
/// delivery agent would.
fn deliver(user: &str, folder: Option<&str>, messages: &[String]) {
    open_dir(&maildir(user, None));
    let dir = maildir(user, folder);
    open_dir(&dir);
    for sub in ["new", "cur", "tmp"] {
        open_dir(&dir.join(sub));
    }
    static FILES: AtomicUsize = AtomicUsize::new(0);
    for m in messages {
        // unique names, as a delivery agent makes them
        let i = FILES.fetch_add(1, Ordering::SeqCst);
        let name = format!("17{i:08}.M{i}P{}.roundup-test", std::process::id());
        let tmp = dir.join("tmp").join(&name);
        std::fs::write(&tmp, m).unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o666)).unwrap();
        std::fs::rename(&tmp, dir.join("new").join(&name)).unwrap();
    }
}

/// The messages still in a user's maildir (INBOX or a folder), new or
/// seen, as file names.
fn left(user: &str, folder: Option<&str>) -> Vec<String> {
    let dir = maildir(user, folder);
    let mut names = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            for e in entries {
                names.push(e.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
    }
    names
}

/// The texts of the messages still in a user's INBOX, sorted.
fn left_texts(user: &str) -> Vec<String> {
    let dir = maildir(user, None);
    let mut texts: Vec<String> = left(user, None)
        .iter()
        .map(|name| {
            let new = dir.join("new").join(name);
            let path = if new.exists() {
                new
            } else {
                dir.join("cur").join(name)
            };
            std::fs::read_to_string(path).unwrap()
        })
        .collect();
    texts.sort();
    texts
}

fn forget(user: &str) {
    let _ = std::fs::remove_dir_all(maildir(user, None));
}

fn mail(user: &str, n: usize, subject: &str, body: &str) -> String {
    format!(
        "From: Bob <bob@example.com>\nTo: issue_tracker@example.com\nSubject: {subject}\nMessage-Id: <{user}-{n}@example.com>\n\n{body}\n"
    )
}

fn tracker(dir: &Path) -> PathBuf {
    support::recording_tracker(dir, &[], &[("bob", "bob@example.com")])
}

fn titles(home: &Path) -> Vec<String> {
    let t = roundup_tracker::Tracker::open(home).unwrap();
    let db = t.open_db("1").unwrap();
    let mut out: Vec<String> = db
        .list("issue")
        .unwrap()
        .into_iter()
        .map(|id| match db.get("issue", &id, "title").unwrap() {
            Some(roundup_core::Value::String(s)) => s,
            _ => String::new(),
        })
        .collect();
    out.sort();
    out
}

/// Runs roundup-mailgw with `home` as HOME (so a ~/.netrc is the test's)
/// in a session of its own: no terminal to ask a password on, ever.
fn run_with_home(args: &[&str], home: &Path) -> Output {
    let mut cmd = Command::new(OURS);
    cmd.args(args)
        .env_remove("ROUNDUP_INSTANCE")
        .env_remove("NETRC")
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe; it only detaches the child from
    // the controlling terminal.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.output().unwrap()
}

fn run(args: &[&str], dir: &Path) -> Output {
    let home = dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    run_with_home(args, &home)
}

fn log(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Delivers three messages to a new user, fetches them with `source`
/// (plus `extra` arguments) and checks they became issues and left the
/// server.
fn fetch_all(source: &str, server: &str, folder: Option<&str>) {
    if !dovecot_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let user = new_user(source);
    let messages: Vec<String> = (1..=3)
        .map(|n| {
            mail(
                &user,
                n,
                &format!("[issue] {source} message {n}"),
                &format!("Fetched by {source}.\nLine two."),
            )
        })
        .collect();
    deliver(&user, folder, &messages);
    assert_eq!(left(&user, folder).len(), 3);
    let spec = format!("{user}:secret@{server}");
    let mut args = vec![home.to_str().unwrap(), source, &spec];
    if let Some(f) = folder {
        args.push(f);
    }
    let out = run(&args, dir.path());
    let err = log(&out);
    assert!(out.status.success(), "{source}: {err}");
    assert!(err.contains("3 messages handled"), "{source}: {err}");
    assert_eq!(
        titles(&home),
        (1..=3)
            .map(|n| format!("{source} message {n}"))
            .collect::<Vec<_>>()
    );
    assert!(
        left(&user, folder).is_empty(),
        "{source}: still on the server: {:?}",
        left(&user, folder)
    );
    // the text arrived whole, with plain line ends
    let t = roundup_tracker::Tracker::open(&home).unwrap();
    let db = t.open_db("1").unwrap();
    let content = db.file_content("msg", "1").unwrap();
    assert_eq!(
        String::from_utf8_lossy(&content),
        format!("Fetched by {source}.\nLine two.")
    );
    forget(&user);
}

#[test]
fn pop_fetches_and_deletes() {
    fetch_all("pop", "localhost", None);
}

#[test]
fn pops_fetches_over_tls() {
    fetch_all("pops", "localhost", None);
}

#[test]
fn apop_logs_in_with_a_digest() {
    fetch_all("apop", "127.0.0.1:110", None);
}

#[test]
fn imap_fetches_and_expunges() {
    fetch_all("imap", "127.0.0.1:143", None);
}

#[test]
fn imaps_fetches_over_tls() {
    fetch_all("imaps", "localhost", None);
}

#[test]
fn imaps_cram_logs_in_with_cram_md5() {
    fetch_all("imaps_cram", "localhost:993", None);
}

#[test]
fn imap_reads_the_mailbox_given() {
    if !dovecot_ready() {
        return;
    }
    // a message in INBOX is not touched when another mailbox is named
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let user = new_user("box");
    deliver(
        &user,
        None,
        &[mail(&user, 9, "[issue] In the inbox", "Stays.")],
    );
    deliver(
        &user,
        Some("Tracker"),
        &[
            mail(&user, 1, "[issue] Filed one", "One."),
            mail(&user, 2, "[issue] Filed two", "Two."),
        ],
    );
    let spec = format!("{user}:secret@localhost");
    let out = run(
        &[home.to_str().unwrap(), "imaps", &spec, "Tracker"],
        dir.path(),
    );
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(titles(&home), vec!["Filed one", "Filed two"]);
    assert!(left(&user, Some("Tracker")).is_empty());
    assert_eq!(left(&user, None).len(), 1);
    // a mailbox that does not exist is an error naming it
    let out = run(
        &[home.to_str().unwrap(), "imap", &spec, "Nowhere"],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(log(&out).contains("\"Nowhere\""), "{}", log(&out));
    assert_eq!(left(&user, None).len(), 1);
    forget(&user);
}

/// A token endpoint on 127.0.0.1 answering each POST with `status` and
/// `body`; the request bodies it got come back through the channel.
fn token_endpoint(
    answers: Vec<(u16, &'static str)>,
) -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (status, body) in answers {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut request = vec![0; length];
            reader.read_exact(&mut request).unwrap();
            let _ = tx.send(String::from_utf8_lossy(&request).into_owned());
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, rx)
}

#[test]
fn imaps_oauth_logs_in_with_the_access_token() {
    if !dovecot_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    let user = new_user("oauth");
    deliver(&user, None, &[mail(&user, 1, "[issue] By token", "OAuth.")]);
    let spec = format!("{user}@localhost");

    // no token file: an error naming it
    let out = run(&[h, "imaps_oauth", &spec], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(log(&out).contains("oauth/access_token"), "{}", log(&out));

    // the default directory, oauth/ in the tracker home, with a token the
    // server takes (dovecot checks it like a password)
    std::fs::create_dir_all(home.join("oauth")).unwrap();
    std::fs::write(home.join("oauth/access_token"), "secret\n").unwrap();
    let out = run(&[h, "imaps_oauth", &spec], dir.path());
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(titles(&home), vec!["By token"]);
    assert!(left(&user, None).is_empty());
    forget(&user);
}

#[test]
fn imaps_oauth_renews_a_refused_token() {
    if !dovecot_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    let user = new_user("renew");
    deliver(&user, None, &[mail(&user, 1, "[issue] Renewed", "OAuth.")]);
    let spec = format!("{user}@localhost");
    let creds = dir.path().join("creds");
    std::fs::create_dir_all(&creds).unwrap();
    let c = creds.to_str().unwrap();
    for (name, value) in [
        ("access_token", "expired\n"),
        ("refresh_token", "r1\n"),
        ("client_id", "cid\n"),
        ("client_secret", "c s&cret\n"),
    ] {
        std::fs::write(creds.join(name), value).unwrap();
    }
    let read = |name: &str| std::fs::read_to_string(creds.join(name)).unwrap();

    // the endpoint refuses too: exit 1 naming it, the tokens and the mail
    // stay as they were
    let (url, requests) = token_endpoint(vec![(400, r#"{"error":"invalid_grant"}"#)]);
    let out = run(&[h, "-O", c, "-T", &url, "imaps_oauth", &spec], dir.path());
    let err = log(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("login as {user}")), "{err}");
    assert!(
        err.contains(&url) && err.contains("400") && err.contains("invalid_grant"),
        "{err}"
    );
    assert!(!requests
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .is_empty());
    assert_eq!(read("access_token"), "expired\n");
    assert_eq!(left(&user, None).len(), 1);

    // the endpoint hands out a token the server takes, and a new refresh
    // token: both stored, the old ones kept as .old, the mail fetched
    let (url, requests) = token_endpoint(vec![(
        200,
        r#"{"token_type":"Bearer","access_token":"secret","refresh_token":"r2","expires_in":3600}"#,
    )]);
    let out = run(&[h, "-O", c, "-T", &url, "imaps_oauth", &spec], dir.path());
    let err = log(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("renewing the access token"), "{err}");
    let request = requests.recv_timeout(Duration::from_secs(5)).unwrap();
    let mut fields: Vec<&str> = request.split('&').collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "client_id=cid",
            "client_secret=c+s%26cret",
            "grant_type=refresh_token",
            "refresh_token=r1"
        ]
    );
    assert_eq!(read("access_token"), "secret");
    assert_eq!(read("access_token.old"), "expired\n");
    assert_eq!(read("refresh_token"), "r2");
    assert_eq!(read("refresh_token.old"), "r1\n");
    assert_eq!(titles(&home), vec!["Renewed"]);
    assert!(left(&user, None).is_empty());

    // the next run uses the stored token without asking the endpoint
    deliver(&user, None, &[mail(&user, 2, "[issue] Again", "OAuth.")]);
    let out = run(
        &[
            h,
            "-O",
            c,
            "-T",
            "http://127.0.0.1:9/none",
            "imaps_oauth",
            &spec,
        ],
        dir.path(),
    );
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(titles(&home), vec!["Again", "Renewed"]);
    forget(&user);
}

#[test]
fn a_wrong_password_deletes_nothing() {
    if !dovecot_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    let user = new_user("wrong");
    deliver(&user, None, &[mail(&user, 1, "[issue] Kept", "Kept.")]);
    let spec = format!("{user}:guess@localhost");
    for source in ["pop", "pops", "apop", "imap", "imaps", "imaps_cram"] {
        let out = run(&[h, source, &spec], dir.path());
        let err = log(&out);
        assert_eq!(out.status.code(), Some(1), "{source}: {err}");
        assert!(
            err.contains(&format!("login as {user}")) && err.contains("localhost:"),
            "{source}: {err}"
        );
        assert!(err.contains("uthentication failed"), "{source}: {err}");
        assert!(!err.contains("panicked"), "{source}: {err}");
        assert_eq!(left(&user, None).len(), 1, "{source}");
    }
    assert!(titles(&home).is_empty());
    forget(&user);
}

#[test]
fn when_the_tracker_fails_mail_stays_on_the_server() {
    if !dovecot_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    // the database directory replaced by a file: every open fails
    let db = home.join("db");
    let aside = home.join("db.aside");
    std::fs::rename(&db, &aside).unwrap();
    std::fs::write(&db, "not a directory").unwrap();
    for source in ["pop", "imap"] {
        let user = new_user(&format!("fail{source}"));
        let messages: Vec<String> = (1..=2)
            .map(|n| mail(&user, n, &format!("[issue] {source} later {n}"), "Later."))
            .collect();
        deliver(&user, None, &messages);
        let spec = format!("{user}:secret@localhost");
        let out = run(&[h, source, &spec], dir.path());
        let err = log(&out);
        assert_eq!(out.status.code(), Some(1), "{source}: {err}");
        assert!(err.contains("left on the server"), "{source}: {err}");
        assert_eq!(left(&user, None).len(), 2, "{source}: {err}");
        if source == "imap" {
            // not even marked as read
            assert!(
                left(&user, None).iter().all(|n| !n.contains(",S")),
                "{:?}",
                left(&user, None)
            );
        }
        // the tracker back: the next run gets them all
        std::fs::remove_file(&db).unwrap();
        std::fs::rename(&aside, &db).unwrap();
        let out = run(&[h, source, &spec], dir.path());
        assert!(out.status.success(), "{source}: {}", log(&out));
        assert!(left(&user, None).is_empty());
        std::fs::rename(&db, &aside).unwrap();
        std::fs::write(&db, "not a directory").unwrap();
        forget(&user);
    }
    std::fs::remove_file(&db).unwrap();
    std::fs::rename(&aside, &db).unwrap();
    assert_eq!(
        titles(&home),
        vec!["imap later 1", "imap later 2", "pop later 1", "pop later 2"]
    );
}

/// The library's clients directly, with a handler that fails on the
/// second message: the first is deleted, the second and third stay.
#[test]
fn only_what_the_handler_took_is_deleted() {
    if !dovecot_ready() {
        return;
    }
    for protocol in ["pop3", "apop", "imap", "cram"] {
        let user = new_user(&format!("lib{protocol}"));
        let messages: Vec<String> = (1..=3)
            .map(|n| mail(&user, n, &format!("number {n}"), &"x".repeat(n * 1000)))
            .collect();
        deliver(&user, None, &messages);
        // the tracker takes the first message it is given, then fails
        let mut seen = Vec::new();
        let handler = |raw: &[u8]| {
            seen.push(String::from_utf8_lossy(raw).into_owned());
            if seen.len() == 2 {
                Err("the tracker is down".to_string())
            } else {
                Ok(())
            }
        };
        let tls = protocol == "cram";
        let server = Server {
            host: "localhost".into(),
            port: match protocol {
                "pop3" | "apop" => 110,
                "imap" => 143,
                _ => 993,
            },
            tls,
        };
        let result = match protocol {
            "pop3" => fetch::pop3(&server, &user, "secret", PopLogin::UserPass, handler),
            "apop" => fetch::pop3(&server, &user, "secret", PopLogin::Apop, handler),
            "imap" => fetch::imap(
                &server,
                &user,
                &ImapLogin::Plain {
                    password: "secret".into(),
                },
                "",
                handler,
            ),
            _ => fetch::imap(
                &server,
                &user,
                &ImapLogin::CramMd5 {
                    password: "secret".into(),
                },
                "INBOX",
                handler,
            ),
        };
        let e = result.expect_err(protocol);
        assert_eq!(e.kind, ErrorKind::Handler, "{protocol}: {e}");
        let text = e.to_string();
        assert!(text.contains("the tracker is down"), "{text}");
        assert!(text.contains("the 1 after it were left"), "{text}");
        assert!(
            text.starts_with(&format!("localhost:{}: ", server.port)),
            "{text}"
        );
        assert_eq!(seen.len(), 2, "{protocol}");
        // byte-exact, with the line ends of the file
        assert!(messages.contains(&seen[0]), "{protocol}: {:?}", seen[0]);
        // exactly the one the tracker took is gone from the server
        let mut still: Vec<String> = messages
            .iter()
            .filter(|m| **m != seen[0])
            .cloned()
            .collect();
        still.sort();
        assert_eq!(left_texts(&user), still, "{protocol}");
        forget(&user);
    }
}

#[test]
fn credentials_from_netrc_and_none_to_be_had() {
    if !dovecot_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    let user = new_user("netrc");
    deliver(&user, None, &[mail(&user, 1, "[issue] Via netrc", "N.")]);
    let unix_home = dir.path().join("home");
    std::fs::create_dir_all(&unix_home).unwrap();

    // no password anywhere and no terminal to ask on
    let out = run_with_home(&[h, "pop", &format!("{user}@localhost")], &unix_home);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        log(&out).contains(&format!("no password for {user}")),
        "{}",
        log(&out)
    );
    // no user either
    let out = run_with_home(&[h, "imap", "localhost"], &unix_home);
    assert_eq!(out.status.code(), Some(1));
    assert!(log(&out).contains("no user name"), "{}", log(&out));

    // a ~/.netrc others can read is refused, as Python's netrc does
    let netrc = unix_home.join(".netrc");
    std::fs::write(
        &netrc,
        format!("machine localhost\n  login {user}\n  password secret\n"),
    )
    .unwrap();
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run_with_home(&[h, "pop", "localhost"], &unix_home);
    assert_eq!(out.status.code(), Some(1));
    assert!(log(&out).contains("chmod 600"), "{}", log(&out));
    assert_eq!(left(&user, None).len(), 1);

    // user and password from ~/.netrc, only the server on the command line
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run_with_home(&[h, "pop", "localhost"], &unix_home);
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(titles(&home), vec!["Via netrc"]);
    assert!(left(&user, None).is_empty());

    // the password for a user named on the command line
    deliver(&user, None, &[mail(&user, 2, "[issue] Again", "A.")]);
    let out = run_with_home(&[h, "imaps", &format!("{user}@localhost")], &unix_home);
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(titles(&home), vec!["Again", "Via netrc"]);
    forget(&user);
}

#[test]
fn unreachable_servers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    // a port nothing listens on
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let spec = format!("bob:pw@127.0.0.1:{port}");
    for source in ["pop", "imap"] {
        let out = run(&[h, source, &spec], dir.path());
        let err = log(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("127.0.0.1:{port}: connecting")),
            "{err}"
        );
    }
    // TLS to a server that speaks none: a handshake error, no hang
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        use std::io::Write;
        let _ = s.write_all(b"+OK plain POP3 here\r\n");
        std::thread::sleep(Duration::from_millis(500));
    });
    let out = run(
        &[h, "pops", &format!("bob:pw@127.0.0.1:{port}")],
        dir.path(),
    );
    let err = log(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("TLS handshake"), "{err}");
    t.join().unwrap();
}

/// A mailbox dovecot cannot write its index files into: it warns with an
/// untagged NO during SELECT (which the imap crate's own SELECT parser
/// panics on) and shows no mail. The warning reaches the log, nothing is
/// lost, and once the mailbox is writable the next run gets the mail.
#[test]
fn server_warnings_are_logged_not_a_crash() {
    if !dovecot_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let user = new_user("warn");
    deliver(
        &user,
        Some("Tracker"),
        &[
            mail(&user, 1, "[issue] Warned one", "One."),
            mail(&user, 2, "[issue] Warned two", "Two."),
        ],
    );
    let folder = maildir(&user, Some("Tracker"));
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    let spec = format!("{user}:secret@localhost");
    let args = [home.to_str().unwrap(), "imap", &spec, "Tracker"];
    let out = run(&args, dir.path());
    let err = log(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("mailbox \"Tracker\": the server warns: "),
        "{err}"
    );
    assert_eq!(left(&user, Some("Tracker")).len(), 2);
    assert!(titles(&home).is_empty());
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = run(&args, dir.path());
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(titles(&home), vec!["Warned one", "Warned two"]);
    assert!(left(&user, Some("Tracker")).is_empty());
    forget(&user);
}
