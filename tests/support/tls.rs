//! Certificates made at test time (rcgen): a test CA, a server certificate it signed for
//! `127.0.0.1` and `localhost` (valid, or expired), and the CA as a PEM file for
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A CA and a server configuration whose certificate it signed.
pub struct TestPki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The CA certificate as a file (removed on drop).
    pub ca_file: PathBuf,
    /// A server configuration presenting a certificate for `127.0.0.1` and `localhost`.
    pub server: Arc<ServerConfig>,
}

impl Drop for TestPki {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// Whether the server certificate is valid now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Now,
    /// Expired in 2001.
    Expired,
}

/// A fresh CA and server certificate.
pub fn pki(validity: Validity) -> TestPki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "lambda-trace test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "lambda-trace test receiver");
    if validity == Validity::Expired {
        params.not_before = date_time_ymd(2000, 1, 1);
        params.not_after = date_time_ymd(2001, 1, 1);
    }
    let cert = params.signed_by(&key, &issuer).unwrap();

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![
                cert.der().clone(),
                CertificateDer::from(ca_cert.der().to_vec()),
            ],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();

    let ca_pem = ca_cert.pem();
    let ca_file = std::env::temp_dir().join(format!(
        "lambda-trace-test-ca-{}-{}.pem",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::write(&ca_file, &ca_pem).unwrap();
    TestPki {
        ca_pem,
        ca_file,
        server: Arc::new(server),
    }
}
