//! TALES `python:` expressions, evaluated over minijinja values.
//!
//! The expressions page templates write are small: names, attributes,
//! calls with keyword arguments, subscripts and slices, arithmetic,
//! `%`-formatting, comparisons, `and`/`or`/`not`, conditional
//! expressions, literals, comprehensions and `lambda`-free builtins.
//! Method calls on model objects go to their `call_method`; Python's
//! string, list and dict methods are provided here.

use minijinja::value::{Kwargs, Value, ValueKind};
use rustpython_ruff_python_ast::{self as ast, BoolOp, CmpOp, Expr, Number, Operator, UnaryOp};

use crate::render::{Ctx, EvalResult, Fail};
use crate::values::{as_f64, bound, py_cmp, py_eq, py_repr, py_str, truthy, Builtin, PyDict};

const BUILTINS: &[&str] = &[
    "len",
    "str",
    "int",
    "float",
    "bool",
    "list",
    "tuple",
    "dict",
    "range",
    "min",
    "max",
    "sorted",
    "enumerate",
    "zip",
    "abs",
    "round",
    "sum",
    "any",
    "all",
    "repr",
    "hasattr",
    "getattr",
    "isinstance",
    "path",
    "string",
    "exists",
    "test",
    "same_type",
    "unicode",
    "reversed",
    "set",
    "ord",
    "chr",
];

fn err(msg: impl Into<String>) -> Fail {
    Fail::Error(msg.into())
}

pub fn eval(ctx: &mut Ctx, e: &Expr) -> EvalResult {
    match e {
        Expr::BoolOp(b) => {
            let mut last = Value::from(());
            for (i, x) in b.values.iter().enumerate() {
                last = eval(ctx, x)?;
                let t = truthy(&last);
                let stop = match b.op {
                    BoolOp::And => !t,
                    BoolOp::Or => t,
                };
                if stop || i + 1 == b.values.len() {
                    break;
                }
            }
            Ok(last)
        }
        Expr::BinOp(b) => {
            let l = eval(ctx, &b.left)?;
            let r = eval(ctx, &b.right)?;
            binop(b.op, &l, &r)
        }
        Expr::UnaryOp(u) => {
            let v = eval(ctx, &u.operand)?;
            match u.op {
                UnaryOp::Not => Ok(Value::from(!truthy(&v))),
                UnaryOp::USub => {
                    if let Some(i) = int_of(&v) {
                        Ok(Value::from(-i))
                    } else {
                        as_f64(&v)
                            .map(|f| Value::from(-f))
                            .ok_or_else(|| err(format!("bad operand for unary -: {}", py_repr(&v))))
                    }
                }
                UnaryOp::UAdd => Ok(v),
                UnaryOp::Invert => v
                    .as_i64()
                    .map(|i| Value::from(!i))
                    .ok_or_else(|| err("bad operand for ~")),
            }
        }
        Expr::If(i) => {
            if truthy(&eval(ctx, &i.test)?) {
                eval(ctx, &i.body)
            } else {
                eval(ctx, &i.orelse)
            }
        }
        Expr::Dict(d) => {
            let mut m = PyDict::default();
            for item in &d.items {
                let v = eval(ctx, &item.value)?;
                match &item.key {
                    Some(k) => {
                        m.insert(eval(ctx, k)?, v);
                    }
                    None => {
                        if let Ok(it) = v.try_iter() {
                            for k in it {
                                let val = v.get_item(&k).unwrap_or_default();
                                m.insert(k, val);
                            }
                        }
                    }
                }
            }
            Ok(m.into_value())
        }
        Expr::Set(s) => {
            let mut out: Vec<Value> = Vec::new();
            for x in &s.elts {
                let v = eval(ctx, x)?;
                if !out.iter().any(|o| py_eq(o, &v)) {
                    out.push(v);
                }
            }
            Ok(Value::from(out))
        }
        Expr::List(l) => Ok(Value::from(list(ctx, &l.elts)?)),
        Expr::Tuple(t) => Ok(Value::from(list(ctx, &t.elts)?)),
        Expr::ListComp(c) => comprehension(ctx, &c.elt, &c.generators),
        Expr::Generator(c) => comprehension(ctx, &c.elt, &c.generators),
        Expr::SetComp(c) => comprehension(ctx, &c.elt, &c.generators),
        Expr::DictComp(c) => {
            let mut out = PyDict::default();
            let pair = ast::Expr::Tuple(ast::ExprTuple {
                range: Default::default(),
                node_index: Default::default(),
                elts: vec![(*c.key).clone(), (*c.value).clone()],
                ctx: ast::ExprContext::Load,
                parenthesized: true,
            });
            let pairs = comprehension(ctx, &pair, &c.generators)?;
            for p in pairs.try_iter().map_err(Fail::from)? {
                out.insert(
                    p.get_item(&Value::from(0)).unwrap_or_default(),
                    p.get_item(&Value::from(1)).unwrap_or_default(),
                );
            }
            Ok(out.into_value())
        }
        Expr::Compare(c) => {
            let mut left = eval(ctx, &c.left)?;
            for (op, right) in c.ops.iter().zip(c.comparators.iter()) {
                let right = eval(ctx, right)?;
                if !compare(*op, &left, &right)? {
                    return Ok(Value::from(false));
                }
                left = right;
            }
            Ok(Value::from(true))
        }
        Expr::Call(call) => eval_call(ctx, call),
        Expr::FString(f) => {
            let mut s = String::new();
            for part in f.value.iter() {
                match part {
                    ast::FStringPart::Literal(l) => s.push_str(l),
                    ast::FStringPart::FString(fs) => {
                        for el in fs.elements.iter() {
                            match el {
                                ast::InterpolatedStringElement::Literal(l) => s.push_str(&l.value),
                                ast::InterpolatedStringElement::Interpolation(i) => {
                                    s.push_str(&py_str(&eval(ctx, &i.expression)?))
                                }
                            }
                        }
                    }
                }
            }
            Ok(Value::from(s))
        }
        Expr::StringLiteral(s) => Ok(Value::from(s.value.to_str())),
        Expr::BytesLiteral(b) => {
            let bytes: Vec<u8> = b.value.bytes().collect();
            Ok(Value::from(String::from_utf8_lossy(&bytes).into_owned()))
        }
        Expr::NumberLiteral(n) => match &n.value {
            Number::Int(i) => i
                .as_i64()
                .map(Value::from)
                .ok_or_else(|| err("integer too large")),
            Number::Float(f) => Ok(Value::from(*f)),
            Number::Complex { .. } => Err(err("complex numbers are not supported")),
        },
        Expr::BooleanLiteral(b) => Ok(Value::from(b.value)),
        Expr::NoneLiteral(_) => Ok(Value::from(())),
        Expr::Attribute(a) => {
            let target = eval(ctx, &a.value)?;
            attribute(&target, a.attr.as_str())
        }
        Expr::Subscript(s) => {
            let target = eval(ctx, &s.value)?;
            if let Expr::Slice(sl) = &*s.slice {
                let lower = sl.lower.as_deref().map(|x| eval(ctx, x)).transpose()?;
                let upper = sl.upper.as_deref().map(|x| eval(ctx, x)).transpose()?;
                let step = sl.step.as_deref().map(|x| eval(ctx, x)).transpose()?;
                return slice(&target, lower, upper, step);
            }
            let key = eval(ctx, &s.slice)?;
            subscript(&target, &key)
        }
        Expr::Name(n) => {
            let name = n.id.as_str();
            if let Some(v) = ctx.lookup(name) {
                return Ok(v);
            }
            match name {
                "True" => Ok(Value::from(true)),
                "False" => Ok(Value::from(false)),
                "None" => Ok(Value::from(())),
                _ => match BUILTINS.iter().find(|b| **b == name) {
                    Some(b) => Ok(Value::from_object(Builtin(b))),
                    None => Err(Fail::Missing(format!("name {name:?} is not defined"))),
                },
            }
        }
        Expr::Slice(_) => Err(err("a slice outside a subscript")),
        Expr::Starred(_) => Err(err("*args are not supported here")),
        _ => Err(err(
            "this kind of Python expression is not supported in templates",
        )),
    }
}

fn list(ctx: &mut Ctx, elts: &[Expr]) -> Result<Vec<Value>, Fail> {
    let mut out = Vec::with_capacity(elts.len());
    for x in elts {
        if let Expr::Starred(s) = x {
            let v = eval(ctx, &s.value)?;
            out.extend(iterate(&v)?);
        } else {
            out.push(eval(ctx, x)?);
        }
    }
    Ok(out)
}

fn iterate(v: &Value) -> Result<Vec<Value>, Fail> {
    match v.kind() {
        ValueKind::String => Ok(v
            .as_str()
            .unwrap_or_default()
            .chars()
            .map(|c| Value::from(c.to_string()))
            .collect()),
        _ => v
            .try_iter()
            .map(|it| it.collect())
            .map_err(|_| err(format!("{} is not iterable", py_repr(v)))),
    }
}

/// Bind a comprehension target (`x` or `(k, v)`).
fn bind(ctx: &mut Ctx, target: &Expr, v: Value) -> Result<(), Fail> {
    match target {
        Expr::Name(n) => {
            ctx.locals.push((n.id.as_str().to_string(), v));
            Ok(())
        }
        Expr::Tuple(t) => bind_many(ctx, &t.elts, v),
        Expr::List(t) => bind_many(ctx, &t.elts, v),
        _ => Err(err("unsupported comprehension target")),
    }
}

fn bind_many(ctx: &mut Ctx, elts: &[Expr], v: Value) -> Result<(), Fail> {
    let items = iterate(&v)?;
    if items.len() != elts.len() {
        return Err(err(format!(
            "cannot unpack {} values into {}",
            items.len(),
            elts.len()
        )));
    }
    for (t, x) in elts.iter().zip(items) {
        bind(ctx, t, x)?;
    }
    Ok(())
}

fn comprehension(ctx: &mut Ctx, elt: &Expr, gens: &[ast::Comprehension]) -> EvalResult {
    let mut out = Vec::new();
    let mark = ctx.locals.len();
    let r = comp_level(ctx, elt, gens, &mut out);
    ctx.locals.truncate(mark);
    r?;
    Ok(Value::from(out))
}

fn comp_level(
    ctx: &mut Ctx,
    elt: &Expr,
    gens: &[ast::Comprehension],
    out: &mut Vec<Value>,
) -> Result<(), Fail> {
    let Some((g, rest)) = gens.split_first() else {
        out.push(eval(ctx, elt)?);
        return Ok(());
    };
    let seq = eval(ctx, &g.iter)?;
    'items: for item in iterate(&seq)? {
        let mark = ctx.locals.len();
        bind(ctx, &g.target, item)?;
        for cond in &g.ifs {
            if !truthy(&eval(ctx, cond)?) {
                ctx.locals.truncate(mark);
                continue 'items;
            }
        }
        comp_level(ctx, elt, rest, out)?;
        ctx.locals.truncate(mark);
    }
    Ok(())
}

fn contains(container: &Value, item: &Value) -> Result<bool, Fail> {
    match container.kind() {
        ValueKind::String => {
            let hay = container.as_str().unwrap_or_default();
            Ok(hay.contains(&py_str(item)))
        }
        ValueKind::Map => {
            let v = container.get_item(item).unwrap_or_default();
            if !v.is_undefined() {
                return Ok(true);
            }
            Ok(iterate(container)?.iter().any(|k| py_eq(k, item)))
        }
        ValueKind::Undefined | ValueKind::None => {
            Err(err("argument of type 'NoneType' is not iterable"))
        }
        _ => Ok(iterate(container)?.iter().any(|k| py_eq(k, item))),
    }
}

fn compare(op: CmpOp, l: &Value, r: &Value) -> Result<bool, Fail> {
    use std::cmp::Ordering::*;
    let ord = || {
        py_cmp(l, r).ok_or_else(|| err(format!("cannot order {} and {}", py_repr(l), py_repr(r))))
    };
    Ok(match op {
        CmpOp::Eq => py_eq(l, r),
        CmpOp::NotEq => !py_eq(l, r),
        CmpOp::Lt => ord()? == Less,
        CmpOp::LtE => ord()? != Greater,
        CmpOp::Gt => ord()? == Greater,
        CmpOp::GtE => ord()? != Less,
        CmpOp::In => contains(r, l)?,
        CmpOp::NotIn => !contains(r, l)?,
        CmpOp::Is => {
            (l.is_none() || l.is_undefined()) && (r.is_none() || r.is_undefined())
                || (l.kind() == r.kind()
                    && l == r
                    && !matches!(l.kind(), ValueKind::Seq | ValueKind::Map))
        }
        CmpOp::IsNot => {
            !((l.is_none() || l.is_undefined()) && (r.is_none() || r.is_undefined())
                || (l.kind() == r.kind()
                    && l == r
                    && !matches!(l.kind(), ValueKind::Seq | ValueKind::Map)))
        }
    })
}

fn num_op(op: Operator, a: &Value, b: &Value) -> Option<Value> {
    if let (Some(x), Some(y)) = (int_of(a), int_of(b)) {
        return match op {
            Operator::Add => x.checked_add(y).map(Value::from),
            Operator::Sub => x.checked_sub(y).map(Value::from),
            Operator::Mult => x.checked_mul(y).map(Value::from),
            Operator::Div => (y != 0).then(|| Value::from(x as f64 / y as f64)),
            Operator::FloorDiv => (y != 0).then(|| {
                Value::from(
                    x.div_euclid(y)
                        - if (x % y != 0) && ((x < 0) != (y < 0)) && x.rem_euclid(y) == 0 {
                            1
                        } else {
                            0
                        },
                )
            }),
            Operator::Mod => (y != 0).then(|| Value::from(((x % y) + y) % y)),
            Operator::Pow => u32::try_from(y)
                .ok()
                .and_then(|p| x.checked_pow(p))
                .map(Value::from),
            _ => None,
        };
    }
    let (x, y) = (as_f64(a)?, as_f64(b)?);
    match op {
        Operator::Add => Some(Value::from(x + y)),
        Operator::Sub => Some(Value::from(x - y)),
        Operator::Mult => Some(Value::from(x * y)),
        Operator::Div => (y != 0.0).then(|| Value::from(x / y)),
        Operator::FloorDiv => (y != 0.0).then(|| Value::from((x / y).floor())),
        Operator::Mod => (y != 0.0).then(|| Value::from(x - y * (x / y).floor())),
        Operator::Pow => Some(Value::from(x.powf(y))),
        _ => None,
    }
}

fn int_of(v: &Value) -> Option<i64> {
    match v.kind() {
        ValueKind::Bool => Some(v.is_true() as i64),
        // Floats with integral values stay floats.
        ValueKind::Number => v.as_i64().filter(|_| v.is_integer()),
        _ => None,
    }
}

fn binop(op: Operator, l: &Value, r: &Value) -> EvalResult {
    match (op, l.kind(), r.kind()) {
        (Operator::Add, ValueKind::String, ValueKind::String) => Ok(Value::from(format!(
            "{}{}",
            l.as_str().unwrap_or_default(),
            r.as_str().unwrap_or_default()
        ))),
        (Operator::Add, ValueKind::Seq, ValueKind::Seq) => {
            let mut v = iterate(l)?;
            v.extend(iterate(r)?);
            Ok(Value::from(v))
        }
        (Operator::Mult, ValueKind::String, ValueKind::Number)
        | (Operator::Mult, ValueKind::Number, ValueKind::String) => {
            let (s, n) = if l.kind() == ValueKind::String {
                (l, r)
            } else {
                (r, l)
            };
            let n = n.as_i64().unwrap_or(0).max(0) as usize;
            Ok(Value::from(s.as_str().unwrap_or_default().repeat(n)))
        }
        (Operator::Mult, ValueKind::Seq, ValueKind::Number) => {
            let items = iterate(l)?;
            let n = r.as_i64().unwrap_or(0).max(0) as usize;
            let mut out = Vec::with_capacity(items.len() * n);
            for _ in 0..n {
                out.extend(items.iter().cloned());
            }
            Ok(Value::from(out))
        }
        (Operator::Mod, ValueKind::String, _) => {
            percent_format(l.as_str().unwrap_or_default(), r).map(Value::from)
        }
        _ => num_op(op, l, r).ok_or_else(|| {
            err(format!(
                "unsupported operand types for {}: {} and {}",
                op.as_str(),
                py_repr(l),
                py_repr(r)
            ))
        }),
    }
}

/// Python's `str % args`.
pub fn percent_format(fmt: &str, args: &Value) -> Result<String, Fail> {
    let positional: Vec<Value> = match args.kind() {
        ValueKind::Seq => iterate(args)?,
        _ => vec![args.clone()],
    };
    let mut next = 0usize;
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        // %(name)s
        let mut value = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut key = String::new();
            for k in chars.by_ref() {
                if k == ')' {
                    break;
                }
                key.push(k);
            }
            value = Some(
                args.get_item(&Value::from(key.clone()))
                    .map_err(Fail::from)?,
            );
            if value.as_ref().is_some_and(|v| v.is_undefined()) {
                return Err(Fail::Missing(format!("format key {key:?} missing")));
            }
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek() {
            if "-+ 0#".contains(f) {
                flags.push(f);
                chars.next();
            } else {
                break;
            }
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() {
                width.push(d);
                chars.next();
            } else {
                break;
            }
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() {
                    p.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            precision = Some(p.parse::<usize>().unwrap_or(0));
        }
        let Some(conv) = chars.next() else {
            return Err(err("incomplete format"));
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        let v = match value {
            Some(v) => v,
            None => {
                let v = positional
                    .get(next)
                    .cloned()
                    .ok_or_else(|| err("not enough arguments for format string"))?;
                next += 1;
                v
            }
        };
        let body = match conv {
            's' => {
                let s = py_str(&v);
                match precision {
                    Some(p) => s.chars().take(p).collect(),
                    None => s,
                }
            }
            'r' => py_repr(&v),
            'd' | 'i' | 'u' => match int_of(&v).or_else(|| as_f64(&v).map(|f| f.trunc() as i64)) {
                Some(i) => {
                    if flags.contains('+') && i >= 0 {
                        format!("+{i}")
                    } else {
                        i.to_string()
                    }
                }
                None => {
                    return Err(err(format!(
                        "%{conv} format: a number is required, not {}",
                        py_repr(&v)
                    )))
                }
            },
            'f' | 'F' | 'e' | 'g' => {
                let f = as_f64(&v)
                    .ok_or_else(|| err(format!("%{conv} format: a number is required")))?;
                let p = precision.unwrap_or(6);
                match conv {
                    'e' => format!("{f:.p$e}"),
                    'g' => {
                        let s = format!("{f}");
                        s
                    }
                    _ => format!("{f:.p$}"),
                }
            }
            'x' => format!("{:x}", int_of(&v).unwrap_or(0)),
            'X' => format!("{:X}", int_of(&v).unwrap_or(0)),
            'o' => format!("{:o}", int_of(&v).unwrap_or(0)),
            'c' => py_str(&v),
            other => return Err(err(format!("unsupported format character {other:?}"))),
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if flags.contains('-') {
                out.push_str(&body);
                out.push_str(&" ".repeat(pad));
            } else if flags.contains('0') && conv != 's' {
                out.push_str(&"0".repeat(pad));
                out.push_str(&body);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    if value_is_tuple_overflow(&positional, next, args) {
        return Err(err("not all arguments converted during string formatting"));
    }
    Ok(out)
}

fn value_is_tuple_overflow(positional: &[Value], used: usize, args: &Value) -> bool {
    args.kind() == ValueKind::Seq && used > 0 && used < positional.len()
}

fn attribute(target: &Value, name: &str) -> EvalResult {
    if target.is_undefined() {
        return Err(Fail::Missing(format!(
            "undefined value has no attribute {name:?}"
        )));
    }
    if target.as_object().is_some() {
        let v = target.get_attr(name).map_err(Fail::from)?;
        if !v.is_undefined() {
            return Ok(v);
        }
    }
    Ok(bound(target, name))
}

fn subscript(target: &Value, key: &Value) -> EvalResult {
    match target.kind() {
        ValueKind::String => {
            let s: Vec<char> = target.as_str().unwrap_or_default().chars().collect();
            let i = key
                .as_i64()
                .ok_or_else(|| err("string indices must be integers"))?;
            let idx = if i < 0 { s.len() as i64 + i } else { i };
            s.get(idx as usize)
                .map(|c| Value::from(c.to_string()))
                .ok_or_else(|| err("string index out of range"))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let i = key
                .as_i64()
                .or_else(|| (key.kind() == ValueKind::Bool).then(|| key.is_true() as i64))
                .ok_or_else(|| {
                    err(format!(
                        "list indices must be integers, not {}",
                        py_repr(key)
                    ))
                })?;
            let items = iterate(target)?;
            let idx = if i < 0 { items.len() as i64 + i } else { i };
            items
                .get(idx as usize)
                .cloned()
                .ok_or_else(|| err("list index out of range"))
        }
        _ => {
            let v = target.get_item(key).map_err(Fail::from)?;
            if v.is_undefined() {
                Err(Fail::Missing(format!("KeyError: {}", py_repr(key))))
            } else {
                Ok(v)
            }
        }
    }
}

fn slice(
    target: &Value,
    lower: Option<Value>,
    upper: Option<Value>,
    step: Option<Value>,
) -> EvalResult {
    let step = step.and_then(|s| s.as_i64()).unwrap_or(1);
    if step == 0 {
        return Err(err("slice step cannot be zero"));
    }
    let is_str = target.kind() == ValueKind::String;
    let items = iterate(target)?;
    let n = items.len() as i64;
    let clamp = |v: Option<Value>, default: i64| -> i64 {
        match v.and_then(|v| v.as_i64()) {
            Some(i) if i < 0 => (n + i).max(if step > 0 { 0 } else { -1 }),
            Some(i) => i.min(if step > 0 { n } else { n - 1 }),
            None => default,
        }
    };
    let mut out = Vec::new();
    if step > 0 {
        let (mut i, end) = (clamp(lower, 0), clamp(upper, n));
        while i < end {
            out.push(items[i as usize].clone());
            i += step;
        }
    } else {
        let (mut i, end) = (clamp(lower, n - 1), clamp(upper, -1));
        while i > end {
            out.push(items[i as usize].clone());
            i += step;
        }
    }
    if is_str {
        Ok(Value::from(out.iter().map(py_str).collect::<String>()))
    } else {
        Ok(Value::from(out))
    }
}

fn eval_call(ctx: &mut Ctx, call: &ast::ExprCall) -> EvalResult {
    let mut args = Vec::with_capacity(call.arguments.args.len());
    for a in call.arguments.args.iter() {
        if let Expr::Starred(s) = a {
            let v = eval(ctx, &s.value)?;
            args.extend(iterate(&v)?);
        } else {
            args.push(eval(ctx, a)?);
        }
    }
    let mut kwargs: Vec<(String, Value)> = Vec::new();
    for k in call.arguments.keywords.iter() {
        let v = eval(ctx, &k.value)?;
        match &k.arg {
            Some(name) => kwargs.push((name.as_str().to_string(), v)),
            None => {
                for key in iterate(&v)? {
                    let val = v.get_item(&key).unwrap_or_default();
                    kwargs.push((py_str(&key), val));
                }
            }
        }
    }
    // obj.method(...)
    if let Expr::Attribute(a) = &*call.func {
        let target = eval(ctx, &a.value)?;
        return call_method(ctx, &target, a.attr.as_str(), args, kwargs);
    }
    let f = eval(ctx, &call.func)?;
    if let Some(b) = f.downcast_object_ref::<Builtin>() {
        return builtin(ctx, b.0, args, kwargs);
    }
    let mut all = args;
    if !kwargs.is_empty() {
        all.push(Value::from(Kwargs::from_iter(kwargs)));
    }
    f.call(ctx.state, &all).map_err(Fail::from)
}

fn with_kwargs(mut args: Vec<Value>, kwargs: Vec<(String, Value)>) -> Vec<Value> {
    if !kwargs.is_empty() {
        args.push(Value::from(Kwargs::from_iter(kwargs)));
    }
    args
}

fn call_method(
    ctx: &mut Ctx,
    target: &Value,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> EvalResult {
    if target.is_undefined() {
        return Err(Fail::Missing(format!(
            "undefined value has no method {name}()"
        )));
    }
    match target.kind() {
        ValueKind::String => {
            if let Some(v) = str_method(target.as_str().unwrap_or_default(), name, &args)? {
                return Ok(v);
            }
        }
        ValueKind::Seq => {
            if let Some(v) = list_method(target, name, &args)? {
                return Ok(v);
            }
        }
        _ => {}
    }
    // minijinja's call_method also calls a function stored under the
    // name when the object has no such method.
    match target.call_method(ctx.state, name, &with_kwargs(args.clone(), kwargs)) {
        Err(e)
            if e.kind() == minijinja::ErrorKind::UnknownMethod
                && target.kind() == ValueKind::Map =>
        {
            match dict_method(target, name, &args)? {
                Some(v) => Ok(v),
                None => Err(Fail::from(e)),
            }
        }
        r => r.map_err(Fail::from),
    }
}

fn arg_str(args: &[Value], i: usize) -> Option<String> {
    args.get(i).filter(|v| !v.is_none()).map(py_str)
}

fn str_method(s: &str, name: &str, args: &[Value]) -> Result<Option<Value>, Fail> {
    let v = match name {
        "split" => {
            let max = args.get(1).and_then(|v| v.as_i64()).filter(|m| *m >= 0);
            let parts: Vec<Value> = match arg_str(args, 0) {
                None => match max {
                    Some(m) => s
                        .trim_start()
                        .splitn(m as usize + 1, char::is_whitespace)
                        .filter(|p| !p.is_empty())
                        .map(Value::from)
                        .collect(),
                    None => s.split_whitespace().map(Value::from).collect(),
                },
                Some(sep) if sep.is_empty() => return Err(err("empty separator")),
                Some(sep) => match max {
                    Some(m) => s
                        .splitn(m as usize + 1, sep.as_str())
                        .map(Value::from)
                        .collect(),
                    None => s.split(sep.as_str()).map(Value::from).collect(),
                },
            };
            Value::from(parts)
        }
        "rsplit" => {
            let parts: Vec<Value> = match arg_str(args, 0) {
                None => s.split_whitespace().map(Value::from).collect(),
                Some(sep) => {
                    let max = args.get(1).and_then(|v| v.as_i64()).filter(|m| *m >= 0);
                    let mut p: Vec<Value> = match max {
                        Some(m) => s
                            .rsplitn(m as usize + 1, sep.as_str())
                            .map(Value::from)
                            .collect(),
                        None => s.rsplit(sep.as_str()).map(Value::from).collect(),
                    };
                    p.reverse();
                    p
                }
            };
            Value::from(parts)
        }
        "join" => {
            let items = args.first().map(iterate).transpose()?.unwrap_or_default();
            Value::from(items.iter().map(py_str).collect::<Vec<_>>().join(s))
        }
        "strip" | "lstrip" | "rstrip" => {
            let chars: Option<Vec<char>> = arg_str(args, 0).map(|c| c.chars().collect());
            let pred = |c: char| match &chars {
                Some(cs) => cs.contains(&c),
                None => c.is_whitespace(),
            };
            Value::from(match name {
                "strip" => s.trim_matches(pred),
                "lstrip" => s.trim_start_matches(pred),
                _ => s.trim_end_matches(pred),
            })
        }
        "lower" => Value::from(s.to_lowercase()),
        "upper" => Value::from(s.to_uppercase()),
        "capitalize" => {
            let mut c = s.chars();
            Value::from(match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                None => String::new(),
            })
        }
        "title" => {
            let mut out = String::new();
            let mut prev_alpha = false;
            for c in s.chars() {
                if prev_alpha {
                    out.extend(c.to_lowercase());
                } else {
                    out.extend(c.to_uppercase());
                }
                prev_alpha = c.is_alphabetic();
            }
            Value::from(out)
        }
        "startswith" | "endswith" => {
            let prefixes: Vec<String> = match args.first() {
                Some(v) if v.kind() == ValueKind::Seq => iterate(v)?.iter().map(py_str).collect(),
                Some(v) => vec![py_str(v)],
                None => return Err(err(format!("{name}() takes at least 1 argument"))),
            };
            Value::from(prefixes.iter().any(|p| {
                if name == "startswith" {
                    s.starts_with(p.as_str())
                } else {
                    s.ends_with(p.as_str())
                }
            }))
        }
        "replace" => {
            let (Some(a), Some(b)) = (arg_str(args, 0), arg_str(args, 1)) else {
                return Err(err("replace() takes 2 arguments"));
            };
            Value::from(s.replace(&a, &b))
        }
        "find" | "index" => {
            let sub = arg_str(args, 0).unwrap_or_default();
            match s.find(&sub) {
                Some(i) => Value::from(s[..i].chars().count()),
                None if name == "find" => Value::from(-1),
                None => return Err(err("substring not found")),
            }
        }
        "count" => Value::from(s.matches(&arg_str(args, 0).unwrap_or_default()).count()),
        "isdigit" => Value::from(!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())),
        "isalpha" => Value::from(!s.is_empty() && s.chars().all(char::is_alphabetic)),
        "isspace" => Value::from(!s.is_empty() && s.chars().all(char::is_whitespace)),
        "encode" | "decode" => Value::from(s),
        "zfill" => {
            let w = args.first().and_then(|v| v.as_i64()).unwrap_or(0) as usize;
            Value::from(format!("{s:0>w$}"))
        }
        "ljust" | "rjust" | "center" => {
            let w = args.first().and_then(|v| v.as_i64()).unwrap_or(0) as usize;
            Value::from(match name {
                "ljust" => format!("{s:<w$}"),
                "rjust" => format!("{s:>w$}"),
                _ => format!("{s:^w$}"),
            })
        }
        "splitlines" => Value::from(s.lines().map(Value::from).collect::<Vec<_>>()),
        "format" => {
            let mut out = String::new();
            let mut auto = 0usize;
            let mut rest = s;
            while let Some(i) = rest.find('{') {
                out.push_str(&rest[..i]);
                rest = &rest[i + 1..];
                if let Some(r) = rest.strip_prefix('{') {
                    out.push('{');
                    rest = r;
                    continue;
                }
                let end = rest.find('}').ok_or_else(|| err("unmatched { in format"))?;
                let field = &rest[..end];
                let v = if field.is_empty() {
                    auto += 1;
                    args.get(auto - 1).cloned()
                } else if let Ok(i) = field.parse::<usize>() {
                    args.get(i).cloned()
                } else {
                    None
                };
                out.push_str(&v.map(|v| py_str(&v)).unwrap_or_default());
                rest = &rest[end + 1..];
            }
            out.push_str(&rest.replace("}}", "}"));
            Value::from(out)
        }
        _ => return Ok(None),
    };
    Ok(Some(v))
}

fn list_method(target: &Value, name: &str, args: &[Value]) -> Result<Option<Value>, Fail> {
    let items = iterate(target)?;
    Ok(Some(match name {
        "index" => {
            let x = args.first().cloned().unwrap_or_default();
            match items.iter().position(|i| py_eq(i, &x)) {
                Some(p) => Value::from(p),
                None => return Err(err(format!("{} is not in list", py_repr(&x)))),
            }
        }
        "count" => {
            let x = args.first().cloned().unwrap_or_default();
            Value::from(items.iter().filter(|i| py_eq(i, &x)).count())
        }
        _ => return Ok(None),
    }))
}

fn dict_method(target: &Value, name: &str, args: &[Value]) -> Result<Option<Value>, Fail> {
    let keys = || iterate(target);
    Ok(Some(match name {
        "get" => {
            let k = args.first().cloned().unwrap_or_default();
            let v = target.get_item(&k).unwrap_or_default();
            if v.is_undefined() {
                args.get(1).cloned().unwrap_or(Value::from(()))
            } else {
                v
            }
        }
        "has_key" => {
            let k = args.first().cloned().unwrap_or_default();
            Value::from(!target.get_item(&k).unwrap_or_default().is_undefined())
        }
        "keys" => Value::from(keys()?),
        "values" => Value::from(
            keys()?
                .iter()
                .map(|k| target.get_item(k).unwrap_or_default())
                .collect::<Vec<_>>(),
        ),
        "items" => Value::from(
            keys()?
                .into_iter()
                .map(|k| {
                    let v = target.get_item(&k).unwrap_or_default();
                    Value::from(vec![k, v])
                })
                .collect::<Vec<_>>(),
        ),
        _ => return Ok(None),
    }))
}

fn need(args: &[Value], n: usize, name: &str) -> Result<(), Fail> {
    if args.len() < n {
        return Err(err(format!(
            "{name}() takes {n} argument(s), {} given",
            args.len()
        )));
    }
    Ok(())
}

fn builtin(
    ctx: &mut Ctx,
    name: &str,
    args: Vec<Value>,
    kwargs: Vec<(String, Value)>,
) -> EvalResult {
    let a0 = || args.first().cloned().unwrap_or(Value::from(()));
    match name {
        "len" => {
            need(&args, 1, name)?;
            let v = a0();
            if let Some(s) = v.as_str() {
                return Ok(Value::from(s.chars().count()));
            }
            if let Some(n) = v.len() {
                return Ok(Value::from(n));
            }
            Ok(Value::from(iterate(&v)?.len()))
        }
        "str" | "unicode" => Ok(Value::from(if args.is_empty() {
            String::new()
        } else {
            py_str(&a0())
        })),
        "repr" => Ok(Value::from(py_repr(&a0()))),
        "int" => {
            let v = a0();
            if let Some(i) = int_of(&v) {
                return Ok(Value::from(i));
            }
            if let Some(f) = as_f64(&v) {
                return Ok(Value::from(f.trunc() as i64));
            }
            let s = py_str(&v);
            s.trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| err(format!("invalid literal for int(): {}", py_repr(&v))))
        }
        "float" => {
            let v = a0();
            if let Some(f) = as_f64(&v) {
                return Ok(Value::from(f));
            }
            py_str(&v)
                .trim()
                .parse::<f64>()
                .map(Value::from)
                .map_err(|_| err(format!("could not convert to float: {}", py_repr(&v))))
        }
        "bool" => Ok(Value::from(truthy(&a0()))),
        "list" | "tuple" | "set" | "sorted" | "reversed" => {
            let mut items = if args.is_empty() {
                Vec::new()
            } else {
                iterate(&a0())?
            };
            if name == "set" {
                let mut uniq: Vec<Value> = Vec::new();
                for i in items {
                    if !uniq.iter().any(|u| py_eq(u, &i)) {
                        uniq.push(i);
                    }
                }
                items = uniq;
            }
            if name == "sorted" {
                items.sort_by(|a, b| py_cmp(a, b).unwrap_or(std::cmp::Ordering::Equal));
                if kwargs.iter().any(|(k, v)| k == "reverse" && truthy(v)) {
                    items.reverse();
                }
            }
            if name == "reversed" {
                items.reverse();
            }
            Ok(Value::from(items))
        }
        "dict" => {
            let mut m = PyDict::default();
            if let Some(v) = args.first() {
                if v.kind() == ValueKind::Map {
                    for k in iterate(v)? {
                        let val = v.get_item(&k).unwrap_or_default();
                        m.insert(k, val);
                    }
                } else {
                    for pair in iterate(v)? {
                        let p = iterate(&pair)?;
                        if p.len() == 2 {
                            m.insert(p[0].clone(), p[1].clone());
                        }
                    }
                }
            }
            for (k, v) in kwargs {
                m.insert(Value::from(k), v);
            }
            Ok(m.into_value())
        }
        "range" => {
            let ints: Vec<i64> = args.iter().filter_map(int_of).collect();
            if ints.len() != args.len() || ints.is_empty() {
                return Err(err("range() takes integer arguments"));
            }
            let (start, stop, step) = match ints.as_slice() {
                [stop] => (0, *stop, 1),
                [start, stop] => (*start, *stop, 1),
                [start, stop, step, ..] => (*start, *stop, *step),
                [] => unreachable!("checked non-empty"),
            };
            if step == 0 {
                return Err(err("range() step must not be zero"));
            }
            let mut out = Vec::new();
            let mut i = start;
            while (step > 0 && i < stop) || (step < 0 && i > stop) {
                out.push(Value::from(i));
                i += step;
                if out.len() > 1_000_000 {
                    return Err(err("range() too large"));
                }
            }
            Ok(Value::from(out))
        }
        "min" | "max" => {
            let items = if args.len() == 1 {
                iterate(&a0())?
            } else {
                args
            };
            let mut best: Option<Value> = None;
            for i in items {
                best = Some(match best {
                    None => i,
                    Some(b) => {
                        let o = py_cmp(&i, &b)
                            .ok_or_else(|| err(format!("cannot compare in {name}()")))?;
                        if (name == "min" && o.is_lt()) || (name == "max" && o.is_gt()) {
                            i
                        } else {
                            b
                        }
                    }
                });
            }
            best.ok_or_else(|| err(format!("{name}() arg is an empty sequence")))
        }
        "sum" => {
            let mut total = Value::from(0);
            for i in iterate(&a0())? {
                total = binop(Operator::Add, &total, &i)?;
            }
            Ok(total)
        }
        "any" => Ok(Value::from(iterate(&a0())?.iter().any(truthy))),
        "all" => Ok(Value::from(iterate(&a0())?.iter().all(truthy))),
        "abs" => {
            let v = a0();
            if let Some(i) = int_of(&v) {
                return Ok(Value::from(i.abs()));
            }
            as_f64(&v)
                .map(|f| Value::from(f.abs()))
                .ok_or_else(|| err("abs() needs a number"))
        }
        "round" => {
            let f = as_f64(&a0()).ok_or_else(|| err("round() needs a number"))?;
            match args.get(1).and_then(int_of) {
                Some(d) => {
                    let m = 10f64.powi(d as i32);
                    Ok(Value::from((f * m).round() / m))
                }
                None => Ok(Value::from(f.round() as i64)),
            }
        }
        "enumerate" => Ok(Value::from(
            iterate(&a0())?
                .into_iter()
                .enumerate()
                .map(|(i, v)| Value::from(vec![Value::from(i), v]))
                .collect::<Vec<_>>(),
        )),
        "zip" => {
            let lists: Vec<Vec<Value>> = args.iter().map(iterate).collect::<Result<_, _>>()?;
            let n = lists.iter().map(Vec::len).min().unwrap_or(0);
            Ok(Value::from(
                (0..n)
                    .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
                    .collect::<Vec<_>>(),
            ))
        }
        "hasattr" | "getattr" => {
            need(&args, 2, name)?;
            let target = a0();
            let attr = py_str(&args[1]);
            let v = target.get_attr(&attr).unwrap_or_default();
            if name == "hasattr" {
                return Ok(Value::from(!v.is_undefined()));
            }
            if v.is_undefined() {
                return args
                    .get(2)
                    .cloned()
                    .ok_or_else(|| Fail::Missing(format!("no attribute {attr:?}")));
            }
            Ok(v)
        }
        "isinstance" | "same_type" => {
            need(&args, 2, name)?;
            Ok(Value::from(args[0].kind() == args[1].kind()))
        }
        "ord" => py_str(&a0())
            .chars()
            .next()
            .map(|c| Value::from(c as u32))
            .ok_or_else(|| err("ord() of an empty string")),
        "chr" => int_of(&a0())
            .and_then(|i| char::from_u32(i as u32))
            .map(|c| Value::from(c.to_string()))
            .ok_or_else(|| err("chr() needs a code point")),
        "path" => {
            need(&args, 1, name)?;
            ctx.eval_text(&py_str(&args[0]), "path:")
        }
        "string" => {
            need(&args, 1, name)?;
            ctx.eval_text(&py_str(&args[0]), "string:")
        }
        "exists" => {
            need(&args, 1, name)?;
            ctx.exists_text(&py_str(&args[0])).map(Value::from)
        }
        "test" => {
            // test(cond, then, cond2, then2, ..., else)
            let mut i = 0;
            while i + 1 < args.len() {
                if truthy(&args[i]) {
                    return Ok(args[i + 1].clone());
                }
                i += 2;
            }
            Ok(args.get(i).cloned().unwrap_or(Value::from(())))
        }
        other => Err(err(format!("builtin {other}() is not supported"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_formatting() {
        let t = |f: &str, v: Value| percent_format(f, &v).unwrap();
        assert_eq!(t("a %s b", Value::from("x")), "a x b");
        assert_eq!(
            t(
                "%s-%d %%",
                Value::from(vec![Value::from("a"), Value::from(3)])
            ),
            "a-3 %"
        );
        assert_eq!(
            t(
                "%05.1f|%-3s|",
                Value::from(vec![Value::from(2.25), Value::from("a")])
            ),
            "002.2|a  |"
        );
        let mut m = PyDict::default();
        m.insert(Value::from("n"), Value::from(7));
        assert_eq!(t("%(n)s!", m.into_value()), "7!");
    }
}
