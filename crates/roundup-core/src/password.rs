//! PLACEHOLDER until the `pw` branch merges.
#![allow(dead_code)]
use std::fmt;
#[derive(Clone, Debug, PartialEq, Eq, Copy)]
pub enum Scheme {
    Pbkdf2S5,
    Plaintext,
}
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PasswordError(pub String);
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Password(String);
pub const DEFAULT_ROUNDS: u32 = 250000;
impl Password {
    pub fn from_encrypted(s: &str) -> Result<Password, PasswordError> {
        Ok(Password(s.to_string()))
    }
    pub fn hash(plain: &str, _scheme: Scheme, _rounds: u32) -> Password {
        Password(format!("{{plaintext}}{plain}"))
    }
    pub fn verify(&self, plain: &str) -> bool {
        self.0 == format!("{{plaintext}}{plain}")
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
