//! The tracker configuration options the web server reads, collected once
//! when a tracker is opened.

use std::path::PathBuf;

use roundup_core::config::Config;

/// How strictly one CSRF check is enforced (`[web] csrf_enforce_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enforce {
    /// Not checked.
    No,
    /// Checked when the header/token is present; failure rejects.
    Yes,
    /// Checked when present; failure is only logged.
    LogFailure,
    /// Must be present and pass.
    Required,
}

impl Enforce {
    fn parse(s: &str) -> Enforce {
        match s.trim().to_lowercase().as_str() {
            "no" | "false" | "0" => Enforce::No,
            "logfailure" => Enforce::LogFailure,
            "required" => Enforce::Required,
            _ => Enforce::Yes,
        }
    }
}

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
    pub login_attempts_min: u64,
    pub registration_delay: u64,
    pub registration_prevalidate_username: bool,
    pub tokenless_csrf: bool,
    pub allowed_api_origins: Vec<String>,
    pub csrf_token_lifetime_min: u64,
    pub csrf_header_min_count: u64,
    pub csrf_token: Enforce,
    pub csrf_referer: Enforce,
    pub csrf_origin: Enforce,
    pub csrf_x_forwarded_host: Enforce,
    pub csrf_host: Enforce,
    pub samesite: String,
    pub allow_html_file: bool,
    pub dynamic_compression: bool,
    pub use_precompressed_files: bool,
    pub debug: bool,
    pub login_empty_passwords: bool,
    pub migrate_passwords: bool,
    pub instant_registration: bool,
    pub email_registration_confirmation: bool,
    pub new_web_user_roles: String,
    /// `[mail] debug`: where outgoing mail is written instead of sent.
    pub mail_debug: Option<PathBuf>,
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
            login_attempts_min: n(c, "web", "login_attempts_min", 3),
            registration_delay: n(c, "web", "registration_delay", 4),
            registration_prevalidate_username: b(
                c,
                "web",
                "registration_prevalidate_username",
                false,
            ),
            tokenless_csrf: b(c, "web", "use_tokenless_csrf_protection", false),
            allowed_api_origins: c.get_list("web", "allowed_api_origins").unwrap_or_default(),
            csrf_token_lifetime_min: n(c, "web", "csrf_token_lifetime", 20160),
            csrf_header_min_count: n(c, "web", "csrf_header_min_count", 1),
            csrf_token: Enforce::parse(&s(c, "web", "csrf_enforce_token", "yes")),
            csrf_referer: Enforce::parse(&s(c, "web", "csrf_enforce_header_referer", "yes")),
            csrf_origin: Enforce::parse(&s(c, "web", "csrf_enforce_header_origin", "yes")),
            csrf_x_forwarded_host: Enforce::parse(&s(
                c,
                "web",
                "csrf_enforce_header_x-forwarded-host",
                "yes",
            )),
            csrf_host: Enforce::parse(&s(c, "web", "csrf_enforce_header_host", "yes")),
            samesite: s(c, "web", "samesite_cookie_setting", "Lax"),
            allow_html_file: b(c, "web", "allow_html_file", false),
            dynamic_compression: b(c, "web", "dynamic_compression", true),
            use_precompressed_files: b(c, "web", "use_precompressed_files", false),
            debug: b(c, "web", "debug", false),
            login_empty_passwords: b(c, "web", "login_empty_passwords", false),
            migrate_passwords: b(c, "web", "migrate_passwords", true),
            instant_registration: b(c, "main", "instant_registration", false),
            email_registration_confirmation: b(c, "main", "email_registration_confirmation", true),
            new_web_user_roles: c.new_web_user_roles().to_string(),
            mail_debug: c.get_path("mail", "debug").ok().flatten(),
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
