//! The roundup-server and roundup-demo programs, run as processes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server_support::*;

const SERVER: &str = env!("CARGO_BIN_EXE_roundup-server");
const DEMO: &str = env!("CARGO_BIN_EXE_roundup-demo");

/// Poll until `url` answers (any status) or time runs out.
async fn wait_up(client: &reqwest::Client, url: &str) -> reqwest::Response {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        match client.get(url).send().await {
            Ok(r) => return r,
            Err(e) if Instant::now() > until => panic!("{url} did not come up: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A child process that is killed if the test fails before stopping it.
struct Proc(Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}
impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}
impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn term(pid: i32) {
    // SAFETY: signalling a process this test started.
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("process did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tracker_at(dir: &Path, name: &str, port: u16) -> std::path::PathBuf {
    let home = dir.join(name);
    make_tracker(&home, name, port, &[]);
    home
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_pidfile_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = roundup_testkit::free_port();
    tracker_at(dir.path(), "bugs", port);
    let ini = dir.path().join("server.ini");
    std::fs::write(
        &ini,
        format!("[main]\nhost = 127.0.0.1\nport = {port}\npidfile = server.pid\nlogfile = server.log\nmultiprocess = thread\n\n[trackers]\nbugs = bugs\n"),
    )
    .unwrap();
    // -d via the config file: the command returns at once, the daemon runs on
    let st = Command::new(SERVER).arg("-C").arg(&ini).status().unwrap();
    assert!(st.success());
    let client = http();
    let r = wait_up(&client, &format!("http://127.0.0.1:{port}/bugs/")).await;
    assert_eq!(r.status(), 200);
    let pidfile = dir.path().join("server.pid");
    let pid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    term(pid);
    let until = Instant::now() + Duration::from_secs(30);
    while pidfile.exists() && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !pidfile.exists(),
        "the daemon removes its pid file when it stops"
    );
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("\"GET /bugs/ HTTP/1.1\" 200"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn save_config_writes_the_options() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.ini"), "old").unwrap();
    let st = Command::new(SERVER)
        .current_dir(dir.path())
        .args([
            "-p",
            "8017",
            "-u",
            "roundup",
            "--save-config",
            "demo=/trackers/demo",
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let saved = std::fs::read_to_string(dir.path().join("config.ini")).unwrap();
    assert!(saved.contains("port = 8017"));
    assert!(saved.contains("user = roundup"));
    assert!(saved.contains("[trackers]"));
    assert!(saved.contains("demo = /trackers/demo"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("config.bak")).unwrap(),
        "old"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let port = roundup_testkit::free_port();
    let home = dir.path().join("sec");
    make_tracker(
        &home,
        "sec",
        port,
        &[("tracker_web", &format!("https://127.0.0.1:{port}/sec/"))],
    );
    let mut child = Proc(
        Command::new(SERVER)
            .args([
                "-n",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-s",
                "-t",
                "none",
            ])
            .arg(format!("sec={}", home.display()))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = wait_up(&client, &format!("https://127.0.0.1:{port}/sec/")).await;
    assert_eq!(r.status(), 200);
    // plain HTTP is not spoken there
    assert!(http()
        .get(format!("http://127.0.0.1:{port}/sec/"))
        .send()
        .await
        .is_err());
    // cookies over https are Secure and carry the __Secure- prefix
    let token = {
        let s = home.join("db");
        let mut otks = roundup_sqlite::SqliteKeyStore::open(
            &s,
            roundup_core::sessions::StoreKind::Otks,
            Duration::from_secs(5),
        )
        .unwrap();
        use roundup_core::sessions::KeyStore;
        let mut rec = roundup_core::sessions::Record::new();
        rec.insert("uid".into(), roundup_core::pyrepr::PyValue::Str("2".into()));
        rec.insert("sid".into(), roundup_core::pyrepr::PyValue::None);
        otks.set("tok", rec, None).unwrap();
        "tok"
    };
    let r = client
        .post(format!("https://127.0.0.1:{port}/sec/"))
        .header("Referer", format!("https://127.0.0.1:{port}/sec/"))
        .form(&[
            ("@action", "login"),
            ("__login_name", "demo"),
            ("__login_password", "demo"),
            ("@csrf", token),
        ])
        .send()
        .await
        .unwrap();
    let set = all_set_cookies(&r).join("\n");
    assert!(set.contains("__Secure-roundup_session_"), "{set}");
    assert!(set.contains("secure;"), "{set}");
    term(child.id() as i32);
    let st = wait_exit(&mut child);
    assert!(st.success(), "SIGTERM stops the server cleanly: {st:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_creates_then_reuses() {
    let dir = tempfile::tempdir().unwrap();
    let port = roundup_testkit::free_port();
    let run = |args: &[&str]| {
        Proc(
            Command::new(DEMO)
                .current_dir(dir.path())
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let mut child = run(&["-p", &port.to_string()]);
    let client = http();
    let r = wait_up(&client, &format!("http://127.0.0.1:{port}/demo/")).await;
    assert_eq!(r.status(), 200);
    let home = dir.path().join("demo");
    assert!(home.join("config.ini").is_file());
    assert!(!home.join("detectors").join("nosyreaction.py").exists());
    let cfg = std::fs::read_to_string(home.join("config.ini")).unwrap();
    assert!(
        cfg.contains(&format!("http://localhost:{port}/demo/")),
        "tracker web uses the port"
    );
    // the demo user can log in over HTTP
    let r = client
        .post(format!("http://127.0.0.1:{port}/demo/"))
        .header("Host", format!("localhost:{port}"))
        .form(&[
            ("@action", "login"),
            ("__login_name", "demo"),
            ("__login_password", "demo"),
        ])
        .send()
        .await
        .unwrap();
    assert!(session_cookie(&r).is_some(), "demo/demo logs in");
    term(child.id() as i32);
    let out = {
        wait_exit(&mut child);
        let mut s = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut s).unwrap();
        s
    };
    assert!(out.contains("Creating the demo tracker"), "{out}");
    assert!(
        out.contains(&format!("http://localhost:{port}/demo/")),
        "{out}"
    );
    assert!(out.contains("demo (password demo)"), "{out}");

    // an issue made now survives a restart (the demo is reused) ...
    let t = roundup_tracker::Tracker::open(&home).unwrap();
    let db = t.open_db("1").unwrap();
    let mut v = roundup_core::Values::new();
    v.insert(
        "title".into(),
        Some(roundup_core::Value::String("kept".into())),
    );
    db.create("issue", v).unwrap();
    db.commit().unwrap();
    drop(db);
    let mut child = run(&[]);
    let r = wait_up(&client, &format!("http://127.0.0.1:{port}/demo/issue1")).await;
    assert_eq!(r.status(), 200);
    term(child.id() as i32);
    wait_exit(&mut child);
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(!out.contains("Creating the demo tracker"), "{out}");
    // ... and nuke starts over
    let mut child = run(&["-p", &port.to_string(), "nuke"]);
    let r = wait_up(&client, &format!("http://127.0.0.1:{port}/demo/issue1")).await;
    assert_eq!(r.status(), 404);
    term(child.id() as i32);
    wait_exit(&mut child);
}

/// Standard error into a file, to look for a panic message afterwards.
fn stderr_file(dir: &Path, name: &str) -> (std::path::PathBuf, Stdio) {
    let path = dir.join(name);
    let f = std::fs::File::create(&path).unwrap();
    (path, Stdio::from(f))
}

fn assert_no_panic(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        !text.contains("panicked") && !text.contains("Broken pipe"),
        "{}:\n{text}",
        path.display()
    );
}

/// Read one line from a pipe.
fn first_line(r: impl std::io::Read) -> String {
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(r), &mut line).unwrap();
    line
}

/// `roundup-demo | head -1`, and with standard error closed as well: the
/// demo does not panic when its reader goes away, and goes on serving
/// (it logs every request to the closed standard error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_keeps_serving_after_its_output_pipes_close() {
    let dir = tempfile::tempdir().unwrap();
    let client = http();
    for close_stderr in [false, true] {
        let port = roundup_testkit::free_port();
        let (err_path, err) = stderr_file(dir.path(), &format!("demo-{close_stderr}.err"));
        let mut child = Proc(
            Command::new(DEMO)
                .current_dir(dir.path())
                .args(["-p", &port.to_string(), "nuke"])
                .stdout(Stdio::piped())
                .stderr(if close_stderr { Stdio::piped() } else { err })
                .spawn()
                .unwrap(),
        );
        // the reader takes the first line and goes away; the demo is still
        // installing the tracker and has more to print
        let line = first_line(child.stdout.take().unwrap());
        assert!(!line.is_empty());
        drop(child.stderr.take());
        let r = wait_up(&client, &format!("http://127.0.0.1:{port}/demo/")).await;
        assert_eq!(r.status(), 200);
        for _ in 0..5 {
            let r = client
                .get(format!("http://127.0.0.1:{port}/demo/issue?@columns=title"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "the demo serves on");
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the demo is still running"
        );
        term(child.id() as i32);
        let st = wait_exit(&mut child);
        assert!(st.success(), "the demo ends cleanly on SIGTERM: {st:?}");
        if !close_stderr {
            assert_no_panic(&err_path);
        }
    }
}

/// roundup-server with both output pipes closed after its first line
/// goes on serving and logging (into nothing), and `-h | head -1` ends
/// without a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_keeps_serving_after_its_output_pipes_close() {
    let dir = tempfile::tempdir().unwrap();
    let port = roundup_testkit::free_port();
    let home = tracker_at(dir.path(), "bugs", port);
    let mut child = Proc(
        Command::new(SERVER)
            .args(["-n", "127.0.0.1", "-p", &port.to_string()])
            .arg(format!("bugs={}", home.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let line = first_line(child.stderr.take().unwrap());
    assert!(line.contains("serving bugs"), "{line}");
    drop(child.stdout.take());
    let client = http();
    for _ in 0..5 {
        let r = wait_up(&client, &format!("http://127.0.0.1:{port}/bugs/")).await;
        assert_eq!(r.status(), 200, "the server serves on");
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    term(child.id() as i32);
    let st = wait_exit(&mut child);
    assert!(st.success(), "the server ends cleanly on SIGTERM: {st:?}");

    // usage and version into a pipe that is closed before they are written
    for arg in ["-h", "-v"] {
        let (err_path, err) = stderr_file(dir.path(), &format!("server{arg}.err"));
        let mut child = Command::new(SERVER)
            .arg(arg)
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let st = wait_exit(&mut child);
        assert!(st.success(), "roundup-server {arg}: {st:?}");
        assert_no_panic(&err_path);
    }
}

/// `[tracker] language = de` with the system's catalogs found through
/// ROUNDUP_LOCALE_PATH (here Roundup 2.6's own): our built-in classic
/// pages come out in German, and `@language=en` switches back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_speaks_the_trackers_language() {
    let Some(_r) = roundup_testkit::Roundup26::find() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = roundup_testkit::free_port();
    let home = dir.path().join("bugs");
    make_tracker(&home, "bugs", port, &[("tracker_language", "de")]);
    let (errpath, stderr) = stderr_file(dir.path(), "server");
    let _child = Proc(
        Command::new(SERVER)
            .args(["-p", &port.to_string(), "-n", "127.0.0.1"])
            .arg(format!("bugs={}", home.display()))
            .env("ROUNDUP_LOCALE_PATH", roundup_testkit::Roundup26::LOCALE)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let client = http();
    let url = format!("http://127.0.0.1:{port}/bugs/");
    let page = wait_up(&client, &url).await.text().await.unwrap();
    for german in ["Suchen", "alle anzeigen", "Aufgaben"] {
        assert!(page.contains(german), "no {german:?} in the German page");
    }
    assert!(
        !page.contains(">Show All<"),
        "English left in the German page"
    );
    assert!(
        page.contains("<html lang=\"de\">"),
        "the page says its language"
    );
    let r = client
        .get(format!("{url}?@language=en"))
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("roundup_language="))
        .map(str::to_string);
    let page = r.text().await.unwrap();
    assert!(page.contains(">Show All<"), "@language=en gives English");
    assert!(
        cookie.is_some_and(|c| c.starts_with("roundup_language=en; Path=/bugs/;")),
        "@language is remembered"
    );
    // a broken catalog of the tracker's is named, file and line
    std::fs::create_dir_all(home.join("locale")).unwrap();
    std::fs::write(
        home.join("locale/fr.po"),
        "msgid \"Search\"\nmsgstr \"Chercher\n",
    )
    .unwrap();
    let r = client
        .get(format!("{url}?@language=fr"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    let page = r.text().await.unwrap();
    assert!(page.contains("fr.po, line 2"), "{page}");
    assert_no_panic(&errpath);
}
