//! `request`: the current request and its index arguments (Roundup's
//! HTMLRequest), plus the batch of items an index page shows.

use std::sync::Arc;

use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr};
use minijinja::{Error as TplError, ErrorKind, State, Value as JValue};
use roundup_core::filter::{Direction, FilterSpec, SpecValue};
use roundup_core::schema::{Property, Schema};
use roundup_core::Db;

use super::ctx::{with, RenderCtx};
use super::html::{url_quote, url_quote_arg, TagBuilder};
use super::model::{value_text, ItemObj};
use crate::request::{FormValue, WebRequest};

/// Default number of rows on an index page.
pub const DEFAULT_PAGESIZE: usize = 50;
/// Largest page size honoured (protects the server from huge pages).
pub const MAX_PAGESIZE: usize = 5000;

/// The index arguments of a request (`@columns`, `@sort`, `@group`,
/// `@filter` and the filter values, `@search_text`, `@pagesize`,
/// `@startwith`, `@dispname`), parsed once per render. Sort, group and
/// filter properties the user may not search are dropped, as in Roundup.
#[derive(Clone, Debug, Default)]
pub struct IndexArgs {
    pub columns: Vec<String>,
    /// (descending, property)
    pub sort: Vec<(bool, String)>,
    pub group: Vec<(bool, String)>,
    pub filter: Vec<String>,
    /// (property, values, whether the values are a list)
    pub filterspec: Vec<(String, Vec<String>, bool)>,
    pub search_text: Option<String>,
    pub pagesize: usize,
    pub startwith: usize,
    pub dispname: Option<String>,
}

/// Split repeated and comma-separated values into trimmed pieces.
fn list_values(req: &WebRequest, name: &str) -> Vec<String> {
    req.get_all(name)
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Resolve a dotted property path from `class`.
pub(crate) fn resolve_prop<'s>(
    schema: &'s Schema,
    class: &str,
    dotted: &str,
) -> Option<&'s Property> {
    let mut cls = schema.classes.get(class)?;
    let mut steps = dotted.split('.').peekable();
    while let Some(step) = steps.next() {
        let p = cls.prop(step)?;
        if steps.peek().is_none() {
            return Some(p);
        }
        cls = schema.classes.get(p.link_class.as_deref()?)?;
    }
    None
}

/// Whether the roles may search along the whole path.
fn may_search(db: &Db, roles: &[String], class: &str, dotted: &str) -> bool {
    let schema = db.schema();
    let mut cls_name = class.to_string();
    for step in dotted.split('.') {
        if !db.security().role_may_search(roles, &cls_name, step) {
            return false;
        }
        let Some(p) = schema.classes.get(&cls_name).and_then(|c| c.prop(step)) else {
            return false;
        };
        if let Some(t) = &p.link_class {
            cls_name = t.clone();
        }
    }
    true
}

impl IndexArgs {
    pub fn parse(db: &Db, req: &WebRequest, class: Option<&str>, roles: &[String]) -> IndexArgs {
        let known = |name: &str| match class {
            Some(c) => {
                resolve_prop(db.schema(), c, name).is_some() && may_search(db, roles, c, name)
            }
            None => true,
        };
        let columns = list_values(req, "@columns");
        let sort = parse_order(req, "sort")
            .into_iter()
            .filter(|(_, p)| known(p))
            .collect();
        let group = parse_order(req, "group")
            .into_iter()
            .filter(|(_, p)| known(p))
            .collect();
        let filter: Vec<String> = list_values(req, "@filter");
        let mut filterspec = Vec::new();
        if let Some(c) = class {
            for name in &filter {
                if !req.has(name) || !known(name) {
                    continue;
                }
                let Some(p) = resolve_prop(db.schema(), c, name) else {
                    continue;
                };
                let raw: Vec<String> = req.get_all(name).iter().map(|s| s.to_string()).collect();
                if p.is_pointer() || name == "id" || name.ends_with(".id") {
                    filterspec.push((name.clone(), list_values(req, name), true));
                } else if raw.len() > 1 {
                    filterspec.push((name.clone(), raw, true));
                } else {
                    filterspec.push((name.clone(), raw, false));
                }
            }
        }
        let search_text = req
            .get("@search_text")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        let pagesize = req
            .get("@pagesize")
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_PAGESIZE))
            .unwrap_or(DEFAULT_PAGESIZE);
        let startwith = req
            .get("@startwith")
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let dispname = req
            .get("@dispname")
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        IndexArgs {
            columns,
            sort,
            group,
            filter,
            filterspec,
            search_text,
            pagesize,
            startwith,
            dispname,
        }
    }

    /// The core filter arguments for these index arguments.
    pub fn filter_spec(&self) -> FilterSpec {
        let order = |v: &[(bool, String)]| {
            v.iter()
                .map(|(desc, p)| {
                    (
                        Some(if *desc {
                            Direction::Desc
                        } else {
                            Direction::Asc
                        }),
                        p.clone(),
                    )
                })
                .collect()
        };
        FilterSpec {
            filterspec: self
                .filterspec
                .iter()
                .map(|(k, v, list)| {
                    let sv = if *list || v.len() != 1 {
                        SpecValue::Many(v.clone())
                    } else {
                        SpecValue::One(v[0].clone())
                    };
                    (k.clone(), sv)
                })
                .collect(),
            sort: order(&self.sort),
            group: order(&self.group),
            ..FilterSpec::default()
        }
    }
}

/// `@sort0`/`@sortdir0`... or `@sort=a,-b` (+ `@sortdir`) into
/// (descending, property) pairs.
fn parse_order(req: &WebRequest, name: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(field) = req.get(&format!("@{name}{i}")) {
        let dir = req
            .get(&format!("@{name}dir{i}"))
            .is_some_and(|d| !d.is_empty());
        if !field.trim().is_empty() {
            push_order(&mut out, field.trim(), dir);
        }
        i += 1;
    }
    if out.is_empty() {
        let dir = req
            .get(&format!("@{name}dir"))
            .is_some_and(|d| !d.is_empty());
        for (j, f) in list_values(req, &format!("@{name}"))
            .into_iter()
            .enumerate()
        {
            push_order(&mut out, &f, dir && j == 0);
        }
    }
    out
}

fn push_order(out: &mut Vec<(bool, String)>, field: &str, dir: bool) {
    match field.strip_prefix('-') {
        Some(p) => out.push((true, p.to_string())),
        None => out.push((dir, field.trim_start_matches('+').to_string())),
    }
}

// ---------------------------------------------------------------------------

/// `request`.
#[derive(Debug)]
pub struct RequestObj;

const REQUEST_KEYS: &[&str] = &[
    "base",
    "classname",
    "itemid",
    "nodeid",
    "template",
    "path",
    "method",
    "form",
    "columns",
    "show",
    "sort",
    "group",
    "filter",
    "filterspec",
    "search_text",
    "pagesize",
    "startwith",
    "dispname",
    "user",
    "userid",
    "username",
    "nonce",
    "csrf_token",
];

fn order_value(v: &[(bool, String)]) -> JValue {
    JValue::from(
        v.iter()
            .map(|(d, p)| {
                JValue::from(vec![
                    JValue::from(if *d { "-" } else { "+" }),
                    JValue::from(p.as_str()),
                ])
            })
            .collect::<Vec<_>>(),
    )
}

impl Object for RequestObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(REQUEST_KEYS)
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let key = key.as_str()?;
        with(|ctx| {
            let ix = &ctx.index;
            Ok(Some(match key {
                "base" => JValue::from(ctx.req.base.as_str()),
                "classname" => JValue::from(ctx.view.classname.clone()),
                "itemid" | "nodeid" => JValue::from(ctx.view.itemid.clone()),
                "template" => JValue::from(ctx.view.template.as_str()),
                "path" => JValue::from(ctx.req.path.as_str()),
                "method" => JValue::from(ctx.req.method.as_str()),
                "form" => JValue::from_object(FormObj),
                "columns" => JValue::from(ix.columns.clone()),
                "show" => JValue::from_object(ShowObj {
                    columns: ix.columns.clone(),
                }),
                "sort" => order_value(&ix.sort),
                "group" => order_value(&ix.group),
                "filter" => JValue::from(ix.filter.clone()),
                "filterspec" => JValue::from_iter(ix.filterspec.iter().map(|(k, v, list)| {
                    let val = if *list {
                        JValue::from(v.clone())
                    } else {
                        JValue::from(v.first().cloned().unwrap_or_default())
                    };
                    (k.clone(), val)
                })),
                "search_text" => JValue::from(ix.search_text.clone()),
                "pagesize" => JValue::from(ix.pagesize),
                "startwith" => JValue::from(ix.startwith),
                "dispname" => JValue::from(ix.dispname.clone()),
                "user" => ItemObj::value("user", &ctx.userid),
                "userid" => JValue::from(ctx.userid.as_str()),
                "username" => JValue::from(ctx.req.username.as_str()),
                "nonce" => JValue::from(ctx.req.nonce.as_str()),
                "csrf_token" => JValue::from(ctx.csrf()),
                _ => return Ok(None),
            }))
        })
        .ok()
        .flatten()
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, TplError> {
        match method {
            "batch" => with(|ctx| Ok(JValue::from_object(BatchObj::for_request(ctx)))),
            "description" => with(|ctx| Ok(JValue::from(description(ctx)))),
            "indexargs_url" => {
                let (url, extra): (String, Option<JValue>) = from_args(args)?;
                let pairs = arg_pairs(extra)?;
                with(|ctx| Ok(JValue::from(indexargs_url(ctx, &url, &pairs))))
            }
            "indexargs_form" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let on = |k: &str| {
                    kw.get::<Option<JValue>>(k)
                        .ok()
                        .flatten()
                        .is_none_or(|v| v.is_true())
                };
                let parts = [
                    on("columns"),
                    on("sort"),
                    on("group"),
                    on("filter"),
                    on("filterspec"),
                    on("search_text"),
                    on("pagesize"),
                    on("startwith"),
                ];
                with(|ctx| Ok(JValue::from_safe_string(indexargs_form(ctx, parts))))
            }
            "current_url" => {
                with(|ctx| Ok(JValue::from(format!("{}{}", ctx.req.base, ctx.req.path))))
            }
            _ => Err(TplError::new(
                ErrorKind::UnknownMethod,
                format!("request has no method {method}()"),
            )),
        }
    }
}

/// A Jinja mapping argument as (name, value-or-None) pairs, in order.
fn arg_pairs(v: Option<JValue>) -> Result<Vec<(String, Option<String>)>, TplError> {
    let Some(v) = v.filter(|v| !v.is_undefined() && !v.is_none()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for k in v.try_iter()? {
        let val = v.get_item(&k)?;
        let text = if val.is_none() || val.is_undefined() {
            None
        } else if val.kind() == minijinja::value::ValueKind::Seq {
            Some(
                val.try_iter()?
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        } else {
            Some(val.to_string())
        };
        out.push((k.to_string(), text));
    }
    Ok(out)
}

fn order_text(v: &[(bool, String)]) -> String {
    v.iter()
        .map(|(d, p)| if *d { format!("-{p}") } else { p.clone() })
        .collect::<Vec<_>>()
        .join(",")
}

/// `url?args&current index args not overridden by args`.
pub(crate) fn indexargs_url(
    ctx: &RenderCtx<'_>,
    url: &str,
    args: &[(String, Option<String>)],
) -> String {
    let ix = &ctx.index;
    let mut parts: Vec<String> = args
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!("{}={}", url_quote_arg(k), url_quote_arg(v)))
        })
        .collect();
    let given = |name: &str| {
        args.iter()
            .any(|(k, _)| k == &format!("@{name}") || k == &format!(":{name}"))
    };
    if !ix.columns.is_empty() && !given("columns") {
        parts.push(format!("@columns={}", url_quote_arg(&ix.columns.join(","))));
    }
    if !ix.sort.is_empty() && !given("sort") {
        parts.push(format!("@sort={}", url_quote_arg(&order_text(&ix.sort))));
    }
    if !ix.group.is_empty() && !given("group") {
        parts.push(format!("@group={}", url_quote_arg(&order_text(&ix.group))));
    }
    if !ix.filter.is_empty() && !given("filter") {
        parts.push(format!("@filter={}", url_quote_arg(&ix.filter.join(","))));
    }
    if let Some(t) = &ix.search_text {
        if !given("search_text") {
            parts.push(format!("@search_text={}", url_quote(t)));
        }
    }
    if !given("pagesize") {
        parts.push(format!("@pagesize={}", ix.pagesize));
    }
    if !given("startwith") {
        parts.push(format!("@startwith={}", ix.startwith));
    }
    for (k, v, _) in &ix.filterspec {
        if args.iter().any(|(a, _)| a == k) {
            continue;
        }
        parts.push(format!(
            "{}={}",
            url_quote_arg(k),
            url_quote_arg(&v.join(","))
        ));
    }
    if parts.is_empty() {
        url.to_string()
    } else {
        format!("{url}?{}", parts.join("&"))
    }
}

fn hidden(name: &str, value: &str) -> String {
    TagBuilder::new("input")
        .attr("type", "hidden")
        .attr("name", name)
        .attr("value", value)
        .open()
}

/// The index arguments as hidden fields: [columns, sort, group, filter,
/// filterspec, search_text, pagesize, startwith] say which parts to include.
fn indexargs_form(ctx: &RenderCtx<'_>, parts: [bool; 8]) -> String {
    let ix = &ctx.index;
    let mut out = String::new();
    if parts[0] && !ix.columns.is_empty() {
        out.push_str(&hidden("@columns", &ix.columns.join(",")));
    }
    if parts[1] && !ix.sort.is_empty() {
        out.push_str(&hidden("@sort", &order_text(&ix.sort)));
    }
    if parts[2] && !ix.group.is_empty() {
        out.push_str(&hidden("@group", &order_text(&ix.group)));
    }
    if parts[3] && !ix.filter.is_empty() {
        out.push_str(&hidden("@filter", &ix.filter.join(",")));
    }
    if parts[4] {
        for (k, v, _) in &ix.filterspec {
            out.push_str(&hidden(k, &v.join(",")));
        }
    }
    if parts[5] {
        if let Some(t) = &ix.search_text {
            out.push_str(&hidden("@search_text", t));
        }
    }
    if parts[6] {
        out.push_str(&hidden("@pagesize", &ix.pagesize.to_string()));
    }
    if parts[7] {
        out.push_str(&hidden("@startwith", &ix.startwith.to_string()));
    }
    out
}

fn description(ctx: &RenderCtx<'_>) -> String {
    let name = ctx.tracker.config().tracker_name().to_string();
    let what = match (&ctx.view.classname, &ctx.view.itemid) {
        (Some(c), Some(i)) => format!("{c}{i}"),
        (Some(c), None) => match ctx.view.template.as_str() {
            "item" => format!("New {c}"),
            "index" | "" => match &ctx.index.dispname {
                Some(d) => d.clone(),
                None => format!("{c} index"),
            },
            t => format!("{c} {t}"),
        },
        (None, _) => "home".to_string(),
    };
    format!("{name} - {what}")
}

// ---------------------------------------------------------------------------

/// `request.form`: form values by name. `request.form['x']` is a field
/// with `.value` (first value) and `.values` (all); rendering it gives the
/// first value. Missing names are undefined.
#[derive(Debug)]
pub struct FormObj;

impl Object for FormObj {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        with(|ctx| {
            let values: Vec<String> = ctx
                .req
                .form
                .iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| match v {
                    FormValue::Text(t) => t.clone(),
                    FormValue::File { filename, .. } => filename.clone(),
                })
                .collect();
            Ok((!values.is_empty()).then(|| JValue::from_object(FieldObj { values })))
        })
        .ok()
        .flatten()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<JValue> = with(|ctx| {
            let mut seen: Vec<String> = Vec::new();
            for (k, _) in &ctx.req.form {
                if !seen.contains(k) {
                    seen.push(k.clone());
                }
            }
            Ok(seen.into_iter().map(JValue::from).collect())
        })
        .unwrap_or_default();
        Enumerator::Values(names)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, TplError> {
        match method {
            "getvalue" | "getfirst" | "get" => {
                let (name, default): (String, Option<JValue>) = from_args(args)?;
                with(|ctx| {
                    Ok(match ctx.req.get(&name) {
                        Some(v) => JValue::from(v),
                        None => default.unwrap_or(JValue::from(())),
                    })
                })
            }
            "getlist" | "getall" => {
                let (name,): (String,) = from_args(args)?;
                with(|ctx| {
                    Ok(JValue::from(
                        ctx.req
                            .get_all(&name)
                            .into_iter()
                            .map(str::to_string)
                            .collect::<Vec<_>>(),
                    ))
                })
            }
            "has_key" | "has" => {
                let (name,): (String,) = from_args(args)?;
                with(|ctx| Ok(JValue::from(ctx.req.has(&name))))
            }
            _ => Err(TplError::new(
                ErrorKind::UnknownMethod,
                format!("request.form has no method {method}()"),
            )),
        }
    }
}

/// One form variable.
#[derive(Debug)]
pub struct FieldObj {
    values: Vec<String>,
}

impl Object for FieldObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        match key.as_str()? {
            "value" => Some(JValue::from(
                self.values.first().cloned().unwrap_or_default(),
            )),
            "values" => Some(JValue::from(self.values.clone())),
            _ => None,
        }
    }
    fn is_true(self: &Arc<Self>) -> bool {
        self.values.iter().any(|v| !v.is_empty())
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.values.first().map(String::as_str).unwrap_or(""))
    }
}

/// `request.show`: `request.show.title` is true when the column is shown
/// (every column is, when `@columns` was not given).
#[derive(Debug)]
pub struct ShowObj {
    columns: Vec<String>,
}

impl Object for ShowObj {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let k = key.as_str()?;
        Some(JValue::from(
            self.columns.is_empty() || self.columns.iter().any(|c| c == k),
        ))
    }
}

// ---------------------------------------------------------------------------

/// One page of index results (`request.batch()`).
#[derive(Debug)]
pub struct BatchObj {
    class: String,
    ids: Vec<String>,
    first: usize,
    total: usize,
    pagesize: usize,
    group: Vec<(bool, String)>,
    error: Option<String>,
}

impl BatchObj {
    fn empty(class: &str, pagesize: usize, error: Option<String>) -> BatchObj {
        BatchObj {
            class: class.to_string(),
            ids: Vec::new(),
            first: 0,
            total: 0,
            pagesize,
            group: Vec::new(),
            error,
        }
    }

    /// Run the request's index arguments through the database, keeping
    /// only the items the user may view; the page's items and what their
    /// shown and grouped Link/Multilink columns point at are loaded in
    /// batches.
    pub(crate) fn for_request(ctx: &RenderCtx<'_>) -> BatchObj {
        let batch = BatchObj::query(ctx);
        let ix = &ctx.index;
        let shown: Vec<String> = ix
            .columns
            .iter()
            .chain(ix.group.iter().map(|(_, g)| g))
            .cloned()
            .collect();
        ctx.prefetch(&batch.class, &batch.ids, &shown);
        batch
    }

    fn query(ctx: &RenderCtx<'_>) -> BatchObj {
        let ix = &ctx.index;
        let Some(class) = ctx.view.classname.as_deref() else {
            return BatchObj::empty("", ix.pagesize, None);
        };
        if !ctx.may_view(class, None, None) {
            return BatchObj::empty(class, ix.pagesize, None);
        }
        let mut spec = ix.filter_spec();
        if let Some(text) = &ix.search_text {
            let key = format!("search_matches\0{class}\0{text}");
            match ctx.db.cached_ids(&key, || search_matches(ctx, class, text)) {
                Ok(m) => spec.search_matches = Some(m),
                Err(e) => return BatchObj::empty(class, ix.pagesize, Some(e.to_string())),
            }
        }
        if !ctx.has_checked("View", class) {
            // Every matching item is visible: let the database sort and
            // cut out the page, and count the matches without sorting.
            let page_spec = FilterSpec {
                limit: Some(ix.pagesize as u64),
                offset: Some(ix.startwith as u64),
                ..spec.clone()
            };
            let count_spec = FilterSpec {
                sort: Vec::new(),
                group: Vec::new(),
                ..spec
            };
            let page = ctx.db.filter(class, &page_spec).and_then(|page| {
                let total =
                    usize::try_from(ctx.db.filter_count(class, &count_spec)?).unwrap_or(usize::MAX);
                Ok((page, total))
            });
            return match page {
                Ok((ids, total)) => BatchObj {
                    class: class.to_string(),
                    ids,
                    first: ix.startwith.min(total),
                    total,
                    pagesize: ix.pagesize,
                    group: ix.group.clone(),
                    error: None,
                },
                Err(e) => BatchObj::empty(class, ix.pagesize, Some(e.to_string())),
            };
        }
        let ids = match ctx.db.filter(class, &spec) {
            Ok(ids) => ids,
            Err(e) => return BatchObj::empty(class, ix.pagesize, Some(e.to_string())),
        };
        // A check function may hide some items: check each one.
        let visible: Vec<String> = ids
            .into_iter()
            .filter(|id| ctx.may_view(class, None, Some(id)))
            .collect();
        let total = visible.len();
        let first = ix.startwith.min(total);
        let end = first.saturating_add(ix.pagesize).min(total);
        BatchObj {
            class: class.to_string(),
            ids: visible[first..end].to_vec(),
            first,
            total,
            pagesize: ix.pagesize,
            group: ix.group.clone(),
            error: None,
        }
    }

    fn group_heading(&self, ctx: &RenderCtx<'_>, id: &str) -> String {
        let schema = ctx.db.schema();
        self.group
            .iter()
            .map(|(_, g)| {
                let shown = resolve_prop(schema, &self.class, g)
                    .filter(|_| !g.contains('.') && ctx.may_view(&self.class, Some(g), Some(id)))
                    .and_then(|p| {
                        ctx.value(&self.class, id, g)
                            .ok()
                            .flatten()
                            .map(|v| value_text(ctx, p, &v, &ctx.tz))
                    })
                    .filter(|s| !s.is_empty());
                match shown {
                    Some(s) => s,
                    None => format!("(no {g} set)"),
                }
            })
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

/// Items of `class` matching the full-text words, directly or through
/// the messages/files (any Link/Multilink) that matched.
fn search_matches(
    ctx: &RenderCtx<'_>,
    class: &str,
    text: &str,
) -> roundup_core::Result<Vec<String>> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_string)
        .collect();
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let hits = ctx.db.search_text(&words, None)?;
    let mut out: indexmap::IndexSet<String> = indexmap::IndexSet::new();
    let mut by_class: std::collections::BTreeMap<String, indexmap::IndexSet<String>> =
        Default::default();
    for h in hits {
        if h.class == class {
            out.insert(h.id);
        } else {
            by_class.entry(h.class).or_default().insert(h.id);
        }
    }
    let cls = ctx.db.class(class)?;
    for (pname, p) in &cls.props {
        if p.is_computed() {
            continue;
        }
        let Some(target) = &p.link_class else {
            continue;
        };
        if let Some(ids) = by_class.get(target) {
            let ids: Vec<String> = ids.iter().cloned().collect();
            out.extend(ctx.db.find(class, &[(pname.as_str(), ids)])?);
        }
    }
    let out: Vec<String> = out.into_iter().collect();
    Ok(out)
}

impl Object for BatchObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        if let Some(i) = key.as_usize() {
            return self.ids.get(i).map(|id| ItemObj::value(&self.class, id));
        }
        Some(match key.as_str()? {
            "first" => JValue::from(self.first),
            "length" => JValue::from(self.ids.len()),
            "start" => JValue::from(self.first + 1),
            "end" => JValue::from(self.first + self.ids.len()),
            "sequence_length" => JValue::from(self.total),
            "pagesize" => JValue::from(self.pagesize),
            "previous_start" => {
                if self.first == 0 {
                    JValue::from(())
                } else {
                    JValue::from(self.first.saturating_sub(self.pagesize))
                }
            }
            "next_start" => {
                let next = self.first + self.ids.len();
                if next < self.total {
                    JValue::from(next)
                } else {
                    JValue::from(())
                }
            }
            "error" => JValue::from(self.error.clone()),
            "classname" => JValue::from(self.class.as_str()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.ids
                .iter()
                .map(|id| ItemObj::value(&self.class, id))
                .collect(),
        )
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.ids.len())
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}..{} of {}",
            self.class,
            self.first + 1,
            self.first + self.ids.len(),
            self.total
        )
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[JValue],
    ) -> Result<JValue, TplError> {
        match method {
            // [{heading, items}] with a new group whenever the grouped
            // properties change; one group with an empty heading when the
            // request does not group.
            "grouped" => with(|ctx| {
                let mut groups: Vec<(String, Vec<JValue>)> = Vec::new();
                for id in &self.ids {
                    let heading = if self.group.is_empty() {
                        String::new()
                    } else {
                        self.group_heading(ctx, id)
                    };
                    match groups.last_mut() {
                        Some((h, items)) if *h == heading => {
                            items.push(ItemObj::value(&self.class, id))
                        }
                        _ => groups.push((heading, vec![ItemObj::value(&self.class, id)])),
                    }
                }
                Ok(JValue::from(
                    groups
                        .into_iter()
                        .map(|(heading, items)| minijinja::context! { heading => heading, items => items })
                        .collect::<Vec<_>>(),
                ))
            }),
            _ => Err(TplError::new(
                ErrorKind::UnknownMethod,
                format!("batch has no method {method}()"),
            )),
        }
    }
}
