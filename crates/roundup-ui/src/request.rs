//! A web request in Roundup's terms: the contract between the HTTP layer
//! (which builds it) and the templates and actions (which read it).

use std::sync::Arc;

/// One form variable's value: text or an uploaded file (the core's type,
/// which web actions written in Python are given as they are).
pub use roundup_core::extensions::FormField as FormValue;

/// What the HTTP layer knows about a request after routing and login.
#[derive(Clone, Debug, Default)]
pub struct WebRequest {
    /// Absolute base URL of the tracker, ending in `/` (config
    /// `[tracker] web`, or derived from the request for the demo).
    pub base: String,
    /// Request path below the tracker base, e.g. `issue42`, `issue`,
    /// `user3/` or `@@file/style.css` (no leading slash).
    pub path: String,
    /// Class named by the path (`issue` for `/issue` and `/issue42`).
    pub classname: Option<String>,
    /// Item id named by the path (`42` for `/issue42`).
    pub itemid: Option<String>,
    /// Query string and form body variables in arrival order; names as
    /// sent, except that Roundup's legacy `:name` forms are rewritten to
    /// `@name` (`:action` -> `@action`).
    pub form: Vec<(String, FormValue)>,
    /// HTTP method, upper case.
    pub method: String,
    /// The logged-in user's id (the anonymous user's id when not logged in).
    pub userid: String,
    /// The logged-in user's name ("anonymous" when not logged in).
    pub username: String,
    /// Per-request CSP nonce for inline scripts, when CSP is enabled.
    pub nonce: String,
    /// Issues `@csrf` tokens bound to this user and session (see
    /// [`WebRequest::anti_csrf_nonce`]); set by the server.
    pub csrf: CsrfIssuer,
    /// The session id from the session cookie, when there is a session.
    pub session_id: Option<String>,
    /// Request headers (names lower-case), for templates that look at
    /// them (Roundup's `request.env`).
    pub headers: Vec<(String, String)>,
    /// The raw query string of the URL (empty when it had none), for
    /// Roundup's `request.env['QUERY_STRING']`.
    pub query: String,
    /// The request's language as Roundup's `request/language` gives it:
    /// the one chosen (the first, from Accept-Language), else empty.
    pub language: String,
    /// The messages of the request's language (see
    /// [`roundup_core::i18n::choose_language`]).
    pub translator: Arc<roundup_core::i18n::Translator>,
}

/// A function that creates and stores a new one-time CSRF token and
/// returns it; its argument is the lifetime in minutes (`None`: the
/// tracker's `[web] csrf_token_lifetime`).
pub type CsrfFn = dyn Fn(Option<u64>) -> String + Send + Sync;

/// Where `@csrf` tokens come from (the server's one-time-key store).
/// The default issues random tokens that are stored nowhere, so forms
/// rendered outside a server still have a field to post.
#[derive(Clone, Default)]
pub struct CsrfIssuer(Option<Arc<CsrfFn>>);

impl CsrfIssuer {
    pub fn new(f: Arc<CsrfFn>) -> CsrfIssuer {
        CsrfIssuer(Some(f))
    }

    /// A new token (stored by the server, if this issuer has one).
    pub fn issue(&self, lifetime_minutes: Option<u64>) -> String {
        match &self.0 {
            Some(f) => f(lifetime_minutes),
            None => roundup_core::sessions::random_key(32, true),
        }
    }
}

impl std::fmt::Debug for CsrfIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "CsrfIssuer(store)"
        } else {
            "CsrfIssuer(none)"
        })
    }
}

impl WebRequest {
    /// First text value of a form variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.form.iter().find_map(|(k, v)| match v {
            FormValue::Text(t) if k == name => Some(t.as_str()),
            _ => None,
        })
    }

    /// All text values of a form variable (repeated fields, multi-selects).
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.form
            .iter()
            .filter_map(|(k, v)| match v {
                FormValue::Text(t) if k == name => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether a form variable is present at all.
    pub fn has(&self, name: &str) -> bool {
        self.form.iter().any(|(k, _)| k == name)
    }

    /// The template requested with `@template` (e.g. `index`, `item`,
    /// `search`), if any.
    pub fn template(&self) -> Option<&str> {
        self.get("@template")
    }

    /// A fresh `@csrf` token for a form on this page (Roundup's
    /// `utils.anti_csrf_nonce()`), valid for this user and session only.
    pub fn anti_csrf_nonce(&self) -> String {
        self.csrf.issue(None)
    }

    /// A message in the request's language.
    pub fn gettext<'a>(&'a self, msgid: &'a str) -> &'a str {
        self.translator.gettext(msgid)
    }

    /// A request header's value (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The action requested with `@action`, lower-cased.
    pub fn action(&self) -> Option<String> {
        self.get("@action")
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
    }
}
