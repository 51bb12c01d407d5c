//! Random values: parse(repr(v)) gives v back, and repr(v) is what Python 3
//! prints (checked in one batch when /opt/rvenv/bin/python is present).

use crate::pyrepr_codec as codec;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use roundup_core::pyrepr::{parse, repr, PyValue};

const PYTHON: &str = "/opt/rvenv/bin/python";

/// Characters worth mixing into strings: ASCII, quotes, controls, Latin-1
/// and other printable and unprintable characters up to the astral planes.
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => prop::sample::select(vec!['\'', '"', '\\', '\n', '\t', '\r', '\0', '\x7f']),
        1 => proptest::char::range('\u{0}', '\u{ff}'),
        1 => proptest::char::range('\u{100}', '\u{ffff}'),
        1 => any::<char>(),
    ]
}

fn any_string() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..12).prop_map(|chars| chars.into_iter().collect())
}

fn any_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<f64>(),
        1 => (-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 100.0),
        1 => prop::sample::select(vec![
            0.0, -0.0, 1e16, 1e15, 1e-4, 1e-5, 0.1, f64::INFINITY, f64::NEG_INFINITY, f64::NAN,
        ]),
    ]
}

fn leaf() -> impl Strategy<Value = PyValue> {
    prop_oneof![
        Just(PyValue::None),
        any::<bool>().prop_map(PyValue::Bool),
        any::<i64>().prop_map(PyValue::Int),
        (-20i64..20).prop_map(PyValue::Int),
        any_float().prop_map(PyValue::Float),
        any_string().prop_map(PyValue::Str),
        prop::collection::vec(any::<u8>(), 0..10).prop_map(PyValue::Bytes),
    ]
}

/// Dict keys Python can hash and that never compare equal across types.
fn key() -> impl Strategy<Value = PyValue> {
    prop_oneof![
        any_string().prop_map(PyValue::Str),
        (-50i64..50).prop_map(PyValue::Int),
        (any_string(), any_string())
            .prop_map(|(a, b)| PyValue::Tuple(vec![PyValue::Str(a), PyValue::Str(b)])),
    ]
}

fn value() -> impl Strategy<Value = PyValue> {
    leaf().prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(PyValue::Tuple),
            prop::collection::vec(inner.clone(), 0..6).prop_map(PyValue::List),
            prop::collection::vec((key(), inner), 0..6).prop_map(|pairs| {
                let mut seen = std::collections::HashSet::new();
                PyValue::Dict(
                    pairs
                        .into_iter()
                        .filter(|(k, _)| seen.insert(repr(k)))
                        .collect(),
                )
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn parse_inverts_repr(v in value()) {
        let text = repr(&v);
        let back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        // Comparing reprs treats NaN as equal to itself and still tells
        // -0.0 from 0.0 and a tuple from a list.
        prop_assert_eq!(repr(&back), text.clone());
        if !text.contains("nan") {
            prop_assert_eq!(back, v);
        }
    }

    #[test]
    fn parse_never_panics(text in "\\PC{0,40}") {
        let _ = parse(&text);
    }

    #[test]
    fn parse_never_panics_on_literal_soup(
        parts in prop::collection::vec(prop::sample::select(vec![
            "(", ")", "[", "]", "{", "}", ",", ":", "'", "\"", "\\", "b", "u", "r", "0x",
            "1", "-", ".", "e", "L", "None", "True", " ", "\n", "\\x", "\\u", "é",
        ]), 0..30)
    ) {
        let _ = parse(&parts.concat());
    }
}

#[test]
fn repr_matches_python_for_random_values() {
    if !Path::new(PYTHON).exists() {
        return roundup_testkit::missing_because(
            &roundup_testkit::ROUNDUP26,
            &format!("{PYTHON} not found, cannot compare repr() with Python"),
        );
    }
    let mut runner = TestRunner::new(Config::default());
    let strategy = value();
    let values: Vec<PyValue> = (0..400)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect();
    let input: String = values.iter().map(|v| codec::encode(v) + "\n").collect();
    let codec_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let script = format!(
        "import sys\nsys.path.insert(0, {dir:?})\nfrom pyvalue_codec import decode\n\
         for line in sys.stdin.read().splitlines():\n    print(repr(decode(line)))\n",
        dir = codec_dir.display().to_string()
    );
    let mut child = Command::new(PYTHON)
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), values.len());
    for (v, expected) in values.iter().zip(lines) {
        assert_eq!(repr(v), expected, "value {v:?}");
    }
}
