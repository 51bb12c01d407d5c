//! The object model templates see, shaped like Roundup's templating
//! wrappers: [`DbObj`] (`db`), [`ClassObj`] (HTMLClass), [`ItemObj`]
//! (HTMLItem) and [`PropObj`] (HTMLProperty).
//!
//! Every value shown is checked against the render user's View
//! permission (`[hidden]` otherwise), and edit fields are offered only
//! with Edit (items) or Create (new items) permission; otherwise
//! `field()` shows the plain value.

use std::sync::Arc;

use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr};
use minijinja::{Error as TplError, ErrorKind, State, Value as JValue};
use roundup_core::date::{Date, Timezone};
use roundup_core::filter::{Direction, FilterSpec, SpecValue};
use roundup_core::pyrepr::PyValue;
use roundup_core::schema::{PropType, Property};
use roundup_core::value::Value;

use super::ctx::{core_err, with, RenderCtx};
use super::html::{self, escape, TagBuilder};

fn safe(s: String) -> JValue {
    JValue::from_safe_string(s)
}

fn unknown_method(what: &str, method: &str) -> TplError {
    TplError::new(
        ErrorKind::UnknownMethod,
        format!("{what} has no method {method}()"),
    )
}

/// Extra keyword arguments that become HTML attributes (`None`: no value).
fn extra_attrs(kw: &Kwargs, known: &[&str]) -> Vec<(String, Option<String>)> {
    kw.args()
        .filter(|k| !known.contains(k))
        .filter_map(|k| {
            let v: JValue = kw.get(k).ok()?;
            Some((
                k.to_string(),
                if v.is_none() || v.is_undefined() {
                    None
                } else {
                    Some(v.to_string())
                },
            ))
        })
        .collect()
}

fn kw_str(kw: &Kwargs, key: &str) -> Option<String> {
    // `get` records the key as used (an allocation); most calls pass none
    if !kw.has(key) {
        return None;
    }
    let v: Option<JValue> = kw.get(key).ok().flatten();
    v.filter(|v| !v.is_none() && !v.is_undefined())
        .map(|v| v.to_string())
}

fn kw_bool(kw: &Kwargs, key: &str, default: bool) -> bool {
    if !kw.has(key) {
        return default;
    }
    let v: Option<JValue> = kw.get(key).ok().flatten();
    v.map(|v| v.is_true()).unwrap_or(default)
}

fn kw_usize(kw: &Kwargs, key: &str) -> Option<usize> {
    kw_str(kw, key).and_then(|s| s.trim().parse().ok())
}

// ---------------------------------------------------------------------------
// db

/// `db`: every class of the schema by name (`db.issue`, `db['user']`).
#[derive(Debug)]
pub struct DbObj;

impl Object for DbObj {
    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        // Roundup's HTMLDatabase also offers the tracker's configuration.
        if name == "config" {
            return Some(JValue::from_object(super::utils::ConfigObj));
        }
        with(|ctx| Ok(ctx.is_class(name)))
            .ok()
            .filter(|b| *b)
            .map(|_| ClassObj::value(name))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let names: Vec<JValue> = with(|ctx| {
            Ok(ctx
                .db
                .schema()
                .classes
                .keys()
                .map(|k| JValue::from(k.as_str()))
                .collect())
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
            "getuid" => with(|ctx| Ok(JValue::from(ctx.userid.as_str()))),
            // Roundup's HTMLDatabase.classes(): the classes themselves,
            // by name.
            "classes" => {
                let mut names: Vec<String> = self
                    .enumerate_values()
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_string))
                    .collect();
                names.sort();
                Ok(JValue::from(
                    names.iter().map(|n| ClassObj::value(n)).collect::<Vec<_>>(),
                ))
            }
            "getclass" => {
                let (name,): (String,) = from_args(args)?;
                self.get_value(&JValue::from(name.as_str())).ok_or_else(|| {
                    TplError::new(
                        ErrorKind::InvalidOperation,
                        format!("no such class \"{name}\""),
                    )
                })
            }
            _ => Err(unknown_method("db", method)),
        }
    }
}

impl DbObj {
    fn enumerate_values(self: &Arc<Self>) -> Vec<JValue> {
        match self.enumerate() {
            Enumerator::Values(v) => v,
            _ => Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------
// classes

/// A class (Roundup's HTMLClass): the context of index, search and
/// new-item pages, and `db.<class>`.
#[derive(Debug)]
pub struct ClassObj {
    pub class: String,
}

impl ClassObj {
    pub fn value(class: &str) -> JValue {
        JValue::from_object(ClassObj {
            class: class.to_string(),
        })
    }
}

impl Object for ClassObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        match name {
            "classname" | "_classname" => return Some(JValue::from(self.class.as_str())),
            "id" => return Some(JValue::from(())),
            // a new-item form posts to the class
            "designator" => return Some(JValue::from(self.class.as_str())),
            _ => {}
        }
        with(|ctx| Ok(PropObj::for_class(ctx, &self.class, name)))
            .ok()
            .flatten()
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.class)
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, TplError> {
        let class = self.class.as_str();
        match method {
            "is_view_ok" => with(|ctx| Ok(JValue::from(ctx.may_view(class, None, None)))),
            // Roundup's HTMLClass.is_edit_ok: may create items of the class
            "is_edit_ok" => {
                with(|ctx| Ok(JValue::from(ctx.may("Create", Some(class), None, None))))
            }
            "renderWith" => {
                let (name, kw): (String, Kwargs) = from_args(args)?;
                with(|ctx| render_with(ctx, class, &name, &kw))
            }
            // may look but not change
            "is_only_view_ok" => with(|ctx| {
                Ok(JValue::from(
                    ctx.may_view(class, None, None) && !ctx.may("Create", Some(class), None, None),
                ))
            }),
            "is_create_ok" => {
                with(|ctx| Ok(JValue::from(ctx.may("Create", Some(class), None, None))))
            }
            "is_retire_ok" => {
                with(|ctx| Ok(JValue::from(ctx.may("Retire", Some(class), None, None))))
            }
            "is_restore_ok" => {
                with(|ctx| Ok(JValue::from(ctx.may("Restore", Some(class), None, None))))
            }
            "is_search_ok" => with(|ctx| {
                Ok(JValue::from(
                    ctx.may("Search", Some(class), None, None) || ctx.may_view(class, None, None),
                ))
            }),
            "designator" => Ok(JValue::from(class)),
            // Roundup's HTMLClass.history: a new item has none
            "history" => with(|ctx| {
                Ok(JValue::from(ctx.tr(if ctx.may_view(class, None, None) {
                    "New node - no history"
                } else {
                    "[hidden]"
                })))
            }),
            "getkey" => with(|ctx| {
                Ok(JValue::from(
                    ctx.db.class(class).map_err(core_err)?.key.clone(),
                ))
            }),
            "labelprop" => with(|ctx| {
                Ok(JValue::from(
                    ctx.db.class(class).map_err(core_err)?.label_prop(true),
                ))
            }),
            "propnames" => with(|ctx| Ok(JValue::from(propnames(ctx, class)?))),
            "csv" => with(|ctx| Ok(JValue::from(class_csv(ctx, class)?))),
            "properties" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let cansearch = kw_bool(&kw, "cansearch", true);
                // Roundup sorts them by name unless sort=False.
                let sorted = kw_bool(&kw, "sort", true);
                with(|ctx| {
                    let cls = ctx.db.class(class).map_err(core_err)?;
                    let mut names = cls.prop_names(true);
                    if sorted {
                        names.sort();
                    }
                    Ok(JValue::from(
                        names
                            .into_iter()
                            .filter(|p| !cansearch || ctx.who.may_search(ctx.db, class, p))
                            .filter_map(|p| PropObj::for_class(ctx, class, &p))
                            .collect::<Vec<_>>(),
                    ))
                })
            }
            "list" => with(|ctx| {
                let cls = ctx.db.class(class).map_err(core_err)?;
                let spec = FilterSpec {
                    sort: vec![(Some(Direction::Asc), cls.order_prop())],
                    ..FilterSpec::default()
                };
                let ids = ctx.db.filter(class, &spec).map_err(core_err)?;
                Ok(visible_items(ctx, class, ids))
            }),
            "filter" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let spec = filter_spec_from_kwargs(&kw)?;
                with(|ctx| {
                    let ids = ctx.db.filter(class, &spec).map_err(core_err)?;
                    Ok(visible_items(ctx, class, ids))
                })
            }
            "getItem" | "item" => {
                let (id,): (String,) = from_args(args)?;
                with(|ctx| {
                    if !ctx.db.has_node(class, &id).map_err(core_err)? {
                        return Err(TplError::new(
                            ErrorKind::InvalidOperation,
                            format!("{class} has no item {id}"),
                        ));
                    }
                    Ok(ItemObj::value(class, &id))
                })
            }
            "lookup" => {
                let (key,): (String,) = from_args(args)?;
                with(|ctx| {
                    Ok(match ctx.db.lookup(class, &key) {
                        Ok(id) => ItemObj::value(class, &id),
                        Err(_) => JValue::from(()),
                    })
                })
            }
            "classhelp" => with(|ctx| Ok(safe(classhelp(ctx, class, args)?))),
            "submit" => {
                let (label, action, extra) = submit_args(args, "Submit New Entry", "new")?;
                with(|ctx| {
                    // nothing for those who may not create
                    if !ctx.may("Create", Some(class), None, None) {
                        return Ok(JValue::from(""));
                    }
                    Ok(safe(submit_html(ctx, &label, &action, None, &extra)))
                })
            }
            _ => Err(unknown_method(&format!("class {class}"), method)),
        }
    }
}

/// Roundup's `propnames()`: `id`, then the declared properties sorted.
fn propnames(ctx: &RenderCtx<'_>, class: &str) -> Result<Vec<String>, TplError> {
    let cls = ctx.db.class(class).map_err(core_err)?;
    let mut names: Vec<String> = cls.props.keys().cloned().collect();
    names.sort();
    names.insert(0, "id".to_string());
    Ok(names)
}

/// One CSV field, quoted when needed.
fn csv_field(out: &mut String, text: &str) {
    if text.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// The active items of a class as CSV (header of [`propnames`], then one
/// row per item; multilinks as `1:2:3`), for the generic index's bulk
/// editor. Refused unless the user may view every value.
fn class_csv(ctx: &RenderCtx<'_>, class: &str) -> Result<String, TplError> {
    let names = propnames(ctx, class)?;
    let cls = ctx.db.class(class).map_err(core_err)?;
    let mut out = String::new();
    let line = |out: &mut String, fields: &[String]| {
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(out, f);
        }
        out.push_str("\r\n");
    };
    line(&mut out, &names);
    let ids = ctx.db.list(class).map_err(core_err)?;
    ctx.prefetch(class, &ids, &names);
    for id in ids {
        let mut row = Vec::with_capacity(names.len());
        for name in &names {
            if !ctx.may_view(class, Some(name), Some(&id)) {
                // as Roundup: one property the user may not see refuses the
                // whole page
                return Err(ctx.refuse("view", class));
            }
            let text = match ctx.value(class, &id, name).map_err(core_err)? {
                None => String::new(),
                Some(Value::Multilink(ids)) => ids.join(":"),
                Some(Value::Link(l)) => l,
                Some(Value::Date(d)) => d.to_string(),
                Some(Value::Password(p)) => p.to_string(),
                Some(v) => match cls.prop(name) {
                    Some(p) => value_text(ctx, p, &v, &Timezone::Utc),
                    None => v.to_string(),
                },
            };
            row.push(text);
        }
        line(&mut out, &row);
    }
    Ok(out)
}

/// Items of `class` the user may see, as item objects.
pub(crate) fn visible_items(ctx: &RenderCtx<'_>, class: &str, ids: Vec<String>) -> JValue {
    ctx.prefetch(class, &ids, &[]);
    JValue::from(
        ids.into_iter()
            .filter(|id| ctx.may_view(class, None, Some(id)))
            .map(|id| ItemObj::value(class, &id))
            .collect::<Vec<_>>(),
    )
}

/// Parse a Jinja sort/group argument: `"-activity"`, `"a,-b"`, or a list
/// of `[dir, prop]` pairs / strings.
fn sort_arg(v: Option<JValue>) -> Result<Vec<(Option<Direction>, String)>, TplError> {
    let Some(v) = v.filter(|v| !v.is_none() && !v.is_undefined()) else {
        return Ok(Vec::new());
    };
    let one = |s: &str| -> (Option<Direction>, String) {
        let s = s.trim();
        match s.strip_prefix('-') {
            Some(rest) => (Some(Direction::Desc), rest.to_string()),
            None => (None, s.trim_start_matches('+').to_string()),
        }
    };
    if let Some(s) = v.as_str() {
        return Ok(s
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(one)
            .collect());
    }
    let mut out = Vec::new();
    for entry in v.try_iter()? {
        if let Some(s) = entry.as_str() {
            out.push(one(s));
            continue;
        }
        let parts: Vec<JValue> = entry.try_iter()?.collect();
        let dir = parts.first().map(|d| d.to_string()).unwrap_or_default();
        let prop = parts.get(1).map(|p| p.to_string()).unwrap_or_default();
        out.push((
            Some(if dir == "-" {
                Direction::Desc
            } else {
                Direction::Asc
            }),
            prop,
        ));
    }
    Ok(out)
}

/// `filter(filterspec={...}, sort=..., group=...)` arguments.
fn filter_spec_from_kwargs(kw: &Kwargs) -> Result<FilterSpec, TplError> {
    let mut spec = FilterSpec::default();
    let fs: Option<JValue> = kw.get("filterspec")?;
    if let Some(fs) = fs.filter(|v| !v.is_none() && !v.is_undefined()) {
        for key in fs.try_iter()? {
            let name = key.to_string();
            let val = fs.get_item(&key)?;
            let sv = if let Some(s) = val.as_str() {
                SpecValue::One(s.to_string())
            } else if val.kind() == minijinja::value::ValueKind::Seq {
                SpecValue::Many(val.try_iter()?.map(|v| v.to_string()).collect())
            } else {
                SpecValue::One(val.to_string())
            };
            spec.filterspec.push((name, sv));
        }
    }
    spec.sort = sort_arg(kw.get("sort")?)?;
    spec.group = sort_arg(kw.get("group")?)?;
    spec.limit = kw.get::<Option<u64>>("limit")?;
    Ok(spec)
}

/// The link that opens a class's help/picker page (`<class>?@template=help`).
fn classhelp(ctx: &RenderCtx<'_>, class: &str, args: &[JValue]) -> Result<String, TplError> {
    // Roundup's signature: classhelp(properties=None, label="(list)",
    // width="500", height="600", property="", form="itemSynopsis",
    // pagesize=50, inputtype="checkbox", html_kwargs={}, group="",
    // sort=None, filter=None), by position or keyword.
    const NAMES: [&str; 12] = [
        "properties",
        "label",
        "width",
        "height",
        "property",
        "form",
        "pagesize",
        "inputtype",
        "html_kwargs",
        "group",
        "sort",
        "filter",
    ];
    let (positional, kw) = split_kwargs(args)?;
    if positional.len() > NAMES.len() {
        return Err(TplError::new(
            ErrorKind::TooManyArguments,
            "classhelp() takes at most 12 arguments",
        ));
    }
    let arg = |name: &str| -> Option<JValue> {
        let i = NAMES.iter().position(|n| *n == name)?;
        positional
            .get(i)
            .cloned()
            .or_else(|| {
                kw.as_ref()
                    .and_then(|k| k.get::<Option<JValue>>(name).ok().flatten())
            })
            .filter(|v| !v.is_none() && !v.is_undefined())
    };
    let text = |name: &str, default: &str| {
        arg(name)
            .map(|v| v.to_string())
            .unwrap_or_else(|| default.to_string())
    };
    let cls = ctx.db.class(class).map_err(core_err)?;
    let properties = match arg("properties") {
        Some(p) => p.to_string(),
        None => {
            let mut names: Vec<String> = cls.props.keys().cloned().collect();
            names.sort();
            names.join(",")
        }
    };
    let sort = match arg("sort") {
        Some(s) => s.to_string(),
        None if properties.split(',').any(|p| p == "username") => "username".to_string(),
        None => cls.order_prop(),
    };
    let mut url = format!("{class}?@startwith=0&amp;@template=help&amp;properties={properties}");
    let property = text("property", "");
    if !property.is_empty() {
        url.push_str(&format!("&amp;property={property}"));
    }
    let form = text("form", "itemSynopsis");
    if !form.is_empty() {
        url.push_str(&format!("&amp;form={form}"));
    }
    let inputtype = text("inputtype", "checkbox");
    if !inputtype.is_empty() {
        url.push_str(&format!("&amp;type={inputtype}"));
    }
    let group = text("group", "");
    if !group.is_empty() {
        url.push_str(&format!("&amp;@group={group}"));
    }
    url.push_str(&format!(
        "&amp;@sort={sort}&amp;@pagesize={}",
        text("pagesize", "50")
    ));
    if let Some(f) = arg("filter")
        .map(|f| f.to_string())
        .filter(|f| !f.is_empty())
    {
        let mut names = Vec::new();
        let mut values = String::new();
        for part in f.split(';') {
            let Some((k, v)) = part.split_once('=') else {
                return Err(TplError::new(
                    ErrorKind::InvalidOperation,
                    format!("classhelp filter {part:?} is not name=values"),
                ));
            };
            names.push(k.to_string());
            values.push_str(&format!("&amp;{k}={}", html::py_quote(v)));
        }
        url.push_str(&format!("&amp;@filter={}{values}", names.join(",")));
    }
    let (width, height) = (text("width", "500"), text("height", "600"));
    let mut classes = "classhelp".to_string();
    let mut extra = Vec::new();
    if let Some(h) = arg("html_kwargs") {
        for k in h.try_iter()? {
            let v = h.get_item(&k)?;
            let name = k.to_string();
            if name == "class" {
                classes = format!("classhelp {}", escape(&v.to_string()));
            } else {
                extra.push(if v.is_none() {
                    name
                } else {
                    format!("{name}=\"{}\"", escape(&v.to_string()))
                });
            }
        }
    }
    let label = text("label", "(list)");
    if let Some(kw) = &kw {
        kw.assert_all_used()?;
    }
    Ok(format!(
        "<a class=\"{classes}\" data-helpurl=\"{url}\" data-width=\"{w}\" data-height=\"{h}\" href=\"{url}\" target=\"_blank\" onclick=\"javascript:help_window('{url}', '{w}', '{h}');return false;\" {}>{}</a>",
        extra.join(" "),
        escape(ctx.tr(&label)),
        w = escape(&width),
        h = escape(&height),
    ))
}

/// Hidden `@action`, `@csrf` (and for items `@lastactivity`) fields plus
/// the submit button.
pub(crate) fn submit_html(
    ctx: &RenderCtx<'_>,
    label: &str,
    action: &str,
    item: Option<(&str, &str)>,
    extra: &[(String, Option<String>)],
) -> String {
    // Roundup's order: the button, then (items) @lastactivity, @csrf and
    // @action, a line each; every input has an id of its name.
    let hidden = |name: &str, value: &str| {
        TagBuilder::new("input")
            .attr("type", "hidden")
            .attr("name", name)
            .attr("value", value)
            .attr("id", name)
            .open()
    };
    let mut parts = vec![TagBuilder::new("input")
        .attr("type", "submit")
        .attr("name", "submit_button")
        .attr("value", ctx.tr(label))
        .attr("id", "submit_button")
        .extra(extra)
        .open()];
    if let Some((class, id)) = item {
        if let Ok(Some(Value::Date(d))) = ctx.value(class, id, "activity") {
            parts.push(hidden("@lastactivity", &d.formal(&Timezone::Utc)));
        }
    }
    parts.push(hidden("@csrf", &ctx.csrf()));
    parts.push(hidden("@action", action));
    parts.join("\n")
}

/// Positional arguments and keyword arguments (minijinja passes the
/// latter last), for methods that take Roundup's arguments either way.
fn split_kwargs(args: &[JValue]) -> Result<(&[JValue], Option<Kwargs>), TplError> {
    match args.last() {
        Some(last) if last.is_kwargs() => Ok((
            &args[..args.len() - 1],
            Some(
                Kwargs::try_from(last.clone())
                    .map_err(|e| TplError::new(ErrorKind::InvalidOperation, e.to_string()))?,
            ),
        )),
        _ => Ok((args, None)),
    }
}

/// HTML attributes a caller adds (`None`: a bare attribute).
type ExtraAttrs = Vec<(String, Option<String>)>;

/// `submit()`'s arguments: `label`, `action` and `html_kwargs` (extra
/// attributes of the button), by position or keyword.
fn submit_args(
    args: &[JValue],
    default_label: &str,
    default_action: &str,
) -> Result<(String, String, ExtraAttrs), TplError> {
    let (positional, kw) = split_kwargs(args)?;
    if positional.len() > 3 {
        return Err(TplError::new(
            ErrorKind::TooManyArguments,
            "submit() takes at most 3 arguments (label, action, html_kwargs)",
        ));
    }
    let pos = |i: usize| {
        positional
            .get(i)
            .filter(|v| !v.is_none() && !v.is_undefined())
    };
    let label = pos(0).map(|v| v.to_string());
    let action = pos(1).map(|v| v.to_string());
    let html = pos(2).cloned();
    let kw_get = |k: &str| kw.as_ref().and_then(|kw| kw_str(kw, k));
    let label = label
        .or_else(|| kw_get("label"))
        .unwrap_or_else(|| default_label.into());
    let action = action
        .or_else(|| kw_get("action"))
        .unwrap_or_else(|| default_action.into());
    let html = html.or_else(|| {
        kw.as_ref()
            .and_then(|kw| kw.get::<Option<JValue>>("html_kwargs").ok().flatten())
    });
    let mut extra = Vec::new();
    if let Some(h) = html.filter(|h| !h.is_none() && !h.is_undefined()) {
        for k in h.try_iter()? {
            let v = h.get_item(&k)?;
            extra.push((
                k.to_string(),
                if v.is_none() {
                    None
                } else {
                    Some(v.to_string())
                },
            ));
        }
    }
    if let Some(kw) = &kw {
        for k in ["label", "action", "html_kwargs"] {
            let _ = kw.get::<Option<JValue>>(k);
        }
    }
    Ok((label, action, extra))
}

/// The hidden `@csrf` field.
pub(crate) fn csrf_field(ctx: &RenderCtx<'_>) -> String {
    TagBuilder::new("input")
        .attr("type", "hidden")
        .attr("name", "@csrf")
        .attr("value", &ctx.csrf())
        .open()
}

// ---------------------------------------------------------------------------
// items

/// An item (Roundup's HTMLItem).
#[derive(Debug)]
pub struct ItemObj {
    pub class: String,
    pub id: String,
}

impl ItemObj {
    pub fn value(class: &str, id: &str) -> JValue {
        JValue::from_object(ItemObj {
            class: class.to_string(),
            id: id.to_string(),
        })
    }
}

impl Object for ItemObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        let name = key.as_str()?;
        match name {
            "classname" | "_classname" => return Some(JValue::from(self.class.as_str())),
            "id" | "_nodeid" => return Some(JValue::from(self.id.as_str())),
            _ => {}
        }
        with(|ctx| Ok(PropObj::for_item(ctx, &self.class, &self.id, name)))
            .ok()
            .flatten()
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = with(|ctx| {
            let lp = ctx
                .db
                .class(&self.class)
                .map(|c| c.label_prop(true))
                .unwrap_or_default();
            Ok(if ctx.may_view(&self.class, Some(&lp), Some(&self.id)) {
                ctx.label(&self.class, &self.id)
            } else {
                format!("{}{}", self.class, self.id)
            })
        })
        .unwrap_or_default();
        f.write_str(&text)
    }

    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, TplError> {
        let (class, id) = (self.class.as_str(), self.id.as_str());
        match method {
            "designator" => Ok(JValue::from(format!("{class}{id}"))),
            "renderQueryForm" => {
                let () = from_args(args)?;
                with(|ctx| render_query_form(ctx, class, id))
            }
            "is_view_ok" => with(|ctx| Ok(JValue::from(ctx.may_view(class, None, Some(id))))),
            "is_edit_ok" => {
                with(|ctx| Ok(JValue::from(ctx.may("Edit", Some(class), None, Some(id)))))
            }
            "is_only_view_ok" => with(|ctx| {
                Ok(JValue::from(
                    ctx.may_view(class, None, Some(id))
                        && !ctx.may("Edit", Some(class), None, Some(id)),
                ))
            }),
            "is_retire_ok" => {
                with(|ctx| Ok(JValue::from(ctx.may("Retire", Some(class), None, Some(id)))))
            }
            "is_restore_ok" => with(|ctx| {
                Ok(JValue::from(ctx.may(
                    "Restore",
                    Some(class),
                    None,
                    Some(id),
                )))
            }),
            "is_retired" => with(|ctx| {
                Ok(JValue::from(
                    ctx.db.is_retired(class, id).map_err(core_err)?,
                ))
            }),
            "history" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let showall = kw_bool(&kw, "showall", false);
                with(|ctx| Ok(safe(super::history::history_html(ctx, class, id, showall))))
            }
            "journal" => with(|ctx| Ok(journal_values(ctx, class, id))),
            "submit" => {
                let (label, action, extra) = submit_args(args, "Submit Changes", "edit")?;
                with(|ctx| {
                    Ok(safe(submit_html(
                        ctx,
                        &label,
                        &action,
                        Some((class, id)),
                        &extra,
                    )))
                })
            }
            "copy_url" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let exclude: Vec<String> = match kw.get::<Option<JValue>>("exclude")? {
                    Some(v) if !v.is_none() && !v.is_undefined() => {
                        v.try_iter()?.map(|x| x.to_string()).collect()
                    }
                    _ => vec!["messages".to_string(), "files".to_string()],
                };
                with(|ctx| Ok(JValue::from(copy_url(ctx, class, id, &exclude))))
            }
            "download_url" => with(|ctx| {
                let name = match ctx.value(class, id, "name") {
                    Ok(Some(Value::String(n))) if ctx.may_view(class, Some("name"), Some(id)) => n,
                    _ => String::new(),
                };
                Ok(JValue::from(format!(
                    "{class}{id}/{}",
                    html::url_quote(&name)
                )))
            }),
            "hasPermission" | "has_permission" => {
                let (perm, cls, kw): (String, Option<String>, Kwargs) = from_args(args)?;
                let cls = cls.or_else(|| kw_str(&kw, "classname"));
                let prop = kw_str(&kw, "property");
                let item = kw_str(&kw, "itemid");
                with(|ctx| {
                    if class != "user" {
                        return Ok(JValue::from(false));
                    }
                    // No permission is held on a class the schema lacks
                    // (templates ask about classes other homes have).
                    if cls.as_deref().is_some_and(|c| !ctx.is_class(c)) {
                        return Ok(JValue::from(false));
                    }
                    let ok = if id == ctx.userid {
                        ctx.may(&perm, cls.as_deref(), prop.as_deref(), item.as_deref())
                    } else {
                        ctx.db
                            .security()
                            .has_permission(
                                ctx.db,
                                &perm,
                                id,
                                cls.as_deref(),
                                prop.as_deref(),
                                item.as_deref(),
                            )
                            .unwrap_or(false)
                    };
                    Ok(JValue::from(ok))
                })
            }
            "hasRole" | "has_role" => {
                let (role,): (String,) = from_args(args)?;
                with(|ctx| {
                    let roles = if id == ctx.userid {
                        ctx.roles.clone()
                    } else {
                        ctx.db.user_roles(id).map_err(core_err)?
                    };
                    let wanted = role.to_lowercase();
                    Ok(JValue::from(roles.contains(&wanted)))
                })
            }
            _ => Err(unknown_method(&format!("item {class}{id}"), method)),
        }
    }
}

/// `<class>?@template=item&prop=value...`: a new-item form pre-filled
/// with the viewable values of an item (links as ids).
fn copy_url(ctx: &RenderCtx<'_>, class: &str, id: &str, exclude: &[String]) -> String {
    // Roundup's: a note naming the original, then every property but the
    // automatic and excluded ones, in schema order: multilinks as their
    // ids, others as shown (plain, "[hidden]" where not viewable).
    let mut parts = vec![
        "@template=item".to_string(),
        format!(
            "@note={}",
            html::py_quote(&ctx.tr_fmt(
                "Copy of %(class)s %(id)s",
                &[("class", ctx.tr(class)), ("id", id)]
            ))
        ),
    ];
    let Ok(cls) = ctx.db.class(class) else {
        return format!("{class}?{}", parts.join("&"));
    };
    for (name, prop) in &cls.props {
        if exclude.contains(name) || prop.is_computed() || cls.is_file_content(name) {
            continue;
        }
        let text = match ctx.value(class, id, name) {
            Ok(Some(Value::Multilink(ids))) => ids.join(","),
            Ok(value) => {
                if !ctx.may_view(class, Some(name), Some(id)) {
                    ctx.tr("[hidden]").to_string()
                } else {
                    value
                        .map(|v| value_text(ctx, prop, &v, &ctx.tz))
                        .unwrap_or_default()
                }
            }
            Err(_) => continue,
        };
        parts.push(format!("{name}={}", html::py_quote(&text)));
    }
    format!("{class}?{}", parts.join("&"))
}

// ---------------------------------------------------------------------------
// properties

/// A property of an item or (for new-item and search forms) of a class
/// (Roundup's HTMLProperty).
#[derive(Debug, Clone)]
pub struct PropObj {
    pub class: String,
    pub item: Option<String>,
    pub name: String,
    pub prop: Property,
    pub value: Option<Value>,
    /// The form text the value came from (class context).
    pub raw: Option<String>,
    /// Whether the form field is named by the property alone (the page's
    /// own item, or a class form) rather than `classid@name`; see
    /// [`PropObj::formname`].
    pub own_field: bool,
    /// Time zone override from `local()`.
    pub tz: Option<Timezone>,
}

impl PropObj {
    /// The form field name: the property's name on the page's own item
    /// and on class forms, `classid@name` for any other item. Made when a
    /// field is written, not for every value a page shows.
    pub fn formname(&self) -> std::borrow::Cow<'_, str> {
        match (&self.item, self.own_field) {
            (Some(id), false) => format!("{}{id}@{}", self.class, self.name).into(),
            _ => std::borrow::Cow::Borrowed(&self.name),
        }
    }

    /// The property `name` of an item, or `None` if the class lacks it.
    pub(crate) fn for_item(
        ctx: &RenderCtx<'_>,
        class: &str,
        id: &str,
        name: &str,
    ) -> Option<JValue> {
        let cls = ctx.db.class(class).ok()?;
        let prop = cls.prop(name)?.clone();
        let viewable = ctx.may_view(class, Some(name), Some(id));
        // Unviewable values are never loaded, so nothing can leak them.
        let value = if viewable && !cls.is_file_content(name) {
            ctx.value(class, id, name).ok().flatten()
        } else {
            None
        };
        let is_context =
            ctx.view.classname.as_deref() == Some(class) && ctx.view.itemid.as_deref() == Some(id);
        // Values the user submitted (an edit that failed) are shown again
        // in the edit fields of the page's own item.
        let raw = if is_context && ctx.req.has(name) && prop.ptype != PropType::Password {
            Some(ctx.req.get_all(name).join(","))
        } else {
            None
        };
        Some(JValue::from_object(PropObj {
            class: class.to_string(),
            item: Some(id.to_string()),
            name: name.to_string(),
            prop,
            value,
            raw,
            own_field: is_context,
            tz: None,
        }))
    }

    /// The property `name` of a class, with its value taken from the
    /// request form (for new-item forms redisplayed after an error).
    pub(crate) fn for_class(ctx: &RenderCtx<'_>, class: &str, name: &str) -> Option<JValue> {
        let cls = ctx.db.class(class).ok()?;
        let prop = cls.prop(name)?.clone();
        let is_context = ctx.view.classname.as_deref() == Some(class) && ctx.view.itemid.is_none();
        let raw = if is_context {
            let all = ctx.req.get_all(name);
            if all.is_empty() {
                None
            } else {
                Some(all.join(","))
            }
        } else {
            None
        };
        let value = raw
            .as_deref()
            .filter(|r| !r.trim().is_empty())
            .and_then(|r| ctx.db.raw_to_value(class, name, r, None).ok().flatten())
            .filter(|v| !matches!(v, Value::Password(_)));
        Some(JValue::from_object(PropObj {
            class: class.to_string(),
            item: None,
            name: name.to_string(),
            prop,
            value,
            raw,
            own_field: true,
            tz: None,
        }))
    }

    fn viewable(&self, ctx: &RenderCtx<'_>) -> bool {
        // A new item's fields may be seen by whoever may fill them in.
        ctx.may_view(&self.class, Some(&self.name), self.item.as_deref())
            || (self.item.is_none() && ctx.may_edit(&self.class, Some(&self.name), None))
    }

    fn editable(&self, ctx: &RenderCtx<'_>) -> bool {
        if self.prop.is_computed()
            || matches!(
                self.name.as_str(),
                "id" | "creation" | "activity" | "creator" | "actor"
            )
        {
            return false;
        }
        ctx.may_edit(&self.class, Some(&self.name), self.item.as_deref())
    }

    fn tz<'c>(&'c self, ctx: &'c RenderCtx<'_>) -> &'c Timezone {
        self.tz.as_ref().unwrap_or(&ctx.tz)
    }

    fn is_set(&self) -> bool {
        match &self.value {
            None => false,
            Some(Value::Multilink(v)) => !v.is_empty(),
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        }
    }

    fn linked_ids(&self) -> Vec<String> {
        match &self.value {
            Some(Value::Link(id)) => vec![id.clone()],
            Some(Value::Multilink(ids)) => ids.clone(),
            _ => Vec::new(),
        }
    }

    fn target(&self) -> &str {
        self.prop.link_class.as_deref().unwrap_or("")
    }

    /// The text of the value (no permission check; callers check).
    fn text(&self, ctx: &RenderCtx<'_>) -> String {
        if self.prop.ptype == PropType::String && self.value.is_none() {
            // file content is read on demand, and only when viewable
            if let Some(id) = &self.item {
                if ctx
                    .db
                    .class(&self.class)
                    .is_ok_and(|c| c.is_file_content(&self.name))
                {
                    return match ctx.db.get(&self.class, id, &self.name) {
                        Ok(Some(Value::String(s))) => s,
                        _ => String::new(),
                    };
                }
            }
        }
        match &self.value {
            None => String::new(),
            Some(v) => value_text(ctx, &self.prop, v, self.tz(ctx)),
        }
    }

    /// The text if viewable, else `[hidden]`.
    fn shown(&self, ctx: &RenderCtx<'_>) -> Result<String, String> {
        if self.viewable(ctx) {
            Ok(self.text(ctx))
        } else {
            Err(ctx.tr("[hidden]").to_string())
        }
    }

    fn field_html(&self, ctx: &RenderCtx<'_>, kw: &Kwargs) -> String {
        if !self.editable(ctx) {
            return match self.shown(ctx) {
                Ok(t) => escape(&t),
                Err(h) => escape(&h),
            };
        }
        let extra = extra_attrs(
            kw,
            &[
                "size",
                "showid",
                "display_time",
                "format",
                "y_label",
                "n_label",
                "u_label",
                "labelfirst",
                "popcal",
                "form",
                "type",
            ],
        );
        let formname = self.formname();
        let id_attr = formname.replace('@', "-");
        let size = kw_str(kw, "size").unwrap_or_else(|| "30".into());
        match self.prop.ptype {
            PropType::Boolean => {
                let y = kw_str(kw, "y_label").unwrap_or_else(|| ctx.tr("Yes").into());
                let n = kw_str(kw, "n_label").unwrap_or_else(|| ctx.tr("No").into());
                let u = kw_str(kw, "u_label");
                let cur = match &self.value {
                    Some(Value::Boolean(b)) => Some(*b),
                    _ => None,
                };
                let mut out = String::from("<span class=\"radio-group\">");
                let mut choices =
                    vec![("yes", y, cur == Some(true)), ("no", n, cur == Some(false))];
                if let Some(u) = u {
                    choices.push(("", u, cur.is_none()));
                }
                for (i, (val, label, on)) in choices.into_iter().enumerate() {
                    let rid = format!("{id_attr}-{i}");
                    out.push_str(
                        &TagBuilder::new("input")
                            .attr("type", "radio")
                            .attr("name", &formname)
                            .attr("id", &rid)
                            .attr("value", val)
                            .flag("checked", on)
                            .extra(&extra)
                            .open(),
                    );
                    out.push_str(&format!(
                        "<label for=\"{}\">{}</label> ",
                        escape(&rid),
                        escape(&label)
                    ));
                }
                out.push_str("</span>");
                out
            }
            PropType::Password => TagBuilder::new("input")
                .attr("type", "password")
                .attr("name", &formname)
                .attr("id", &id_attr)
                .attr("size", &size)
                .extra(&extra)
                .open(),
            PropType::Link | PropType::Multilink => {
                let showid = kw_bool(kw, "showid", false);
                let text = self
                    .linked_ids()
                    .iter()
                    .map(|id| {
                        let key_prop = ctx.db.class(self.target()).ok().and_then(|c| c.key.clone());
                        if showid || key_prop.is_none() {
                            id.clone()
                        } else {
                            ctx.label(self.target(), id)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",");
                let text = self.raw.clone().unwrap_or(text);
                let tag = TagBuilder::new("input")
                    .attr("type", "text")
                    .attr("name", &formname)
                    .attr("id", &id_attr);
                // Roundup's Link field has no size unless given one (a
                // bare `size`); Multilink's is 30.
                let tag = if self.prop.ptype == PropType::Link && kw_str(kw, "size").is_none() {
                    tag.flag("size", true)
                } else {
                    tag.attr("size", &size)
                };
                tag.attr("value", &text).extra(&extra).open()
            }
            _ => {
                let text = match (&self.value, &self.raw) {
                    (_, Some(raw)) => raw.clone(),
                    (Some(Value::Date(d)), _) => {
                        let display_time = kw_bool(kw, "display_time", self.prop.display_time);
                        match kw_str(kw, "format") {
                            Some(f) => d.pretty(self.tz(ctx), Some(&f)),
                            None if display_time => d.formal(self.tz(ctx)),
                            None => d.pretty(self.tz(ctx), Some("%Y-%m-%d")),
                        }
                    }
                    _ => self.text(ctx),
                };
                TagBuilder::new("input")
                    .attr("type", kw_str(kw, "type").as_deref().unwrap_or("text"))
                    .attr("name", &formname)
                    .attr("id", &id_attr)
                    .attr("size", &size)
                    .attr("value", &text)
                    .extra(&extra)
                    .open()
            }
        }
    }

    fn menu_html(&self, ctx: &RenderCtx<'_>, kw: &Kwargs) -> Result<String, TplError> {
        if !self.prop.is_pointer() {
            return Err(TplError::new(
                ErrorKind::InvalidOperation,
                format!(
                    "{}.{} is not a Link or Multilink; menu() needs one",
                    self.class, self.name
                ),
            ));
        }
        if !self.editable(ctx) {
            return Ok(match self.shown(ctx) {
                Ok(t) => escape(&t),
                Err(h) => escape(&h),
            });
        }
        let target = self.target().to_string();
        let tcls = ctx.db.class(&target).map_err(core_err)?;
        let showid = kw_bool(kw, "showid", false);
        let translate = kw_bool(kw, "translate", true);
        let maxlen = kw_usize(kw, "size");
        let height = kw_str(kw, "height");
        let additional: Vec<String> = match kw.get::<Option<JValue>>("additional")? {
            Some(v) if v.as_str().is_some() => v
                .as_str()
                .unwrap_or("")
                .split(',')
                .map(|s| s.trim().to_string())
                .collect(),
            Some(v) if !v.is_none() && !v.is_undefined() => {
                v.try_iter()?.map(|x| x.to_string()).collect()
            }
            _ => Vec::new(),
        };
        let mut spec = FilterSpec::default();
        let sort_on: Option<JValue> = kw.get("sort_on")?;
        spec.sort = sort_arg(sort_on)?;
        if spec.sort.is_empty() {
            spec.sort = vec![(Some(Direction::Asc), tcls.order_prop())];
        }
        let fs = filter_spec_from_kwargs(kw)?;
        spec.filterspec = fs.filterspec;
        let known = [
            "size",
            "height",
            "showid",
            "additional",
            "sort_on",
            "value",
            "filterspec",
            "sort",
            "group",
            "html_kwargs",
            "translate",
        ];
        for k in kw.args() {
            if !known.contains(&k) && tcls.prop(k).is_some() {
                let v: JValue = kw.get(k)?;
                spec.filterspec
                    .push((k.to_string(), SpecValue::One(v.to_string())));
            }
        }
        let ids = ctx.db.filter(&target, &spec).map_err(core_err)?;
        ctx.prefetch(&target, &ids, &additional);
        let mut selected = self.linked_ids();
        let wanted = match &self.raw {
            Some(raw) => Some(raw.clone()),
            None if self.item.is_none() && self.value.is_none() => kw_str(kw, "value"),
            None => None,
        };
        {
            if let Some(v) = wanted {
                selected = v
                    .split(',')
                    .filter_map(|k| {
                        let k = k.trim();
                        if k.chars().all(|c| c.is_ascii_digit()) {
                            Some(k.to_string())
                        } else {
                            ctx.db.lookup(&target, k).ok()
                        }
                    })
                    .collect();
            }
        }
        let multiple = self.prop.is_multilink();
        // Roundup's menus have no id.
        let mut tag = TagBuilder::new("select")
            .attr("name", &self.formname())
            .flag("multiple", multiple);
        // Roundup sizes a multiple choice to its options (and the "no
        // selection" one when something is chosen), at most 7.
        let height = height.or_else(|| {
            multiple.then(|| {
                let visible = ids
                    .iter()
                    .filter(|id| ctx.may_view(&target, None, Some(id)))
                    .count();
                (visible + usize::from(!selected.is_empty()))
                    .min(7)
                    .to_string()
            })
        });
        if let Some(h) = &height {
            tag = tag.attr("size", h);
        }
        let mut extra = extra_attrs(kw, &known);
        // Roundup's html_kwargs: attributes of the <select>
        if let Some(h) = kw.get::<Option<JValue>>("html_kwargs")? {
            if !h.is_none() && !h.is_undefined() {
                for k in h.try_iter()? {
                    let v = h.get_item(&k)?;
                    extra.push((k.to_string(), (!v.is_none()).then(|| v.to_string())));
                }
            }
        }
        let mut out = tag.extra(&extra).open();
        if !multiple {
            // (Roundup's message is the whole option, markup and all)
            let sel = if selected.is_empty() {
                "selected=\"selected\" "
            } else {
                ""
            };
            out.push_str(&ctx.tr_fmt(
                "<option %svalue=\"-1\">- no selection -</option>",
                &[("", sel)],
            ));
        }
        let lp = tcls.label_prop(true);
        for id in ids {
            if !ctx.may_view(&target, Some(&lp), Some(&id)) {
                continue;
            }
            let mut label = ctx.label(&target, &id);
            if let Some(n) = maxlen {
                if label.chars().count() > n {
                    label = label.chars().take(n.saturating_sub(3)).collect::<String>() + "...";
                }
            }
            if showid {
                label = format!("{id}: {label}");
            }
            let extras: Vec<String> = additional
                .iter()
                .filter(|a| ctx.may_view(&target, Some(a), Some(&id)))
                .filter_map(|a| match ctx.value(&target, &id, a) {
                    Ok(Some(v)) => tcls.prop(a).map(|p| value_text(ctx, p, &v, &ctx.tz)),
                    _ => None,
                })
                .filter(|s| !s.is_empty())
                .collect();
            if !extras.is_empty() {
                label = format!("{label} ({})", extras.join(", "));
            }
            out.push_str(
                &TagBuilder::new("option")
                    .attr("value", &id)
                    .flag_valued("selected", selected.contains(&id))
                    .open(),
            );
            // labels are translated unless `translate=False`
            let shown = if translate { ctx.tr(&label) } else { &label };
            out.push_str(&escape(shown));
            out.push_str("</option>");
        }
        out.push_str("</select>");
        Ok(out)
    }

    fn items(&self, ctx: &RenderCtx<'_>) -> Vec<JValue> {
        if !self.viewable(ctx) {
            return Vec::new();
        }
        let target = self.target().to_string();
        let ids = self.linked_ids();
        ctx.prefetch(&target, &ids, &[]);
        ids.into_iter()
            .filter(|id| ctx.may_view(&target, None, Some(id)))
            .map(|id| ItemObj::value(&target, &id))
            .collect()
    }
}

/// Text of a value as Roundup's `plain()` shows it.
pub(crate) fn value_text(ctx: &RenderCtx<'_>, prop: &Property, v: &Value, tz: &Timezone) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Password(_) => "*encrypted*".to_string(),
        Value::Date(d) => {
            if let Some(f) = &prop.date_format {
                d.pretty(tz, Some(f))
            } else if prop.display_time {
                d.formal(tz)
            } else {
                d.pretty(tz, Some("%Y-%m-%d"))
            }
        }
        Value::Interval(i) => i.to_string(),
        Value::Link(id) => ctx.label(prop.link_class.as_deref().unwrap_or(""), id),
        Value::Multilink(ids) => {
            let target = prop.link_class.as_deref().unwrap_or("");
            ids.iter()
                .map(|id| ctx.label(target, id))
                .collect::<Vec<_>>()
                .join(", ")
        }
        Value::Boolean(b) => ctx.tr(if *b { "Yes" } else { "No" }).to_string(),
        Value::Number(n) => number_text(*n),
        Value::Integer(i) => i.to_string(),
    }
}

/// A property's raw value for templates (`_value`): ids for links, the
/// value itself for booleans and numbers, text otherwise.
fn raw_value(ctx: &RenderCtx<'_>, prop: &Property, v: Option<&Value>) -> JValue {
    match v {
        Some(Value::Multilink(ids)) => JValue::from(ids.clone()),
        Some(Value::Link(id)) => JValue::from(id.as_str()),
        Some(Value::Boolean(b)) => JValue::from(*b),
        Some(Value::Integer(i)) => JValue::from(*i),
        Some(Value::Number(n)) => JValue::from(*n),
        Some(v) => JValue::from(value_text(ctx, prop, v, &ctx.tz)),
        None => JValue::from(()),
    }
}

/// Python's `str(float)` for the common cases.
fn number_text(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e16 {
        format!("{n:.1}")
    } else {
        n.to_string()
    }
}

/// printf-style `%0.Nf`, `%.Nf`, `%d`, `%s` for Number.pretty().
fn printf_number(fmt: &str, n: f64) -> String {
    let Some(pos) = fmt.find('%') else {
        return fmt.to_string();
    };
    let rest = &fmt[pos + 1..];
    let end = rest
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let spec = &rest[..end];
    let conv = rest[end..].chars().next().unwrap_or('f');
    let prec: Option<usize> = spec.split_once('.').and_then(|(_, p)| p.parse().ok());
    let body = match conv {
        'd' | 'i' => format!("{}", n.trunc() as i64),
        'e' => format!("{:.*e}", prec.unwrap_or(6), n),
        's' => number_text(n),
        _ => format!("{:.*}", prec.unwrap_or(6), n),
    };
    format!(
        "{}{}{}",
        &fmt[..pos],
        body,
        &rest[(end + 1).min(rest.len())..]
    )
}

impl Object for PropObj {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        if self.prop.is_multilink() {
            ObjectRepr::Seq
        } else {
            ObjectRepr::Plain
        }
    }

    fn get_value(self: &Arc<Self>, key: &JValue) -> Option<JValue> {
        if self.prop.is_multilink() {
            if let Some(i) = key.as_usize() {
                return with(|ctx| Ok(self.items(ctx).into_iter().nth(i)))
                    .ok()
                    .flatten();
            }
        }
        let name = key.as_str()?;
        match name {
            "_name" => return Some(JValue::from(self.name.as_str())),
            // The hyperdb property as Python shows it.
            "_prop" => {
                return Some(JValue::from(match &self.prop.link_class {
                    Some(target) => format!(
                        "<roundup.hyperdb.{} to \"{target}\">",
                        self.prop.ptype.name()
                    ),
                    None => format!("<roundup.hyperdb.{}>", self.prop.ptype.name()),
                }))
            }
            // What `==` compares in TAL python expressions: the raw value,
            // as Roundup's HTMLProperty.__eq__ does, whatever View says.
            "__value__" => {
                return with(|ctx| {
                    let loaded = match (&self.value, &self.item) {
                        (None, Some(id)) => ctx.value(&self.class, id, &self.name).ok().flatten(),
                        _ => None,
                    };
                    Ok(raw_value(
                        ctx,
                        &self.prop,
                        self.value.as_ref().or(loaded.as_ref()),
                    ))
                })
                .ok();
            }
            "_value" | "_raw" => {
                return with(|ctx| {
                    Ok(if self.viewable(ctx) {
                        raw_value(ctx, &self.prop, self.value.as_ref())
                    } else {
                        JValue::from(())
                    })
                })
                .ok();
            }
            "_formname" => return Some(JValue::from(&*self.formname())),
            _ => {}
        }
        // A Link property stands for the linked item: status.name, assignedto.id
        if self.prop.is_link() {
            let id = match &self.value {
                Some(Value::Link(id)) => id.clone(),
                _ => return None,
            };
            let target = self.target().to_string();
            if name == "id" {
                return with(|ctx| Ok(self.viewable(ctx).then(|| JValue::from(id.as_str()))))
                    .ok()
                    .flatten();
            }
            return with(|ctx| {
                Ok(if self.viewable(ctx) {
                    PropObj::for_item(ctx, &target, &id, name)
                } else {
                    None
                })
            })
            .ok()
            .flatten();
        }
        None
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        if !self.prop.is_multilink() {
            return Enumerator::NonEnumerable;
        }
        Enumerator::Values(with(|ctx| Ok(self.items(ctx))).unwrap_or_default())
    }

    fn is_true(self: &Arc<Self>) -> bool {
        with(|ctx| Ok(self.viewable(ctx) && self.is_set())).unwrap_or(false)
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = with(|ctx| Ok(self.shown(ctx).unwrap_or_else(|h| h))).unwrap_or_default();
        f.write_str(&text)
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[JValue],
    ) -> Result<JValue, TplError> {
        match method {
            "plain" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let hyperlink = kw_bool(&kw, "hyperlink", false);
                with(|ctx| {
                    Ok(match self.shown(ctx) {
                        Ok(t) if hyperlink => safe(html::linkify(&t, &|c| ctx.is_class(c))),
                        Ok(t) => JValue::from(t),
                        Err(h) => JValue::from(h),
                    })
                })
            }
            "hyperlinked" => with(|ctx| {
                Ok(match self.shown(ctx) {
                    Ok(t) => safe(html::linkify(&t, &|c| ctx.is_class(c))),
                    Err(h) => JValue::from(h),
                })
            }),
            "breaklines" | "rendered" => with(|ctx| {
                Ok(match self.shown(ctx) {
                    Ok(t) => safe(html::breaks(&html::linkify(&t, &|c| ctx.is_class(c)))),
                    Err(h) => JValue::from(h),
                })
            }),
            "wrapped" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let cols = kw_usize(&kw, "columns").unwrap_or(80);
                with(|ctx| {
                    Ok(match self.shown(ctx) {
                        Ok(t) => safe(html::linkify(&wrap(&t, cols), &|c| ctx.is_class(c))),
                        Err(h) => JValue::from(h),
                    })
                })
            }
            "markdown" => with(|ctx| {
                Ok(match self.shown(ctx) {
                    Ok(t) => safe(html::markdown(&t, ctx.markdown_breaks, &|c| {
                        ctx.is_class(c)
                    })),
                    Err(h) => JValue::from(h),
                })
            }),
            // Roundup's obscured form: "name at example ..."
            "email" => with(|ctx| {
                Ok(JValue::from(match self.shown(ctx) {
                    Ok(t) => match t.split_once('@') {
                        Some((name, domain)) if !domain.contains('@') => {
                            let parts: Vec<&str> = domain.split('.').collect();
                            format!(
                                "{} at {} ...",
                                name.replace('.', " "),
                                parts[..parts.len() - 1].join(" ")
                            )
                        }
                        _ => t.replace('.', " "),
                    },
                    Err(h) => h,
                }))
            }),
            "url_quote" => with(|ctx| {
                Ok(JValue::from(html::url_quote(
                    &self.shown(ctx).unwrap_or_default(),
                )))
            }),
            "field" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                with(|ctx| Ok(safe(self.field_html(ctx, &kw))))
            }
            "multiline" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                with(|ctx| {
                    // Roundup: the plain value in a <pre> when not editable
                    // (escaped here).
                    if !self.editable(ctx) {
                        return Ok(safe(format!(
                            "<pre>{}</pre>",
                            escape(&self.shown(ctx).unwrap_or_else(|h| h))
                        )));
                    }
                    let text = match (&self.value, &self.raw) {
                        (_, Some(r)) => r.clone(),
                        _ => self.text(ctx),
                    };
                    let extra = extra_attrs(&kw, &[]);
                    let formname = self.formname();
                    let mut tag = TagBuilder::new("textarea")
                        .attr("name", &formname)
                        .attr("id", &formname);
                    if !kw.has("rows") {
                        tag = tag.attr("rows", "5");
                    }
                    if !kw.has("cols") {
                        tag = tag.attr("cols", "40");
                    }
                    Ok(safe(format!(
                        "{}{}</textarea>",
                        tag.extra(&extra).open(),
                        escape(&text)
                    )))
                })
            }
            "confirm" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                with(|ctx| {
                    if !self.editable(ctx) || self.prop.ptype != PropType::Password {
                        return Ok(JValue::from(""));
                    }
                    let formname = self.formname();
                    Ok(safe(
                        TagBuilder::new("input")
                            .attr("type", "password")
                            .attr("name", &format!("@confirm@{formname}"))
                            .attr("id", &format!("{formname}-confirm"))
                            .attr("size", &kw_str(&kw, "size").unwrap_or_else(|| "30".into()))
                            .extra(&extra_attrs(&kw, &["size"]))
                            .open(),
                    ))
                })
            }
            "menu" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                with(|ctx| Ok(safe(self.menu_html(ctx, &kw)?)))
            }
            "link" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let showid = kw_bool(&kw, "showid", false);
                with(|ctx| {
                    if !self.viewable(ctx) {
                        return Ok(JValue::from(ctx.tr("[hidden]")));
                    }
                    let target = self.target();
                    let links: Vec<String> = self
                        .linked_ids()
                        .iter()
                        .map(|id| {
                            let label = if showid {
                                format!("{target}{id}")
                            } else {
                                ctx.label(target, id)
                            };
                            format!(
                                "<a href=\"{}{}\">{}</a>",
                                escape(target),
                                escape(id),
                                escape(&label)
                            )
                        })
                        .collect();
                    Ok(safe(links.join(", ")))
                })
            }
            "pretty" => {
                let (fmt,): (Option<String>,) = from_args(args)?;
                with(|ctx| {
                    if !self.viewable(ctx) {
                        return Ok(JValue::from(ctx.tr("[hidden]")));
                    }
                    Ok(JValue::from(match &self.value {
                        Some(Value::Date(d)) => d.pretty(self.tz(ctx), fmt.as_deref()),
                        Some(Value::Interval(i)) => i.pretty_in(&ctx.req.translator),
                        Some(Value::Number(n)) => {
                            printf_number(fmt.as_deref().unwrap_or("%0.3f"), *n)
                        }
                        Some(Value::Integer(n)) => {
                            printf_number(fmt.as_deref().unwrap_or("%d"), *n as f64)
                        }
                        _ => self.text(ctx),
                    }))
                })
            }
            "local" => {
                let (tz,): (JValue,) = from_args(args)?;
                let tz = Timezone::parse(&tz.to_string()).map_err(|e| {
                    TplError::new(ErrorKind::InvalidOperation, format!("local({tz}): {e}"))
                })?;
                let mut copy = (**self).clone();
                copy.tz = Some(tz);
                Ok(JValue::from_object(copy))
            }
            "reldate" => {
                let (kw,): (Kwargs,) = from_args(args)?;
                let pretty = kw_bool(&kw, "pretty", true);
                with(|ctx| {
                    if !self.viewable(ctx) {
                        return Ok(JValue::from(ctx.tr("[hidden]")));
                    }
                    Ok(JValue::from(match &self.value {
                        Some(Value::Date(d)) => {
                            let iv = d.diff(&Date::now());
                            if pretty {
                                iv.pretty_in(&ctx.req.translator)
                            } else {
                                iv.to_string()
                            }
                        }
                        _ => String::new(),
                    }))
                })
            }
            "now" => {
                let mut copy = (**self).clone();
                copy.value = Some(Value::Date(Date::now()));
                Ok(JValue::from_object(copy))
            }
            "isset" => with(|ctx| Ok(JValue::from(self.viewable(ctx) && self.is_set()))),
            "is_view_ok" => with(|ctx| Ok(JValue::from(self.viewable(ctx)))),
            "is_edit_ok" => with(|ctx| Ok(JValue::from(self.editable(ctx)))),
            "sorted" | "reverse" => {
                let (key, kw): (Option<String>, Kwargs) = from_args(args)?;
                let reverse = method == "reverse" || kw_bool(&kw, "reverse", false);
                with(|ctx| {
                    let mut items = self.items(ctx);
                    if let Some(key) = key {
                        let target = self.target().to_string();
                        let mut keyed: Vec<(String, JValue)> = items
                            .into_iter()
                            .map(|it| {
                                let id =
                                    it.get_attr("id").map(|v| v.to_string()).unwrap_or_default();
                                let k = ctx
                                    .value(&target, &id, &key)
                                    .ok()
                                    .flatten()
                                    .map(|v| sort_key(&v))
                                    .unwrap_or_default();
                                (k, it)
                            })
                            .collect();
                        keyed.sort_by(|a, b| a.0.cmp(&b.0));
                        items = keyed.into_iter().map(|(_, v)| v).collect();
                    }
                    if reverse {
                        items.reverse();
                    }
                    Ok(JValue::from(items))
                })
            }
            _ => Err(unknown_method(
                &format!("property {}.{}", self.class, self.name),
                method,
            )),
        }
    }
}

/// A sort key that orders numbers and dates sensibly as strings.
fn sort_key(v: &Value) -> String {
    match v {
        Value::Integer(i) => format!("{:020}", i.saturating_add(i64::MAX / 2)),
        Value::Number(n) => format!("{:030.10}", n + 1e15),
        Value::Date(d) => d.serialise(),
        Value::Link(id) => format!("{id:0>12}"),
        other => other.to_string().to_lowercase(),
    }
}

/// Wrap lines longer than `cols` at whitespace.
fn wrap(text: &str, cols: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut len = 0;
        for (j, word) in line.split(' ').enumerate() {
            let wl = word.chars().count();
            if j > 0 {
                if len + 1 + wl > cols && len > 0 {
                    out.push('\n');
                    len = 0;
                } else {
                    out.push(' ');
                    len += 1;
                }
            }
            out.push_str(word);
            len += wl;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// history

struct HistRow {
    date: Date,
    user: String,
    action: String,
    args_html: String,
}

fn journal_rows(ctx: &RenderCtx<'_>, class: &str, id: &str, showall: bool) -> Vec<HistRow> {
    if !ctx.may_view(class, None, Some(id)) {
        return Vec::new();
    }
    let Ok(entries) = ctx.db.history(class, id) else {
        return Vec::new();
    };
    let Ok(cls) = ctx.db.class(class) else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for e in entries.iter().rev() {
        let user = if ctx.db.has_node("user", &e.tag).unwrap_or(false) {
            ctx.label("user", &e.tag)
        } else {
            e.tag.clone()
        };
        let mut parts: Vec<String> = Vec::new();
        match (e.action.as_str(), &e.params) {
            ("set", PyValue::Dict(pairs)) => {
                for (k, v) in pairs {
                    let PyValue::Str(pname) = k else { continue };
                    let Some(prop) = cls.prop(pname) else {
                        continue;
                    };
                    if (prop.quiet && !showall) || !ctx.may_view(class, Some(pname), Some(id)) {
                        continue;
                    }
                    parts.push(format!(
                        "{}: {}",
                        escape(pname),
                        journal_value_html(ctx, prop, v)
                    ));
                }
            }
            ("link" | "unlink", PyValue::Tuple(t) | PyValue::List(t)) if t.len() >= 3 => {
                let (PyValue::Str(c), PyValue::Str(i), PyValue::Str(p)) = (&t[0], &t[1], &t[2])
                else {
                    continue;
                };
                if ctx.may_view(c, Some(p), Some(i)) {
                    parts.push(format!(
                        "<a href=\"{0}{1}\">{0}{1}</a> {2}",
                        escape(c),
                        escape(i),
                        escape(p)
                    ));
                } else {
                    continue;
                }
            }
            _ => {}
        }
        rows.push(HistRow {
            date: e.date,
            user,
            action: e.action.clone(),
            args_html: parts.join(",<br>\n"),
        });
    }
    rows
}

/// An old value from the journal, as HTML.
fn journal_value_html(ctx: &RenderCtx<'_>, prop: &Property, v: &PyValue) -> String {
    let target = prop.link_class.as_deref().unwrap_or("");
    let link = |id: &str| -> String {
        if ctx.may_view(target, None, Some(id)) {
            format!(
                "<a href=\"{}{}\">{}</a>",
                escape(target),
                escape(id),
                escape(&ctx.label(target, id))
            )
        } else {
            escape(id)
        }
    };
    match (prop.ptype, v) {
        (_, PyValue::None) => String::new(),
        (PropType::Link, PyValue::Str(id)) => link(id),
        (PropType::Multilink, PyValue::Tuple(changes) | PyValue::List(changes)) => {
            let mut out = Vec::new();
            for ch in changes {
                match ch {
                    PyValue::Tuple(pair) | PyValue::List(pair) if pair.len() == 2 => {
                        let sign = match &pair[0] {
                            PyValue::Str(s) => s.clone(),
                            _ => String::new(),
                        };
                        let ids = match &pair[1] {
                            PyValue::List(l) | PyValue::Tuple(l) => l.clone(),
                            _ => Vec::new(),
                        };
                        let shown: Vec<String> = ids
                            .iter()
                            .filter_map(|i| match i {
                                PyValue::Str(s) => Some(link(s)),
                                PyValue::Int(n) => Some(link(&n.to_string())),
                                _ => None,
                            })
                            .collect();
                        let word = if sign == "+" { "added" } else { "removed" };
                        if !shown.is_empty() {
                            out.push(format!("{word}: {}", shown.join(", ")));
                        }
                    }
                    PyValue::Str(id) => out.push(link(id)),
                    _ => {}
                }
            }
            out.join("; ")
        }
        (PropType::Date, PyValue::Str(s)) => match Date::from_serialised(s) {
            Ok(d) => escape(&d.formal(&ctx.tz)),
            Err(_) => escape(s),
        },
        (PropType::Password, _) => "*encrypted*".to_string(),
        (_, PyValue::Str(s)) => escape(s),
        (_, PyValue::Int(i)) => i.to_string(),
        (_, PyValue::Float(f)) => number_text(*f),
        (PropType::Boolean, PyValue::Bool(b)) => if *b { "Yes" } else { "No" }.to_string(),
        (_, other) => escape(&roundup_core::pyrepr::repr(other)),
    }
}

fn journal_values(ctx: &RenderCtx<'_>, class: &str, id: &str) -> JValue {
    let rows = journal_rows(ctx, class, id, false);
    JValue::from(
        rows.into_iter()
            .map(|r| {
                minijinja::context! {
                    date => r.date.formal(&ctx.tz),
                    user => r.user,
                    action => r.action,
                    changes => JValue::from_safe_string(r.args_html),
                }
            })
            .collect::<Vec<_>>(),
    )
}

/// Roundup's `HTMLClass.renderWith(name, sort=, group=, filter=,
/// columns=, filterspec=, pagesize=, startwith=, search_text=)`: the
/// class's `name` page rendered for a request with these index arguments.
/// Roundup's `HTMLItem.renderQueryForm()`: a stored query (an item with
/// `klass`, `url` and `name`) shown as its class's search page, the form
/// filled from the query's URL and `@queryname` set to its name.
fn render_query_form(ctx: &RenderCtx, class: &str, id: &str) -> Result<JValue, TplError> {
    let text = |prop: &str| -> Result<String, TplError> {
        match ctx.value(class, id, prop).map_err(core_err)? {
            Some(Value::String(s)) => Ok(s),
            Some(other) => Ok(other.to_string()),
            None => Ok(String::new()),
        }
    };
    let klass = text("klass")?;
    if ctx.db.class(&klass).is_err() {
        return Err(TplError::new(
            ErrorKind::InvalidOperation,
            format!("renderQueryForm: {class}{id} names no class ({klass:?})"),
        ));
    }
    let url = text("url")?;
    let query = url.split_once('?').map_or(url.as_str(), |(_, q)| q);
    let mut form: Vec<(String, crate::request::FormValue)> =
        form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| {
                let k = match k.strip_prefix(':') {
                    Some(rest) => format!("@{rest}"),
                    None => k.into_owned(),
                };
                (k, crate::request::FormValue::Text(v.into_owned()))
            })
            .collect();
    form.retain(|(k, _)| k != "@queryname");
    form.push((
        "@queryname".into(),
        crate::request::FormValue::Text(text("name")?),
    ));
    // As in Roundup, the request keeps the query's id as its nodeid
    // (Roundup makes the request before it clears the client's), so a
    // search page's "not request.nodeid" defaults do not apply; the
    // context is the class.
    render_nested(ctx, "renderQueryForm", &klass, "search", form, |req| {
        req.classname = Some(klass.clone());
    })
}

/// `class`'s `template` page rendered inside the page being rendered,
/// for a GET request of `form` made from the page's own request
/// (`adjust` changes it further): renderWith and renderQueryForm.
fn render_nested(
    ctx: &RenderCtx,
    what: &str,
    class: &str,
    template: &str,
    form: Vec<(String, crate::request::FormValue)>,
    adjust: impl FnOnce(&mut crate::request::WebRequest),
) -> Result<JValue, TplError> {
    let Some((templates, messages)) = ctx.page else {
        return Err(TplError::new(
            ErrorKind::InvalidOperation,
            format!("{what} is only available while a page is rendered"),
        ));
    };
    let mut req = ctx.req.clone();
    req.form = form;
    req.method = "GET".into();
    adjust(&mut req);
    let view = super::View {
        classname: Some(class.to_string()),
        itemid: None,
        template: template.to_string(),
    };
    templates
        .render(ctx.db, ctx.tracker, &req, &view, messages)
        .map(JValue::from_safe_string)
        .map_err(|e| TplError::new(ErrorKind::InvalidOperation, e.to_string()))
}

fn render_with(ctx: &RenderCtx, class: &str, name: &str, kw: &Kwargs) -> Result<JValue, TplError> {
    let text = |v: &JValue| -> String {
        if let Some(s) = v.as_str() {
            return s.to_string();
        }
        match v.try_iter() {
            Ok(it) => it
                .map(|x| {
                    // ('-', 'activity') pairs of sort and group
                    if x.kind() == minijinja::value::ValueKind::Seq {
                        let parts: Vec<String> = x
                            .try_iter()
                            .map(|p| p.map(|p| p.to_string()).collect())
                            .unwrap_or_default();
                        match parts.as_slice() {
                            [dir, prop] if dir == "-" => format!("-{prop}"),
                            [_, prop] => prop.clone(),
                            _ => parts.join(""),
                        }
                    } else {
                        x.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
            Err(_) => v.to_string(),
        }
    };
    let mut form: Vec<(String, crate::request::FormValue)> = Vec::new();
    let mut put =
        |k: &str, v: String| form.push((k.to_string(), crate::request::FormValue::Text(v)));
    for (arg, field) in [
        ("sort", "@sort"),
        ("group", "@group"),
        ("filter", "@filter"),
        ("columns", "@columns"),
        ("pagesize", "@pagesize"),
        ("startwith", "@startwith"),
        ("search_text", "@search_text"),
        ("dispname", "@dispname"),
    ] {
        if let Some(v) = kw.get::<Option<JValue>>(arg)? {
            if !v.is_none() {
                put(field, text(&v));
            }
        }
    }
    if let Some(spec) = kw.get::<Option<JValue>>("filterspec")? {
        if let Ok(keys) = spec.try_iter() {
            for k in keys {
                let v = spec.get_item(&k).unwrap_or_default();
                put(&k.to_string(), text(&v));
            }
        }
    }
    kw.assert_all_used()?;
    render_nested(ctx, "renderWith", class, name, form, |_| {})
}
