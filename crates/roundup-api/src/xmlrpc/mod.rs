//! Roundup's XML-RPC interface (`/xmlrpc`): schema, list, display,
//! create, set, filter, lookup and action (retire/restore), plus
//! `system.multicall`, with Roundup's fault codes and messages.
//!
//! Authentication is the server's (see [`crate::rest::authenticate`]);
//! [`handle`] checks the "Xmlrpc Access" permission and the API CSRF
//! header rules, then runs the call with the caller's permissions. The
//! rules (permissions, CSRF, designators) are roundup-core's.

pub mod codec;

use roundup_core::authz::{check_retirable, Subject};
use roundup_core::csrf::RefusalKind;
use roundup_core::designator;
use roundup_core::filter::{Direction, FilterSpec, IdSet, SpecValue};
use roundup_core::{Db, Error, Value, Values};

use crate::rest::{
    check_csrf, subject_of, Api, ApiAuth, ApiConfig, ApiRequest, ApiResponse, Frontend,
};
use codec::XValue;

/// A fault: XML-RPC code and message.
#[derive(Debug, Clone, PartialEq)]
struct Fault(i64, String);

/// Python exception classes as Roundup's faults name them.
fn exc(kind: &str, msg: impl std::fmt::Display) -> Fault {
    let cls = match kind {
        "Unauthorised" => "roundup.exceptions.Unauthorised",
        "UsageError" => "roundup.exceptions.UsageError",
        "Reject" => "roundup.exceptions.Reject",
        "DesignatorError" => "roundup.hyperdb.DesignatorError",
        other => other,
    };
    Fault(1, format!("<class '{cls}'>:{msg}"))
}

fn key_error(msg: &str) -> Fault {
    exc("KeyError", format!("'{msg}'"))
}

fn xml_response(body: Vec<u8>) -> ApiResponse {
    ApiResponse {
        status: 200,
        headers: vec![("Content-Type".into(), "text/xml".into())],
        body,
    }
}

/// Answer one XML-RPC request for an already authenticated caller.
pub fn handle(api: &Api<'_>, db: &Db, auth: &ApiAuth, req: &ApiRequest) -> ApiResponse {
    let cfg = ApiConfig(api.tracker);
    if !cfg.bool("web", "enable_xmlrpc", true) {
        return ApiResponse {
            status: 404,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: b"The XML-RPC interface is disabled ([web] enable_xmlrpc).".to_vec(),
        };
    }
    let ctype = req.header("content-type").unwrap_or("");
    if ctype.split(';').next().unwrap_or("").trim() != "text/xml" {
        return ApiResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"This is the endpoint of Roundup <a href='https://www.roundup-tracker.org/docs/xmlrpc.html'>XML-RPC interface</a>.".to_vec(),
        };
    }
    let perms = subject_of(db, auth);
    db.set_uid(&perms.userid);
    db.set_tx_source(Some(roundup_core::TxSource::Xmlrpc));
    if !perms.may(db, Frontend::Xmlrpc.access_permission(), None, None, None) {
        return xml_response(codec::fault(403, "Forbidden"));
    }
    let base = cfg.tracker_web(&req.base);
    if let Err(e) = check_csrf(&api.state.csrf, &base, req, &perms.userid) {
        let kind = match e.kind {
            RefusalKind::Unauthorised => "Unauthorised",
            RefusalKind::Usage => "UsageError",
        };
        return xml_response(codec::fault(1, &exc(kind, &e.message).1));
    }
    let call = match codec::parse_call(&req.body) {
        Ok(c) => c,
        Err(e) => {
            return xml_response(codec::fault(
                1,
                &format!("<class 'xml.parsers.expat.ExpatError'>:{e}"),
            ))
        }
    };
    let x = Rpc { db, perms: &perms };
    let body = match call.method.as_str() {
        "system.multicall" => codec::response(&x.multicall(&call.params)),
        m => match x.call(m, &call.params) {
            Ok(v) => codec::response(&v),
            Err(Fault(code, msg)) => codec::fault(code, &msg),
        },
    };
    xml_response(body)
}

struct Rpc<'a> {
    db: &'a Db,
    perms: &'a Subject,
}

fn text_arg(params: &[XValue], i: usize, method: &str, name: &str) -> Result<String, Fault> {
    match params.get(i) {
        Some(v) => v.as_text().ok_or_else(|| {
            exc(
                "TypeError",
                format!("{method}(): argument '{name}' must be a string"),
            )
        }),
        None => Err(exc(
            "TypeError",
            format!("RoundupInstance.{method}() missing 1 required positional argument: '{name}'"),
        )),
    }
}

/// A value as Roundup sends it (dates and intervals as their repr).
fn to_x(v: &Option<Value>) -> XValue {
    match v {
        None => XValue::Nil,
        Some(Value::String(s)) | Some(Value::Link(s)) => XValue::Str(s.clone()),
        Some(Value::Multilink(ids)) => {
            XValue::Array(ids.iter().map(|i| XValue::Str(i.clone())).collect())
        }
        Some(Value::Date(d)) => XValue::Str(format!("<Date {}>", d.formal_millis())),
        Some(Value::Interval(i)) => XValue::Str(format!("<Interval {i}>")),
        Some(Value::Password(p)) => {
            XValue::Str(format!("[password hidden scheme {}]", p.scheme().name()))
        }
        Some(Value::Boolean(b)) => XValue::Bool(*b),
        Some(Value::Number(n)) => XValue::Double(*n),
        Some(Value::Integer(i)) => XValue::Int(*i),
    }
}

fn split_designator(d: &str) -> Result<(String, String), Fault> {
    designator::split(d)
        .map(|(c, i)| (c.to_string(), i.to_string()))
        .map_err(|e| exc("DesignatorError", e))
}

/// A permission refusal of the core as Roundup's `Unauthorised` fault.
fn refused(e: Error) -> Fault {
    match e {
        Error::Unauthorised(m) => exc("Unauthorised", m),
        other => exc("Exception", other),
    }
}

impl Rpc<'_> {
    fn has(&self, perm: &str, class: Option<&str>, prop: Option<&str>, item: Option<&str>) -> bool {
        self.perms.may(self.db, perm, class, prop, item)
    }

    fn class(&self, name: &str) -> Result<&roundup_core::ClassDef, Fault> {
        self.db
            .class(name)
            .map_err(|_| key_error(&format!("There is no class called \"{name}\"")))
    }

    fn need_item(&self, class: &str, id: &str) -> Result<(), Fault> {
        match self.db.has_node(class, id) {
            Ok(true) => Ok(()),
            _ => Err(exc("IndexError", format!("no such {class} {id}"))),
        }
    }

    fn multicall(&self, params: &[XValue]) -> XValue {
        let Some(XValue::Array(calls)) = params.first() else {
            return XValue::Array(Vec::new());
        };
        let mut out = Vec::new();
        for c in calls {
            let mut name = None;
            let mut args = Vec::new();
            if let XValue::Struct(members) = c {
                for (k, v) in members {
                    match (k.as_str(), v) {
                        ("methodName", XValue::Str(s)) => name = Some(s.clone()),
                        ("params", XValue::Array(a)) => args = a.clone(),
                        _ => {}
                    }
                }
            }
            let r = match name.as_deref() {
                Some("system.multicall") => {
                    Err(exc("Exception", "recursive system.multicall forbidden"))
                }
                Some(n) => self.call(n, &args),
                None => Err(exc("Exception", "missing methodName")),
            };
            out.push(match r {
                Ok(v) => XValue::Array(vec![v]),
                Err(Fault(code, msg)) => XValue::Struct(vec![
                    ("faultCode".into(), XValue::Int(code)),
                    ("faultString".into(), XValue::Str(msg)),
                ]),
            });
        }
        XValue::Array(out)
    }

    fn call(&self, method: &str, params: &[XValue]) -> Result<XValue, Fault> {
        match method {
            "schema" => self.schema(),
            "list" => self.list(params),
            "display" => self.display(params),
            "create" => self.create(params),
            "set" => self.set(params),
            "filter" => self.filter(params),
            "lookup" => self.lookup(params),
            "action" => self.action(params),
            other => Err(exc(
                "Exception",
                format!("method \"{other}\" is not supported"),
            )),
        }
    }

    fn schema(&self) -> Result<XValue, Fault> {
        let mut out = Vec::new();
        for (name, cls) in &self.db.schema().classes {
            let mut props: Vec<(&String, &roundup_core::Property)> = cls.props.iter().collect();
            props.sort_by(|a, b| a.0.cmp(b.0));
            let list = props
                .into_iter()
                .map(|(n, p)| {
                    XValue::Array(vec![XValue::Str(n.clone()), XValue::Str(p.schema_repr())])
                })
                .collect();
            out.push((name.clone(), XValue::Array(list)));
        }
        Ok(XValue::Struct(out))
    }

    fn list(&self, params: &[XValue]) -> Result<XValue, Fault> {
        let class = text_arg(params, 0, "list", "classname")?;
        let cls = self.class(&class)?;
        let prop = match params
            .get(1)
            .and_then(XValue::as_text)
            .filter(|s| !s.is_empty())
        {
            Some(p) => p,
            None => cls.label_prop(false),
        };
        if cls.prop(&prop).is_none() {
            return Err(key_error(&prop));
        }
        let ids = self.db.list(&class).map_err(|e| exc("ValueError", e))?;
        let mut out = Vec::new();
        for id in ids {
            if self.has("View", Some(&class), Some(&prop), Some(&id)) {
                let v = self
                    .db
                    .get(&class, &id, &prop)
                    .map_err(|e| exc("ValueError", e))?;
                out.push(to_x(&v));
            }
        }
        Ok(XValue::Array(out))
    }

    fn display(&self, params: &[XValue]) -> Result<XValue, Fault> {
        let designator = text_arg(params, 0, "display", "designator")?;
        let (class, id) = split_designator(&designator)?;
        let cls = self.class(&class)?;
        let mut props: Vec<String> = if params.len() > 1 {
            params[1..].iter().filter_map(XValue::as_text).collect()
        } else {
            cls.props.keys().cloned().collect()
        };
        props.sort();
        self.perms
            .check_view(self.db, &class, &id, props.iter().map(String::as_str))
            .map_err(refused)?;
        self.need_item(&class, &id)?;
        let mut out = Vec::new();
        for p in props {
            if cls.prop(&p).is_none() {
                return Err(key_error(&p));
            }
            let v = self
                .db
                .get(&class, &id, &p)
                .map_err(|e| exc("ValueError", e))?;
            out.push((p, to_x(&v)));
        }
        Ok(XValue::Struct(out))
    }

    fn props_from_args(
        &self,
        class: &str,
        args: &[XValue],
        itemid: Option<&str>,
    ) -> Result<Values, Fault> {
        let cls = self.class(class)?;
        let mut values = Values::new();
        for a in args {
            let text = a.as_text().unwrap_or_default();
            let Some((k, v)) = text.split_once('=') else {
                return Err(exc(
                    "UsageError",
                    format!("argument \"{text}\" not propname=value"),
                ));
            };
            if cls.prop(k).is_none() {
                return Err(key_error(&format!("{class} has no property \"{k}\"")));
            }
            if v.is_empty() {
                let empty = if cls.is_file_content(k) {
                    Some(Value::String(String::new()))
                } else {
                    None
                };
                values.insert(k.to_string(), empty);
                continue;
            }
            let val = self
                .db
                .raw_to_value(class, k, v, itemid)
                .map_err(|e| exc("UsageError", e))?;
            values.insert(k.to_string(), val);
        }
        Ok(values)
    }

    fn write_fault(&self, e: Error) -> Fault {
        let _ = self.db.rollback();
        match e {
            Error::Reject(m) => exc("Reject", m),
            Error::Unauthorised(m) => exc("Unauthorised", m),
            Error::NoSuchNode { class, id } => exc("IndexError", format!("no such {class} {id}")),
            other => exc("UsageError", other),
        }
    }

    fn create(&self, params: &[XValue]) -> Result<XValue, Fault> {
        let class = text_arg(params, 0, "create", "classname")?;
        self.perms
            .check_create_class(self.db, &class)
            .map_err(refused)?;
        let cls = self.class(&class)?;
        let values = self.props_from_args(&class, &params[1..], None)?;
        if let Some(key) = &cls.key {
            if !values.contains_key(key) {
                return Err(exc(
                    "UsageError",
                    format!("you must provide the \"{key}\" property."),
                ));
            }
        }
        self.perms
            .check_create(self.db, &class, values.keys().map(String::as_str))
            .map_err(refused)?;
        let values: Values = values.into_iter().filter(|(_, v)| v.is_some()).collect();
        match self
            .db
            .create(&class, values)
            .and_then(|id| self.db.commit().map(|_| id))
        {
            Ok(id) => Ok(XValue::Str(id)),
            Err(e) => Err(self.write_fault(e)),
        }
    }

    fn set(&self, params: &[XValue]) -> Result<XValue, Fault> {
        let designator = text_arg(params, 0, "set", "designator")?;
        let (class, id) = split_designator(&designator)?;
        self.class(&class)?;
        self.need_item(&class, &id)?;
        let values = self.props_from_args(&class, &params[1..], Some(&id))?;
        self.perms
            .check_edit(self.db, &class, &id, values.keys().map(String::as_str))
            .map_err(refused)?;
        match self
            .db
            .set(&class, &id, values)
            .and_then(|c| self.db.commit().map(|_| c))
        {
            Ok(changed) => Ok(XValue::Struct(
                changed.iter().map(|(k, v)| (k.clone(), to_x(v))).collect(),
            )),
            Err(e) => Err(self.write_fault(e)),
        }
    }

    fn sort_arg(v: Option<&XValue>) -> Vec<(Option<Direction>, String)> {
        let pair = |x: &XValue| -> Option<(Option<Direction>, String)> {
            let XValue::Array(p) = x else { return None };
            let dir = p.first()?.as_text()?;
            let prop = p.get(1)?.as_text()?;
            Some((
                Some(if dir == "-" {
                    Direction::Desc
                } else {
                    Direction::Asc
                }),
                prop,
            ))
        };
        match v {
            Some(XValue::Array(items)) => {
                if let Some(p) = pair(&XValue::Array(items.clone())).filter(|_| {
                    items.len() == 2
                        && matches!(items[0], XValue::Str(_))
                        && items[0].as_text().is_some_and(|d| d == "+" || d == "-")
                }) {
                    vec![p]
                } else {
                    items.iter().filter_map(pair).collect()
                }
            }
            _ => Vec::new(),
        }
    }

    fn filter(&self, params: &[XValue]) -> Result<XValue, Fault> {
        let class = text_arg(params, 0, "filter", "classname")?;
        self.class(&class)?;
        let search_matches = match params.get(1) {
            None => {
                return Err(exc(
                    "TypeError",
                    "RoundupInstance.filter() missing 2 required positional arguments: 'search_matches' and 'filterspec'",
                ))
            }
            Some(XValue::Nil) => None,
            Some(v) => {
                let ids: Vec<String> = match v {
                    XValue::Array(ids) => ids.iter().filter_map(XValue::as_text).collect(),
                    other => other.as_text().into_iter().collect(),
                };
                Some(std::sync::Arc::new(
                    IdSet::parse(&class, &ids).map_err(|e| exc("ValueError", e))?,
                ))
            }
        };
        let mut spec = FilterSpec {
            search_matches,
            ..FilterSpec::default()
        };
        match params.get(2) {
            Some(XValue::Struct(members)) => {
                for (k, v) in members {
                    if !self.perms.may_search(self.db, &class, k) {
                        continue;
                    }
                    let sv = match v {
                        XValue::Array(items) => {
                            SpecValue::Many(items.iter().filter_map(XValue::as_text).collect())
                        }
                        XValue::Nil => continue,
                        other => SpecValue::One(other.as_text().unwrap_or_default()),
                    };
                    spec.filterspec.push((k.clone(), sv));
                }
            }
            Some(XValue::Nil) | None => {
                if params.len() < 3 {
                    return Err(exc(
                        "TypeError",
                        "RoundupInstance.filter() missing 1 required positional argument: 'filterspec'",
                    ));
                }
            }
            Some(_) => return Err(exc("AttributeError", "filterspec must be a struct")),
        }
        let may = |(_, p): &(Option<Direction>, String)| self.perms.may_search(self.db, &class, p);
        spec.sort = Self::sort_arg(params.get(3))
            .into_iter()
            .filter(may)
            .collect();
        spec.group = Self::sort_arg(params.get(4))
            .into_iter()
            .filter(may)
            .collect();
        let ids = self
            .db
            .filter(&class, &spec)
            .map_err(|e| exc("ValueError", e))?;
        let ids = self.perms.visible(self.db, &class, ids);
        Ok(XValue::Array(ids.into_iter().map(XValue::Str).collect()))
    }

    fn lookup(&self, params: &[XValue]) -> Result<XValue, Fault> {
        let class = text_arg(params, 0, "lookup", "classname")?;
        let key = text_arg(params, 1, "lookup", "key")?;
        let cls = self.class(&class)?;
        let Some(kp) = cls.key.clone() else {
            return Err(exc(
                "TypeError",
                format!("No key property set for class {class}"),
            ));
        };
        if !self.perms.may_search(self.db, &class, &kp)
            && !self.has("View", Some(&class), Some(&kp), None)
        {
            return Err(exc(
                "Unauthorised",
                format!("Permission to lookup {class} denied"),
            ));
        }
        self.db
            .lookup(&class, &key)
            .map(XValue::Str)
            .map_err(|_| key_error(&format!("No key ({kp}) value \"{key}\" for \"{class}\"")))
    }

    fn action(&self, params: &[XValue]) -> Result<XValue, Fault> {
        let name = text_arg(params, 0, "action", "name")?;
        if name != "retire" && name != "restore" {
            return Err(exc(
                "Exception",
                format!("action \"{name}\" is not supported "),
            ));
        }
        let designator = text_arg(params, 1, "action", "designator")?;
        let (class, id) = split_designator(&designator)?;
        self.class(&class)?;
        self.perms
            .check_retire_or_restore(self.db, &class, &id)
            .map_err(refused)?;
        self.need_item(&class, &id)?;
        if name == "retire" {
            check_retirable(self.db, &class, &id).map_err(|e| exc("ValueError", e))?;
        }
        let r = if name == "retire" {
            self.db.retire(&class, &id)
        } else {
            self.db.restore(&class, &id)
        };
        r.and_then(|_| self.db.commit())
            .map_err(|e| self.write_fault(e))?;
        Ok(XValue::Nil)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designators() {
        assert_eq!(
            split_designator("issue12").unwrap(),
            ("issue".to_string(), "12".to_string())
        );
        assert!(split_designator("bogus").is_err());
        assert!(split_designator("12").is_err());
        assert_eq!(
            split_designator("bogus").unwrap_err().1,
            "<class 'roundup.hyperdb.DesignatorError'>:\"bogus\" not a node designator"
        );
    }
}
