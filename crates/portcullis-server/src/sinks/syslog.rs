//! Syslog: RFC 5424 lines or ArcSight CEF, over UDP or TCP (RFC 6587 octet counting).
//!
//! A TCP connection lasts one batch. Kept open, a connection the receiver has dropped
//! still accepts the next write into the kernel's buffer, so a batch would be counted as
//! delivered and lost; a fresh connection fails at connect instead, and the batch is
//! retried.

use super::{Delivery, Sink};
use portcullis_rules::Severity;
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub(super) struct Syslog {
    address: String,
    tcp: bool,
    cef: bool,
    host: String,
}

impl Syslog {
    pub(super) fn new(address: &str, tcp: bool, cef: bool) -> Syslog {
        Syslog {
            address: address.into(),
            tcp,
            cef,
            host: hostname(),
        }
    }

    async fn send_tcp(&self, lines: Vec<String>) -> Result<(), String> {
        let mut s = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(&self.address),
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
        s.flush().await.map_err(|e| e.to_string())?;
        s.shutdown().await.map_err(|e| e.to_string())
    }
}

impl Sink for Syslog {
    fn deliver<'a>(&'a mut self, alerts: &'a [Value]) -> Delivery<'a> {
        Box::pin(async move {
            let lines: Vec<String> = alerts
                .iter()
                .map(|a| {
                    if self.cef {
                        cef_line(a, &self.host)
                    } else {
                        rfc5424(a, &self.host)
                    }
                })
                .collect();
            if self.tcp {
                return self.send_tcp(lines).await;
            }
            let sock = tokio::net::UdpSocket::bind("0.0.0.0:0")
                .await
                .map_err(|e| e.to_string())?;
            for l in lines {
                sock.send_to(l.as_bytes(), &self.address)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}

pub(super) fn hostname() -> String {
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
