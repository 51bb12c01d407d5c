//! XML-RPC against Python's `xmlrpc.client`: the codec both ways, and a
//! Python client driving create/set/filter/display through a tiny HTTP
//! shim that calls `xmlrpc::handle`.

use std::process::Command;

use crate::rest_support::*;
use roundup_api::rest::ApiAuth;
use roundup_api::xmlrpc::codec::{self, XValue};

fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3", "/opt/rvenv/bin/python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import xmlrpc.client"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn run_python(code: &str) -> String {
    let Some(py) = python() else {
        return String::new();
    };
    let out = Command::new(py)
        .args(["-c", code])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn codec_reads_what_python_writes() {
    if python().is_none() {
        return roundup_testkit::missing(&roundup_testkit::PYTHON3);
    }
    let xml = run_python(
        "import xmlrpc.client as x, datetime, sys\n\
         sys.stdout.write(x.dumps((1, -7, True, 'a<&>é', 2.5, None, [1, 'two'], {'k': [None]}, x.Binary(b'\\x00\\xff'), datetime.datetime(2024, 1, 2, 3, 4, 5)), 'm.n', allow_none=True))",
    );
    let call = codec::parse_call(xml.as_bytes()).expect("parse python's call");
    assert_eq!(call.method, "m.n");
    assert_eq!(
        call.params,
        vec![
            XValue::Int(1),
            XValue::Int(-7),
            XValue::Bool(true),
            XValue::Str("a<&>é".into()),
            XValue::Double(2.5),
            XValue::Nil,
            XValue::Array(vec![XValue::Int(1), XValue::Str("two".into())]),
            XValue::Struct(vec![("k".into(), XValue::Array(vec![XValue::Nil]))]),
            XValue::Base64(vec![0, 255]),
            XValue::DateTime("20240102T03:04:05".into()),
        ]
    );
    // the i8 extension Python reads but does not write
    let call = codec::parse_call(b"<methodCall><methodName>m</methodName><params><param><value><i8>1099511627776</i8></value></param></params></methodCall>").unwrap();
    assert_eq!(call.params, vec![XValue::Int(1 << 40)]);
}

#[test]
fn python_reads_what_codec_writes() {
    if python().is_none() {
        return roundup_testkit::missing(&roundup_testkit::PYTHON3);
    }
    let v = XValue::Struct(vec![
        ("s".into(), XValue::Str("x & <y>".into())),
        (
            "l".into(),
            XValue::Array(vec![XValue::Int(3), XValue::Nil, XValue::Bool(false)]),
        ),
        ("d".into(), XValue::Double(0.1)),
        ("b".into(), XValue::Base64(b"hi".to_vec())),
        ("t".into(), XValue::DateTime("20240102T03:04:05".into())),
        ("big".into(), XValue::Int(1 << 40)),
    ]);
    let resp = String::from_utf8(codec::response(&v)).unwrap();
    let fault = String::from_utf8(codec::fault(403, "Forbidden")).unwrap();
    let code = format!(
        "import xmlrpc.client as x\n\
         r = x.loads({resp:?})[0][0]\n\
         print(repr(sorted((k, str(v)) for k, v in r.items())))\n\
         try:\n    x.loads({fault:?})\nexcept x.Fault as f:\n    print(f.faultCode, f.faultString)\n"
    );
    let out = run_python(&code);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        "[('b', 'hi'), ('big', '1099511627776'), ('d', '0.1'), ('l', '[3, None, False]'), ('s', 'x & <y>'), ('t', '20240102T03:04:05')]"
    );
    assert_eq!(lines.next().unwrap(), "403 Forbidden");
}

#[test]
fn python_client_drives_the_tracker() {
    if python().is_none() {
        return roundup_testkit::missing(&roundup_testkit::PYTHON3);
    }
    let env = classic(&[]);
    let script = r#"
import xmlrpc.client as x, json, sys
port = int(sys.argv[1])
class T(x.Transport):
    def send_headers(self, conn, headers):
        conn.putheader('X-Requested-With', 'rest')
        conn.putheader('Referer', 'http://127.0.0.1:%d/T/' % port)
        super().send_headers(conn, headers)
def proxy(user):
    return x.ServerProxy('http://%s@127.0.0.1:%d/xmlrpc' % (user, port), transport=T(), allow_none=True)
s = proxy('admin:admin')
out = []
def t(f, *a, who=s):
    try:
        out.append(['ok', getattr(who, f)(*a)])
    except x.Fault as e:
        out.append(['fault', e.faultCode, e.faultString])
t('create', 'issue', 'title=first bug', 'priority=bug')
t('create', 'issue', 'title=second', 'nosy=admin,demo')
t('set', 'issue1', 'title=first bug changed', 'status=chatting')
t('display', 'issue1', 'title', 'status', 'priority')
t('filter', 'issue', None, {'title': 'BUG'})
t('filter', 'issue', ['2'], {})
t('filter', 'issue', None, {}, [['-', 'id']])
t('lookup', 'user', 'demo')
t('lookup', 'user', 'nosuch')
t('list', 'status')
t('display', 'status99')
t('display', 'bogus')
t('create', 'issue', 'title')
t('nosuch')
t('action', 'retire', 'issue2')
t('filter', 'issue', None, {})
t('action', 'restore', 'issue2')
t('display', 'issue1', 'creation')
t('create', 'status', 'name=x', who=proxy('demo:demo'))
t('schema')
print(json.dumps(out))
"#;
    // 20 calls + the login that fails below
    let (port, h) = serve_xmlrpc(env.home().to_path_buf(), 21);
    let py = python().unwrap();
    let out = Command::new(py)
        .args(["-c", script, &port.to_string()])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let res: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let r = |i: usize| res[i].clone();
    assert_eq!(r(0), serde_json::json!(["ok", "1"]));
    assert_eq!(r(1), serde_json::json!(["ok", "2"]));
    assert_eq!(r(2)[1]["title"], "first bug changed");
    assert_eq!(r(2)[1]["status"], "3");
    assert_eq!(
        r(3)[1],
        serde_json::json!({"priority": "3", "status": "3", "title": "first bug changed"})
    );
    assert_eq!(r(4)[1], serde_json::json!(["1"]));
    assert_eq!(r(5)[1], serde_json::json!(["2"]));
    assert_eq!(r(6)[1], serde_json::json!(["2", "1"]));
    assert_eq!(r(7)[1], env.uid("demo"));
    assert_eq!(
        r(8),
        serde_json::json!([
            "fault",
            1,
            "<class 'KeyError'>:'No key (username) value \"nosuch\" for \"user\"'"
        ])
    );
    assert_eq!(r(9)[1][0], "unread");
    assert_eq!(
        r(10),
        serde_json::json!(["fault", 1, "<class 'IndexError'>:no such status 99"])
    );
    assert_eq!(
        r(11),
        serde_json::json!([
            "fault",
            1,
            "<class 'roundup.hyperdb.DesignatorError'>:\"bogus\" not a node designator"
        ])
    );
    assert_eq!(
        r(12),
        serde_json::json!([
            "fault",
            1,
            "<class 'roundup.exceptions.UsageError'>:argument \"title\" not propname=value"
        ])
    );
    assert_eq!(
        r(13),
        serde_json::json!([
            "fault",
            1,
            "<class 'Exception'>:method \"nosuch\" is not supported"
        ])
    );
    assert_eq!(r(14), serde_json::json!(["ok", null]));
    assert_eq!(r(15)[1], serde_json::json!(["1"]));
    assert_eq!(r(16), serde_json::json!(["ok", null]));
    assert!(r(17)[1]["creation"]
        .as_str()
        .unwrap()
        .starts_with("<Date 2"));
    assert_eq!(
        r(18),
        serde_json::json!([
            "fault",
            1,
            "<class 'roundup.exceptions.Unauthorised'>:Permission to create status denied"
        ])
    );
    assert_eq!(
        r(19)[1]["status"],
        serde_json::json!([
            ["name", "<roundup.hyperdb.String>"],
            ["order", "<roundup.hyperdb.Number>"]
        ])
    );

    // a wrong password never reaches the handler: a 401 fault, as
    // Roundup answers it
    let bad = Command::new(py)
        .args([
            "-c",
            "import xmlrpc.client as x, sys\ns = x.ServerProxy('http://admin:bad@127.0.0.1:%s/xmlrpc' % sys.argv[1])\ntry:\n    s.schema()\nexcept x.Fault as e:\n    print(e.faultCode, e.faultString)\n",
            &port.to_string(),
        ])
        .output()
        .expect("python runs");
    assert_eq!(
        String::from_utf8_lossy(&bad.stdout).trim(),
        "401 Invalid login"
    );
    h.join().expect("server thread");
}

#[test]
fn handler_refusals() {
    let env = classic(&[]);
    let call = codec::call("schema", &[]);
    let mut r = req("POST", "").csrf().header("Content-Type", "text/xml");
    r.body = call.clone();
    // anonymous has no Xmlrpc Access in classic
    let resp = env.xmlrpc(&ApiAuth::Anonymous, &r);
    assert_eq!(resp.header("Content-Type"), Some("text/xml"));
    assert_eq!(
        codec::parse_response(&resp.body).unwrap(),
        Err((403, "Forbidden".to_string()))
    );
    // missing X-Requested-With
    let mut r2 = req("POST", "")
        .header("Content-Type", "text/xml")
        .header("Referer", BASE);
    r2.body = call.clone();
    let resp = env.xmlrpc(&env.admin(), &r2);
    assert_eq!(
        codec::parse_response(&resp.body).unwrap(),
        Err((
            1,
            "<class 'roundup.exceptions.UsageError'>:Required Header Missing".to_string()
        ))
    );
    // not XML: the pointer page
    let resp = env.xmlrpc(&env.admin(), &req("GET", ""));
    assert!(String::from_utf8(resp.body)
        .unwrap()
        .contains("XML-RPC interface"));
    // multicall
    let mc = codec::call(
        "system.multicall",
        &[XValue::Array(vec![
            XValue::Struct(vec![
                ("methodName".into(), XValue::Str("lookup".into())),
                (
                    "params".into(),
                    XValue::Array(vec![
                        XValue::Str("user".into()),
                        XValue::Str("admin".into()),
                    ]),
                ),
            ]),
            XValue::Struct(vec![
                ("methodName".into(), XValue::Str("bogus".into())),
                ("params".into(), XValue::Array(vec![])),
            ]),
        ])],
    );
    let mut r3 = req("POST", "").csrf().header("Content-Type", "text/xml");
    r3.body = mc;
    let resp = env.xmlrpc(&env.admin(), &r3);
    let v = codec::parse_response(&resp.body).unwrap().unwrap();
    let XValue::Array(items) = v else {
        panic!("not an array")
    };
    assert_eq!(items[0], XValue::Array(vec![XValue::Str("1".into())]));
    assert!(matches!(&items[1], XValue::Struct(m) if m[0].1 == XValue::Int(1)));
}
