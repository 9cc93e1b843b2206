//! The HTTP client every HTTP sink shares: reqwest over the TLS every outbound connection
//! uses (`portcullis-tls`: the platform's certificate roots plus an optional CA file),
//! bounded time for every exchange.

use std::time::Duration;

/// A client for one sink (its connections are reused between batches).
pub(super) fn client(ca_file: Option<&str>) -> Result<reqwest::Client, String> {
    let b = reqwest::Client::builder()
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        // Alerts and their bearer token go where the config says, nowhere a 3xx points.
        .redirect(reqwest::redirect::Policy::none());
    // Platform roots plus the sink's CA file, set up where every outbound TLS is.
    let extra = match ca_file {
        Some(path) => portcullis_tls::certificates(
            &portcullis_tls::read(path, "ca_file")?,
            &format!("ca_file {path}"),
        )?,
        None => Vec::new(),
    };
    let tls = portcullis_tls::client_config(portcullis_tls::Trust::Platform { extra }, None)?;
    let b = b.tls_backend_preconfigured(rustls::ClientConfig::clone(&tls));
    b.build().map_err(|e| e.to_string())
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
