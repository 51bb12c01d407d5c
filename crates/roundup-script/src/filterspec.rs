//! A small translation of Roundup filterspecs into the core's typed
//! [`Query`], enough for what detectors and permission filters usually
//! ask: links by id or key (with "-1" for "empty"), substring words on
//! String properties, exact strings via `exact_match_spec`, booleans,
//! numbers, date ranges, and `id`. Transitive paths (`assignedto.username`)
//! and other forms are refused with a message; the full filterspec parser
//! of the core replaces this when it lands.

use roundup_core::date::Range;
use roundup_core::filter::{Condition, Direction, Filter, LinkExpr, Query};
use roundup_core::schema::PropType;
use roundup_core::{Db, Error, Result, Value as CoreValue};
use starlark::values::dict::DictRef;
use starlark::values::Value;

use crate::convert::{dict_pairs, id_text, seq_items, str_list};
use crate::error::script_err;

/// The arguments of a filter call in plain form.
#[derive(Clone, Debug, Default)]
pub(crate) struct FilterArgs {
    pub spec: Vec<(String, Vec<String>)>,
    pub exact: Vec<(String, Vec<String>)>,
    pub search_ids: Option<Vec<String>>,
    pub sort: Vec<(Direction, String)>,
    pub group: Vec<(Direction, String)>,
    /// Roundup's retired argument: False active, True retired, None both.
    pub retired: Option<bool>,
    pub limit: Option<u64>,
    pub offset: u64,
}

fn spec_values(what: &str, v: Value) -> starlark::Result<Vec<(String, Vec<String>)>> {
    if v.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (prop, val) in dict_pairs(what, v)? {
        let vals = if let Some(s) = val.unpack_str() {
            vec![s.to_string()]
        } else if let Some(b) = val.unpack_bool() {
            vec![if b { "1" } else { "0" }.to_string()]
        } else if let Some(id) = id_text(val) {
            vec![id]
        } else {
            str_list(val).ok_or_else(|| {
                script_err(format!(
                    "{what}: the value for {prop} must be a str or a list of str, not {}",
                    val.to_repr()
                ))
            })?
        };
        out.push((prop, vals));
    }
    Ok(out)
}

fn sort_list(what: &str, v: Value) -> starlark::Result<Vec<(Direction, String)>> {
    if v.is_none() {
        return Ok(Vec::new());
    }
    let items = seq_items(v).unwrap_or_default();
    // a single ('+', 'prop') pair or a list of them
    let pairs: Vec<Value> = match items.as_slice() {
        [d, p] if d.unpack_str().is_some() && p.unpack_str().is_some() => vec![v],
        _ => items,
    };
    let mut out = Vec::new();
    for pair in pairs {
        let parts = seq_items(pair).unwrap_or_default();
        match parts.as_slice() {
            [d, p] => {
                let dir = match d.unpack_str() {
                    Some("-") => Direction::Desc,
                    Some("+") | None => Direction::Asc,
                    Some(other) => {
                        return Err(script_err(format!(
                            "{what}: direction must be '+' or '-', not {other:?}"
                        )))
                    }
                };
                match p.unpack_str() {
                    Some(p) => out.push((dir, p.to_string())),
                    None => {
                        return Err(script_err(format!(
                            "{what}: property name expected, got {}",
                            p.to_repr()
                        )))
                    }
                }
            }
            _ => {
                return Err(script_err(format!(
                    "{what}: expected ('+' or '-', property) pairs, got {}",
                    pair.to_repr()
                )))
            }
        }
    }
    Ok(out)
}

fn opt_u64(what: &str, v: Value) -> starlark::Result<Option<u64>> {
    if v.is_none() {
        return Ok(None);
    }
    match crate::convert::int_of(v) {
        Some(i) if i >= 0 => Ok(Some(i as u64)),
        _ => Err(script_err(format!(
            "{what} must be a non-negative int, not {}",
            v.to_repr()
        ))),
    }
}

impl FilterArgs {
    #[allow(clippy::too_many_arguments)]
    pub fn from_starlark(
        search_matches: Value,
        filterspec: Value,
        sort: Value,
        group: Value,
        retired: Value,
        exact_match_spec: Value,
        limit: Value,
        offset: Value,
    ) -> starlark::Result<FilterArgs> {
        let search_ids = if search_matches.is_none() {
            None
        } else if let Some(d) = DictRef::from_value(search_matches) {
            Some(d.iter().filter_map(|(k, _)| id_text(k)).collect())
        } else {
            Some(str_list(search_matches).ok_or_else(|| {
                script_err(format!(
                    "filter(): search_matches must be None, a list of ids or a dict keyed by id, not {}",
                    search_matches.to_repr()
                ))
            })?)
        };
        Ok(FilterArgs {
            spec: spec_values("filterspec", filterspec)?,
            exact: spec_values("exact_match_spec", exact_match_spec)?,
            search_ids,
            sort: sort_list("sort", sort)?,
            group: sort_list("group", group)?,
            retired: if retired.is_none() {
                None
            } else {
                Some(retired.to_bool())
            },
            limit: opt_u64("limit", limit)?,
            offset: opt_u64("offset", offset)?.unwrap_or(0),
        })
    }
}

fn unsupported(class: &str, prop: &str, why: &str) -> Error {
    Error::value(format!(
        "filter on {class}.{prop}: {why} is not supported by the script filter yet"
    ))
}

/// Build the query for `class`.
pub(crate) fn build_query(db: &Db, class: &str, args: &FilterArgs) -> Result<Query> {
    let cls = db.class(class)?;
    let mut q = Query::all(class);
    q.retired = match args.retired {
        Some(false) => Some(false),
        Some(true) => Some(true),
        None => None,
    };
    q.search_ids = args.search_ids.clone();
    q.limit = args.limit;
    q.offset = args.offset;
    q.sort = args
        .sort
        .iter()
        .map(|(d, p)| (*d, vec![p.clone()]))
        .collect();
    q.group = args
        .group
        .iter()
        .map(|(d, p)| (*d, vec![p.clone()]))
        .collect();
    let tz = db.user_timezone()?;
    let both = args
        .spec
        .iter()
        .map(|x| (x, false))
        .chain(args.exact.iter().map(|x| (x, true)));
    for ((prop, vals), exact) in both {
        if prop.contains('.') {
            return Err(unsupported(class, prop, "a transitive property path"));
        }
        if prop == "id" {
            let ids: Vec<String> = vals.clone();
            q.search_ids = Some(match q.search_ids.take() {
                Some(prev) => prev.into_iter().filter(|x| ids.contains(x)).collect(),
                None => ids,
            });
            continue;
        }
        let p = cls.require_prop(prop)?;
        let cond = match p.ptype {
            PropType::Link | PropType::Multilink => {
                let target = p.link_class.as_deref().unwrap_or_default();
                let tcls = db.class(target)?;
                let mut alts = Vec::new();
                for v in vals {
                    if v == "-1" {
                        alts.push(LinkExpr::Empty);
                    } else if v.bytes().all(|b| b.is_ascii_digit()) && !v.is_empty() {
                        alts.push(LinkExpr::Id(v.clone()));
                    } else if tcls.key.is_some() {
                        alts.push(LinkExpr::Id(db.lookup(target, v)?));
                    } else {
                        return Err(Error::value(format!(
                            "filter on {class}.{prop}: {v:?} is not an id of {target}"
                        )));
                    }
                }
                Condition::Links(match alts.len() {
                    1 => alts.remove(0),
                    _ => LinkExpr::Or(alts),
                })
            }
            PropType::String if exact => Condition::Exact(vals.clone()),
            PropType::String => {
                if vals.iter().any(|v| v == "-1") {
                    Condition::Empty
                } else {
                    Condition::Words(
                        vals.iter()
                            .flat_map(|v| v.split_whitespace().map(str::to_string))
                            .collect(),
                    )
                }
            }
            PropType::Boolean => {
                let mut out = Vec::new();
                for v in vals {
                    out.push(CoreValue::Boolean(match v.trim().to_lowercase().as_str() {
                        "1" | "yes" | "true" => true,
                        "0" | "no" | "false" => false,
                        _ => {
                            return Err(Error::value(format!(
                                "filter on {class}.{prop}: {v:?} is not a boolean"
                            )))
                        }
                    }));
                }
                Condition::Values(out)
            }
            PropType::Number | PropType::Integer => {
                let mut out = Vec::new();
                for v in vals {
                    let bad =
                        || Error::value(format!("filter on {class}.{prop}: {v:?} is not a number"));
                    out.push(if p.ptype == PropType::Integer {
                        CoreValue::Integer(v.trim().parse().map_err(|_| bad())?)
                    } else {
                        CoreValue::Number(v.trim().parse().map_err(|_| bad())?)
                    });
                }
                Condition::Values(out)
            }
            PropType::Date => match vals.as_slice() {
                [spec] => {
                    let r = Range::parse_date_range(spec, &tz).map_err(|e| {
                        Error::value(format!("filter on {class}.{prop}: {spec:?}: {e}"))
                    })?;
                    Condition::DateRange {
                        from: r.from,
                        to: r.to,
                    }
                }
                _ => return Err(unsupported(class, prop, "more than one date range")),
            },
            PropType::Interval | PropType::Password => {
                return Err(unsupported(class, prop, p.ptype.name()))
            }
        };
        q.filters.push(Filter {
            path: vec![prop.clone()],
            cond,
        });
    }
    Ok(q)
}
