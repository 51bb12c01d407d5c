//! Roundup's REST interface (`/rest/...`), transport independent.
//!
//! The HTTP server turns a request below `/rest` into an [`ApiRequest`],
//! asks [`authenticate`] who sent it (Basic or Bearer credentials; when
//! none were sent it falls back to its session cookie or anonymous), and
//! passes both to [`handle`], which returns the whole [`ApiResponse`].
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
pub(crate) mod perms;
pub mod ratelimit;
mod routes;

use roundup_core::Db;
use roundup_tracker::Tracker;
use serde_json::Value as Json;

pub use auth::{authenticate, credential_cache_hits};
pub use openapi::openapi_document;

use format::{error_obj, to_json_bytes};
use payload::Payload;
use perms::Perms;

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

/// Whether the Origin header is acceptable (Roundup's
/// `is_origin_header_ok`): missing is fine for safe methods, the tracker's
/// own origin always is, and for API calls so is any origin listed in
/// `[web] allowed_api_origins` (a leading `*` allows any origin, but not
/// with credentials).
pub(crate) fn origin_ok(
    cfg: &ApiConfig<'_>,
    base: &str,
    method: &str,
    origin: Option<&str>,
    api: bool,
    credentials: bool,
) -> bool {
    let Some(origin) = origin else {
        return matches!(method, "GET" | "OPTIONS" | "HEAD");
    };
    if base.starts_with(&format!("{origin}/")) {
        return true;
    }
    if !api {
        return false;
    }
    let allowed = cfg.list("web", "allowed_api_origins");
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    allowed.first().is_some_and(|a| a == "*") && !credentials
}

fn referer_ok(cfg: &ApiConfig<'_>, base: &str, referer: &str) -> bool {
    // scheme://host/ of the referer
    let origin = match referer.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}/")
        }
        None => "://".to_string(),
    };
    if base.starts_with(&origin) {
        return true;
    }
    let allowed = cfg.list("web", "allowed_api_origins");
    if allowed.first().is_some_and(|a| a == "*") {
        return true;
    }
    allowed.iter().any(|a| origin.starts_with(&format!("{a}/")))
}

/// Roundup's header-based CSRF checks for API requests. `Err` carries the
/// status and message of the refusal.
pub(crate) fn check_csrf(
    cfg: &ApiConfig<'_>,
    base: &str,
    req: &ApiRequest,
) -> Result<(), ApiError> {
    let method = req.method.to_uppercase();
    if matches!(method.as_str(), "GET" | "OPTIONS" | "HEAD") {
        return Ok(());
    }
    if !matches!(method.as_str(), "POST" | "PUT" | "DELETE" | "PATCH") {
        return Err(ApiError::new(405, format!("Bad method: {method}")));
    }
    if cfg.bool("web", "use_tokenless_csrf_protection", false) {
        return tokenless_csrf(cfg, base, req);
    }
    let enforce = |name: &str| cfg.str("web", &format!("csrf_enforce_header_{name}"), "yes");
    for (opt, header, label) in [
        ("origin", "origin", "ORIGIN"),
        ("referer", "referer", "REFERER"),
        ("x-forwarded-host", "x-forwarded-host", "X-FORWARDED-HOST"),
        ("host", "host", "HOST"),
    ] {
        if enforce(opt) == "required" && req.header(header).is_none() {
            return Err(ApiError::new(400, format!("Missing header: {label}")));
        }
    }
    let mut passed = 0;
    if let Some(referer) = req.header("referer") {
        let e = enforce("referer");
        if e != "no" {
            if referer_ok(cfg, base, referer) {
                passed += 1;
            } else if e == "required" || e == "yes" {
                return Err(ApiError::new(400, format!("Invalid Referer: {referer}")));
            }
        }
    }
    if let Some(origin) = req.header("origin") {
        let e = enforce("origin");
        if e != "no" {
            if origin_ok(cfg, base, &method, Some(origin), true, false) {
                passed += 1;
            } else if e == "required" || e == "yes" {
                return Err(ApiError::new(400, format!("Invalid Origin {origin}")));
            }
        }
    }
    let host_matches = |host: &str| {
        let pat = format!("://{host}/");
        matches!(base.find(&pat), Some(4) | Some(5))
    };
    if let Some(fwd) = req.header("x-forwarded-host") {
        let e = enforce("x-forwarded-host");
        if e != "no" {
            if host_matches(fwd) {
                passed += 1;
            } else if e == "required" || e == "yes" {
                return Err(ApiError::new(
                    400,
                    format!("Invalid X-FORWARDED-HOST {fwd}"),
                ));
            }
        }
    } else if let Some(host) = req.header("host") {
        let e = enforce("host");
        if e != "no" {
            if host_matches(host) {
                passed += 1;
            } else if e == "required" || e == "yes" {
                return Err(ApiError::new(400, format!("Invalid HOST {host}")));
            }
        }
    }
    if passed < cfg.int("web", "csrf_header_min_count", 1) {
        return Err(ApiError::new(400, "Unable to verify sufficient headers"));
    }
    let xrw = enforce("x-requested-with");
    if (xrw == "required" || xrw == "yes") && req.header("x-requested-with").is_none() {
        return Err(ApiError::new(400, "Required Header Missing"));
    }
    Ok(())
}

/// The token-less CSRF rule (`use_tokenless_csrf_protection`): trusted
/// Origin, then Sec-Fetch-Site, then Origin host equal to Host.
fn tokenless_csrf(cfg: &ApiConfig<'_>, base: &str, req: &ApiRequest) -> Result<(), ApiError> {
    let origin = req.header("origin");
    if let Some(o) = origin {
        if base.starts_with(&format!("{o}/"))
            || cfg
                .list("web", "allowed_api_origins")
                .iter()
                .any(|a| a == o)
        {
            return Ok(());
        }
    }
    if let Some(site) = req.header("sec-fetch-site") {
        if site == "same-origin" || site == "none" {
            return Ok(());
        }
        return Err(ApiError::new(400, "Unable to authorize request"));
    }
    let Some(o) = origin else {
        return Ok(());
    };
    let netloc = o.split_once("://").map(|(_, r)| r).unwrap_or(o);
    let netloc = netloc.split('/').next().unwrap_or("");
    if req.header("host") == Some(netloc) {
        return Ok(());
    }
    Err(ApiError::new(400, "Unable to authorize request"))
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
pub fn handle(tracker: &Tracker, db: &Db, auth: &ApiAuth, req: &ApiRequest) -> ApiResponse {
    let cfg = ApiConfig(tracker);
    let perms = Perms::resolve(db, auth);
    db.set_uid(&perms.uid);
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
        if origin_ok(&cfg, &base, &method, req.header("origin"), true, false) {
            return routes::dispatch(tracker, db, perms, req, &base);
        }
        return reject_json(400, "Client is not allowed to use Rest Interface.", " } }");
    }

    if !perms.has(db, "Rest Access", None, None, None) {
        return reject_json(403, "Forbidden.", " } }");
    }

    if !origin_ok(&cfg, &base, &method, req.header("origin"), true, false) {
        let msg = if req.header("origin").is_none() {
            "Required Header Missing"
        } else {
            "Client is not allowed to use Rest Interface."
        };
        return reject_json(400, msg, " } }");
    }

    if perms.anonymous && !perms.has(db, "Web Access", None, None, None) {
        return reject_json(
            403,
            "Anonymous users are not allowed to use the web interface",
            "}}",
        );
    }

    if let Err(e) = check_csrf(&cfg, &base, req) {
        let mut r = reject_json(e.status, &e.msg, "}}");
        if e.status == 405 {
            // RFC 9110: a 405 names the methods the resource has
            r.headers
                .push(("Allow".into(), routes::allowed_methods(&req.path).into()));
        }
        return r;
    }

    routes::dispatch(tracker, db, perms, req, &base)
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
