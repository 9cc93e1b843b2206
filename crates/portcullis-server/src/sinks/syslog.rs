//! Syslog: RFC 5424 lines or ArcSight CEF, over UDP or TCP (RFC 6587 octet counting).
//!
//! A TCP connection lasts one batch. Kept open, a connection the receiver has dropped
//! still accepts the next write into the kernel's buffer, so a batch would be counted as
//! delivered and lost; a fresh connection fails at connect instead, and the batch is
//! retried.

use super::{Delivery, Sink, StoredAlert};
use portcullis_rules::Severity;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub(super) struct Syslog {
    address: String,
    tcp: bool,
    cef: bool,
    host: String,
}

impl Syslog {
    /// `address` is `host:port` (a name or an address; IPv6 in brackets).
    pub(super) fn new(address: &str, tcp: bool, cef: bool) -> Result<Syslog, String> {
        let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !valid {
            return Err(format!("address {address:?} is not host:port"));
        }
        Ok(Syslog {
            address: address.into(),
            tcp,
            cef,
            host: hostname(),
        })
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
    fn deliver<'a>(&'a mut self, alerts: &'a [StoredAlert]) -> Delivery<'a> {
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

/// `<PRI>1 TIMESTAMP HOST portcullis - RULE - JSON` (facility local0).
pub fn rfc5424(stored: &StoredAlert, host: &str) -> String {
    let a = &stored.alert;
    let sev = match a.severity {
        Severity::Critical => 2,
        Severity::High => 3,
        Severity::Medium => 4,
        Severity::Low => 5,
        Severity::Info => 6,
    };
    let ts = a.time.as_deref().filter(|t| t.contains('T')).unwrap_or("-");
    format!(
        "<{}>1 {ts} {host} portcullis - {} - {}",
        16 * 8 + sev,
        a.rule.id,
        serde_json::to_string(stored).unwrap_or_default()
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
pub fn cef_line(stored: &StoredAlert, host: &str) -> String {
    let a = &stored.alert;
    let sev = match a.severity {
        Severity::Critical => 10,
        Severity::High => 8,
        Severity::Medium => 5,
        Severity::Low => 3,
        Severity::Info => 1,
    };
    format!(
        "CEF:0|Portcullis|portcullis|{}|{}|{}|{sev}|dvchost={} msg={} cs1Label=namespace cs1={} cs2Label=target cs2={} suser={} outcome={}",
        env!("CARGO_PKG_VERSION"),
        cef_escape(&a.rule.id, true),
        cef_escape(&a.rule.name, true),
        cef_escape(host, false),
        cef_escape(&a.message, false),
        cef_escape(a.target.namespace.as_deref().unwrap_or(""), false),
        cef_escape(
            &format!(
                "{}/{}",
                a.target.kind,
                a.target.name.as_deref().unwrap_or("")
            ),
            false
        ),
        cef_escape(
            a.actor
                .as_ref()
                .and_then(|u| u.user.as_deref())
                .unwrap_or(""),
            false
        ),
        cef_escape(a.outcome.as_str(), false),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_lines() {
        let alert = serde_json::json!({"schema": 1, "severity": "critical", "rule": {"id": "PRV001", "name": "privileged-container", "family": "privilege"}, "attack": ["T1610"], "message": "x=y | z", "source": {"kind": "admission", "file": "admission", "line": 0, "document": 0}, "time": "2026-11-20T10:00:00Z", "target": {"kind": "Pod", "name": "p", "namespace": "ns"}, "images": [], "operation": "create", "outcome": "denied", "evidence": []});
        let a = StoredAlert {
            alert: serde_json::from_value(alert).expect("an alert"),
            store_id: 7,
        };
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
        assert!(
            c.contains("outcome=denied") && c.contains("cs2=Pod/p"),
            "{c}"
        );
        assert!(l.ends_with(r#""store_id":7}"#), "{l}");
    }
}
