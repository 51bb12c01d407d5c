//! Requests and responses as the tracker code sees them: plain data that
//! moves between the async HTTP layer and the blocking tracker threads.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::request::FormValue;

/// An HTTP request routed to one tracker.
#[derive(Clone, Debug, Default)]
pub struct Incoming {
    /// Upper-case method.
    pub method: String,
    /// Percent-decoded path below the tracker (no leading slash).
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Header names lower-case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// Query and body variables (`:name` rewritten to `@name`).
    pub form: Vec<(String, FormValue)>,
    pub remote_addr: Option<SocketAddr>,
    /// Whether the connection is TLS.
    pub secure: bool,
    /// Headers passed through with `-I` (CGI-environment style names as
    /// configured, e.g. `REMOTE_USER`), with their values.
    pub passthrough: Vec<(String, String)>,
    /// The URL prefix the tracker is served under (`/demo/`).
    pub mount: String,
    /// The raw request body, kept only for `/rest` and `/xmlrpc` (other
    /// requests have theirs parsed into `form`).
    pub body: Vec<u8>,
}

impl Incoming {
    /// Whether this request is for the REST API or XML-RPC, which take
    /// raw bodies and answer with their own formats.
    pub fn is_api(&self) -> bool {
        api_path(&self.path)
    }

    /// Whether this request only reads: a GET or HEAD that names no
    /// `@action` (CSV export, logout and the rest run as actions). Such a
    /// request changes no tracker data and sends no mail (at most it
    /// touches the user's session), so a server may answer it on the
    /// thread that read it instead of handing it to a thread of its own.
    pub fn only_reads(&self) -> bool {
        matches!(self.method.as_str(), "GET" | "HEAD")
            && !self.form.iter().any(|(k, _)| k == "@action")
    }
}

/// `rest`, `rest/...` or `xmlrpc` below the tracker.
pub fn api_path(path: &str) -> bool {
    path == "xmlrpc" || path == "rest" || path.starts_with("rest/")
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn form_text(&self, name: &str) -> Option<&str> {
        self.form.iter().find_map(|(k, v)| match v {
            FormValue::Text(t) if k == name => Some(t.as_str()),
            _ => None,
        })
    }
}

/// A response about to be sent.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// May be compressed on the fly (dynamic content and uncompressed
    /// static files); false once a Content-Encoding is set.
    pub compressible: bool,
}

impl Reply {
    pub fn new(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            compressible: true,
        }
    }

    pub fn html(status: u16, body: String) -> Reply {
        let mut r = Reply::new(status);
        r.set("Content-Type", "text/html; charset=utf-8");
        r.body = body.into_bytes();
        r
    }

    pub fn text(status: u16, body: &str) -> Reply {
        let mut r = Reply::new(status);
        r.set("Content-Type", "text/plain; charset=utf-8");
        r.body = body.as_bytes().to_vec();
        r
    }

    pub fn redirect(url: &str) -> Reply {
        let esc = html_escape(url);
        let mut r = Reply::html(302, format!("Redirecting to <a href=\"{esc}\">{esc}</a>"));
        r.set("Location", url);
        r
    }

    /// Replace a header.
    pub fn set(&mut self, name: &str, value: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// Add a header (for repeatable ones such as Set-Cookie).
    pub fn add(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_string(), value.to_string()));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Add `value` to the Vary header.
    pub fn vary(&mut self, value: &str) {
        match self.get("Vary").map(str::to_string) {
            Some(v) if v.split(',').any(|p| p.trim().eq_ignore_ascii_case(value)) => {}
            Some(v) => self.set("Vary", &format!("{v}, {value}")),
            None => self.set("Vary", value),
        }
    }
}

/// Escape text for HTML.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query value.
pub fn quote(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Parse `application/x-www-form-urlencoded` text, rewriting `:name` to
/// `@name`.
pub fn parse_urlencoded(text: &[u8], out: &mut Vec<(String, FormValue)>) {
    for (k, v) in form_urlencoded::parse(text) {
        out.push((legacy_name(&k), FormValue::Text(v.into_owned())));
    }
}

/// Roundup's old `:name` variables are `@name` variables.
pub fn legacy_name(name: &str) -> String {
    match name.strip_prefix(':') {
        Some(rest) => format!("@{rest}"),
        None => name.to_string(),
    }
}

/// The built-in page for errors when no template serves.
pub fn error_page(title: &str, message: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body><h1>{t}</h1>\n<p class=\"error-message\">{m}</p>\n</body></html>\n",
        t = html_escape(title),
        m = html_escape(message)
    )
}

/// `If-Modified-Since` says the client's copy is current.
pub fn not_modified_since(inc: &Incoming, last_modified: u64) -> bool {
    let Some(ims) = inc.header("if-modified-since") else {
        return false;
    };
    match httpdate::parse_http_date(ims) {
        Ok(t) => {
            let client = t
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            last_modified <= client
        }
        Err(_) => false,
    }
}

/// HTTP date of a Unix time.
pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Unix time now.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
