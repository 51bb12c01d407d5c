//! Logging in with a user name and password: the one rule every front end
//! uses (the web login form, HTTP Basic credentials on the web UI, REST
//! and XML-RPC; later the mail gateway).
//!
//! As Roundup 2.6 (`LoginAction.verifyLogin`):
//! * an unknown name costs a password check all the same, counts against
//!   the name's rate limit and fails as "Invalid login";
//! * a name whose limit is used up is refused ("Logins occurring too
//!   fast"), even with the right password;
//! * a wrong password counts against the limit;
//! * a user without a password may log in with an empty one when
//!   `[web] login_empty_passwords` is on;
//! * a password stored in a weaker scheme or with fewer PBKDF2 rounds than
//!   configured is re-hashed on success when `[web] migrate_passwords` is
//!   on;
//! * the user needs the "Web Access" permission ("You do not have
//!   permission to login"). Each API also asks for its own permission
//!   ([`Frontend::access_permission`]) once the caller is known.
//!
//! Rate limits live in the one-time-key store (see [`crate::ratelimit`]):
//! `LOGIN-<name>` with `[web] login_attempts_min` per minute for the web
//! form, `LOGIN-API<name>` with `[web] api_failed_login_limit` per
//! `api_failed_login_interval_in_sec` for the APIs; records expire after
//! twice the period. So the limits hold across server processes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::Config;
use crate::db::{Db, Values};
use crate::error::{Error, Result};
use crate::password::Password;
use crate::ratelimit::{self, LimitStatus, RateLimit};
use crate::sessions::KeyStore;
use crate::value::Value;

/// The one-time-key store as a server shares it between requests.
pub type SharedStore = Mutex<Box<dyn KeyStore>>;

/// Which front end a login comes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frontend {
    /// The web UI (login form, or HTTP Basic credentials on its pages).
    Web,
    Rest,
    Xmlrpc,
    Email,
}

impl Frontend {
    /// Whether logins count against the API's failed-login limit.
    pub fn is_api(self) -> bool {
        matches!(self, Frontend::Rest | Frontend::Xmlrpc)
    }

    /// The permission a user needs to use this front end at all.
    pub fn access_permission(self) -> &'static str {
        match self {
            Frontend::Web => "Web Access",
            Frontend::Rest => "Rest Access",
            Frontend::Xmlrpc => "Xmlrpc Access",
            Frontend::Email => "Email Access",
        }
    }
}

/// The login options of a tracker's config.ini.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginPolicy {
    /// `[web] login_attempts_min`: web form logins per minute and name.
    pub web_attempts_per_minute: i64,
    /// `[web] api_failed_login_limit` per `api_failed_login_interval_in_sec`.
    pub api_failed_limit: i64,
    pub api_failed_interval: i64,
    /// `[web] migrate_passwords`.
    pub migrate_passwords: bool,
    /// `[web] login_empty_passwords`.
    pub empty_passwords: bool,
}

impl Default for LoginPolicy {
    /// Roundup's defaults.
    fn default() -> LoginPolicy {
        LoginPolicy {
            web_attempts_per_minute: 3,
            api_failed_limit: 4,
            api_failed_interval: 600,
            migrate_passwords: true,
            empty_passwords: false,
        }
    }
}

impl LoginPolicy {
    pub fn from_config(c: &Config) -> LoginPolicy {
        let d = LoginPolicy::default();
        let int = |opt: &str, def: i64| c.get_int("web", opt).unwrap_or(def);
        let flag = |opt: &str, def: bool| c.get_bool("web", opt).unwrap_or(def);
        LoginPolicy {
            web_attempts_per_minute: int("login_attempts_min", d.web_attempts_per_minute),
            api_failed_limit: int("api_failed_login_limit", d.api_failed_limit),
            api_failed_interval: int("api_failed_login_interval_in_sec", d.api_failed_interval),
            migrate_passwords: flag("migrate_passwords", d.migrate_passwords),
            empty_passwords: flag("login_empty_passwords", d.empty_passwords),
        }
    }

    /// The failed-login limit of a front end, its otk key and how long
    /// the key's record lives; `None` when switched off.
    fn limit(&self, frontend: Frontend, name: &str) -> Option<(RateLimit, String, f64)> {
        let (limit, key) = if frontend.is_api() {
            (
                RateLimit::new(self.api_failed_limit, self.api_failed_interval)?,
                format!("LOGIN-API{name}"),
            )
        } else {
            (
                RateLimit::new(self.web_attempts_per_minute, 60)?,
                format!("LOGIN-{name}"),
            )
        };
        let keep = limit.period * 2.0;
        Some((limit, key, keep))
    }
}

/// Why a login failed. Each front end renders it its own way (the web
/// page's error message, REST's `401 Invalid Login - ...`, an XML-RPC
/// fault); the messages are Roundup's.
#[derive(Debug)]
pub enum LoginError {
    /// Unknown name or wrong password.
    Invalid,
    /// The user lacks the "Web Access" permission.
    NoPermission,
    /// Too many attempts for this name: wait and retry.
    TooFast(LimitStatus),
    /// Something failed underneath (database, one-time-key store).
    Failed(Error),
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginError::Invalid => f.write_str("Invalid login"),
            LoginError::NoPermission => f.write_str("You do not have permission to login"),
            LoginError::TooFast(st) => write!(
                f,
                "Logins occurring too fast. Please wait: {} seconds.",
                st.retry_after
            ),
            LoginError::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LoginError {}

impl From<Error> for LoginError {
    fn from(e: Error) -> LoginError {
        LoginError::Failed(e)
    }
}

impl LoginError {
    /// The rate-limit headers to send with a refusal (Retry-After and the
    /// X-RateLimit-* values), in Roundup's order.
    pub fn headers(&self) -> Vec<(String, String)> {
        let LoginError::TooFast(st) = self else {
            return Vec::new();
        };
        let mut out: Vec<(String, String)> = st
            .headers
            .iter()
            .filter(|(k, _)| k != "Retry-After")
            .cloned()
            .collect();
        out.push(("Retry-After".into(), st.retry_after.to_string()));
        out.push((
            "Access-Control-Expose-Headers".into(),
            "X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, X-RateLimit-Limit-Period, Retry-After".into(),
        ));
        out
    }
}

/// Whether `plain` is the password of user `uid` (Roundup's
/// `verifyPassword`): re-hashes a weak stored hash when the policy says
/// so (committing), and accepts an empty password for a user without one
/// when the policy allows it.
pub fn check_password(db: &Db, uid: &str, plain: &str, policy: &LoginPolicy) -> Result<bool> {
    match db.get("user", uid, "password")? {
        Some(Value::Password(stored)) => {
            if !stored.verify(plain) {
                return Ok(false);
            }
            let opts = db.options();
            if policy.migrate_passwords
                && stored.needs_rehash(opts.password_scheme, opts.password_rounds)
            {
                let fresh = Password::hash(plain, opts.password_scheme, opts.password_rounds);
                let acting = db.getuid();
                db.set_uid(uid);
                let r = db.set(
                    "user",
                    uid,
                    Values::from([("password".to_string(), Some(Value::Password(fresh)))]),
                );
                db.set_uid(&acting);
                if let Err(e) = r.and_then(|_| db.commit()) {
                    let _ = db.rollback();
                    return Err(e);
                }
            }
            Ok(true)
        }
        None => Ok(policy.empty_passwords && plain.is_empty()),
        Some(_) => Ok(false),
    }
}

/// Count a login attempt for `name` (`update`) or only look whether the
/// name is locked out; `Err(TooFast)` when refused.
fn rate_limit(
    otks: &SharedStore,
    policy: &LoginPolicy,
    frontend: Frontend,
    name: &str,
    update: bool,
) -> Result<(), LoginError> {
    let Some((limit, key, keep)) = policy.limit(frontend, name) else {
        return Ok(());
    };
    let mut store = otks
        .lock()
        .map_err(|_| Error::storage("the one-time-key store lock was poisoned"))?;
    let st = ratelimit::hit(store.as_mut(), &key, &limit, update, keep)?;
    if st.rejected {
        return Err(LoginError::TooFast(st));
    }
    Ok(())
}

/// Log in `name` with `password` through `frontend`: the user id, or why
/// not. `cache` (for API credentials sent with every request) spares
/// re-hashing a password verified a moment ago.
pub fn login(
    db: &Db,
    otks: &SharedStore,
    policy: &LoginPolicy,
    frontend: Frontend,
    name: &str,
    password: &str,
    cache: Option<&CredentialCache>,
) -> Result<String, LoginError> {
    let uid = match db.lookup("user", name) {
        Ok(uid) => uid,
        Err(Error::NoSuchKey { .. }) | Err(Error::Value(_)) => {
            // the same work as for a real name, so that the answer's
            // timing does not tell which names exist
            if let Ok(Some(Value::Password(p))) = db.get("user", "2", "password") {
                let _ = p.verify(password);
            }
            rate_limit(otks, policy, frontend, name, true)?;
            return Err(LoginError::Invalid);
        }
        Err(e) => return Err(e.into()),
    };
    let stored = match db.get("user", &uid, "password")? {
        Some(Value::Password(p)) => Some(p.as_str().to_string()),
        _ => None,
    };
    let hit = match (cache, &stored) {
        (Some(c), Some(s)) => c.lookup(name, password, &uid, s),
        _ => None,
    };
    // a locked-out name is refused even with the right password
    if hit != Some(Freshness::LimitChecked) {
        rate_limit(otks, policy, frontend, name, false)?;
        if let (Some(c), Some(_)) = (cache, hit) {
            c.limit_checked(name, password);
        }
    }
    if hit.is_none() {
        if !check_password(db, &uid, password, policy)? {
            if let Some(c) = cache {
                c.forget_name(name);
            }
            rate_limit(otks, policy, frontend, name, true)?;
            return Err(LoginError::Invalid);
        }
        if let Some(c) = cache {
            // after a re-hash the stored value is the new one
            if let Ok(Some(Value::Password(p))) = db.get("user", &uid, "password") {
                c.remember(name, password, &uid, p.as_str());
            }
        }
    }
    let roles = db.user_roles(&uid)?;
    if !db
        .security()
        .roles_have_permission(db, &roles, "Web Access", &uid, None, None, None)?
    {
        return Err(LoginError::NoPermission);
    }
    Ok(uid)
}

// --------------------------------------------------------------------------
// verified credentials

/// How long a verified credential is trusted without hashing again.
const CACHE_TTL: Duration = Duration::from_secs(60);
/// How long a cached credential's "the name is not locked out" answer
/// stands before the one-time-key store is asked again.
const LIMIT_RECHECK: Duration = Duration::from_secs(1);
const CACHE_MAX: usize = 4096;

struct Cached {
    uid: String,
    /// The stored password hash when verified: a changed password
    /// invalidates the entry at once.
    stored: String,
    expires: Instant,
    /// Keyed hash of the login name alone (to forget a name's entries).
    name_key: [u8; 32],
    /// When the name's rate limit was last looked at.
    limit_checked: Instant,
}

/// What a cache hit spares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The password check; the rate limit must be looked at.
    PasswordChecked,
    /// The password check, and the rate limit was looked at within the
    /// last second.
    LimitChecked,
}

/// Credentials verified in the last minute, for one tracker.
///
/// API clients send their password with every request, and checking a
/// PBKDF2 hash costs far more than answering most requests. Entries are
/// keyed by an HMAC (under a random key made with the cache) of name and
/// password, so what sits in memory cannot be tested against guessed
/// passwords offline. An entry only counts while the user's stored hash
/// is the one it was verified against.
///
/// An entry also spares reading the name's rate limit from the
/// one-time-key store on every request: that answer stands for a second
/// ([`Freshness::LimitChecked`]). A failed login for the name in this
/// process drops its entries at once; one in another process shows within
/// that second.
pub struct CredentialCache {
    key: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], Cached>>,
    /// Lookups answered from the cache since it was made.
    hits: std::sync::atomic::AtomicU64,
}

impl Default for CredentialCache {
    fn default() -> CredentialCache {
        CredentialCache::new()
    }
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        write!(f, "CredentialCache({n} entries)")
    }
}

impl CredentialCache {
    pub fn new() -> CredentialCache {
        CredentialCache {
            key: rand::random(),
            entries: Mutex::new(HashMap::new()),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC takes keys of any length
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return [0; 32];
        };
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(&[0u8]);
            }
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    fn entry_key(&self, name: &str, password: &str) -> [u8; 32] {
        self.mac(&[name.as_bytes(), password.as_bytes()])
    }

    fn name_key(&self, name: &str) -> [u8; 32] {
        self.mac(&[b"name", name.as_bytes()])
    }

    /// How many lookups the cache has answered (each one a password hash
    /// not computed again).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether this name and password were verified for `uid` against the
    /// `stored` hash within the last minute.
    pub fn holds(&self, name: &str, password: &str, uid: &str, stored: &str) -> bool {
        self.lookup(name, password, uid, stored).is_some()
    }

    /// As [`CredentialCache::holds`], saying what the hit spares.
    pub fn lookup(&self, name: &str, password: &str, uid: &str, stored: &str) -> Option<Freshness> {
        let k = self.entry_key(name, password);
        let now = Instant::now();
        let c = self.entries.lock().ok()?;
        let e = c
            .get(&k)
            .filter(|e| e.uid == uid && e.stored == stored && e.expires > now)?;
        self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(if now.duration_since(e.limit_checked) < LIMIT_RECHECK {
            Freshness::LimitChecked
        } else {
            Freshness::PasswordChecked
        })
    }

    /// Note that the name's rate limit was just looked at (and did not
    /// refuse).
    pub fn limit_checked(&self, name: &str, password: &str) {
        let k = self.entry_key(name, password);
        if let Ok(mut c) = self.entries.lock() {
            if let Some(e) = c.get_mut(&k) {
                e.limit_checked = Instant::now();
            }
        }
    }

    /// Forget every credential of a login name (after a failed login).
    pub fn forget_name(&self, name: &str) {
        let nk = self.name_key(name);
        if let Ok(mut c) = self.entries.lock() {
            c.retain(|_, e| e.name_key != nk);
        }
    }

    /// Note a verified credential (checked against the rate limit just
    /// now).
    pub fn remember(&self, name: &str, password: &str, uid: &str, stored: &str) {
        let k = self.entry_key(name, password);
        let name_key = self.name_key(name);
        let now = Instant::now();
        if let Ok(mut c) = self.entries.lock() {
            if c.len() >= CACHE_MAX {
                c.retain(|_, e| e.expires > now);
                if c.len() >= CACHE_MAX {
                    c.clear();
                }
            }
            c.insert(
                k,
                Cached {
                    uid: uid.to_string(),
                    stored: stored.to_string(),
                    expires: now + CACHE_TTL,
                    name_key,
                    limit_checked: now,
                },
            );
        }
    }

    /// How many credentials are remembered.
    pub fn len(&self) -> usize {
        self.entries.lock().map(|c| c.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What became of a registration confirmation.
#[derive(Debug, PartialEq)]
pub enum Confirmed {
    /// The user was created (its id); the key is spent.
    User(String),
    /// No pending registration has this key.
    NoSuchKey,
}

/// Confirm a registration (Roundup's `confirm_registration`): the user
/// kept under one-time key `otk` by the registration form is created with
/// `roles` (`[main] new_web_user_roles`), the key destroyed and both
/// committed. The web UI's `confrego` action and a reply to the
/// registration mail (the mail gateway) both come here. When the user
/// cannot be created (the name was taken meanwhile, an auditor refused)
/// the error is returned, the transaction rolled back and the key kept.
pub fn confirm_registration(
    db: &Db,
    otks: &mut dyn KeyStore,
    otk: &str,
    roles: &str,
) -> Result<Confirmed> {
    let Some(rec) = otks.get_all(otk)? else {
        return Ok(Confirmed::NoSuchKey);
    };
    let cls = db.class("user")?.clone();
    let mut values = Values::new();
    for (k, v) in &rec {
        if k.starts_with("__") {
            continue;
        }
        let crate::pyrepr::PyValue::Str(text) = v else {
            continue;
        };
        let Some(prop) = cls.prop(k) else { continue };
        let value = if prop.ptype == crate::schema::PropType::Password {
            Some(Value::Password(Password::from_encrypted(text).map_err(
                |e| {
                    Error::value(format!(
                        "the stored password of the registration is unreadable: {e}"
                    ))
                },
            )?))
        } else {
            db.raw_to_value("user", k, text, None)?
        };
        values.insert(k.clone(), value);
    }
    values.insert("roles".into(), Some(Value::String(roles.to_string())));
    let uid = match db.create("user", values) {
        Ok(uid) => uid,
        Err(e) => {
            db.rollback()?;
            return Err(e);
        }
    };
    db.commit()?;
    otks.destroy(otk)?;
    otks.commit()?;
    Ok(Confirmed::User(uid))
}
