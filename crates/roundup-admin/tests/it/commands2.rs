//! The whole-database commands, the interactive shell, install/initialise
//! prompts and the extra templates, run through the binary.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn run(home: Option<&Path>, args: &[&str], stdin: &str, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundup-admin"));
    if let Some(h) = home {
        cmd.arg("-i").arg(h);
    }
    cmd.args(args)
        .env_remove("TRACKER_HOME")
        .env_remove("ROUNDUP_LOGIN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn roundup-admin");
    if let Some(mut i) = child.stdin.take() {
        let _ = i.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("run roundup-admin");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{args:?} panicked: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = run(Some(home), args, "", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "roundup-admin {args:?} failed ({:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn fails(home: &Path, args: &[&str]) -> String {
    let out = run(Some(home), args, "", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should fail:\n{stdout}"
    );
    stdout
}

fn tracker(template: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let home = tmp.path().join("tracker");
    ok(
        &home,
        &["install", template, "sqlite", "mail_domain=example.com"],
    );
    ok(&home, &["initialise", "secret"]);
    (tmp, home)
}

/// A new classic tracker at `<dir>/<name>`, initialised (admin password
/// "x"), to import into.
fn empty_tracker(dir: &Path, name: &str) -> PathBuf {
    let home = dir.join(name);
    ok(
        &home,
        &["install", "classic", "sqlite", "mail_domain=example.com"],
    );
    ok(&home, &["initialise", "x"]);
    home
}

/// A classic tracker with users, issues, a message with content, a
/// retired issue and a retired keyword sharing its name with an active one.
fn filled() -> (tempfile::TempDir, PathBuf) {
    let (tmp, home) = tracker("classic");
    ok(
        &home,
        &[
            "create",
            "user",
            "username=demo",
            "roles=User",
            "realname=Dé Mo: x",
            "password=pw",
        ],
    );
    ok(
        &home,
        &[
            "create",
            "msg",
            "content=hello: \"world\"\nsecond line",
            "author=1",
        ],
    );
    ok(
        &home,
        &[
            "create",
            "issue",
            "title=first ü",
            "messages=1",
            "nosy=1,3",
            "priority=bug",
        ],
    );
    ok(&home, &["set", "issue1", "status=chatting"]);
    ok(&home, &["create", "issue", "title=second"]);
    ok(&home, &["retire", "issue2"]);
    ok(&home, &["create", "keyword", "name=k1"]);
    ok(&home, &["retire", "keyword1"]);
    ok(&home, &["create", "keyword", "name=k1"]);
    (tmp, home)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

// --------------------------------------------------------------------------
// export / import

#[test]
fn export_writes_roundups_format() {
    let (tmp, home) = filled();
    let dir = tmp.path().join("exp");
    assert_eq!(ok(&home, &["export", dir.to_str().unwrap()]), "");
    let issue = read(&dir.join("issue.csv"));
    let mut lines = issue.lines();
    assert_eq!(
        lines.next(),
        Some("activity:actor:assignedto:creation:creator:files:id:keyword:messages:nosy:priority:status:superseder:title:is retired")
    );
    let row1 = lines.next().expect("issue1 row");
    assert!(row1.starts_with('('), "{row1}");
    assert!(
        row1.ends_with(":['1']:['1', '3']:'3':'3':[]:'first \\xc3\\xbc':False"),
        "{row1}"
    );
    assert!(lines
        .next()
        .expect("issue2 row")
        .ends_with(":'second':True"));
    // keys sorted, the retired item before the active one
    let kw = read(&dir.join("keyword.csv"));
    let kw: Vec<&str> = kw.lines().collect();
    assert!(
        kw[1].ends_with(":'1':'k1':True") && kw[2].ends_with(":'2':'k1':False"),
        "{kw:?}"
    );
    // journals: create then set with the old value
    let j = read(&dir.join("issue-journals.csv"));
    assert!(
        j.lines()
            .any(|l| l.starts_with("'1':(") && l.ends_with(":'1':'set':\"{'status': '1'}\"")),
        "{j}"
    );
    // user row: quoted because of the colon, password as stored text
    let u = read(&dir.join("user.csv"));
    assert!(u.contains("\"'D\\xc3\\xa9 Mo: x'\""), "{u}");
    assert!(u.contains("'{PBKDF2S5}"), "{u}");
    assert_eq!(
        read(&dir.join("msg-files/0/msg1")),
        "hello: \"world\"\nsecond line"
    );
}

#[test]
fn export_import_round_trip_keeps_ids_dates_journals_and_retired_state() {
    let (tmp, home) = filled();
    let e1 = tmp.path().join("e1");
    ok(&home, &["export", e1.to_str().unwrap()]);
    let other = empty_tracker(tmp.path(), "other");
    let out = ok(&other, &["import", e1.to_str().unwrap()]);
    assert!(out.contains("\nsetting issue 3\n"), "{out}");
    assert!(out.contains("\nsetting user 4\n"), "{out}");
    let e2 = tmp.path().join("e2");
    ok(&other, &["export", e2.to_str().unwrap()]);
    for entry in std::fs::read_dir(&e1).unwrap() {
        let name = entry.unwrap().file_name();
        let a = e1.join(&name);
        if a.is_file() {
            assert_eq!(
                read(&a),
                read(&e2.join(&name)),
                "{name:?} differs after a round trip"
            );
        }
    }
    assert_eq!(
        read(&e2.join("msg-files/0/msg1")),
        read(&e1.join("msg-files/0/msg1"))
    );
    assert_eq!(ok(&other, &["get", "title", "issue1"]), "first ü\n");
    assert_eq!(
        ok(&other, &["-P", "show_retired=only", "-c", "list", "issue"]),
        "2\n"
    );
    assert_eq!(
        ok(&home, &["history", "issue1"]),
        ok(&other, &["history", "issue1"])
    );
    // new items continue after the imported ids
    assert_eq!(ok(&other, &["create", "issue", "title=next"]), "3\n");
    assert_eq!(ok(&other, &["create", "keyword", "name=k2"]), "3\n");
}

#[test]
fn export_class_selection_and_exporttables() {
    let (tmp, home) = filled();
    let only = tmp.path().join("only");
    ok(&home, &["export", "issue,user", only.to_str().unwrap()]);
    let mut names: Vec<String> = std::fs::read_dir(&only)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "issue-journals.csv",
            "issue.csv",
            "user-journals.csv",
            "user.csv"
        ]
    );
    let without = tmp.path().join("without");
    ok(
        &home,
        &["export", "-msg,file,query", without.to_str().unwrap()],
    );
    assert!(!without.join("msg.csv").exists() && without.join("status.csv").exists());
    let tables = tmp.path().join("tables");
    let out = ok(&home, &["exporttables", tables.to_str().unwrap()]);
    assert_eq!(
        out,
        "Exporting msg WITHOUT the files\r\nExporting file WITHOUT the files\r\n"
    );
    assert!(tables.join("msg.csv").exists() && !tables.join("msg-files").exists());
    let out = fails(&home, &["export", "issue,nosuch", tables.to_str().unwrap()]);
    assert!(out.contains("Error: no such class \"nosuch\""), "{out}");
    let out = fails(&home, &["export"]);
    assert!(
        out.contains("Error: Not enough arguments supplied"),
        "{out}"
    );
}

#[test]
fn importtables_takes_no_file_contents() {
    let (tmp, home) = filled();
    let tables = tmp.path().join("tables");
    ok(&home, &["exporttables", tables.to_str().unwrap()]);
    let other = empty_tracker(tmp.path(), "other");
    ok(&other, &["importtables", tables.to_str().unwrap()]);
    assert_eq!(ok(&other, &["get", "title", "issue1"]), "first ü\n");
    // the import without files needs no msg-files directory
    let out = fails(&other, &["import", tables.to_str().unwrap()]);
    assert!(
        out.contains("msg.csv, line 2: cannot read the content of msg1"),
        "{out}"
    );
}

#[test]
fn a_bad_row_aborts_the_whole_import_and_names_file_and_line() {
    let (tmp, home) = filled();
    let e1 = tmp.path().join("e1");
    ok(&home, &["export", e1.to_str().unwrap()]);
    // break the second issue row
    let path = e1.join("issue.csv");
    let text = read(&path);
    let broken: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 2 {
                l.replace("'second'", "'unterminated")
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, broken.join("\n") + "\n").unwrap();
    let other = empty_tracker(tmp.path(), "other");
    let before_users = ok(&other, &["list", "user"]);
    let out = fails(&other, &["import", e1.to_str().unwrap()]);
    assert!(
        out.starts_with("Error: import stopped, nothing was imported: "),
        "{out}"
    );
    assert!(out.contains("issue.csv, line 3: column title: "), "{out}");
    assert_eq!(out.lines().count(), 1, "one clear line: {out}");
    // nothing changed: no issues, no messages or their files, same users
    assert_eq!(
        ok(&other, &["-P", "show_retired=both", "list", "issue"]),
        ""
    );
    assert_eq!(ok(&other, &["-P", "show_retired=both", "list", "msg"]), "");
    assert_eq!(ok(&other, &["list", "user"]), before_users);
    assert!(!other.join("db/files/msg/0/msg1").exists());
    assert_eq!(ok(&other, &["create", "issue", "title=x"]), "1\n");

    // other kinds of damage
    let cases: [(&str, &str, &str); 4] = [
        (
            "status.csv",
            "name",
            "line 1: class status has no property \"nosuchprop\"",
        ),
        (
            "keyword.csv",
            "'k1':True",
            "line 2: 6 fields where the header has 7",
        ),
        (
            "user-journals.csv",
            "'create'",
            "user-journals.csv, line 1: action: ",
        ),
        (
            "priority.csv",
            "'1':'critical'",
            "priority.csv, line 3: column id: not a Python literal",
        ),
    ];
    for (file, needle, want) in cases {
        let dir = tmp.path().join(format!("bad-{file}"));
        ok(&home, &["export", dir.to_str().unwrap()]);
        let p = dir.join(file);
        let text = read(&p);
        let replacement = match file {
            "status.csv" => "nosuchprop",
            "keyword.csv" => "True",
            "user-journals.csv" => "create",
            _ => "'1:'critical'",
        };
        std::fs::write(&p, text.replacen(needle, replacement, 1)).unwrap();
        let out = fails(&other, &["import", dir.to_str().unwrap()]);
        assert!(out.contains(want), "{file}: {out}");
    }
    assert_eq!(ok(&other, &["-c", "list", "issue"]), "1\n");
    let out = fails(&other, &["import", "/nonexistent/dir"]);
    assert!(
        out.contains("cannot read directory /nonexistent/dir"),
        "{out}"
    );
}

/// The full-text index of a tracker as (class, item, property, word) rows.
fn index_rows(home: &Path) -> Vec<(String, String, String, String)> {
    let conn = rusqlite::Connection::open(home.join("db/db")).expect("open db");
    let mut stmt = conn
        .prepare(
            "select t._class, t._itemid, t._prop, w._word from __words w, __textids t \
             where w._textid = t._textid order by 1, 2, 3, 4",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("rows");
    rows
}

/// Names of the indexes on `__words`.
fn word_indexes(home: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(home.join("db/db")).expect("open db");
    let mut stmt = conn
        .prepare("select name from sqlite_master where type='index' and tbl_name='__words' order by name")
        .expect("prepare");
    let names = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<Vec<String>, _>>()
        .expect("rows");
    names
}

fn search(home: &Path, word: &str) -> Vec<String> {
    let tracker = roundup_tracker::Tracker::open(home).expect("open tracker");
    let db = tracker.open_db("1").expect("open db");
    db.search_text(&[word.to_string()], None)
        .expect("search")
        .into_iter()
        .map(|h| format!("{}{}.{}", h.class, h.id, h.prop))
        .collect()
}

#[test]
fn import_builds_the_full_text_index_that_item_writes_build() {
    let (tmp, home) = filled();
    let e1 = tmp.path().join("e1");
    ok(&home, &["export", e1.to_str().unwrap()]);
    let source = index_rows(&home);
    assert!(
        source.contains(&("msg".into(), "1".into(), "content".into(), "SECOND".into())),
        "{source:?}"
    );

    // into an empty index (the bulk load rebuilds its indexes)
    let other = empty_tracker(tmp.path(), "other");
    assert!(index_rows(&other).is_empty());
    ok(&other, &["import", e1.to_str().unwrap()]);
    assert_eq!(index_rows(&other), source);
    assert_eq!(word_indexes(&other), ["words_by_id", "words_word_ids"]);
    // written through a rollback journal, left in write-ahead logging
    let mode: String = rusqlite::Connection::open(other.join("db/db"))
        .unwrap()
        .query_row("pragma journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(!other.join("db/db-journal").exists());
    assert_eq!(search(&other, "second"), ["issue2.title", "msg1.content"]);
    assert_eq!(search(&other, "WORLD"), ["msg1.content"]);
    assert_eq!(search(&other, "nowhere"), Vec::<String>::new());

    // again over the imported items: their old words give way
    ok(&other, &["import", e1.to_str().unwrap()]);
    assert_eq!(index_rows(&other), source);
    assert_eq!(word_indexes(&other), ["words_by_id", "words_word_ids"]);
    assert_eq!(search(&other, "second"), ["issue2.title", "msg1.content"]);

    // a reindex finds nothing to change
    ok(&other, &["reindex"]);
    assert_eq!(index_rows(&other), source);
    assert_eq!(search(&other, "second"), ["issue2.title", "msg1.content"]);

    // new text ids continue after the imported ones
    ok(&other, &["create", "issue", "title=gamma ray"]);
    assert_eq!(search(&other, "gamma"), ["issue3.title"]);
    assert_eq!(search(&other, "second"), ["issue2.title", "msg1.content"]);
}

#[test]
fn a_failed_import_removes_every_content_file_it_wrote() {
    let (tmp, home) = filled();
    let e1 = tmp.path().join("e1");
    ok(&home, &["export", e1.to_str().unwrap()]);
    // Many more messages, so that the reading thread is well ahead of
    // the database when the database refuses one of them: an id that
    // does not fit the id column.
    let csv = read(&e1.join("msg.csv"));
    let mut lines = csv.lines();
    let header = lines.next().unwrap();
    let row1 = lines.next().unwrap();
    // The columns before the id (dates, links, lists) hold no colon.
    let id_col = header.split(':').position(|c| c == "id").unwrap();
    let fields: Vec<&str> = row1.splitn(id_col + 2, ':').collect();
    assert_eq!(fields[id_col], "'1'", "{row1}");
    let with_id = |n: u64| {
        let mut f = fields.clone();
        let id = format!("'{n}'");
        f[id_col] = &id;
        f.join(":")
    };
    let content = read(&e1.join("msg-files/0/msg1"));
    let mut out = format!("{header}\n{row1}\n");
    let bad_id: u64 = u64::MAX;
    for n in (2..=300u64).chain([bad_id]).chain(301..=1200) {
        out.push_str(&with_id(n));
        out.push('\n');
        let f = e1.join(format!("msg-files/{}/msg{n}", n / 1000));
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, &content).unwrap();
    }
    std::fs::write(e1.join("msg.csv"), out).unwrap();

    let other = empty_tracker(tmp.path(), "other");
    let out = fails(&other, &["import", e1.to_str().unwrap()]);
    assert!(
        out.contains(&format!("msg.csv, line 302: msg{bad_id}: ")),
        "{out}"
    );
    assert_eq!(files_in(&other.join("db/files")).len(), 0);
    assert_eq!(ok(&other, &["-P", "show_retired=both", "list", "msg"]), "");
    assert!(index_rows(&other).is_empty());
    let mode: String = rusqlite::Connection::open(other.join("db/db"))
        .unwrap()
        .query_row("pragma journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        mode, "wal",
        "back to write-ahead logging after the rollback"
    );
    assert!(!other.join("db/db-journal").exists());

    // A row the reading side refuses, while the contents of later rows
    // have been written ahead: none of them stays either.
    let csv = read(&e1.join("msg.csv"));
    let good: Vec<&str> = csv
        .lines()
        .filter(|l| !l.contains(&format!("'{bad_id}'")))
        .collect();
    let mut broken: Vec<String> = good.iter().map(|l| l.to_string()).collect();
    broken[900] = broken[900].replacen("(", "[", 1);
    std::fs::write(e1.join("msg.csv"), broken.join("\n") + "\n").unwrap();
    let out = fails(&other, &["import", e1.to_str().unwrap()]);
    assert!(out.contains("msg.csv, line 901: column "), "{out}");
    assert_eq!(files_in(&other.join("db/files")).len(), 0);

    // A row whose fields do not fit the header: the contents of the rows
    // before it are still handed over, and the error names that row.
    let mut short: Vec<String> = good.iter().map(|l| l.to_string()).collect();
    short[900] = short[900].rsplit_once(':').unwrap().0.to_string();
    std::fs::write(e1.join("msg.csv"), short.join("\n") + "\n").unwrap();
    let out = fails(&other, &["import", e1.to_str().unwrap()]);
    assert!(out.contains("msg.csv, line 901: "), "{out}");
    assert!(!out.contains("out of step"), "{out}");
    assert_eq!(files_in(&other.join("db/files")).len(), 0);

    // without the bad rows it all goes in
    std::fs::write(e1.join("msg.csv"), good.join("\n") + "\n").unwrap();
    ok(&other, &["import", e1.to_str().unwrap()]);
    assert_eq!(files_in(&other.join("db/files/msg")).len(), 1200);
    assert_eq!(read(&other.join("db/files/msg/1/msg1111")), content);
    assert_eq!(search(&other, "world").len(), 1200);
}

/// Every file below `dir` (none when it does not exist).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_in(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Every file below `dir` whose name ends in `.tmp` (content staged for a
/// commit and never moved into place).
fn staged_files(dir: &Path) -> Vec<PathBuf> {
    files_in(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "tmp"))
        .collect()
}

/// An export of `filled()` with 40 messages (each with its own content).
fn export_with_messages(tmp: &Path, home: &Path) -> PathBuf {
    for n in 2..=40 {
        ok(
            home,
            &["create", "msg", &format!("content=message {n}"), "author=1"],
        );
    }
    let dir = tmp.join("export40");
    ok(home, &["export", dir.to_str().unwrap()]);
    dir
}

#[test]
fn content_set_after_an_import_in_the_same_session_is_what_is_committed() {
    let (tmp, home) = filled();
    let e1 = export_with_messages(tmp.path(), &home);
    let other = empty_tracker(tmp.path(), "other");
    let session = format!(
        "import {}\nset msg7 content=changed_after_import\ncommit\n",
        e1.display()
    );
    let out = run(Some(&other), &[], &session, &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        read(&other.join("db/files/msg/0/msg7")),
        "changed_after_import"
    );
    assert_eq!(read(&other.join("db/files/msg/0/msg8")), "message 8");
    assert_eq!(staged_files(&other.join("db/files")), Vec::<PathBuf>::new());
    assert_eq!(
        ok(&other, &["get", "content", "msg7"]).trim_end(),
        "changed_after_import"
    );

    // Undone by a rollback: the imported content stays as imported.
    let session = "set msg9 content=never\nrollback\ncommit\n";
    let out = run(Some(&other), &[], session, &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(read(&other.join("db/files/msg/0/msg9")), "message 9");
    assert_eq!(staged_files(&other.join("db/files")), Vec::<PathBuf>::new());
}

#[test]
fn import_contents_are_right_over_existing_files_out_of_order_and_after_own_writes() {
    let (tmp, home) = filled();
    let e1 = export_with_messages(tmp.path(), &home);
    let other = empty_tracker(tmp.path(), "other");

    // The session's own, uncommitted message 1 is replaced by the
    // export's (the same id).
    let session = format!(
        "create msg content=written_before_the_import author=1\nimport {}\ncommit\n",
        e1.display()
    );
    let out = run(Some(&other), &[], &session, &[]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        read(&other.join("db/files/msg/0/msg1")),
        "hello: \"world\"\nsecond line"
    );
    assert_eq!(read(&other.join("db/files/msg/0/msg40")), "message 40");
    assert_eq!(staged_files(&other.join("db/files")), Vec::<PathBuf>::new());

    // Imported again over the items and files now there, with changed
    // contents: the new ones replace the old.
    for n in [1, 20, 40] {
        std::fs::write(
            e1.join(format!("msg-files/0/msg{n}")),
            format!("second version of {n}"),
        )
        .unwrap();
    }
    ok(&other, &["import", e1.to_str().unwrap()]);
    assert_eq!(
        read(&other.join("db/files/msg/0/msg20")),
        "second version of 20"
    );
    assert_eq!(
        read(&other.join("db/files/msg/0/msg1")),
        "second version of 1"
    );
    assert_eq!(read(&other.join("db/files/msg/0/msg39")), "message 39");
    assert_eq!(staged_files(&other.join("db/files")), Vec::<PathBuf>::new());
    assert_eq!(search(&other, "second").len(), 3 + 1);

    // Rows out of order, one of them twice, into a new tracker.
    let csv = read(&e1.join("msg.csv"));
    let mut lines: Vec<&str> = csv.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    let again = lines[5];
    lines.push(again);
    let mut out = format!("{header}\n");
    for l in &lines {
        out.push_str(l);
        out.push('\n');
    }
    std::fs::write(e1.join("msg.csv"), out).unwrap();
    let third = empty_tracker(tmp.path(), "third");
    ok(&third, &["import", e1.to_str().unwrap()]);
    for n in 2..=40 {
        let want = match n {
            20 | 40 => format!("second version of {n}"),
            _ => format!("message {n}"),
        };
        assert_eq!(read(&third.join(format!("db/files/msg/0/msg{n}"))), want);
    }
    assert_eq!(staged_files(&third.join("db/files")), Vec::<PathBuf>::new());
    let listed = ok(&third, &["-P", "show_retired=both", "list", "msg"]);
    assert_eq!(listed.lines().count(), 40, "{listed}");
}

#[test]
fn a_content_file_that_cannot_be_written_fails_the_import_and_leaves_nothing() {
    use std::os::unix::process::CommandExt;
    let (tmp, home) = filled();
    let e1 = export_with_messages(tmp.path(), &home);
    // One content larger than the file size the import may write (the
    // database files stay far below it).
    const LIMIT: u64 = 4 << 20;
    std::fs::write(e1.join("msg-files/0/msg30"), vec![b'x'; 6 << 20]).unwrap();
    let other = empty_tracker(tmp.path(), "other");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roundup-admin"));
    cmd.arg("-i")
        .arg(&other)
        .arg("import")
        .arg(&e1)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // Writing past the limit then fails with EFBIG instead of
            // killing the process.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: LIMIT as libc::rlim_t,
                rlim_max: LIMIT as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().expect("run roundup-admin import");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let said = format!("{stdout}{stderr}");
    assert!(
        said.contains("msg.csv, line 31: msg30: writing ") && said.contains("msg30"),
        "{said}"
    );
    // Nothing of it stays: no content file, no item, no index entry.
    assert_eq!(files_in(&other.join("db/files")).len(), 0);
    assert_eq!(ok(&other, &["-P", "show_retired=both", "list", "msg"]), "");
    assert!(index_rows(&other).is_empty());
    // Without the limit the same export goes in whole.
    ok(&other, &["import", e1.to_str().unwrap()]);
    assert_eq!(files_in(&other.join("db/files/msg")).len(), 40);
    assert_eq!(
        std::fs::metadata(other.join("db/files/msg/0/msg30"))
            .unwrap()
            .len(),
        6 << 20
    );
}

#[test]
fn import_refuses_classes_the_schema_lacks() {
    let (tmp, home) = tracker("classic");
    let dir = tmp.path().join("odd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("widget.csv"), "id:is retired\n'1':False\n").unwrap();
    let out = fails(&home, &["import", dir.to_str().unwrap()]);
    assert!(out.contains("there is no class \"widget\""), "{out}");
}

// --------------------------------------------------------------------------
// pack, reindex, migrate, perftest, config files, readline

#[test]
fn pack_drops_old_journal_entries_but_not_creations() {
    let (_tmp, home) = filled();
    let before = ok(&home, &["history", "issue1"]);
    assert!(before.contains(" set "), "{before}");
    // nothing is older than a year
    ok(&home, &["pack", "1y"]);
    assert_eq!(ok(&home, &["history", "issue1"]), before);
    // everything is older than tomorrow
    let tomorrow = chrono_free_tomorrow();
    ok(&home, &["pack", &tomorrow]);
    let after = ok(&home, &["history", "issue1"]);
    assert!(
        after.contains(" create issue") && !after.contains(" set "),
        "{after}"
    );
    let out = fails(&home, &["pack", "soon"]);
    assert!(out.contains("Error: \"soon\" is neither a date"), "{out}");
    let out = fails(&home, &["pack"]);
    assert!(out.contains("Not enough arguments supplied"), "{out}");
    let out = fails(&home, &["pack", "1y", "2y"]);
    assert!(out.contains("Not enough arguments supplied"), "{out}");
}

/// Tomorrow as yyyy-mm-dd, from the tracker's own date handling.
fn chrono_free_tomorrow() -> String {
    let d =
        roundup_core::date::Date::now().add(&roundup_core::date::Interval::parse("1d").unwrap());
    format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
}

#[test]
fn reindex_forms_and_errors() {
    let (_tmp, home) = filled();
    assert_eq!(ok(&home, &["reindex"]), "");
    assert_eq!(ok(&home, &["reindex", "issue", "msg1"]), "");
    assert_eq!(
        ok(&home, &["reindex", "issue:1-4"]),
        "no such item \"issue3\"\n"
    );
    let out = fails(&home, &["reindex", "issue99"]);
    assert!(out.contains("Error: no such item \"issue99\""), "{out}");
    let out = fails(&home, &["reindex", "nosuch"]);
    assert!(out.contains("Error: no such class \"nosuch\""), "{out}");
    // the index answers searches after a reindex
    let tracker = roundup_tracker::Tracker::open(&home).unwrap();
    let db = tracker.open_db("1").unwrap();
    let hits = db.search_text(&["second".to_string()], None).unwrap();
    assert!(
        hits.iter().any(|h| h.class == "msg" && h.id == "1"),
        "{hits:?}"
    );
}

#[test]
fn migrate_reports_the_schema_version() {
    let (_tmp, home) = tracker("classic");
    assert_eq!(
        ok(&home, &["migrate"]),
        "No migration action required. At schema version 8.\n"
    );
    // Pretend the database was written by an older Roundup (layout 7).
    let db = home.join("db/db");
    let script = format!(
        "import sqlite3\nc=sqlite3.connect({:?})\nt=c.execute('select schema from schema').fetchone()[0]\nc.execute('update schema set schema=?', (t.replace(\"'version': 8\", \"'version': 7\"),))\nc.commit()\n",
        db.display().to_string()
    );
    match Command::new("python3").arg("-c").arg(&script).status() {
        Ok(status) => assert!(status.success(), "python3 could not edit the schema table"),
        Err(e) => {
            return roundup_testkit::missing_because(&roundup_testkit::PYTHON3, &e.to_string())
        }
    }
    assert_eq!(
        ok(&home, &["migrate"]),
        "Tracker updated to schema version 8.\n"
    );
    assert_eq!(
        ok(&home, &["migrate"]),
        "No migration action required. At schema version 8.\n"
    );
}

#[test]
fn perftest_times_password_hashing() {
    let (_tmp, home) = tracker("classic");
    let out = ok(&home, &["perftest", "password", "rounds=1,000"]);
    assert!(
        out.starts_with("Hash time: ")
            && out.ends_with(" seconds, scheme: PBKDF2S5, rounds: 1000\n"),
        "{out}"
    );
    let out = ok(&home, &["perftest", "rounds=2.000", "scheme=PBKDF2"]);
    assert!(out.ends_with("scheme: PBKDF2, rounds: 2000\n"), "{out}");
    let out = ok(&home, &["perftest", "scheme=SSHA", "rounds=1000"]);
    assert!(
        out.ends_with("scheme: SSHA, rounds: scheme does not support rounds.\n"),
        "{out}"
    );
    assert_eq!(
        ok(&home, &["perftest", "rounds=999"]),
        "Invalid 'rounds'. Must be larger than 999.\n"
    );
    assert_eq!(
        ok(&home, &["perftest", "rounds=many"]),
        "Invalid 'rounds'. It must be an integer not: many\n"
    );
    let out = ok(&home, &["perftest", "scheme="]);
    assert!(
        out.starts_with("Supported schemes (default is first, case sensitive):\n   PBKDF2S5, "),
        "{out}"
    );
    let out = ok(&home, &["perftest", "scheme=ROT13", "rounds=1000"]);
    assert!(
        out.starts_with("Unknown encryption scheme: 'ROT13'\nSupported schemes"),
        "{out}"
    );
    let out = fails(&home, &["perftest", "speed"]);
    assert!(out.contains("unknown perftest mode \"speed\""), "{out}");
}

#[test]
fn genconfig_and_updateconfig() {
    let (tmp, home) = tracker("classic");
    let fresh = tmp.path().join("fresh.ini");
    let out = run(None, &["genconfig", fresh.to_str().unwrap()], "", &[]);
    assert_eq!(out.status.code(), Some(0));
    let text = read(&fresh);
    for needle in [
        "[main]",
        "[tracker]",
        "[rdbms]",
        "[mail]",
        "# Default: ",
        "password_pbkdf2_default_rounds",
    ] {
        assert!(text.contains(needle), "genconfig output lacks {needle}");
    }
    // updateconfig keeps the admin's settings and raises the old default rounds
    let ini = home.join("config.ini");
    let cfg = read(&ini)
        .replace(
            "name = Roundup issue tracker",
            "name = Our Very Own Tracker",
        )
        .replace(
            "password_pbkdf2_default_rounds = 250000",
            "password_pbkdf2_default_rounds = 10000",
        );
    assert!(
        cfg.contains("Our Very Own Tracker") && cfg.contains("rounds = 10000"),
        "test setup"
    );
    std::fs::write(&ini, cfg).unwrap();
    let updated = tmp.path().join("updated.ini");
    let out = ok(&home, &["updateconfig", updated.to_str().unwrap()]);
    assert!(out.starts_with('\n') && out.contains("10000"), "{out}");
    let text = read(&updated);
    assert!(
        text.contains("name = Our Very Own Tracker"),
        "admin value kept"
    );
    assert!(
        text.contains("mail_domain") || text.contains("domain = example.com"),
        "{text}"
    );
    assert!(
        !text.contains("password_pbkdf2_default_rounds = 10000"),
        "old default raised"
    );
    let out = fails(&home, &["updateconfig"]);
    assert!(out.contains("Not enough arguments supplied"), "{out}");
}

#[test]
fn readline_outside_the_shell() {
    let (_tmp, home) = tracker("classic");
    assert_eq!(ok(&home, &["readline", "vi"]), "Enabled vi mode.\n");
    assert_eq!(ok(&home, &["readline", "emacs"]), "Enabled emacs mode.\n");
    assert_eq!(
        ok(&home, &["readline", "bogus"]),
        "Unknown readline parameter bogus\n"
    );
    let out = fails(&home, &["readline", "Control-o:", "dump-variables"]);
    assert!(
        out.contains("only understands \"set editing-mode vi|emacs\""),
        "{out}"
    );
    assert_eq!(ok(&home, &["readline", "set", "editing-mode", "vi"]), "");
}

// --------------------------------------------------------------------------
// the interactive shell

fn shell(home: &Path, input: &str, user_home: &Path) -> String {
    let out = run(
        Some(home),
        &[],
        input,
        &[("HOME", user_home.to_str().unwrap())],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn shell_runs_commands_and_asks_before_leaving_changes_uncommitted() {
    let (tmp, home) = tracker("classic");
    let uh = tmp.path().join("userhome");
    std::fs::create_dir_all(&uh).unwrap();
    let out = shell(&home, "list status\ncreate keyword name=a\nexit\ny\n", &uh);
    assert!(out.starts_with("Roundup "), "{out}");
    assert!(out.contains("roundup>    1: unread\n"), "{out}");
    assert!(
        out.contains("roundup> 1\nroundup> There are unsaved changes. Commit them (y/N)? "),
        "{out}"
    );
    assert_eq!(ok(&home, &["list", "keyword"]), "   1: a\n");

    // answering no (or nothing) drops the change
    let out = shell(&home, "create keyword name=b\nquit\nn\n", &uh);
    assert!(out.contains("Commit them (y/N)?"), "{out}");
    assert_eq!(ok(&home, &["list", "keyword"]), "   1: a\n");

    // end of input leaves the loop too; with no answer to the question
    // nothing is committed and the exit status says so
    let out = run(
        Some(&home),
        &[],
        "create keyword name=c\n",
        &[("HOME", uh.to_str().unwrap())],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(
            "exit...\nThere are unsaved changes. Commit them (y/N)? \nError: end of input"
        ),
        "{text}"
    );
    assert_eq!(ok(&home, &["list", "keyword"]), "   1: a\n");

    // commit inside the shell: nothing left to ask about. As in Roundup,
    // the ids of the dropped items (2, 3) are not handed out again.
    let out = shell(&home, "create keyword name=d\ncommit\nexit\n", &uh);
    assert!(!out.contains("unsaved"), "{out}");
    assert_eq!(ok(&home, &["-c", "list", "keyword"]), "1,4\n");

    // rollback undoes, and then there is nothing to commit
    let out = shell(
        &home,
        "create keyword name=e\nrollback\nlist keyword\nq\n",
        &uh,
    );
    assert!(!out.contains("unsaved") && !out.contains(": e\n"), "{out}");

    // errors do not end the shell; quoting works
    let out = shell(&home, "get name status99\nset status1 'name=not read'\nget name status1\nlist 'unbalanced\ncommit\n", &uh);
    assert!(out.contains("Error: no such status node \"99\""), "{out}");
    assert!(out.contains("roundup> not read\n"), "{out}");
    assert!(out.contains("Unbalanced quotes"), "{out}");
}

#[test]
fn shell_history_is_saved_and_recalled() {
    let (tmp, home) = tracker("classic");
    let uh = tmp.path().join("userhome");
    std::fs::create_dir_all(&uh).unwrap();
    shell(&home, "list priority\nget name status2\nexit\n", &uh);
    let hist = read(&uh.join(".roundup_admin_history"));
    assert!(
        hist.contains("list priority") && hist.contains("get name status2"),
        "{hist}"
    );
    // !2 runs the second line of the history again, !1:p only shows it
    let out = shell(&home, "!2\n!1:p\nreadline history\n!99\nexit\n", &uh);
    assert!(out.contains("roundup> deferred\n"), "{out}");
    assert!(out.contains("roundup> list priority\n"), "{out}");
    // as in Roundup, every line entered is kept, "exit" and the
    // "readline history" asking for the list included
    assert!(
        out.contains("history size 5\n  1 list priority\n  2 get name status2\n  3 exit\n  4 get name status2\n  5 readline history\n"),
        "{out}"
    );
    assert!(out.contains("There is no line 99 in the history."), "{out}");
    // history_features=2: nothing saved
    let before = read(&uh.join(".roundup_admin_history"));
    let out = run(
        Some(&home),
        &["-P", "history_features=2"],
        "list status\nexit\n",
        &[("HOME", uh.to_str().unwrap())],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(read(&uh.join(".roundup_admin_history")), before);
    // the init file picks vi mode
    std::fs::write(
        uh.join(".roundup_admin_rlrc"),
        "# mine\nset editing-mode vi\n",
    )
    .unwrap();
    let out = shell(&home, "readline reload\nexit\n", &uh);
    assert!(
        out.contains(&format!(
            "File {} reloaded.",
            uh.join(".roundup_admin_rlrc").display()
        )),
        "{out}"
    );
}

// --------------------------------------------------------------------------
// install and initialise prompts, templates

#[test]
fn install_asks_for_template_and_backend() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("t");
    let out = run(Some(&home), &["install"], "nosuch\ndevel\n\n", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("Templates: classic, devel, jinja2, minimal, responsive\n"),
        "{text}"
    );
    assert!(text.contains("Template to use [classic]: Template to use [classic]: Back ends: sqlite\nBackend to use [sqlite]: "), "{text}");
    assert!(read(&home.join("schema.py")).contains("\"devel\""));
}

#[test]
fn initialise_asks_for_the_password_twice_and_confirms_overwriting() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("t");
    ok(
        &home,
        &["install", "classic", "sqlite", "mail_domain=example.com"],
    );
    // mismatch, then a matching pair
    let out = run(Some(&home), &["initialise"], "one\ntwo\nsame\nsame\n", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("Admin Password: ").count(), 2, "{text}");
    let tracker = roundup_tracker::Tracker::open(&home).unwrap();
    let db = tracker.open_db("1").unwrap();
    match db.get("user", "1", "password").unwrap() {
        Some(roundup_core::Value::Password(p)) => assert!(p.verify("same")),
        other => panic!("{other:?}"),
    }
    drop(db);
    ok(&home, &["create", "keyword", "name=keep"]);
    // re-initialising asks; "n" keeps the data
    let out = run(Some(&home), &["initialise", "pw"], "n\n", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Y/N: "));
    assert_eq!(ok(&home, &["list", "keyword"]), "   1: keep\n");
    let out = run(Some(&home), &["initialise", "pw"], "y\n", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(ok(&home, &["list", "keyword"]), "");
}

#[test]
fn every_template_installs_and_initialises() {
    let out = run(None, &["templates"], "", &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    for name in ["classic", "devel", "jinja2", "minimal", "responsive"] {
        assert!(text.contains(&format!("\nName: {name}\n")), "{text}");
    }
    for (template, users, class) in [
        (
            "devel",
            "   1: admin\n   2: anonymous\n   3: user\n   4: developer\n   5: coordinator\n",
            "bug",
        ),
        (
            "responsive",
            "   1: admin\n   2: anonymous\n   3: user\n   4: developer\n   5: coordinator\n",
            "task",
        ),
        (
            "jinja2",
            "   1: admin\n   2: anonymous\n   3: testuser\n",
            "issue",
        ),
    ] {
        let (_tmp, home) = tracker(template);
        assert_eq!(ok(&home, &["list", "user"]), users, "{template}");
        assert_eq!(
            ok(&home, &["create", class, "title=works"]),
            "1\n",
            "{template}"
        );
    }
    let (_tmp, home) = tracker("devel");
    assert_eq!(
        ok(&home, &["list", "status"]),
        "   1: new\n   2: open\n   3: closed\n   4: pending\n"
    );
    assert_eq!(
        ok(&home, &["get", "description", "status4"]),
        "user feedback required\n"
    );
    assert_eq!(
        ok(&home, &["-c", "list", "resolution"]),
        "1,2,3,4,5,6,7,8,9,10,11\n"
    );
    // devel's file auditor turns text/html uploads into text/plain
    ok(
        &home,
        &[
            "create",
            "file",
            "name=x.html",
            "type=text/html",
            "content=<b>hi</b>",
        ],
    );
    assert_eq!(ok(&home, &["get", "type", "file1"]), "text/plain\n");
    let out = ok(&home, &["security", "Coordinator"]);
    assert!(
        out.contains("(Web Roles)") && out.contains("(Create for \"milestone\" only)"),
        "{out}"
    );
    let (_tmp, home) = tracker("jinja2");
    assert!(read(&home.join("config.ini")).contains("template_engine = jinja2"));
}

/// The shell on a terminal (a pty made by util-linux `script`): rustyline
/// edits the lines and the history file is written in its format.
#[test]
fn shell_on_a_pty_uses_the_line_editor() {
    if !Path::new("/usr/bin/script").exists() {
        return roundup_testkit::missing(&roundup_testkit::SCRIPT);
    }
    let (tmp, home) = tracker("classic");
    let uh = tmp.path().join("userhome");
    std::fs::create_dir_all(&uh).unwrap();
    let line = format!(
        "{} -i {}",
        env!("CARGO_BIN_EXE_roundup-admin"),
        home.display()
    );
    let mut child = Command::new("/usr/bin/script")
        .args(["-qfc", &line, "/dev/null"])
        .env("HOME", &uh)
        .env("TERM", "xterm")
        .env_remove("TRACKER_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut input = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
    let reader = {
        let seen = seen.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    // Wait until `what` has been shown `times` times: a person types
    // after seeing the prompt (what is typed earlier, the line editor
    // may drop when it takes over the terminal).
    let wait_for = |what: &str, times: usize| {
        let start = std::time::Instant::now();
        loop {
            let text = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
            if text.matches(what).count() >= times {
                return;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(120),
                "no {what:?} (x{times}) in:\n{text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    for (i, l) in ["list priority", "create keyword name=typed", "exit"]
        .iter()
        .enumerate()
    {
        wait_for("roundup> ", i + 1);
        input.write_all(format!("{l}\n").as_bytes()).unwrap();
        input.flush().unwrap();
    }
    wait_for("Commit them (y/N)? ", 1);
    input.write_all(b"y\n").unwrap();
    input.flush().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(input);
    let status = child.wait().expect("script");
    reader.join().expect("reader");
    let out = std::process::Output {
        status,
        stdout: seen.lock().unwrap().clone(),
        stderr: Vec::new(),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Readline enabled using rustyline."), "{text}");
    assert!(text.contains("1: critical"), "{text}");
    assert!(
        text.contains("There are unsaved changes. Commit them (y/N)? "),
        "{text}"
    );
    assert_eq!(ok(&home, &["list", "keyword"]), "   1: typed\n");
    let hist = read(&uh.join(".roundup_admin_history"));
    assert!(
        hist.contains("list priority\ncreate keyword name=typed\n"),
        "{hist}"
    );
}

#[test]
fn install_without_a_home_asks_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("asked");
    let input = format!("{}\nclassic\nsqlite\n", home.display());
    let out = run(None, &["install"], &input, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("Enter tracker home: "), "{text}");
    assert!(home.join("config.ini").is_file());
}

#[test]
fn user_auditor_checks_time_zones() {
    let (_tmp, home) = tracker("devel");
    assert_eq!(
        ok(
            &home,
            &["create", "user", "username=tz1", "timezone=Europe/Paris"]
        ),
        "6\n"
    );
    let out = fails(
        &home,
        &["create", "user", "username=tz2", "timezone=Mars/Olympus"],
    );
    assert!(
        out.contains("\"Mars/Olympus\" is not a known time zone"),
        "{out}"
    );
    assert_eq!(
        ok(&home, &["create", "user", "username=tz3", "timezone=-5"]),
        "7\n"
    );
}
