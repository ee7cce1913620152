//! `X-Kombo-Signature`: HMAC-SHA256 of the raw body bytes, keyed with the Kombo webhook
//! secret, encoded as base64url without padding (43 characters).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::error::Error;

/// The header Kombo signs with. `http::HeaderMap` lookups are case-insensitive, so a
/// lower-cased header from API Gateway is found too.
pub const HEADER: &str = "x-kombo-signature";

/// The environment variable holding the secret(s), comma-separated for rotation.
pub const SECRET_ENV: &str = "KOMBO_WEBHOOK_SECRET";

/// The 401 message of a well-formed signature that no configured secret produced (the
/// case where a secret from Secrets Manager is re-read).
pub const MISMATCH: &str = "X-Kombo-Signature does not match the body";

type HmacSha256 = Hmac<Sha256>;

/// One or more webhook secrets, any of which verifies a request (so a secret can be
/// rotated without downtime: deploy `new,old`, switch Kombo, then deploy `new`).
///
/// Holds pre-keyed HMAC states, never prints them.
#[derive(Clone)]
pub struct Secrets {
    keyed: Vec<HmacSha256>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets({} configured, redacted)", self.keyed.len())
    }
}

impl Secrets {
    /// Parses a comma-separated list; surrounding white space is ignored. An empty list
    /// is an error naming [`SECRET_ENV`]: never a silent accept-all.
    pub fn parse(value: &str) -> Result<Self, Error> {
        let keyed: Vec<HmacSha256> = value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                HmacSha256::new_from_slice(s.as_bytes()).expect("HMAC takes keys of any length")
            })
            .collect();
        if keyed.is_empty() {
            return Err(Error::Config(format!(
                "{SECRET_ENV} is empty: set it to the Kombo webhook secret (several may be comma-separated)"
            )));
        }
        Ok(Secrets { keyed })
    }

    /// Reads [`SECRET_ENV`]; missing or empty is an error that names the variable.
    pub fn from_env() -> Result<Self, Error> {
        match std::env::var(SECRET_ENV) {
            Ok(v) => Self::parse(&v),
            Err(_) => Err(Error::Config(format!(
                "{SECRET_ENV} is not set: set it to the Kombo webhook secret (several may be comma-separated)"
            ))),
        }
    }

    /// The signature of `body` under the first (current) secret, as Kombo would send it.
    /// Used by the sample-event tooling and tests.
    pub fn sign(&self, body: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(self.tag(&self.keyed[0], body))
    }

    fn tag(&self, keyed: &HmacSha256, body: &[u8]) -> [u8; 32] {
        let mut mac = keyed.clone();
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// Verifies `header` (the `X-Kombo-Signature` value, if any) over the exact `body`
    /// bytes. Every configured secret is tried and the results are combined without
    /// branching, so the time taken does not depend on which secret (if any) matched.
    pub fn verify(&self, header: Option<&[u8]>, body: &[u8]) -> Result<(), Error> {
        let header = header.ok_or(Error::Unauthorized("missing X-Kombo-Signature header"))?;
        let given = decode_signature(header).ok_or(Error::Unauthorized(
            "X-Kombo-Signature is not a base64url HMAC-SHA256 signature",
        ))?;
        let mut ok = Choice::from(0);
        for keyed in &self.keyed {
            ok |= self.tag(keyed, body).ct_eq(&given);
        }
        if bool::from(ok) {
            Ok(())
        } else {
            Err(Error::Unauthorized(MISMATCH))
        }
    }
}

/// base64url without padding, exactly 32 bytes once decoded. Standard base64, padding,
/// non-canonical trailing bits and inner white space are all rejected.
pub(crate) fn decode_signature(header: &[u8]) -> Option<[u8; 32]> {
    let trimmed = header.trim_ascii();
    if trimmed.len() != 43 {
        return None;
    }
    URL_SAFE_NO_PAD.decode(trimmed).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_SECRET: &str = "my-kombo-webhook-secret";
    const VECTOR_BODY: &str = r#"{"id":"FhghqjnCi9WuAoLT8Z75CFcs","type":"data-changed","data":{"integration_id":"sandbox:7C9M5sXAQx2cNMpVHLojrFpL","integration_tool":"sandbox","integration_category":"LMS","changed_models":[{"name":"lms_courses"}]}}"#;
    const VECTOR_SIGNATURE: &str = "S9C1C7kuZgy4nCfSm71cUTm4iX1YLKlYQhrtGqWFtjo";

    #[test]
    fn reference_test_vector_verifies() {
        let s = Secrets::parse(VECTOR_SECRET).unwrap();
        assert_eq!(s.sign(VECTOR_BODY.as_bytes()), VECTOR_SIGNATURE);
        s.verify(Some(VECTOR_SIGNATURE.as_bytes()), VECTOR_BODY.as_bytes())
            .unwrap();
    }

    #[test]
    fn one_changed_byte_fails() {
        let s = Secrets::parse(VECTOR_SECRET).unwrap();
        let body = VECTOR_BODY.replace("lms_courses", "lms_coursez");
        let err = s
            .verify(Some(VECTOR_SIGNATURE.as_bytes()), body.as_bytes())
            .unwrap_err();
        assert!(matches!(err, Error::Unauthorized(m) if m.contains("does not match")));
    }

    #[test]
    fn any_rotated_secret_verifies_and_others_do_not() {
        let rotated = Secrets::parse(" new-fake-secret , my-kombo-webhook-secret ").unwrap();
        rotated
            .verify(Some(VECTOR_SIGNATURE.as_bytes()), VECTOR_BODY.as_bytes())
            .unwrap();
        let other = Secrets::parse("new-fake-secret").unwrap();
        assert!(
            other
                .verify(Some(VECTOR_SIGNATURE.as_bytes()), VECTOR_BODY.as_bytes())
                .is_err()
        );
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let s = Secrets::parse(VECTOR_SECRET).unwrap();
        let body = VECTOR_BODY.as_bytes();
        let std_b64 = base64::engine::general_purpose::STANDARD
            .encode(URL_SAFE_NO_PAD.decode(VECTOR_SIGNATURE).unwrap());
        for bad in [
            String::new(),
            "garbage".to_string(),
            format!("{VECTOR_SIGNATURE}="),
            std_b64,
            VECTOR_SIGNATURE[..42].to_string(),
            format!("{VECTOR_SIGNATURE},{VECTOR_SIGNATURE}"),
        ] {
            assert!(
                s.verify(Some(bad.as_bytes()), body).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(matches!(
            s.verify(None, body),
            Err(Error::Unauthorized(m)) if m.contains("missing")
        ));
    }

    #[test]
    fn surrounding_white_space_in_the_header_is_tolerated() {
        let s = Secrets::parse(VECTOR_SECRET).unwrap();
        let padded = format!("  {VECTOR_SIGNATURE}\t");
        s.verify(Some(padded.as_bytes()), VECTOR_BODY.as_bytes())
            .unwrap();
    }

    #[test]
    fn empty_secret_is_a_config_error_naming_the_variable() {
        for v in ["", " ", ",,"] {
            let err = Secrets::parse(v).unwrap_err();
            assert!(err.to_string().contains(SECRET_ENV), "{err}");
        }
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let s = Secrets::parse("super-fake-secret-value").unwrap();
        assert!(!format!("{s:?}").contains("super-fake"));
    }
}
