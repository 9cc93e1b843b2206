//! The HTTP client every HTTP sink shares: reqwest over rustls (aws-lc-rs), the platform's
//! certificate roots plus an optional CA file, bounded time for every exchange.

use std::time::Duration;

/// A client for one sink (its connections are reused between batches).
pub(super) fn client(ca_file: Option<&str>) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(10))
        // Alerts and their bearer token go where the config says, nowhere a 3xx points.
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| format!("ca_file {path}: {e}"))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("ca_file {path}: {e}"))?
        {
            b = b.add_root_certificate(cert);
        }
    }
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
