//! One web request to one tracker, handled the way Roundup's `Client`
//! does: identify the user (session cookie, HTTP Basic auth, or a
//! front-end's user header), work out the context from the URL, check
//! web access and CSRF, run the requested action, and render the page.
//!
//! Runs on a blocking thread with a pooled database connection.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use roundup_core::csrf::{self, CsrfRequest, Next, Poster, RefusalKind};
use roundup_core::designator;
use roundup_core::i18n::{Catalogs, Translator};
use roundup_core::pyrepr::PyValue;
use roundup_core::sessions::{self, record_str, Record};
use roundup_core::value::Value;
use roundup_core::Error;

use crate::actions;
use crate::page_cache;
use crate::reply::{error_page, quote, Incoming, Reply};
use crate::request::{CsrfIssuer, FormValue, WebRequest};
use crate::state::{PooledDb, UiState};
use crate::templating::{PageMessages, View};

/// Mime types served as declared; other file contents are sent as
/// `application/octet-stream` (`text/html` too unless `[web]
/// allow_html_file` is set).
pub const MIME_ALLOWLIST: &[&str] = &[
    "text/plain",
    "text/x-csrc",
    "text/x-chdr",
    "text/x-patch",
    "text/x-python",
    "text/xml",
    "text/csv",
    "text/css",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/svg+xml",
    "image/webp",
    "audio/ogg",
    "video/webm",
];

/// The `@csrf` tokens a response carries, with their lifetimes (minutes).
pub type IssuedTokens = Arc<Mutex<Vec<(String, Option<u64>)>>>;

/// How a step ends the normal flow.
#[derive(Debug)]
pub enum Flow {
    /// 302 to the URL.
    Redirect(String),
    /// 403; the front page is shown with the message.
    Unauthorised(String),
    /// Login failed: 401 with a Basic challenge (when HTTP auth is on) or
    /// 403, front page with the message.
    LoginFailed(String),
    /// 429 with rate-limit headers; the page is shown with the message.
    RateLimited(String, Vec<(String, String)>),
    /// 404.
    NotFound(String),
    /// A complete response (file download, CSV, static file).
    Reply(Reply),
    /// A broken request: 400 with the message.
    BadRequest(String),
    /// Something failed inside: 500.
    Fatal(Error),
}

impl From<Error> for Flow {
    fn from(e: Error) -> Flow {
        match e {
            Error::Unauthorised(m) => Flow::Unauthorised(m),
            other => Flow::Fatal(other),
        }
    }
}

pub type Step<T = ()> = Result<T, Flow>;

/// The state of one request.
pub struct Client<'a> {
    pub st: &'a Arc<UiState>,
    pub inc: &'a Incoming,
    pub db: PooledDb<'a>,
    /// Tracker base URL, ending in `/`.
    pub base: String,
    pub secure: bool,
    pub cookie_name: String,
    pub cookie_path: String,
    /// The session id, when the browser has a valid session.
    pub sid: Option<String>,
    pub session: Record,
    pub userid: String,
    pub username: String,
    pub classname: Option<String>,
    pub itemid: Option<String>,
    pub template: String,
    pub form: Vec<(String, FormValue)>,
    pub ok: Vec<String>,
    pub err: Vec<String>,
    pub extra_headers: Vec<(String, String)>,
    pub cookies: Vec<String>,
    pub status: u16,
    pub nonce: String,
    /// The form's values should win over the database's when rendering
    /// (after a failed edit); passed to templates as `@form_wins`.
    pub form_wins: bool,
    /// The `@csrf` tokens issued for this response, with their lifetimes.
    pub issued: IssuedTokens,
    /// The languages the request asked for, and their messages.
    pub languages: Vec<String>,
    pub translator: Arc<roundup_core::i18n::Translator>,
}

// ----------------------------------------------------------------------
// messages

pub use roundup_core::i18n::{tr_fmt, tr_nfmt};

/// The messages of the process's own locale (`LANGUAGE`, `LC_ALL`,
/// `LC_MESSAGES`, `LANG`) from the system's catalogs: Roundup's
/// module-level `_` (`roundup.i18n`), which some of its actions use
/// instead of the request's translator ("Welcome %(username)s!",
/// "Invalid number: ", the `Error: %s` of a refused new item, the
/// registration mail), so that a German tracker served by an English
/// process shows those in English.
pub fn process_translator() -> Arc<Translator> {
    static CATALOGS: std::sync::LazyLock<Catalogs> = std::sync::LazyLock::new(|| {
        Catalogs::with_dirs(None, roundup_core::i18n::system_locale_dirs())
    });
    CATALOGS
        .translator(&[])
        .unwrap_or_else(|_| Translator::null())
}

/// A core CSRF refusal in the request's language: Roundup's client
/// words these with `self._`; the core gives them in English, so each is
/// matched to its message id and its value put back in.
fn csrf_message(t: &Translator, message: &str) -> String {
    const PLAIN: [&str; 4] = [
        csrf::TOKEN_FAILURE,
        "Unable to verify sufficient headers",
        "Required Header Missing",
        "Unable to authorize request",
    ];
    if PLAIN.contains(&message) {
        return t.gettext(message).to_string();
    }
    for msgid in [
        "Missing header: %s",
        "Invalid Referer: %s",
        "Invalid X-FORWARDED-HOST %s",
        "Invalid HOST %s",
    ] {
        if let Some(value) = message.strip_prefix(msgid.trim_end_matches("%s")) {
            return tr_fmt(t, msgid, &[("", value)]);
        }
    }
    // Roundup fills in the origin before it looks the message up
    if message.starts_with("Invalid Origin ") {
        return t.gettext(message).to_string();
    }
    message.to_string()
}

/// The tracker's base URL for this request: `[tracker] web`, or the
/// request's own scheme, host and mount point.
pub fn base_url(st: &UiState, inc: &Incoming) -> String {
    if let Some(w) = &st.settings.web {
        return w.clone();
    }
    let scheme = if inc.secure { "https" } else { "http" };
    let host = inc.header("host").unwrap_or("localhost");
    format!("{scheme}://{host}{}", inc.mount)
}

pub fn cookie_value<'h>(inc: &'h Incoming, name: &str) -> Option<&'h str> {
    inc.headers
        .iter()
        .filter(|(k, _)| k == "cookie")
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| k.trim() == name)
        .map(|(_, v)| v.trim().trim_matches('"'))
}

/// Whether the browser reaches the tracker over TLS: this connection is,
/// or `[tracker] web` says https (a proxy terminating TLS in front of us).
/// It picks the session cookie's name and its `Secure` flag.
fn is_secure(st: &UiState, inc: &Incoming) -> bool {
    inc.secure
        || st
            .settings
            .web
            .as_deref()
            .is_some_and(|w| w.starts_with("https"))
}

/// The user id of a live web session named by the request's cookie
/// (`None` for none, an expired one, or anonymous). REST and XML-RPC accept
/// the web session too, so the server asks the UI through this.
pub fn session_user(st: &UiState, inc: &Incoming, db: &roundup_core::Db) -> Option<String> {
    let secure = is_secure(st, inc);
    let sid = cookie_value(inc, &st.settings.cookie_name(secure))?;
    if sid.is_empty() {
        return None;
    }
    let record = st.sessions().ok()?.get_all(sid).ok()??;
    let name = record_str(&record, "user")?;
    if name == "anonymous" {
        return None;
    }
    db.lookup("user", name).ok()
}

/// Entry point: handle a request for one tracker.
pub fn handle(st: &Arc<UiState>, inc: &Incoming) -> Reply {
    let db = match st.pool.get("1") {
        Ok(db) => db,
        Err(e) => return Reply::html(500, error_page("Tracker error", &e.to_string())),
    };
    db.set_tx_source(Some(roundup_core::TxSource::Web));
    let secure = is_secure(st, inc);
    let base = base_url(st, inc);
    let cookie_path = match base
        .find("://")
        .and_then(|i| base[i + 3..].find('/').map(|j| i + 3 + j))
    {
        Some(p) => base[p..].to_string(),
        None => "/".to_string(),
    };
    let mut c = Client {
        st,
        inc,
        db,
        base,
        secure,
        cookie_name: st.settings.cookie_name(secure),
        cookie_path,
        sid: None,
        session: Record::new(),
        userid: String::new(),
        username: "anonymous".into(),
        classname: None,
        itemid: None,
        template: String::new(),
        form: inc.form.clone(),
        ok: Vec::new(),
        err: Vec::new(),
        extra_headers: Vec::new(),
        cookies: Vec::new(),
        status: 200,
        nonce: sessions::random_key(30, true),
        form_wins: false,
        issued: Arc::default(),
        languages: Vec::new(),
        translator: roundup_core::i18n::Translator::null(),
    };
    if let Err(e) = c.determine_language() {
        return Reply::html(500, error_page("Tracker error", &e.to_string()));
    }
    let mut reply = match c.run() {
        Ok(r) => r,
        Err(flow) => c.finish(flow),
    };
    c.decorate(&mut reply);
    reply
}

impl<'a> Client<'a> {
    fn run(&mut self) -> Step<Reply> {
        self.load_session()?;
        self.determine_user()?;
        self.determine_context()?;
        let action = self.action_name()?;
        self.check_web_access(action.as_deref())?;
        let csrf_ok = match self.check_csrf() {
            Ok(()) => true,
            Err(Flow::BadRequest(m)) | Err(Flow::Unauthorised(m)) => {
                self.form_wins = true;
                self.err.push(m);
                false
            }
            Err(other) => return Err(other),
        };
        if csrf_ok {
            if let Some(a) = action {
                if let Some(reply) = actions::run(self, &a)? {
                    return Ok(reply);
                }
            }
        }
        self.render_context()
    }

    /// The request's language and its catalogs (Roundup's
    /// determine_language): `@language` (remembered in a cookie), the
    /// `roundup_language` cookie, the browser's, the tracker's.
    fn determine_language(&mut self) -> Result<(), roundup_core::i18n::CatalogError> {
        let form = self.form.iter().find_map(|(k, v)| match v {
            FormValue::Text(t) if k == "@language" => Some(t.clone()),
            _ => None,
        });
        let config = self.st.tracker.config();
        let (languages, set_cookie) = roundup_core::i18n::choose_language(
            form.as_deref(),
            cookie_value(self.inc, "roundup_language"),
            self.inc.header("accept-language"),
            config
                .get_bool("web", "use_browser_language")
                .unwrap_or(true),
            config.tracker_language(),
        );
        if let Some(value) = set_cookie {
            let expires = if value.is_empty() {
                Some(0)
            } else {
                Some(crate::reply::now_secs() + 365 * 24 * 3600)
            };
            let c = self.cookie_named("roundup_language", &value, expires);
            self.cookies.push(c);
        }
        self.translator = self.st.catalogs.translator(&languages)?;
        self.languages = languages;
        Ok(())
    }

    // ------------------------------------------------------------------
    // sessions

    fn load_session(&mut self) -> Step {
        let Some(sid) = cookie_value(self.inc, &self.cookie_name).map(str::to_string) else {
            return Ok(());
        };
        if sid.is_empty() {
            return Ok(());
        }
        let found = {
            let mut store = self.st.sessions()?;
            let _ = store.clean();
            store.get_all(&sid)?
        };
        match found {
            Some(rec) => {
                self.sid = Some(sid);
                self.session = rec;
            }
            None => self.clear_cookie(),
        }
        Ok(())
    }

    fn session_user(&self) -> Option<String> {
        record_str(&self.session, "user").map(str::to_string)
    }

    fn touch_session(&mut self) -> Step {
        if let Some(sid) = &self.sid {
            let mut store = self.st.sessions()?;
            store.touch(sid)?;
            store.commit()?;
        }
        Ok(())
    }

    /// A session cookie header value in Roundup's format.
    fn cookie(&self, value: &str, expires: Option<u64>) -> String {
        self.cookie_named(&self.cookie_name, value, expires)
    }

    /// A cookie header value in Roundup's format.
    fn cookie_named(&self, name: &str, value: &str, expires: Option<u64>) -> String {
        let mut s = format!("{name}={value}; Path={};", self.cookie_path);
        if let Some(t) = expires {
            s.push_str(&format!(" expires={};", crate::reply::http_date(t)));
        }
        if self.secure {
            s.push_str(" secure;");
        }
        if self.st.settings.samesite != "None" {
            s.push_str(&format!(" SameSite={};", self.st.settings.samesite));
        }
        s.push_str(" HttpOnly;");
        s
    }

    fn clear_cookie(&mut self) {
        let c = self.cookie("", Some(0));
        self.cookies.push(c);
    }

    /// Start a fresh session for `username` (a new id on every login, so
    /// an id seen before login is worthless after it). `remember` keeps
    /// the cookie for a year instead of the browser session.
    pub fn start_session(&mut self, username: &str, remember: bool) -> Step {
        let mut store = self.st.sessions()?;
        if let Some(old) = self.sid.take() {
            store.destroy(&old)?;
        }
        let sid = loop {
            let k = sessions::random_key(32, false);
            if !store.exists(&k)? {
                break k;
            }
        };
        let mut rec = Record::new();
        rec.insert("user".into(), PyValue::Str(username.to_string()));
        store.set(&sid, rec.clone(), None)?;
        store.commit()?;
        drop(store);
        let expires = remember.then(|| crate::reply::now_secs() + 365 * 24 * 3600);
        let c = self.cookie(&sid, expires);
        self.cookies.push(c);
        self.sid = Some(sid);
        self.session = rec;
        Ok(())
    }

    pub fn destroy_session(&mut self) -> Step {
        self.clear_cookie();
        self.session.clear();
        if let Some(sid) = self.sid.take() {
            let mut store = self.st.sessions()?;
            store.destroy(&sid)?;
            store.commit()?;
        }
        Ok(())
    }

    // ------------------------------------------------------------------
    // users

    fn anonymous_id(&self) -> Step<String> {
        match self.db.lookup("user", "anonymous") {
            Ok(id) => Ok(id),
            Err(Error::NoSuchKey { .. }) => Err(Flow::Fatal(Error::Config(
                "the tracker has no \"anonymous\" user; the web interface needs one".into(),
            ))),
            Err(e) => Err(e.into()),
        }
    }

    pub fn make_anonymous(&mut self) -> Step {
        self.userid = self.anonymous_id()?;
        self.username = "anonymous".into();
        self.db.set_uid(&self.userid);
        Ok(())
    }

    /// Act as `username` (known to exist, with id `uid`).
    pub fn become_user(&mut self, uid: &str, username: &str) {
        self.userid = uid.to_string();
        self.username = username.to_string();
        self.db.set_uid(uid);
    }

    fn determine_user(&mut self) -> Step {
        let settings = &self.st.settings;
        let mut user: Option<String> = None;
        if settings.cookie_takes_precedence {
            if let Some(u) = self.session_user() {
                user = Some(u);
                self.touch_session()?;
            }
        }
        if user.is_none() && settings.http_auth {
            let header = settings
                .http_auth_header
                .clone()
                .unwrap_or_else(|| "REMOTE_USER".into());
            let remote = self
                .inc
                .passthrough
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&header))
                .map(|(_, v)| v.clone());
            if let Some(mut u) = remote {
                if settings.http_auth_realm_lowercase {
                    if let Some((name, realm)) = u.split_once('@') {
                        u = format!("{name}@{}", realm.to_lowercase());
                    }
                }
                user = Some(u);
            } else if let Some(auth) = self.inc.header("authorization").map(str::to_string) {
                let (scheme, challenge) = auth.split_once(' ').unwrap_or(("", ""));
                if scheme.eq_ignore_ascii_case("basic") {
                    use base64::Engine;
                    let decoded = base64::engine::general_purpose::STANDARD
                        .decode(challenge.trim())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .unwrap_or_default();
                    let (name, pw) = decoded.split_once(':').unwrap_or(("", ""));
                    self.make_anonymous()?;
                    actions::verify_login(self, name, pw)?;
                    user = Some(name.to_string());
                }
            }
        }
        if user.is_none() {
            if let Some(u) = self.session_user() {
                user = Some(u);
                self.touch_session()?;
            }
        }
        let name = user.unwrap_or_else(|| "anonymous".into());
        match self.db.lookup("user", &name) {
            Ok(uid) if name != "anonymous" => self.become_user(&uid, &name),
            _ => self.make_anonymous()?,
        }
        Ok(())
    }

    // ------------------------------------------------------------------
    // context

    fn determine_context(&mut self) -> Step {
        let mut template_override = None;
        for (k, v) in &self.form {
            if let FormValue::Text(t) = v {
                match k.as_str() {
                    "@template" => template_override = Some(t.clone()),
                    "@ok_message" if !t.is_empty() => self.ok.push(t.clone()),
                    "@error_message" if !t.is_empty() => self.err.push(t.clone()),
                    _ => {}
                }
            }
        }
        let path = self.inc.path.clone();
        let mut segs: Vec<&str> = path.split('/').collect();
        // `/issue1/` is `/issue1`
        while segs.len() > 1 && segs.last() == Some(&"") {
            segs.pop();
        }
        let first = segs.first().copied().unwrap_or("");
        if first.is_empty() || first == "home" || first == "index" {
            self.template = template_override.unwrap_or_default();
            return Ok(());
        }
        if segs.len() > 1 {
            return Err(Flow::Reply(self.serve_file(first)?));
        }
        // a class whose name ends in digits is named by its whole name
        let item = designator::split_normalised(first)
            .ok()
            .filter(|(cn, _)| self.db.class(cn).is_ok() || self.db.class(first).is_err());
        match item {
            Some((cn, id)) => {
                self.classname = Some(cn.to_string());
                if self.db.class(cn).is_err() {
                    return Err(Flow::NotFound(format!("{cn}/{id}")));
                }
                let too_big = id.parse::<u64>().map(|n| n > 1 << 31).unwrap_or(true);
                // Loaded rather than only looked for: the page (or the
                // action) reads it next, from the request's cache.
                let found = !too_big
                    && match self.db.get_node(cn, &id) {
                        Ok(_) => true,
                        Err(Error::NoSuchNode { .. }) => false,
                        Err(e) => return Err(e.into()),
                    };
                if !found {
                    return Err(Flow::NotFound(format!("{cn}/{id}")));
                }
                self.itemid = Some(id);
                self.template = "item".into();
            }
            None => {
                self.classname = Some(first.to_string());
                if self.db.class(first).is_err() {
                    return Err(Flow::NotFound(first.to_string()));
                }
                self.template = "index".into();
            }
        }
        if let Some(t) = template_override {
            self.template = t;
        }
        Ok(())
    }

    fn action_name(&self) -> Step<Option<String>> {
        let actions: Vec<&str> = self
            .form
            .iter()
            .filter(|(k, _)| k == "@action")
            .filter_map(|(_, v)| match v {
                FormValue::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        if actions.len() > 1 {
            return Err(Flow::BadRequest(
                self.tr("broken form: multiple @action values submitted", &[]),
            ));
        }
        Ok(actions
            .first()
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty()))
    }

    /// Roundup's anonymous access rule, applied to every user: the web
    /// interface needs the "Web Access" permission, except for logging in
    /// and registering.
    fn check_web_access(&mut self, action: Option<&str>) -> Step {
        if matches!(action, Some("login") | Some("register")) {
            return Ok(());
        }
        if self.template == "register"
            && self.classname.as_deref() == Some("user")
            && self
                .db
                .has_permission("Register", Some("user"), None, None)?
        {
            return Ok(());
        }
        if !self.db.has_permission("Web Access", None, None, None)? {
            return Err(Flow::Unauthorised(if self.username == "anonymous" {
                self.tr(
                    "Anonymous users are not allowed to use the web interface",
                    &[],
                )
            } else {
                // ours (Roundup 2.6 checks anonymous only): no message id
                "You are not allowed to use the web interface".into()
            }));
        }
        Ok(())
    }

    // ------------------------------------------------------------------
    // CSRF

    /// The core CSRF decision for this request, then the `@csrf` token of
    /// a form post (or, sent with a safe method, the token is spent as
    /// leaked).
    fn check_csrf(&mut self) -> Step {
        let method = self.inc.method.clone();
        let st = Arc::clone(self.st);
        let policy = &st.settings.csrf;
        let inc = self.inc;
        let req = CsrfRequest::from_headers(&method, &self.base, false, |n| inc.header(n));
        let mut d = csrf::decide(policy, &req, &self.userid);
        let token = self.form_text("@csrf").map(str::to_string);
        let poster = Poster {
            userid: &self.userid,
            sid: self.sid.as_deref(),
            now: sessions::now() as u64,
        };
        let result = match d.result {
            Err(r) => Err(r),
            Ok(Next::Accepted) => Ok(()),
            Ok(Next::Safe) => {
                if let Some(t) = &token {
                    let mut otks = st.otks()?;
                    if csrf::spend_leaked_token(otks.as_mut(), &st.csrf_signer, t, poster)? {
                        d.log
                            .push(format!("csrf key used with method {method}; destroying it"));
                    }
                }
                Ok(())
            }
            Ok(Next::CheckToken) => {
                let mut otks = st.otks()?;
                csrf::check_token(
                    policy,
                    otks.as_mut(),
                    &st.csrf_signer,
                    token.as_deref(),
                    poster,
                    &mut d.log,
                )?
            }
        };
        for line in &d.log {
            eprintln!("roundup-server: {line}");
        }
        result.map_err(|r| {
            if r.status == 405 {
                self.status = 405;
                if let Some(allow) = r.allow {
                    self.extra_headers.push(("Allow".into(), allow.into()));
                }
            }
            let message = csrf_message(&self.translator, &r.message);
            match r.kind {
                RefusalKind::Unauthorised => Flow::Unauthorised(message),
                RefusalKind::Usage => Flow::BadRequest(message),
            }
        })
    }

    /// A new `@csrf` token bound to this user and session.
    pub fn issuer(&self) -> CsrfIssuer {
        let st = Arc::clone(self.st);
        let uid = self.userid.clone();
        let sid = self.sid.clone();
        let issued = Arc::clone(&self.issued);
        CsrfIssuer::new(Arc::new(move |lifetime: Option<u64>| {
            let minutes = lifetime.unwrap_or(st.settings.csrf.token_lifetime_min);
            let expires = sessions::now() as u64 + minutes * 60;
            let token = st.csrf_signer.issue(&uid, sid.as_deref(), expires);
            if let Ok(mut v) = issued.lock() {
                v.push((token.clone(), lifetime));
            }
            token
        }))
    }

    // ------------------------------------------------------------------
    // helpers for actions

    /// A message in the request's language with its placeholders filled
    /// in (Roundup's `self._(msgid) % values`; see [`tr_fmt`]).
    pub fn tr(&self, msgid: &str, args: &[(&str, &str)]) -> String {
        tr_fmt(&self.translator, msgid, args)
    }

    /// A message in the process's language (Roundup's module-level
    /// `_(msgid) % values`; see [`process_translator`]).
    pub fn tr_process(&self, msgid: &str, args: &[(&str, &str)]) -> String {
        tr_fmt(&process_translator(), msgid, args)
    }

    pub fn form_text(&self, name: &str) -> Option<&str> {
        self.form.iter().find_map(|(k, v)| match v {
            FormValue::Text(t) if k == name => Some(t.as_str()),
            _ => None,
        })
    }

    pub fn has_form(&self, name: &str) -> bool {
        self.form.iter().any(|(k, _)| k == name)
    }

    pub fn has_permission(
        &self,
        perm: &str,
        class: Option<&str>,
        prop: Option<&str>,
        item: Option<&str>,
    ) -> Step<bool> {
        Ok(self.db.has_permission(perm, class, prop, item)?)
    }

    // ------------------------------------------------------------------
    // files

    fn serve_file(&mut self, designator: &str) -> Step<Reply> {
        let Ok((cn, id)) = designator::split_normalised(designator) else {
            return Err(Flow::NotFound(designator.to_string()));
        };
        let Ok(cls) = self.db.class(cn) else {
            return Err(Flow::NotFound(designator.to_string()));
        };
        if cls.prop("type").is_none() || cls.prop("content").is_none() {
            return Err(Flow::NotFound(designator.to_string()));
        }
        if !self.db.has_node(cn, &id)? {
            return Err(Flow::NotFound(designator.to_string()));
        }
        self.check_web_access(None)?;
        if !self
            .db
            .has_permission("View", Some(cn), Some("content"), Some(&id))?
        {
            return Err(Flow::Unauthorised(
                self.tr("You are not allowed to view this file.", &[]),
            ));
        }
        let declared = match self.db.get(cn, &id, "type")? {
            Some(Value::String(t)) if !t.trim().is_empty() => t.trim().to_lowercase(),
            _ => "text/plain".into(),
        };
        let allowed = MIME_ALLOWLIST.contains(&declared.as_str())
            || (declared == "text/html" && self.st.settings.allow_html_file);
        let mime = if allowed {
            declared
        } else {
            "application/octet-stream".to_string()
        };
        let activity = match self.db.get(cn, &id, "activity")? {
            Some(Value::Date(d)) => d.timestamp().max(0.0) as u64,
            _ => 0,
        };
        let mut reply = Reply::new(200);
        reply.set("X-Content-Type-Options", "nosniff");
        reply.set("Content-Security-Policy", "script-src 'none'");
        reply.set("Content-Type", &mime);
        reply.set("Last-Modified", &crate::reply::http_date(activity));
        let filename = match self.db.get(cn, &id, "name") {
            Ok(Some(Value::String(n))) if !n.is_empty() => n,
            _ => designator.to_string(),
        };
        let disposition = if allowed { "inline" } else { "attachment" };
        reply.set(
            "Content-Disposition",
            &format!(
                "{disposition}; filename=\"{}\"",
                filename.replace(['"', '\\', '\r', '\n'], "_")
            ),
        );
        if crate::reply::not_modified_since(self.inc, activity) {
            reply.status = 304;
            reply.compressible = false;
            return Ok(reply);
        }
        reply.body = self.db.file_content(cn, &id)?;
        Ok(reply)
    }

    // ------------------------------------------------------------------
    // rendering

    pub fn web_request(&self) -> WebRequest {
        let mut form = self.form.clone();
        if self.form_wins {
            form.push(("@form_wins".into(), FormValue::Text("1".into())));
        }
        WebRequest {
            base: self.base.clone(),
            path: self.inc.path.clone(),
            classname: self.classname.clone(),
            itemid: self.itemid.clone(),
            form,
            method: self.inc.method.clone(),
            userid: self.userid.clone(),
            username: self.username.clone(),
            nonce: self.nonce.clone(),
            csrf: self.issuer(),
            session_id: self.sid.clone(),
            headers: self.inc.headers.clone(),
            query: self.inc.query.clone(),
            language: self.languages.first().cloned().unwrap_or_default(),
            translator: self.translator.clone(),
        }
    }

    /// Pick `ok|error` template alternatives by whether there are errors.
    fn chosen_template(&self) -> String {
        match self.template.split_once('|') {
            Some((ok, bad)) => {
                if self.err.is_empty() {
                    ok.to_string()
                } else {
                    bad.to_string()
                }
            }
            None => self.template.clone(),
        }
    }

    /// Page-level View checks: an item page needs View on the item, an
    /// index page View on the class.
    fn check_view(&self, template: &str) -> Step {
        let Some(cn) = self.classname.as_deref() else {
            return Ok(());
        };
        // A TAL page decides for itself, as in Roundup: Roundup's own
        // templates show "You are not allowed to view this page" or a
        // login prompt with status 200.
        let shown = if template.is_empty() {
            if self.itemid.is_some() {
                "item"
            } else {
                "index"
            }
        } else {
            template
        };
        if self.st.templates.is_tal(Some(cn), shown) {
            return Ok(());
        }
        let allowed = match (&self.itemid, template) {
            (Some(id), _) => self.db.has_permission("View", Some(cn), None, Some(id))?,
            (None, "index") => self.db.has_permission("View", Some(cn), None, None)?,
            _ => true,
        };
        if allowed {
            Ok(())
        } else {
            Err(Flow::Unauthorised(format!(
                "You are not allowed to view this page ({cn}{}).",
                self.itemid.as_deref().unwrap_or("")
            )))
        }
    }

    fn render_context(&mut self) -> Step<Reply> {
        let template = self.chosen_template();
        self.check_view(&template)?;
        let view = View {
            classname: self.classname.clone(),
            itemid: self.itemid.clone(),
            template: if template.is_empty() {
                "home".into()
            } else {
                template
            },
        };
        let key = self.page_key(&view);
        let generation = self.db.shared_generation();
        let cached = match (&key, generation) {
            (Some(k), Some(g)) => self.st.pages.get(k, g),
            _ => None,
        };
        let body = match cached {
            Some(pieces) => {
                let issuer = self.issuer();
                page_cache::assemble(&pieces, |life| issuer.issue(life), &self.nonce)
            }
            None => {
                let body = self.render(&view)?;
                if let (Some(k), Some(g)) = (key, generation) {
                    if self.cookies.is_empty() && self.status == 200 {
                        let tokens = self.issued.lock().map(|v| v.clone()).unwrap_or_default();
                        self.st
                            .pages
                            .put(k, g, page_cache::cut(&body, &tokens, &self.nonce));
                    }
                }
                body
            }
        };
        let mut reply = Reply::html(self.status, body);
        reply.set("Cache-Control", "no-cache");
        reply.set(
            "Expires",
            &crate::reply::http_date(crate::reply::now_secs().saturating_sub(1)),
        );
        Ok(reply)
    }

    /// The page cache key of a plain page view, `None` for anything else
    /// (see [`page_cache`]): what the page can depend on besides the
    /// database and the clock.
    fn page_key(&self, view: &View) -> Option<String> {
        if !matches!(self.inc.method.as_str(), "GET" | "HEAD")
            || self.has_form("@action")
            || self.has_form("@csrf")
            || self.form_wins
            || !self.cookies.is_empty()
            || self.status != 200
        {
            return None;
        }
        let mut k = String::with_capacity(256);
        let _ = write!(
            k,
            "{}\0{}\0{}\0{}\0{}\0{}\0{:?}\0{:?}\0{}\0",
            self.inc.method,
            self.base,
            self.inc.path,
            self.inc.query,
            self.userid,
            self.sid.as_deref().unwrap_or(""),
            view.classname,
            view.itemid,
            view.template,
        );
        for m in self.ok.iter().chain(&self.err).chain(&self.languages) {
            k.push_str(m);
            k.push('\0');
        }
        // Templates may look at any header (request.env); the cookie
        // header is covered by the session id.
        for (name, value) in self.inc.headers.iter().chain(&self.inc.passthrough) {
            if name != "cookie" {
                k.push_str(name);
                k.push(':');
                k.push_str(value);
                k.push('\0');
            }
        }
        Some(k)
    }

    fn render(&self, view: &View) -> Step<String> {
        let msgs = PageMessages {
            ok: self.ok.clone(),
            error: self.err.clone(),
        };
        let req = self.web_request();
        match self
            .st
            .templates
            .render(&self.db, &self.st.tracker, &req, view, &msgs)
        {
            Ok(s) => Ok(s),
            Err(Error::Unauthorised(m)) => Err(Flow::Unauthorised(m)),
            Err(e) => Err(Flow::Fatal(e)),
        }
    }

    /// The front page with an error (after Unauthorised and login errors).
    fn front_page(&mut self, status: u16, message: String) -> Reply {
        self.classname = None;
        self.itemid = None;
        self.template = String::new();
        if !self.err.contains(&message) {
            self.err.push(message.clone());
        }
        let view = View {
            classname: None,
            itemid: None,
            template: "home".into(),
        };
        match self.render(&view) {
            Ok(body) => Reply::html(status, body),
            Err(_) => Reply::html(status, error_page("Not allowed", &message)),
        }
    }

    fn finish(&mut self, flow: Flow) -> Reply {
        match flow {
            Flow::Redirect(url) => Reply::redirect(&url),
            Flow::Reply(r) => r,
            Flow::Unauthorised(m) => self.front_page(403, m),
            Flow::LoginFailed(m) => {
                let _ = self.make_anonymous();
                if self.st.settings.http_auth {
                    let realm = self.st.settings.tracker_name.replace('"', "");
                    self.extra_headers.push((
                        "WWW-Authenticate".into(),
                        format!("Basic realm=\"{realm}\""),
                    ));
                    self.front_page(401, m)
                } else {
                    self.front_page(403, m)
                }
            }
            Flow::RateLimited(m, headers) => {
                let _ = self.make_anonymous();
                self.extra_headers.extend(headers);
                self.front_page(429, m)
            }
            Flow::NotFound(what) => {
                let known_class = self
                    .classname
                    .as_deref()
                    .is_some_and(|c| self.db.class(c).is_ok());
                if known_class && self.st.templates.has(self.classname.as_deref(), "404") {
                    self.itemid = None;
                    let view = View {
                        classname: self.classname.clone(),
                        itemid: None,
                        template: "404".into(),
                    };
                    if let Ok(body) = self.render(&view) {
                        return Reply::html(404, body);
                    }
                }
                Reply::html(404, error_page("Not found", &format!("{what}: not found")))
            }
            Flow::BadRequest(m) => {
                let status = if self.status == 405 { 405 } else { 400 };
                Reply::html(status, error_page("Bad request", &m))
            }
            Flow::Fatal(e) => {
                eprintln!("roundup-server: {}: {e}", self.st.name);
                let detail = if self.st.settings.debug {
                    e.to_string()
                } else {
                    "An error has occurred; the tracker administrator can find the details in the server log.".into()
                };
                Reply::html(500, error_page("Error", &detail))
            }
        }
    }

    /// Headers every tracker response gets: cookies, security headers,
    /// the CSP (when configured).
    fn decorate(&self, reply: &mut Reply) {
        for (k, v) in &self.extra_headers {
            reply.set(k, v);
        }
        for c in &self.cookies {
            reply.add("Set-Cookie", c);
        }
        if reply.get("X-Content-Type-Options").is_none() {
            reply.set("X-Content-Type-Options", "nosniff");
        }
        reply.set("X-Frame-Options", "SAMEORIGIN");
        reply.set("Referrer-Policy", "same-origin");
        if reply.get("Content-Security-Policy").is_none() {
            if let Some(csp) = &self.st.settings.content_security_policy {
                reply.set(
                    "Content-Security-Policy",
                    &csp.replace("{nonce}", &self.nonce),
                );
            }
        }
    }

    /// `base` + `path` + `?@ok_message=...&@template=...`.
    pub fn url_with(&self, path: &str, params: &[(&str, &str)]) -> String {
        let mut url = format!("{}{}", self.base, path);
        for (i, (k, v)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&quote(v));
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_refusals_keep_their_values() {
        let t = Translator::default();
        assert_eq!(
            csrf_message(&t, "Invalid HOST example.org"),
            "Invalid HOST example.org"
        );
        assert_eq!(
            csrf_message(&t, "Missing header: REFERER"),
            "Missing header: REFERER"
        );
        assert_eq!(csrf_message(&t, csrf::TOKEN_FAILURE), csrf::TOKEN_FAILURE);
    }
}
