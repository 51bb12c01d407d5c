//! The REST API and XML-RPC through the real server: routing below the
//! tracker, raw bodies, Basic auth, the web session cookie, anonymous.

use crate::server_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_and_xmlrpc_are_served_with_every_kind_of_login() {
    let s = serve_one(&[]).await;
    let db = s.tracker().open_db("1").unwrap();
    let issue = db
        .create(
            "issue",
            [(
                "title".to_string(),
                Some(roundup_core::Value::String("over the wire".into())),
            )]
            .into_iter()
            .collect(),
        )
        .unwrap();
    db.commit().unwrap();
    drop(db);

    // classic gives Anonymous no "Rest Access"
    let r = http()
        .get(s.url(&format!("/t/rest/data/issue/{issue}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // a user with Basic credentials may read the issue
    let r = http()
        .get(s.url(&format!("/t/rest/data/issue/{issue}")))
        .basic_auth("demo", Some("demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(r.headers().contains_key("etag"));
    let j: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(j["data"]["attributes"]["title"], "over the wire");

    // admin may see users' addresses; a wrong password is refused
    let r = http()
        .get(s.url("/t/rest/data/user/1?@fields=address"))
        .basic_auth("admin", Some("admin"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let j: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(j["data"]["attributes"]["address"].is_string(), "{j}");
    let r = http()
        .get(s.url("/t/rest/data/user/1?@fields=address"))
        .basic_auth("admin", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // the web session cookie works for the API too (POST needs the
    // API's CSRF header rules: X-Requested-With and a matching Origin)
    let cookie = login(&s, "demo", "demo").await;
    let r = http()
        .post(s.url("/t/rest/data/issue"))
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .header("x-requested-with", "rest")
        .header("origin", s.base().trim_end_matches("/t/").to_string())
        .header("referer", s.base())
        .body(r#"{"title": "made through REST"}"#)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body = r.text().await.unwrap();
    assert_eq!(status, 201, "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    let new_id = j["data"]["id"].as_str().unwrap().to_string();
    let db = s.tracker().open_db("1").unwrap();
    let demo = db.lookup("user", "demo").unwrap();
    assert_eq!(
        db.get("issue", &new_id, "creator").unwrap(),
        Some(roundup_core::Value::Link(demo))
    );
    drop(db);

    // XML-RPC with Basic auth
    let call = r#"<?xml version="1.0"?><methodCall><methodName>display</methodName>
<params><param><value><string>issue1</string></value></param>
<param><value><string>title</string></value></param></params></methodCall>"#;
    let r = http()
        .post(s.url("/t/xmlrpc"))
        .basic_auth("admin", Some("admin"))
        .header("content-type", "text/xml")
        .header("x-requested-with", "xmlrpc")
        .header("referer", s.base())
        .header("origin", s.base().trim_end_matches("/t/").to_string())
        .body(call)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("over the wire"), "{text}");
    s.stop().await;
}
