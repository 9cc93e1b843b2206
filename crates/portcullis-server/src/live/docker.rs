//! The live Docker source: follow `/events` on the Docker socket (or a TCP endpoint, with
//! mutual TLS when given a Docker cert folder); for
//! container create/start and exec_create, inspect the container and judge its full
//! HostConfig with the pack. When dockerd restarts the stream breaks; the next connection
//! asks with `since` set to the last event seen, so events that happened while it was
//! away are replayed, and duplicates (the bound is inclusive) are dropped.

use super::{Follow, Judging, LiveSource};
use crate::ServeConfig;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use portcullis_model::Operation;
use portcullis_sources::formats::{self, LogFormat};
use serde_json::Value;
use std::collections::{HashSet, VecDeque};

pub enum Endpoint {
    Unix(String),
    Tcp(String),
    TcpTls(
        String,
        std::sync::Arc<rustls::ClientConfig>,
        rustls_pki_types::ServerName<'static>,
    ),
}

/// Where to follow: `unix://PATH`, or `tcp://HOST:PORT` (TLS when `cert_dir` names a
/// folder with `ca.pem`, `cert.pem`, `key.pem`). Errors are configuration mistakes, reported
/// before serve starts.
pub fn endpoint(host: &str, cert_dir: Option<&str>) -> Result<Endpoint, String> {
    let cert_dir = cert_dir.filter(|d| !d.is_empty());
    if let Some(p) = host.strip_prefix("unix://") {
        if cert_dir.is_some() {
            return Err(format!(
                "docker_cert_path applies to tcp:// hosts, not {host:?}"
            ));
        }
        Ok(Endpoint::Unix(p.to_string()))
    } else if let Some(t) = host.strip_prefix("tcp://") {
        let addr = t.trim_end_matches('/').to_string();
        match cert_dir {
            None => Ok(Endpoint::Tcp(addr)),
            Some(dir) => {
                let cfg = crate::tls::docker_client_config(dir)?;
                let h = addr
                    .rsplit_once(':')
                    .map(|(h, _)| h)
                    .unwrap_or(&addr)
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                let name = rustls_pki_types::ServerName::try_from(h)
                    .map_err(|e| format!("{host}: {e}"))?;
                Ok(Endpoint::TcpTls(addr, cfg, name))
            }
        }
    } else {
        Err(format!(
            "unsupported docker host {host:?} (unix:// or tcp://)"
        ))
    }
}

/// One HTTP/1 GET over a fresh connection; returns the response body stream.
async fn get(ep: &Endpoint, path: &str) -> Result<hyper::Response<hyper::body::Incoming>, String> {
    macro_rules! send {
        ($stream:expr) => {{
            let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new($stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            let req = hyper::Request::get(path)
                .header("Host", "docker")
                .body(Empty::<Bytes>::new())
                .map_err(|e| e.to_string())?;
            tx.send_request(req).await.map_err(|e| e.to_string())
        }};
    }
    match ep {
        Endpoint::Unix(p) => send!(
            tokio::net::UnixStream::connect(p)
                .await
                .map_err(|e| format!("{p}: {e}"))?
        ),
        Endpoint::Tcp(a) => send!(
            tokio::net::TcpStream::connect(a)
                .await
                .map_err(|e| format!("{a}: {e}"))?
        ),
        Endpoint::TcpTls(a, cfg, name) => {
            let tcp = tokio::net::TcpStream::connect(a)
                .await
                .map_err(|e| format!("{a}: {e}"))?;
            send!(
                tokio_rustls::TlsConnector::from(cfg.clone())
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("{a}: TLS: {e}"))?
            )
        }
    }
}

/// A container's inspect answer, as text (read by the `docker-inspect` format). A
/// container that is gone answers 404: an error.
async fn inspect(ep: &Endpoint, id: &str) -> Result<String, String> {
    get_text(ep, &format!("/containers/{id}/json")).await
}

/// The most an engine's answer (an inspect, an exec inspect) or one event may be: far above
/// what dockerd writes (tens of kilobytes), far below what would threaten memory when an
/// endpoint misbehaves.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

async fn get_text(ep: &Endpoint, path: &str) -> Result<String, String> {
    let resp = get(ep, path).await?;
    let status = resp.status();
    let body = http_body_util::Limited::new(resp.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| format!("{path}: {e}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("{path}: HTTP {status}"));
    }
    String::from_utf8(body.to_vec()).map_err(|e| format!("{path}: {e}"))
}

async fn get_json(ep: &Endpoint, path: &str) -> Result<Value, String> {
    let text = get_text(ep, path).await?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// How what the engine answers is read: as `hunt` reads the same records in a file.
struct Formats {
    events: &'static dyn LogFormat,
    inspect: &'static dyn LogFormat,
}

impl Formats {
    fn new() -> Result<Formats, String> {
        Ok(Formats {
            events: formats::by_name("docker-events")?,
            inspect: formats::by_name("docker-inspect")?,
        })
    }
}

/// A Docker Engine API's event stream, and where in it the last connection stopped.
pub struct DockerEvents {
    /// `docker`, or another engine speaking Docker's API (`podman`).
    name: &'static str,
    host: String,
    ep: Endpoint,
    since: Option<String>,
    seen: HashSet<String>,
    order: VecDeque<String>,
    formats: Formats,
}

/// `docker_host` (default: the local socket when there is one; "" turns it off).
pub fn from_config(cfg: &ServeConfig) -> Result<Option<DockerEvents>, String> {
    let host = match cfg.docker_host.clone() {
        Some(h) => h,
        None if std::path::Path::new("/var/run/docker.sock").exists() => {
            "unix:///var/run/docker.sock".into()
        }
        None => String::new(),
    };
    if host.is_empty() {
        return Ok(None);
    }
    let ep = endpoint(&host, cfg.docker_cert_path.as_deref())
        .map_err(|e| format!("docker watcher: {e}"))?;
    Ok(Some(DockerEvents::new("docker", host, ep)?))
}

impl DockerEvents {
    /// Follow the engine at `ep`; its alerts carry `source.kind` `<name>_watch`.
    pub fn new(name: &'static str, host: String, ep: Endpoint) -> Result<DockerEvents, String> {
        Ok(DockerEvents {
            name,
            host,
            ep,
            since: None,
            seen: HashSet::new(),
            order: VecDeque::new(),
            formats: Formats::new()?,
        })
    }
}

impl LiveSource for DockerEvents {
    fn name(&self) -> &'static str {
        self.name
    }

    fn follow<'a>(&'a mut self, judging: &'a Judging) -> Follow<'a> {
        Box::pin(self.follow_once(judging))
    }
}

impl DockerEvents {
    async fn follow_once(&mut self, judging: &Judging) -> Result<(), String> {
        let filters = percent_encoding::utf8_percent_encode(
            r#"{"type":["container"]}"#,
            percent_encoding::NON_ALPHANUMERIC,
        );
        let path = match &self.since {
            Some(s) => format!("/events?since={s}&filters={}", filters),
            None => format!("/events?filters={}", filters),
        };
        let resp = get(&self.ep, &path).await?;
        if !resp.status().is_success() {
            return Err(format!("docker events refused: {}", resp.status()));
        }
        tracing::info!(source = self.name, host = %self.host, since = ?self.since, "following engine events");
        judging.connected();
        let mut body = resp.into_body();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            let Some(data) = frame.data_ref() else {
                continue;
            };
            // What the buffer held before this frame was searched already and holds no
            // line end: look in the new bytes only (a long event costs one pass, not one
            // per frame).
            let mut from = buf.len();
            buf.extend_from_slice(data);
            while let Some(i) = buf
                .get(from..)
                .and_then(|b| b.iter().position(|b| *b == b'\n'))
            {
                let line: Vec<u8> = buf.drain(..=from + i).collect();
                from = 0;
                let Ok(ev) = serde_json::from_slice::<Value>(&line) else {
                    continue;
                };
                let nano = ev.get("timeNano").and_then(Value::as_i64).unwrap_or(0);
                let id = ev
                    .pointer("/Actor/ID")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let action = ev
                    .get("Action")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let key = format!("{id}|{action}|{nano}");
                if !self.seen.insert(key.clone()) {
                    continue;
                }
                self.order.push_back(key);
                if self.order.len() > 10_000
                    && let Some(old) = self.order.pop_front()
                {
                    self.seen.remove(&old);
                }
                if nano > 0 {
                    self.since = Some(format!(
                        "{}.{:09}",
                        nano / 1_000_000_000,
                        nano % 1_000_000_000
                    ));
                }
                handle(judging, self, &ev, &action, &id).await;
            }
            // What is left holds no line end: a part of the next event, or an endpoint
            // that never ends a line.
            if buf.len() > MAX_ANSWER_BYTES {
                return Err(format!(
                    "an event longer than {MAX_ANSWER_BYTES} bytes: not an engine's event stream"
                ));
            }
        }
        Ok(())
    }
}

async fn handle(judging: &Judging, source: &DockerEvents, ev: &Value, action: &str, id: &str) {
    let (name, ep, formats) = (source.name, &source.ep, &source.formats);
    let verb = action.split(':').next().unwrap_or("").trim();
    if !matches!(verb, "create" | "start" | "exec_create") {
        return;
    }
    let line = serde_json::to_string(ev).unwrap_or_default();
    let mut deployments = if verb == "exec_create" {
        let mut ds = judging.read(formats.events, &line, "docker-events");
        // The event names the command, not the exec's powers: its inspect does.
        let exec_id = ev
            .pointer("/Actor/Attributes/execID")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !exec_id.is_empty()
            && let Ok(x) = get_json(ep, &format!("/exec/{exec_id}/json")).await
        {
            let process = x.get("ProcessConfig").unwrap_or(&Value::Null);
            for d in &mut ds {
                d.exec = Some(portcullis_model::ExecSpec {
                    privileged: process.get("privileged").and_then(Value::as_bool) == Some(true),
                    user: process
                        .get("user")
                        .and_then(Value::as_str)
                        .filter(|u| !u.is_empty())
                        .map(str::to_string),
                });
            }
        }
        ds
    } else {
        match inspect(ep, id).await {
            Ok(text) => {
                let mut ds = judging.read(formats.inspect, &text, "docker-watch");
                for d in &mut ds {
                    // Joined namespaces of a container the watcher has seen.
                    if let Some(pod) = d.pod.as_mut() {
                        judging.resolve_joins(pod);
                    }
                }
                // Remembered so that a later `--pid container:NAME` is judged with NAME's
                // namespaces.
                if let Some(d) = ds.first() {
                    let name = d.target.name.clone().unwrap_or_default();
                    judging.remember_container(&[id, &name], d);
                }
                ds
            }
            // Gone already (a --rm container): judge what the event says.
            Err(_) => judging.read(formats.events, &line, "docker-events"),
        }
    };
    for d in &mut deployments {
        d.origin.kind = format!("{name}_watch");
        d.origin.record_id = Some(format!("{id}:{action}"));
        d.operation = match verb {
            "create" => Operation::Create,
            "start" => Operation::Start,
            _ => Operation::Exec,
        };
        d.time = ev
            .get("time")
            .and_then(Value::as_i64)
            .map(|t| t.to_string());
    }
    judging.judge(deployments).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// An endpoint that answers `/events` with bytes that never end a line must not grow
    /// the watcher's buffer without bound: the stream is dropped (and reconnected).
    #[test]
    fn an_endless_event_is_cut_off_not_buffered() {
        let (rt, state) = crate::tests::memory_state();
        let dir = tempfile::tempdir().expect("tmp");
        let socket = dir.path().join("engine.sock");
        rt.block_on(async {
            let listener = tokio::net::UnixListener::bind(&socket).expect("bind");
            tokio::spawn(async move {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let mut head = [0u8; 1024];
                let _ = conn.read(&mut head).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await;
                let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
                // Up to twice the cap, then stop: a watcher that buffers it all would
                // simply wait for more.
                for _ in 0..(2 * MAX_ANSWER_BYTES / (64 * 1024)) {
                    if conn.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let _ = conn.write_all(b"0\r\n\r\n").await;
            });
            let mut source = DockerEvents::new(
                "docker",
                "unix://test".into(),
                Endpoint::Unix(socket.display().to_string()),
            )
            .expect("source");
            let judging = crate::live::Judging::new(state.clone(), "docker");
            let result = tokio::time::timeout(
                std::time::Duration::from_secs(20),
                source.follow_once(&judging),
            )
            .await
            .expect("the watcher gives up on the stream, it does not wait forever");
            let err = result.expect_err("an endless line is an error");
            assert!(err.contains("longer than"), "{err}");
        });
    }
}
