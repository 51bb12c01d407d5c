//! TALES expressions, compiled: the expression types Roundup's templates
//! use, with paths split into their steps and Python parsed once.

use rustpython_ruff_python_ast as ast;

/// A compiled expression; `source` keeps its text for error messages.
#[derive(Debug)]
pub struct Expr {
    pub source: String,
    pub kind: Kind,
}

#[derive(Debug)]
pub enum Kind {
    /// `a/b/c | d/e | <any expression>`: the first path that resolves;
    /// the last alternative may be any expression type.
    Path {
        alternatives: Vec<Path>,
        fallback: Option<Box<Expr>>,
    },
    /// `string:text ${path} $name`.
    Str(Vec<StrPart>),
    Python(Box<ast::Expr>),
    Not(Box<Expr>),
    Exists(Box<Expr>),
    Nocall(Box<Expr>),
    /// Chameleon's `text ${expr} text` in an attribute value.
    Interp(Vec<Piece>),
}

/// A piece of text with Chameleon's `${...}` interpolation.
#[derive(Debug)]
pub enum Piece {
    Lit(String),
    /// `${expr}`, or `${structure: expr}` (inserted without escaping).
    Expr {
        structure: bool,
        expr: Expr,
    },
}

#[derive(Debug, Clone)]
pub struct Path {
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub enum Step {
    Name(String),
    /// `?name`: the step named by a variable's value.
    Var(String),
}

#[derive(Debug)]
pub enum StrPart {
    Lit(String),
    Path(Path),
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn parse_path(text: &str) -> Result<Path, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty path".into());
    }
    let mut steps = Vec::new();
    for (i, part) in text.split('/').enumerate() {
        let part = part.trim();
        if i == 0 && !valid_name(part) {
            return Err(format!("invalid variable name {part:?}"));
        }
        if let Some(var) = part.strip_prefix('?') {
            steps.push(Step::Var(var.to_string()));
        } else {
            steps.push(Step::Name(part.to_string()));
        }
    }
    Ok(Path { steps })
}

fn parse_string(text: &str) -> Result<Vec<StrPart>, String> {
    let mut parts = Vec::new();
    let mut lit = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        lit.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            lit.push('$');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| "${ without } in string expression".to_string())?;
            if !lit.is_empty() {
                parts.push(StrPart::Lit(std::mem::take(&mut lit)));
            }
            parts.push(StrPart::Path(parse_path(&r[..end])?));
            rest = &r[end + 1..];
        } else {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '/'))
                .unwrap_or(rest.len());
            // A trailing '/' is not part of the path.
            let len = rest[..len].trim_end_matches('/').len();
            if len == 0 {
                return Err("$ without a name in string expression (write $$ for $)".into());
            }
            if !lit.is_empty() {
                parts.push(StrPart::Lit(std::mem::take(&mut lit)));
            }
            parts.push(StrPart::Path(parse_path(&rest[..len])?));
            rest = &rest[len..];
        }
    }
    lit.push_str(rest);
    if !lit.is_empty() {
        parts.push(StrPart::Lit(lit));
    }
    Ok(parts)
}

/// Parse a Python expression as TALES `python:` does: surrounding
/// whitespace and line breaks do not matter.
pub fn parse_python(text: &str) -> Result<Box<ast::Expr>, String> {
    let wrapped = format!("(\n{}\n)", text.trim());
    match rustpython_ruff_python_parser::parse_expression(&wrapped) {
        Ok(parsed) => Ok(parsed.into_syntax().body),
        Err(e) => Err(format!("Python syntax error: {}", e.error)),
    }
}

/// Compile one TALES expression (a path when it has no type prefix).
pub fn compile(text: &str) -> Result<Expr, String> {
    compile_as(text, false)
}

/// Compile one expression; `python_default`: without a type prefix it
/// is Python (Chameleon's default) rather than a path (TAL's).
pub fn compile_as(text: &str, python_default: bool) -> Result<Expr, String> {
    let source = text.trim().to_string();
    let kind = compile_kind(&source, python_default)?;
    Ok(Expr { source, kind })
}

/// Split text at Chameleon's `${...}` interpolations; `None` when it has
/// none. Braces inside the expression (dicts, sets) and inside its
/// string literals are matched.
pub fn split_interpolation(text: &str) -> Result<Option<Vec<Piece>>, String> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        if i > 0 {
            pieces.push(Piece::Lit(rest[..i].to_string()));
        }
        let body = &rest[i + 2..];
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut end = None;
        let mut chars = body.char_indices();
        while let Some((j, c)) = chars.next() {
            match quote {
                Some(q) => {
                    if c == '\\' {
                        chars.next();
                    } else if c == q {
                        quote = None;
                    }
                }
                None => match c {
                    '\'' | '"' => quote = Some(c),
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = Some(j);
                        break;
                    }
                    '}' => depth -= 1,
                    _ => {}
                },
            }
        }
        let end = end.ok_or_else(|| format!("${{ without a closing }} in {text:?}"))?;
        let inner = body[..end].trim();
        let (structure, inner) = match inner.strip_prefix("structure:") {
            Some(x) => (true, x),
            None => (false, inner),
        };
        pieces.push(Piece::Expr {
            structure,
            expr: compile_as(inner, true)?,
        });
        rest = &body[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Lit(rest.to_string()));
    }
    Ok(Some(pieces))
}

fn compile_kind(text: &str, python_default: bool) -> Result<Kind, String> {
    let prefix_len = text
        .find(|c: char| !c.is_ascii_lowercase())
        .filter(|&i| i > 0 && text[i..].starts_with(':'));
    if let Some(i) = prefix_len {
        let body = &text[i + 1..];
        return match &text[..i] {
            "path" => compile_path(body),
            "string" => Ok(Kind::Str(parse_string(body)?)),
            "python" => Ok(Kind::Python(parse_python(body)?)),
            "not" => Ok(Kind::Not(Box::new(compile_as(body, python_default)?))),
            "exists" => Ok(Kind::Exists(Box::new(compile_as(body, python_default)?))),
            "nocall" => Ok(Kind::Nocall(Box::new(compile_as(body, python_default)?))),
            other => Err(format!("unknown expression type {other:?}")),
        };
    }
    if python_default {
        return Ok(Kind::Python(parse_python(text)?));
    }
    compile_path(text)
}

fn compile_path(text: &str) -> Result<Kind, String> {
    let mut alternatives = Vec::new();
    let mut fallback = None;
    let pieces: Vec<&str> = text.split('|').collect();
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.trim();
        let is_typed = piece
            .find(':')
            .map(|c| piece[..c].chars().all(|ch| ch.is_ascii_lowercase()) && c > 0)
            .unwrap_or(false);
        if is_typed {
            // The rest (including any further '|') is one expression.
            let rest = pieces[i..].join("|");
            fallback = Some(Box::new(compile(&rest)?));
            break;
        }
        alternatives.push(parse_path(piece)?);
    }
    Ok(Kind::Path {
        alternatives,
        fallback,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert!(matches!(
            compile("context/id").unwrap().kind,
            Kind::Path { .. }
        ));
        assert!(matches!(
            compile("request/x | nothing").unwrap().kind,
            Kind::Path { ref alternatives, .. } if alternatives.len() == 2
        ));
        match compile("a/b | python:1 | 2").unwrap().kind {
            Kind::Path {
                fallback: Some(f), ..
            } => assert_eq!(f.source, "python:1 | 2"),
            other => panic!("{other:?}"),
        }
        match compile("string:a ${x/y} $z $$").unwrap().kind {
            Kind::Str(parts) => assert_eq!(parts.len(), 5, "{parts:?}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            compile("not:context/id").unwrap().kind,
            Kind::Not(_)
        ));
        assert!(compile("python:1 +").is_err());
        assert!(compile("bogus:x").is_err());
    }

    #[test]
    fn chameleon_defaults_to_python_and_interpolates() {
        assert!(matches!(
            compile_as("context.id", true).unwrap().kind,
            Kind::Python(_)
        ));
        assert!(matches!(
            compile_as("path:context/id", true).unwrap().kind,
            Kind::Path { .. }
        ));
        match compile_as("not:x == 1", true).unwrap().kind {
            Kind::Not(inner) => assert!(matches!(inner.kind, Kind::Python(_))),
            other => panic!("{other:?}"),
        }
        assert!(split_interpolation("plain").unwrap().is_none());
        let p = split_interpolation("a ${ {'k': '}'}['k'] } b ${structure: x}")
            .unwrap()
            .unwrap();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(matches!(&p[0], Piece::Lit(s) if s == "a "));
        assert!(matches!(
            &p[1],
            Piece::Expr {
                structure: false,
                ..
            }
        ));
        assert!(matches!(
            &p[3],
            Piece::Expr {
                structure: true,
                ..
            }
        ));
        assert!(split_interpolation("x ${a").is_err());
    }
}
