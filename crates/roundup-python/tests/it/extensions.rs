//! extensions/*.py: init(instance) registers template utils and actions.

use crate::common::{ok, open_db};
use roundup_core::detectors::Detectors;
use roundup_core::pyrepr::PyValue;
use roundup_core::{Error, Value};
use roundup_python::{load_extensions, load_schema, ConfigView};

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
    assert_eq!(ext.actions, vec!["hello".to_string()]);
    let names: Vec<&str> = ext.utils.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["shout", "words", "issue_titles"]);

    let dir = tempfile::tempdir().expect("tempdir");
    let db = open_db(dir.path(), schema, security, Detectors::new(), "1");
    let mut v = roundup_core::Values::new();
    v.insert("title".into(), Some(Value::String("first".into())));
    ok(db.create("issue", v));

    let shout = ext.util("shout").expect("shout");
    assert_eq!(
        ok(shout.call(&db, &[PyValue::Str("hi".into()), PyValue::Int(2)])),
        PyValue::Str("HI!HI!".into())
    );
    let words = ext.util("words").expect("words");
    assert_eq!(
        ok(words.call(&db, &[PyValue::Str("a b, c".into())])),
        PyValue::List(vec![
            PyValue::Str("a".into()),
            PyValue::Str("b".into()),
            PyValue::Str("c".into())
        ])
    );
    let titles = ext.util("issue_titles").expect("issue_titles");
    assert_eq!(
        ok(titles.call(&db, &[PyValue::Str("#".into())])),
        PyValue::List(vec![PyValue::Str("#first".into())])
    );
    // an exception in the function is an error naming the file and line
    let err = shout
        .call(&db, &[PyValue::Int(3)])
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
