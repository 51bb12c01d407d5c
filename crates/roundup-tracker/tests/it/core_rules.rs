//! The rules the front ends share (roundup-core's `auth`, `authz` and
//! `query_args`), on a real classic tracker with SQLite files.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use roundup_core::auth::{self, CredentialCache, Frontend, LoginError, LoginPolicy, SharedStore};
use roundup_core::authz::Subject;
use roundup_core::password::{Password, Scheme};
use roundup_core::pyrepr::PyValue;
use roundup_core::query_args::IndexArgs;
use roundup_core::ratelimit;
use roundup_core::sessions::{KeyStore, Record, StoreKind};
use roundup_core::{Db, Error, Value, Values};
use roundup_sqlite::SqliteKeyStore;
use roundup_tracker::Tracker;

/// A classic tracker with admin/admin and demo/demo (role User).
fn tracker(dir: &Path) -> Tracker {
    let home = dir.join("t");
    let settings = vec![
        ("mail_domain".to_string(), "example.com".to_string()),
        ("password_pbkdf2_default_rounds".into(), "2000".into()),
    ];
    roundup_tracker::install(&home, "classic", "sqlite", &settings).unwrap();
    let t = Tracker::open(&home).unwrap();
    t.initialise("admin", "admin@example.com").unwrap();
    let db = t.open_db("1").unwrap();
    let mut v = Values::new();
    v.insert("username".into(), Some(Value::String("demo".into())));
    v.insert(
        "password".into(),
        Some(Value::Password(Password::hash(
            "demo",
            Scheme::Pbkdf2S5,
            1000,
        ))),
    );
    v.insert("roles".into(), Some(Value::String("User".into())));
    db.create("user", v).unwrap();
    db.commit().unwrap();
    t
}

fn otk_store(t: &Tracker) -> SharedStore {
    let store = SqliteKeyStore::open(
        &t.home().join("db"),
        StoreKind::Otks,
        Duration::from_secs(5),
    )
    .unwrap();
    Mutex::new(Box::new(store) as Box<dyn KeyStore>)
}

fn set_password(db: &Db, uid: &str, pw: Option<Password>) {
    let mut v = Values::new();
    v.insert("password".into(), pw.map(Value::Password));
    db.set("user", uid, v).unwrap();
    db.commit().unwrap();
}

fn stored(db: &Db, uid: &str) -> Option<Password> {
    match db.get("user", uid, "password").unwrap() {
        Some(Value::Password(p)) => Some(p),
        _ => None,
    }
}

#[test]
fn login_rehashes_old_password_formats_as_configured() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let otks = otk_store(&t);
    let db = t.open_db("1").unwrap();
    let demo = db.lookup("user", "demo").unwrap();
    let policy = LoginPolicy::default();

    // an old SHA hash: verified, then replaced by the configured scheme
    set_password(&db, &demo, Some(Password::hash("demo", Scheme::Sha, 1000)));
    let uid = auth::login(&db, &otks, &policy, Frontend::Web, "demo", "demo", None).unwrap();
    assert_eq!(uid, demo);
    let now = stored(&db, &demo).unwrap();
    assert_eq!(now.scheme(), Scheme::Pbkdf2S5);
    assert_eq!(now.rounds(), Some(2000));
    assert!(now.verify("demo"));

    // fewer rounds than configured (2000): re-hashed as well
    set_password(
        &db,
        &demo,
        Some(Password::hash("demo", Scheme::Pbkdf2S5, 1000)),
    );
    auth::login(&db, &otks, &policy, Frontend::Web, "demo", "demo", None).unwrap();
    assert_eq!(stored(&db, &demo).unwrap().rounds(), Some(2000));
    // a wrong password changes nothing
    set_password(&db, &demo, Some(Password::hash("demo", Scheme::Sha, 1000)));
    assert!(auth::login(&db, &otks, &policy, Frontend::Rest, "demo", "bad", None).is_err());
    assert_eq!(stored(&db, &demo).unwrap().scheme(), Scheme::Sha);

    // with migrate_passwords off the old hash stays
    set_password(&db, &demo, Some(Password::hash("demo", Scheme::Md5, 1000)));
    let keep = LoginPolicy {
        migrate_passwords: false,
        ..LoginPolicy::default()
    };
    auth::login(&db, &otks, &keep, Frontend::Rest, "demo", "demo", None).unwrap();
    assert_eq!(stored(&db, &demo).unwrap().scheme(), Scheme::Md5);
    // and the journal of a migration names the user as the changer
    auth::login(&db, &otks, &policy, Frontend::Rest, "demo", "demo", None).unwrap();
    let history = db.history("user", &demo).unwrap();
    assert_eq!(history.last().map(|e| e.tag.as_str()), Some(demo.as_str()));
    assert_eq!(stored(&db, &demo).unwrap().scheme(), Scheme::Pbkdf2S5);
}

#[test]
fn empty_passwords_follow_login_empty_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let otks = otk_store(&t);
    let db = t.open_db("1").unwrap();
    let demo = db.lookup("user", "demo").unwrap();
    set_password(&db, &demo, None);
    let refuse = LoginPolicy::default();
    let allow = LoginPolicy {
        empty_passwords: true,
        ..LoginPolicy::default()
    };
    assert!(matches!(
        auth::login(&db, &otks, &refuse, Frontend::Web, "demo", "", None),
        Err(LoginError::Invalid)
    ));
    assert_eq!(
        auth::login(&db, &otks, &allow, Frontend::Web, "demo", "", None).unwrap(),
        demo
    );
    // allowed only for the empty password, and only without a stored one
    assert!(matches!(
        auth::login(&db, &otks, &allow, Frontend::Web, "demo", "x", None),
        Err(LoginError::Invalid)
    ));
    assert!(matches!(
        auth::login(&db, &otks, &allow, Frontend::Web, "admin", "", None),
        Err(LoginError::Invalid)
    ));
    // the same rule through the REST/XML-RPC path
    assert_eq!(
        auth::login(&db, &otks, &allow, Frontend::Xmlrpc, "demo", "", None).unwrap(),
        demo
    );
}

#[test]
fn login_needs_web_access_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let otks = otk_store(&t);
    let db = t.open_db("1").unwrap();
    let mut v = Values::new();
    v.insert("username".into(), Some(Value::String("norole".into())));
    v.insert(
        "password".into(),
        Some(Value::Password(Password::hash(
            "pw",
            Scheme::Pbkdf2S5,
            1000,
        ))),
    );
    v.insert("roles".into(), Some(Value::String("".into())));
    db.create("user", v).unwrap();
    db.commit().unwrap();
    let p = LoginPolicy::default();
    let e = auth::login(&db, &otks, &p, Frontend::Web, "norole", "pw", None).unwrap_err();
    assert!(matches!(e, LoginError::NoPermission));
    assert_eq!(e.to_string(), "You do not have permission to login");
    let e = auth::login(&db, &otks, &p, Frontend::Web, "nobody", "pw", None).unwrap_err();
    assert_eq!(e.to_string(), "Invalid login");
    assert_eq!(Frontend::Rest.access_permission(), "Rest Access");
    assert_eq!(Frontend::Xmlrpc.access_permission(), "Xmlrpc Access");
}

/// The limit is kept in the otk database file, so two handles on it (as
/// two server processes have) share it.
#[test]
fn rate_limit_holds_across_store_handles() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let first = otk_store(&t);
    let second = otk_store(&t);
    let db = t.open_db("1").unwrap();
    let p = LoginPolicy {
        api_failed_limit: 2,
        api_failed_interval: 600,
        ..LoginPolicy::default()
    };
    let bad = |store: &SharedStore| auth::login(&db, store, &p, Frontend::Rest, "demo", "x", None);
    assert!(matches!(bad(&first), Err(LoginError::Invalid)));
    assert!(matches!(bad(&second), Err(LoginError::Invalid)));
    let e = bad(&first).unwrap_err();
    let LoginError::TooFast(st) = &e else {
        panic!("expected a rate limit, got {e:?}");
    };
    assert_eq!(st.retry_after, 300);
    assert_eq!(
        e.to_string(),
        "Logins occurring too fast. Please wait: 300 seconds."
    );
    assert!(e
        .headers()
        .contains(&("Retry-After".to_string(), "300".to_string())));
    // locked out: the right password is refused too, through either handle
    for store in [&first, &second] {
        assert!(matches!(
            auth::login(&db, store, &p, Frontend::Rest, "demo", "demo", None),
            Err(LoginError::TooFast(_))
        ));
    }
    // the web form has its own bucket, and other names are not affected
    assert!(auth::login(&db, &second, &p, Frontend::Web, "demo", "demo", None).is_ok());
    assert!(auth::login(&db, &second, &p, Frontend::Rest, "admin", "admin", None).is_ok());
    // unknown names are limited as well
    for _ in 0..2 {
        assert!(matches!(
            auth::login(&db, &first, &p, Frontend::Xmlrpc, "ghost", "x", None),
            Err(LoginError::Invalid)
        ));
    }
    assert!(matches!(
        auth::login(&db, &second, &p, Frontend::Xmlrpc, "ghost", "x", None),
        Err(LoginError::TooFast(_))
    ));

    // the record is Roundup's: key LOGIN-API<name>, a tat text, an expiry
    let mut raw = SqliteKeyStore::open(
        &t.home().join("db"),
        StoreKind::Otks,
        Duration::from_secs(5),
    )
    .unwrap();
    let rec = raw.get_all("LOGIN-APIdemo").unwrap().expect("record");
    let Some(PyValue::Str(tat)) = rec.get("tat") else {
        panic!("no tat in {rec:?}");
    };
    let ahead = ratelimit::tat_from_text(tat).unwrap() - roundup_core::sessions::now();
    assert!((590.0..=600.0).contains(&ahead), "{ahead}");
    assert!(rec.contains_key("__timestamp"));
}

/// A record written by Roundup (Python's naive ISO text) is continued.
#[test]
fn rate_limit_reads_roundup_records() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let otks = otk_store(&t);
    let db = t.open_db("1").unwrap();
    let ahead = ratelimit::tat_to_text(roundup_core::sessions::now() + 59.0);
    let naive = ahead.trim_end_matches("+00:00").to_string();
    let mut rec = Record::new();
    rec.insert("tat".into(), PyValue::Str(naive));
    otks.lock()
        .unwrap()
        .set(
            "LOGIN-demo",
            rec,
            Some(roundup_core::sessions::now() + 120.0),
        )
        .unwrap();
    let p = LoginPolicy::default(); // 3 per minute: full at 40 s ahead
    assert!(matches!(
        auth::login(&db, &otks, &p, Frontend::Web, "demo", "demo", None),
        Err(LoginError::TooFast(_))
    ));
}

#[test]
fn credential_cache_is_per_tracker_and_follows_password_changes() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let otks = otk_store(&t);
    let db = t.open_db("1").unwrap();
    let demo = db.lookup("user", "demo").unwrap();
    let cache = CredentialCache::new();
    let p = LoginPolicy::default();
    let login = |pw: &str| auth::login(&db, &otks, &p, Frontend::Rest, "demo", pw, Some(&cache));
    assert_eq!(login("demo").unwrap(), demo);
    assert_eq!(cache.len(), 1);
    assert_eq!(login("demo").unwrap(), demo);
    assert_eq!(cache.len(), 1);
    set_password(
        &db,
        &demo,
        Some(Password::hash("new", Scheme::Pbkdf2S5, 1000)),
    );
    assert!(matches!(login("demo"), Err(LoginError::Invalid)));
    assert_eq!(login("new").unwrap(), demo);
    // another tracker's cache knows nothing of these
    assert!(CredentialCache::new().is_empty());
}

/// A cached credential spares reading the rate limit for a second; a
/// failure in the same process drops the name's entries at once, one in
/// another process (another store handle) shows within that second.
#[test]
fn credential_cache_and_lockouts() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let here = otk_store(&t);
    let elsewhere = otk_store(&t);
    let db = t.open_db("1").unwrap();
    let p = LoginPolicy {
        api_failed_limit: 1,
        api_failed_interval: 600,
        ..LoginPolicy::default()
    };
    let cache = CredentialCache::new();
    let login = |store: &SharedStore, pw: &str, cache: Option<&CredentialCache>| {
        auth::login(&db, store, &p, Frontend::Rest, "demo", pw, cache)
    };
    assert!(login(&here, "demo", Some(&cache)).is_ok());
    // locked out by another process: seen once the second is over
    assert!(matches!(
        login(&elsewhere, "bad", None),
        Err(LoginError::Invalid)
    ));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(matches!(
        login(&here, "demo", Some(&cache)),
        Err(LoginError::TooFast(_))
    ));

    // a failure through this cache forgets the name's entries at once
    let other = Tracker::open(t.home()).unwrap();
    let db2 = other.open_db("1").unwrap();
    let cache = CredentialCache::new();
    let login2 = |pw: &str| auth::login(&db2, &here, &p, Frontend::Rest, "admin", pw, Some(&cache));
    assert!(login2("admin").is_ok());
    assert_eq!(cache.len(), 1);
    assert!(matches!(login2("bad"), Err(LoginError::Invalid)));
    assert!(cache.is_empty());
    assert!(matches!(login2("admin"), Err(LoginError::TooFast(_))));
}

#[test]
fn authorisation_decisions_name_what_was_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let db = t.open_db("1").unwrap();
    let demo_id = db.lookup("user", "demo").unwrap();
    let demo = Subject::user(&db, &demo_id).unwrap();
    assert_eq!(demo.roles, vec!["user".to_string()]);
    assert!(!demo.anonymous);
    let anon = Subject::anonymous(&db);
    assert!(anon.anonymous);

    // create: class level, then per property
    demo.check_create(&db, "issue", ["title", "status"])
        .unwrap();
    let e = anon.check_create(&db, "issue", ["title"]).unwrap_err();
    assert!(matches!(&e, Error::Unauthorised(m) if m == "Permission to create issue denied"));
    let e = demo.check_create(&db, "status", []).unwrap_err();
    assert!(matches!(&e, Error::Unauthorised(m) if m == "Permission to create status denied"));
    assert!(demo.may_create(&db, "issue", ["title"]).unwrap());

    // edit: per property of the item (own record: some properties only)
    demo.check_edit(&db, "user", &demo_id, ["realname"])
        .unwrap();
    let e = demo
        .check_edit(&db, "user", &demo_id, ["realname", "roles"])
        .unwrap_err();
    assert!(
        matches!(&e, Error::Unauthorised(m) if m == &format!("Permission to edit roles of user{demo_id} denied")),
        "{e}"
    );
    let e = demo.check_edit(&db, "user", "1", ["realname"]).unwrap_err();
    assert!(
        matches!(&e, Error::Unauthorised(m) if m == "Permission to edit realname of user1 denied")
    );

    // view and the visible properties of another user's record
    let visible = demo.visible_props(&db, "user", Some("1")).unwrap();
    assert!(visible.contains(&"username".to_string()));
    assert!(!visible.contains(&"address".to_string()));
    let e = demo.check_view(&db, "user", "1", ["address"]).unwrap_err();
    assert!(
        matches!(&e, Error::Unauthorised(m) if m == "Permission to view address of user1 denied")
    );
    let own = demo.visible_props(&db, "user", Some(&demo_id)).unwrap();
    assert!(own.contains(&"address".to_string()));

    // retire
    let e = demo.check_retire(&db, "status", "1").unwrap_err();
    assert!(matches!(&e, Error::Unauthorised(m) if m == "Permission to retire status 1 denied"));
    let e = demo
        .check_retire_or_restore(&db, "status", "1")
        .unwrap_err();
    assert!(matches!(&e, Error::Unauthorised(m)
        if m == "You do not have permission to retire or restore the status class."));
    let admin = Subject::user(&db, "1").unwrap();
    admin.check_retire_or_restore(&db, "status", "1").unwrap();
    assert!(roundup_core::authz::check_retirable(&db, "user", "1").is_err());

    // a token's roles restrict the user
    let restricted = Subject::restricted(&db, "1", &["User".to_string()]);
    assert!(restricted.check_create(&db, "status", []).is_err());
    assert!(admin.check_create(&db, "status", []).is_ok());

    // searching: anonymous may search issues by status, not users by address
    assert!(anon.may_search(&db, "issue", "status"));
    assert!(anon.may_search(&db, "issue", "title"));
    assert!(!demo.may_search(&db, "user", "address"));
}

fn new_issue(db: &Db, title: &str, status: &str) -> String {
    let mut v = Values::new();
    v.insert("title".into(), Some(Value::String(title.into())));
    v.insert("status".into(), Some(Value::Link(status.into())));
    let id = db.create("issue", v).unwrap();
    db.commit().unwrap();
    id
}

#[test]
fn index_arguments_give_one_query() {
    let dir = tempfile::tempdir().unwrap();
    let t = tracker(dir.path());
    let db = t.open_db("1").unwrap();
    let chatting = db.lookup("status", "chatting").unwrap();
    let unread = db.lookup("status", "unread").unwrap();
    let a = new_issue(&db, "alpha sorting", &chatting);
    let b = new_issue(&db, "beta sorting", &unread);
    let c = new_issue(&db, "gamma", &chatting);
    let demo = Subject::user(&db, &db.lookup("user", "demo").unwrap()).unwrap();
    let args: Vec<(String, String)> = [
        ("@columns", "id,title"),
        (":sort", "-title"),
        ("@filter", "status,bogus,title"),
        ("status", "chatting,unread"),
        ("bogus", "1"),
        ("title", "sorting"),
        ("@pagesize", "0"),
        ("@startwith", "x"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let ix = IndexArgs::parse(&db, &demo, Some("issue"), &args);
    assert_eq!(ix.columns, vec!["id".to_string(), "title".into()]);
    assert_eq!(ix.sort, vec![(true, "title".to_string())]);
    assert_eq!(ix.filter.len(), 3);
    // the unknown property is dropped; the link filter is a list
    assert_eq!(ix.filterspec.len(), 2);
    assert_eq!(ix.filterspec[0].values, vec!["chatting", "unread"]);
    assert!(ix.filterspec[0].list);
    assert!(!ix.filterspec[1].list);
    assert_eq!(ix.pagesize, roundup_core::query_args::DEFAULT_PAGESIZE);
    assert_eq!(ix.startwith, 0);
    let ids = db
        .filter("issue", &ix.query(&db, "issue").unwrap())
        .unwrap();
    assert_eq!(ids, vec![b.clone(), a.clone()]);

    // full-text search: words of two letters or more
    let args: Vec<(String, String)> = [("@search_text", "gamma, x"), ("@sort", "id")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let ix = IndexArgs::parse(&db, &demo, Some("issue"), &args);
    let ids = db
        .filter("issue", &ix.query(&db, "issue").unwrap())
        .unwrap();
    assert_eq!(ids, vec![c]);

    // sorting on what the user may not search is dropped
    let args: Vec<(String, String)> = vec![("@sort".into(), "address,username".into())];
    let ix = IndexArgs::parse(&db, &demo, Some("user"), &args);
    assert_eq!(ix.sort, vec![(false, "username".to_string())]);
}
