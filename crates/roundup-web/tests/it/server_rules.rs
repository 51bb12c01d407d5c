//! The rules the front ends share, seen over real HTTP: the CSV export
//! lists what its index page lists, designators with digits in the class
//! name, and login and API rate limits and POE tokens that hold across
//! server processes (a second roundup-server process on the same home).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server_support::*;
use roundup_core::value::Value;
use roundup_core::Values;
use roundup_web::server::ServerSettings;

/// The ids of an index page's rows, in order.
fn page_ids(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = page;
    let needle = "<td class=\"id\"><a href=\"issue";
    while let Some(i) = rest.find(needle) {
        rest = &rest[i + needle.len()..];
        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
        out.push(id);
    }
    out
}

/// The first column of a CSV export, header dropped.
fn csv_ids(csv: &str) -> Vec<String> {
    csv.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .next()
                .unwrap_or("")
                .trim_matches('"')
                .to_string()
        })
        .collect()
}

/// The "Download as CSV" link of an index page.
fn csv_link(page: &str) -> Option<String> {
    let end = page.find("\">Download as CSV")?;
    let start = page[..end].rfind("href=\"")? + 6;
    Some(html_unescape(&page[start..end]))
}

fn new_issue(db: &roundup_core::Db, title: &str, status: &str) {
    let mut v = Values::new();
    v.insert("title".into(), Some(Value::String(title.into())));
    let sid = db.lookup("status", status).unwrap();
    v.insert("status".into(), Some(Value::Link(sid)));
    db.create("issue", v).unwrap();
    db.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_lists_what_the_index_page_lists() {
    let s = serve_one(&[]).await;
    {
        let db = s.tracker().open_db("1").unwrap();
        new_issue(&db, "crash report alpha", "chatting"); // 1
        new_issue(&db, "crash in report beta", "unread"); // 2
        new_issue(&db, "crash report gamma", "resolved"); // 3
        new_issue(&db, "unrelated", "chatting"); // 4
        new_issue(&db, "another crash report", "unread"); // 5
    }
    let demo = login(&s, "demo", "demo").await;
    // Arguments the two old parsers read differently: the sort direction
    // in @sortdir, a link filter with two comma-separated values, and
    // full-text words joined by punctuation.
    let cases = [
        (
            "@columns=id,title&@sort=title&@sortdir=on&@filter=status&status=chatting,unread\
             &@search_text=crash-report&@pagesize=100",
            vec!["1", "2", "5"],
        ),
        (
            ":columns=id,title&:sort=-id&:filter=title&title=crash&@pagesize=100",
            vec!["5", "3", "2", "1"],
        ),
        (
            "@columns=id,title&@sort0=status&@sortdir0=1&@sort1=id&@pagesize=100",
            // resolved, then chatting, then unread (status order, descending)
            vec!["3", "1", "4", "2", "5"],
        ),
    ];
    for (args, want) in cases {
        let page = get(&s, &format!("/t/issue?{args}"), Some(&demo))
            .await
            .text()
            .await
            .unwrap();
        let rows = page_ids(&page);
        assert_eq!(rows, want, "index page for {args}");
        // the same arguments with the export action
        let r = get(
            &s,
            &format!("/t/issue?@action=export_csv&{args}"),
            Some(&demo),
        )
        .await;
        assert_eq!(r.status(), 200, "{args}");
        let csv = r.text().await.unwrap();
        assert_eq!(csv_ids(&csv), rows, "CSV for {args}:\n{csv}");
        // and the page's own "Download as CSV" link
        let link = csv_link(&page).expect("the index page links its CSV export");
        let url = if link.starts_with("http") {
            link.clone()
        } else {
            format!("{}{link}", s.base())
        };
        let csv = http()
            .get(&url)
            .header("Cookie", &demo)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(csv_ids(&csv), rows, "CSV from the page's link {link}");
    }
    s.stop().await;
}

/// A schema with classes whose names hold digits.
fn add_digit_classes(home: &Path) {
    let schema = home.join("schema.py");
    let mut text = std::fs::read_to_string(&schema).unwrap();
    text.push_str(
        "\ntest2class = Class(db, \"test2class\", name=String(), parts=Multilink(\"test\"))\n\
         test2class.setkey(\"name\")\n\
         test = Class(db, \"test\", name=String(), owner=Link(\"test2class\"))\n\
         test.setkey(\"name\")\n",
    );
    std::fs::write(&schema, text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn class_names_with_digits_work_in_the_web_ui() {
    let s = serve_prepared(&["t"], &[], ServerSettings::default(), add_digit_classes).await;
    {
        let db = s.tracker().open_db("1").unwrap();
        let mut v = Values::new();
        v.insert("name".into(), Some(Value::String("widget".into())));
        assert_eq!(db.create("test2class", v).unwrap(), "1");
        db.commit().unwrap();
    }
    let admin = login(&s, "admin", "admin").await;
    // item pages, with and without leading zeros, and the index
    for path in ["/t/test2class1", "/t/test2class001"] {
        let r = get(&s, path, Some(&admin)).await;
        assert_eq!(r.status(), 200, "{path}");
        let page = r.text().await.unwrap();
        assert!(page.contains("test2class1"), "{path}: {page}");
        assert!(page.contains("widget"), "{path}");
    }
    assert_eq!(get(&s, "/t/test2class", Some(&admin)).await.status(), 200);
    assert_eq!(get(&s, "/t/test2class9", Some(&admin)).await.status(), 404);

    // form designators naming items of both classes, new and existing
    let t = csrf_token(&s, "1", Some(&admin));
    let r = post_form(
        &s,
        "/t/test2class1",
        Some(&admin),
        &[
            ("@action", "edit"),
            ("@csrf", &t),
            ("test-1@name", "bolt"),
            ("@link@parts", "test-1"),
            ("test2class-1@name", "gadget"),
            ("test2class-1@link@parts", "test-1"),
        ],
    )
    .await;
    let status = r.status();
    let body = r.text().await.unwrap();
    let err = body
        .find("class=\"message error\"")
        .map(|i| &body[i..(i + 400).min(body.len())]);
    assert_eq!(status, 302, "{err:?}");
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(
        db.get("test", "1", "name").unwrap(),
        Some(Value::String("bolt".into()))
    );
    assert_eq!(
        db.get("test2class", "1", "parts").unwrap(),
        Some(Value::Multilink(vec!["1".into()]))
    );
    assert_eq!(
        db.get("test2class", "2", "name").unwrap(),
        Some(Value::String("gadget".into()))
    );
    assert_eq!(
        db.get("test2class", "2", "parts").unwrap(),
        Some(Value::Multilink(vec!["1".into()]))
    );
    drop(db);
    // an existing item of the class named as a link target
    let t = csrf_token(&s, "1", Some(&admin));
    let r = post_form(
        &s,
        "/t/test1",
        Some(&admin),
        &[
            ("@action", "edit"),
            ("@csrf", &t),
            ("@link@owner", "test2class2"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(
        db.get("test", "1", "owner").unwrap(),
        Some(Value::Link("2".into()))
    );
    drop(db);
    s.stop().await;
}

/// A roundup-server process serving the same tracker home (killed when
/// dropped).
struct OtherProcess {
    child: Child,
    port: u16,
}

impl Drop for OtherProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve_again(s: &Served) -> OtherProcess {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_roundup-server"))
        .args(["-n", "127.0.0.1", "-p", &port.to_string()])
        .arg(format!("t={}", s.home().display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let other = OtherProcess { child, port };
    let until = Instant::now() + Duration::from_secs(60);
    while http()
        .get(format!("http://127.0.0.1:{port}/t/"))
        .send()
        .await
        .is_err()
    {
        assert!(Instant::now() < until, "roundup-server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    other
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_login_limit_holds_across_server_processes() {
    let s = serve_one(&[
        ("web_api_failed_login_limit", "2"),
        ("web_api_failed_login_interval_in_sec", "600"),
    ])
    .await;
    let other = serve_again(&s).await;
    let port2 = other.port;
    let rest = |port: u16, pw: &str| {
        http()
            .get(format!("http://127.0.0.1:{port}/t/rest/data/issue"))
            .basic_auth("demo", Some(pw))
            .send()
    };
    // one failure through each server uses up the limit of two
    assert_eq!(rest(s.port, "bad").await.unwrap().status(), 401);
    assert_eq!(rest(port2, "bad").await.unwrap().status(), 401);
    let r = rest(s.port, "bad").await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "300");
    // locked out everywhere, even with the right password, and for XML-RPC
    assert_eq!(rest(port2, "demo").await.unwrap().status(), 429);
    let x = http()
        .post(format!("http://127.0.0.1:{port2}/t/xmlrpc"))
        .basic_auth("demo", Some("demo"))
        .header("Content-Type", "text/xml")
        .body("<?xml version='1.0'?><methodCall><methodName>schema</methodName><params></params></methodCall>")
        .send()
        .await
        .unwrap();
    assert_eq!(x.status(), 200);
    let body = x.text().await.unwrap();
    assert!(body.contains("<int>429</int>"), "{body}");
    assert!(body.contains("Logins occurring too fast"), "{body}");
    // the web form counts separately (LOGIN-<name>), as in Roundup
    let r = http()
        .get(s.url("/t/"))
        .basic_auth("demo", Some("demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // and the record is Roundup's
    let db_dir = s.home().join("db");
    let mut otks = roundup_sqlite::SqliteKeyStore::open(
        &db_dir,
        roundup_core::sessions::StoreKind::Otks,
        Duration::from_secs(5),
    )
    .unwrap();
    use roundup_core::sessions::KeyStore;
    assert!(otks.get("LOGIN-APIdemo", "tat").unwrap().is_some());
    drop(other);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rate_limit_and_poe_tokens_live_in_the_otk_store() {
    let s = serve_one(&[
        ("web_api_calls_per_interval", "3"),
        ("web_api_interval_in_sec", "3600"),
    ])
    .await;
    let other = serve_again(&s).await;
    let port2 = other.port;
    let call = |port: u16| {
        http()
            .get(format!("http://127.0.0.1:{port}/t/rest/data/status"))
            .basic_auth("demo", Some("demo"))
            .send()
    };
    assert_eq!(call(s.port).await.unwrap().status(), 200);
    assert_eq!(call(port2).await.unwrap().status(), 200);
    assert_eq!(call(s.port).await.unwrap().status(), 200);
    let r = call(port2).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["x-ratelimit-limit"], "3");
    drop(other);
    s.stop().await;

    // a POE token made by one process is spent through another
    let s = serve_one(&[]).await;
    let other = serve_again(&s).await;
    let port2 = other.port;
    let post = |port: u16, path: &str, body: &str| {
        http()
            .post(format!("http://127.0.0.1:{port}/t/rest{path}"))
            .basic_auth("demo", Some("demo"))
            .header("Content-Type", "application/json")
            .header("X-Requested-With", "rest")
            .header("Referer", s.base())
            .header("Origin", s.url(""))
            // both servers stand for the one tracker URL
            .header("X-Forwarded-Host", format!("127.0.0.1:{}", s.port))
            .body(body.to_string())
            .send()
    };
    let r = post(s.port, "/data/issue/@poe", "{}").await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let link = v["data"]["link"].as_str().unwrap().to_string();
    let path = link.split("/rest").nth(1).unwrap().to_string();
    let r = post(port2, &path, r#"{"title": "once"}"#).await.unwrap();
    assert_eq!(r.status(), 201, "{path}: {}", r.text().await.unwrap());
    let r = post(s.port, &path, r#"{"title": "twice"}"#).await.unwrap();
    assert_eq!(r.status(), 400);
    drop(other);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_post_needs_a_non_empty_x_requested_with() {
    let s = serve_one(&[]).await;
    let post = |xrw: &str| {
        http()
            .post(format!("{}rest/data/keyword", s.base()))
            .basic_auth("admin", Some("admin"))
            .header("Content-Type", "application/json")
            .header("X-Requested-With", xrw)
            .header("Referer", s.base())
            .header("Origin", s.url(""))
            .body(r#"{"name": "k"}"#)
            .send()
    };
    let r = post("").await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Required Header Missing"));
    assert!(s
        .tracker()
        .open_db("1")
        .unwrap()
        .list("keyword")
        .unwrap()
        .is_empty());
    assert_eq!(post("rest").await.unwrap().status(), 201);
    s.stop().await;
}

/// REST logins follow the same password rules as the web form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_login_rehashes_and_honours_empty_passwords() {
    use roundup_core::password::{Password, Scheme};
    for allow_empty in [false, true] {
        let setting = if allow_empty { "yes" } else { "no" };
        let s = serve_one(&[("web_login_empty_passwords", setting)]).await;
        {
            let db = s.tracker().open_db("1").unwrap();
            let mut v = Values::new();
            v.insert(
                "password".into(),
                Some(Value::Password(Password::hash("demo", Scheme::Sha, 1000))),
            );
            db.set("user", "3", v).unwrap();
            let mut v = Values::new();
            v.insert("username".into(), Some(Value::String("nopw".into())));
            v.insert("roles".into(), Some(Value::String("User".into())));
            db.create("user", v).unwrap();
            db.commit().unwrap();
        }
        let get_as = |user: &str, pw: &str| {
            http()
                .get(format!("{}rest/data/status", s.base()))
                .basic_auth(user, Some(pw))
                .send()
        };
        assert_eq!(get_as("demo", "demo").await.unwrap().status(), 200);
        let db = s.tracker().open_db("1").unwrap();
        let stored = db.get("user", "3", "password").unwrap();
        assert!(
            matches!(&stored, Some(Value::Password(p)) if p.scheme() == Scheme::Pbkdf2S5),
            "{stored:?}"
        );
        let want = if allow_empty { 200 } else { 401 };
        assert_eq!(get_as("nopw", "").await.unwrap().status(), want);
        s.stop().await;
    }
}
