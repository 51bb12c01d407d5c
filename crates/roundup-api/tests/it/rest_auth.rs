//! API authentication: Basic with the failed-login limiter and credential
//! cache, Bearer JSON Web Tokens and role-restricted permissions.

use crate::rest_support::*;
use base64::Engine;
use roundup_api::rest::ApiAuth;

fn basic(user: &str, pw: &str) -> Vec<(String, String)> {
    let enc = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pw}"));
    vec![("authorization".into(), format!("Basic {enc}"))]
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".into(), format!("Bearer {token}"))]
}

#[test]
fn basic_auth_success_failure_and_no_credentials() {
    let env = classic(&[]);
    let db = env.db();
    assert_eq!(env.authenticate(&db, &[]), Ok(None));
    assert_eq!(
        env.authenticate(&db, &[("authorization".into(), "Negotiate xyz".into())]),
        Ok(None)
    );
    let ok = env.authenticate(&db, &basic("demo", "demo"));
    assert_eq!(ok, Ok(Some(ApiAuth::User(env.uid("demo")))));
    // second time from the tracker's credential cache, same answer
    let hits = env.state.credentials.hits();
    let ok = env.authenticate(&db, &basic("demo", "demo"));
    assert_eq!(ok, Ok(Some(ApiAuth::User(env.uid("demo")))));
    assert_eq!(
        env.state.credentials.hits(),
        hits + 1,
        "the second login is answered from the credential cache"
    );
    let bad = env.authenticate(&db, &basic("demo", "wrong")).unwrap_err();
    assert_eq!(bad.status, 401);
    assert_eq!(bad.body, b"Invalid Login - Invalid login");
    let bad = env.authenticate(&db, &basic("nobody", "x")).unwrap_err();
    assert_eq!(bad.status, 401);
}

#[test]
fn cached_credentials_follow_password_changes() {
    let env = classic(&[]);
    let db = env.db();
    let uid = env.uid("demo");
    // verified once: now in the credential cache
    assert_eq!(
        env.authenticate(&db, &basic("demo", "demo")),
        Ok(Some(ApiAuth::User(uid.clone())))
    );
    let pw = db
        .raw_to_value("user", "password", "newpass", None)
        .unwrap();
    let mut v = roundup_core::Values::new();
    v.insert("password".into(), pw);
    db.set("user", &uid, v).unwrap();
    db.commit().unwrap();
    let db = env.db();
    let old = env.authenticate(&db, &basic("demo", "demo"));
    assert_eq!(old.unwrap_err().status, 401);
    let new = env.authenticate(&db, &basic("demo", "newpass"));
    assert_eq!(new, Ok(Some(ApiAuth::User(uid))));
}

#[test]
fn failed_logins_are_rate_limited_and_lock_the_name() {
    let env = classic(&[
        ("web_api_failed_login_limit", "2"),
        ("web_api_failed_login_interval_in_sec", "600"),
    ]);
    let db = env.db();
    for _ in 0..2 {
        let r = env.authenticate(&db, &basic("demo", "bad")).unwrap_err();
        assert_eq!(r.status, 401);
    }
    let r = env.authenticate(&db, &basic("demo", "bad")).unwrap_err();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("300"));
    assert_eq!(r.header("X-RateLimit-Limit"), Some("2"));
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        "Logins occurring too fast. Please wait: 300 seconds."
    );
    // locked out: even the right password is refused
    let r = env.authenticate(&db, &basic("demo", "demo")).unwrap_err();
    assert_eq!(r.status, 429);
    // another name is not affected
    assert_eq!(
        env.authenticate(&db, &basic("admin", "admin")),
        Ok(Some(ApiAuth::User("1".into())))
    );
}

fn issue_token(env: &Env, body: &str) -> roundup_api::rest::ApiResponse {
    let mut r = req("POST", "/jwt/issue").csrf().json(body);
    r.headers.extend(basic("admin", "admin"));
    env.send(&env.admin(), &r)
}

#[test]
fn jwt_issue_validate_and_use() {
    let env = classic(&[]);
    // admin also holds User, so it may ask for a token limited to User
    let db = env.db();
    let mut v = roundup_core::Values::new();
    v.insert(
        "roles".into(),
        Some(roundup_core::Value::String("Admin,User".into())),
    );
    db.set("user", "1", v).unwrap();
    db.commit().unwrap();
    let r = issue_token(&env, r#"{"lifetime": "3600", "roles": ["user"]}"#);
    assert_eq!(r.status, 200, "{:?}", r.json());
    let token = r.json()["data"]["jwt"].as_str().unwrap().to_string();

    let v = env.send(
        &env.admin(),
        &req("GET", &format!("/jwt/validate?jwt={token}")),
    );
    assert_eq!(v.status, 200);
    let claims = &v.json()["data"];
    assert_eq!(claims["sub"], "1");
    assert_eq!(claims["roles"], serde_json::json!(["user"]));
    assert_eq!(claims["iss"], BASE);
    assert_eq!(claims["aud"], BASE);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );

    // the token authenticates as admin restricted to the User role
    let db = env.db();
    let auth = env.authenticate(&db, &bearer(&token)).unwrap().unwrap();
    assert_eq!(
        auth,
        ApiAuth::Restricted {
            userid: "1".into(),
            roles: vec!["user".into()]
        }
    );
    // with only the User role, admin can no longer list roles or create statuses
    let r = env.send(&auth, &req("GET", "/data/user/roles"));
    assert_eq!(r.status, 403);
    let r = env.send(
        &auth,
        &req("POST", "/data/status").csrf().json(r#"{"name": "x"}"#),
    );
    assert_eq!(r.status, 403);
    let r = env.send(
        &env.admin(),
        &req("POST", "/data/status").csrf().json(r#"{"name": "x"}"#),
    );
    assert_eq!(r.status, 201);
    // but can still do what users do
    let r = env.send(&auth, &req("GET", "/data/issue"));
    assert_eq!(r.status, 200);

    // tampered and foreign tokens
    let mut bad = token.clone();
    bad.push('x');
    let r = env.authenticate(&db, &bearer(&bad)).unwrap_err();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("WWW-Authenticate"), Some("Basic, Bearer"));
    assert_eq!(r.body, b"Invalid Login - Signature verification failed");
    let r = env.send(&env.admin(), &req("GET", "/jwt/validate?jwt=abc"));
    assert_eq!(r.status, 401);
    let r = env.send(&env.admin(), &req("GET", "/jwt/validate"));
    assert_eq!(r.status, 400);
}

#[test]
fn jwt_roles_must_be_held_and_basic_auth_is_required() {
    let env = classic(&[]);
    let r = issue_token(&env, r#"{"roles": ["nosuchrole"]}"#);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["msg"], "Role nosuchrole is not valid.");
    let r = issue_token(&env, r#"{"lifetime": "soon"}"#);
    assert_eq!(r.status, 400);
    // demo (User) may not get an Admin token
    let mut rq = req("POST", "/jwt/issue")
        .csrf()
        .json(r#"{"roles": ["admin"]}"#);
    rq.headers.extend(basic("demo", "demo"));
    let r = env.send(&env.demo(), &rq);
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["msg"], "Role admin is not permitted.");
    // no Basic credentials: refused
    let r = env.send(
        &env.admin(),
        &req("POST", "/jwt/issue")
            .csrf()
            .json(r#"{"lifetime": "60"}"#),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["error"]["msg"],
        "Token creation requires login with basic auth."
    );
    // unlimited tokens carry no exp
    let r = issue_token(&env, r#"{"lifetime": "unlimited"}"#);
    let token = r.json()["data"]["jwt"].as_str().unwrap().to_string();
    let v = env.send(
        &env.admin(),
        &req("GET", &format!("/jwt/validate?jwt={token}")),
    );
    assert!(v.json()["data"].get("exp").is_none());
    assert_eq!(v.json()["data"]["roles"], serde_json::json!(["admin"]));
}

#[test]
fn jwt_disabled_by_short_secret() {
    let env = classic(&[("web_jwt_secret", "short")]);
    let db = env.db();
    let r = env.authenticate(&db, &bearer("a.b.c")).unwrap_err();
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body,
        b"Invalid Login - Support for jwt disabled by admin."
    );
    assert_eq!(r.header("WWW-Authenticate"), Some("Basic"));
}

#[test]
fn expired_and_wrong_audience_tokens() {
    let env = classic(&[]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |claims: serde_json::Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
        )
        .unwrap()
    };
    let db = env.db();
    let expired = sign(
        serde_json::json!({"sub": "1", "iss": BASE, "aud": BASE, "iat": now - 100, "exp": now - 10, "roles": ["admin"]}),
    );
    let r = env.authenticate(&db, &bearer(&expired)).unwrap_err();
    assert_eq!(r.body, b"Invalid Login - Signature has expired");
    let foreign = sign(
        serde_json::json!({"sub": "1", "iss": BASE, "aud": "https://other/", "iat": now, "roles": ["admin"]}),
    );
    let r = env.authenticate(&db, &bearer(&foreign)).unwrap_err();
    assert_eq!(r.body, b"Invalid Login - Audience doesn't match");
    let ghost = sign(
        serde_json::json!({"sub": "99", "iss": BASE, "aud": BASE, "iat": now, "roles": ["admin"]}),
    );
    let r = env.authenticate(&db, &bearer(&ghost)).unwrap_err();
    assert_eq!(r.body, b"Invalid Login - Token subject is invalid.");
    let badrole = sign(
        serde_json::json!({"sub": "1", "iss": BASE, "aud": BASE, "iat": now, "roles": ["wizard"]}),
    );
    let r = env.authenticate(&db, &bearer(&badrole)).unwrap_err();
    assert_eq!(r.body, b"Invalid Login - Token roles are invalid.");
}

#[test]
fn restricted_roles_limit_what_a_user_may_do() {
    let env = classic(&[]);
    // admin acting only as Anonymous: no Rest Access in the classic schema
    let anon_only = ApiAuth::Restricted {
        userid: "1".into(),
        roles: vec!["anonymous".into()],
    };
    let r = env.send(&anon_only, &req("GET", "/data/issue"));
    assert_eq!(r.status, 403);
    // ...nor Xmlrpc Access
    let mut x = req("POST", "").csrf().header("Content-Type", "text/xml");
    x.body = roundup_api::xmlrpc::codec::call("schema", &[]);
    let resp = env.xmlrpc(&anon_only, &x);
    assert_eq!(
        roundup_api::xmlrpc::codec::parse_response(&resp.body).unwrap(),
        Err((403, "Forbidden".to_string()))
    );
    // admin acting as User sees user records as a user does: no foreign passwords
    let as_user = ApiAuth::Restricted {
        userid: "1".into(),
        roles: vec!["user".into()],
    };
    let demo = env.uid("demo");
    let r = env.send(&as_user, &req("GET", &format!("/data/user/{demo}")));
    assert_eq!(r.status, 200);
    assert!(r.json()["data"]["attributes"].get("password").is_none());
    let r = env.send(&env.admin(), &req("GET", &format!("/data/user/{demo}")));
    assert!(r.json()["data"]["attributes"].get("password").is_some());
}

#[test]
fn xmlrpc_can_be_disabled() {
    let env = classic(&[("web_enable_xmlrpc", "no")]);
    let mut x = req("POST", "").csrf().header("Content-Type", "text/xml");
    x.body = roundup_api::xmlrpc::codec::call("schema", &[]);
    let resp = env.xmlrpc(&env.admin(), &x);
    assert_eq!(resp.status, 404);
}

#[test]
fn huge_rate_limit_periods_do_not_overflow() {
    let env = classic(&[
        ("web_api_calls_per_interval", "1"),
        ("web_api_interval_in_sec", "9223372036854775807"),
    ]);
    let r = env.send(&env.admin(), &req("GET", "/data"));
    assert_eq!(r.status, 200);
    let r = env.send(&env.admin(), &req("GET", "/data"));
    assert_eq!(r.status, 429);
}
