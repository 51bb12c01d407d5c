//! A small XML-RPC codec: method calls in, responses and faults out.
//!
//! Values: `int`/`i4`/`i8`, `boolean`, `string` (and untyped text),
//! `double`, `dateTime.iso8601`, `base64`, `array`, `struct` and `nil`
//! (Python's `allow_none` extension). Document type declarations are
//! refused, so no entity can be defined or expanded.

use base64::Engine;
use quick_xml::events::Event;
use quick_xml::Reader;

/// An XML-RPC value.
#[derive(Clone, Debug, PartialEq)]
pub enum XValue {
    Int(i64),
    Bool(bool),
    Str(String),
    Double(f64),
    DateTime(String),
    Base64(Vec<u8>),
    Array(Vec<XValue>),
    Struct(Vec<(String, XValue)>),
    Nil,
}

impl XValue {
    /// The value as text where it is one (strings, numbers, base64 as UTF-8).
    pub fn as_text(&self) -> Option<String> {
        match self {
            XValue::Str(s) | XValue::DateTime(s) => Some(s.clone()),
            XValue::Int(i) => Some(i.to_string()),
            XValue::Double(d) => Some(crate::rest::format::python_float(*d)),
            XValue::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
            XValue::Base64(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// A parsed `<methodCall>`.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodCall {
    pub method: String,
    pub params: Vec<XValue>,
}

#[derive(Debug, Default)]
struct Node {
    name: String,
    children: Vec<Node>,
    text: String,
}

fn parse_tree(xml: &[u8]) -> Result<Node, String> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Node> = vec![Node::default()];
    let mut buf = Vec::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("malformed XML at byte {}: {e}", reader.buffer_position()))?;
        match ev {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                stack.push(Node {
                    name,
                    ..Node::default()
                });
                if stack.len() > 256 {
                    return Err("XML nested too deeply".into());
                }
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if let Some(top) = stack.last_mut() {
                    top.children.push(Node {
                        name,
                        ..Node::default()
                    });
                }
            }
            Event::End(_) => {
                let node = stack.pop().ok_or("unbalanced XML")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => return Err("unbalanced XML".into()),
                }
            }
            Event::Text(t) => {
                let s = t
                    .unescape()
                    .map_err(|e| format!("bad XML text: {e}"))?
                    .into_owned();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&s);
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::DocType(_) => {
                return Err("XML document type declarations are not accepted".into())
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if stack.len() != 1 {
        return Err("XML ended inside an element".into());
    }
    let mut root = stack.pop().ok_or("empty XML")?;
    let mut elems: Vec<Node> = root.children.drain(..).collect();
    if elems.len() != 1 {
        return Err("XML must have exactly one root element".into());
    }
    elems.pop().ok_or_else(|| "empty XML".to_string())
}

fn child<'a>(n: &'a Node, name: &str) -> Option<&'a Node> {
    n.children.iter().find(|c| c.name == name)
}

fn parse_value(n: &Node) -> Result<XValue, String> {
    let Some(t) = n.children.first() else {
        return Ok(XValue::Str(n.text.clone()));
    };
    let text = t.text.trim();
    Ok(match t.name.as_str() {
        "int" | "i4" | "i8" | "i1" | "i2" => XValue::Int(
            text.parse()
                .map_err(|_| format!("bad <{}> value {text:?}", t.name))?,
        ),
        "boolean" => match text {
            "1" => XValue::Bool(true),
            "0" => XValue::Bool(false),
            _ => return Err(format!("bad boolean value {text:?}")),
        },
        "string" => XValue::Str(t.text.clone()),
        "double" | "float" => XValue::Double(
            text.parse()
                .map_err(|_| format!("bad double value {text:?}"))?,
        ),
        "dateTime.iso8601" => XValue::DateTime(text.to_string()),
        "base64" => {
            let clean: String = text.split_whitespace().collect();
            XValue::Base64(
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .map_err(|e| format!("bad base64 value: {e}"))?,
            )
        }
        "nil" => XValue::Nil,
        "array" => {
            let data = child(t, "data").ok_or("<array> without <data>")?;
            XValue::Array(
                data.children
                    .iter()
                    .filter(|c| c.name == "value")
                    .map(parse_value)
                    .collect::<Result<_, _>>()?,
            )
        }
        "struct" => {
            let mut members = Vec::new();
            for m in t.children.iter().filter(|c| c.name == "member") {
                let name = child(m, "name").ok_or("<member> without <name>")?;
                let value = child(m, "value").ok_or("<member> without <value>")?;
                members.push((name.text.clone(), parse_value(value)?));
            }
            XValue::Struct(members)
        }
        other => return Err(format!("unknown XML-RPC type <{other}>")),
    })
}

/// Parse a `<methodCall>` document.
pub fn parse_call(xml: &[u8]) -> Result<MethodCall, String> {
    let root = parse_tree(xml)?;
    if root.name != "methodCall" {
        return Err(format!("expected <methodCall>, got <{}>", root.name));
    }
    let method = child(&root, "methodName")
        .ok_or("<methodCall> without <methodName>")?
        .text
        .trim()
        .to_string();
    let mut params = Vec::new();
    if let Some(ps) = child(&root, "params") {
        for p in ps.children.iter().filter(|c| c.name == "param") {
            let v = child(p, "value").ok_or("<param> without <value>")?;
            params.push(parse_value(v)?);
        }
    }
    Ok(MethodCall { method, params })
}

/// Parse a `<methodResponse>`: `Ok(value)` or `Err((code, message))`.
pub fn parse_response(xml: &[u8]) -> Result<Result<XValue, (i64, String)>, String> {
    let root = parse_tree(xml)?;
    if root.name != "methodResponse" {
        return Err(format!("expected <methodResponse>, got <{}>", root.name));
    }
    if let Some(f) = child(&root, "fault") {
        let v = parse_value(child(f, "value").ok_or("<fault> without <value>")?)?;
        let XValue::Struct(members) = v else {
            return Err("fault value is not a struct".into());
        };
        let mut code = 0;
        let mut msg = String::new();
        for (k, v) in members {
            match (k.as_str(), v) {
                ("faultCode", XValue::Int(c)) => code = c,
                ("faultString", XValue::Str(s)) => msg = s,
                _ => {}
            }
        }
        return Ok(Err((code, msg)));
    }
    let v = child(&root, "params")
        .and_then(|p| child(p, "param"))
        .and_then(|p| child(p, "value"))
        .ok_or("<methodResponse> without a value")?;
    Ok(Ok(parse_value(v)?))
}

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn write_value(v: &XValue, out: &mut String) {
    out.push_str("<value>");
    match v {
        XValue::Int(i) => {
            if i32::try_from(*i).is_ok() {
                out.push_str(&format!("<int>{i}</int>"));
            } else {
                out.push_str(&format!("<i8>{i}</i8>"));
            }
        }
        XValue::Bool(b) => out.push_str(&format!("<boolean>{}</boolean>", u8::from(*b))),
        XValue::Str(s) => {
            out.push_str("<string>");
            escape(s, out);
            out.push_str("</string>");
        }
        XValue::Double(d) => out.push_str(&format!(
            "<double>{}</double>",
            crate::rest::format::python_float(*d)
        )),
        XValue::DateTime(s) => {
            out.push_str("<dateTime.iso8601>");
            escape(s, out);
            out.push_str("</dateTime.iso8601>");
        }
        XValue::Base64(b) => {
            out.push_str("<base64>\n");
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push_str("\n</base64>");
        }
        XValue::Array(items) => {
            out.push_str("<array><data>\n");
            for i in items {
                write_value(i, out);
                out.push('\n');
            }
            out.push_str("</data></array>");
        }
        XValue::Struct(members) => {
            out.push_str("<struct>\n");
            for (k, v) in members {
                out.push_str("<member>\n<name>");
                escape(k, out);
                out.push_str("</name>\n");
                write_value(v, out);
                out.push_str("\n</member>\n");
            }
            out.push_str("</struct>");
        }
        XValue::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

/// A successful `<methodResponse>` with one value.
pub fn response(v: &XValue) -> Vec<u8> {
    let mut out = String::from("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n");
    write_value(v, &mut out);
    out.push_str("\n</param>\n</params>\n</methodResponse>\n");
    out.into_bytes()
}

/// A `<methodResponse>` carrying a fault.
pub fn fault(code: i64, msg: &str) -> Vec<u8> {
    let mut out = String::from("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n");
    write_value(
        &XValue::Struct(vec![
            ("faultCode".into(), XValue::Int(code)),
            ("faultString".into(), XValue::Str(msg.into())),
        ]),
        &mut out,
    );
    out.push_str("\n</fault>\n</methodResponse>\n");
    out.into_bytes()
}

/// A `<methodCall>` document (for clients and tests).
pub fn call(method: &str, params: &[XValue]) -> Vec<u8> {
    let mut out = String::from("<?xml version='1.0'?>\n<methodCall>\n<methodName>");
    escape(method, &mut out);
    out.push_str("</methodName>\n<params>\n");
    for p in params {
        out.push_str("<param>\n");
        write_value(p, &mut out);
        out.push_str("\n</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_all_types() {
        let v = XValue::Array(vec![
            XValue::Int(-3),
            XValue::Int(1 << 40),
            XValue::Bool(true),
            XValue::Str("a<b&c>".into()),
            XValue::Double(2.5),
            XValue::DateTime("20240101T10:00:00".into()),
            XValue::Base64(vec![0, 255, 10]),
            XValue::Struct(vec![("k".into(), XValue::Nil)]),
        ]);
        let doc = call("m", std::slice::from_ref(&v));
        let parsed = parse_call(&doc).unwrap();
        assert_eq!(parsed.method, "m");
        assert_eq!(parsed.params, vec![v.clone()]);
        let resp = response(&v);
        assert_eq!(parse_response(&resp).unwrap(), Ok(v));
        assert_eq!(
            parse_response(&fault(3, "x")).unwrap(),
            Err((3, "x".to_string()))
        );
    }

    #[test]
    fn untyped_value_is_string_and_doctype_refused() {
        let c = parse_call(b"<methodCall><methodName>x</methodName><params><param><value>plain &amp; text</value></param></params></methodCall>").unwrap();
        assert_eq!(c.params, vec![XValue::Str("plain & text".into())]);
        let bad = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><methodCall><methodName>&a;</methodName></methodCall>";
        assert!(parse_call(bad).is_err());
        assert!(parse_call(b"<methodCall><methodName>x</methodName>").is_err());
        assert!(parse_call(b"<value><int>zz</int></value>").is_err());
    }
}
