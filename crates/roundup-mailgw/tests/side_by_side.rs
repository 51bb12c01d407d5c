//! The same mail fed to Roundup 2.6's roundup-mailgw and to ours, on twin
//! classic homes made by Roundup 2.6, must leave the same tracker state
//! and send the same replies and notifications.
//!
//! The homes allow anonymous mail (the line classic's schema.py keeps
//! commented out for it is switched on, as its comment tells an
//! administrator to), so unknown senders are registered. Every message
//! of tests/corpus/ goes in, then gateway scenarios (follow-ups by
//! designator, by In-Reply-To and by title, subject suffixes, errors).
//! Afterwards both databases are exported by Roundup 2.6's own
//! roundup-admin (so Roundup reads what we wrote) and the exports are
//! compared with dates, made-up message ids and password hashes
//! normalised; the [mail] debug files are compared by recipients,
//! subjects and X-Roundup headers.

use std::path::{Path, PathBuf};
use std::process::Command;

use roundup_testkit::{debug_mails, set_config_option as set_option, Roundup26};

mod support;

const OURS: &str = env!("CARGO_BIN_EXE_roundup-mailgw");

/// Corpus files whose tracker state differs from Roundup's on purpose
/// (see DEVIATIONS in python_crosscheck.rs for the reading differences).
const SKIP: &[(&str, &str)] = &[
    (
        "07_latin1_8bit.eml",
        "raw 8-bit header bytes: Roundup cannot decode them",
    ),
    (
        "15_garbage_8bit_headers.eml",
        "raw 8-bit header bytes: Roundup cannot decode them",
    ),
    (
        "20_no_charset_latin1.eml",
        "text without charset: UTF-8 is tried before Latin-1 here",
    ),
    (
        "10_rfc822_attached.eml",
        "forwarded messages are named from the decoded subject and kept byte for byte",
    ),
];

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let data = std::fs::read(&p).expect("read corpus file");
            (name, data)
        })
        .filter(|(n, _)| !SKIP.iter().any(|(s, _)| s == n))
        .collect()
}

/// Gateway scenarios after the corpus (issue numbers continue from it;
/// they refer to items by title and message id, not by number).
fn scenarios() -> Vec<(&'static str, String)> {
    let m = |from: &str, subject: &str, extra: &str, body: &str| {
        format!(
            "From: {from}\nTo: issue_tracker@example.com, carol@example.com\nSubject: {subject}\n{extra}Date: Sat, 05 Dec 2026 10:00:00 +0000\nContent-Type: text/plain; charset=utf-8\n\n{body}"
        )
    };
    vec![
        (
            "new issue with suffix",
            m(
                "Bob <bob@example.com>",
                "[issue] Toner is empty [priority=urgent]",
                "Message-Id: <toner1@example.com>\n",
                "The toner in the second-floor printer is empty.\n\n-- \nBob\n",
            ),
        ),
        (
            "reply by In-Reply-To",
            m(
                "Alice A <alice@example.com>",
                "Re: Toner is empty",
                "Message-Id: <toner2@example.com>\nIn-Reply-To: <toner1@example.com>\n",
                "Ordered a new one.\n\nOn Sat, Bob wrote:\n> The toner is empty.\n",
            ),
        ),
        (
            "reply by title",
            m(
                "Bob <bob@example.com>",
                "Re: Toner is empty [status=chatting;nosy=+alice]",
                "Message-Id: <toner3@example.com>\n",
                "Thanks!\n",
            ),
        ),
        (
            "bad suffix value",
            m(
                "Bob <bob@example.com>",
                "[issue] Another problem [priority=whenever]",
                "",
                "x\n",
            ),
        ),
        (
            "unknown class",
            m("Bob <bob@example.com>", "[gadget] A gadget", "", "x\n"),
        ),
        (
            "no subject",
            "From: Bob <bob@example.com>\nTo: issue_tracker@example.com\n\nno subject here\n"
                .to_string(),
        ),
        (
            "loop",
            format!(
                "X-Roundup-Loop: hello\n{}",
                m("Bob <bob@example.com>", "[issue] looping", "", "x\n")
            ),
        ),
        (
            "bulk",
            format!(
                "Precedence: bulk\n{}",
                m("Bob <bob@example.com>", "[issue] bulk", "", "x\n")
            ),
        ),
        ("help", m("Bob <bob@example.com>", "help", "", "help\n")),
    ]
}

fn run_ours(home: &Path, raw: &[u8]) -> String {
    let mut command = Command::new(OURS);
    command.arg(home);
    let out = support::pipe(command, raw);
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !text.contains("panicked"),
        "our roundup-mailgw panicked:\n{text}"
    );
    assert!(
        out.status.success(),
        "our roundup-mailgw failed ({}):\n{text}",
        out.status
    );
    text
}

fn run_theirs(r: &Roundup26, home: &Path, raw: &[u8]) {
    let command = r.command("/opt/rvenv/bin/roundup-mailgw", &[home.to_str().unwrap()]);
    let out = support::pipe(command, raw);
    assert!(
        out.status.success(),
        "Roundup's roundup-mailgw failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Text with dates, made-up message ids and password hashes replaced.
fn normalise(text: &str) -> String {
    let date = regex::Regex::new(r"\d{4}-\d\d-\d\d\.\d\d:\d\d:\d\d(\.\d+)?").unwrap();
    let made = regex::Regex::new(r"<\d+\.\d+\.[A-Z2-7=]+\.[a-z]+\w*@[^>]*>").unwrap();
    let pw = regex::Regex::new(r"\{[A-Z0-9-]+\}[^':,\s]+").unwrap();
    let tuple = regex::Regex::new(r"\(\d{4}, \d+, \d+, \d+, \d+, [\d.]+, 0, 0, 0\)").unwrap();
    let t = tuple.replace_all(text, "<DATE>");
    let t = date.replace_all(&t, "<DATE>");
    let t = made.replace_all(&t, "<made-up>");
    pw.replace_all(&t, "<PW>").into_owned()
}

/// Roundup 2.6's export of a home: (file name, normalised text) for the
/// item tables and file contents (journals left out: their times differ).
fn export(r: &Roundup26, home: &Path, dir: &Path) -> Vec<(String, String)> {
    r.admin(&[
        "-i",
        home.to_str().unwrap(),
        "export",
        dir.to_str().unwrap(),
    ]);
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let name = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if name.contains("-journals") {
                continue;
            }
            let text = normalise(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
            // Row order is the database's (`select id` without ORDER BY),
            // which our extra sorting indexes may change: compare rows as
            // a set, header first.
            let text = if name.ends_with(".csv") {
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    lines[1..].sort();
                }
                lines.join("\n")
            } else {
                text
            };
            out.push((name, text));
        }
    }
    out.sort();
    out
}

/// (envelope recipients, subject, sorted X-Roundup headers) of each mail
/// in a debug file.
fn sent(path: &Path) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for (to, message) in debug_mails(path) {
        // Addresses only: Roundup bounces a From it cannot parse to the
        // whole header text, we to the address found in it.
        let to = to
            .split(", ")
            .map(|a| match (a.rfind('<'), a.rfind('>')) {
                (Some(s), Some(e)) if s < e => &a[s + 1..e],
                _ => a,
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut subject = String::new();
        let mut xs = Vec::new();
        for l in message.lines() {
            if l.is_empty() {
                break;
            }
            if let Some(s) = l.strip_prefix("Subject: ") {
                subject = s.to_string();
            }
            if l.to_ascii_lowercase().starts_with("x-roundup-")
                && !l.to_ascii_lowercase().starts_with("x-roundup-version")
            {
                xs.push(l.to_ascii_lowercase());
            }
        }
        xs.sort();
        out.push((to, subject, xs));
    }
    out
}

#[test]
fn mail_gives_the_same_tracker_state_as_roundup26() {
    let Some(r) = Roundup26::find() else {
        return;
    };
    let work = r.workdir();
    let reference = work.path().join("reference");
    let mine = work.path().join("ours");
    for home in [&reference, &mine] {
        support::roundup26_home(&r, home);
        set_option(home, "logging", "level", "INFO");
        // HTML-only mail is converted (Roundup's dehtml), so that the
        // converted text is compared too
        set_option(home, "mailgw", "convert_htmltotext", "dehtml");
        let schema = home.join("schema.py");
        let text = std::fs::read_to_string(&schema).unwrap();
        let on = text.replace(
            "#db.security.addPermissionToRole('Anonymous', 'Email Access')",
            "db.security.addPermissionToRole('Anonymous', 'Email Access')",
        );
        assert_ne!(
            on, text,
            "classic schema.py no longer has the Email Access line"
        );
        std::fs::write(&schema, on).unwrap();
        r.admin(&["-i", home.to_str().unwrap(), "initialise", "secret"]);
        r.admin(&[
            "-i",
            home.to_str().unwrap(),
            "create",
            "user",
            "username=alice",
            "address=alice@example.com",
            "realname=Alice A",
            "roles=User",
        ]);
    }
    let mut fed = 0;
    for (name, raw) in corpus() {
        run_theirs(&r, &reference, &raw);
        let log = run_ours(&mine, &raw);
        assert!(!log.is_empty() || name.is_empty(), "{name}: no log line");
        fed += 1;
    }
    for (name, raw) in scenarios() {
        run_theirs(&r, &reference, raw.as_bytes());
        let log = run_ours(&mine, raw.as_bytes());
        assert!(!log.contains("panicked"), "{name}: {log}");
        fed += 1;
    }
    assert!(fed >= 25, "only {fed} messages fed");

    let want = export(&r, &reference, &work.path().join("export-reference"));
    let got = export(&r, &mine, &work.path().join("export-ours"));
    let names = |v: &[(String, String)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&got), names(&want), "exported files");
    for ((n, g), (_, w)) in got.iter().zip(want.iter()) {
        assert_eq!(g, w, "{n} differs from Roundup 2.6's");
    }
    // Outright facts, so that two equal wrong answers cannot pass.
    let issues = &want.iter().find(|(n, _)| n == "issue.csv").unwrap().1;
    assert!(issues.contains("Toner is empty"), "{issues}");
    assert!(
        !issues.contains("looping") && !issues.contains("'bulk'"),
        "{issues}"
    );

    let mails_want = sent(&reference.join("mail.out"));
    let mails_got = sent(&mine.join("mail.out"));
    assert!(
        mails_want
            .iter()
            .any(|(_, s, _)| s.contains("Failed issue tracker submission")),
        "Roundup bounced nothing: {mails_want:?}"
    );
    assert_eq!(mails_got, mails_want, "replies and notifications");
}
