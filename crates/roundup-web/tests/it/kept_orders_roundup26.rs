//! Kept sort orders against Roundup 2.6 itself. Roundup 2.6's classic
//! home, as Roundup installs it, is served by Roundup's roundup-server
//! and by ours from the same database while Roundup's roundup-admin
//! commits (retitles, new issues, retirements, status changes). Our deep
//! index pages are cut from whole orders kept across those commits and
//! repaired after each; every page must list the same issues in the same
//! order as Roundup's page for the same URL.

use indexmap::IndexMap;
use roundup_core::Value;
use roundup_testkit::{give_to_rt, Roundup26};
use roundup_tracker::Tracker;
use roundup_web::server::ServerSettings;

use crate::server_support::*;

/// Issue ids a page links to, in order of first appearance.
fn issue_ids(html: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for part in html.split("href=\"issue").skip(1) {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        if part[digits.len()..].starts_with('"') {
            if let Ok(n) = digits.parse() {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
    }
    out
}

async fn page_ids(url: &str) -> Vec<u32> {
    let r = http().get(url).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{url}: {text}");
    issue_ids(&text)
}

#[tokio::test(flavor = "multi_thread")]
async fn deep_pages_follow_roundup26_commits() {
    const ISSUES: u32 = 1200;
    let Some(r) = Roundup26::find() else { return };
    let work = r.workdir();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let home = work.path().join("t");
    let h = home.to_str().expect("utf-8 path").to_string();
    r.admin(&[
        "-i",
        &h,
        "install",
        "classic",
        "sqlite",
        &format!("mail_domain=example.com,tracker_web=http://127.0.0.1:{port}/t/"),
    ]);
    // no mail while Roundup commits
    std::fs::remove_file(home.join("detectors/nosyreaction.py")).unwrap();
    r.admin(&["-i", &h, "initialise", "secret"]);
    {
        // the bulk of the data through our API (Roundup's admin takes
        // half a second a command); titles shuffled against the ids
        let db = Tracker::open(&home).unwrap().open_db("1").unwrap();
        for i in 0..ISSUES {
            let mut v = IndexMap::new();
            let title = format!("t{:04}", (i * 7919) % ISSUES);
            v.insert("title".to_string(), Some(Value::String(title)));
            v.insert("status".into(), Some(Value::Link((i % 8 + 1).to_string())));
            v.insert(
                "priority".into(),
                Some(Value::Link((i % 5 + 1).to_string())),
            );
            db.create("issue", v).unwrap();
        }
        db.commit().unwrap();
    }
    give_to_rt(work.path());
    let rport = roundup_testkit::free_port();
    let _theirs = r.start_server(work.path(), &home, rport);
    // Roundup's first request sets up its own stores; it is not made
    // while our server opens the same database (it would find it locked)
    page_ids(&format!("http://127.0.0.1:{rport}/t/")).await;
    let ours = serve_homes(
        work,
        listener,
        vec![("t".to_string(), home.clone())],
        ServerSettings::default(),
    );

    let sorts = [
        "title",
        "-activity",
        "priority",
        "status",
        "-creation",
        "id",
    ];
    let compare = |round: usize| {
        let ours = ours.url("/t/");
        async move {
            for sort in sorts {
                for start in [0, 550, 700, 1150] {
                    let q = format!(
                        "issue?@columns=title,id,activity,status,assignedto&@pagesize=50&@sort={sort}&@startwith={start}"
                    );
                    let mine = page_ids(&format!("{ours}{q}")).await;
                    let theirs = page_ids(&format!("http://127.0.0.1:{rport}/t/{q}")).await;
                    assert_eq!(mine, theirs, "round {round}: {sort} from {start}");
                    assert!(!theirs.is_empty(), "{sort} from {start}: empty");
                }
            }
        }
    };
    compare(0).await;
    let admin = |args: &[&str]| {
        let mut all = vec!["-i", h.as_str()];
        all.extend_from_slice(args);
        r.admin(&all);
    };
    for round in 1..=4u32 {
        let n = |k: u32| ((round * 389 + k * 97) % ISSUES + 1).to_string();
        admin(&[
            "set",
            &format!("issue{}", n(1)),
            &format!("title=aaa {round}"),
        ]);
        admin(&[
            "create",
            "issue",
            &format!("title=zzz {round}"),
            "status=2",
            "priority=3",
        ]);
        admin(&["retire", &format!("issue{}", n(2))]);
        admin(&[
            "set",
            &format!("issue{}", n(3)),
            &format!("status={}", round % 8 + 1),
        ]);
        compare(round as usize).await;
    }
    let stats = ours.app.trackers["t"].served.pool.shared_stats();
    assert!(
        stats.order_repairs >= 4 * sorts.len() as u64,
        "the kept orders were not repaired after Roundup's commits: {stats:?}"
    );
}
