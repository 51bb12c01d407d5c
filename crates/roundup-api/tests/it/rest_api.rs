//! The REST interface against a classic tracker: endpoints, status codes,
//! headers, JSON shapes and permission filtering.

use crate::rest_support::*;
use roundup_api::rest::{ApiAuth, ApiRequest};
use roundup_core::{Value, Values};
use serde_json::Value as Json;

fn data(r: &roundup_api::rest::ApiResponse) -> Json {
    r.json()["data"].clone()
}

#[test]
fn root_and_data_summaries() {
    let env = classic(&[]);
    let r = env.send(&env.admin(), &req("GET", ""));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let d = data(&r);
    assert_eq!(d["default_version"], 1);
    assert_eq!(d["supported_versions"], serde_json::json!([1]));
    assert_eq!(d["links"][0]["uri"], format!("{BASE}rest"));
    assert_eq!(d["links"][0]["rel"], "self");
    assert_eq!(d["links"][1]["uri"], format!("{BASE}rest/data"));

    let r = env.send(&env.admin(), &req("GET", "/data"));
    let d = data(&r);
    let names: Vec<&String> = d.as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["file", "issue", "keyword", "msg", "priority", "query", "status", "user"]
    );
    assert_eq!(d["issue"]["link"], format!("{BASE}rest/data/issue"));
    assert_eq!(r.header("Vary"), Some("Origin"));
    assert_eq!(r.header("Access-Control-Allow-Credentials"), Some("true"));
    // pretty printed with 4 spaces and a final newline, like Roundup
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(text.starts_with("{\n    \"data\": {\n        \"file\": {"));
    assert!(text.ends_with("}\n"));
}

#[test]
fn anonymous_without_rest_access_is_forbidden() {
    let env = classic(&[]);
    let r = env.send(&ApiAuth::Anonymous, &req("GET", "/data"));
    assert_eq!(r.status, 403);
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        "{ \"error\": { \"status\": 403, \"msg\": \"Forbidden.\" } }"
    );
}

#[test]
fn element_get_with_etag_and_key_lookup() {
    let env = classic(&[]);
    let r = env.send(&env.admin(), &req("GET", "/data/status/1"));
    assert_eq!(r.status, 200);
    let d = data(&r);
    assert_eq!(d["id"], "1");
    assert_eq!(d["type"], "status");
    assert_eq!(d["link"], format!("{BASE}rest/data/status/1"));
    assert_eq!(d["attributes"]["name"], "unread");
    assert_eq!(d["attributes"]["order"], 1.0);
    assert!(d["attributes"].get("creation").is_none());
    let etag = d["@etag"].as_str().unwrap().to_string();
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    assert_eq!(etag.len(), 34);

    // protected properties and verbose 2 labels
    let r = env.send(
        &env.admin(),
        &req("GET", "/data/status/1?@protected=true&@verbose=2"),
    );
    let d = data(&r);
    assert_eq!(d["attributes"]["creator"]["username"], "admin");
    assert_eq!(
        d["attributes"]["creator"]["link"],
        format!("{BASE}rest/data/user/1")
    );
    assert!(d["attributes"]["creation"].as_str().unwrap().contains('.'));

    // key lookups: long and short form
    let r = env.send(&env.admin(), &req("GET", "/data/status/name=chatting"));
    assert_eq!(data(&r)["id"], "3");
    assert_eq!(
        data(&r)["link"],
        format!("{BASE}rest/data/status/name=chatting")
    );
    let r = env.send(&env.admin(), &req("GET", "/data/status/chatting"));
    assert_eq!(data(&r)["id"], "3");
    let r = env.send(&env.admin(), &req("GET", "/data/status/name=bogus"));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["msg"],
        "'No key (name) value \"bogus\" for \"status\"'"
    );
    let r = env.send(&env.admin(), &req("GET", "/data/status/foo=bar"));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["msg"],
        "'No key (name) value \"foo=bar\" for \"status\"'"
    );

    let r = env.send(&env.admin(), &req("GET", "/data/issue/99"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["msg"], "no such issue 99");
    assert_eq!(r.json()["error"]["status"], 404);
    let r = env.send(&env.admin(), &req("GET", "/data/nosuch"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["msg"], "Class nosuch not found");
}

#[test]
fn attribute_get() {
    let env = classic(&[]);
    let r = env.send(&env.admin(), &req("GET", "/data/status/1/name"));
    let d = data(&r);
    assert_eq!(d["type"], "<class 'str'>");
    assert_eq!(d["data"], "unread");
    assert_eq!(d["link"], format!("{BASE}rest/data/status/1/name"));
    let r = env.send(&env.admin(), &req("GET", "/data/status/1/order"));
    assert_eq!(data(&r)["type"], "<class 'float'>");
    let r = env.send(&env.admin(), &req("GET", "/data/user/1/password"));
    let pw = data(&r)["data"].as_str().unwrap().to_string();
    assert!(pw.starts_with("[password hidden scheme"), "{pw}");
    let r = env.send(&env.admin(), &req("GET", "/data/user/1/creation"));
    assert_eq!(data(&r)["type"], "<class 'roundup.date.Date'>");
    let r = env.send(&env.admin(), &req("GET", "/data/status/1/nosuch"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["msg"], "Invalid attribute nosuch");
}

#[test]
fn collection_filter_sort_page_fields() {
    let env = classic(&[]);
    for t in ["alpha bug", "beta feature", "gamma bug", "delta"] {
        env.issue(t);
    }
    let r = env.send(&env.admin(), &req("GET", "/data/issue"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Count-Total"), Some("4"));
    assert_eq!(r.header("Allow"), Some("OPTIONS, GET, POST"));
    let d = data(&r);
    assert_eq!(d["@total_size"], 4);
    assert_eq!(
        d["collection"][0],
        serde_json::json!({"id": "1", "link": format!("{BASE}rest/data/issue/1")})
    );

    let r = env.send(&env.admin(), &req("GET", "/data/issue?title=BUG&@sort=-id"));
    let d = data(&r);
    let ids: Vec<&str> = d["collection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["3", "1"]);

    // exact match
    let r = env.send(&env.admin(), &req("GET", "/data/issue?title:=delta"));
    assert_eq!(data(&r)["@total_size"], 1);
    let r = env.send(&env.admin(), &req("GET", "/data/issue?title:=delt"));
    assert_eq!(data(&r)["@total_size"], 0);

    // link filter by key and by id, multilink by key
    // (the classic status auditor makes new issues "unread")
    let r = env.send(&env.admin(), &req("GET", "/data/issue?status=unread"));
    assert_eq!(data(&r)["@total_size"], 4);
    let r = env.send(&env.admin(), &req("GET", "/data/issue?status=1,2"));
    assert_eq!(data(&r)["@total_size"], 4);
    let r = env.send(&env.admin(), &req("GET", "/data/issue?status=-1"));
    assert_eq!(data(&r)["@total_size"], 0);
    let r = env.send(&env.admin(), &req("GET", "/data/issue?status.name=unr"));
    assert_eq!(data(&r)["@total_size"], 4);
    let r = env.send(&env.admin(), &req("GET", "/data/issue?status=bogus"));
    assert_eq!(r.status, 400);
    // -1 is "not set", alone or beside ids and keys (Link and Multilink),
    // as in Roundup's filter()
    {
        let db = env.db();
        let mut v = Values::new();
        v.insert("assignedto".into(), Some(Value::Link("1".into())));
        v.insert("nosy".into(), Some(Value::Multilink(vec!["1".into()])));
        db.set("issue", "2", v).unwrap();
        db.commit().unwrap();
    }
    let ids = |q: &str| -> Vec<String> {
        let r = env.send(&env.admin(), &req("GET", q));
        assert_eq!(r.status, 200, "{q}: {:?}", r.json());
        data(&r)["collection"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids("/data/issue?assignedto=-1"), ["1", "3", "4"]);
    assert_eq!(ids("/data/issue?assignedto=-1,admin"), ["1", "2", "3", "4"]);
    assert_eq!(ids("/data/issue?assignedto=2,-1"), ["1", "3", "4"]);
    assert_eq!(ids("/data/issue?nosy=-1"), ["1", "3", "4"]);
    assert_eq!(ids("/data/issue?nosy=1,-1"), ["1", "2", "3", "4"]);
    assert_eq!(ids("/data/issue?nosy=1"), ["2"]);

    // paging
    let r = env.send(
        &env.admin(),
        &req("GET", "/data/issue?@page_size=3&@page_index=1"),
    );
    let d = data(&r);
    assert_eq!(d["collection"].as_array().unwrap().len(), 3);
    assert_eq!(d["@total_size"], 4);
    assert_eq!(d["@links"]["next"][0]["rel"], "next");
    assert_eq!(
        d["@links"]["next"][0]["uri"],
        format!("{BASE}rest/data/issue?@page_index=2&@page_size=3")
    );
    assert!(d["@links"].get("prev").is_none());
    let r = env.send(
        &env.admin(),
        &req("GET", "/data/issue?@page_size=3&@page_index=2"),
    );
    let d = data(&r);
    assert_eq!(d["collection"].as_array().unwrap().len(), 1);
    assert_eq!(d["collection"][0]["id"], "4");
    assert!(d["@links"].get("next").is_none());
    assert_eq!(
        d["@links"]["prev"][0]["uri"],
        format!("{BASE}rest/data/issue?@page_index=1&@page_size=3")
    );
    let r = env.send(&env.admin(), &req("GET", "/data/issue?@page_size=10000001"));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["msg"]
        .as_str()
        .unwrap()
        .starts_with("Page size 10000001 must be less"));
    let r = env.send(&env.admin(), &req("GET", "/data/issue?@page_size=x"));
    assert_eq!(r.status, 400);
    // absurd page numbers do not overflow
    let r = env.send(
        &env.admin(),
        &req(
            "GET",
            "/data/issue?@page_size=1000000&@page_index=9223372036854775807",
        ),
    );
    assert!(r.status == 200 || r.status == 400, "{}", r.status);
    assert!(r.json().is_object());

    // verbose 2 adds the label; @fields adds transitive properties
    let r = env.send(
        &env.admin(),
        &req(
            "GET",
            "/data/issue?@verbose=2&@fields=creator.username,status",
        ),
    );
    let first = &data(&r)["collection"][0];
    assert_eq!(first["title"], "alpha bug");
    assert_eq!(first["creator.username"], "admin");
    assert_eq!(first["status"]["name"], "unread");
    assert_eq!(first["status"]["id"], "1");
    let r = env.send(&env.admin(), &req("GET", "/data/issue?@fields=nosuch"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["msg"], "'Unknown property: nosuch'");
    let r = env.send(
        &env.admin(),
        &req("GET", "/data/issue?@fields=messages.author"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["msg"],
        "Multilink Traversal not allowed: messages.author"
    );
    let r = env.send(&env.admin(), &req("GET", "/data/issue?bogus=1"));
    assert_eq!(
        r.json()["error"]["msg"],
        "Field bogus is not valid for issue class."
    );

    // grouping by status then sorting
    let r = env.send(
        &env.admin(),
        &req("GET", "/data/status?@group=-order&@verbose=2"),
    );
    assert_eq!(data(&r)["collection"][0]["name"], "resolved");
}

#[test]
fn create_update_patch_delete_cycle() {
    let env = classic(&[]);
    let admin = env.admin();
    // missing CSRF headers
    let r = env.send(
        &admin,
        &req("POST", "/data/issue").json(r#"{"title": "x"}"#),
    );
    assert_eq!(r.status, 400);

    let r = env.send(
        &admin,
        &req("POST", "/data/issue")
            .csrf()
            .json(r#"{"title": "new one", "nosy": ["admin", "demo"], "priority": "bug"}"#),
    );
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = data(&r)["id"].as_str().unwrap().to_string();
    assert_eq!(
        r.header("Location"),
        Some(format!("{BASE}rest/data/issue/{id}").as_str())
    );
    assert_eq!(data(&r)["link"], format!("{BASE}rest/data/issue/{id}"));
    assert!(r.header("Allow").is_none());

    let r = env.send(&admin, &req("GET", &format!("/data/issue/{id}?@verbose=0")));
    let d = data(&r);
    assert_eq!(d["attributes"]["nosy"], serde_json::json!(["1", "3"]));
    assert_eq!(d["attributes"]["priority"], "3");
    let etag = d["@etag"].as_str().unwrap().to_string();

    // PUT without etag: 412
    let r = env.send(
        &admin,
        &req("PUT", &format!("/data/issue/{id}"))
            .csrf()
            .json(r#"{"title": "changed"}"#),
    );
    assert_eq!(r.status, 412);
    assert_eq!(
        r.json()["error"]["msg"],
        "If-Match is missing or does not match. Retrieve asset and retry modification if valid."
    );
    // wrong etag: 412
    let r = env.send(
        &admin,
        &req("PUT", &format!("/data/issue/{id}"))
            .csrf()
            .header("If-Match", "\"0000\"")
            .json(r#"{"title": "changed"}"#),
    );
    assert_eq!(r.status, 412);
    // right etag, with a -gzip suffix as a compressing server sends it
    let gz = format!("{}-gzip\"", &etag[..etag.len() - 1]);
    let r = env.send(
        &admin,
        &req("PUT", &format!("/data/issue/{id}"))
            .csrf()
            .header("If-Match", &gz)
            .json(r#"{"title": "changed", "nosy": ["1", "3"]}"#),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    let d = data(&r);
    assert_eq!(d["attribute"], serde_json::json!({"title": "changed"}));
    assert_eq!(d["type"], "issue");

    // the etag changed; @etag in the payload works too
    let r = env.send(&admin, &req("GET", &format!("/data/issue/{id}")));
    let etag2 = data(&r)["@etag"].as_str().unwrap().to_string();
    assert_ne!(etag, etag2);
    let r = env.send(
        &admin,
        &req("PATCH", &format!("/data/issue/{id}"))
            .csrf()
            .json(&format!(
                r#"{{"@op": "remove", "nosy": "3", "@etag": {etag2:?}}}"#
            )),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(data(&r)["attribute"]["nosy"], serde_json::json!(["1"]));

    let etag3 = data(&env.send(&admin, &req("GET", &format!("/data/issue/{id}"))))["@etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env.send(
        &admin,
        &req("PATCH", &format!("/data/issue/{id}"))
            .csrf()
            .header("If-Match", &etag3)
            .form("@op=add&nosy=demo"),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(data(&r)["attribute"]["nosy"], serde_json::json!(["1", "3"]));

    // property endpoints
    let etag4 = data(&env.send(&admin, &req("GET", &format!("/data/issue/{id}/title"))))["@etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env.send(
        &admin,
        &req("PUT", &format!("/data/issue/{id}/title"))
            .csrf()
            .header("If-Match", &etag4)
            .form("data=via+property"),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(data(&r)["attribute"]["title"], "via property");
    let etag5 = data(&env.send(&admin, &req("GET", &format!("/data/issue/{id}"))))["@etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env.send(
        &admin,
        &req("DELETE", &format!("/data/issue/{id}/nosy"))
            .csrf()
            .header("If-Match", &etag5),
    );
    assert_eq!(r.status, 200);
    assert_eq!(data(&r)["status"], "ok");
    let r = env.send(&admin, &req("GET", &format!("/data/issue/{id}/nosy")));
    assert_eq!(data(&r)["data"], serde_json::json!([]));
    let r = env.send(
        &admin,
        &req("DELETE", &format!("/data/issue/{id}/creation"))
            .csrf()
            .header("If-Match", &etag5),
    );
    assert_eq!(r.status, 405);

    // retire with DELETE, then restore with PATCH action
    let etag6 = data(&env.send(&admin, &req("GET", &format!("/data/issue/{id}"))))["@etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env.send(
        &admin,
        &req("DELETE", &format!("/data/issue/{id}"))
            .csrf()
            .header("If-Match", &etag6),
    );
    assert_eq!(r.status, 200);
    assert_eq!(data(&r), serde_json::json!({"status": "ok"}));
    assert_eq!(
        data(&env.send(&admin, &req("GET", "/data/issue")))["@total_size"],
        0
    );
    let r = env.send(
        &admin,
        &req("PATCH", &format!("/data/issue/{id}"))
            .csrf()
            .header("If-Match", &etag6)
            .json(r#"{"@op": "action", "@action_name": "restore"}"#),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    assert_eq!(data(&r)["result"], Json::Null);
    assert_eq!(
        data(&env.send(&admin, &req("GET", "/data/issue")))["@total_size"],
        1
    );
}

#[test]
fn create_errors() {
    let env = classic(&[]);
    let admin = env.admin();
    let r = env.send(
        &admin,
        &req("POST", "/data/status").csrf().json(r#"{"order": "5"}"#),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["msg"],
        "Must provide the 'name' property."
    );
    let r = env.send(
        &admin,
        &req("POST", "/data/status")
            .csrf()
            .json(r#"{"name": "new", "bogus": 1}"#),
    );
    assert_eq!(
        r.json()["error"]["msg"],
        "Property bogus not found in class status"
    );
    let r = env.send(
        &admin,
        &req("POST", "/data/status")
            .csrf()
            .json(r#"{"name": "unread"}"#),
    );
    assert_eq!(r.status, 409);
    let r = env.send(&admin, &req("POST", "/data/status").csrf().json("{}"));
    assert_eq!(r.json()["error"]["msg"], "No properties found.");
    let r = env.send(&admin, &req("POST", "/data/status").csrf().json("{bad"));
    assert_eq!(r.status, 400);
    let r = env.send(
        &admin,
        &req("POST", "/data/status")
            .csrf()
            .header("Content-Type", "text/plain"),
    );
    assert_eq!(r.status, 415);
    assert_eq!(
        r.json()["error"]["msg"],
        "Unable to process input of type text/plain"
    );
    let r = env.send(
        &admin,
        &req("POST", "/data/issue")
            .csrf()
            .json(r#"{"status": "nosuch"}"#),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn permissions_filter_reads_and_writes() {
    let env = classic(&[]);
    let demo = env.demo();
    let demo_id = env.uid("demo");
    // demo may not see other users' passwords or roles? classic: users see
    // everything of users except what the schema restricts
    let r = env.send(&demo, &req("GET", "/data/user/1"));
    assert_eq!(r.status, 200);
    let attrs = &data(&r)["attributes"];
    assert!(attrs.get("username").is_some());
    assert!(attrs.get("password").is_none(), "{attrs}");
    // own record shows more
    let r = env.send(&demo, &req("GET", &format!("/data/user/{demo_id}")));
    assert!(data(&r)["attributes"].get("password").is_some());

    // roles endpoint only for admins
    let r = env.send(&demo, &req("GET", "/data/user/roles"));
    assert_eq!(r.status, 403);
    let r = env.send(&env.admin(), &req("GET", "/data/user/roles"));
    let d = data(&r);
    let names: Vec<&str> = d["collection"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"admin") && names.contains(&"user") && names.contains(&"anonymous"));

    // demo may not create a status or edit someone else
    let r = env.send(
        &demo,
        &req("POST", "/data/status").csrf().json(r#"{"name": "x"}"#),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["error"]["msg"],
        "Permission to create status denied"
    );
    let etag = data(&env.send(&env.admin(), &req("GET", "/data/user/1")))["@etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env.send(
        &demo,
        &req("PUT", "/data/user/1")
            .csrf()
            .header("If-Match", &etag)
            .json(r#"{"realname": "x"}"#),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["error"]["msg"],
        "Permission to edit realname of user1 denied"
    );
    // demo may not search on user.roles? (classic: only View on some props)
    let r = env.send(&demo, &req("GET", "/data/user?roles=admin"));
    assert_eq!(r.status, 403);
    // but may create issues
    let r = env.send(
        &demo,
        &req("POST", "/data/issue")
            .csrf()
            .json(r#"{"title": "by demo"}"#),
    );
    assert_eq!(r.status, 201, "{:?}", r.json());
    let r = env.send(
        &demo,
        &req("GET", "/data/issue/1?@protected=true&@verbose=2"),
    );
    assert_eq!(data(&r)["attributes"]["creator"]["username"], "demo");
}

#[test]
fn options_and_method_errors() {
    let env = classic(&[]);
    let r = env.send(&env.admin(), &req("OPTIONS", "/data/issue"));
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    assert_eq!(r.header("Allow"), Some("OPTIONS, GET, POST"));
    assert_eq!(r.header("Access-Control-Max-Age"), Some("86400"));
    let r = env.send(&env.admin(), &req("OPTIONS", "/data/issue/1"));
    assert_eq!(r.header("Allow"), Some("OPTIONS, GET, PUT, DELETE, PATCH"));
    assert_eq!(
        r.header("Accept-Patch"),
        Some("application/x-www-form-urlencoded, multipart/form-data")
    );
    let r = env.send(&env.admin(), &req("OPTIONS", "/data/issue/1/creation"));
    assert_eq!(r.header("Allow"), Some("OPTIONS, GET"));
    let r = env.send(&env.admin(), &req("OPTIONS", "/data/issue/1/bogus"));
    assert_eq!(r.status, 404);
    let r = env.send(&env.admin(), &req("PUT", "/data").csrf());
    assert_eq!(r.status, 405);
    assert_eq!(
        r.json()["error"]["msg"],
        "Method PUT not allowed. Allowed: GET, OPTIONS"
    );
    assert_eq!(r.header("Allow"), Some("GET, OPTIONS"));
    let r = env.send(&env.admin(), &req("GET", "/nowhere/at/all/x/y"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["msg"], "Nothing matches the given URI");
    let r = env.send(&env.admin(), &req("DELETE", "/data/issue").csrf());
    assert_eq!(r.status, 403);
}

#[test]
fn method_override_and_versions() {
    let env = classic(&[]);
    env.issue("one");
    let etag = data(&env.send(&env.admin(), &req("GET", "/data/issue/1")))["@etag"]
        .as_str()
        .unwrap()
        .to_string();
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/issue/1")
            .csrf()
            .header("X-HTTP-Method-Override", "DELETE")
            .header("If-Match", &etag),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    let r = env.send(
        &env.admin(),
        &req("GET", "/data/issue").header("X-HTTP-Method-Override", "DELETE"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["msg"],
        "X-HTTP-Method-Override: DELETE must be used with POST method not GET."
    );
    let r = env.send(
        &env.admin(),
        &req("GET", "/data").header("Accept", "application/vnd.roundup.test-v1+json"),
    );
    assert_eq!(r.status, 200);
    let r = env.send(
        &env.admin(),
        &req("GET", "/data").header("Accept", "application/vnd.roundup.test-v2+json"),
    );
    assert_eq!(r.status, 406);
    let r = env.send(&env.admin(), &req("GET", "/data?@apiver=7"));
    assert_eq!(r.status, 406);
    let r = env.send(
        &env.admin(),
        &req("GET", "/data").header("Accept", "image/png"),
    );
    assert_eq!(r.status, 406);
    let r = env.send(&env.admin(), &req("GET", "/data/issue.json"));
    assert_eq!(r.status, 200);
    let r = env.send(&env.admin(), &req("GET", "/data/issue.xml"));
    assert_eq!(r.status, 406);
    let r = env.send(&env.admin(), &req("GET", "/data?@pretty=false"));
    let text = String::from_utf8(r.body).unwrap();
    assert!(
        text.starts_with("{\"data\": {\"file\": {\"link\""),
        "{text}"
    );
}

#[test]
fn file_content_binary_and_json() {
    let env = classic(&[]);
    let admin = env.admin();
    let body = b"--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\npic.png\r\n--B\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage/png\r\n--B\r\nContent-Disposition: form-data; name=\"content\"; filename=\"pic.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\x00\xff\r\n--B--\r\n";
    let mut rq = req("POST", "/data/file")
        .csrf()
        .header("Content-Type", "multipart/form-data; boundary=B");
    rq.body = body.to_vec();
    let r = env.send(&admin, &rq);
    assert_eq!(r.status, 201, "{:?}", r.json());
    let id = data(&r)["id"].as_str().unwrap().to_string();

    let r = env.send(
        &admin,
        &req("GET", &format!("/data/file/{id}/binary_content")),
    );
    assert_eq!(data(&r)["type"], "<class 'bytes'>");
    assert_eq!(data(&r)["data"], "b'\\x89PNG\\x00\\xff'");

    let r = env.send(
        &admin,
        &req("GET", &format!("/data/file/{id}/binary_content")).header("Accept", "image/*"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("image/png"));
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    assert!(r.header("ETag").is_none());
    assert_eq!(r.body, b"\x89PNG\x00\xff");
    let r = env.send(
        &admin,
        &req("GET", &format!("/data/file/{id}/binary_content")).header(
            "Accept",
            "application/octet-stream; q=0.5, application/json; q=0.9",
        ),
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let r = env.send(
        &admin,
        &req("GET", &format!("/data/file/{id}/binary_content")).header("Accept", "text/html"),
    );
    assert_eq!(r.status, 406);

    // content is a link below verbose 3
    let r = env.send(&admin, &req("GET", &format!("/data/file/{id}")));
    assert_eq!(
        data(&r)["attributes"]["content"]["link"],
        format!("{BASE}file{id}/")
    );
    let r = env.send(&admin, &req("GET", &format!("/data/file/{id}?@verbose=3")));
    let c = data(&r)["attributes"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        c.starts_with(&format!(
            "file{id} is not text, retrieve using binary_content property. mdsum: "
        )),
        "{c}"
    );

    // a text message
    let r = env.send(
        &admin,
        &req("POST", "/data/msg")
            .csrf()
            .json(r#"{"content": "hello there", "author": "1"}"#),
    );
    assert_eq!(r.status, 201, "{:?}", r.json());
    let mid = data(&r)["id"].as_str().unwrap().to_string();
    let r = env.send(
        &admin,
        &req("GET", &format!("/data/msg/{mid}/binary_content")).header("Accept", "text/*"),
    );
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.body, b"hello there");
    let r = env.send(&admin, &req("GET", &format!("/data/msg/{mid}?@verbose=3")));
    assert_eq!(data(&r)["attributes"]["content"], "hello there");
}

#[test]
fn cors_preflight_and_origins() {
    let env = classic(&[("web_allowed_api_origins", "https://client.example.org")]);
    let pre = |origin: &str| {
        req("OPTIONS", "/data/issue")
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "x-requested-with")
    };
    // preflights need no Rest Access: anonymous is fine
    let r = env.send(&ApiAuth::Anonymous, &pre("https://client.example.org"));
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://client.example.org")
    );
    assert_eq!(r.header("Access-Control-Allow-Credentials"), Some("true"));
    assert_eq!(
        r.header("Access-Control-Allow-Methods"),
        Some("OPTIONS, GET, POST")
    );
    assert_eq!(
        r.header("Access-Control-Allow-Headers"),
        Some("Content-Type, Authorization, X-Requested-With, X-HTTP-Method-Override")
    );
    let r = env.send(&ApiAuth::Anonymous, &pre("https://evil.example.com"));
    assert_eq!(r.status, 400);
    assert!(String::from_utf8(r.body)
        .unwrap()
        .contains("Client is not allowed to use Rest Interface."));

    // a GET from a foreign origin is refused, from the allowed one accepted
    let r = env.send(
        &env.admin(),
        &req("GET", "/data").header("Origin", "https://evil.example.com"),
    );
    assert_eq!(r.status, 400);
    let r = env.send(
        &env.admin(),
        &req("GET", "/data").header("Origin", "https://client.example.org"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Access-Control-Allow-Origin"),
        Some("https://client.example.org")
    );

    // writes need an Origin, then X-Requested-With
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/keyword")
            .header("Referer", BASE)
            .header("X-Requested-With", "1")
            .json(r#"{"name": "k"}"#),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        "{ \"error\": { \"status\": 400, \"msg\": \"Required Header Missing\" } }"
    );
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/keyword")
            .header("Origin", ORIGIN)
            .header("Referer", BASE)
            .json(r#"{"name": "k"}"#),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["msg"], "Required Header Missing");
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/keyword")
            .header("Origin", ORIGIN)
            .header("Referer", "https://evil.example.com/x")
            .header("X-Requested-With", "1")
            .json(r#"{"name": "k"}"#),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["msg"],
        "Invalid Referer: https://evil.example.com/x"
    );
}

#[test]
fn api_rate_limit_headers_and_429() {
    let env = classic(&[
        ("web_api_calls_per_interval", "2"),
        ("web_api_interval_in_sec", "60"),
    ]);
    let r = env.send(&env.admin(), &req("GET", "/data"));
    assert_eq!(r.header("X-RateLimit-Limit"), Some("2"));
    assert_eq!(r.header("X-RateLimit-Limit-Period"), Some("60"));
    assert_eq!(r.header("X-RateLimit-Remaining"), Some("1"));
    env.send(&env.admin(), &req("GET", "/data"));
    let r = env.send(&env.admin(), &req("GET", "/data"));
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("30"));
    assert_eq!(r.json()["error"]["source"], "ApiRateLimiter");
    assert_eq!(
        r.json()["error"]["msg"],
        "Api rate limits exceeded. Please wait: 30 seconds."
    );
    // another user has its own bucket
    let r = env.send(&env.demo(), &req("GET", "/data"));
    assert_eq!(r.status, 200);
}

#[test]
fn summary_and_openapi() {
    let env = classic(&[]);
    env.issue("recent");
    let r = env.send(&env.admin(), &req("GET", "/summary"));
    assert_eq!(r.status, 200);
    let d = data(&r);
    assert_eq!(d["created"][0]["title"], "recent");
    assert_eq!(d["summary"]["unread"][0]["id"], "1");
    assert_eq!(d["most_discussed"][0][0], 0);

    let r = env.send(&env.admin(), &req("GET", "/openapi.json"));
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/data/issue"]["get"].is_object());
    assert!(doc["paths"]["/data/issue/{id}"]["patch"].is_object());
    assert_eq!(
        doc["components"]["schemas"]["issue_item"]["properties"]["data"]["properties"]
            ["attributes"]["properties"]["nosy"]["type"],
        "array"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    assert_eq!(doc["servers"][0]["url"], format!("{BASE}rest"));

    // validate against the OpenAPI 3 schema with openapi-spec-validator
    // (.ci/run: python3 -m venv /opt/oasv && /opt/oasv/bin/pip install
    // openapi-spec-validator)
    let validator = std::path::Path::new("/opt/oasv/bin/python");
    if validator.exists() {
        let path = env.dir.path().join("openapi.json");
        std::fs::write(&path, &r.body).unwrap();
        let out = std::process::Command::new(validator)
            .args([
                "-c",
                "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')",
                &path.display().to_string(),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        roundup_testkit::missing(&roundup_testkit::OPENAPI_VALIDATOR);
    }
}

#[test]
fn post_once_exactly() {
    let env = classic(&[]);
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/issue/@poe").csrf().json(""),
    );
    assert_eq!(r.status, 200, "{:?}", r.json());
    let link = data(&r)["link"].as_str().unwrap().to_string();
    assert!(data(&r)["expires"].as_f64().unwrap() > 0.0);
    let path = link
        .strip_prefix(&format!("{BASE}rest"))
        .unwrap()
        .to_string();
    let r = env.send(
        &env.admin(),
        &req("POST", &path).csrf().json(r#"{"title": "once"}"#),
    );
    assert_eq!(r.status, 201, "{:?}", r.json());
    let r = env.send(
        &env.admin(),
        &req("POST", &path).csrf().json(r#"{"title": "twice"}"#),
    );
    assert_eq!(r.status, 400);
    // a token is bound to its class and user
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/issue/@poe").csrf().form("lifetime=900"),
    );
    let path = data(&r)["link"]
        .as_str()
        .unwrap()
        .strip_prefix(&format!("{BASE}rest"))
        .unwrap()
        .to_string();
    let other = path.replace("/issue/", "/keyword/");
    let r = env.send(
        &env.admin(),
        &req("POST", &other).csrf().json(r#"{"name": "k"}"#),
    );
    assert_eq!(r.status, 400);
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/issue/@poe")
            .csrf()
            .form("lifetime=99999"),
    );
    assert_eq!(r.status, 400);
}

#[test]
fn requests_from_an_unknown_base_use_the_configured_web() {
    let env = classic(&[]);
    let mut r = req("GET", "/data");
    r.base = String::new();
    let resp = env.send(&env.admin(), &r);
    assert_eq!(
        data(&resp)["issue"]["link"],
        format!("{BASE}rest/data/issue")
    );
    let _ = ApiRequest::default();
}
