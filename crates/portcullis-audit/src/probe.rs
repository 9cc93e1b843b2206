//! Ask a Docker API endpoint for `/version` without credentials, the way a scanner on the
//! internet does, and report whether it answered.

use crate::{DKR009, Finding};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// What the endpoint said.
#[derive(Debug)]
pub enum Probe {
    /// HTTP 200 with a Docker version document: open.
    Answered { version: String, api: String },
    /// Reached, but not an unauthenticated Docker API (TLS required, 401/403, other).
    Refused(String),
    /// Not reachable.
    Unreachable(String),
}

/// `tcp://host:port` or `host:port`.
pub fn probe(endpoint: &str, timeout: Duration) -> Probe {
    let addr = endpoint
        .trim_start_matches("tcp://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let addrs = match addr.to_socket_addrs() {
        Ok(a) => a.collect::<Vec<_>>(),
        Err(e) => return Probe::Unreachable(format!("cannot resolve {addr}: {e}")),
    };
    let Some(sock) = addrs.first() else {
        return Probe::Unreachable(format!("no address for {addr}"));
    };
    let mut stream = match TcpStream::connect_timeout(sock, timeout) {
        Ok(s) => s,
        Err(e) => return Probe::Unreachable(format!("{addr}: {e}")),
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let req = format!(
        "GET /version HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: portcullis-audit\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    if let Err(e) = stream.write_all(req.as_bytes()) {
        return Probe::Refused(format!("write failed: {e}"));
    }
    let mut buf = Vec::new();
    let _ = stream.take(1 << 20).read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    let status = text.lines().next().unwrap_or("").to_string();
    if buf.first() == Some(&0x15) || buf.first() == Some(&0x16) {
        return Probe::Refused("speaks TLS".into());
    }
    if !status.contains(" 200") {
        return Probe::Refused(if status.is_empty() {
            "no HTTP answer".into()
        } else {
            status
        });
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Chunked bodies: the JSON object sits between the first { and the last }.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) if b > a => &body[a..=b],
        _ => "",
    };
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(v) if v.get("ApiVersion").is_some() => Probe::Answered {
            version: v
                .get("Version")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .into(),
            api: v
                .get("ApiVersion")
                .and_then(|x| x.as_str())
                .unwrap_or("?")
                .into(),
        },
        _ => Probe::Refused("HTTP 200 but not a Docker version document".into()),
    }
}

/// The probe as findings: an answer is critical.
pub fn findings(endpoint: &str, p: &Probe) -> Vec<Finding> {
    match p {
        Probe::Answered { version, api } => vec![Finding::new(
            &DKR009,
            format!("{endpoint} answered /version without credentials: Docker {version} (API {api}); anyone who reaches it can create privileged containers"),
            endpoint.to_string(),
        )
        .target("DockerDaemon", None, Some(endpoint))
        .evidence("Version", version.as_str())
        .evidence("ApiVersion", api.as_str())],
        _ => Vec::new(),
    }
}
