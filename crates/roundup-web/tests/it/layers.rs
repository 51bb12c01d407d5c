//! The web stack's layering, as the crates' manifests declare it: the HTML
//! UI and the APIs stand side by side on the core and the tracker, neither
//! depends on the other or on the server above them, and nothing below
//! them depends on any front end. Cargo enforces what a manifest declares;
//! this test keeps a newcomer from declaring the wrong thing.

use std::path::Path;

/// The workspace crates a crate's `[dependencies]` name.
fn workspace_deps(krate: &str) -> Vec<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(krate)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("reading {}: {e}", manifest.display()));
    let mut deps = Vec::new();
    let mut in_deps = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if !in_deps {
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or("").to_string();
        if name.starts_with("roundup-") {
            deps.push(name);
        }
    }
    deps
}

#[test]
fn ui_and_api_depend_on_the_core_not_on_each_other() {
    for (front, other) in [("roundup-ui", "roundup-api"), ("roundup-api", "roundup-ui")] {
        let deps = workspace_deps(front);
        assert!(
            deps.contains(&"roundup-core".to_string()),
            "{front}: {deps:?}"
        );
        assert!(
            !deps.contains(&other.to_string()),
            "{front} depends on {other}"
        );
        assert!(
            !deps.contains(&"roundup-web".to_string()),
            "{front} depends on the server"
        );
    }
    let server = workspace_deps("roundup-web");
    for front in ["roundup-ui", "roundup-api"] {
        assert!(
            server.contains(&front.to_string()),
            "roundup-web: {server:?}"
        );
    }
}

#[test]
fn nothing_below_the_front_ends_depends_on_them() {
    for lower in [
        "roundup-core",
        "roundup-rdbms",
        "roundup-sqlite",
        "roundup-redis",
        "roundup-python",
        "roundup-tracker",
    ] {
        let deps = workspace_deps(lower);
        for front in ["roundup-ui", "roundup-api", "roundup-web", "roundup-admin"] {
            assert!(
                !deps.contains(&front.to_string()),
                "{lower} depends on {front}"
            );
        }
    }
}
