//! TLS for the webhook: rustls with aws-lc-rs only. Certificate and key from PEM files, or
//! a self-signed pair made on first start (for local use; the Deployment mounts a real one).
//! Outbound TLS (sinks, the Docker watcher) is `portcullis-tls`'s.

use rustls::ServerConfig;
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
    let certs =
        portcullis_tls::certificates(&portcullis_tls::read(&cert_path, "--tls-cert")?, &cert_path)?;
    let key =
        portcullis_tls::private_key(&portcullis_tls::read(&key_path, "--tls-key")?, &key_path)?;
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
    let cas = portcullis_tls::certificates(&portcullis_tls::read(&ca, "docker CA")?, &ca)?;
    let identity = portcullis_tls::Identity::from_pem(
        &portcullis_tls::read(&cert, "docker client certificate")?,
        &cert,
        &portcullis_tls::read(&key, "docker client key")?,
        &key,
    )?;
    portcullis_tls::client_config(portcullis_tls::Trust::Only(cas), Some(identity))
}
