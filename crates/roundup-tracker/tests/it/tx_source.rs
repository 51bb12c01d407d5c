//! `db.tx_Source` as tracker code sees it: the core connection's
//! transaction source, read (and set) by Python detectors, given by
//! `initialise_from`, and reset when a pooled connection goes back to
//! the pool. (Each front end's own value is compared with Roundup 2.6's
//! in roundup-mailgw's `tests/tx_source.rs` and `tests/pgp.rs`.)

use indexmap::IndexMap;
use roundup_core::{TxSource, Value};
use roundup_tracker::serving::Served;
use roundup_tracker::Tracker;

/// A classic home whose detector records `repr(db.tx_Source)` for each
/// issue and user created or changed, in `<home>/sources.log`; an issue
/// titled `switch` makes its auditor say the change came from REST, one
/// titled `nonsense` gives it a source Roundup does not have.
fn home(dir: &std::path::Path) -> std::path::PathBuf {
    let home = crate::classic_home(dir);
    let log = home.join("sources.log");
    std::fs::write(
        home.join("detectors").join("sources.py"),
        format!(
            r#"LOG = {log:?}

def record(db, cl, nodeid, values):
    with open(LOG, 'a') as f:
        f.write('%s %r\n' % (cl.classname, db.tx_Source))

def switch(db, cl, nodeid, newvalues):
    if newvalues.get('title') == 'switch':
        db.tx_Source = 'rest'
    elif newvalues.get('title') == 'nonsense':
        db.tx_Source = 'carrier-pigeon'

def init(db):
    db.issue.audit('create', switch)
    db.issue.react('create', record)
    db.issue.react('set', record)
    db.user.react('create', record)
"#,
            log = log.to_str().unwrap()
        ),
    )
    .unwrap();
    home
}

fn recorded(home: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(home.join("sources.log")).unwrap_or_default();
    std::fs::remove_file(home.join("sources.log")).ok();
    text.lines().map(str::to_string).collect()
}

fn title(t: &str) -> IndexMap<String, Option<Value>> {
    let mut v = IndexMap::new();
    v.insert("title".to_string(), Some(Value::String(t.into())));
    v
}

#[test]
fn detectors_read_the_connections_source_and_the_pool_resets_it() {
    let dir = tempfile::tempdir().unwrap();
    let home = home(dir.path());
    let tracker = Tracker::open(&home).unwrap();

    // initialise: none by default, `cli` when roundup-admin says so
    tracker.initialise("admin", "admin@example.com").unwrap();
    assert_eq!(recorded(&home), ["user None", "user None"]);
    tracker
        .initialise_from("admin", "admin@example.com", Some(TxSource::Cli))
        .unwrap();
    assert_eq!(recorded(&home), ["user 'cli'", "user 'cli'"]);

    // a connection says where its changes come from until told otherwise
    let db = tracker.open_db("1").unwrap();
    assert_eq!(db.tx_source(), None);
    db.create("issue", title("plain")).unwrap();
    db.set_tx_source(Some(TxSource::EmailSigOpenpgp));
    db.set("issue", "1", title("signed")).unwrap();
    // a detector may change it, as in Roundup: to a source Roundup has,
    // or to any string of its own
    db.create("issue", title("switch")).unwrap();
    assert_eq!(db.tx_source(), Some(TxSource::Rest));
    db.create("issue", title("nonsense")).unwrap();
    assert_eq!(db.tx_source(), None);
    assert_eq!(db.tx_source_name().as_deref(), Some("carrier-pigeon"));
    db.commit().unwrap();
    assert_eq!(
        recorded(&home),
        [
            "issue None",
            "issue 'email-sig-openpgp'",
            "issue 'rest'",
            "issue 'carrier-pigeon'"
        ]
    );
    drop(db);

    // a pooled connection forgets it when it goes back to the pool
    let served = Served::open("t", &home).unwrap();
    {
        let db = served.pool.get("1").unwrap();
        db.set_tx_source(Some(TxSource::Web));
        db.set("issue", "1", title("from the web")).unwrap();
        db.commit().unwrap();
    }
    assert_eq!(served.pool.idle_count(), 1);
    {
        let db = served.pool.get("1").unwrap();
        assert_eq!(served.pool.idle_count(), 0, "the same connection again");
        assert_eq!(db.tx_source(), None);
        db.set("issue", "1", title("from nowhere")).unwrap();
        db.commit().unwrap();
    }
    assert_eq!(recorded(&home), ["issue 'web'", "issue None"]);
}

#[test]
fn sources_have_roundups_names() {
    let names: Vec<&str> = TxSource::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        ["web", "rest", "xmlrpc", "cli", "email", "email-sig-openpgp"]
    );
    for s in TxSource::ALL {
        assert_eq!(TxSource::from_name(s.as_str()), Some(s));
    }
    assert_eq!(TxSource::from_name("Web"), None);
}
