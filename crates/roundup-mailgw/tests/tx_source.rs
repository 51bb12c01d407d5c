//! `db.tx_Source` side by side with Roundup 2.6: where a change comes
//! from, as detectors see it. Two classic homes made by Roundup 2.6's
//! roundup-admin get a detector recording `repr(db.tx_Source)` for every
//! issue created or changed and every user created (auditors and
//! reactors); then the same work is done on each, by Roundup 2.6 on one
//! and by ours on the other: `initialise` and `create`/`set` with
//! roundup-admin, a login, a new issue and an edit through the web UI's
//! forms, a create and an edit over REST and over XML-RPC, a new issue
//! and a reply piped to roundup-mailgw. The recorded lists must be the
//! same. (Signed and encrypted mail, `email-sig-openpgp`, is compared in
//! `pgp.rs`.)
//!
//! Ours: the roundup-mailgw binary, roundup-admin's own `Admin::main`
//! (what its binary runs) and roundup-web's server, in this process.

use std::io::Cursor;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roundup_testkit::Roundup26;

mod support;

const OURS: &str = env!("CARGO_BIN_EXE_roundup-mailgw");

fn wait_for(port: u16, what: &str) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Our server on `home` in this process, until the sender is dropped.
fn start_ours(
    home: &Path,
    listener: TcpListener,
) -> (tokio::runtime::Runtime, tokio::sync::oneshot::Sender<()>) {
    let app = roundup_web::server::App::open(
        &[("t".to_string(), home.to_path_buf())],
        roundup_web::server::ServerSettings::default(),
    )
    .expect("our server opens the tracker");
    listener.set_nonblocking(true).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(roundup_web::server::THREAD_STACK)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(async move {
        let l = tokio::net::TcpListener::from_std(listener).expect("listener");
        roundup_web::server::serve(
            l,
            Arc::new(app),
            None,
            roundup_web::server::ServeOptions::default(),
            async move {
                let _ = stopped.await;
            },
        )
        .await
    });
    (runtime, stop)
}

/// One side's tracker and how to reach it.
struct Side<'a> {
    port: u16,
    /// roundup-admin with these arguments (after `-i home`).
    admin: &'a dyn Fn(&[&str]),
    /// roundup-mailgw with this message on its standard input.
    mailgw: &'a dyn Fn(&[u8]),
}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build(),
    )
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>, what: &str) -> Answer {
    let resp = r.unwrap_or_else(|e| panic!("{what}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.into_body().read_to_string().unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

fn basic_admin() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("admin:secret")
    )
}

/// The value of the `@csrf` field of a page's form.
fn csrf(page: &str) -> String {
    field(page, "@csrf").unwrap_or_else(|| panic!("no @csrf in\n{page}"))
}

/// The value of the input named `name` in a page.
fn field(page: &str, name: &str) -> Option<String> {
    let i = page
        .find(&format!("name=\"{name}\""))
        .or_else(|| page.find(&format!("name='{name}'")))?;
    let start = page[..i].rfind('<')?;
    let end = i + page[i..].find('>')?;
    let tag = &page[start..end];
    let v = tag.find("value=")?;
    let quote = tag[v + 6..].chars().next()?;
    let after = &tag[v + 7..];
    Some(after[..after.find(quote)?].to_string())
}

/// The number at the end of `issueN` in a URL.
fn issue_id(location: &str) -> String {
    let i = location.find("/issue").expect("an issue in the URL") + 6;
    location[i..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

fn xmlrpc_call(method: &str, args: &[&str]) -> String {
    let params: String = args
        .iter()
        .map(|a| format!("<param><value><string>{a}</string></value></param>"))
        .collect();
    format!(
        "<?xml version='1.0'?>\n<methodCall><methodName>{method}</methodName><params>{params}</params></methodCall>\n"
    )
}

/// Do the same work on one side; the ids of the issues made, in order.
fn exercise(side: &Side) -> Vec<String> {
    let base = format!("http://127.0.0.1:{}/t/", side.port);
    let origin = format!("http://127.0.0.1:{}", side.port);
    let http = agent();
    let mut made = Vec::new();

    // roundup-admin
    (side.admin)(&[
        "create",
        "user",
        "username=joe",
        "password=secret",
        "roles=User",
        "address=joe@example.com",
    ]);
    (side.admin)(&["create", "issue", "title=Filed by roundup-admin"]);
    made.push("1".to_string());
    (side.admin)(&["set", "issue1", "title=Renamed by roundup-admin"]);

    // the web UI: log in through the front page's form, a new issue and
    // an edit through the item page's forms
    let get = |path: &str, cookie: Option<&str>| {
        let mut rb = http.get(format!("{base}{path}"));
        if let Some(c) = cookie {
            rb = rb.header("Cookie", c);
        }
        answer(rb.call(), path)
    };
    let post = |path: &str, cookie: Option<&str>, fields: &[(&str, &str)]| {
        let mut rb = http
            .post(format!("{base}{path}"))
            .header("Referer", &base)
            .header("Origin", &origin);
        if let Some(c) = cookie {
            rb = rb.header("Cookie", c);
        }
        answer(rb.send_form(fields.iter().copied()), path)
    };
    let front = get("", None);
    let login = post(
        "",
        None,
        &[
            ("__login_name", "admin"),
            ("__login_password", "secret"),
            ("@action", "Login"),
            ("@csrf", &csrf(&front.body)),
            ("__came_from", &base),
        ],
    );
    assert_eq!(login.status, 302, "login: {}", login.body);
    let cookie = login
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.split(';').next().unwrap_or("").to_string())
        .find(|c| c.starts_with("roundup_session_") && !c.ends_with('='))
        .expect("a session cookie");
    let page = get("issue?@template=item", Some(&cookie));
    let created = post(
        "issue",
        Some(&cookie),
        &[
            ("title", "Filed through the web"),
            ("priority", "bug"),
            ("@note", "It broke."),
            ("@action", "new"),
            ("@csrf", &csrf(&page.body)),
        ],
    );
    assert_eq!(created.status, 302, "web new issue: {}", created.body);
    let id = issue_id(created.header("location").unwrap_or(""));
    let page = get(&format!("issue{id}"), Some(&cookie));
    let last = field(&page.body, "@lastactivity")
        .unwrap_or_else(|| panic!("no @lastactivity on the edit form:\n{}", page.body));
    let edited = post(
        &format!("issue{id}"),
        Some(&cookie),
        &[
            ("title", "Renamed through the web"),
            ("@action", "edit"),
            ("@lastactivity", &last),
            ("@csrf", &csrf(&page.body)),
        ],
    );
    assert_eq!(edited.status, 302, "web edit: {}", edited.body);
    made.push(id);

    // REST, with the headers Roundup asks of a script
    let auth = basic_admin();
    let rest = |method: &str, path: &str, body: &str, etag: Option<&str>| {
        let url = format!("{base}rest/{path}");
        let mut rb = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("Authorization", &auth)
            .header("X-Requested-With", "rest")
            .header("Referer", &base)
            .header("Origin", &origin)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json");
        if let Some(e) = etag {
            rb = rb.header("If-Match", e);
        }
        let sent = if body.is_empty() {
            http.run(rb.body(()).unwrap())
        } else {
            http.run(rb.body(body.to_string()).unwrap())
        };
        answer(sent, &url)
    };
    let created = rest(
        "POST",
        "data/issue",
        r#"{"title": "Filed over REST"}"#,
        None,
    );
    assert_eq!(created.status, 201, "REST create: {}", created.body);
    let json: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    let id = json["data"]["id"].as_str().expect("the new id").to_string();
    let item = rest("GET", &format!("data/issue/{id}"), "", None);
    assert_eq!(item.status, 200, "REST get: {}", item.body);
    let etag = item.header("etag").expect("an ETag").to_string();
    let edited = rest(
        "PUT",
        &format!("data/issue/{id}/title"),
        r#"{"data": "Renamed over REST"}"#,
        Some(&etag),
    );
    assert_eq!(edited.status, 200, "REST edit: {}", edited.body);
    made.push(id);

    // XML-RPC
    let xmlrpc = |body: String| {
        let url = format!("{base}xmlrpc");
        let a = answer(
            http.post(&url)
                .header("Authorization", &auth)
                .header("X-Requested-With", "xmlrpc")
                .header("Referer", &base)
                .header("Origin", &origin)
                .header("Content-Type", "text/xml")
                .send(body),
            &url,
        );
        assert_eq!(a.status, 200, "XML-RPC: {}", a.body);
        assert!(!a.body.contains("<fault>"), "XML-RPC: {}", a.body);
        a.body
    };
    let reply = xmlrpc(xmlrpc_call(
        "create",
        &["issue", "title=Filed over XML-RPC"],
    ));
    let id: String = reply
        .split("<string>")
        .nth(1)
        .and_then(|s| s.split("</string>").next())
        .expect("the new id")
        .to_string();
    xmlrpc(xmlrpc_call(
        "set",
        &[&format!("issue{id}"), "title=Renamed over XML-RPC"],
    ));
    made.push(id);

    // the mail gateway: a new issue, and a reply to it
    (side.mailgw)(
        b"From: Joe <joe@example.com>\nTo: issue_tracker@example.com\nMessage-Id: <tx-1@example.com>\nSubject: [issue] Filed by mail\n\nThe printer is on fire.\n",
    );
    (side.mailgw)(
        b"From: Joe <joe@example.com>\nTo: issue_tracker@example.com\nMessage-Id: <tx-2@example.com>\nIn-Reply-To: <tx-1@example.com>\nSubject: Re: [issue5] Filed by mail\n\nStill burning.\n",
    );
    made.push("5".to_string());
    made
}

fn install(r: &Roundup26, home: &Path, port: u16) {
    r.admin(&[
        "-i",
        home.to_str().unwrap(),
        "install",
        "classic",
        "sqlite",
        &format!(
            "mail_domain=example.com,mail_host=localhost,mail_debug=mail-debug.txt,password_pbkdf2_default_rounds=1000,tracker_web=http://127.0.0.1:{port}/t/"
        ),
    ]);
    support::record_tx_sources(home);
}

#[test]
fn detectors_see_the_same_tx_source_as_under_roundup26() {
    let Some(r) = Roundup26::find() else { return };
    let work = r.workdir();

    // Roundup 2.6
    let reference = work.path().join("reference");
    let rport = roundup_testkit::free_port();
    install(&r, &reference, rport);
    r.admin(&["-i", reference.to_str().unwrap(), "initialise", "secret"]);
    let theirs = {
        let _server = r.start_server(work.path(), &reference, rport);
        let h = reference.to_str().unwrap();
        let admin = |args: &[&str]| {
            let mut all = vec!["-i", h];
            all.extend_from_slice(args);
            r.admin(&all);
        };
        let mailgw = |raw: &[u8]| {
            let out = support::pipe(r.command("/opt/rvenv/bin/roundup-mailgw", &[h]), raw);
            assert!(
                out.status.success(),
                "Roundup's roundup-mailgw: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        exercise(&Side {
            port: rport,
            admin: &admin,
            mailgw: &mailgw,
        })
    };

    // ours
    let mine = work.path().join("ours");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    install(&r, &mine, port);
    let h = mine.to_str().unwrap();
    let admin = |args: &[&str]| {
        let mut all = vec!["-i".to_string(), h.to_string()];
        all.extend(args.iter().map(|a| a.to_string()));
        let mut admin = roundup_admin::Admin::new(Box::new(Cursor::new(Vec::new())));
        assert_eq!(admin.main(&all), 0, "our roundup-admin {args:?}");
    };
    admin(&["initialise", "secret"]);
    let (runtime, stop) = start_ours(&mine, listener);
    wait_for(port, "our server");
    let mailgw = |raw: &[u8]| {
        let mut command = Command::new(OURS);
        command.arg(h).env_remove("ROUNDUP_INSTANCE");
        let out = support::pipe(command, raw);
        assert!(
            out.status.success(),
            "our roundup-mailgw: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ours = exercise(&Side {
        port,
        admin: &admin,
        mailgw: &mailgw,
    });
    let _ = stop.send(());
    runtime.shutdown_timeout(Duration::from_secs(10));

    assert_eq!(ours, theirs, "the issues made");
    let expected = support::tx_sources(&reference);
    // what Roundup recorded covers every front end
    for source in ["'cli'", "'web'", "'rest'", "'xmlrpc'", "'email'"] {
        assert!(
            expected.iter().any(|l| l.ends_with(&format!(" {source}"))),
            "Roundup recorded no {source}:\n{}",
            expected.join("\n")
        );
    }
    assert_eq!(
        support::tx_sources(&mine),
        expected,
        "db.tx_Source as detectors saw it (left ours, right Roundup 2.6's)"
    );
}
