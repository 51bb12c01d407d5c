//! Running a program: TAL statements, METAL macros and slots, and TALES
//! evaluation over the variables in force.

use std::collections::HashMap;
use std::sync::Arc;

use minijinja::value::{Value, ValueKind};
use minijinja::{ErrorKind, State};

use crate::compile::{CElement, CNode, Insert, Program};
use crate::tales::{self, Expr, Kind, Path, Piece, Step, StrPart};
use crate::values::{
    self, bound, is_default, py_str, truthy, BoundMethod, LoopState, MacroObj, RepeatMap,
    TemplateObj, TemplatesObj,
};
use crate::{Loader, TalError};

/// HTML attributes that are present or absent rather than valued.
const BOOLEAN_ATTRS: &[&str] = &[
    "compact",
    "nowrap",
    "ismap",
    "declare",
    "noshade",
    "checked",
    "disabled",
    "readonly",
    "multiple",
    "selected",
    "noresize",
    "defer",
    "required",
    "autofocus",
    "hidden",
];

/// The `fill-slot`s in force: each with the slots of its own use site.
#[derive(Clone, Default)]
struct Slots(Option<Arc<SlotMap>>);

struct SlotMap {
    fills: HashMap<String, Arc<CElement>>,
    /// The template the fills are written in.
    program: Arc<Program>,
    outer: Slots,
}

impl Slots {
    fn get(&self, name: &str) -> Option<(Arc<CElement>, Arc<Program>, Slots)> {
        let map = self.0.as_ref()?;
        map.fills
            .get(name)
            .map(|f| (f.clone(), map.program.clone(), map.outer.clone()))
    }
}

/// An evaluation failure: a message, or a path that led nowhere (which
/// path alternatives and `exists:` take as "try the next").
#[derive(Debug)]
pub enum Fail {
    Missing(String),
    Error(String),
}

impl Fail {
    pub fn message(self) -> String {
        match self {
            Fail::Missing(m) | Fail::Error(m) => m,
        }
    }
}

impl From<minijinja::Error> for Fail {
    fn from(e: minijinja::Error) -> Self {
        let msg = match e.detail() {
            Some(d) => d.to_string(),
            None => e.kind().to_string(),
        };
        match e.kind() {
            ErrorKind::UnknownMethod | ErrorKind::UndefinedError => Fail::Missing(msg),
            _ => Fail::Error(msg),
        }
    }
}

pub type EvalResult = Result<Value, Fail>;

/// The state of one rendering.
pub struct Ctx<'a, 'st, 'env> {
    pub state: &'a State<'st, 'env>,
    pub globals: HashMap<String, Value>,
    pub locals: Vec<(String, Value)>,
    repeat: Arc<RepeatMap>,
    /// The template whose code runs (for error messages).
    program: Arc<Program>,
    line: usize,
    depth: usize,
    /// `path()`/`string()` texts compiled at run time.
    dynamic: HashMap<String, Arc<Expr>>,
    /// The message catalog: a message id to its translation (the id
    /// itself when there is none).
    translate: &'a dyn Fn(&str) -> String,
    /// The `i18n:name` values of each `i18n:translate` being rendered,
    /// innermost last.
    i18n: Vec<Vec<(String, String)>>,
}

/// Render a template with these variables. `templates`, `template`,
/// `nothing`, `default`, `repeat` and an empty `options` are provided
/// unless the variables name them.
pub fn render(
    program: &Arc<Program>,
    loader: Arc<dyn Loader>,
    state: &State,
    vars: Vec<(String, Value)>,
) -> Result<String, TalError> {
    render_translated(program, loader, state, vars, &|m: &str| m.to_string())
}

/// [`render`], with `i18n:translate` and `i18n:attributes` messages
/// looked up by `translate` (which answers a message id with its
/// translation, or the id itself).
pub fn render_translated(
    program: &Arc<Program>,
    loader: Arc<dyn Loader>,
    state: &State,
    vars: Vec<(String, Value)>,
    translate: &dyn Fn(&str) -> String,
) -> Result<String, TalError> {
    let mut globals: HashMap<String, Value> = HashMap::new();
    globals.insert("templates".into(), Value::from_object(TemplatesObj(loader)));
    globals.insert(
        "template".into(),
        Value::from_object(TemplateObj(program.clone())),
    );
    globals.insert(
        "options".into(),
        Value::from(std::collections::BTreeMap::<String, Value>::new()),
    );
    globals.extend(vars);
    let mut ctx = Ctx {
        state,
        globals,
        locals: Vec::new(),
        repeat: Arc::new(RepeatMap::default()),
        program: program.clone(),
        line: 0,
        depth: 0,
        dynamic: HashMap::new(),
        translate,
        i18n: Vec::new(),
    };
    let mut out = String::with_capacity(16 * 1024);
    ctx.nodes(&program.nodes, &Slots::default(), &mut out)?;
    Ok(out)
}

impl<'a, 'st, 'env> Ctx<'a, 'st, 'env> {
    fn error(&self, expr: &str, message: String) -> TalError {
        TalError::Eval {
            template: self.program.name.clone(),
            line: self.line,
            expr: expr.to_string(),
            message,
        }
    }

    /// A variable's value, if it is defined.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        if let Some((_, v)) = self.locals.iter().rev().find(|(n, _)| n == name) {
            return Some(v.clone());
        }
        if let Some(v) = self.globals.get(name) {
            return Some(v.clone());
        }
        match name {
            "nothing" => Some(Value::from(())),
            "default" => Some(values::default_value()),
            "repeat" => Some(Value::from_dyn_object(self.repeat.clone())),
            _ => None,
        }
    }

    // -----------------------------------------------------------------
    // TALES

    pub fn eval(&mut self, e: &Expr) -> EvalResult {
        match &e.kind {
            Kind::Path {
                alternatives,
                fallback,
            } => self.eval_alternatives(alternatives, fallback.as_deref(), false),
            Kind::Str(parts) => self.eval_string(parts).map(Value::from),
            Kind::Python(ast) => crate::py::eval(self, ast),
            Kind::Interp(pieces) => {
                let mut text = String::new();
                for p in pieces {
                    match p {
                        Piece::Lit(t) => text.push_str(t),
                        Piece::Expr { expr, .. } => {
                            let v = self.eval(expr)?;
                            if !(v.is_none() || v.is_undefined() || is_default(&v)) {
                                text.push_str(&py_str(&v));
                            }
                        }
                    }
                }
                Ok(Value::from(text))
            }
            Kind::Not(inner) => Ok(Value::from(!truthy(&self.eval(inner)?))),
            Kind::Exists(inner) => Ok(Value::from(self.exists(inner)?)),
            Kind::Nocall(inner) => match &inner.kind {
                Kind::Path {
                    alternatives,
                    fallback,
                } => self.eval_alternatives(alternatives, fallback.as_deref(), true),
                _ => self.eval(inner),
            },
        }
    }

    fn eval_alternatives(
        &mut self,
        alternatives: &[Path],
        fallback: Option<&Expr>,
        nocall: bool,
    ) -> EvalResult {
        let mut last = None;
        for (i, p) in alternatives.iter().enumerate() {
            match self.eval_path(p, nocall) {
                Ok(v) => return Ok(v),
                Err(Fail::Missing(m)) if i + 1 < alternatives.len() || fallback.is_some() => {
                    last = Some(m)
                }
                Err(e) => return Err(e),
            }
        }
        match fallback {
            Some(f) => self.eval(f),
            None => Err(Fail::Missing(last.unwrap_or_else(|| "empty path".into()))),
        }
    }

    fn exists(&mut self, e: &Expr) -> Result<bool, Fail> {
        let Kind::Path {
            alternatives,
            fallback,
        } = &e.kind
        else {
            return Ok(self.eval(e).is_ok());
        };
        for p in alternatives {
            match self.eval_path(p, true) {
                Ok(v) => {
                    // A lookup that fell through to a method of a mapping
                    // found no key.
                    if let Some(bm) = v.downcast_object_ref::<BoundMethod>() {
                        if bm.target.kind() == ValueKind::Map {
                            continue;
                        }
                    }
                    return Ok(true);
                }
                Err(Fail::Missing(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        match fallback {
            Some(f) => Ok(self.eval(f).is_ok()),
            None => Ok(false),
        }
    }

    pub fn eval_path(&mut self, p: &Path, nocall: bool) -> EvalResult {
        let mut steps = p.steps.iter();
        let Some(Step::Name(first)) = steps.next() else {
            return Err(Fail::Error("a path starts with a variable name".into()));
        };
        let mut v = self
            .lookup(first)
            .ok_or_else(|| Fail::Missing(format!("name {first:?} is not defined")))?;
        let mut walked = first.clone();
        for step in steps {
            let name = match step {
                Step::Name(n) => n.clone(),
                Step::Var(var) => py_str(
                    &self
                        .lookup(var)
                        .ok_or_else(|| Fail::Missing(format!("name {var:?} is not defined")))?,
                ),
            };
            v = self.traverse(&v, &name, &walked)?;
            walked.push('/');
            walked.push_str(&name);
        }
        if !nocall {
            v = self.render_value(v, &walked)?;
        }
        Ok(v)
    }

    /// Call a method a path ended on (TALES "renders" the last object).
    fn render_value(&mut self, v: Value, walked: &str) -> EvalResult {
        if v.downcast_object_ref::<BoundMethod>().is_some() {
            return v.call(self.state, &[]).map_err(|e| match Fail::from(e) {
                Fail::Missing(m) => Fail::Missing(format!("{walked}: {m}")),
                Fail::Error(m) => Fail::Error(format!("{walked}: {m}")),
            });
        }
        Ok(v)
    }

    fn traverse(&mut self, v: &Value, name: &str, walked: &str) -> EvalResult {
        let v = self.render_value(v.clone(), walked)?;
        let missing = || Fail::Missing(format!("{walked} has no {name:?}"));
        if v.is_undefined() || v.is_none() {
            return Err(missing());
        }
        if let Ok(i) = name.parse::<i64>() {
            if matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable) {
                let x = v.get_item(&Value::from(i)).map_err(Fail::from)?;
                return if x.is_undefined() {
                    Err(missing())
                } else {
                    Ok(x)
                };
            }
        }
        match v.kind() {
            ValueKind::String | ValueKind::Number | ValueKind::Bool => Ok(bound(&v, name)),
            _ => {
                // (for objects, get_item by name is what get_attr does)
                let x = v.get_item(&Value::from(name)).map_err(Fail::from)?;
                if !x.is_undefined() {
                    return Ok(x);
                }
                Ok(bound(&v, name))
            }
        }
    }

    fn eval_string(&mut self, parts: &[StrPart]) -> Result<String, Fail> {
        let mut s = String::new();
        for p in parts {
            match p {
                StrPart::Lit(l) => s.push_str(l),
                StrPart::Path(path) => {
                    // None interpolates as "None", as in Python.
                    let v = self.eval_path(path, false)?;
                    if !v.is_undefined() {
                        s.push_str(&py_str(&v));
                    }
                }
            }
        }
        Ok(s)
    }

    /// A TALES text given at run time (`path('...')`), compiled once per
    /// render.
    fn compiled(&mut self, key: String) -> Result<Arc<Expr>, Fail> {
        if let Some(e) = self.dynamic.get(&key) {
            return Ok(e.clone());
        }
        let e = Arc::new(tales::compile(&key).map_err(Fail::Error)?);
        self.dynamic.insert(key, e.clone());
        Ok(e)
    }

    /// Evaluate `prefix:text` (`path('...')`, `string('...')`).
    pub fn eval_text(&mut self, text: &str, prefix: &str) -> EvalResult {
        let e = self.compiled(format!("{prefix}{text}"))?;
        self.eval(&e)
    }

    pub fn exists_text(&mut self, text: &str) -> Result<bool, Fail> {
        let e = self.compiled(text.to_string())?;
        self.exists(&e)
    }

    fn eval_stmt(&mut self, e: &Expr) -> Result<Value, TalError> {
        self.eval(e).map_err(|f| self.error(&e.source, f.message()))
    }

    // -----------------------------------------------------------------
    // TAL and METAL

    fn nodes(&mut self, nodes: &[CNode], slots: &Slots, out: &mut String) -> Result<(), TalError> {
        for n in nodes {
            match n {
                CNode::Text(t) => out.push_str(t),
                CNode::Element(e) => self.element(e, slots, out)?,
                CNode::Interp(Insert { structure, expr }) => {
                    let v = self.eval_stmt(expr)?;
                    if !is_default(&v) {
                        self.emit(&v, *structure, out);
                    }
                }
            }
        }
        Ok(())
    }

    fn element(
        &mut self,
        e: &Arc<CElement>,
        slots: &Slots,
        out: &mut String,
    ) -> Result<(), TalError> {
        let Some(on_error) = &e.on_error else {
            return self.element_inner(e, slots, out);
        };
        let mark = out.len();
        let locals = self.locals.len();
        let repeat = self.repeat.clone();
        match self.element_inner(e, slots, out) {
            Ok(()) => Ok(()),
            Err(err) => {
                out.truncate(mark);
                self.locals.truncate(locals);
                self.repeat = repeat;
                self.line = e.line;
                let v = self
                    .eval(&on_error.expr)
                    .unwrap_or_else(|_| Value::from(err.message().to_string()));
                self.start_tag(e, &[], true, out);
                self.emit(&v, on_error.structure, out);
                self.end_tag(e, true, out);
                Ok(())
            }
        }
    }

    fn element_inner(
        &mut self,
        e: &Arc<CElement>,
        slots: &Slots,
        out: &mut String,
    ) -> Result<(), TalError> {
        if let Some(slot) = &e.define_slot {
            if let Some((filler, program, outer)) = slots.get(slot) {
                let saved = std::mem::replace(&mut self.program, program);
                let r = self.element(&filler, &outer, out);
                self.program = saved;
                return r;
            }
        }
        self.line = e.line;
        let mark = self.locals.len();
        let result = self.element_statements(e, slots, out);
        self.locals.truncate(mark);
        result
    }

    fn element_statements(
        &mut self,
        e: &Arc<CElement>,
        slots: &Slots,
        out: &mut String,
    ) -> Result<(), TalError> {
        for d in &e.defines {
            self.line = e.line;
            let v = self.eval_stmt(&d.expr)?;
            if d.global {
                self.globals.insert(d.name.clone(), v);
            } else {
                self.locals.push((d.name.clone(), v));
            }
        }
        if let Some(c) = &e.condition {
            self.line = e.line;
            if !truthy(&self.eval_stmt(c)?) {
                return Ok(());
            }
        }
        if let Some(m) = &e.use_macro {
            self.line = e.line;
            let v = self.eval_stmt(m)?;
            let Some(mac) = v.downcast_object_ref::<MacroObj>() else {
                return Err(self.error(
                    &m.source,
                    format!("not a macro (got {})", values::py_repr(&v)),
                ));
            };
            if self.depth > 64 {
                return Err(self.error(&m.source, "macros nest more than 64 deep".into()));
            }
            let inner = Slots(Some(Arc::new(SlotMap {
                fills: e.fills.clone(),
                program: self.program.clone(),
                outer: slots.clone(),
            })));
            let saved = std::mem::replace(&mut self.program, mac.program.clone());
            self.depth += 1;
            let r = self.element(&mac.element, &inner, out);
            self.depth -= 1;
            self.program = saved;
            return r;
        }
        if let Some((name, expr)) = &e.repeat {
            self.line = e.line;
            let seq = self.eval_stmt(expr)?;
            if seq.is_none() || seq.is_undefined() {
                return Ok(());
            }
            // Sequences are walked by index, fetching each item as its
            // turn comes (as Python's iteration of Roundup's Batch does,
            // which `propchanged` relies on); other iterables are read first.
            let by_index = match seq.kind() {
                ValueKind::Seq => seq.len(),
                _ => None,
            };
            let items: Vec<Value> = match by_index {
                Some(_) => Vec::new(),
                None => match seq.try_iter() {
                    Ok(it) => it.collect(),
                    Err(err) => {
                        return Err(self.error(
                            &expr.source,
                            format!("cannot repeat over {}: {err}", values::py_repr(&seq)),
                        ))
                    }
                },
            };
            let saved = self.repeat.clone();
            let len = by_index.unwrap_or(items.len());
            for i in 0..len {
                let item = match by_index {
                    Some(_) => seq.get_item(&Value::from(i)).unwrap_or_default(),
                    None => items.get(i).cloned().unwrap_or_default(),
                };
                let state = LoopState {
                    index: i,
                    length: len,
                    item: item.clone(),
                    seq: seq.clone(),
                };
                // The loop's own map, changed in place from the second
                // item on (copied only while an expression holds it).
                if i == 0 {
                    self.repeat = Arc::new((*saved).clone());
                }
                Arc::make_mut(&mut self.repeat)
                    .0
                    .insert(name.clone(), Value::from_object(state));
                let mark = self.locals.len();
                self.locals.push((name.clone(), item));
                let r = self.body(e, slots, out);
                self.locals.truncate(mark);
                if let Err(err) = r {
                    self.repeat = saved;
                    return Err(err);
                }
            }
            self.repeat = saved;
            return Ok(());
        }
        self.body(e, slots, out)
    }

    fn body(&mut self, e: &Arc<CElement>, slots: &Slots, out: &mut String) -> Result<(), TalError> {
        // inside a message, an `i18n:name` element gives a `${name}`
        // placeholder and its text becomes the variable's value
        let name = e.i18n_name.as_ref().filter(|_| !self.i18n.is_empty());
        if let Some(r) = &e.replace {
            self.line = e.line;
            let v = self.eval_stmt(&r.expr)?;
            if !is_default(&v) {
                match name {
                    Some(name) => {
                        let mut text = String::new();
                        self.emit(&v, r.structure || v.is_safe(), &mut text);
                        self.placeholder(name, text, out);
                    }
                    None => self.emit(&v, r.structure, out),
                }
                return Ok(());
            }
        }
        match name {
            Some(name) => {
                let mut text = String::new();
                self.element_body(e, slots, &mut text)?;
                self.placeholder(name, normalize_message(&text), out);
                Ok(())
            }
            None => self.element_body(e, slots, out),
        }
    }

    /// Record an `i18n:name` value and write its placeholder.
    fn placeholder(&mut self, name: &str, value: String, out: &mut String) {
        if let Some(frame) = self.i18n.last_mut() {
            frame.retain(|(n, _)| n != name);
            frame.push((name.to_string(), value));
        }
        out.push_str("${");
        out.push_str(name);
        out.push('}');
    }

    /// The element's tags (unless omitted) around its content.
    fn element_body(
        &mut self,
        e: &Arc<CElement>,
        slots: &Slots,
        out: &mut String,
    ) -> Result<(), TalError> {
        let mut attrs = Vec::with_capacity(e.attributes.len() + e.i18n_attrs.len());
        for (name, expr) in &e.attributes {
            self.line = e.line;
            let mut v = self.eval_stmt(expr)?;
            if let Some((_, msgid)) = e
                .i18n_attrs
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(name))
            {
                if !(is_default(&v) || v.is_none() || v.is_undefined()) {
                    let text = py_str(&v);
                    v = Value::from((self.translate)(msgid.as_deref().unwrap_or(&text)));
                }
            }
            attrs.push((name.as_str(), v));
        }
        for (name, msgid) in &e.i18n_attrs {
            if attrs.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                continue;
            }
            let Some(a) = e.attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name)) else {
                continue;
            };
            let Some(value) = &a.value else { continue };
            let t = (self.translate)(msgid.as_deref().unwrap_or(value));
            attrs.push((a.name.as_str(), Value::from(t)));
        }
        let omit = e.omit_always
            || (e.i18n_name.is_some() && e.content.is_none())
            || match &e.omit_tag {
                None => false,
                Some(None) => true,
                Some(Some(x)) => {
                    self.line = e.line;
                    truthy(&self.eval_stmt(x)?)
                }
            };
        if !omit {
            self.start_tag(e, &attrs, e.content.is_some(), out);
        }
        match &e.translate {
            Some(msgid) => {
                // The content, rendered aside, is the message (unless the
                // id is given); the translation is written as markup.
                self.i18n.push(Vec::new());
                let mut text = String::new();
                let r = self.content(e, slots, &mut text);
                let names = self.i18n.pop().unwrap_or_default();
                r?;
                let id = if msgid.is_empty() {
                    normalize_message(&text)
                } else {
                    msgid.clone()
                };
                let translated = (self.translate)(&id);
                out.push_str(&interpolate(&translated, &names));
            }
            None => self.content(e, slots, out)?,
        }
        if !omit {
            self.end_tag(e, e.content.is_some(), out);
        }
        Ok(())
    }

    fn content(
        &mut self,
        e: &Arc<CElement>,
        slots: &Slots,
        out: &mut String,
    ) -> Result<(), TalError> {
        match &e.content {
            Some(Insert { structure, expr }) => {
                self.line = e.line;
                let v = self.eval_stmt(expr)?;
                if is_default(&v) {
                    self.nodes(&e.children, slots, out)?;
                } else {
                    self.emit(&v, *structure, out);
                }
            }
            None => self.nodes(&e.children, slots, out)?,
        }
        Ok(())
    }

    fn emit(&self, v: &Value, structure: bool, out: &mut String) {
        if v.is_none() || v.is_undefined() {
            return;
        }
        let s = py_str(v);
        if structure {
            out.push_str(&s);
        } else {
            values::escape_text(&s, out);
        }
    }

    /// The start tag; `filled`: content replaces the element's, so a
    /// `<x/>` gets an end tag.
    fn start_tag(&self, e: &CElement, dynamic: &[(&str, Value)], filled: bool, out: &mut String) {
        out.push('<');
        out.push_str(&e.name);
        let html_bool = |n: &str| BOOLEAN_ATTRS.contains(&n.to_ascii_lowercase().as_str());
        let write = |name: &str, v: &Value, fallback: Option<&str>, out: &mut String| {
            if is_default(v) {
                if let Some(src) = fallback {
                    out.push(' ');
                    out.push_str(src);
                }
                return;
            }
            if v.is_none() || v.is_undefined() {
                return;
            }
            if html_bool(name) {
                if truthy(v) {
                    out.push(' ');
                    out.push_str(name);
                    out.push_str("=\"");
                    out.push_str(name);
                    out.push('"');
                }
                return;
            }
            out.push(' ');
            out.push_str(name);
            out.push_str("=\"");
            values::escape_attr(&py_str(v), out);
            out.push('"');
        };
        for a in &e.attrs {
            match dynamic
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(&a.name))
            {
                Some((_, v)) => write(&a.name, v, Some(&a.source), out),
                None => {
                    out.push(' ');
                    out.push_str(&a.source);
                }
            }
        }
        for (name, v) in dynamic {
            if !e.attrs.iter().any(|a| a.name.eq_ignore_ascii_case(name)) {
                write(name, v, None, out);
            }
        }
        if e.self_closed && (!filled || e.void) {
            out.push_str(" />");
        } else {
            out.push('>');
        }
    }

    fn end_tag(&self, e: &CElement, filled: bool, out: &mut String) {
        if e.void || (e.self_closed && !filled) {
            return;
        }
        if e.end_tag || e.self_closed {
            out.push_str("</");
            out.push_str(&e.name);
            out.push('>');
        }
    }
}

/// TAL's message id of a text: whitespace at the ends dropped, inner
/// runs folded to one space.
fn normalize_message(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for w in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// `${name}` and `$name` in a translated message replaced by the values
/// of the message's `i18n:name` elements; other `$` text is kept.
fn interpolate(text: &str, names: &[(String, String)]) -> String {
    if names.is_empty() || !text.contains('$') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(after2) = after.strip_prefix('$') {
            out.push_str("$$");
            rest = after2;
            continue;
        }
        let name_len = |s: &str| {
            s.char_indices()
                .find(|(j, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_')
                        || (*j == 0 && !c.is_ascii_alphabetic())
                })
                .map_or(s.len(), |(j, _)| j)
        };
        let (name, used) = match after.strip_prefix('{') {
            Some(inner) => {
                let n = name_len(inner);
                if n > 0 && inner[n..].starts_with('}') {
                    (&inner[..n], n + 2)
                } else {
                    ("", 0)
                }
            }
            None => {
                let n = name_len(after);
                (&after[..n], n)
            }
        };
        match names.iter().find(|(n, _)| !name.is_empty() && n == name) {
            Some((_, v)) => {
                out.push_str(v);
                rest = &after[used..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
