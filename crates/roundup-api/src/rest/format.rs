//! Response formats: Accept-header negotiation and JSON written the way
//! Roundup's REST interface writes it (4-space indentation, non-ASCII
//! escaped, a final newline).

use serde_json::{Map, Value as Json};

/// One entry of an Accept header.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaRange {
    pub media_type: String,
    pub params: Vec<(String, String)>,
    pub q: f64,
}

impl MediaRange {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse an Accept header into media ranges, best `q` first (stable for
/// equal `q`). Vendor types such as `application/vnd.roundup.test-v1+json`
/// become `application/json` with `version` and `vendor` parameters.
pub fn parse_accept(accept: &str) -> Result<Vec<MediaRange>, String> {
    let mut out = Vec::new();
    if accept.is_empty() {
        return Ok(out);
    }
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let mut media_type = parts.next().unwrap_or("").trim().to_string();
        let mut params: Vec<(String, String)> = Vec::new();
        let Some((typ, subtyp)) = media_type.split_once('/') else {
            return Err(format!("Invalid media type: {media_type}"));
        };
        if subtyp.contains('/') {
            return Err(format!("Invalid media type: {media_type}"));
        }
        let (typ, subtyp) = (typ.to_string(), subtyp.to_string());
        if let Some((vnd, extra)) = subtyp.split_once('+') {
            if vnd.starts_with("vnd") {
                let mut vendor = vnd.to_string();
                if let Some(i) = vnd.rfind("-v") {
                    let version = &vnd[i + 2..];
                    if !version.is_empty() {
                        params.push(("version".into(), version.to_string()));
                    }
                    vendor = vnd[..i].to_string();
                }
                params.push(("vendor".into(), vendor));
                media_type = format!("{typ}/{extra}");
            }
        }
        let mut q = 1.0;
        for part in parts {
            let part = part.trim_start();
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!("Invalid param: {part}"));
            };
            let (k, v) = (k.trim(), v.trim());
            if k == "q" {
                q = v
                    .parse::<f64>()
                    .map_err(|_| format!("could not convert string to float: '{v}'"))?;
                if q > 1.0 {
                    q = 0.0001;
                }
            } else {
                params.retain(|(pk, _)| pk != k);
                params.push((k.to_string(), v.to_string()));
            }
        }
        out.push(MediaRange {
            media_type,
            params,
            q,
        });
    }
    out.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal));
    Ok(out)
}

/// The MIME types a file's content may be delivered as, most specific
/// first (Roundup's list for `binary_content`).
pub fn content_types_for(mime: Option<&str>, default_text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mime = mime
        .map(|m| m.split(';').next().unwrap_or("").trim().to_string())
        .filter(|m| !m.is_empty());
    match &mime {
        Some(m) => {
            out.push(m.clone());
            if let Some((main, _)) = m.split_once('/') {
                out.push(format!("{main}/*"));
            }
        }
        None => {
            out.push(default_text.to_string());
            out.push("text/*".to_string());
        }
    }
    out.push("application/octet-stream".to_string());
    out.push("*/*".to_string());
    out
}

/// Roundup's error envelope.
pub fn error_obj(status: u16, msg: &str) -> Json {
    let mut e = Map::new();
    e.insert("status".into(), Json::from(status));
    e.insert("msg".into(), Json::from(msg));
    let mut o = Map::new();
    o.insert("error".into(), Json::Object(e));
    Json::Object(o)
}

/// Serialise like Python's `json.dumps(obj, indent=4)` (or compact when
/// not pretty), escaping non-ASCII characters, plus a final newline.
pub fn to_json_bytes(v: &Json, pretty: bool) -> Vec<u8> {
    let mut out = String::new();
    write_json(&mut out, v, pretty, 0);
    out.push('\n');
    out.into_bytes()
}

fn indent(out: &mut String, level: usize) {
    out.push('\n');
    for _ in 0..level {
        out.push_str("    ");
    }
}

fn write_json(out: &mut String, v: &Json, pretty: bool, level: usize) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if let Some(f) = n.as_f64().filter(|_| n.is_f64()) {
                out.push_str(&python_float(f));
            } else {
                out.push_str(&n.to_string());
            }
        }
        Json::String(s) => write_str(out, s),
        Json::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if !pretty {
                        out.push(' ');
                    }
                }
                if pretty {
                    indent(out, level + 1);
                }
                write_json(out, item, pretty, level + 1);
            }
            if pretty {
                indent(out, level);
            }
            out.push(']');
        }
        Json::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    if !pretty {
                        out.push(' ');
                    }
                }
                if pretty {
                    indent(out, level + 1);
                }
                write_str(out, k);
                out.push_str(": ");
                write_json(out, item, pretty, level + 1);
            }
            if pretty {
                indent(out, level);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)` for finite values.
pub fn python_float(f: f64) -> String {
    roundup_core::value::format_number(f)
}

fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_vendor_and_q() {
        let r =
            parse_accept("application/xml;q=0.5, application/vnd.roundup.test-v1+json").unwrap();
        assert_eq!(r[0].media_type, "application/json");
        assert_eq!(r[0].param("version"), Some("1"));
        assert_eq!(r[0].param("vendor"), Some("vnd.roundup.test"));
        assert_eq!(r[1].media_type, "application/xml");
        assert!(parse_accept("garbage").is_err());
        assert!(parse_accept("a/b; noequals").is_err());
    }

    #[test]
    fn python_like_json() {
        let v: Json = serde_json::from_str(r#"{"a": [1, 2.0, "é"], "b": {}, "c": []}"#).unwrap();
        let s = String::from_utf8(to_json_bytes(&v, true)).unwrap();
        assert_eq!(
            s,
            "{\n    \"a\": [\n        1,\n        2.0,\n        \"\\u00e9\"\n    ],\n    \"b\": {},\n    \"c\": []\n}\n"
        );
        let s = String::from_utf8(to_json_bytes(&v, false)).unwrap();
        assert_eq!(s, "{\"a\": [1, 2.0, \"\\u00e9\"], \"b\": {}, \"c\": []}\n");
    }

    #[test]
    fn file_content_types() {
        assert_eq!(
            content_types_for(Some("image/png"), "text/plain"),
            vec!["image/png", "image/*", "application/octet-stream", "*/*"]
        );
        assert_eq!(
            content_types_for(None, "text/plain"),
            vec!["text/plain", "text/*", "application/octet-stream", "*/*"]
        );
    }
}
