//! Rendering TAL through the public API, with a small object model of
//! minijinja objects standing in for Roundup's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, Kwargs, Object, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use roundup_tal::{compile, compile_as, render, Dialect, Loader, Program, TalError};

#[derive(Debug, Default)]
struct Templates(Mutex<HashMap<String, Arc<Program>>>);

impl Templates {
    fn add(&self, name: &str, src: &str) {
        let p = compile(name, src).unwrap_or_else(|e| panic!("{e}"));
        self.0.lock().unwrap().insert(name.to_string(), p);
    }
}

impl Loader for Templates {
    fn load(&self, name: &str) -> Result<Option<Arc<Program>>, TalError> {
        let map = self.0.lock().unwrap();
        Ok(map
            .get(name)
            .or_else(|| map.get(&format!("{name}.html")))
            .cloned())
    }
}

/// An item with a title property and a few methods.
#[derive(Debug)]
struct Item {
    id: &'static str,
    title: &'static str,
}

impl Object for Item {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "id" => Some(Value::from(self.id)),
            "title" => Some(Value::from(self.title)),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "designator" => Ok(Value::from(format!("issue{}", self.id))),
            "is_edit_ok" => Ok(Value::from(self.id == "1")),
            "field" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let size: i64 = kw.get("size")?;
                Ok(Value::from(format!(
                    "<input name=\"title\" size=\"{size}\" value=\"{}\">",
                    self.title
                )))
            }
            "boom" => Err(Error::new(ErrorKind::InvalidOperation, "it broke")),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("item has no method {method}"),
            )),
        }
    }
}

fn run_with(
    templates: &Arc<Templates>,
    name: &str,
    vars: Vec<(&str, Value)>,
) -> Result<String, TalError> {
    let env = Environment::new();
    let state = env.empty_state();
    let program = templates.load(name).unwrap().expect("template exists");
    let loader: Arc<dyn Loader> = templates.clone();
    render(
        &program,
        loader,
        &state,
        vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    )
}

fn items() -> Value {
    Value::from(vec![
        Value::from_object(Item {
            id: "1",
            title: "First <one>",
        }),
        Value::from_object(Item {
            id: "2",
            title: "Second",
        }),
        Value::from_object(Item {
            id: "3",
            title: "Third",
        }),
    ])
}

fn one(src: &str) -> String {
    render_in(src, Dialect::Zope)
}

/// Render `src`, read in `dialect`, with `items` and `context` set.
fn render_in(src: &str, dialect: Dialect) -> String {
    let t = Arc::new(Templates::default());
    let p = compile_as("t.html", src, dialect).unwrap_or_else(|e| panic!("{e}"));
    t.0.lock().unwrap().insert("t.html".into(), p);
    run_with(
        &t,
        "t.html",
        vec![
            ("items", items()),
            (
                "context",
                Value::from_object(Item {
                    id: "1",
                    title: "First <one>",
                }),
            ),
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn content_replace_and_escaping() {
    assert_eq!(
        one("<b tal:content=\"context/title\">x</b>"),
        "<b>First &lt;one&gt;</b>"
    );
    assert_eq!(
        one("<b tal:content=\"structure python:context.field(size=5)\">x</b>"),
        "<b><input name=\"title\" size=\"5\" value=\"First <one>\"></b>"
    );
    assert_eq!(one("<i tal:replace=\"context/id\">x</i>!"), "1!");
    assert_eq!(one("<i tal:replace=\"nothing\">x</i>!"), "!");
    assert_eq!(one("<i tal:content=\"default\">kept</i>"), "<i>kept</i>");
    assert_eq!(one("<tal:x content=\"context/designator\"/>"), "issue1");
}

#[test]
fn define_condition_repeat() {
    let out = one(concat!(
        "<ul tal:define=\"n python:len(items)\"><li tal:repeat=\"i items\" ",
        "tal:attributes=\"class python:repeat['i'].even and 'even' or 'odd'\" ",
        "tal:condition=\"python:n == 3\">",
        "<span tal:replace=\"repeat/i/number\"/>/<span tal:replace=\"n\"/>:",
        "<span tal:replace=\"i/title\"/><span tal:condition=\"repeat/i/end\" tal:replace=\"string:.\"/>",
        "</li></ul>"
    ));
    assert_eq!(
        out,
        "<ul><li class=\"even\">1/3:First &lt;one&gt;</li><li class=\"odd\">2/3:Second</li><li class=\"even\">3/3:Third.</li></ul>"
    );
    assert_eq!(one("<p tal:condition=\"not:context/id\">no</p>x"), "x");
    // a global define outlives its element; a local one does not
    assert_eq!(
        one("<a tal:define=\"global g string:G; l string:L\"></a><b tal:content=\"g\"/><c tal:content=\"l | string:none\"/>"),
        "<a></a><b>G</b><c>none</c>"
    );
}

#[test]
fn attributes_booleans_and_omit_tag() {
    assert_eq!(
        one("<input type=\"checkbox\" checked tal:attributes=\"checked python:False; value context/id; title nothing\" title=\"x\">"),
        "<input type=\"checkbox\" value=\"1\">"
    );
    assert_eq!(
        one("<option selected=\"selected\" tal:attributes=\"selected python:1; href default\" href='a&amp;b'>"),
        "<option selected=\"selected\" href='a&amp;b'>"
    );
    assert_eq!(
        one("<a tal:attributes=\"href string:x?a=1&amp;b=&quot;2&quot;\">"),
        "<a href=\"x?a=1&amp;b=&quot;2&quot;\">"
    );
    assert_eq!(one("<b tal:omit-tag=\"\">in</b>"), "in");
    assert_eq!(one("<b tal:omit-tag=\"python:0\">in</b>"), "<b>in</b>");
    assert_eq!(one("<br><img src=x />"), "<br><img src=x />");
}

#[test]
fn python_expressions() {
    let cases = [
        ("python:'%s-%s' % (context.id, 'x')", "1-x"),
        (
            "python:', '.join([i.title for i in items if i.id != '1'])",
            "Second, Third",
        ),
        (
            "python:'id activity title'.split()[1:]",
            "['activity', 'title']",
        ),
        ("python:{'a': 1}.get('b', 'none')", "none"),
        ("python:str([10, None]['x' in 'xyz'])", "None"),
        ("python:['normal', 'alt'][5 % 6 // 3]", "alt"),
        ("python:path('context/title').upper()", "FIRST <ONE>"),
        ("python:exists('context/nope') or 'no'", "no"),
        ("python:test(context.is_edit_ok(), 'edit', 'view')", "edit"),
        (
            "python:context.is_edit_ok and 'bound method is true'",
            "bound method is true",
        ),
        ("python:str(len(range(3))) + str(1 == True)", "3True"),
        (
            "python:'''retire('%s','%s')''' % (1, 'n')",
            "retire('1','n')",
        ),
        ("python:sorted([3, 1, 2], reverse=True)", "[3, 2, 1]"),
        ("python:(None or 'id activity').capitalize()", "Id activity"),
    ];
    for (expr, want) in cases {
        let out = one(&format!(
            "<i tal:replace=\"structure {}\"/>",
            expr.replace('"', "&quot;")
        ));
        assert_eq!(out, want, "{expr}");
    }
}

#[test]
fn paths_strings_and_alternatives() {
    assert_eq!(
        one("<i tal:replace=\"string:${context/id} is $x$$\" tal:define=\"x string:X\"/>"),
        "1 is X$"
    );
    assert_eq!(
        one("<i tal:replace=\"context/missing | context/title\"/>"),
        "First &lt;one&gt;"
    );
    assert_eq!(one("<i tal:replace=\"context/missing | nothing\"/>-"), "-");
    assert_eq!(
        one("<i tal:replace=\"python:exists('items/1/title')\"/>"),
        "True"
    );
    assert_eq!(one("<i tal:replace=\"items/1/title\"/>"), "Second");
    assert_eq!(
        one("<i tal:define=\"d nocall:context/designator\" tal:replace=\"python:d()\"/>"),
        "issue1"
    );
}

#[test]
fn macros_slots_and_nesting() {
    let t = Arc::new(Templates::default());
    t.add(
        "page.html",
        concat!(
            "<html metal:define-macro=\"icing\"><title metal:define-slot=\"head_title\">default title</title>",
            "<body><div metal:define-slot=\"content\">no content</div></body></html>",
            "<p metal:define-macro=\"frame\"><b metal:define-slot=\"inner\">frame default</b></p>"
        ),
    );
    t.add(
        "layout.html",
        // a macro built on another macro, passing its own slot on
        "<x metal:define-macro=\"wrapped\" metal:use-macro=\"templates/page/macros/frame\"><i metal:fill-slot=\"inner\">[<tal:s metal:define-slot=\"body\">wrapped default</tal:s>]</i></x>",
    );
    t.add(
        "issue.item.html",
        concat!(
            "<tal:block metal:use-macro=\"templates/page/macros/icing\">",
            "<title metal:fill-slot=\"head_title\">Issue <span tal:replace=\"context/id\"/></title>",
            "<td metal:fill-slot=\"content\" tal:define=\"m templates/layout/macros/wrapped\">",
            "<tal:m metal:use-macro=\"m\"><em metal:fill-slot=\"body\" tal:content=\"context/title\"/></tal:m>",
            "</td></tal:block>"
        ),
    );
    let out = run_with(
        &t,
        "issue.item.html",
        vec![(
            "context",
            Value::from_object(Item {
                id: "7",
                title: "Seven",
            }),
        )],
    )
    .unwrap();
    assert_eq!(
        out,
        "<html><title>Issue 7</title><body><td><p><i>[<em>Seven</em>]</i></p></td></body></html>"
    );
}

#[test]
fn errors_name_template_line_and_expression() {
    let t = Arc::new(Templates::default());
    t.add(
        "e.html",
        "<div>\n\n<b tal:content=\"python:context.boom()\"/></div>",
    );
    let e = run_with(
        &t,
        "e.html",
        vec![("context", Value::from_object(Item { id: "1", title: "" }))],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("e.html")
            && e.contains("line 3")
            && e.contains("context.boom()")
            && e.contains("it broke"),
        "{e}"
    );

    t.add("n.html", "<b tal:content=\"context/nope/deeper\"/>");
    let e = run_with(
        &t,
        "n.html",
        vec![("context", Value::from_object(Item { id: "1", title: "" }))],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("context/nope"), "{e}");

    // on-error replaces the element's content and keeps rendering
    t.add(
        "o.html",
        "<p tal:on-error=\"string:failed\"><b tal:content=\"python:context.boom()\"/></p>after",
    );
    let out = run_with(
        &t,
        "o.html",
        vec![("context", Value::from_object(Item { id: "1", title: "" }))],
    )
    .unwrap();
    assert_eq!(out, "<p>failed</p>after");
}

/// Render `src` read in Chameleon's dialect.
fn chameleon(src: &str) -> String {
    render_in(src, Dialect::Chameleon)
}

#[test]
fn chameleon_reads_python_by_default_and_interpolates() {
    // an expression without a type is Python; path: is still there
    assert_eq!(
        chameleon("<b tal:content=\"context.title.upper()\">x</b>"),
        "<b>FIRST &lt;ONE&gt;</b>"
    );
    assert_eq!(
        chameleon("<b tal:content=\"path:context/id\">x</b>"),
        "<b>1</b>"
    );
    assert_eq!(
        chameleon("<b tal:condition=\"not: context.id == '2'\">shown</b>"),
        "<b>shown</b>"
    );
    // ${...} in text, escaped unless structure:, and in attributes
    assert_eq!(
        chameleon("<p>Title: ${context.title} (${structure: context.title})</p>"),
        "<p>Title: First &lt;one&gt; (First <one>)</p>"
    );
    assert_eq!(
        chameleon("<a href=\"issue${context.id}?x=${ {'a': 1}['a'] }\">l</a>"),
        "<a href=\"issue1?x=1\">l</a>"
    );
    // an attribute that is only ${None} is left out
    assert_eq!(chameleon("<a title=\"${None}\">l</a>"), "<a>l</a>");
    // repeat with Python
    assert_eq!(
        chameleon("<i tal:repeat=\"i items\">${i.id}</i>"),
        "<i>1</i><i>2</i><i>3</i>"
    );
    // Zope's TAL leaves ${...} in text alone
    assert_eq!(one("<p>${context.title}</p>"), "<p>${context.title}</p>");
    // an unclosed ${ names the template
    let e = compile_as("c.html", "<p>${x</p>", Dialect::Chameleon).unwrap_err();
    assert!(
        e.to_string().contains("c.html") && e.to_string().contains("line 1"),
        "{e}"
    );
}

/// Render `src` with a small German catalog.
fn german(src: &str) -> String {
    let env = Environment::new();
    let state = env.empty_state();
    let program = compile("t.html", src).unwrap_or_else(|e| panic!("{e}"));
    let loader: Arc<dyn Loader> = Arc::new(Templates::default());
    let catalog = |m: &str| -> String {
        match m {
            "Search" => "Suche".into(),
            "Edit <b>now</b>" => "Jetzt <b>bearbeiten</b>".into(),
            "Hello ${user}, you have ${n} new" => "Hallo ${user}, ${n} neue".into(),
            "Show ${what}" => "${what} zeigen".into(),
            "open" => "offen".into(),
            "close_id" => "Dies schliessen".into(),
            "help_id" => "Hilfe".into(),
            other => other.to_string(),
        }
    };
    roundup_tal::render_translated(
        &program,
        loader,
        &state,
        vec![
            ("user".to_string(), Value::from("joe & co")),
            ("n".to_string(), Value::from(3)),
            ("what".to_string(), Value::from("open")),
        ],
        &catalog,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn i18n_translate_names_and_attributes() {
    // the content's text, whitespace folded, is the message id
    assert_eq!(
        german("<a i18n:translate=\"\">\n  Search\n</a>"),
        "<a>Suche</a>"
    );
    // markup inside belongs to the message; the translation is markup
    assert_eq!(
        german("<p i18n:translate=\"\">Edit <b>now</b></p>"),
        "<p>Jetzt <b>bearbeiten</b></p>"
    );
    // untranslated text is written folded, as Roundup does
    assert_eq!(
        german("<p i18n:translate=\"\"> Not   in\n catalog </p>"),
        "<p>Not in catalog</p>"
    );
    // an explicit id is looked up instead of the text
    assert_eq!(
        german("<p i18n:translate=\"help_id\">Help text</p>"),
        "<p>Hilfe</p>"
    );
    assert_eq!(
        german("<p i18n:translate=\"unknown_id\">Help</p>"),
        "<p>unknown_id</p>"
    );
    // i18n:name: replace's value (escaped), or the element's text
    assert_eq!(
        german("<p i18n:translate=\"\">Hello <b tal:replace=\"user\" i18n:name=\"user\">x</b>, you have <span i18n:name=\"n\"><i tal:replace=\"n\"/></span> new</p>"),
        "<p>Hallo joe &amp; co, 3 neue</p>"
    );
    // with tal:content the element's tags are part of the value
    assert_eq!(
        german("<p i18n:translate=\"\">Show <em tal:content=\"what\" i18n:name=\"what\"/></p>"),
        "<p><em>open</em> zeigen</p>"
    );
    // a dynamic content is itself the message
    assert_eq!(
        german("<td tal:content=\"what\" i18n:translate=\"\"/>"),
        "<td>offen</td>"
    );
    // tal:replace wins over i18n:translate (the value is not translated)
    assert_eq!(
        german("<td tal:replace=\"what\" i18n:translate=\"\"/>"),
        "open"
    );
    // static and dynamic attributes, with and without ids
    assert_eq!(
        german("<input value=\"Search\" title=\"x\" i18n:attributes=\"value; title close_id\">"),
        "<input value=\"Suche\" title=\"Dies schliessen\">"
    );
    assert_eq!(
        german(
            "<input tal:attributes=\"value what\" alt=\"Search\" i18n:attributes=\"value alt\">"
        ),
        "<input alt=\"Suche\" value=\"offen\">"
    );
    // a name outside any message is the plain value
    assert_eq!(german("<b tal:replace=\"what\" i18n:name=\"w\"/>"), "open");
    let e = compile("t.html", "<b i18n:attributes=\"title a b;\" title=\"t\">")
        .unwrap_err()
        .to_string();
    assert!(e.contains("illegal i18n:attributes"), "{e}");
    let e = compile("t.html", "<b i18n:name=\"1x\">")
        .unwrap_err()
        .to_string();
    assert!(e.contains("illegal i18n:name"), "{e}");
}
