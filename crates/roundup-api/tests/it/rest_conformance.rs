//! The same request sequence sent to Roundup 2.6 (its roundup-server, run
//! as user `rt`) and to our handler; status codes, key headers and the
//! JSON (with dates and ETags normalised) must agree.
//!
//! Skipped, with a printed reason, when /opt/rvenv (Roundup 2.6) or the
//! `rt` user is not available; under CI (`CI=true`) that is a failure.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::rest_support::*;
use base64::Engine;
use roundup_api::rest::{self, ApiAuth, ApiRequest, ApiResponse};
use serde_json::Value as Json;

const RVENV: &str = "/opt/rvenv/bin";

struct Server {
    child: Child,
    /// Written by the shell that becomes roundup-server (`echo $$; exec`).
    pidfile: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        // the server runs as rt below su: end it by its own pid
        if let Ok(pid) = std::fs::read_to_string(&self.pidfile) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn as_rt(cmd: &str) -> Command {
    let mut c = Command::new("su");
    c.args(["rt", "-s", "/bin/sh", "-c", cmd]);
    c
}

fn skip_reason() -> Option<String> {
    if !Path::new(RVENV).join("roundup-server").exists() {
        return Some(format!("{RVENV}/roundup-server is missing"));
    }
    let id = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&id.stdout).trim() != "0" {
        return Some("not root: cannot run Roundup as user rt".into());
    }
    if !Command::new("id")
        .arg("rt")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return Some("no user rt to run Roundup as".into());
    }
    None
}

/// Install, configure and start a classic Roundup tracker.
fn start_roundup(dir: &Path, port: u16) -> Server {
    let home = dir.join("R");
    let web = format!("http://localhost:{port}/T/");
    let d = dir.display();
    let st = as_rt(&format!(
        "cd {d} && {RVENV}/roundup-admin -i R install classic sqlite mail_domain=example.com >/dev/null && \
         sed -i 's|^#web = NO DEFAULT|web = {web}|; s|^jwt_secret = disabled|jwt_secret = {JWT_SECRET}|' R/config.ini && \
         {RVENV}/roundup-admin -i R initialise admin >/dev/null"
    ))
    .status()
    .expect("roundup-admin");
    assert!(st.success(), "installing the Roundup tracker failed");
    let pidfile = dir.join("server.pid");
    let child = as_rt(&format!(
        "echo $$ > {}; exec {RVENV}/roundup-server -p {port} T={}",
        pidfile.display(),
        home.display()
    ))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("roundup-server");
    let server = Server { child, pidfile };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "roundup-server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// A minimal HTTP/1.0 exchange.
fn http(port: u16, req: &ApiRequest) -> ApiResponse {
    let mut path = format!("/T/rest{}", req.path);
    if !req.query.is_empty() {
        let q: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(req.query.iter())
            .finish();
        path = format!("{path}?{q}");
    }
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let mut head = format!("{} {} HTTP/1.0\r\n", req.method, path);
    for (k, v) in &req.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !req.body.is_empty() || req.method != "GET" {
        head.push_str(&format!("content-length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(&req.body).expect("write body");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    ApiResponse {
        status,
        headers,
        body,
    }
}

/// Replace what legitimately differs: dates, ETags, timing.
fn normalise(v: &Json) -> Json {
    match v {
        Json::String(s) => {
            let b = s.as_bytes();
            let is_date = b.len() >= 19
                && b[4] == b'-'
                && b[7] == b'-'
                && b[10] == b'.'
                && b[13] == b':'
                && b[..4].iter().all(u8::is_ascii_digit);
            if is_date {
                Json::from("<date>")
            } else if s.len() == 34 && s.starts_with('"') && s.ends_with('"') {
                Json::from("<etag>")
            } else {
                v.clone()
            }
        }
        Json::Array(a) => Json::Array(a.iter().map(normalise).collect()),
        Json::Object(m) => Json::Object(
            m.iter()
                .map(|(k, v)| {
                    let v = if k == "expires" {
                        Json::from(0)
                    } else {
                        normalise(v)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

struct Step {
    method: &'static str,
    path: String,
    auth: Option<(&'static str, &'static str)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send the ETag last seen (on each side) as If-Match.
    if_match: bool,
}

fn step(method: &'static str, path: &str) -> Step {
    Step {
        method,
        path: path.to_string(),
        auth: Some(("admin", "admin")),
        headers: Vec::new(),
        body: Vec::new(),
        if_match: false,
    }
}

impl Step {
    fn csrf(mut self, port: u16) -> Step {
        self.headers
            .push(("X-Requested-With".into(), "rest".into()));
        self.headers
            .push(("Referer".into(), format!("http://localhost:{port}/T/")));
        self.headers
            .push(("Origin".into(), format!("http://localhost:{port}")));
        self
    }
    fn json(mut self, body: &str) -> Step {
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self.body = body.as_bytes().to_vec();
        self
    }
    fn form(mut self, body: &str) -> Step {
        self.headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        self.body = body.as_bytes().to_vec();
        self
    }
    fn header(mut self, k: &str, v: &str) -> Step {
        self.headers.push((k.into(), v.into()));
        self
    }
    fn anon(mut self) -> Step {
        self.auth = None;
        self
    }
    fn auth(mut self, u: &'static str, p: &'static str) -> Step {
        self.auth = Some((u, p));
        self
    }
    fn etag(mut self) -> Step {
        self.if_match = true;
        self
    }
    fn request(&self, port: u16, etag: &Option<String>) -> ApiRequest {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        let mut headers: Vec<(String, String)> = vec![("host".into(), format!("localhost:{port}"))];
        if let Some((u, p)) = self.auth {
            let enc = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            headers.push(("authorization".into(), format!("Basic {enc}")));
        }
        for (k, v) in &self.headers {
            headers.push((k.to_lowercase(), v.clone()));
        }
        if self.if_match {
            if let Some(e) = etag {
                headers.push(("if-match".into(), e.clone()));
            }
        }
        ApiRequest {
            method: self.method.into(),
            path: path.into(),
            query: form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            headers,
            body: self.body.clone(),
            base: format!("http://localhost:{port}/T/"),
        }
    }
}

fn ours(env: &Env, req: &ApiRequest) -> ApiResponse {
    let db = env.db();
    match env.authenticate(&db, &req.headers) {
        Err(r) => r,
        Ok(auth) => rest::handle(&env.api(), &db, &auth.unwrap_or(ApiAuth::Anonymous), req),
    }
}

#[test]
fn same_answers_as_roundup() {
    if let Some(why) = skip_reason() {
        return roundup_testkit::missing_because(&roundup_testkit::ROUNDUP26, &why);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let _ = Command::new("chown")
        .args(["rt", &dir.path().display().to_string()])
        .status();
    let port = roundup_testkit::free_port();
    let _server = start_roundup(dir.path(), port);
    let base = format!("http://localhost:{port}/T/");
    let env = classic(&[("tracker_web", &base)]);
    // our fixture adds a "demo" user (id 3): give Roundup the same one
    let r = http(
        port,
        &step("POST", "/data/user")
            .csrf(port)
            .json(r#"{"username": "demo", "password": "demo", "roles": "User", "address": "demo@example.com"}"#)
            .request(port, &None),
    );
    assert_eq!(
        r.status,
        201,
        "creating demo in Roundup: {}",
        String::from_utf8_lossy(&r.body)
    );

    let steps = vec![
        step("GET", ""),
        step("GET", "").anon(),
        step("GET", "/data"),
        step("GET", "/data/status/1"),
        step("GET", "/data/status/1?@verbose=2&@protected=true"),
        step("GET", "/data/status/name=chatting"),
        step("GET", "/data/status/chatting?@fields=order"),
        step("GET", "/data/status/name=bogus"),
        step("GET", "/data/status/foo=bar"),
        step("GET", "/data/issue/99"),
        step("GET", "/data/nosuch"),
        step("GET", "/data/status/1/name"),
        step("GET", "/data/status/1/order"),
        step("GET", "/data/status/1/nosuch"),
        step("GET", "/data/user/1/roles"),
        step("POST", "/data/issue").json(r#"{"title": "x"}"#),
        step("POST", "/data/issue")
            .csrf(port)
            .json(r#"{"title": "first bug", "priority": "bug", "nosy": ["admin", "demo"]}"#),
        step("POST", "/data/issue")
            .csrf(port)
            .form("title=second&nosy=admin"),
        step("POST", "/data/issue")
            .csrf(port)
            .json(r#"{"title": "third", "status": "chatting"}"#),
        step("GET", "/data/issue"),
        step(
            "GET",
            "/data/issue?@verbose=2&@fields=status,priority,nosy&@sort=-id",
        ),
        step("GET", "/data/issue?@verbose=0&@fields=nosy"),
        step("GET", "/data/issue?title=BUG"),
        step("GET", "/data/issue?title:=third"),
        step("GET", "/data/issue?status=chatting"),
        step("GET", "/data/issue?nosy=demo"),
        step("GET", "/data/issue?priority=bug,3"),
        step("GET", "/data/issue?status=bogus"),
        step("GET", "/data/issue?@page_size=2&@page_index=1"),
        step("GET", "/data/issue?@page_size=2&@page_index=2"),
        step("GET", "/data/issue?@fields=messages.author"),
        step("GET", "/data/issue?@fields=nosuch"),
        step("GET", "/data/issue?bogus=1"),
        step("GET", "/data/status?@group=-order&@verbose=2"),
        step("GET", "/data/issue/1?@verbose=0"),
        step("GET", "/data/issue/1"),
        step("PUT", "/data/issue/1")
            .csrf(port)
            .json(r#"{"title": "changed"}"#),
        step("PUT", "/data/issue/1")
            .csrf(port)
            .etag()
            .json(r#"{"title": "changed", "nosy": ["1", "3"]}"#),
        step("GET", "/data/issue/1/nosy"),
        step("PATCH", "/data/issue/1")
            .csrf(port)
            .etag()
            .form("@op=remove&nosy=3"),
        step("GET", "/data/issue/1"),
        step("PATCH", "/data/issue/1")
            .csrf(port)
            .etag()
            .json(r#"{"@op": "add", "nosy": ["demo"]}"#),
        step("GET", "/data/issue/1/title"),
        step("PUT", "/data/issue/1/title")
            .csrf(port)
            .etag()
            .form("data=via+attribute"),
        step("GET", "/data/issue/1"),
        step("DELETE", "/data/issue/1/nosy").csrf(port).etag(),
        step("DELETE", "/data/issue/1/creation").csrf(port).etag(),
        step("DELETE", "/data/issue/1/bogus").csrf(port).etag(),
        step("OPTIONS", "/data/issue"),
        step("OPTIONS", "/data/issue/1"),
        step("OPTIONS", "/data/issue/1/title"),
        step("OPTIONS", "/data/issue/1/creation"),
        step("OPTIONS", "/data"),
        step("PUT", "/data").csrf(port),
        step("DELETE", "/data/issue").csrf(port),
        step("GET", "/data/user/roles"),
        step("GET", "/data/user/roles").auth("demo", "demo"),
        step("GET", "/data/issue/2"),
        step("DELETE", "/data/issue/2").csrf(port).etag(),
        step("GET", "/data/issue"),
        step("PATCH", "/data/issue/2")
            .csrf(port)
            .etag()
            .json(r#"{"@op": "action", "@action_name": "restore"}"#),
        step("PATCH", "/data/issue/2")
            .csrf(port)
            .etag()
            .json(r#"{"@op": "action", "@action_name": "bogus"}"#),
        step("GET", "/data/issue.xml"),
        step("GET", "/data/issue.json"),
        step("GET", "/data").header("Accept", "application/vnd.roundup.test-v2+json"),
        step("GET", "/data").header("Accept", "application/vnd.roundup.test-v1+json"),
        step("GET", "/data").header("Accept", "image/png"),
        step("GET", "/data?@apiver=5"),
        step("GET", "/data").header("X-HTTP-Method-Override", "DELETE"),
        step("POST", "/data/status").csrf(port).json("{}"),
        step("POST", "/data/status")
            .csrf(port)
            .json(r#"{"order": "3"}"#),
        step("POST", "/data/status")
            .csrf(port)
            .json(r#"{"name": "unread"}"#),
        step("POST", "/data/status")
            .csrf(port)
            .json(r#"{"name": "x", "bogus": "1"}"#),
        step("POST", "/data/status")
            .csrf(port)
            .header("Content-Type", "text/plain"),
        step("POST", "/data/status")
            .auth("demo", "demo")
            .csrf(port)
            .json(r#"{"name": "x"}"#),
        step("GET", "/data/user/1").auth("demo", "demo"),
        step("GET", "/data/user?roles=admin").auth("demo", "demo"),
        step("GET", "/data").auth("admin", "wrong"),
        step("GET", "/data").header("Origin", "https://evil.example.com"),
        step("POST", "/data/keyword")
            .header("X-Requested-With", "1")
            .header("Referer", &base)
            .json(r#"{"name": "k"}"#),
        // an empty X-Requested-With is no header: refused
        step("POST", "/data/keyword")
            .header("X-Requested-With", "")
            .header("Referer", &base)
            .json(r#"{"name": "k2"}"#),
        step("GET", "/data/keyword"),
        step("OPTIONS", "/data/issue")
            .anon()
            .header("Origin", "https://evil.example.com")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "x-requested-with"),
        step("GET", "/summary"),
    ];

    let mut etag_theirs: Option<String> = None;
    let mut etag_ours: Option<String> = None;
    let mut problems = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        let theirs = http(port, &s.request(port, &etag_theirs));
        let mine = ours(&env, &s.request(port, &etag_ours));
        if let Some(e) = theirs.header("ETag") {
            etag_theirs = Some(e.to_string());
        }
        if let Some(e) = mine.header("ETag") {
            etag_ours = Some(e.to_string());
        }
        let what = format!("#{i} {} {}", s.method, s.path);
        if theirs.status != mine.status {
            problems.push(format!(
                "{what}: status {} (Roundup) vs {} (ours)\n  Roundup: {}\n  ours: {}",
                theirs.status,
                mine.status,
                String::from_utf8_lossy(&theirs.body),
                String::from_utf8_lossy(&mine.body)
            ));
            continue;
        }
        for h in [
            "Content-Type",
            "Allow",
            "Access-Control-Allow-Methods",
            "X-Count-Total",
            "Accept-Patch",
        ] {
            if theirs.header(h) != mine.header(h) {
                problems.push(format!(
                    "{what}: header {h}: {:?} (Roundup) vs {:?} (ours)",
                    theirs.header(h),
                    mine.header(h)
                ));
            }
        }
        for h in ["ETag", "Location"] {
            if theirs.header(h).is_some() != mine.header(h).is_some() {
                problems.push(format!("{what}: header {h} present in only one answer"));
            }
        }
        let tj: Result<Json, _> = serde_json::from_slice(&theirs.body);
        let mj: Result<Json, _> = serde_json::from_slice(&mine.body);
        match (tj, mj) {
            (Ok(t), Ok(m)) => {
                if normalise(&t) != normalise(&m) {
                    problems.push(format!(
                        "{what}: JSON differs\n  Roundup: {}\n  ours:    {}",
                        normalise(&t),
                        normalise(&m)
                    ));
                }
            }
            (Err(_), Err(_)) => {
                if theirs.body != mine.body {
                    problems.push(format!(
                        "{what}: body {:?} vs {:?}",
                        String::from_utf8_lossy(&theirs.body),
                        String::from_utf8_lossy(&mine.body)
                    ));
                }
            }
            _ => problems.push(format!(
                "{what}: only one answer is JSON\n  Roundup: {}\n  ours: {}",
                String::from_utf8_lossy(&theirs.body),
                String::from_utf8_lossy(&mine.body)
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences from Roundup 2.6:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Python's xmlrpc.client runs the same calls against Roundup's /xmlrpc
/// and against ours (through the test HTTP shim); the results must agree
/// once dates are normalised.
#[test]
fn xmlrpc_same_answers_as_roundup() {
    if let Some(why) = skip_reason() {
        return roundup_testkit::missing_because(&roundup_testkit::ROUNDUP26, &why);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let _ = Command::new("chown")
        .args(["rt", &dir.path().display().to_string()])
        .status();
    let port = roundup_testkit::free_port();
    let _server = start_roundup(dir.path(), port);
    let base = format!("http://localhost:{port}/T/");
    let env = classic(&[("tracker_web", &base)]);
    let r = http(
        port,
        &step("POST", "/data/user")
            .csrf(port)
            .json(r#"{"username": "demo", "password": "demo", "roles": "User", "address": "demo@example.com"}"#)
            .request(port, &None),
    );
    assert_eq!(r.status, 201);

    let script = r#"
import xmlrpc.client as x, json, sys, re
url, referer = sys.argv[1], sys.argv[2]
class T(x.Transport):
    def send_headers(self, conn, headers):
        conn.putheader('X-Requested-With', 'rest')
        conn.putheader('Referer', referer)
        super().send_headers(conn, headers)
def proxy(user):
    return x.ServerProxy(url % user, transport=T(), allow_none=True)
s = proxy('admin:admin')
out = []
def norm(v):
    if isinstance(v, str):
        return re.sub(r'<Date [^>]*>', '<date>', v)
    if isinstance(v, list):
        return [norm(i) for i in v]
    if isinstance(v, dict):
        return {k: norm(i) for k, i in v.items()}
    return v
def t(f, *a, who=s):
    try:
        out.append(['ok', norm(getattr(who, f)(*a))])
    except x.Fault as e:
        out.append(['fault', e.faultCode, e.faultString])
    except x.ProtocolError as e:
        out.append(['protocol', e.errcode])
t('create', 'issue', 'title=first bug', 'priority=bug')
t('create', 'issue', 'title=second', 'nosy=admin,demo')
t('create', 'issue', 'title=third', 'status=bogus')
t('create', 'issue', 'title')
t('create', 'status', 'name=unread')
t('set', 'issue1', 'title=first bug changed', 'status=chatting')
t('set', 'issue1', 'nosy=demo')
t('display', 'issue1')
t('display', 'issue1', 'title', 'status', 'priority', 'creation')
t('display', 'issue99')
t('display', 'bogus')
t('filter', 'issue', None, {'title': 'BUG'})
t('filter', 'issue', ['2'], {})
t('filter', 'issue', [], {})
t('filter', 'issue', None, {'nosy': '3'})
t('filter', 'user', None, {'username': 'adm'})
t('filter', 'issue', None, {}, [['-', 'id']])
t('lookup', 'user', 'demo')
t('lookup', 'user', 'nosuch')
t('lookup', 'status', 'chatting')
t('list', 'status')
t('list', 'issue', 'id')
t('list', 'nosuch')
t('nosuch')
t('action', 'retire', 'issue2')
t('filter', 'issue', None, {})
t('action', 'restore', 'issue2')
t('action', 'bogus', 'issue2')
t('create', 'status', 'name=x', who=proxy('demo:demo'))
t('set', 'user1', 'realname=x', who=proxy('demo:demo'))
t('display', 'user1', 'username', who=proxy('demo:demo'))
t('schema')
t('schema', who=proxy('admin:wrong'))
t('schema', who=proxy('nobody:x'))
print(json.dumps(out))
"#;
    let py = ["/usr/bin/python3", "/opt/rvenv/bin/python"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("a python3");
    let theirs = Command::new(py)
        .args([
            "-c",
            script,
            &format!("http://%s@localhost:{port}/T/xmlrpc"),
            &base,
        ])
        .output()
        .expect("python");
    assert!(
        theirs.status.success(),
        "{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    let calls_with_logins = 34;
    let (sport, h) = serve_xmlrpc(env.home().to_path_buf(), calls_with_logins);
    let mine = Command::new(py)
        .args([
            "-c",
            script,
            &format!("http://%s@127.0.0.1:{sport}/xmlrpc"),
            &format!("http://127.0.0.1:{sport}/T/"),
        ])
        .output()
        .expect("python");
    assert!(
        mine.status.success(),
        "{}",
        String::from_utf8_lossy(&mine.stderr)
    );
    h.join().expect("shim");
    let t: Json = serde_json::from_slice(&theirs.stdout).expect("json");
    let m: Json = serde_json::from_slice(&mine.stdout).expect("json");
    let (t, m) = (t.as_array().unwrap(), m.as_array().unwrap());
    // Known difference, from roundup-core: its raw-value parser quotes a
    // bad link value with double quotes where Roundup prints Python's repr
    // (single quotes).
    let requote = |v: &Json| -> Json {
        serde_json::from_str(&v.to_string().replace(
            r#"property status: \"bogus\" is not"#,
            "property status: 'bogus' is not",
        ))
        .unwrap_or(Json::Null)
    };
    let mut problems = Vec::new();
    for (i, (a, b)) in t.iter().zip(m.iter()).enumerate() {
        if *a != requote(b) {
            problems.push(format!("call #{i}:\n  Roundup: {a}\n  ours:    {b}"));
        }
    }
    assert_eq!(t.len(), m.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // a failed login is a fault, not an HTTP error
    assert_eq!(
        t[t.len() - 2],
        serde_json::json!(["fault", 401, "Invalid login"])
    );
}
