//! schema.py evaluation: classes, options and security.

use crate::common::{ok, open_db};
use roundup_core::detectors::Detectors;
use roundup_core::schema::{ClassKind, PropType};
use roundup_core::{Error, Value, Values};
use roundup_python::{load_schema, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.py");

fn classic() -> (roundup_core::Schema, roundup_core::security::Security) {
    ok(load_schema("schema.py", CLASSIC, &ConfigView::new()))
}

fn vals(pairs: &[(&str, Value)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Some(v.clone())))
        .collect()
}

fn s(x: &str) -> Value {
    Value::String(x.to_string())
}

#[test]
fn classic_classes_and_properties() {
    let (schema, _) = classic();
    let names: Vec<&str> = schema.classes.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["priority", "status", "keyword", "query", "user", "msg", "file", "issue"]
    );
    let pri = ok(schema.class("priority"));
    assert_eq!(pri.key.as_deref(), Some("name"));
    assert_eq!(pri.props["order"].ptype, PropType::Number);

    let user = ok(schema.class("user"));
    assert_eq!(user.key.as_deref(), Some("username"));
    assert_eq!(user.props["password"].ptype, PropType::Password);
    assert_eq!(user.props["queries"].link_class.as_deref(), Some("query"));
    assert_eq!(user.props.len(), 10);

    let msg = ok(schema.class("msg"));
    assert_eq!(msg.kind, ClassKind::File);
    assert!(!msg.props["author"].do_journal);
    assert!(!msg.props["recipients"].do_journal);
    assert!(msg.props["files"].do_journal);
    assert!(msg.props.contains_key("content") && msg.props.contains_key("type"));

    let issue = ok(schema.class("issue"));
    assert_eq!(issue.kind, ClassKind::Issue);
    for p in [
        "title",
        "messages",
        "files",
        "nosy",
        "superseder",
        "assignedto",
        "keyword",
    ] {
        assert!(issue.props.contains_key(p), "issue lacks {p}");
    }
    assert_eq!(issue.props["status"].link_class.as_deref(), Some("status"));
    assert!(issue.props["title"].indexme);
}

#[test]
fn property_options_are_applied() {
    let src = r#"
t = Class(db, "thing",
    name=String(indexme="yes", required=True),
    note=String(quiet=True, default_value="n/a"),
    owner=Link("user", do_journal="no", try_id_parsing="no", msg_header_property="username"),
    tags=Multilink("user", rev_multilink="tagged_in"),
    due=Date(offset=2, display_time="no", format="%Y-%m-%d"),
    size=Number(use_double=True),
    count=Integer(default_value=3),
    flag=Boolean(default_value=False),
    spent=Interval(),
    secret=Password(scheme="plaintext"))
t.setlabelprop("name")
t.setorderprop("count")
t.disableJournalling()
Class(db, "user", username=String()).setkey("username")
"#;
    let (schema, security) = ok(load_schema("schema.py", src, &ConfigView::new()));
    let t = ok(schema.class("thing"));
    let p = &t.props;
    assert!(p["name"].indexme && p["name"].required);
    assert!(p["note"].quiet);
    assert_eq!(p["note"].default_value, Some(s("n/a")));
    assert!(!p["owner"].do_journal && !p["owner"].try_id_parsing);
    assert_eq!(p["owner"].msg_header_property.as_deref(), Some("username"));
    assert_eq!(p["due"].date_offset.as_deref(), Some("2"));
    assert!(!p["due"].display_time);
    assert_eq!(p["due"].date_format.as_deref(), Some("%Y-%m-%d"));
    assert!(p["size"].use_double);
    assert_eq!(p["count"].default_value, Some(Value::Integer(3)));
    assert_eq!(p["flag"].default_value, Some(Value::Boolean(false)));
    assert_eq!(p["spent"].ptype, PropType::Interval);
    assert!(p["secret"].scheme.is_some());
    assert_eq!(t.labelprop.as_deref(), Some("name"));
    assert_eq!(t.orderprop.as_deref(), Some("count"));
    assert!(!t.do_journal);
    // rev_multilink adds the computed property after finish()
    let user = ok(schema.class("user"));
    assert!(user.props["tagged_in"].is_computed());
    // each class got Roundup's per-class permissions
    let descs: Vec<String> = security
        .role_permissions("admin")
        .iter()
        .map(|p| p.name.clone())
        .collect();
    assert!(descs.contains(&"Create".to_string()));
    assert!(ok(security.get_permission("Retire", Some("thing"), None, None, None)) > 0);
    assert!(ok(security.get_permission("View", Some("user"), None, None, None)) > 0);
}

#[test]
fn roles_and_permissions() {
    let (schema, security) = classic();
    assert!(security.has_role("user") && security.has_role("anonymous"));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let admin = ok(db.create(
        "user",
        vals(&[("username", s("admin")), ("roles", s("Admin"))]),
    ));
    let anon = ok(db.create(
        "user",
        vals(&[("username", s("anonymous")), ("roles", s("Anonymous"))]),
    ));
    let alice = ok(db.create(
        "user",
        vals(&[("username", s("alice")), ("roles", s("User"))]),
    ));
    let bob = ok(db.create(
        "user",
        vals(&[("username", s("bob")), ("roles", s("User"))]),
    ));
    let sec = db.security();
    let has =
        |perm: &str, uid: &str, class: Option<&str>, prop: Option<&str>, item: Option<&str>| {
            ok(sec.has_permission(&db, perm, uid, class, prop, item))
        };
    // interfaces
    assert!(has("Web Access", &alice, None, None, None));
    assert!(has("Email Access", &alice, None, None, None));
    assert!(has("Web Access", &anon, None, None, None));
    assert!(!has("Email Access", &anon, None, None, None));
    // class permissions
    assert!(has("View", &alice, Some("issue"), None, None));
    assert!(has("Create", &alice, Some("msg"), None, None));
    assert!(!has("Edit", &alice, Some("priority"), None, None));
    assert!(has("View", &anon, Some("issue"), None, None));
    assert!(!has("Edit", &anon, Some("issue"), None, None));
    assert!(!has("Create", &anon, Some("issue"), None, None));
    assert!(has("Register", &anon, Some("user"), None, None));
    assert!(!has("Register", &alice, Some("user"), None, None));
    assert!(has("Search", &anon, Some("user"), None, None));
    assert!(has("Edit", &admin, Some("priority"), None, None));
    // the own_record check: users edit only their own user item ...
    assert!(has(
        "Edit",
        &alice,
        Some("user"),
        Some("realname"),
        Some(&alice)
    ));
    assert!(!has(
        "Edit",
        &alice,
        Some("user"),
        Some("realname"),
        Some(&bob)
    ));
    // ... and only the listed properties of it
    assert!(!has(
        "Edit",
        &alice,
        Some("user"),
        Some("roles"),
        Some(&alice)
    ));
    // public properties of others are visible, the rest only of oneself
    assert!(has(
        "View",
        &alice,
        Some("user"),
        Some("realname"),
        Some(&bob)
    ));
    assert!(!has(
        "View",
        &alice,
        Some("user"),
        Some("address"),
        Some(&bob)
    ));
    assert!(has(
        "View",
        &alice,
        Some("user"),
        Some("address"),
        Some(&alice)
    ));
}

#[test]
fn query_checks_read_the_database() {
    let (schema, security) = classic();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let alice = ok(db.create(
        "user",
        vals(&[("username", s("alice")), ("roles", s("User"))]),
    ));
    let bob = ok(db.create(
        "user",
        vals(&[("username", s("bob")), ("roles", s("User"))]),
    ));
    db.set_uid(&alice);
    let private = ok(db.create(
        "query",
        vals(&[
            ("name", s("mine")),
            ("private_for", Value::Link(alice.clone())),
        ]),
    ));
    let public = ok(db.create("query", vals(&[("name", s("shared"))])));
    let sec = db.security();
    let has = |perm: &str, uid: &str, item: &str| {
        ok(sec.has_permission(&db, perm, uid, Some("query"), None, Some(item)))
    };
    assert!(has("View", &alice, &private));
    assert!(!has("View", &bob, &private));
    assert!(has("View", &bob, &public));
    // edit_query takes **ctx (Roundup's version-2 check) and compares creator
    assert!(has("Edit", &alice, &public));
    assert!(!has("Edit", &bob, &public));
    assert!(!has("Retire", &bob, &private));
}

#[test]
fn permission_by_name_needs_an_existing_definition() {
    let src = r#"
Class(db, "user", username=String())
db.security.addRole(name="Developer", description="writes code")
db.security.addPermissionToRole("Developer", "Edit", "nosuchclass")
"#;
    let err = load_schema("schema.py", src, &ConfigView::new()).expect_err("must fail");
    let text = err.to_string();
    assert!(matches!(err, Error::Script(_)), "{err:?}");
    assert!(text.starts_with("schema.py:4:"), "{text}");
    assert!(text.contains("No class \"nosuchclass\" defined"), "{text}");
}

#[test]
fn get_permission_and_props_only_default() {
    let src = r#"
Class(db, "issue", title=String())
db.security.set_props_only_default(True)
p = db.security.addPermission(name="View", klass="issue", properties=["title"])
q = db.security.getPermission("View", "issue", properties=["title"])
if p.name != q.name or p.klass != "issue":
    raise AssertionError("getPermission found something else")
db.security.addRole(name="Reader")
db.security.addPermissionToRole("reader", q)
"#;
    let (_, security) = ok(load_schema("schema.py", src, &ConfigView::new()));
    let perms = security.role_permissions("Reader");
    assert_eq!(perms.len(), 1);
    assert!(perms[0].props_only);
    assert_eq!(
        perms[0].properties.as_deref(),
        Some(&["title".to_string()][..])
    );
}

#[test]
fn bad_option_value_names_file_line_and_option() {
    let src = "Class(db, \"user\", username=String())\n\nClass(db, \"doc\", body=String(indexme='maybe'))\n";
    let err = load_schema("trackers/x/schema.py", src, &ConfigView::new()).expect_err("must fail");
    let text = err.to_string();
    assert!(text.starts_with("trackers/x/schema.py:3:"), "{text}");
    assert!(
        text.contains("String: indexme=str \"maybe\" is not valid; use 'yes' or 'no'"),
        "{text}"
    );
}

#[test]
fn unknown_option_is_refused() {
    let src = "Class(db, \"doc\", body=String(indexed='yes'))\n";
    let err = load_schema("schema.py", src, &ConfigView::new()).expect_err("must fail");
    assert!(
        err.to_string()
            .contains("String() has no option \"indexed\""),
        "{err}"
    );
}

#[test]
fn link_to_undefined_class_names_file_and_class() {
    let src = "Class(db, \"issue\", owner=Link(\"person\"))\n";
    let err = load_schema("schema.py", src, &ConfigView::new()).expect_err("must fail");
    let text = err.to_string();
    assert!(matches!(err, Error::Schema(_)), "{err:?}");
    assert!(text.contains("schema.py"), "{text}");
    assert!(text.contains("undefined class \"person\""), "{text}");
}

#[test]
fn class_defined_twice() {
    let src = "Class(db, \"a\", x=String())\nClass(db, \"a\", y=String())\n";
    let err = load_schema("schema.py", src, &ConfigView::new()).expect_err("must fail");
    assert!(err.to_string().starts_with("schema.py:2:"), "{err}");
    assert!(err.to_string().contains("defined twice"), "{err}");
}

#[test]
fn config_is_visible_in_schema() {
    let mut cfg = ConfigView::new();
    cfg.set("tracker", "name", "Bugs");
    let src = r#"
if db.config.TRACKER_NAME != "Bugs" or db.config["TRACKER_NAME"] != "Bugs":
    raise AssertionError("config not visible")
if getattr(db.config, "NO_SUCH_OPTION", "dflt") != "dflt":
    raise AssertionError("getattr default")
Class(db, "user", username=String())
"#;
    ok(load_schema("schema.py", src, &cfg));
}

#[test]
fn filter_functions_give_filterspecs_and_a_check() {
    let src = r#"
Class(db, "user", username=String(), roles=String())
Class(db, "query", name=String(), private_for=Link("user"))

def visible_queries(db, userid, klass):
    if klass.classname != "query":
        raise AssertionError("wrong class")
    return [{"filterspec": {"private_for": ["-1", userid]}}]

p = db.security.addPermission(name="View", klass="query", filter=visible_queries)
db.security.addPermissionToRole("User", p)
"#;
    let (schema, security) = ok(load_schema("schema.py", src, &ConfigView::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let alice = ok(db.create(
        "user",
        vals(&[("username", s("alice")), ("roles", s("User"))]),
    ));
    let bob = ok(db.create(
        "user",
        vals(&[("username", s("bob")), ("roles", s("User"))]),
    ));
    let mine = ok(db.create(
        "query",
        vals(&[
            ("name", s("mine")),
            ("private_for", Value::Link(alice.clone())),
        ]),
    ));
    let public = ok(db.create("query", vals(&[("name", s("all"))])));
    let sec = db.security();
    let roles = vec!["user".to_string()];
    let perms: Vec<_> = sec.checked_permissions(&roles, "View", "query").collect();
    assert_eq!(perms.len(), 1);
    let filter = perms[0].filter.as_ref().expect("filter kept");
    assert_eq!(
        ok(filter.filters(&db, &bob, "query")),
        vec![vec![(
            "private_for".to_string(),
            vec!["-1".to_string(), bob.clone()]
        )]]
    );
    // the check made from the filter
    let has = |uid: &str, item: &str| {
        ok(sec.has_permission(&db, "View", uid, Some("query"), None, Some(item)))
    };
    assert!(has(&alice, &mine));
    assert!(!has(&bob, &mine));
    assert!(has(&bob, &public));
}

#[test]
fn filter_without_class_needs_a_check() {
    let src = "def f(db, userid, klass):\n    return []\n\ndb.security.addPermission(name='View', filter=f)\n";
    let err = load_schema("schema.py", src, &ConfigView::new()).expect_err("must fail");
    assert!(err.to_string().starts_with("schema.py:4:"), "{err}");
    assert!(err.to_string().contains("needs a check function"), "{err}");
}

#[test]
fn check_functions_with_and_without_context() {
    let src = r#"
Class(db, "user", username=String(), roles=String())
Class(db, "doc", owner=Link("user"), title=String(), body=String())

def owner_only(db, userid, itemid):
    return db.doc.get(itemid, "owner") == userid

def title_editing(db, userid, itemid, **ctx):
    # Roundup's version-2 checks get permission, classname and property
    return (ctx["permission"] == "Edit" and ctx["classname"] == "doc"
            and ctx["property"] == "title" and db.user.get(userid, "username") == "bob")

def broken(db, userid, itemid):
    return 1 // 0

for check in (owner_only, title_editing):
    db.security.addPermissionToRole("User", db.security.addPermission(
        name="Edit", klass="doc", check=check))
db.security.addPermissionToRole("User", db.security.addPermission(
    name="Retire", klass="doc", check=broken))
"#;
    let (schema, security) = ok(load_schema("schema.py", src, &ConfigView::new()));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let alice = ok(db.create(
        "user",
        vals(&[("username", s("alice")), ("roles", s("User"))]),
    ));
    let bob = ok(db.create(
        "user",
        vals(&[("username", s("bob")), ("roles", s("User"))]),
    ));
    let doc = ok(db.create(
        "doc",
        vals(&[("owner", Value::Link(alice.clone())), ("title", s("t"))]),
    ));
    let sec = db.security();
    let has = |perm: &str, uid: &str, prop: Option<&str>| {
        ok(sec.has_permission(&db, perm, uid, Some("doc"), prop, Some(&doc)))
    };
    assert!(has("Edit", &alice, Some("body")));
    assert!(has("Edit", &alice, None));
    assert!(has("Edit", &bob, Some("title")));
    assert!(!has("Edit", &bob, Some("body")));
    assert!(!has("Edit", &bob, None));
    // an exception in a check is an error naming the schema line
    let err = sec
        .has_permission(&db, "Retire", &alice, Some("doc"), None, Some(&doc))
        .expect_err("the check fails");
    let text = err.to_string();
    assert!(matches!(err, Error::Script(_)), "{err:?}");
    assert!(
        text.starts_with("schema.py:14: ZeroDivisionError"),
        "{text}"
    );
}
