//! The Roundup names scripts call: globals, and the methods of `db`,
//! `db.security`, class objects and dates.

// Script-facing methods mirror Roundup's keyword-rich signatures.
#![allow(clippy::too_many_arguments)]

use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use roundup_core::date::{Interval, Timezone};
use roundup_core::detectors::Op;
use roundup_core::password::Scheme;
use roundup_core::pyrepr::PyValue;
use roundup_core::schema::{ClassDef, ClassKind, PropType, Property};
use roundup_core::security::{Permission, PermissionCheck, PermissionFilter};
use roundup_core::Error;
use starlark::environment::{GlobalsBuilder, Methods, MethodsBuilder};
use starlark::eval::{Arguments, Evaluator};
use starlark::starlark_module;
use starlark::values::dict::{AllocDict, DictRef};
use starlark::values::float::StarlarkFloat;
use starlark::values::list::AllocList;
use starlark::values::none::NoneType;
use starlark::values::tuple::AllocTuple;
use starlark::values::{Heap, Value, ValueLike};

use crate::check::{FilterCheck, StarlarkCheck, StarlarkFilter};
use crate::convert::{dict_to_values, from_starlark, id_text, parse_date, str_list, to_starlark};
use crate::ctx::{ctx, Ctx, Mode, Registration};
use crate::error::{abort, script_err};
use crate::filterspec;
use crate::values::{
    class_ctor_name, ClassCtor, ClassObj, DateCtor, DateObj, DbObj, Gettext, IntervalObj, NodeObj,
    PermObj, PropCtor, PropObj, SecurityObj,
};

fn core<T>(r: roundup_core::Result<T>) -> starlark::Result<T> {
    r.map_err(abort)
}

// ---------------------------------------------------------------------------
// globals

/// Names every script gets: `Reject`, `ValueError`, `_`, `date`, `Date`,
/// `Interval`.
#[starlark_module]
fn common_globals(builder: &mut GlobalsBuilder) {
    /// Refuse the change being audited with a message for the user
    /// (Roundup's `raise Reject(message)`). Ends the script.
    #[allow(non_snake_case)]
    fn Reject(#[starlark(require = pos)] message: Value) -> starlark::Result<NoneType> {
        Err(abort(Error::Reject(display_text(message))))
    }

    /// Whether `name` is a time zone Roundup accepts for a user: an IANA
    /// name such as `Europe/Paris` or a whole-hour offset from -23 to 23.
    fn valid_timezone(#[starlark(require = pos)] name: &str) -> starlark::Result<bool> {
        Ok(roundup_core::date::Timezone::parse(name).is_ok())
    }

    /// Fail with a value error shown to the user (Roundup's
    /// `raise ValueError(message)` in auditors). Ends the script.
    #[allow(non_snake_case)]
    fn ValueError(#[starlark(require = pos)] message: Value) -> starlark::Result<NoneType> {
        Err(abort(Error::Value(display_text(message))))
    }
}

fn display_text(v: Value) -> String {
    match v.unpack_str() {
        Some(s) => s.to_string(),
        None => v.to_str(),
    }
}

/// The `re` namespace: regular expressions for detectors (Rust `regex`
/// syntax, which covers the Python syntax detectors commonly use; no
/// backreferences or look-around). Functions answer with plain values
/// instead of match objects.
#[starlark_module]
fn re_functions(builder: &mut GlobalsBuilder) {
    /// Whether the pattern matches at the start of `text` (Python's `re.match`).
    fn r#match(
        pattern: &str,
        text: &str,
        #[starlark(default = 0)] flags: i32,
    ) -> starlark::Result<bool> {
        let re = compile_re(&format!("^(?:{pattern})"), flags)?;
        Ok(re.is_match(text))
    }
    /// Whether the pattern matches the whole of `text`.
    fn fullmatch(
        pattern: &str,
        text: &str,
        #[starlark(default = 0)] flags: i32,
    ) -> starlark::Result<bool> {
        let re = compile_re(&format!("^(?:{pattern})$"), flags)?;
        Ok(re.is_match(text))
    }
    /// Whether the pattern matches anywhere in `text`.
    fn search(
        pattern: &str,
        text: &str,
        #[starlark(default = 0)] flags: i32,
    ) -> starlark::Result<bool> {
        let re = compile_re(pattern, flags)?;
        Ok(re.is_match(text))
    }
    /// Every non-overlapping match (the whole match text).
    fn findall(
        pattern: &str,
        text: &str,
        #[starlark(default = 0)] flags: i32,
    ) -> starlark::Result<Vec<String>> {
        let re = compile_re(pattern, flags)?;
        Ok(re.find_iter(text).map(|m| m.as_str().to_string()).collect())
    }
    /// Replace every match with `repl` (`$1`/`${name}` refer to groups).
    fn sub(
        pattern: &str,
        repl: &str,
        text: &str,
        #[starlark(default = 0)] flags: i32,
    ) -> starlark::Result<String> {
        let re = compile_re(pattern, flags)?;
        Ok(re.replace_all(text, repl).into_owned())
    }
    /// Split `text` at every match.
    fn split(
        pattern: &str,
        text: &str,
        #[starlark(default = 0)] flags: i32,
    ) -> starlark::Result<Vec<String>> {
        let re = compile_re(pattern, flags)?;
        Ok(re.split(text).map(str::to_string).collect())
    }
}

/// `re.IGNORECASE` as in Python.
const RE_IGNORECASE: i32 = 2;

fn compile_re(pattern: &str, flags: i32) -> starlark::Result<regex::Regex> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(flags & RE_IGNORECASE != 0)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            abort(Error::Value(format!(
                "bad regular expression {pattern:?}: {e}"
            )))
        })
}

fn add_common(b: &mut GlobalsBuilder) {
    common_globals(b);
    b.namespace("re", |r| {
        re_functions(r);
        r.set("IGNORECASE", RE_IGNORECASE);
        r.set("I", RE_IGNORECASE);
    });
    b.set("_", Gettext);
    b.set("gettext", Gettext);
    b.namespace("date", |d| {
        d.set("Date", DateCtor { interval: false });
        d.set("Interval", DateCtor { interval: true });
    });
}

fn base_builder() -> GlobalsBuilder {
    use starlark::environment::LibraryExtension as L;
    GlobalsBuilder::extended_by(&[
        L::StructType,
        L::NamespaceType,
        L::Map,
        L::Filter,
        L::Partial,
        L::Print,
        L::Json,
        L::SetType,
    ])
}

/// Globals of `schema.py`: the class and property constructors.
pub(crate) fn schema_globals() -> &'static starlark::environment::Globals {
    static G: OnceLock<starlark::environment::Globals> = OnceLock::new();
    G.get_or_init(|| {
        let mut b = base_builder();
        add_common(&mut b);
        for kind in [ClassKind::Plain, ClassKind::Issue, ClassKind::File] {
            b.set(class_ctor_name(kind), ClassCtor(kind));
        }
        for t in [
            PropType::String,
            PropType::Password,
            PropType::Date,
            PropType::Interval,
            PropType::Link,
            PropType::Multilink,
            PropType::Boolean,
            PropType::Number,
            PropType::Integer,
        ] {
            b.set(t.name(), PropCtor(t));
        }
        b.build()
    })
}

/// Globals of detectors and `initial_data.py`: also `Date`/`Interval`
/// directly (as after `from roundup.date import Date, Interval`).
pub(crate) fn script_globals() -> &'static starlark::environment::Globals {
    static G: OnceLock<starlark::environment::Globals> = OnceLock::new();
    G.get_or_init(|| {
        let mut b = base_builder();
        add_common(&mut b);
        b.set("Date", DateCtor { interval: false });
        b.set("Interval", DateCtor { interval: true });
        b.build()
    })
}

/// The `db` object for a phase.
pub(crate) fn db_object(ctx: &Ctx<'_>) -> DbObj {
    let classes = match ctx.mode {
        Mode::Schema(_) => None,
        _ => Some(Arc::new(
            ctx.with_schema(|s| s.classes.keys().cloned().collect()),
        )),
    };
    DbObj {
        classes,
        config: ctx.config.clone(),
    }
}

// ---------------------------------------------------------------------------
// schema definition

fn yes_no(class: &str, opt: &str, v: Value) -> starlark::Result<bool> {
    if let Some(b) = v.unpack_bool() {
        return Ok(b);
    }
    match v.unpack_str() {
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        _ => Err(abort(Error::Schema(format!(
            "{class}: {opt}={} is not valid; use 'yes' or 'no'",
            v.to_repr()
        )))),
    }
}

fn flag(class: &str, opt: &str, v: Value) -> starlark::Result<bool> {
    match v.unpack_bool() {
        Some(b) => Ok(b),
        None => match crate::convert::int_of(v) {
            Some(i) => Ok(i != 0),
            None => Err(abort(Error::Schema(format!(
                "{class}: {opt}={} is not valid; use True or False",
                v.to_repr()
            )))),
        },
    }
}

fn opt_str(class: &str, opt: &str, v: Value) -> starlark::Result<Option<String>> {
    if v.is_none() {
        return Ok(None);
    }
    match v.unpack_str() {
        Some(s) => Ok(Some(s.to_string())),
        None => Err(abort(Error::Schema(format!(
            "{class}: {opt} must be a str, not {}",
            v.to_repr()
        )))),
    }
}

fn parse_scheme(name: &str) -> Option<Scheme> {
    Scheme::parse(name)
}

/// `String(...)`, `Link("user", ...)`, ...: a property definition from
/// Roundup's constructor arguments.
pub(crate) fn make_property<'v>(
    ptype: PropType,
    args: &Arguments<'v, '_>,
    heap: Heap<'v>,
) -> starlark::Result<Property> {
    let tname = ptype.name();
    let positional: Vec<Value> = args.positions(heap)?.collect();
    let named = args.names_map()?;
    let mut named: Vec<(String, Value)> = named
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), *v))
        .collect();
    let pointer = matches!(ptype, PropType::Link | PropType::Multilink);
    let mut prop = Property::new(ptype);
    if pointer {
        let target = match positional.as_slice() {
            [c] => Some(*c),
            [] => named
                .iter()
                .position(|(k, _)| k == "classname")
                .map(|i| named.remove(i).1),
            _ => None,
        };
        match target.and_then(|t| t.unpack_str()) {
            Some(c) => prop.link_class = Some(c.to_string()),
            None => {
                return Err(abort(Error::Schema(format!(
                    "{tname}() needs the name of the class it links to, e.g. {tname}(\"user\")"
                ))))
            }
        }
    } else if !positional.is_empty() {
        return Err(abort(Error::Schema(format!(
            "{tname}() takes keyword options only"
        ))));
    }
    let mut default: Option<Value> = None;
    for (opt, v) in named {
        let allowed = matches!(
            (opt.as_str(), ptype),
            ("required" | "default_value" | "quiet", _)
                | ("indexme", PropType::String)
                | ("scheme", PropType::Password)
                | ("offset" | "display_time" | "format", PropType::Date)
                | ("use_double", PropType::Number)
                | (
                    "do_journal" | "try_id_parsing" | "rev_multilink",
                    PropType::Link | PropType::Multilink
                )
                | ("msg_header_property", PropType::Link)
        );
        if !allowed {
            return Err(abort(Error::Schema(format!(
                "{tname}() has no option \"{opt}\""
            ))));
        }
        match opt.as_str() {
            "required" => prop.required = flag(tname, &opt, v)?,
            "quiet" => prop.quiet = flag(tname, &opt, v)?,
            "use_double" => prop.use_double = flag(tname, &opt, v)?,
            "default_value" => default = Some(v),
            "indexme" => prop.indexme = yes_no(tname, &opt, v)?,
            "do_journal" => prop.do_journal = yes_no(tname, &opt, v)?,
            "try_id_parsing" => prop.try_id_parsing = yes_no(tname, &opt, v)?,
            "display_time" => prop.display_time = yes_no(tname, &opt, v)?,
            "rev_multilink" => prop.rev_multilink = opt_str(tname, &opt, v)?,
            "msg_header_property" => prop.msg_header_property = opt_str(tname, &opt, v)?,
            "format" => prop.date_format = opt_str(tname, &opt, v)?,
            "offset" => {
                prop.date_offset = if v.is_none() {
                    None
                } else {
                    Some(match v.unpack_str() {
                        Some(s) => s.to_string(),
                        None => v.to_str(),
                    })
                }
            }
            "scheme" => {
                prop.scheme = match opt_str(tname, &opt, v)? {
                    None => None,
                    Some(s) => Some(parse_scheme(&s).ok_or_else(|| {
                        abort(Error::Schema(format!(
                            "Password(): unknown password scheme \"{s}\""
                        )))
                    })?),
                }
            }
            _ => {}
        }
    }
    if let Some(d) = default {
        let tz = Timezone::Utc;
        prop.default_value = from_starlark(&tz, "default", "value", &prop, d).map_err(|e| {
            abort(Error::Schema(format!(
                "{tname}(): bad default_value: {}",
                e.without_diagnostic()
            )))
        })?;
    }
    Ok(prop)
}

/// `Class(db, "name", prop=..., ...)` and friends: adds the class and
/// Roundup's per-class Create/Edit/View/Retire permissions.
pub(crate) fn define_class<'v>(
    kind: ClassKind,
    args: &Arguments<'v, '_>,
    eval: &mut Evaluator<'v, '_, '_>,
) -> starlark::Result<String> {
    let cname = class_ctor_name(kind);
    let c = ctx(eval)?;
    let state = c.schema_state(cname)?;
    let positional: Vec<Value> = args.positions(eval.heap())?.collect();
    let name = match positional.as_slice() {
        [db, name] if db.downcast_ref::<DbObj>().is_some() => match name.unpack_str() {
            Some(n) => n.to_string(),
            None => {
                return Err(abort(Error::Schema(format!(
                    "{cname}(db, name, ...): the class name must be a str, not {}",
                    name.to_repr()
                ))))
            }
        },
        _ => {
            return Err(abort(Error::Schema(format!(
                "{cname}() is called as {cname}(db, \"classname\", property=Type(), ...)"
            ))))
        }
    };
    let mut props: IndexMap<String, Property> = IndexMap::new();
    for (k, v) in args.names_map()?.iter() {
        match v.downcast_ref::<PropObj>() {
            Some(p) => {
                props.insert(k.as_str().to_string(), p.0.clone());
            }
            None => {
                return Err(abort(Error::Schema(format!(
                    "class \"{name}\": property \"{}\" must be a property type such as String() or Link(\"user\"), not {}",
                    k.as_str(),
                    v.to_repr()
                ))))
            }
        }
    }
    let def = core(ClassDef::new(&name, kind, props))?;
    let mut st = state.borrow_mut();
    core(st.schema.add_class(def))?;
    for (perm, verb) in [
        ("Create", "create"),
        ("Edit", "edit"),
        ("View", "access"),
        ("Retire", "retire"),
    ] {
        let mut p = Permission::new(perm, &format!("User is allowed to {verb} {name}"));
        p.klass = Some(name.clone());
        st.security.add_permission(p);
    }
    Ok(name)
}

/// `date.Date(spec)` / `date.Interval(spec)`.
pub(crate) fn make_date<'v>(
    interval: bool,
    args: &Arguments<'v, '_>,
    eval: &mut Evaluator<'v, '_, '_>,
) -> starlark::Result<Value<'v>> {
    args.no_named_args()?;
    let positional: Vec<Value> = args.positions(eval.heap())?.collect();
    let spec = match positional.as_slice() {
        [] if !interval => ".".to_string(),
        [v] => match v.unpack_str() {
            Some(s) => s.to_string(),
            None => {
                if let (false, Some(d)) = (interval, v.downcast_ref::<DateObj>()) {
                    return Ok(eval.heap().alloc(DateObj(d.0)));
                }
                if let (true, Some(i)) = (interval, v.downcast_ref::<IntervalObj>()) {
                    return Ok(eval.heap().alloc(IntervalObj(i.0)));
                }
                return Err(script_err(format!(
                    "{}() takes a str spec, not {}",
                    if interval { "Interval" } else { "Date" },
                    v.to_repr()
                )));
            }
        },
        _ => {
            return Err(script_err(if interval {
                "Interval() takes one spec such as \"3d\" or \"-1w 2d\""
            } else {
                "Date() takes one spec such as \".\" or \"2003-04-05.12:00\""
            }))
        }
    };
    if interval {
        let iv = Interval::parse(&spec)
            .map_err(|e| script_err(format!("bad interval {spec:?}: {e}")))?;
        Ok(eval.heap().alloc(IntervalObj(iv)))
    } else {
        let c = ctx(eval)?;
        let tz = match &c.mode {
            Mode::Live(db) => core(db.user_timezone())?,
            _ => Timezone::Utc,
        };
        Ok(eval.heap().alloc(DateObj(parse_date(&spec, &tz)?)))
    }
}

#[starlark_module]
fn date_methods_impl(builder: &mut MethodsBuilder) {
    /// The storage form `yyyymmddHHMMSS.mmm`.
    fn serialise(this: &DateObj) -> starlark::Result<String> {
        Ok(this.0.serialise())
    }
}

pub(crate) fn date_methods() -> Option<&'static Methods> {
    static M: OnceLock<Methods> = OnceLock::new();
    Some(M.get_or_init(|| MethodsBuilder::new().with(date_methods_impl).build()))
}

// ---------------------------------------------------------------------------
// db

pub(crate) fn db_methods() -> Option<&'static Methods> {
    static M: OnceLock<Methods> = OnceLock::new();
    Some(M.get_or_init(|| MethodsBuilder::new().with(db_methods_impl).build()))
}

fn class_exists(c: &Ctx<'_>, name: &str) -> bool {
    c.with_schema(|s| s.classes.contains_key(name))
}

#[starlark_module]
fn db_methods_impl(builder: &mut MethodsBuilder) {
    /// The id of the user the database is open for.
    fn getuid<'v>(this: &DbObj, eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<String> {
        let _ = this;
        Ok(ctx(eval)?.live("db.getuid()")?.getuid())
    }

    /// The class object of that name.
    fn getclass<'v>(
        this: &DbObj,
        #[starlark(require = pos)] classname: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<ClassObj> {
        let _ = this;
        if class_exists(ctx(eval)?, classname) {
            Ok(ClassObj {
                name: classname.to_string(),
            })
        } else {
            Err(abort(Error::NoSuchClass(classname.to_string())))
        }
    }

    /// Names of all classes, sorted.
    fn getclasses<'v>(
        this: &DbObj,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let _ = this;
        let mut v: Vec<String> = ctx(eval)?.with_schema(|s| s.classes.keys().cloned().collect());
        v.sort();
        Ok(v)
    }

    /// Whether item `nodeid` of `classname` exists.
    fn hasnode<'v>(
        this: &DbObj,
        #[starlark(require = pos)] classname: &str,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<bool> {
        let _ = this;
        let db = ctx(eval)?.live("db.hasnode()")?;
        match id_text(nodeid) {
            Some(id) => core(db.has_node(classname, &id)),
            None => Ok(false),
        }
    }
}

// ---------------------------------------------------------------------------
// security

pub(crate) fn security_methods() -> Option<&'static Methods> {
    static M: OnceLock<Methods> = OnceLock::new();
    Some(M.get_or_init(|| MethodsBuilder::new().with(security_methods_impl).build()))
}

/// A function value given as check/filter, kept in a hidden module
/// variable until the module is frozen.
fn keep_function<'v>(
    eval: &mut Evaluator<'v, '_, '_>,
    what: &str,
    f: Value<'v>,
) -> starlark::Result<String> {
    let c = ctx(eval)?;
    let slot = c.next_slot(what);
    eval.module().set(&slot, f);
    Ok(slot)
}

fn is_callable(v: Value) -> bool {
    v.get_type() == "function"
        || matches!(
            v.documentation(),
            starlark::docs::DocItem::Member(starlark::docs::DocMember::Function(_))
        )
}

/// Whether a Starlark `def` takes `**kwargs` (Roundup's "version 2" checks).
fn takes_kwargs(v: Value) -> bool {
    match v.documentation() {
        starlark::docs::DocItem::Member(starlark::docs::DocMember::Function(f)) => {
            f.params.kwargs.is_some()
        }
        _ => false,
    }
}

fn find_or_make_check<'v>(
    eval: &mut Evaluator<'v, '_, '_>,
    f: Value<'v>,
) -> starlark::Result<Arc<StarlarkCheck>> {
    if !is_callable(f) {
        return Err(abort(Error::Schema(format!(
            "check= must be a function, not {}",
            f.to_repr()
        ))));
    }
    let c = ctx(eval)?;
    let state = c.schema_state("addPermission(check=...)")?;
    {
        let st = state.borrow();
        for (slot, chk) in &st.checks {
            if eval.module().get(slot).is_some_and(|v| v.ptr_eq(f)) {
                return Ok(chk.clone());
            }
        }
    }
    let label = c.label.clone();
    let config = c.config.clone();
    let slot = keep_function(eval, "check", f)?;
    let chk = Arc::new(StarlarkCheck::new(
        &label,
        config,
        &function_name(f),
        takes_kwargs(f),
    ));
    state.borrow_mut().checks.push((slot, chk.clone()));
    Ok(chk)
}

fn function_name(f: Value) -> String {
    let s = f.to_str();
    // "<function own_record>" or similar
    s.trim_start_matches("<function ")
        .trim_end_matches('>')
        .to_string()
}

fn opt_props(v: Option<Value>) -> starlark::Result<Option<Vec<String>>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => match str_list(v) {
            Some(l) => Ok(Some(l)),
            None => Err(abort(Error::Schema(format!(
                "properties must be a tuple or list of property names, not {}",
                v.to_repr()
            )))),
        },
    }
}

fn opt_klass(v: Option<Value>) -> starlark::Result<Option<String>> {
    match v {
        None => Ok(None),
        Some(v) if v.is_none() => Ok(None),
        Some(v) => {
            if let Some(s) = v.unpack_str() {
                return Ok(Some(s.to_string()));
            }
            if let Some(c) = v.downcast_ref::<ClassObj>() {
                return Ok(Some(c.name.clone()));
            }
            Err(abort(Error::Schema(format!(
                "klass must be a class name, not {}",
                v.to_repr()
            ))))
        }
    }
}

fn perm_obj(st: &roundup_core::security::Security, index: usize) -> PermObj {
    match st.permission(index) {
        Some(p) => PermObj {
            index,
            name: p.name.clone(),
            klass: p.klass.clone(),
            description: p.description.clone(),
        },
        None => PermObj {
            index,
            name: String::new(),
            klass: None,
            description: String::new(),
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn lookup_permission<'v>(
    eval: &mut Evaluator<'v, '_, '_>,
    name: &str,
    klass: Option<Value<'v>>,
    properties: Option<Value<'v>>,
    check: Option<Value<'v>>,
    props_only: Option<Value<'v>>,
) -> starlark::Result<usize> {
    let klass = opt_klass(klass)?;
    let properties = opt_props(properties)?;
    let check: Option<Arc<dyn PermissionCheck>> = match check {
        Some(f) if !f.is_none() => Some(find_or_make_check(eval, f)?),
        _ => None,
    };
    let props_only = match props_only {
        Some(v) if !v.is_none() => Some(flag("getPermission", "props_only", v)?),
        _ => None,
    };
    let c = ctx(eval)?;
    let state = c.schema_state("db.security.getPermission()")?;
    let st = state.borrow();
    if let Some(k) = &klass {
        if !st.schema.classes.contains_key(k) {
            return Err(abort(Error::Schema(format!("No class \"{k}\" defined"))));
        }
    }
    core(st.security.get_permission(
        name,
        klass.as_deref(),
        properties.as_deref(),
        check.as_ref(),
        props_only,
    ))
}

#[starlark_module]
fn security_methods_impl(builder: &mut MethodsBuilder) {
    /// Define a role (names are case-insensitive).
    #[allow(non_snake_case)]
    fn addRole<'v>(
        this: &SecurityObj,
        #[starlark(require = named)] name: &str,
        #[starlark(require = named, default = "")] description: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        let _ = this;
        let c = ctx(eval)?;
        let state = c.schema_state("db.security.addRole()")?;
        state.borrow_mut().security.add_role(name, description);
        Ok(NoneType)
    }

    /// Define a permission; returns its handle.
    #[allow(non_snake_case)]
    fn addPermission<'v>(
        this: &SecurityObj,
        #[starlark(require = named)] name: &str,
        #[starlark(require = named, default = "")] description: &str,
        #[starlark(require = named)] klass: Option<Value<'v>>,
        #[starlark(require = named)] properties: Option<Value<'v>>,
        #[starlark(require = named)] check: Option<Value<'v>>,
        #[starlark(require = named)] props_only: Option<Value<'v>>,
        #[starlark(require = named)] filter: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<PermObj> {
        let _ = this;
        let klass = opt_klass(klass)?;
        let properties = opt_props(properties)?;
        let check_fn: Option<Arc<StarlarkCheck>> = match check {
            Some(f) if !f.is_none() => Some(find_or_make_check(eval, f)?),
            _ => None,
        };
        let filter_fn: Option<Arc<StarlarkFilter>> = match filter {
            Some(f) if !f.is_none() => {
                if !is_callable(f) {
                    return Err(abort(Error::Schema(format!(
                        "filter= must be a function, not {}",
                        f.to_repr()
                    ))));
                }
                let c = ctx(eval)?;
                let (label, config) = (c.label.clone(), c.config.clone());
                let slot = keep_function(eval, "filter", f)?;
                let flt = Arc::new(StarlarkFilter::new(&label, config, &function_name(f)));
                ctx(eval)?
                    .schema_state("addPermission(filter=...)")?
                    .borrow_mut()
                    .filters
                    .push((slot, flt.clone()));
                Some(flt)
            }
            _ => None,
        };
        let props_only = match props_only {
            Some(v) if !v.is_none() => Some(flag("addPermission", "props_only", v)?),
            _ => None,
        };
        let c = ctx(eval)?;
        let state = c.schema_state("db.security.addPermission()")?;
        let mut st = state.borrow_mut();
        let mut p = Permission::new(name, description);
        p.props_only = properties.is_some() && props_only.unwrap_or(st.security.props_only_default);
        p.properties = properties;
        p.check = check_fn.map(|c| c as Arc<dyn PermissionCheck>);
        if let Some(flt) = filter_fn {
            if p.check.is_none() {
                let Some(k) = klass.clone() else {
                    return Err(abort(Error::Schema(
                        "Definition of a filter function needs a check function if no klass is given"
                            .to_string(),
                    )));
                };
                p.check = Some(Arc::new(FilterCheck::new(flt.clone(), &k)));
            }
            p.filter = Some(flt as Arc<dyn PermissionFilter>);
        }
        p.klass = klass;
        let idx = st.security.add_permission(p);
        Ok(perm_obj(&st.security, idx))
    }

    /// Give a role a permission: a handle, or a permission name with the
    /// class (and properties, check, props_only) it was defined with.
    #[allow(non_snake_case)]
    fn addPermissionToRole<'v>(
        this: &SecurityObj,
        #[starlark(require = pos)] rolename: &str,
        #[starlark(require = pos)] permission: Value<'v>,
        #[starlark(default = NoneType)] classname: Value<'v>,
        #[starlark(require = named)] properties: Option<Value<'v>>,
        #[starlark(require = named)] check: Option<Value<'v>>,
        #[starlark(require = named)] props_only: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        let _ = this;
        let idx = if let Some(p) = permission.downcast_ref::<PermObj>() {
            p.index
        } else if let Some(name) = permission.unpack_str() {
            let klass = if classname.is_none() {
                None
            } else {
                Some(classname)
            };
            lookup_permission(eval, name, klass, properties, check, props_only)?
        } else {
            return Err(abort(Error::Schema(format!(
                "addPermissionToRole: permission must be a handle from addPermission or a permission name, not {}",
                permission.to_repr()
            ))));
        };
        let c = ctx(eval)?;
        let state = c.schema_state("db.security.addPermissionToRole()")?;
        core(
            state
                .borrow_mut()
                .security
                .add_permission_to_role(rolename, idx),
        )?;
        Ok(NoneType)
    }

    /// Find the permission defined exactly so (Roundup's getPermission).
    #[allow(non_snake_case)]
    fn getPermission<'v>(
        this: &SecurityObj,
        #[starlark(require = pos)] permission: &str,
        #[starlark(default = NoneType)] classname: Value<'v>,
        #[starlark(require = named)] properties: Option<Value<'v>>,
        #[starlark(require = named)] check: Option<Value<'v>>,
        #[starlark(require = named)] props_only: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<PermObj> {
        let _ = this;
        let klass = if classname.is_none() {
            None
        } else {
            Some(classname)
        };
        let idx = lookup_permission(eval, permission, klass, properties, check, props_only)?;
        let c = ctx(eval)?;
        let st = c.schema_state("db.security.getPermission()")?.borrow();
        Ok(perm_obj(&st.security, idx))
    }

    /// Default for props_only of permissions defined from now on.
    fn set_props_only_default<'v>(
        this: &SecurityObj,
        #[starlark(require = pos)] props_only: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        let _ = this;
        let v = flag("set_props_only_default", "props_only", props_only)?;
        let c = ctx(eval)?;
        c.schema_state("db.security.set_props_only_default()")?
            .borrow_mut()
            .security
            .props_only_default = v;
        Ok(NoneType)
    }

    /// Roundup's hasPermission(permission, userid, classname=None,
    /// property=None, itemid=None).
    #[allow(non_snake_case)]
    fn hasPermission<'v>(
        this: &SecurityObj,
        #[starlark(require = pos)] permission: &str,
        #[starlark(require = pos)] userid: Value<'v>,
        #[starlark(default = NoneType)] classname: Value<'v>,
        #[starlark(default = NoneType)] property: Value<'v>,
        #[starlark(default = NoneType)] itemid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<bool> {
        let _ = this;
        let db = ctx(eval)?.live("db.security.hasPermission()")?;
        let userid = id_text(userid)
            .ok_or_else(|| script_err(format!("bad userid {}", userid.to_repr())))?;
        let classname = opt_klass(Some(classname))?;
        let property = property.unpack_str().map(str::to_string);
        let itemid = id_text(itemid);
        core(db.security().has_permission(
            db,
            permission,
            &userid,
            classname.as_deref(),
            property.as_deref(),
            itemid.as_deref(),
        ))
    }

    /// Whether a role of that name exists.
    #[allow(non_snake_case)]
    fn hasRole<'v>(
        this: &SecurityObj,
        #[starlark(require = pos)] rolename: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<bool> {
        let _ = this;
        let c = ctx(eval)?;
        Ok(match &c.mode {
            Mode::Schema(st) => st.borrow().security.has_role(rolename),
            Mode::Live(db) => db.security().has_role(rolename),
            Mode::Init { .. } => {
                return Err(script_err(
                    "db.security.hasRole() is not available in init(db); call it from the detector function",
                ))
            }
        })
    }

    /// Lower-case names of all roles.
    #[allow(non_snake_case)]
    fn getRoles<'v>(
        this: &SecurityObj,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let _ = this;
        let c = ctx(eval)?;
        Ok(match &c.mode {
            Mode::Schema(st) => st.borrow().security.roles().map(|r| r.name.clone()).collect(),
            Mode::Live(db) => db.security().roles().map(|r| r.name.clone()).collect(),
            Mode::Init { .. } => {
                return Err(script_err(
                    "db.security.getRoles() is not available in init(db); call it from the detector function",
                ))
            }
        })
    }
}

// ---------------------------------------------------------------------------
// classes

pub(crate) fn class_methods() -> Option<&'static Methods> {
    static M: OnceLock<Methods> = OnceLock::new();
    Some(M.get_or_init(|| MethodsBuilder::new().with(class_methods_impl).build()))
}

fn need_id(class: &str, v: Value) -> starlark::Result<String> {
    id_text(v).ok_or_else(|| {
        script_err(format!(
            "{class}: an item id (str) was expected, got {}",
            v.to_repr()
        ))
    })
}

fn kwargs_pairs<'v>(kwargs: DictRef<'v>) -> starlark::Result<Vec<(String, Value<'v>)>> {
    let mut out = Vec::new();
    for (k, v) in kwargs.iter() {
        let Some(k) = k.unpack_str() else {
            return Err(script_err("property names must be str"));
        };
        out.push((k.to_string(), v));
    }
    Ok(out)
}

fn py_to_starlark<'v>(heap: Heap<'v>, v: &PyValue) -> Value<'v> {
    match v {
        PyValue::None => Value::new_none(),
        PyValue::Bool(b) => Value::new_bool(*b),
        PyValue::Int(i) => heap.alloc(*i),
        PyValue::Float(f) => heap.alloc(StarlarkFloat(*f)),
        PyValue::Str(s) => heap.alloc(s.as_str()),
        PyValue::Bytes(b) => heap.alloc(String::from_utf8_lossy(b).as_ref()),
        PyValue::Tuple(items) => {
            heap.alloc(AllocTuple(items.iter().map(|x| py_to_starlark(heap, x))))
        }
        PyValue::List(items) => {
            heap.alloc(AllocList(items.iter().map(|x| py_to_starlark(heap, x))))
        }
        PyValue::Dict(items) => heap.alloc(AllocDict(
            items
                .iter()
                .map(|(k, x)| (py_to_starlark(heap, k), py_to_starlark(heap, x))),
        )),
    }
}

fn register<'v>(
    this: &ClassObj,
    event: &str,
    detector: Value<'v>,
    priority: i32,
    reactor: bool,
    eval: &mut Evaluator<'v, '_, '_>,
) -> starlark::Result<NoneType> {
    let what = if reactor { "react" } else { "audit" };
    let op = Op::parse(event).map_err(script_err)?;
    if !is_callable(detector) {
        return Err(script_err(format!(
            "{}.{what}(): the detector must be a function, not {}",
            this.name,
            detector.to_repr()
        )));
    }
    let c = ctx(eval)?;
    let Mode::Init { regs, .. } = &c.mode else {
        return Err(script_err(format!(
            "{}.{what}() can only be called from a detector's init(db)",
            this.name
        )));
    };
    let slot = c.next_slot(what);
    eval.module().set(&slot, detector);
    regs.borrow_mut().push(Registration {
        class: this.name.clone(),
        op,
        priority: i64::from(priority),
        slot,
        reactor,
    });
    Ok(NoneType)
}

fn schema_edit<'v>(
    eval: &mut Evaluator<'v, '_, '_>,
    what: &str,
    class: &str,
    f: impl FnOnce(&mut ClassDef) -> roundup_core::Result<()>,
) -> starlark::Result<NoneType> {
    let c = ctx(eval)?;
    let state = c.schema_state(what)?;
    let mut st = state.borrow_mut();
    let cls = core(st.schema.class_mut(class))?;
    core(f(cls))?;
    Ok(NoneType)
}

fn check_prop(cls: &ClassDef, prop: &str, what: &str) -> roundup_core::Result<()> {
    if cls.prop(prop).is_none() {
        return Err(Error::Schema(format!(
            "class \"{}\" has no property \"{prop}\" to use as {what}",
            cls.name
        )));
    }
    Ok(())
}

#[starlark_module]
fn class_methods_impl(builder: &mut MethodsBuilder) {
    // ----- schema.py

    /// Make `propname` (a String property) the key of the class.
    fn setkey<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] propname: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        schema_edit(eval, "setkey()", &this.name, |c| c.set_key(propname))
    }

    fn setlabelprop<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] labelprop: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        schema_edit(eval, "setlabelprop()", &this.name, |c| {
            check_prop(c, labelprop, "label")?;
            c.labelprop = Some(labelprop.to_string());
            Ok(())
        })
    }

    fn setorderprop<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] orderprop: &str,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        schema_edit(eval, "setorderprop()", &this.name, |c| {
            check_prop(c, orderprop, "order")?;
            c.orderprop = Some(orderprop.to_string());
            Ok(())
        })
    }

    /// Stop journalling changes to items of this class.
    #[allow(non_snake_case)]
    fn disableJournalling<'v>(
        this: &ClassObj,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        schema_edit(eval, "disableJournalling()", &this.name, |c| {
            c.do_journal = false;
            Ok(())
        })
    }

    // ----- detectors' init(db)

    /// Register an auditor: fn(db, cl, nodeid, newvalues).
    fn audit<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] event: &str,
        #[starlark(require = pos)] detector: Value<'v>,
        #[starlark(default = 100)] priority: i32,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        register(this, event, detector, priority, false, eval)
    }

    /// Register a reactor: fn(db, cl, nodeid, oldvalues).
    fn react<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] event: &str,
        #[starlark(require = pos)] detector: Value<'v>,
        #[starlark(default = 100)] priority: i32,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        register(this, event, detector, priority, true, eval)
    }

    // ----- schema questions (any phase)

    /// Property definitions by name (with the automatic ones unless
    /// protected=False).
    fn getprops<'v>(
        this: &ClassObj,
        #[starlark(default = true)] protected: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let protected = protected.to_bool();
        let heap = eval.heap();
        let c = ctx(eval)?;
        let props: Vec<(String, Property)> = c
            .with_schema(|s| {
                s.class(&this.name).map(|cls| {
                    cls.prop_names(protected)
                        .into_iter()
                        .filter_map(|n| cls.prop(&n).map(|p| (n.clone(), p.clone())))
                        .collect()
                })
            })
            .map_err(abort)?;
        Ok(heap.alloc(AllocDict(
            props
                .into_iter()
                .map(|(n, p)| (heap.alloc(n.as_str()), heap.alloc(PropObj(p)))),
        )))
    }

    /// The key property name, or None.
    fn getkey<'v>(
        this: &ClassObj,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let c = ctx(eval)?;
        let key = core(c.with_schema(|s| s.class(&this.name).map(|cls| cls.key.clone())))?;
        Ok(match key {
            Some(k) => eval.heap().alloc(k),
            None => Value::new_none(),
        })
    }

    /// The label property name.
    fn labelprop<'v>(
        this: &ClassObj,
        #[starlark(default = false)] default_to_id: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<String> {
        let c = ctx(eval)?;
        let d = default_to_id.to_bool();
        core(c.with_schema(|s| s.class(&this.name).map(|cls| cls.label_prop(d))))
    }

    /// The order property name.
    fn orderprop<'v>(
        this: &ClassObj,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<String> {
        let c = ctx(eval)?;
        core(c.with_schema(|s| s.class(&this.name).map(|cls| cls.order_prop())))
    }

    // ----- live database

    /// A property value; `default` is returned when the item has no
    /// such property value set... only if given and the value is unset.
    fn get<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        #[starlark(require = pos)] propname: &str,
        #[starlark(require = pos)] default: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let db = ctx(eval)?.live("get()")?;
        let id = need_id(&this.name, nodeid)?;
        let v = core(db.get(&this.name, &id, propname))?;
        match (v, default) {
            (None, Some(d)) => Ok(d),
            (v, _) => Ok(to_starlark(eval.heap(), &v)),
        }
    }

    /// The whole item, with attribute access to its values.
    fn getnode<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NodeObj> {
        let db = ctx(eval)?.live("getnode()")?;
        let id = need_id(&this.name, nodeid)?;
        let cls = core(db.class(&this.name))?;
        let mut values = Vec::new();
        for name in cls.prop_names(true) {
            if name == "id" || cls.is_file_content(&name) {
                continue;
            }
            values.push((name.clone(), core(db.get(&this.name, &id, &name))?));
        }
        Ok(NodeObj {
            class: this.name.clone(),
            id,
            values,
        })
    }

    /// Change properties; returns a dict of the properties that changed.
    fn set<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let db = ctx(eval)?.live("set()")?;
        let id = need_id(&this.name, nodeid)?;
        let values = dict_to_values(db, &this.name, &kwargs_pairs(kwargs)?)?;
        let changed = core(db.set(&this.name, &id, values))?;
        Ok(crate::convert::values_to_dict(eval.heap(), &changed))
    }

    /// Create an item; returns its id.
    fn create<'v>(
        this: &ClassObj,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<String> {
        let db = ctx(eval)?.live("create()")?;
        let values = dict_to_values(db, &this.name, &kwargs_pairs(kwargs)?)?;
        core(db.create(&this.name, values))
    }

    /// The id of the item with this key value. With `default=`, that is
    /// returned when there is none (Starlark has no try/except).
    fn lookup<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] keyvalue: &str,
        #[starlark(require = named)] default: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let db = ctx(eval)?.live("lookup()")?;
        match db.lookup(&this.name, keyvalue) {
            Ok(id) => Ok(eval.heap().alloc(id)),
            Err(Error::NoSuchKey { .. }) if default.is_some() => {
                Ok(default.unwrap_or_else(Value::new_none))
            }
            Err(e) => Err(abort(e)),
        }
    }

    /// Items linking to the given ids: find(prop=id), find(prop=[ids]),
    /// find(prop={id: 1}).
    fn find<'v>(
        this: &ClassObj,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let db = ctx(eval)?.live("find()")?;
        let mut spec: Vec<(String, Vec<String>)> = Vec::new();
        for (prop, v) in kwargs_pairs(kwargs)? {
            let ids = if let Some(d) = DictRef::from_value(v) {
                d.iter().filter_map(|(k, _)| id_text(k)).collect()
            } else {
                str_list(v).ok_or_else(|| {
                    script_err(format!(
                        "find(): {prop} must be an id or a list of ids, not {}",
                        v.to_repr()
                    ))
                })?
            };
            spec.push((prop, ids));
        }
        let spec_ref: Vec<(&str, Vec<String>)> =
            spec.iter().map(|(p, i)| (p.as_str(), i.clone())).collect();
        core(db.find(&this.name, &spec_ref))
    }

    /// Items whose String properties equal the given values exactly.
    #[allow(non_snake_case)]
    fn stringFind<'v>(
        this: &ClassObj,
        #[starlark(kwargs)] kwargs: DictRef<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let db = ctx(eval)?.live("stringFind()")?;
        let mut spec: Vec<(String, String)> = Vec::new();
        for (prop, v) in kwargs_pairs(kwargs)? {
            match v.unpack_str() {
                Some(s) => spec.push((prop, s.to_string())),
                None => {
                    return Err(script_err(format!(
                        "stringFind(): {prop} must be a str, not {}",
                        v.to_repr()
                    )))
                }
            }
        }
        let spec_ref: Vec<(&str, &str)> =
            spec.iter().map(|(p, s)| (p.as_str(), s.as_str())).collect();
        core(db.stringfind(&this.name, &spec_ref))
    }

    /// Roundup's filter(search_matches, filterspec, sort=[], group=[],
    /// retired=False, exact_match_spec={}, limit=None, offset=None) for
    /// simple filterspecs (see the crate docs).
    fn filter<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] search_matches: Value<'v>,
        #[starlark(require = pos)] filterspec: Value<'v>,
        #[starlark(default = NoneType)] sort: Value<'v>,
        #[starlark(default = NoneType)] group: Value<'v>,
        #[starlark(require = named, default = false)] retired: Value<'v>,
        #[starlark(require = named, default = NoneType)] exact_match_spec: Value<'v>,
        #[starlark(require = named, default = NoneType)] limit: Value<'v>,
        #[starlark(require = named, default = NoneType)] offset: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let db = ctx(eval)?.live("filter()")?;
        let args = filterspec::FilterArgs::from_starlark(
            search_matches,
            filterspec,
            sort,
            group,
            retired,
            exact_match_spec,
            limit,
            offset,
        )?;
        core(db.filter(&this.name, &args.to_spec()))
    }

    /// Ids of active items.
    fn list<'v>(
        this: &ClassObj,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let db = ctx(eval)?.live("list()")?;
        core(db.list(&this.name))
    }

    /// Ids of items: all (retired=None), only retired (True) or only active (False).
    fn getnodeids<'v>(
        this: &ClassObj,
        #[starlark(default = NoneType)] retired: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let db = ctx(eval)?.live("getnodeids()")?;
        let r = if retired.is_none() {
            None
        } else {
            Some(retired.to_bool())
        };
        core(db.getnodeids(&this.name, r))
    }

    /// Number of active items.
    fn count<'v>(this: &ClassObj, eval: &mut Evaluator<'v, '_, '_>) -> starlark::Result<i64> {
        let db = ctx(eval)?.live("count()")?;
        Ok(core(db.count(&this.name))? as i64)
    }

    fn hasnode<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<bool> {
        let db = ctx(eval)?.live("hasnode()")?;
        match id_text(nodeid) {
            Some(id) => core(db.has_node(&this.name, &id)),
            None => Ok(false),
        }
    }

    fn retire<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        let db = ctx(eval)?.live("retire()")?;
        let id = need_id(&this.name, nodeid)?;
        core(db.retire(&this.name, &id))?;
        Ok(NoneType)
    }

    fn restore<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<NoneType> {
        let db = ctx(eval)?.live("restore()")?;
        let id = need_id(&this.name, nodeid)?;
        core(db.restore(&this.name, &id))?;
        Ok(NoneType)
    }

    fn is_retired<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<bool> {
        let db = ctx(eval)?.live("is_retired()")?;
        let id = need_id(&this.name, nodeid)?;
        core(db.is_retired(&this.name, &id))
    }

    /// The journal: a list of (nodeid, date, userid, action, params).
    fn history<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let db = ctx(eval)?.live("history()")?;
        let id = need_id(&this.name, nodeid)?;
        let entries = core(db.history(&this.name, &id))?;
        let heap = eval.heap();
        Ok(heap.alloc(AllocList(entries.iter().map(|e| {
            heap.alloc(AllocTuple([
                heap.alloc(e.nodeid.as_str()),
                heap.alloc(DateObj(e.date)),
                heap.alloc(e.tag.as_str()),
                heap.alloc(e.action.as_str()),
                py_to_starlark(heap, &e.params),
            ]))
        }))))
    }

    /// The lower-case role names of a user (user class).
    fn get_roles<'v>(
        this: &ClassObj,
        #[starlark(require = pos)] nodeid: Value<'v>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Vec<String>> {
        let db = ctx(eval)?.live("get_roles()")?;
        let id = need_id(&this.name, nodeid)?;
        if this.name != "user" {
            return Err(script_err(format!(
                "get_roles() is a method of the user class, not of {}",
                this.name
            )));
        }
        core(db.user_roles(&id))
    }
}
