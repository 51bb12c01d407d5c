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
/// TEMPORARY (storage branch only): a small literal parser so the storage
/// tests can read back schema and journal reprs until the real pyrepr lands.
pub fn parse(s: &str) -> Result<PyValue, PyReprError> {
    let chars: Vec<char> = s.chars().collect();
    let mut p = TmpParser { c: &chars, i: 0 };
    let v = p.value()?;
    p.ws();
    if p.i != chars.len() {
        return Err(PyReprError(format!("trailing text in {s}")));
    }
    Ok(v)
}

struct TmpParser<'a> {
    c: &'a [char],
    i: usize,
}

impl TmpParser<'_> {
    fn ws(&mut self) {
        while self.i < self.c.len() && self.c[self.i].is_whitespace() {
            self.i += 1;
        }
    }
    fn err(&self, what: &str) -> PyReprError {
        PyReprError(format!("{what} at {}", self.i))
    }
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn seq(&mut self, close: char) -> Result<(Vec<PyValue>, bool), PyReprError> {
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            self.ws();
            if self.peek() == Some(close) {
                self.i += 1;
                return Ok((items, comma));
            }
            items.push(self.value()?);
            self.ws();
            comma = false;
            match self.peek() {
                Some(',') => {
                    self.i += 1;
                    comma = true;
                }
                Some(c) if c == close => {}
                _ => return Err(self.err("expected , or close")),
            }
        }
    }
    fn value(&mut self) -> Result<PyValue, PyReprError> {
        self.ws();
        match self.peek() {
            Some('(') => {
                self.i += 1;
                let (v, _) = self.seq(')')?;
                Ok(PyValue::Tuple(v))
            }
            Some('[') => {
                self.i += 1;
                Ok(PyValue::List(self.seq(']')?.0))
            }
            Some('{') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some('}') {
                        self.i += 1;
                        return Ok(PyValue::Dict(items));
                    }
                    let k = self.value()?;
                    self.ws();
                    if self.peek() != Some(':') {
                        return Err(self.err("expected :"));
                    }
                    self.i += 1;
                    let v = self.value()?;
                    items.push((k, v));
                    self.ws();
                    if self.peek() == Some(',') {
                        self.i += 1;
                    }
                }
            }
            Some(q @ ('\'' | '"')) => {
                self.i += 1;
                let mut out = String::new();
                loop {
                    match self.peek() {
                        None => return Err(self.err("unterminated string")),
                        Some(c) if c == q => {
                            self.i += 1;
                            return Ok(PyValue::Str(out));
                        }
                        Some('\\') => {
                            let e = self.c.get(self.i + 1).copied().ok_or_else(|| self.err("bad escape"))?;
                            self.i += 2;
                            out.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                other => other,
                            });
                        }
                        Some(c) => {
                            out.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            _ => {
                let start = self.i;
                while self.i < self.c.len() && !",:)]} ".contains(self.c[self.i]) {
                    self.i += 1;
                }
                let word: String = self.c[start..self.i].iter().collect();
                match word.as_str() {
                    "None" => Ok(PyValue::None),
                    "True" => Ok(PyValue::Bool(true)),
                    "False" => Ok(PyValue::Bool(false)),
                    w => w
                        .parse::<i64>()
                        .map(PyValue::Int)
                        .or_else(|_| w.parse::<f64>().map(PyValue::Float))
                        .map_err(|_| self.err("unknown literal")),
                }
            }
        }
    }
}
