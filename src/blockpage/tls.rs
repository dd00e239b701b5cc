//! HTTPS for the block page, with the operator's certificate.
//!
//! A browser that opens `https://blocked.example/` checks that the server
//! proves it is `blocked.example`. Only a certificate for that name — one
//! the operator holds, e.g. for its own walled-garden names — can do that;
//! for anyone else's site the page cannot be shown without a forged
//! certificate, which is exactly the interception TLS exists to stop.
//! So the handshake is completed only when the client's SNI name is one
//! the certificate covers; any other name (or none) gets a TLS alert, and
//! without a certificate the connection is closed at once.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is unreadable or holds no PEM certificate.
    #[error("{path}: {reason}")]
    Cert {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file is unreadable or holds no PEM private key.
    #[error("{path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key does not belong to the certificate, or is of a kind rustls
    /// cannot sign with.
    #[error("key does not fit the certificate: {0}")]
    Mismatch(rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Read `cert` and `key` (PEM), check that they belong together and that
/// the certificate parses, and build the server configuration.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let cert_err = |reason: String| TlsError::Cert {
        path: cert.display().to_string(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    let Some(leaf) = chain.first() else {
        return Err(cert_err("no PEM CERTIFICATE in the file".into()));
    };
    webpki::EndEntityCert::try_from(leaf)
        .map_err(|e| cert_err(format!("not a usable certificate: {e}")))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        reason: e.to_string(),
    })?;
    let provider = provider();
    let certified =
        CertifiedKey::from_der(chain, key_der, &provider).map_err(TlsError::Mismatch)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Mismatch)?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(CoveredNames {
            key: Arc::new(certified),
        }));
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Offers the certificate only for SNI names it is valid for.
#[derive(Debug)]
struct CoveredNames {
    key: Arc<CertifiedKey>,
}

impl CoveredNames {
    fn covers(&self, sni: &str) -> bool {
        let Some(leaf) = self.key.cert.first() else {
            return false;
        };
        let (Ok(name), Ok(cert)) = (
            ServerName::try_from(sni),
            webpki::EndEntityCert::try_from(leaf),
        ) else {
            return false;
        };
        cert.verify_is_valid_for_subject_name(&name).is_ok()
    }
}

impl ResolvesServerCert for CoveredNames {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let sni = hello.server_name()?;
        self.covers(sni).then(|| self.key.clone())
    }
}
