//! PLACEHOLDER until the `pw` branch merges (only simple values).
#![allow(dead_code)]
#[derive(Clone, Debug, PartialEq)]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<PyValue>),
    List(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PyReprError(pub String);
pub fn repr(v: &PyValue) -> String {
    let seq = |items: &[PyValue]| items.iter().map(repr).collect::<Vec<_>>().join(", ");
    match v {
        PyValue::None => "None".into(),
        PyValue::Bool(b) => if *b { "True" } else { "False" }.into(),
        PyValue::Int(i) => i.to_string(),
        PyValue::Float(f) => format!("{f:?}"),
        PyValue::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        PyValue::Bytes(_) => "b''".into(),
        PyValue::Tuple(t) if t.len() == 1 => format!("({},)", repr(&t[0])),
        PyValue::Tuple(t) => format!("({})", seq(t)),
        PyValue::List(t) => format!("[{}]", seq(t)),
        PyValue::Dict(d) => format!(
            "{{{}}}",
            d.iter()
                .map(|(k, v)| format!("{}: {}", repr(k), repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
pub fn parse(s: &str) -> Result<PyValue, PyReprError> {
    Err(PyReprError(format!("placeholder cannot parse {s}")))
}
