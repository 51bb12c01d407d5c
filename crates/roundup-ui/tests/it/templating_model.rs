//! The object model as template authors use it, through small templates
//! written into the tracker's html directory.

use crate::templating_common::*;
use roundup_core::Value;

fn with_template(fx: &Fixture, name: &str, source: &str) {
    std::fs::write(fx.home().join("html").join(name), source).unwrap();
}

#[test]
fn properties_items_and_classes() {
    let fx = Fixture::classic();
    let db = fx.db();
    let alice = fx.uid("alice");
    let bob = fx.uid("bob");
    let id = issue(
        &db,
        "Copy me",
        &[
            ("priority", Some(Value::Link("3".into()))),
            (
                "nosy",
                Some(Value::Multilink(vec![bob.clone(), alice.clone()])),
            ),
        ],
    );
    db.commit().unwrap();
    with_template(
        &fx,
        "issue.model.html",
        concat!(
            "[{{ context.designator() }}|{{ context.classname }}|{{ context.title }}|{{ context.title.plain() }}]\n",
            "[{{ context.priority }}|{{ context.priority.name }}|{{ context.priority.id }}|{{ context.priority._value }}]\n",
            "[{% for u in context.nosy %}{{ u.username }};{% endfor %}|{{ context.nosy.sorted('username') | map(attribute='id') | join(',') }}|{{ context.nosy | length }}]\n",
            "[{{ context.assignedto.isset() }}|{{ 'set' if context.assignedto else 'unset' }}|{{ context.creation.pretty('%Y') | length }}]\n",
            "[{{ context.activity.reldate() }}|{{ context.copy_url() }}]\n",
            "[{{ db.priority.list() | map(attribute='id') | join(',') }}|{{ db.status.lookup('chatting').id }}|{{ db.issue.filter(filterspec={'priority': 'bug'}) | length }}]\n",
            "[{{ db.user.getkey() }}|{{ db.keyword.propnames() | join(',') }}|{{ utils.url_quote('a b&c') }}|{{ utils.html_quote('<b>') }}]\n",
        ),
    );
    let tpl = fx.templates();
    let out = render(
        &fx,
        &tpl,
        "alice",
        &format!("issue{id}"),
        &[("@template", "model")],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("[issue{id}|issue|Copy me|Copy me]"));
    assert_eq!(lines[1], "[bug|bug|3|3]");
    assert_eq!(lines[2], format!("[alice;bob;|{alice},{bob}|2]"));
    assert_eq!(lines[3], "[False|unset|4]");
    assert!(
        lines[4].starts_with("[just now|issue?@template=item&amp;"),
        "{}",
        lines[4]
    );
    assert!(
        // Roundup's copy_url: a note, then the properties as shown
        lines[4].contains("@note=Copy%20of%20issue%201")
            && lines[4].contains("title=Copy%20me")
            && lines[4].contains("priority=bug"),
        "{}",
        lines[4]
    );
    assert!(!lines[4].contains("messages="), "{}", lines[4]);
    assert_eq!(lines[5], "[1,2,3,4,5|3|1]");
    assert_eq!(lines[6], "[username|id,name|a%20b%26c|&lt;b&gt;]");
}

#[test]
fn request_index_arguments() {
    let fx = Fixture::classic();
    with_template(
        &fx,
        "issue.args.html",
        concat!(
            "[{{ request.columns | join(',') }}|{{ request.show.title }}|{{ request.show.status }}]\n",
            "[{% for d, p in request.sort %}{{ d }}{{ p }};{% endfor %}|{% for d, p in request.group %}{{ d }}{{ p }};{% endfor %}]\n",
            "[{{ request.filter | join(',') }}|{{ request.filterspec.status | join(',') }}|{{ request.filterspec.title }}]\n",
            "[{{ request.pagesize }}|{{ request.startwith }}|{{ request.search_text }}|{{ request.dispname }}]\n",
            "[{{ request.indexargs_url('issue', {'@startwith': 20, '@dispname': none}) }}]\n",
            "[{{ request.indexargs_form(columns=false, sort=false, group=false, filter=false, search_text=false) }}]\n",
            "[{{ request.form['@dispname'].value }}|{{ request.form.getvalue('nothing', 'dflt') }}|{{ request.description() }}]\n",
        ),
    );
    let tpl = fx.templates();
    let out = render(
        &fx,
        &tpl,
        "alice",
        "issue",
        &[
            ("@template", "args"),
            ("@columns", "id,title"),
            ("@sort", "-activity,id"),
            ("@group", "priority"),
            ("@filter", "status,title,nosuchprop"),
            ("status", "1,2"),
            ("title", "word"),
            ("@pagesize", "25"),
            ("@startwith", "50"),
            ("@search_text", "hello world"),
            ("@dispname", "My view"),
        ],
    );
    // indexargs_form writes a field a line, as Roundup does
    let out = out.replace(">\n<input", "><input");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "[id,title|True|False]");
    assert_eq!(lines[1], "[-activity;+id;|+priority;]");
    assert_eq!(lines[2], "[status,title,nosuchprop|1,2|word]");
    assert_eq!(lines[3], "[25|50|hello world|My view]");
    assert_eq!(
        lines[4],
        "[issue?@startwith=20&amp;@columns=id,title&amp;@sort=-activity,id&amp;@group=priority&amp;@filter=status,title,nosuchprop&amp;@search_text=hello%20world&amp;@pagesize=25&amp;status=1,2&amp;title=word]"
    );
    assert!(
        lines[5].contains("<input type=\"hidden\" name=\"status\" value=\"1,2\" id=\"status\">"),
        "{}",
        lines[5]
    );
    assert!(
        lines[5].contains("name=\"@pagesize\" value=\"25\"") && !lines[5].contains("@columns"),
        "{}",
        lines[5]
    );
    assert_eq!(lines[6], "[My view|dflt|Test Tracker - issue args]");
}

#[test]
fn unsearchable_sort_and_filter_properties_are_dropped() {
    let fx = Fixture::classic();
    with_template(
        &fx,
        "user.args.html",
        "[{% for d, p in request.sort %}{{ p }};{% endfor %}|{{ request.filterspec | length }}]",
    );
    let tpl = fx.templates();
    // users may search usernames but not e-mail addresses of others
    let form = [
        ("@template", "args"),
        ("@sort", "address,username"),
        ("@filter", "address"),
        ("address", "example"),
    ];
    assert_eq!(render(&fx, &tpl, "alice", "user", &form), "[username;|0]");
    assert_eq!(
        render(&fx, &tpl, "admin", "user", &form),
        "[address;username;|1]"
    );
}
