//! `request`: the current request and its index arguments (Roundup's
//! HTMLRequest), plus the batch of items an index page shows.

use std::sync::Arc;

use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr};
use minijinja::{Error as TplError, ErrorKind, State, Value as JValue};
use roundup_core::filter::FilterSpec;
use roundup_core::schema::PropType;

use super::ctx::{with, RenderCtx};
use super::html::{py_quote, TagBuilder};
use super::model::{value_text, ItemObj};
use crate::request::{FormValue, WebRequest};

pub use roundup_core::query_args::{
    resolve_prop, FilterArg, IndexArgs, DEFAULT_PAGESIZE, MAX_PAGESIZE,
};

impl roundup_core::query_args::Args for WebRequest {
    fn each<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        for (k, v) in &self.form {
            if let FormValue::Text(t) = v {
                f(k, t);
            }
        }
    }
    fn values(&self, name: &str) -> Vec<&str> {
        self.get_all(name)
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
                // the request's own item (a stored query's, while its
                // search form renders with the class as context), else
                // the page's
                "itemid" | "nodeid" => {
                    JValue::from(ctx.req.itemid.clone().or_else(|| ctx.view.itemid.clone()))
                }
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
                "filterspec" => JValue::from_iter(ix.filterspec.iter().map(|f| {
                    let val = if f.list {
                        JValue::from(f.values.clone())
                    } else {
                        JValue::from(f.values.first().cloned().unwrap_or_default())
                    };
                    (f.prop.clone(), val)
                })),
                "search_text" => JValue::from(ix.search_text.clone()),
                "pagesize" => JValue::from(ix.pagesize),
                "startwith" => JValue::from(ix.startwith),
                "dispname" => JValue::from(ix.dispname.clone()),
                "user" => ItemObj::value("user", &ctx.userid),
                "userid" => JValue::from(ctx.userid.as_str()),
                "username" => JValue::from(ctx.req.username.as_str()),
                "nonce" => JValue::from(ctx.req.nonce.as_str()),
                "language" => JValue::from(ctx.req.language.as_str()),
                "csrf_token" => JValue::from(ctx.csrf()),
                "client" => JValue::from_object(ClientObj),
                "env" => env_value(ctx),
                "base_javascript" => JValue::from_safe_string(base_javascript(ctx)),
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
/// Whether a filter is on a String property (not `id`): Roundup joins
/// its words with spaces where other filters' values take commas.
fn is_text_filter(ctx: &RenderCtx<'_>, class: Option<&str>, prop: &str) -> bool {
    prop != "id"
        && class.is_some_and(|c| {
            ctx.db
                .class(c)
                .ok()
                .and_then(|cl| cl.props.get(prop).map(|p| p.ptype == PropType::String))
                .unwrap_or(false)
        })
}

pub(crate) fn indexargs_url(
    ctx: &RenderCtx<'_>,
    url: &str,
    args: &[(String, Option<String>)],
) -> String {
    // Roundup's order and quoting: the given arguments first (values
    // quoted), then the request's own index arguments as they are.
    let ix = &ctx.index;
    let mut parts: Vec<String> = args
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", py_quote(v))))
        .collect();
    let given = |name: &str| {
        args.iter().any(|(k, _)| {
            k.strip_prefix('@')
                .or_else(|| k.strip_prefix(':'))
                .is_some_and(|k| k == name)
        })
    };
    if !ix.columns.is_empty() && !given("columns") {
        parts.push(format!("@columns={}", ix.columns.join(",")));
    }
    if !ix.sort.is_empty() && !given("sort") {
        parts.push(format!("@sort={}", order_text(&ix.sort)));
    }
    if !ix.group.is_empty() && !given("group") {
        parts.push(format!("@group={}", order_text(&ix.group)));
    }
    if !ix.filter.is_empty() && !given("filter") {
        parts.push(format!("@filter={}", ix.filter.join(",")));
    }
    if let Some(t) = ix.search_text.as_deref().filter(|t| !t.is_empty()) {
        if !given("search_text") {
            parts.push(format!("@search_text={}", py_quote(t)));
        }
    }
    if !given("pagesize") {
        parts.push(format!("@pagesize={}", ix.pagesize));
    }
    if !given("startwith") {
        parts.push(format!("@startwith={}", ix.startwith));
    }
    let class = ctx.view.classname.as_deref();
    for f in &ix.filterspec {
        if args.iter().any(|(a, _)| *a == f.prop) {
            continue;
        }
        let quoted: Vec<String> = f.values.iter().map(|v| py_quote(v)).collect();
        let is_text = is_text_filter(ctx, class, &f.prop);
        let joined = if !f.list {
            quoted.join(",")
        } else if is_text {
            quoted.join("%20")
        } else {
            quoted.join(",")
        };
        parts.push(format!("{}={joined}", f.prop));
    }
    format!("{url}?{}", parts.join("&"))
}

/// The index arguments as hidden fields: [columns, sort, group, filter,
/// filterspec, search_text, pagesize, startwith] say which parts to include.
fn indexargs_form(ctx: &RenderCtx<'_>, parts: [bool; 8]) -> String {
    // Roundup's fields, one a line: sort and group even when empty, each
    // with an id of its name.
    let ix = &ctx.index;
    let mut fields: Vec<String> = Vec::new();
    let mut add = |name: &str, value: &str| {
        fields.push(
            TagBuilder::new("input")
                .attr("type", "hidden")
                .attr("name", name)
                .attr("value", value)
                .attr("id", name)
                .open(),
        )
    };
    if parts[0] && !ix.columns.is_empty() {
        add("@columns", &ix.columns.join(","));
    }
    if parts[1] {
        add("@sort", &order_text(&ix.sort));
    }
    if parts[2] {
        add("@group", &order_text(&ix.group));
    }
    if parts[3] && !ix.filter.is_empty() {
        add("@filter", &ix.filter.join(","));
    }
    if parts[4] {
        let class = ctx.view.classname.as_deref();
        for f in &ix.filterspec {
            let is_text = is_text_filter(ctx, class, &f.prop);
            add(
                &f.prop,
                &f.values.join(if is_text && f.list { " " } else { "," }),
            );
        }
    }
    if parts[5] {
        if let Some(t) = ix.search_text.as_deref().filter(|t| !t.is_empty()) {
            add("@search_text", t);
        }
    }
    if parts[6] {
        add("@pagesize", &ix.pagesize.to_string());
    }
    if parts[7] {
        add("@startwith", &ix.startwith.to_string());
    }
    fields.join("\n")
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
    /// The positions of the last two items fetched by index (previous,
    /// current), for `propchanged` while a TAL loop walks the batch.
    cursor: std::sync::Mutex<(Option<usize>, Option<usize>)>,
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
            cursor: Default::default(),
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
        ctx.prefetch_columns(&batch.class, &batch.ids, &shown);
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
        let spec = match ix.query(ctx.db, class) {
            Ok(spec) => spec,
            Err(e) => return BatchObj::empty(class, ix.pagesize, Some(e.to_string())),
        };
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
                let first = batch_start(ix.startwith, total);
                if first == ix.startwith {
                    return Ok((page, total, first));
                }
                // past the end: the last item alone, as Roundup's Batch
                let last = FilterSpec {
                    offset: Some(first as u64),
                    ..page_spec
                };
                Ok((ctx.db.filter(class, &last)?, total, first))
            });
            return match page {
                Ok((ids, total, first)) => BatchObj {
                    class: class.to_string(),
                    ids,
                    first,
                    total,
                    pagesize: ix.pagesize,
                    group: ix.group.clone(),
                    error: None,
                    cursor: Default::default(),
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
        let first = batch_start(ix.startwith, total);
        let end = first.saturating_add(ix.pagesize).min(total);
        BatchObj {
            class: class.to_string(),
            ids: visible[first..end].to_vec(),
            first,
            total,
            pagesize: ix.pagesize,
            group: ix.group.clone(),
            error: None,
            cursor: Default::default(),
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

/// A neighbouring page of a batch.
fn page_value(first: usize, length: usize, size: usize) -> JValue {
    JValue::from_iter([
        ("first", JValue::from(first)),
        ("start", JValue::from(first + 1)),
        ("end", JValue::from(first + length)),
        ("length", JValue::from(length)),
        ("size", JValue::from(size)),
    ])
}

impl BatchObj {
    /// Roundup's `Batch.propchanged(*props)`: whether any of these
    /// properties differs between the item fetched last and the one
    /// before it (true for the first item).
    fn propchanged(&self, ctx: &RenderCtx, props: &[String]) -> bool {
        let (Some(last), Some(cur)) = self.cursor.lock().map(|c| *c).unwrap_or((None, None)) else {
            return true;
        };
        let (Some(a), Some(b)) = (self.ids.get(last), self.ids.get(cur)) else {
            return true;
        };
        props.iter().any(|p| {
            let va = ctx.value(&self.class, a, p).ok().flatten();
            let vb = ctx.value(&self.class, b, p).ok().flatten();
            va != vb
        })
    }
}

impl Object for BatchObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        if let Some(i) = key.as_usize() {
            if i < self.ids.len() {
                if let Ok(mut c) = self.cursor.lock() {
                    *c = (c.1, Some(i));
                }
            }
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
            "size" => JValue::from(self.pagesize),
            // Roundup's Batch.previous / .next are methods giving the
            // neighbouring page (`first`, `start`, `size`) or None; on the
            // first page `previous` is None itself. Bound methods here, so
            // that a TAL path (`batch/next`) calls them and a Jinja2 page
            // tests (`batch.previous`) and calls (`batch.next()`) them.
            "previous" if self.first == 0 => JValue::from(()),
            "previous" | "next" => roundup_tal::bound(
                &JValue::from_dyn_object(self.clone()),
                key.as_str().unwrap_or_default(),
            ),
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
        args: &[JValue],
    ) -> Result<JValue, TplError> {
        match method {
            "previous" if self.first > 0 => {
                let first = self.first.saturating_sub(self.pagesize);
                Ok(page_value(
                    first,
                    self.pagesize.min(self.first),
                    self.pagesize,
                ))
            }
            "next" if self.first + self.ids.len() < self.total => {
                let next = self.first + self.ids.len();
                Ok(page_value(
                    next,
                    self.pagesize.min(self.total - next),
                    self.pagesize,
                ))
            }
            "previous" | "next" => Ok(JValue::from(())),
            "propchanged" => {
                let props: Vec<String> = args.iter().map(|a| a.to_string()).collect();
                with(|ctx| Ok(JValue::from(self.propchanged(ctx, &props))))
            }
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

/// `request.client`: what Roundup's templates read of the web client
/// object: the page charset, the CSP nonce and the form.
#[derive(Debug)]
pub struct ClientObj;

impl Object for ClientObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        match key.as_str()? {
            "charset" => Some(JValue::from("utf-8")),
            "client_nonce" => with(|ctx| Ok(JValue::from(ctx.req.nonce.as_str()))).ok(),
            "form" => Some(JValue::from_object(FormObj)),
            "classname" => with(|ctx| Ok(JValue::from(ctx.view.classname.clone()))).ok(),
            "nodeid" => with(|ctx| Ok(JValue::from(ctx.view.itemid.clone()))).ok(),
            "template" => with(|ctx| Ok(JValue::from(ctx.view.template.as_str()))).ok(),
            "userid" => with(|ctx| Ok(JValue::from(ctx.userid.as_str()))).ok(),
            "user" => with(|ctx| Ok(ItemObj::value("user", &ctx.userid))).ok(),
            "base" => with(|ctx| Ok(JValue::from(ctx.req.base.as_str()))).ok(),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["charset", "client_nonce", "form"])
    }
}

/// `request.env`: the CGI variables of the request.
fn env_value(ctx: &RenderCtx) -> JValue {
    let req = ctx.req;
    let query = req.query.clone();
    let mut env: Vec<(String, JValue)> = vec![
        ("REQUEST_METHOD".into(), JValue::from(req.method.as_str())),
        ("PATH_INFO".into(), JValue::from(req.path.as_str())),
        (
            "TRACKER_NAME".into(),
            JValue::from(
                ctx.tracker
                    .home()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        ),
    ];
    // Present only when the URL had a query, as in Roundup's server.
    if !query.is_empty() {
        env.push(("QUERY_STRING".into(), JValue::from(query)));
    }
    for (name, value) in &req.headers {
        let key = format!("HTTP_{}", name.to_ascii_uppercase().replace('-', "_"));
        env.push((key, JValue::from(value.as_str())));
    }
    if let Some((_, host)) = req.headers.iter().find(|(n, _)| n == "host") {
        env.push((
            "SERVER_NAME".into(),
            JValue::from(host.split(':').next().unwrap_or_default()),
        ));
    }
    JValue::from_iter(env)
}

/// `request.base_javascript`: the page's helper script (submit once,
/// open the help window below the tracker's base URL), with the page's
/// CSP nonce.
fn base_javascript(ctx: &RenderCtx) -> String {
    let base = ctx.req.base.replace('\\', "\\\\").replace('\'', "\\'");
    let nonce = crate::templating::html::escape(&ctx.req.nonce);
    format!(
        "<script nonce=\"{nonce}\" type=\"text/javascript\">\n\
var submitted = false;\n\
function submit_once() {{\n\
    if (submitted) {{\n\
        alert(\"Your request is being processed.\\nPlease be patient.\");\n\
        return false;\n\
    }}\n\
    submitted = true;\n\
    window.setTimeout(function () {{ submitted = false; }}, 5000);\n\
    return true;\n\
}}\n\
function help_window(helpurl, width, height) {{\n\
    var w = window.open('{base}' + helpurl, 'RoundupHelpWindow',\n\
        'scrollbars=yes,resizable=yes,toolbar=no,height=' + height + ',width=' + width);\n\
    w.focus();\n\
}}\n\
</script>\n"
    )
}

/// Where a batch of `total` items asked to start at `startwith` starts:
/// there, unless that is past the end, when Roundup's `Batch` (Zope's
/// `ZTUtils.Batch`) starts at the last item, so the page shows it alone
/// and its "previous" link leads back.
fn batch_start(startwith: usize, total: usize) -> usize {
    if startwith >= total {
        total.saturating_sub(1)
    } else {
        startwith
    }
}
