//! schemathesis (property-based API testing) against `/rest/openapi.json`
//! of a served classic tracker, through `run_schemathesis.sh`: every
//! operation of the document is called with generated valid and invalid
//! input, and every answer must be documented (status, content type,
//! body schema, `Allow` headers), never a 5xx, with valid input accepted
//! and invalid input refused.
//!
//! Skipped, with a printed reason, when schemathesis is not installed
//! (`.ci/run` puts it in /opt/stvenv; `SCHEMATHESIS` may name the `st`
//! program elsewhere); under CI (`CI=true`) that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::server_support::*;
use roundup_web::server::ServerSettings;

fn st_program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCHEMATHESIS") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new("/opt/stvenv/bin/st");
    if venv.exists() {
        return Some(venv.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("st"))
        .find(|p| p.exists())
}

/// Run the script against `base` as `who` (`user:password` or `-`); the
/// exit status and st's whole report.
async fn run_schemathesis(st: PathBuf, base: String, who: &str) -> (bool, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_schemathesis.sh");
    let who = who.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg(script)
            .arg(&base)
            .arg(&who)
            .args([
                "--max-examples",
                "5",
                "--seed",
                "1",
                "--generation-database",
                "none",
                "--no-color",
                "--request-timeout",
                "30",
            ])
            .env("SCHEMATHESIS", st)
            // schemathesis and hypothesis may leave files in the working
            // directory: not in the source tree
            .current_dir(std::env::temp_dir())
            .output()
            .expect("sh runs")
    })
    .await
    .expect("schemathesis thread");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The report's last lines (the summary), for assertion messages.
fn tail(report: &str, lines: usize) -> String {
    let all: Vec<&str> = report.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn assert_clean(ok: bool, report: &str) {
    assert!(
        report.contains("Tested:"),
        "schemathesis did not test anything:\n{}",
        tail(report, 60)
    );
    assert!(ok, "schemathesis found problems:\n{}", tail(report, 400));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_holds_for_admin() {
    let Some(st) = st_program() else {
        return roundup_testkit::missing(&roundup_testkit::SCHEMATHESIS);
    };
    let s = serve_one(&[]).await;
    let (ok, report) = run_schemathesis(st, s.base(), "admin:admin").await;
    s.stop().await;
    assert_clean(ok, &report);
}

/// As anonymous, with "Rest Access" given to the Anonymous role (classic
/// does not give it; without it every answer is a 403, the document
/// included): the permission checks decide which calls succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_holds_for_anonymous() {
    let Some(st) = st_program() else {
        return roundup_testkit::missing(&roundup_testkit::SCHEMATHESIS);
    };
    let s = serve_prepared(&["t"], &[], ServerSettings::default(), |home| {
        let schema = home.join("schema.py");
        let mut text = std::fs::read_to_string(&schema).unwrap();
        text.push_str("\ndb.security.addPermissionToRole('Anonymous', 'Rest Access')\n");
        std::fs::write(&schema, text).unwrap();
    })
    .await;
    let base = s.base();
    // the grant took effect: the document is readable without credentials
    let r = http()
        .get(format!("{base}rest/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (ok, report) = run_schemathesis(st, base, "-").await;
    s.stop().await;
    assert_clean(ok, &report);
}
