//! Shared fixtures for the server tests: a classic tracker on an
//! ephemeral port, served in-process, and an HTTP client that keeps the
//! session cookie by hand.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use roundup_core::password::Password;
use roundup_core::pyrepr::PyValue;
use roundup_core::sessions::{KeyStore, Record, StoreKind};
use roundup_core::value::Value;
use roundup_core::Values;
use roundup_sqlite::SqliteKeyStore;
use roundup_tracker::Tracker;
use roundup_web::server::{self, App, ServeOptions, ServerSettings};

pub struct Served {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// What the server serves (its trackers' state: caches, stores).
    pub app: Arc<App>,
    pub homes: Vec<(String, PathBuf)>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    pub fn home(&self) -> &Path {
        &self.homes[0].1
    }
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
    pub fn base(&self) -> String {
        self.url(&format!("/{}/", self.homes[0].0))
    }
    pub fn tracker(&self) -> Tracker {
        Tracker::open(self.home()).unwrap()
    }
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// Install and initialise a classic tracker whose web URL uses `port`,
/// with users admin/admin and demo/demo (role User).
pub fn make_tracker(home: &Path, name: &str, port: u16, extra: &[(&str, &str)]) {
    let mut settings: Vec<(String, String)> = vec![
        (
            "tracker_web".into(),
            format!("http://127.0.0.1:{port}/{name}/"),
        ),
        ("mail_domain".into(), "example.com".into()),
        (
            "mail_debug".into(),
            home.join("mail.txt").display().to_string(),
        ),
        // keep password hashing cheap in tests
        ("password_pbkdf2_default_rounds".into(), "1000".into()),
        ("web_registration_delay".into(), "0".into()),
    ];
    for (k, v) in extra {
        settings.retain(|(kk, _)| kk != k);
        settings.push((k.to_string(), v.to_string()));
    }
    roundup_tracker::install(home, "classic", "sqlite", &settings).unwrap();
    let t = Tracker::open(home).unwrap();
    t.initialise("admin", "admin@example.com").unwrap();
    let db = t.open_db("1").unwrap();
    let mut v = Values::new();
    v.insert("username".into(), Some(Value::String("demo".into())));
    v.insert(
        "password".into(),
        Some(Value::Password(Password::hash(
            "demo",
            db.options().password_scheme,
            1000,
        ))),
    );
    v.insert(
        "address".into(),
        Some(Value::String("demo@example.com".into())),
    );
    v.insert("roles".into(), Some(Value::String("User".into())));
    db.create("user", v).unwrap();
    db.commit().unwrap();
}

/// Serve one tracker (`t`) with the given extra config settings.
pub async fn serve_one(extra: &[(&str, &str)]) -> Served {
    serve_many(&["t"], extra, ServerSettings::default()).await
}

/// Serve one tracker (`t`) installed from `template` with that template's
/// default configuration: only the web URL and mail domain, which an
/// install needs, are set (so `[web] registration_delay` is as shipped
/// and no `[mail] debug` file records mail). Initialised with the admin
/// password `admin`.
pub async fn serve_template_defaults(template: &str) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = dir.path().join("t");
    let settings = vec![
        (
            "tracker_web".to_string(),
            format!("http://127.0.0.1:{port}/t/"),
        ),
        ("mail_domain".to_string(), "example.com".to_string()),
    ];
    roundup_tracker::install(&home, template, "sqlite", &settings).unwrap();
    Tracker::open(&home)
        .unwrap()
        .initialise("admin", "admin@example.com")
        .unwrap();
    serve_homes(
        dir,
        listener,
        vec![("t".to_string(), home)],
        ServerSettings::default(),
    )
}

/// Serve already made tracker homes on `listener`.
pub fn serve_homes(
    dir: tempfile::TempDir,
    listener: std::net::TcpListener,
    homes: Vec<(String, PathBuf)>,
    settings: ServerSettings,
) -> Served {
    let port = listener.local_addr().unwrap().port();
    let app = Arc::new(App::open(&homes, settings).unwrap());
    let served = app.clone();
    listener.set_nonblocking(true).unwrap();
    let l = tokio::net::TcpListener::from_std(listener).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stop = async move {
            let _ = rx.await;
        };
        server::serve(l, app, None, ServeOptions::default(), stop)
            .await
            .unwrap();
    });
    Served {
        dir,
        port,
        app: served,
        homes,
        stop: Some(tx),
        task: Some(task),
    }
}

/// The one-time keys in a tracker's store whose record has `name` =
/// `value` (e.g. the registration of a user name).
pub fn otks_with(home: &Path, name: &str, value: &str) -> Vec<String> {
    let mut otks =
        SqliteKeyStore::open(&home.join("db"), StoreKind::Otks, Duration::from_secs(5)).unwrap();
    let mut out = Vec::new();
    for key in otks.keys().unwrap() {
        if let Some(rec) = otks.get_all(&key).unwrap() {
            if roundup_core::sessions::record_str(&rec, name) == Some(value) {
                out.push(key);
            }
        }
    }
    out
}

pub async fn serve_many(
    names: &[&str],
    extra: &[(&str, &str)],
    settings: ServerSettings,
) -> Served {
    serve_prepared(names, extra, settings, |_| {}).await
}

/// As [`serve_many`], with `prepare` run on each tracker home after it is
/// made and before it is served (to change its schema, say).
pub async fn serve_prepared(
    names: &[&str],
    extra: &[(&str, &str)],
    settings: ServerSettings,
    prepare: impl Fn(&Path),
) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut homes = Vec::new();
    for n in names {
        let home = dir.path().join(n);
        make_tracker(&home, n, port, extra);
        prepare(&home);
        homes.push((n.to_string(), home));
    }
    serve_homes(dir, listener, homes, settings)
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The session cookie (`name=value`) from a response, if one was set.
pub fn session_cookie(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("roundup_session_") || c.starts_with("__Secure-roundup_session_"))
        .and_then(|c| c.split(';').next())
        .filter(|nv| !nv.ends_with('='))
        .map(str::to_string)
}

pub fn all_set_cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// Log in through the login action; the session cookie.
pub async fn login(s: &Served, user: &str, pw: &str) -> String {
    let token = csrf_token(s, "2", None);
    let resp = http()
        .post(s.base())
        .header("Referer", s.base())
        .header("Origin", s.url(""))
        .form(&[
            ("@action", "login"),
            ("__login_name", user),
            ("__login_password", pw),
            ("__came_from", &s.base()),
            ("@csrf", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 302, "login as {user} should redirect");
    session_cookie(&resp).expect("login sets a session cookie")
}

/// A CSRF token for `uid` and the session in `cookie` (straight into the
/// one-time-key store, as a rendered form would).
pub fn csrf_token(s: &Served, uid: &str, cookie: Option<&str>) -> String {
    let db_dir = s.home().join("db");
    let mut otks = SqliteKeyStore::open(&db_dir, StoreKind::Otks, Duration::from_secs(5)).unwrap();
    let key = roundup_core::sessions::random_key(24, true);
    let mut rec = Record::new();
    rec.insert("uid".into(), PyValue::Str(uid.into()));
    rec.insert(
        "sid".into(),
        match cookie
            .and_then(|c| c.split_once('='))
            .map(|(_, v)| v.to_string())
        {
            Some(sid) => PyValue::Str(sid),
            None => PyValue::None,
        },
    );
    otks.set(&key, rec, Some(roundup_core::sessions::now() + 600.0))
        .unwrap();
    key
}

/// `@csrf` value scraped from a page.
pub fn scrape_csrf(page: &str) -> Option<String> {
    let i = page.find("name=\"@csrf\"")?;
    let rest = &page[i..];
    let v = rest.find("value=\"")?;
    let after = &rest[v + 7..];
    Some(after[..after.find('"')?].to_string())
}

/// POST a form as a browser on the tracker's own pages would.
pub async fn post_form(
    s: &Served,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut rb = http()
        .post(s.url(path))
        .header("Referer", s.base())
        .header("Origin", s.url(""))
        .form(fields);
    if let Some(c) = cookie {
        rb = rb.header("Cookie", c);
    }
    rb.send().await.unwrap()
}

pub async fn get(s: &Served, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut rb = http().get(s.url(path));
    if let Some(c) = cookie {
        rb = rb.header("Cookie", c);
    }
    rb.send().await.unwrap()
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Percent-decoded text of a URL (for reading messages in redirects).
pub fn decoded(url: &str) -> String {
    percent_encoding::percent_decode_str(&url.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

/// The value of the input named `name` in a page (as written, not
/// decoded).
pub fn field_value(page: &str, name: &str) -> Option<String> {
    let i = page.find(&format!("name=\"{name}\""))?;
    let start = page[..i].rfind('<')?;
    let end = i + page[i..].find('>')?;
    let tag = &page[start..end];
    let v = tag.find("value=\"")?;
    let after = &tag[v + 7..];
    Some(after[..after.find('"')?].to_string())
}

/// An attribute value or text as written in a page, decoded: the
/// entities our pages write (minijinja escapes `/` too).
pub fn html_unescape(s: &str) -> String {
    s.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
