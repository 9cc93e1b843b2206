//! journald exports of the container daemons: `journalctl -o json` (one JSON object a line)
//! and `journalctl -o export` (`KEY=value` lines, a blank line between entries).
//!
//! Each entry's `MESSAGE` is the unit's own log line, read as that unit's log: dockerd's
//! (`Calling POST …/containers/create` + `form data: {…}`, in order) goes to the daemon-log
//! reader; Podman's events, which Podman writes to the journal as fields (`PODMAN_EVENT`,
//! `PODMAN_NAME`, `PODMAN_IMAGE`, `PODMAN_TYPE`, `PODMAN_ID`), become Podman events.
//! containerd's and the kubelet's messages name containers but carry no spec, and are
//! counted, not judged.

use crate::{SourceError, docker_events};
use portcullis_model::Deployment;
use serde_json::{Map, Value};

/// State across entries: the daemon log pairs a call with the body logged after it, and an
/// export entry spans lines.
#[derive(Default)]
pub struct JournaldReader {
    daemon: docker_events::DaemonLogReader,
    entry: Map<String, Value>,
    entry_line: usize,
}

/// A journal field as text: a string, or the byte array journald writes for non-UTF-8.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(bytes) => {
            let b: Vec<u8> = bytes
                .iter()
                .filter_map(|x| x.as_u64().and_then(|n| u8::try_from(n).ok()))
                .collect();
            Some(String::from_utf8_lossy(&b).into_owned())
        }
        _ => None,
    }
}

impl JournaldReader {
    /// One `journalctl -o json` line.
    pub fn push_json(
        &mut self,
        line_text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        let v: Value = serde_json::from_str(line_text)
            .map_err(|e| SourceError::json(file, line, "invalid journal entry", &e))?;
        let Value::Object(entry) = v else {
            return Err(SourceError::at(file, line, "a journal entry is an object"));
        };
        self.entry(&entry, file, line, out)
    }

    /// One line of `journalctl -o export`: a field, or the blank line that ends an entry.
    pub fn push_export(
        &mut self,
        line_text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        if line_text.trim().is_empty() {
            let entry = std::mem::take(&mut self.entry);
            let at = self.entry_line;
            return if entry.is_empty() {
                Ok(())
            } else {
                self.entry(&entry, file, at, out)
            };
        }
        if self.entry.is_empty() {
            self.entry_line = line;
        }
        // A binary field (`KEY` alone, then its length and bytes) cannot be read line by
        // line: it is skipped, and the entry keeps its text fields.
        if let Some((k, v)) = line_text.split_once('=') {
            self.entry
                .insert(k.to_string(), Value::String(v.to_string()));
        }
        Ok(())
    }

    /// The last export entry, when the file does not end with a blank line.
    pub fn finish(&mut self, file: &str, out: &mut Vec<Deployment>) {
        let entry = std::mem::take(&mut self.entry);
        if !entry.is_empty() {
            let _ = self.entry(&entry, file, self.entry_line, out);
        }
    }

    fn entry(
        &mut self,
        entry: &Map<String, Value>,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        let field = |k: &str| entry.get(k).and_then(text);
        if let Some(event) = field("PODMAN_EVENT") {
            let micros: f64 = field("__REALTIME_TIMESTAMP")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0.0);
            let synthetic = serde_json::json!({
                "ID": field("PODMAN_ID"), "Name": field("PODMAN_NAME"), "Image": field("PODMAN_IMAGE"),
                "Status": event, "Type": field("PODMAN_TYPE").unwrap_or_else(|| "container".into()),
                "Time": portcullis_model::time::rfc3339(micros / 1e6),
            });
            let mut ds = docker_events::podman_event_json(&synthetic.to_string(), file, line)?;
            for d in &mut ds {
                d.origin.kind = "journald".into();
            }
            out.extend(ds);
            return Ok(());
        }
        let unit = field("SYSLOG_IDENTIFIER")
            .or_else(|| field("_COMM"))
            .unwrap_or_default();
        if unit == "kubelet" {
            let micros: f64 = field("__REALTIME_TIMESTAMP")
                .and_then(|t| t.parse().ok())
                .unwrap_or(0.0);
            let time = (micros > 0.0).then(|| portcullis_model::time::rfc3339(micros / 1e6));
            let message = field("MESSAGE").unwrap_or_default();
            let host = field("_HOSTNAME");
            let mut ds = crate::kubelet::line(&message, file, line, host.as_deref(), time);
            for d in &mut ds {
                d.origin.kind = "journald".into();
            }
            out.extend(ds);
            return Ok(());
        }
        if matches!(unit.as_str(), "dockerd" | "docker" | "containerd") {
            let message = field("MESSAGE").unwrap_or_default();
            let mut ds = self.daemon.push(&message, file, line)?;
            for d in &mut ds {
                d.origin.kind = "journald".into();
            }
            out.extend(ds);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerd_calls_and_podman_events_from_the_journal() {
        let mut r = JournaldReader::default();
        let mut out = Vec::new();
        let call = serde_json::json!({"__CURSOR": "s=1", "__REALTIME_TIMESTAMP": "1795168800000000", "SYSLOG_IDENTIFIER": "dockerd", "_SYSTEMD_UNIT": "docker.service",
            "MESSAGE": "time=\"2026-11-20T10:00:00.000000000Z\" level=debug msg=\"Calling POST /v1.41/containers/create?name=x\""});
        let body = serde_json::json!({"__CURSOR": "s=2", "SYSLOG_IDENTIFIER": "dockerd",
            "MESSAGE": "time=\"2026-11-20T10:00:00.000000000Z\" level=debug msg=\"form data: {\\\"HostConfig\\\":{\\\"Privileged\\\":true},\\\"Image\\\":\\\"alpine\\\"}\""});
        for (i, e) in [call, body].iter().enumerate() {
            r.push_json(&e.to_string(), "j.json", i + 1, &mut out)
                .expect("entry");
        }
        assert_eq!(out.len(), 1, "{out:?}");
        let pod = out[0].pod.as_ref().expect("pod");
        assert_eq!(pod.containers[0].security_context.privileged, Some(true));
        // The export format, a Podman event written as journal fields.
        let export = "__CURSOR=s=3\n__REALTIME_TIMESTAMP=1795168800000000\nSYSLOG_IDENTIFIER=podman\nPODMAN_EVENT=create\nPODMAN_TYPE=container\nPODMAN_NAME=pmx\nPODMAN_IMAGE=docker.io/library/alpine:3\nPODMAN_ID=abc\nMESSAGE=container create abc\n\n";
        let mut out = Vec::new();
        for (i, l) in export.lines().enumerate() {
            r.push_export(l, "j.export", i + 1, &mut out).expect("line");
        }
        r.finish("j.export", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].target.kind, "PodmanContainer");
        assert_eq!(out[0].target.name.as_deref(), Some("pmx"));
        assert_eq!(out[0].origin.line, 1);
    }

    #[test]
    fn containerd_and_kubelet_units_are_read_as_their_own_logs() {
        let mut r = JournaldReader::default();
        let mut out = Vec::new();
        let shim = serde_json::json!({"__CURSOR": "s=1", "__REALTIME_TIMESTAMP": "1796604178141748", "SYSLOG_IDENTIFIER": "containerd", "_SYSTEMD_UNIT": "containerd.service", "_HOSTNAME": "node-3",
            "MESSAGE": "time=\"2026-12-07T00:42:58.141748958Z\" level=info msg=\"starting signal loop\" namespace=default path=/run/containerd/io.containerd.runtime.v2.task/default/x1 pid=11816 runtime=io.containerd.runc.v2"});
        let kubelet = serde_json::json!({"__CURSOR": "s=2", "__REALTIME_TIMESTAMP": "1796604178500000", "SYSLOG_IDENTIFIER": "kubelet", "_SYSTEMD_UNIT": "kubelet.service", "_HOSTNAME": "node-3",
            "MESSAGE": "I1207 00:42:58.500000    1234 kubelet.go:2435] \"SyncLoop ADD\" source=\"file\" pods=[\"default/miner-node-3\"]"});
        for (i, e) in [shim, kubelet].iter().enumerate() {
            r.push_json(&e.to_string(), "j.json", i + 1, &mut out)
                .expect("entry");
        }
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[0].target.kind, "ContainerdContainer");
        assert_eq!(out[0].target.name.as_deref(), Some("x1"));
        assert_eq!(out[1].target.name.as_deref(), Some("miner-node-3"));
        assert_eq!(out[1].actor.user.as_deref(), Some("system:node:node-3"));
        assert_eq!(out[1].time.as_deref(), Some("2026-12-07T00:42:58.500Z"));
    }
}
