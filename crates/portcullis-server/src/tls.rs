//! TLS for the webhook: rustls with aws-lc-rs only. Certificate and key from PEM files, or
//! a self-signed pair made on first start (for local use; the Deployment mounts a real one).

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Load the pair, or create `dir/tls.crt` and `dir/tls.key` for `names` when absent.
pub fn server_config(
    cert: Option<&str>,
    key: Option<&str>,
    dir: &str,
    names: &[String],
) -> Result<(Arc<ServerConfig>, String), String> {
    let (cert_path, key_path) = match (cert, key) {
        (Some(c), Some(k)) => (c.to_string(), k.to_string()),
        (None, None) => {
            let d = Path::new(dir);
            let (c, k) = (d.join("tls.crt"), d.join("tls.key"));
            if !c.exists() || !k.exists() {
                std::fs::create_dir_all(d).map_err(|e| format!("{dir}: {e}"))?;
                let pair = rcgen::generate_simple_self_signed(names.to_vec())
                    .map_err(|e| format!("self-signed certificate: {e}"))?;
                std::fs::write(&c, pair.cert.pem()).map_err(|e| format!("{}: {e}", c.display()))?;
                write_private(&k, &pair.signing_key.serialize_pem())?;
            }
            (c.display().to_string(), k.display().to_string())
        }
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| format!("{cert_path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{cert_path}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| format!("{key_path}: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{cert_path}: {e}"))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), cert_path))
}

fn write_private(path: &Path, pem: &str) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(pem.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Client TLS for a Docker daemon on `tcp://` with `--tlsverify`, the way the Docker CLI
/// reads `DOCKER_CERT_PATH`: `ca.pem` (the daemon's CA), `cert.pem` and `key.pem` (our client
/// certificate). The daemon's certificate is verified against that CA only.
pub fn docker_client_config(cert_dir: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    let d = Path::new(cert_dir);
    let file = |name: &str| d.join(name).display().to_string();
    let (ca, cert, key) = (file("ca.pem"), file("cert.pem"), file("key.pem"));
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&ca).map_err(|e| format!("{ca}: {e}"))? {
        roots
            .add(c.map_err(|e| format!("{ca}: {e}"))?)
            .map_err(|e| format!("{ca}: {e}"))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| format!("{cert}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| format!("{key}: {e}"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| format!("{cert}: {e}"))?;
    Ok(Arc::new(cfg))
}
