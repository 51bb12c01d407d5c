//! A tracker home's Python web actions (extensions' `registerAction`) and
//! `interfaces.py` template utils, driven over HTTP.

use crate::server_support::*;

const ACTIONS: &str = r#"
from roundup.cgi.actions import Action
from roundup.cgi.exceptions import Redirect
from roundup.exceptions import Reject


class QuickFile(Action):
    permissionType = 'Create'

    def handle(self):
        title = self.form.getfirst('title', '')
        if not title.strip():
            raise Reject('A quick issue needs a title')
        nid = self.db.issue.create(title=title)
        self.db.commit()
        raise Redirect('%sissue%s?@ok_message=%s' % (self.base, nid, 'quick+filed'))


class Count(Action):
    def handle(self):
        return '<p>%d issues</p>' % len(self.db.issue.list())


class Boom(Action):
    def handle(self):
        self.db.issue.create(title='never kept')
        raise RuntimeError('boom')


def init(instance):
    instance.registerAction('quickfile', QuickFile)
    instance.registerAction('count', Count)
    instance.registerAction('boom', Boom)
"#;

const INTERFACES: &str = r#"
from roundup.cgi import templating


class TemplatingUtils(templating.TemplatingUtils):
    def shout(self, text):
        return text.upper() + '!'
"#;

fn prepare(home: &std::path::Path) {
    std::fs::create_dir_all(home.join("extensions")).unwrap();
    std::fs::write(home.join("extensions/actions.py"), ACTIONS).unwrap();
    std::fs::write(home.join("interfaces.py"), INTERFACES).unwrap();
    std::fs::write(
        home.join("html/issue.shout.html"),
        "<p>{{ utils.shout('quiet') }}</p>\n",
    )
    .unwrap();
}

async fn issue_count(s: &Served) -> String {
    let token = csrf_token(s, "2", None);
    let r = post_form(
        s,
        "/t/issue",
        None,
        &[("@action", "count"), ("@csrf", &token)],
    )
    .await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_actions_and_interfaces_utils_serve() {
    let s = serve_prepared(&["t"], &[], Default::default(), prepare).await;
    assert_eq!(issue_count(&s).await, "<p>0 issues</p>");

    // anonymous may not create issues in classic: the action's
    // permissionType refuses before handle() runs
    let token = csrf_token(&s, "2", None);
    let r = post_form(
        &s,
        "/t/issue",
        None,
        &[("@action", "quickfile"), ("@csrf", &token), ("title", "x")],
    )
    .await;
    assert_eq!(r.status(), 403);
    let page = r.text().await.unwrap();
    // (the class's `name` is '', as in Roundup's message)
    assert!(
        page.contains("You do not have permission to  the issue class."),
        "{page}"
    );

    // a user files through the action: its redirect, and the issue
    let cookie = login(&s, "demo", "demo").await;
    let token = csrf_token(&s, "3", Some(&cookie));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&cookie),
        &[
            ("@action", "QuickFile"),
            ("@csrf", &token),
            ("title", "Filed by a Python action"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    let loc = location(&r);
    assert!(loc.ends_with("/t/issue1?@ok_message=quick+filed"), "{loc}");
    let page = get(&s, "/t/issue1", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Filed by a Python action"), "{page}");

    // Reject: the message on the page, nothing created
    let token = csrf_token(&s, "3", Some(&cookie));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&cookie),
        &[("@action", "quickfile"), ("@csrf", &token), ("title", " ")],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("A quick issue needs a title"));
    assert_eq!(issue_count(&s).await, "<p>1 issues</p>");

    // an exception: an error response, its change undone, and the
    // tracker keeps serving
    let token = csrf_token(&s, "3", Some(&cookie));
    let r = post_form(
        &s,
        "/t/issue",
        Some(&cookie),
        &[("@action", "boom"), ("@csrf", &token)],
    )
    .await;
    assert_eq!(r.status(), 500);
    assert_eq!(issue_count(&s).await, "<p>1 issues</p>");

    // the actions still go through the CSRF rule: a bad token refuses
    let r = post_form(
        &s,
        "/t/issue",
        Some(&cookie),
        &[("@action", "count"), ("@csrf", "forged")],
    )
    .await;
    let page = r.text().await.unwrap();
    assert!(!page.contains("<p>1 issues</p>"), "{page}");
    assert!(page.contains("csrf failure"), "{page}");

    // interfaces.py's TemplatingUtils method in a page
    let page = get(&s, "/t/issue?@template=shout", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<p>QUIET!</p>"), "{page}");
    s.stop().await;
}
