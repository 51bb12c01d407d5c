//! API authentication: HTTP Basic (with failed-login rate limiting and a
//! short-lived cache of verified credentials) and Bearer JSON Web Tokens,
//! plus the `/rest/jwt/issue` and `/rest/jwt/validate` endpoints.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roundup_core::{Db, Value};
use roundup_tracker::Tracker;
use serde_json::{Map, Value as Json};
use sha2::{Digest, Sha256};

use super::payload::{FieldValue, Payload};
use super::perms::Perms;
use super::ratelimit::{self, RateLimit};
use super::{ApiAuth, ApiConfig, ApiError, ApiRequest, ApiResponse};

/// How long a verified Basic credential is trusted without hashing again.
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 4096;
/// Secrets shorter than this switch JWT support off (as Roundup).
const MIN_JWT_SECRET: usize = 32;

struct Cached {
    uid: String,
    /// The stored password hash when verified: a changed password
    /// invalidates the entry at once.
    stored: String,
    expires: Instant,
}

/// Basic logins answered from the cache (without hashing), since start.
static CACHE_HITS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many Basic logins the credential cache has answered in this
/// process (without hashing the password again).
pub fn credential_cache_hits() -> u64 {
    CACHE_HITS.load(std::sync::atomic::Ordering::Relaxed)
}

fn cache() -> &'static Mutex<HashMap<[u8; 32], Cached>> {
    static C: OnceLock<Mutex<HashMap<[u8; 32], Cached>>> = OnceLock::new();
    C.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The cache key: an HMAC-SHA256, under a random key made once per
/// process, of tracker home, login name and password, so that what sits
/// in memory cannot be tested against guessed passwords offline.
fn cache_key(tracker: &Tracker, user: &str, password: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    static KEY: OnceLock<[u8; 32]> = OnceLock::new();
    let key = KEY.get_or_init(rand::random::<[u8; 32]>);
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(m) => m,
        // any key length is valid for HMAC; fall back to a plain digest
        Err(_) => return Sha256::digest(password.as_bytes()).into(),
    };
    mac.update(tracker.home().display().to_string().as_bytes());
    mac.update(&[0u8]);
    mac.update(user.as_bytes());
    mac.update(&[0u8]);
    mac.update(password.as_bytes());
    mac.finalize().into_bytes().into()
}

fn stored_password(db: &Db, uid: &str) -> Option<String> {
    match db.get("user", uid, "password") {
        Ok(Some(Value::Password(p))) => Some(p.as_str().to_string()),
        _ => None,
    }
}

fn login_failure(msg: &str, www_auth: Option<&str>) -> ApiResponse {
    let mut r = ApiResponse::plain(401, "text/plain", format!("Invalid Login - {msg}"));
    if let Some(w) = www_auth {
        r.headers.push(("WWW-Authenticate".into(), w.into()));
    }
    r
}

/// Identify the sender of an API request from its `Authorization` header.
///
/// * `Ok(None)`: no (usable) credentials; the server falls back to its
///   session cookie or the anonymous user.
/// * `Ok(Some(auth))`: Basic credentials that verified, or a valid Bearer
///   token (whose `roles` claim restricts the user's roles).
/// * `Err(response)`: a 401 for bad credentials or tokens, or a 429 when
///   failed logins for that name came too fast
///   (`[web] api_failed_login_limit` per `api_failed_login_interval_in_sec`).
pub fn authenticate(
    tracker: &Tracker,
    db: &Db,
    headers: &[(String, String)],
) -> Result<Option<ApiAuth>, ApiResponse> {
    let Some(auth) = super::header_in(headers, "authorization") else {
        return Ok(None);
    };
    let Some((scheme, challenge)) = auth.split_once(' ') else {
        return Ok(None);
    };
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => basic(tracker, db, challenge.trim()).map(Some),
        "bearer" => bearer(tracker, db, challenge.trim()).map(Some),
        _ => Ok(None),
    }
}

fn basic(tracker: &Tracker, db: &Db, challenge: &str) -> Result<ApiAuth, ApiResponse> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(challenge)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default();
    let (user, password) = decoded.split_once(':').unwrap_or(("", ""));
    let cfg = ApiConfig(tracker);
    let limit = RateLimit::new(
        cfg.int("web", "api_failed_login_limit", 4),
        cfg.int("web", "api_failed_login_interval_in_sec", 600),
    );
    let limit_key = format!("{}\0LOGIN-API{user}", tracker.home().display());
    let fail = |msg: &str| -> ApiResponse {
        if let Some(l) = &limit {
            let st = ratelimit::hit(&limit_key, l, true);
            if st.rejected {
                return too_fast(&st);
            }
        }
        login_failure(msg, None)
    };

    let Ok(uid) = db.lookup("user", user) else {
        return Err(fail("Invalid login"));
    };
    // A locked-out name is refused even with the right password.
    if let Some(l) = &limit {
        let st = ratelimit::hit(&limit_key, l, false);
        if st.rejected {
            return Err(too_fast(&st));
        }
    }
    let key = cache_key(tracker, user, password);
    let stored = stored_password(db, &uid);
    let now = Instant::now();
    let cached_ok = match (cache().lock(), &stored) {
        (Ok(c), Some(s)) => c
            .get(&key)
            .is_some_and(|e| e.uid == uid && &e.stored == s && e.expires > now),
        _ => false,
    };
    if cached_ok {
        CACHE_HITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    } else {
        let ok = match db.get("user", &uid, "password") {
            Ok(Some(Value::Password(p))) => p.verify(password),
            _ => false,
        };
        if !ok {
            return Err(fail("Invalid login"));
        }
        if let (Ok(mut c), Some(s)) = (cache().lock(), stored) {
            if c.len() >= CACHE_MAX {
                c.retain(|_, e| e.expires > now);
                if c.len() >= CACHE_MAX {
                    c.clear();
                }
            }
            c.insert(
                key,
                Cached {
                    uid: uid.clone(),
                    stored: s,
                    expires: now + CACHE_TTL,
                },
            );
        }
    }
    let perms = Perms::resolve(db, &ApiAuth::User(uid.clone()));
    if !perms.has(db, "Web Access", None, None, None) {
        return Err(login_failure("You do not have permission to login", None));
    }
    Ok(ApiAuth::User(uid))
}

fn too_fast(st: &ratelimit::LimitStatus) -> ApiResponse {
    let mut r = ApiResponse::plain(
        429,
        "text/plain",
        format!(
            "Logins occurring too fast. Please wait: {} seconds.",
            st.retry_after
        ),
    );
    for (k, v) in &st.headers {
        if k != "Retry-After" {
            r.headers.push((k.clone(), v.clone()));
        }
    }
    r.headers
        .push(("Retry-After".into(), st.retry_after.to_string()));
    r.headers.push((
        "Access-Control-Expose-Headers".into(),
        "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-RateLimit-Limit-Period, Retry-After".into(),
    ));
    r
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

fn bearer(tracker: &Tracker, db: &Db, token: &str) -> Result<ApiAuth, ApiResponse> {
    let claims = decode_jwt(tracker, "", token).map_err(|m| {
        let www = if m == "Support for jwt disabled by admin." {
            "Basic"
        } else {
            "Basic, Bearer"
        };
        login_failure(&m, Some(www))
    })?;
    let sub = match claims.get("sub") {
        Some(Json::String(s)) => s.clone(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    if !matches!(db.has_node("user", &sub), Ok(true)) || db.is_retired("user", &sub).unwrap_or(true)
    {
        return Err(login_failure(
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
                "Token roles are invalid.",
                Some("Basic, Bearer"),
            ));
        };
        if !db.security().has_role(name) {
            return Err(login_failure(
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
    perms: &Perms,
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
    let user_roles = db.user_roles(&perms.uid).unwrap_or_default();
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
    claims.insert("sub".into(), Json::from(perms.uid.clone()));
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
