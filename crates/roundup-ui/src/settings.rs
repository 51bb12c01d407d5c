//! The tracker configuration options the web server reads, collected once
//! when a tracker is opened.

use std::path::PathBuf;

use roundup_core::auth::LoginPolicy;
use roundup_core::config::Config;
use roundup_core::csrf::CsrfPolicy;

/// Web settings of one tracker.
#[derive(Clone, Debug)]
pub struct WebSettings {
    /// `[tracker] web`, ending in `/`, when set.
    pub web: Option<String>,
    pub tracker_name: String,
    pub http_auth: bool,
    pub http_auth_header: Option<String>,
    pub http_auth_realm_lowercase: bool,
    pub cookie_takes_precedence: bool,
    /// The login rules' options (rate limit, empty and old passwords).
    pub login: LoginPolicy,
    pub registration_delay: u64,
    pub registration_prevalidate_username: bool,
    /// The CSRF options (`[web] csrf_*`, allowed_api_origins, tokenless).
    pub csrf: CsrfPolicy,
    pub samesite: String,
    pub allow_html_file: bool,
    pub dynamic_compression: bool,
    pub use_precompressed_files: bool,
    pub debug: bool,
    pub instant_registration: bool,
    pub email_registration_confirmation: bool,
    pub new_web_user_roles: String,
    pub tracker_email: String,
    pub templates_dir: PathBuf,
    pub static_files: Vec<PathBuf>,
    pub db_dir: PathBuf,
    /// Not a Roundup option: `[web] content_security_policy`, a CSP
    /// header value where `{nonce}` stands for the request's nonce.
    pub content_security_policy: Option<String>,
}

fn s(c: &Config, sec: &str, opt: &str, default: &str) -> String {
    c.get_str(sec, opt).unwrap_or_else(|_| default.to_string())
}

fn b(c: &Config, sec: &str, opt: &str, default: bool) -> bool {
    c.get_bool(sec, opt).unwrap_or(default)
}

fn n(c: &Config, sec: &str, opt: &str, default: u64) -> u64 {
    c.get_int(sec, opt)
        .ok()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(default)
}

impl WebSettings {
    pub fn from_config(c: &Config) -> WebSettings {
        let web = c.get_opt_str("tracker", "web").ok().flatten().map(|w| {
            if w.ends_with('/') {
                w
            } else {
                format!("{w}/")
            }
        });
        let extra = c
            .unknown_options()
            .into_iter()
            .find(|(sec, opt, _)| {
                sec.eq_ignore_ascii_case("web")
                    && opt.eq_ignore_ascii_case("content_security_policy")
            })
            .map(|(_, _, v)| v.to_string())
            .filter(|v| !v.trim().is_empty());
        WebSettings {
            web,
            tracker_name: c.tracker_name().to_string(),
            http_auth: b(c, "web", "http_auth", true),
            http_auth_header: c.get_opt_str("web", "http_auth_header").ok().flatten(),
            http_auth_realm_lowercase: b(c, "web", "http_auth_convert_realm_to_lowercase", false),
            cookie_takes_precedence: b(c, "web", "cookie_takes_precedence", false),
            login: LoginPolicy::from_config(c),
            registration_delay: n(c, "web", "registration_delay", 4),
            registration_prevalidate_username: b(
                c,
                "web",
                "registration_prevalidate_username",
                false,
            ),
            csrf: CsrfPolicy::from_config(c),
            samesite: s(c, "web", "samesite_cookie_setting", "Lax"),
            allow_html_file: b(c, "web", "allow_html_file", false),
            dynamic_compression: b(c, "web", "dynamic_compression", true),
            use_precompressed_files: b(c, "web", "use_precompressed_files", false),
            debug: b(c, "web", "debug", false),
            instant_registration: b(c, "main", "instant_registration", false),
            email_registration_confirmation: b(c, "main", "email_registration_confirmation", true),
            new_web_user_roles: c.new_web_user_roles().to_string(),
            tracker_email: s(c, "tracker", "email", "issue_tracker"),
            templates_dir: c.templates_dir(),
            static_files: c.static_files(),
            db_dir: c.database_dir(),
            content_security_policy: extra,
        }
    }

    /// Roundup's session cookie name: the tracker name's letters after
    /// `roundup_session_` (with the `__Secure-` prefix over https).
    pub fn cookie_name(&self, secure: bool) -> String {
        let letters: String = self
            .tracker_name
            .chars()
            .filter(|c| c.is_ascii_alphabetic())
            .collect();
        if secure {
            format!("__Secure-roundup_session_{letters}")
        } else {
            format!("roundup_session_{letters}")
        }
    }
}
