//! The HTTP client every HTTP sink shares: reqwest over the TLS every outbound connection
//! uses (`portcullis-tls`: the platform's certificate roots plus an optional CA file, a
//! client certificate when the receiver asks for one), bounded time for every exchange.

use std::time::Duration;

/// A client for one sink (its connections are reused between batches): the platform's
/// roots plus `ca_file`, and `client_cert` with `client_key` for a receiver behind mutual
/// TLS (one without the other is a configuration mistake).
pub(super) fn client(
    ca_file: &Option<String>,
    client_cert: &Option<String>,
    client_key: &Option<String>,
) -> Result<reqwest::Client, String> {
    let client = match (client_cert.as_deref(), client_key.as_deref()) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("client_cert and client_key go together".into()),
    };
    let b = reqwest::Client::builder()
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        // Alerts and their bearer token go where the config says, nowhere a 3xx points.
        .redirect(reqwest::redirect::Policy::none());
    // Platform roots plus the sink's CA file, set up where every outbound TLS is.
    let extra = match ca_file.as_deref() {
        Some(path) => portcullis_tls::certificates(
            &portcullis_tls::read(path, "ca_file")?,
            &format!("ca_file {path}"),
        )?,
        None => Vec::new(),
    };
    let identity = match client {
        Some((cert, key)) => Some(portcullis_tls::Identity::from_pem(
            &portcullis_tls::read(cert, "client_cert")?,
            &format!("client_cert {cert}"),
            &portcullis_tls::read(key, "client_key")?,
            &format!("client_key {key}"),
        )?),
        None => None,
    };
    let config =
        portcullis_tls::client_config(portcullis_tls::Trust::Platform { extra }, identity)?;
    b.tls_backend_preconfigured(rustls::ClientConfig::clone(&config))
        .build()
        .map_err(|e| e.to_string())
}

/// A sink's `url`, checked before serve starts: an absolute `http://` or `https://` URL
/// with a host (a bare `hooks.example/x` would otherwise fail at every delivery).
pub(super) fn endpoint(url: &str) -> Result<&str, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("url {url:?}: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!("url {url:?}: not an http:// or https:// URL"));
    }
    Ok(url)
}

/// POST and read the answer: its body for a 2xx status, an error naming the status
/// otherwise (the batch is then retried).
pub(super) async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: String,
) -> Result<String, String> {
    let mut req = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| format!("{url}: {e}"))?;
    if status.is_success() {
        Ok(text)
    } else {
        Err(format!("HTTP {} from {url}", status.as_u16()))
    }
}
