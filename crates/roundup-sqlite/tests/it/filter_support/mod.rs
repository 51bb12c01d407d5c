//! Shared pieces of the filter tests: a classic-like schema, Roundup's
//! table layout for it, a minimal SQLite dialect and a query runner.

use roundup_core::date::Timezone;
use roundup_core::filter::{parse_query, Direction, FilterSpec, Query, SpecValue};
use roundup_core::schema::{ClassDef, ClassKind, PropType, Property, Schema};
use roundup_rdbms::filter_sql::filter_sql;
use roundup_rdbms::sql::{Dialect, SqlValue};
use rusqlite::Connection;

/// Just enough of SQLite's dialect for the filter SQL.
pub struct TestSqlite;

impl Dialect for TestSqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn placeholder(&self, _n: usize) -> String {
        "?".to_string()
    }
    fn like_ci(&self, expr: &str, placeholder: &str) -> String {
        format!("{expr} LIKE {placeholder} ESCAPE '\\'")
    }
    fn nulls_sort_first(&self) -> bool {
        true
    }
}

/// The same dialect but relying on the portable NULL ordering key and
/// numbered placeholders, to check those code paths.
pub struct PortableSqlite;

impl Dialect for PortableSqlite {
    fn name(&self) -> &'static str {
        "sqlite-portable"
    }
    fn placeholder(&self, n: usize) -> String {
        format!("?{n}")
    }
    fn like_ci(&self, expr: &str, placeholder: &str) -> String {
        format!("{expr} LIKE {placeholder} ESCAPE '\\'")
    }
}

/// Roundup's classic schema plus, on issue, one property of each other
/// type and two reverse multilinks (user.assigned, keyword.issues) — the
/// schema filter_oracle.py gives its tracker.
pub fn classic_schema() -> Schema {
    let mut s = Schema::new();
    let mut add = |name: &str, kind: ClassKind, p: Vec<(&str, Property)>, key: Option<&str>| {
        let mut c = ClassDef::new(
            name,
            kind,
            p.into_iter().map(|(n, p)| (n.to_string(), p)).collect(),
        )
        .expect("class");
        if let Some(k) = key {
            c.set_key(k).expect("key");
        }
        s.add_class(c).expect("add");
    };
    add(
        "priority",
        ClassKind::Plain,
        vec![("name", Property::string()), ("order", Property::number())],
        Some("name"),
    );
    add(
        "status",
        ClassKind::Plain,
        vec![("name", Property::string()), ("order", Property::number())],
        Some("name"),
    );
    add(
        "keyword",
        ClassKind::Plain,
        vec![("name", Property::string())],
        Some("name"),
    );
    add(
        "query",
        ClassKind::Plain,
        vec![
            ("klass", Property::string()),
            ("name", Property::string()),
            ("url", Property::string()),
            ("private_for", Property::link("user")),
        ],
        None,
    );
    add(
        "user",
        ClassKind::Plain,
        vec![
            ("username", Property::string()),
            ("password", Property::password()),
            ("address", Property::string()),
            ("realname", Property::string()),
            ("phone", Property::string()),
            ("organisation", Property::string()),
            ("alternate_addresses", Property::string()),
            ("queries", Property::multilink("query")),
            ("roles", Property::string()),
            ("timezone", Property::string()),
        ],
        Some("username"),
    );
    add(
        "msg",
        ClassKind::File,
        vec![
            ("author", Property::link("user")),
            ("recipients", Property::multilink("user")),
            ("date", Property::date()),
            ("summary", Property::string()),
            ("files", Property::multilink("file")),
            ("messageid", Property::string()),
            ("inreplyto", Property::string()),
        ],
        None,
    );
    add(
        "file",
        ClassKind::File,
        vec![("name", Property::string())],
        None,
    );
    let mut assignedto = Property::link("user");
    assignedto.rev_multilink = Some("assigned".into());
    let mut keyword = Property::multilink("keyword");
    keyword.rev_multilink = Some("issues".into());
    add(
        "issue",
        ClassKind::Issue,
        vec![
            ("assignedto", assignedto),
            ("deadline", Property::date()),
            ("estimate", Property::interval()),
            ("effort", Property::number()),
            ("votes", Property::integer()),
            ("urgent", Property::boolean()),
            ("keyword", keyword),
            ("priority", Property::link("priority")),
            ("status", Property::link("status")),
        ],
        None,
    );
    s.finish().expect("finish");
    s
}

/// CREATE TABLE statements in Roundup's sqlite layout.
pub fn create_tables(conn: &Connection, schema: &Schema) {
    for cls in schema.classes.values() {
        let mut cols = vec![
            "_activity VARCHAR(30)".to_string(),
            "_actor INTEGER".to_string(),
            "_creation VARCHAR(30)".to_string(),
            "_creator INTEGER".to_string(),
        ];
        for (name, prop) in cls.column_props() {
            let ty = match prop.ptype {
                PropType::Link | PropType::Integer => "INTEGER",
                PropType::Number => "REAL",
                PropType::Boolean => "BOOLEAN",
                PropType::Date => "VARCHAR(30)",
                _ => "VARCHAR(255)",
            };
            cols.push(format!("_{name} {ty}"));
            if prop.ptype == PropType::Interval {
                cols.push(format!("__{name}_int__ BIGINT"));
            }
        }
        cols.push("id INTEGER PRIMARY KEY".into());
        cols.push("__retired__ INTEGER DEFAULT 0".into());
        let c = &cls.name;
        conn.execute_batch(&format!(
            "CREATE TABLE _{c} ({});CREATE INDEX _{c}_retired_idx ON _{c}(__retired__);",
            cols.join(",")
        ))
        .expect("create");
        for (name, _) in cls.multilink_props() {
            conn.execute_batch(&format!(
                "CREATE TABLE {c}_{name} (linkid INTEGER, nodeid INTEGER);\
                 CREATE INDEX {c}_{name}_l_idx ON {c}_{name}(linkid);\
                 CREATE INDEX {c}_{name}_n_idx ON {c}_{name}(nodeid);"
            ))
            .expect("create multilink");
        }
    }
}

fn to_sql(v: &SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        SqlValue::Null => V::Null,
        SqlValue::Int(i) => V::Integer(*i),
        SqlValue::Real(f) => V::Real(*f),
        SqlValue::Text(s) => V::Text(s.clone()),
    }
}

/// Run a resolved query.
pub fn run_query(
    conn: &Connection,
    schema: &Schema,
    q: &Query,
    dialect: &dyn Dialect,
) -> roundup_core::Result<Vec<String>> {
    let (sql, args) = filter_sql(schema, q, dialect)?;
    let mut stmt = conn
        .prepare(&sql)
        .map_err(|e| roundup_core::Error::storage(format!("{e} in {sql}")))?;
    let params: Vec<rusqlite::types::Value> = args.iter().map(to_sql).collect();
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |r| r.get::<_, i64>(0))
        .map_err(|e| roundup_core::Error::storage(format!("{e} in {sql}")))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r.map_err(roundup_core::Error::storage)?.to_string());
    }
    Ok(out)
}

/// Key lookup against the database: active items only, as Roundup's
/// `lookup` does.
pub fn db_lookup<'a>(
    conn: &'a Connection,
    schema: &'a Schema,
) -> impl Fn(&str, &str) -> roundup_core::Result<Option<String>> + 'a {
    move |class: &str, key: &str| {
        let cls = schema.class(class)?;
        let Some(kp) = &cls.key else { return Ok(None) };
        let sql = format!("SELECT id FROM _{class} WHERE _{kp} = ? AND __retired__ = 0");
        let mut stmt = conn.prepare(&sql).map_err(roundup_core::Error::storage)?;
        let mut rows = stmt.query([key]).map_err(roundup_core::Error::storage)?;
        match rows.next().map_err(roundup_core::Error::storage)? {
            Some(r) => Ok(Some(
                r.get::<_, i64>(0)
                    .map_err(roundup_core::Error::storage)?
                    .to_string(),
            )),
            None => Ok(None),
        }
    }
}

/// Parse and run a filter spec.
pub fn run(
    conn: &Connection,
    schema: &Schema,
    class: &str,
    spec: &FilterSpec,
    dialect: &dyn Dialect,
) -> roundup_core::Result<Vec<String>> {
    let lookup = db_lookup(conn, schema);
    let q = parse_query(schema, class, spec, &Timezone::Utc, &lookup)?;
    run_query(conn, schema, &q, dialect)
}

fn parse_value(s: &str) -> SpecValue {
    let s = s.trim();
    match s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => SpecValue::Many(inner.split(',').map(|x| x.trim().to_string()).collect()),
        None => SpecValue::One(s.to_string()),
    }
}

fn parse_props(field: &str) -> Vec<(String, SpecValue)> {
    field
        .split('&')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').expect("name=value");
            (n.trim().to_string(), parse_value(v))
        })
        .collect()
}

/// Sort fields keep their `-` prefix: parse_query interprets it.
fn parse_sort(field: &str) -> Vec<(Option<Direction>, String)> {
    field
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| (None, p.to_string()))
        .collect()
}

/// One line of filter_cases.txt.
pub struct Case {
    pub name: String,
    pub class: String,
    pub spec: FilterSpec,
}

pub fn parse_cases(text: &str) -> Vec<Case> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f: Vec<&str> = line.split('|').map(str::trim).collect();
        f.resize(9, "");
        let spec = FilterSpec {
            filterspec: parse_props(f[2]),
            exact_match: parse_props(f[3]),
            sort: parse_sort(f[4]),
            group: parse_sort(f[5]),
            retired: match f[6] {
                "true" => Some(true),
                "none" => None,
                _ => Some(false),
            },
            limit: (!f[7].is_empty()).then(|| f[7].parse().expect("limit")),
            offset: (!f[8].is_empty()).then(|| f[8].parse().expect("offset")),
            ..FilterSpec::default()
        };
        out.push(Case {
            name: f[0].to_string(),
            class: f[1].to_string(),
            spec,
        });
    }
    out
}
