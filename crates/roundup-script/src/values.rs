//! The Starlark value types scripts handle: the `db` object, class
//! objects, property definitions, permission handles, config, dates.
//!
//! None of them holds a Starlark value or anything tied to one evaluation;
//! what they act on (the schema being built, the open database) comes from
//! the evaluator's context when a method runs.

use std::fmt;
use std::sync::Arc;

use allocative::Allocative;
use roundup_core::date::{Date, Interval};
use roundup_core::schema::{ClassKind, PropType, Property};
use roundup_core::Value as CoreValue;
use starlark::environment::Methods;
use starlark::eval::{Arguments, Evaluator};
use starlark::starlark_simple_value;
use starlark::values::dict::AllocDict;
use starlark::values::{
    starlark_value, Heap, NoSerialize, ProvidesStaticType, StarlarkPagablePanic, StarlarkValue,
    Value, ValueLike,
};

use crate::config::ConfigView;
use crate::convert::to_starlark;
use crate::error::script_err;

macro_rules! simple_type {
    ($t:ident) => {
        starlark_simple_value!($t);
    };
}

/// Roundup's `db`. Attribute access gives class objects (`db.issue`),
/// `db.security` and `db.config`.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct DbObj {
    /// The classes `db.<name>` gives; `None` while schema.py runs and
    /// classes are still being added (any name is accepted then, and
    /// methods of an undefined class fail).
    #[allocative(skip)]
    pub classes: Option<Arc<Vec<String>>>,
    #[allocative(skip)]
    pub config: Arc<ConfigView>,
}
simple_type!(DbObj);

impl fmt::Display for DbObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<roundup db>")
    }
}

#[starlark_value(type = "roundup_db")]
impl<'v> StarlarkValue<'v> for DbObj {
    fn get_methods() -> Option<&'static Methods> {
        crate::api::db_methods()
    }

    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        match attribute {
            "security" => Some(heap.alloc(SecurityObj)),
            "config" => Some(heap.alloc(ConfigObj(self.config.clone()))),
            name if self
                .classes
                .as_ref()
                .is_none_or(|cs| cs.iter().any(|c| c == name)) =>
            {
                Some(heap.alloc(ClassObj {
                    name: name.to_string(),
                }))
            }
            _ => None,
        }
    }

    fn dir_attr(&self) -> Vec<String> {
        let mut v = vec!["security".to_string(), "config".to_string()];
        if let Some(cs) = &self.classes {
            v.extend(cs.iter().cloned());
        }
        v
    }
}

/// `db.security`.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct SecurityObj;
simple_type!(SecurityObj);

impl fmt::Display for SecurityObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<roundup security>")
    }
}

#[starlark_value(type = "roundup_security")]
impl<'v> StarlarkValue<'v> for SecurityObj {
    fn get_methods() -> Option<&'static Methods> {
        crate::api::security_methods()
    }
}

/// A hyperdb class (`db.issue`, the result of `Class(db, ...)`).
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct ClassObj {
    pub name: String,
}
simple_type!(ClassObj);

impl fmt::Display for ClassObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<hyperdb.Class \"{}\">", self.name)
    }
}

#[starlark_value(type = "roundup_class")]
impl<'v> StarlarkValue<'v> for ClassObj {
    fn get_methods() -> Option<&'static Methods> {
        crate::api::class_methods()
    }

    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        match attribute {
            "classname" => Some(heap.alloc(self.name.as_str())),
            _ => None,
        }
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(other
            .downcast_ref::<ClassObj>()
            .is_some_and(|o| o.name == self.name))
    }
}

/// A property definition (`String()`, `Link("user")`, ...).
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct PropObj(#[allocative(skip)] pub Property);
simple_type!(PropObj);

impl fmt::Display for PropObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.schema_repr())
    }
}

#[starlark_value(type = "roundup_property")]
impl<'v> StarlarkValue<'v> for PropObj {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        let p = &self.0;
        Some(match attribute {
            "type" => heap.alloc(p.ptype.name()),
            "classname" => match &p.link_class {
                Some(c) => heap.alloc(c.as_str()),
                None => Value::new_none(),
            },
            "required" => Value::new_bool(p.required),
            "quiet" => Value::new_bool(p.quiet),
            "indexme" => Value::new_bool(p.indexme),
            "do_journal" => Value::new_bool(p.do_journal),
            "computed" => Value::new_bool(p.is_computed()),
            "default_value" => to_starlark(heap, &p.default_value),
            _ => return None,
        })
    }

    fn dir_attr(&self) -> Vec<String> {
        [
            "type",
            "classname",
            "required",
            "quiet",
            "indexme",
            "do_journal",
            "computed",
            "default_value",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

/// A permission handle returned by `addPermission` / `getPermission`.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct PermObj {
    pub index: usize,
    pub name: String,
    pub klass: Option<String>,
    pub description: String,
}
simple_type!(PermObj);

impl fmt::Display for PermObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.klass {
            Some(k) => write!(f, "<Permission \"{}\" for \"{k}\">", self.name),
            None => write!(f, "<Permission \"{}\">", self.name),
        }
    }
}

#[starlark_value(type = "roundup_permission")]
impl<'v> StarlarkValue<'v> for PermObj {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        Some(match attribute {
            "name" => heap.alloc(self.name.as_str()),
            "klass" => match &self.klass {
                Some(k) => heap.alloc(k.as_str()),
                None => Value::new_none(),
            },
            "description" => heap.alloc(self.description.as_str()),
            _ => return None,
        })
    }
}

/// `db.config`: options by Roundup name as attributes or items;
/// `detectors` and `ext` are dicts of the detector / extension options.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct ConfigObj(#[allocative(skip)] pub Arc<ConfigView>);
simple_type!(ConfigObj);

impl fmt::Display for ConfigObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<roundup config>")
    }
}

fn str_dict<'v, 'a>(
    heap: Heap<'v>,
    items: impl Iterator<Item = (&'a String, &'a String)>,
) -> Value<'v> {
    heap.alloc(AllocDict(
        items.map(|(k, v)| (heap.alloc(k.as_str()), heap.alloc(v.as_str()))),
    ))
}

#[starlark_value(type = "roundup_config")]
impl<'v> StarlarkValue<'v> for ConfigObj {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        match attribute {
            "detectors" => Some(str_dict(heap, self.0.detector_options().iter())),
            "ext" => Some(str_dict(heap, self.0.extension_options().iter())),
            name => self.0.get(name).map(|v| heap.alloc(v)),
        }
    }

    fn has_attr(&self, attribute: &str, _heap: Heap<'v>) -> bool {
        matches!(attribute, "detectors" | "ext") || self.0.get(attribute).is_some()
    }

    fn dir_attr(&self) -> Vec<String> {
        self.0.options().keys().cloned().collect()
    }

    fn at(&self, index: Value<'v>, heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        let Some(name) = index.unpack_str() else {
            return Err(script_err(format!(
                "config options are named by str, not {}",
                index.get_type()
            )));
        };
        if let Some(v) = self.0.get(name) {
            return Ok(heap.alloc(v));
        }
        if let Some(section) = self.0.section(name) {
            return Ok(str_dict(heap, section.iter()));
        }
        Err(script_err(format!("no config option \"{name}\"")))
    }

    fn is_in(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(other.unpack_str().is_some_and(|n| self.0.get(n).is_some()))
    }
}

/// A point in time (Roundup's `date.Date`).
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct DateObj(#[allocative(skip)] pub Date);
simple_type!(DateObj);

impl fmt::Display for DateObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[starlark_value(type = "roundup_date")]
impl<'v> StarlarkValue<'v> for DateObj {
    fn get_methods() -> Option<&'static Methods> {
        crate::api::date_methods()
    }

    fn collect_repr(&self, collector: &mut String) {
        collector.push_str(&format!("<Date {}>", self.0));
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(other
            .downcast_ref::<DateObj>()
            .is_some_and(|o| o.0 == self.0))
    }

    fn compare(&self, other: Value<'v>) -> starlark::Result<std::cmp::Ordering> {
        match other.downcast_ref::<DateObj>() {
            Some(o) => Ok(self.0.cmp(&o.0)),
            None => Err(script_err(format!(
                "cannot compare a date with {}",
                other.get_type()
            ))),
        }
    }
}

/// A time span (Roundup's `date.Interval`).
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct IntervalObj(#[allocative(skip)] pub Interval);
simple_type!(IntervalObj);

impl fmt::Display for IntervalObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[starlark_value(type = "roundup_interval")]
impl<'v> StarlarkValue<'v> for IntervalObj {
    fn collect_repr(&self, collector: &mut String) {
        collector.push_str(&format!("<Interval {}>", self.0));
    }

    fn equals(&self, other: Value<'v>) -> starlark::Result<bool> {
        Ok(other
            .downcast_ref::<IntervalObj>()
            .is_some_and(|o| o.0 == self.0))
    }
}

/// One item with its values read at the time of `getnode` (Roundup's
/// `Node`): `node.title`, `node['title']`, `node.id`.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct NodeObj {
    pub class: String,
    pub id: String,
    #[allocative(skip)]
    pub values: Vec<(String, Option<CoreValue>)>,
}
simple_type!(NodeObj);

impl fmt::Display for NodeObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<node {}{}>", self.class, self.id)
    }
}

impl NodeObj {
    fn lookup<'v>(&self, name: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        if name == "id" {
            return Some(heap.alloc(self.id.as_str()));
        }
        self.values
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| to_starlark(heap, v))
    }
}

#[starlark_value(type = "roundup_node")]
impl<'v> StarlarkValue<'v> for NodeObj {
    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<Value<'v>> {
        self.lookup(attribute, heap)
    }

    fn dir_attr(&self) -> Vec<String> {
        let mut v: Vec<String> = self.values.iter().map(|(n, _)| n.clone()).collect();
        v.push("id".into());
        v
    }

    fn at(&self, index: Value<'v>, heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        index
            .unpack_str()
            .and_then(|n| self.lookup(n, heap))
            .ok_or_else(|| {
                script_err(format!(
                    "{} has no property {}",
                    self.class,
                    index.to_repr()
                ))
            })
    }
}

/// The property type constructors `String`, `Link`, ... of schema.py.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct PropCtor(#[allocative(skip)] pub PropType);
simple_type!(PropCtor);

impl fmt::Display for PropCtor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<property type {}>", self.0.name())
    }
}

#[starlark_value(type = "roundup_property_type")]
impl<'v> StarlarkValue<'v> for PropCtor {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let prop = crate::api::make_property(self.0, args, eval.heap())?;
        Ok(eval.heap().alloc(PropObj(prop)))
    }
}

/// `Class`, `IssueClass`, `FileClass` of schema.py.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct ClassCtor(#[allocative(skip)] pub ClassKind);
simple_type!(ClassCtor);

impl fmt::Display for ClassCtor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(class_ctor_name(self.0))
    }
}

pub(crate) fn class_ctor_name(kind: ClassKind) -> &'static str {
    match kind {
        ClassKind::Plain => "Class",
        ClassKind::Issue => "IssueClass",
        ClassKind::File => "FileClass",
    }
}

#[starlark_value(type = "roundup_class_type")]
impl<'v> StarlarkValue<'v> for ClassCtor {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let name = crate::api::define_class(self.0, args, eval)?;
        Ok(eval.heap().alloc(ClassObj { name }))
    }
}

/// `date.Date(spec)` and `date.Interval(spec)`.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct DateCtor {
    pub interval: bool,
}
simple_type!(DateCtor);

impl fmt::Display for DateCtor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.interval { "Interval" } else { "Date" })
    }
}

#[starlark_value(type = "roundup_date_type")]
impl<'v> StarlarkValue<'v> for DateCtor {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        crate::api::make_date(self.interval, args, eval)
    }
}

/// `_` (gettext): returns its argument; translation is the caller's business.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct Gettext;
simple_type!(Gettext);

impl fmt::Display for Gettext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("_")
    }
}

#[starlark_value(type = "function")]
impl<'v> StarlarkValue<'v> for Gettext {
    fn invoke(
        &self,
        _me: Value<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        args.no_named_args()?;
        args.positional1(eval.heap())
    }
}
