//! Roundup 2.6's own message catalogs (every language it installs), read
//! by our reader and by Roundup's `roundup.i18n` in Python: every message,
//! every plural message at several counts, and `Interval.pretty()` for a
//! range of intervals must come out the same.

use std::path::{Path, PathBuf};

use roundup_core::date::Interval;
use roundup_core::i18n::Catalogs;
use roundup_core::pyrepr::{parse, PyValue};
use roundup_testkit::Roundup26;

const COUNTS: [u64; 8] = [0, 1, 2, 3, 5, 11, 21, 22];
const INTERVALS: [&str; 14] = [
    "-3w", "-2d", "-1d", "-5:00", "-1:20", "-1:30", "-1:50", "-0:30", "-0:20", "-0:01", "-0:00:30",
    "+2m", "-1y", "+0:05",
];

/// Python: for each language, {msgid: gettext}, {msgid: [ngettext...]},
/// [pretty...], printed as one repr.
const SCRIPT: &str = r#"
import sys
from roundup import i18n, date
counts = [int(x) for x in sys.argv[1].split(',')]
intervals = sys.argv[2].split(',')
out = {}
for lang in sys.argv[3:]:
    t = i18n.get_translation(language=lang)
    ids, plurals = set(), set()
    tr = t
    while tr is not None:
        for k in getattr(tr, '_catalog', {}).keys():
            if isinstance(k, tuple):
                plurals.add(k[0])
            elif k:
                ids.add(k)
        tr = getattr(tr, '_fallback', None)
    g = {k: t.gettext(k) for k in sorted(ids)}
    n = {k: [t.ngettext(k, k + ' (many)', c) for c in counts] for k in sorted(plurals)}
    p = [date.Interval(s, translator=t).pretty() for s in intervals]
    out[lang] = (g, n, p)
print(repr(out))
"#;

fn languages() -> Vec<String> {
    let mut langs: Vec<String> = std::fs::read_dir(Roundup26::LOCALE)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|l| {
                    Path::new(Roundup26::LOCALE)
                        .join(l)
                        .join("LC_MESSAGES/roundup.mo")
                        .exists()
                })
                .collect()
        })
        .unwrap_or_default();
    langs.sort();
    langs
}

fn as_str(v: &PyValue) -> &str {
    match v {
        PyValue::Str(s) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

fn pairs(v: &PyValue) -> &[(PyValue, PyValue)] {
    match v {
        PyValue::Dict(d) => d,
        other => panic!("expected a dict, got {other:?}"),
    }
}

fn items(v: &PyValue) -> &[PyValue] {
    match v {
        PyValue::List(l) | PyValue::Tuple(l) => l,
        other => panic!("expected a sequence, got {other:?}"),
    }
}

#[test]
fn roundup26_catalogs_translate_as_roundup_does() {
    let Some(r) = Roundup26::find() else { return };
    let langs = languages();
    assert!(
        langs.len() >= 10,
        "Roundup 2.6 installs its catalogs: {langs:?}"
    );
    let counts: Vec<String> = COUNTS.iter().map(u64::to_string).collect();
    let counts = counts.join(",");
    let intervals = INTERVALS.join(",");
    let mut args = vec!["-c", SCRIPT, &counts, &intervals];
    args.extend(langs.iter().map(String::as_str));
    let out = r.run(Roundup26::PYTHON, &args);
    let expected = parse(out.trim()).expect("Python's repr parses");
    let cats = Catalogs::with_dirs(None, vec![PathBuf::from(Roundup26::LOCALE)]);
    let mut checked = 0;
    for (lang, v) in pairs(&expected) {
        let lang = as_str(lang);
        let t = cats
            .translator(&[lang.to_string()])
            .unwrap_or_else(|e| panic!("{lang}: {e}"));
        let parts = items(v);
        for (msgid, want) in pairs(&parts[0]) {
            let msgid = as_str(msgid);
            assert_eq!(t.gettext(msgid), as_str(want), "{lang}: gettext({msgid:?})");
            checked += 1;
        }
        for (msgid, wants) in pairs(&parts[1]) {
            let msgid = as_str(msgid);
            let many = format!("{msgid} (many)");
            for (n, want) in COUNTS.iter().zip(items(wants)) {
                assert_eq!(
                    t.ngettext(msgid, &many, *n),
                    as_str(want),
                    "{lang}: ngettext({msgid:?}, {n})"
                );
                checked += 1;
            }
        }
        for (spec, want) in INTERVALS.iter().zip(items(&parts[2])) {
            let iv = Interval::parse(spec).unwrap();
            assert_eq!(
                iv.pretty_in(&t),
                as_str(want),
                "{lang}: Interval({spec}).pretty()"
            );
        }
    }
    assert!(checked > 4000, "only {checked} messages compared");
}
