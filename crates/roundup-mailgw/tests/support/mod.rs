//! What the gateway's test binaries share: a fresh classic tracker.

// Each test binary includes this module and uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A classic tracker under `dir/t`, initialised, with `extra` config.ini
/// settings (by `section_option` name, over the common ones) and the
/// users `(username, address)` with the User role.
pub fn tracker(dir: &Path, extra: &[(&str, &str)], users: &[(&str, &str)]) -> PathBuf {
    let home = dir.join("t");
    let settings: Vec<(String, String)> = [
        ("mail_domain", "example.com"),
        ("tracker_web", "http://tracker.example/"),
        ("password_pbkdf2_default_rounds", "1000"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    roundup_tracker::install(&home, "classic", "sqlite", &settings).expect("install");
    let t = roundup_tracker::Tracker::open(&home).expect("open");
    t.initialise("secret", "admin@example.com")
        .expect("initialise");
    let db = t.open_db("1").unwrap();
    for (name, addr) in users {
        let mut v = roundup_core::Values::new();
        for (prop, value) in [("username", *name), ("address", *addr), ("roles", "User")] {
            v.insert(prop.into(), Some(roundup_core::Value::String(value.into())));
        }
        db.create("user", v).unwrap();
    }
    db.commit().unwrap();
    home
}

/// [`tracker`] whose mail is recorded in `<home>/mail.out`, not sent.
pub fn recording_tracker(dir: &Path, extra: &[(&str, &str)], users: &[(&str, &str)]) -> PathBuf {
    let debug = dir.join("t").join("mail.out");
    let debug = debug.to_str().expect("utf-8 path");
    let mut all = vec![("mail_debug", debug)];
    all.extend_from_slice(extra);
    let home = tracker(dir, &all, users);
    let ini = std::fs::read_to_string(home.join("config.ini")).unwrap();
    assert!(
        ini.contains(&format!("\ndebug = {debug}\n")),
        "config.ini does not record mail in {debug}"
    );
    home
}
