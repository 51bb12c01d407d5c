//! The index arguments of a web request (Roundup's `HTMLRequest`):
//! `@columns`, `@sort`, `@group`, `@filter` with the filter values,
//! `@search_text`, `@pagesize`, `@startwith` and `@dispname` (each also
//! with a `:` prefix), parsed once and turned into the core filter query.
//!
//! The index page and its "Download as CSV" export read their arguments
//! here, so the export lists the items the page lists. Sort, group and
//! filter properties the user may not search are dropped, as Roundup's
//! `filterSortspec` / `filterFilterspec` drop them.

use std::sync::Arc;

use crate::authz::Subject;
use crate::db::Db;
use crate::error::Result;
use crate::filter::{Direction, FilterSpec, IdSet, SpecValue};
use crate::schema::{Property, Schema};

/// Default number of rows on an index page.
pub const DEFAULT_PAGESIZE: usize = 50;
/// Largest page size honoured (protects the server from huge pages).
pub const MAX_PAGESIZE: usize = 5000;

/// Where the arguments come from: the request's form and query string.
pub trait Args {
    /// Call `f` with every (name, text value) pair, in order.
    fn each<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str));

    /// Every text value given for `name`, in order.
    fn values(&self, name: &str) -> Vec<&str> {
        let mut out = Vec::new();
        self.each(&mut |k, v| {
            if k == name {
                out.push(v);
            }
        });
        out
    }
}

impl Args for [(String, String)] {
    fn each<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        for (k, v) in self {
            f(k, v);
        }
    }
}

impl Args for Vec<(String, String)> {
    fn each<'a>(&'a self, f: &mut dyn FnMut(&'a str, &'a str)) {
        self.as_slice().each(f)
    }
}

/// The `@name` / `:name` arguments of a request, gathered in one pass
/// (there are few; each lookup scans them).
struct Specials<'a> {
    /// (spelled with `@`, name without the prefix, value)
    items: Vec<(bool, &'a str, &'a str)>,
}

impl<'a> Specials<'a> {
    fn new(args: &'a (impl Args + ?Sized)) -> Specials<'a> {
        let mut items = Vec::new();
        args.each(&mut |k, v| {
            if let Some(rest) = k.strip_prefix('@') {
                items.push((true, rest, v));
            } else if let Some(rest) = k.strip_prefix(':') {
                items.push((false, rest, v));
            }
        });
        Specials { items }
    }

    /// The values of `name` with one spelling.
    fn spelled(&self, at: bool, name: &str) -> Vec<&'a str> {
        self.items
            .iter()
            .filter(|(a, n, _)| *a == at && *n == name)
            .map(|(_, _, v)| *v)
            .collect()
    }

    /// The first value, with one spelling, of `name` followed by `middle`
    /// and the number `i` (`sort0`, `sortdir0`).
    fn numbered(&self, at: bool, name: &str, middle: &str, i: usize) -> Option<&'a str> {
        self.items
            .iter()
            .find(|(a, n, _)| {
                *a == at
                    && n.strip_prefix(name)
                        .and_then(|r| r.strip_prefix(middle))
                        .is_some_and(|r| {
                            !r.is_empty()
                                && r.bytes().all(|b| b.is_ascii_digit())
                                && !(r.len() > 1 && r.starts_with('0'))
                                && r.parse::<usize>().ok() == Some(i)
                        })
            })
            .map(|(_, _, v)| *v)
    }

    /// The values of `@name`, else of `:name`.
    fn values(&self, name: &str) -> Vec<&'a str> {
        let v = self.spelled(true, name);
        if v.is_empty() {
            self.spelled(false, name)
        } else {
            v
        }
    }
}

/// Repeated and comma-separated values as trimmed, non-empty pieces.
fn list_of(values: &[&str]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// One filter of the request: property, values, and whether the values
/// are a list (Link/Multilink, `id`, or repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterArg {
    pub prop: String,
    pub values: Vec<String>,
    pub list: bool,
}

/// The index arguments of a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexArgs {
    pub columns: Vec<String>,
    /// (descending, property)
    pub sort: Vec<(bool, String)>,
    pub group: Vec<(bool, String)>,
    /// The `@filter` names as given.
    pub filter: Vec<String>,
    /// The filters that apply (given, known and searchable).
    pub filterspec: Vec<FilterArg>,
    pub search_text: Option<String>,
    pub pagesize: usize,
    pub startwith: usize,
    pub dispname: Option<String>,
}

/// Resolve a dotted property path from `class`.
pub fn resolve_prop<'s>(schema: &'s Schema, class: &str, dotted: &str) -> Option<&'s Property> {
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

/// `@sort0`/`@sortdir0`... or `@sort=a,-b` (with `@sortdir` for the
/// first) into (descending, property) pairs; `@` before `:`.
fn parse_order(sp: &Specials<'_>, name: &str) -> Vec<(bool, String)> {
    for at in [true, false] {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(field) = sp.numbered(at, name, "", i) {
            let dir = sp
                .numbered(at, name, "dir", i)
                .is_some_and(|d| !d.is_empty());
            if !field.trim().is_empty() {
                push_order(&mut out, field.trim(), dir);
            }
            i += 1;
        }
        if out.is_empty() {
            let dirname = format!("{name}dir");
            let dir = sp
                .spelled(at, &dirname)
                .first()
                .is_some_and(|d| !d.is_empty());
            let fields = list_of(&sp.spelled(at, name));
            for (j, f) in fields.into_iter().enumerate() {
                push_order(&mut out, &f, dir && j == 0);
            }
        }
        if !out.is_empty() {
            return out;
        }
    }
    Vec::new()
}

fn push_order(out: &mut Vec<(bool, String)>, field: &str, dir: bool) {
    match field.strip_prefix('-') {
        Some(p) => out.push((true, p.to_string())),
        None => out.push((dir, field.trim_start_matches('+').to_string())),
    }
}

impl IndexArgs {
    /// Parse the arguments for an index of `class` seen by `who`.
    /// Without a class (the home page) nothing is checked against the
    /// schema and there are no filters.
    pub fn parse(
        db: &Db,
        who: &Subject,
        class: Option<&str>,
        args: &(impl Args + ?Sized),
    ) -> IndexArgs {
        let known = |name: &str| match class {
            Some(c) => resolve_prop(db.schema(), c, name).is_some() && who.may_search(db, c, name),
            None => true,
        };
        let sp = Specials::new(args);
        let columns = list_of(&sp.values("columns"));
        let sort = parse_order(&sp, "sort")
            .into_iter()
            .filter(|(_, p)| known(p))
            .collect();
        let group = parse_order(&sp, "group")
            .into_iter()
            .filter(|(_, p)| known(p))
            .collect();
        let filter = list_of(&sp.values("filter"));
        let mut filterspec = Vec::new();
        if let Some(c) = class {
            for name in &filter {
                let raw = args.values(name);
                if raw.is_empty() || !known(name) {
                    continue;
                }
                let Some(p) = resolve_prop(db.schema(), c, name) else {
                    continue;
                };
                let (values, list) = if p.is_pointer() || name == "id" || name.ends_with(".id") {
                    (list_of(&raw), true)
                } else {
                    let list = raw.len() > 1;
                    (raw.iter().map(|s| s.to_string()).collect(), list)
                };
                filterspec.push(FilterArg {
                    prop: name.clone(),
                    values,
                    list,
                });
            }
        }
        let first = |name: &str| sp.values(name).first().map(|s| s.to_string());
        let search_text = first("search_text")
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty());
        let pagesize = first("pagesize")
            .and_then(|s| s.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .map(|n| n.min(MAX_PAGESIZE))
            .unwrap_or(DEFAULT_PAGESIZE);
        let startwith = first("startwith")
            .and_then(|s| s.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let dispname = sp
            .spelled(true, "dispname")
            .first()
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string());
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

    /// The filter query of these arguments, without the full-text part
    /// (see [`IndexArgs::search_matches`]) and without paging.
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
                .map(|f| {
                    let sv = if f.list || f.values.len() != 1 {
                        SpecValue::Many(f.values.clone())
                    } else {
                        SpecValue::One(f.values[0].clone())
                    };
                    (f.prop.clone(), sv)
                })
                .collect(),
            sort: order(&self.sort),
            group: order(&self.group),
            ..FilterSpec::default()
        }
    }

    /// The items of `class` the full-text search matches, when there is
    /// one (kept in the shared read cache until the next commit).
    pub fn search_matches(&self, db: &Db, class: &str) -> Result<Option<Arc<IdSet>>> {
        let Some(text) = &self.search_text else {
            return Ok(None);
        };
        let key = format!("search_matches\0{class}\0{text}");
        Ok(Some(db.cached_id_set(&key, || {
            full_text_matches(db, class, text)
        })?))
    }

    /// The whole query: filters, order and full-text matches.
    pub fn query(&self, db: &Db, class: &str) -> Result<FilterSpec> {
        let mut spec = self.filter_spec();
        spec.search_matches = self.search_matches(db, class)?;
        Ok(spec)
    }
}

/// The words of a full-text search: runs of letters and digits, at least
/// two characters long.
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_string)
        .collect()
}

/// Items of `class` matching the full-text words, directly or through a
/// Link/Multilink to an item that matched (an issue's messages and files).
pub fn full_text_matches(db: &Db, class: &str, text: &str) -> Result<IdSet> {
    let words = search_words(text);
    if words.is_empty() {
        return Ok(IdSet::default());
    }
    if let Some(found) = db.search_text_owners(&words, class)? {
        return Ok(found);
    }
    let hits = db.search_text(&words, None)?;
    let mut out: Vec<u32> = Vec::new();
    let mut by_class: std::collections::BTreeMap<String, indexmap::IndexSet<String>> =
        Default::default();
    for h in hits {
        if h.class == class {
            out.extend(h.id.parse::<u32>().ok());
        } else {
            by_class.entry(h.class).or_default().insert(h.id);
        }
    }
    let cls = db.class(class)?;
    for (pname, p) in &cls.props {
        if p.is_computed() {
            continue;
        }
        let Some(target) = &p.link_class else {
            continue;
        };
        if let Some(ids) = by_class.get(target) {
            let ids: Vec<String> = ids.iter().cloned().collect();
            let linking = db.find_linking_ids(class, pname, &ids)?;
            out.extend(linking.iter().filter_map(|i| i.parse::<u32>().ok()));
        }
    }
    Ok(IdSet::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn order_forms() {
        let order = |a: &Vec<(String, String)>, name: &str| parse_order(&Specials::new(a), name);
        let a = args(&[("@sort", "-activity,title")]);
        assert_eq!(
            order(&a, "sort"),
            vec![(true, "activity".into()), (false, "title".into())]
        );
        let a = args(&[("@sort", "title"), ("@sortdir", "on")]);
        assert_eq!(order(&a, "sort"), vec![(true, "title".into())]);
        let a = args(&[
            ("@sort0", "status"),
            ("@sortdir0", "1"),
            ("@sort1", "+id"),
            ("@sort", "ignored"),
        ]);
        assert_eq!(
            order(&a, "sort"),
            vec![(true, "status".into()), (false, "id".into())]
        );
        // the ':' spelling
        let a = args(&[(":group", "priority")]);
        assert_eq!(order(&a, "group"), vec![(false, "priority".into())]);
        assert!(order(&args(&[]), "sort").is_empty());
        // numbered fields stop at the first gap; `sortdir` is not `sort`
        let a = args(&[("@sort0", "a"), ("@sort2", "c"), ("@sortdir", "x")]);
        assert_eq!(order(&a, "sort"), vec![(false, "a".into())]);
    }

    #[test]
    fn words() {
        assert_eq!(
            search_words("a foo-bar, x baz2"),
            vec!["foo".to_string(), "bar".into(), "baz2".into()]
        );
        assert!(search_words("a b").is_empty());
    }

    #[test]
    fn list_values() {
        assert_eq!(
            list_of(&["a, b", "", "c"]),
            vec!["a".to_string(), "b".into(), "c".into()]
        );
        let a = args(&[(":columns", "id,title")]);
        assert_eq!(Specials::new(&a).values("columns"), vec!["id,title"]);
        let a = args(&[(":columns", "x"), ("@columns", "y")]);
        assert_eq!(Specials::new(&a).values("columns"), vec!["y"]);
        assert_eq!(a.values("@columns"), vec!["y"]);
    }
}
