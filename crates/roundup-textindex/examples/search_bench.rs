//! Two-word full-text searches on a tracker database, timed through
//! Roundup's word tables and through the inverted index, each followed by
//! the step that turns message hits into issues (see bench/search/run.sh).
//!
//!   search_bench <db dir> [searches] [writes | grow=N]
//!
//! With `grow=N`, it first adds N message texts like the bench data's
//! (8 to 30 words of its vocabulary) through both indexes in bulk, to time
//! searches at a larger scale (use a copy).
//! With `writes`, it also times commits that index one text, with and
//! without the inverted index (they add `benchwrite` texts to the
//! database: use a copy).

use std::time::{Duration, Instant};

use roundup_core::backend::Backend;
use roundup_core::schema::{ClassDef, ClassKind};
use roundup_core::storage::Storage;
use roundup_textindex::TextEngine;

fn main() {
    if let Err(e) = run() {
        eprintln!("search_bench: {e}");
        std::process::exit(1);
    }
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let db_dir = std::path::PathBuf::from(
        args.get(1)
            .ok_or("usage: search_bench <db dir> [searches]")?,
    );
    let n: usize = args.get(2).map(|s| s.parse().unwrap_or(20)).unwrap_or(20);
    let sqlite = roundup_sqlite::SqliteBackend::new(&db_dir, Duration::from_secs(5));
    let mut st = sqlite.open().map_err(|e| e.to_string())?;
    let engine =
        TextEngine::open(&db_dir.join("text-index"), false, &[]).map_err(|e| e.to_string())?;
    if engine.is_stale() {
        return Err("the index is stale: run roundup-admin reindex first".into());
    }
    if let Some(grow) = args.get(3).and_then(|a| a.strip_prefix("grow=")) {
        let grow: u64 = grow
            .parse()
            .map_err(|_| format!("grow={grow}: not a number"))?;
        let mut with_index: Box<dyn Storage> =
            Box::new(roundup_textindex::TextIndexedStorage::new(
                sqlite.open().map_err(|e| e.to_string())?,
                engine.clone(),
            ));
        let vocab: Vec<&str> = "printer network crash login timeout database upgrade email report \
            search memory disk cache session window button screen keyboard mouse font \
            export import backup restore server client proxy certificate password token \
            queue worker thread socket packet router firewall license install config"
            .split_whitespace()
            .collect();
        let mut seed: u64 = 20261121;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let t = Instant::now();
        let mut done = 0;
        while done < grow {
            let batch = (grow - done).min(50_000);
            with_index.set_bulk(true).map_err(|e| e.to_string())?;
            for k in done..done + batch {
                let len = 8 + next(23);
                let text: Vec<&str> = (0..len)
                    .map(|_| vocab[next(vocab.len() as u64) as usize])
                    .collect();
                with_index
                    .index_text(
                        "msg",
                        &(1_000_000 + k).to_string(),
                        "content",
                        &text.join(" "),
                    )
                    .map_err(|e| e.to_string())?;
            }
            with_index.set_bulk(false).map_err(|e| e.to_string())?;
            with_index.commit().map_err(|e| e.to_string())?;
            done += batch;
        }
        println!("added {grow} texts in {:.1} s", t.elapsed().as_secs_f64());
    }
    // Words of the data's vocabulary, common ones first, as a user types them.
    let vocab = [
        "session",
        "report",
        "keyboard",
        "button",
        "client",
        "cache",
        "font",
        "restore",
        "timeout",
        "certificate",
        "window",
        "database",
    ];
    let issue =
        ClassDef::new("issue", ClassKind::Issue, Default::default()).map_err(|e| e.to_string())?;
    let mut native = Vec::new();
    let mut index = Vec::new();
    let mut index_to_issues = Vec::new();
    let mut issues_found = 0;
    for k in 0..n {
        let a = vocab[k % vocab.len()];
        let b = vocab[(k * 7 + 3) % vocab.len()];
        let words = vec![a.to_string(), b.to_string()];
        let t = Instant::now();
        let hn = st.search_text(&words, None).map_err(|e| e.to_string())?;
        native.push(t.elapsed());
        let t = Instant::now();
        let hi = engine.search(&words, None).map_err(|e| e.to_string())?;
        index.push(t.elapsed());
        let msgs: Vec<String> = hi
            .iter()
            .filter(|h| h.class == "msg")
            .map(|h| h.id.clone())
            .collect();
        let found = st
            .find_linking(&issue, "messages", &msgs)
            .map_err(|e| e.to_string())?;
        index_to_issues.push(t.elapsed());
        if hn != hi {
            return Err(format!(
                "{words:?}: the two ways disagree ({} and {} hits)",
                hn.len(),
                hi.len()
            ));
        }
        issues_found += found.len();
    }
    println!(
        "{n} two-word searches, {} issues found on average",
        issues_found / n.max(1)
    );
    for (what, v) in [
        ("word tables (texts)", &mut native),
        ("inverted index (texts)", &mut index),
        ("inverted index + issues", &mut index_to_issues),
    ] {
        println!(
            "{what:26} p50 {:8.2} ms  p90 {:8.2} ms",
            pct(&mut v.clone(), 0.5),
            pct(v, 0.9)
        );
    }
    if args.get(3).map(String::as_str) == Some("writes") {
        let mut plain = Vec::new();
        let mut indexed = Vec::new();
        let mut with_index: Box<dyn Storage> =
            Box::new(roundup_textindex::TextIndexedStorage::new(
                sqlite.open().map_err(|e| e.to_string())?,
                engine.clone(),
            ));
        for k in 0..n {
            let text = format!("benchwrite text number {k} about session caches");
            let t = Instant::now();
            st.index_text("benchwrite", &k.to_string(), "content", &text)
                .map_err(|e| e.to_string())?;
            st.commit().map_err(|e| e.to_string())?;
            plain.push(t.elapsed());
            let t = Instant::now();
            with_index
                .index_text("benchwrite", &(k + n).to_string(), "content", &text)
                .map_err(|e| e.to_string())?;
            with_index.commit().map_err(|e| e.to_string())?;
            indexed.push(t.elapsed());
        }
        println!(
            "commit of one text, word tables only: p50 {:8.2} ms  p90 {:8.2} ms",
            pct(&mut plain.clone(), 0.5),
            pct(&mut plain, 0.9)
        );
        println!(
            "commit of one text, and the index:    p50 {:8.2} ms  p90 {:8.2} ms",
            pct(&mut indexed.clone(), 0.5),
            pct(&mut indexed, 0.9)
        );
    }
    Ok(())
}
