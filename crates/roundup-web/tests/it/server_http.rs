//! Compression, static files, downloads, multi-tracker routing, header
//! passthrough and which requests wait for which.

use std::time::{Duration, SystemTime};

use crate::server_support::*;
use roundup_web::server::ServerSettings;

fn accept(s: &Served, path: &str, enc: &str) -> reqwest::RequestBuilder {
    http().get(s.url(path)).header("Accept-Encoding", enc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_compression_negotiation() {
    let s = serve_one(&[]).await;
    let page = "/t/issue?@ok_message=".to_string() + &"x".repeat(300);
    for (asked, got) in [
        ("gzip, deflate, br, zstd", "zstd"),
        ("gzip, br", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip", "gzip"),
    ] {
        let r = accept(&s, &page, asked).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-encoding"], got, "for {asked}");
        assert!(r.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("Accept-Encoding"));
        let body = r.bytes().await.unwrap();
        let plain = match got {
            "gzip" => {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut s)
                    .unwrap();
                s
            }
            "br" => {
                let mut out = Vec::new();
                brotli::BrotliDecompress(&mut &body[..], &mut out).unwrap();
                String::from_utf8(out).unwrap()
            }
            _ => String::from_utf8(zstd::bulk::decompress(&body, 1 << 20).unwrap()).unwrap(),
        };
        assert!(plain.contains("xxxxxxxx"), "decoded page for {asked}");
    }
    let r = accept(&s, &page, "identity").send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    // tiny responses are not compressed
    let r = accept(&s, "/favicon.ico", "gzip").send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    s.stop().await;

    let off = serve_one(&[("web_dynamic_compression", "no")]).await;
    let r = accept(&off, &page, "gzip").send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    off.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_and_precompressed_siblings() {
    let s = serve_one(&[("web_use_precompressed_files", "yes")]).await;
    let html = s.home().join("html");
    std::fs::create_dir_all(&html).unwrap();
    let js = "function roundup() { return 1; }\n".repeat(20);
    std::fs::write(html.join("lib.js"), &js).unwrap();
    std::fs::write(
        html.join("style.css"),
        "body { color: black; }\n".repeat(10),
    )
    .unwrap();

    let r = get(&s, "/t/@@file/style.css", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/css");
    assert_eq!(r.headers()["cache-control"], "public, max-age=4838400");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let lm = r.headers()["last-modified"].to_str().unwrap().to_string();
    // validators
    let r = http()
        .get(s.url("/t/@@file/style.css"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = http()
        .get(s.url("/t/@@file/style.css"))
        .header("If-Modified-Since", &lm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    // escaping the directory is not possible
    assert_eq!(get(&s, "/t/@@file/../config.ini", None).await.status(), 404);
    assert_eq!(
        get(&s, "/t/@@file/%2e%2e/config.ini", None).await.status(),
        404
    );
    assert_eq!(get(&s, "/t/@@file/nosuch.js", None).await.status(), 404);

    // a fresh .gzip sibling is served as is
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, js.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(html.join("lib.js.gzip"), &gz).unwrap();
    let r = accept(&s, "/t/@@file/lib.js", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert!(!r.headers()["etag"].to_str().unwrap().contains("-gzip"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), &gz[..]);
    // a stale sibling is ignored (the file is compressed on the fly instead)
    let old = SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(html.join("lib.js.gzip"))
        .unwrap()
        .set_modified(old)
        .unwrap();
    let r = accept(&s, "/t/@@file/lib.js", "gzip").send().await.unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    // the ETag of on-the-fly compression carries the encoding
    assert!(r.headers()["etag"].to_str().unwrap().ends_with("-gzip\""));
    // static_files directories come before html/
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_files_are_downloaded_not_shown() {
    let s = serve_one(&[]).await;
    let demo = login(&s, "demo", "demo").await;
    let t = csrf_token(&s, "3", Some(&demo));
    let form = reqwest::multipart::Form::new()
        .text("@action", "new")
        .text("@csrf", t)
        .text("title", "with html")
        .part(
            "@file",
            reqwest::multipart::Part::bytes(b"<script>alert(1)</script>".to_vec())
                .file_name("x.html")
                .mime_str("text/html")
                .unwrap(),
        );
    let r = http()
        .post(s.url("/t/issue"))
        .header("Cookie", &demo)
        .header("Referer", s.base())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let f = get(&s, "/t/file1/x.html", Some(&demo)).await;
    assert_eq!(f.headers()["content-type"], "application/octet-stream");
    assert!(f.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    // anonymous may view files in the classic schema; a file of a class
    // without content is not a download
    assert_eq!(get(&s, "/t/file1/x.html", None).await.status(), 200);
    assert_eq!(get(&s, "/t/issue1/x", None).await.status(), 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_trackers_and_remote_user() {
    let settings = ServerSettings {
        include_headers: vec!["X-Remote-User".into()],
        ..ServerSettings::default()
    };
    let s = serve_many(
        &["one", "two"],
        &[("web_http_auth_header", "X-Remote-User")],
        settings,
    )
    .await;
    let idx = get(&s, "/", None).await;
    assert_eq!(idx.status(), 200);
    let body = idx.text().await.unwrap();
    assert!(
        body.contains("href=\"one/\"") && body.contains("href=\"two/\""),
        "{body}"
    );
    assert_eq!(get(&s, "/one/", None).await.status(), 200);
    assert_eq!(get(&s, "/two/issue", None).await.status(), 200);
    // the front end names the user
    let r = http()
        .get(s.url("/two/"))
        .header("X-Remote-User", "demo")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Hello, demo<"));
    // headers not passed through are ignored
    let r = http()
        .get(s.url("/two/"))
        .header("Remote-User", "admin")
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("name=\"__login_name\""));
    s.stop().await;
}

/// Pages are read on the server's own workers and changes made on threads
/// of their own, so changes that are held up (here an auditor that waits,
/// as one talking to a slow mail server does) hold up no one reading, even
/// when there are more of them than workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_are_answered_while_changes_wait() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = dir.path().join("t");
    make_tracker(&home, "t", port, &[]);
    let held = dir.path().join("held");
    std::fs::create_dir(&held).unwrap();
    std::fs::write(
        home.join("detectors").join("slow.py"),
        format!(
            "import time\n\
             def hold(db, cl, nodeid, newvalues):\n\
             \x20   title = newvalues.get('title', '')\n\
             \x20   open('{}/' + title, 'w').close()\n\
             \x20   time.sleep(4)\n\n\
             def init(db):\n\
             \x20   db.issue.audit('create', hold)\n",
            held.display()
        ),
    )
    .unwrap();
    let s = serve_homes(
        dir,
        listener,
        vec![("t".into(), home)],
        ServerSettings::default(),
    );
    let pages = [
        "/t/issue?@columns=title",
        "/t/",
        "/t/issue?@template=search",
    ];
    // the first request of a page compiles its templates
    for path in pages {
        get(&s, path, None).await;
    }
    let changes: Vec<_> = (0..3)
        .map(|i| {
            let req = http()
                .post(s.url("/t/rest/data/issue"))
                .basic_auth("admin", Some("admin"))
                .header("content-type", "application/json")
                .header("x-requested-with", "rest")
                .header("origin", s.base().trim_end_matches("/t/").to_string())
                .header("referer", s.base())
                .body(format!(r#"{{"title": "held{i}"}}"#));
            tokio::spawn(async move { req.send().await.unwrap().status() })
        })
        .collect();
    // wait until a change is inside its auditor (the others queue behind
    // its write)
    let start = std::time::Instant::now();
    while std::fs::read_dir(&held).unwrap().count() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the changes never reached the auditor"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for path in pages {
        let r = get(&s, path, None).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(
            changes.iter().all(|c| !c.is_finished()),
            "{path} was answered only once a change was done"
        );
    }
    for c in changes {
        assert_eq!(c.await.unwrap(), 201);
    }
    let db = s.tracker().open_db("1").unwrap();
    let mut titles: Vec<String> = db
        .list("issue")
        .unwrap()
        .iter()
        .map(|id| match db.get("issue", id, "title").unwrap() {
            Some(roundup_core::Value::String(t)) => t,
            other => panic!("issue{id} title {other:?}"),
        })
        .collect();
    titles.sort();
    assert_eq!(titles, ["held0", "held1", "held2"]);
    drop(db);
    s.stop().await;
}
