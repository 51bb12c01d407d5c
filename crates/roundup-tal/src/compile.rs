//! Source tree to program: each element's TAL, METAL and i18n attributes
//! become statements with compiled expressions, its other attributes are
//! kept for output, and the template's macros are indexed by name.

use std::collections::HashMap;
use std::sync::Arc;

use crate::parse::{self, Node};
use crate::tales::{self, Expr};
use crate::TalError;

#[derive(Debug)]
pub enum CNode {
    /// Text and raw markup, output as written.
    Text(String),
    Element(Arc<CElement>),
    /// Chameleon's `${expr}` in text.
    Interp(Insert),
}

/// An attribute that is output: its name, its value (decoded; `None` for
/// a bare attribute) and its source text.
#[derive(Debug)]
pub struct OutAttr {
    pub name: String,
    pub value: Option<String>,
    pub source: String,
}

#[derive(Debug)]
pub struct Define {
    pub global: bool,
    pub name: String,
    pub expr: Expr,
}

#[derive(Debug)]
pub struct Insert {
    pub structure: bool,
    pub expr: Expr,
}

#[derive(Debug, Default)]
pub struct CElement {
    pub name: String,
    pub attrs: Vec<OutAttr>,
    pub children: Vec<CNode>,
    pub self_closed: bool,
    pub end_tag: bool,
    pub void: bool,
    pub line: usize,
    /// A `tal:`/`metal:` element: only its content is output.
    pub omit_always: bool,
    pub defines: Vec<Define>,
    pub condition: Option<Expr>,
    pub repeat: Option<(String, Expr)>,
    pub content: Option<Insert>,
    pub replace: Option<Insert>,
    pub attributes: Vec<(String, Expr)>,
    /// `Some(None)`: `tal:omit-tag=""`, always.
    pub omit_tag: Option<Option<Expr>>,
    pub on_error: Option<Insert>,
    pub define_macro: Option<String>,
    pub use_macro: Option<Expr>,
    pub define_slot: Option<String>,
    pub fill_slot: Option<String>,
    /// `i18n:name`: the variable the element's text is in the message
    /// of the enclosing `i18n:translate`. Without `tal:content` the
    /// element stands for its content (TAL's implicit replace), so its
    /// tag is not output.
    pub i18n_name: Option<String>,
    /// `i18n:translate`: the message id (empty: the content's text).
    pub translate: Option<String>,
    /// `i18n:attributes`: attributes (lower case) whose values are
    /// translated, each with its message id if one is given.
    pub i18n_attrs: Vec<(String, Option<String>)>,
    /// The `fill-slot`s of a `use-macro` element, by slot name.
    pub fills: HashMap<String, Arc<CElement>>,
}

/// A compiled template.
#[derive(Debug)]
pub struct Program {
    pub name: String,
    pub nodes: Vec<CNode>,
    pub macros: HashMap<String, Arc<CElement>>,
}

impl Program {
    pub fn macro_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.macros.keys().cloned().collect();
        v.sort();
        v
    }
}

struct Compiler<'a> {
    template: &'a str,
    /// Chameleon's dialect: expressions without a type are Python, and
    /// `${...}` in text and attribute values is evaluated.
    chameleon: bool,
    /// The line of the element being read (text has none of its own).
    line: usize,
    macros: HashMap<String, Arc<CElement>>,
}

/// Split `a x; b y` at single semicolons (`;;` is a literal `;`).
fn split_statements(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == ';' {
            if chars.peek() == Some(&';') {
                chars.next();
                cur.push(';');
            } else {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    out.push(cur);
    out.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// `name rest` with surrounding whitespace dropped.
fn first_word(text: &str) -> (&str, &str) {
    let t = text.trim();
    match t.find(char::is_whitespace) {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, ""),
    }
}

impl Compiler<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> TalError {
        TalError::Parse {
            template: self.template.to_string(),
            line,
            message: message.into(),
        }
    }

    fn expr(&self, line: usize, attr: &str, text: &str) -> Result<Expr, TalError> {
        tales::compile_as(text, self.chameleon).map_err(|m| TalError::Eval {
            template: self.template.to_string(),
            line,
            expr: text.trim().to_string(),
            message: format!("{m} (in {attr})"),
        })
    }

    fn insert(&self, line: usize, attr: &str, text: &str) -> Result<Insert, TalError> {
        let (word, rest) = first_word(text);
        let (structure, expr) = match word {
            "structure" => (true, rest),
            "text" => (false, rest),
            _ => (false, text),
        };
        Ok(Insert {
            structure,
            expr: self.expr(line, attr, expr)?,
        })
    }

    fn nodes(&mut self, nodes: Vec<Node>) -> Result<Vec<CNode>, TalError> {
        let mut out = Vec::with_capacity(nodes.len());
        for n in nodes {
            match n {
                Node::Text(t) if self.chameleon && t.contains("${") => {
                    self.interpolated_text(&t, &mut out)?
                }
                Node::Text(t) | Node::Raw(t) => match out.last_mut() {
                    Some(CNode::Text(prev)) => prev.push_str(&t),
                    _ => out.push(CNode::Text(t)),
                },
                Node::Element(e) => out.push(CNode::Element(self.element(e)?)),
            }
        }
        Ok(out)
    }

    fn interp_err(&self, text: &str, message: String) -> TalError {
        TalError::Eval {
            template: self.template.to_string(),
            line: self.line.max(1),
            expr: text.trim().to_string(),
            message,
        }
    }

    /// Text with `${...}` as literal and inserted pieces.
    fn interpolated_text(&self, text: &str, out: &mut Vec<CNode>) -> Result<(), TalError> {
        let pieces = tales::split_interpolation(text)
            .map_err(|m| self.interp_err(text, m))?
            .unwrap_or_default();
        for p in pieces {
            match p {
                tales::Piece::Lit(t) => match out.last_mut() {
                    Some(CNode::Text(prev)) => prev.push_str(&t),
                    _ => out.push(CNode::Text(t)),
                },
                tales::Piece::Expr { structure, expr } => {
                    out.push(CNode::Interp(Insert { structure, expr }))
                }
            }
        }
        Ok(())
    }

    fn element(&mut self, el: parse::Element) -> Result<Arc<CElement>, TalError> {
        let line = el.line;
        self.line = line;
        let (ns_of_tag, omit_always) = match el.name.split_once(':') {
            Some(("tal", _)) => (Some("tal"), true),
            Some(("metal", _)) => (Some("metal"), true),
            _ => (None, false),
        };
        let mut c = CElement {
            void: parse::is_void(&el.name),
            name: el.name,
            self_closed: el.self_closed,
            end_tag: el.end_tag,
            line,
            omit_always,
            ..CElement::default()
        };
        let mut seen: Vec<String> = Vec::new();
        let mut i18n_attrs = None;
        for a in el.attrs {
            let (ns, local) = match a.name.split_once(':') {
                Some((ns @ ("tal" | "metal" | "i18n"), local)) => (Some(ns), local.to_string()),
                Some(("xmlns", "tal" | "metal" | "i18n")) => continue,
                None if ns_of_tag.is_some() => (ns_of_tag, a.name.clone()),
                _ => (None, a.name.clone()),
            };
            let Some(ns) = ns else {
                c.attrs.push(OutAttr {
                    name: a.name,
                    value: a.value,
                    source: a.source,
                });
                continue;
            };
            let key = format!("{ns}:{local}");
            if seen.contains(&key) {
                return Err(self.err(line, format!("{key} appears twice")));
            }
            seen.push(key.clone());
            let value = a.value.unwrap_or_default();
            match (ns, local.as_str()) {
                ("tal", "define") => {
                    for stmt in split_statements(&value) {
                        let (mut word, mut rest) = first_word(&stmt);
                        let mut global = false;
                        if word == "global" || word == "local" {
                            global = word == "global";
                            (word, rest) = first_word(rest);
                        }
                        if word.is_empty() {
                            return Err(
                                self.err(line, format!("tal:define {stmt:?} names nothing"))
                            );
                        }
                        c.defines.push(Define {
                            global,
                            name: word.to_string(),
                            expr: self.expr(line, &key, rest)?,
                        });
                    }
                }
                ("tal", "condition") => c.condition = Some(self.expr(line, &key, &value)?),
                ("tal", "repeat") => {
                    let (name, rest) = first_word(&value);
                    if name.is_empty() || rest.is_empty() {
                        return Err(self.err(
                            line,
                            format!("tal:repeat {value:?} needs a name and an expression"),
                        ));
                    }
                    c.repeat = Some((name.to_string(), self.expr(line, &key, rest)?));
                }
                ("tal", "content") => c.content = Some(self.insert(line, &key, &value)?),
                ("tal", "replace") => c.replace = Some(self.insert(line, &key, &value)?),
                ("tal", "attributes") => {
                    for stmt in split_statements(&value) {
                        let (name, rest) = first_word(&stmt);
                        c.attributes
                            .push((name.to_string(), self.expr(line, &key, rest)?));
                    }
                }
                ("tal", "omit-tag") => {
                    c.omit_tag = Some(if value.trim().is_empty() {
                        None
                    } else {
                        Some(self.expr(line, &key, &value)?)
                    })
                }
                ("tal", "on-error") => c.on_error = Some(self.insert(line, &key, &value)?),
                ("metal", "define-macro") => c.define_macro = Some(value.trim().to_string()),
                ("metal", "use-macro") => c.use_macro = Some(self.expr(line, &key, &value)?),
                ("metal", "define-slot") => c.define_slot = Some(value.trim().to_string()),
                ("metal", "fill-slot") => c.fill_slot = Some(value.trim().to_string()),
                ("i18n", "name") => {
                    let name = value.trim();
                    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if !ok {
                        return Err(self.err(line, format!("illegal i18n:name {name:?}")));
                    }
                    c.i18n_name = Some(name.to_string());
                }
                ("i18n", "translate") => c.translate = Some(value.trim().to_string()),
                ("i18n", "attributes") => i18n_attrs = Some(value),
                // domain, source, target, data, comment: one catalog
                // serves a tracker, so these change nothing here
                ("i18n", _) => {}
                _ => return Err(self.err(line, format!("unknown attribute {key}"))),
            }
        }
        if self.chameleon {
            // `attr="a ${x} b"`: evaluated unless tal:attributes sets it
            for a in &c.attrs {
                let Some(v) = a.value.as_deref().filter(|v| v.contains("${")) else {
                    continue;
                };
                if c.attributes
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(&a.name))
                {
                    continue;
                }
                let pieces = tales::split_interpolation(v)
                    .map_err(|m| TalError::Eval {
                        template: self.template.to_string(),
                        line,
                        expr: v.to_string(),
                        message: m,
                    })?
                    .unwrap_or_default();
                let expr = match <[tales::Piece; 1]>::try_from(pieces) {
                    Ok([tales::Piece::Expr { expr, .. }]) => expr,
                    Ok([lit]) => tales::Expr {
                        source: v.to_string(),
                        kind: tales::Kind::Interp(vec![lit]),
                    },
                    Err(pieces) => tales::Expr {
                        source: v.to_string(),
                        kind: tales::Kind::Interp(pieces),
                    },
                };
                c.attributes.push((a.name.clone(), expr));
            }
        }
        if let Some(text) = i18n_attrs {
            let known: Vec<String> = c
                .attrs
                .iter()
                .filter(|a| a.value.is_some())
                .map(|a| a.name.to_ascii_lowercase())
                .chain(c.attributes.iter().map(|(n, _)| n.to_ascii_lowercase()))
                .collect();
            c.i18n_attrs = i18n_attributes(&text, &known).map_err(|m| self.err(line, m))?;
        }
        if c.content.is_some() && c.replace.is_some() {
            return Err(self.err(line, "tal:content and tal:replace on one element"));
        }
        c.children = self.nodes(el.children)?;
        if c.use_macro.is_some() {
            let mut fills = HashMap::new();
            collect_fills(&c.children, &mut fills);
            c.fills = fills;
        }
        let c = Arc::new(c);
        if let Some(name) = &c.define_macro {
            self.macros.insert(name.clone(), c.clone());
        }
        Ok(c)
    }
}

/// `i18n:attributes="title; alt msgid"` (or `title alt`, or `title
/// msgid` when `msgid` is no attribute of the element): each attribute,
/// lower case, with its explicit message id.
fn i18n_attributes(text: &str, known: &[String]) -> Result<Vec<(String, Option<String>)>, String> {
    let mut out = Vec::new();
    let words: Vec<&str> = text.split_whitespace().collect();
    if !text.contains(';') && words.len() == 2 && !known.contains(&words[1].to_ascii_lowercase()) {
        out.push((words[0].to_ascii_lowercase(), Some(words[1].to_string())));
    } else if text.contains(';') {
        for part in text.split(';') {
            let mut words = part.split_whitespace();
            if part.split_whitespace().count() > 2 {
                return Err(format!("illegal i18n:attributes entry {:?}", part.trim()));
            }
            if let Some(attr) = words.next() {
                out.push((attr.to_ascii_lowercase(), words.next().map(str::to_string)));
            }
        }
    } else {
        for attr in text.split_whitespace() {
            out.push((attr.to_ascii_lowercase(), None));
        }
    }
    Ok(out)
}

/// The `fill-slot` elements under a `use-macro` element, not looking
/// into nested `use-macro`s (their fills are theirs).
fn collect_fills(nodes: &[CNode], out: &mut HashMap<String, Arc<CElement>>) {
    for n in nodes {
        if let CNode::Element(e) = n {
            if let Some(name) = &e.fill_slot {
                out.entry(name.clone()).or_insert_with(|| e.clone());
            } else if e.use_macro.is_none() {
                collect_fills(&e.children, out);
            }
        }
    }
}

pub fn compile(name: &str, source: &str, chameleon: bool) -> Result<Program, TalError> {
    let nodes = parse::parse(name, source)?;
    let mut c = Compiler {
        template: name,
        chameleon,
        line: 1,
        macros: HashMap::new(),
    };
    let nodes = c.nodes(nodes)?;
    Ok(Program {
        name: name.to_string(),
        nodes,
        macros: c.macros,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_and_compile() {
        assert_eq!(split_statements("a x;; y; b z;"), vec!["a x; y", " b z"]);
        let p = compile(
            "t",
            "<tal:block define=\"global a string:x; b python:1\" metal:define-macro=\"m\"><i metal:use-macro=\"m\"><b metal:fill-slot=\"s\"/></i></tal:block>",
            false,
        )
        .unwrap();
        let m = &p.macros["m"];
        assert!(m.omit_always);
        assert_eq!(m.defines.len(), 2);
        assert!(m.defines[0].global);
        let CNode::Element(user) = &m.children[0] else {
            panic!()
        };
        assert!(user.fills.contains_key("s"));
    }

    #[test]
    fn errors_name_line_and_expression() {
        let e = compile("x.html", "<p>\n<b tal:content=\"python:1 +\">", false).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("x.html") && s.contains("line 2") && s.contains("python:1 +"),
            "{s}"
        );
        let e = compile("x.html", "<b tal:bogus=\"x\">", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown attribute tal:bogus"), "{e}");
    }
}
