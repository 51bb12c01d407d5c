//! Filter queries: the typed form of Roundup's `filter(search_matches,
//! filterspec, sort, group, retired, exact_match_spec, limit, offset)`.
//!
//! Callers (admin CLI, web index, REST) hand in Roundup's raw filterspec;
//! [`Query`] is what it resolves to against the schema, and what storage
//! backends translate into SQL.

use crate::date::{Date, Interval};
use crate::value::Value;

/// Sort or group direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// A property path from the queried class: `["status"]`,
/// `["assignedto", "username"]`, `["messages", "author", "realname"]`.
/// Every step but the last is a Link or Multilink.
pub type PropPath = Vec<String>;

/// A boolean expression over linked ids (Roundup's property expressions:
/// `-1` empty, `-2` not, `-3` and, `-4` or, in reverse Polish notation).
#[derive(Clone, Debug, PartialEq)]
pub enum LinkExpr {
    /// The property links to this id (for a multilink: contains it).
    Id(String),
    /// No link / empty multilink.
    Empty,
    Not(Box<LinkExpr>),
    And(Vec<LinkExpr>),
    Or(Vec<LinkExpr>),
}

/// One condition on the value at the end of a property path.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// String: every word occurs (case-insensitively, as a substring).
    Words(Vec<String>),
    /// String: equals one of these exactly (exact_match_spec).
    Exact(Vec<String>),
    /// The value is empty (NULL / no link / empty multilink).
    Empty,
    /// Link/Multilink expression (a plain id list is an `Or` of `Id`s).
    Links(LinkExpr),
    /// Date within inclusive bounds (either may be open).
    DateRange {
        from: Option<Date>,
        to: Option<Date>,
    },
    /// Interval within inclusive bounds.
    IntervalRange {
        from: Option<Interval>,
        to: Option<Interval>,
    },
    /// Number/Integer/Boolean equal to one of these.
    Values(Vec<Value>),
    /// Number/Integer within inclusive bounds.
    NumberRange { from: Option<f64>, to: Option<f64> },
    /// Any of several conditions on the same path (e.g. "-1" plus words).
    AnyOf(Vec<Condition>),
}

/// A condition on a property path.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub path: PropPath,
    pub cond: Condition,
}

/// A resolved filter query on one class.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub class: String,
    /// All must hold.
    pub filters: Vec<Filter>,
    /// Restrict to these ids (full-text search results); `None`: no restriction.
    pub search_ids: Option<std::sync::Arc<IdSet>>,
    /// Grouping comes before sorting in the final order.
    pub group: Vec<(Direction, PropPath)>,
    pub sort: Vec<(Direction, PropPath)>,
    /// `Some(false)`: active items only (Roundup's default), `Some(true)`:
    /// retired only, `None`: both.
    pub retired: Option<bool>,
    pub limit: Option<u64>,
    pub offset: u64,
}

impl Query {
    /// The same matches unsorted, ungrouped and unpaged: what counting
    /// the query asks.
    pub fn unordered(&self) -> Query {
        Query {
            sort: Vec::new(),
            group: Vec::new(),
            limit: None,
            offset: 0,
            ..self.clone()
        }
    }

    /// A query matching every active item of `class`, ordered by id.
    pub fn all(class: &str) -> Query {
        Query {
            class: class.to_string(),
            filters: Vec::new(),
            search_ids: None,
            group: Vec::new(),
            sort: Vec::new(),
            retired: Some(false),
            limit: None,
            offset: 0,
        }
    }
}

/// Item ids of one class as sorted, distinct numbers: what a full-text
/// search matches, held in four bytes an id however many there are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct IdSet(Vec<u32>);

impl IdSet {
    /// The set of `ids`, in any order, repeats allowed.
    pub fn new(mut ids: Vec<u32>) -> IdSet {
        ids.sort_unstable();
        ids.dedup();
        IdSet(ids)
    }

    /// The set of `ids` already ascending and distinct (checked in
    /// debug builds); nothing is sorted.
    pub fn from_sorted(ids: Vec<u32>) -> IdSet {
        debug_assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids not ascending");
        IdSet(ids)
    }

    /// Ids given as text (a caller's `search_matches`): each must be an
    /// item id; the error names `class` and the value.
    pub fn parse<S: AsRef<str>>(class: &str, ids: &[S]) -> Result<IdSet> {
        let mut nums = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id.as_ref();
            nums.push(id.trim().parse::<u32>().map_err(|_| {
                Error::value(format!(
                    "filter {class}.search_matches: \"{id}\" is not an item id"
                ))
            })?);
        }
        Ok(IdSet::new(nums))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, id: u32) -> bool {
        self.0.binary_search(&id).is_ok()
    }

    /// The ids in ascending order.
    pub fn as_slice(&self) -> &[u32] {
        &self.0
    }

    /// The ids as Roundup writes them, ascending.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(u32::to_string).collect()
    }
}

// ---------------------------------------------------------------------------
// Parsing Roundup's raw filter arguments into a `Query`.
// ---------------------------------------------------------------------------

use crate::date::{IntervalRange, Range, Timezone};
use crate::error::{Error, Result};
use crate::schema::{ClassDef, PropType, Property, Schema};

/// One raw filter value as callers receive it.
///
/// `One` is a single form field or command-line value; where Roundup splits
/// such a value on commas (Link, Multilink, `id`, Boolean, Date, and here
/// also Number/Integer) [`parse_query`] does so. `Many` is a value list that
/// is taken element by element (a repeated form field, a Python list).
#[derive(Clone, Debug, PartialEq)]
pub enum SpecValue {
    One(String),
    Many(Vec<String>),
}

impl SpecValue {
    fn items(&self) -> Vec<&str> {
        match self {
            SpecValue::One(s) => vec![s.as_str()],
            SpecValue::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }

    /// The values, with a `One` split on commas; pieces are trimmed and
    /// empty pieces dropped.
    fn comma_items(&self) -> Vec<String> {
        let split = |s: &str| -> Vec<String> {
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        };
        match self {
            SpecValue::One(s) => split(s),
            SpecValue::Many(v) => v
                .iter()
                .map(|s| s.trim())
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }
}

/// The arguments of Roundup's `Class.filter()` in raw (string) form.
///
/// * `filterspec`: property name (possibly dotted, `assignedto.username`)
///   and value. String properties match case-insensitively as substrings:
///   a `One` value is one substring (Roundup does not split it into
///   words), every element of a `Many` must occur.
/// * `exact_match_spec`: like `filterspec` but String properties must equal
///   the value (case-sensitively); several values must all hold, as in
///   Roundup. For other property types it is the same as `filterspec`.
/// * `sort`, `group`: `(direction, property)`. A direction of `None` means
///   ascending unless the name carries a `-` (descending) or `+` prefix, as
///   in the web interface's `@sort=-activity`; an explicit direction wins
///   over a prefix. Empty names are ignored, a property named twice counts
///   once (group first), and `id` ascending is added last unless named.
/// * `retired`: Roundup's parameter: `Some(false)` active items only (the
///   default), `Some(true)` retired only, `None` both.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterSpec {
    /// Shared, not copied: a full-text search can match hundreds of
    /// thousands.
    pub search_matches: Option<std::sync::Arc<IdSet>>,
    pub filterspec: Vec<(String, SpecValue)>,
    pub exact_match: Vec<(String, SpecValue)>,
    pub sort: Vec<(Option<Direction>, String)>,
    pub group: Vec<(Option<Direction>, String)>,
    pub retired: Option<bool>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

impl Default for FilterSpec {
    fn default() -> FilterSpec {
        FilterSpec {
            search_matches: None,
            filterspec: Vec::new(),
            exact_match: Vec::new(),
            sort: Vec::new(),
            group: Vec::new(),
            retired: Some(false),
            limit: None,
            offset: None,
        }
    }
}

/// Looks up an item id by key value: `(class, key) -> Some(id)`, or `None`
/// when no item has that key. Callers may also resolve `@current_user`
/// (passed for the `user` class) here.
pub type KeyLookup<'a> = dyn Fn(&str, &str) -> Result<Option<String>> + 'a;

/// Resolve raw filter arguments against the schema.
///
/// Link and Multilink values may be ids or key values of the linked class
/// (`lookup` resolves keys); `-1` means "not set" and values below `-1`
/// make the list a property expression in reverse Polish notation (`-2`
/// not, `-3` and, `-4` or). Dates take Roundup's range forms, several
/// separated by commas, `-` meaning "not set"; intervals take ranges too.
/// Number and Integer values may be lists (any of) and, beyond Roundup,
/// `from;to` ranges. Unknown properties, unknown keys, malformed
/// expressions and unparsable values are errors naming the class,
/// property and value.
pub fn parse_query(
    schema: &Schema,
    class: &str,
    spec: &FilterSpec,
    tz: &Timezone,
    lookup: &KeyLookup<'_>,
) -> Result<Query> {
    let cls = schema.class(class)?;
    let mut filters = Vec::new();
    for (exact, list) in [(false, &spec.filterspec), (true, &spec.exact_match)] {
        for (name, value) in list {
            let target = resolve_path(schema, cls, name)?;
            let ctx = Ctx {
                schema,
                class: &cls.name,
                name,
                target: &target,
                tz,
                lookup,
            };
            for cond in ctx.conditions(value, exact)? {
                filters.push(Filter {
                    path: target.path.clone(),
                    cond,
                });
            }
        }
    }
    let (group, sort) = parse_order(schema, cls, &spec.group, &spec.sort)?;
    Ok(Query {
        class: cls.name.clone(),
        filters,
        search_ids: spec.search_matches.clone(),
        group,
        sort,
        retired: spec.retired,
        limit: spec.limit,
        offset: spec.offset.unwrap_or(0),
    })
}

/// The end of a resolved property path.
struct PathEnd<'s> {
    path: PropPath,
    prop: &'s Property,
}

/// Resolve a dotted property name; every step but the last must be a
/// Link or Multilink.
fn resolve_path<'s>(schema: &'s Schema, root: &'s ClassDef, dotted: &str) -> Result<PathEnd<'s>> {
    let dotted = dotted.trim();
    if dotted.is_empty() {
        return Err(Error::value(format!(
            "{}: empty property name in filter",
            root.name
        )));
    }
    let steps: Vec<&str> = dotted.split('.').collect();
    let mut owner = root;
    let mut path = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        if step.is_empty() {
            return Err(Error::value(format!(
                "{}: malformed property path \"{dotted}\" (empty component)",
                root.name
            )));
        }
        let prop = owner.require_prop(step)?;
        path.push(step.to_string());
        if i + 1 == steps.len() {
            return Ok(PathEnd { path, prop });
        }
        match (&prop.link_class, prop.is_pointer()) {
            (Some(target), true) => owner = schema.class(target)?,
            _ => {
                return Err(Error::value(format!(
                    "{}: in \"{dotted}\", {}.{step} is a {} property, not a Link or Multilink",
                    root.name,
                    owner.name,
                    prop.ptype.name()
                )))
            }
        }
    }
    // `split` yields at least one piece, so the loop always returns.
    Err(Error::value(format!(
        "{}: malformed property path \"{dotted}\"",
        root.name
    )))
}

/// Everything needed to turn one filter entry into conditions.
struct Ctx<'a, 's> {
    schema: &'s Schema,
    class: &'a str,
    name: &'a str,
    target: &'a PathEnd<'s>,
    tz: &'a Timezone,
    lookup: &'a KeyLookup<'a>,
}

impl Ctx<'_, '_> {
    fn bad(&self, value: &str, why: impl std::fmt::Display) -> Error {
        Error::value(format!(
            "filter {}.{}: invalid value \"{value}\": {why}",
            self.class, self.name
        ))
    }

    fn conditions(&self, value: &SpecValue, exact: bool) -> Result<Vec<Condition>> {
        let prop = self.target.prop;
        let last = self.target.path.last().map(String::as_str).unwrap_or("");
        if last == "id" {
            return Ok(vec![self.id_condition(value)?]);
        }
        Ok(match prop.ptype {
            PropType::String if exact => value
                .items()
                .into_iter()
                .map(|v| Condition::Exact(vec![v.to_string()]))
                .collect(),
            PropType::String => {
                let words: Vec<String> = value.items().into_iter().map(str::to_string).collect();
                vec![Condition::Words(words)]
            }
            PropType::Password => {
                return Err(Error::value(format!(
                    "filter {}.{}: Password properties cannot be searched",
                    self.class, self.name
                )))
            }
            PropType::Link | PropType::Multilink => vec![self.link_condition(value)?],
            PropType::Date => vec![self.date_condition(value)?],
            PropType::Interval => vec![self.interval_condition(value)?],
            PropType::Number | PropType::Integer => vec![self.number_condition(value)?],
            PropType::Boolean => vec![self.boolean_condition(value)?],
        })
    }

    fn id_condition(&self, value: &SpecValue) -> Result<Condition> {
        let mut out = Vec::new();
        for v in value.comma_items() {
            match v.parse::<u64>() {
                Ok(n) => out.push(Value::Integer(n as i64)),
                Err(_) => return Err(self.bad(&v, "an item id must be a number")),
            }
        }
        Ok(Condition::Values(out))
    }

    fn link_condition(&self, value: &SpecValue) -> Result<Condition> {
        let prop = self.target.prop;
        let target_name = prop.link_class.as_deref().unwrap_or_default();
        let target = self.schema.class(target_name)?;
        let mut codes: Vec<i64> = Vec::new();
        for raw in value.comma_items() {
            let numeric = raw
                .strip_prefix('+')
                .unwrap_or(&raw)
                .parse::<i64>()
                .ok()
                .filter(|_| !raw.starts_with("+-"));
            match numeric {
                Some(n) if prop.try_id_parsing || n < 0 => {
                    if n < -4 {
                        return Err(self.bad(
                            &raw,
                            "negative values are operators: -1 empty, -2 not, -3 and, -4 or",
                        ));
                    }
                    codes.push(n)
                }
                _ => {
                    let Some(key) = &target.key else {
                        return Err(self.bad(
                            &raw,
                            format!("not an id, and class \"{target_name}\" has no key property"),
                        ));
                    };
                    match (self.lookup)(target_name, &raw)? {
                        Some(id) => match id.parse::<i64>() {
                            Ok(n) if n >= 0 => codes.push(n),
                            _ => {
                                return Err(
                                    self.bad(&raw, format!("key lookup gave a bad id \"{id}\""))
                                )
                            }
                        },
                        None => {
                            return Err(
                                self.bad(&raw, format!("no {target_name} has {key} \"{raw}\""))
                            )
                        }
                    }
                }
            }
        }
        if codes.iter().any(|&c| c < -1) {
            return compile_rpn(&codes).map(Condition::Links).map_err(|why| {
                Error::value(format!(
                    "error searching {} by {} using {}: {why}",
                    self.class,
                    self.name,
                    format_codes(&codes)
                ))
            });
        }
        // A plain list: any of the ids, "-1" for "not set". An empty list
        // matches empty values, as in Roundup.
        let empty = codes.contains(&-1);
        let mut ids: Vec<LinkExpr> = Vec::new();
        for c in codes.iter().filter(|&&c| c >= 0) {
            let id = LinkExpr::Id(c.to_string());
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        Ok(match (empty || ids.is_empty(), ids.len()) {
            (true, 0) => Condition::Empty,
            (false, 1) => Condition::Links(ids.remove(0)),
            (false, _) => Condition::Links(LinkExpr::Or(ids)),
            (true, _) => {
                ids.insert(0, LinkExpr::Empty);
                Condition::Links(LinkExpr::Or(ids))
            }
        })
    }

    fn date_condition(&self, value: &SpecValue) -> Result<Condition> {
        let mut conds = Vec::new();
        for item in value.items() {
            for part in item.split(',').map(str::trim) {
                if part == "-" {
                    conds.push(Condition::Empty);
                    continue;
                }
                if part.is_empty() {
                    return Err(self.bad(item, "empty date range"));
                }
                let range =
                    Range::parse_date_range(part, self.tz).map_err(|e| self.bad(part, e))?;
                conds.push(Condition::DateRange {
                    from: range.from,
                    to: range.to,
                });
            }
        }
        one_or_any(conds).ok_or_else(|| self.bad("", "no date given"))
    }

    fn interval_condition(&self, value: &SpecValue) -> Result<Condition> {
        let mut conds = Vec::new();
        for item in value.items() {
            // A single interval covers one step of its finest unit, as in
            // Roundup ("3d" matches 3d up to 4d).
            let range = IntervalRange::parse(item).map_err(|e| self.bad(item, e))?;
            conds.push(Condition::IntervalRange {
                from: range.from,
                to: range.to,
            });
        }
        one_or_any(conds).ok_or_else(|| self.bad("", "no interval given"))
    }

    fn number_condition(&self, value: &SpecValue) -> Result<Condition> {
        let integer = self.target.prop.ptype == PropType::Integer;
        let mut values = Vec::new();
        let mut ranges = Vec::new();
        for item in value.comma_items() {
            if let Some((a, b)) = item.split_once(';') {
                let bound = |s: &str| -> Result<Option<f64>> {
                    let s = s.trim();
                    if s.is_empty() {
                        return Ok(None);
                    }
                    s.parse::<f64>()
                        .ok()
                        .filter(|f| f.is_finite())
                        .map(Some)
                        .ok_or_else(|| self.bad(&item, format!("\"{s}\" is not a number")))
                };
                ranges.push(Condition::NumberRange {
                    from: bound(a)?,
                    to: bound(b)?,
                });
            } else if integer {
                let n = item
                    .parse::<i64>()
                    .map_err(|_| self.bad(&item, "not an integer"))?;
                values.push(Value::Integer(n));
            } else {
                let n = item
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .ok_or_else(|| self.bad(&item, "not a number"))?;
                values.push(Value::Number(n));
            }
        }
        let mut conds = Vec::new();
        if !values.is_empty() {
            conds.push(Condition::Values(values));
        }
        conds.extend(ranges);
        one_or_any(conds).ok_or_else(|| self.bad("", "no number given"))
    }

    fn boolean_condition(&self, value: &SpecValue) -> Result<Condition> {
        let mut values = Vec::new();
        for item in value.comma_items() {
            let b = match item.to_ascii_lowercase().as_str() {
                "yes" | "true" | "1" | "on" | "checked" => true,
                "no" | "false" | "0" | "off" => false,
                _ => return Err(self.bad(&item, "expected yes/no, true/false or 1/0")),
            };
            values.push(Value::Boolean(b));
        }
        if values.is_empty() {
            return Err(self.bad("", "no boolean value given"));
        }
        Ok(Condition::Values(values))
    }
}

fn one_or_any(mut conds: Vec<Condition>) -> Option<Condition> {
    match conds.len() {
        0 => None,
        1 => conds.pop(),
        _ => Some(Condition::AnyOf(conds)),
    }
}

fn format_codes(codes: &[i64]) -> String {
    let parts: Vec<String> = codes.iter().map(i64::to_string).collect();
    format!("[{}]", parts.join(", "))
}

/// Compile a property expression in reverse Polish notation.
fn compile_rpn(codes: &[i64]) -> std::result::Result<LinkExpr, String> {
    let mut stack: Vec<LinkExpr> = Vec::new();
    for (pos, &code) in codes.iter().enumerate() {
        let (name, arity) = match code {
            -2 => ("not", 1),
            -3 => ("and", 2),
            -4 => ("or", 2),
            -1 => {
                stack.push(LinkExpr::Empty);
                continue;
            }
            id => {
                stack.push(LinkExpr::Id(id.to_string()));
                continue;
            }
        };
        if stack.len() < arity {
            return Err(format!(
                "the operator {code} ({name}) at position {} has too few arguments",
                pos + 1
            ));
        }
        let mut args = stack.split_off(stack.len() - arity);
        let expr = match (code, args.pop()) {
            (-2, Some(x)) => LinkExpr::Not(Box::new(x)),
            (-3, Some(y)) => LinkExpr::And(args.into_iter().chain([y]).collect()),
            (_, Some(y)) => LinkExpr::Or(args.into_iter().chain([y]).collect()),
            (_, None) => return Err(format!("the operator {code} ({name}) has no operand")),
        };
        stack.push(expr);
    }
    match stack.len() {
        1 => Ok(stack.remove(0)),
        0 => Err("the expression is empty".to_string()),
        n => Err(format!(
            "there are too many arguments for the operators: {n} values are left unconnected (add -3 and / -4 or)"
        )),
    }
}

/// Group and sort specs in Roundup's order: group keys, then sort keys,
/// duplicates dropped, then `id` ascending unless already named.
#[allow(clippy::type_complexity)]
fn parse_order(
    schema: &Schema,
    cls: &ClassDef,
    group: &[(Option<Direction>, String)],
    sort: &[(Option<Direction>, String)],
) -> Result<(Vec<(Direction, PropPath)>, Vec<(Direction, PropPath)>)> {
    let mut seen: Vec<String> = Vec::new();
    let mut out: [Vec<(Direction, PropPath)>; 2] = [Vec::new(), Vec::new()];
    for (slot, list) in [group, sort].into_iter().enumerate() {
        for (dir, raw) in list {
            let raw = raw.trim();
            let (prefix, name) = match raw.chars().next() {
                Some('-') => (Some(Direction::Desc), raw[1..].trim()),
                Some('+') => (Some(Direction::Asc), raw[1..].trim()),
                _ => (None, raw),
            };
            if name.is_empty() || seen.iter().any(|s| s == name) {
                continue;
            }
            let end = resolve_path(schema, cls, name)?;
            seen.push(name.to_string());
            let dir = dir.or(prefix).unwrap_or(Direction::Asc);
            out[slot].push((dir, end.path));
        }
    }
    let [group, mut sort] = out;
    if !seen.iter().any(|s| s == "id") {
        sort.push((Direction::Asc, vec!["id".to_string()]));
    }
    Ok((group, sort))
}
