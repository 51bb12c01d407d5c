//! Actions, logins and permissions over real HTTP.

use crate::server_support::*;
use roundup_core::value::Value;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_and_anonymous_pages() {
    let s = serve_one(&[]).await;
    let r = get(&s, "/", None).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/t/");
    let r = get(&s, "/t", None).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), "/t/");
    let r = get(&s, "/t/", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(get(&s, "/nosuch/", None).await.status(), 404);
    assert_eq!(get(&s, "/t/nosuchclass", None).await.status(), 404);
    assert_eq!(get(&s, "/t/issue99", None).await.status(), 404);
    assert_eq!(get(&s, "/t/issue", None).await.status(), 200);
    let fav = get(&s, "/favicon.ico", None).await;
    assert_eq!(fav.status(), 200);
    assert_eq!(fav.headers()["content-type"], "image/x-icon");
    // messages from the URL reach the page
    let page = get(&s, "/t/?@ok_message=hello%20there", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("hello there"), "{page}");
    // HEAD: headers without a body
    let h = http().head(s.url("/t/issue")).send().await.unwrap();
    assert_eq!(h.status(), 200);
    assert!(h.bytes().await.unwrap().is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_logout_and_cookie_flags() {
    let s = serve_one(&[]).await;
    // wrong password: no session, error shown
    let r = post_form(
        &s,
        "/t/",
        None,
        &[
            ("@action", "login"),
            ("__login_name", "demo"),
            ("__login_password", "nope"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(session_cookie(&r).is_none());
    assert!(r.text().await.unwrap().contains("Invalid login"));

    // right password with __came_from: redirect with a welcome
    let r = post_form(
        &s,
        "/t/",
        None,
        &[
            ("@action", "login"),
            ("__login_name", "demo"),
            ("__login_password", "demo"),
            ("__came_from", &format!("{}issue?@action=logout", s.base())),
            ("remember", "1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    let loc = decoded(&location(&r));
    assert!(loc.starts_with(&format!("{}issue?", s.base())), "{loc}");
    assert!(loc.contains("@ok_message=Welcome demo!"), "{loc}");
    assert!(!loc.contains("logout"), "{loc}");
    let set = all_set_cookies(&r).join("\n");
    assert!(
        set.contains("roundup_session_Roundupissuetracker="),
        "{set}"
    );
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Lax"), "{set}");
    assert!(set.contains("Path=/t/"), "{set}");
    assert!(
        set.contains("expires="),
        "remember me keeps the cookie: {set}"
    );
    let cookie = session_cookie(&r).unwrap();
    let page = get(&s, "/t/", Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains("Hello, demo<"), "{page}");

    // the session lives in db/db-session
    assert!(s.home().join("db").join("db-session").is_file());

    // logout: cookie cleared, session gone
    let r = post_form(&s, "/t/", Some(&cookie), &[("@action", "logout")]).await;
    assert_eq!(r.status(), 302);
    assert!(all_set_cookies(&r)
        .join("")
        .contains("roundup_session_Roundupissuetracker=;"));
    let page = get(&s, "/t/", Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains("name=\"__login_name\""), "{page}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_and_rate_limit() {
    let s = serve_one(&[]).await;
    let ok = http()
        .get(s.url("/t/"))
        .basic_auth("demo", Some("demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("Hello, demo<"));
    let bad = http()
        .get(s.url("/t/"))
        .basic_auth("demo", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(bad.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic realm="));
    // three failures a minute are allowed; then 429, even with the right password
    for _ in 0..3 {
        let _ = post_form(
            &s,
            "/t/",
            None,
            &[
                ("@action", "login"),
                ("__login_name", "admin"),
                ("__login_password", "x"),
            ],
        )
        .await;
    }
    let r = post_form(
        &s,
        "/t/",
        None,
        &[
            ("@action", "login"),
            ("__login_name", "admin"),
            ("__login_password", "admin"),
        ],
    )
    .await;
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Logins occurring too fast"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_issue_with_note_and_file() {
    let s = serve_one(&[]).await;
    let cookie = login(&s, "demo", "demo").await;
    let token = csrf_token(&s, "3", Some(&cookie));
    let form = reqwest::multipart::Form::new()
        .text("@action", "new")
        .text("@csrf", token)
        .text("title", "Printer on fire")
        .text("priority", "urgent")
        .text("@note", "It is really burning.")
        .text("@template", "item")
        .part(
            "@file",
            reqwest::multipart::Part::bytes(b"log line\n".to_vec())
                .file_name("fire.log")
                .mime_str("text/plain")
                .unwrap(),
        );
    let r = http()
        .post(s.url("/t/issue"))
        .header("Cookie", &cookie)
        .header("Referer", s.base())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let loc = decoded(&location(&r));
    assert!(
        loc.starts_with(&format!("{}issue1?@ok_message=", s.base())),
        "{loc}"
    );
    assert!(loc.contains("issue 1 created"), "{loc}");
    assert!(loc.contains("@template=item"), "{loc}");

    let t = s.tracker();
    let db = t.open_db("1").unwrap();
    assert_eq!(
        db.get("issue", "1", "title").unwrap(),
        Some(Value::String("Printer on fire".into()))
    );
    assert_eq!(
        db.get("issue", "1", "messages").unwrap(),
        Some(Value::Multilink(vec!["1".into()]))
    );
    assert_eq!(
        db.get("issue", "1", "files").unwrap(),
        Some(Value::Multilink(vec!["1".into()]))
    );
    assert_eq!(
        db.get("msg", "1", "author").unwrap(),
        Some(Value::Link("3".into()))
    );
    assert_eq!(
        db.get("msg", "1", "files").unwrap(),
        Some(Value::Multilink(vec!["1".into()]))
    );
    assert_eq!(
        db.file_content("msg", "1").unwrap(),
        b"It is really burning."
    );
    assert_eq!(db.file_content("file", "1").unwrap(), b"log line\n");
    assert_eq!(
        db.get("file", "1", "name").unwrap(),
        Some(Value::String("fire.log".into()))
    );
    assert_eq!(
        db.get("file", "1", "type").unwrap(),
        Some(Value::String("text/plain".into()))
    );
    drop(db);

    // download: declared type kept, download headers set
    let f = get(&s, "/t/file1/fire.log", Some(&cookie)).await;
    assert_eq!(f.status(), 200);
    assert_eq!(f.headers()["content-type"], "text/plain");
    assert_eq!(f.headers()["x-content-type-options"], "nosniff");
    assert_eq!(f.headers()["content-security-policy"], "script-src 'none'");
    assert!(f.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("fire.log"));
    assert_eq!(f.bytes().await.unwrap().as_ref(), b"log line\n");
    let m = get(&s, "/t/msg1/", Some(&cookie)).await;
    assert_eq!(m.status(), 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_by_role() {
    let s = serve_one(&[]).await;
    // anonymous may not create issues in the classic schema
    let token = csrf_token(&s, "2", None);
    let r = post_form(
        &s,
        "/t/issue",
        None,
        &[("@action", "new"), ("@csrf", &token), ("title", "anon")],
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("You do not have permission to create issue"));
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(db.list("issue").unwrap().len(), 0);
    drop(db);

    // demo creates; demo may not retire (Admin only); admin may
    let demo = login(&s, "demo", "demo").await;
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "one")],
    )
    .await;
    assert_eq!(r.status(), 302);
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&demo),
        &[("@action", "retire"), ("@csrf", &t)],
    )
    .await;
    assert_eq!(r.status(), 403);
    let admin = login(&s, "admin", "admin").await;
    let t = csrf_token(&s, "1", Some(&admin));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&admin),
        &[("@action", "retire"), ("@csrf", &t)],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Issue 1 has been retired"));
    let db = s.tracker().open_db("1").unwrap();
    assert!(db.is_retired("issue", "1").unwrap());
    drop(db);
    let t = csrf_token(&s, "1", Some(&admin));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&admin),
        &[("@action", "restore"), ("@csrf", &t)],
    )
    .await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Issue 1 has been restored"));
    let db = s.tracker().open_db("1").unwrap();
    assert!(!db.is_retired("issue", "1").unwrap());
    drop(db);
    // admin and anonymous cannot be retired
    let t = csrf_token(&s, "1", Some(&admin));
    let r = post_form(
        &s,
        "/t/user1",
        Some(&admin),
        &[("@action", "retire"), ("@csrf", &t)],
    )
    .await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("You may not retire the admin or anonymous user"));
    // anonymous may not see user pages; users may (public details)
    assert_eq!(get(&s, "/t/user1", None).await.status(), 403);
    assert_eq!(get(&s, "/t/user1", Some(&demo)).await.status(), 200);
    // users edit their own record only
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/user1",
        Some(&demo),
        &[("@action", "edit"), ("@csrf", &t), ("realname", "Mallory")],
    )
    .await;
    assert_eq!(r.status(), 403);
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/user3",
        Some(&demo),
        &[
            ("@action", "edit"),
            ("@csrf", &t),
            ("realname", "Demo Person"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(db.get("user", "1", "realname").unwrap(), None);
    assert_eq!(
        db.get("user", "3", "realname").unwrap(),
        Some(Value::String("Demo Person".into()))
    );
    drop(db);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csrf_rejections() {
    let s = serve_one(&[]).await;
    let demo = login(&s, "demo", "demo").await;
    // no token: with Roundup's default csrf_enforce_token = yes that is
    // accepted (only a wrong token is refused) ...
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("title", "no token")],
    )
    .await;
    assert_eq!(r.status(), 302);
    // ... and refused when tokens are required
    let strict = serve_one(&[("web_csrf_enforce_token", "required")]).await;
    let sd = login(&strict, "demo", "demo").await;
    let r = post_form(
        &strict,
        "/t/issue",
        Some(&sd),
        &[("@action", "new"), ("title", "x")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("csrf failure"));
    assert_eq!(
        strict
            .tracker()
            .open_db("1")
            .unwrap()
            .list("issue")
            .unwrap()
            .len(),
        0
    );
    strict.stop().await;
    // a token of another user
    let t = csrf_token(&s, "1", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "x")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("csrf failure"));
    // a good token, but from another site
    let t = csrf_token(&s, "3", Some(&demo));
    let r = http()
        .post(s.url("/t/issue"))
        .header("Cookie", &demo)
        .header("Origin", "http://evil.example")
        .form(&[("@action", "new"), ("@csrf", t.as_str()), ("title", "x")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Invalid Origin"));
    // tokens are single use
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "ok")],
    )
    .await;
    assert_eq!(r.status(), 302);
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "again")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("csrf failure"));
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(
        db.list("issue").unwrap(),
        vec!["1".to_string(), "2".to_string()]
    );
    drop(db);
    // the token rendered on a page works
    let page = get(&s, "/t/issue", Some(&demo)).await.text().await.unwrap();
    let t = scrape_csrf(&page).expect("page has a csrf field");
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "two")],
    )
    .await;
    assert_eq!(r.status(), 302);
    // ... once only
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "two again")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("csrf failure"));
    // rendering pages stores nothing: page tokens are signed, not kept
    let otk_rows = || {
        use roundup_core::sessions::KeyStore;
        roundup_sqlite::SqliteKeyStore::open(
            &s.home().join("db"),
            roundup_core::sessions::StoreKind::Otks,
            std::time::Duration::from_secs(5),
        )
        .unwrap()
        .keys()
        .unwrap()
        .len()
    };
    let before = otk_rows();
    for _ in 0..3 {
        get(&s, "/t/issue", Some(&demo)).await.text().await.unwrap();
        get(&s, "/t/", None).await.text().await.unwrap();
    }
    assert_eq!(otk_rows(), before, "page views wrote one-time keys");
    // a token rendered for the anonymous visitor is no good in demo's session
    let anon_page = get(&s, "/t/", None).await.text().await.unwrap();
    let t = scrape_csrf(&anon_page).expect("login form has a csrf field");
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "stolen")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("csrf failure"));
    // a tampered token neither
    let page = get(&s, "/t/issue", Some(&demo)).await.text().await.unwrap();
    let mut t = scrape_csrf(&page).unwrap();
    let last = t.pop().unwrap();
    t.push(if last == 'A' { 'B' } else { 'A' });
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "forged")],
    )
    .await;
    assert!(r.text().await.unwrap().contains("csrf failure"));
    let titles: Vec<String> = {
        let db = s.tracker().open_db("1").unwrap();
        db.list("issue")
            .unwrap()
            .iter()
            .map(|id| match db.get("issue", id, "title").unwrap() {
                Some(roundup_core::value::Value::String(t)) => t,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(titles, vec!["no token", "ok", "two"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_collision_and_links() {
    let s = serve_one(&[]).await;
    let demo = login(&s, "demo", "demo").await;
    let t = csrf_token(&s, "3", Some(&demo));
    post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "first")],
    )
    .await;
    // edit: title change and a nosy addition
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&demo),
        &[
            ("@action", "edit"),
            ("@csrf", &t),
            ("title", "renamed"),
            ("@add@nosy", "admin"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    assert!(decoded(&location(&r)).contains("edited ok"));
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(
        db.get("issue", "1", "title").unwrap(),
        Some(Value::String("renamed".into()))
    );
    let nosy = db.get("issue", "1", "nosy").unwrap();
    assert!(
        matches!(&nosy, Some(Value::Multilink(v)) if v.contains(&"1".to_string())),
        "{nosy:?}"
    );
    drop(db);
    // a form shown before that edit collides
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&demo),
        &[
            ("@action", "edit"),
            ("@csrf", &t),
            ("title", "stale"),
            ("@lastactivity", "2000-01-01.00:00:00"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("someone else has edited this issue"));
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(
        db.get("issue", "1", "title").unwrap(),
        Some(Value::String("renamed".into()))
    );
    drop(db);
    // new items named in the form and linked: a message for the issue
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&demo),
        &[
            ("@action", "edit"),
            ("@csrf", &t),
            ("msg-1@content", "linked by designator"),
            ("msg-1@author", "demo"),
            ("@link@messages", "msg-1"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
    let db = s.tracker().open_db("1").unwrap();
    assert_eq!(
        db.get("issue", "1", "messages").unwrap(),
        Some(Value::Multilink(vec!["1".into()]))
    );
    drop(db);
    // @required
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[
            ("@action", "new"),
            ("@csrf", &t),
            ("@required", "title,priority"),
            ("title", "x"),
        ],
    )
    .await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Required issue property priority not supplied"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_show_and_csv() {
    let s = serve_one(&[]).await;
    let demo = login(&s, "demo", "demo").await;
    for title in ["alpha bug", "beta bug"] {
        let t = csrf_token(&s, "3", Some(&demo));
        post_form(
            &s,
            "/t/issue",
            Some(&demo),
            &[("@action", "new"), ("@csrf", &t), ("title", title)],
        )
        .await;
    }
    // saved query
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[
            ("@action", "search"),
            ("@csrf", &t),
            ("title", "alpha"),
            ("@columns", "id,title"),
            ("@queryname", "my alpha"),
            ("@template", "index"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let db = s.tracker().open_db("1").unwrap();
    let qids = db.list("query").unwrap();
    assert_eq!(qids.len(), 1);
    assert_eq!(
        db.get("query", &qids[0], "name").unwrap(),
        Some(Value::String("my alpha".into()))
    );
    let url = db.get("query", &qids[0], "url").unwrap();
    assert!(
        matches!(&url, Some(Value::String(u)) if u.contains("title=alpha")),
        "{url:?}"
    );
    assert_eq!(
        db.get("user", "3", "queries").unwrap(),
        Some(Value::Multilink(qids.clone()))
    );
    drop(db);
    // show
    let r = get(&s, "/t/?@action=show&@type=issue&@number=2", Some(&demo)).await;
    assert_eq!(r.status(), 302);
    assert_eq!(location(&r), format!("{}issue2", s.base()));
    let r = get(&s, "/t/?@action=show&@type=issue&@number=x", Some(&demo)).await;
    assert!(r.text().await.unwrap().contains("is not an ID"));
    // CSV
    let r = get(
        &s,
        "/t/issue?@action=export_csv&@columns=id,title&@filter=title&title=bug&@sort=-id",
        Some(&demo),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let body = r.text().await.unwrap();
    assert_eq!(
        body,
        "\"id\",\"title\"\r\n\"2\",\"beta bug\"\r\n\"1\",\"alpha bug\"\r\n"
    );
    // the index filter takes -1 as "not set" (beside ids and keys too)
    {
        let db = s.tracker().open_db("1").unwrap();
        let mut v = roundup_core::Values::new();
        v.insert("assignedto".into(), Some(Value::Link("3".into())));
        db.set("issue", "2", v).unwrap();
        db.commit().unwrap();
    }
    for (value, expected) in [
        ("-1", "\"id\"\r\n\"1\"\r\n"),
        ("-1,demo", "\"id\"\r\n\"1\"\r\n\"2\"\r\n"),
        ("3", "\"id\"\r\n\"2\"\r\n"),
    ] {
        let r = get(
            &s,
            &format!("/t/issue?@action=export_csv&@columns=id&@filter=assignedto&assignedto={value}&@sort=id"),
            Some(&demo),
        )
        .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await.unwrap(), expected, "assignedto={value}");
    }
    let r = get(
        &s,
        "/t/issue?@action=export_csv&@columns=nosuch",
        Some(&demo),
    )
    .await;
    assert_eq!(r.status(), 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_and_password_reset() {
    let s = serve_one(&[("instant_registration", "yes")]).await;
    let t = csrf_token(&s, "2", None);
    let r = post_form(
        &s,
        "/t/user",
        None,
        &[
            ("@action", "register"),
            ("@csrf", &t),
            ("username", "newbie"),
            ("password", "secret"),
            ("@confirm@password", "secret"),
            ("address", "newbie@example.com"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let cookie = session_cookie(&r).expect("registered users are logged in");
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("You are now registered, welcome!"));
    let db = s.tracker().open_db("1").unwrap();
    let uid = db.lookup("user", "newbie").unwrap();
    assert_eq!(
        db.get("user", &uid, "roles").unwrap(),
        Some(Value::String("User".into()))
    );
    drop(db);
    let page = get(&s, "/t/", Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains("Hello, newbie<"));
    // roles may not be chosen at registration
    let t = csrf_token(&s, "2", None);
    let r = post_form(
        &s,
        "/t/user",
        None,
        &[
            ("@action", "register"),
            ("@csrf", &t),
            ("username", "boss"),
            ("roles", "Admin"),
            ("address", "b@example.com"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);

    // password reset: mail with a key, then the key resets the password
    let r = get(
        &s,
        "/t/user?@template=forgotten&@action=passrst&username=demo",
        None,
    )
    .await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Email sent to primary notification address for demo."));
    let mail = sent_mail(&s.home().join("mail.txt"));
    let key_start = mail.find("otk=").unwrap() + 4;
    let otk: String = mail[key_start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let r = get(
        &s,
        &format!("/t/user?@template=forgotten&@action=passrst&otk={otk}"),
        None,
    )
    .await;
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Password reset and email sent to demo@example.com"));
    let mail = sent_mail(&s.home().join("mail.txt"));
    let pw_at = mail.find("Your password is now: ").unwrap() + 22;
    let newpw: String = mail[pw_at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    login(&s, "demo", &newpw).await;
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_with_confirmation_mail() {
    let s = serve_one(&[]).await;
    let t = csrf_token(&s, "2", None);
    let r = post_form(
        &s,
        "/t/user",
        None,
        &[
            ("@action", "register"),
            ("@csrf", &t),
            ("username", "later"),
            ("password", "pw"),
            ("@confirm@password", "pw"),
            ("address", "later@example.com"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    assert!(location(&r).ends_with("user?@template=rego_progress"));
    let db = s.tracker().open_db("1").unwrap();
    assert!(db.lookup("user", "later").is_err());
    drop(db);
    let mail = sent_mail(&s.home().join("mail.txt"));
    let at = mail.find("otk=").unwrap() + 4;
    let otk: String = mail[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    let r = get(&s, &format!("/t/?@action=confrego&otk={otk}"), None).await;
    assert_eq!(r.status(), 200);
    assert!(session_cookie(&r).is_some());
    let db = s.tracker().open_db("1").unwrap();
    let uid = db.lookup("user", "later").unwrap();
    assert_eq!(
        db.get("user", &uid, "address").unwrap(),
        Some(Value::String("later@example.com".into()))
    );
    drop(db);
    login(&s, "later", "pw").await;
    s.stop().await;
}

/// The value of a hidden form field named `name` in a page.
fn hidden_value(page: &str, name: &str) -> Option<String> {
    let i = page.find(&format!("name=\"{name}\""))?;
    let tag_start = page[..i].rfind('<')?;
    let tag = &page[tag_start..tag_start + page[tag_start..].find('>')?];
    let v = tag.find("value=\"")?;
    let after = &tag[v + 7..];
    Some(html_unescape(&after[..after.find('"')?]))
}

/// Registration as Roundup does it, on a template's default
/// configuration ([web] registration_delay = 4, confirmation by a mailed
/// link, no mail transport): the form carries the time it was made; an
/// answer sooner than the delay is refused; a later one stores the
/// details under a one-time key and shows the "registration in
/// progress" page (the mail goes to the server's log); the link with
/// the key makes the user, logs them in and is spent.
async fn register_on_default_config(template: &str) {
    let s = serve_template_defaults(template).await;
    let r = get(&s, "/t/user?@template=register", None).await;
    assert_eq!(r.status(), 200, "{template}: the registration form");
    let asked = std::time::Instant::now();
    let page = r.text().await.unwrap();
    let stamp = hidden_value(&page, "opaqueregister")
        .unwrap_or_else(|| panic!("{template}: the form has no opaqueregister field"));
    let made = roundup_ui::actions::unpack_timestamp(&stamp)
        .unwrap_or_else(|| panic!("{template}: opaqueregister {stamp:?} is not a timestamp"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - made).abs() <= 5,
        "{template}: stamp {made}, now {now}"
    );
    let form = |csrf: String| {
        vec![
            ("@action", "register".to_string()),
            ("@template", "register".to_string()),
            ("@csrf", csrf),
            ("opaqueregister", stamp.clone()),
            ("username", "newbie".to_string()),
            ("password", "new-secret".to_string()),
            ("@confirm@password", "new-secret".to_string()),
            ("address", "newbie@example.com".to_string()),
        ]
    };
    let post = |fields: Vec<(&'static str, String)>| {
        let refs: Vec<(&str, String)> = fields;
        let s = &s;
        async move {
            let pairs: Vec<(&str, &str)> = refs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post_form(s, "/t/user", None, &pairs).await
        }
    };

    // at once: too quick
    let r = post(form(scrape_csrf(&page).expect("a @csrf field"))).await;
    assert_eq!(r.status(), 200, "{template}");
    let page = r.text().await.unwrap();
    assert!(
        page.contains("Responding to form too quickly"),
        "{template}: {page}"
    );
    assert!(otks_with(s.home(), "username", "newbie").is_empty());

    // after the delay
    let wait = Duration::from_millis(4300).saturating_sub(asked.elapsed());
    tokio::time::sleep(wait).await;
    let r = post(form(scrape_csrf(&page).expect("a @csrf field"))).await;
    assert_eq!(r.status(), 302, "{template}: {}", r.text().await.unwrap());
    let to = location(&r);
    assert_eq!(to, s.url("/t/user?@template=rego_progress"), "{template}");
    let r = get(&s, "/t/user?@template=rego_progress", None).await;
    assert_eq!(r.status(), 200, "{template}: the progress page");
    assert!(r.text().await.unwrap().contains("Registration in progress"));
    let keys = otks_with(s.home(), "username", "newbie");
    assert_eq!(keys.len(), 1, "{template}: one pending registration");
    let stored = {
        let mut otks = roundup_sqlite::SqliteKeyStore::open(
            &s.home().join("db"),
            roundup_core::sessions::StoreKind::Otks,
            Duration::from_secs(5),
        )
        .unwrap();
        roundup_core::sessions::KeyStore::get_all(&mut otks, &keys[0])
            .unwrap()
            .unwrap()
    };
    let pw = roundup_core::sessions::record_str(&stored, "password").unwrap_or("");
    assert!(
        pw.starts_with('{') && !pw.contains("new-secret"),
        "{template}: the pending password is kept hashed: {pw:?}"
    );
    assert!(s
        .tracker()
        .open_db("1")
        .unwrap()
        .lookup("user", "newbie")
        .is_err());

    // the link of the mail
    let r = get(&s, &format!("/t/?@action=confrego&otk={}", keys[0]), None).await;
    assert_eq!(r.status(), 200, "{template}");
    assert!(session_cookie(&r).is_some(), "{template}: logged in");
    assert!(r.text().await.unwrap().contains("You are now registered"));
    let db = s.tracker().open_db("1").unwrap();
    let uid = db.lookup("user", "newbie").unwrap();
    assert_eq!(
        db.get("user", &uid, "address").unwrap(),
        Some(Value::String("newbie@example.com".into()))
    );
    assert_eq!(
        db.get("user", &uid, "roles").unwrap(),
        Some(Value::String("User".into())),
        "{template}: [main] new_web_user_roles"
    );
    drop(db);
    assert!(
        otks_with(s.home(), "username", "newbie").is_empty(),
        "spent"
    );
    let r = get(&s, &format!("/t/?@action=confrego&otk={}", keys[0]), None).await;
    assert_eq!(r.status(), 200, "{template}: a spent link");
    assert!(r.text().await.unwrap().contains("No such otk"));
    login(&s, "newbie", "new-secret").await;
    s.stop().await;
}

/// Every shipped template with a registration form registers on its
/// default configuration (classic's is also tested in Chromium, in
/// browser_e2e.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_on_default_config_of_every_template() {
    let registering: Vec<String> = roundup_tracker::templates::list()
        .into_iter()
        .map(|t| t.name.to_lowercase())
        .filter(|t| roundup_tracker::templates::file(t, "html/user.register.html").is_some())
        .collect();
    for needed in ["classic", "minimal"] {
        assert!(registering.iter().any(|t| t == needed), "{registering:?}");
    }
    let runs: Vec<_> = registering
        .iter()
        .map(|t| {
            let t = t.clone();
            tokio::spawn(async move { register_on_default_config(&t).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap();
    }
}

/// The `[mail] debug` file with its quoted-printable bodies decoded (the
/// mail composer encodes long lines, as Roundup does: `otk=` is written
/// `otk=3D`). The messages here are ASCII, so soft breaks and `=XX`
/// escapes are all there is to undo.
fn sent_mail(path: &std::path::Path) -> String {
    let raw = std::fs::read_to_string(path).unwrap();
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let mut out = String::new();
    let mut rest = joined.as_str();
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 1..i + 3).unwrap_or("");
        match u8::from_str_radix(hex, 16) {
            Ok(b) if hex.len() == 2 => {
                out.push(b as char);
                rest = &rest[i + 3..];
            }
            _ => {
                out.push('=');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Mail left in the outbox (here: by a process that died before its
/// delivery) is sent by the server's outbox thread once it is due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sends_mail_left_in_the_outbox() {
    let s = serve_one(&[]).await;
    let now = roundup_core::mail::now();
    {
        let t = s.tracker();
        let mut store = t.open_storage().unwrap();
        let envelope = roundup_core::mail::Envelope {
            sender: "roundup-admin@example.com".into(),
            recipients: vec!["left@example.com".into()],
            message: "Subject: left behind\r\nTo: left@example.com\r\n\r\nstill here\r\n".into(),
        };
        // due now, as after the ten-minute lease of a process that died
        store
            .outbox_add(&envelope, now - 700.0, now - 100.0)
            .unwrap();
        store.commit().unwrap();
    }
    let deadline = std::time::Instant::now()
        + roundup_web::server::OUTBOX_POLL
        + std::time::Duration::from_secs(20);
    let mail_file = s.home().join("mail.txt");
    loop {
        let sent = std::fs::read_to_string(&mail_file).unwrap_or_default();
        if sent.contains("Subject: left behind") {
            assert!(sent.contains("TO: left@example.com"), "{sent}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the outbox thread did not send the waiting message"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let db = s.tracker().open_db("1").unwrap();
    assert!(db.outbox(false).unwrap().is_empty());
    drop(db);
    s.stop().await;
}
