//! Rendering the classic tracker's pages: index views, item views,
//! permissions, escaping, links, markdown, CSRF fields.

use crate::templating_common::*;
use roundup_core::Value;

fn link(id: &str) -> Option<Value> {
    Some(Value::Link(id.to_string()))
}

/// The issue ids of the title cells of an index page, in order.
fn title_ids(html: &str) -> Vec<String> {
    html.split("<td class=\"title\"><a href=\"issue")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect()
}

/// Each POST form of a page (from `<form method="post"` to `</form>`).
fn post_forms(html: &str) -> Vec<&str> {
    html.split("<form method=\"post\"")
        .skip(1)
        .map(|rest| rest.split("</form>").next().unwrap_or(""))
        .collect()
}

#[test]
fn index_sorts_groups_and_pages() {
    let fx = Fixture::classic();
    let db = fx.db();
    // priority ids: 1 critical, 2 urgent, 3 bug
    let specs = [
        ("delta", "3"),
        ("alpha", "1"),
        ("echo", "2"),
        ("charlie", "3"),
        ("bravo", "1"),
        ("foxtrot", "2"),
        ("golf", "3"),
    ];
    let mut ids = std::collections::HashMap::new();
    for (title, prio) in specs {
        ids.insert(title, issue(&db, title, &[("priority", link(prio))]));
    }
    db.commit().unwrap();
    let tpl = fx.templates();
    let id = |t: &str| ids[t].clone();

    // sorted by title, all on one page
    let html = render(
        &fx,
        &tpl,
        "anonymous",
        "issue",
        &[("@columns", "id,title,priority"), ("@sort", "title")],
    );
    assert_eq!(
        title_ids(&html),
        ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf"]
            .map(id)
            .to_vec()
    );
    // only the requested columns are shown
    assert!(html.contains("<td class=\"priority\">critical</td>"));
    assert!(
        !html.contains("<td class=\"status\">"),
        "status column not requested"
    );

    // descending
    let html = render(
        &fx,
        &tpl,
        "anonymous",
        "issue",
        &[("@columns", "title"), ("@sort", "-title")],
    );
    assert_eq!(title_ids(&html).first(), Some(&id("golf")));
    assert!(html.contains("aria-sort=\"descending\""));

    // grouped by priority (critical first), sorted by title within groups
    let html = render(
        &fx,
        &tpl,
        "anonymous",
        "issue",
        &[
            ("@columns", "id,title"),
            ("@sort", "title"),
            ("@group", "priority"),
        ],
    );
    assert_eq!(
        title_ids(&html),
        ["alpha", "bravo", "echo", "foxtrot", "charlie", "delta", "golf"]
            .map(id)
            .to_vec()
    );
    let headings: Vec<&str> = html
        .split("<tr class=\"group\"><th colspan=\"2\" scope=\"rowgroup\">")
        .skip(1)
        .filter_map(|r| r.split('<').next())
        .collect();
    assert_eq!(headings, ["critical", "urgent", "bug"]);

    // paging: 3 per page, titles in order
    let page_from = |start: &str| {
        render(
            &fx,
            &tpl,
            "anonymous",
            "issue",
            &[
                ("@columns", "title"),
                ("@sort", "title"),
                ("@pagesize", "3"),
                ("@startwith", start),
            ],
        )
    };
    // the second page
    let html = page_from("3");
    assert_eq!(
        title_ids(&html),
        ["delta", "echo", "foxtrot"].map(id).to_vec()
    );
    assert!(html.contains("4&ndash;6 of 7"), "batch counts");
    assert!(html.contains("@startwith=0") && html.contains("rel=\"prev\""));
    assert!(html.contains("@startwith=6") && html.contains("rel=\"next\""));

    // past the end: the last item alone, as Roundup 2.6's Batch shows it
    // ("7..7 out of 7"), with the way back
    let html = page_from("40");
    assert_eq!(title_ids(&html), ["golf"].map(id).to_vec());
    assert!(html.contains("7&ndash;7 of 7"), "batch counts");
    assert!(html.contains("@startwith=3") && html.contains("rel=\"prev\""));

    // filtering through @filter and the property value
    let html = render(
        &fx,
        &tpl,
        "anonymous",
        "issue",
        &[
            ("@columns", "title"),
            ("@sort", "title"),
            ("@filter", "priority"),
            ("priority", "urgent"),
        ],
    );
    assert_eq!(title_ids(&html), ["echo", "foxtrot"].map(id).to_vec());
    // the CSV link keeps the current index arguments
    assert!(html.contains(
        "issue?@action=export_csv&amp;@columns=title&amp;@sort=title&amp;@filter=priority"
    ));
    assert!(html.contains("priority=urgent"));
}

#[test]
fn sidebar_has_classic_links_and_login_box() {
    let fx = Fixture::classic();
    let tpl = fx.templates();
    let html = render(&fx, &tpl, "anonymous", "", &[]);
    assert!(html.contains("Show Unassigned") && html.contains("Show All"));
    assert!(
        html.contains("assignedto=-1"),
        "Show Unassigned filters on unassigned"
    );
    assert!(html.contains("name=\"__login_name\""));
    assert!(html.contains("name=\"@number\""), "Show issue box");
    assert!(html.contains("user?@template=register"));
    assert!(
        !html.contains("Create New"),
        "anonymous may not create issues"
    );
    assert!(html.contains("class=\"skip-link\" href=\"#main\""));
    assert!(html.contains("<main id=\"main\""));

    let html = render(&fx, &tpl, "alice", "", &[]);
    assert!(html.contains("Hello, alice"));
    assert!(
        html.contains("issue?@template=item"),
        "users may create issues"
    );
    assert!(html.contains("Your Issues"));
    assert!(!html.contains("name=\"__login_name\""));
    assert!(
        !html.contains("Class List"),
        "only admins see the class list"
    );

    let html = render(&fx, &tpl, "admin", "", &[]);
    assert!(html.contains("Class List") && html.contains("Add User"));
}

#[test]
fn item_fields_follow_permissions() {
    let fx = Fixture::classic();
    let db = fx.db();
    let id = issue(&db, "Editable issue", &[("priority", link("2"))]);
    db.commit().unwrap();
    let tpl = fx.templates();
    let path = format!("issue{id}");

    let anon = render(&fx, &tpl, "anonymous", &path, &[]);
    assert!(anon.contains("Editable issue"));
    assert!(
        !anon.contains("<input type=\"text\" name=\"title\""),
        "anonymous gets no edit field"
    );
    assert!(!anon.contains("name=\"@note\""));
    assert!(!anon.contains("<select name=\"priority\""));
    assert!(anon.contains("urgent"), "read-only value shown");

    let alice = render(&fx, &tpl, "alice", &path, &[]);
    assert!(alice.contains(
        "<input type=\"text\" name=\"title\" id=\"title\" size=\"60\" value=\"Editable issue\""
    ));
    assert!(alice.contains("<select name=\"priority\" id=\"priority\">"));
    assert!(alice.contains("<option value=\"2\" selected=\"selected\">urgent</option>"));
    assert!(alice.contains("name=\"@note\"") && alice.contains("name=\"@file\""));
    assert!(alice.contains("name=\"@action\" value=\"edit\""));
    assert!(alice.contains("name=\"@lastactivity\""));
    assert!(alice.contains("enctype=\"multipart/form-data\""));

    // new-issue form
    let new = render(&fx, &tpl, "alice", "issue", &[("@template", "item")]);
    assert!(new.contains("<h1>New Issue</h1>"));
    assert!(new.contains("name=\"@action\" value=\"new\""));
    assert!(new.contains("<form method=\"post\" action=\"issue\""));
}

#[test]
fn hidden_user_details_do_not_leak() {
    let fx = Fixture::classic();
    let tpl = fx.templates();
    let alice = fx.uid("alice");
    let bob = fx.uid("bob");

    // bob sees alice's public details but not her address
    let page = render(&fx, &tpl, "bob", &format!("user{alice}"), &[]);
    assert!(page.contains("Alice Liddell"));
    assert!(
        !page.contains("alice@example.com"),
        "address must stay hidden"
    );
    assert!(
        !page.contains("name=\"password\""),
        "bob may not edit alice"
    );
    let list = render(&fx, &tpl, "bob", "user", &[]);
    assert!(list.contains("alice") && !list.contains("alice@example.com"));

    // alice sees and may edit her own address and password, but not her roles
    let own = render(&fx, &tpl, "alice", &format!("user{alice}"), &[]);
    assert!(own.contains("value=\"alice@example.com\""));
    assert!(own.contains("<input type=\"password\" name=\"password\""));
    assert!(own.contains("name=\"@confirm@password\""));
    assert!(!own.contains("<input type=\"text\" name=\"roles\""));

    // anonymous may not view users at all
    let anon = render(&fx, &tpl, "anonymous", &format!("user{bob}"), &[]);
    assert!(anon.contains("You are not allowed to view this page."));
    assert!(!anon.contains("Bob Builder") && !anon.contains("bob@example.com"));

    // admin sees everything, including roles as an edit field
    let admin = render(&fx, &tpl, "admin", &format!("user{bob}"), &[]);
    assert!(admin.contains("bob@example.com"));
    assert!(admin.contains("<input type=\"text\" name=\"roles\""));
}

#[test]
fn titles_and_messages_are_escaped_and_linkified() {
    let fx = Fixture::classic();
    let db = fx.db();
    let alice = fx.uid("alice");
    let first = issue(&db, "plain one", &[]);
    let m = db
        .create_with_content(
            "msg",
            vals(&[("author", link(&alice))]),
            format!("Hi <script>alert(1)</script>\nsee issue{first} and https://example.org/a?b=1&c=2.\nmail bob@example.com").into_bytes(),
        )
        .unwrap();
    let id = issue(
        &db,
        "<script>alert('t')</script> evil",
        &[("messages", Some(Value::Multilink(vec![m])))],
    );
    db.commit().unwrap();
    let tpl = fx.templates();
    for user in ["anonymous", "alice"] {
        let html = render(&fx, &tpl, user, &format!("issue{id}"), &[]);
        assert!(
            !html.contains("<script>alert"),
            "script tag must be escaped for {user}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
                || html.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
        );
        assert!(
            html.contains(&format!("<a href=\"issue{first}\">issue{first}</a>")),
            "designator linked"
        );
        assert!(
            html.contains(
                "<a href=\"https://example.org/a?b=1&amp;c=2\" rel=\"nofollow noopener\">"
            ),
            "URL linked"
        );
        assert!(
            html.contains("<a href=\"mailto:bob@example.com\">"),
            "address linked"
        );
    }
    let index = render(&fx, &tpl, "anonymous", "issue", &[("@columns", "title")]);
    assert!(!index.contains("<script>alert"));
    assert!(index.contains("&lt;script&gt;alert("));
}

#[test]
fn markdown_messages_are_rendered_and_sanitised() {
    let fx = Fixture::classic();
    let db = fx.db();
    let alice = fx.uid("alice");
    let m = db
        .create_with_content(
            "msg",
            vals(&[("author", link(&alice)), ("type", s("text/markdown"))]),
            b"Some **bold** text\nnext line <img src=x onerror=alert(1)> [x](javascript:alert(2))"
                .to_vec(),
        )
        .unwrap();
    let plain = db
        .create_with_content(
            "msg",
            vals(&[("author", link(&alice))]),
            b"not **markdown** here".to_vec(),
        )
        .unwrap();
    let id = issue(
        &db,
        "md",
        &[("messages", Some(Value::Multilink(vec![m, plain])))],
    );
    db.commit().unwrap();
    let tpl = fx.templates();
    let html = render(&fx, &tpl, "alice", &format!("issue{id}"), &[]);
    assert!(html.contains("<strong>bold</strong>"));
    assert!(
        html.contains("not **markdown** here"),
        "plain messages stay plain"
    );
    assert!(!html.contains("<img"), "raw HTML is not passed through");
    assert!(
        !html.contains("javascript:alert"),
        "unsafe link targets dropped"
    );
    assert!(!html.contains("text<br"), "no hard breaks by default");

    // [markdown] break_on_newline = yes turns single newlines into <br>
    let fx2 = Fixture::with_settings(&[("markdown_break_on_newline", "yes")]);
    let db = fx2.db();
    let m = db
        .create_with_content(
            "msg",
            vals(&[("type", s("text/markdown"))]),
            b"line one\nline two".to_vec(),
        )
        .unwrap();
    let id = issue(&db, "md2", &[("messages", Some(Value::Multilink(vec![m])))]);
    db.commit().unwrap();
    let html = render(&fx2, &fx2.templates(), "admin", &format!("issue{id}"), &[]);
    assert!(html.contains("line one<br"), "break_on_newline honoured");
}

#[test]
fn every_post_form_carries_the_csrf_token() {
    let fx = Fixture::classic();
    let db = fx.db();
    let id = issue(&db, "csrf", &[]);
    db.commit().unwrap();
    let tpl = fx.templates();
    let alice = fx.uid("alice");
    type Page<'a> = (&'a str, String, Vec<(&'a str, &'a str)>);
    let pages: Vec<Page> = vec![
        ("anonymous", String::new(), vec![]),
        ("anonymous", "user".into(), vec![("@template", "register")]),
        ("anonymous", "user".into(), vec![("@template", "forgotten")]),
        ("alice", format!("issue{id}"), vec![]),
        ("alice", "issue".into(), vec![("@template", "item")]),
        ("alice", format!("user{alice}"), vec![]),
        ("alice", "query".into(), vec![("@template", "edit")]),
        ("admin", "keyword".into(), vec![("@template", "item")]),
        ("admin", "user".into(), vec![]),
    ];
    for (user, path, form) in pages {
        let html = render(&fx, &tpl, user, &path, &form);
        let forms = post_forms(&html);
        assert!(
            !forms.is_empty(),
            "{path} {form:?} as {user} has a POST form"
        );
        for f in forms {
            assert!(
                f.contains("name=\"@csrf\" value=\"TOKEN123\""),
                "POST form without @csrf on {path} {form:?} as {user}: {f}"
            );
        }
    }
}

#[test]
fn page_messages_are_escaped_with_line_breaks() {
    let fx = Fixture::classic();
    let tpl = fx.templates();
    let req = request(&fx, "alice", "", &[]);
    let db = fx.tracker.open_db(&req.userid).unwrap();
    let view = roundup_ui::templating::View::default();
    let msgs = roundup_ui::templating::PageMessages {
        ok: vec!["issue1 created".into()],
        error: vec!["bad <value>\nsecond line".into()],
    };
    let html = tpl.render(&db, &fx.tracker, &req, &view, &msgs).unwrap();
    assert!(html.contains("role=\"alert\""));
    assert!(html.contains("bad &lt;value&gt;<br>\nsecond line"));
    assert!(html.contains("issue1 created"));
}

#[test]
fn private_queries_are_only_listed_for_their_owner() {
    let fx = Fixture::classic();
    let alice = fx.uid("alice");
    let db = fx.tracker.open_db(&alice).unwrap();
    let public = db
        .create(
            "query",
            vals(&[
                ("klass", s("issue")),
                ("name", s("Everything open")),
                ("url", s("@sort=id")),
            ]),
        )
        .unwrap();
    let private = db
        .create(
            "query",
            vals(&[
                ("klass", s("issue")),
                ("name", s("Alice secret list")),
                ("url", s("@sort=-id")),
                ("private_for", link(&alice)),
            ]),
        )
        .unwrap();
    db.set(
        "user",
        &alice,
        vals(&[("queries", Some(Value::Multilink(vec![public, private])))]),
    )
    .unwrap();
    db.commit().unwrap();
    let tpl = fx.templates();
    let mine = render(&fx, &tpl, "alice", "query", &[("@template", "edit")]);
    assert!(mine.contains("Alice secret list") && mine.contains("Everything open"));
    let sidebar = render(&fx, &tpl, "alice", "", &[]);
    assert!(
        sidebar.contains("Alice secret list"),
        "saved queries in the sidebar"
    );
    assert!(sidebar.contains("issue?@sort=-id&amp;@dispname=Alice%20secret%20list"));
    // a query cannot smuggle a script URL into links
    let evil = fx.tracker.open_db(&alice).unwrap();
    evil.create(
        "query",
        vals(&[
            ("klass", s("javascript:alert(1)//")),
            ("name", s("evil")),
            ("url", s("x")),
        ]),
    )
    .unwrap();
    evil.commit().unwrap();
    for user in ["alice", "bob"] {
        let page = render(&fx, &tpl, user, "query", &[("@template", "edit")]);
        assert!(page.contains("evil"));
        assert!(!page.contains("href=\"javascript:"), "{user}");
    }
    let bobs = render(&fx, &tpl, "bob", "query", &[("@template", "edit")]);
    assert!(bobs.contains("Everything open"));
    assert!(
        !bobs.contains("Alice secret list"),
        "private query hidden from others"
    );
}

#[test]
fn classhelp_popup_lists_values_to_pick() {
    let fx = Fixture::classic();
    let tpl = fx.templates();
    let html = render(
        &fx,
        &tpl,
        "alice",
        "user",
        &[
            ("@template", "help"),
            ("properties", "username,realname"),
            ("property", "nosy"),
        ],
    );
    assert!(html.contains("value=\"alice\""), "user key offered");
    assert!(html.contains("Bob Builder"));
    assert!(html.contains("data-target=\"nosy\""));
    assert!(
        !html.contains("class=\"sidebar\""),
        "popup has no page chrome"
    );
}

#[test]
fn generic_index_offers_csv_editing_to_editors_only() {
    let fx = Fixture::classic();
    let db = fx.db();
    db.create("keyword", vals(&[("name", s("needs, \"quotes\""))]))
        .unwrap();
    db.create("keyword", vals(&[("name", s("ui"))])).unwrap();
    db.commit().unwrap();
    let tpl = fx.templates();
    let admin = render(&fx, &tpl, "admin", "keyword", &[]);
    assert!(admin.contains("name=\"@action\" value=\"editCSV\""));
    assert!(
        admin
            .contains("id,name\r\n1,&quot;needs, &quot;&quot;quotes&quot;&quot;&quot;\r\n2,ui\r\n"),
        "{admin}"
    );
    // users may edit keywords in classic; anonymous may only look
    let anon = render(&fx, &tpl, "anonymous", "keyword", &[]);
    assert!(anon.contains(">ui<"));
    assert!(!anon.contains("editCSV"));
    // status has View only for users: no editor
    let status = render(&fx, &tpl, "alice", "status", &[]);
    assert!(status.contains("in-progress") && !status.contains("editCSV"));
}

#[test]
fn failed_edits_show_the_submitted_values_again() {
    let fx = Fixture::classic();
    let db = fx.db();
    let id = issue(&db, "stored title", &[("status", link("1"))]);
    db.commit().unwrap();
    let tpl = fx.templates();
    let html = render(
        &fx,
        &tpl,
        "alice",
        &format!("issue{id}"),
        &[
            ("title", "typed <title>"),
            ("status", "chatting"),
            ("@note", "my note"),
        ],
    );
    assert!(html.contains("name=\"title\" id=\"title\" size=\"60\" value=\"typed &lt;title&gt;\""));
    assert!(html.contains("<option value=\"3\" selected=\"selected\">chatting</option>"));
    assert!(!html.contains("<option value=\"1\" selected"));
    assert!(html.contains(">my note</textarea>"));
    // the heading still shows the stored value
    assert!(html.contains("stored title"));
}

#[test]
fn secrets_are_not_available_to_templates() {
    let fx = Fixture::classic();
    std::fs::write(
        fx.home().join("html").join("home.secrets.html"),
        "[{{ config.WEB_SECRET_KEY }}][{{ config.RDBMS_PASSWORD }}][{{ config.TRACKER_NAME }}]",
    )
    .unwrap();
    let tpl = fx.templates();
    assert_eq!(
        render(&fx, &tpl, "admin", "", &[("@template", "secrets")]),
        "[][][Test Tracker]"
    );
}

#[test]
fn templates_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<roundup_ui::templating::Templates>();
}

#[test]
fn home_page_lists_open_issues_by_priority() {
    let fx = Fixture::classic();
    let db = fx.db();
    let open_bug = issue(
        &db,
        "open bug",
        &[("priority", link("3")), ("status", link("2"))],
    );
    let open_crit = issue(
        &db,
        "open critical",
        &[("priority", link("1")), ("status", link("1"))],
    );
    let done = issue(
        &db,
        "all done",
        &[("priority", link("1")), ("status", link("8"))],
    );
    db.commit().unwrap();
    let tpl = fx.templates();
    let html = render(&fx, &tpl, "anonymous", "", &[]);
    assert_eq!(title_ids(&html), vec![open_crit, open_bug]);
    assert!(
        !html.contains(&format!("issue{done}\"")),
        "resolved issues are not listed"
    );
    let crit = html.find(">critical</th>").expect("critical group");
    let bug = html.find(">bug</th>").expect("bug group");
    assert!(crit < bug);
}
