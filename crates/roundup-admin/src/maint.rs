//! Whole-database commands: export/import (and the -tables variants),
//! pack, reindex, migrate, perftest, updateconfig and readline.

use std::path::Path;
use std::time::Instant;

use roundup_core::config::Config;
use roundup_core::date::Date;
use roundup_core::password::{Password, Scheme};

use crate::commands::{failed, get_class, props_from_args, split_designator, NOT_ENOUGH};
use crate::{transfer, Admin, CmdError, CmdResult};

// --------------------------------------------------------------------------
// export / import

fn export_classes(admin: &Admin, args: &[String]) -> Result<Vec<String>, CmdError> {
    let db = admin.db()?;
    let all: Vec<String> = db.schema().classes.keys().cloned().collect();
    if args.len() != 2 {
        return Ok(all);
    }
    if let Some(excluded) = args[0].strip_prefix('-') {
        let excluded: Vec<&str> = excluded.split(',').collect();
        return Ok(all
            .into_iter()
            .filter(|c| !excluded.contains(&c.as_str()))
            .collect());
    }
    let mut out = Vec::new();
    for name in args[0].split(',') {
        get_class(db, name)?;
        out.push(name.to_string());
    }
    Ok(out)
}

fn export(admin: &mut Admin, args: &[String], files: bool) -> CmdResult {
    let Some(dir) = args.last() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let classes = export_classes(admin, args)?;
    let db = admin.db()?;
    let report = transfer::export(db, &classes, Path::new(dir), files).map_err(CmdError::failed)?;
    let limit = admin.tracker()?.config().csv_field_size();
    if report.longest_field as u64 > limit {
        eprintln!(
            "Warning: config csv_field_size should be at least {}",
            report.longest_field
        );
    }
    Ok(0)
}

pub(crate) fn do_export(admin: &mut Admin, args: &[String]) -> CmdResult {
    export(admin, args, true)
}

pub(crate) fn do_exporttables(admin: &mut Admin, args: &[String]) -> CmdResult {
    export(admin, args, false)
}

fn import(admin: &mut Admin, args: &[String], files: bool) -> CmdResult {
    let Some(dir) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let pending = admin.uncommitted;
    let db = admin.db()?;
    let lines = transfer::import(db, Path::new(dir), files, pending)
        .map_err(|e| CmdError::failed(format!("import stopped, nothing was imported: {e}")))?;
    for line in lines {
        println!("{line}");
    }
    admin.uncommitted = true;
    Ok(0)
}

pub(crate) fn do_import(admin: &mut Admin, args: &[String]) -> CmdResult {
    import(admin, args, true)
}

pub(crate) fn do_importtables(admin: &mut Admin, args: &[String]) -> CmdResult {
    import(admin, args, false)
}

// --------------------------------------------------------------------------
// pack

/// The cut-off date of `pack`: `yyyy-mm-dd` or a period such as `3y`,
/// `1m 25d` or `2w` counted back from now.
pub fn pack_cutoff(value: &str, now: Date) -> Result<Date, String> {
    let v = value.trim();
    let tz = roundup_core::date::Timezone::Utc;
    let is_date = {
        let parts: Vec<&str> = v.splitn(3, '-').collect();
        parts.len() == 3
            && parts[0].len() == 4
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().take(2).all(|b| b.is_ascii_digit()))
    };
    if is_date {
        return Date::parse_at(v, &tz, now).map_err(|e| format!("\"{value}\" is not a date: {e}"));
    }
    let mut rest = v;
    let mut any = false;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let unit = rest[digits..].chars().next();
        if digits == 0 || !matches!(unit, Some('y' | 'm' | 'w' | 'd')) {
            any = false;
            break;
        }
        any = true;
        rest = rest[digits + 1..].trim_start();
    }
    if !any {
        return Err(format!(
            "\"{value}\" is neither a date (yyyy-mm-dd) nor a period such as 3y, 1m 25d or 2w"
        ));
    }
    Date::parse_at(&format!(". - {v}"), &tz, now)
        .map_err(|e| format!("\"{value}\" is not a period: {e}"))
}

pub(crate) fn do_pack(admin: &mut Admin, args: &[String]) -> CmdResult {
    if args.len() != 1 {
        return Err(CmdError::usage(NOT_ENOUGH));
    }
    let before = pack_cutoff(&args[0], Date::now()).map_err(CmdError::failed)?;
    admin.db()?.pack(&before).map_err(failed)?;
    admin.uncommitted = true;
    Ok(0)
}

// --------------------------------------------------------------------------
// reindex

/// `issue:1-100` as (class, from, to).
fn parse_range(arg: &str) -> Option<(&str, u64, u64)> {
    let (class, range) = arg.split_once(':')?;
    let (a, b) = range.split_once('-')?;
    if class.is_empty() || !class.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let num = |s: &str| {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    Some((class, num(a)?, num(b)?))
}

pub(crate) fn do_reindex(admin: &mut Admin, args: &[String]) -> CmdResult {
    let db = admin.db()?;
    let reindex_class = |class: &str| -> Result<(), CmdError> {
        for id in db.list(class).map_err(failed)? {
            db.reindex_item(class, &id).map_err(failed)?;
        }
        Ok(())
    };
    if args.is_empty() {
        // Everything: the inverted index (when the tracker keeps one) is
        // emptied and rebuilt, and searches use the database's word tables
        // until the rebuild is committed.
        let engine = admin.tracker()?.text_index();
        if let Some(e) = &engine {
            e.rebuild_started().map_err(failed)?;
        }
        let classes: Vec<String> = db.schema().classes.keys().cloned().collect();
        db.bulk(|| {
            for c in &classes {
                // Retired items too: their texts stay searchable, as in
                // the word tables, which a reindex never empties.
                let ids = if engine.is_some() {
                    db.getnodeids(c, None)?
                } else {
                    db.list(c)?
                };
                for id in ids {
                    db.reindex_item(c, &id)?;
                }
            }
            Ok(())
        })
        .map_err(failed)?;
        if let Some(e) = &engine {
            db.commit().map_err(failed)?;
            e.rebuild_done().map_err(failed)?;
        }
        return Ok(0);
    }
    for arg in args {
        if let Some((class, from, to)) = parse_range(arg) {
            get_class(db, class)?;
            // Like Python's range(): the upper end is left out.
            for n in from..to {
                let id = n.to_string();
                if db.has_node(class, &id).map_err(failed)? {
                    db.reindex_item(class, &id).map_err(failed)?;
                } else {
                    println!("no such item \"{class}{n}\"");
                }
            }
        } else if arg.ends_with(|c: char| c.is_ascii_digit()) && split_designator(arg).is_ok() {
            let (class, id) = split_designator(arg)?;
            get_class(db, &class)?;
            if !db.has_node(&class, &id).map_err(failed)? {
                return Err(CmdError::usage(format!("no such item \"{arg}\"")));
            }
            db.reindex_item(&class, &id).map_err(failed)?;
        } else {
            get_class(db, arg)?;
            reindex_class(arg)?;
        }
    }
    Ok(0)
}

// --------------------------------------------------------------------------
// migrate

pub(crate) fn do_migrate(admin: &mut Admin, _args: &[String]) -> CmdResult {
    admin.db()?;
    let (before, current) = admin.layout_before.unwrap_or((Some(0), 0));
    match before {
        Some(v) if v < current => {
            println!("Tracker updated to schema version {current}.");
            admin.uncommitted = true;
        }
        _ => println!("No migration action required. At schema version {current}."),
    }
    Ok(0)
}

// --------------------------------------------------------------------------
// outbox (not in Roundup, whose mail has no outbox)

pub(crate) fn do_outbox(admin: &mut Admin, args: &[String]) -> CmdResult {
    let what: Vec<&str> = args.iter().map(String::as_str).collect();
    match what.as_slice() {
        [] | ["list"] => {
            let db = admin.db()?;
            let entries = db.outbox(false).map_err(failed)?;
            if entries.is_empty() {
                println!("The outbox is empty.");
            }
            for e in entries {
                let date = |t: f64| {
                    roundup_core::date::Date::from_timestamp(t)
                        .formal(&roundup_core::date::Timezone::Utc)
                };
                let subject = e
                    .envelope
                    .message
                    .lines()
                    .take_while(|l| !l.is_empty())
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap_or("");
                println!(
                    "{}: queued {}, {} failed {}, next try {}",
                    e.id,
                    date(e.queued),
                    e.attempts,
                    if e.attempts == 1 { "try" } else { "tries" },
                    date(e.next_try)
                );
                println!("   to: {}", e.envelope.recipients.join(", "));
                println!("   subject: {subject}");
                if let Some(err) = &e.last_error {
                    println!("   last error: {err}");
                }
            }
            Ok(0)
        }
        ["send"] | ["send", "all"] => {
            if admin.uncommitted {
                return Err(CmdError::usage(
                    "there are uncommitted changes: commit or rollback before sending the outbox",
                ));
            }
            let all = what.len() == 2;
            let db = admin.db()?;
            let (sent, failed_n) = db.deliver_outbox(all).map_err(failed)?;
            let left = db.outbox(false).map_err(failed)?.len();
            println!("{sent} sent, {failed_n} failed, {left} waiting.");
            Ok(if failed_n > 0 { 1 } else { 0 })
        }
        _ => Err(CmdError::usage("outbox takes list, send or send all")),
    }
}

// --------------------------------------------------------------------------
// perftest

fn print_schemes() {
    let names: Vec<&str> = Scheme::ALL.iter().map(|s| s.name()).collect();
    println!(
        "Supported schemes (default is first, case sensitive):\n   {}.",
        names.join(", ")
    );
}

pub(crate) fn do_perftest(admin: &mut Admin, args: &[String]) -> CmdResult {
    let mut args: Vec<String> = args.to_vec();
    if args.first().is_none_or(|a| a.contains('=')) {
        args.insert(0, "password".into());
    }
    let rounds_default = admin
        .tracker()?
        .config()
        .pbkdf2_default_rounds()
        .to_string();
    let mut rounds = Some(rounds_default);
    let mut scheme = Some(Scheme::ALL[0].name().to_string());
    for (k, v) in props_from_args(&args[1..])? {
        match k.as_str() {
            "rounds" => rounds = v,
            "scheme" => scheme = v,
            other => {
                return Err(CmdError::usage(format!(
                    "perftest does not know the argument \"{other}\" (use rounds= and scheme=)"
                )))
            }
        }
    }
    if args[0] != "password" {
        return Err(CmdError::usage(format!(
            "unknown perftest mode \"{}\" (only password is supported)",
            args[0]
        )));
    }
    let raw = rounds.unwrap_or_default();
    let cleaned: String = raw.chars().filter(|c| *c != ',' && *c != '.').collect();
    let Ok(rounds) = cleaned.parse::<u32>() else {
        println!("Invalid 'rounds'. It must be an integer not: {raw}");
        return Ok(0);
    };
    if rounds < 1000 {
        println!("Invalid 'rounds'. Must be larger than 999.");
        return Ok(0);
    }
    let Some(scheme_name) = scheme else {
        print_schemes();
        return Ok(0);
    };
    let Some(scheme) = Scheme::parse(&scheme_name) else {
        println!("Unknown encryption scheme: '{scheme_name}'");
        print_schemes();
        return Ok(0);
    };
    let start = Instant::now();
    let pw = Password::try_hash("this is a long password to hash", scheme, rounds)
        .map_err(|e| CmdError::failed(e.to_string()))?;
    let secs = start.elapsed().as_secs_f64();
    let rounds_text = match pw.rounds() {
        Some(r) => r.to_string(),
        None => "scheme does not support rounds.".to_string(),
    };
    println!(
        "Hash time: {secs:.9} seconds, scheme: {}, rounds: {rounds_text}",
        scheme.name()
    );
    Ok(0)
}

// --------------------------------------------------------------------------
// updateconfig

pub(crate) fn do_updateconfig(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(file) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let old = admin.tracker()?.config().clone();
    let new = Config::update_from(&old);
    println!();
    for w in new.warnings() {
        println!("{w}");
    }
    std::fs::write(file, new.write_ini())
        .map_err(|e| CmdError::failed(format!("writing {file}: {e}")))?;
    Ok(0)
}

// --------------------------------------------------------------------------
// readline

pub(crate) fn do_readline(admin: &mut Admin, args: &[String]) -> CmdResult {
    let Some(first) = args.first() else {
        return Err(CmdError::usage(NOT_ENOUGH));
    };
    let line = args.join(" ");
    if args.len() == 1 {
        match first.as_str() {
            "vi" => {
                admin.edit_mode = Some(crate::EditMode::Vi);
                println!("Enabled vi mode.");
            }
            "emacs" => {
                admin.edit_mode = Some(crate::EditMode::Emacs);
                println!("Enabled emacs mode.");
            }
            "history" => {
                println!("history size {}", admin.history.len());
                let lines: Vec<String> = admin
                    .history
                    .iter()
                    .enumerate()
                    .map(|(i, h)| format!("{:3} {h}", i + 1))
                    .collect();
                println!("{}", lines.join("\n"));
            }
            "reload" => {
                let path = crate::shell::init_file();
                match crate::shell::read_init_file(&path) {
                    Some(mode) => {
                        if let Some(m) = mode {
                            admin.edit_mode = Some(m);
                        }
                        println!("File {} reloaded.", path.display());
                    }
                    None => println!("Init file {} not found.", path.display()),
                }
            }
            other => println!("Unknown readline parameter {other}"),
        }
        return Ok(0);
    }
    match crate::shell::parse_init_line(&line) {
        Ok(Some(mode)) => admin.edit_mode = Some(mode),
        Ok(None) => {}
        Err(e) => return Err(CmdError::failed(e)),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_periods_and_dates() {
        let now = Date::from_utc_fields(2024, 6, 15, 12, 0, 0, 0).unwrap();
        let d = pack_cutoff("2001-01-01", now).unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2001, 1, 1));
        let d = pack_cutoff("1y", now).unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2023, 6, 15));
        let d = pack_cutoff("1m 5d", now).unwrap();
        assert_eq!((d.year(), d.month(), d.day()), (2024, 5, 10));
        let d = pack_cutoff("2w", now).unwrap();
        assert_eq!((d.month(), d.day()), (6, 1));
        for bad in ["", "foo", "3x", "y"] {
            let e = pack_cutoff(bad, now).unwrap_err();
            assert!(e.contains("neither a date"), "{bad}: {e}");
        }
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("issue:3-10"), Some(("issue", 3, 10)));
        assert_eq!(parse_range("issue3"), None);
        assert_eq!(parse_range("issue:a-3"), None);
    }
}
