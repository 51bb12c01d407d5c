//! Notifications through a real MTA: Debian's postfix on 127.0.0.1:25,
//! set up by `.ci/run` to deliver every address at example.com into the
//! mbox /var/mail/rt (its local delivery adds `X-Original-To`).
//!
//! * mail goes out over plain SMTP and over STARTTLS (postfix's
//!   certificate is signed by a CA `.ci/run` adds to the system's trust
//!   store, which lettre reads);
//! * with postfix stopped, changes still commit and their notifications
//!   wait in the outbox; once postfix is back, each is delivered exactly
//!   once.
//!
//! Both tests stop or use the one postfix, so they take turns.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use roundup_testkit::{missing_because, Tool};

mod support;

const OURS: &str = env!("CARGO_BIN_EXE_roundup-mailgw");
const MBOX: &str = "/var/mail/rt";

static POSTFIX_TURN: Mutex<()> = Mutex::new(());

const POSTFIX: Tool = Tool {
    what: "postfix on 127.0.0.1:25 delivering example.com to /var/mail/rt",
    ci_provides:
        ".ci/run: apt-get install postfix, postconf (mydestination, luser_relay) and postfix start",
};

fn smtp_up() -> bool {
    std::net::TcpStream::connect_timeout(&"127.0.0.1:25".parse().unwrap(), Duration::from_secs(2))
        .is_ok()
}

fn postfix_ready() -> bool {
    if !Path::new("/usr/sbin/postfix").exists() {
        missing_because(&POSTFIX, "/usr/sbin/postfix is not installed");
        return false;
    }
    if !smtp_up() {
        missing_because(&POSTFIX, "nothing answers on 127.0.0.1:25");
        return false;
    }
    true
}

fn postfix(cmd: &str) {
    let out = Command::new("/usr/sbin/postfix")
        .arg(cmd)
        .output()
        .expect("run postfix");
    assert!(
        out.status.success() || cmd == "stop",
        "postfix {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh classic tracker sending through localhost:25.
fn tracker(dir: &Path, tls: bool) -> std::path::PathBuf {
    support::tracker(
        dir,
        &[
            ("mail_host", "localhost"),
            ("mail_port", "25"),
            ("mail_tls", if tls { "yes" } else { "no" }),
        ],
        &[("alice", "alice@example.com"), ("bob", "bob@example.com")],
    )
}

fn feed(home: &Path, raw: &str) -> String {
    let mut command = Command::new(OURS);
    command.arg(home);
    let out = support::pipe(command, raw.as_bytes());
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "roundup-mailgw failed: {log}");
    log
}

fn mail(token: &str, n: usize, subject: &str, body: &str) -> String {
    format!(
        "From: Bob <bob@example.com>\nTo: issue_tracker@example.com\nSubject: {subject}\nMessage-Id: <{token}-{n}@example.com>\n\n{body}\n"
    )
}

/// The delivered messages that carry `token`, as text.
fn delivered(token: &str) -> Vec<String> {
    let text = std::fs::read_to_string(MBOX).unwrap_or_default();
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("From ") && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        cur.push_str(line);
    }
    out.push(cur);
    out.into_iter().filter(|m| m.contains(token)).collect()
}

fn wait_for(token: &str, count: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let got = delivered(token);
        if got.len() >= count || start.elapsed() > Duration::from_secs(30) {
            return got;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn token() -> String {
    format!(
        "rt{}x{}",
        std::process::id(),
        roundup_core::mail::now() as u64
    )
}

#[test]
fn notifications_reach_postfix_over_smtp_and_starttls() {
    let _turn = POSTFIX_TURN.lock().unwrap_or_else(|e| e.into_inner());
    if !postfix_ready() {
        return;
    }
    for tls in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let home = tracker(dir.path(), tls);
        let tok = format!("{}{}", token(), if tls { "tls" } else { "plain" });
        feed(
            &home,
            &mail(
                &tok,
                1,
                &format!("[issue] Printer {tok} [nosy=alice]"),
                "It is on fire.",
            ),
        );
        let got = wait_for(&tok, 1);
        assert_eq!(got.len(), 1, "tls={tls}: delivered {got:?}");
        let m = &got[0];
        assert!(m.contains("X-Original-To: alice@example.com"), "{m}");
        assert!(
            m.contains(&format!("Subject: [issue1] Printer {tok}")),
            "{m}"
        );
        assert!(m.contains("X-Roundup-Loop: hello"), "{m}");
        assert!(m.contains("New submission from bob"), "{m}");
        // postfix writes ESMTPS in its Received header for a TLS session
        assert_eq!(m.contains("with ESMTPS"), tls, "tls={tls}: {m}");
        let t = roundup_tracker::Tracker::open(&home).unwrap();
        assert!(t.open_db("1").unwrap().outbox(false).unwrap().is_empty());
    }
}

#[test]
fn an_smtp_outage_delays_notifications_and_loses_none() {
    let _turn = POSTFIX_TURN.lock().unwrap_or_else(|e| e.into_inner());
    if !postfix_ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path(), false);
    let tok = token();
    feed(
        &home,
        &mail(
            &tok,
            1,
            &format!("[issue] Outage {tok} [nosy=alice]"),
            "First.",
        ),
    );
    assert_eq!(wait_for(&tok, 1).len(), 1, "the first notification");

    postfix("stop");
    let start = Instant::now();
    while smtp_up() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let outage = std::panic::catch_unwind(|| {
        assert!(!smtp_up(), "postfix did not stop");
        for n in 2..=4 {
            let log = feed(
                &home,
                &mail(&tok, n, "Re: [issue1] Outage", &format!("Reply {n}.")),
            );
            assert!(log.contains("kept in the outbox"), "{log}");
        }
        let t = roundup_tracker::Tracker::open(&home).unwrap();
        let db = t.open_db("1").unwrap();
        // the changes committed: three more messages on the issue
        assert_eq!(
            db.get("issue", "1", "messages").unwrap(),
            Some(roundup_core::Value::Multilink(vec![
                "1".into(),
                "2".into(),
                "3".into(),
                "4".into()
            ]))
        );
        let waiting = db.outbox(false).unwrap();
        assert_eq!(waiting.len(), 3, "{waiting:?}");
        assert!(waiting
            .iter()
            .all(|e| e.attempts == 1 && e.last_error.is_some()));
        // nothing is due again before its retry time
        assert_eq!(db.deliver_outbox(false).unwrap(), (0, 0));
    });
    postfix("start");
    if let Err(e) = outage {
        std::panic::resume_unwind(e);
    }
    let start = Instant::now();
    while !smtp_up() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let t = roundup_tracker::Tracker::open(&home).unwrap();
    let db = t.open_db("1").unwrap();
    // what `roundup-admin outbox send all` does
    assert_eq!(db.deliver_outbox(true).unwrap(), (3, 0));
    assert!(db.outbox(false).unwrap().is_empty());
    assert_eq!(db.deliver_outbox(true).unwrap(), (0, 0));
    let got = wait_for(&tok, 4);
    std::thread::sleep(Duration::from_secs(2));
    let got_later = delivered(&tok);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(
        got_later.len(),
        4,
        "a notification came twice: {got_later:?}"
    );
    for n in 2..=4 {
        let id = format!("Message-ID: <{tok}-{n}@example.com>");
        let copies = got_later
            .iter()
            .filter(|m| m.to_ascii_lowercase().contains(&id.to_ascii_lowercase()))
            .count();
        assert_eq!(copies, 1, "notification of reply {n}");
    }
}
