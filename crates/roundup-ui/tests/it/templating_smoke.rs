use crate::templating_common::*;

#[test]
fn every_page_renders_for_every_kind_of_user() {
    let fx = Fixture::classic();
    let db = fx.db();
    let id = issue(&db, "First issue", &[]);
    db.commit().unwrap();
    let tpl = fx.templates();
    for user in ["anonymous", "alice", "admin"] {
        for (path, form) in [
            ("", vec![]),
            ("issue", vec![]),
            (&*format!("issue{id}"), vec![]),
            ("issue", vec![("@template", "item")]),
            ("issue", vec![("@template", "search")]),
            ("user", vec![]),
            ("user1", vec![]),
            ("user", vec![("@template", "register")]),
            ("user", vec![("@template", "forgotten")]),
            ("keyword", vec![]),
            ("keyword", vec![("@template", "item")]),
            ("priority1", vec![]),
            ("status", vec![]),
            (
                "user",
                vec![
                    ("@template", "help"),
                    ("properties", "username,realname"),
                    ("property", "nosy"),
                ],
            ),
            ("query", vec![("@template", "edit")]),
            ("file", vec![]),
            ("msg", vec![]),
            ("", vec![("@template", "classlist")]),
            ("issue", vec![("@template", "404")]),
        ] {
            let form: Vec<(&str, &str)> = form;
            let html = render(&fx, &tpl, user, path, &form);
            assert!(
                html.contains("</html>"),
                "{path} {form:?} as {user}: incomplete page"
            );
        }
    }
}

#[test]
fn minimal_template_pages_render() {
    use roundup_ui::request::WebRequest;
    use roundup_ui::templating::{PageMessages, Templates, View};
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("t");
    roundup_tracker::install(&home, "minimal", "sqlite", &[]).unwrap();
    let det = home.join("detectors").join("userauditor.py");
    let text = std::fs::read_to_string(&det).unwrap();
    if !text.contains("def valid_timezone") {
        std::fs::write(
            &det,
            format!("def valid_timezone(tz):\n    return True\n\n{text}"),
        )
        .unwrap();
    }
    let tracker = roundup_tracker::Tracker::open(&home).unwrap();
    tracker.initialise("pw", "admin@example.com").unwrap();
    let tpl = Templates::load(&tracker).unwrap();
    for (uid, name) in [("1", "admin"), ("2", "anonymous")] {
        for (class, item, template) in [
            (None, None, ""),
            (Some("user"), None, ""),
            (Some("user"), Some("1"), ""),
            (Some("user"), None, "register"),
            (Some("user"), None, "forgotten"),
            (Some("user"), None, "item"),
        ] {
            let req = WebRequest {
                base: "http://x/".into(),
                userid: uid.into(),
                username: name.into(),
                method: "GET".into(),
                ..WebRequest::default()
            };
            let view = View {
                classname: class.map(str::to_string),
                itemid: item.map(str::to_string),
                template: template.into(),
            };
            let db = tracker.open_db(uid).unwrap();
            let html = tpl
                .render(&db, &tracker, &req, &view, &PageMessages::default())
                .unwrap_or_else(|e| panic!("{view:?} as {name}: {e}"));
            assert!(html.contains("</html>"));
            assert!(
                !html.contains("Show Unassigned"),
                "no issue links in minimal"
            );
        }
    }
}
