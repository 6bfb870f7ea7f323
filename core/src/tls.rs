//! HTTPS and WSS with rustls: a certificate chain and its private key read
//! from PEM files, offered with ALPN `http/1.1`, and reloaded from the same
//! files on demand (certificates renewed by certbot or cert-manager are
//! picked up without dropping a connection: new handshakes use the new
//! certificate, open connections keep theirs).

use parking_lot::RwLock;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM object of the right kind.
    #[error("{what} {path}: {reason}")]
    File {
        /// "certificate" or "private key".
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the pair (a key that does not match, say).
    #[error("certificate {cert} with key {key}: {reason}")]
    Config {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// A server's TLS settings, shared by its connections. Cheap to clone.
#[derive(Clone)]
pub struct Tls(Arc<Inner>);

struct Inner {
    cert: PathBuf,
    key: PathBuf,
    config: RwLock<Arc<rustls::ServerConfig>>,
}

impl Tls {
    /// Reads the certificate chain (PEM, leaf first) and the private key
    /// (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC).
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Result<Tls, TlsError> {
        let (cert, key) = (cert.as_ref().to_path_buf(), key.as_ref().to_path_buf());
        let config = load(&cert, &key)?;
        Ok(Tls(Arc::new(Inner {
            cert,
            key,
            config: RwLock::new(config),
        })))
    }

    /// Reads the files again; on failure the current certificate stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = load(&self.0.cert, &self.0.key)?;
        *self.0.config.write() = config;
        Ok(())
    }

    /// Client settings for reaching other nodes over TLS (forwarded
    /// requests): their certificates are checked against the certificates
    /// of `trusted` (PEM), or, without it, against this node's own chain —
    /// right when the nodes share a certificate, or when the chain file
    /// ends with the CA that signed them all.
    pub fn client_config(
        &self,
        trusted: Option<&Path>,
    ) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let path = trusted.unwrap_or(&self.0.cert);
        let certs = read_certificates(path)?;
        let mut roots = rustls::RootCertStore::empty();
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(TlsError::File {
                what: "certificate",
                path: path.to_path_buf(),
                reason: "no certificate usable as a trust anchor".into(),
            });
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config {
                cert: path.to_path_buf(),
                key: self.0.key.clone(),
                reason: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// The acceptor for a new connection (the current certificate).
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.0.config.read().clone())
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.0.cert)
            .field("key", &self.0.key)
            .finish()
    }
}

fn file_error(what: &'static str, path: &Path, reason: String) -> TlsError {
    TlsError::File {
        what,
        path: path.to_path_buf(),
        reason,
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error("certificate", path, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error("certificate", path, e.to_string()))?;
    if chain.is_empty() {
        return Err(file_error(
            "certificate",
            path,
            "no CERTIFICATE in the file".into(),
        ));
    }
    Ok(chain)
}

fn load(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = read_certificates(cert)?;
    let private_key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| file_error("private key", key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, private_key))
        .map_err(|e| TlsError::Config {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
