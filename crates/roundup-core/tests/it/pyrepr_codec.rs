//! The token encoding of tests/data/pyvalue_codec.py, used to move values
//! between these tests and Python without going through repr() itself.
//! The other pyrepr modules use it as `codec`.

use roundup_core::pyrepr::PyValue;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("odd hex length in {text:?}"));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|e| format!("{text:?}: {e}")))
        .collect()
}

pub fn encode(v: &PyValue) -> String {
    let mut out = Vec::new();
    enc(v, &mut out);
    out.join(" ")
}

fn enc(v: &PyValue, out: &mut Vec<String>) {
    match v {
        PyValue::None => out.push("N".into()),
        PyValue::Bool(true) => out.push("T".into()),
        PyValue::Bool(false) => out.push("F".into()),
        PyValue::Int(i) => out.push(format!("i:{i}")),
        PyValue::Float(f) => out.push(format!("f:{:016x}", f.to_bits())),
        PyValue::Str(s) => out.push(format!("s:{}", hex(s.as_bytes()))),
        PyValue::Bytes(b) => out.push(format!("b:{}", hex(b))),
        PyValue::Tuple(items) | PyValue::List(items) => {
            let tag = if matches!(v, PyValue::Tuple(_)) {
                't'
            } else {
                'l'
            };
            out.push(format!("{tag}:{}", items.len()));
            for item in items {
                enc(item, out);
            }
        }
        PyValue::Dict(pairs) => {
            out.push(format!("d:{}", pairs.len()));
            for (k, v) in pairs {
                enc(k, out);
                enc(v, out);
            }
        }
    }
}

pub fn decode(text: &str) -> Result<PyValue, String> {
    let tokens: Vec<&str> = text.split(' ').collect();
    let mut pos = 0;
    let value = dec(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("trailing tokens in {text:?}"));
    }
    Ok(value)
}

fn dec(tokens: &[&str], pos: &mut usize) -> Result<PyValue, String> {
    let tok = tokens.get(*pos).ok_or("ran out of tokens")?;
    *pos += 1;
    let (tag, arg) = tok.split_once(':').unwrap_or((tok, ""));
    let count = || arg.parse::<usize>().map_err(|e| format!("{tok}: {e}"));
    Ok(match tag {
        "N" => PyValue::None,
        "T" => PyValue::Bool(true),
        "F" => PyValue::Bool(false),
        "i" => PyValue::Int(arg.parse().map_err(|e| format!("{tok}: {e}"))?),
        "f" => PyValue::Float(f64::from_bits(
            u64::from_str_radix(arg, 16).map_err(|e| format!("{tok}: {e}"))?,
        )),
        "s" => PyValue::Str(String::from_utf8(unhex(arg)?).map_err(|e| e.to_string())?),
        "b" => PyValue::Bytes(unhex(arg)?),
        "t" | "l" => {
            let items = (0..count()?)
                .map(|_| dec(tokens, pos))
                .collect::<Result<Vec<_>, _>>()?;
            if tag == "t" {
                PyValue::Tuple(items)
            } else {
                PyValue::List(items)
            }
        }
        "d" => {
            let mut pairs = Vec::new();
            for _ in 0..count()? {
                let k = dec(tokens, pos)?;
                let v = dec(tokens, pos)?;
                pairs.push((k, v));
            }
            PyValue::Dict(pairs)
        }
        _ => return Err(format!("bad token {tok:?}")),
    })
}

#[test]
fn codec_round_trips() {
    let v = PyValue::Dict(vec![
        (
            PyValue::Str("a b".into()),
            PyValue::List(vec![PyValue::Int(-3)]),
        ),
        (
            PyValue::Tuple(vec![PyValue::None, PyValue::Bool(true)]),
            PyValue::Bytes(vec![0, 255]),
        ),
        (PyValue::Int(1), PyValue::Float(-0.5)),
    ]);
    let text = encode(&v);
    assert_eq!(decode(&text), Ok(v));
    assert!(decode("x").is_err());
    assert!(decode("l:2 N").is_err());
}
