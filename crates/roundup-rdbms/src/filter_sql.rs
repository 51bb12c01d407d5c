//! Filter queries to SQL.
//!
//! [`filter_sql`] turns a resolved [`Query`] into a single `SELECT` over
//! Roundup's table layout that yields the matching ids, already grouped,
//! sorted and paginated:
//!
//! * an item table `_<class>` per class, with `id`, `__retired__` and a
//!   `_<prop>` column per non-multilink property (Intervals also keep their
//!   length in seconds in `__<prop>_int__`);
//! * a table `<class>_<prop>(linkid, nodeid)` per stored Multilink.
//!
//! Conditions on linked items become uncorrelated `IN (SELECT ...)`
//! subqueries, so no join multiplies rows and no `DISTINCT` is needed;
//! sorting by a Link joins the target table (at most one row). Sorting by a
//! Multilink compares each item's linked values, sorted, element by element
//! as Roundup does; the SQL compares the first [`MULTILINK_SORT_DEPTH`]
//! elements.

use roundup_core::filter::{Condition, Direction, LinkExpr, PropPath, Query};
use roundup_core::schema::{ClassDef, PropType, Property, Schema};
use roundup_core::{Error, Result, Value};

use crate::sql::{Dialect, SqlValue};

/// How many leading elements of the sorted linked values are compared when
/// sorting by a Multilink.
pub const MULTILINK_SORT_DEPTH: usize = 3;

/// Build the statement for `query`: one column of ids, in group then sort
/// order (id last as the tiebreaker), with LIMIT/OFFSET applied.
/// The number of items a query matches (its sort, group and paging are
/// ignored), as one portable `count(*)` statement.
pub fn count_sql(
    schema: &Schema,
    query: &Query,
    dialect: &dyn Dialect,
) -> Result<(String, Vec<SqlValue>)> {
    let (inner, params) = filter_sql(schema, &query.unordered(), dialect)?;
    Ok((
        format!("select count(*) from ({inner}) as matching"),
        params,
    ))
}

pub fn filter_sql(
    schema: &Schema,
    query: &Query,
    dialect: &dyn Dialect,
) -> Result<(String, Vec<SqlValue>)> {
    let root = schema.class(&query.class)?;
    let mut b = Builder {
        schema,
        dialect,
        args: Vec::new(),
        aliases: 0,
    };
    let root_alias = "r0".to_string();

    // ORDER BY first: it only adds joins and holds no parameters, so the
    // WHERE clause built afterwards still binds its parameters in order.
    let mut joins = Joins::default();
    let mut order: Vec<String> = Vec::new();
    let mut has_id = false;
    for (dir, path) in query.group.iter().chain(query.sort.iter()) {
        if path.len() == 1 && path[0] == "id" {
            has_id = true;
        }
        let keys = b.sort_keys(root, &root_alias, path, *dir, &mut joins)?;
        for key in keys {
            b.push_order(&mut order, &key, *dir, path.len() == 1 && path[0] == "id");
        }
    }
    if !has_id {
        order.push(format!("{root_alias}.id"));
    }

    let mut wheres: Vec<String> = Vec::new();
    let tree = FilterTree::build(schema, root, query)?;
    b.node_conditions(&tree, root, &root_alias, &mut wheres)?;
    match query.retired {
        Some(false) => wheres.push(format!("{root_alias}.__retired__ = 0")),
        Some(true) => wheres.push(format!("{root_alias}.__retired__ <> 0")),
        None => {}
    }
    if let Some(ids) = &query.search_ids {
        if ids.is_empty() {
            wheres.push("1 = 0".to_string());
        } else {
            let nums: Vec<i64> = ids.as_slice().iter().map(|&n| i64::from(n)).collect();
            let ph = dialect.placeholder(b.args.len() + 1);
            match dialect.id_list_param(&nums, &ph) {
                Some((value, subquery)) if nums.len() > 8 => {
                    b.args.push(value);
                    wheres.push(format!("{root_alias}.id IN ({subquery})"));
                }
                _ => {
                    let lits: Vec<String> = nums.iter().map(|n| n.to_string()).collect();
                    wheres.push(format!("{root_alias}.id IN ({})", lits.join(", ")));
                }
            }
        }
    }

    let hint = if query.search_ids.is_some() {
        dialect.by_listed_ids_hint()
    } else {
        ""
    };
    let mut sql = format!(
        "SELECT {root_alias}.id FROM _{} AS {root_alias}{hint}",
        root.name
    );
    for j in &joins.clauses {
        sql.push(' ');
        sql.push_str(j);
    }
    if !wheres.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&wheres.join(" AND "));
    }
    sql.push_str(" ORDER BY ");
    sql.push_str(&order.join(", "));
    sql.push_str(&dialect.limit_offset(query.limit, query.offset));
    Ok((sql, b.args))
}

/// How a paged query whose order starts with a Link is answered one
/// linked value at a time (see [`link_group_plan`]).
#[derive(Debug)]
pub struct LinkGroupPlan {
    /// The Link property leading the order.
    pub prop: String,
    /// The linked class's items with a sort key, in the query's order:
    /// `SELECT id, key` (ties of the key form one group; items whose key
    /// is NULL are left out and sort with the unset links).
    pub targets_sql: String,
    /// Whether unset links (and links whose key is NULL) come first.
    pub nulls_first: bool,
    /// The query without its leading key, its limit or its offset.
    pub rest: Query,
}

/// A plan for a paged query ordered first by a Link property (`@sort=priority`,
/// `@group=status`): the rows with one linked value are a range of the
/// `(__retired__, _link)` index, already in id order, so a page is read
/// group by group (the groups' sizes are counts of that index) instead of
/// joining and sorting every row. `None` when the query does not have that
/// shape: unpaged, led by something else, or the linked class's order
/// property is not a plain column.
pub fn link_group_plan(schema: &Schema, query: &Query) -> Result<Option<LinkGroupPlan>> {
    if query.limit.is_none() {
        return Ok(None);
    }
    let root = schema.class(&query.class)?;
    let (from_group, (dir, path)) = match (query.group.first(), query.sort.first()) {
        (Some(k), _) => (true, k),
        (None, Some(k)) => (false, k),
        (None, None) => return Ok(None),
    };
    let [pname] = path.as_slice() else {
        return Ok(None);
    };
    let Some(prop) = root.props.get(pname) else {
        return Ok(None);
    };
    if !prop.is_link() || prop.is_computed() {
        return Ok(None);
    }
    let target = link_target(schema, root, pname, prop, path)?;
    let oname = target.order_prop();
    let key = if oname == "id" {
        "t.id".to_string()
    } else {
        match target.props.get(&oname) {
            Some(op) if !op.is_computed() && !op.is_pointer() => column_sort_expr("t", &oname, op)?,
            _ => return Ok(None),
        }
    };
    let d = direction_sql(*dir);
    let targets_sql = format!(
        "SELECT t.id, {key} FROM _{} AS t WHERE {key} IS NOT NULL ORDER BY {key} {d}, t.id",
        target.name
    );
    let mut rest = Query {
        limit: None,
        offset: 0,
        ..query.clone()
    };
    if from_group {
        rest.group.remove(0);
    } else {
        rest.sort.remove(0);
    }
    Ok(Some(LinkGroupPlan {
        prop: pname.clone(),
        targets_sql,
        nulls_first: *dir == Direction::Asc,
        rest,
    }))
}

/// A sort direction as SQL writes it.
fn direction_sql(dir: Direction) -> &'static str {
    match dir {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    }
}

fn parse_id(id: &str, class: &str, what: &str) -> Result<i64> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| Error::value(format!("filter {class}.{what}: \"{id}\" is not an item id")))
}

/// LEFT OUTER JOINs of the main query, shared between sort keys.
#[derive(Default)]
struct Joins {
    clauses: Vec<String>,
    /// (owner alias, property) -> alias of the joined target table.
    by_step: Vec<((String, String), String)>,
}

/// Where a Multilink's rows live. Stored multilinks have their own table;
/// computed reverse multilinks read the forward property's storage.
struct LinkTable {
    table: String,
    /// Column holding the id of the item that has the multilink.
    owner: String,
    /// Column holding the linked item's id.
    target: String,
    /// Extra restriction on a row (alias `{m}` is the table alias).
    restrict: Option<Restrict>,
}

enum Restrict {
    /// The row is an item of the forward class: it must be active.
    RowActive,
    /// The linked item (in this class) must be active.
    TargetActive(String),
}

impl LinkTable {
    fn of(owner_class: &ClassDef, pname: &str, prop: &Property) -> LinkTable {
        match &prop.computed {
            None => LinkTable {
                table: format!("{}_{pname}", owner_class.name),
                owner: "nodeid".into(),
                target: "linkid".into(),
                restrict: None,
            },
            Some(from) if from.multilink => LinkTable {
                table: format!("{}_{}", from.class, from.prop),
                owner: "linkid".into(),
                target: "nodeid".into(),
                restrict: Some(Restrict::TargetActive(from.class.clone())),
            },
            Some(from) => LinkTable {
                table: format!("_{}", from.class),
                owner: format!("_{}", from.prop),
                target: "id".into(),
                restrict: Some(Restrict::RowActive),
            },
        }
    }

    /// Conditions every row of alias `m` must meet, as SQL terms.
    fn row_terms(&self, m: &str) -> Vec<String> {
        let mut out = vec![format!("{m}.{} IS NOT NULL", self.owner)];
        match &self.restrict {
            None => {}
            Some(Restrict::RowActive) => out.push(format!("{m}.__retired__ = 0")),
            Some(Restrict::TargetActive(cls)) => out.push(format!(
                "{m}.{} IN (SELECT id FROM _{cls} WHERE __retired__ = 0)",
                self.target
            )),
        }
        out
    }
}

/// Filters grouped by path prefix, so that conditions below the same
/// Link/Multilink step apply to the same linked item (as Roundup's joins
/// do: `messages.author=3` and `messages.date=...` need one message with
/// both).
#[derive(Default)]
struct FilterTree<'q> {
    conds: Vec<&'q Condition>,
    children: Vec<(String, FilterTree<'q>)>,
}

impl<'q> FilterTree<'q> {
    fn build(schema: &Schema, root: &ClassDef, query: &'q Query) -> Result<FilterTree<'q>> {
        let mut tree = FilterTree::default();
        for f in &query.filters {
            if f.path.is_empty() {
                return Err(Error::value(format!(
                    "filter on {}: empty property path",
                    root.name
                )));
            }
            // Validate the path now so that errors name it whole.
            let mut cls = root;
            for (i, step) in f.path.iter().enumerate() {
                let prop = cls.require_prop(step)?;
                if i + 1 < f.path.len() {
                    cls = link_target(schema, cls, step, prop, &f.path)?;
                }
            }
            let mut node = &mut tree;
            for step in &f.path {
                let pos = match node.children.iter().position(|(n, _)| n == step) {
                    Some(p) => p,
                    None => {
                        node.children.push((step.clone(), FilterTree::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[pos].1;
            }
            node.conds.push(&f.cond);
        }
        Ok(tree)
    }
}

fn link_target<'s>(
    schema: &'s Schema,
    cls: &ClassDef,
    step: &str,
    prop: &Property,
    path: &PropPath,
) -> Result<&'s ClassDef> {
    match (&prop.link_class, prop.is_pointer()) {
        (Some(t), true) => schema.class(t),
        _ => Err(Error::value(format!(
            "property path \"{}\": {}.{step} is a {} property, not a Link or Multilink",
            path.join("."),
            cls.name,
            prop.ptype.name()
        ))),
    }
}

struct Builder<'a> {
    schema: &'a Schema,
    dialect: &'a dyn Dialect,
    args: Vec<SqlValue>,
    aliases: usize,
}

impl Builder<'_> {
    fn bind(&mut self, v: SqlValue) -> String {
        self.args.push(v);
        self.dialect.placeholder(self.args.len())
    }

    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("t{}", self.aliases)
    }

    // ---- WHERE ----------------------------------------------------------

    /// Append the SQL terms for every condition below `node`, whose items
    /// are rows of `cls` under `alias`.
    fn node_conditions(
        &mut self,
        node: &FilterTree<'_>,
        cls: &ClassDef,
        alias: &str,
        out: &mut Vec<String>,
    ) -> Result<()> {
        for (pname, child) in &node.children {
            let prop = cls.require_prop(pname)?;
            for cond in &child.conds {
                let term = self.condition(cls, alias, pname, prop, cond)?;
                out.push(term);
            }
            if child.children.is_empty() {
                continue;
            }
            let target_name = prop.link_class.as_deref().unwrap_or_default();
            let target = self.schema.class(target_name)?;
            let x = self.alias();
            let mut inner = Vec::new();
            self.node_conditions(child, target, &x, &mut inner)?;
            let inner_where = if inner.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", inner.join(" AND "))
            };
            let items = format!("SELECT {x}.id FROM _{target_name} AS {x}{inner_where}");
            if prop.is_multilink() {
                let lt = LinkTable::of(cls, pname, prop);
                let m = self.alias();
                let mut terms = lt.row_terms(&m);
                terms.push(format!("{m}.{} IN ({items})", lt.target));
                out.push(format!(
                    "{alias}.id IN (SELECT {m}.{} FROM {} AS {m} WHERE {})",
                    lt.owner,
                    lt.table,
                    terms.join(" AND ")
                ));
            } else {
                out.push(format!("{alias}._{pname} IN ({items})"));
            }
        }
        Ok(())
    }

    fn mismatch(cls: &ClassDef, pname: &str, prop: &Property, cond: &Condition) -> Error {
        Error::value(format!(
            "filter {}.{pname}: a {} property cannot take the condition {cond:?}",
            cls.name,
            prop.ptype.name()
        ))
    }

    fn condition(
        &mut self,
        cls: &ClassDef,
        alias: &str,
        pname: &str,
        prop: &Property,
        cond: &Condition,
    ) -> Result<String> {
        let is_id = pname == "id";
        let col = if is_id {
            format!("{alias}.id")
        } else {
            format!("{alias}._{pname}")
        };
        if prop.is_computed() && !prop.is_multilink() {
            return Err(Self::mismatch(cls, pname, prop, cond));
        }
        Ok(match cond {
            Condition::AnyOf(cs) => {
                let mut parts = Vec::with_capacity(cs.len());
                for c in cs {
                    parts.push(self.condition(cls, alias, pname, prop, c)?);
                }
                if parts.is_empty() {
                    "1 = 0".to_string()
                } else {
                    format!("({})", parts.join(" OR "))
                }
            }
            Condition::Empty if prop.is_multilink() => {
                let lt = LinkTable::of(cls, pname, prop);
                self.multilink_expr(alias, &lt, &LinkExpr::Empty)?
            }
            Condition::Empty if is_id => "1 = 0".to_string(),
            Condition::Empty => format!("{col} IS NULL"),
            Condition::Words(words) if prop.ptype == PropType::String && !is_id => {
                if words.is_empty() {
                    return Ok("1 = 1".to_string());
                }
                let mut parts = Vec::with_capacity(words.len());
                for w in words {
                    let ph = self.bind(SqlValue::Text(like_pattern(w)));
                    parts.push(self.dialect.like_ci(&col, &ph));
                }
                format!("({})", parts.join(" AND "))
            }
            Condition::Exact(values) if prop.ptype == PropType::String && !is_id => {
                if values.is_empty() {
                    return Ok("1 = 0".to_string());
                }
                let mut parts = Vec::with_capacity(values.len());
                for v in values {
                    let ph = self.bind(SqlValue::Text(v.clone()));
                    parts.push(self.dialect.eq_case_sensitive(&col, &ph));
                }
                format!("({})", parts.join(" OR "))
            }
            Condition::Links(expr) if prop.is_multilink() => {
                let lt = LinkTable::of(cls, pname, prop);
                self.multilink_expr(alias, &lt, expr)?
            }
            Condition::Links(expr) if prop.is_link() => {
                self.link_expr(&cls.name, pname, &col, expr)?
            }
            Condition::DateRange { from, to } if prop.ptype == PropType::Date => {
                let mut parts = vec![format!("{col} IS NOT NULL")];
                if let Some(d) = from {
                    let ph = self.bind(self.dialect.date_bound(d));
                    parts.push(format!("{col} >= {ph}"));
                }
                if let Some(d) = to {
                    let ph = self.bind(self.dialect.date_bound(d));
                    parts.push(format!("{col} <= {ph}"));
                }
                format!("({})", parts.join(" AND "))
            }
            Condition::IntervalRange { from, to } if prop.ptype == PropType::Interval => {
                let icol = format!("{alias}.__{pname}_int__");
                let mut parts = vec![format!("{icol} IS NOT NULL")];
                if let Some(i) = from {
                    let ph = self.bind(SqlValue::Int(i.as_seconds()));
                    parts.push(format!("{icol} >= {ph}"));
                }
                if let Some(i) = to {
                    let ph = self.bind(SqlValue::Int(i.as_seconds()));
                    parts.push(format!("{icol} <= {ph}"));
                }
                format!("({})", parts.join(" AND "))
            }
            Condition::NumberRange { from, to }
                if matches!(prop.ptype, PropType::Number | PropType::Integer) =>
            {
                let mut parts = vec![format!("{col} IS NOT NULL")];
                if let Some(n) = from {
                    let ph = self.bind(SqlValue::Real(*n));
                    parts.push(format!("{col} >= {ph}"));
                }
                if let Some(n) = to {
                    let ph = self.bind(SqlValue::Real(*n));
                    parts.push(format!("{col} <= {ph}"));
                }
                format!("({})", parts.join(" AND "))
            }
            Condition::Values(values) if !prop.is_multilink() => {
                if values.is_empty() {
                    return Ok("1 = 0".to_string());
                }
                let target_col = if prop.ptype == PropType::Interval {
                    format!("{alias}.__{pname}_int__")
                } else {
                    col.clone()
                };
                let mut phs = Vec::with_capacity(values.len());
                for v in values {
                    let sv = self.value_for(cls, pname, prop, is_id, v, cond)?;
                    phs.push(self.bind(sv));
                }
                if phs.len() == 1 {
                    format!("{target_col} = {}", phs[0])
                } else {
                    format!("{target_col} IN ({})", phs.join(", "))
                }
            }
            _ => return Err(Self::mismatch(cls, pname, prop, cond)),
        })
    }

    /// The bound form of a value compared for equality with a column.
    fn value_for(
        &self,
        cls: &ClassDef,
        pname: &str,
        prop: &Property,
        is_id: bool,
        v: &Value,
        cond: &Condition,
    ) -> Result<SqlValue> {
        let ok = |sv: SqlValue| Ok(sv);
        match (prop.ptype, v) {
            (_, Value::Integer(n)) if is_id => ok(SqlValue::Int(*n)),
            (_, Value::String(s)) if is_id => ok(SqlValue::Int(parse_id(s, &cls.name, pname)?)),
            (PropType::Integer, Value::Integer(n)) => ok(SqlValue::Int(*n)),
            (PropType::Number, Value::Number(n)) => ok(SqlValue::Real(*n)),
            (PropType::Number, Value::Integer(n)) => ok(SqlValue::Real(*n as f64)),
            (PropType::Boolean, Value::Boolean(b)) => ok(self.dialect.bool_value(*b)),
            (PropType::String, Value::String(s)) => ok(SqlValue::Text(s.clone())),
            (PropType::Date, Value::Date(d)) => ok(self.dialect.date_bound(d)),
            (PropType::Interval, Value::Interval(i)) => ok(SqlValue::Int(i.as_seconds())),
            (PropType::Link, Value::Link(id)) => ok(SqlValue::Int(parse_id(id, &cls.name, pname)?)),
            _ => Err(Self::mismatch(cls, pname, prop, cond)),
        }
    }

    /// A Link column tested against an id expression. NULL never equals an
    /// id, and stays false (not unknown) under NOT.
    fn link_expr(
        &mut self,
        class: &str,
        pname: &str,
        col: &str,
        expr: &LinkExpr,
    ) -> Result<String> {
        Ok(match expr {
            LinkExpr::Empty => format!("{col} IS NULL"),
            LinkExpr::Id(id) => {
                let ph = self.bind(SqlValue::Int(parse_id(id, class, pname)?));
                format!("({col} IS NOT NULL AND {col} = {ph})")
            }
            LinkExpr::Not(e) => format!("NOT {}", self.link_expr(class, pname, col, e)?),
            LinkExpr::Or(items)
                if !items.is_empty()
                    && items
                        .iter()
                        .all(|e| matches!(e, LinkExpr::Id(_) | LinkExpr::Empty)) =>
            {
                let mut phs = Vec::new();
                let mut empty = false;
                for e in items {
                    match e {
                        LinkExpr::Id(id) => {
                            phs.push(self.bind(SqlValue::Int(parse_id(id, class, pname)?)))
                        }
                        _ => empty = true,
                    }
                }
                let mut parts = Vec::new();
                if empty {
                    parts.push(format!("{col} IS NULL"));
                }
                if !phs.is_empty() {
                    parts.push(format!(
                        "({col} IS NOT NULL AND {col} IN ({}))",
                        phs.join(", ")
                    ));
                }
                format!("({})", parts.join(" OR "))
            }
            LinkExpr::And(items) | LinkExpr::Or(items) => {
                let glue = if matches!(expr, LinkExpr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                if items.is_empty() {
                    return Ok(if glue == " AND " { "1 = 1" } else { "1 = 0" }.to_string());
                }
                let mut parts = Vec::with_capacity(items.len());
                for e in items {
                    parts.push(self.link_expr(class, pname, col, e)?);
                }
                format!("({})", parts.join(glue))
            }
        })
    }

    /// Items of the owner (alias `owner`) whose multilink satisfies `expr`.
    fn multilink_expr(&mut self, owner: &str, lt: &LinkTable, expr: &LinkExpr) -> Result<String> {
        let subquery = |b: &mut Builder<'_>, extra: Option<String>| -> String {
            let m = b.alias();
            let mut terms = lt.row_terms(&m);
            if let Some(e) = extra {
                terms.push(e.replace("{m}", &m));
            }
            format!(
                "SELECT {m}.{} FROM {} AS {m} WHERE {}",
                lt.owner,
                lt.table,
                terms.join(" AND ")
            )
        };
        Ok(match expr {
            LinkExpr::Empty => format!("{owner}.id NOT IN ({})", subquery(self, None)),
            LinkExpr::Id(id) => {
                let ph = self.bind(SqlValue::Int(parse_id(id, &lt.table, &lt.target)?));
                let cond = format!("{{m}}.{} = {ph}", lt.target);
                format!("{owner}.id IN ({})", subquery(self, Some(cond)))
            }
            LinkExpr::Not(e) => format!("NOT ({})", self.multilink_expr(owner, lt, e)?),
            LinkExpr::Or(items)
                if items.len() > 1
                    && items
                        .iter()
                        .all(|e| matches!(e, LinkExpr::Id(_) | LinkExpr::Empty)) =>
            {
                let mut phs = Vec::new();
                let mut empty = false;
                for e in items {
                    match e {
                        LinkExpr::Id(id) => {
                            phs.push(self.bind(SqlValue::Int(parse_id(id, &lt.table, &lt.target)?)))
                        }
                        _ => empty = true,
                    }
                }
                let mut parts = Vec::new();
                if !phs.is_empty() {
                    let cond = format!("{{m}}.{} IN ({})", lt.target, phs.join(", "));
                    parts.push(format!("{owner}.id IN ({})", subquery(self, Some(cond))));
                }
                if empty {
                    parts.push(format!("{owner}.id NOT IN ({})", subquery(self, None)));
                }
                format!("({})", parts.join(" OR "))
            }
            LinkExpr::And(items) | LinkExpr::Or(items) => {
                let and = matches!(expr, LinkExpr::And(_));
                if items.is_empty() {
                    return Ok(if and { "1 = 1" } else { "1 = 0" }.to_string());
                }
                let mut parts = Vec::with_capacity(items.len());
                for e in items {
                    parts.push(self.multilink_expr(owner, lt, e)?);
                }
                format!("({})", parts.join(if and { " AND " } else { " OR " }))
            }
        })
    }

    // ---- ORDER BY -------------------------------------------------------

    fn push_order(&self, order: &mut Vec<String>, key: &str, dir: Direction, never_null: bool) {
        let d = direction_sql(dir);
        if !never_null && !self.dialect.nulls_sort_first() {
            order.push(format!("CASE WHEN {key} IS NULL THEN 0 ELSE 1 END {d}"));
        }
        order.push(format!("{key} {d}"));
    }

    /// The sort expressions for `path` from `cls` rows under `alias`. A
    /// Link at the end sorts by the target's order property; a Multilink
    /// on the way turns the rest into per-element subqueries.
    fn sort_keys(
        &mut self,
        cls: &ClassDef,
        alias: &str,
        path: &[String],
        dir: Direction,
        joins: &mut Joins,
    ) -> Result<Vec<String>> {
        let mut cls = cls;
        let mut alias = alias.to_string();
        let mut rest: Vec<String> = path.to_vec();
        let mut i = 0;
        let mut expansions = 0;
        loop {
            let pname = rest[i].clone();
            let prop = cls.require_prop(&pname)?;
            let last = i + 1 == rest.len();
            if pname == "id" && last {
                return Ok(vec![format!("{alias}.id")]);
            }
            if prop.is_multilink() {
                return self.multilink_sort_keys(cls, &alias, prop, &rest, i, dir);
            }
            if prop.is_link() {
                let target = link_target(self.schema, cls, &pname, prop, &path.to_vec())?;
                if last {
                    expansions += 1;
                    if expansions > 8 {
                        return Err(Error::value(format!(
                            "sorting {} by \"{}\": order properties link in a cycle",
                            cls.name,
                            path.join(".")
                        )));
                    }
                    rest.push(target.order_prop());
                }
                let key = (alias.clone(), pname.clone());
                let next = match joins.by_step.iter().find(|(k, _)| *k == key) {
                    Some((_, a)) => a.clone(),
                    None => {
                        let a = self.alias();
                        joins.clauses.push(format!(
                            "LEFT OUTER JOIN _{} AS {a} ON {a}.id = {alias}._{pname}",
                            target.name
                        ));
                        joins.by_step.push((key, a.clone()));
                        a
                    }
                };
                alias = next;
                cls = target;
                i += 1;
                continue;
            }
            if !last {
                let _ = link_target(self.schema, cls, &pname, prop, &path.to_vec())?;
            }
            return Ok(vec![column_sort_expr(&alias, &pname, prop)?]);
        }
    }

    /// Sort keys for a Multilink step: the k-th linked value in sort order
    /// (by the rest of the path, ending at the target's order property), for k in
    /// 0..MULTILINK_SORT_DEPTH. Items with fewer values get NULL there and
    /// so sort first, like a shorter list in Roundup.
    /// `path[step]` is the Multilink; `path` also names the sort in errors.
    fn multilink_sort_keys(
        &mut self,
        cls: &ClassDef,
        alias: &str,
        prop: &Property,
        path: &[String],
        step: usize,
        dir: Direction,
    ) -> Result<Vec<String>> {
        let pname = path[step].as_str();
        let rest = &path[step + 1..];
        let mut keys = Vec::with_capacity(MULTILINK_SORT_DEPTH);
        for k in 0..MULTILINK_SORT_DEPTH {
            let lt = LinkTable::of(cls, pname, prop);
            let m = self.alias();
            let target_name = prop.link_class.as_deref().unwrap_or_default();
            let target = self.schema.class(target_name)?;
            let x = self.alias();
            let mut from = format!(
                "{} AS {m} INNER JOIN _{target_name} AS {x} ON {x}.id = {m}.{}",
                lt.table, lt.target
            );
            let mut sub_path: Vec<String> = rest.to_vec();
            if sub_path.is_empty() {
                sub_path.push(target.order_prop());
            }
            let mut inner = Joins::default();
            let elem = self.inner_sort_expr(target, &x, &sub_path, &mut inner, path)?;
            for j in &inner.clauses {
                from.push(' ');
                from.push_str(j);
            }
            let mut terms = lt.row_terms(&m);
            terms.push(format!("{m}.{} = {alias}.id", lt.owner));
            let mut ord = Vec::new();
            // Roundup sorts each item's values in the sort direction before
            // comparing the lists, so a descending sort ranks from the
            // largest value.
            self.push_order(&mut ord, &elem, dir, false);
            keys.push(format!(
                "(SELECT {elem} FROM {from} WHERE {} ORDER BY {} LIMIT 1 OFFSET {k})",
                terms.join(" AND "),
                ord.join(", ")
            ));
        }
        Ok(keys)
    }

    /// Inside a multilink subquery: the element's sort expression, joining
    /// Links (LEFT, so missing links give NULL elements) and flattening
    /// further Multilinks (INNER).
    fn inner_sort_expr(
        &mut self,
        cls: &ClassDef,
        alias: &str,
        path: &[String],
        joins: &mut Joins,
        full: &[String],
    ) -> Result<String> {
        let mut cls = cls;
        let mut alias = alias.to_string();
        let mut rest = path.to_vec();
        let mut i = 0;
        let mut expansions = 0;
        loop {
            let pname = rest[i].clone();
            let prop = cls.require_prop(&pname)?;
            let last = i + 1 == rest.len();
            if pname == "id" && last {
                return Ok(format!("{alias}.id"));
            }
            if prop.is_pointer() {
                let target = link_target(self.schema, cls, &pname, prop, &full.to_vec())?;
                if last {
                    expansions += 1;
                    if expansions > 8 {
                        return Err(Error::value(format!(
                            "sorting {} by \"{}\": order properties link in a cycle",
                            cls.name,
                            full.join(".")
                        )));
                    }
                    rest.push(target.order_prop());
                }
                let a = self.alias();
                if prop.is_multilink() {
                    let lt = LinkTable::of(cls, &pname, prop);
                    let m = self.alias();
                    let terms = lt.row_terms(&m);
                    joins.clauses.push(format!(
                        "INNER JOIN {} AS {m} ON {m}.{} = {alias}.id AND {} INNER JOIN _{} AS {a} ON {a}.id = {m}.{}",
                        lt.table,
                        lt.owner,
                        terms.join(" AND "),
                        target.name,
                        lt.target
                    ));
                } else {
                    joins.clauses.push(format!(
                        "LEFT OUTER JOIN _{} AS {a} ON {a}.id = {alias}._{pname}",
                        target.name
                    ));
                }
                alias = a;
                cls = target;
                i += 1;
                continue;
            }
            if !last {
                let _ = link_target(self.schema, cls, &pname, prop, &full.to_vec())?;
            }
            return column_sort_expr(&alias, &pname, prop);
        }
    }
}

/// The sort expression of a plain column, as Roundup orders values:
/// strings case-insensitively, intervals by length.
fn column_sort_expr(alias: &str, pname: &str, prop: &Property) -> Result<String> {
    Ok(match prop.ptype {
        PropType::String => format!("LOWER({alias}._{pname})"),
        PropType::Interval => format!("{alias}.__{pname}_int__"),
        _ => format!("{alias}._{pname}"),
    })
}

/// A LIKE pattern matching `s` anywhere, with `\`, `%` and `_` escaped by
/// `\` (the escape character [`Dialect::like_ci`] declares).
fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
