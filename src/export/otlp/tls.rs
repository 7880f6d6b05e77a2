//! The TLS side of the OTLP client: rustls with the `ring` provider, Mozilla's root
//! certificates compiled in (`webpki-roots`), plus the CA certificates of a PEM file
//! (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
//!
//! Why these (measured; `bench/tls-choice/README.md` has the figures): the bundled roots cost
//! no file read and no parsing at init, where loading the system store parses some 140
//! certificates on every cold start; `ring` is the smaller provider. One `ClientConfig` per
//! exporter keeps rustls's session cache, so a connection the server closed between
//! invocations is re-established with a resumed session, not a full handshake.

use std::io;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// The client configuration: the bundled roots and `extra` (trusted CAs, DER).
pub(super) fn client_config(extra: &[CertificateDer<'static>]) -> io::Result<ClientConfig> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| invalid(&format!("a trusted certificate is not usable: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(&e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// The certificates of a PEM text (other PEM sections are skipped). Errors: a broken PEM
/// section, or no certificate at all.
pub(super) fn certificates_from_pem(pem: &[u8]) -> io::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(invalid("no certificate in the PEM file"));
    }
    Ok(certs)
}

fn invalid(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_roots_and_extra_certificates() {
        assert!(client_config(&[]).is_ok());
        assert!(certificates_from_pem(b"").is_err());
        assert!(certificates_from_pem(b"not pem at all").is_err());
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(certificates_from_pem(broken).is_err());
        // A well-formed PEM section whose DER is not a certificate: the root store refuses it.
        let junk = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let certs = certificates_from_pem(junk).unwrap();
        assert!(client_config(&certs).is_err());
    }
}
