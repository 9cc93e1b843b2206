//! The HTTP client every HTTP sink shares: reqwest over the TLS every outbound connection
//! uses (`portcullis-tls`: the platform's certificate roots plus an optional CA file, a
//! client certificate when the receiver asks for one), bounded time for every exchange.

use std::time::Duration;

/// What a sink's TLS config says: a CA to trust besides the platform's roots, and a
/// client certificate for a receiver that asks for one (mutual TLS).
pub(super) struct Tls<'a> {
    pub ca_file: Option<&'a str>,
    pub client: Option<(&'a str, &'a str)>,
    /// A certificate without its key, or the reverse.
    pub half: Option<&'static str>,
}

impl<'a> Tls<'a> {
    pub(super) fn of(
        ca_file: &'a Option<String>,
        cert: &'a Option<String>,
        key: &'a Option<String>,
    ) -> Tls<'a> {
        let (client, half) = match (cert.as_deref(), key.as_deref()) {
            (Some(c), Some(k)) => (Some((c, k)), None),
            (None, None) => (None, None),
            _ => (None, Some("client_cert and client_key go together")),
        };
        Tls {
            ca_file: ca_file.as_deref(),
            client,
            half,
        }
    }
}

/// A client for one sink (its connections are reused between batches).
pub(super) fn client(tls: &Tls<'_>) -> Result<reqwest::Client, String> {
    if let Some(why) = tls.half {
        return Err(why.into());
    }
    let b = reqwest::Client::builder()
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        // Alerts and their bearer token go where the config says, nowhere a 3xx points.
        .redirect(reqwest::redirect::Policy::none());
    // Platform roots plus the sink's CA file, set up where every outbound TLS is.
    let extra = match tls.ca_file {
        Some(path) => portcullis_tls::certificates(
            &portcullis_tls::read(path, "ca_file")?,
            &format!("ca_file {path}"),
        )?,
        None => Vec::new(),
    };
    let identity = match tls.client {
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
