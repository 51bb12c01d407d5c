//! Loading templates: tracker overrides, embedded fallback, errors.

use crate::templating_common::*;
use roundup_ui::templating::Templates;

#[test]
fn tracker_files_override_and_embedded_copies_fill_gaps() {
    let fx = Fixture::classic();
    let html_dir = fx.home().join("html");
    std::fs::write(
        html_dir.join("home.html"),
        "{% extends \"page.html\" %}{% block content %}<p id=\"custom\">CUSTOM HOME for {{ config.TRACKER_NAME }}</p>{% endblock %}",
    )
    .unwrap();
    std::fs::remove_file(html_dir.join("user.forgotten.html")).unwrap();
    std::fs::write(
        html_dir.join("issue.stats.html"),
        "<p>{{ db.issue.list() | length }} issues</p>",
    )
    .unwrap();
    let tpl = fx.templates();
    let home = render(&fx, &tpl, "anonymous", "", &[]);
    assert!(home.contains("<p id=\"custom\">CUSTOM HOME for Test Tracker</p>"));
    assert!(
        home.contains("class=\"sidebar\""),
        "override still extends the layout"
    );
    // removed from the tracker: the embedded copy is used
    assert!(tpl.has(Some("user"), "forgotten"));
    let forgotten = render(
        &fx,
        &tpl,
        "anonymous",
        "user",
        &[("@template", "forgotten")],
    );
    assert!(forgotten.contains("name=\"@action\" value=\"passrst\""));
    // a template only the tracker has
    assert!(tpl.has(Some("issue"), "stats"));
    assert_eq!(
        render(&fx, &tpl, "admin", "issue", &[("@template", "stats")]),
        "<p>0 issues</p>"
    );
}

#[test]
fn view_resolution_uses_class_then_generic_templates() {
    let fx = Fixture::classic();
    let tpl = fx.templates();
    assert!(tpl.has(Some("issue"), "index"));
    assert!(tpl.has(Some("keyword"), "index"), "via _generic.index.html");
    assert!(tpl.has(Some("status"), "404"));
    assert!(tpl.has(None, "home"));
    assert!(tpl.has(None, "classlist"));
    assert!(!tpl.has(Some("issue"), "nonexistent"));
    assert!(!tpl.has(Some("issue"), "../page"), "no path tricks");
    assert_eq!(
        tpl.resolve(Some("keyword"), "item").as_deref(),
        Some("_generic.item.html")
    );
    assert_eq!(
        tpl.resolve(Some("issue"), "item").as_deref(),
        Some("issue.item.html")
    );
    let err = try_render(&fx, &tpl, "admin", "issue", &[("@template", "nonexistent")]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("issue.nonexistent.html") && msg.contains("_generic.nonexistent.html"),
        "{msg}"
    );
    let err = try_render(&fx, &tpl, "admin", "issue999", &[]).unwrap_err();
    assert!(
        matches!(err, roundup_core::Error::NoSuchNode { .. }),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_file_and_line() {
    let fx = Fixture::classic();
    std::fs::write(
        fx.home().join("html").join("issue.broken.html"),
        "<p>fine</p>\n<p>still fine</p>\n{% if %}oops{% endif %}\n",
    )
    .unwrap();
    let err = Templates::load(&fx.tracker).unwrap_err().to_string();
    assert!(err.contains("issue.broken.html"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn render_errors_name_file_and_line() {
    let fx = Fixture::classic();
    std::fs::write(
        fx.home().join("html").join("issue.bad.html"),
        "<p>ok</p>\n{{ context.title.nosuchmethod() }}\n",
    )
    .unwrap();
    let tpl = fx.templates();
    let err = try_render(&fx, &tpl, "admin", "issue", &[("@template", "bad")])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("issue.bad.html") && err.contains("line 2"),
        "{err}"
    );
    assert!(err.contains("nosuchmethod"), "{err}");
}

#[test]
fn not_found_page_renders_for_missing_classes_and_items() {
    let fx = Fixture::classic();
    let tpl = fx.templates();
    let req = request(&fx, "anonymous", "nosuchclass", &[]);
    let db = fx.tracker.open_db(&req.userid).unwrap();
    for (class, item) in [("nosuchclass", None), ("issue", Some("999"))] {
        let view = roundup_ui::templating::View {
            classname: Some(class.into()),
            itemid: item.map(str::to_string),
            template: "404".into(),
        };
        let html = tpl
            .render(&db, &fx.tracker, &req, &view, &Default::default())
            .unwrap_or_else(|e| panic!("{class}: {e}"));
        assert!(html.contains("Item not found"));
        assert!(html.contains(&format!("There is no {class}")), "{html}");
    }
}

/// Roundup's extensions: `instance.registerUtil` in extensions/*.py makes
/// `utils.<name>` of every page.
#[test]
fn extension_utils_are_callable_from_templates() {
    let mut fx = Fixture::classic();
    let home = fx.home().to_path_buf();
    std::fs::create_dir_all(home.join("extensions")).unwrap();
    std::fs::write(
        home.join("extensions/shout.py"),
        "def shout(text, n=1):\n    return (text.upper() + '!') * n\n\n\
         def open_count(utils):\n    return len(utils.db.issue.list())\n\n\
         def init(instance):\n    instance.registerUtil('shout', shout)\n    \
         instance.registerUtilMethod('issue_count', open_count)\n",
    )
    .unwrap();
    std::fs::write(
        home.join("html/issue.shout.html"),
        "<p>{{ utils.shout('hey', 2) }} {{ utils.shout('<b>') }} {{ utils.issue_count() }}</p>",
    )
    .unwrap();
    fx.tracker = roundup_tracker::Tracker::open(&home).unwrap();
    let tpl = fx.templates();
    assert_eq!(
        render(&fx, &tpl, "admin", "issue", &[("@template", "shout")]),
        "<p>HEY!HEY! &lt;B&gt;! 0</p>"
    );
}
