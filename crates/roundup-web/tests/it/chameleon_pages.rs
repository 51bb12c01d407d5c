//! `template_engine = chameleon`: page templates in Chameleon's dialect
//! (expressions are Python unless typed, `${...}` in text and attribute
//! values), and extension functions given the page's template objects,
//! from a TAL page and from a Jinja2 page alike.
//!
//! Roundup 2.6's own chameleon engine cannot be run beside ours: with
//! Chameleon 3 and 4 it calls `PageTemplate.render` with arguments those
//! releases no longer take, and Chameleon 2, which took them, does not
//! run on Python 3.11. So this test states what the page must say.

use crate::server_support::*;

const PAGE: &str = r#"<!DOCTYPE html>
<html>
<head><title>${context.title} (${context.designator()})</title></head>
<body>
<h1 tal:content="context.title.plain()">title</h1>
<p class="${'has-nosy' if context.nosy else 'no-nosy'}">Priority: ${context.priority.plain() or 'unset'}</p>
<ul><li tal:repeat="u context.nosy" id="user${u.id}">${u.username.plain()}</li></ul>
<p tal:condition="not: context.messages">no messages</p>
<p tal:define="n len(context.nosy)" tal:content="string:${n} watching">s</p>
<div>${structure: utils.shouted(context.title)}</div>
<a href="${request.base}issue${context.id}" title="${None}">link</a>
</body></html>
"#;

const EXTENSION: &str = r#"
def shouted(prop):
    # a template object: its methods and str() are the page's
    return '<b>%s</b> [%s]' % (prop.plain().upper(), prop)

def init(instance):
    instance.registerUtil('shouted', shouted)
"#;

fn prepare(home: &std::path::Path) {
    std::fs::create_dir_all(home.join("extensions")).unwrap();
    std::fs::write(home.join("extensions/shout.py"), EXTENSION).unwrap();
    std::fs::write(home.join("html/issue.cham.html"), PAGE).unwrap();
    std::fs::write(
        home.join("html/issue.shout.html"),
        "<p>{{ utils.shouted(context.title) }}</p>\n",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chameleon_pages_render_and_utils_get_template_objects() {
    let s = serve_prepared(
        &["t"],
        &[("template_engine", "chameleon")],
        Default::default(),
        prepare,
    )
    .await;
    let cookie = login(&s, "admin", "admin").await;
    let token = csrf_token(&s, "1", Some(&cookie));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&cookie),
        &[
            ("@action", "new"),
            ("@csrf", &token),
            ("title", "Fire & <smoke>"),
            ("nosy", "admin,demo"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());

    let r = get(&s, "/t/issue1?@template=cham", Some(&cookie)).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    for want in [
        "<title>Fire &amp; &lt;smoke&gt; (issue1)</title>",
        "<h1>Fire &amp; &lt;smoke&gt;</h1>",
        "<p class=\"has-nosy\">Priority: unset</p>",
        "<li id=\"user1\">admin</li><li id=\"user3\">demo</li>",
        "<p>no messages</p>",
        "<p>2 watching</p>",
        "<div><b>FIRE & <SMOKE></b> [Fire & <smoke>]</div>",
        "<a href=\"http://127.0.0.1:",
        "/t/issue1\">link</a>",
    ] {
        assert!(page.contains(want), "missing {want:?} in\n{page}");
    }

    // the same extension function from a Jinja2 page: its result is text
    // there, escaped as any string
    let r = get(&s, "/t/issue1?@template=shout", Some(&cookie)).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains(
            "&lt;b&gt;FIRE &amp; &lt;SMOKE&gt;&lt;&#x2f;b&gt; [Fire &amp; &lt;smoke&gt;]"
        ),
        "{page}"
    );
    s.stop().await;
}

#[test]
fn a_chameleon_page_that_does_not_compile_is_named_when_the_tracker_opens() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("t");
    make_tracker(&home, "t", 8080, &[("template_engine", "chameleon")]);
    std::fs::write(
        home.join("html/issue.bad.html"),
        "<html><body>\n<p>${context.title.plain(</p>\n</body></html>\n",
    )
    .unwrap();
    let err = match roundup_web::server::App::open(
        &[("t".to_string(), home.clone())],
        Default::default(),
    ) {
        Ok(_) => panic!("a broken template was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("issue.bad.html")
            && err.contains("line 2")
            && err.contains("${context.title.plain("),
        "{err}"
    );
}
