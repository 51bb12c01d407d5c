//! An item's history as Roundup's `HTMLItem.history()` shows it: a table
//! of the journal, newest first, each change shown as `prop: old -> new`
//! with linked items named (and linked where their class has an item
//! page of its own). Entries the user may not see are left out as
//! Roundup's `hyperdb.Class.history` does: quiet properties (unless
//! `showall`), properties the user may neither view nor edit, and links
//! from items the user may not see.

use roundup_core::date::Date;
use roundup_core::pyrepr::PyValue;
use roundup_core::schema::{PropType, Property};
use roundup_core::value::Value;

use super::ctx::RenderCtx;
use super::html::escape;
use super::model::value_text;

/// May the user see (view or edit) this property of the item?
fn may_see(ctx: &RenderCtx<'_>, class: &str, prop: Option<&str>, item: Option<&str>) -> bool {
    ctx.may("View", Some(class), prop, item) || ctx.may("Edit", Some(class), prop, item)
}

/// Whether `class` has an item page of its own (not the generic one):
/// then its items are linked.
fn hrefable(ctx: &RenderCtx<'_>, class: &str) -> bool {
    match ctx.page {
        Some((templates, _)) => templates
            .resolve(Some(class), "item")
            .is_some_and(|t| !t.starts_with("_generic.")),
        None => false,
    }
}

fn link(class: &str, id: &str, label: &str) -> String {
    format!(
        "<a rel=\"nofollow noopener\" href=\"{}{}\">{label}</a>",
        escape(class),
        escape(id)
    )
}

/// A linked item's label for the history: its label property, escaped;
/// `None` when the item does not exist.
fn label_of(ctx: &RenderCtx<'_>, class: &str, id: &str) -> Option<String> {
    if !ctx.db.has_node(class, id).unwrap_or(false) {
        return None;
    }
    let lp = ctx
        .db
        .class(class)
        .map(|c| c.label_prop(true))
        .unwrap_or_default();
    if lp == "id" {
        return Some(format!("{class}{id}"));
    }
    Some(match ctx.db.get(class, id, &lp) {
        Ok(Some(v)) => escape(&v.to_string()),
        _ => ctx.tr("[label is missing]").to_string(),
    })
}

fn py_text(v: &PyValue) -> String {
    match v {
        PyValue::Str(s) => s.clone(),
        PyValue::Int(i) => i.to_string(),
        PyValue::Float(f) => {
            if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                f.to_string()
            }
        }
        PyValue::Bool(b) => if *b { "True" } else { "False" }.to_string(),
        PyValue::None => "None".to_string(),
        other => roundup_core::pyrepr::repr(other),
    }
}

fn is_empty(v: &PyValue) -> bool {
    match v {
        PyValue::None => true,
        PyValue::Str(s) => s.is_empty(),
        PyValue::List(l) | PyValue::Tuple(l) => l.is_empty(),
        PyValue::Int(i) => *i == 0,
        PyValue::Float(f) => *f == 0.0,
        PyValue::Bool(b) => !b,
        PyValue::Dict(d) => d.is_empty(),
        _ => false,
    }
}

/// The current value of a property as the history's "-> new" shows it.
fn current_text(
    ctx: &RenderCtx<'_>,
    class: &str,
    id: &str,
    name: &str,
    prop: &Property,
) -> Option<String> {
    if !ctx.may_view(class, Some(name), Some(id)) {
        return Some(ctx.tr("[hidden]").into());
    }
    let value = ctx.value(class, id, name).ok().flatten();
    let text = match &value {
        None => String::new(),
        Some(v) => escape(&value_text(ctx, prop, v, &ctx.tz)),
    };
    if let (PropType::Link, Some(Value::Link(target_id))) = (prop.ptype, &value) {
        let target = prop.link_class.as_deref().unwrap_or("");
        if hrefable(ctx, target) {
            return Some(link(target, target_id, &text));
        }
    }
    if prop.ptype == PropType::Link
        && value.is_none()
        && hrefable(ctx, prop.link_class.as_deref().unwrap_or(""))
    {
        return Some(link(
            prop.link_class.as_deref().unwrap_or(""),
            "None",
            &text,
        ));
    }
    Some(text)
}

/// The `set` entry's changes as Roundup lays them out.
fn set_cell(
    ctx: &RenderCtx<'_>,
    class: &str,
    id: &str,
    pairs: &[(PyValue, PyValue)],
    current: &mut Vec<(String, Option<String>)>,
) -> String {
    let Ok(cls) = ctx.db.class(class) else {
        return String::new();
    };
    let mut cell: Vec<String> = Vec::new();
    for (k, v) in pairs {
        let PyValue::Str(name) = k else { continue };
        let Some(prop) = cls.prop(name) else { continue };
        // the property's name as shown (Roundup translates it)
        let shown = ctx.tr(name);
        if !current.iter().any(|(n, _)| n == name) {
            let c = current_text(ctx, class, id, name, prop);
            current.push((name.clone(), c));
        }
        let cur = |current: &Vec<(String, Option<String>)>| {
            current
                .iter()
                .find(|(n, _)| n == name)
                .and_then(|(_, c)| c.clone())
        };
        let set_cur = |current: &mut Vec<(String, Option<String>)>, new: String| {
            if let Some(slot) = current.iter_mut().find(|(n, _)| n == name) {
                slot.1 = Some(new);
            }
        };
        let target = prop.link_class.as_deref().unwrap_or("");
        let empty = is_empty(v);
        match prop.ptype {
            PropType::Multilink if !empty => {
                let href = hrefable(ctx, target);
                let items = match v {
                    PyValue::List(l) | PyValue::Tuple(l) => l.clone(),
                    _ => Vec::new(),
                };
                let mut ml: Vec<String> = Vec::new();
                for item in items {
                    let (sublabel, ids) = match &item {
                        PyValue::Tuple(pair) | PyValue::List(pair) if pair.len() == 2 => (
                            format!("{} ", py_text(&pair[0])),
                            match &pair[1] {
                                PyValue::List(l) | PyValue::Tuple(l) => l.clone(),
                                other => vec![other.clone()],
                            },
                        ),
                        other => (String::new(), vec![other.clone()]),
                    };
                    let mut subml = Vec::new();
                    for lid in ids {
                        if matches!(lid, PyValue::None) {
                            continue;
                        }
                        let lid = py_text(&lid);
                        match label_of(ctx, target, &lid) {
                            None => subml.push(format!("<strike>{target}{lid}</strike>")),
                            Some(label) if href => subml.push(link(target, &lid, &label)),
                            Some(label) => subml.push(label),
                        }
                    }
                    ml.push(format!("{sublabel}{}", subml.join(", ")));
                }
                cell.push(format!("{shown}:\n  {}", ml.join(", ")));
            }
            PropType::Link if !empty => {
                let lid = py_text(v);
                match label_of(ctx, target, &lid) {
                    None => cell.push(format!(" <strike>{target}{lid}</strike>,\n")),
                    Some(label) => {
                        let old = if hrefable(ctx, target) {
                            link(target, &lid, &label)
                        } else {
                            label
                        };
                        let mut line = format!("{shown}: {old}");
                        if let Some(c) = cur(current) {
                            line.push_str(&format!(" -> {c}"));
                            set_cur(current, old);
                        }
                        cell.push(line);
                    }
                }
            }
            PropType::Date if !empty => {
                let d = Date::from_serialised(&py_text(v))
                    .map(|d| d.formal(&ctx.tz))
                    .unwrap_or_else(|_| py_text(v));
                let mut line = format!("{shown}: {d}");
                if let Some(c) = cur(current) {
                    line.push_str(&format!(" -> {c}"));
                    set_cur(current, d);
                }
                cell.push(line);
            }
            PropType::String | PropType::Interval if !empty => {
                let val = escape(&py_text(v));
                let mut line = format!("{shown}: {val}");
                if let Some(c) = cur(current) {
                    line.push_str(&format!(" -> {c}"));
                    set_cur(current, val);
                }
                cell.push(line);
            }
            PropType::Boolean if !matches!(v, PyValue::None) => {
                let val = if is_empty(v) { "No" } else { "Yes" }.to_string();
                let mut line = format!("{shown}: {val}");
                if let Some(c) = cur(current) {
                    line.push_str(&format!(" -> {c}"));
                    set_cur(current, val);
                }
                cell.push(line);
            }
            PropType::Password if !matches!(v, PyValue::None) => {
                let val = "*encrypted*".to_string();
                let mut line = format!("{shown}: {val}");
                if let Some(c) = cur(current) {
                    line.push_str(&format!(" -> {c}"));
                    set_cur(current, val);
                }
                cell.push(line);
            }
            _ if empty => match cur(current) {
                Some(c) => {
                    cell.push(format!("{shown}: {c}"));
                    set_cur(current, "(no value)".into());
                }
                None => cell.push(ctx.tr_fmt("%s: (no value)", &[("", shown)])),
            },
            _ => {
                let val = py_text(v);
                let mut line = format!("{shown}: {val}");
                if let Some(c) = cur(current) {
                    line.push_str(&format!(" -> {c}"));
                    set_cur(current, val);
                }
                cell.push(line);
            }
        }
    }
    cell.join("<br />")
}

/// Roundup's `history(showall=False)` table for an item.
pub(crate) fn history_html(ctx: &RenderCtx<'_>, class: &str, id: &str, showall: bool) -> String {
    if !ctx.may_view(class, None, Some(id)) {
        return ctx.tr("[hidden]").to_string();
    }
    let Ok(cls) = ctx.db.class(class) else {
        return String::new();
    };
    let mut entries = ctx.db.history(class, id).unwrap_or_default();
    entries.sort_by(|a, b| {
        (a.date, &a.tag)
            .partial_cmp(&(b.date, &b.tag))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    entries.reverse();
    let mut rows = Vec::new();
    let mut current: Vec<(String, Option<String>)> = Vec::new();
    for e in entries {
        let arg_s = match (e.action.as_str(), &e.params) {
            ("create" | "retired" | "restored", _) => String::new(),
            ("set", PyValue::Dict(pairs)) => {
                // what the user may see of the change
                let kept: Vec<(PyValue, PyValue)> = pairs
                    .iter()
                    .filter(|(k, _)| match k {
                        PyValue::Str(n) => cls.prop(n).is_some_and(|p| {
                            (showall || !p.quiet) && may_see(ctx, class, Some(n), Some(id))
                        }),
                        _ => false,
                    })
                    .cloned()
                    .collect();
                if kept.is_empty() {
                    continue;
                }
                set_cell(ctx, class, id, &kept, &mut current)
            }
            ("link" | "unlink", PyValue::Tuple(t)) if t.len() == 3 => {
                let (lc, li, key) = (py_text(&t[0]), py_text(&t[1]), py_text(&t[2]));
                let Ok(lcls) = ctx.db.class(&lc) else {
                    continue;
                };
                let Some(lprop) = lcls.prop(&key) else {
                    continue;
                };
                if !ctx.db.has_node(&lc, &li).unwrap_or(false)
                    || (!showall && lprop.quiet)
                    || !may_see(ctx, &lc, Some(&key), None)
                    || !may_see(ctx, &lc, None, Some(&li))
                {
                    continue;
                }
                format!(
                    "<a rel=\"nofollow noopener\" href=\"{0}{1}\">{0}{1} {2}</a>",
                    escape(&lc),
                    escape(&li),
                    escape(&key)
                )
            }
            _ => continue,
        };
        let date = e.date.formal(&ctx.tz).replace(['.', ' '], "&nbsp;");
        let user = match ctx.db.get("user", &e.tag, "username") {
            Ok(Some(Value::String(u))) => u,
            _ => e.tag.clone(),
        };
        rows.push(format!(
            "<tr><td>{date}</td><td>{}</td><td>{}</td><td>{arg_s}</td></tr>",
            escape(&user),
            ctx.tr(&e.action)
        ));
    }
    let mut out = vec![
        "<table class=\"history table table-condensed table-striped\"><tr><th colspan=\"4\" class=\"header\">".to_string(),
        ctx.tr("History").to_string(),
        "</th></tr><tr>".to_string(),
        ctx.tr("<th>Date</th>").to_string(),
        ctx.tr("<th>User</th>").to_string(),
        ctx.tr("<th>Action</th>").to_string(),
        ctx.tr("<th>Args</th>").to_string(),
        "</tr>".to_string(),
    ];
    out.extend(rows);
    out.push("</table>".to_string());
    out.join("\n")
}
