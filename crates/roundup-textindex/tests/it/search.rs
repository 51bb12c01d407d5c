//! Search through the inverted index: Roundup's semantics (every word in
//! one text, issues found through their messages and titles, retired
//! issues left out), the same hits as Roundup's word tables, and an index
//! that follows commits, rollbacks, savepoints, destroys and `reindex`.

use std::sync::Arc;
use std::time::Duration;

use roundup_core::backend::Backend;
use roundup_core::date::Timezone;
use roundup_core::detectors::Detectors;
use roundup_core::password::Scheme;
use roundup_core::query_args::full_text_matches;
use roundup_core::schema::{ClassDef, ClassKind, Property, Schema};
use roundup_core::security::Security;
use roundup_core::storage::TextHit;
use roundup_core::{Db, DbOptions, Error, TrackerDef, Value, Values};
use roundup_textindex::{TextEngine, TextIndexedBackend};

struct Fixture {
    _dir: tempfile::TempDir,
    sqlite: Arc<dyn Backend>,
    backend: Arc<TextIndexedBackend>,
    def: Arc<TrackerDef>,
    opts: Arc<DbOptions>,
}

fn schema() -> Schema {
    let mut s = Schema::new();
    let mut user = ClassDef::new(
        "user",
        ClassKind::Plain,
        [("username".to_string(), Property::string())]
            .into_iter()
            .collect(),
    )
    .unwrap();
    user.set_key("username").unwrap();
    s.add_class(user).unwrap();
    s.add_class(
        ClassDef::new(
            "msg",
            ClassKind::File,
            [("author".to_string(), Property::link("user"))]
                .into_iter()
                .collect(),
        )
        .unwrap(),
    )
    .unwrap();
    s.add_class(
        ClassDef::new(
            "file",
            ClassKind::File,
            [("name".to_string(), Property::string())]
                .into_iter()
                .collect(),
        )
        .unwrap(),
    )
    .unwrap();
    s.add_class(ClassDef::new("issue", ClassKind::Issue, Default::default()).unwrap())
        .unwrap();
    s.finish().unwrap();
    s
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db_dir = dir.path().join("db");
        let sqlite: Arc<dyn Backend> = Arc::new(roundup_sqlite::SqliteBackend::new(
            &db_dir,
            Duration::from_secs(5),
        ));
        let backend = Arc::new(TextIndexedBackend::new(
            sqlite.clone(),
            db_dir.join("text-index"),
            vec!["printer".to_string()],
        ));
        let def = Arc::new(TrackerDef {
            schema: schema(),
            security: Security::with_builtins(),
            detectors: Detectors::new(),
        });
        let opts = Arc::new(DbOptions {
            db_dir,
            password_scheme: Scheme::Pbkdf2S5,
            password_rounds: 1000,
            timezone: Timezone::Utc,
            indexing: true,
        });
        Fixture {
            _dir: dir,
            sqlite,
            backend,
            def,
            opts,
        }
    }

    /// A connection through the inverted index.
    fn db(&self) -> Db {
        Db::open(
            self.def.clone(),
            self.opts.clone(),
            self.backend.open().unwrap(),
            "1",
        )
        .unwrap()
    }

    /// A connection straight to SQLite (Roundup's word tables only).
    fn native(&self) -> Db {
        Db::open(
            self.def.clone(),
            self.opts.clone(),
            self.sqlite.open().unwrap(),
            "1",
        )
        .unwrap()
    }

    fn engine(&self) -> Arc<TextEngine> {
        self.backend.engine().unwrap()
    }
}

fn vals(list: &[(&str, Value)]) -> Values {
    list.iter()
        .map(|(k, v)| (k.to_string(), Some(v.clone())))
        .collect()
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn msg(db: &Db, text: &str) -> String {
    db.create("msg", vals(&[("content", s(text))])).unwrap()
}

fn issue(db: &Db, title: &str, msgs: &[&str]) -> String {
    let ids = msgs.iter().map(|m| m.to_string()).collect();
    db.create(
        "issue",
        vals(&[("title", s(title)), ("messages", Value::Multilink(ids))]),
    )
    .unwrap()
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

fn index_hits(fx: &Fixture, text: &str) -> Vec<(String, String, String)> {
    fx.engine()
        .search(&words(text), None)
        .unwrap()
        .into_iter()
        .map(|TextHit { class, id, prop }| (class, id, prop))
        .collect()
}

/// The seeded tracker: two messages, three issues.
fn seeded(fx: &Fixture) -> (Db, [String; 5]) {
    let db = fx.db();
    db.create("user", vals(&[("username", s("admin"))]))
        .unwrap();
    let m1 = msg(&db, "The quick brown fox jumps over the lazy dog");
    let m2 = msg(&db, "Lazy afternoons; the dog sleeps");
    let i1 = issue(&db, "Printer jam on floor two", &[&m1]);
    let i2 = issue(&db, "Fox hunting season", &[&m2]);
    let i3 = issue(&db, "Nothing in common", &[]);
    db.commit().unwrap();
    (db, [m1, m2, i1, i2, i3])
}

#[test]
fn all_words_must_be_in_one_text_as_in_roundups_tables() {
    let fx = Fixture::new();
    let (db, [m1, m2, i1, i2, _i3]) = seeded(&fx);
    assert!(!fx.engine().is_stale());
    let hit = |c: &str, id: &str, p: &str| (c.to_string(), id.to_string(), p.to_string());
    // the index itself answers, words case-insensitively, all of them
    assert_eq!(
        index_hits(&fx, "QUICK fox"),
        vec![hit("msg", &m1, "content")]
    );
    assert_eq!(
        index_hits(&fx, "dog lazy"),
        vec![hit("msg", &m1, "content"), hit("msg", &m2, "content")]
    );
    assert_eq!(
        index_hits(&fx, "fox"),
        vec![hit("issue", &i2, "title"), hit("msg", &m1, "content")]
    );
    // words of two different texts match nothing
    assert!(index_hits(&fx, "fox sleeps").is_empty());
    // stopwords and the configured extra ones are ignored, in Roundup's way
    assert!(index_hits(&fx, "the").is_empty());
    assert!(index_hits(&fx, "printer").is_empty());
    assert_eq!(index_hits(&fx, "jam"), vec![hit("issue", &i1, "title")]);
    // limited to classes
    let only_issues = fx
        .engine()
        .search(&words("fox"), Some(&["issue".to_string()]))
        .unwrap();
    assert_eq!(only_issues.len(), 1);
    assert_eq!(only_issues[0].id, i2);

    // the same hits as Roundup's word tables, for every query
    let native = fx.native();
    for q in [
        "fox",
        "lazy dog",
        "quick fox",
        "fox sleeps",
        "jam floor",
        "nothing",
    ] {
        assert_eq!(
            db.search_text(&words(q), None).unwrap(),
            native.search_text(&words(q), None).unwrap(),
            "{q}"
        );
    }

    // issues are found through their messages and their titles
    assert_eq!(
        full_text_matches(&db, "issue", "quick fox")
            .unwrap()
            .to_strings(),
        vec![i1.clone()]
    );
    let fox = full_text_matches(&db, "issue", "fox").unwrap().to_strings();
    assert_eq!(fox, vec![i1.clone(), i2.clone()]);
    // a retired issue is not listed (the index query keeps active items)
    db.retire("issue", &i2).unwrap();
    db.commit().unwrap();
    let listed = |text: &str| {
        let spec = roundup_core::filter::FilterSpec {
            search_matches: Some(Arc::new(full_text_matches(&db, "issue", text).unwrap())),
            ..Default::default()
        };
        db.filter("issue", &spec).unwrap()
    };
    assert_eq!(listed("fox"), vec![i1]);
    assert!(listed("hunting").is_empty());
}

#[test]
fn the_index_follows_commits_rollbacks_and_savepoints() {
    let fx = Fixture::new();
    let (db, [m1, ..]) = seeded(&fx);
    // not committed: not in the index, yet the connection itself finds it
    // (its search falls back to the tables holding its own changes)
    let z = msg(&db, "zebra crossing");
    assert!(index_hits(&fx, "zebra").is_empty());
    assert_eq!(db.search_text(&words("zebra"), None).unwrap().len(), 1);
    db.rollback().unwrap();
    assert!(index_hits(&fx, "zebra").is_empty());
    assert!(db.search_text(&words("zebra"), None).unwrap().is_empty());
    // a failed unit is undone in the index too, the rest commits
    let failed: roundup_core::Result<()> = db.unit(|| {
        msg(&db, "walrus tusk");
        Err(Error::value("refused"))
    });
    assert!(failed.is_err());
    let kept = msg(&db, "zebra again");
    db.commit().unwrap();
    assert!(index_hits(&fx, "walrus").is_empty());
    assert_eq!(index_hits(&fx, "zebra").len(), 1);
    assert_ne!(kept, z);
    // a changed text replaces the old words
    db.set(
        "msg",
        &m1,
        vals(&[("content", s("entirely different words"))]),
    )
    .unwrap();
    db.commit().unwrap();
    assert!(index_hits(&fx, "quick").is_empty());
    assert_eq!(index_hits(&fx, "entirely different").len(), 1);
    // a destroyed item leaves the index
    db.destroy("msg", &kept).unwrap();
    db.commit().unwrap();
    assert!(index_hits(&fx, "zebra").is_empty());
    // another connection sees committed changes at once
    let other = fx.db();
    msg(&other, "okapi");
    other.commit().unwrap();
    assert_eq!(db.search_text(&words("okapi"), None).unwrap().len(), 1);
}

#[test]
fn a_stale_index_falls_back_to_the_tables_until_reindexed() {
    let fx = Fixture::new();
    // a database made without the index ...
    let native = fx.native();
    native
        .create("user", vals(&[("username", s("admin"))]))
        .unwrap();
    let m = msg(&native, "capybara swimming");
    native.commit().unwrap();
    // ... gets an index that knows it is incomplete
    let db = fx.db();
    assert!(fx.engine().is_stale());
    assert!(index_hits(&fx, "capybara").is_empty());
    // yet searches are right, from the word tables
    let hits = db.search_text(&words("capybara"), None).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, m);
    // reindex: emptied, rebuilt in bulk, committed, then trusted again
    let engine = fx.engine();
    rebuild(&fx, &db);
    assert!(!engine.is_stale());
    assert_eq!(index_hits(&fx, "capybara swimming").len(), 1);
    assert_eq!(
        db.search_text(&words("capybara"), None).unwrap(),
        native.search_text(&words("capybara"), None).unwrap()
    );
}

#[test]
fn nuking_the_database_removes_its_index() {
    let fx = Fixture::new();
    let (db, _) = seeded(&fx);
    drop(db);
    let dir = fx.engine().dir().to_path_buf();
    assert!(dir.join("meta.json").is_file());
    fx.backend.nuke().unwrap();
    assert!(!dir.exists());
    // a new database starts with a new, complete, empty index
    let db = fx.db();
    assert!(!fx.engine().is_stale());
    assert!(index_hits(&fx, "fox").is_empty());
    drop(db);
}

#[test]
fn an_idle_writer_lets_another_process_write() {
    let fx = Fixture::new();
    let (db, _) = seeded(&fx);
    // A second engine on the same directory stands for another process
    // (tantivy's writer lock is a file lock). It gets the writer once this
    // process's writer has been idle a moment, instead of timing out.
    let other = TextEngine::open(fx.engine().dir(), false, &[]).unwrap();
    // this process has searched (its reader is loaded) before the other
    // one commits: a search notices the other's commit all the same
    assert!(!index_hits(&fx, "fox").is_empty());
    let start = std::time::Instant::now();
    other.rebuild_started().unwrap();
    other.rebuild_done().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    // the rebuild emptied the index, as seen here too
    assert!(index_hits(&fx, "fox").is_empty());
    // and this process writes again after the other one let go
    msg(&db, "quokka smiles");
    db.commit().unwrap();
    assert!(!fx.engine().is_stale());
    assert_eq!(index_hits(&fx, "quokka").len(), 1);
    assert_eq!(other.search(&words("quokka"), None).unwrap().len(), 1);
}

/// A full rebuild as `roundup-admin reindex` makes it: the index emptied,
/// every text written again in bulk, committed, then trusted again.
fn rebuild(fx: &Fixture, db: &roundup_core::Db) {
    let engine = fx.engine();
    engine.rebuild_started().unwrap();
    db.bulk(|| {
        for c in ["msg", "file", "issue", "user"] {
            for id in db.list(c)? {
                db.reindex_item(c, &id)?;
            }
        }
        Ok(())
    })
    .unwrap();
    db.commit().unwrap();
    engine.rebuild_done().unwrap();
}

#[test]
fn a_rebuild_keeps_titles_and_later_commits_add_to_it() {
    let fx = Fixture::new();
    let (db, [_m1, _m2, i1, _i2, _i3]) = seeded(&fx);
    rebuild(&fx, &db);
    assert_eq!(index_hits(&fx, "jam").len(), 1, "{i1}");
    drop(db);
    let db = fx.db();
    issue(&db, "gamma ray", &[]);
    db.commit().unwrap();
    assert_eq!(index_hits(&fx, "gamma").len(), 1);
    assert_eq!(index_hits(&fx, "jam").len(), 1);
    assert_eq!(index_hits(&fx, "fox").len(), 2);
}

/// Roundup's answer: the word tables' hits, then `find` through the
/// issue's Link and Multilink properties (the storage without the index
/// keeps no owners, so `full_text_matches` takes that way).
fn roundups_matches(fx: &Fixture, text: &str) -> Vec<String> {
    let native = fx.native();
    assert!(native
        .search_text_owners(&words(text), "issue")
        .unwrap()
        .is_none());
    full_text_matches(&native, "issue", text)
        .unwrap()
        .to_strings()
}

/// What the index answers from the owners it keeps with each text, as
/// the active issues an index page lists (owners include retired items,
/// which Roundup's `find` leaves out and its filter then would).
fn owned_matches(fx: &Fixture, db: &Db, text: &str) -> Vec<String> {
    let found = db
        .search_text_owners(&words(text), "issue")
        .unwrap()
        .expect("the index answers with the texts' owners");
    let via_helper = full_text_matches(db, "issue", text).unwrap();
    assert_eq!(found, via_helper, "{text}");
    let active = |ids: Vec<String>| {
        let spec = roundup_core::filter::FilterSpec {
            search_matches: Some(Arc::new(
                roundup_core::filter::IdSet::parse("issue", &ids).unwrap(),
            )),
            ..Default::default()
        };
        fx.native().filter("issue", &spec).unwrap()
    };
    let mine = active(found.to_strings());
    assert_eq!(
        mine,
        active(roundups_matches(fx, text)),
        "{text}: as Roundup finds them"
    );
    mine
}

#[test]
fn texts_know_the_items_that_point_to_them_through_every_change() {
    let fx = Fixture::new();
    let (db, [m1, m2, i1, i2, i3]) = seeded(&fx);
    assert_eq!(owned_matches(&fx, &db, "fox"), vec![i1.clone(), i2.clone()]);
    assert_eq!(
        owned_matches(&fx, &db, "lazy dog"),
        vec![i1.clone(), i2.clone()]
    );
    assert!(owned_matches(&fx, &db, "fox sleeps").is_empty());

    // a message moves from one issue to another (whole-list replacement)
    db.set(
        "issue",
        &i1,
        vals(&[("messages", Value::Multilink(vec![]))]),
    )
    .unwrap();
    db.set(
        "issue",
        &i3,
        vals(&[("messages", Value::Multilink(vec![m1.clone()]))]),
    )
    .unwrap();
    // not yet committed: this connection's own view, from the tables
    assert!(db
        .search_text_owners(&words("quick"), "issue")
        .unwrap()
        .is_none());
    db.commit().unwrap();
    assert_eq!(owned_matches(&fx, &db, "quick"), vec![i3.clone()]);

    // one issue takes both messages; a new message and its issue together
    db.set(
        "issue",
        &i3,
        vals(&[("messages", Value::Multilink(vec![m1.clone(), m2.clone()]))]),
    )
    .unwrap();
    let m4 = msg(&db, "zebra crossing near the fox");
    let i4 = issue(&db, "Road works", &[&m4]);
    db.commit().unwrap();
    assert_eq!(
        owned_matches(&fx, &db, "sleeps"),
        vec![i2.clone(), i3.clone()]
    );
    assert_eq!(
        owned_matches(&fx, &db, "fox"),
        vec![i2.clone(), i3.clone(), i4.clone()]
    );

    // undone changes leave the owners as they were
    let mark = db.mark().unwrap();
    db.set(
        "issue",
        &i4,
        vals(&[("messages", Value::Multilink(vec![m1.clone()]))]),
    )
    .unwrap();
    db.rollback_to(mark).unwrap();
    db.set(
        "issue",
        &i2,
        vals(&[("messages", Value::Multilink(vec![]))]),
    )
    .unwrap();
    db.rollback().unwrap();
    db.commit().unwrap();
    assert_eq!(owned_matches(&fx, &db, "quick"), vec![i3.clone()]);
    assert_eq!(
        owned_matches(&fx, &db, "sleeps"),
        vec![i2.clone(), i3.clone()]
    );

    // a destroyed issue owns nothing any more; a retired one still does
    // (the filter that follows leaves it out, as Roundup's does)
    db.destroy("issue", &i3).unwrap();
    db.retire("issue", &i2).unwrap();
    db.commit().unwrap();
    assert!(owned_matches(&fx, &db, "quick").is_empty());
    assert!(owned_matches(&fx, &db, "sleeps").is_empty());
    let raw = db
        .search_text_owners(&words("sleeps"), "issue")
        .unwrap()
        .unwrap();
    assert_eq!(raw.to_strings(), vec![i2.clone()]);
    db.restore("issue", &i2).unwrap();
    db.commit().unwrap();
    assert_eq!(owned_matches(&fx, &db, "sleeps"), vec![i2.clone()]);

    // a rebuild works the owners out from the tables
    rebuild(&fx, &db);
    assert_eq!(owned_matches(&fx, &db, "fox"), vec![i2.clone(), i4.clone()]);
    assert_eq!(owned_matches(&fx, &db, "sleeps"), vec![i2]);
}

#[test]
fn a_bulk_load_puts_back_texts_it_wrote_before_their_owners_came() {
    // More messages than a bulk load buffers (5,000), all written before
    // the issues that point to them, as an import of classes in
    // alphabetical order writes files before issues.
    let fx = Fixture::new();
    let db = fx.db();
    let (msgs, issues) = db
        .bulk(|| {
            let msgs: Vec<String> = (0..5_200)
                .map(|n| msg(&db, &format!("walrus number{n}")))
                .collect();
            let issues: Vec<String> = msgs
                .chunks(100)
                .map(|chunk| {
                    let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
                    issue(&db, "bulk", &refs)
                })
                .collect();
            Ok((msgs, issues))
        })
        .unwrap();
    db.commit().unwrap();
    assert_eq!(msgs.len(), 5_200);
    assert_eq!(owned_matches(&fx, &db, "walrus"), issues);
    assert_eq!(owned_matches(&fx, &db, "number0"), vec![issues[0].clone()]);
    assert_eq!(
        owned_matches(&fx, &db, "number5199"),
        vec![issues[51].clone()]
    );
}

#[test]
fn a_database_created_new_has_a_complete_index_from_the_start() {
    // as `roundup-admin initialise` does: create the database, then open
    let fx = Fixture::new();
    fx.backend.create().unwrap();
    let db = fx.db();
    assert!(!fx.engine().is_stale(), "a new tracker's index is complete");
    let m = msg(&db, "walrus tusks");
    let i = issue(&db, "Zoo", &[&m]);
    db.commit().unwrap();
    assert_eq!(owned_matches(&fx, &db, "walrus"), vec![i]);
    // a database that exists already keeps its index's state
    fx.backend.create().unwrap();
    assert!(!fx.engine().is_stale());
}

#[test]
fn many_small_commits_leave_few_segments_and_every_text_found() {
    let fx = Fixture::new();
    let (db, [_m1, _m2, i1, ..]) = seeded(&fx);
    // a segment of many texts, as a bulk load leaves them
    for n in 0..2000 {
        msg(&db, &format!("numbat {n}"));
    }
    db.commit().unwrap();
    let big: Vec<String> = fx
        .engine()
        .segments()
        .unwrap()
        .into_iter()
        .filter(|(_, texts, _)| *texts >= 2000)
        .map(|(id, ..)| id)
        .collect();
    assert_eq!(big.len(), 1);
    drop(db);
    // One process per commit, as admin commands and mails make them (a
    // backend of its own: its own index engine and writer, gone with
    // it). Each commit leaves a segment of a text or two.
    let mut issues = Vec::new();
    for n in 0..30 {
        let process = TextIndexedBackend::new(
            fx.sqlite.clone(),
            fx.opts.db_dir.join("text-index"),
            vec!["printer".to_string()],
        );
        let db = Db::open(
            fx.def.clone(),
            fx.opts.clone(),
            process.open().unwrap(),
            "1",
        )
        .unwrap();
        let m = msg(&db, &format!("wombat number{n}"));
        issues.push(issue(&db, &format!("burrow{n}"), &[&m]));
        db.commit().unwrap();
        // a changed title replaces the text of an earlier commit
        db.set(
            "issue",
            &i1,
            vals(&[("title", s(&format!("jam marker{n}")))]),
        )
        .unwrap();
        db.commit().unwrap();
        let segments = process.engine().unwrap().segments().unwrap();
        assert!(segments.len() <= 10, "after commit {n}: {segments:?}");
        // small segments are merged among themselves, never into the big
        // one (tantivy's default merged everything under 10,000 texts at
        // every commit, which processes that exit at once never finished)
        assert!(
            segments.iter().any(|(id, ..)| *id == big[0]),
            "{segments:?}"
        );
    }
    let db = fx.db();
    assert_eq!(index_hits(&fx, "wombat").len(), 30);
    assert_eq!(index_hits(&fx, "numbat").len(), 2000);
    for n in [0, 17, 29] {
        assert_eq!(
            owned_matches(&fx, &db, &format!("wombat number{n}")),
            vec![issues[n].clone()]
        );
        assert_eq!(
            owned_matches(&fx, &db, &format!("burrow{n}")),
            vec![issues[n].clone()]
        );
    }
    // only the last title is found, through every merge
    assert_eq!(owned_matches(&fx, &db, "jam marker29"), vec![i1.clone()]);
    assert!(owned_matches(&fx, &db, "marker28").is_empty());
    assert!(owned_matches(&fx, &db, "marker0").is_empty());
}

/// Words in thousands of texts are intersected as bitmaps of whole
/// posting lists (`dense_postings`), rarer ones by tantivy stepping
/// through them; both give Roundup's answer, with texts a later commit
/// replaced (deleted from the big segment) left out.
#[test]
fn common_words_give_roundups_answer_through_bitmaps() {
    let fx = Fixture::new();
    let db = fx.db();
    db.create("user", vals(&[("username", s("admin"))]))
        .unwrap();
    // one segment of 10,000 messages, four words each from five: each
    // word in about 5,900 texts, any two together in about 3,000
    let vocab = ["alpha", "bravo", "charlie", "delta", "echo"];
    let mut seed: u64 = 7;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as usize % n
    };
    let mut messages = Vec::new();
    for n in 0..10_000 {
        let mut text: Vec<&str> = (0..4).map(|_| vocab[next(5)]).collect();
        if n % 1000 == 0 {
            text.push("zebra");
        }
        messages.push(msg(&db, &text.join(" ")));
    }
    let mut issues = Vec::new();
    for (n, pair) in messages.chunks(2).enumerate() {
        let title = format!("{} report", vocab[next(5)]);
        let mut refs: Vec<&str> = pair.iter().map(String::as_str).collect();
        // every tenth issue shares a message with the one before it: a
        // text with two owners of the class
        if n % 10 == 9 {
            refs.push(&messages[2 * n - 2]);
        }
        issues.push(issue(&db, &title, &refs));
    }
    db.commit().unwrap();
    let queries = [
        "alpha",
        "alpha bravo",
        "charlie delta echo",
        "bravo zebra",
        "report echo",
        "alpha bravo charlie delta echo",
    ];
    let before: Vec<Vec<String>> = queries.iter().map(|q| owned_matches(&fx, &db, q)).collect();
    assert!(before[1].len() > 1000, "{}", before[1].len());
    assert!(!before[3].is_empty() && before[3].len() < 20);
    // Messages move between issues and titles change: their texts are
    // written again with new owners, the old ones deleted in the big
    // segment.
    for n in 0..300 {
        let (a, b) = (next(issues.len()), next(issues.len()));
        let moved = messages[2 * a].clone();
        db.set(
            "issue",
            &issues[b],
            vals(&[("messages", Value::Multilink(vec![moved]))]),
        )
        .unwrap();
        db.set(
            "issue",
            &issues[a],
            vals(&[("title", s(&format!("zebra {n}")))]),
        )
        .unwrap();
    }
    db.commit().unwrap();
    let after: Vec<Vec<String>> = queries.iter().map(|q| owned_matches(&fx, &db, q)).collect();
    assert_ne!(before, after);
    // Searched more than once, the big segment's words and owners are
    // kept decoded; a process keeping none answers the same.
    let kept = fx.engine().cache_stats();
    assert!(
        kept.bytes > 10_000 / 8 && kept.bytes <= kept.budget,
        "{kept:?}"
    );
    assert!(kept.hits > 0 && kept.entries > 1, "{kept:?}");
    let uncached = TextIndexedBackend::new(
        fx.sqlite.clone(),
        fx.opts.db_dir.join("text-index"),
        vec!["printer".to_string()],
    )
    .with_cache_budget(0);
    let plain = Db::open(
        fx.def.clone(),
        fx.opts.clone(),
        uncached.open().unwrap(),
        "1",
    )
    .unwrap();
    for q in queries {
        for _ in 0..2 {
            let found = |db: &Db| db.search_text_owners(&words(q), "issue").unwrap();
            assert_eq!(found(&plain), found(&db), "{q}");
        }
    }
    let none = uncached.engine().unwrap().cache_stats();
    assert_eq!((none.bytes, none.entries, none.hits), (0, 0, 0));
    // A rebuild replaces every segment: what was decoded from the old
    // ones is let go at the next search, and answers stay Roundup's.
    rebuild(&fx, &db);
    assert!(owned_matches(&fx, &db, "nothing").is_empty());
    assert_eq!(fx.engine().cache_stats().entries, 0);
    for (q, was) in queries.iter().zip(&after) {
        assert_eq!(&owned_matches(&fx, &db, q), was, "{q}");
    }
}
