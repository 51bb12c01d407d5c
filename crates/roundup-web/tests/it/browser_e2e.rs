//! The classic tracker driven the way a person uses it, in headless
//! Chromium through chromedriver (WebDriver): log in, file an issue with an
//! attachment, find it by the search page and by full-text search, edit it,
//! read its history, download the attachment, and take screenshots of the
//! main pages at desktop and phone widths.
//!
//! Needs Debian's `chromium` and `chromium-driver` packages (or the paths
//! in `ROUNDUP_CHROMIUM` / `ROUNDUP_CHROMEDRIVER`); without them the test
//! prints why it is skipped and passes, except under CI (`CI=true`), where
//! it fails. Screenshots go to a temporary
//! directory, or to `ROUNDUP_SCREENSHOT_DIR` when that is set (the ones in
//! docs/screenshots were made that way).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server_support::*;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use roundup_core::value::Value;
use roundup_core::Values;

/// How long any one page change may take before the test gives up.
const WAIT: Duration = Duration::from_secs(20);

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// Words that occur only in the issue this test files, so searches for
/// them can't be satisfied by the fixture issues.
const TITLE: &str = "Widget spins forever after upload";
const NOTE_WORD: &str = "zanzibarian";
const ATTACHMENT: &str = "spin-trace.txt";
const ATTACHMENT_BODY: &str = "frame 0: widget::spin\nframe 1: widget::upload\n";

fn find_binary(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    candidates.iter().map(PathBuf::from).find(|p| p.is_file())
}

/// chromedriver as a child in its own process group, so that dropping
/// this also ends the Chromium it started, even when the test fails.
struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.child.id()) {
            // SAFETY: kill(2) with the negated id of the group we created
            // for our own child; it has no memory-safety preconditions.
            unsafe {
                libc::kill(-pgid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(chromedriver: &Path) -> Driver {
    use std::os::unix::process::CommandExt;
    let port = roundup_testkit::free_port();
    let profile = tempfile::tempdir().expect("temporary Chromium profile directory");
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
    let driver = Driver {
        child,
        port,
        _profile: profile,
    };
    // chromedriver answers /status once it listens
    let status = format!("http://127.0.0.1:{port}/status");
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(r) = http().get(&status).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not answer on port {port} within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    driver
}

async fn start_browser(driver: &Driver, chromium: &Path) -> Client {
    let profile = driver._profile.path().display().to_string();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.display().to_string(),
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--hide-scrollbars",
                format!("--user-data-dir={profile}"),
                format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            ],
        }
    });
    let caps = match caps {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("capabilities are built as an object"),
    };
    ClientBuilder::new(HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .unwrap_or_else(|e| panic!("no Chromium session from chromedriver: {e}"))
}

/// A few issues straight into the database, so the index has groups and
/// more than one row to look at.
fn seed_issues(s: &Served) {
    let t = s.tracker();
    let db = t.open_db("1").expect("open the tracker as admin");
    for (title, priority, status) in [
        ("Login page rejects long passwords", "critical", "chatting"),
        ("Add a dark theme", "wish", "unread"),
        ("Typo in the help text", "feature", "in-progress"),
    ] {
        let mut v = Values::new();
        v.insert("title".into(), Some(Value::String(title.into())));
        let pid = db.lookup("priority", priority).expect("priority exists");
        v.insert("priority".into(), Some(Value::Link(pid)));
        let sid = db.lookup("status", status).expect("status exists");
        v.insert("status".into(), Some(Value::Link(sid)));
        db.create("issue", v).expect("create a fixture issue");
    }
    db.commit().expect("commit the fixture issues");
}

async fn wait_find(c: &Client, loc: Locator<'_>) -> Element {
    let what = format!("{loc:?}");
    match c.wait().at_most(WAIT).for_element(loc).await {
        Ok(e) => e,
        Err(e) => {
            let url = c.current_url().await.map(|u| u.to_string());
            let src = c.source().await.unwrap_or_default();
            panic!("{what} not found on {url:?} within {WAIT:?}: {e}\n{src}")
        }
    }
}

async fn text_of(c: &Client, css: &str) -> String {
    wait_find(c, Locator::Css(css))
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("text of {css}: {e}"))
}

async fn fill(c: &Client, css: &str, value: &str) {
    let e = wait_find(c, Locator::Css(css)).await;
    e.clear()
        .await
        .unwrap_or_else(|e| panic!("clear {css}: {e}"));
    e.send_keys(value)
        .await
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
}

async fn choose(c: &Client, css: &str, label: &str) {
    wait_find(c, Locator::Css(css))
        .await
        .select_by_label(label)
        .await
        .unwrap_or_else(|e| panic!("choose {label:?} in {css}: {e}"));
}

async fn click(c: &Client, loc: Locator<'_>) {
    let what = format!("{loc:?}");
    wait_find(c, loc)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {what}: {e}"));
}

/// Wait until the browser is on a URL containing `needle`.
async fn wait_url(c: &Client, needle: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let url = c
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        if url.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the browser did not get to a URL with {needle:?} within {WAIT:?}: {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Links in the index table that lead to items, as (href, text).
async fn index_links(c: &Client) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for a in c
        .find_all(Locator::Css("table.index td.title a"))
        .await
        .unwrap_or_default()
    {
        let href = a.attr("href").await.ok().flatten().unwrap_or_default();
        let text = a.text().await.unwrap_or_default();
        out.push((href, text));
    }
    out
}

/// Width and height from a PNG's header, or a panic naming what is wrong.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "screenshot is not a PNG ({} bytes)",
        png.len()
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&png[16..20]), be(&png[20..24]))
}

/// Resize the viewport to `size` (CSS pixels), screenshot it and save it as
/// `name` under `dir`, checking the picture has that width.
async fn shoot(c: &Client, dir: &Path, name: &str, size: (u32, u32)) {
    let (w, h) = size;
    c.set_window_size(w, h)
        .await
        .unwrap_or_else(|e| panic!("resize window to {w}x{h}: {e}"));
    // The window size includes whatever frame the browser has; grow it
    // until the viewport itself is the requested size.
    let inner = c
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .unwrap_or_else(|e| panic!("read viewport size: {e}"));
    let iw = inner[0].as_u64().unwrap_or(u64::from(w)) as u32;
    let ih = inner[1].as_u64().unwrap_or(u64::from(h)) as u32;
    if (iw, ih) != (w, h) {
        c.set_window_size(w + w.saturating_sub(iw), h + h.saturating_sub(ih))
            .await
            .unwrap_or_else(|e| panic!("resize window for a {w}x{h} viewport: {e}"));
    }
    let png = c
        .screenshot()
        .await
        .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
    let (pw, _) = png_size(&png);
    assert_eq!(pw, w, "{name}: screenshot width should be the viewport's");
    let path = dir.join(name);
    std::fs::write(&path, &png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// Whether the page is wider than the viewport (a sideways scrollbar).
async fn overflows_sideways(c: &Client) -> bool {
    c.execute(
        "return document.documentElement.scrollWidth > window.innerWidth + 1;",
        vec![],
    )
    .await
    .ok()
    .and_then(|v| v.as_bool())
    .unwrap_or(true)
}

/// Chromium and chromedriver, or `None` after [`roundup_testkit::missing`]
/// (a failure under CI).
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let Some(chromium) = find_binary(
        "ROUNDUP_CHROMIUM",
        &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
    ) else {
        roundup_testkit::missing_because(
            &roundup_testkit::CHROMIUM,
            "no Chromium (or set ROUNDUP_CHROMIUM)",
        );
        return None;
    };
    let Some(chromedriver) = find_binary("ROUNDUP_CHROMEDRIVER", &["/usr/bin/chromedriver"]) else {
        roundup_testkit::missing_because(
            &roundup_testkit::CHROMIUM,
            "no chromedriver (or set ROUNDUP_CHROMEDRIVER)",
        );
        return None;
    };
    Some((chromium, chromedriver))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_files_finds_edits_and_downloads() {
    let Some((chromium, chromedriver)) = browser_tools() else {
        return;
    };

    let s = serve_one(&[]).await;
    seed_issues(&s);
    let driver = start_driver(&chromedriver).await;
    let client = start_browser(&driver, &chromium).await;

    let shots_tmp = tempfile::tempdir().expect("temporary screenshot directory");
    let shots = std::env::var_os("ROUNDUP_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| shots_tmp.path().to_path_buf());
    std::fs::create_dir_all(&shots).expect("create the screenshot directory");

    let outcome = std::panic::AssertUnwindSafe(flow(&client, &s, &shots))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    drop(driver);
    s.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn flow(c: &Client, s: &Served, shots: &Path) {
    let base = s.base();

    // --- log in from the sidebar form
    c.goto(&base).await.expect("open the tracker's front page");
    fill(c, "#login-name", "demo").await;
    fill(c, "#login-password", "demo").await;
    click(c, Locator::Css(".login-form button[type=submit]")).await;
    let hello = text_of(c, "#nav-user").await;
    assert!(
        hello.to_lowercase().contains("hello, demo"),
        "sidebar after login: {hello:?}"
    );

    // --- a new issue with a message and an attached file
    let upload_dir = tempfile::tempdir().expect("directory for the attachment");
    let upload = upload_dir.path().join(ATTACHMENT);
    std::fs::write(&upload, ATTACHMENT_BODY).expect("write the attachment");
    click(c, Locator::LinkText("Create New")).await;
    fill(c, "#title", TITLE).await;
    choose(c, "#priority", "bug").await;
    fill(
        c,
        "#note",
        &format!("After uploading, the {NOTE_WORD} widget never stops spinning."),
    )
    .await;
    wait_find(c, Locator::Css("input[type=file]#file"))
        .await
        .send_keys(&upload.display().to_string())
        .await
        .expect("choose the attachment in the file input");
    click(c, Locator::Css("form.item-form input[type=submit]")).await;
    let ok = text_of(c, ".message.ok").await;
    assert!(ok.contains("created"), "message after creating: {ok:?}");
    let url = c.current_url().await.expect("url after creating");
    let issue = url
        .path_segments()
        .and_then(|mut p| p.next_back())
        .unwrap_or_default()
        .to_string();
    assert!(
        issue
            .strip_prefix("issue")
            .is_some_and(|n| n.parse::<u32>().is_ok()),
        "creating should land on the new issue's page, not {url}"
    );
    let heading = text_of(c, "main h1").await;
    assert!(heading.contains(TITLE), "issue page heading: {heading:?}");
    let files = text_of(c, "section.files").await;
    assert!(files.contains(ATTACHMENT), "files section: {files:?}");
    let msgs = text_of(c, "section.messages").await;
    assert!(msgs.contains(NOTE_WORD), "messages section: {msgs:?}");

    // --- find it with the search page (title contains a word)
    click(c, Locator::Css("nav.sidebar a[href$='@template=search']")).await;
    // with nothing asked for yet the form offers Roundup's default view
    for (css, want) in [
        ("#c-title", true),
        ("#c-status", true),
        ("#c-creator", false),
        (".search-form input[name='@sort'][value=activity]", true),
        (".search-form input[name='@group'][value=priority]", true),
        (".search-form input[name='@group'][value='']", false),
    ] {
        let on = wait_find(c, Locator::Css(css))
            .await
            .is_selected()
            .await
            .expect("checkbox state");
        assert_eq!(on, want, "search page default for {css}");
    }
    fill(c, "#s-title", "spins").await;
    shoot(c, shots, "search-desktop.png", DESKTOP).await;
    click(c, Locator::Css("form.search-form button[type=submit]")).await;
    wait_find(c, Locator::Css("table.index")).await;
    let found = index_links(c).await;
    assert!(
        found.len() == 1 && found[0].0.ends_with(&issue) && found[0].1 == TITLE,
        "title search for 'spins' should find only {issue}: {found:?}"
    );
    let heads = text_of(c, "table.index thead").await.to_lowercase();
    assert!(
        heads.contains("status") && heads.contains("assigned to") && !heads.contains("creator"),
        "the result shows the columns ticked on the search page: {heads:?}"
    );

    // --- and by full-text search from the header box (a word of the message)
    fill(c, "#quick-search-text", NOTE_WORD).await;
    click(c, Locator::Css("form.quick-search button[type=submit]")).await;
    // the page before (the title search) has an index table too: wait
    // for the new one
    wait_url(c, NOTE_WORD).await;
    wait_find(c, Locator::Css("table.index")).await;
    let found = index_links(c).await;
    assert!(
        found.len() == 1 && found[0].0.ends_with(&issue),
        "full-text search for {NOTE_WORD:?} should find only {issue}: {found:?}"
    );
    // a word nobody wrote finds nothing
    fill(c, "#quick-search-text", "xylophonic").await;
    click(c, Locator::Css("form.quick-search button[type=submit]")).await;
    let none = text_of(c, "main .notice").await;
    assert!(
        none.contains("no issues"),
        "search for an unused word: {none:?}"
    );

    // --- the full index, at desktop and phone widths
    click(c, Locator::LinkText("Show All")).await;
    wait_find(c, Locator::Css("table.index")).await;
    let all = index_links(c).await;
    assert_eq!(all.len(), 4, "all four open issues are listed: {all:?}");
    let groups = c
        .find_all(Locator::Css("table.index tr.group"))
        .await
        .expect("group rows");
    assert!(groups.len() >= 3, "the index is grouped by priority");
    shoot(c, shots, "index-desktop.png", DESKTOP).await;
    assert!(
        !overflows_sideways(c).await,
        "index page is wider than a desktop window"
    );
    shoot(c, shots, "index-phone.png", PHONE).await;
    assert!(
        !overflows_sideways(c).await,
        "index page scrolls sideways at phone width"
    );
    c.set_window_size(DESKTOP.0, DESKTOP.1)
        .await
        .expect("back to desktop size");

    // --- edit: status, priority and a note
    c.goto(&format!("{base}{issue}"))
        .await
        .expect("open the issue");
    choose(c, "#status", "in-progress").await;
    choose(c, "#priority", "urgent").await;
    fill(c, "#note", "Reproduced; the spinner waits on a lost event.").await;
    click(c, Locator::Css("form.item-form input[type=submit]")).await;
    let ok = text_of(c, ".message.ok").await;
    assert!(ok.contains("edited ok"), "message after editing: {ok:?}");
    let status = wait_find(c, Locator::Css("#status option:checked"))
        .await
        .text()
        .await
        .expect("chosen status");
    assert_eq!(status.trim(), "in-progress");
    let msgs = c
        .find_all(Locator::Css("section.messages article.msg"))
        .await
        .expect("messages");
    assert_eq!(msgs.len(), 2, "the note became a second message");

    // --- the history shows what changed (old values of the set properties)
    wait_find(c, Locator::Css("table.history")).await;
    let mut rows = Vec::new();
    // Roundup's table: a caption row and a header row, then the entries
    for tr in c
        .find_all(Locator::Css("table.history tr"))
        .await
        .expect("history rows")
    {
        if tr.find(Locator::Css("td")).await.is_ok() {
            rows.push(tr.text().await.expect("history row text"));
        }
    }
    assert_eq!(rows.len(), 2, "history: one creation, one edit: {rows:?}");
    assert!(
        rows[1].contains("demo") && rows[1].contains("create"),
        "oldest history row is demo's creation: {:?}",
        rows[1]
    );
    let edit = &rows[0];
    for expected in [
        "demo",
        "set",
        "priority: bug -> urgent",
        "status: unread -> in-progress",
        "messages:",
        "+ msg2",
    ] {
        assert!(
            edit.contains(expected),
            "the edit's history row should show {expected:?} (old values of what changed): {edit:?}"
        );
    }
    shoot(c, shots, "item-desktop.png", DESKTOP).await;

    // --- download the attachment: the link works in the browser, and the
    //     same URL with the browser's session cookie serves the bytes with
    //     the right type to a plain HTTP client
    let link = wait_find(c, Locator::Css("section.files td a")).await;
    let href = link
        .prop("href")
        .await
        .ok()
        .flatten()
        .expect("download link has an href");
    assert!(href.ends_with(ATTACHMENT), "download URL: {href}");
    let cookie = c
        .get_all_cookies()
        .await
        .expect("browser cookies")
        .into_iter()
        .find(|k| k.name().starts_with("roundup_session_"))
        .map(|k| format!("{}={}", k.name(), k.value()))
        .expect("the browser holds a session cookie");
    let r = http()
        .get(&href)
        .header("Cookie", &cookie)
        .send()
        .await
        .expect("fetch the download URL");
    assert_eq!(r.status(), 200, "download {href}");
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        ctype.starts_with("text/plain"),
        "download Content-Type: {ctype:?}"
    );
    assert_eq!(r.text().await.expect("download body"), ATTACHMENT_BODY);
    link.click().await.expect("follow the download link");
    let shown = text_of(c, "body").await;
    assert!(
        shown.contains("frame 1: widget::upload"),
        "the browser shows the text file: {shown:?}"
    );

    // --- log out
    c.goto(&base).await.expect("front page");
    click(c, Locator::Css("#nav-user ~ form button[type=submit]")).await;
    wait_find(c, Locator::Css("#login-name")).await;
}

/// The "- no selection -" choice of a Link's menu posts "-1": on a new
/// item that leaves the property unset, on an existing one it clears it.
/// (No browser needed; this is what the new-issue form above sends.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_selection_in_a_link_menu_means_unset() {
    let s = serve_one(&[]).await;
    let cookie = login(&s, "demo", "demo").await;
    let demo = s
        .tracker()
        .open_db("1")
        .and_then(|db| db.lookup("user", "demo"))
        .expect("demo's id");
    let bug = s
        .tracker()
        .open_db("1")
        .and_then(|db| db.lookup("priority", "bug"))
        .expect("priority bug");
    let token = csrf_token(&s, &demo, Some(&cookie));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&cookie),
        &[
            ("@action", "new"),
            ("title", "made with no status chosen"),
            ("priority", &bug),
            ("status", "-1"),
            ("assignedto", &demo),
            ("@csrf", &token),
        ],
    )
    .await;
    assert_eq!(r.status(), 302, "creating with status -1 should succeed");
    let loc = location(&r);
    assert!(loc.contains("/t/issue1?"), "{loc}");
    let db = s.tracker().open_db("1").expect("open db");
    // the classic status auditor presets "unread" when none is given
    let unread = db.lookup("status", "unread").expect("status unread");
    assert_eq!(
        db.get("issue", "1", "status").expect("status"),
        Some(Value::Link(unread))
    );
    assert_eq!(
        db.get("issue", "1", "assignedto").expect("assignedto"),
        Some(Value::Link(demo.clone()))
    );
    drop(db);

    let token = csrf_token(&s, &demo, Some(&cookie));
    let r = post_form(
        &s,
        "/t/issue1",
        Some(&cookie),
        &[("@action", "edit"), ("assignedto", "-1"), ("@csrf", &token)],
    )
    .await;
    assert_eq!(r.status(), 302, "clearing assignedto should succeed");
    assert!(decoded(&location(&r)).contains("edited ok"));
    let db = s.tracker().open_db("1").expect("open db");
    assert_eq!(
        db.get("issue", "1", "assignedto").expect("assignedto"),
        None
    );
    s.stop().await;
}

/// A person registers on a classic tracker with the default configuration
/// ([web] registration_delay = 4, confirmation by mail, no mail
/// transport: the mail goes to the server's log, and the test takes the
/// one-time key of its link from the store), then logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_registers_on_the_default_classic_tracker() {
    let Some((chromium, chromedriver)) = browser_tools() else {
        return;
    };
    let s = serve_template_defaults("classic").await;
    let driver = start_driver(&chromedriver).await;
    let client = start_browser(&driver, &chromium).await;
    let outcome = std::panic::AssertUnwindSafe(register_flow(&client, &s))
        .catch_unwind()
        .await;
    let _ = client.close().await;
    drop(driver);
    s.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn register_flow(c: &Client, s: &Served) {
    c.goto(&s.base())
        .await
        .expect("open the tracker's front page");
    click(c, Locator::LinkText("Register")).await;
    let opened = Instant::now();
    let heading = text_of(c, "main h1").await;
    assert!(heading.contains("Registering with"), "{heading:?}");
    fill(c, "#r-realname", "New Person").await;
    fill(c, "#r-username", "newperson").await;
    fill(c, "#r-password", "a long secret").await;
    fill(c, "[id='r-@confirm@password']", "a long secret").await;
    fill(c, "#r-address", "newperson@example.com").await;
    // a person takes longer than [web] registration_delay to fill the form
    tokio::time::sleep(Duration::from_millis(4500).saturating_sub(opened.elapsed())).await;
    click(c, Locator::Css("form.item-form button[type=submit]")).await;
    // (the form's page has a heading too: wait for the next page's)
    wait_url(c, "rego_progress").await;
    let heading = text_of(c, "main h1").await;
    assert!(
        heading.contains("Registration in progress"),
        "after registering: {heading:?}\n{}",
        c.source().await.unwrap_or_default()
    );
    let keys = otks_with(s.home(), "username", "newperson");
    assert_eq!(keys.len(), 1, "one pending registration");

    // the link of the confirmation mail logs the new user in
    c.goto(&format!("{}?@action=confrego&otk={}", s.base(), keys[0]))
        .await
        .expect("open the confirmation link");
    let deadline = Instant::now() + WAIT;
    loop {
        let hello = match c.find(Locator::Css("#nav-user")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if hello.to_lowercase().contains("hello, newperson") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not logged in as newperson after the confirmation link: {hello:?}\n{}",
            c.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let db = s.tracker().open_db("1").expect("open the tracker");
    let uid = db.lookup("user", "newperson").expect("the user exists");
    assert_eq!(
        db.get("user", &uid, "realname").expect("realname"),
        Some(Value::String("New Person".into()))
    );
    drop(db);

    // and can log out and in again with the chosen password
    click(c, Locator::Css("button.link")).await;
    fill(c, "#login-name", "newperson").await;
    fill(c, "#login-password", "a long secret").await;
    click(c, Locator::Css(".login-form button[type=submit]")).await;
    let hello = text_of(c, "#nav-user").await;
    assert!(
        hello.to_lowercase().contains("hello, newperson"),
        "sidebar after logging in again: {hello:?}"
    );
}
