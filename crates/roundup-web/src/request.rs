//! A web request in Roundup's terms: the contract between the HTTP layer
//! (which builds it) and the templates and actions (which read it).

/// One form variable's value: text or an uploaded file.
#[derive(Clone, Debug, PartialEq)]
pub enum FormValue {
    Text(String),
    File {
        filename: String,
        content_type: String,
        content: Vec<u8>,
    },
}

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

    /// The action requested with `@action`, lower-cased.
    pub fn action(&self) -> Option<String> {
        self.get("@action")
            .map(|a| a.trim().to_lowercase())
            .filter(|a| !a.is_empty())
    }
}
