//! Trust roots that cost next to nothing at start.
//!
//! Left to their defaults, the AWS SDK and reqwest read and PEM-decode the whole system CA
//! bundle during init (about two thirds of a cold start's instructions, and an exit at init
//! in a container that has none). The functions talk to two kinds of servers, so they
//! trust exactly what those chain to:
//!
//! - AWS endpoints (DynamoDB, SNS): Amazon Root CA 1–4 and Starfield Services Root G2
//!   (`shared/certs/aws-roots.pem`, compiled in; 5 certificates, not ~140);
//! - Kombo's API: the Mozilla root program as compiled into `webpki-roots` (trust anchors
//!   already decoded at build time: nothing is parsed at run time).
//!
//! A user behind a TLS-inspecting proxy adds its root with [`EXTRA_ROOTS_ENV`]: a PEM file
//! whose certificates both clients trust as well. One TLS stack: rustls with ring (smaller
//! than aws-lc-rs by about a fifth of each zip, and cheaper to start).

use std::sync::Arc;

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::error::Error;

/// The roots AWS endpoints chain to.
const AWS_ROOTS_PEM: &[u8] = include_bytes!("../certs/aws-roots.pem");

/// `EXTRA_CA_PEM_FILE`: a PEM file of further roots to trust (an explicit opt-in, for a
/// TLS-inspecting proxy). Unset: only the compiled-in roots.
pub const EXTRA_ROOTS_ENV: &str = "EXTRA_CA_PEM_FILE";

/// The extra roots' PEM, if [`EXTRA_ROOTS_ENV`] names a file (read once, at init).
fn extra_roots_pem() -> Result<Option<Vec<u8>>, Error> {
    let Some(path) = std::env::var_os(EXTRA_ROOTS_ENV).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    std::fs::read(&path)
        .map(Some)
        .map_err(|e| Error::Config(format!("{EXTRA_ROOTS_ENV}={}: {e}", path.to_string_lossy())))
}

/// Fails (at init) when [`EXTRA_ROOTS_ENV`] names a file that cannot be read or holds no
/// certificate: an explicit opt-in that silently did nothing would surface later as TLS
/// failures against the proxy.
pub fn check_extra_roots() -> Result<(), Error> {
    let Some(pem) = extra_roots_pem()? else {
        return Ok(());
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Config(format!("{EXTRA_ROOTS_ENV}: {e}")))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{EXTRA_ROOTS_ENV}: no certificate in the file"
        )));
    }
    Ok(())
}

/// The HTTP client for every AWS SDK client: rustls + ring trusting the AWS roots
/// (and the extra ones), never the system bundle.
pub fn aws_http_client() -> Result<SharedHttpClient, Error> {
    let mut store = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(AWS_ROOTS_PEM);
    if let Some(extra) = extra_roots_pem()? {
        store = store.with_pem_certificate(extra);
    }
    let context = TlsContext::builder()
        .with_trust_store(store)
        .build()
        .map_err(|e| Error::Config(format!("AWS TLS configuration: {e}")))?;
    Ok(Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https())
}

/// The rustls configuration of the Kombo client: webpki-roots' anchors (and the extra
/// roots), ring.
pub fn kombo_tls_config() -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(extra) = extra_roots_pem()? {
        for cert in CertificateDer::pem_slice_iter(&extra) {
            let cert = cert.map_err(|e| Error::Config(format!("{EXTRA_ROOTS_ENV}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Config(format!("{EXTRA_ROOTS_ENV}: {e}")))?;
        }
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .map_err(|e| Error::Config(format!("Kombo TLS configuration: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_roots_are_the_five_amazon_trust_services_roots() {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(AWS_ROOTS_PEM)
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(certs.len(), 5);
        let mut store = rustls::RootCertStore::empty();
        let (added, ignored) = store.add_parsable_certificates(certs);
        assert_eq!((added, ignored), (5, 0));
    }
}
