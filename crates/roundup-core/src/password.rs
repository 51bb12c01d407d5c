//! Stored password values in the formats Roundup writes to its databases.
//!
//! A stored password is the text `{SCHEME}payload`, where the scheme is one
//! of the names in [`Scheme`] and the payload depends on the scheme:
//!
//! | scheme      | payload                                                         |
//! |-------------|-----------------------------------------------------------------|
//! | `PBKDF2S5`  | `rounds$salt$digest`: PBKDF2-HMAC-SHA512, 64-byte key            |
//! | `PBKDF2`    | `rounds$salt$digest`: PBKDF2-HMAC-SHA1, 20-byte key              |
//! | `SSHA`      | standard base64 of `sha1(password + salt) + salt`               |
//! | `SHA`       | lowercase hex SHA-1 of the password                              |
//! | `MD5`       | lowercase hex MD5 of the password                                |
//! | `crypt`     | output of the Unix `crypt(3)` function                           |
//! | `plaintext` | the password itself                                              |
//!
//! In the PBKDF2 payloads the salt (20 random bytes) and the digest are
//! written in base64 with `.` in place of `+` and without `=` padding.
//! Passwords are always hashed as their UTF-8 bytes.
//!
//! New passwords use [`DEFAULT_SCHEME`]; on a successful login Roundup
//! replaces a stored password that [`Password::needs_rehash`] flags.

use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use md5::Md5;
use rand::Rng;
use sha1::{Digest, Sha1};
use sha2::Sha512;
use subtle::ConstantTimeEq;

/// Roundup 2.6's default for `password_pbkdf2_default_rounds` in config.ini.
pub const DEFAULT_ROUNDS: u32 = 250_000;

/// The fewest PBKDF2 rounds Roundup accepts, for hashing and for verifying.
pub const MIN_ROUNDS: u32 = 1000;

/// The scheme Roundup uses for every newly set password.
pub const DEFAULT_SCHEME: Scheme = Scheme::Pbkdf2S5;

/// Length of a freshly generated PBKDF2 salt, in bytes.
const PBKDF2_SALT_LEN: usize = 20;

/// Characters a traditional DES `crypt` salt is drawn from.
const CRYPT_SALT_CHARS: &[u8] = b"./0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Characters [`generate_password`] draws from.
const GENERATED_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A password hashing scheme, named in braces at the start of a stored password.
#[derive(Clone, Debug, PartialEq, Eq, Copy, Hash)]
pub enum Scheme {
    /// PBKDF2 with HMAC-SHA512 (Roundup's default since 2.5).
    Pbkdf2S5,
    /// PBKDF2 with HMAC-SHA1.
    Pbkdf2,
    /// Salted SHA-1 in the LDAP style.
    Ssha,
    /// Unsalted SHA-1.
    Sha,
    /// Unsalted MD5.
    Md5,
    /// The Unix `crypt(3)` function (traditional DES for new hashes).
    Crypt,
    /// No hashing at all.
    Plaintext,
}

impl Scheme {
    /// Every scheme, in the order Roundup lists them (the default first).
    pub const ALL: [Scheme; 7] = [
        Scheme::Pbkdf2S5,
        Scheme::Pbkdf2,
        Scheme::Ssha,
        Scheme::Sha,
        Scheme::Md5,
        Scheme::Crypt,
        Scheme::Plaintext,
    ];

    /// The name written between the braces of a stored password.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Pbkdf2S5 => "PBKDF2S5",
            Scheme::Pbkdf2 => "PBKDF2",
            Scheme::Ssha => "SSHA",
            Scheme::Sha => "SHA",
            Scheme::Md5 => "MD5",
            Scheme::Crypt => "crypt",
            Scheme::Plaintext => "plaintext",
        }
    }

    /// The scheme with exactly this name (names are case sensitive, as in Roundup).
    pub fn parse(s: &str) -> Option<Scheme> {
        Scheme::ALL.into_iter().find(|scheme| scheme.name() == s)
    }

    /// Whether Roundup considers the scheme too weak for stored passwords,
    /// i.e. every scheme except [`Scheme::Pbkdf2S5`].
    pub fn is_deprecated(&self) -> bool {
        *self != Scheme::Pbkdf2S5
    }

    fn is_pbkdf2(&self) -> bool {
        matches!(self, Scheme::Pbkdf2S5 | Scheme::Pbkdf2)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a stored password or a hashing request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// The braces named a scheme Roundup does not know.
    #[error(
        "unknown password scheme {0:?} (known: PBKDF2S5, PBKDF2, SSHA, SHA, MD5, crypt, plaintext)"
    )]
    UnknownScheme(String),
    /// A PBKDF2 hash was asked for with fewer than [`MIN_ROUNDS`] rounds.
    #[error("PBKDF2 rounds {0} is below the minimum of {MIN_ROUNDS}")]
    RoundsTooLow(u32),
}

/// A password as stored in the database: `{SCHEME}payload`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Password {
    scheme: Scheme,
    /// The whole stored text, `{SCHEME}payload`.
    stored: String,
}

impl Password {
    /// Reads a stored password.
    ///
    /// The text must start with `{NAME}` where NAME is one or more word
    /// characters, followed by at least one character other than a newline;
    /// the payload ends at the first newline (Roundup drops anything after it).
    /// Text that does not have this shape is, as in Roundup, taken to be a
    /// plaintext password and hashed with [`DEFAULT_SCHEME`] and
    /// [`DEFAULT_ROUNDS`]; use [`Password::from_encrypted_with`] to choose the
    /// round count. A well formed prefix naming an unknown scheme is an error.
    pub fn from_encrypted(stored: &str) -> Result<Password, PasswordError> {
        Password::from_encrypted_with(stored, DEFAULT_ROUNDS)
    }

    /// Like [`Password::from_encrypted`], hashing text without a scheme
    /// prefix with `rounds` PBKDF2 rounds (the tracker's configured value).
    pub fn from_encrypted_with(stored: &str, rounds: u32) -> Result<Password, PasswordError> {
        match split_stored(stored) {
            Some((name, payload)) => {
                let scheme = Scheme::parse(name)
                    .ok_or_else(|| PasswordError::UnknownScheme(name.to_string()))?;
                Ok(Password::from_parts(scheme, payload))
            }
            None => Password::try_hash(stored, DEFAULT_SCHEME, rounds),
        }
    }

    /// Hashes `plain` with `scheme` and a fresh random salt.
    ///
    /// `rounds` is used by the PBKDF2 schemes only; values below
    /// [`MIN_ROUNDS`] are raised to it (see [`Password::try_hash`] for the
    /// strict variant).
    pub fn hash(plain: &str, scheme: Scheme, rounds: u32) -> Password {
        let rounds = rounds.max(MIN_ROUNDS);
        let payload = match scheme {
            Scheme::Crypt => crypt_new(plain),
            _ => encode_payload(plain, scheme, rounds),
        };
        Password::from_parts(scheme, &payload)
    }

    /// Hashes `plain` like [`Password::hash`] but refuses PBKDF2 round
    /// counts below [`MIN_ROUNDS`], as Roundup does.
    pub fn try_hash(plain: &str, scheme: Scheme, rounds: u32) -> Result<Password, PasswordError> {
        if scheme.is_pbkdf2() && rounds < MIN_ROUNDS {
            return Err(PasswordError::RoundsTooLow(rounds));
        }
        Ok(Password::hash(plain, scheme, rounds))
    }

    fn from_parts(scheme: Scheme, payload: &str) -> Password {
        Password {
            scheme,
            stored: format!("{{{}}}{}", scheme.name(), payload),
        }
    }

    /// The part after the closing brace.
    fn payload(&self) -> &str {
        // The stored text always starts with "{" + name + "}".
        self.stored
            .get(self.scheme.name().len() + 2..)
            .unwrap_or_default()
    }

    /// Whether `plain` is the password this value was made from.
    ///
    /// The candidate is hashed with the stored scheme and parameters and the
    /// result compared with the stored text in constant time. A malformed
    /// payload never verifies.
    pub fn verify(&self, plain: &str) -> bool {
        let stored = self.payload();
        let candidate = match self.scheme {
            Scheme::Pbkdf2S5 | Scheme::Pbkdf2 => pbkdf2_recompute(self.scheme, plain, stored),
            Scheme::Ssha => ssha_recompute(plain, stored),
            Scheme::Sha | Scheme::Md5 | Scheme::Plaintext => {
                Some(encode_payload(plain, self.scheme, MIN_ROUNDS))
            }
            Scheme::Crypt => pwhash::unix::crypt(plain.as_bytes(), stored).ok(),
        };
        match candidate {
            Some(candidate) => bool::from(candidate.as_bytes().ct_eq(stored.as_bytes())),
            None => false,
        }
    }

    /// The scheme this password is stored with.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The PBKDF2 round count, for the PBKDF2 schemes with a well formed payload.
    pub fn rounds(&self) -> Option<u32> {
        if !self.scheme.is_pbkdf2() {
            return None;
        }
        Pbkdf2Parts::parse(self.payload()).map(|parts| parts.rounds)
    }

    /// Whether Roundup would replace this stored value after a successful
    /// login: the scheme differs from `default_scheme` (with Roundup's
    /// default this means any scheme but `PBKDF2S5`), or it is a PBKDF2
    /// scheme whose round count is below `min_rounds` (the tracker's
    /// `password_pbkdf2_default_rounds`) or below [`MIN_ROUNDS`], or whose
    /// payload cannot be read.
    pub fn needs_rehash(&self, default_scheme: Scheme, min_rounds: u32) -> bool {
        if self.scheme != default_scheme {
            return true;
        }
        if !self.scheme.is_pbkdf2() {
            return false;
        }
        match self.rounds() {
            Some(rounds) => rounds < MIN_ROUNDS || rounds < min_rounds,
            None => true,
        }
    }

    /// The stored form, as written to the database column.
    pub fn as_str(&self) -> &str {
        &self.stored
    }

    /// What Roundup writes in the journal instead of the hash:
    /// `{SCHEME}*encrypted*`.
    pub fn journal_placeholder(&self) -> String {
        format!("{{{}}}*encrypted*", self.scheme.name())
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.stored)
    }
}

/// A random password of `len` ASCII letters and digits with at least one
/// digit, as Roundup generates for password resets and mail-created users.
/// (Roundup's default length is 12; `len == 0` gives an empty string.)
pub fn generate_password(len: usize) -> String {
    if len == 0 {
        return String::new();
    }
    let mut rng = rand::rng();
    let mut chars: Vec<char> = (0..len - 1)
        .map(|_| char::from(GENERATED_CHARS[rng.random_range(0..GENERATED_CHARS.len())]))
        .collect();
    let digit = char::from(b'0' + rng.random_range(0..10u8));
    chars.insert(rng.random_range(0..len), digit);
    chars.into_iter().collect()
}

/// Splits `{NAME}payload` the way Roundup's pattern does: NAME is one or
/// more word characters, payload is the run of non-newline characters after
/// the brace and must not be empty.
fn split_stored(stored: &str) -> Option<(&str, &str)> {
    let rest = stored.strip_prefix('{')?;
    let close = rest.find('}')?;
    let name = &rest[..close];
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let after = &rest[close + 1..];
    let payload = after.split('\n').next().unwrap_or_default();
    if payload.is_empty() {
        return None;
    }
    Some((name, payload))
}

/// The payload for a new hash of every scheme except `crypt`.
fn encode_payload(plain: &str, scheme: Scheme, rounds: u32) -> String {
    let mut rng = rand::rng();
    match scheme {
        Scheme::Pbkdf2S5 | Scheme::Pbkdf2 => {
            let mut salt = [0u8; PBKDF2_SALT_LEN];
            rng.fill(&mut salt[..]);
            pbkdf2_payload(scheme, plain, rounds, &h64_encode(&salt), &salt)
        }
        Scheme::Ssha => {
            let len = rng.random_range(36..52);
            let mut salt = vec![0u8; len];
            rng.fill(&mut salt[..]);
            ssha_payload(plain, &salt)
        }
        Scheme::Sha => hex(&Sha1::digest(plain.as_bytes())),
        Scheme::Md5 => hex(&Md5::digest(plain.as_bytes())),
        Scheme::Plaintext => plain.to_string(),
        Scheme::Crypt => crypt_new(plain),
    }
}

/// A new traditional DES crypt hash with a random two-character salt.
fn crypt_new(plain: &str) -> String {
    let mut rng = rand::rng();
    let salt: String = (0..2)
        .map(|_| char::from(CRYPT_SALT_CHARS[rng.random_range(0..CRYPT_SALT_CHARS.len())]))
        .collect();
    // DES crypt accepts any password bytes and every salt drawn from
    // CRYPT_SALT_CHARS, so this cannot fail; keep a defined result anyway.
    pwhash::unix::crypt(plain.as_bytes(), &salt).unwrap_or_else(|_| format!("{salt}*"))
}

/// The three fields of a PBKDF2 payload.
struct Pbkdf2Parts<'a> {
    rounds: u32,
    salt_text: &'a str,
    salt: Vec<u8>,
}

impl<'a> Pbkdf2Parts<'a> {
    /// Reads `rounds$salt$digest`; the round count may not start with `0`.
    fn parse(payload: &'a str) -> Option<Pbkdf2Parts<'a>> {
        let mut fields = payload.split('$');
        let (rounds, salt_text, _digest) = (fields.next()?, fields.next()?, fields.next()?);
        if fields.next().is_some() || rounds.starts_with('0') {
            return None;
        }
        let rounds: u32 = rounds.parse().ok()?;
        let salt = h64_decode(salt_text)?;
        Some(Pbkdf2Parts {
            rounds,
            salt_text,
            salt,
        })
    }
}

/// Hashes `plain` with the parameters of a stored PBKDF2 payload.
fn pbkdf2_recompute(scheme: Scheme, plain: &str, stored: &str) -> Option<String> {
    let parts = Pbkdf2Parts::parse(stored)?;
    if parts.rounds < MIN_ROUNDS {
        return None;
    }
    Some(pbkdf2_payload(
        scheme,
        plain,
        parts.rounds,
        parts.salt_text,
        &parts.salt,
    ))
}

fn pbkdf2_payload(
    scheme: Scheme,
    plain: &str,
    rounds: u32,
    salt_text: &str,
    salt: &[u8],
) -> String {
    let digest = if scheme == Scheme::Pbkdf2S5 {
        let mut key = [0u8; 64];
        pbkdf2::pbkdf2_hmac::<Sha512>(plain.as_bytes(), salt, rounds, &mut key);
        h64_encode(&key)
    } else {
        let mut key = [0u8; 20];
        pbkdf2::pbkdf2_hmac::<Sha1>(plain.as_bytes(), salt, rounds, &mut key);
        h64_encode(&key)
    };
    format!("{rounds}${salt_text}${digest}")
}

/// Hashes `plain` with the salt found in a stored SSHA payload.
fn ssha_recompute(plain: &str, stored: &str) -> Option<String> {
    let raw = lenient_base64().decode(stored).ok()?;
    let salt = raw.get(20..).unwrap_or_default();
    Some(ssha_payload(plain, salt))
}

fn ssha_payload(plain: &str, salt: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(plain.as_bytes());
    hasher.update(salt);
    let mut raw = hasher.finalize().to_vec();
    raw.extend_from_slice(salt);
    STANDARD.encode(raw)
}

/// Standard base64 that, like Python's decoder, accepts non-zero bits in
/// the last character.
fn lenient_base64() -> GeneralPurpose {
    GeneralPurpose::new(
        &alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent),
    )
}

/// Base64 with `.` for `+` and no padding, as used in PBKDF2 payloads.
fn h64_encode(data: &[u8]) -> String {
    STANDARD
        .encode(data)
        .trim_end_matches('=')
        .replace('+', ".")
}

/// Decodes [`h64_encode`] output; `+` is read like `.`, and a length that
/// leaves one character over a multiple of four is refused.
fn h64_decode(text: &str) -> Option<Vec<u8>> {
    if text.len() % 4 == 1 {
        return None;
    }
    lenient_base64().decode(text.replace('.', "+")).ok()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h64_round_trip_and_alphabet() {
        let data: Vec<u8> = (0u8..=255).collect();
        let text = h64_encode(&data);
        assert!(!text.contains('+') && !text.contains('='));
        assert_eq!(h64_decode(&text).as_deref(), Some(&data[..]));
        assert_eq!(h64_encode(&[0xfb, 0xff]), "./8");
        assert_eq!(h64_decode("./8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(h64_decode("+/8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(h64_decode("A"), None);
    }

    #[test]
    fn split_follows_roundup_pattern() {
        assert_eq!(split_stored("{SHA}abc"), Some(("SHA", "abc")));
        assert_eq!(split_stored("{SHA}abc\ndef"), Some(("SHA", "abc")));
        assert_eq!(split_stored("{SHA}"), None);
        assert_eq!(split_stored("{SHA}\nabc"), None);
        assert_eq!(split_stored("{}abc"), None);
        assert_eq!(split_stored("{S-A}abc"), None);
        assert_eq!(split_stored("x{SHA}abc"), None);
        assert_eq!(split_stored("{Foo_1}x"), Some(("Foo_1", "x")));
    }

    #[test]
    fn pbkdf2_sha1_matches_rfc6070_style_vector() {
        // The low-level check Roundup's own self test performs.
        let mut key = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha1>(b"password", b"ATHENA.MIT.EDUraeburn", 1200, &mut key);
        assert_eq!(
            hex(&key),
            "5c08eb61fdf71e4e4ec3cf6ba1f5512ba7e52ddbc5e5142f708a31e2e62b1e13"
        );
    }
}
