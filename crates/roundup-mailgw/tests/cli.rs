//! The roundup-mailgw command as an MTA or cron job runs it: options,
//! the pipe, `mailbox FILE` and `maildir DIR`, bad input and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;

const OURS: &str = env!("CARGO_BIN_EXE_roundup-mailgw");

fn tracker(dir: &Path) -> PathBuf {
    // a line per message in the log (standard error: no log file)
    support::recording_tracker(
        dir,
        &[("logging_level", "INFO")],
        &[("bob", "bob@example.com")],
    )
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut command = Command::new(OURS);
    command.args(args).env_remove("ROUNDUP_INSTANCE");
    support::pipe(command, stdin)
}

fn message(n: usize, subject: &str) -> String {
    format!(
        "From: Bob <bob@example.com>\nTo: issue_tracker@example.com\nSubject: {subject}\nMessage-Id: <cli-{n}@example.com>\n\nBody {n}.\n"
    )
}

fn titles(home: &Path) -> Vec<String> {
    let t = roundup_tracker::Tracker::open(home).unwrap();
    let db = t.open_db("1").unwrap();
    db.list("issue")
        .unwrap()
        .into_iter()
        .map(|id| match db.get("issue", &id, "title").unwrap() {
            Some(roundup_core::Value::String(s)) => s,
            _ => String::new(),
        })
        .collect()
}

#[test]
fn options_and_missing_home() {
    let out = run(&["--version"], b"");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("2.6.0"));
    let out = run(&["-h"], b"");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--set-value"));
    let out = run(&[], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("The instance home must be specified"));
    let out = run(&["--bogus"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized arguments: --bogus"));
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[dir.path().to_str().unwrap()], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a tracker home"));
}

#[test]
fn pipe_mailbox_and_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();

    // the pipe, with -S setting a property of the new issue
    let out = run(
        &[h, "-S", "issue.priority=urgent"],
        message(1, "[issue] From the pipe").as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(titles(&home), vec!["From the pipe"]);
    {
        let t = roundup_tracker::Tracker::open(&home).unwrap();
        let db = t.open_db("1").unwrap();
        let urgent = db.lookup("priority", "urgent").unwrap();
        assert_eq!(
            db.get("issue", "1", "priority").unwrap(),
            Some(roundup_core::Value::Link(urgent))
        );
    }

    // an mbox: every message handled, then the file is emptied
    let mbox = dir.path().join("spool");
    let mut text = String::new();
    for n in 2..=4 {
        text.push_str(&format!(
            "From bob@example.com Sat Dec  5 10:00:00 2026\n{}\n",
            message(n, &format!("[issue] Spooled {n}"))
        ));
    }
    std::fs::write(&mbox, &text).unwrap();
    let out = run(&[h, "mailbox", mbox.to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&mbox).unwrap(), "");
    assert_eq!(titles(&home).len(), 4);

    // a missing mbox is an error naming it
    let out = run(&[h, "mailbox", "/nonexistent/spool"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/spool"));

    // a maildir: new/ moves to cur/
    let md = dir.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    std::fs::write(md.join("new/1.msg"), message(5, "[issue] From the maildir")).unwrap();
    let out = run(&[h, "maildir", md.to_str().unwrap()], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_dir(md.join("new")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(md.join("cur")).unwrap().count(), 1);
    assert!(titles(&home).contains(&"From the maildir".to_string()));

    // a network source whose server cannot be reached: an error naming it
    // (tests/fetch.rs fetches from a real one)
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = run(&[h, "pop", &format!("bob:pw@127.0.0.1:{port}")], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("pop 127.0.0.1:{port}: connecting"))
    );
}

#[test]
fn bad_mail_never_panics_and_is_answered_or_kept() {
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    let cases: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\x00\x01\x02 not mail at all".to_vec(),
        b"Subject: no sender\n\nbody\n".to_vec(),
        b"From: bob@example.com\nSubject: =?utf-8?B?broken\n\n\xff\xfe\n".to_vec(),
        b"From: bob@example.com\nSubject: [issue] huge\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhello\n--x\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
            .iter()
            .copied()
            .chain(std::iter::repeat_n(b'A', 5 << 20))
            .chain(b"\n--x--\n".iter().copied())
            .collect(),
    ];
    for (i, raw) in cases.iter().enumerate() {
        let out = run(&[h], raw);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "case {i}: {err}");
        assert!(out.status.success(), "case {i}: {err}");
    }
    // the tracker's own mail come back is dropped without an answer
    let own = b"From: issue_tracker@example.com\nSubject: [issue1] Re: x\n\nlooping\n";
    let before = std::fs::read_to_string(home.join("mail.out")).unwrap_or_default();
    let out = run(&[h], own);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("own address"));
    assert_eq!(
        std::fs::read_to_string(home.join("mail.out")).unwrap_or_default(),
        before
    );
    // the messages nobody can be told about are kept, not lost
    let kept = home.join("db/mailgw-unusable");
    assert!(
        std::fs::read_dir(&kept).map(|d| d.count()).unwrap_or(0) >= 2,
        "nothing kept in {}",
        kept.display()
    );
    // the 5 MB attachment arrived whole
    let t = roundup_tracker::Tracker::open(&home).unwrap();
    let db = t.open_db("1").unwrap();
    let files = db.list("file").unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        db.file_content("file", &files[0]).unwrap().len(),
        (5 << 20) / 4 * 3
    );
}

#[test]
fn a_reply_to_the_registration_mail_confirms_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    // what the web's register action keeps until the address is confirmed
    let t = roundup_tracker::Tracker::open(&home).unwrap();
    let register = |name: &str| -> String {
        let mut otks = t
            .open_key_store(roundup_core::sessions::StoreKind::Otks)
            .unwrap();
        let key = otks.unique_key(32).unwrap();
        let mut rec = roundup_core::sessions::Record::new();
        let address = format!("{name}@example.com");
        let password = roundup_core::password::Password::hash(
            "pw",
            roundup_core::password::Scheme::Pbkdf2S5,
            1000,
        )
        .to_string();
        for (k, v) in [
            ("username", name),
            ("address", address.as_str()),
            ("realname", "New Bie"),
            ("password", password.as_str()),
        ] {
            rec.insert(
                k.to_string(),
                roundup_core::pyrepr::PyValue::Str(v.to_string()),
            );
        }
        otks.set(&key, rec, None).unwrap();
        otks.commit().unwrap();
        key
    };
    let key = register("newbie");

    let reply = format!(
        "From: newbie@example.com\nTo: issue_tracker@example.com\nSubject: Re: Complete your registration to Roundup issue tracker -- key {key}\n\nyes\n"
    );
    let out = run(&[h], reply.as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("registration confirmed"), "{err}");
    let db = t.open_db("1").unwrap();
    let uid = db.lookup("user", "newbie").unwrap();
    assert_eq!(
        db.get("user", &uid, "address").unwrap(),
        Some(roundup_core::Value::String("newbie@example.com".into()))
    );
    // the web's roles for new users, and the key is spent
    assert_eq!(
        db.get("user", &uid, "roles").unwrap(),
        Some(roundup_core::Value::String("User".into()))
    );
    let mail = std::fs::read_to_string(home.join("mail.out")).unwrap();
    assert!(
        mail.contains("Subject: Your registration to Roundup issue tracker is complete"),
        "{mail}"
    );
    // the same reply again: the key is gone, the sender is told
    let out = run(&[h], reply.as_bytes());
    assert!(out.status.success());
    let mail = std::fs::read_to_string(home.join("mail.out")).unwrap();
    assert!(
        mail.contains("There is no registration waiting for the key"),
        "{mail}"
    );

    // in a mailbox run the confirmation commits the messages before it
    // and is handled in a transaction of its own; the rest follow
    let key = register("second");
    let confirm = format!(
        "From: second@example.com\nTo: issue_tracker@example.com\nSubject: Re: Complete your registration -- key {key}\n\nyes\n"
    );
    let mbox = dir.path().join("spool");
    let mut text = String::new();
    for m in [
        message(1, "[issue] Before"),
        confirm,
        message(3, "[issue] After"),
    ] {
        text.push_str(&format!("From x Sat Dec  5 10:00:00 2026\n{m}\n"));
    }
    std::fs::write(&mbox, text).unwrap();
    let out = run(&[h, "mailbox", mbox.to_str().unwrap()], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("registration confirmed"), "{err}");
    assert_eq!(std::fs::read_to_string(&mbox).unwrap(), "");
    assert_eq!(titles(&home), vec!["Before", "After"]);
    assert!(db.lookup("user", "second").is_ok());
}

/// An mbox of `subjects`, message `n` from Bob with a small attachment
/// when `attach(n)`.
fn spool(subjects: &[&str], attach: impl Fn(usize) -> bool) -> String {
    let mut text = String::new();
    for (n, subject) in subjects.iter().enumerate() {
        let msg = if attach(n) {
            format!(
                "From: Bob <bob@example.com>\nTo: issue_tracker@example.com\nSubject: {subject}\nMessage-Id: <batch-{n}@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nBody {n}.\n--b\nContent-Type: text/plain; name=log{n}.txt\nContent-Disposition: attachment; filename=log{n}.txt\n\nlog of {n}\n--b--\n"
            )
        } else {
            message(n, subject)
        };
        text.push_str(&format!(
            "From bob@example.com Sat Dec  5 10:00:00 2026\n{msg}\n"
        ));
    }
    text
}

/// Every file (not directory) under `dir`, relative to it.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A mailbox run is one transaction with a mark per message: a message
/// refused after its files and message were written (here by an auditor
/// rejecting the issue) is undone alone, content files included, and
/// bounced; the others are committed and the mailbox is emptied.
#[test]
fn a_refused_message_in_a_mailbox_run_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    std::fs::write(
        home.join("detectors/refuse.py"),
        "from roundup.exceptions import Reject\n\
         def refuse(db, cl, nodeid, newvalues):\n\
         \x20   if 'Refuse me' in (newvalues.get('title') or ''):\n\
         \x20       raise Reject('no such titles here')\n\
         def init(db):\n\
         \x20   db.issue.audit('create', refuse)\n",
    )
    .unwrap();
    let mbox = dir.path().join("spool");
    let subjects = [
        "[issue] First",
        "[issue] Refuse me",
        "Re: [issue1] First",
        "[issue] Last",
    ];
    std::fs::write(&mbox, spool(&subjects, |_| true)).unwrap();
    let out = run(&[h, "mailbox", mbox.to_str().unwrap()], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("refused"), "{err}");
    assert_eq!(std::fs::read_to_string(&mbox).unwrap(), "");
    assert_eq!(titles(&home), vec!["First", "Last"]);
    let t = roundup_tracker::Tracker::open(&home).unwrap();
    let db = t.open_db("1").unwrap();
    // three messages and their three files; the refused message's ids
    // stay used, as after any rollback
    assert_eq!(db.list("msg").unwrap().len(), 3);
    assert_eq!(db.list("file").unwrap().len(), 3);
    let stored = tree(&home.join("db/files"));
    let mut expected = Vec::new();
    for class in ["file", "msg"] {
        for id in db.list(class).unwrap() {
            expected.push(format!("{class}/0/{class}{id}"));
        }
    }
    expected.sort();
    assert_eq!(stored, expected, "content files other than the items'");
    assert_eq!(db.file_content("file", "4").unwrap(), b"log of 3".to_vec());
    // the sender heard of the refusal
    let mails = std::fs::read_to_string(home.join("mail.out")).unwrap();
    assert!(mails.contains("no such titles here"), "{mails}");
}

/// When the tracker's storage fails in the middle of a mailbox run,
/// nothing of the run is committed, no staged content file is left, the
/// mailbox keeps every message and the exit status asks for a later
/// try (75).
#[test]
fn a_storage_failure_in_a_mailbox_run_commits_nothing_and_keeps_the_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();
    // the third message's attachment is the first file: its directory
    // cannot be made, as a plain file is in the way (root too)
    std::fs::create_dir_all(home.join("db/files/file")).unwrap();
    std::fs::write(home.join("db/files/file/0"), "in the way").unwrap();
    let mbox = dir.path().join("spool");
    let subjects = [
        "[issue] One",
        "[issue] Two",
        "Re: [issue1] One",
        "[issue] Four",
    ];
    let text = spool(&subjects, |n| n == 2);
    std::fs::write(&mbox, &text).unwrap();
    let out = run(&[h, "mailbox", mbox.to_str().unwrap()], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(err.contains("left in the mailbox"), "{err}");
    assert_eq!(std::fs::read_to_string(&mbox).unwrap(), text);
    assert!(titles(&home).is_empty());
    assert_eq!(
        tree(&home.join("db/files")),
        vec!["file/0".to_string()],
        "files left from the rolled back run"
    );
    assert!(!std::fs::read_to_string(home.join("mail.out"))
        .unwrap_or_default()
        .contains("Subject:"));
    // once the disk is fixed the next run takes them all
    std::fs::remove_file(home.join("db/files/file/0")).unwrap();
    let again = run(&[h, "mailbox", mbox.to_str().unwrap()], b"");
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{err}");
    assert_eq!(std::fs::read_to_string(&mbox).unwrap(), "");
    assert_eq!(titles(&home), vec!["One", "Two", "Four"]);
}

/// The bad-input list names a 50 MB message: generated here (a
/// base64 attachment of pseudo-random bytes, 76-character lines as mail
/// programs write them), fed through the pipe, stored whole, and the
/// gateway's peak memory stays bounded.
#[test]
fn a_fifty_megabyte_message_is_stored_whole_in_bounded_memory() {
    const BOUND_KB: i64 = 400 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let home = tracker(dir.path());
    let h = home.to_str().unwrap();

    // 37.5 MB of bytes that do not compress or repeat (xorshift)
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let data: Vec<u8> = (0..(50usize << 20) / 4 * 3)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let mut raw = b"From: Bob <bob@example.com>\nTo: issue_tracker@example.com\nSubject: [issue] fifty megabytes\nMessage-Id: <big-50@example.com>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b50\"\n\n--b50\nContent-Type: text/plain\n\nthe dump is attached\n--b50\nContent-Type: application/octet-stream; name=\"dump.bin\"\nContent-Disposition: attachment; filename=\"dump.bin\"\nContent-Transfer-Encoding: base64\n\n".to_vec();
    raw.extend(support::base64_lines(&data));
    raw.extend_from_slice(b"--b50--\n");
    assert!(raw.len() > 50 << 20, "{} bytes", raw.len());

    let (status, rusage, stderr) = support::run_measured(OURS, &[h], raw);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status == 0, "exit status {status}: {stderr}");
    let peak_kb = rusage.ru_maxrss;
    eprintln!(
        "50 MB message: peak RSS {} MB (bound {} MB)",
        peak_kb / 1024,
        BOUND_KB / 1024
    );
    assert!(
        peak_kb < BOUND_KB,
        "peak RSS {peak_kb} kB exceeds {BOUND_KB} kB"
    );

    let t = roundup_tracker::Tracker::open(&home).unwrap();
    let db = t.open_db("1").unwrap();
    assert_eq!(titles(&home), vec!["fifty megabytes"]);
    let files = db.list("file").unwrap();
    assert_eq!(files.len(), 1);
    let stored = db.file_content("file", &files[0]).unwrap();
    assert_eq!(stored.len(), data.len());
    assert!(stored == data, "the stored file differs from the one sent");
}

/// `[logging] config` names a Python logging configuration: the gateway
/// logs through it, and one it cannot use stops it with the reason.
#[test]
fn a_logging_config_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let log_file = dir.path().join("gateway.log");
    let ini = dir.path().join("logging.ini");
    std::fs::write(
        &ini,
        format!(
            "[loggers]\nkeys=root,mailgw\n[handlers]\nkeys=file\n[formatters]\nkeys=f\n\
             [logger_root]\nlevel=ERROR\nhandlers=\n\
             [logger_mailgw]\nlevel=INFO\nhandlers=file\nqualname=roundup.mailgw\npropagate=0\n\
             [handler_file]\nclass=FileHandler\nformatter=f\nargs=({:?},)\n\
             [formatter_f]\nformat=[%(name)s] %(levelname)s %(message)s\n",
            log_file.display().to_string()
        ),
    )
    .unwrap();
    let home = support::recording_tracker(
        dir.path(),
        &[("logging_config", ini.to_str().unwrap())],
        &[("bob", "bob@example.com")],
    );
    let h = home.to_str().unwrap();
    let out = run(&[h], message(1, "[issue] Logged").as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let logged = std::fs::read_to_string(&log_file).unwrap_or_default();
    assert!(
        logged.starts_with("[roundup.mailgw] INFO ") && logged.contains("issue1"),
        "{logged}"
    );

    // a level that does not exist: the gateway does not start
    let text = std::fs::read_to_string(&ini)
        .unwrap()
        .replace("level=INFO", "level=LOUD");
    std::fs::write(&ini, text).unwrap();
    let out = run(&[h], message(2, "[issue] Not logged").as_bytes());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("logging.ini") && err.contains("[logger_mailgw] level"),
        "{err}"
    );
}
