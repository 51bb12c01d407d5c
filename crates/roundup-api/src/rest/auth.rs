//! API authentication: HTTP Basic (through roundup-core's one login rule,
//! with its failed-login limit and the tracker's cache of verified
//! credentials) and Bearer JSON Web Tokens, plus the `/rest/jwt/issue` and
//! `/rest/jwt/validate` endpoints.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roundup_core::auth::{self, Frontend, LoginError};
use roundup_core::authz::Subject;
use roundup_core::Db;
use roundup_tracker::Tracker;
use serde_json::{Map, Value as Json};

use super::payload::{FieldValue, Payload};
use super::{Api, ApiAuth, ApiConfig, ApiError, ApiRequest, ApiResponse};

/// Secrets shorter than this switch JWT support off (as Roundup).
const MIN_JWT_SECRET: usize = 32;

/// A refused login as the front end answers it: REST with
/// `401 Invalid Login - <why>` (429 for a rate limit), XML-RPC with a
/// fault of the same code.
fn refusal(
    frontend: Frontend,
    status: u16,
    msg: &str,
    headers: Vec<(String, String)>,
) -> ApiResponse {
    let mut r = if frontend == Frontend::Xmlrpc {
        ApiResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "text/xml".into())],
            body: crate::xmlrpc::codec::fault(i64::from(status), msg),
        }
    } else if status == 401 {
        ApiResponse::plain(401, "text/plain", format!("Invalid Login - {msg}"))
    } else {
        ApiResponse::plain(status, "text/plain", msg.to_string())
    };
    r.headers.extend(headers);
    r
}

fn login_failure(frontend: Frontend, msg: &str, www_auth: Option<&str>) -> ApiResponse {
    let headers = www_auth
        .filter(|_| frontend != Frontend::Xmlrpc)
        .map(|w| vec![("WWW-Authenticate".to_string(), w.to_string())])
        .unwrap_or_default();
    refusal(frontend, 401, msg, headers)
}

/// Identify the sender of an API request from its `Authorization` header.
///
/// * `Ok(None)`: no (usable) credentials; the server falls back to its
///   session cookie or the anonymous user.
/// * `Ok(Some(auth))`: Basic credentials that verified, or a valid Bearer
///   token (whose `roles` claim restricts the user's roles).
/// * `Err(response)`: bad credentials or tokens (401), or failed logins
///   for that name came too fast (429; `[web] api_failed_login_limit` per
///   `api_failed_login_interval_in_sec`), answered as `frontend` answers.
pub fn authenticate(
    api: &Api<'_>,
    db: &Db,
    headers: &[(String, String)],
    frontend: Frontend,
) -> Result<Option<ApiAuth>, ApiResponse> {
    let Some(auth) = super::header_in(headers, "authorization") else {
        return Ok(None);
    };
    let Some((scheme, challenge)) = auth.split_once(' ') else {
        return Ok(None);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => basic(api, db, challenge.trim(), frontend).map(Some),
        "bearer" => bearer(api.tracker, db, challenge.trim(), frontend).map(Some),
        _ => Ok(None),
    }
}

fn basic(
    api: &Api<'_>,
    db: &Db,
    challenge: &str,
    frontend: Frontend,
) -> Result<ApiAuth, ApiResponse> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(challenge)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let (user, password) = decoded.split_once(':').unwrap_or(("", ""));
    let state = api.state;
    match auth::login(
        db,
        api.otks,
        &state.login,
        frontend,
        user,
        password,
        Some(&state.credentials),
    ) {
        Ok(uid) => Ok(ApiAuth::User(uid)),
        Err(e @ LoginError::TooFast(_)) => Err(refusal(frontend, 429, &e.to_string(), e.headers())),
        Err(LoginError::Failed(e)) => {
            eprintln!("roundup-server: login failed: {e}");
            Err(refusal(
                frontend,
                500,
                "the login could not be checked",
                Vec::new(),
            ))
        }
        Err(e) => Err(login_failure(frontend, &e.to_string(), None)),
    }
}

/// Whether JSON Web Tokens are switched on (a long enough secret).
pub(crate) fn jwt_enabled(tracker: &Tracker) -> bool {
    ApiConfig(tracker)
        .jwt_secrets()
        .first()
        .is_some_and(|s| s.len() >= MIN_JWT_SECRET)
}

/// PyJWT's wording for the token problems clients see.
fn jwt_message(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::InvalidSignature => "Signature verification failed".into(),
        ErrorKind::ExpiredSignature => "Signature has expired".into(),
        ErrorKind::InvalidAudience => "Audience doesn't match".into(),
        ErrorKind::InvalidIssuer => "Invalid issuer".into(),
        ErrorKind::ImmatureSignature => "The token is not yet valid (nbf)".into(),
        ErrorKind::InvalidAlgorithm => "The specified alg value is not allowed".into(),
        ErrorKind::MissingRequiredClaim(c) => format!("Token is missing the \"{c}\" claim"),
        ErrorKind::InvalidToken => "Not enough segments".into(),
        ErrorKind::Base64(_) => "Invalid header padding".into(),
        ErrorKind::Json(_) | ErrorKind::Utf8(_) => "Invalid payload string".into(),
        other => format!("{other:?}"),
    }
}

/// Decode and check a token against the configured secrets (the first
/// one that verifies the signature wins).
pub(crate) fn decode_jwt(tracker: &Tracker, base: &str, token: &str) -> Result<Json, String> {
    let cfg = ApiConfig(tracker);
    let secrets = cfg.jwt_secrets();
    if secrets.first().is_none_or(|s| s.len() < MIN_JWT_SECRET) {
        return Err("Support for jwt disabled by admin.".into());
    }
    let web = cfg.tracker_web(base);
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[web.as_str()]);
    v.set_issuer(&[web.as_str()]);
    v.required_spec_claims.clear();
    v.leeway = 0;
    let mut last = "Signature verification failed".to_string();
    for s in &secrets {
        match jsonwebtoken::decode::<Json>(token, &DecodingKey::from_secret(s.as_bytes()), &v) {
            Ok(data) => return Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => {
                last = jwt_message(e.kind());
            }
            Err(e) => return Err(jwt_message(e.kind())),
        }
    }
    Err(last)
}

fn bearer(
    tracker: &Tracker,
    db: &Db,
    token: &str,
    frontend: Frontend,
) -> Result<ApiAuth, ApiResponse> {
    let claims = decode_jwt(tracker, "", token).map_err(|m| {
        let www = if m == "Support for jwt disabled by admin." {
            "Basic"
        } else {
            "Basic, Bearer"
        };
        login_failure(frontend, &m, Some(www))
    })?;
    let sub = match claims.get("sub") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if !matches!(db.has_node("user", &sub), Ok(true)) || db.is_retired("user", &sub).unwrap_or(true)
    {
        return Err(login_failure(
            frontend,
            "Token subject is invalid.",
            Some("Basic, Bearer"),
        ));
    }
    let Some(Json::Array(roles)) = claims.get("roles") else {
        return Ok(ApiAuth::User(sub));
    };
    let mut out = Vec::new();
    for r in roles {
        let Some(name) = r.as_str() else {
            return Err(login_failure(
                frontend,
                "Token roles are invalid.",
                Some("Basic, Bearer"),
            ));
        };
        if !db.security().has_role(name) {
            return Err(login_failure(
                frontend,
                "Token roles are invalid.",
                Some("Basic, Bearer"),
            ));
        }
        out.push(name.to_lowercase());
    }
    Ok(ApiAuth::Restricted {
        userid: sub,
        roles: out,
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `POST /rest/jwt/issue`: a token for the Basic-authenticated caller,
/// optionally limited to some of its roles (or `parent:child` roles of
/// roles it has), valid `lifetime` seconds (default a day, `unlimited`
/// or `0` for no expiry).
pub(crate) fn issue_jwt(
    tracker: &Tracker,
    db: &Db,
    perms: &Subject,
    req: &ApiRequest,
    p: &Payload,
    base: &str,
) -> Result<(u16, Json), ApiError> {
    let denial = "Token creation requires login with basic auth.";
    let scheme = req
        .header("authorization")
        .and_then(|a| a.split_once(' '))
        .map(|(s, _)| s.to_ascii_lowercase());
    if scheme.as_deref() != Some("basic") || perms.anonymous {
        return Err(ApiError::new(403, denial));
    }
    if p.is_empty() {
        return Err(ApiError::new(
            400,
            "Missing data payload. Verify Content-Type is sent",
        ));
    }
    let cfg = ApiConfig(tracker);
    let secrets = cfg.jwt_secrets();
    let Some(secret) = secrets.first().filter(|s| s.len() >= MIN_JWT_SECRET) else {
        return Err(ApiError::new(400, "Support for jwt disabled by admin."));
    };
    let web = cfg.tracker_web(base);
    let user_roles = db.user_roles(&perms.userid).unwrap_or_default();
    let lifetime: u64 = match p.text("lifetime") {
        None => 86400,
        Some(v) if v == "unlimited" => 0,
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            ApiError::new(
                400,
                format!(
                    "Value 'lifetime' must be 'unlimited' or an integer to specify lifetime in seconds. Got {v}."
                ),
            )
        })?,
    };
    let roles: Vec<String> = match p.get("roles") {
        None => user_roles.clone(),
        Some(fv) => {
            let wanted: Vec<String> = match fv {
                FieldValue::List(l) => l.clone(),
                other => other
                    .text()
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            };
            let mut out = Vec::new();
            for r in wanted {
                let r = r.to_lowercase();
                if !db.security().has_role(&r) {
                    return Err(ApiError::new(400, format!("Role {r} is not valid.")));
                }
                let parent = r.split(':').next().unwrap_or("").to_string();
                if user_roles.contains(&r) || user_roles.contains(&parent) {
                    out.push(r);
                } else {
                    return Err(ApiError::new(400, format!("Role {r} is not permitted.")));
                }
            }
            out
        }
    };
    let now = now_secs();
    let mut claims = Map::new();
    claims.insert("sub".into(), Json::from(perms.userid.clone()));
    claims.insert("iss".into(), Json::from(web.clone()));
    claims.insert("aud".into(), Json::from(web));
    claims.insert("iat".into(), Json::from(now));
    if lifetime > 0 {
        claims.insert("exp".into(), Json::from(now + lifetime));
    }
    claims.insert("roles".into(), Json::from(roles));
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Json::Object(claims),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| ApiError::new(500, format!("could not sign the token: {e}")))?;
    let mut m = Map::new();
    m.insert("jwt".into(), Json::from(token));
    Ok((200, Json::Object(m)))
}

/// `GET /rest/jwt/validate?jwt=...`: the claims of a valid token (signed
/// with the newest secret only), else 401 with the reason.
pub(crate) fn validate_jwt(
    tracker: &Tracker,
    p: &Payload,
    base: &str,
) -> Result<(u16, Json), ApiError> {
    let Some(token) = p.text("jwt") else {
        return Err(ApiError::new(400, "jwt key must be specified"));
    };
    let cfg = ApiConfig(tracker);
    let secrets = cfg.jwt_secrets();
    let Some(secret) = secrets.first().filter(|s| s.len() >= MIN_JWT_SECRET) else {
        return Err(ApiError::new(400, "Support for jwt disabled by admin."));
    };
    let web = cfg.tracker_web(base);
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&[web.as_str()]);
    v.set_issuer(&[web.as_str()]);
    v.required_spec_claims.clear();
    v.leeway = 0;
    match jsonwebtoken::decode::<Json>(&token, &DecodingKey::from_secret(secret.as_bytes()), &v) {
        Ok(d) => Ok((200, d.claims)),
        Err(e) => Err(ApiError::new(401, jwt_message(e.kind()))),
    }
}
