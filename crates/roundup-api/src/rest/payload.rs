//! The request's named values ("input payload"): query string fields for
//! reads, and form, multipart or JSON bodies for writes, in the order
//! given. Names starting with `@` are controls (`@verbose`, `@etag`, ...).

/// One value of a field.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    Text(String),
    /// A JSON array (of strings, numbers...) given for one name.
    List(Vec<String>),
    /// An uploaded file from a multipart body (name, content type, bytes).
    File {
        filename: String,
        content_type: String,
        data: Vec<u8>,
    },
}

impl FieldValue {
    /// The value as text: lists joined with commas (the form Roundup's
    /// raw value parser reads for Multilinks), file data decoded lossily.
    pub fn text(&self) -> String {
        match self {
            FieldValue::Text(s) => s.clone(),
            FieldValue::List(v) => v.join(","),
            FieldValue::File { data, .. } => String::from_utf8_lossy(data).into_owned(),
        }
    }
}

/// All fields of a request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Payload {
    pub fields: Vec<(String, FieldValue)>,
}

impl Payload {
    pub fn get(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(FieldValue::text)
    }
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
    /// Fields that are not controls.
    pub fn data_fields(&self) -> impl Iterator<Item = &(String, FieldValue)> {
        self.fields.iter().filter(|(n, _)| !n.starts_with('@'))
    }

    /// Fields of a URL query string (`+` and %-escapes decoded).
    ///
    /// Fields with an empty value are left out, as Roundup's form parser
    /// (Python's `cgi` module) leaves out blank values: `?status=` is no
    /// filter at all, and `@sort=` no sort order.
    pub fn from_query(pairs: &[(String, String)]) -> Payload {
        Payload {
            fields: pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), FieldValue::Text(v.clone())))
                .collect(),
        }
    }

    /// An `application/x-www-form-urlencoded` body (blank values left out
    /// as in [`Payload::from_query`]).
    pub fn from_urlencoded(body: &[u8]) -> Payload {
        Payload {
            fields: form_urlencoded::parse(body)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.into_owned(), FieldValue::Text(v.into_owned())))
                .collect(),
        }
    }

    /// A JSON object body. Members whose value is null are left out;
    /// strings are taken as they are, arrays as lists of their elements'
    /// text, other values as their text (numbers, `True`/`False` as
    /// Python prints them, objects as JSON). An empty body is an empty
    /// payload.
    pub fn from_json(body: &[u8]) -> Result<Payload, String> {
        let text = std::str::from_utf8(body).map_err(|e| format!("JSON body is not UTF-8: {e}"))?;
        if text.is_empty() {
            return Ok(Payload::default());
        }
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("{e}. JSON is: {text}"))?;
        let serde_json::Value::Object(map) = v else {
            return Err(format!(
                "JSON body must be an object of property names and values. JSON is: {text}"
            ));
        };
        let mut fields = Vec::new();
        for (k, v) in map {
            let fv = match v {
                serde_json::Value::Null => continue,
                serde_json::Value::Array(items) => {
                    FieldValue::List(items.iter().map(scalar_text).collect())
                }
                other => FieldValue::Text(scalar_text(&other)),
            };
            fields.push((k, fv));
        }
        Ok(Payload { fields })
    }

    /// A `multipart/form-data` body with the given boundary.
    pub fn from_multipart(body: &[u8], boundary: &str) -> Result<Payload, String> {
        let delim = format!("--{boundary}");
        let delim = delim.as_bytes();
        let mut fields = Vec::new();
        let mut pos = find(body, delim, 0)
            .ok_or_else(|| format!("multipart body has no boundary \"{boundary}\""))?;
        loop {
            pos += delim.len();
            if body[pos..].starts_with(b"--") {
                break;
            }
            // skip the line break after the boundary
            if body[pos..].starts_with(b"\r\n") {
                pos += 2;
            } else if body[pos..].starts_with(b"\n") {
                pos += 1;
            }
            let head_end = find(body, b"\r\n\r\n", pos)
                .map(|e| (e, 4))
                .or_else(|| find(body, b"\n\n", pos).map(|e| (e, 2)))
                .ok_or("multipart part without a header end")?;
            let head = String::from_utf8_lossy(&body[pos..head_end.0]).into_owned();
            let data_start = head_end.0 + head_end.1;
            let next = find(body, delim, data_start).ok_or("multipart body is not terminated")?;
            let mut data_end = next;
            if data_end >= 2 && &body[data_end - 2..data_end] == b"\r\n" {
                data_end -= 2;
            } else if data_end >= 1 && body[data_end - 1] == b'\n' {
                data_end -= 1;
            }
            let data = body[data_start..data_end].to_vec();
            let mut name = None;
            let mut filename = None;
            let mut ctype = String::new();
            for line in head.lines() {
                let (h, v) = match line.split_once(':') {
                    Some(x) => x,
                    None => continue,
                };
                match h.trim().to_ascii_lowercase().as_str() {
                    "content-disposition" => {
                        name = header_param(v, "name");
                        filename = header_param(v, "filename");
                    }
                    "content-type" => ctype = v.trim().to_string(),
                    _ => {}
                }
            }
            let name = name.ok_or("multipart part without a name")?;
            let fv = match filename {
                Some(filename) => FieldValue::File {
                    filename,
                    content_type: ctype,
                    data,
                },
                None => FieldValue::Text(String::from_utf8_lossy(&data).into_owned()),
            };
            fields.push((name, fv));
            pos = next;
        }
        Ok(Payload { fields })
    }
}

fn scalar_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(true) => "True".into(),
        serde_json::Value::Bool(false) => "False".into(),
        serde_json::Value::Null => "None".into(),
        other => other.to_string(),
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > hay.len() || needle.is_empty() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A `name="value"` parameter of a header value.
pub fn header_param(v: &str, param: &str) -> Option<String> {
    for part in v.split(';').skip(1) {
        let (k, val) = part.split_once('=')?;
        if k.trim().eq_ignore_ascii_case(param) {
            let val = val.trim();
            let val = val
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(val);
            return Some(val.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values() {
        let p = Payload::from_json(
            br#"{"title": "x", "nosy": ["1", 2], "n": 3.5, "b": true, "z": null}"#,
        )
        .unwrap();
        assert_eq!(p.text("title").as_deref(), Some("x"));
        assert_eq!(
            p.get("nosy"),
            Some(&FieldValue::List(vec!["1".into(), "2".into()]))
        );
        assert_eq!(p.text("n").as_deref(), Some("3.5"));
        assert_eq!(p.text("b").as_deref(), Some("True"));
        assert!(!p.contains("z"));
        assert!(Payload::from_json(b"[1]").is_err());
        assert!(Payload::from_json(b"{bad").is_err());
        assert!(Payload::from_json(b"").unwrap().is_empty());
    }

    #[test]
    fn multipart_parts() {
        let body = b"--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nafile\r\n--XX\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\xff\r\n--XX--\r\n";
        let p = Payload::from_multipart(body, "XX").unwrap();
        assert_eq!(p.text("name").as_deref(), Some("afile"));
        match p.get("content") {
            Some(FieldValue::File { filename, data, .. }) => {
                assert_eq!(filename, "a.bin");
                assert_eq!(data, &vec![0u8, 1, 255]);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
