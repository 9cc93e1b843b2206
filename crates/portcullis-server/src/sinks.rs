//! Sinks: where stored alerts go next — JSON lines to a file, an HTTP webhook (generic JSON
//! or Slack), syslog (RFC 5424 or CEF, UDP or TCP), Elasticsearch/OpenSearch `_bulk`,
//! Splunk HEC.
//!
//! Each sink is a task that reads the store after its own cursor, delivers a batch, and
//! moves the cursor only on success; failures back off (100 ms doubling to 30 s) and retry
//! the same batch. The store is the spool: nothing waits in memory, an outage or a restart
//! loses nothing, and no sink is ever on a request's path. Delivery is at least once
//! (a batch may be repeated after a crash); every alert carries its store id for dedupe.

use crate::State;
use portcullis_rules::Severity;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    File {
        name: Option<String>,
        path: String,
    },
    Webhook {
        name: Option<String>,
        url: String,
        /// Post `{"text": …}` as Slack's incoming webhooks expect.
        #[serde(default)]
        slack: bool,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        ca_file: Option<String>,
    },
    Elasticsearch {
        name: Option<String>,
        url: String,
        #[serde(default = "default_index")]
        index: String,
        /// `Authorization` header value (`ApiKey …` or `Basic …`).
        authorization: Option<String>,
        ca_file: Option<String>,
    },
    SplunkHec {
        name: Option<String>,
        url: String,
        token: String,
        ca_file: Option<String>,
    },
    Syslog {
        name: Option<String>,
        /// host:port
        address: String,
        #[serde(default)]
        tcp: bool,
        #[serde(default)]
        cef: bool,
    },
}

fn default_index() -> String {
    "portcullis-alerts".into()
}

impl SinkConfig {
    pub fn name(&self) -> String {
        match self {
            SinkConfig::File { name, path } => {
                name.clone().unwrap_or_else(|| format!("file:{path}"))
            }
            SinkConfig::Webhook { name, url, .. } => {
                name.clone().unwrap_or_else(|| format!("webhook:{url}"))
            }
            SinkConfig::Elasticsearch { name, url, .. } => name
                .clone()
                .unwrap_or_else(|| format!("elasticsearch:{url}")),
            SinkConfig::SplunkHec { name, url, .. } => {
                name.clone().unwrap_or_else(|| format!("splunk:{url}"))
            }
            SinkConfig::Syslog { name, address, .. } => {
                name.clone().unwrap_or_else(|| format!("syslog:{address}"))
            }
        }
    }
}

/// Run one sink until the process ends.
pub async fn run(state: State, sink: SinkConfig, store_path: String) {
    let name = sink.name();
    let cursor = match crate::store::SinkCursor::open(std::path::Path::new(&store_path), &name) {
        Ok(c) => std::sync::Arc::new(std::sync::Mutex::new(c)),
        Err(e) => {
            tracing::error!(sink = %name, error = %e, "sink not started");
            return;
        }
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        let c = cursor.clone();
        let batch = tokio::task::spawn_blocking(move || {
            c.lock()
                .map_err(|e| e.to_string())
                .and_then(|c| c.pending(500))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(sink = %name, error = %e, "reading the store");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            // Woken by the next insert, or by the clock.
            let _ = tokio::time::timeout(
                Duration::from_millis(500),
                state.inner.sinks_notify.notified(),
            )
            .await;
            continue;
        }
        let last = batch.last().map_or(0, |(id, _)| *id);
        let alerts: Vec<Value> = batch
            .iter()
            .filter_map(|(id, text)| {
                let mut v: Value = serde_json::from_str(text).ok()?;
                v["store_id"] = (*id).into();
                Some(v)
            })
            .collect();
        match deliver(&sink, &alerts).await {
            Ok(()) => {
                let c = cursor.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    c.lock()
                        .map_err(|e| e.to_string())
                        .and_then(|c| c.advance(last))
                })
                .await;
                state.sink_delivered(&name, alerts.len());
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                state.sink_failed(&name);
                tracing::warn!(sink = %name, error = %e, retry_in = ?backoff, "delivery failed; will retry");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

async fn deliver(sink: &SinkConfig, alerts: &[Value]) -> Result<(), String> {
    match sink {
        SinkConfig::File { path, .. } => {
            let mut text = String::new();
            for a in alerts {
                text.push_str(&a.to_string());
                text.push('\n');
            }
            let mut f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
                .map_err(|e| format!("{path}: {e}"))?;
            f.write_all(text.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            f.sync_data().await.map_err(|e| e.to_string())
        }
        SinkConfig::Webhook {
            url,
            slack,
            headers,
            ca_file,
            ..
        } => {
            let body = if *slack {
                let lines: Vec<String> = alerts
                    .iter()
                    .map(|a| {
                        format!(
                            "*{}* `{}` {}: {}",
                            a["severity"].as_str().unwrap_or(""),
                            a["rule"]["id"].as_str().unwrap_or(""),
                            a["rule"]["name"].as_str().unwrap_or(""),
                            a["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                serde_json::json!({"text": lines.join("\n")}).to_string()
            } else {
                Value::Array(alerts.to_vec()).to_string()
            };
            let hs: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            post(url, &hs, "application/json", body, ca_file.as_deref())
                .await
                .map(|_| ())
        }
        SinkConfig::Elasticsearch {
            url,
            index,
            authorization,
            ca_file,
            ..
        } => {
            let mut body = String::new();
            for a in alerts {
                body.push_str(&serde_json::json!({"index": {"_index": index}}).to_string());
                body.push('\n');
                body.push_str(&a.to_string());
                body.push('\n');
            }
            let hs: Vec<(String, String)> = authorization
                .iter()
                .map(|a| ("Authorization".to_string(), a.clone()))
                .collect();
            let resp = post(
                &format!("{}/_bulk", url.trim_end_matches('/')),
                &hs,
                "application/x-ndjson",
                body,
                ca_file.as_deref(),
            )
            .await?;
            // A 200 from _bulk can still carry per-document failures.
            match serde_json::from_str::<Value>(&resp) {
                Ok(v) if v.get("errors").and_then(Value::as_bool) == Some(true) => {
                    Err("bulk response reports item errors".into())
                }
                _ => Ok(()),
            }
        }
        SinkConfig::SplunkHec {
            url,
            token,
            ca_file,
            ..
        } => {
            let mut body = String::new();
            for a in alerts {
                body.push_str(&serde_json::json!({"sourcetype": "portcullis:alert", "source": "portcullis", "event": a}).to_string());
            }
            let hs = vec![("Authorization".to_string(), format!("Splunk {token}"))];
            post(
                &format!("{}/services/collector/event", url.trim_end_matches('/')),
                &hs,
                "application/json",
                body,
                ca_file.as_deref(),
            )
            .await
            .map(|_| ())
        }
        SinkConfig::Syslog {
            address, tcp, cef, ..
        } => {
            let host = hostname();
            let lines: Vec<String> = alerts
                .iter()
                .map(|a| {
                    if *cef {
                        cef_line(a, &host)
                    } else {
                        rfc5424(a, &host)
                    }
                })
                .collect();
            if *tcp {
                let mut s = tokio::time::timeout(
                    Duration::from_secs(5),
                    tokio::net::TcpStream::connect(address),
                )
                .await
                .map_err(|_| "connect timeout".to_string())?
                .map_err(|e| e.to_string())?;
                for l in lines {
                    // RFC 6587 octet counting: safe for messages with newlines.
                    s.write_all(format!("{} {l}", l.len()).as_bytes())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                s.flush().await.map_err(|e| e.to_string())
            } else {
                let sock = tokio::net::UdpSocket::bind("0.0.0.0:0")
                    .await
                    .map_err(|e| e.to_string())?;
                for l in lines {
                    sock.send_to(l.as_bytes(), address)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "-".into())
}

fn sev_of(a: &Value) -> Severity {
    a["severity"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(Severity::Info)
}

/// `<PRI>1 TIMESTAMP HOST portcullis - RULE - JSON` (facility local0).
pub fn rfc5424(a: &Value, host: &str) -> String {
    let sev = match sev_of(a) {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    };
    let ts = a["time"]
        .as_str()
        .filter(|t| t.contains('T'))
        .unwrap_or("-");
    format!(
        "<{}>1 {ts} {host} portcullis - {} - {}",
        16 * 8 + sev,
        a["rule"]["id"].as_str().unwrap_or("-"),
        a
    )
}

fn cef_escape(s: &str, header: bool) -> String {
    let s = s.replace('\\', "\\\\");
    if header {
        s.replace('|', "\\|")
    } else {
        s.replace('=', "\\=").replace('\n', " ")
    }
}

/// ArcSight CEF: `CEF:0|Portcullis|portcullis|VERSION|RULE|NAME|SEVERITY|extensions`.
pub fn cef_line(a: &Value, host: &str) -> String {
    let sev = match sev_of(a) {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Info => 1,
    };
    format!(
        "CEF:0|Portcullis|portcullis|{}|{}|{}|{sev}|dvchost={} msg={} cs1Label=namespace cs1={} cs2Label=target cs2={} suser={} outcome={}",
        env!("CARGO_PKG_VERSION"),
        cef_escape(a["rule"]["id"].as_str().unwrap_or(""), true),
        cef_escape(a["rule"]["name"].as_str().unwrap_or(""), true),
        cef_escape(host, false),
        cef_escape(a["message"].as_str().unwrap_or(""), false),
        cef_escape(a["target"]["namespace"].as_str().unwrap_or(""), false),
        cef_escape(
            &format!(
                "{}/{}",
                a["target"]["kind"].as_str().unwrap_or(""),
                a["target"]["name"].as_str().unwrap_or("")
            ),
            false
        ),
        cef_escape(a["actor"]["user"].as_str().unwrap_or(""), false),
        cef_escape(a["outcome"].as_str().unwrap_or(""), false),
    )
}

/// POST over HTTP/1.1 (plain, or TLS with the system roots and an optional CA file).
/// Returns the response body for a 2xx status, an error otherwise.
pub async fn post(
    url: &str,
    headers: &[(String, String)],
    content_type: &str,
    body: String,
    ca_file: Option<&str>,
) -> Result<String, String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(format!("unsupported URL {url}"));
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_matches(['[', ']']);
    let addr = if authority.contains(':') && !authority.ends_with(']') {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: portcullis\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    let tcp = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(&addr),
    )
    .await
    .map_err(|_| format!("{addr}: connect timeout"))?
    .map_err(|e| format!("{addr}: {e}"))?;
    let raw = if tls {
        let mut roots = rustls::RootCertStore::empty();
        for f in ["/etc/ssl/certs/ca-certificates.crt"]
            .into_iter()
            .chain(ca_file)
        {
            use rustls_pki_types::pem::PemObject;
            if let Ok(it) = rustls_pki_types::CertificateDer::pem_file_iter(f) {
                for c in it.flatten() {
                    let _ = roots.add(c);
                }
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name =
            rustls_pki_types::ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        let mut s = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        exchange(&mut s, req.as_bytes()).await?
    } else {
        let mut s = tcp;
        exchange(&mut s, req.as_bytes()).await?
    };
    let text = String::from_utf8_lossy(&raw);
    let status = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(format!("HTTP {status} from {url}"))
    }
}

async fn exchange<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    req: &[u8],
) -> Result<Vec<u8>, String> {
    s.write_all(req).await.map_err(|e| e.to_string())?;
    s.flush().await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        s.take(16 << 20).read_to_end(&mut out),
    )
    .await
    .map_err(|_| "read timeout".to_string())?
    .map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_lines() {
        let a = serde_json::json!({"severity": "critical", "rule": {"id": "PRV001", "name": "privileged-container"}, "message": "x=y | z", "time": "2026-11-20T10:00:00Z", "target": {"kind": "Pod", "name": "p", "namespace": "ns"}, "outcome": "denied"});
        let l = rfc5424(&a, "node-1");
        assert!(
            l.starts_with("<130>1 2026-11-20T10:00:00Z node-1 portcullis - PRV001 - {"),
            "{l}"
        );
        let c = cef_line(&a, "node-1");
        assert!(
            c.starts_with("CEF:0|Portcullis|portcullis|")
                && c.contains("|PRV001|privileged-container|10|")
                && c.contains("msg=x\\=y | z"),
            "{c}"
        );
    }
}
