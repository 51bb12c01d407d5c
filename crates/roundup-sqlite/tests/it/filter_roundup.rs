//! Compare filter results with Roundup 2.6 itself: filter_oracle.py builds
//! a tracker with Roundup and prints Roundup's answer for every case of
//! filter_cases.txt; the same cases then run through parse_query and
//! filter_sql on that very database file.

use std::path::Path;
use std::process::Command;

use crate::filter_support::{classic_schema, parse_cases, run, TestSqlite};

/// Cases where Roundup 2.6 itself is wrong, with what we do instead.
const ROUNDUP_BUGS: &[(&str, &str)] = &[(
    "user_assigned_empty",
    "Roundup's `id NOT IN (SELECT _assignedto ...)` is never true once any issue has no assignee (NULL in the list)",
)];

#[test]
fn same_results_as_roundup() {
    let python = Path::new("/opt/rvenv/bin/python");
    if !python.exists() {
        return roundup_testkit::missing_because(
            &roundup_testkit::ROUNDUP26,
            "/opt/rvenv/bin/python does not exist",
        );
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let dir = tempfile::tempdir().expect("tempdir");
    let tracker = dir.path().join("tracker");
    let out = Command::new(python)
        .arg(here.join("filter_oracle.py"))
        .arg(&tracker)
        .arg(here.join("filter_cases.txt"))
        .output()
        .expect("run oracle");
    assert!(
        out.status.success(),
        "oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = String::from_utf8(out.stdout).expect("utf8");
    let cases_text = std::fs::read_to_string(here.join("filter_cases.txt")).expect("cases");
    let cases = parse_cases(&cases_text);

    let conn = rusqlite::Connection::open(tracker.join("db").join("db")).expect("open db");
    let schema = classic_schema();
    let mut failures = Vec::new();
    let mut compared = 0;
    for line in expected.lines() {
        let mut parts = line.splitn(3, '\t');
        let name = parts.next().unwrap_or_default();
        let second = parts.next().unwrap_or_default();
        let case = cases
            .iter()
            .find(|c| c.name == name)
            .expect("case for oracle line");
        if let Some((_, why)) = ROUNDUP_BUGS.iter().find(|(n, _)| *n == name) {
            println!("not compared: {name}: {why}");
            continue;
        }
        let ours = run(&conn, &schema, &case.class, &case.spec, &TestSqlite);
        compared += 1;
        match (second, ours) {
            ("ERROR", Err(e)) => println!(
                "{name}: both fail; Roundup: {}; ours: {e}",
                parts.next().unwrap_or_default()
            ),
            ("ERROR", Ok(ids)) => failures.push(format!(
                "{name}: Roundup fails ({}), we return {ids:?}",
                parts.next().unwrap_or_default()
            )),
            (_, Err(e)) => {
                failures.push(format!("{name}: we fail: {e}; Roundup returns [{second}]"))
            }
            (want, Ok(ids)) => {
                let got = ids.join(",");
                if got != want {
                    failures.push(format!("{name}:\n  roundup {want}\n  ours    {got}"));
                }
            }
        }
    }
    assert!(compared > 90, "only {compared} cases compared");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
