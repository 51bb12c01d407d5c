//! The HTML reader of page templates: source text to a tree of elements,
//! text and markup that passes through untouched (comments, doctype,
//! processing instructions, CDATA).
//!
//! Templates are HTML, not XML: attribute values may be unquoted or left
//! out, void elements (`<br>`, `<input>`) have no end tag, and some end
//! tags are implied (`<li>` closes an open `<li>`, a block element closes
//! an open `<p>`). Text keeps its source form, entities included; the
//! text and raw markup of the source come out unchanged where no
//! statement changes them.

use crate::TalError;

/// One node of the source tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// Character data as written in the source.
    Text(String),
    /// A comment, doctype, processing instruction or CDATA section.
    Raw(String),
    Element(Element),
}

/// An attribute as written: its name, its value with entities decoded
/// (`None` for a bare `nowrap`), and its source text for output.
#[derive(Debug, Clone)]
pub struct Attr {
    pub name: String,
    pub value: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    /// Written as `<x ... />`.
    pub self_closed: bool,
    /// Its end tag was written (false for void elements and implied ends).
    pub end_tag: bool,
    /// Line of its start tag (1-based).
    pub line: usize,
}

const VOID: &[&str] = &[
    "area", "base", "basefont", "br", "col", "embed", "frame", "hr", "img", "input", "isindex",
    "keygen", "link", "meta", "param", "source", "track", "wbr",
];

/// Elements whose content is text up to their end tag.
const RAW_TEXT: &[&str] = &["script", "style"];

/// Whether opening `new` ends an open `open` element without its end tag.
fn implies_end(open: &str, new: &str) -> bool {
    match open {
        "p" => matches!(
            new,
            "p" | "div"
                | "table"
                | "ul"
                | "ol"
                | "dl"
                | "form"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "pre"
                | "blockquote"
                | "hr"
                | "address"
                | "fieldset"
        ),
        "li" => new == "li",
        "option" => matches!(new, "option" | "optgroup"),
        "dt" | "dd" => matches!(new, "dt" | "dd"),
        "td" | "th" => matches!(new, "td" | "th" | "tr"),
        "tr" => new == "tr",
        _ => false,
    }
}

pub fn is_void(name: &str) -> bool {
    VOID.contains(&name.to_ascii_lowercase().as_str())
}

/// Decode the character references of an attribute value.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..]
            .find(|c: char| c == ';' || c == '&' || c.is_whitespace())
            .map(|e| e + 1);
        let decoded = match end {
            Some(e) if rest.as_bytes()[e] == b';' => {
                let name = &rest[1..e];
                let ch = match name {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    "nbsp" => Some('\u{a0}'),
                    _ if name.starts_with("#x") || name.starts_with("#X") => {
                        u32::from_str_radix(&name[2..], 16)
                            .ok()
                            .and_then(char::from_u32)
                    }
                    _ if name.starts_with('#') => {
                        name[1..].parse::<u32>().ok().and_then(char::from_u32)
                    }
                    _ => None,
                };
                ch.map(|c| (c, e + 1))
            }
            _ => None,
        };
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

struct Reader<'a> {
    src: &'a str,
    pos: usize,
    name: &'a str,
}

impl<'a> Reader<'a> {
    fn line_at(&self, pos: usize) -> usize {
        self.src[..pos].matches('\n').count() + 1
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> TalError {
        TalError::Parse {
            template: self.name.to_string(),
            line: self.line_at(pos),
            message: msg.into(),
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }
}

fn name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')
}

/// Read a template's source into its top-level nodes.
pub fn parse(name: &str, src: &str) -> Result<Vec<Node>, TalError> {
    let mut r = Reader { src, pos: 0, name };
    // The stack of open elements; the bottom is a pseudo-root.
    let mut stack: Vec<Element> = vec![Element {
        name: String::new(),
        attrs: Vec::new(),
        children: Vec::new(),
        self_closed: false,
        end_tag: false,
        line: 1,
    }];

    fn close_top(stack: &mut Vec<Element>, end_tag: bool) {
        let mut el = stack.pop().expect("an open element");
        el.end_tag = end_tag;
        stack
            .last_mut()
            .expect("the root stays open")
            .children
            .push(Node::Element(el));
    }

    fn push_text(stack: &mut [Element], text: &str) {
        if text.is_empty() {
            return;
        }
        let children = &mut stack.last_mut().expect("root").children;
        if let Some(Node::Text(t)) = children.last_mut() {
            t.push_str(text);
        } else {
            children.push(Node::Text(text.to_string()));
        }
    }

    while r.pos < src.len() {
        let rest = r.rest();
        let Some(lt) = rest.find('<') else {
            push_text(&mut stack, rest);
            break;
        };
        push_text(&mut stack, &rest[..lt]);
        r.pos += lt;
        let rest = r.rest();
        let start = r.pos;
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body
                .find("-->")
                .ok_or_else(|| r.err(start, "comment not closed (missing -->)"))?;
            let len = 4 + end + 3;
            stack
                .last_mut()
                .expect("root")
                .children
                .push(Node::Raw(rest[..len].to_string()));
            r.pos += len;
        } else if rest.starts_with("<![CDATA[") {
            let end = rest
                .find("]]>")
                .ok_or_else(|| r.err(start, "CDATA section not closed (missing ]]>)"))?;
            stack
                .last_mut()
                .expect("root")
                .children
                .push(Node::Raw(rest[..end + 3].to_string()));
            r.pos += end + 3;
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            let end = rest
                .find('>')
                .ok_or_else(|| r.err(start, "declaration not closed (missing >)"))?;
            stack
                .last_mut()
                .expect("root")
                .children
                .push(Node::Raw(rest[..end + 1].to_string()));
            r.pos += end + 1;
        } else if let Some(after) = rest.strip_prefix("</") {
            let nlen = after.find(|c: char| !name_char(c)).unwrap_or(after.len());
            if nlen == 0 {
                push_text(&mut stack, "<");
                r.pos += 1;
                continue;
            }
            let tag = &after[..nlen];
            let gt = after
                .find('>')
                .ok_or_else(|| r.err(start, format!("end tag </{tag} not closed (missing >)")))?;
            r.pos += 2 + gt + 1;
            let lower = tag.to_ascii_lowercase();
            match stack
                .iter()
                .skip(1)
                .rposition(|e| e.name.eq_ignore_ascii_case(&lower))
            {
                Some(i) => {
                    let depth = i + 1;
                    while stack.len() > depth + 1 {
                        close_top(&mut stack, false);
                    }
                    close_top(&mut stack, true);
                }
                None if is_void(&lower) => {}
                None => {
                    let open = stack
                        .last()
                        .filter(|e| !e.name.is_empty())
                        .map(|e| format!("; <{}> from line {} is open", e.name, e.line))
                        .unwrap_or_default();
                    return Err(r.err(start, format!("end tag </{tag}> without a start tag{open}")));
                }
            }
        } else {
            let after = &rest[1..];
            let nlen = after.find(|c: char| !name_char(c)).unwrap_or(after.len());
            if nlen == 0 {
                // A lone '<' in text.
                push_text(&mut stack, "<");
                r.pos += 1;
                continue;
            }
            let tag = after[..nlen].to_string();
            r.pos += 1 + nlen;
            let line = r.line_at(start);
            let (attrs, self_closed) = read_attrs(&mut r, &tag, start)?;
            let lower = tag.to_ascii_lowercase();
            while stack.len() > 1 && implies_end(&stack.last().expect("open").name, &lower) {
                close_top(&mut stack, false);
            }
            let el = Element {
                name: tag,
                attrs,
                children: Vec::new(),
                self_closed,
                end_tag: false,
                line,
            };
            if self_closed || is_void(&lower) {
                stack
                    .last_mut()
                    .expect("root")
                    .children
                    .push(Node::Element(el));
            } else if RAW_TEXT.contains(&lower.as_str()) {
                let rest = r.rest();
                let close = format!("</{lower}");
                let end = find_ci(rest, &close).ok_or_else(|| {
                    r.err(
                        start,
                        format!("<{}> not closed (missing </{lower}>)", el.name),
                    )
                })?;
                let mut el = el;
                if end > 0 {
                    el.children.push(Node::Text(rest[..end].to_string()));
                }
                let gt = rest[end..]
                    .find('>')
                    .ok_or_else(|| r.err(start, format!("end tag </{lower} not closed")))?;
                r.pos += end + gt + 1;
                el.end_tag = true;
                stack
                    .last_mut()
                    .expect("root")
                    .children
                    .push(Node::Element(el));
            } else {
                stack.push(el);
            }
        }
    }
    while stack.len() > 1 {
        close_top(&mut stack, false);
    }
    Ok(stack.pop().expect("root").children)
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    (0..h.len().saturating_sub(n.len() - 1))
        .find(|&i| h.len() >= i + n.len() && h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Read the attributes of a start tag up to and including its `>`.
fn read_attrs(r: &mut Reader, tag: &str, start: usize) -> Result<(Vec<Attr>, bool), TalError> {
    let mut attrs = Vec::new();
    loop {
        let rest = r.rest();
        let ws = rest.len() - rest.trim_start().len();
        r.pos += ws;
        let rest = r.rest();
        if rest.is_empty() {
            return Err(r.err(start, format!("start tag <{tag} not closed (missing >)")));
        }
        if let Some(after) = rest.strip_prefix("/>") {
            let _ = after;
            r.pos += 2;
            return Ok((attrs, true));
        }
        if rest.starts_with('>') {
            r.pos += 1;
            return Ok((attrs, false));
        }
        if rest.starts_with('/') {
            r.pos += 1;
            continue;
        }
        let nlen = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/' | '"' | '\''))
            .unwrap_or(rest.len());
        if nlen == 0 {
            return Err(r.err(
                r.pos,
                format!("unexpected {:?} in start tag <{tag}", &rest[..1]),
            ));
        }
        let name = rest[..nlen].to_string();
        let attr_start = r.pos;
        r.pos += nlen;
        let rest = r.rest();
        let ws = rest.len() - rest.trim_start().len();
        if rest[ws..].starts_with('=') {
            r.pos += ws + 1;
            let rest = r.rest();
            let ws = rest.len() - rest.trim_start().len();
            r.pos += ws;
            let rest = r.rest();
            let (raw, len) = match rest.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let end = rest[1..].find(q).ok_or_else(|| {
                        r.err(attr_start, format!("value of attribute {name} not closed"))
                    })?;
                    (&rest[1..1 + end], end + 2)
                }
                _ => {
                    let end = rest
                        .find(|c: char| c.is_whitespace() || c == '>')
                        .unwrap_or(rest.len());
                    (&rest[..end], end)
                }
            };
            let source = format!("{}={}", name, &rest[..len]);
            attrs.push(Attr {
                value: Some(unescape(raw)),
                name,
                source,
            });
            r.pos += len;
        } else {
            attrs.push(Attr {
                source: name.clone(),
                name,
                value: None,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(n: &Node) -> &Element {
        match n {
            Node::Element(e) => e,
            other => panic!("not an element: {other:?}"),
        }
    }

    #[test]
    fn html_forms_parse() {
        let nodes = parse(
            "t",
            "<!DOCTYPE html>\n<ul><li>a<li>b</ul><td colspan=3 nowrap>x</td><br><input type='text' />",
        )
        .unwrap();
        assert!(matches!(&nodes[0], Node::Raw(s) if s == "<!DOCTYPE html>"));
        let ul = el(&nodes[2]);
        assert_eq!(ul.children.len(), 2, "{ul:?}");
        assert!(!el(&ul.children[0]).end_tag);
        let td = el(&nodes[3]);
        assert_eq!(td.attrs[0].value.as_deref(), Some("3"));
        assert_eq!(td.attrs[1].value, None);
        assert_eq!(el(&nodes[4]).name, "br");
        assert!(el(&nodes[5]).self_closed);
    }

    #[test]
    fn script_is_raw_and_entities_decode() {
        let nodes = parse(
            "t",
            "<script>if (a < b) x();</script><a title=\"&lt;&amp;&#65;\">",
        )
        .unwrap();
        let s = el(&nodes[0]);
        assert!(matches!(&s.children[0], Node::Text(t) if t == "if (a < b) x();"));
        assert_eq!(el(&nodes[1]).attrs[0].value.as_deref(), Some("<&A"));
    }

    #[test]
    fn stray_end_tag_names_its_line() {
        let e = parse("page.html", "<div>\n</span>")
            .unwrap_err()
            .to_string();
        assert!(e.contains("page.html") && e.contains("line 2"), "{e}");
    }
}
