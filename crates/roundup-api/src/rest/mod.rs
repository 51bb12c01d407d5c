//! Roundup's REST interface (`/rest/...`), transport independent.
//!
//! The HTTP server turns a request below `/rest` into an [`ApiRequest`],
//! asks [`authenticate`] who sent it (Basic or Bearer credentials; when
//! none were sent it falls back to its session cookie or anonymous), and
//! passes both to [`handle`], which returns the whole [`ApiResponse`].
//! Both take an [`Api`]: the tracker with what the API keeps for it
//! between requests ([`ApiState`]) and its one-time-key store, where rate
//! limits and Post-Once-Exactly tokens live (so several server processes
//! share them, and Roundup's own records are understood).
//!
//! The rules come from roundup-core: logging in (`auth`), permissions
//! (`authz`), the CSRF/origin decision (`csrf`) and rate limits
//! (`ratelimit`).
//!
//! What `handle` does, in Roundup's order: CORS preflight answers, the
//! "Rest Access" permission, the Origin check, the CSRF header rules for
//! APIs, the API rate limit, method tunnelling (`X-HTTP-Method-Override`),
//! content negotiation (path extension, Accept header with versions),
//! input parsing (query string, form, multipart or JSON body) and finally
//! the endpoint itself. Every endpoint filters reads and writes through
//! the caller's permissions down to single properties.

mod auth;
pub(crate) mod format;
mod openapi;
pub(crate) mod payload;
mod routes;

use roundup_core::auth::{CredentialCache, LoginPolicy, SharedStore};
use roundup_core::authz::Subject;
use roundup_core::csrf::{self, CsrfPolicy, CsrfRequest, Next, Refusal};
use roundup_core::Db;
use roundup_tracker::Tracker;
use serde_json::Value as Json;

pub use auth::authenticate;
pub use openapi::openapi_document;
pub use roundup_core::auth::Frontend;

use format::{error_obj, to_json_bytes};
use payload::Payload;

/// What the REST and XML-RPC interfaces keep for one tracker between
/// requests: the rules read from its config.ini and the credentials
/// verified lately. (Rate limits and POE tokens are in the tracker's
/// one-time-key store.)
#[derive(Debug)]
pub struct ApiState {
    pub csrf: CsrfPolicy,
    pub login: LoginPolicy,
    pub credentials: CredentialCache,
}

impl ApiState {
    pub fn new(tracker: &Tracker) -> ApiState {
        ApiState {
            csrf: CsrfPolicy::from_config(tracker.config()),
            login: LoginPolicy::from_config(tracker.config()),
            credentials: CredentialCache::new(),
        }
    }
}

/// One tracker as the APIs serve it.
#[derive(Clone, Copy)]
pub struct Api<'a> {
    pub tracker: &'a Tracker,
    pub state: &'a ApiState,
    /// The tracker's one-time-key store.
    pub otks: &'a SharedStore,
}

impl Api<'_> {
    /// Run `f` on the one-time-key store.
    pub(crate) fn with_otks<T>(
        &self,
        f: impl FnOnce(&mut dyn roundup_core::sessions::KeyStore) -> roundup_core::Result<T>,
    ) -> roundup_core::Result<T> {
        let mut store = self.otks.lock().map_err(|_| {
            roundup_core::Error::storage("the one-time-key store lock was poisoned")
        })?;
        f(store.as_mut())
    }
}

/// One API request as the HTTP layer received it.
#[derive(Clone, Debug, Default)]
pub struct ApiRequest {
    /// The HTTP method as sent (GET, POST, ...).
    pub method: String,
    /// The path below `/rest` (e.g. `/data/issue/3`); for XML-RPC unused.
    pub path: String,
    /// Decoded query string fields in order.
    pub query: Vec<(String, String)>,
    /// Request headers with lower-case names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The tracker's base URL (`[tracker] web`), e.g. `https://host/demo/`.
    pub base: String,
}

impl ApiRequest {
    /// The first header of this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }
}

/// A complete response.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl ApiResponse {
    /// The first header of this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// The body parsed as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }

    fn plain(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> ApiResponse {
        ApiResponse {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
        }
    }
}

/// Who the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiAuth {
    Anonymous,
    /// A logged-in user (by id) with the roles of its user record.
    User(String),
    /// A user acting with only these roles (from a JSON Web Token).
    Restricted {
        userid: String,
        roles: Vec<String>,
    },
}

pub(crate) fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// An endpoint failure: HTTP status and Roundup's message.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub status: u16,
    pub msg: String,
}

impl ApiError {
    pub fn new(status: u16, msg: impl Into<String>) -> ApiError {
        ApiError {
            status,
            msg: msg.into(),
        }
    }
}

/// Configuration values the API reads, with Roundup's defaults when an
/// option is missing or unreadable.
pub(crate) struct ApiConfig<'a>(pub &'a Tracker);

impl ApiConfig<'_> {
    pub fn str(&self, section: &str, option: &str, default: &str) -> String {
        self.0
            .config()
            .get_str(section, option)
            .unwrap_or_else(|_| default.to_string())
    }
    pub fn int(&self, section: &str, option: &str, default: i64) -> i64 {
        self.0.config().get_int(section, option).unwrap_or(default)
    }
    pub fn bool(&self, section: &str, option: &str, default: bool) -> bool {
        self.0.config().get_bool(section, option).unwrap_or(default)
    }
    pub fn list(&self, section: &str, option: &str) -> Vec<String> {
        self.0
            .config()
            .get_list(section, option)
            .unwrap_or_default()
    }
    /// `[tracker] web`, ending with a slash.
    pub fn tracker_web(&self, fallback: &str) -> String {
        let mut web = if fallback.is_empty() {
            self.str("tracker", "web", "")
        } else {
            fallback.to_string()
        };
        if !web.ends_with('/') {
            web.push('/');
        }
        web
    }
    /// The JWT signing secrets (`[web] jwt_secret`, comma separated).
    pub fn jwt_secrets(&self) -> Vec<String> {
        self.list("web", "jwt_secret")
    }
}

/// The caller as the permission rules see it: a user with the roles of
/// its record, a token's restricted roles, or the anonymous user.
pub(crate) fn subject_of(db: &Db, auth: &ApiAuth) -> Subject {
    match auth {
        ApiAuth::Anonymous => Subject::anonymous(db),
        ApiAuth::User(uid) => Subject::user(db, uid).unwrap_or_else(|_| Subject {
            userid: uid.clone(),
            roles: Vec::new(),
            anonymous: false,
        }),
        ApiAuth::Restricted { userid, roles } => Subject::restricted(db, userid, roles),
    }
}

/// The core CSRF decision for an API request.
pub(crate) fn check_csrf(
    policy: &CsrfPolicy,
    base: &str,
    req: &ApiRequest,
    userid: &str,
) -> Result<(), Refusal> {
    let method = req.method.to_uppercase();
    let creq = CsrfRequest::from_headers(&method, base, true, |n| req.header(n));
    let d = csrf::decide(policy, &creq, userid);
    for line in &d.log {
        eprintln!("roundup-server: {line}");
    }
    d.result.map(|_: Next| ())
}

/// A refusal written the way Roundup writes refusals before dispatching.
fn reject_json(status: u16, msg: &str, closing: &str) -> ApiResponse {
    let body = format!(
        "{{ \"error\": {{ \"status\": {status}, \"msg\": {}{closing}",
        serde_json::Value::from(msg)
    );
    ApiResponse::plain(status, "application/json", body)
}

/// Answer one REST request for an already authenticated caller.
pub fn handle(api: &Api<'_>, db: &Db, auth: &ApiAuth, req: &ApiRequest) -> ApiResponse {
    let tracker = api.tracker;
    let policy = &api.state.csrf;
    let cfg = ApiConfig(tracker);
    let perms = subject_of(db, auth);
    db.set_uid(&perms.userid);
    db.set_tx_source(Some(roundup_core::TxSource::Rest));
    let base = cfg.tracker_web(&req.base);
    let method = req.method.to_uppercase();

    if !cfg.bool("web", "enable_rest", true) {
        let body = to_json_bytes(&error_obj(404, "The REST interface is disabled."), true);
        return ApiResponse::plain(404, "application/json", body);
    }

    let preflight = method == "OPTIONS"
        && req.header("access-control-request-method").is_some()
        && req.header("access-control-request-headers").is_some()
        && req.header("origin").is_some();
    if preflight {
        if csrf::origin_ok(policy, &base, &method, req.header("origin"), true, false) {
            return routes::dispatch(api, db, perms, req, &base);
        }
        return reject_json(400, "Client is not allowed to use Rest Interface.", " } }");
    }

    if !perms.may(db, Frontend::Rest.access_permission(), None, None, None) {
        return reject_json(403, "Forbidden.", " } }");
    }

    if !csrf::origin_ok(policy, &base, &method, req.header("origin"), true, false) {
        let msg = if req.header("origin").is_none() {
            "Required Header Missing"
        } else {
            "Client is not allowed to use Rest Interface."
        };
        return reject_json(400, msg, " } }");
    }

    if perms.anonymous && !perms.may(db, "Web Access", None, None, None) {
        return reject_json(
            403,
            "Anonymous users are not allowed to use the web interface",
            "}}",
        );
    }

    if let Err(e) = check_csrf(policy, &base, req, &perms.userid) {
        let mut r = reject_json(e.status, &e.message, "}}");
        if e.status == 405 {
            // RFC 9110: a 405 names the methods the resource has
            r.headers
                .push(("Allow".into(), routes::allowed_methods(&req.path).into()));
        }
        return r;
    }

    routes::dispatch(api, db, perms, req, &base)
}

pub(crate) fn parse_payload(req: &ApiRequest, method: &str) -> Result<Payload, ApiError> {
    let query = Payload::from_query(&req.query);
    // an OPTIONS request asks about the resource; its body means nothing
    if matches!(method, "GET" | "HEAD" | "OPTIONS") {
        return Ok(query);
    }
    let ctype = req.header("content-type").unwrap_or("");
    let mime = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "" | "application/x-www-form-urlencoded" => {
            let mut p = Payload::from_urlencoded(&req.body);
            p.fields.extend(query.fields);
            Ok(p)
        }
        "multipart/form-data" => {
            let boundary = payload::header_param(ctype, "boundary")
                .ok_or_else(|| ApiError::new(400, "multipart/form-data without a boundary"))?;
            let mut p =
                Payload::from_multipart(&req.body, &boundary).map_err(|e| ApiError::new(400, e))?;
            p.fields.extend(query.fields);
            Ok(p)
        }
        "application/json" => Payload::from_json(&req.body).map_err(|e| ApiError::new(400, e)),
        _ => Err(ApiError::new(
            415,
            format!("Unable to process input of type {ctype}"),
        )),
    }
}
