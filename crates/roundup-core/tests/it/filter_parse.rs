//! parse_query: Roundup's raw filter arguments to the typed Query.

use roundup_core::date::Timezone;
use roundup_core::filter::{
    parse_query, Condition, Direction, FilterSpec, LinkExpr, Query, SpecValue,
};
use roundup_core::schema::{ClassDef, ClassKind, Property, Schema};
use roundup_core::{Result, Value};

fn schema() -> Schema {
    let mut s = Schema::new();
    let mut status = ClassDef::new(
        "status",
        ClassKind::Plain,
        [
            ("name".to_string(), Property::string()),
            ("order".to_string(), Property::number()),
        ]
        .into_iter()
        .collect(),
    )
    .expect("status");
    status.set_key("name").expect("key");
    s.add_class(status).expect("add");
    let mut user = ClassDef::new(
        "user",
        ClassKind::Plain,
        [("username".to_string(), Property::string())]
            .into_iter()
            .collect(),
    )
    .expect("user");
    user.set_key("username").expect("key");
    s.add_class(user).expect("add");
    s.add_class(
        ClassDef::new(
            "msg",
            ClassKind::File,
            [("author".to_string(), Property::link("user"))]
                .into_iter()
                .collect(),
        )
        .expect("msg"),
    )
    .expect("add");
    s.add_class(ClassDef::new("file", ClassKind::File, Default::default()).expect("file"))
        .expect("add");
    s.add_class(
        ClassDef::new(
            "issue",
            ClassKind::Issue,
            [
                ("status".to_string(), Property::link("status")),
                ("assignedto".to_string(), Property::link("user")),
                ("votes".to_string(), Property::integer()),
                ("effort".to_string(), Property::number()),
                ("urgent".to_string(), Property::boolean()),
                ("secret".to_string(), Property::password()),
            ]
            .into_iter()
            .collect(),
        )
        .expect("issue"),
    )
    .expect("add");
    s.finish().expect("finish");
    s
}

fn lookup(class: &str, key: &str) -> Result<Option<String>> {
    Ok(match (class, key) {
        ("status", "open") => Some("2".into()),
        ("user", "alice") => Some("7".into()),
        _ => None,
    })
}

fn parse(spec: FilterSpec) -> Result<Query> {
    parse_query(&schema(), "issue", &spec, &Timezone::Utc, &lookup)
}

fn filter(name: &str, v: SpecValue) -> FilterSpec {
    FilterSpec {
        filterspec: vec![(name.to_string(), v)],
        ..FilterSpec::default()
    }
}

fn one(v: &str) -> SpecValue {
    SpecValue::One(v.to_string())
}

fn cond(spec: FilterSpec) -> Vec<Condition> {
    parse(spec)
        .expect("parse")
        .filters
        .into_iter()
        .map(|f| f.cond)
        .collect()
}

fn id(s: &str) -> LinkExpr {
    LinkExpr::Id(s.to_string())
}

#[test]
fn defaults() {
    let q = parse(FilterSpec::default()).expect("parse");
    assert_eq!(q.class, "issue");
    assert_eq!(q.retired, Some(false));
    assert!(q.filters.is_empty());
    assert_eq!(q.sort, vec![(Direction::Asc, vec!["id".to_string()])]);
    assert_eq!(q.offset, 0);
}

#[test]
fn link_values() {
    assert_eq!(
        cond(filter("status", one("open"))),
        vec![Condition::Links(id("2"))]
    );
    assert_eq!(
        cond(filter("status", one("1, open,1"))),
        vec![Condition::Links(LinkExpr::Or(vec![id("1"), id("2")]))]
    );
    assert_eq!(cond(filter("status", one("-1"))), vec![Condition::Empty]);
    assert_eq!(
        cond(filter(
            "status",
            SpecValue::Many(vec!["-1".into(), "3".into()])
        )),
        vec![Condition::Links(LinkExpr::Or(vec![
            LinkExpr::Empty,
            id("3")
        ]))]
    );
    let e = parse(filter("status", one("nope")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("issue.status") && e.contains("nope"), "{e}");
    let e = parse(filter("messages", one("hello")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no key property"), "{e}");
}

#[test]
fn expressions() {
    assert_eq!(
        cond(filter("nosy", one("1,2,-3,-2"))),
        vec![Condition::Links(LinkExpr::Not(Box::new(LinkExpr::And(
            vec![id("1"), id("2")]
        ))))]
    );
    assert_eq!(
        cond(filter("nosy", one("-1,-2,alice,-4"))),
        vec![Condition::Links(LinkExpr::Or(vec![
            LinkExpr::Not(Box::new(LinkExpr::Empty)),
            id("7")
        ]))]
    );
    let e = parse(filter("nosy", one("1,-3"))).unwrap_err().to_string();
    assert!(
        e.contains("issue by nosy") && e.contains("[1, -3]") && e.contains("position 2"),
        "{e}"
    );
    let e = parse(filter("nosy", one("1,2,3,-3")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("too many arguments"), "{e}");
    let e = parse(filter("nosy", one("1,-7"))).unwrap_err().to_string();
    assert!(e.contains("-7"), "{e}");
}

#[test]
fn strings() {
    assert_eq!(
        cond(filter("title", one("two words"))),
        vec![Condition::Words(vec!["two words".into()])]
    );
    assert_eq!(
        cond(filter(
            "title",
            SpecValue::Many(vec!["a".into(), "b".into()])
        )),
        vec![Condition::Words(vec!["a".into(), "b".into()])]
    );
    let exact = FilterSpec {
        exact_match: vec![(
            "title".into(),
            SpecValue::Many(vec!["A".into(), "B".into()]),
        )],
        ..FilterSpec::default()
    };
    // every exact value must hold: one filter each
    assert_eq!(
        cond(exact),
        vec![
            Condition::Exact(vec!["A".into()]),
            Condition::Exact(vec!["B".into()])
        ]
    );
    assert!(parse(filter("secret", one("x"))).is_err());
}

#[test]
fn numbers_booleans_ids() {
    assert_eq!(
        cond(filter("votes", one("1,3"))),
        vec![Condition::Values(vec![
            Value::Integer(1),
            Value::Integer(3)
        ])]
    );
    assert_eq!(
        cond(filter("effort", one("1.5;"))),
        vec![Condition::NumberRange {
            from: Some(1.5),
            to: None
        }]
    );
    assert_eq!(
        cond(filter("urgent", one("No,TRUE"))),
        vec![Condition::Values(vec![
            Value::Boolean(false),
            Value::Boolean(true)
        ])]
    );
    assert_eq!(
        cond(filter("id", one("4,5"))),
        vec![Condition::Values(vec![
            Value::Integer(4),
            Value::Integer(5)
        ])]
    );
    for (prop, bad) in [
        ("votes", "1.5"),
        ("effort", "x"),
        ("urgent", "perhaps"),
        ("id", "abc"),
    ] {
        let e = parse(filter(prop, one(bad))).unwrap_err().to_string();
        assert!(
            e.contains(&format!("issue.{prop}")) && e.contains(bad),
            "{e}"
        );
    }
}

#[test]
fn dates_null_and_lists() {
    let c = cond(filter("activity", one("-,20030101000000.000;")));
    match &c[..] {
        [Condition::AnyOf(parts)] => {
            assert_eq!(parts[0], Condition::Empty);
            assert!(matches!(
                parts[1],
                Condition::DateRange {
                    from: Some(_),
                    to: None
                }
            ));
        }
        other => panic!("unexpected {other:?}"),
    }
    let e = parse(filter("activity", one("garbage")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("issue.activity") && e.contains("garbage"), "{e}");
}

#[test]
fn paths() {
    let q = parse(filter("messages.author.username", one("al"))).expect("parse");
    assert_eq!(q.filters[0].path, vec!["messages", "author", "username"]);
    let e = parse(filter("title.x", one("a"))).unwrap_err().to_string();
    assert!(e.contains("title") && e.contains("not a Link"), "{e}");
    let e = parse(filter("nosuch", one("a"))).unwrap_err().to_string();
    assert!(e.contains("nosuch"), "{e}");
    assert!(parse(filter("assignedto..username", one("a"))).is_err());
}

#[test]
fn sort_and_group() {
    let spec = FilterSpec {
        group: vec![(None, "-status".into())],
        sort: vec![
            (None, "title".into()),
            (Some(Direction::Desc), "status".into()),
            (None, "".into()),
            (None, "+assignedto.username".into()),
        ],
        limit: Some(10),
        offset: Some(20),
        retired: None,
        ..FilterSpec::default()
    };
    let q = parse(spec).expect("parse");
    assert_eq!(q.group, vec![(Direction::Desc, vec!["status".to_string()])]);
    assert_eq!(
        q.sort,
        vec![
            (Direction::Asc, vec!["title".to_string()]),
            (
                Direction::Asc,
                vec!["assignedto".to_string(), "username".to_string()]
            ),
            (Direction::Asc, vec!["id".to_string()]),
        ]
    );
    assert_eq!((q.limit, q.offset, q.retired), (Some(10), 20, None));
    let explicit_id = FilterSpec {
        sort: vec![(None, "-id".into())],
        ..FilterSpec::default()
    };
    assert_eq!(
        parse(explicit_id).expect("parse").sort,
        vec![(Direction::Desc, vec!["id".to_string()])]
    );
    let bad = FilterSpec {
        sort: vec![(None, "nosuch".into())],
        ..FilterSpec::default()
    };
    assert!(parse(bad).is_err());
}
