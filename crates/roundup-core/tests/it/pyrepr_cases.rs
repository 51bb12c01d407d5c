//! repr() output compared with a table Python 3 produced
//! (tests/data/pyrepr_cases.txt), and parse() on reprs, on what Python 2
//! Roundup wrote, and on bad input.

use crate::pyrepr_codec as codec;

use std::path::Path;

use roundup_core::pyrepr::{float_repr, parse, repr, PyValue};

fn s(text: &str) -> PyValue {
    PyValue::Str(text.to_string())
}

fn cases() -> Vec<(PyValue, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pyrepr_cases.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let list: Vec<(PyValue, String)> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (encoded, expected) = line.split_once('\t').unwrap();
            (codec::decode(encoded).unwrap(), expected.to_string())
        })
        .collect();
    assert!(list.len() > 100);
    list
}

/// Equality that treats NaN as equal to itself.
fn same(a: &PyValue, b: &PyValue) -> bool {
    match (a, b) {
        (PyValue::Float(x), PyValue::Float(y)) => x.to_bits() == y.to_bits(),
        (PyValue::Tuple(x), PyValue::Tuple(y)) | (PyValue::List(x), PyValue::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (PyValue::Dict(x), PyValue::Dict(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| same(ka, kb) && same(va, vb))
        }
        _ => a == b,
    }
}

#[test]
fn repr_matches_python() {
    for (value, expected) in cases() {
        assert_eq!(repr(&value), expected, "repr of {value:?}");
    }
}

#[test]
fn parse_reads_python_reprs_back() {
    for (value, text) in cases() {
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert!(same(&parsed, &value), "{text} gave {parsed:?}");
    }
}

#[test]
fn float_layout() {
    let cases = [
        (1.0, "1.0"),
        (-0.0, "-0.0"),
        (1e16, "1e+16"),
        (1e15, "1000000000000000.0"),
        (1.5e16, "1.5e+16"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.25e-10, "1.25e-10"),
        (1e300 * 10.0, "1e+301"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (f64::NAN, "nan"),
        (123.456, "123.456"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
    ];
    for (f, expected) in cases {
        assert_eq!(float_repr(f), expected);
        assert_eq!(repr(&PyValue::Float(f)), expected);
    }
}

#[test]
fn tricky_strings() {
    let cases = [
        ("it's", r#""it's""#),
        ("\"", r#"'"'"#),
        ("'\"", r#"'\'"'"#),
        ("a\\b", r"'a\\b'"),
        ("\u{7f}", r"'\x7f'"),
        ("\u{2028}", r"'\u2028'"),
        ("\u{e0001}", r"'\U000e0001'"),
        ("\u{1f600}", "'\u{1f600}'"),
        ("\0", r"'\x00'"),
        ("\r\n", r"'\r\n'"),
    ];
    for (text, expected) in cases {
        assert_eq!(repr(&s(text)), expected);
        assert_eq!(parse(expected), Ok(s(text)));
    }
}

#[test]
fn roundup_journal_values() {
    let params = PyValue::Dict(vec![
        (s("title"), s("old")),
        (s("nosy"), PyValue::List(vec![s("1"), s("2")])),
    ]);
    assert_eq!(repr(&params), "{'title': 'old', 'nosy': ['1', '2']}");
    let link = PyValue::Tuple(vec![s("issue"), s("1"), s("nosy")]);
    assert_eq!(repr(&link), "('issue', '1', 'nosy')");
    assert_eq!(
        parse("{'title': 'old', 'nosy': ['1', '2']}"),
        Ok(params.clone())
    );
    assert_eq!(parse(&repr(&link)), Ok(link));
    assert_eq!(repr(&PyValue::Tuple(vec![s("x")])), "('x',)");
    assert_eq!(repr(&PyValue::Tuple(vec![])), "()");
}

#[test]
fn python2_and_other_spellings() {
    let cases: Vec<(&str, PyValue)> = vec![
        ("u'caf\\xe9'", s("café")),
        ("U\"x\"", s("x")),
        ("10L", PyValue::Int(10)),
        ("-10l", PyValue::Int(-10)),
        ("0x1F", PyValue::Int(31)),
        ("0o17", PyValue::Int(15)),
        ("0b101", PyValue::Int(5)),
        ("1_000", PyValue::Int(1000)),
        ("00", PyValue::Int(0)),
        ("-9223372036854775808", PyValue::Int(i64::MIN)),
        ("- 5", PyValue::Int(-5)),
        ("--5", PyValue::Int(5)),
        ("+5", PyValue::Int(5)),
        (".5", PyValue::Float(0.5)),
        ("5.", PyValue::Float(5.0)),
        ("1E3", PyValue::Float(1000.0)),
        ("1.e2", PyValue::Float(100.0)),
        ("1_0.2_5", PyValue::Float(10.25)),
        ("-inf", PyValue::Float(f64::NEG_INFINITY)),
        ("b'\\x00\\xff'", PyValue::Bytes(vec![0, 255])),
        ("B'a'", PyValue::Bytes(b"a".to_vec())),
        ("b'\\777'", PyValue::Bytes(vec![0xff])),
        ("'\\777'", s("\u{1ff}")),
        ("r'a\\nb'", s("a\\nb")),
        ("br'\\x'", PyValue::Bytes(b"\\x".to_vec())),
        ("'a' \"b\"", s("ab")),
        ("'\\101\\0\\7'", s("A\0\x07")),
        ("'\\u00e9\\U0001F389'", s("é🎉")),
        ("'\\q'", s("\\q")),
        ("'''tri'ple\nquoted'''", s("tri'ple\nquoted")),
        ("'a\\\nb'", s("ab")),
        ("( 1 )", PyValue::Int(1)),
        ("(1,)", PyValue::Tuple(vec![PyValue::Int(1)])),
        (
            "[1, 2,]",
            PyValue::List(vec![PyValue::Int(1), PyValue::Int(2)]),
        ),
        (
            "{\n  'a': 1,\n  'b': (2,),\n}",
            PyValue::Dict(vec![
                (s("a"), PyValue::Int(1)),
                (s("b"), PyValue::Tuple(vec![PyValue::Int(2)])),
            ]),
        ),
        ("  None  \n", PyValue::None),
        (
            "{1: 'a', True: 'b', 1.0: 'c', 2: 'd'}",
            PyValue::Dict(vec![(PyValue::Int(1), s("c")), (PyValue::Int(2), s("d"))]),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text), Ok(expected), "parsing {text:?}");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let bad = [
        "",
        "   ",
        "[",
        "[1,",
        "[1 2]",
        "(1,,)",
        "{'a' 1}",
        "{'a': 1",
        "{1, 2}",
        "{[1]: 2}",
        "{(1, [2]): 3}",
        "'abc",
        "'a\nb'",
        "'\\x4'",
        "'\\u12'",
        "'\\ud800'",
        "'\\U00110000'",
        "'\\N{BULLET}'",
        "b'\u{e9}'",
        "12abc",
        "1e",
        "1.2.3",
        "0x",
        "0xg",
        "1j",
        "0777",
        ".",
        "-",
        "-'a'",
        "-None",
        "foo",
        "None None",
        "__import__('os').system('true')",
        "9223372036854775808",
        "-9223372036854775809",
        "0x10000000000000000",
        "'a' b'b'",
        "\\",
        "f'x'",
        "set()",
        "{1: 2}}",
        "#",
    ];
    for text in bad {
        let err = parse(text).expect_err(text);
        assert!(err.offset <= text.len(), "{text:?}: {err}");
        assert!(!err.reason.is_empty());
    }
    let deep = "[".repeat(100_000);
    assert!(parse(&deep).is_err());
    let deep_ok = format!("{}{}", "[".repeat(150), "]".repeat(150));
    assert!(parse(&deep_ok).is_ok());
}

#[test]
fn errors_say_where_and_why() {
    let err = parse("[1, 2, x]").unwrap_err();
    assert_eq!(err.offset, 7);
    assert!(err.reason.contains("unknown name"), "{err}");
    assert_eq!(err.near, "x]");
    let message = err.to_string();
    assert!(
        message.contains("byte 7") && message.contains("\"x]\""),
        "{message}"
    );

    let err = parse("{'a': 'unterminated}").unwrap_err();
    assert_eq!(err.offset, 6);
    assert!(err.reason.contains("not closed"), "{err}");

    let err = parse("(1, 2").unwrap_err();
    assert_eq!(err.offset, 0);
    assert!(err.reason.contains("')'"), "{err}");

    let err = parse("99999999999999999999").unwrap_err();
    assert!(err.reason.contains("64 bits"), "{err}");

    let err = parse("'ok' junk").unwrap_err();
    assert_eq!(err.offset, 5);
}

#[test]
fn never_panics_on_truncated_or_mutated_reprs() {
    for (value, text) in cases() {
        let _ = value;
        for (i, _) in text.char_indices() {
            let _ = parse(&text[..i]);
            let _ = parse(&text[i..]);
            let mut mutated = text.clone();
            mutated.insert(i, '\\');
            let _ = parse(&mutated);
            let mut mutated = text.clone();
            mutated.insert(i, '\'');
            let _ = parse(&mutated);
        }
    }
}

/// Roundup stores journal params and export cells with `repr_export` and
/// reads them with `eval_import`; these strings were produced by Roundup
/// 2.6's `roundup.anypy.strings.repr_export`.
#[test]
fn repr_export_matches_roundup() {
    use roundup_core::pyrepr::{eval_import, repr_export, PyValue};
    let s = |x: &str| PyValue::Str(x.to_string());
    let cases: Vec<(PyValue, &str)> = vec![
        (s("café"), r"'caf\xc3\xa9'"),
        (s("it's"), r#""it's""#),
        (
            PyValue::Dict(vec![
                (s("nosy"), PyValue::Tuple(vec![])),
                (s("title"), s("Grüße")),
            ]),
            r"{'nosy': (), 'title': 'Gr\xc3\xbc\xc3\x9fe'}",
        ),
        (
            PyValue::Tuple(vec![s("issue"), s("1"), s("nosy")]),
            "('issue', '1', 'nosy')",
        ),
        (PyValue::List(vec![s("ü")]), "['ü']"),
        (PyValue::None, "None"),
    ];
    for (value, expected) in cases {
        assert_eq!(repr_export(&value), expected, "repr_export of {value:?}");
        assert_eq!(
            eval_import(expected).unwrap(),
            value,
            "eval_import of {expected}"
        );
    }
    // Python 2 era long ids in link params still load
    assert_eq!(
        eval_import("('issue', 5002L, 'status')").unwrap(),
        PyValue::Tuple(vec![s("issue"), PyValue::Int(5002), s("status")])
    );
}
