//! A Roundup tracker home and what it takes to open one.
//!
//! Layout (as Roundup's): `config.ini`, `schema.py`, `initial_data.py`,
//! `detectors/*.py` (+ `detectors/config.ini`), `html/`, and the database
//! directory (`[main] database`, default `db/`) holding the SQLite file
//! and `files/` with FileClass contents.
//!
//! [`Tracker::open`] reads the configuration, picks the storage backend
//! ([`backends`], the only place that does) and runs the schema and
//! detector scripts once; the result is shared by every connection that
//! [`Tracker::open_db`] opens.

pub mod backends;
pub mod log;
mod logconfig;
pub mod serving;
pub mod templates;

use roundup_core::backend::Backend;
use roundup_core::config::Config;
use roundup_core::date::Timezone;
use roundup_core::extensions::Extensions;
use roundup_core::password::Scheme;
use roundup_core::sessions::{KeyStore, StoreKind};
use roundup_core::storage::Storage;
use roundup_core::{Db, DbOptions, Error, Result, TrackerDef};
use roundup_python::{ConfigView, ValueKind};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An opened tracker home.
#[derive(Debug)]
pub struct Tracker {
    home: PathBuf,
    config: Arc<Config>,
    backend: Arc<dyn Backend>,
    def: Arc<TrackerDef>,
    opts: Arc<DbOptions>,
    extensions: Arc<Extensions>,
    /// How this tracker's connections compose and send mail.
    mail: Arc<roundup_core::mail::MailSetup>,
    /// The same backend when it keeps the inverted full-text index
    /// (`[main] indexer`, see [`backends::text_index_wanted`]).
    text_index: Option<Arc<roundup_textindex::TextIndexedBackend>>,
}

/// The `*.py` files of a tracker folder (detectors/, extensions/), sorted,
/// as (path, source).
fn python_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        let mut paths: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(|e| Error::io(format!("listing {}", dir.display()), e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "py"))
            .collect();
        paths.sort();
        for p in paths {
            out.push((p.display().to_string(), read_text(&p)?));
        }
    }
    Ok(out)
}

fn config_error(e: impl std::fmt::Display) -> Error {
    Error::Config(e.to_string())
}

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

/// `[main] python_host_access` (ours; Roundup ignores it): whether the
/// tracker's Python may use files, processes and sockets. Yes when unset.
fn python_host_access(config: &Config) -> Result<bool> {
    let Some((_, _, value)) = config.unknown_options().into_iter().find(|(s, o, _)| {
        s.eq_ignore_ascii_case("main") && o.eq_ignore_ascii_case("python_host_access")
    }) else {
        return Ok(true);
    };
    roundup_core::config::value::parse_bool(value.trim()).map_err(|_| {
        Error::Config(format!(
            "{}: [main] python_host_access: \"{}\" is not yes or no",
            config.home().join("config.ini").display(),
            value.trim()
        ))
    })
}

/// The Python type Roundup gives an option of this kind.
fn value_kind(kind: roundup_core::config::OptionKind) -> ValueKind {
    use roundup_core::config::OptionKind as K;
    match kind {
        K::Boolean => ValueKind::Boolean,
        K::Integer | K::IntegerGeqZero | K::IntegerGtZero => ValueKind::Integer,
        K::Octal => ValueKind::Octal,
        K::Float => ValueKind::Float,
        K::Nullable | K::SecretNullable | K::RedisUrl => ValueKind::Nullable,
        K::FilePath => ValueKind::Path,
        K::NullableFilePath => ValueKind::NullablePath,
        K::MultiFilePath => ValueKind::MultiPath,
        K::WordList => ValueKind::CommaList,
        K::ListSecret => ValueKind::SecretList,
        K::OriginList => ValueKind::SpaceList,
        K::RegExp => ValueKind::RegExp,
        _ => ValueKind::Text,
    }
}

/// The configuration as tracker scripts see it (`db.config`): every
/// option under its section and upper-case names (aliases included), as
/// Python code would read it, plus detector and extension options.
pub fn config_view(config: &Config) -> ConfigView {
    let mut view = ConfigView::new();
    for (def, raw) in config.items() {
        let (value, unset) = match config.get_str(def.section, def.name) {
            Ok(v) => (v, false),
            Err(_) => (raw.unwrap_or_default().to_string(), raw.is_none()),
        };
        view.set(def.section, def.name, &value);
        let kind = if unset {
            ValueKind::Unset
        } else {
            value_kind(def.kind)
        };
        view.set_kind(&def.canonical_name(), kind);
        for alias in def.aliases {
            view.set_alias(alias, &value);
            view.set_kind(alias, kind);
        }
    }
    view.set_alias("HOME", &config.home().display().to_string());
    for (section, option, value) in config.unknown_options() {
        view.set(section, option, value);
    }
    for (section, options) in config.detectors().sections() {
        for (option, value) in options {
            view.set_detector_option(section, option, value);
        }
    }
    for (section, options) in config.extensions().sections() {
        for (option, value) in options {
            view.set_extension_option(section, option, value);
        }
    }
    view
}

impl Tracker {
    /// Read `config.ini`, run `schema.py` and the detectors.
    pub fn open(home: &Path) -> Result<Tracker> {
        if !home.join("config.ini").is_file() {
            return Err(Error::Config(format!(
                "{} is not a tracker home (no config.ini); create one with `roundup-admin -i {} install`",
                home.display(),
                home.display()
            )));
        }
        let config = Config::load(home).map_err(config_error)?;
        let (backend, text_index) = backends::database_backend(&config)?;
        let view = config_view(&config);
        roundup_python::set_host_access(python_host_access(&config)?)?;
        let schema_path = home.join("schema.py");
        let source = read_text(&schema_path)?;
        let (schema, security) =
            roundup_python::load_schema(&schema_path.display().to_string(), &source, &view)?;
        let detector_files = python_files(&home.join("detectors"))?;
        let detectors = roundup_python::load_detectors(&detector_files, &schema, &security, &view)?;
        let extension_files = python_files(&home.join("extensions"))?;
        let mut extensions = roundup_python::load_extensions(
            &extension_files,
            &home.display().to_string(),
            &schema,
            &security,
            &view,
        )?;
        let interfaces = home.join("interfaces.py");
        if interfaces.is_file() {
            let source = read_text(&interfaces)?;
            roundup_python::load_interfaces(
                &interfaces.display().to_string(),
                &source,
                &schema,
                &security,
                &view,
                &mut extensions,
            )?;
            for what in &extensions.unused {
                eprintln!(
                    "{what} subclass is loaded but not used: this server's web and mail front ends are not Roundup's Python classes"
                );
            }
        }
        let opts = DbOptions {
            db_dir: config.database_dir(),
            password_scheme: Scheme::Pbkdf2S5,
            password_rounds: u32::try_from(config.pbkdf2_default_rounds()).unwrap_or(u32::MAX),
            timezone: Timezone::parse(&config.get_str("main", "timezone").unwrap_or_default())
                .unwrap_or(Timezone::Utc),
            // Roundup always indexes; [main] indexer only picks the engine.
            indexing: true,
        };
        let mail = roundup_mail::setup(&config);
        Ok(Tracker {
            home: home.to_path_buf(),
            mail,
            config: Arc::new(config),
            backend,
            def: Arc::new(TrackerDef {
                schema,
                security,
                detectors,
            }),
            opts: Arc::new(opts),
            extensions: Arc::new(extensions),
            text_index,
        })
    }

    pub fn home(&self) -> &Path {
        &self.home
    }
    pub fn config(&self) -> &Config {
        &self.config
    }
    /// What the tracker's extensions registered (template utils, actions).
    pub fn extensions(&self) -> &Arc<Extensions> {
        &self.extensions
    }

    pub fn def(&self) -> &Arc<TrackerDef> {
        &self.def
    }

    /// The configured database backend (`[rdbms] backend`).
    pub fn backend(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    /// The configured storage backend, connected.
    pub fn open_storage(&self) -> Result<Box<dyn Storage>> {
        self.backend.open()
    }

    /// The inverted full-text index, when `[main] indexer` asks for one.
    pub fn text_index(&self) -> Option<Arc<roundup_textindex::TextEngine>> {
        self.text_index.as_ref().and_then(|b| b.engine().ok())
    }

    /// The layout version the database records, read without bringing it
    /// up to date (`None` when there is no database yet), and the version
    /// opening it would bring it to.
    pub fn layout_versions(&self) -> Result<(Option<i64>, i64)> {
        Ok((
            self.backend.stored_layout_version()?,
            self.backend.current_layout_version(),
        ))
    }

    /// Whether the database has been created (by `initialise`).
    pub fn db_exists(&self) -> Result<bool> {
        self.backend.exists()
    }

    /// Open the session or one-time-key store (`[sessiondb] backend`).
    pub fn open_key_store(&self, kind: StoreKind) -> Result<Box<dyn KeyStore>> {
        backends::open_key_store(&self.config, self.backend.as_ref(), kind)
    }

    /// Advice from a long-running process with many connections (a web
    /// server): keep the backend's memory in this process under about
    /// `bytes`. Advisory.
    pub fn limit_process_memory(&self, bytes: i64) -> Result<()> {
        self.backend.limit_process_memory(bytes)
    }

    /// Advice from a server: each connection opened from now on should
    /// cache at most about `bytes` of the database. Advisory.
    pub fn limit_connection_memory(&self, bytes: usize) -> Result<()> {
        self.backend.limit_connection_memory(bytes)
    }

    /// Open a connection acting as user `uid` (an id).
    pub fn open_db(&self, uid: &str) -> Result<Db> {
        Ok(Db::open(
            self.def.clone(),
            self.opts.clone(),
            self.open_storage()?,
            uid,
        )?
        .with_mail(self.mail.clone()))
    }

    /// How this tracker composes and sends mail.
    pub fn mail(&self) -> &Arc<roundup_core::mail::MailSetup> {
        &self.mail
    }

    /// Open a connection as user `uid` on the given storage (for example
    /// one wrapped to count its calls, see
    /// [`roundup_core::counting_storage`]).
    pub fn open_db_on(&self, store: Box<dyn Storage>, uid: &str) -> Result<Db> {
        Ok(Db::open(self.def.clone(), self.opts.clone(), store, uid)?.with_mail(self.mail.clone()))
    }

    /// Open a connection acting as the user with this login name. As in
    /// Roundup, `admin` is always user 1, even where that user does not
    /// exist yet (a tracker installed but not initialised, about to be
    /// filled by `import`).
    pub fn open_db_as(&self, username: &str) -> Result<Db> {
        let db = self.open_db("1")?;
        if username != "admin" {
            let uid = db.lookup("user", username)?;
            db.set_uid(&uid);
        }
        Ok(db)
    }

    /// Remove the whole database (SQL data, file contents, session
    /// stores), as Roundup's `nuke` does.
    pub fn nuke(&self) -> Result<()> {
        self.backend.nuke()
    }

    /// Create a fresh database and fill it from `initial_data.py`
    /// (destroying any existing data).
    pub fn initialise(&self, adminpw: &str, admin_email: &str) -> Result<()> {
        self.initialise_from(adminpw, admin_email, None)
    }

    /// [`Tracker::initialise`] with the detectors seeing `source` as where
    /// the initial data come from (Roundup's `init(adminpw, tx_Source)`:
    /// `roundup-admin initialise` says `cli`).
    pub fn initialise_from(
        &self,
        adminpw: &str,
        admin_email: &str,
        source: Option<roundup_core::TxSource>,
    ) -> Result<()> {
        self.nuke()?;
        self.backend.create()?;
        let db = self.open_db("1")?;
        db.set_tx_source(source);
        let path = self.home.join("initial_data.py");
        if path.exists() {
            let source = read_text(&path)?;
            roundup_python::run_initial_data(
                &path.display().to_string(),
                &source,
                &db,
                adminpw,
                admin_email,
            )?;
        }
        db.commit()
    }
}

/// Create a tracker home from an embedded template: copy its files and
/// write `config.ini` with the backend and `settings` (`name=value` pairs
/// as Roundup's `section_option` names) applied.
pub fn install(
    home: &Path,
    template: &str,
    backend: &str,
    settings: &[(String, String)],
) -> Result<Config> {
    templates::copy_to(template, home)?;
    let mut config = Config::defaults(home);
    config
        .set_by_name("rdbms_backend", backend)
        .map_err(config_error)?;
    let template_settings = home.join("config_ini.ini");
    if template_settings.is_file() {
        let extra = Config::load_detector_config(&template_settings).map_err(config_error)?;
        config.apply_user_config(&extra).map_err(config_error)?;
    }
    for (k, v) in settings {
        config.set_by_name(k, v).map_err(config_error)?;
    }
    let path = home.join("config.ini");
    fs::write(&path, config.write_ini())
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))?;
    Ok(config)
}
