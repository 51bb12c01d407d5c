//! Cross-site request forgery defence: the one decision the web UI, REST
//! and XML-RPC make about a request, with Roundup 2.6's rules
//! (`Client.handle_csrf`, `handle_csrf_tokenless`, `is_origin_header_ok`,
//! `is_referer_header_ok`), and the signed `@csrf` form tokens.
//!
//! Safe methods (GET, HEAD, OPTIONS) pass. Other requests must show that
//! they come from the tracker's own pages: the Referer, Origin,
//! X-Forwarded-Host and Host headers are compared with the tracker's base
//! URL, each as strictly as its `[web] csrf_enforce_header_*` option says,
//! and at least `csrf_header_min_count` must match. API calls may also
//! come from `[web] allowed_api_origins` and must carry an
//! X-Requested-With header when `csrf_enforce_header_x-requested-with`
//! says so. Web forms then need a valid `@csrf` token
//! (`csrf_enforce_token`). With `use_tokenless_csrf_protection` the
//! Origin / Sec-Fetch-Site rule replaces all of this.
//!
//! A header sent with an empty value counts as not sent, as Roundup's
//! server passes it on.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::config::Config;
use crate::pyrepr::PyValue;
use crate::sessions::{record_str, KeyStore, Record};
use crate::Result;

/// How strictly one check is enforced (`[web] csrf_enforce_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enforce {
    /// Not checked.
    No,
    /// Checked when the header or token is present; failure refuses.
    Yes,
    /// Checked when present; failure is only logged.
    LogFailure,
    /// Must be present and pass.
    Required,
}

impl Enforce {
    pub fn parse(s: &str) -> Enforce {
        match s.trim().to_lowercase().as_str() {
            "no" | "false" | "0" => Enforce::No,
            "logfailure" => Enforce::LogFailure,
            "required" => Enforce::Required,
            _ => Enforce::Yes,
        }
    }

    fn refuses(self) -> bool {
        matches!(self, Enforce::Yes | Enforce::Required)
    }
}

/// The CSRF options of a tracker's config.ini.
#[derive(Clone, Debug, PartialEq)]
pub struct CsrfPolicy {
    pub token: Enforce,
    pub referer: Enforce,
    pub origin: Enforce,
    pub x_forwarded_host: Enforce,
    pub host: Enforce,
    pub x_requested_with: Enforce,
    pub header_min_count: u64,
    /// `[web] allowed_api_origins`.
    pub allowed_api_origins: Vec<String>,
    /// `[web] use_tokenless_csrf_protection`.
    pub tokenless: bool,
    /// `[web] csrf_token_lifetime`, minutes.
    pub token_lifetime_min: u64,
}

impl Default for CsrfPolicy {
    /// Roundup's defaults.
    fn default() -> CsrfPolicy {
        CsrfPolicy {
            token: Enforce::Yes,
            referer: Enforce::Yes,
            origin: Enforce::Yes,
            x_forwarded_host: Enforce::Yes,
            host: Enforce::Yes,
            x_requested_with: Enforce::Yes,
            header_min_count: 1,
            allowed_api_origins: Vec::new(),
            tokenless: false,
            token_lifetime_min: 20160,
        }
    }
}

impl CsrfPolicy {
    pub fn from_config(c: &Config) -> CsrfPolicy {
        let enforce = |opt: &str| {
            Enforce::parse(
                &c.get_str("web", &format!("csrf_enforce_{opt}"))
                    .unwrap_or_else(|_| "yes".into()),
            )
        };
        let n = |opt: &str, def: u64| {
            c.get_int("web", opt)
                .ok()
                .and_then(|v| u64::try_from(v).ok())
                .unwrap_or(def)
        };
        CsrfPolicy {
            token: enforce("token"),
            referer: enforce("header_referer"),
            origin: enforce("header_origin"),
            x_forwarded_host: enforce("header_x-forwarded-host"),
            host: enforce("header_host"),
            x_requested_with: enforce("header_x-requested-with"),
            header_min_count: n("csrf_header_min_count", 1),
            allowed_api_origins: c.get_list("web", "allowed_api_origins").unwrap_or_default(),
            tokenless: c
                .get_bool("web", "use_tokenless_csrf_protection")
                .unwrap_or(false),
            token_lifetime_min: n("csrf_token_lifetime", 20160),
        }
    }
}

/// The parts of a request the decision looks at.
#[derive(Clone, Debug, Default)]
pub struct CsrfRequest<'a> {
    /// The HTTP method, upper case.
    pub method: &'a str,
    /// The tracker's base URL, ending with `/`.
    pub base: &'a str,
    /// REST or XML-RPC (rather than the web UI).
    pub api: bool,
    pub origin: Option<&'a str>,
    pub referer: Option<&'a str>,
    pub host: Option<&'a str>,
    pub x_forwarded_host: Option<&'a str>,
    pub x_requested_with: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
}

impl<'a> CsrfRequest<'a> {
    /// Take the headers through `header` (a case-insensitive lookup);
    /// empty values count as absent.
    pub fn from_headers(
        method: &'a str,
        base: &'a str,
        api: bool,
        header: impl Fn(&str) -> Option<&'a str>,
    ) -> CsrfRequest<'a> {
        let h = |name: &str| header(name).filter(|v| !v.is_empty());
        CsrfRequest {
            method,
            base,
            api,
            origin: h("origin"),
            referer: h("referer"),
            host: header("host"),
            x_forwarded_host: h("x-forwarded-host"),
            x_requested_with: h("x-requested-with"),
            sec_fetch_site: h("sec-fetch-site"),
        }
    }
}

/// What kind of refusal (Roundup raises `Unauthorised` for a bad or
/// missing required header and `UsageError` for the rest; XML-RPC names
/// the kind in its fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    Unauthorised,
    Usage,
}

/// A refused request: the status an HTTP front end answers with and
/// Roundup's message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    /// 400, or 405 for a method the endpoint does not take.
    pub status: u16,
    pub message: String,
    /// For a 405: the methods to list in `Allow`.
    pub allow: Option<&'static str>,
}

impl Refusal {
    fn usage(message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Usage,
            status: 400,
            message: message.into(),
            allow: None,
        }
    }
    fn unauthorised(message: impl Into<String>) -> Refusal {
        Refusal {
            kind: RefusalKind::Unauthorised,
            status: 400,
            message: message.into(),
            allow: None,
        }
    }
    fn bad_method(method: &str, allow: Option<&'static str>) -> Refusal {
        Refusal {
            kind: RefusalKind::Usage,
            status: 405,
            message: format!("Bad method: {method}"),
            allow,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What is left to do after the header checks passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A safe method: nothing to check (a `@csrf` token sent with it has
    /// leaked and should be spent; see [`spend_leaked_token`]).
    Safe,
    /// Accepted.
    Accepted,
    /// A web form post whose `@csrf` token must be checked
    /// ([`check_token`]).
    CheckToken,
}

/// The decision and the lines to log (checks enforced as `logfailure`,
/// and the reason of a refusal).
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub result: std::result::Result<Next, Refusal>,
    pub log: Vec<String>,
}

/// `scheme://host/` of a URL (`://` when it has no scheme).
fn origin_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{host}/")
        }
        None => "://".to_string(),
    }
}

/// Whether `host` is the host of `base` (`://host/` right after an http
/// or https scheme).
fn host_matches(base: &str, host: &str) -> bool {
    let needle = format!("://{host}/");
    matches!(base.find(&needle), Some(4) | Some(5))
}

/// Whether the Origin header is acceptable (Roundup's
/// `is_origin_header_ok`): missing is fine for safe methods, the tracker's
/// own origin always is, and for API calls so is any origin listed in
/// `allowed_api_origins` (a leading `*` allows any origin, but not for a
/// request with credentials).
pub fn origin_ok(
    policy: &CsrfPolicy,
    base: &str,
    method: &str,
    origin: Option<&str>,
    api: bool,
    credentials: bool,
) -> bool {
    let Some(origin) = origin.filter(|o| !o.is_empty()) else {
        return matches!(method, "GET" | "OPTIONS" | "HEAD");
    };
    if base.starts_with(origin) && base[origin.len()..].starts_with('/') {
        return true;
    }
    if !api {
        return false;
    }
    let allowed = &policy.allowed_api_origins;
    if allowed.iter().any(|a| a == origin) {
        return true;
    }
    allowed.first().is_some_and(|a| a == "*") && !credentials
}

/// Roundup's `is_referer_header_ok`.
fn referer_ok(policy: &CsrfPolicy, base: &str, referer: &str, api: bool) -> bool {
    let origin = origin_of(referer);
    if base.starts_with(&origin) {
        return true;
    }
    if !api {
        return false;
    }
    let allowed = &policy.allowed_api_origins;
    if allowed.first().is_some_and(|a| a == "*") {
        return true;
    }
    allowed.iter().any(|a| origin.starts_with(&format!("{a}/")))
}

/// Decide about a request (see the module documentation). `userid` only
/// goes into the log lines.
pub fn decide(policy: &CsrfPolicy, req: &CsrfRequest<'_>, userid: &str) -> Decision {
    let mut log = Vec::new();
    let result = decide_inner(policy, req, userid, &mut log);
    if let Err(r) = &result {
        log.push(format!("csrf: refused for user{userid}: {}", r.message));
    }
    Decision { result, log }
}

fn decide_inner(
    policy: &CsrfPolicy,
    req: &CsrfRequest<'_>,
    userid: &str,
    log: &mut Vec<String>,
) -> std::result::Result<Next, Refusal> {
    let method = req.method;
    if !req.api && !matches!(method, "HEAD" | "GET" | "POST") {
        return Err(Refusal::bad_method(method, Some("HEAD, GET, POST")));
    }
    if matches!(method, "GET" | "OPTIONS" | "HEAD") {
        return Ok(Next::Safe);
    }
    if !matches!(method, "POST" | "PUT" | "DELETE" | "PATCH") {
        return Err(Refusal::bad_method(method, None));
    }
    if policy.tokenless {
        return tokenless(policy, req);
    }
    for (enforce, present, label) in [
        (policy.origin, req.origin.is_some(), "ORIGIN"),
        (policy.referer, req.referer.is_some(), "REFERER"),
        (
            policy.x_forwarded_host,
            req.x_forwarded_host.is_some(),
            "X-FORWARDED-HOST",
        ),
        (policy.host, req.host.is_some(), "HOST"),
    ] {
        if enforce == Enforce::Required && !present {
            return Err(Refusal::unauthorised(format!("Missing header: {label}")));
        }
    }
    let mut passed = 0u64;
    // one header check: count a pass, refuse or log a failure
    let mut judge = |enforce: Enforce,
                     ok: bool,
                     what: &str,
                     value: &str,
                     message: String|
     -> std::result::Result<(), Refusal> {
        if ok {
            passed += 1;
            return Ok(());
        }
        if enforce.refuses() {
            return Err(Refusal::unauthorised(message));
        }
        if enforce == Enforce::LogFailure {
            log.push(format!(
                "csrf {what} header check failed for user{userid}. Value={value}"
            ));
        }
        Ok(())
    };
    if let Some(referer) = req.referer.filter(|_| policy.referer != Enforce::No) {
        judge(
            policy.referer,
            referer_ok(policy, req.base, referer, req.api),
            "Referer",
            referer,
            format!("Invalid Referer: {referer}"),
        )?;
    }
    if let Some(origin) = req.origin.filter(|_| policy.origin != Enforce::No) {
        judge(
            policy.origin,
            origin_ok(policy, req.base, method, Some(origin), req.api, false),
            "Origin",
            origin,
            format!("Invalid Origin {origin}"),
        )?;
    }
    if let Some(xfh) = req.x_forwarded_host {
        if policy.x_forwarded_host != Enforce::No {
            judge(
                policy.x_forwarded_host,
                host_matches(req.base, xfh),
                "X-FORWARDED-HOST",
                xfh,
                format!("Invalid X-FORWARDED-HOST {xfh}"),
            )?;
        }
    } else if policy.host != Enforce::No {
        // Roundup's server always passes a Host value (empty when the
        // request had none), which then fails the check.
        let host = req.host.unwrap_or("");
        judge(
            policy.host,
            host_matches(req.base, host),
            "HOST",
            host,
            format!("Invalid HOST {host}"),
        )?;
    }
    if passed < policy.header_min_count {
        return Err(Refusal::usage("Unable to verify sufficient headers"));
    }
    if req.api {
        if policy.x_requested_with.refuses() && req.x_requested_with.is_none() {
            return Err(Refusal::usage("Required Header Missing"));
        }
        return Ok(Next::Accepted);
    }
    Ok(Next::CheckToken)
}

/// The token-less rule: a trusted Origin, else Sec-Fetch-Site, else no
/// browser headers at all, else the Origin's host equal to Host.
fn tokenless(policy: &CsrfPolicy, req: &CsrfRequest<'_>) -> std::result::Result<Next, Refusal> {
    let refuse = || Refusal::usage("Unable to authorize request");
    if let Some(o) = req.origin {
        let own = req.base.starts_with(o) && req.base[o.len()..].starts_with('/');
        if own || policy.allowed_api_origins.iter().any(|a| a == o) {
            return Ok(Next::Accepted);
        }
    }
    if let Some(site) = req.sec_fetch_site {
        return if site == "same-origin" || site == "none" {
            Ok(Next::Accepted)
        } else {
            Err(refuse())
        };
    }
    let Some(o) = req.origin else {
        return Ok(Next::Accepted);
    };
    let netloc = o.split_once("://").map(|(_, r)| r).unwrap_or("");
    let netloc = netloc.split(['/', '?', '#']).next().unwrap_or("");
    if req.host.unwrap_or("") == netloc {
        Ok(Next::Accepted)
    } else {
        Err(refuse())
    }
}

// --------------------------------------------------------------------------
// @csrf tokens

type HmacSha256 = Hmac<Sha256>;

const RANDOM_LEN: usize = 12;
const MAC_LEN: usize = 16;
const TOKEN_LEN: usize = 4 + RANDOM_LEN + MAC_LEN;

/// Signs and verifies `@csrf` tokens for one tracker.
///
/// Roundup stores every token it puts in a form in the one-time-key
/// store, so every page view with a form is a database write. Here the
/// token carries what the check needs, signed with a key derived from the
/// tracker's `[web] secret_key`:
///
/// ```text
/// base64url( expiry:u32be | random:12 bytes | HMAC-SHA256(key, expiry|random|uid|sid)[..16] )
/// ```
///
/// (43 characters, the length of the stored tokens.) Issuing a token
/// writes nothing. Checking one verifies the signature against the
/// request's user and session and the expiry, then records the token as
/// spent in the one-time-key store (until it would have expired anyway),
/// so each token is still good for one POST only: the same guarantees as
/// Roundup's stored tokens, with the write moved from every page view to
/// the form submission, which writes anyway. Tokens stored by Roundup on
/// the same database are accepted too.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

/// What a token said about itself, once its signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed for this user and session and not expired; `expires` is
    /// its expiry in seconds since the epoch.
    Valid { expires: u64 },
    /// Signed by us but for another user or session, or tampered with.
    Mismatch,
    /// Signed for this user and session, but past its lifetime.
    Expired,
    /// Not one of our signed tokens at all (e.g. a stored token from an
    /// older release or from Roundup itself).
    Foreign,
}

fn hmac(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this arm is never taken
        Err(_) => unreachable!("HMAC-SHA256 rejected a key"),
    }
}

impl TokenSigner {
    /// A signer keyed by the tracker's secret (any length).
    pub fn new(secret: &[u8]) -> TokenSigner {
        let mut mac = hmac(secret);
        mac.update(b"roundup-rs csrf token key v1");
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac.finalize().into_bytes());
        TokenSigner { key }
    }

    fn mac(&self, head: &[u8], uid: &str, sid: Option<&str>) -> [u8; MAC_LEN] {
        let mut mac = hmac(&self.key);
        mac.update(head);
        mac.update(uid.as_bytes());
        mac.update(&[0]);
        match sid {
            Some(s) => {
                mac.update(&[1]);
                mac.update(s.as_bytes());
            }
            None => mac.update(&[0]),
        }
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A new token for `uid` in session `sid`, good until `expires`
    /// (seconds since the epoch).
    pub fn issue(&self, uid: &str, sid: Option<&str>, expires: u64) -> String {
        let mut raw = [0u8; TOKEN_LEN];
        let exp = u32::try_from(expires).unwrap_or(u32::MAX);
        raw[..4].copy_from_slice(&exp.to_be_bytes());
        rand::rng().fill_bytes(&mut raw[4..4 + RANDOM_LEN]);
        let mac = self.mac(&raw[..4 + RANDOM_LEN], uid, sid);
        raw[4 + RANDOM_LEN..].copy_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Check a token for `uid` in session `sid` at time `now`.
    pub fn verify(&self, token: &str, uid: &str, sid: Option<&str>, now: u64) -> Verdict {
        let raw = match URL_SAFE_NO_PAD.decode(token.trim()) {
            Ok(r) if r.len() == TOKEN_LEN => r,
            _ => return Verdict::Foreign,
        };
        let (head, tag) = raw.split_at(4 + RANDOM_LEN);
        let expected = self.mac(head, uid, sid);
        // constant-time comparison
        let diff = expected
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Verdict::Mismatch;
        }
        let expires = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        if expires < now {
            Verdict::Expired
        } else {
            Verdict::Valid { expires }
        }
    }
}

/// The one-time-key record that marks a signed token as used.
fn spent_record() -> Record {
    let mut rec = Record::new();
    rec.insert("spent".into(), PyValue::Bool(true));
    rec
}

fn is_spent(rec: &Record) -> bool {
    matches!(rec.get("spent"), Some(PyValue::Bool(true)))
}

/// The user and session a posted token was issued to, after spending it
/// (so it works once): a signed token valid for this user and session, or
/// one Roundup stored in the one-time-key store. `None` for anything else.
fn spend_token(
    otks: &mut dyn KeyStore,
    signer: &TokenSigner,
    token: &str,
    userid: &str,
    sid: Option<&str>,
    now: u64,
) -> Result<Option<(Option<String>, Option<String>)>> {
    let _ = otks.clean();
    match otks.get_all(token)? {
        // already used once
        Some(r) if is_spent(&r) => Ok(None),
        // a stored token (issued by an older release, or by Roundup itself
        // on this database)
        Some(r) => {
            otks.destroy(token)?;
            otks.commit()?;
            Ok(Some((
                record_str(&r, "uid").map(str::to_string),
                record_str(&r, "sid").map(str::to_string),
            )))
        }
        None => match signer.verify(token, userid, sid, now) {
            Verdict::Valid { expires } => {
                otks.set(token, spent_record(), Some(expires as f64))?;
                otks.commit()?;
                Ok(Some((Some(userid.to_string()), sid.map(str::to_string))))
            }
            Verdict::Expired | Verdict::Mismatch | Verdict::Foreign => Ok(None),
        },
    }
}

/// Who posts a token: the request's user and session, and the time.
#[derive(Clone, Copy, Debug)]
pub struct Poster<'a> {
    pub userid: &'a str,
    pub sid: Option<&'a str>,
    /// Seconds since the epoch.
    pub now: u64,
}

/// The message of a token refusal (Roundup's).
pub const TOKEN_FAILURE: &str =
    "We can't validate your session (csrf failure). Re-enter any unsaved data and try again.";

/// Check the `@csrf` token of a web form post that passed [`decide`]
/// with [`Next::CheckToken`]. `Ok(Err(refusal))` when the token is
/// refused; log lines go to `log`.
pub fn check_token(
    policy: &CsrfPolicy,
    otks: &mut dyn KeyStore,
    signer: &TokenSigner,
    token: Option<&str>,
    poster: Poster<'_>,
    log: &mut Vec<String>,
) -> Result<std::result::Result<(), Refusal>> {
    let Poster { userid, sid, now } = poster;
    let Some(token) = token else {
        return Ok(match policy.token {
            Enforce::Required => {
                log.push(format!("Required csrf field missing for user{userid}"));
                Err(Refusal::usage(TOKEN_FAILURE))
            }
            Enforce::LogFailure => {
                log.push(format!("csrf field not supplied by user{userid}"));
                Ok(())
            }
            Enforce::Yes | Enforce::No => Ok(()),
        });
    };
    let owner = spend_token(otks, signer, token, userid, sid, now)?;
    let (nonce_user, nonce_session) = owner.unwrap_or((None, None));
    let user_ok = nonce_user.as_deref() == Some(userid);
    let session_ok = nonce_session.as_deref() == sid;
    if user_ok && session_ok {
        return Ok(Ok(()));
    }
    let what = format!(
        "Csrf mismatch for user{userid} (token user {nonce_user:?}, session {})",
        if session_ok { "ok" } else { "differs" }
    );
    Ok(match policy.token {
        Enforce::Required | Enforce::Yes => {
            log.push(what);
            Err(Refusal::usage(TOKEN_FAILURE))
        }
        Enforce::LogFailure => {
            log.push(what);
            Ok(())
        }
        Enforce::No => Ok(()),
    })
}

/// A `@csrf` token sent with a safe method has leaked (it may sit in logs
/// and browser history): spend it so that it cannot be used. Returns
/// whether there was such a live token.
pub fn spend_leaked_token(
    otks: &mut dyn KeyStore,
    signer: &TokenSigner,
    token: &str,
    poster: Poster<'_>,
) -> Result<bool> {
    let Poster { userid, sid, now } = poster;
    match otks.get_all(token)? {
        Some(r) => {
            if !is_spent(&r) {
                otks.destroy(token)?;
                otks.commit()?;
            }
            Ok(true)
        }
        None => match signer.verify(token, userid, sid, now) {
            Verdict::Valid { expires } => {
                otks.set(token, spent_record(), Some(expires as f64))?;
                otks.commit()?;
                Ok(true)
            }
            _ => Ok(false),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::{MemoryStore, StoreKind};

    const BASE: &str = "http://h:8080/t/";

    fn post<'a>(api: bool) -> CsrfRequest<'a> {
        CsrfRequest {
            method: "POST",
            base: BASE,
            api,
            host: Some("h:8080"),
            ..CsrfRequest::default()
        }
    }

    fn verdict(policy: &CsrfPolicy, req: &CsrfRequest<'_>) -> std::result::Result<Next, Refusal> {
        decide(policy, req, "3").result
    }

    fn refused(policy: &CsrfPolicy, req: &CsrfRequest<'_>) -> (RefusalKind, u16, String) {
        let r = verdict(policy, req).expect_err("refused");
        (r.kind, r.status, r.message)
    }

    #[test]
    fn decisions() {
        let p = CsrfPolicy::default();
        use RefusalKind::*;
        // safe methods pass, unknown ones are refused
        let get = CsrfRequest {
            method: "GET",
            ..post(false)
        };
        assert_eq!(verdict(&p, &get), Ok(Next::Safe));
        let put_web = CsrfRequest {
            method: "PUT",
            ..post(false)
        };
        let r = verdict(&p, &put_web).unwrap_err();
        assert_eq!((r.status, r.allow), (405, Some("HEAD, GET, POST")));
        let brew = CsrfRequest {
            method: "BREW",
            ..post(true)
        };
        assert_eq!(refused(&p, &brew), (Usage, 405, "Bad method: BREW".into()));

        // a web post with a matching Host goes on to the token check
        assert_eq!(verdict(&p, &post(false)), Ok(Next::CheckToken));
        // the API also needs X-Requested-With ...
        assert_eq!(
            refused(&p, &post(true)),
            (Usage, 400, "Required Header Missing".into())
        );
        let xrw = CsrfRequest {
            x_requested_with: Some("rest"),
            ..post(true)
        };
        assert_eq!(verdict(&p, &xrw), Ok(Next::Accepted));
        // ... and an empty one is no header at all
        let empty = CsrfRequest::from_headers("POST", BASE, true, |n| match n {
            "host" => Some("h:8080"),
            "x-requested-with" => Some(""),
            _ => None,
        });
        assert_eq!(
            refused(&p, &empty),
            (Usage, 400, "Required Header Missing".into())
        );
        let off = CsrfPolicy {
            x_requested_with: Enforce::LogFailure,
            ..CsrfPolicy::default()
        };
        assert_eq!(verdict(&off, &post(true)), Ok(Next::Accepted));

        // bad headers
        let evil_origin = CsrfRequest {
            origin: Some("https://evil"),
            ..post(false)
        };
        assert_eq!(
            refused(&p, &evil_origin),
            (Unauthorised, 400, "Invalid Origin https://evil".into())
        );
        let evil_referer = CsrfRequest {
            referer: Some("https://evil/x"),
            ..post(false)
        };
        assert_eq!(
            refused(&p, &evil_referer),
            (Unauthorised, 400, "Invalid Referer: https://evil/x".into())
        );
        let evil_host = CsrfRequest {
            host: Some("evil"),
            ..post(false)
        };
        assert_eq!(
            refused(&p, &evil_host),
            (Unauthorised, 400, "Invalid HOST evil".into())
        );
        // X-Forwarded-Host replaces the Host check
        let xfh = CsrfRequest {
            host: Some("internal"),
            x_forwarded_host: Some("h:8080"),
            ..post(false)
        };
        assert_eq!(verdict(&p, &xfh), Ok(Next::CheckToken));
        let bad_xfh = CsrfRequest {
            x_forwarded_host: Some("evil"),
            ..post(false)
        };
        assert_eq!(
            refused(&p, &bad_xfh),
            (Unauthorised, 400, "Invalid X-FORWARDED-HOST evil".into())
        );
        // no Host at all fails the Host check, as under Roundup's server
        let no_host = CsrfRequest {
            host: None,
            ..post(false)
        };
        assert_eq!(
            refused(&p, &no_host),
            (Unauthorised, 400, "Invalid HOST ".into())
        );

        // logfailure: logged, not refused, but it does not count
        let lf = CsrfPolicy {
            origin: Enforce::LogFailure,
            header_min_count: 2,
            ..CsrfPolicy::default()
        };
        let d = decide(&lf, &evil_origin, "3");
        assert_eq!(
            d.result.unwrap_err().message,
            "Unable to verify sufficient headers"
        );
        assert!(d.log[0].contains("Origin header check failed for user3"));
        let good_two = CsrfRequest {
            origin: Some("http://h:8080"),
            ..post(false)
        };
        assert_eq!(verdict(&lf, &good_two), Ok(Next::CheckToken));

        // required headers
        let req_origin = CsrfPolicy {
            origin: Enforce::Required,
            ..CsrfPolicy::default()
        };
        assert_eq!(
            refused(&req_origin, &post(false)),
            (Unauthorised, 400, "Missing header: ORIGIN".into())
        );
        // no check at all with "no"
        let none = CsrfPolicy {
            host: Enforce::No,
            header_min_count: 0,
            ..CsrfPolicy::default()
        };
        assert_eq!(verdict(&none, &evil_host), Ok(Next::CheckToken));
    }

    #[test]
    fn api_origins() {
        let p = CsrfPolicy {
            allowed_api_origins: vec!["https://app.example".into()],
            ..CsrfPolicy::default()
        };
        let req = CsrfRequest {
            origin: Some("https://app.example"),
            referer: Some("https://app.example/page"),
            x_requested_with: Some("x"),
            ..post(true)
        };
        assert_eq!(verdict(&p, &req), Ok(Next::Accepted));
        // not for the web UI
        let web = CsrfRequest {
            api: false,
            ..req.clone()
        };
        assert_eq!(
            verdict(&p, &web).unwrap_err().message,
            "Invalid Referer: https://app.example/page"
        );
        // a wildcard allows any origin, except with credentials
        let star = CsrfPolicy {
            allowed_api_origins: vec!["*".into()],
            ..CsrfPolicy::default()
        };
        assert!(origin_ok(
            &star,
            BASE,
            "POST",
            Some("https://x"),
            true,
            false
        ));
        assert!(!origin_ok(
            &star,
            BASE,
            "POST",
            Some("https://x"),
            true,
            true
        ));
        assert!(origin_ok(&star, BASE, "GET", None, true, true));
        assert!(!origin_ok(&star, BASE, "POST", None, true, true));
        // a prefix of the host is not the origin
        assert!(!origin_ok(
            &p,
            BASE,
            "POST",
            Some("http://h:80"),
            true,
            false
        ));
        assert!(origin_ok(
            &p,
            BASE,
            "POST",
            Some("http://h:8080"),
            true,
            false
        ));
    }

    #[test]
    fn tokenless_rule() {
        let p = CsrfPolicy {
            tokenless: true,
            ..CsrfPolicy::default()
        };
        let own = CsrfRequest {
            origin: Some("http://h:8080"),
            ..post(false)
        };
        assert_eq!(verdict(&p, &own), Ok(Next::Accepted));
        let cross = CsrfRequest {
            origin: Some("https://evil"),
            sec_fetch_site: Some("cross-site"),
            ..post(false)
        };
        assert_eq!(
            verdict(&p, &cross).unwrap_err().message,
            "Unable to authorize request"
        );
        let same = CsrfRequest {
            sec_fetch_site: Some("same-origin"),
            ..post(false)
        };
        assert_eq!(verdict(&p, &same), Ok(Next::Accepted));
        // not a browser: nothing to forge
        assert_eq!(verdict(&p, &post(true)), Ok(Next::Accepted));
        // old browser: Origin host must be the Host
        let proxied = CsrfRequest {
            origin: Some("http://h:8080"),
            base: "http://other/t/",
            ..post(false)
        };
        assert_eq!(verdict(&p, &proxied), Ok(Next::Accepted));
        let mismatch = CsrfRequest {
            origin: Some("http://elsewhere"),
            ..post(false)
        };
        assert!(verdict(&p, &mismatch).is_err());
    }

    #[test]
    fn tokens_bind_user_session_and_time() {
        let s = TokenSigner::new(b"secret");
        let t = s.issue("3", Some("abc"), 2_000);
        assert_eq!(t.len(), 43);
        assert_eq!(
            s.verify(&t, "3", Some("abc"), 1_000),
            Verdict::Valid { expires: 2_000 }
        );
        assert_eq!(s.verify(&t, "3", Some("abc"), 2_001), Verdict::Expired);
        assert_eq!(s.verify(&t, "4", Some("abc"), 1_000), Verdict::Mismatch);
        assert_eq!(s.verify(&t, "3", None, 1_000), Verdict::Mismatch);
        assert_eq!(s.verify(&t, "3", Some("abd"), 1_000), Verdict::Mismatch);
        let other = TokenSigner::new(b"other");
        assert_eq!(other.verify(&t, "3", Some("abc"), 1_000), Verdict::Mismatch);
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        raw[1] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            s.verify(&forged, "3", Some("abc"), 1_000),
            Verdict::Mismatch
        );
        assert_eq!(s.verify("abc", "3", None, 0), Verdict::Foreign);
        assert_ne!(t, s.issue("3", Some("abc"), 2_000));
    }

    #[test]
    fn tokens_work_once() {
        let p = CsrfPolicy::default();
        let s = TokenSigner::new(b"secret");
        let mut otks = MemoryStore::new(StoreKind::Otks);
        let now = crate::sessions::now() as u64;
        let t = s.issue("3", Some("sid"), now + 600);
        let mut log = Vec::new();
        let mut check = |otks: &mut MemoryStore, token: Option<&str>, uid: &str| {
            let poster = Poster {
                userid: uid,
                sid: Some("sid"),
                now,
            };
            check_token(&p, otks, &s, token, poster, &mut log).unwrap()
        };
        // another user cannot use it
        assert!(check(&mut otks, Some(&t), "4").is_err());
        assert_eq!(check(&mut otks, Some(&t), "3"), Ok(()));
        let again = check(&mut otks, Some(&t), "3").unwrap_err();
        assert_eq!(again.message, TOKEN_FAILURE);
        // no token: fine with "yes", refused with "required"
        assert_eq!(check(&mut otks, None, "3"), Ok(()));
        // a token Roundup stored works once too
        let mut rec = Record::new();
        rec.insert("uid".into(), PyValue::Str("3".into()));
        rec.insert("sid".into(), PyValue::Str("sid".into()));
        otks.set("stored", rec, None).unwrap();
        assert_eq!(check(&mut otks, Some("stored"), "3"), Ok(()));
        assert!(check(&mut otks, Some("stored"), "3").is_err());
        let required = CsrfPolicy {
            token: Enforce::Required,
            ..CsrfPolicy::default()
        };
        let mut log = Vec::new();
        let poster = Poster {
            userid: "3",
            sid: None,
            now,
        };
        assert!(
            check_token(&required, &mut otks, &s, None, poster, &mut log)
                .unwrap()
                .is_err()
        );
        // a token that leaked through a GET is spent
        let leaked = s.issue("3", None, now + 600);
        assert!(spend_leaked_token(&mut otks, &s, &leaked, poster).unwrap());
        assert!(
            check_token(&p, &mut otks, &s, Some(&leaked), poster, &mut log)
                .unwrap()
                .is_err()
        );
        assert!(!spend_leaked_token(&mut otks, &s, "junk", poster).unwrap());
    }
}
