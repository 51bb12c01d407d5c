//! extensions/*.py: init(instance) registers template utils and actions.

use crate::common::{ok, open_db};
use roundup_core::detectors::Detectors;
use roundup_core::extensions::{
    ActionOutcome, ActionRequest, FormField, TemplateObject, UtilValue,
};
use roundup_core::pyrepr::PyValue;
use roundup_core::{Error, Value};
use roundup_python::{load_extensions, load_interfaces, load_schema, ConfigView};

const CLASSIC: &str = include_str!("../data/classic_schema.py");

const EXT: &str = r#"
import re

from roundup.cgi.actions import Action


def shout(text, times=1):
    return (text.upper() + "!") * times


def issue_titles(utils, prefix):
    db = utils.db
    return [prefix + db.issue.get(i, "title") for i in db.issue.list()]


class Hello(Action):
    def handle(self):
        return "hello"


def init(instance):
    instance.registerUtil("shout", shout)
    instance.registerUtil("words", lambda s: re.findall(r"\w+", s))
    instance.registerUtilMethod("issue_titles", issue_titles)
    instance.registerAction("hello", Hello)
"#;

/// Call an extension function with plain data; its plain-data result.
fn data(
    util: &std::sync::Arc<dyn roundup_core::extensions::TemplateUtil>,
    db: &roundup_core::Db,
    args: Vec<PyValue>,
) -> PyValue {
    let args: Vec<UtilValue> = args.into_iter().map(UtilValue::Data).collect();
    match ok(util.call(db, &args)) {
        UtilValue::Data(v) => v,
        other => panic!("expected plain data, got {other:?}"),
    }
}

#[test]
fn extensions_register_utils_that_templates_call() {
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let ext = ok(load_extensions(
        &[("extensions/local.py".to_string(), EXT.to_string())],
        "/tracker",
        &schema,
        &security,
        &config,
    ));
    let actions: Vec<&str> = ext.actions.keys().map(String::as_str).collect();
    assert_eq!(actions, vec!["hello"]);
    let names: Vec<&str> = ext.utils.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["shout", "words", "issue_titles"]);

    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let mut v = roundup_core::Values::new();
    v.insert("title".into(), Some(Value::String("first".into())));
    ok(db.create("issue", v));

    let shout = ext.util("shout").expect("shout");
    assert_eq!(
        data(shout, &db, vec![PyValue::Str("hi".into()), PyValue::Int(2)]),
        PyValue::Str("HI!HI!".into())
    );
    let words = ext.util("words").expect("words");
    assert_eq!(
        data(words, &db, vec![PyValue::Str("a b, c".into())]),
        PyValue::List(vec![
            PyValue::Str("a".into()),
            PyValue::Str("b".into()),
            PyValue::Str("c".into())
        ])
    );
    let titles = ext.util("issue_titles").expect("issue_titles");
    assert_eq!(
        data(titles, &db, vec![PyValue::Str("#".into())]),
        PyValue::List(vec![PyValue::Str("#first".into())])
    );
    // an exception in the function is an error naming the file and line
    let err = shout
        .call(&db, &[UtilValue::Data(PyValue::Int(3))])
        .expect_err("int has no upper()");
    match err {
        Error::Script(m) => {
            assert!(m.contains("extensions/local.py:"), "{m}");
            assert!(m.contains("AttributeError"), "{m}");
        }
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[test]
fn an_extension_without_init_is_refused_with_its_name() {
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let err = load_extensions(
        &[("extensions/broken.py".to_string(), "x = 1\n".to_string())],
        "/tracker",
        &schema,
        &security,
        &config,
    )
    .expect_err("no init");
    assert!(err.to_string().contains("extensions/broken.py"), "{err}");
    assert!(err.to_string().contains("init(instance)"), "{err}");
}

const ACTIONS: &str = r#"
from roundup.cgi.actions import Action
from roundup.cgi.exceptions import NotFound, Redirect
from roundup.exceptions import Reject


class FileIt(Action):
    def handle(self):
        title = self.form['title'].value
        if not title.strip():
            raise Reject('a title is needed')
        nid = self.db.issue.create(title=title)
        self.client.add_ok_message('filed %s' % nid)
        raise Redirect('%sissue%s' % (self.base, nid))


class Echo(Action):
    def handle(self):
        f = self.form
        up = f['upload']
        return '|'.join(map(str, [
            ','.join(sorted(f.keys())), f.getvalue('x'), up.filename,
            up.type, up.value.decode(), self.classname, self.nodeid,
            self.userid, self.client.env['REQUEST_METHOD']]))


class Pick(Action):
    def handle(self):
        self.client.template = 'search'
        self.client.add_error_message('pick one')
        self.client.setHeader('X-Picked', 'yes')


class EditOnly(Action):
    name = 'editonly'
    permissionType = 'Edit'

    def handle(self):
        return 'done'


class Missing(Action):
    def handle(self):
        raise NotFound('no such thing')


class Broken(Action):
    def handle(self):
        return 1 / 0


def init(instance):
    instance.registerAction('fileit', FileIt)
    instance.registerAction('Echo', Echo)
    instance.registerAction('pick', Pick)
    instance.registerAction('editonly', EditOnly)
    instance.registerAction('missing', Missing)
    instance.registerAction('broken', Broken)
"#;

fn request(name: &str, userid: &str, form: Vec<(&str, FormField)>) -> ActionRequest {
    ActionRequest {
        name: name.into(),
        method: "POST".into(),
        base: "http://x/t/".into(),
        userid: userid.into(),
        classname: Some("issue".into()),
        nodeid: None,
        template: "index".into(),
        form: form.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

fn text(s: &str) -> FormField {
    FormField::Text(s.into())
}

#[test]
fn registered_actions_run_as_roundup_runs_them() {
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let ext = ok(load_extensions(
        &[("extensions/actions.py".to_string(), ACTIONS.to_string())],
        "/tracker",
        &schema,
        &security,
        &config,
    ));
    // names are matched case-insensitively, as Roundup lower-cases @action
    assert!(ext.action("ECHO").is_some());
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let mut v = roundup_core::Values::new();
    v.insert("username".into(), Some(Value::String("admin".into())));
    v.insert("roles".into(), Some(Value::String("Admin".into())));
    ok(db.create("user", v));

    // a change, a message and a redirect
    let fileit = ext.action("fileit").expect("fileit");
    let r = ok(fileit.run(
        &db,
        &request("fileit", "1", vec![("title", text("From Python"))]),
    ));
    assert_eq!(
        r.outcome,
        ActionOutcome::Redirect("http://x/t/issue1".into())
    );
    assert!(r.commit);
    assert_eq!(r.ok, vec!["filed 1".to_string()]);
    assert_eq!(
        ok(db.get("issue", "1", "title")),
        Some(Value::String("From Python".into()))
    );
    // Reject: an error message, the changes not to be kept
    let r = ok(fileit.run(&db, &request("fileit", "1", vec![("title", text("  "))])));
    assert_eq!(r.outcome, ActionOutcome::Render);
    assert!(!r.commit);
    assert_eq!(r.err, vec!["a title is needed".to_string()]);

    // the form as cgi.FieldStorage gives it, files included
    let echo = ext.action("echo").expect("echo");
    let r = ok(echo.run(
        &db,
        &request(
            "echo",
            "1",
            vec![
                ("x", text("1")),
                ("x", text("2")),
                (
                    "upload",
                    FormField::File {
                        filename: "a.txt".into(),
                        content_type: "text/plain".into(),
                        content: b"file body".to_vec(),
                    },
                ),
            ],
        ),
    ));
    assert_eq!(
        r.outcome,
        ActionOutcome::Body(
            "upload,x|['1', '2']|a.txt|text/plain|file body|issue|None|1|POST".into()
        )
    );

    // the page to render, messages and headers
    let r = ok(ext
        .action("pick")
        .expect("pick")
        .run(&db, &request("pick", "1", vec![])));
    assert_eq!(r.outcome, ActionOutcome::Render);
    assert_eq!(r.template.as_deref(), Some("search"));
    assert_eq!(r.err, vec!["pick one".to_string()]);
    assert_eq!(r.headers, vec![("X-Picked".to_string(), "yes".to_string())]);

    // permissionType is checked before handle()
    let edit = ext.action("editonly").expect("editonly");
    assert_eq!(
        ok(edit.run(&db, &request("editonly", "1", vec![]))).outcome,
        ActionOutcome::Body("done".into())
    );
    let r = ok(edit.run(&db, &request("editonly", "7", vec![])));
    assert_eq!(
        r.outcome,
        ActionOutcome::Unauthorised(
            "You do not have permission to editonly the issue class.".into()
        )
    );
    assert!(!r.commit);
    let r = ok(ext
        .action("missing")
        .expect("missing")
        .run(&db, &request("missing", "1", vec![])));
    assert_eq!(r.outcome, ActionOutcome::NotFound("no such thing".into()));

    // any other exception is a script error naming file and line
    let err = ext
        .action("broken")
        .expect("broken")
        .run(&db, &request("broken", "1", vec![]))
        .expect_err("1/0");
    let m = err.to_string();
    assert!(m.contains("extensions/actions.py:"), "{m}");
    assert!(m.contains("ZeroDivisionError"), "{m}");
}

const INTERFACES: &str = r#"
from roundup.cgi import client, templating
from roundup import mailgw


class TemplatingUtils(templating.TemplatingUtils):
    prefix = '#'

    def issue_count(self):
        return len(self.db.issue.list())

    def tag(self, word):
        return self.prefix + word.lower()

    def _hidden(self):
        return 'no'


class Client(client.Client):
    pass


class MailGW(mailgw.MailGW):
    pass
"#;

#[test]
fn interfaces_templating_utils_become_utils() {
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let mut ext = roundup_core::extensions::Extensions::default();
    ok(load_interfaces(
        "/t/interfaces.py",
        INTERFACES,
        &schema,
        &security,
        &config,
        &mut ext,
    ));
    let names: Vec<&str> = ext.utils.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["issue_count", "tag"]);
    assert_eq!(
        ext.unused,
        vec![
            "/t/interfaces.py: Client".to_string(),
            "/t/interfaces.py: MailGW".to_string()
        ]
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(
        dir.path(),
        schema.clone(),
        security.clone(),
        Detectors::new(),
        "1",
    );
    let mut v = roundup_core::Values::new();
    v.insert("title".into(), Some(Value::String("one".into())));
    ok(db.create("issue", v));
    let count = ext.util("issue_count").expect("issue_count");
    assert_eq!(data(count, &db, vec![]), PyValue::Int(1));
    let tag = ext.util("tag").expect("tag");
    assert_eq!(
        data(tag, &db, vec![PyValue::Str("Bug".into())]),
        PyValue::Str("#bug".into())
    );

    // a broken interfaces.py names file and line
    let mut ext = roundup_core::extensions::Extensions::default();
    let err = load_interfaces(
        "/t/interfaces.py",
        "import nosuchmodule\n",
        &schema,
        &security,
        &config,
        &mut ext,
    )
    .expect_err("import fails");
    let m = err.to_string();
    assert!(m.contains("/t/interfaces.py:1"), "{m}");
    assert!(m.contains("nosuchmodule"), "{m}");
}

/// A template object as the web front end would pass one: a property
/// whose methods answer with their name, arguments and value.
#[derive(Debug)]
struct FakeProp(String);

#[derive(Debug)]
struct FakeMethod(String, String);

fn text_of(v: &UtilValue) -> String {
    match v {
        UtilValue::Data(PyValue::Str(s)) => s.clone(),
        UtilValue::Data(other) => format!("{other:?}"),
        UtilValue::Object(o) => o.text(),
        UtilValue::List(items) => format!("{}", items.len()),
    }
}

impl TemplateObject for FakeProp {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn getattr(&self, name: &str) -> roundup_core::Result<Option<UtilValue>> {
        Ok(match name {
            "missing" => None,
            "size" => Some(UtilValue::Data(PyValue::Int(7))),
            _ => Some(UtilValue::Object(std::sync::Arc::new(FakeMethod(
                name.to_string(),
                self.0.clone(),
            )))),
        })
    }
    fn getitem(&self, key: &UtilValue) -> roundup_core::Result<Option<UtilValue>> {
        Ok(Some(UtilValue::Data(PyValue::Str(format!(
            "[{}]",
            text_of(key)
        )))))
    }
    fn call(
        &self,
        _: Vec<UtilValue>,
        _: Vec<(String, UtilValue)>,
    ) -> roundup_core::Result<UtilValue> {
        Err(Error::Script("not callable".into()))
    }
    fn text(&self) -> String {
        self.0.clone()
    }
    fn truth(&self) -> bool {
        !self.0.is_empty()
    }
    fn items(&self) -> roundup_core::Result<Option<Vec<UtilValue>>> {
        Ok(Some(vec![
            UtilValue::Object(std::sync::Arc::new(FakeProp(format!("{}-a", self.0)))),
            UtilValue::Object(std::sync::Arc::new(FakeProp(format!("{}-b", self.0)))),
        ]))
    }
}

impl TemplateObject for FakeMethod {
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
    fn getattr(&self, _: &str) -> roundup_core::Result<Option<UtilValue>> {
        Ok(None)
    }
    fn getitem(&self, _: &UtilValue) -> roundup_core::Result<Option<UtilValue>> {
        Ok(None)
    }
    fn call(
        &self,
        args: Vec<UtilValue>,
        kwargs: Vec<(String, UtilValue)>,
    ) -> roundup_core::Result<UtilValue> {
        let mut parts: Vec<String> = args.iter().map(text_of).collect();
        parts.extend(kwargs.iter().map(|(k, v)| format!("{k}={}", text_of(v))));
        Ok(UtilValue::Data(PyValue::Str(format!(
            "{}({}):{}",
            self.0,
            parts.join(","),
            self.1
        ))))
    }
    fn text(&self) -> String {
        self.0.clone()
    }
    fn truth(&self) -> bool {
        true
    }
    fn items(&self) -> roundup_core::Result<Option<Vec<UtilValue>>> {
        Ok(None)
    }
}

const OBJECTS: &str = r#"
kept = []

def describe(prop, name):
    parts = [prop.plain(), prop.field(name, size=prop.size), str(prop), prop['k'],
             len(prop), bool(prop), [str(p) for p in prop], 'x-a' in [str(p) for p in prop]]
    try:
        prop.missing
    except AttributeError as e:
        parts.append('no missing')
    return ' '.join(str(p) for p in parts)

def first(prop):
    return list(prop)[0]

def keep(prop):
    kept.append(prop)
    return [prop, 1]

def reuse():
    return kept[0].plain()

def init(instance):
    instance.registerUtil("describe", describe)
    instance.registerUtil("first", first)
    instance.registerUtil("keep", keep)
    instance.registerUtil("reuse", reuse)
"#;

#[test]
fn extension_functions_use_the_template_objects_they_are_given() {
    let config = ConfigView::new();
    let (schema, security) = ok(load_schema("schema.py", CLASSIC, &config));
    let ext = ok(load_extensions(
        &[("extensions/objects.py".to_string(), OBJECTS.to_string())],
        "/tracker",
        &schema,
        &security,
        &config,
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let prop = || UtilValue::Object(std::sync::Arc::new(FakeProp("x".into())));

    let describe = ext.util("describe").expect("describe");
    let r = ok(describe.call(&db, &[prop(), UtilValue::Data(PyValue::Str("tz".into()))]));
    assert_eq!(
        text_of(&r),
        "plain():x field(tz,size=Int(7)):x x [k] 2 True ['x-a', 'x-b'] True no missing"
    );

    // an object comes back as itself
    let first = ext.util("first").expect("first");
    match ok(first.call(&db, &[prop()])) {
        UtilValue::Object(o) => assert_eq!(o.text(), "x-a"),
        other => panic!("expected the object back, got {other:?}"),
    }
    let keep = ext.util("keep").expect("keep");
    match ok(keep.call(&db, &[prop()])) {
        UtilValue::List(items) => {
            assert!(matches!(&items[0], UtilValue::Object(o) if o.text() == "x"));
            assert!(matches!(&items[1], UtilValue::Data(PyValue::Int(1))));
        }
        other => panic!("expected a list holding the object, got {other:?}"),
    }
    // kept past its call, the object is refused, not dangling
    let reuse = ext.util("reuse").expect("reuse");
    let err = reuse.call(&db, &[]).expect_err("a stale object");
    assert!(
        err.to_string().contains("after the extension function"),
        "{err}"
    );
}
