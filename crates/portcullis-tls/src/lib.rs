//! TLS client configuration: the one place where an outbound TLS connection is set up —
//! the HTTP sinks, the Docker watcher on `tcp://` with `--tlsverify`, and the Kubernetes
//! API server `audit kubernetes` reads. rustls with aws-lc-rs only, TLS 1.2 and 1.3, and
//! two questions each caller answers: whom to trust ([`Trust`]) and who we are
//! ([`Identity`], a client certificate, when the server asks for one).
//!
//! Errors name what was being read (`ca_file /etc/x.pem: …`), so a bad config points at
//! its field.

use rustls::ClientConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// Whom a client trusts to be the server.
pub enum Trust {
    /// The platform's roots (the system store, as `curl` and browsers use), plus any
    /// certificates given: a webhook on the internet, or behind a private CA.
    Platform { extra: Vec<CertificateDer<'static>> },
    /// These CAs and nothing else: a Docker daemon's CA, a cluster's
    /// `certificate-authority`. A certificate the platform trusts is still refused.
    Only(Vec<CertificateDer<'static>>),
}

/// A client certificate chain and its key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    /// From PEM: `what_cert` and `what_key` name them in errors.
    pub fn from_pem(
        cert: &[u8],
        what_cert: &str,
        key: &[u8],
        what_key: &str,
    ) -> Result<Identity, String> {
        Ok(Identity {
            chain: certificates(cert, what_cert)?,
            key: private_key(key, what_key)?,
        })
    }
}

/// Every certificate in a PEM bundle; none at all is an error (a key file given where a
/// certificate was meant, an empty file).
pub fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{what}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{what}: no PEM certificate in it"));
    }
    Ok(certs)
}

/// The first private key in PEM (PKCS#8, PKCS#1 or SEC1).
pub fn private_key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("{what}: {e}"))
}

/// Read a file for one of the above, naming it in the error.
pub fn read(path: &str, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{what} {path}: {e}"))
}

/// The client configuration for one destination.
pub fn client_config(
    trust: Trust,
    identity: Option<Identity>,
) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match trust {
        Trust::Only(cas) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in cas {
                roots
                    .add(c)
                    .map_err(|e| format!("certificate authority: {e}"))?;
            }
            builder.with_root_certificates(roots)
        }
        Trust::Platform { extra } => {
            let verifier =
                rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
                    .map_err(|e| format!("platform certificate roots: {e}"))?;
            // A verifier of our choosing (the platform's store and WebPKI), not "no
            // verification": rustls names every custom verifier `dangerous`.
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
        }
    };
    let cfg = match identity {
        Some(id) => builder
            .with_client_auth_cert(id.chain, id.key)
            .map_err(|e| format!("client certificate: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_without_certificates_is_refused_by_name() {
        let key = rcgen::KeyPair::generate().expect("key");
        let err = certificates(key.serialize_pem().as_bytes(), "ca_file /x.pem")
            .expect_err("a key is not a certificate");
        assert!(err.starts_with("ca_file /x.pem: "), "{err}");
        assert!(certificates(b"", "ca_file /y.pem").is_err());
    }

    #[test]
    fn identity_and_both_trusts_build() {
        let pair = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("pair");
        let cert = pair.cert.pem();
        let key = pair.signing_key.serialize_pem();
        let id = Identity::from_pem(cert.as_bytes(), "cert", key.as_bytes(), "key").expect("id");
        let only = certificates(cert.as_bytes(), "ca").expect("ca");
        assert!(client_config(Trust::Only(only.clone()), Some(id)).is_ok());
        assert!(client_config(Trust::Platform { extra: only }, None).is_ok());
        let err = Identity::from_pem(cert.as_bytes(), "cert", cert.as_bytes(), "client-key")
            .err()
            .expect("a certificate is not a key");
        assert!(err.starts_with("client-key: "), "{err}");
    }
}
