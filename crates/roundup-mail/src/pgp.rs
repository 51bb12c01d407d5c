//! OpenPGP for a tracker's mail, per `[pgp]`, with GnuPG's own library
//! (GPGME): the keyring is a GnuPG home directory (`[pgp] homedir`, else
//! GnuPG's default `~/.gnupg`), so the one an existing Roundup tracker
//! uses works unchanged.
//!
//! * [`Keyring::verify_detached`] checks a `multipart/signed` message's
//!   signature, [`Keyring::decrypt`] opens a `multipart/encrypted` one and
//!   checks the signature inside, both with Roundup's rule: among the
//!   signatures, the one made by a key with a user id of the author's
//!   address must be fully valid (GnuPG's "valid" summary: good, and the
//!   key trusted in the keyring); an unknown, expired or revoked key, a
//!   bad signature or no signature refuse the message, each with its own
//!   reason for the sender.
//! * [`Keyring::encrypt_to`] encrypts (ASCII armoured) to the first key
//!   of each recipient address, and [`encrypted_body`] wraps the result
//!   as RFC 3156 `multipart/encrypted`.

use std::path::{Path, PathBuf};

use gpgme::{Context, Protocol, SignatureSummary};
use roundup_core::security::parse_roles;

/// `[pgp]` as the mail code needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PgpConfig {
    /// `[pgp] enable`.
    pub enable: bool,
    /// `[pgp] roles`, lower case; empty means every user.
    pub roles: Vec<String>,
    /// `[pgp] homedir`; `None` is GnuPG's default.
    pub homedir: Option<PathBuf>,
    /// `[pgp] encrypt`: outgoing mail to the users with the roles is
    /// encrypted.
    pub encrypt: bool,
    /// `[pgp] require_incoming`: `signed`, `encrypted` or `both`.
    pub require_incoming: String,
}

impl PgpConfig {
    /// Read `[pgp]` from a tracker's configuration.
    pub fn from_config(c: &roundup_core::config::Config) -> PgpConfig {
        let s = |opt: &str| c.get_str("pgp", opt).unwrap_or_default();
        PgpConfig {
            enable: c.get_bool("pgp", "enable").unwrap_or(false),
            roles: parse_roles(&s("roles")),
            homedir: c.get_path("pgp", "homedir").ok().flatten(),
            encrypt: c.get_bool("pgp", "encrypt").unwrap_or(false),
            require_incoming: s("require_incoming").trim().to_ascii_lowercase(),
        }
    }

    /// Whether a user with these (lower-cased) roles gets PGP processing:
    /// every user when no roles are configured.
    pub fn applies_to(&self, user_roles: &[String]) -> bool {
        self.roles.is_empty() || self.roles.iter().any(|r| user_roles.contains(r))
    }

    /// The keyring `homedir` names.
    pub fn keyring(&self) -> Keyring {
        Keyring {
            homedir: self.homedir.clone(),
        }
    }
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PgpError {
    /// The message is refused; the text is what the sender is told.
    #[error("{0}")]
    Refused(String),
    /// GnuPG cannot be used (missing, or the home directory is wrong):
    /// the tracker's problem, not the sender's.
    #[error("GnuPG{}: {message}", homedir.as_ref().map(|h| format!(" (home directory {})", h.display())).unwrap_or_default())]
    Setup {
        homedir: Option<PathBuf>,
        message: String,
    },
}

/// A GnuPG home directory's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    homedir: Option<PathBuf>,
}

impl Keyring {
    /// The keyring in `homedir` (GnuPG's default when `None`).
    pub fn new(homedir: Option<&Path>) -> Keyring {
        Keyring {
            homedir: homedir.map(Path::to_path_buf),
        }
    }

    fn setup_error(&self, message: impl std::fmt::Display) -> PgpError {
        PgpError::Setup {
            homedir: self.homedir.clone(),
            message: message.to_string(),
        }
    }

    fn context(&self) -> Result<Context, PgpError> {
        let mut ctx = Context::from_protocol(Protocol::OpenPgp).map_err(|e| self.setup_error(e))?;
        if let Some(home) = &self.homedir {
            if !home.is_dir() {
                return Err(self.setup_error("no such directory"));
            }
            let home = home
                .to_str()
                .ok_or_else(|| self.setup_error("the path is not UTF-8"))?;
            ctx.set_engine_home_dir(home)
                .map_err(|e| self.setup_error(e))?;
        }
        Ok(ctx)
    }

    /// Check a detached signature over `signed` (the first part of a
    /// `multipart/signed` message as sent; its line ends are made CR LF
    /// first, as RFC 3156 wants) made by `author` (an address).
    pub fn verify_detached(
        &self,
        signed: &[u8],
        signature: &[u8],
        author: &str,
    ) -> Result<(), PgpError> {
        let mut ctx = self.context()?;
        let canonical = crlf(signed);
        let result = ctx
            .verify_detached(signature, &canonical[..])
            .map_err(|e| {
                PgpError::Refused(format!(
                    "The PGP signature of the message cannot be read: {e}"
                ))
            })?;
        let sigs = signatures(&result);
        check_signatures(&mut ctx, &sigs, author, false).map(|_| ())
    }

    /// Decrypt an encrypted message body (the second part of a
    /// `multipart/encrypted` message) and check the signature inside it
    /// per `author`; with `may_be_unsigned` an unsigned one is accepted
    /// (a bad or unknown signature never is).
    pub fn decrypt(
        &self,
        cipher: &[u8],
        author: &str,
        may_be_unsigned: bool,
    ) -> Result<Decrypted, PgpError> {
        let mut ctx = self.context()?;
        let mut plain = Vec::new();
        let (_, verified) = ctx.decrypt_and_verify(cipher, &mut plain).map_err(|_| {
            PgpError::Refused("The message cannot be decrypted with this tracker's key.".into())
        })?;
        let sigs = signatures(&verified);
        let signed = check_signatures(&mut ctx, &sigs, author, may_be_unsigned)?;
        Ok(Decrypted { plain, signed })
    }

    /// Encrypt `plain` to the first key of each address, ASCII
    /// armoured. An address without a usable key is an error naming it.
    pub fn encrypt_to(&self, recipients: &[String], plain: &[u8]) -> Result<String, PgpError> {
        let mut ctx = self.context()?;
        ctx.set_armor(true);
        let mut keys = Vec::new();
        for address in recipients {
            let key = ctx
                .find_keys([address.as_str()])
                .map_err(|e| self.setup_error(e))?
                .filter_map(Result::ok)
                .find(|k| k.can_encrypt() && !k.is_revoked() && !k.is_expired());
            match key {
                Some(k) => keys.push(k),
                None => {
                    return Err(PgpError::Refused(format!(
                        "no PGP key for {address} in the keyring"
                    )))
                }
            }
        }
        let mut cipher = Vec::new();
        ctx.encrypt_with_flags(&keys, plain, &mut cipher, gpgme::EncryptFlags::ALWAYS_TRUST)
            .map_err(|e| {
                self.setup_error(format!("encrypting to {}: {e}", recipients.join(", ")))
            })?;
        String::from_utf8(cipher).map_err(|e| self.setup_error(e))
    }
}

/// What [`Keyring::decrypt`] gives back.
#[derive(Debug)]
pub struct Decrypted {
    /// The decrypted MIME entity.
    pub plain: Vec<u8>,
    /// Whether it carried a valid signature by its author (`false`: an
    /// unsigned message, accepted because it may be unsigned).
    pub signed: bool,
}

/// One signature of a verification: fingerprint and GnuPG's summary.
struct Sig {
    fingerprint: String,
    summary: SignatureSummary,
}

fn signatures(result: &gpgme::VerificationResult) -> Vec<Sig> {
    result
        .signatures()
        .map(|s| Sig {
            fingerprint: s.fingerprint().unwrap_or("").to_string(),
            summary: s.summary(),
        })
        .collect()
}

/// Roundup's rule for the signatures of a message from `author`:
/// `Ok(true)` when one by the author is valid, `Ok(false)` for an
/// unsigned message that `may_be_unsigned`.
fn check_signatures(
    ctx: &mut Context,
    sigs: &[Sig],
    author: &str,
    may_be_unsigned: bool,
) -> Result<bool, PgpError> {
    let author = author.trim().to_lowercase();
    for sig in sigs {
        let Ok(key) = ctx.get_key(sig.fingerprint.as_str()) else {
            continue;
        };
        let by_author = key
            .user_ids()
            .any(|u| u.email().is_ok_and(|e| e.trim().to_lowercase() == author));
        if !by_author {
            continue;
        }
        if sig.summary.contains(SignatureSummary::VALID) {
            return Ok(true);
        }
        let why = if sig.summary.contains(SignatureSummary::KEY_MISSING) {
            format!(
                "The message is signed with a key this tracker does not know: {}",
                sig.fingerprint
            )
        } else if sig.summary.contains(SignatureSummary::KEY_EXPIRED) {
            format!(
                "The message is signed with an expired key: {}",
                sig.fingerprint
            )
        } else if sig.summary.contains(SignatureSummary::KEY_REVOKED) {
            format!(
                "The message is signed with a revoked key: {}",
                sig.fingerprint
            )
        } else {
            "The PGP signature of the message is not valid.".to_string()
        };
        return Err(PgpError::Refused(why));
    }
    match sigs.last() {
        Some(sig) => Err(PgpError::Refused(format!(
            "The message is signed with a key this tracker does not know: {}",
            sig.fingerprint
        ))),
        None if may_be_unsigned => Ok(false),
        None => Err(PgpError::Refused("The message is not PGP signed.".into())),
    }
}

/// Line ends made CR LF (RFC 3156's canonical form for signed text).
fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    let mut previous = 0u8;
    for &b in data {
        if b == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        previous = b;
    }
    out
}

/// The RFC 3156 body of an encrypted message: `multipart/encrypted` with
/// the version part and the armoured data.
pub fn encrypted_body(armored: String) -> mail_builder::mime::MimePart<'static> {
    use mail_builder::headers::content_type::ContentType;
    use mail_builder::mime::MimePart;
    MimePart::new(
        ContentType::new("multipart/encrypted").attribute("protocol", "application/pgp-encrypted"),
        vec![
            MimePart::new("application/pgp-encrypted", "Version: 1\r\n"),
            MimePart::new("application/octet-stream", armored).inline(),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_canonical() {
        assert_eq!(crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
        assert_eq!(crlf(b""), b"");
    }

    #[test]
    fn roles_are_read_as_roundup_reads_them() {
        let c = PgpConfig {
            roles: parse_roles(" Admin, user ,"),
            ..PgpConfig::default()
        };
        assert_eq!(c.roles, vec!["admin", "user"]);
        assert!(c.applies_to(&["user".into()]));
        assert!(!c.applies_to(&["anonymous".into()]));
        assert!(PgpConfig::default().applies_to(&[]));
    }

    #[test]
    fn a_missing_home_directory_is_a_setup_error() {
        let k = Keyring::new(Some(Path::new("/nonexistent/gnupg")));
        let e = k.encrypt_to(&["a@example.com".into()], b"x").unwrap_err();
        assert!(matches!(e, PgpError::Setup { .. }), "{e}");
        assert!(e.to_string().contains("/nonexistent/gnupg"), "{e}");
    }
}
