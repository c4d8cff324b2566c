//! Invite tokens. The link carries HMAC-SHA256(server key, nonce): 256 bits that only the
//! server can compute. The database keeps the nonce (so "Copy invite link" can derive the
//! link again) and SHA-256 of the token (to find the invite): neither lets a reader of a
//! database dump build a working link.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

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

    /// The proof that an invite link came from its email (`?proof=…`): HMAC of the nonce
    /// under its own label, which "Copy invite link" never shows. Only the address's owner
    /// (or whoever they forward the email to) holds it.
    pub fn emailed_proof(&self, nonce: &str) -> InviteProof {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"emailed invite v1\0");
        mac.update(nonce.as_bytes());
        InviteProof(URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    /// Whether `proof` is the emailed proof of the invite with `nonce` (constant time).
    pub fn proves(&self, nonce: &str, proof: Option<&InviteProof>) -> bool {
        proof.is_some_and(|p| bool::from(self.emailed_proof(nonce).0.as_bytes().ct_eq(p.0.as_bytes())))
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

/// The `proof` of an emailed invite link: 43 base64url characters (256 bits).
#[derive(Clone, PartialEq, Eq)]
pub struct InviteProof(String);

impl InviteProof {
    /// A proof from a URL or form field: 43 base64url characters, or nothing.
    pub fn parse(s: &str) -> Option<InviteProof> {
        InviteToken::parse(s).map(|t| InviteProof(t.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for InviteProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteProof(…)")
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

    #[test]
    fn only_the_emailed_proof_of_that_invite_proves_it() {
        let key = InviteKey::derive(b"a master key that is long enough for the tests");
        let (nonce, token) = key.issue();
        let (nonce2, _) = key.issue();
        let proof = key.emailed_proof(&nonce);
        assert_eq!(proof.as_str().len(), 43, "256 bits, base64url");
        assert_eq!(InviteProof::parse(proof.as_str()), Some(proof.clone()));
        assert!(key.proves(&nonce, Some(&proof)));
        // Not the link's own token (which "Copy invite link" shows), not another invite's
        // proof, not another key's, not a tampered one, and not nothing.
        assert_ne!(proof.as_str(), token.as_str());
        assert!(!key.proves(&nonce, InviteProof::parse(token.as_str()).as_ref()));
        assert!(!key.proves(&nonce, Some(&key.emailed_proof(&nonce2))));
        let other = InviteKey::derive(b"another master key, long enough for the tests");
        assert!(!key.proves(&nonce, Some(&other.emailed_proof(&nonce))));
        let mut tampered = proof.as_str().to_string();
        let last = if tampered.ends_with('A') { "B" } else { "A" };
        tampered.replace_range(42.., last);
        assert!(!key.proves(&nonce, InviteProof::parse(&tampered).as_ref()));
        assert!(!key.proves(&nonce, None));
        assert!(InviteProof::parse("short").is_none());
        assert!(InviteProof::parse(&format!("{}=", &proof.as_str()[..42])).is_none());
    }
}
