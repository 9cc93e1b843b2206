//! Log formats for `hunt`: detection from a file's first bytes, and one dispatch per line
//! or per document. Line formats without state run on every core; auditd and the daemon
//! log keep a little state and run in order; document formats are read whole.

use crate::{SourceError, docker_events, k8s_audit, process};
use portcullis_model::Deployment;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    K8sAudit,
    DockerEvents,
    /// `podman events --format json`.
    PodmanEvents,
    DockerEventsText,
    DockerInspect,
    DockerDaemon,
    K8sEvents,
    Ecs,
    /// Sysmon (Linux or Windows) and Windows Security events as XML, one per line or an
    /// exported document.
    XmlEvents,
    Auditd,
    /// `journalctl -o json`.
    Journald,
    /// `journalctl -o export`.
    JournaldExport,
    /// Binary Windows event logs (Sysmon, Security).
    Evtx,
    /// `ctr events` output.
    ContainerdEvents,
    /// The kubelet's klog lines.
    Kubelet,
}

impl Format {
    pub const NAMES: &'static [(&'static str, Format)] = &[
        ("k8s-audit", Format::K8sAudit),
        ("docker-events", Format::DockerEvents),
        ("podman-events", Format::PodmanEvents),
        ("docker-events-text", Format::DockerEventsText),
        ("docker-inspect", Format::DockerInspect),
        ("docker-daemon", Format::DockerDaemon),
        ("k8s-events", Format::K8sEvents),
        ("ecs", Format::Ecs),
        ("xml-events", Format::XmlEvents),
        ("auditd", Format::Auditd),
        ("journald", Format::Journald),
        ("journald-export", Format::JournaldExport),
        ("evtx", Format::Evtx),
        ("containerd-events", Format::ContainerdEvents),
        ("kubelet", Format::Kubelet),
    ];

    pub fn parse(s: &str) -> Result<Format, String> {
        Format::NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown input format {s:?} ({})",
                    Format::NAMES
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }

    pub fn name(self) -> &'static str {
        Format::NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    pub fn kind(self) -> Kind {
        match self {
            Format::K8sAudit
            | Format::DockerEvents
            | Format::PodmanEvents
            | Format::DockerEventsText
            | Format::Ecs
            | Format::ContainerdEvents
            | Format::Kubelet => Kind::Lines,
            Format::XmlEvents => Kind::Lines,
            Format::Auditd | Format::DockerDaemon | Format::Journald | Format::JournaldExport => {
                Kind::OrderedLines
            }
            Format::DockerInspect | Format::K8sEvents => Kind::Document,
            Format::Evtx => Kind::Binary,
        }
    }
}

/// How a format is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Independent lines: parsed in parallel.
    Lines,
    /// Lines that join (auditd serials, daemon call + body): parsed in order.
    OrderedLines,
    /// One or more JSON values spanning lines.
    Document,
    /// A binary file read by its own parser (EVTX), from disk.
    Binary,
}

/// Guess the format from the first kilobytes of a file. `None`: not a log we read.
pub fn detect(head: &str) -> Option<Format> {
    if head.as_bytes().starts_with(crate::evtx::MAGIC) {
        return Some(Format::Evtx);
    }
    let first = head.lines().map(str::trim).find(|l| !l.is_empty())?;
    if first.starts_with("__CURSOR=") || first.starts_with("__REALTIME_TIMESTAMP=") {
        return Some(Format::JournaldExport);
    }
    if first.starts_with('{')
        && (first.contains("\"__CURSOR\"") || first.contains("\"__REALTIME_TIMESTAMP\""))
    {
        return Some(Format::Journald);
    }
    if first.contains("type=") && first.contains("msg=audit(") {
        return Some(Format::Auditd);
    }
    if first.contains("<Event") || first.starts_with("<?xml") || first.starts_with("<Events") {
        return Some(Format::XmlEvents);
    }
    // dockerd and containerd both log with logrus; one reader knows both.
    if first.contains("msg=\"") && (first.contains("level=") || first.contains("dockerd")) {
        return Some(Format::DockerDaemon);
    }
    if crate::containerd::looks_like_ctr_event(first) {
        return Some(Format::ContainerdEvents);
    }
    if crate::kubelet::looks_like_klog(first) {
        return Some(Format::Kubelet);
    }
    if first.len() > 20
        && first.as_bytes()[..4].iter().all(u8::is_ascii_digit)
        && first.contains(" container ")
    {
        return Some(Format::DockerEventsText);
    }
    let json_head = first.trim_start_matches('[').trim_start();
    if json_head.starts_with('{') || first.starts_with('[') {
        // A complete first line is JSON lines; otherwise a pretty-printed document.
        let v: Option<Value> = serde_json::from_str(json_head.trim_end_matches(',')).ok();
        return match v {
            Some(v) => classify(&v, first.starts_with('[')),
            None if first.starts_with('[') && head.contains("\"Config\"") => {
                Some(Format::DockerInspect)
            }
            None => classify_text(head),
        };
    }
    None
}

fn classify(v: &Value, array: bool) -> Option<Format> {
    Some(classify_value(v, array)).filter(|f| *f != Format::Ecs || is_ecs(v))
}

/// ECS process events have `process` (nested or dotted) or Winlogbeat's `winlog`.
fn is_ecs(v: &Value) -> bool {
    v.as_object().is_some_and(|m| {
        m.keys().any(|k| {
            k == "process"
                || k.starts_with("process.")
                || k == "winlog"
                || k == "event"
                || k.starts_with("event.")
        })
    })
}

fn classify_value(v: &Value, array: bool) -> Format {
    let has = |k: &str| v.get(k).is_some();
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if has("auditID") || api.starts_with("audit.k8s.io") || has("protoPayload") || has("properties")
    {
        return Format::K8sAudit;
    }
    // A `kind` that is not a string (`{"kind": 0}`) is a broken Kubernetes object: read it
    // as audit so the error is reported, not skipped as an unknown format.
    if v.get("kind").is_some_and(|k| !k.is_string()) {
        return Format::K8sAudit;
    }
    if kind == "Event" && has("involvedObject")
        || (kind == "List" || kind == "EventList") && !api.starts_with("audit")
    {
        return Format::K8sEvents;
    }
    if has("HostConfig") || (array && has("Config")) {
        return Format::DockerInspect;
    }
    if has("Action") && has("Actor") || has("status") && has("from") {
        return Format::DockerEvents;
    }
    // Podman: capitalised Status/Type/Time, no Actor.
    if has("Status") && has("Type") && has("Time") && !has("Actor") {
        return Format::PodmanEvents;
    }
    Format::Ecs
}

/// Classify a pretty-printed document by the keys that appear in it; `None` for JSON that
/// is none of the logs we read (a test wrapper, a config).
fn classify_text(head: &str) -> Option<Format> {
    if head.contains("\"auditID\"") || head.contains("audit.k8s.io") {
        Some(Format::K8sAudit)
    } else if head.contains("\"HostConfig\"") {
        Some(Format::DockerInspect)
    } else if head.contains("\"involvedObject\"") {
        Some(Format::K8sEvents)
    } else if head.contains("\"Actor\"") && head.contains("\"Action\"") {
        Some(Format::DockerEvents)
    } else if head.contains("\"process\"")
        || head.contains("\"process.")
        || head.contains("\"winlog\"")
    {
        Some(Format::Ecs)
    } else {
        None
    }
}

/// Why a file is not read as a log, in a few words, for the line that says it was skipped.
pub fn not_a_log(head: &str) -> &'static str {
    let first = head
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if first.is_empty() {
        "empty"
    } else if first.starts_with('{') || first.starts_with('[') {
        "JSON, but not audit events, Docker events or inspect output, Kubernetes events or ECS process events"
    } else if first.starts_with("apiVersion:")
        || first.starts_with("kind:")
        || first.starts_with("---")
    {
        "a Kubernetes manifest (scan reads those)"
    } else if first.starts_with("services:") || first.starts_with("version:") {
        "a Compose file (scan reads those)"
    } else {
        "no log format portcullis reads starts like this"
    }
}

/// What one line produced.
pub enum LineOutput {
    Audit(Vec<k8s_audit::Record>),
    Deployments(Vec<Deployment>),
}

/// Parse one line of a [`Kind::Lines`] format.
pub fn parse_line(
    format: Format,
    text: &str,
    file: &str,
    line: usize,
) -> Result<LineOutput, SourceError> {
    match format {
        Format::K8sAudit => k8s_audit::parse_line(text, file, line).map(LineOutput::Audit),
        Format::DockerEvents => {
            docker_events::event_json(text, file, line).map(LineOutput::Deployments)
        }
        Format::DockerEventsText => {
            docker_events::event_text(text, file, line).map(LineOutput::Deployments)
        }
        Format::PodmanEvents => {
            docker_events::podman_event_json(text, file, line).map(LineOutput::Deployments)
        }
        Format::Ecs => process::ecs_line(text, file, line).map(LineOutput::Deployments),
        Format::XmlEvents => {
            process::xml_event(text, file, line, "sysmon").map(LineOutput::Deployments)
        }
        Format::ContainerdEvents => {
            crate::containerd::ctr_event(text, file, line).map(LineOutput::Deployments)
        }
        Format::Kubelet => Ok(LineOutput::Deployments(crate::kubelet::line(
            text, file, line, None, None,
        ))),
        _ => Ok(LineOutput::Deployments(Vec::new())),
    }
}

/// One JSON record of a JSON format: a line of a line format, or one element of a
/// pretty-printed document, an array or a `List` ([`crate::json_stream`]). `line` is where
/// the record starts.
pub fn parse_record(
    format: Format,
    text: &str,
    file: &str,
    line: usize,
) -> Result<LineOutput, SourceError> {
    match format {
        Format::DockerInspect | Format::K8sEvents => {
            let v: Value = serde_json::from_str(text).map_err(|e| {
                SourceError::json(file, line + e.line().saturating_sub(1), "invalid JSON", &e)
            })?;
            Ok(LineOutput::Deployments(
                if format == Format::DockerInspect {
                    docker_events::inspect(&v, file, line)
                } else {
                    docker_events::k8s_events(&v, file, line)
                },
            ))
        }
        f => parse_line(f, text, file, line),
    }
}

/// Is this format read as JSON records when its text is not JSON lines?
pub fn is_json(format: Format) -> bool {
    !matches!(
        format,
        Format::XmlEvents
            | Format::Auditd
            | Format::DockerDaemon
            | Format::DockerEventsText
            | Format::Journald
            | Format::JournaldExport
            | Format::Evtx
            | Format::ContainerdEvents
            | Format::Kubelet
    )
}

/// State for [`Kind::OrderedLines`] formats.
pub enum Ordered {
    Auditd(process::AuditdReader),
    Daemon(docker_events::DaemonLogReader),
    Journald(crate::journald::JournaldReader, bool),
}

impl Ordered {
    pub fn new(format: Format) -> Ordered {
        match format {
            Format::DockerDaemon => Ordered::Daemon(docker_events::DaemonLogReader::default()),
            Format::Journald => {
                Ordered::Journald(crate::journald::JournaldReader::default(), false)
            }
            Format::JournaldExport => {
                Ordered::Journald(crate::journald::JournaldReader::default(), true)
            }
            _ => Ordered::Auditd(process::AuditdReader::default()),
        }
    }

    pub fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        match self {
            Ordered::Auditd(r) => r.push(text, file, line, out),
            Ordered::Daemon(r) => {
                out.extend(r.push(text, file, line)?);
                Ok(())
            }
            Ordered::Journald(r, false) if text.trim().is_empty() => Ok(()),
            Ordered::Journald(r, false) => r.push_json(text, file, line, out),
            Ordered::Journald(r, true) => r.push_export(text, file, line, out),
        }
    }

    pub fn finish(&mut self, file: &str, out: &mut Vec<Deployment>) {
        match self {
            Ordered::Auditd(r) => r.finish(file, out),
            Ordered::Journald(r, _) => r.finish(file, out),
            Ordered::Daemon(_) => {}
        }
    }
}

/// Parse a whole document (JSON values, possibly several, possibly arrays; or XML events).
pub fn parse_document(
    format: Format,
    text: &str,
    file: &str,
) -> (Vec<LineOutput>, Vec<SourceError>) {
    let mut outs = Vec::new();
    let mut errors = Vec::new();
    if format == Format::XmlEvents {
        // Every <Event>…</Event> of an export.
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("<Event") {
            let tail = &rest[start..];
            if let Some(after) = tail.strip_prefix("<Events") {
                rest = after;
                offset += start + 7;
                continue;
            }
            let end = tail.find("</Event>").map_or(tail.len(), |e| e + 8);
            let line = text[..offset + start].matches('\n').count() + 1;
            match process::xml_event(&tail[..end], file, line, "windows_xml") {
                Ok(d) => outs.push(LineOutput::Deployments(d)),
                Err(e) => errors.push(e),
            }
            rest = &tail[end..];
            offset += start + end;
        }
        return (outs, errors);
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    loop {
        let at = stream.byte_offset();
        let line = text[..at].matches('\n').count() + 1;
        match stream.next() {
            None => break,
            Some(Ok(v)) => {
                let items: Vec<Value> = match v {
                    Value::Array(a) if format != Format::DockerInspect => a,
                    Value::Object(ref m)
                        if m.contains_key("items") && format == Format::K8sAudit =>
                    {
                        m.get("items")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default()
                    }
                    other => vec![other],
                };
                for item in items {
                    match format {
                        Format::DockerInspect => outs.push(LineOutput::Deployments(
                            docker_events::inspect(&item, file, line),
                        )),
                        Format::K8sEvents => outs.push(LineOutput::Deployments(
                            docker_events::k8s_events(&item, file, line),
                        )),
                        f => match parse_line(f, &item.to_string(), file, line) {
                            Ok(o) => outs.push(o),
                            Err(e) => errors.push(e),
                        },
                    }
                }
            }
            Some(Err(e)) => {
                errors.push(SourceError::json(file, e.line(), "invalid JSON", &e));
                break;
            }
        }
    }
    (outs, errors)
}

/// Read a whole log text in order, on one thread: detection (unless `format` is given),
/// every line or document, audit stage merging and controller-pod linking. For tests,
/// fixtures and small inputs; `hunt` streams large files on every core instead.
pub fn read_all(text: &str, file: &str, format: Option<Format>) -> crate::Batch {
    let mut batch = crate::Batch::default();
    let Some(format) = format.or_else(|| detect(text)) else {
        batch.errors.push(SourceError::at(
            file,
            0,
            "not a log format portcullis reads (use --input-format)",
        ));
        return batch;
    };
    let mut correlator = k8s_audit::Correlator::default();
    let absorb = |o: LineOutput, batch: &mut crate::Batch, c: &mut k8s_audit::Correlator| match o {
        LineOutput::Audit(records) => {
            for r in records {
                c.push(r, &mut batch.deployments);
            }
        }
        LineOutput::Deployments(d) => batch.deployments.extend(d),
    };
    match format.kind() {
        Kind::Binary => batch.errors.push(SourceError::at(
            file,
            0,
            "a binary log (EVTX) is read from its file, not from text",
        )),
        Kind::Document => {
            let (outs, errors) = parse_document(format, text, file);
            batch.errors.extend(errors);
            for o in outs {
                batch.documents += 1;
                absorb(o, &mut batch, &mut correlator);
            }
        }
        Kind::Lines
            if format == Format::XmlEvents
                && !text.trim_start().starts_with("<Event")
                && text.contains("<Events") =>
        {
            let (outs, errors) = parse_document(format, text, file);
            batch.errors.extend(errors);
            for o in outs {
                absorb(o, &mut batch, &mut correlator);
            }
        }
        Kind::Lines => {
            for (i, l) in text.lines().enumerate() {
                if l.trim().is_empty() {
                    continue;
                }
                batch.documents += 1;
                match parse_line(format, l, file, i + 1) {
                    Ok(o) => absorb(o, &mut batch, &mut correlator),
                    Err(e) => batch.errors.push(e),
                }
            }
        }
        Kind::OrderedLines => {
            let mut state = Ordered::new(format);
            for (i, l) in text.lines().enumerate() {
                batch.documents += 1;
                if let Err(e) = state.push(l, file, i + 1, &mut batch.deployments) {
                    batch.errors.push(e);
                }
            }
            state.finish(file, &mut batch.deployments);
        }
    }
    correlator.finish(&mut batch.deployments);
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        assert_eq!(
            detect(r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x"}"#),
            Some(Format::K8sAudit)
        );
        assert_eq!(
            detect(r#"{"auditID":"x","verb":"get"}"#),
            Some(Format::K8sAudit)
        );
        assert_eq!(detect(r#"{"protoPayload":{}}"#), Some(Format::K8sAudit));
        assert_eq!(
            detect("{\n  \"kind\": \"EventList\",\n  \"apiVersion\": \"audit.k8s.io/v1\",\n"),
            Some(Format::K8sAudit)
        );
        assert_eq!(
            detect(r#"{"Type":"container","Action":"create","Actor":{}}"#),
            Some(Format::DockerEvents)
        );
        assert_eq!(
            detect("2017-01-05T00:35:58.859401177+08:00 container create 0fdb (image=alpine)"),
            Some(Format::DockerEventsText)
        );
        assert_eq!(
            detect("[\n  {\n    \"Id\": \"abc\",\n    \"HostConfig\": {}"),
            Some(Format::DockerInspect)
        );
        assert_eq!(
            detect(r#"{"@timestamp":"x","process":{"command_line":"docker ps"}}"#),
            Some(Format::Ecs)
        );
        assert_eq!(
            detect("Nov 20 node sysmon: <Event><System>"),
            Some(Format::XmlEvents)
        );
        assert_eq!(
            detect("type=SYSCALL msg=audit(1.2:3): arch=x"),
            Some(Format::Auditd)
        );
        assert_eq!(
            detect(r#"time="x" level=debug msg="Calling GET /_ping""#),
            Some(Format::DockerDaemon)
        );
        assert_eq!(
            detect(
                "2026-12-07 00:42:58.114718047 +0000 UTC default /containers/create {\"id\":\"t1\"}"
            ),
            Some(Format::ContainerdEvents)
        );
        assert_eq!(
            detect(
                r#"I1207 00:42:58.123456    1234 kubelet.go:2435] "SyncLoop ADD" source="file" pods=["a/b"]"#
            ),
            Some(Format::Kubelet)
        );
        assert_eq!(
            detect(
                r#"time="2026-12-07T00:42:48.4Z" level=info msg="starting containerd" revision= version=1.6.20"#
            ),
            Some(Format::DockerDaemon)
        );
        assert_eq!(detect("plain text"), None);
    }
}
