//! The certificates of the HTTPS variants (I, J, K), made at start with rcgen: a throwaway CA
//! and a server certificate it signed for `127.0.0.1` and `localhost` (ECDSA P-256, rcgen's
//! default key), served with rustls and the `ring` provider. The CA is written to a PEM file in
//! the temporary directory, whose path the functions get as `OTEL_EXPORTER_OTLP_CERTIFICATE`;
//! the file is removed when the [`BenchCa`] is dropped.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA made for this run, its PEM file, and the server configuration presenting a certificate
/// it signed.
pub struct BenchCa {
    ca_file: PathBuf,
    ca_der: CertificateDer<'static>,
    server: Arc<ServerConfig>,
}

impl std::fmt::Debug for BenchCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchCa")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl BenchCa {
    /// A fresh CA and server certificate; the CA's PEM goes to a new file in the temporary
    /// directory.
    pub fn make() -> io::Result<BenchCa> {
        let other = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
        let ca_key = KeyPair::generate().map_err(|e| other(&e))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(|e| other(&e))?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "lambda-trace-bench CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).map_err(|e| other(&e))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let key = KeyPair::generate().map_err(|e| other(&e))?;
        let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
            .map_err(|e| other(&e))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "lambda-trace-bench OTLP receiver");
        let cert = params.signed_by(&key, &issuer).map_err(|e| other(&e))?;

        // rustls 0.23.48 (the alternatives' Cargo.lock) deprecates it for lacking post-quantum
        // key exchange; it is still lambda-trace's provider, so the receiver uses it too.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| other(&e))?
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), ca_cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(|e| other(&e))?;

        let ca_file = std::env::temp_dir().join(format!(
            "lambda-trace-bench-ca-{}-{}.pem",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&ca_file, ca_cert.pem())?;
        Ok(BenchCa {
            ca_file,
            ca_der: ca_cert.der().clone(),
            server: Arc::new(server),
        })
    }

    /// The CA certificate's PEM file, for `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The CA certificate (DER).
    pub fn ca_certificate(&self) -> CertificateDer<'static> {
        self.ca_der.clone()
    }

    /// The server configuration for the receivers.
    pub fn server_config(&self) -> Arc<ServerConfig> {
        self.server.clone()
    }
}

impl Drop for BenchCa {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}
