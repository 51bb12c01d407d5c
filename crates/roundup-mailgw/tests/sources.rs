//! mbox files and maildirs on disk.

use std::fs;
use std::path::Path;

use roundup_mailgw::{
    maildir_messages, mark_done, parse_message, read_mbox, BodyOptions, MailError,
};

const MBOX: &str = "From ann@example.com Tue Jan  2 10:00:00 2024\n\
Subject: [issue1] first\n\
From: ann@example.com\n\
\n\
one\n\
>From the quoted start of a line\n\
\n\
From bob@example.com Tue Jan  2 11:00:00 2024\n\
Subject: second\n\
From: bob@example.com\n\
\n\
two\n\
\n\
From carol@example.com Tue Jan  2 12:00:00 2024\n\
Subject: third\n\
From: carol@example.com\n\
\n\
three\n";

fn write_mbox(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("mail.mbox");
    fs::write(&path, MBOX).unwrap();
    path
}

#[test]
fn mbox_messages_parse() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_mbox(dir.path());
    let mbox = read_mbox(&path).unwrap();
    assert_eq!(mbox.len(), 3);
    let subjects: Vec<String> = mbox
        .messages()
        .iter()
        .map(|m| {
            parse_message(&m.data, &BodyOptions::default())
                .unwrap()
                .subject
        })
        .collect();
    assert_eq!(subjects, ["[issue1] first", "second", "third"]);
    assert_eq!(
        mbox.messages()[0].from_line,
        "From ann@example.com Tue Jan  2 10:00:00 2024"
    );
    // ">From" is not unquoted, as with Python's mailbox module.
    let first = parse_message(&mbox.messages()[0].data, &BodyOptions::default()).unwrap();
    assert_eq!(first.body, "one\n>From the quoted start of a line\n");
    // the lock file exists while the mailbox is held
    assert!(dir.path().join("mail.mbox.lock").exists());
    drop(mbox);
    assert!(!dir.path().join("mail.mbox.lock").exists());
    // dropping without close leaves the file alone
    assert_eq!(fs::read_to_string(&path).unwrap(), MBOX);
}

#[test]
fn mbox_keeps_unhandled_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_mbox(dir.path());
    let mut mbox = read_mbox(&path).unwrap();
    mbox.remove(0);
    mbox.remove(2);
    mbox.remove(99); // ignored
    mbox.close().unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "From bob@example.com Tue Jan  2 11:00:00 2024\n\
         Subject: second\n\
         From: bob@example.com\n\
         \n\
         two\n\
         \n"
    );
    assert!(!dir.path().join("mail.mbox.lock").exists());
    // and what was written back reads the same
    let mbox = read_mbox(&path).unwrap();
    assert_eq!(mbox.len(), 1);
    assert_eq!(
        mbox.messages()[0].data,
        b"Subject: second\nFrom: bob@example.com\n\ntwo\n"
    );
}

#[test]
fn mbox_emptied_when_all_handled() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_mbox(dir.path());
    let mut mbox = read_mbox(&path).unwrap();
    for i in 0..mbox.len() {
        mbox.remove(i);
    }
    mbox.close().unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    let mbox = read_mbox(&path).unwrap();
    assert!(mbox.is_empty());
    mbox.empty().unwrap();

    let path = write_mbox(dir.path());
    read_mbox(&path).unwrap().empty().unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn mbox_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.mbox");
    let err = read_mbox(&missing).unwrap_err();
    assert!(matches!(err, MailError::Io { .. }), "{err}");
    assert!(err.to_string().contains("nope.mbox"), "{err}");

    // someone else's dot-lock
    let path = write_mbox(dir.path());
    fs::write(dir.path().join("mail.mbox.lock"), "").unwrap();
    let err = read_mbox(&path).unwrap_err();
    assert!(matches!(err, MailError::MailboxLocked { .. }), "{err}");
    assert!(err.to_string().contains(".lock"), "{err}");
    // it is not removed by our failed attempt
    assert!(dir.path().join("mail.mbox.lock").exists());
    fs::remove_file(dir.path().join("mail.mbox.lock")).unwrap();

    // mail delivered while we held the mailbox: nothing is lost
    let mut mbox = read_mbox(&path).unwrap();
    mbox.remove(0);
    let mut grown = MBOX.to_string();
    grown.push_str("\nFrom late@example.com Tue Jan  2 13:00:00 2024\nSubject: late\n\nlate\n");
    fs::write(&path, &grown).unwrap();
    let err = mbox.close().unwrap_err();
    assert!(matches!(err, MailError::MailboxChanged { .. }), "{err}");
    assert_eq!(fs::read_to_string(&path).unwrap(), grown);
}

fn make_maildir(dir: &Path) {
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(dir.join("new/1704186000.M1P1.host"), "Subject: a\n\na\n").unwrap();
    fs::write(dir.join("new/1704186001.M2P1.host"), "Subject: b\n\nb\n").unwrap();
    fs::write(dir.join("new/.hidden"), "x").unwrap();
    fs::write(
        dir.join("cur/1704185000.M0P1.host:2,S"),
        "Subject: seen\n\nx\n",
    )
    .unwrap();
    fs::write(
        dir.join("cur/1704185500.M9P1.host:2,F"),
        "Subject: flagged\n\nx\n",
    )
    .unwrap();
    fs::write(dir.join("tmp/1704186002.M3P1.host"), "Subject: partial").unwrap();
}

#[test]
fn maildir_lists_unseen_messages() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    let names: Vec<String> = maildir_messages(dir.path())
        .unwrap()
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "cur/1704185500.M9P1.host:2,F",
            "new/1704186000.M1P1.host",
            "new/1704186001.M2P1.host"
        ]
    );
}

#[test]
fn maildir_mark_done() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(dir.path());
    let todo = maildir_messages(dir.path()).unwrap();
    let moved: Vec<_> = todo.iter().map(|p| mark_done(p).unwrap()).collect();
    assert_eq!(moved[0], dir.path().join("cur/1704185500.M9P1.host:2,FS"));
    assert_eq!(moved[1], dir.path().join("cur/1704186000.M1P1.host:2,S"));
    assert!(moved.iter().all(|p| p.exists()));
    assert!(maildir_messages(dir.path()).unwrap().is_empty());
    // marking a seen message again changes nothing
    assert_eq!(mark_done(&moved[1]).unwrap(), moved[1]);
    // a file outside new/ and cur/ is refused
    let err = mark_done(dir.path().join("tmp/1704186002.M3P1.host")).unwrap_err();
    assert!(err.to_string().contains("maildir"), "{err}");
}

#[test]
fn not_a_maildir() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("new")).unwrap();
    let err = maildir_messages(dir.path()).unwrap_err();
    assert!(
        matches!(err, MailError::NotAMaildir { missing: "cur", .. }),
        "{err}"
    );
}
