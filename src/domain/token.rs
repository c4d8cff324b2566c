//! Invite tokens. The link carries HMAC-SHA256(server key, nonce): 256 bits that only the
//! server can compute. The database keeps the nonce (so "Copy invite link" can derive the
//! link again) and SHA-256 of the token (to find the invite): neither lets a reader of a
//! database dump build a working link.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct InviteKey([u8; 32]);

impl InviteKey {
    /// Derived from the session master key, under its own label.
    pub fn derive(master: &[u8]) -> InviteKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes any key length");
        mac.update(b"portico invite links v1");
        InviteKey(mac.finalize().into_bytes().into())
    }

    /// A fresh nonce (256 random bits) and the token it gives.
    pub fn issue(&self) -> (String, InviteToken) {
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let nonce = URL_SAFE_NO_PAD.encode(nonce);
        let token = self.token_for(&nonce);
        (nonce, token)
    }

    /// The sibling key of email verification and password reset links: a link of one
    /// kind never works as the other.
    pub fn account_links(&self) -> InviteKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"portico account links v1");
        InviteKey(mac.finalize().into_bytes().into())
    }

    pub fn token_for(&self, nonce: &str) -> InviteToken {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(nonce.as_bytes());
        InviteToken(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }
}

/// The secret part of an invite link.
#[derive(Clone, PartialEq, Eq)]
pub struct InviteToken(String);

impl InviteToken {
    /// A token from a URL: 43 base64url characters, or nothing.
    pub fn parse(s: &str) -> Option<InviteToken> {
        (s.len() == 43 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .then(|| InviteToken(s.to_string()))
    }

    /// What the database stores to find the invite.
    pub fn lookup_hash(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InviteToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteToken(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_derived_and_not_stored() {
        let key = InviteKey::derive(b"a master key that is long enough for the tests");
        let (nonce, token) = key.issue();
        assert_eq!(key.token_for(&nonce), token);
        assert_ne!(token.as_str(), nonce);
        assert_ne!(token.lookup_hash(), nonce);
        assert!(InviteToken::parse(token.as_str()).is_some());
        assert!(InviteToken::parse("short").is_none());
        let other = InviteKey::derive(b"another master key, long enough for the tests");
        assert_ne!(other.token_for(&nonce), token);
        let (nonce2, _) = key.issue();
        assert_ne!(key.account_links().token_for(&nonce), token, "account links use their own key");
        assert_ne!(nonce, nonce2);
    }
}
