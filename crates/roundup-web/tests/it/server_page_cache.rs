//! The rendered-page cache (server/page_cache.rs) through real HTTP:
//! repeated views get fresh one-time tokens, commits made through the web
//! or by another connection show at once, and users never see each
//! other's pages.

use crate::server_support::*;

fn title_in(page: &str, title: &str) -> bool {
    page.contains(title)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_pages_stay_correct() {
    let s = serve_one(&[]).await;
    let demo = login(&s, "demo", "demo").await;
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&demo),
        &[("@action", "new"), ("@csrf", &t), ("title", "alpha")],
    )
    .await;
    assert_eq!(r.status(), 302);

    // the same page twice: same content, different one-time tokens
    let p1 = get(&s, "/t/issue1", None).await.text().await.unwrap();
    let p2 = get(&s, "/t/issue1", None).await.text().await.unwrap();
    assert!(title_in(&p1, "alpha") && title_in(&p2, "alpha"));
    let t1 = scrape_csrf(&p1).expect("login form token");
    let t2 = scrape_csrf(&p2).expect("login form token");
    assert_ne!(
        t1, t2,
        "a stored page must not hand out the same token twice"
    );
    // each token works, once
    for t in [&t1, &t2] {
        let r = post_form(
            &s,
            "/t/",
            None,
            &[
                ("@action", "login"),
                ("__login_name", "demo"),
                ("__login_password", "demo"),
                ("__came_from", &s.base()),
                ("@csrf", t),
            ],
        )
        .await;
        let st = r.status();
        assert_eq!(
            st,
            302,
            "token from a cached page logs in: {}",
            r.text().await.unwrap()
        );
    }
    let r = post_form(
        &s,
        "/t/",
        None,
        &[
            ("@action", "login"),
            ("__login_name", "demo"),
            ("__login_password", "demo"),
            ("@csrf", &t1),
        ],
    )
    .await;
    assert!(r.text().await.unwrap().contains("csrf failure"));

    // a change through the web shows on the very next view
    let page = get(&s, "/t/issue1", Some(&demo))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Hello, demo") || page.contains("demo"));
    let tok = scrape_csrf(&page).unwrap();
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&demo),
        &[("@action", "edit"), ("@csrf", &tok), ("title", "beta")],
    )
    .await;
    assert_eq!(r.status(), 302);
    let p = get(&s, "/t/issue1", None).await.text().await.unwrap();
    // (the history still names the old title)
    assert!(title_in(&p, "beta"));
    let idx = get(&s, "/t/issue?@columns=title", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(title_in(&idx, "beta") && !title_in(&idx, "alpha"));

    // a change by a connection outside the server (as roundup-admin in
    // another process) shows on the next view too
    {
        let db = s.tracker().open_db("1").unwrap();
        let mut v = indexmap::IndexMap::new();
        v.insert(
            "title".to_string(),
            Some(roundup_core::Value::String("gamma".into())),
        );
        db.set("issue", "1", v).unwrap();
        db.commit().unwrap();
    }
    let p = get(&s, "/t/issue1", None).await.text().await.unwrap();
    assert!(title_in(&p, "gamma"));
    let idx = get(&s, "/t/issue?@columns=title", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(title_in(&idx, "gamma") && !title_in(&idx, "beta"));

    // users never get each other's page
    let anon = get(&s, "/t/issue1", None).await.text().await.unwrap();
    let mine = get(&s, "/t/issue1", Some(&demo))
        .await
        .text()
        .await
        .unwrap();
    let anon_again = get(&s, "/t/issue1", None).await.text().await.unwrap();
    assert!(
        anon.contains("__login_name"),
        "anonymous sees the login form"
    );
    assert!(!mine.contains("__login_name"), "demo is logged in");
    assert!(anon_again.contains("__login_name"));
    s.stop().await;
}

/// The cache really serves: a second identical view is a hit (counted by
/// the cache), with the same page but fresh tokens; a commit made behind
/// the server's back (another connection, as another process would) or
/// through the web makes the next view a miss that shows the change;
/// a stored page is not served after its lifetime; each user's pages are
/// their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_view_is_served_from_the_cache_until_a_commit() {
    let s = serve_one(&[]).await;
    {
        let db = s.tracker().open_db("1").unwrap();
        let mut v = indexmap::IndexMap::new();
        v.insert(
            "title".to_string(),
            Some(roundup_core::Value::String("alpha".into())),
        );
        db.create("issue", v).unwrap();
        db.commit().unwrap();
    }
    let cache = &s.app.trackers["t"].pages;
    let view = |cookie: Option<String>| {
        let s = &s;
        async move {
            let r = get(s, "/t/issue1", cookie.as_deref()).await;
            assert_eq!(r.status(), 200);
            r.text().await.unwrap()
        }
    };
    // tokens differ between responses; compare pages without them
    let without_tokens = |page: &str| -> String {
        let mut page = page.to_string();
        for prefix in ["name=\"@csrf\" value=\"", "nonce=\""] {
            let mut out = String::new();
            let mut rest = page.as_str();
            while let Some(i) = rest.find(prefix) {
                let start = i + prefix.len();
                out.push_str(&rest[..start]);
                out.push_str("MASKED");
                rest = &rest[start..];
                rest = &rest[rest.find('"').unwrap_or(rest.len())..];
            }
            out.push_str(rest);
            page = out;
        }
        page
    };

    let first = view(None).await;
    assert!(first.contains("alpha"));
    let hits = cache.hits();
    let second = view(None).await;
    assert_eq!(cache.hits(), hits + 1, "the same view again is a hit");
    assert_eq!(without_tokens(&second), without_tokens(&first));
    assert_ne!(scrape_csrf(&first), scrape_csrf(&second));

    // a commit behind the server's back: the next view is rendered anew
    {
        let db = s.tracker().open_db("1").unwrap();
        let mut v = indexmap::IndexMap::new();
        v.insert(
            "title".to_string(),
            Some(roundup_core::Value::String("beta".into())),
        );
        db.set("issue", "1", v).unwrap();
        db.commit().unwrap();
    }
    let hits = cache.hits();
    let page = view(None).await;
    assert_eq!(
        cache.hits(),
        hits,
        "no stored page is served after a commit"
    );
    assert!(page.contains("beta"));
    let page = view(None).await;
    assert_eq!(cache.hits(), hits + 1, "and the new page is stored");
    assert!(page.contains("beta"));

    // a commit through the web does the same
    let demo = login(&s, "demo", "demo").await;
    let t = csrf_token(&s, "3", Some(&demo));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&demo),
        &[("@action", "edit"), ("@csrf", &t), ("title", "gamma")],
    )
    .await;
    assert_eq!(r.status(), 302);
    let hits = cache.hits();
    let page = view(None).await;
    assert_eq!(cache.hits(), hits);
    assert!(page.contains("gamma"));

    // another user's view of the same URL is not the anonymous page
    let hits = cache.hits();
    let mine = view(Some(demo.clone())).await;
    assert_eq!(cache.hits(), hits, "demo's first view is rendered for demo");
    assert!(!mine.contains("__login_name"));
    let mine = view(Some(demo.clone())).await;
    assert_eq!(cache.hits(), hits + 1);
    assert!(!mine.contains("__login_name"));
    let anon = view(None).await;
    assert_eq!(cache.hits(), hits + 2);
    assert!(anon.contains("__login_name"));

    // a stored page lives no longer than its lifetime
    tokio::time::sleep(roundup_ui::page_cache::TTL + std::time::Duration::from_millis(300)).await;
    let hits = cache.hits();
    view(None).await;
    assert_eq!(cache.hits(), hits, "an expired page is rendered anew");
    view(None).await;
    assert_eq!(cache.hits(), hits + 1);
    s.stop().await;
}
