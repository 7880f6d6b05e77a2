//! The certificate of the OTLP receiver's TLS mode (`--otlp-tls`), made at start with rcgen: a
//! throwaway CA and a server certificate it signed for `127.0.0.1` and `localhost`. The CA is
//! written as a PEM file, whose path the functions get as `OTEL_EXPORTER_OTLP_CERTIFICATE`; the
//! file is removed when the [`LocalCa`] is dropped.
//!
//! rustls with the `ring` provider, as in lambda-trace's own OTLP client.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A CA made for this run and the server configuration presenting a certificate it signed.
pub struct LocalCa {
    ca_pem: String,
    ca_file: PathBuf,
    server: Arc<ServerConfig>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCa")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl Drop for LocalCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl LocalCa {
    /// Makes a CA and a server certificate for `127.0.0.1` and `localhost` (ECDSA P-256), and
    /// writes the CA certificate to a PEM file in the temporary directory.
    pub fn generate() -> io::Result<LocalCa> {
        let ca_key = KeyPair::generate().map_err(other)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(other)?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "lambda-trace-local CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).map_err(other)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().map_err(other)?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).map_err(other)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "lambda-trace-local OTLP receiver");
        let cert = params.signed_by(&key, &issuer).map_err(other)?;

        let mut server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(other)?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];

        let ca_pem = ca_cert.pem();
        let ca_file = std::env::temp_dir().join(format!(
            "lambda-trace-local-ca-{}-{:016x}.pem",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&ca_file, &ca_pem).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot write {}: {e}", ca_file.display()))
        })?;
        Ok(LocalCa {
            ca_pem,
            ca_file,
            server: Arc::new(server),
        })
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The PEM file of the CA certificate (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The server side: the certificate for `127.0.0.1` and `localhost`, then the CA.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }

    /// A client configuration trusting this CA only (for tests and tools talking to the
    /// receiver).
    pub fn client_config(&self) -> io::Result<ClientConfig> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots.add(cert.map_err(other)?).map_err(other)?;
        }
        Ok(ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(other)?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_ca_and_removes_it_on_drop() {
        let ca = LocalCa::generate().unwrap();
        let path = ca.ca_file().to_path_buf();
        let pem = std::fs::read_to_string(&path).unwrap();
        assert_eq!(pem, ca.ca_pem());
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(ca.client_config().is_ok());
        drop(ca);
        assert!(!path.exists());
    }
}
