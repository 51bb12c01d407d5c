//! The tracker configuration: `<tracker home>/config.ini`, plus the
//! free-form `detectors/config.ini` and `extensions/config.ini`.
//!
//! [`Config`] knows every option of Roundup 2.6 (see [`options::OPTIONS`]),
//! checks values the way Roundup does, keeps options it does not know (with
//! a warning), and can write a complete config.ini back out.
//!
//! Differences from Roundup worth knowing:
//! * the default `[main] timezone` is `UTC` (Roundup's default when a time
//!   zone database is available);
//! * `[rdbms] backend` accepts the four backend names Roundup knows,
//!   whether or not this build supports them;
//! * `[main] html_version` must be exactly `html4`;
//! * regular expressions get a syntax check only, not a full compile;
//! * written files double every `%`, so every value reads back unchanged.

pub mod ini;
pub mod options;
pub mod value;

use std::fmt;
use std::path::{Component, Path, PathBuf};

use indexmap::IndexMap;

pub use ini::{IniFile, UserConfig};
pub use options::{DefaultValue, OptionDef, OptionKind, SectionDef, OPTIONS, SECTIONS};

/// Name of the tracker configuration file inside the tracker home.
pub const INI_FILE: &str = "config.ini";

/// Something wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The tracker home has no config.ini.
    #[error("No valid configuration files found in directory {}", home.display())]
    NoConfig {
        /// The directory that was searched.
        home: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read {}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The file is not valid INI syntax.
    #[error("{} line {line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A `%` in a value is not valid interpolation syntax.
    #[error("{}: [{section}] {option}: {message}", location(Some(path), *line))]
    Interpolation {
        /// The file.
        path: PathBuf,
        /// Line of the option, when known.
        line: Option<usize>,
        /// Section of the option.
        section: String,
        /// The option.
        option: String,
        /// What is wrong.
        message: String,
    },
    /// A value that the option does not accept.
    #[error("{0}")]
    BadValue(Box<BadValue>),
    /// An option without default that has not been set.
    #[error("{}[{section}] {option} is not set and has no default", prefix(path.as_deref(), None))]
    Unset {
        /// The configuration file.
        path: Option<PathBuf>,
        /// Section of the option.
        section: String,
        /// The option.
        option: String,
    },
    /// An option that neither Roundup nor the file knows.
    #[error("Unsupported configuration option: {name}")]
    UnknownOption {
        /// The name as given (`[section] option` or an upper-case name).
        name: String,
    },
    /// A bad `key=val[,key=val]` settings argument (roundup-admin install).
    #[error("Error in configuration settings: \"{text}\": {reason}")]
    BadSettings {
        /// The whole argument.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The details of [`ConfigError::BadValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadValue {
    /// The file the value came from, if it came from one.
    pub path: Option<PathBuf>,
    /// Its line, when known.
    pub line: Option<usize>,
    /// Section of the option.
    pub section: String,
    /// The option.
    pub option: String,
    /// The refused value.
    pub value: String,
    /// Why it was refused.
    pub reason: String,
}

impl fmt::Display for BadValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}[{}] {} = '{}': {}",
            prefix(self.path.as_deref(), self.line),
            self.section,
            self.option,
            self.value.escape_debug(),
            self.reason
        )
    }
}

fn location(path: Option<&Path>, line: Option<usize>) -> String {
    match (path, line) {
        (Some(p), Some(l)) => format!("{} line {l}", p.display()),
        (Some(p), None) => p.display().to_string(),
        (None, Some(l)) => format!("line {l}"),
        (None, None) => String::new(),
    }
}

fn prefix(path: Option<&Path>, line: Option<usize>) -> String {
    let loc = location(path, line);
    if loc.is_empty() {
        loc
    } else {
        format!("{loc}: ")
    }
}

/// A remark about a loaded configuration that did not stop it from loading
/// (typically an option Roundup does not know).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file concerned.
    pub path: PathBuf,
    /// Line, when known.
    pub line: Option<usize>,
    /// Section concerned.
    pub section: String,
    /// Option concerned, if the remark is about one option.
    pub option: Option<String>,
    /// The remark.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", prefix(Some(&self.path), self.line))?;
        match &self.option {
            Some(o) => write!(f, "[{}] {}: {}", self.section, o, self.message),
            None => write!(f, "[{}]: {}", self.section, self.message),
        }
    }
}

/// An option found in the file that Roundup does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Extra {
    value: String,
    line: Option<usize>,
}

/// A tracker's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    home: PathBuf,
    filepath: PathBuf,
    /// Current value of each entry of `OPTIONS` (same index), in its
    /// normalised text form; `None` when unset without default.
    values: Vec<Option<String>>,
    /// Line each value was read from.
    lines: Vec<Option<usize>>,
    /// The random default of `[web] secret_key` for this object.
    secret_default: String,
    /// Options not in the table, by section, in file order.
    extras: IndexMap<String, IndexMap<String, Extra>>,
    warnings: Vec<ConfigWarning>,
    detectors: UserConfig,
    extensions: UserConfig,
}

/// Two configurations are equal when they have the same home, the same
/// value for every option, and the same unknown options and values.
impl PartialEq for Config {
    fn eq(&self, other: &Config) -> bool {
        self.home == other.home
            && self.values == other.values
            && self.extras.len() == other.extras.len()
            && self
                .extras
                .iter()
                .zip(other.extras.iter())
                .all(|((s1, o1), (s2, o2))| {
                    s1 == s2
                        && o1.len() == o2.len()
                        && o1
                            .iter()
                            .zip(o2.iter())
                            .all(|((n1, v1), (n2, v2))| n1 == n2 && v1.value == v2.value)
                })
    }
}

/// A fresh random token like the ones Roundup uses for `secret_key`:
/// 32 random bytes in base64.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    let from_os = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .is_ok();
    if !from_os {
        use std::hash::{BuildHasher, Hasher};
        for chunk in bytes.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            let n = h.finish().to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
    base64(&bytes)
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Lexically tidies an absolute path (drops `.`, resolves `..`).
fn normalize_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

impl Config {
    // ------------------------------------------------------------ creation

    /// A configuration with every option at its default, for a tracker in
    /// `tracker_home`. Options without default stay unset.
    pub fn defaults(tracker_home: &Path) -> Config {
        let secret_default = random_token();
        let values = OPTIONS
            .iter()
            .map(|d| match d.default {
                DefaultValue::Text(t) => Some(default_text(d, t)),
                DefaultValue::Unset => None,
                DefaultValue::RandomToken => Some(secret_default.clone()),
            })
            .collect();
        Config {
            home: tracker_home.to_path_buf(),
            filepath: tracker_home.join(INI_FILE),
            values,
            lines: vec![None; OPTIONS.len()],
            secret_default,
            extras: IndexMap::new(),
            warnings: Vec::new(),
            detectors: UserConfig::default(),
            extensions: UserConfig::default(),
        }
    }

    /// Loads `<tracker_home>/config.ini`, then `detectors/config.ini` and
    /// `extensions/config.ini` if present. Options missing from the file
    /// keep their defaults; unknown ones are kept and reported through
    /// [`Config::warnings`]. Fails on a syntax error, a value an option does
    /// not accept, or settings that do not fit together (an unreadable
    /// `file://` secret, an incompatible session backend, ...).
    pub fn load(tracker_home: &Path) -> Result<Config, ConfigError> {
        let path = tracker_home.join(INI_FILE);
        if !path.is_file() {
            return Err(ConfigError::NoConfig {
                home: tracker_home.to_path_buf(),
            });
        }
        let home_text = tracker_home.to_string_lossy().into_owned();
        let ini = IniFile::read(&path, &[("home", &home_text), ("tracker_home", &home_text)])?;
        let mut config = Config::from_ini(tracker_home, &ini)?;
        config.validate()?;
        config.detectors = UserConfig::load(&tracker_home.join("detectors"))?;
        config.extensions = UserConfig::load(&tracker_home.join("extensions"))?;
        Ok(config)
    }

    /// Parses config.ini text as if it were `<tracker_home>/config.ini`
    /// (without checking inter-option rules or reading detector configs).
    pub fn from_ini_text(tracker_home: &Path, text: &str) -> Result<Config, ConfigError> {
        let home_text = tracker_home.to_string_lossy().into_owned();
        let ini = IniFile::parse(
            text,
            &tracker_home.join(INI_FILE),
            &[("home", &home_text), ("tracker_home", &home_text)],
        )?;
        Config::from_ini(tracker_home, &ini)
    }

    fn from_ini(tracker_home: &Path, ini: &IniFile) -> Result<Config, ConfigError> {
        let mut config = Config::defaults(tracker_home);
        config.filepath = ini.path.clone();
        for (i, def) in OPTIONS.iter().enumerate() {
            let Some(entry) = ini.lookup(def.section, def.name) else {
                continue;
            };
            let text = ini.interpolate(def.section, def.name, entry)?;
            let line = (entry.line > 0).then_some(entry.line);
            let normal = value::normalize(def, &text).map_err(|reason| {
                ConfigError::BadValue(Box::new(BadValue {
                    path: Some(ini.path.clone()),
                    line,
                    section: def.section.to_string(),
                    option: def.name.to_string(),
                    value: text.clone(),
                    reason,
                }))
            })?;
            config.values[i] = Some(normal);
            config.lines[i] = line;
        }
        // Unknown sections and options.
        for (section, sec) in &ini.sections {
            let known_section = SECTIONS.iter().any(|s| s.name == section);
            if sec.entries.is_empty() && !known_section {
                config.warn(Some(sec.line), section, None, "unknown section".to_string());
                config.extras.entry(section.clone()).or_default();
            }
            for (name, entry) in &sec.entries {
                if options::find(section, name).is_some() {
                    continue;
                }
                let line = Some(entry.line);
                let value = match ini.interpolate(section, name, entry) {
                    Ok(v) => v,
                    Err(e) => {
                        config.warn(
                            line,
                            section,
                            Some(name),
                            format!("kept uninterpolated: {e}"),
                        );
                        entry.raw.clone()
                    }
                };
                let message = if let Some(def) = options::find_ours(section, name) {
                    // ours (Roundup keeps it unused): checked here, read
                    // by whoever uses it through `Config::ours`
                    match value::normalize(def, value.trim()) {
                        Ok(_) => String::new(),
                        Err(reason) => format!(
                            "not a valid value, the default {} is used: {reason}",
                            match def.default {
                                options::DefaultValue::Text(t) => t,
                                _ => "",
                            }
                        ),
                    }
                } else if known_section {
                    "not a Roundup option; kept but unused".to_string()
                } else {
                    "option in a section Roundup does not have; kept but unused".to_string()
                };
                if !message.is_empty() {
                    config.warn(line, section, Some(name), message);
                }
                config
                    .extras
                    .entry(section.clone())
                    .or_default()
                    .insert(name.clone(), Extra { value, line });
            }
        }
        for (name, entry) in &ini.defaults {
            if entry.line > 0 && !OPTIONS.iter().any(|d| d.name == name) {
                config.warn(
                    Some(entry.line),
                    "DEFAULT",
                    Some(name),
                    "not the name of any Roundup option; only usable in %(name)s references"
                        .to_string(),
                );
            }
        }
        Ok(config)
    }

    fn warn(&mut self, line: Option<usize>, section: &str, option: Option<&str>, message: String) {
        self.warnings.push(ConfigWarning {
            path: self.filepath.clone(),
            line,
            section: section.to_string(),
            option: option.map(str::to_string),
            message,
        });
    }

    /// Checks the rules that involve several options or outside files, as
    /// Roundup does after loading: `file://` secrets must be readable (and
    /// valid), extra JWT secrets must be 32 characters or longer, a mail
    /// password is needed when a mail user name is set, the native-fts
    /// indexer needs a known language, and the session backend must suit
    /// the main backend.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (i, def) in OPTIONS.iter().enumerate() {
            let value = self.values[i].as_deref();
            match def.kind {
                OptionKind::Choice(_) if def.section == "main" && def.name == "indexer" => {
                    self.check_indexer_language(value)?
                }
                OptionKind::SecretMandatory if def.section == "mail" => {
                    self.check_mail_password(def)?
                }
                // Reading a set secret checks that its file exists and holds
                // a valid value.
                OptionKind::SecretMandatory | OptionKind::SecretNullable | OptionKind::RedisUrl
                    if value.is_some() =>
                {
                    self.get_str(def.section, def.name)?;
                }
                OptionKind::ListSecret => self.check_jwt_secrets(def)?,
                OptionKind::SessiondbBackend => self.check_sessiondb(def, value.unwrap_or(""))?,
                _ => {}
            }
        }
        Ok(())
    }

    fn check_indexer_language(&self, indexer: Option<&str>) -> Result<(), ConfigError> {
        if indexer != Some("native-fts") {
            return Ok(());
        }
        let lang = self.raw("main", "indexer_language").unwrap_or("");
        if options::NATIVE_FTS_LANGUAGES.contains(&lang) {
            return Ok(());
        }
        Err(self.bad_value(
            "main",
            "indexer_language",
            lang,
            format!(
                "the native-fts indexer needs one of: {}",
                options::NATIVE_FTS_LANGUAGES.join(" ")
            ),
        ))
    }

    /// The mail password only matters when a mail user name is set.
    fn check_mail_password(&self, def: &OptionDef) -> Result<(), ConfigError> {
        if self.raw("mail", "username").unwrap_or("").is_empty() {
            return Ok(());
        }
        if self.raw(def.section, def.name).is_none() {
            return Err(self.bad_value(
                def.section,
                def.name,
                "",
                "must be set because [mail] username is set".to_string(),
            ));
        }
        self.get_str(def.section, def.name).map(|_| ())
    }

    fn check_jwt_secrets(&self, def: &OptionDef) -> Result<(), ConfigError> {
        let secrets = self.get_list(def.section, def.name)?;
        let short: Vec<&str> = secrets
            .iter()
            .skip(1)
            .filter(|s| s.chars().count() < 32)
            .map(String::as_str)
            .collect();
        if short.is_empty() {
            return Ok(());
        }
        Err(self.bad_value(
            def.section,
            def.name,
            &secrets.join(", "),
            format!(
                "secrets after the first must be at least 32 characters long; too short: {}",
                short.join(", ")
            ),
        ))
    }

    fn check_sessiondb(&self, def: &OptionDef, session: &str) -> Result<(), ConfigError> {
        if session.is_empty() {
            return Ok(());
        }
        let main = self.raw("rdbms", "backend");
        if main.is_some_and(|m| options::SESSIONDB_COMPATIBLE.contains(&(m, session))) {
            return Ok(());
        }
        let mut choices: Vec<&str> = options::SESSIONDB_COMPATIBLE
            .iter()
            .filter(|(m, _)| Some(*m) == main)
            .map(|(_, s)| *s)
            .collect();
        choices.sort_unstable();
        let choices = if choices.is_empty() {
            "none".to_string()
        } else {
            choices.join(", ")
        };
        Err(self.bad_value(
            def.section,
            def.name,
            session,
            format!(
                "cannot be used with [rdbms] backend {}; possible: {choices}",
                main.unwrap_or("(unset)")
            ),
        ))
    }

    fn index(&self, section: &str, option: &str) -> Option<usize> {
        options::find(section, option).map(|(i, _)| i)
    }

    fn bad_value(&self, section: &str, option: &str, value: &str, reason: String) -> ConfigError {
        let line = self.index(section, option).and_then(|i| self.lines[i]);
        ConfigError::BadValue(Box::new(BadValue {
            path: Some(self.filepath.clone()),
            line,
            section: section.to_string(),
            option: option.to_string(),
            value: value.to_string(),
            reason,
        }))
    }

    fn unknown(section: &str, option: &str) -> ConfigError {
        ConfigError::UnknownOption {
            name: format!("[{section}] {option}"),
        }
    }

    // ------------------------------------------------------------ basic access

    /// The tracker home directory (relative paths are taken from here).
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// The config.ini this configuration was loaded from (or belongs to).
    pub fn filepath(&self) -> &Path {
        &self.filepath
    }

    /// Remarks collected while loading (unknown options and sections, ...).
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The free-form `detectors/config.ini` (empty if there is none).
    pub fn detectors(&self) -> &UserConfig {
        &self.detectors
    }

    /// The free-form `extensions/config.ini` (empty if there is none).
    pub fn extensions(&self) -> &UserConfig {
        &self.extensions
    }

    /// Loads a detector (or extension) configuration: `path` is the
    /// `detectors` directory or a config.ini file. See [`UserConfig`].
    pub fn load_detector_config(path: &Path) -> Result<UserConfig, ConfigError> {
        UserConfig::load(path)
    }

    /// The stored text of an option (normalised, e.g. booleans as yes/no),
    /// or of an unknown option found in the file; `None` when it is unset or
    /// does not exist. Secrets are not resolved and paths not joined.
    pub fn raw(&self, section: &str, option: &str) -> Option<&str> {
        match self.index(section, option) {
            Some(i) => self.values[i].as_deref(),
            None => self
                .extras
                .get(section)
                .and_then(|s| s.get(&option.to_lowercase()))
                .map(|e| e.value.as_str()),
        }
    }

    /// Every known option with its stored value (`None` when unset), in
    /// config.ini order; see [`OptionDef::canonical_name`] for Roundup's
    /// upper-case names.
    pub fn items(&self) -> Vec<(&'static OptionDef, Option<&str>)> {
        OPTIONS
            .iter()
            .zip(self.values.iter().map(Option::as_deref))
            .collect()
    }

    /// The value under a Roundup upper-case name or alias, the way Python
    /// code reads `db.config['TRACKER_WEB']`: like [`Config::get_str`], and
    /// `HOME` / `TRACKER_HOME` give the tracker home.
    pub fn get_by_name(&self, name: &str) -> Result<String, ConfigError> {
        let upper = name.to_uppercase();
        if upper == "HOME" || upper == "TRACKER_HOME" {
            return Ok(self.home.to_string_lossy().into_owned());
        }
        let (_, def) =
            options::find_by_name(&upper).ok_or(ConfigError::UnknownOption { name: upper })?;
        self.get_str(def.section, def.name)
    }

    /// Whether the option is one Roundup knows.
    pub fn is_known(section: &str, option: &str) -> bool {
        options::find(section, option).is_some()
    }

    /// Unknown options found in the file, by section: (section, option, value).
    pub fn unknown_options(&self) -> Vec<(&str, &str, &str)> {
        self.extras
            .iter()
            .flat_map(|(s, opts)| {
                opts.iter()
                    .map(move |(o, e)| (s.as_str(), o.as_str(), e.value.as_str()))
            })
            .collect()
    }

    /// The text of an option, failing when it is unset or unknown.
    fn text(
        &self,
        section: &str,
        option: &str,
    ) -> Result<(&str, Option<&'static OptionDef>), ConfigError> {
        match options::find(section, option) {
            Some((i, def)) => match self.values[i].as_deref() {
                Some(v) => Ok((v, Some(def))),
                None => Err(ConfigError::Unset {
                    path: Some(self.filepath.clone()),
                    section: section.to_string(),
                    option: def.name.to_string(),
                }),
            },
            None => self
                .raw(section, option)
                .map(|v| (v, None))
                .ok_or_else(|| Config::unknown(section, option)),
        }
    }

    /// Reads a `file://` secret.
    fn resolve_secret(&self, def: &OptionDef, text: &str) -> Result<String, ConfigError> {
        let Some(rest) = text.strip_prefix("file://") else {
            return Ok(text.to_string());
        };
        let path = if !rest.is_empty() && !Path::new(rest).is_absolute() {
            self.home.join(rest.trim())
        } else {
            PathBuf::from(rest)
        };
        let content = std::fs::read(&path).map_err(|e| {
            self.bad_value(
                def.section,
                def.name,
                text,
                format!("cannot read the secret from {}: {e}", path.display()),
            )
        })?;
        let content = String::from_utf8_lossy(&content);
        let first = content
            .split_inclusive('\n')
            .next()
            .unwrap_or("")
            .trim_end()
            .to_string();
        // The file's content must itself be a valid value.
        value::normalize(def, &first).map_err(|reason| {
            self.bad_value(
                def.section,
                def.name,
                text,
                format!("{reason} (read from {})", path.display()),
            )
        })?;
        Ok(first)
    }

    /// The value of an option as a string, the way Roundup hands it to its
    /// code: `file://` secrets are read from their file, mail addresses
    /// without `@` get `@` and `[mail] domain` appended, nullable options
    /// give `""` for "none". Paths are returned as written (use
    /// [`Config::get_path`] to resolve them). Unknown options found in the
    /// file are returned as they were read.
    pub fn get_str(&self, section: &str, option: &str) -> Result<String, ConfigError> {
        let (text, def) = self.text(section, option)?;
        let Some(def) = def else {
            return Ok(text.to_string());
        };
        match def.kind {
            OptionKind::SecretMandatory
            | OptionKind::SecretNullable
            | OptionKind::ListSecret
            | OptionKind::RedisUrl => self.resolve_secret(def, text),
            OptionKind::MailAddress if !text.contains('@') => {
                let domain = self.get_str("mail", "domain")?;
                Ok(format!("{text}@{domain}"))
            }
            _ => Ok(text.to_string()),
        }
    }

    /// One of our own options ([`options::OUR_OPTIONS`]), normalised: its
    /// value in the file, or its default when it is absent. A value the
    /// option does not accept is an error naming the file and option.
    pub fn ours(&self, section: &str, option: &str) -> Result<String, ConfigError> {
        let def =
            options::find_ours(section, option).ok_or_else(|| ConfigError::UnknownOption {
                name: format!("[{section}] {option}"),
            })?;
        let found = self
            .extras
            .get(section)
            .and_then(|s| s.get(&option.to_lowercase()));
        match found {
            Some(e) => value::normalize(def, e.value.trim()).map_err(|reason| {
                ConfigError::BadValue(Box::new(BadValue {
                    path: Some(self.filepath.clone()),
                    line: e.line,
                    section: section.to_string(),
                    option: def.name.to_string(),
                    value: e.value.trim().to_string(),
                    reason,
                }))
            }),
            None => Ok(match def.default {
                options::DefaultValue::Text(t) => t.to_string(),
                _ => String::new(),
            }),
        }
    }

    /// One of our byte-size options, in bytes.
    pub fn our_bytes(&self, section: &str, option: &str) -> Result<usize, ConfigError> {
        let t = self.ours(section, option)?;
        options::parse_byte_size(&t)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .map_err(|r| self.bad_value(section, option, &t, r))
    }

    /// One of our integer options.
    pub fn our_int(&self, section: &str, option: &str) -> Result<i64, ConfigError> {
        let t = self.ours(section, option)?;
        value::parse_python_int(&t, 10).map_err(|r| self.bad_value(section, option, &t, r))
    }

    /// Like [`Config::get_str`] but `None` when the value is empty (the
    /// "none" value of Roundup's nullable options) or the option unset.
    pub fn get_opt_str(&self, section: &str, option: &str) -> Result<Option<String>, ConfigError> {
        match self.get_str(section, option) {
            Ok(v) if v.is_empty() => Ok(None),
            Ok(v) => Ok(Some(v)),
            Err(ConfigError::Unset { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn parse_err(&self, section: &str, option: &str, text: &str, reason: String) -> ConfigError {
        self.bad_value(section, option, text, reason)
    }

    /// The option read as a boolean (yes/no, true/false, on/off, 1/0).
    pub fn get_bool(&self, section: &str, option: &str) -> Result<bool, ConfigError> {
        let (text, _) = self.text(section, option)?;
        value::parse_bool(text).map_err(|r| self.parse_err(section, option, text, r))
    }

    /// The option read as an integer (octal options give their value).
    pub fn get_int(&self, section: &str, option: &str) -> Result<i64, ConfigError> {
        let (text, def) = self.text(section, option)?;
        let radix = if def.is_some_and(|d| d.kind == OptionKind::Octal) {
            8
        } else {
            10
        };
        value::parse_python_int(text, radix).map_err(|r| self.parse_err(section, option, text, r))
    }

    /// The option read as a floating point number.
    pub fn get_float(&self, section: &str, option: &str) -> Result<f64, ConfigError> {
        let (text, _) = self.text(section, option)?;
        value::parse_python_float(text).map_err(|r| self.parse_err(section, option, text, r))
    }

    /// The option read as a path: relative paths are joined to the tracker
    /// home; `None` when the value is empty.
    pub fn get_path(&self, section: &str, option: &str) -> Result<Option<PathBuf>, ConfigError> {
        let (text, _) = self.text(section, option)?;
        if text.is_empty() {
            return Ok(None);
        }
        Ok(Some(self.resolve(text)))
    }

    fn resolve(&self, text: &str) -> PathBuf {
        let p = Path::new(text);
        if p.is_absolute() {
            normalize_path(p)
        } else {
            self.home.join(p)
        }
    }

    /// The option read as white space separated paths, each resolved
    /// against the tracker home (e.g. `[main] static_files`).
    pub fn get_paths(&self, section: &str, option: &str) -> Result<Vec<PathBuf>, ConfigError> {
        let (text, _) = self.text(section, option)?;
        Ok(text.split_whitespace().map(|p| self.resolve(p)).collect())
    }

    /// The option read as a list. Word lists split on commas exactly as
    /// Roundup does (so an empty value gives one empty word); JWT secrets
    /// split on commas with leading blanks removed; space separated kinds
    /// split on white space; anything else splits on commas, trimming
    /// entries and dropping empty ones (e.g. role lists).
    pub fn get_list(&self, section: &str, option: &str) -> Result<Vec<String>, ConfigError> {
        let (text, def) = self.text(section, option)?;
        let kind = def.map(|d| d.kind);
        Ok(match kind {
            Some(OptionKind::WordList) => text.split(',').map(str::to_string).collect(),
            Some(OptionKind::ListSecret) => {
                let resolved = self.get_str(section, option)?;
                resolved
                    .split(',')
                    .map(|s| s.trim_start().to_string())
                    .collect()
            }
            Some(OptionKind::OriginList) | Some(OptionKind::MultiFilePath) => {
                text.split_whitespace().map(str::to_string).collect()
            }
            _ => text
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    // ------------------------------------------------------------ changing

    /// Sets `[section] option` to `value` after checking it like a value
    /// read from the file (the stored form is normalised, e.g. `TRUE`
    /// becomes `yes`). Options Roundup does not know are refused.
    pub fn set(&mut self, section: &str, option: &str, value: &str) -> Result<(), ConfigError> {
        let (i, def) =
            options::find(section, option).ok_or_else(|| Config::unknown(section, option))?;
        let normal = value::normalize(def, value).map_err(|reason| {
            ConfigError::BadValue(Box::new(BadValue {
                path: None,
                line: None,
                section: section.to_string(),
                option: def.name.to_string(),
                value: value.to_string(),
                reason,
            }))
        })?;
        self.values[i] = Some(normal);
        self.lines[i] = None;
        Ok(())
    }

    /// Sets an option by Roundup's upper-case name or an old alias:
    /// `DATABASE` for `[main] database`, `RDBMS_BACKEND` for `[rdbms]
    /// backend`, `MAILHOST` for `[mail] host`, ... (any letter case).
    /// `HOME` and `TRACKER_HOME` change the tracker home. This is how
    /// `roundup-admin install` applies its `key=val` settings.
    pub fn set_by_name(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let upper = name.to_uppercase();
        if upper == "HOME" || upper == "TRACKER_HOME" {
            self.home = PathBuf::from(value);
            return Ok(());
        }
        let (_, def) = options::find_by_name(&upper).ok_or_else(|| ConfigError::UnknownOption {
            name: upper.clone(),
        })?;
        self.set(def.section, def.name, value)
    }

    /// Applies a `roundup-admin install` settings argument such as
    /// `web_http_auth=no,rdbms_user=dinsdale` (see [`parse_settings`]).
    pub fn apply_settings(&mut self, settings: &str) -> Result<(), ConfigError> {
        for (k, v) in parse_settings(settings)? {
            self.set_by_name(&k, &v)?;
        }
        Ok(())
    }

    /// Applies every option of a free-form configuration by name, as
    /// `roundup-admin install` does with a template's `config_ini.ini`.
    pub fn apply_user_config(&mut self, user: &UserConfig) -> Result<(), ConfigError> {
        for (name, value) in user.items() {
            if name == "HOME" {
                continue;
            }
            self.set_by_name(&name, value)?;
        }
        Ok(())
    }

    /// Resets an option to its default (unset if it has none).
    pub fn reset(&mut self, section: &str, option: &str) -> Result<(), ConfigError> {
        let (i, def) =
            options::find(section, option).ok_or_else(|| Config::unknown(section, option))?;
        self.values[i] = match def.default {
            DefaultValue::Text(t) => Some(default_text(def, t)),
            DefaultValue::Unset => None,
            DefaultValue::RandomToken => Some(self.secret_default.clone()),
        };
        self.lines[i] = None;
        Ok(())
    }

    /// The configuration `roundup-admin updateconfig` would write for an
    /// existing tracker configuration `old`: every option Roundup knows
    /// keeps the administrator's value and options new to this version get
    /// their defaults; unknown options are dropped. A PBKDF2 round count
    /// still at the old default of 10000 is raised to the current default.
    /// Remarks about what changed, or should, are left in
    /// [`Config::warnings`] of the result.
    pub fn update_from(old: &Config) -> Config {
        let mut new = Config::defaults(&old.home);
        new.filepath = old.filepath.clone();
        new.detectors = old.detectors.clone();
        new.extensions = old.extensions.clone();
        for (i, v) in old.values.iter().enumerate() {
            if v.is_some() {
                new.values[i] = v.clone();
            }
        }
        new.secret_default = old.secret_default.clone();
        if let Some((i, def)) = options::find("main", "password_pbkdf2_default_rounds") {
            let default = match def.default {
                DefaultValue::Text(t) => value::parse_python_int(t, 10).unwrap_or(0),
                _ => 0,
            };
            let current = new
                .get_int("main", "password_pbkdf2_default_rounds")
                .unwrap_or(default);
            if current == 10000 {
                new.values[i] = Some(default.to_string());
                new.warn(
                    None,
                    "main",
                    Some(def.name),
                    format!("raised from the old default of 10000 to the new default of {default}"),
                );
            } else if current < default {
                new.warn(
                    None,
                    "main",
                    Some(def.name),
                    format!("{current} is below the recommended minimum of {default}; consider raising it"),
                );
            }
        }
        let charset = new.raw("rdbms", "mysql_charset").unwrap_or("").to_string();
        let collation = new
            .raw("rdbms", "mysql_collation")
            .unwrap_or("")
            .to_string();
        if !collation.starts_with(&format!("{charset}_")) {
            new.warn(
                None,
                "rdbms",
                Some("mysql_collation"),
                format!("collation {collation} does not belong to charset {charset}; check the mysql_* settings"),
            );
        }
        for (section, opts) in &old.extras {
            for name in opts.keys() {
                new.warn(
                    None,
                    section,
                    Some(name),
                    "unknown option dropped".to_string(),
                );
            }
        }
        new
    }

    /// Options that have no value and no default and so must be set by the
    /// administrator, by section (`[mail] password` only counts when a mail
    /// user name is set), as Roundup lists them after `install`.
    pub fn unset_options(&self) -> Vec<(&'static str, &'static str)> {
        let has_user = !self.raw("mail", "username").unwrap_or("").is_empty();
        OPTIONS
            .iter()
            .zip(&self.values)
            .filter(|(d, v)| {
                v.is_none() && !(d.section == "mail" && d.name == "password" && !has_user)
            })
            .map(|(d, _)| (d.section, d.name))
            .collect()
    }

    // ------------------------------------------------------------ writing

    /// A complete config.ini: a header, then every section in Roundup's
    /// order with every option, each preceded by a description and a
    /// `# Default:` line; unset options appear commented out. Unknown
    /// options found when loading are written after the known ones of their
    /// section. Loading the result gives back an equal [`Config`].
    pub fn write_ini(&self) -> String {
        let stamp = chrono::Local::now().format("%a %b %e %H:%M:%S %Y");
        self.write_ini_with_stamp(&stamp.to_string())
    }

    /// [`Config::write_ini`] with a fixed "Autogenerated at" text.
    pub fn write_ini_with_stamp(&self, stamp: &str) -> String {
        let mut out = String::new();
        let name = self.raw("tracker", "name").unwrap_or("");
        out.push_str(&format!(
            "# {name} configuration file\n# Autogenerated at {stamp}\n"
        ));
        let unset = self.unset_options();
        if !unset.is_empty() {
            out.push_str("\n# WARNING! Following options need adjustments:\n");
            let mut by_section: IndexMap<&str, Vec<&str>> = IndexMap::new();
            for (s, o) in unset {
                by_section.entry(s).or_default().push(o);
            }
            for (s, opts) in by_section {
                out.push_str(&format!("#  [{s}]: {}\n", opts.join(", ")));
            }
        }
        for section in SECTIONS {
            match section.description {
                Some(d) => {
                    out.push('\n');
                    for line in d.split('\n') {
                        out.push_str(&format!("# {line}\n"));
                    }
                }
                None => out.push('\n'),
            }
            out.push_str(&format!("[{}]\n", section.name));
            for (i, def) in OPTIONS
                .iter()
                .enumerate()
                .filter(|(_, d)| d.section == section.name)
            {
                out.push('\n');
                let mut notes: Vec<String> = vec![def.description.to_string()];
                if let Some(extra) = options::extra_note(def) {
                    notes.push(extra.to_string());
                }
                if let Some(note) = options::kind_note(def.kind) {
                    notes.push(note);
                }
                for note in notes {
                    for line in note.split('\n') {
                        out.push_str(&format!("# {line}\n"));
                    }
                }
                let default = match def.default {
                    DefaultValue::Text(t) => ini::escape_value(&default_text(def, t)),
                    DefaultValue::Unset => "NO DEFAULT".to_string(),
                    DefaultValue::RandomToken => self.secret_default.clone(),
                };
                out.push_str(&format!("# Default: {default}\n"));
                match &self.values[i] {
                    Some(v) => out.push_str(&format!("{} = {}\n", def.name, ini::escape_value(v))),
                    None => out.push_str(&format!("#{} = NO DEFAULT\n", def.name)),
                }
            }
            if let Some(extra) = self.extras.get(section.name) {
                write_extras(&mut out, extra);
            }
        }
        for (section, extra) in &self.extras {
            if SECTIONS.iter().any(|s| s.name == section) {
                continue;
            }
            out.push_str(&format!(
                "\n# Section not used by Roundup; kept as found.\n[{section}]\n"
            ));
            write_extras(&mut out, extra);
        }
        out
    }

    // ------------------------------------------------------------ conveniences

    /// `[main] database` resolved against the tracker home.
    pub fn database_dir(&self) -> PathBuf {
        self.get_path("main", "database")
            .ok()
            .flatten()
            .unwrap_or_else(|| self.home.clone())
    }

    /// `[main] templates` resolved against the tracker home.
    pub fn templates_dir(&self) -> PathBuf {
        self.get_path("main", "templates")
            .ok()
            .flatten()
            .unwrap_or_else(|| self.home.clone())
    }

    /// `[main] static_files`, each resolved against the tracker home.
    pub fn static_files(&self) -> Vec<PathBuf> {
        self.get_paths("main", "static_files").unwrap_or_default()
    }

    /// `[rdbms] backend` (lower case); an error when not set.
    pub fn backend(&self) -> Result<&str, ConfigError> {
        self.text("rdbms", "backend").map(|(t, _)| t)
    }

    /// `[sessiondb] backend`, `None` when empty (use the main backend's).
    pub fn sessiondb_backend(&self) -> Option<&str> {
        self.raw("sessiondb", "backend").filter(|s| !s.is_empty())
    }

    /// `[rdbms] sqlite_timeout` in seconds.
    pub fn sqlite_timeout(&self) -> u64 {
        self.get_u64("rdbms", "sqlite_timeout", 30)
    }

    /// `[rdbms] cache_size`.
    pub fn cache_size(&self) -> u64 {
        self.get_u64("rdbms", "cache_size", 100)
    }

    /// `[main] password_pbkdf2_default_rounds`.
    pub fn pbkdf2_default_rounds(&self) -> u64 {
        self.get_u64("main", "password_pbkdf2_default_rounds", 250_000)
    }

    /// `[main] csv_field_size`.
    pub fn csv_field_size(&self) -> u64 {
        self.get_u64("main", "csv_field_size", 131_072)
    }

    fn get_u64(&self, section: &str, option: &str, fallback: u64) -> u64 {
        self.get_int(section, option)
            .ok()
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(fallback)
    }

    /// `[main] umask` as a number.
    pub fn umask(&self) -> u32 {
        self.get_int("main", "umask")
            .ok()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0o002)
    }

    /// `[main] new_web_user_roles`: the comma separated role string given to
    /// users who register through the web (stored as-is in `user.roles`).
    pub fn new_web_user_roles(&self) -> &str {
        self.raw("main", "new_web_user_roles").unwrap_or("")
    }

    /// `[main] new_email_user_roles`: the role string for users created by
    /// the mail gateway.
    pub fn new_email_user_roles(&self) -> &str {
        self.raw("main", "new_email_user_roles").unwrap_or("")
    }

    /// `[main] obsolete_history_roles`.
    pub fn obsolete_history_roles(&self) -> &str {
        self.raw("main", "obsolete_history_roles").unwrap_or("")
    }

    /// `[tracker] name`.
    pub fn tracker_name(&self) -> &str {
        self.raw("tracker", "name").unwrap_or("")
    }

    /// `[tracker] web`; an error when not set.
    pub fn tracker_web(&self) -> Result<&str, ConfigError> {
        self.text("tracker", "web").map(|(t, _)| t)
    }

    /// `[tracker] email` with the mail domain added when needed.
    pub fn tracker_email(&self) -> Result<String, ConfigError> {
        self.get_str("tracker", "email")
    }

    /// `[tracker] language`, `None` when empty.
    pub fn tracker_language(&self) -> Option<&str> {
        self.raw("tracker", "language").filter(|s| !s.is_empty())
    }

    /// `[main] timezone` as written (a zone name or an hour offset).
    pub fn timezone(&self) -> &str {
        self.raw("main", "timezone").unwrap_or("UTC")
    }

    /// `[main] admin_email` with the mail domain added when needed.
    pub fn admin_email(&self) -> Result<String, ConfigError> {
        self.get_str("main", "admin_email")
    }

    /// `[main] dispatcher_email` with the mail domain added when needed.
    pub fn dispatcher_email(&self) -> Result<String, ConfigError> {
        self.get_str("main", "dispatcher_email")
    }

    /// `[mail] domain`; an error when not set.
    pub fn mail_domain(&self) -> Result<&str, ConfigError> {
        self.text("mail", "domain").map(|(t, _)| t)
    }

    /// `[mail] host`; an error when not set.
    pub fn mail_host(&self) -> Result<&str, ConfigError> {
        self.text("mail", "host").map(|(t, _)| t)
    }

    /// `[main] indexer` (empty: first available).
    pub fn indexer(&self) -> &str {
        self.raw("main", "indexer").unwrap_or("")
    }

    /// `[main] indexer_language`.
    pub fn indexer_language(&self) -> &str {
        self.raw("main", "indexer_language").unwrap_or("english")
    }

    /// `[main] template_engine`.
    pub fn template_engine(&self) -> &str {
        self.raw("main", "template_engine").unwrap_or("zopetal")
    }

    /// `[web] secret_key`, read from its file when given as `file://`.
    pub fn secret_key(&self) -> Result<String, ConfigError> {
        self.get_str("web", "secret_key")
    }

    /// `[web] migrate_passwords`.
    pub fn migrate_passwords(&self) -> bool {
        self.get_bool("web", "migrate_passwords").unwrap_or(true)
    }

    /// `[web] debug`.
    pub fn web_debug(&self) -> bool {
        self.get_bool("web", "debug").unwrap_or(false)
    }

    /// `[web] http_auth_header`, `None` when empty (REMOTE_USER is used).
    pub fn http_auth_header(&self) -> Option<&str> {
        self.raw("web", "http_auth_header")
            .filter(|s| !s.is_empty())
    }

    /// `[rdbms] allow_create`, `allow_alter`, `allow_drop`.
    pub fn schema_changes_allowed(&self) -> (bool, bool, bool) {
        (
            self.get_bool("rdbms", "allow_create").unwrap_or(true),
            self.get_bool("rdbms", "allow_alter").unwrap_or(true),
            self.get_bool("rdbms", "allow_drop").unwrap_or(true),
        )
    }
}

/// The stored form of a default value (defaults are valid by construction;
/// should one not be, its text is kept as it is).
fn default_text(def: &OptionDef, text: &str) -> String {
    value::normalize(def, text).unwrap_or_else(|_| text.to_string())
}

fn write_extras(out: &mut String, extras: &IndexMap<String, Extra>) {
    for (name, extra) in extras {
        out.push_str(&format!(
            "\n# Not a Roundup option; kept as found.\n{name} = {}\n",
            ini::escape_value(&extra.value)
        ));
    }
}

/// Splits a `roundup-admin install` settings argument
/// (`key=val[,key=val]...`) into pairs. Like Roundup, every item must
/// contain exactly one `=`, so values cannot contain `=` or `,`; a key given
/// twice keeps its last value.
pub fn parse_settings(text: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut out: IndexMap<String, String> = IndexMap::new();
    for item in text.split(',') {
        let parts: Vec<&str> = item.split('=').collect();
        if parts.len() != 2 {
            return Err(ConfigError::BadSettings {
                text: text.to_string(),
                reason: format!("item {item:?} is not of the form key=value"),
            });
        }
        out.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(out.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(random_token().len(), 44);
    }

    #[test]
    fn settings_argument() {
        let s = parse_settings("web_http_auth=no,rdbms_user=dinsdale").unwrap();
        assert_eq!(
            s,
            vec![
                ("web_http_auth".into(), "no".into()),
                ("rdbms_user".into(), "dinsdale".into())
            ]
        );
        assert!(parse_settings("a=b=c").is_err());
        assert!(parse_settings("").is_err());
        assert!(parse_settings("a=1,b").is_err());
    }
}
