mod templating_common;
use templating_common::*;

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
