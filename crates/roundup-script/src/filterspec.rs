//! The arguments of a script's `cl.filter(...)` call, turned into the
//! core's raw [`FilterSpec`].

use roundup_core::filter::{Direction, FilterSpec, SpecValue};
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

impl FilterArgs {
    /// The core's raw filterspec for these arguments; `Db::filter` parses
    /// it with Roundup's full semantics (transitive paths, expressions,
    /// date ranges, ...).
    pub(crate) fn to_spec(&self) -> FilterSpec {
        let values = |list: &[(String, Vec<String>)]| -> Vec<(String, SpecValue)> {
            list.iter()
                .map(|(k, v)| {
                    let v = match v.as_slice() {
                        [one] => SpecValue::One(one.clone()),
                        _ => SpecValue::Many(v.clone()),
                    };
                    (k.clone(), v)
                })
                .collect()
        };
        FilterSpec {
            search_matches: self.search_ids.clone().map(std::sync::Arc::new),
            filterspec: values(&self.spec),
            exact_match: values(&self.exact),
            sort: self
                .sort
                .iter()
                .map(|(d, p)| (Some(*d), p.clone()))
                .collect(),
            group: self
                .group
                .iter()
                .map(|(d, p)| (Some(*d), p.clone()))
                .collect(),
            retired: self.retired,
            limit: self.limit,
            offset: (self.offset > 0).then_some(self.offset),
        }
    }
}
