//! The REST endpoints and the dispatch that leads to them.

use std::collections::{BTreeSet, HashMap};

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use roundup_core::authz::{check_retirable, Subject};
use roundup_core::csrf;
use roundup_core::filter::{FilterSpec, SpecValue};
use roundup_core::pyrepr::PyValue;
use roundup_core::ratelimit::{self, RateLimit};
use roundup_core::schema::{ClassKind, PropType};
use roundup_core::sessions::{record_str, Record};
use roundup_core::{Db, Error, Value, Values};
use roundup_tracker::Tracker;
use serde_json::{Map, Value as Json};

use super::format::{content_types_for, error_obj, parse_accept, to_json_bytes};
use super::payload::{FieldValue, Payload};
use super::{parse_payload, Api, ApiConfig, ApiError, ApiRequest, ApiResponse};

type HmacMd5 = Hmac<Md5>;
type Out = Result<(u16, Json), ApiError>;

/// Rows a collection query may return (Roundup's default
/// `max_response_row_size`; page sizes must stay below it).
pub const MAX_RESPONSE_ROW_SIZE: u64 = 10_000_001;
const DEFAULT_TEXT_MIME: &str = "text/plain";
const EXPOSE_HEADERS: &str = "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-RateLimit-Limit-Period, Retry-After, Sunset, Allow";

/// State of one request while it is answered.
pub(crate) struct Ctx<'a> {
    pub api: &'a Api<'a>,
    pub tracker: &'a Tracker,
    pub db: &'a Db,
    pub perms: Subject,
    pub req: &'a ApiRequest,
    /// `[tracker] web`, ending with `/`.
    pub base: String,
    headers: Vec<(String, String)>,
    /// Raw file data to send instead of JSON (binary_content).
    raw: Option<Vec<u8>>,
    /// The output MIME type when it is not JSON.
    raw_type: Option<String>,
    /// Send the endpoint's JSON as it is, without the `data` envelope.
    unwrapped: bool,
}

impl<'a> Ctx<'a> {
    fn cfg(&self) -> ApiConfig<'a> {
        ApiConfig(self.tracker)
    }
    fn rest_path(&self) -> String {
        format!("{}rest", self.base)
    }
    fn data_path(&self) -> String {
        format!("{}rest/data", self.base)
    }
    /// Set (replace) a response header; `None` removes it.
    fn set_header(&mut self, name: &str, value: Option<&str>) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            self.headers.push((name.to_string(), v.to_string()));
        }
    }
    fn has(&self, perm: &str, class: Option<&str>, prop: Option<&str>, item: Option<&str>) -> bool {
        self.perms.may(self.db, perm, class, prop, item)
    }
    fn secret(&self) -> String {
        self.cfg().str("web", "secret_key", "")
    }
}

/// Route, check and run the request; format the answer.
pub(crate) fn dispatch(
    api: &Api<'_>,
    db: &Db,
    perms: Subject,
    req: &ApiRequest,
    base: &str,
) -> ApiResponse {
    let mut ctx = Ctx {
        api,
        tracker: api.tracker,
        db,
        perms,
        req,
        base: base.to_string(),
        headers: Vec::new(),
        raw: None,
        raw_type: None,
        unwrapped: false,
    };
    let (status, body) = run(&mut ctx);
    let mut headers = ctx.headers;
    if status == 204 {
        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        return ApiResponse {
            status,
            headers,
            body: Vec::new(),
        };
    }
    ApiResponse {
        status,
        headers,
        body,
    }
}

fn json_out(ctx: &mut Ctx<'_>, status: u16, v: &Json, pretty: bool) -> (u16, Vec<u8>) {
    ctx.set_header("Content-Type", Some("application/json"));
    (status, to_json_bytes(v, pretty))
}

fn run(ctx: &mut Ctx<'_>) -> (u16, Vec<u8>) {
    let cfg = ctx.cfg();
    let req = ctx.req;
    let mut method = req.method.to_uppercase();
    let mut early: Option<ApiError> = None;

    // API rate limit per user, kept in the one-time-key store as Roundup
    // keeps it (`ApiLimit-<userid>`, records living an hour)
    if let Some(limit) = RateLimit::new(
        cfg.int("web", "api_calls_per_interval", 0),
        cfg.int("web", "api_interval_in_sec", 3600),
    ) {
        let key = format!("ApiLimit-{}", ctx.perms.userid);
        let st = match ctx
            .api
            .with_otks(|otks| ratelimit::hit(otks, &key, &limit, true, 3600.0))
        {
            Ok(st) => st,
            Err(e) => {
                let v = error_obj(500, &format!("the API rate limit could not be kept: {e}"));
                return json_out(ctx, 500, &v, true);
            }
        };
        if st.rejected {
            for (k, v) in &st.headers {
                ctx.set_header(k, Some(v));
            }
            let retry = st.retry_after.to_string();
            ctx.set_header("Retry-After", Some(&retry));
            ctx.set_header("Access-Control-Expose-Headers", Some(EXPOSE_HEADERS));
            let mut e = error_obj(
                429,
                &format!("Api rate limits exceeded. Please wait: {retry} seconds."),
            );
            if let Some(Json::Object(inner)) = e.get_mut("error") {
                inner.insert("source".into(), Json::from("ApiRateLimiter"));
            }
            return json_out(ctx, 429, &e, true);
        }
        for (k, v) in &st.headers {
            if k != "Retry-After" {
                ctx.set_header(k, Some(v));
            }
        }
    }

    if let Some(ov) = req.header("x-http-method-override") {
        if method == "POST" {
            method = ov.trim().to_uppercase();
        } else {
            early = Some(ApiError::new(
                400,
                format!("X-HTTP-Method-Override: {ov} must be used with POST method not {method}."),
            ));
        }
    }

    // output format from the path extension or the Accept header
    let mut path = req.path.trim_matches('/').to_string();
    let mut format_json = true;
    let mut version_error = None;
    match negotiate(ctx, &mut path) {
        Ok(Some(mime)) => {
            format_json = false;
            ctx.raw_type = Some(mime);
        }
        Ok(None) => {}
        Err(e) => version_error = Some(e),
    }
    if let Some(e) = version_error {
        if early.is_none() {
            early = Some(e);
        }
    }

    if method == "OPTIONS" {
        ctx.set_header(
            "Access-Control-Allow-Headers",
            Some("Content-Type, Authorization, X-Requested-With, X-HTTP-Method-Override"),
        );
        ctx.set_header(
            "Access-Control-Allow-Methods",
            Some("HEAD, OPTIONS, GET, POST, PUT, DELETE, PATCH"),
        );
        ctx.set_header("Access-Control-Max-Age", Some("86400"));
    }
    ctx.set_header("Vary", Some("Origin"));
    ctx.set_header("Access-Control-Expose-Headers", Some(EXPOSE_HEADERS));
    let origin = req.header("origin").map(str::to_string);
    ctx.set_header("Access-Control-Allow-Origin", origin.as_deref());
    if csrf::origin_ok(
        &ctx.api.state.csrf,
        &ctx.base,
        &req.method.to_uppercase(),
        origin.as_deref(),
        true,
        true,
    ) {
        ctx.set_header("Access-Control-Allow-Credentials", Some("true"));
    }
    ctx.set_header("Allow", Some("OPTIONS, GET, POST, PUT, DELETE, PATCH"));

    let payload = match parse_payload(req, &req.method.to_uppercase()) {
        Ok(p) => p,
        Err(e) => {
            if e.status == 415 && method == "PATCH" {
                ctx.set_header(
                    "Accept-Patch",
                    Some("application/json, application/x-www-form-urlencoded"),
                );
            }
            if early.is_none() {
                early = Some(e);
            }
            Payload::default()
        }
    };
    let pretty = payload
        .text("@pretty")
        .is_none_or(|v| v.to_lowercase() != "false");
    if let Some(v) = payload.text("@apiver") {
        if v.trim().parse::<i64>().ok() != Some(1) && early.is_none() {
            early = Some(ApiError::new(
                406,
                format!(
                    "Unrecognized api version: {v}. See /rest without specifying api version for supported versions."
                ),
            ));
        }
    }

    let result = match early {
        Some(e) => Err(e),
        None => route(ctx, &method, &path, &payload),
    };
    match result {
        Ok((status, data)) => {
            if !format_json && (200..300).contains(&status) {
                if let Some(raw) = ctx.raw.take() {
                    let mime = ctx.raw_type.clone().unwrap_or_default();
                    ctx.set_header("Content-Type", Some(&mime));
                    ctx.set_header("ETag", None);
                    return (status, raw);
                }
            }
            if ctx.unwrapped {
                return json_out(ctx, status, &data, pretty);
            }
            let mut env = Map::new();
            env.insert("data".into(), data);
            json_out(ctx, status, &Json::Object(env), pretty)
        }
        Err(e) => {
            if method == "OPTIONS" {
                // what the resource allows, even when asking failed
                let allow = allowed_for(ctx, &path);
                ctx.set_header("Allow", Some(&allow));
            }
            let v = error_obj(e.status, &e.msg);
            json_out(ctx, e.status, &v, pretty)
        }
    }
}

/// The methods of a path in `Allow`'s usual order; a protected property
/// of an item is read only.
fn allowed_for(ctx: &Ctx<'_>, path: &str) -> String {
    let segs: Vec<&str> = path.split('/').collect();
    if let ["data", class, _, attr] = segs.as_slice() {
        let protected = ctx
            .db
            .class(class)
            .is_ok_and(|c| !c.props.contains_key(*attr) && c.prop(attr).is_some());
        if protected {
            return "OPTIONS, GET".into();
        }
    }
    let mut methods: Vec<&str> = allowed_methods(path).split(", ").collect();
    // OPTIONS first, then GET, then the rest as listed
    methods.sort_by_key(|m| match *m {
        "OPTIONS" => 0,
        "GET" => 1,
        _ => 2,
    });
    methods.join(", ")
}

/// Content negotiation. `Ok(Some(mime))` when raw file data is wanted,
/// `Ok(None)` for JSON; the path loses a `.json` extension.
fn negotiate(ctx: &mut Ctx<'_>, path: &mut String) -> Result<Option<String>, ApiError> {
    let last = path.rsplit('/').next().unwrap_or("");
    if let Some(dot) = last.rfind('.') {
        let ext = &last[dot + 1..];
        if !ext.is_empty() && ext.len() < 11 && !ext.contains('/') {
            if ext != "json" {
                return Err(ApiError::new(
                    406,
                    format!(
                        "Content type '{ext}' requested in URL is not available.\nAcceptable types: json\n"
                    ),
                ));
            }
            let new_len = path.len() - ext.len() - 1;
            path.truncate(new_len);
            return Ok(None);
        }
    }
    let accept = ctx.req.header("accept").unwrap_or("").to_string();
    let ranges = parse_accept(&accept).map_err(|e| {
        ApiError::new(
            400,
            format!(
                "Unable to parse Accept Header. {e}. Acceptable types: */*, application/*, application/json"
            ),
        )
    })?;
    if ranges.is_empty() {
        return Ok(None);
    }
    let mut binary_types: Option<Vec<String>> = None;
    if path.ends_with("/binary_content") {
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() >= 3 {
            let (cls, id) = (parts[parts.len() - 3], parts[parts.len() - 2]);
            let declared = ctx
                .db
                .class(cls)
                .ok()
                .filter(|c| c.prop("type").is_some())
                .and_then(|_| ctx.db.get(cls, id, "type").ok());
            match declared {
                Some(t) => {
                    let t = t.and_then(|v| v.as_str().map(str::to_string));
                    binary_types = Some(content_types_for(t.as_deref(), DEFAULT_TEXT_MIME));
                }
                None => return Ok(None),
            }
        }
    }
    for r in &ranges {
        if r.media_type == "application/json" || r.media_type == "application/*" {
            if let Some(v) = r.param("version") {
                if v.parse::<i64>().ok() != Some(1) {
                    return Err(ApiError::new(
                        406,
                        format!(
                            "Unrecognized api version: {v}. See /rest without specifying api version for supported versions."
                        ),
                    ));
                }
            }
            return Ok(None);
        }
        match &binary_types {
            None => {
                if r.media_type == "*/*" {
                    return Ok(None);
                }
            }
            Some(types) => {
                if types.contains(&r.media_type) {
                    ctx.set_header("X-Content-Type-Options", Some("nosniff"));
                    let chosen = if r.media_type.contains('*') {
                        types[0].clone()
                    } else {
                        r.media_type.clone()
                    };
                    return Ok(Some(chosen));
                }
            }
        }
    }
    let mut acceptable = match binary_types {
        Some(t) => t,
        None => vec![
            "application/*".to_string(),
            "application/json".to_string(),
            "*/*".to_string(),
        ],
    };
    acceptable.sort();
    Err(ApiError::new(
        406,
        format!(
            "Requested content type(s) '{accept}' not available.\nAcceptable mime types are: {}",
            acceptable.join(", ")
        ),
    ))
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '_' || ".-~!$&'()*+,;=:%".contains(c))
}

fn not_allowed(ctx: &mut Ctx<'_>, method: &str, allowed: &[&str]) -> Out {
    let mut a: Vec<&str> = allowed.to_vec();
    a.sort();
    let list = a.join(", ");
    ctx.set_header("Allow", Some(&list));
    Err(ApiError::new(
        405,
        format!("Method {method} not allowed. Allowed: {list}"),
    ))
}

/// The methods a path answers (for the `Allow` header of a 405 given
/// before routing), in the order `not_allowed` lists them.
pub(crate) fn allowed_methods(path: &str) -> &'static str {
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".json").unwrap_or(path);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        [] | ["data"] => "GET, OPTIONS",
        ["summary"] | ["openapi"] | ["jwt", "validate"] | ["data", "user", "roles"] => "GET",
        ["jwt", "issue"] | ["data", _, "@poe"] | ["data", _, "@poe", _] => "POST",
        ["data", _] => "GET, OPTIONS, POST",
        ["data", _, _] | ["data", _, _, _] => "DELETE, GET, OPTIONS, PATCH, PUT",
        _ => "GET, OPTIONS",
    }
}

fn route(ctx: &mut Ctx<'_>, method: &str, path: &str, p: &Payload) -> Out {
    let segs: Vec<&str> = if path.is_empty() {
        Vec::new()
    } else {
        path.split('/').collect()
    };
    let nomatch = || Err(ApiError::new(404, "Nothing matches the given URI"));
    match segs.as_slice() {
        [] => match method {
            "GET" => describe(ctx),
            "OPTIONS" => options(ctx, "OPTIONS, GET"),
            _ => not_allowed(ctx, method, &["GET", "OPTIONS"]),
        },
        ["data"] => match method {
            "GET" => data_index(ctx),
            "OPTIONS" => options(ctx, "OPTIONS, GET"),
            _ => not_allowed(ctx, method, &["GET", "OPTIONS"]),
        },
        ["summary"] => match method {
            "GET" => summary(ctx),
            _ => not_allowed(ctx, method, &["GET"]),
        },
        ["openapi"] => match method {
            "GET" => {
                ctx.unwrapped = true;
                let jwt = super::auth::jwt_enabled(ctx.tracker);
                Ok((
                    200,
                    super::openapi::openapi_document(ctx.db, &ctx.base, jwt),
                ))
            }
            _ => not_allowed(ctx, method, &["GET"]),
        },
        ["jwt", "issue"] => match method {
            "POST" => {
                super::auth::issue_jwt(ctx.tracker, ctx.db, &ctx.perms, ctx.req, p, &ctx.base)
            }
            _ => not_allowed(ctx, method, &["POST"]),
        },
        ["jwt", "validate"] => match method {
            "GET" => super::auth::validate_jwt(ctx.tracker, p, &ctx.base),
            _ => not_allowed(ctx, method, &["GET"]),
        },
        ["data", "user", "roles"] => match method {
            "GET" => roles(ctx),
            _ => not_allowed(ctx, method, &["GET"]),
        },
        ["data", class] if valid_segment(class) => match method {
            "GET" => get_collection(ctx, class, p),
            "POST" => post_collection(ctx, class, p),
            "DELETE" => Err(ApiError::new(403, "Deletion of a whole class disabled")),
            "OPTIONS" => {
                need_class(ctx, class)?;
                options(ctx, "OPTIONS, GET, POST")
            }
            _ => not_allowed(ctx, method, &["GET", "POST", "DELETE", "OPTIONS"]),
        },
        ["data", class, "@poe"] if valid_segment(class) => match method {
            "POST" => poe_token(ctx, class, p),
            _ => not_allowed(ctx, method, &["POST"]),
        },
        ["data", class, "@poe", token] if valid_segment(class) && valid_segment(token) => {
            match method {
                "POST" => poe_post(ctx, class, token, p),
                _ => not_allowed(ctx, method, &["POST"]),
            }
        }
        ["data", class, id] if valid_segment(class) && valid_segment(id) => match method {
            "GET" => get_element(ctx, class, id, p),
            "PUT" => put_element(ctx, class, id, p),
            "DELETE" => delete_element(ctx, class, id, p),
            "PATCH" => patch_element(ctx, class, id, p),
            "OPTIONS" => {
                need_class(ctx, class)?;
                ctx.set_header(
                    "Accept-Patch",
                    Some("application/x-www-form-urlencoded, multipart/form-data"),
                );
                options(ctx, "OPTIONS, GET, PUT, DELETE, PATCH")
            }
            _ => not_allowed(ctx, method, &["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        },
        ["data", class, id, attr]
            if valid_segment(class) && valid_segment(id) && valid_segment(attr) =>
        {
            match method {
                "GET" => get_attribute(ctx, class, id, attr),
                "PUT" => put_attribute(ctx, class, id, attr, p),
                "DELETE" => delete_attribute(ctx, class, id, attr, p),
                "PATCH" => patch_attribute(ctx, class, id, attr, p),
                "OPTIONS" => options_attribute(ctx, class, attr),
                _ => not_allowed(ctx, method, &["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
            }
        }
        _ => nomatch(),
    }
}

fn options(ctx: &mut Ctx<'_>, allow: &str) -> Out {
    ctx.set_header("Allow", Some(allow));
    ctx.set_header("Access-Control-Allow-Methods", Some(allow));
    Ok((204, Json::from("")))
}

fn options_attribute(ctx: &mut Ctx<'_>, class: &str, attr: &str) -> Out {
    let cls = need_class(ctx, class)?;
    if cls.props.contains_key(attr) {
        ctx.set_header(
            "Accept-Patch",
            Some("application/x-www-form-urlencoded, multipart/form-data"),
        );
        options(ctx, "OPTIONS, GET, PUT, DELETE, PATCH")
    } else if cls.prop(attr).is_some() {
        options(ctx, "OPTIONS, GET")
    } else {
        Err(ApiError::new(
            404,
            format!("Attribute {attr} not valid for Class {class}"),
        ))
    }
}

fn need_class<'d>(ctx: &Ctx<'d>, class: &str) -> Result<&'d roundup_core::ClassDef, ApiError> {
    ctx.db
        .class(class)
        .map_err(|_| ApiError::new(404, format!("Class {class} not found")))
}

fn need_item(ctx: &Ctx<'_>, class: &str, id: &str) -> Result<(), ApiError> {
    match ctx.db.has_node(class, id) {
        Ok(true) => Ok(()),
        _ => Err(ApiError::new(404, format!("no such {class} {id}"))),
    }
}

/// Map a core failure of a write to Roundup's status codes.
fn write_error(e: Error) -> ApiError {
    match e {
        Error::NoSuchNode { class, id } => ApiError::new(404, format!("no such {class} {id}")),
        Error::NoSuchClass(c) => ApiError::new(404, format!("Class {c} not found")),
        Error::Unauthorised(m) => ApiError::new(403, m),
        Error::Reject(m) => ApiError::new(405, m),
        Error::NoSuchProperty { class, prop } => {
            ApiError::new(400, format!("'{class} has no property \"{prop}\"'"))
        }
        Error::Value(m) => ApiError::new(409, m),
        other => ApiError::new(400, other.to_string()),
    }
}

/// A permission refusal of the core (`Unauthorised`) as a 403.
fn refused(e: Error) -> ApiError {
    match e {
        Error::Unauthorised(m) => ApiError::new(403, m),
        other => write_error(other),
    }
}

fn key_error(class: &str, keyprop: &str, key: &str) -> ApiError {
    ApiError::new(
        400,
        format!("'No key ({keyprop}) value \"{key}\" for \"{class}\"'"),
    )
}

// --------------------------------------------------------------------------
// values

/// A value as Roundup's JSON encoder prints a raw hyperdb value.
pub(crate) fn value_json(v: &Option<Value>) -> Json {
    match v {
        None => Json::Null,
        Some(Value::String(s)) | Some(Value::Link(s)) => Json::from(s.as_str()),
        Some(Value::Multilink(ids)) => Json::from(ids.clone()),
        Some(Value::Date(d)) => Json::from(d.to_string()),
        Some(Value::Interval(i)) => Json::from(i.to_string()),
        Some(Value::Password(p)) => Json::from(hidden_password(Some(p.scheme().name()))),
        Some(Value::Boolean(b)) => Json::from(*b),
        Some(Value::Number(n)) => serde_json::Number::from_f64(*n)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Some(Value::Integer(i)) => Json::from(*i),
    }
}

fn hidden_password(scheme: Option<&str>) -> String {
    format!("[password hidden scheme {}]", scheme.unwrap_or("PBKDF2"))
}

/// Python's type name of a raw value (the `type` member of attribute GETs).
fn python_type(v: &Option<Value>) -> &'static str {
    match v {
        None => "<class 'NoneType'>",
        Some(Value::String(_)) | Some(Value::Link(_)) => "<class 'str'>",
        Some(Value::Multilink(_)) => "<class 'list'>",
        Some(Value::Date(_)) => "<class 'roundup.date.Date'>",
        Some(Value::Interval(_)) => "<class 'roundup.date.Interval'>",
        Some(Value::Password(_)) => "<class 'roundup.password.Password'>",
        Some(Value::Boolean(_)) => "<class 'bool'>",
        Some(Value::Number(_)) => "<class 'float'>",
        Some(Value::Integer(_)) => "<class 'int'>",
    }
}

/// The item's ETag: an HMAC-MD5 (keyed with `[web] secret_key`) over every
/// property value, protected ones and file content included, in quotes.
pub(crate) fn etag(db: &Db, secret: &str, class: &str, id: &str) -> Result<String, ApiError> {
    let cls = db
        .class(class)
        .map_err(|_| ApiError::new(404, format!("Class {class} not found")))?;
    let mut names = cls.prop_names(true);
    names.sort();
    let mut mac = HmacMd5::new_from_slice(secret.as_bytes())
        .map_err(|e| ApiError::new(500, format!("cannot key the ETag HMAC: {e}")))?;
    mac.update(b"json");
    for n in names {
        if cls.prop(&n).is_some_and(|p| p.is_computed()) {
            continue;
        }
        let v = if cls.is_file_content(&n) {
            match db.file_content(class, id) {
                Ok(c) => {
                    mac.update(b"content=");
                    mac.update(&c);
                    mac.update(b"\0");
                    continue;
                }
                Err(_) => None,
            }
        } else {
            db.get(class, id, &n).map_err(|e| match e {
                Error::NoSuchNode { .. } => ApiError::new(404, format!("no such {class} {id}")),
                other => ApiError::new(400, other.to_string()),
            })?
        };
        let text = match &v {
            None => "None".to_string(),
            Some(Value::Password(p)) => p.as_str().to_string(),
            Some(Value::Multilink(ids)) => format!("{ids:?}"),
            Some(other) => format!("{:?}:{other}", other.ptype()),
        };
        mac.update(n.as_bytes());
        mac.update(b"=");
        mac.update(text.as_bytes());
        mac.update(b"\0");
    }
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("\"{hex}\""))
}

/// Roundup's `If-Match` / `@etag` check: every supplied tag (with any
/// `-gzip` style suffix removed) must match, and at least one must be given.
fn require_etag(ctx: &Ctx<'_>, class: &str, id: &str, p: &Payload) -> Result<(), ApiError> {
    let current = etag(ctx.db, &ctx.secret(), class, id)?;
    let mut supplied: Vec<String> = Vec::new();
    if let Some(e) = p.text("@etag") {
        supplied.push(e);
    }
    if let Some(e) = ctx.req.header("if-match") {
        supplied.push(e.to_string());
    }
    let mut matched = false;
    for tag in supplied {
        let tag = tag.trim();
        let clean = match tag.rfind('-') {
            Some(i) => format!("{}\"", &tag[..i]),
            None => tag.to_string(),
        };
        if clean != current {
            matched = false;
            break;
        }
        matched = true;
    }
    if matched {
        Ok(())
    } else {
        Err(ApiError::new(
            412,
            "If-Match is missing or does not match. Retrieve asset and retry modification if valid.",
        ))
    }
}

/// Check a list of (possibly dotted) property names: each must exist,
/// Multilinks may not be traversed, and every step needs View permission.
fn transitive_props(ctx: &Ctx<'_>, class: &str, props: &[String]) -> Result<Vec<String>, ApiError> {
    let mut out = Vec::new();
    for p in props {
        if p.contains('.') {
            let mut cn: Option<String> = Some(class.to_string());
            let parts: Vec<&str> = p.split('.').collect();
            for (i, pn) in parts.iter().enumerate() {
                let Some(c) = cn.clone() else {
                    let base = parts[..i].join(".");
                    return Err(ApiError::new(
                        400,
                        format!("Property {base} can not be dereferenced in {p}."),
                    ));
                };
                let cls = need_class(ctx, &c)?;
                let prop = cls
                    .prop(pn)
                    .ok_or_else(|| ApiError::new(400, format!("'Unknown property: {p}'")))?;
                if prop.ptype == PropType::Multilink {
                    return Err(ApiError::new(
                        400,
                        format!("Multilink Traversal not allowed: {p}"),
                    ));
                }
                if !ctx.has("View", Some(&c), Some(pn), None) {
                    return Err(ApiError::new(
                        403,
                        format!("User does not have permission on \"{c}.{pn}\""),
                    ));
                }
                cn = prop.link_class.clone();
            }
        } else {
            let cls = need_class(ctx, class)?;
            if cls.prop(p).is_none() {
                return Err(ApiError::new(400, format!("'Unknown property: {p}'")));
            }
        }
        out.push(p.clone());
    }
    Ok(out)
}

fn split_fields(value: &str) -> Vec<String> {
    let f: Vec<&str> = value.split(',').collect();
    let f = if f.len() == 1 {
        value.split(':').collect()
    } else {
        f
    };
    f.into_iter().map(str::to_string).collect()
}

/// Render the requested properties of one item (Roundup's `format_item`):
/// properties the caller may not view are silently left out.
fn format_item(
    ctx: &Ctx<'_>,
    class: &str,
    id: &str,
    props: &BTreeSet<String>,
    verbose: i64,
) -> Result<Map<String, Json>, ApiError> {
    let db = ctx.db;
    let data_path = ctx.data_path();
    let mut out = Map::new();
    'props: for pn in props {
        let mut cn = class.to_string();
        let mut working = id.to_string();
        let mut value: Option<Value> = None;
        let mut prop = None;
        let parts: Vec<&str> = pn.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if !ctx.has("View", Some(&cn), Some(part), Some(&working)) {
                continue 'props;
            }
            let cls = need_class(ctx, &cn)?;
            let p = cls
                .prop(part)
                .ok_or_else(|| ApiError::new(400, format!("'{part}' field not valid")))?;
            let v = db
                .get(&cn, &working, part)
                .map_err(|e| ApiError::new(400, e.to_string()))?;
            if v.is_none() {
                value = None;
                prop = None;
                break;
            }
            prop = Some(p.clone());
            value = v;
            if i + 1 < parts.len() {
                match (&value, &p.link_class) {
                    (Some(Value::Link(next)), Some(target)) => {
                        working = next.clone();
                        cn = target.clone();
                    }
                    _ => {
                        return Err(ApiError::new(
                            400,
                            format!("Property {pn} can not be dereferenced."),
                        ))
                    }
                }
            }
        }
        let rendered = match (&prop, &value) {
            (Some(p), Some(v)) if p.is_pointer() => {
                let target = p.link_class.clone().unwrap_or_default();
                let cp = format!("{data_path}/{target}/");
                let label = if verbose > 1 {
                    ctx.db.class(&target).ok().map(|c| c.label_prop(false))
                } else {
                    None
                };
                let one = |tid: &str| -> Json {
                    let mut d = Map::new();
                    d.insert("id".into(), Json::from(tid));
                    d.insert("link".into(), Json::from(format!("{cp}{tid}")));
                    if let Some(l) = &label {
                        if ctx.has("View", Some(&target), Some(l), Some(tid)) {
                            let lv = db.get(&target, tid, l).ok().flatten();
                            d.insert(l.clone(), value_json(&lv));
                        }
                    }
                    Json::Object(d)
                };
                match v {
                    Value::Link(tid) if verbose > 0 => one(tid),
                    Value::Multilink(ids) if verbose > 0 && !ids.is_empty() => {
                        Json::Array(ids.iter().map(|i| one(i)).collect())
                    }
                    other => value_json(&Some(other.clone())),
                }
            }
            (Some(p), v) if p.ptype == PropType::String && pn == "content" => {
                if verbose < 3 {
                    let mut d = Map::new();
                    d.insert(
                        "link".into(),
                        Json::from(format!("{}{class}{id}/", ctx.base)),
                    );
                    Json::Object(d)
                } else {
                    match db.file_content(class, id) {
                        Ok(bytes) => match String::from_utf8(bytes) {
                            Ok(s) => Json::from(s),
                            Err(e) => {
                                let digest = Md5::digest(e.as_bytes());
                                let hex: String =
                                    digest.iter().map(|b| format!("{b:02x}")).collect();
                                Json::from(format!(
                                    "{class}{id} is not text, retrieve using binary_content property. mdsum: {hex}"
                                ))
                            }
                        },
                        Err(_) => value_json(v),
                    }
                }
            }
            (Some(p), None) if p.ptype == PropType::Password => Json::from(hidden_password(None)),
            (_, v) => value_json(v),
        };
        out.insert(pn.clone(), rendered);
    }
    Ok(out)
}

fn parse_int(name: &str, v: &str) -> Result<i64, ApiError> {
    v.trim().parse::<i64>().map_err(|_| {
        ApiError::new(
            400,
            format!("When using {name}: invalid literal for int() with base 10: '{v}'"),
        )
    })
}

// --------------------------------------------------------------------------
// endpoints

fn describe(ctx: &mut Ctx<'_>) -> Out {
    let rest = ctx.rest_path();
    let links: Vec<Json> = [("self", ""), ("data", "/data"), ("summary", "/summary")]
        .iter()
        .map(|(rel, p)| {
            let mut m = Map::new();
            m.insert("uri".into(), Json::from(format!("{rest}{p}")));
            m.insert("rel".into(), Json::from(*rel));
            Json::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("default_version".into(), Json::from(1));
    m.insert("supported_versions".into(), Json::from(vec![1]));
    m.insert("links".into(), Json::Array(links));
    Ok((200, Json::Object(m)))
}

fn data_index(ctx: &mut Ctx<'_>) -> Out {
    let mut names: Vec<String> = ctx.db.schema().classes.keys().cloned().collect();
    names.sort();
    let mut m = Map::new();
    for c in names {
        if ctx.has("View", Some(&c), None, None) {
            let mut l = Map::new();
            l.insert(
                "link".into(),
                Json::from(format!("{}/{c}", ctx.data_path())),
            );
            m.insert(c, Json::Object(l));
        }
    }
    Ok((200, Json::Object(m)))
}

fn roles(ctx: &mut Ctx<'_>) -> Out {
    if !ctx.perms.has_role("admin") {
        return Err(ApiError::new(
            403,
            "User does not have permission on \"user.roles\"",
        ));
    }
    ctx.set_header("Allow", Some("GET"));
    let coll: Vec<Json> = ctx
        .db
        .security()
        .roles()
        .map(|r| {
            let mut m = Map::new();
            m.insert("id".into(), Json::from(r.name.clone()));
            m.insert("name".into(), Json::from(r.name.clone()));
            Json::Object(m)
        })
        .collect();
    let mut m = Map::new();
    m.insert("collection".into(), Json::Array(coll));
    Ok((200, Json::Object(m)))
}

fn summary(ctx: &mut Ctx<'_>) -> Out {
    let db = ctx.db;
    if !ctx.has("View", Some("issue"), None, None) && !ctx.has("View", Some("status"), None, None) {
        return Err(ApiError::new(403, "Permission to view summary denied"));
    }
    if db.class("issue").is_err() || db.class("status").is_err() {
        return Err(ApiError::new(
            404,
            "The summary needs the issue and status classes",
        ));
    }
    let week_ago = roundup_core::date::Date::now()
        .sub(&roundup_core::date::Interval::from_seconds(7 * 24 * 3600));
    let spec = FilterSpec {
        filterspec: vec![("activity".into(), SpecValue::One("-1w;".into()))],
        ..FilterSpec::default()
    };
    let ids = db
        .filter("issue", &spec)
        .map_err(|e| ApiError::new(400, e.to_string()))?;
    // (Roundup lists every recent issue here; we keep to those the caller
    // may view)
    let ids = ctx.perms.visible(db, "issue", ids);
    let mut created = Vec::new();
    let mut by_status: Map<String, Json> = Map::new();
    let mut messages: Vec<(i64, Json)> = Vec::new();
    for id in ids {
        let status = match db.get("issue", &id, "status") {
            Ok(Some(Value::Link(s))) => db.get("status", &s, "name").ok().flatten(),
            _ => None,
        };
        let status_name = match status {
            Some(Value::String(s)) => s,
            _ => "None".to_string(),
        };
        let title = db.get("issue", &id, "title").ok().flatten();
        let mut obj = Map::new();
        obj.insert("id".into(), Json::from(id.clone()));
        obj.insert(
            "link".into(),
            Json::from(format!("{}/data/issue/{id}", ctx.rest_path())),
        );
        obj.insert("title".into(), value_json(&title));
        let obj = Json::Object(obj);
        let mut num = 0;
        for entry in db.history("issue", &id).unwrap_or_default() {
            if entry.date.timestamp() < week_ago.timestamp() {
                continue;
            }
            if entry.action == "create" {
                created.push(obj.clone());
            } else if entry.action == "set" {
                if let roundup_core::pyrepr::PyValue::Dict(items) = &entry.params {
                    if items.iter().any(|(k, _)| {
                        matches!(k, roundup_core::pyrepr::PyValue::Str(s) if s == "messages")
                    }) {
                        num += 1;
                    }
                }
            }
        }
        if let Some(Json::Array(list)) = by_status.get_mut(&status_name) {
            list.push(obj.clone());
        } else {
            by_status.insert(status_name, Json::Array(vec![obj.clone()]));
        }
        messages.push((num, obj));
    }
    let most: Vec<Json> = messages
        .into_iter()
        .take(10)
        .map(|(n, o)| Json::Array(vec![Json::from(n), o]))
        .collect();
    let mut m = Map::new();
    m.insert("created".into(), Json::Array(created));
    m.insert("summary".into(), Json::Object(by_status));
    m.insert("most_discussed".into(), Json::Array(most));
    Ok((200, Json::Object(m)))
}

fn sort_spec(
    ctx: &Ctx<'_>,
    class: &str,
    value: &str,
) -> Result<Vec<(Option<roundup_core::filter::Direction>, String)>, ApiError> {
    use roundup_core::filter::Direction;
    let mut out = Vec::new();
    for p in value.split(',') {
        if p.is_empty() {
            return Err(ApiError::new(
                400,
                format!("Empty property for class {class}."),
            ));
        }
        let (dir, pn) = match p.as_bytes()[0] {
            b'-' => (Direction::Desc, &p[1..]),
            b'+' => (Direction::Asc, &p[1..]),
            _ => (Direction::Asc, p),
        };
        if !ctx.perms.may_search(ctx.db, class, pn) {
            return Err(ApiError::new(
                403,
                format!("User does not have search permission on \"{class}.{pn}\""),
            ));
        }
        out.push((Some(dir), pn.to_string()));
    }
    Ok(out)
}

fn get_collection(ctx: &mut Ctx<'_>, class: &str, p: &Payload) -> Out {
    let cls = need_class(ctx, class)?.clone();
    if !ctx.has("View", Some(class), None, None) {
        return Err(ApiError::new(
            403,
            format!("Permission to view {class} denied"),
        ));
    }
    let db = ctx.db;
    let mut spec = FilterSpec::default();
    let mut filter_order: Vec<String> = Vec::new();
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    let mut exact: HashMap<String, Vec<String>> = HashMap::new();
    let mut exact_order: Vec<String> = Vec::new();
    let mut page_size: Option<i64> = None;
    let mut page_index: i64 = 1;
    let mut verbose = 1;
    let mut display: BTreeSet<String> = BTreeSet::new();
    for (key, fv) in &p.fields {
        let value = fv.text();
        if let Some(which) = key.strip_prefix("@page_") {
            let n = parse_int(&format!("@page_{which}"), &value)?;
            match which {
                "size" => page_size = Some(n),
                "index" => page_index = n,
                _ => {}
            }
        } else if key == "@verbose" {
            verbose = parse_int("@verbose", &value)?;
        } else if key == "@fields" || key == "@attrs" {
            display.extend(transitive_props(ctx, class, &split_fields(&value))?);
        } else if key == "@sort" {
            spec.sort.extend(sort_spec(ctx, class, &value)?);
        } else if key == "@group" {
            spec.group.extend(sort_spec(ctx, class, &value)?);
        } else if key.starts_with('@') {
            // other controls (@apiver, @pretty, ...) handled elsewhere
        } else {
            let (mut key, mut is_exact) = (key.as_str(), false);
            if let Some(k) = key.strip_suffix(':') {
                key = k;
                is_exact = true;
            } else if let Some(k) = key.strip_suffix('~') {
                key = k;
            }
            let first = key.split('.').next().unwrap_or("");
            if cls.prop(first).is_none() {
                return Err(ApiError::new(
                    400,
                    format!("Field {first} is not valid for {class} class."),
                ));
            }
            transitive_props(ctx, class, &[key.to_string()])?;
            if !ctx.perms.may_search(db, class, key) {
                return Err(ApiError::new(
                    403,
                    format!("User does not have search permission on \"{class}.{key}\""),
                ));
            }
            // the property at the end of the path
            let mut lcls = cls.clone();
            let mut prop = None;
            for part in key.split('.') {
                let pr = lcls.prop(part).cloned();
                if let Some(t) = pr.as_ref().and_then(|x| x.link_class.clone()) {
                    if let Ok(c) = db.class(&t) {
                        lcls = c.clone();
                    }
                }
                prop = pr;
            }
            let Some(prop) = prop else {
                return Err(ApiError::new(400, format!("'Unknown property: {key}'")));
            };
            if prop.is_pointer() {
                let vals = filters.entry(key.to_string()).or_default();
                if !filter_order.iter().any(|k| k == key) {
                    filter_order.push(key.to_string());
                }
                let target = prop.link_class.clone().unwrap_or_default();
                for item in value.split(',') {
                    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                    let dig = digits(item)
                        || (item.len() > 1
                            && (item.starts_with('-') || item.starts_with('+'))
                            && digits(&item[1..]));
                    if prop.try_id_parsing && dig {
                        vals.push(item.to_string());
                    } else {
                        let tcls = db
                            .class(&target)
                            .map_err(|_| ApiError::new(404, format!("Class {target} not found")))?;
                        let keyprop = tcls.key.clone().unwrap_or_default();
                        match db.lookup(&target, item) {
                            Ok(id) => vals.push(id),
                            Err(_) => return Err(key_error(&target, &keyprop, item)),
                        }
                    }
                }
            } else {
                let use_exact = is_exact && prop.ptype == PropType::String;
                let (map, order) = if use_exact {
                    (&mut exact, &mut exact_order)
                } else {
                    (&mut filters, &mut filter_order)
                };
                if !order.iter().any(|k| k == key) {
                    order.push(key.to_string());
                }
                map.entry(key.to_string()).or_default().push(value.clone());
            }
        }
    }
    let to_spec = |order: &[String], map: &HashMap<String, Vec<String>>, pointer_many: bool| {
        order
            .iter()
            .filter_map(|k| {
                let v = map.get(k)?;
                let is_pointer = cls_prop_is_pointer(db, class, k);
                Some((
                    k.clone(),
                    if v.len() == 1 && !(pointer_many && is_pointer) {
                        SpecValue::One(v[0].clone())
                    } else {
                        SpecValue::Many(v.clone())
                    },
                ))
            })
            .collect::<Vec<_>>()
    };
    spec.filterspec = to_spec(&filter_order, &filters, true);
    spec.exact_match = to_spec(&exact_order, &exact, false);
    let mut offset = 0u64;
    if let Some(size) = page_size {
        if size > 0 {
            if size as u64 >= MAX_RESPONSE_ROW_SIZE {
                return Err(ApiError::new(
                    400,
                    format!(
                        "Page size {size} must be less than admin limit on query result size: {MAX_RESPONSE_ROW_SIZE}."
                    ),
                ));
            }
            if page_index > 1 {
                // SQL offsets are signed 64-bit numbers
                offset = (page_index as u64 - 1)
                    .saturating_mul(size as u64)
                    .min(i64::MAX as u64);
                spec.offset = Some(offset);
            }
            spec.limit = Some(MAX_RESPONSE_ROW_SIZE);
        }
    } else {
        spec.limit = Some(MAX_RESPONSE_ROW_SIZE);
    }
    let page = page_size.filter(|s| *s > 0).map(|s| s as u64);
    // `result_len`: how many visible items follow the offset (Roundup
    // counts them all to report the total and whether there is a next
    // page); only one page of them is formatted.
    let (ids, result_len, overflow) = match page {
        Some(size) if ctx.perms.has_unconditional(db, "View", class) => {
            // every match is visible: count in SQL, fetch one page
            let count = db
                .filter_count(class, &spec)
                .map_err(|e| ApiError::new(400, e.to_string()))?;
            let following = count.saturating_sub(offset);
            spec.limit = Some(size);
            let ids = db
                .filter(class, &spec)
                .map_err(|e| ApiError::new(400, e.to_string()))?;
            (
                ids,
                following.min(MAX_RESPONSE_ROW_SIZE) as i64,
                following >= MAX_RESPONSE_ROW_SIZE,
            )
        }
        _ => {
            let ids = db
                .filter(class, &spec)
                .map_err(|e| ApiError::new(400, e.to_string()))?;
            let overflow = ids.len() as u64 == MAX_RESPONSE_ROW_SIZE;
            let ids = ctx.perms.visible(db, class, ids);
            let len = ids.len() as i64;
            (ids, len, overflow)
        }
    };
    if verbose > 1 {
        display.insert(cls.label_prop(false));
    }
    let class_path = format!("{}/{class}/", ctx.data_path());
    let mut coll = Vec::new();
    let shown = page.map_or(usize::MAX, |s| usize::try_from(s).unwrap_or(usize::MAX));
    let ids = &ids[..ids.len().min(shown)];
    if !display.is_empty() {
        // one storage round trip for the page's rows
        let _ = db.prefetch(class, ids);
    }
    for id in ids {
        let mut r = Map::new();
        r.insert("id".into(), Json::from(id.clone()));
        r.insert("link".into(), Json::from(format!("{class_path}{id}")));
        if !display.is_empty() {
            for (k, v) in format_item(ctx, class, id, &display, verbose)? {
                r.insert(k, v);
            }
        }
        coll.push(Json::Object(r));
    }
    let total: i64 = if overflow {
        -1
    } else {
        i64::try_from(offset)
            .unwrap_or(i64::MAX)
            .saturating_add(result_len)
    };
    let mut m = Map::new();
    if let Some(size) = page_size.filter(|s| *s > 0) {
        coll.truncate(size as usize);
        m.insert("collection".into(), Json::Array(coll));
        let mut links = Map::new();
        let others: Vec<String> = p
            .fields
            .iter()
            .filter(|(n, _)| n != "@page_index")
            .map(|(n, v)| format!("{n}={}", v.text()))
            .collect();
        for rel in ["next", "prev", "self"] {
            let index = match rel {
                "next" => {
                    if size >= result_len {
                        continue;
                    }
                    page_index + 1
                }
                "prev" => {
                    if page_index <= 1 {
                        continue;
                    }
                    page_index - 1
                }
                _ => page_index,
            };
            let mut l = Map::new();
            l.insert("rel".into(), Json::from(rel));
            l.insert(
                "uri".into(),
                Json::from(format!(
                    "{}/{class}?@page_index={index}&{}",
                    ctx.data_path(),
                    others.join("&")
                )),
            );
            links.insert(rel.into(), Json::Array(vec![Json::Object(l)]));
        }
        m.insert("@links".into(), Json::Object(links));
    } else {
        m.insert("collection".into(), Json::Array(coll));
    }
    m.insert("@total_size".into(), Json::from(total));
    let t = total.to_string();
    ctx.set_header("X-Count-Total", Some(&t));
    ctx.set_header("Allow", Some("OPTIONS, GET, POST"));
    Ok((200, Json::Object(m)))
}

fn cls_prop_is_pointer(db: &Db, class: &str, path: &str) -> bool {
    let mut cn = class.to_string();
    let mut last = None;
    for part in path.split('.') {
        let Ok(c) = db.class(&cn) else { return false };
        let Some(p) = c.prop(part) else { return false };
        if let Some(t) = &p.link_class {
            cn = t.clone();
        }
        last = Some(p.is_pointer());
    }
    last.unwrap_or(false)
}

/// Resolve `/data/<class>/<id or key>` to an id.
fn resolve_item(ctx: &Ctx<'_>, class: &str, item: &str) -> Result<String, ApiError> {
    if !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(item.to_string());
    }
    let cls = need_class(ctx, class)?;
    let keyprop = cls.key.clone();
    // (Roundup falls back to the whole text when the name before `=` is
    // not the key property)
    let value = match item.split_once('=') {
        Some((k, v)) if Some(k) == keyprop.as_deref() => v,
        _ => item,
    };
    let kp = keyprop.clone().unwrap_or_default();
    if !ctx.has("View", Some(class), Some(&kp), None) {
        return Err(ApiError::new(
            403,
            format!("Permission to view {class}{item}.{kp} denied"),
        ));
    }
    if keyprop.is_none() {
        return Err(ApiError::new(404, format!("Item '{value}' not found")));
    }
    ctx.db
        .lookup(class, value)
        .map_err(|_| key_error(class, &kp, value))
}

fn get_element(ctx: &mut Ctx<'_>, class: &str, item: &str, p: &Payload) -> Out {
    let cls = need_class(ctx, class)?.clone();
    let id = resolve_item(ctx, class, item)?;
    if !ctx.has("View", Some(class), None, Some(&id)) {
        return Err(ApiError::new(
            403,
            format!("Permission to view {class}{id} denied"),
        ));
    }
    need_item(ctx, class, &id)?;
    let tag = etag(ctx.db, &ctx.secret(), class, &id)?;
    let mut props: Option<BTreeSet<String>> = None;
    let mut protected = false;
    let mut verbose = 1;
    for (key, fv) in &p.fields {
        let value = fv.text();
        match key.as_str() {
            "@fields" | "@attrs" => {
                props
                    .get_or_insert_with(BTreeSet::new)
                    .extend(transitive_props(ctx, class, &split_fields(&value))?);
            }
            "@protected" => protected = value.to_lowercase() == "true",
            "@verbose" => verbose = parse_int("@verbose", &value)?,
            _ => {}
        }
    }
    let props = match props {
        None => cls.prop_names(protected).into_iter().collect(),
        Some(mut s) => {
            if verbose > 1 {
                s.insert(cls.label_prop(false));
            }
            s
        }
    };
    let attrs = format_item(ctx, class, &id, &props, verbose)?;
    let mut m = Map::new();
    m.insert("id".into(), Json::from(id.clone()));
    m.insert("type".into(), Json::from(class));
    m.insert(
        "link".into(),
        Json::from(format!("{}/{class}/{item}", ctx.data_path())),
    );
    m.insert("attributes".into(), Json::Object(attrs));
    m.insert("@etag".into(), Json::from(tag.clone()));
    ctx.set_header("ETag", Some(&tag));
    Ok((200, Json::Object(m)))
}

fn get_attribute(ctx: &mut Ctx<'_>, class: &str, id: &str, attr: &str) -> Out {
    let cls = need_class(ctx, class)?.clone();
    if !ctx.has("View", Some(class), Some(attr), Some(id)) {
        return Err(ApiError::new(
            403,
            format!("Permission to view {class}{id} {attr} denied"),
        ));
    }
    need_item(ctx, class, id)?;
    let tag = etag(ctx.db, &ctx.secret(), class, id)?;
    let (type_name, data) = if attr == "binary_content" && cls.kind == ClassKind::File {
        let bytes = ctx
            .db
            .file_content(class, id)
            .map_err(|e| ApiError::new(400, e.to_string()))?;
        let repr = roundup_core::pyrepr::repr(&roundup_core::pyrepr::PyValue::Bytes(bytes.clone()));
        ctx.raw = Some(bytes);
        ("<class 'bytes'>", Json::from(repr))
    } else {
        if cls.prop(attr).is_none() {
            return Err(ApiError::new(400, format!("Invalid attribute {attr}")));
        }
        let v = ctx
            .db
            .get(class, id, attr)
            .map_err(|e| ApiError::new(400, e.to_string()))?;
        let data = match (&v, cls.prop(attr).map(|p| p.ptype)) {
            (None, Some(PropType::Password)) => Json::from(hidden_password(None)),
            _ => value_json(&v),
        };
        (python_type(&v), data)
    };
    let mut m = Map::new();
    m.insert("id".into(), Json::from(id));
    m.insert("type".into(), Json::from(type_name));
    m.insert(
        "link".into(),
        Json::from(format!("{}/{class}/{id}/{attr}", ctx.data_path())),
    );
    m.insert("data".into(), data);
    m.insert("@etag".into(), Json::from(tag.clone()));
    ctx.set_header("ETag", Some(&tag));
    Ok((200, Json::Object(m)))
}

/// One property value from request text (Roundup's `prop_from_arg`):
/// empty text means "unset".
fn prop_from_arg(
    ctx: &Ctx<'_>,
    class: &str,
    prop: &str,
    value: &FieldValue,
    itemid: Option<&str>,
) -> Result<Option<Value>, ApiError> {
    if let FieldValue::List(items) = value {
        let target = match ctx.db.class(class).ok().and_then(|c| c.prop(prop)) {
            Some(p) if p.ptype == PropType::Multilink => p.link_class.clone().unwrap_or_default(),
            _ => {
                return Err(ApiError::new(
                    400,
                    format!("property {prop}: a list of values is only allowed for a Multilink"),
                ))
            }
        };
        // the members of a list are ids or keys, never "+id"/"-id" edits
        if let Some(item) = items.iter().find(|i| i.starts_with(['+', '-'])) {
            return Err(ApiError::new(409, format!("{target} has no node {item}")));
        }
    }
    let mut text = value.text();
    if text.is_empty() {
        return Ok(None);
    }
    if let FieldValue::File { .. } = value {
        // file uploads are passed on as they are (see `create_from`)
        return Ok(Some(Value::String(text)));
    }
    // Roundup takes a number for a Link as an id without looking it up;
    // the write then fails on the missing item with 409 (a value error),
    // while an unknown key value is a 400.
    if let Some(p) = ctx.db.class(class).ok().and_then(|c| c.prop(prop)) {
        if p.is_pointer() {
            // JSON may write a whole number as 12.0
            text = text
                .split(',')
                .map(|i| match i.trim().split_once('.') {
                    Some((n, f))
                        if !n.is_empty()
                            && n.bytes().all(|b| b.is_ascii_digit())
                            && !f.is_empty()
                            && f.bytes().all(|b| b == b'0') =>
                    {
                        n
                    }
                    _ => i,
                })
                .collect::<Vec<_>>()
                .join(",");
        }
        if p.is_pointer() && p.try_id_parsing {
            let target = p.link_class.as_deref().unwrap_or_default();
            for item in text.split(',') {
                let item = item.trim();
                let item = item
                    .strip_prefix(['+', '-'])
                    .map(str::trim_start)
                    .unwrap_or(item);
                if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                let id = item.parse::<u64>().map(|n| n.to_string());
                if !id.is_ok_and(|id| matches!(ctx.db.has_node(target, &id), Ok(true))) {
                    return Err(ApiError::new(409, format!("{target} has no node {item}")));
                }
            }
        }
    }
    ctx.db
        .raw_to_value(class, prop, &text, itemid)
        .map_err(|e| ApiError::new(400, e.to_string()))
}

/// Properties to write from the request's data fields (Roundup's
/// `props_from_args`). Protected properties are skipped when asked to.
fn props_from_args(
    ctx: &Ctx<'_>,
    class: &str,
    p: &Payload,
    itemid: Option<&str>,
    skip_protected: bool,
) -> Result<(Values, Option<Vec<u8>>), ApiError> {
    let cls = need_class(ctx, class)?;
    if p.is_empty() {
        return Err(ApiError::new(400, "No properties found."));
    }
    let mut values: Values = Values::new();
    let mut binary = None;
    for (key, fv) in p.data_fields() {
        let declared = cls.props.contains_key(key);
        if !declared {
            if cls.prop(key).is_some() {
                if skip_protected {
                    continue;
                }
            } else {
                return Err(ApiError::new(
                    400,
                    format!("Property {key} not found in class {class}"),
                ));
            }
        }
        if let (true, FieldValue::File { data, .. }) = (cls.is_file_content(key), fv) {
            if std::str::from_utf8(data).is_err() {
                binary = Some(data.clone());
                continue;
            }
        }
        let v = prop_from_arg(ctx, class, key, fv, itemid)?;
        values.insert(key.clone(), v);
    }
    Ok((values, binary))
}

fn post_collection(ctx: &mut Ctx<'_>, class: &str, p: &Payload) -> Out {
    let cls = need_class(ctx, class)?.clone();
    ctx.perms
        .check_create_class(ctx.db, class)
        .map_err(refused)?;
    let (mut values, binary) = props_from_args(ctx, class, p, None, true)?;
    if let Some(key) = &cls.key {
        if !values.contains_key(key) {
            return Err(ApiError::new(
                400,
                format!("Must provide the '{key}' property."),
            ));
        }
    }
    let mut names: Vec<&str> = values.keys().map(String::as_str).collect();
    if binary.is_some() {
        names.push("content");
    }
    ctx.perms
        .check_create(ctx.db, class, names)
        .map_err(refused)?;
    // an empty value means "not given" on create
    values.retain(|_, v| v.is_some());
    // a FileClass item without content would have no file behind it
    if cls.kind == ClassKind::File
        && cls.props.contains_key("content")
        && binary.is_none()
        && !values.contains_key("content")
    {
        return Err(ApiError::new(400, "Must provide the 'content' property."));
    }
    let created = match binary {
        Some(data) => ctx.db.create_with_content(class, values, data),
        None => ctx.db.create(class, values),
    };
    let id = match created.and_then(|id| ctx.db.commit().map(|_| id)) {
        Ok(id) => id,
        Err(e) => {
            let _ = ctx.db.rollback();
            return Err(write_error(e));
        }
    };
    let link = format!("{}/{class}/{id}", ctx.data_path());
    ctx.set_header("Location", Some(&link));
    ctx.set_header("Allow", None);
    ctx.set_header("Access-Control-Allow-Methods", None);
    let mut m = Map::new();
    m.insert("id".into(), Json::from(id));
    m.insert("link".into(), Json::from(link));
    Ok((201, Json::Object(m)))
}

fn changed_json(changed: &Values) -> Json {
    let mut m = Map::new();
    for (k, v) in changed {
        m.insert(k.clone(), value_json(v));
    }
    Json::Object(m)
}

fn item_result(ctx: &Ctx<'_>, class: &str, id: &str, key: &str, v: Json) -> Json {
    let mut m = Map::new();
    m.insert("id".into(), Json::from(id));
    m.insert("type".into(), Json::from(class));
    m.insert(
        "link".into(),
        Json::from(format!("{}/{class}/{id}", ctx.data_path())),
    );
    m.insert(key.into(), v);
    Json::Object(m)
}

fn commit_set(ctx: &Ctx<'_>, class: &str, id: &str, values: Values) -> Result<Values, ApiError> {
    let r = ctx
        .db
        .set(class, id, values)
        .and_then(|c| ctx.db.commit().map(|_| c));
    r.map_err(|e| {
        let _ = ctx.db.rollback();
        write_error(e)
    })
}

fn put_element(ctx: &mut Ctx<'_>, class: &str, id: &str, p: &Payload) -> Out {
    need_class(ctx, class)?;
    need_item(ctx, class, id)?;
    let (values, binary) = props_from_args(ctx, class, p, Some(id), true)?;
    ctx.perms
        .check_edit(ctx.db, class, id, values.keys().map(String::as_str))
        .map_err(refused)?;
    if binary.is_some() {
        return Err(ApiError::new(
            400,
            "binary content can only be given when the file is created",
        ));
    }
    require_etag(ctx, class, id, p)?;
    let changed = commit_set(ctx, class, id, values)?;
    Ok((
        200,
        item_result(ctx, class, id, "attribute", changed_json(&changed)),
    ))
}

fn put_attribute(ctx: &mut Ctx<'_>, class: &str, id: &str, attr: &str, p: &Payload) -> Out {
    need_class(ctx, class)?;
    if !ctx.has("Edit", Some(class), Some(attr), Some(id)) {
        return Err(ApiError::new(
            403,
            format!("Permission to edit {class}{id} {attr} denied"),
        ));
    }
    let cls = need_class(ctx, class)?;
    if !cls.props.contains_key(attr) && cls.prop(attr).is_some() {
        return Err(ApiError::new(
            405,
            format!("Attribute '{attr}' can not be updated for class {class}."),
        ));
    }
    need_item(ctx, class, id)?;
    let data = p.get("data").ok_or_else(|| ApiError::new(400, "'data'"))?;
    if cls.prop(attr).is_none() {
        return Err(ApiError::new(
            405,
            format!("'{class} has no property \"{attr}\"'"),
        ));
    }
    let v = prop_from_arg(ctx, class, attr, data, Some(id))?;
    require_etag(ctx, class, id, p)?;
    let mut values = Values::new();
    values.insert(attr.to_string(), v);
    let changed = commit_set(ctx, class, id, values)?;
    Ok((
        200,
        item_result(ctx, class, id, "attribute", changed_json(&changed)),
    ))
}

fn status_ok() -> Json {
    let mut m = Map::new();
    m.insert("status".into(), Json::from("ok"));
    Json::Object(m)
}

fn delete_element(ctx: &mut Ctx<'_>, class: &str, id: &str, p: &Payload) -> Out {
    need_class(ctx, class)?;
    ctx.perms.check_retire(ctx.db, class, id).map_err(refused)?;
    require_etag(ctx, class, id, p)?;
    let r = ctx.db.retire(class, id).and_then(|_| ctx.db.commit());
    if let Err(e) = r {
        let _ = ctx.db.rollback();
        return Err(write_error(e));
    }
    Ok((200, status_ok()))
}

fn delete_attribute(ctx: &mut Ctx<'_>, class: &str, id: &str, attr: &str, p: &Payload) -> Out {
    let cls = need_class(ctx, class)?.clone();
    if !ctx.has("Edit", Some(class), Some(attr), Some(id)) {
        return Err(ApiError::new(
            403,
            format!("Permission to delete {class}{id} {attr} denied"),
        ));
    }
    let Some(prop) = cls.props.get(attr) else {
        if cls.prop(attr).is_some() {
            return Err(ApiError::new(
                405,
                format!("Attribute '{attr}' can not be deleted for class {class}."),
            ));
        }
        return Err(ApiError::new(
            400,
            format!("Attribute '{attr}' not valid for class {class}."),
        ));
    };
    if prop.required {
        return Err(ApiError::new(
            400,
            format!("Attribute '{attr}' is required by class {class} and can not be deleted."),
        ));
    }
    need_item(ctx, class, id)?;
    let empty = if prop.ptype == PropType::Multilink {
        Some(Value::Multilink(Vec::new()))
    } else {
        None
    };
    require_etag(ctx, class, id, p)?;
    let mut values = Values::new();
    values.insert(attr.to_string(), empty);
    commit_set(ctx, class, id, values)?;
    Ok((200, status_ok()))
}

/// Apply a PATCH operator to a current and a new value.
fn patch_value(
    op: &str,
    old: Option<Value>,
    new: Option<Value>,
    prop: &str,
) -> Result<Option<Value>, ApiError> {
    match op {
        "replace" => Ok(new),
        "add" => match (old, new) {
            (None, n) => Ok(n),
            (o, None) => Ok(o),
            (Some(Value::Multilink(mut a)), Some(Value::Multilink(b))) => {
                a.extend(b);
                Ok(Some(Value::Multilink(a)))
            }
            (Some(Value::String(a)), Some(Value::String(b))) => Ok(Some(Value::String(a + &b))),
            (Some(Value::Integer(a)), Some(Value::Integer(b))) => {
                Ok(Some(Value::Integer(a.saturating_add(b))))
            }
            (Some(Value::Number(a)), Some(Value::Number(b))) => Ok(Some(Value::Number(a + b))),
            (Some(o), Some(_)) => Err(ApiError::new(
                400,
                format!(
                    "PATCH operation add is not possible for {prop} ({} property)",
                    o.ptype().name()
                ),
            )),
        },
        "remove" => match (old, new) {
            (Some(Value::Multilink(_)), None) => Ok(Some(Value::Multilink(Vec::new()))),
            (Some(Value::Multilink(a)), Some(Value::Multilink(b))) => Ok(Some(Value::Multilink(
                a.into_iter().filter(|x| !b.contains(x)).collect(),
            ))),
            _ => Ok(None),
        },
        other => Err(ApiError::new(
            400,
            format!("PATCH Operation {other} is not allowed"),
        )),
    }
}

fn patch_element(ctx: &mut Ctx<'_>, class: &str, id: &str, p: &Payload) -> Out {
    let cls = need_class(ctx, class)?.clone();
    let op = p
        .text("@op")
        .map(|o| o.to_lowercase())
        .unwrap_or_else(|| "replace".into());
    require_etag(ctx, class, id, p)?;
    if op == "action" {
        let mut name = None;
        for (k, v) in &p.fields {
            if k == "@action_name" {
                name = Some(v.text());
            }
        }
        let name = name.unwrap_or_default();
        if name != "retire" && name != "restore" {
            return Err(ApiError::new(
                400,
                format!("action \"{name}\" is not supported, allowed: retire, restore"),
            ));
        }
        ctx.perms
            .check_retire_or_restore(ctx.db, class, id)
            .map_err(refused)?;
        if name == "retire" {
            // a value error: 409
            check_retirable(ctx.db, class, id).map_err(write_error)?;
        }
        let r = if name == "retire" {
            ctx.db.retire(class, id)
        } else {
            ctx.db.restore(class, id)
        };
        if let Err(e) = r.and_then(|_| ctx.db.commit()) {
            let _ = ctx.db.rollback();
            return Err(write_error(e));
        }
        return Ok((200, item_result(ctx, class, id, "result", Json::Null)));
    }
    let (values, binary) = props_from_args(ctx, class, p, Some(id), false)?;
    if binary.is_some() {
        return Err(ApiError::new(
            400,
            "binary content can only be given when the file is created",
        ));
    }
    let mut patched = Values::new();
    for (k, v) in values {
        ctx.perms
            .check_edit(ctx.db, class, id, [k.as_str()])
            .map_err(refused)?;
        if op == "remove" && cls.props.get(&k).is_some_and(|pr| pr.required) {
            return Err(ApiError::new(
                400,
                format!("Attribute '{k}' is required by class {class} and can not be removed."),
            ));
        }
        let old = ctx.db.get(class, id, &k).map_err(write_error)?;
        patched.insert(k.clone(), patch_value(&op, old, v, &k)?);
    }
    let changed = commit_set(ctx, class, id, patched)?;
    Ok((
        200,
        item_result(ctx, class, id, "attribute", changed_json(&changed)),
    ))
}

fn patch_attribute(ctx: &mut Ctx<'_>, class: &str, id: &str, attr: &str, p: &Payload) -> Out {
    let cls = need_class(ctx, class)?.clone();
    let op = p
        .text("@op")
        .map(|o| o.to_lowercase())
        .unwrap_or_else(|| "replace".into());
    if !ctx.has("Edit", Some(class), Some(attr), Some(id)) {
        return Err(ApiError::new(
            403,
            format!("Permission to edit {class}{id} {attr} denied"),
        ));
    }
    if !cls.props.contains_key(attr) && cls.prop(attr).is_some() {
        return Err(ApiError::new(
            405,
            format!("Attribute '{attr}' can not be updated for class {class}."),
        ));
    }
    require_etag(ctx, class, id, p)?;
    let data = p.get("data").ok_or_else(|| ApiError::new(400, "'data'"))?;
    if cls.prop(attr).is_none() {
        return Err(ApiError::new(
            400,
            format!("'{class} has no property \"{attr}\"'"),
        ));
    }
    let new = prop_from_arg(ctx, class, attr, data, Some(id))?;
    let old = ctx.db.get(class, id, attr).map_err(write_error)?;
    let mut values = Values::new();
    values.insert(attr.to_string(), patch_value(&op, old, new, attr)?);
    let changed = commit_set(ctx, class, id, values)?;
    Ok((
        200,
        item_result(ctx, class, id, "attribute", changed_json(&changed)),
    ))
}

// --------------------------------------------------------------------------
// Post Once Exactly

/// A whole number, also when JSON wrote it as a float (`1260.0`).
fn parse_whole(text: &str) -> Option<i64> {
    let t = text.trim();
    t.parse::<i64>().ok().or_else(|| {
        t.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

/// `POST /data/<class>/@poe`: a Post Once Exactly token, kept in the
/// one-time-key store as Roundup keeps it (a 40-character key whose
/// record names the user and, unless `generic`, the class; it lives
/// `lifetime` seconds, 30 minutes by default, at most an hour).
fn poe_token(ctx: &mut Ctx<'_>, class: &str, p: &Payload) -> Out {
    let lifetime = match p.text("lifetime") {
        None => 30 * 60,
        Some(v) => parse_whole(&v).ok_or_else(|| {
            ApiError::new(
                400,
                format!(
                    "Value 'lifetime' must be an integer specify lifetime in seconds. Got {v}."
                ),
            )
        })?,
    };
    if !(1..=3600).contains(&lifetime) {
        return Err(ApiError::new(
            400,
            format!(
                "Value 'lifetime' must be between 1 second and 1 hour (3600 seconds). Got {lifetime}."
            ),
        ));
    }
    let generic = p.contains("generic");
    let expires = roundup_core::sessions::now() + lifetime as f64;
    let uid = ctx.perms.userid.clone();
    let key = ctx
        .api
        .with_otks(|otks| {
            let key = otks.unique_key(40)?;
            let mut rec = Record::new();
            rec.insert("uid".into(), PyValue::Str(uid));
            if !generic {
                rec.insert("class_name".into(), PyValue::Str(class.to_string()));
            }
            otks.set(&key, rec, Some(expires))?;
            otks.commit()?;
            Ok(key)
        })
        .map_err(|e| ApiError::new(500, format!("could not store the POE token: {e}")))?;
    let mut m = Map::new();
    m.insert(
        "link".into(),
        Json::from(format!("{}/{class}/@poe/{key}", ctx.data_path())),
    );
    m.insert(
        "expires".into(),
        serde_json::Number::from_f64(expires)
            .map(Json::Number)
            .unwrap_or(Json::Null),
    );
    Ok((200, Json::Object(m)))
}

/// `POST /data/<class>/@poe/<token>`: create, spending the token (it is
/// gone whatever happens next); only its owner may use it, and only for
/// its class unless it is generic.
fn poe_post(ctx: &mut Ctx<'_>, class: &str, token: &str, p: &Payload) -> Out {
    let invalid = || ApiError::new(400, format!("POE token '{token}' not valid."));
    let record = ctx
        .api
        .with_otks(|otks| {
            otks.clean()?;
            let rec = otks.get_all(token)?;
            if rec.is_some() {
                otks.destroy(token)?;
                otks.commit()?;
            }
            Ok(rec)
        })
        .map_err(|e| ApiError::new(500, format!("could not read the POE token: {e}")))?;
    let Some(rec) = record else {
        return Err(invalid());
    };
    if record_str(&rec, "uid") != Some(ctx.perms.userid.as_str()) {
        eprintln!(
            "roundup-server: Post Once key owned by user{} was denied. Used by user{}",
            record_str(&rec, "uid").unwrap_or("?"),
            ctx.perms.userid
        );
        return Err(invalid());
    }
    if let Some(c) = record_str(&rec, "class_name") {
        if c != class {
            return Err(ApiError::new(
                400,
                format!("POE token '{token}' not valid for {class}, was generated for class {c}"),
            ));
        }
    }
    post_collection(ctx, class, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_ops() {
        let ml = |v: &[&str]| Some(Value::Multilink(v.iter().map(|s| s.to_string()).collect()));
        assert_eq!(
            patch_value("add", ml(&["1"]), ml(&["3"]), "nosy").unwrap(),
            ml(&["1", "3"])
        );
        assert_eq!(
            patch_value("remove", ml(&["1", "3"]), ml(&["3"]), "nosy").unwrap(),
            ml(&["1"])
        );
        assert_eq!(
            patch_value("remove", ml(&["1"]), None, "nosy").unwrap(),
            ml(&[])
        );
        assert_eq!(
            patch_value("replace", ml(&["1"]), ml(&["2"]), "nosy").unwrap(),
            ml(&["2"])
        );
        assert_eq!(
            patch_value("remove", Some(Value::String("t".into())), None, "title").unwrap(),
            None
        );
        assert_eq!(
            patch_value("bogus", None, None, "x").unwrap_err().status,
            400
        );
    }

    #[test]
    fn segments() {
        assert!(valid_segment("username=admin"));
        assert!(!valid_segment("@poe"));
        assert!(!valid_segment(""));
    }
}
