//! Signed one-time `@csrf` tokens.
//!
//! Roundup stores every token it puts in a form in the one-time-key
//! store, so every page view with a form is a database write. Here the
//! token carries what the check needs, signed with a key derived from
//! the tracker's `[web] secret_key`:
//!
//! ```text
//! base64url( expiry:u32be | random:12 bytes | HMAC-SHA256(key, expiry|random|uid|sid)[..16] )
//! ```
//!
//! (43 characters, the length of the stored tokens.) Issuing a token
//! writes nothing. Checking one verifies the signature against the
//! request's user and session and the expiry, then records the token as
//! spent in the one-time-key store (until it would have expired anyway),
//! so each token is still good for one POST only — the same guarantees as
//! Roundup's stored tokens, with the write moved from every page view to
//! the form submission, which writes anyway.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const RANDOM_LEN: usize = 12;
const MAC_LEN: usize = 16;
const TOKEN_LEN: usize = 4 + RANDOM_LEN + MAC_LEN;

/// Signs and verifies tokens for one tracker.
#[derive(Clone)]
pub struct TokenSigner {
    key: [u8; 32],
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

/// What a token said about itself, once its signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Signed for this user and session and not expired; `expires` is
    /// its expiry in seconds since the epoch.
    Valid { expires: u64 },
    /// Signed by us but for another user or session, or tampered with.
    Mismatch,
    /// Signed for this user and session, but past its lifetime.
    Expired,
    /// Not one of our signed tokens at all (e.g. a stored token from
    /// an older release or from Roundup itself).
    Foreign,
}

impl TokenSigner {
    /// A signer keyed by the tracker's secret (any length; an empty
    /// secret still works but then tokens are only as good as the
    /// randomness of the per-process fallback the caller chooses).
    pub fn new(secret: &[u8]) -> TokenSigner {
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
        mac.update(b"roundup-rs csrf token key v1");
        let mut key = [0u8; 32];
        key.copy_from_slice(&mac.finalize().into_bytes());
        TokenSigner { key }
    }

    fn mac(&self, head: &[u8], uid: &str, sid: Option<&str>) -> [u8; MAC_LEN] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("32-byte key");
        mac.update(head);
        mac.update(uid.as_bytes());
        mac.update(&[0]);
        match sid {
            Some(s) => {
                mac.update(&[1]);
                mac.update(s.as_bytes());
            }
            None => mac.update(&[0]),
        }
        let full = mac.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }

    /// A new token for `uid` in session `sid`, good until `expires`
    /// (seconds since the epoch).
    pub fn issue(&self, uid: &str, sid: Option<&str>, expires: u64) -> String {
        let mut raw = [0u8; TOKEN_LEN];
        let exp = u32::try_from(expires).unwrap_or(u32::MAX);
        raw[..4].copy_from_slice(&exp.to_be_bytes());
        rand::rng().fill_bytes(&mut raw[4..4 + RANDOM_LEN]);
        let mac = self.mac(&raw[..4 + RANDOM_LEN], uid, sid);
        raw[4 + RANDOM_LEN..].copy_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Check a token for `uid` in session `sid` at time `now`.
    pub fn verify(&self, token: &str, uid: &str, sid: Option<&str>, now: u64) -> Verdict {
        let raw = match URL_SAFE_NO_PAD.decode(token.trim()) {
            Ok(r) if r.len() == TOKEN_LEN => r,
            _ => return Verdict::Foreign,
        };
        let (head, tag) = raw.split_at(4 + RANDOM_LEN);
        let expected = self.mac(head, uid, sid);
        // constant-time comparison
        let diff = expected
            .iter()
            .zip(tag)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff != 0 {
            return Verdict::Mismatch;
        }
        let expires = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        if expires < now {
            Verdict::Expired
        } else {
            Verdict::Valid { expires }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_user_session_and_time() {
        let s = TokenSigner::new(b"secret");
        let t = s.issue("3", Some("abc"), 2_000);
        assert_eq!(t.len(), 43);
        assert_eq!(
            s.verify(&t, "3", Some("abc"), 1_000),
            Verdict::Valid { expires: 2_000 }
        );
        assert_eq!(s.verify(&t, "3", Some("abc"), 2_001), Verdict::Expired);
        assert_eq!(s.verify(&t, "4", Some("abc"), 1_000), Verdict::Mismatch);
        assert_eq!(s.verify(&t, "3", None, 1_000), Verdict::Mismatch);
        assert_eq!(s.verify(&t, "3", Some("abd"), 1_000), Verdict::Mismatch);
        // another tracker's key
        let other = TokenSigner::new(b"other");
        assert_eq!(other.verify(&t, "3", Some("abc"), 1_000), Verdict::Mismatch);
        // a flipped bit anywhere breaks it
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        raw[1] ^= 1;
        let forged = URL_SAFE_NO_PAD.encode(&raw);
        assert_eq!(
            s.verify(&forged, "3", Some("abc"), 1_000),
            Verdict::Mismatch
        );
        // random stored-style keys are foreign
        assert_eq!(s.verify("abc", "3", None, 0), Verdict::Foreign);
        assert_eq!(
            s.verify(&roundup_core::sessions::random_key(20, true), "3", None, 0),
            Verdict::Foreign
        );
        // two tokens for the same request differ
        assert_ne!(t, s.issue("3", Some("abc"), 2_000));
    }
}
