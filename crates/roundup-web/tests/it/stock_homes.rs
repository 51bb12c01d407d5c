//! Roundup 2.6's five stock tracker homes, installed by Roundup 2.6 at
//! test time and left as Roundup made them, served by our server: the
//! web login and new-item forms, and REST, go through Roundup's own
//! schema.py and detectors (in Python). The TAL homes' pages are their
//! own, rendered by roundup-tal (tal_pages compares them with Roundup's).

use std::path::Path;

use roundup_testkit::Roundup26;
use roundup_tracker::Tracker;
use roundup_web::server::ServerSettings;

use crate::server_support::*;

fn install_with_roundup(r: &Roundup26, home: &Path, template: &str, port: u16) {
    let settings = format!(
        "mail_domain=example.com,password_pbkdf2_default_rounds=1000,tracker_web=http://127.0.0.1:{port}/t/"
    );
    r.admin(&[
        "-i",
        home.to_str().expect("utf-8 path"),
        "install",
        template,
        "sqlite",
        &settings,
    ]);
}

async fn rest_post(s: &Served, path: &str, json: &str) -> (u16, String) {
    let r = http()
        .post(s.url(path))
        .basic_auth("admin", Some("secret"))
        .header("content-type", "application/json")
        .header("x-requested-with", "rest")
        .header("origin", s.url(""))
        .header("referer", s.base())
        .body(json.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

async fn rest_get(s: &Served, path: &str) -> serde_json::Value {
    let r = http()
        .get(s.url(path))
        .basic_auth("admin", Some("secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "GET {path}");
    serde_json::from_str(&r.text().await.unwrap()).unwrap()
}

async fn run(template: &str) {
    let Some(r) = Roundup26::find() else { return };
    let work = r.workdir();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = work.path().join("t");
    install_with_roundup(&r, &home, template, port);
    let tracker = Tracker::open(&home).unwrap_or_else(|e| panic!("{template}: {e}"));
    tracker
        .initialise("secret", "admin@example.com")
        .unwrap_or_else(|e| panic!("{template}: initialise: {e}"));
    let classes: Vec<String> = tracker.def().schema.classes.keys().cloned().collect();
    let item = ["issue", "bug"]
        .into_iter()
        .find(|c| classes.iter().any(|x| x == c));
    drop(tracker);
    let s = serve_homes(
        work,
        listener,
        vec![("t".to_string(), home.clone())],
        ServerSettings::default(),
    );

    // the front page is a page, not TAL source: the TAL homes (classic,
    // minimal, devel, responsive) render their own TAL pages, and the
    // jinja2 home its Jinja2 pages.
    let front = get(&s, "/t/", None).await;
    let status = front.status();
    let text = front.text().await.unwrap();
    assert!(
        !text.contains("metal:use-macro") && !text.contains("tal:replace"),
        "{template}: the front page is TAL source"
    );
    assert_eq!(status, 200, "{template}: front page");

    // web login through the form
    let cookie = login(&s, "admin", "secret").await;

    // REST: the userauditor refuses a bad address
    let (status, body) = rest_post(
        &s,
        "/t/rest/data/user",
        r#"{"username": "zed", "address": "not an address"}"#,
    )
    .await;
    // Roundup 2.6 answers an auditor's ValueError on create with 409
    assert_eq!(status, 409, "{template}: {body}");
    assert!(
        body.contains("Email address syntax is invalid"),
        "{template}: {body}"
    );
    let (status, body) = rest_post(
        &s,
        "/t/rest/data/user",
        r#"{"username": "zed", "address": "zed@example.com", "roles": "User"}"#,
    )
    .await;
    assert_eq!(status, 201, "{template}: {body}");

    // web form: a user refused by the userauditor, with its message
    let token = csrf_token(&s, "1", Some(&cookie));
    let resp = post_form(
        &s,
        "/t/user",
        Some(&cookie),
        &[
            ("@action", "new"),
            ("@csrf", &token),
            ("username", "bad name"),
        ],
    )
    .await;
    let status = resp.status();
    let loc = decoded(&location(&resp));
    let page = resp.text().await.unwrap();
    assert!(
        page.contains("Username/Login Name must consist only of")
            || loc.contains("Username/Login Name must consist only of"),
        "{template}: {status} {loc}\n{page}"
    );
    let users = rest_get(&s, "/t/rest/data/user?username=bad%20name").await;
    assert_eq!(
        users["data"]["collection"].as_array().map(Vec::len),
        Some(0),
        "{template}: the refused user exists: {users}"
    );

    let Some(item) = item else {
        s.stop().await;
        return;
    };
    // web form: a new item with a note
    let token = csrf_token(&s, "1", Some(&cookie));
    let resp = post_form(
        &s,
        &format!("/t/{item}"),
        Some(&cookie),
        &[
            ("@action", "new"),
            ("@csrf", &token),
            ("title", "Filed through the web form"),
            ("@note", "It broke. Details follow."),
        ],
    )
    .await;
    assert_eq!(resp.status(), 302, "{template}: new {item}");
    let loc = decoded(&location(&resp));
    assert!(loc.contains(&format!("{item}1")), "{template}: {loc}");
    let got = rest_get(&s, &format!("/t/rest/data/{item}/1")).await;
    let attrs = &got["data"]["attributes"];
    // nosyreaction's updatenosy: the author of a new item's message
    let nosy: Vec<String> = attrs["nosy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nosy, vec!["1".to_string()], "{template}: {attrs}");
    let msg = attrs["messages"][0]["id"].as_str().unwrap().to_string();
    let m = rest_get(&s, &format!("/t/rest/data/msg/{msg}")).await;
    // messagesummary (Roundup's rule: the longer of first sentence and
    // first line)
    assert_eq!(
        m["data"]["attributes"]["summary"], "It broke. Details follow.",
        "{template}: {m}"
    );
    if item == "issue" {
        // statusauditor: new issues start unread
        assert_eq!(attrs["status"]["id"], "1", "{template}: {attrs}");
    }

    // REST: a new item, and a change that adds a message
    let (status, body) = rest_post(
        &s,
        &format!("/t/rest/data/{item}"),
        r#"{"title": "Filed through REST"}"#,
    )
    .await;
    assert_eq!(status, 201, "{template}: {body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundup26_classic_home_serves() {
    run("classic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundup26_minimal_home_serves() {
    run("minimal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundup26_responsive_home_serves() {
    run("responsive").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundup26_devel_home_serves() {
    run("devel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundup26_jinja2_home_serves() {
    run("jinja2").await;
}

/// Each of our own templates, installed by us, serves its pages: the
/// front page, the item index and the new-item form (devel, responsive
/// and jinja2 with classic's generic pages).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_templates_serve_pages() {
    for (template, item) in [
        ("classic", "issue"),
        ("minimal", "user"),
        ("devel", "bug"),
        ("responsive", "bug"),
        ("jinja2", "issue"),
    ] {
        let s = serve_template_defaults(template).await;
        let front = get(&s, "/t/", None).await;
        assert_eq!(front.status(), 200, "{template}: front page");
        let cookie = login(&s, "admin", "admin").await;
        for path in [format!("/t/{item}"), format!("/t/{item}?@template=item")] {
            let r = get(&s, &path, Some(&cookie)).await;
            let status = r.status();
            let page = r.text().await.unwrap();
            assert_eq!(status, 200, "{template}: {path}\n{page}");
            assert!(page.contains("</html>"), "{template}: {path}\n{page}");
        }
        s.stop().await;
    }
}
