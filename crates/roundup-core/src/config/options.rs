//! The table of every option a Roundup 2.6 tracker `config.ini` knows,
//! with the kind of value each one takes and how such values are checked.
//!
//! The option names, sections, order, kinds and default values follow
//! Roundup 2.6; the descriptions are our own short summaries.

use std::fmt;

/// How the value of an option is checked, normalised and interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// Free text, used as it is.
    Text,
    /// Free text that must not be empty.
    Mandatory,
    /// yes/no; `true`, `on`, `1`, `false`, `off`, `0` are accepted too (any
    /// letter case) and stored as `yes` or `no`.
    Boolean,
    /// Any integer.
    Integer,
    /// An integer of zero or more.
    IntegerGeqZero,
    /// An integer of one or more.
    IntegerGtZero,
    /// A floating point number.
    Float,
    /// An integer written in octal (with or without a `0o` prefix); stored in
    /// the `0o...` form.
    Octal,
    /// A file or directory path; relative paths are taken from the tracker
    /// home. Empty means "not set".
    FilePath,
    /// Like [`OptionKind::FilePath`]; the empty value means "none".
    NullableFilePath,
    /// Paths separated by white space, each resolved like a `FilePath`.
    MultiFilePath,
    /// Text where the empty string means "no value".
    Nullable,
    /// Words separated by commas.
    WordList,
    /// A (Python syntax) regular expression.
    RegExp,
    /// A time zone name (e.g. `Europe/Warsaw`) or a whole number of hours
    /// east of UTC.
    Timezone,
    /// An e-mail address; when it has no `@`, `@` plus `[mail] domain` is
    /// appended on use.
    MailAddress,
    /// An absolute http(s) URL that ends with `/`.
    WebUrl,
    /// A secret that must not be empty; `file://PATH` reads the first line of
    /// PATH (relative to the tracker home) instead.
    SecretMandatory,
    /// A secret that may be empty (meaning "none"); `file://` as above.
    SecretNullable,
    /// A comma separated list of secrets; `file://` as above. Every entry
    /// after the first must be at least 32 characters long.
    ListSecret,
    /// A redis URL (possibly given through `file://`); it must not contain
    /// `decode_responses`.
    RedisUrl,
    /// One of a fixed set of words, compared without regard to case and
    /// stored in lower case.
    Choice(&'static [&'static str]),
    /// Like `Choice`, but stored capitalised (`Lax`, `Strict`, `None`).
    CapitalizedChoice(&'static [&'static str]),
    /// The session database backend: empty (use the default for the main
    /// backend) or a backend compatible with `[rdbms] backend`.
    SessiondbBackend,
    /// A Python logging format string; in the file every `%` is doubled.
    LoggingFormat,
    /// Origin header values (`scheme://host`) separated by white space; `*`
    /// may only come first.
    OriginList,
    /// A number of bytes, optionally followed by `K`, `M` or `G` (powers of
    /// 1024; ours only, see [`OUR_OPTIONS`]).
    ByteSize,
}

/// Where an option's default value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultValue {
    /// This text (as it would appear in the file).
    Text(&'static str),
    /// No default: the tracker administrator must set the option.
    Unset,
    /// A fresh random token, made anew for every configuration object (this
    /// is how Roundup seeds `[web] secret_key`).
    RandomToken,
}

/// One entry of the option table.
#[derive(Debug, Clone, Copy)]
pub struct OptionDef {
    /// The `[section]` the option lives in.
    pub section: &'static str,
    /// The option name as written in config.ini (lower case).
    pub name: &'static str,
    /// What values it takes.
    pub kind: OptionKind,
    /// Its default.
    pub default: DefaultValue,
    /// Old upper-case names Roundup still accepts for it (besides the
    /// canonical one, see [`OptionDef::canonical_name`]).
    pub aliases: &'static [&'static str],
    /// What the option does, in our words. Lines are separated by `\n`.
    pub description: &'static str,
}

impl OptionDef {
    /// Roundup's upper-case name for the option: the option name alone for
    /// `[main]`, otherwise `SECTION_OPTION`.
    pub fn canonical_name(&self) -> String {
        if self.section == "main" {
            self.name.to_uppercase()
        } else {
            format!(
                "{}_{}",
                self.section.to_uppercase(),
                self.name.to_uppercase()
            )
        }
    }
}

/// A section of config.ini, in the order Roundup writes them.
#[derive(Debug, Clone, Copy)]
pub struct SectionDef {
    /// The section name.
    pub name: &'static str,
    /// A comment written above the section header, if any.
    pub description: Option<&'static str>,
}

/// The sections of a Roundup 2.6 config.ini, in order.
pub static SECTIONS: &[SectionDef] = &[
    SectionDef {
        name: "main",
        description: None,
    },
    SectionDef {
        name: "tracker",
        description: None,
    },
    SectionDef {
        name: "web",
        description: None,
    },
    SectionDef {
        name: "rdbms",
        description: Some(
            "Database settings. Apart from backend and debug_filter they\n\
             only matter to the SQL server backends.",
        ),
    },
    SectionDef {
        name: "sessiondb",
        description: Some("Where session data and one-time keys are kept."),
    },
    SectionDef {
        name: "logging",
        description: None,
    },
    SectionDef {
        name: "mail",
        description: Some(
            "Sending e-mail: nosy messages, password resets and\n\
             registration confirmations.",
        ),
    },
    SectionDef {
        name: "mailgw",
        description: Some("The incoming e-mail gateway."),
    },
    SectionDef {
        name: "pgp",
        description: Some("OpenPGP signing and encryption of e-mail."),
    },
    SectionDef {
        name: "nosy",
        description: Some("Who receives nosy messages, and how."),
    },
    SectionDef {
        name: "markdown",
        description: Some("How markdown text is rendered."),
    },
];

/// Values accepted by the csrf_enforce_* options.
pub const CSRF_VALUES: &[&str] = &["required", "yes", "logfailure", "no"];
/// Values of options that apply always, never or only to new issues.
pub const YES_NO_NEW: &[&str] = &["yes", "no", "new"];
/// Database backends Roundup knows about.
pub const BACKENDS: &[&str] = &["anydbm", "mysql", "sqlite", "postgresql"];
/// Full text indexers (the empty string picks the first one available).
pub const INDEXERS: &[&str] = &["", "xapian", "whoosh", "native", "native-fts"];
/// Log levels for REST errors.
pub const LOG_LEVELS: &[&str] = &["none", "debug", "info", "warning", "error", "critical"];
/// Transaction isolation levels.
pub const ISOLATION_LEVELS: &[&str] = &[
    "read uncommitted",
    "read committed",
    "repeatable read",
    "serializable",
];
/// Ways to turn HTML-only e-mail into text.
pub const HTML_TO_TEXT: &[&str] = &["beautifulsoup", "justhtml", "dehtml", "none"];
/// SameSite cookie modes.
pub const SAMESITE: &[&str] = &["strict", "lax", "none"];
/// The only HTML flavour Roundup 2.6 generates.
pub const HTML_VERSIONS: &[&str] = &["html4"];

/// PostgreSQL text search configurations accepted as `indexer_language`
/// when the `native-fts` indexer is chosen.
pub const NATIVE_FTS_LANGUAGES: &[&str] = &[
    "simple",
    "custom1",
    "custom2",
    "custom3",
    "custom4",
    "custom5",
    "arabic",
    "armenian",
    "basque",
    "catalan",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "greek",
    "hindi",
    "hungarian",
    "indonesian",
    "irish",
    "italian",
    "lithuanian",
    "nepali",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "serbian",
    "spanish",
    "swedish",
    "tamil",
    "turkish",
    "yiddish",
];

/// Pairs (main backend, session backend) that may be used together.
pub const SESSIONDB_COMPATIBLE: &[(&str, &str)] = &[
    ("anydbm", "anydbm"),
    ("anydbm", "redis"),
    ("sqlite", "anydbm"),
    ("sqlite", "sqlite"),
    ("sqlite", "redis"),
    ("mysql", "mysql"),
    ("postgresql", "postgresql"),
];

use DefaultValue::{RandomToken, Text as D, Unset};
use OptionKind::*;

const fn opt(
    section: &'static str,
    name: &'static str,
    kind: OptionKind,
    default: DefaultValue,
    description: &'static str,
) -> OptionDef {
    OptionDef {
        section,
        name,
        kind,
        default,
        aliases: &[],
        description,
    }
}

const fn aka(
    section: &'static str,
    name: &'static str,
    kind: OptionKind,
    default: DefaultValue,
    aliases: &'static [&'static str],
    description: &'static str,
) -> OptionDef {
    OptionDef {
        section,
        name,
        kind,
        default,
        aliases,
        description,
    }
}

const CSRF_CHOICES: &str = "required: reject the request when the check fails or cannot be made;\n\
     yes: reject it when the check fails, accept it when it cannot be made;\n\
     logfailure: only log failures; no: do not check.";

/// Every option of a Roundup 2.6 config.ini, grouped by section in
/// Roundup's order.
pub static OPTIONS: &[OptionDef] = &[
    // ---- [main]
    opt(
        "main",
        "database",
        FilePath,
        D("db"),
        "Directory holding the tracker's database files.",
    ),
    opt(
        "main",
        "template_engine",
        Text,
        D("zopetal"),
        "Which page template engine renders the web pages:\n\
         zopetal (TAL), chameleon or jinja2.",
    ),
    opt(
        "main",
        "templates",
        FilePath,
        D("html"),
        "Directory holding the web page templates.",
    ),
    opt(
        "main",
        "static_files",
        MultiFilePath,
        D(""),
        "Extra directories from which public static files (images, style\n\
         sheets ...) are served, searched before the templates directory.\n\
         A '-' entry stops the search there, so the templates directory is\n\
         not looked at. Anyone may fetch these files: keep secrets out.",
    ),
    opt(
        "main",
        "admin_email",
        MailAddress,
        D("roundup-admin"),
        "Address that receives Roundup's complaints when something goes\n\
         wrong. [mail] domain is appended when it has no domain part.",
    ),
    opt(
        "main",
        "dispatcher_email",
        MailAddress,
        D("roundup-admin"),
        "Address of the 'dispatcher', who may be told about failures to\n\
         deliver mail to users (see error_messages_to). [mail] domain is\n\
         appended when it has no domain part.",
    ),
    opt(
        "main",
        "email_from_tag",
        Text,
        D(""),
        "Text added after the author's name in the From: header of nosy\n\
         messages, inside the quoted display name.",
    ),
    opt(
        "main",
        "new_web_user_roles",
        Text,
        D("User"),
        "Comma separated roles given to users who sign up through the web.",
    ),
    opt(
        "main",
        "new_email_user_roles",
        Text,
        D("User"),
        "Comma separated roles given to users created by the mail gateway.",
    ),
    opt(
        "main",
        "obsolete_history_roles",
        Text,
        D("Admin"),
        "Roles allowed to see history entries for properties or classes\n\
         that the schema no longer has.",
    ),
    opt(
        "main",
        "error_messages_to",
        Text,
        D("user"),
        "Who gets e-mail about errors: user, dispatcher or both.",
    ),
    opt(
        "main",
        "html_version",
        Choice(HTML_VERSIONS),
        D("html4"),
        "Flavour of HTML generated; html4 is the only one supported.",
    ),
    aka(
        "main",
        "timezone",
        Timezone,
        D("UTC"),
        &["DEFAULT_TIMEZONE"],
        "Time zone used for users who have not chosen one.",
    ),
    opt(
        "main",
        "instant_registration",
        Boolean,
        D("no"),
        "Create accounts at once on registration instead of waiting for the\n\
         e-mail confirmation.",
    ),
    opt(
        "main",
        "email_registration_confirmation",
        Boolean,
        D("yes"),
        "Allow a registration to be confirmed by replying to the e-mail,\n\
         not only through the web link.",
    ),
    opt(
        "main",
        "indexer",
        Choice(INDEXERS),
        D(""),
        "Full text indexer: xapian, whoosh, native or native-fts. Empty\n\
         picks the first one available (native-fts only when named).",
    ),
    opt(
        "main",
        "indexer_language",
        Text,
        D("english"),
        "Language for stemming and stop words of the xapian and native-fts\n\
         indexers.",
    ),
    opt(
        "main",
        "indexer_stopwords",
        WordList,
        D(""),
        "Comma separated words, besides the built-in list, that the indexer\n\
         ignores.",
    ),
    opt(
        "main",
        "umask",
        Octal,
        D("0o002"),
        "File creation mask, in octal.",
    ),
    opt(
        "main",
        "csv_field_size",
        IntegerGeqZero,
        D("131072"),
        "Largest field, in bytes, accepted when importing an export (CSV).",
    ),
    opt(
        "main",
        "password_pbkdf2_default_rounds",
        IntegerGeqZero,
        D("250000"),
        "Number of PBKDF2 iterations used when hashing new passwords. More\n\
         rounds cost more CPU per login and make guessing harder.",
    ),
    // ---- [tracker]
    opt(
        "tracker",
        "name",
        Text,
        D("Roundup issue tracker"),
        "The tracker's name, shown to users.",
    ),
    opt(
        "tracker",
        "web",
        WebUrl,
        Unset,
        "The tracker's home page URL as users reach it, including any\n\
         script path; it must start with http:// or https:// and end in /.",
    ),
    opt(
        "tracker",
        "email",
        MailAddress,
        D("issue_tracker"),
        "Address of the tracker's mail gateway. [mail] domain is appended\n\
         when it has no domain part.",
    ),
    opt(
        "tracker",
        "replyto_address",
        Text,
        D(""),
        "Reply-To: of nosy messages. Empty uses the tracker address; AUTHOR\n\
         uses the address of whoever made the change; anything else is used\n\
         as the address itself.",
    ),
    opt(
        "tracker",
        "language",
        Nullable,
        D(""),
        "Default locale of the tracker. Empty takes it from the LANGUAGE,\n\
         LC_ALL, LC_MESSAGES or LANG environment variables.",
    ),
    // ---- [web]
    opt(
        "web",
        "allow_html_file",
        Boolean,
        D("no"),
        "Serve uploaded HTML files as HTML. Unsafe unless every uploader is\n\
         trusted.",
    ),
    opt(
        "web",
        "http_auth",
        Boolean,
        D("yes"),
        "Accept users authenticated by the web server (the header named by\n\
         http_auth_header, or HTTP basic authorization).",
    ),
    opt(
        "web",
        "http_auth_header",
        Text,
        D(""),
        "Header in which an upstream server passes the authenticated user\n\
         name; empty means REMOTE_USER.",
    ),
    opt(
        "web",
        "dynamic_compression",
        Boolean,
        D("yes"),
        "Compress responses on the fly when the client accepts it.",
    ),
    opt(
        "web",
        "use_precompressed_files",
        Boolean,
        D("no"),
        "Serve ready-made compressed copies (.gzip, .br, .zstd) of static\n\
         files when they exist next to the originals.",
    ),
    opt(
        "web",
        "http_auth_convert_realm_to_lowercase",
        Boolean,
        D("no"),
        "Lower-case the realm part of a user@REALM name coming from the web\n\
         server before looking the user up.",
    ),
    opt(
        "web",
        "cookie_takes_precedence",
        Boolean,
        D("no"),
        "When both a session cookie and web server authentication are\n\
         present, believe the cookie.",
    ),
    opt(
        "web",
        "login_attempts_min",
        IntegerGeqZero,
        D("3"),
        "Login attempts allowed per user per minute; 0 turns the limit off.",
    ),
    opt(
        "web",
        "registration_delay",
        IntegerGeqZero,
        D("4"),
        "Minimum seconds between showing the registration form and accepting\n\
         it, to slow down bots; 0 turns this off.",
    ),
    opt(
        "web",
        "registration_prevalidate_username",
        Boolean,
        D("no"),
        "Check that a user name is free before sending the registration\n\
         e-mail (this lets strangers probe for existing names).",
    ),
    opt(
        "web",
        "samesite_cookie_setting",
        CapitalizedChoice(SAMESITE),
        D("Lax"),
        "SameSite mode of the session cookie: Lax, Strict, or None to leave\n\
         the attribute out.",
    ),
    opt(
        "web",
        "enable_xmlrpc",
        Boolean,
        D("yes"),
        "Offer the XML-RPC interface at <tracker web>xmlrpc.",
    ),
    opt(
        "web",
        "translate_xmlrpc",
        Boolean,
        D("no"),
        "Translate XML-RPC messages into the client's or tracker's language.",
    ),
    opt(
        "web",
        "enable_rest",
        Boolean,
        D("yes"),
        "Offer the REST interface at <tracker web>rest.",
    ),
    opt(
        "web",
        "translate_rest",
        Boolean,
        D("no"),
        "Translate REST messages into the client's or tracker's language.",
    ),
    opt(
        "web",
        "rest_logging",
        Choice(LOG_LEVELS),
        D("none"),
        "Level at which REST errors are logged.",
    ),
    opt(
        "web",
        "api_calls_per_interval",
        IntegerGeqZero,
        D("0"),
        "API requests a client may make per api_interval_in_sec; 0 means no\n\
         limit.",
    ),
    opt(
        "web",
        "api_interval_in_sec",
        IntegerGtZero,
        D("3600"),
        "Length in seconds of the API rate limiting window.",
    ),
    opt(
        "web",
        "api_failed_login_limit",
        IntegerGeqZero,
        D("4"),
        "Failed API logins allowed per api_failed_login_interval_in_sec;\n\
         0 turns the limit off (not advisable).",
    ),
    opt(
        "web",
        "api_failed_login_interval_in_sec",
        IntegerGtZero,
        D("600"),
        "Length in seconds of the window for counting failed API logins.",
    ),
    opt(
        "web",
        "use_tokenless_csrf_protection",
        Boolean,
        D("no"),
        "Protect against CSRF without form tokens; the csrf_* options below\n\
         are then not used.",
    ),
    opt(
        "web",
        "allowed_api_origins",
        OriginList,
        D(""),
        "Further Origin header values (scheme://host, exact match)\n\
         accepted besides the tracker's own. '*' accepts any origin and must\n\
         come first.",
    ),
    opt(
        "web",
        "csrf_enforce_token",
        Choice(CSRF_VALUES),
        D("yes"),
        "Checking of the @csrf token in posted forms.",
    ),
    opt(
        "web",
        "csrf_token_lifetime",
        IntegerGeqZero,
        D("20160"),
        "Minutes an unused CSRF token stays valid (20160 is two weeks).",
    ),
    opt(
        "web",
        "csrf_enforce_header_x-requested-with",
        Choice(CSRF_VALUES),
        D("yes"),
        "For REST and XML-RPC posts: require an X-Requested-With header\n\
         (any value). yes acts like required, logfailure like no.",
    ),
    opt(
        "web",
        "csrf_enforce_header_referer",
        Choice(CSRF_VALUES),
        D("yes"),
        "Checking that the Referer header matches the tracker URL.",
    ),
    opt(
        "web",
        "csrf_enforce_header_origin",
        Choice(CSRF_VALUES),
        D("yes"),
        "Checking that the Origin header matches the tracker URL.",
    ),
    opt(
        "web",
        "csrf_enforce_header_x-forwarded-host",
        Choice(CSRF_VALUES),
        D("yes"),
        "Checking that X-Forwarded-Host matches the tracker URL's host.",
    ),
    opt(
        "web",
        "csrf_enforce_header_host",
        Choice(CSRF_VALUES),
        D("yes"),
        "Checking that the Host header matches the tracker URL's host, when\n\
         there is no X-Forwarded-Host.",
    ),
    opt(
        "web",
        "csrf_header_min_count",
        IntegerGeqZero,
        D("1"),
        "How many of the header checks must pass for a post to be accepted.",
    ),
    opt(
        "web",
        "use_browser_language",
        Boolean,
        D("yes"),
        "Pick the page language from the browser's Accept-Language header.",
    ),
    opt(
        "web",
        "debug",
        Boolean,
        D("no"),
        "Show error tracebacks in the browser instead of mailing them to the\n\
         administrator.",
    ),
    opt(
        "web",
        "login_empty_passwords",
        Boolean,
        D("no"),
        "Let users whose password is empty log in through the web.",
    ),
    opt(
        "web",
        "migrate_passwords",
        Boolean,
        D("yes"),
        "Re-hash a password stored with a weak scheme when its owner logs in.",
    ),
    opt(
        "web",
        "secret_key",
        SecretMandatory,
        RandomToken,
        "Secret mixed into item ETags so hidden values cannot be guessed.\n\
         Must not be empty and must stay the same across restarts: the\n\
         default is a new random value each time a file is generated.",
    ),
    opt(
        "web",
        "jwt_secret",
        ListSecret,
        D("disabled"),
        "Comma separated secrets for JSON web tokens: the first signs, the\n\
         others still validate older tokens. A first secret shorter than 32\n\
         characters disables JWTs; the others must be at least 32 long.",
    ),
    opt(
        "web",
        "use_browser_date_input",
        Boolean,
        D("no"),
        "Use the browser's date/time input widgets for Date properties.",
    ),
    opt(
        "web",
        "use_browser_number_input",
        Boolean,
        D("no"),
        "Use the browser's number input widget for Number and Integer\n\
         properties.",
    ),
    // ---- [rdbms]
    opt(
        "rdbms",
        "backend",
        Choice(BACKENDS),
        Unset,
        "Database backend: anydbm, sqlite, mysql or postgresql.",
    ),
    opt(
        "rdbms",
        "debug_filter",
        Boolean,
        D("no"),
        "Ignore permission filter functions and use only the check functions\n\
         (for debugging and measuring permission filters).",
    ),
    aka(
        "rdbms",
        "name",
        Text,
        D("roundup"),
        &["MYSQL_DBNAME"],
        "Database name; for PostgreSQL it may be database.schema.",
    ),
    aka(
        "rdbms",
        "host",
        Nullable,
        D("localhost"),
        &["MYSQL_DBHOST"],
        "Database server host.",
    ),
    opt(
        "rdbms",
        "port",
        Nullable,
        D(""),
        "Database server port; empty uses the backend's usual port.",
    ),
    aka(
        "rdbms",
        "user",
        Nullable,
        D("roundup"),
        &["MYSQL_DBUSER"],
        "User name for the database server.",
    ),
    aka(
        "rdbms",
        "password",
        SecretNullable,
        D("roundup"),
        &["MYSQL_DBPASSWORD"],
        "Password for the database server.",
    ),
    opt(
        "rdbms",
        "service",
        Nullable,
        D(""),
        "PostgreSQL connection service name (from pg_service.conf).",
    ),
    opt(
        "rdbms",
        "read_default_file",
        Nullable,
        D("~/.my.cnf"),
        "MySQL option file to read connection settings from.",
    ),
    opt(
        "rdbms",
        "read_default_group",
        Nullable,
        D("roundup"),
        "Group to use within the MySQL option file.",
    ),
    opt(
        "rdbms",
        "mysql_charset",
        Text,
        D("utf8mb4"),
        "Character set of MySQL connections and databases; 'default' sends\n\
         none on connecting.",
    ),
    opt(
        "rdbms",
        "mysql_collation",
        Text,
        D("utf8mb4_unicode_ci"),
        "MySQL collation for tables; must suit mysql_charset.",
    ),
    opt(
        "rdbms",
        "mysql_binary_collation",
        Text,
        D("utf8mb4_0900_bin"),
        "MySQL collation used for case sensitive matching; must suit\n\
         mysql_collation.",
    ),
    opt(
        "rdbms",
        "sqlite_timeout",
        IntegerGeqZero,
        D("30"),
        "Seconds to wait for a locked SQLite database.",
    ),
    opt(
        "rdbms",
        "cache_size",
        IntegerGeqZero,
        D("100"),
        "Number of recently used items kept in memory.",
    ),
    opt(
        "rdbms",
        "allow_create",
        Boolean,
        D("yes"),
        "Allow tables to be created.",
    ),
    opt(
        "rdbms",
        "allow_alter",
        Boolean,
        D("yes"),
        "Allow tables to be altered.",
    ),
    opt(
        "rdbms",
        "allow_drop",
        Boolean,
        D("yes"),
        "Allow tables to be dropped.",
    ),
    opt(
        "rdbms",
        "template",
        Nullable,
        D(""),
        "PostgreSQL template database for creating the database; set it\n\
         (e.g. template0) when the default template's encoding is not UTF8.",
    ),
    opt(
        "rdbms",
        "isolation_level",
        Choice(ISOLATION_LEVELS),
        D("read committed"),
        "Transaction isolation level (PostgreSQL and MySQL).",
    ),
    opt(
        "rdbms",
        "serverside_cursor",
        Boolean,
        D("yes"),
        "Use a server side cursor for filter queries so large results are\n\
         not held in memory (PostgreSQL only).",
    ),
    // ---- [sessiondb]
    opt(
        "sessiondb",
        "backend",
        SessiondbBackend,
        D(""),
        "Store for sessions and one-time keys. Empty uses the main backend's\n\
         own store; sqlite may also use anydbm or redis, anydbm may use\n\
         redis, mysql and postgresql only themselves.",
    ),
    opt(
        "sessiondb",
        "redis_url",
        RedisUrl,
        D("redis://localhost:6379/0?health_check_interval=2"),
        "URL of the redis server used when backend is redis.",
    ),
    // ---- [logging]
    opt(
        "logging",
        "config",
        FilePath,
        D(""),
        "Python logging configuration file (.ini or .json). When set,\n\
         filename and level below are not used.",
    ),
    opt(
        "logging",
        "filename",
        FilePath,
        D(""),
        "File the built-in logger writes to; empty means standard error.",
    ),
    opt(
        "logging",
        "level",
        Text,
        D("ERROR"),
        "Least severe level logged: DEBUG, INFO, WARNING or ERROR.",
    ),
    opt(
        "logging",
        "format",
        LoggingFormat,
        D("%(asctime)s %(trace_id)s %(levelname)s %(message)s"),
        "Layout of log lines, as a Python logging format. trace_id,\n\
         trace_reason and pct_char may be used too.",
    ),
    opt(
        "logging",
        "disable_loggers",
        Boolean,
        D("no"),
        "Turn off every logger not configured here.",
    ),
    // ---- [mail]
    opt(
        "mail",
        "domain",
        Text,
        Unset,
        "Domain appended to addresses above that have none (no '@').",
    ),
    aka(
        "mail",
        "host",
        Text,
        Unset,
        &["MAILHOST"],
        "SMTP server used to send mail.",
    ),
    opt(
        "mail",
        "username",
        Text,
        D(""),
        "SMTP login name, if the server wants one; password is then needed.",
    ),
    opt(
        "mail",
        "password",
        SecretMandatory,
        Unset,
        "SMTP login password.",
    ),
    opt("mail", "port", IntegerGeqZero, D("25"), "SMTP server port."),
    opt(
        "mail",
        "local_hostname",
        Nullable,
        D(""),
        "Host name announced to the SMTP server; empty lets it be detected.",
    ),
    opt(
        "mail",
        "tls",
        Boolean,
        D("no"),
        "Talk to the SMTP server over TLS (STARTTLS).",
    ),
    opt(
        "mail",
        "tls_keyfile",
        NullableFilePath,
        D(""),
        "PEM file with the private key for TLS.",
    ),
    opt(
        "mail",
        "tls_certfile",
        NullableFilePath,
        D(""),
        "PEM file with the certificate chain for TLS.",
    ),
    aka(
        "mail",
        "charset",
        Text,
        D("utf-8"),
        &["EMAIL_CHARSET"],
        "Character set for encoding mail headers.",
    ),
    opt(
        "mail",
        "debug",
        FilePath,
        D(""),
        "When set, outgoing mail is written to this file instead of being\n\
         sent (the SENDMAILDEBUG environment variable wins over it).",
    ),
    opt(
        "mail",
        "add_authorinfo",
        Boolean,
        D("yes"),
        "Start outgoing messages with a line naming the author.",
    ),
    opt(
        "mail",
        "add_authoremail",
        Boolean,
        D("yes"),
        "Include the author's address in that line.",
    ),
    // ---- [mailgw]
    aka(
        "mailgw",
        "keep_quoted_text",
        Choice(YES_NO_NEW),
        D("yes"),
        &["EMAIL_KEEP_QUOTED_TEXT"],
        "Keep quoted text of incoming mail: yes, no (strip quotes and\n\
         signatures), or new (keep only when creating an issue).",
    ),
    aka(
        "mailgw",
        "leave_body_unchanged",
        Choice(YES_NO_NEW),
        D("no"),
        &["EMAIL_LEAVE_BODY_UNCHANGED"],
        "Keep the whole incoming body, quotes and signature included: yes,\n\
         no, or new (only when creating an issue).",
    ),
    aka(
        "mailgw",
        "default_class",
        Text,
        D("issue"),
        &["MAIL_DEFAULT_CLASS"],
        "Class of items made from mail whose subject names none; empty\n\
         turns this off.",
    ),
    opt(
        "mailgw",
        "language",
        Nullable,
        D(""),
        "Locale of the mail gateway; empty uses the tracker's.",
    ),
    opt(
        "mailgw",
        "subject_prefix_parsing",
        Text,
        D("strict"),
        "Handling of a [prefix] in subjects: strict (reject unknown ones),\n\
         loose (keep unknown ones in the title) or none (always keep).",
    ),
    opt(
        "mailgw",
        "subject_suffix_parsing",
        Text,
        D("strict"),
        "Handling of a [suffix] in subjects: strict, loose or none, as for\n\
         prefixes.",
    ),
    opt(
        "mailgw",
        "subject_suffix_delimiters",
        Text,
        D("[]"),
        "The two bracket characters around subject prefixes and suffixes.",
    ),
    opt(
        "mailgw",
        "subject_content_match",
        Text,
        D("always"),
        "Matching a subject without designator against issue titles: always,\n\
         never, or 'creation + INTERVAL' / 'activity + INTERVAL'.",
    ),
    opt(
        "mailgw",
        "subject_updates_title",
        Boolean,
        D("yes"),
        "Let a changed mail subject change the issue title.",
    ),
    opt(
        "mailgw",
        "refwd_re",
        RegExp,
        D(r"(\s*\W?\s*(fw|fwd|re|aw|sv|ang)\W)+"),
        "Regular expression for reply/forward markers removed from subjects.",
    ),
    opt(
        "mailgw",
        "origmsg_re",
        RegExp,
        D(r"^[>|\s]*-----\s?Original Message\s?-----$"),
        "Regular expression for the start of a quoted original message.",
    ),
    opt(
        "mailgw",
        "sign_re",
        RegExp,
        D(r"^[>|\s]*-- ?$"),
        "Regular expression for the start of a signature.",
    ),
    opt(
        "mailgw",
        "eol_re",
        RegExp,
        D(r"[\r\n]+"),
        "Regular expression for a line end.",
    ),
    opt(
        "mailgw",
        "blankline_re",
        RegExp,
        D(r"[\r\n]+\s*[\r\n]+"),
        "Regular expression for a blank line.",
    ),
    opt(
        "mailgw",
        "unpack_rfc822",
        Boolean,
        D("no"),
        "Attach the parts of forwarded (message/rfc822) mails one by one\n\
         instead of as one file.",
    ),
    opt(
        "mailgw",
        "ignore_alternatives",
        Boolean,
        D("no"),
        "Drop the other parts of a multipart/alternative once its text/plain\n\
         part has been used.",
    ),
    opt(
        "mailgw",
        "convert_htmltotext",
        Choice(HTML_TO_TEXT),
        D("none"),
        "Converter for mail with only HTML parts: beautifulsoup, justhtml,\n\
         dehtml (built in) or none (such mail is bounced).",
    ),
    aka(
        "mailgw",
        "keep_real_from",
        Boolean,
        D("no"),
        &["EMAIL_KEEP_REAL_FROM"],
        "Use From: even when a Resent-From: header is present.",
    ),
    // ---- [pgp]
    opt(
        "pgp",
        "enable",
        Boolean,
        D("no"),
        "Process PGP signed or encrypted mail (needs gpg).",
    ),
    opt(
        "pgp",
        "roles",
        Nullable,
        D(""),
        "Comma separated roles whose mail gets PGP processing; empty means\n\
         everybody.",
    ),
    opt(
        "pgp",
        "homedir",
        Nullable,
        D(""),
        "GnuPG home directory; empty means ~/.gnupg.",
    ),
    opt(
        "pgp",
        "encrypt",
        Boolean,
        D("no"),
        "Encrypt all outgoing mail (keys for every recipient needed).",
    ),
    opt(
        "pgp",
        "require_incoming",
        Text,
        D("signed"),
        "What incoming PGP mail must be: signed, encrypted or both.",
    ),
    // ---- [nosy]
    aka(
        "nosy",
        "messages_to_author",
        Text,
        D("no"),
        &["MESSAGES_TO_AUTHOR"],
        "Send nosy messages to their author too: yes, no, new (only for new\n\
         issues) or nosy (if the author is on the nosy list).",
    ),
    aka(
        "nosy",
        "signature_position",
        Text,
        D("bottom"),
        &["EMAIL_SIGNATURE_POSITION"],
        "Where the signature goes in nosy mail: top, bottom or none.",
    ),
    aka(
        "nosy",
        "add_author",
        Choice(YES_NO_NEW),
        D("new"),
        &["ADD_AUTHOR_TO_NOSY"],
        "Put a message's author on the nosy list: yes, no, or new (only when\n\
         the message creates the issue).",
    ),
    aka(
        "nosy",
        "add_recipients",
        Choice(YES_NO_NEW),
        D("new"),
        &["ADD_RECIPIENTS_TO_NOSY"],
        "Put a message's To: and Cc: recipients on the nosy list: yes, no or\n\
         new.",
    ),
    opt(
        "nosy",
        "email_sending",
        Text,
        D("single"),
        "single: one mail with the recipients as Cc; multiple: one mail per\n\
         recipient.",
    ),
    opt(
        "nosy",
        "max_attachment_size",
        IntegerGeqZero,
        D("9223372036854775807"),
        "Files larger than this many bytes are linked, not attached, in nosy\n\
         mail.",
    ),
    // ---- [markdown]
    opt(
        "markdown",
        "break_on_newline",
        Boolean,
        D("no"),
        "Render single line breaks in markdown as <br> (as GitHub does).",
    ),
];

/// Options of ours that Roundup 2.6 does not have. They live in Roundup's
/// sections, where Roundup keeps unknown options but does not use them, so
/// a config.ini carrying them still works with Roundup. They are not
/// written by `genconfig` (the file stays Roundup's); unset, each takes
/// its default. Read with [`crate::config::Config::ours`].
pub static OUR_OPTIONS: &[OptionDef] = &[
    opt(
        "main",
        "python_host_access",
        Boolean,
        D("yes"),
        "Whether the tracker's Python code (schema, detectors, extensions)\n\
         may use files, processes and sockets.",
    ),
    opt(
        "web",
        "content_security_policy",
        Text,
        D(""),
        "A Content-Security-Policy header for every page (empty: none).",
    ),
    opt(
        "main",
        "shared_cache_size",
        ByteSize,
        D("4M"),
        "Memory a server keeps for items and query results read by one\n\
         request for the next (shared by its connections, emptied by every\n\
         commit); the least recently used are dropped past it. 0 turns the\n\
         cache off.",
    ),
    opt(
        "main",
        "order_cache_size",
        ByteSize,
        D("32M"),
        "Memory a server keeps for whole sort orders of index pages (4\n\
         bytes an item), so that a deep @startwith page costs what the\n\
         first one does; emptied by every commit like the shared cache.\n\
         0 turns it off.",
    ),
    opt(
        "main",
        "text_cache_size",
        ByteSize,
        D("32M"),
        "Memory a process keeps of its full-text index decoded for searches\n\
         of common words (a bitmap of the texts holding a word, the items\n\
         owning each text); kept while the index's segments last. 0 turns\n\
         it off.",
    ),
    opt(
        "main",
        "connection_cache_size",
        ByteSize,
        D("2M"),
        "Memory one database connection keeps for the items it read since\n\
         its last commit (one request's, in a server).",
    ),
    opt(
        "main",
        "connection_pool_size",
        IntegerGtZero,
        D("4"),
        "How many idle database connections a server keeps open for reuse.",
    ),
    opt(
        "web",
        "page_cache_size",
        ByteSize,
        D("1M"),
        "Memory a server keeps for rendered pages answering repeated\n\
         identical views (each valid for two seconds and until the next\n\
         commit). 0 turns the page cache off.",
    ),
    opt(
        "web",
        "cache_stats_interval",
        IntegerGeqZero,
        D("0"),
        "Every this many seconds a server writes the sizes and hit rates\n\
         of its caches and its resident memory to its log (0: never).",
    ),
    opt(
        "rdbms",
        "sqlite_cache_size",
        ByteSize,
        D("256K"),
        "SQLite's page cache per open connection (PRAGMA cache_size).",
    ),
    opt(
        "rdbms",
        "sqlite_memory_limit",
        ByteSize,
        D("4M"),
        "Memory all SQLite connections of a server process may hold\n\
         together before SQLite gives cached pages back (soft_heap_limit).",
    ),
];

/// The entry of one of our own options (see [`OUR_OPTIONS`]).
pub fn find_ours(section: &str, name: &str) -> Option<&'static OptionDef> {
    let lower = name.to_lowercase();
    OUR_OPTIONS
        .iter()
        .find(|d| d.section == section && d.name == lower)
}

/// A byte size: digits, optionally followed by K, M or G (any case, an
/// optional trailing B or iB), meaning powers of 1024.
pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    let u = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, mult) = match u.chars().last() {
        Some('K') => (&u[..u.len() - 1], 1u64 << 10),
        Some('M') => (&u[..u.len() - 1], 1 << 20),
        Some('G') => (&u[..u.len() - 1], 1 << 30),
        _ => (u, 1),
    };
    let n: u64 = digits.trim().parse().map_err(|_| {
        format!("\"{t}\" is not a size in bytes (a number, optionally followed by K, M or G)")
    })?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("\"{t}\" is too large"))
}

/// The table entry for `[section] name`, if Roundup knows that option.
/// The option name is compared without regard to case (config.ini option
/// names are case insensitive); the section name must match exactly.
pub fn find(section: &str, name: &str) -> Option<(usize, &'static OptionDef)> {
    let lower = name.to_lowercase();
    OPTIONS
        .iter()
        .enumerate()
        .find(|(_, d)| d.section == section && d.name == lower)
}

/// The table entry answering to an upper-case Roundup name or alias
/// (`RDBMS_BACKEND`, `DATABASE`, `MAILHOST`, ...).
pub fn find_by_name(name: &str) -> Option<(usize, &'static OptionDef)> {
    // Templates ask for options by name on every page: one table of every
    // canonical name and alias, made on first use.
    static BY_NAME: std::sync::LazyLock<std::collections::HashMap<String, usize>> =
        std::sync::LazyLock::new(|| {
            let mut map = std::collections::HashMap::new();
            for (i, d) in OPTIONS.iter().enumerate() {
                for n in std::iter::once(d.canonical_name())
                    .chain(d.aliases.iter().map(|a| a.to_string()))
                {
                    // the first option answering to a name keeps it
                    map.entry(n).or_insert(i);
                }
            }
            map
        });
    let i = match BY_NAME.get(name) {
        Some(i) => *i,
        None => *BY_NAME.get(name.to_uppercase().as_str())?,
    };
    Some((i, &OPTIONS[i]))
}

/// A short note on the values an option kind accepts, written under the
/// description in a generated config.ini.
pub fn kind_note(kind: OptionKind) -> Option<String> {
    Some(match kind {
        Boolean => "Accepted values: yes or no.".to_string(),
        FilePath | NullableFilePath => {
            "An absolute path, or one relative to the tracker home.".to_string()
        }
        MultiFilePath => {
            "Paths separated by spaces, each absolute or relative to the\ntracker home.".to_string()
        }
        WordList => "A comma separated list of words.".to_string(),
        RegExp => "A Python regular expression.".to_string(),
        Timezone => "A time zone name such as Europe/Warsaw, or hours east of UTC.".to_string(),
        SecretMandatory | SecretNullable | ListSecret | RedisUrl => {
            "A value starting with file:// names a file (absolute with\n\
             file:///, otherwise relative to the tracker home) whose first\n\
             line, without trailing white space, is used instead."
                .to_string()
        }
        Choice(values) | CapitalizedChoice(values) => {
            let shown: Vec<String> = values
                .iter()
                .map(|v| {
                    if v.is_empty() {
                        "'' (empty)".to_string()
                    } else {
                        (*v).to_string()
                    }
                })
                .collect();
            format!("Accepted values: {}.", shown.join(", "))
        }
        LoggingFormat => "Write every % sign twice in this file.".to_string(),
        OriginList => "Values separated by spaces; letter case matters.".to_string(),
        ByteSize => "Bytes, or a number followed by K, M or G (powers of 1024).".to_string(),
        _ => return None,
    })
}

/// Extra lines for the csrf_* options that share the same value meanings.
pub fn extra_note(def: &OptionDef) -> Option<&'static str> {
    if def.section == "web"
        && def.name.starts_with("csrf_enforce_")
        && def.name != "csrf_enforce_header_x-requested-with"
    {
        Some(CSRF_CHOICES)
    } else {
        None
    }
}

impl fmt::Display for OptionDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.section, self.name)
    }
}
