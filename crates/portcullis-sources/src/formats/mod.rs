//! Log formats: each one file implementing [`LogFormat`] — how to recognise it, how it is
//! read (lines, ordered lines, a document, a binary file) and how to parse it — listed once
//! in [`REGISTRY`]. Reading a file (threads, caps, gzip, stage merging) is the
//! [`crate::pipeline`]'s job, the same for every format.
//!
//! Adding a format: a file here and its line in [`REGISTRY`] (CONTRIBUTING.md).

use crate::{SourceError, k8s_audit};
use portcullis_model::Deployment;
use serde_json::Value;

mod auditd;
mod containerd_events;
mod docker_daemon;
mod docker_events;
mod docker_events_text;
mod docker_inspect;
mod ecs;
mod evtx;
mod journald;
mod journald_export;
mod k8s_audit_events;
mod k8s_events;
mod kubelet;
mod podman_events;
mod xml_events;

/// Every format, in detection order: the first whose [`LogFormat::sniff`] accepts a file's
/// head reads it. Text formats with a distinctive prefix come before JSON ones, and among
/// JSON the most specific keys first; ECS, which accepts any object with `process` or
/// `event` keys, comes last.
pub static REGISTRY: &[&dyn LogFormat] = &[
    &evtx::Evtx,
    &journald_export::JournaldExport,
    &journald::Journald,
    &auditd::Auditd,
    &xml_events::XmlEvents,
    &docker_daemon::DockerDaemon,
    &containerd_events::ContainerdEvents,
    &kubelet::Kubelet,
    &docker_events_text::DockerEventsText,
    &k8s_audit_events::K8sAudit,
    &k8s_events::K8sEvents,
    &docker_inspect::DockerInspect,
    &docker_events::DockerEvents,
    &podman_events::PodmanEvents,
    &ecs::Ecs,
];

/// How a format's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Independent lines: parsed on every core.
    Lines,
    /// Lines that join (auditd serials, a daemon's call and body, journald fields): parsed
    /// in order by the format's [`OrderedReader`].
    Ordered,
    /// A whole document ([`LogFormat::parse_document`]); JSON documents are cut into
    /// records instead, one in memory at a time.
    Document,
    /// A binary file read by its own parser, which seeks ([`LogFormat::read_binary`]).
    Binary,
}

/// What one line or record produced: audit records still to be merged by stage, or
/// deployments ready to judge.
pub enum LineOutput {
    Audit(Vec<k8s_audit::Record>),
    Deployments(Vec<Deployment>),
}

impl LineOutput {
    pub fn is_empty(&self) -> bool {
        match self {
            LineOutput::Audit(r) => r.is_empty(),
            LineOutput::Deployments(d) => d.is_empty(),
        }
    }
}

/// What a binary file gave: deployments, located errors, and how many records it held.
#[derive(Default)]
pub struct FileRead {
    pub deployments: Vec<Deployment>,
    pub errors: Vec<SourceError>,
    pub records: u64,
}

/// The state of an [`Mode::Ordered`] format over one file.
pub trait OrderedReader {
    fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError>;
    /// The end of the file: what was still waiting for a line that never came.
    fn finish(&mut self, _file: &str, _out: &mut Vec<Deployment>) {}
}

/// The first kilobytes of a file, as every format's sniff sees them.
pub struct Head<'a> {
    /// The text itself (lossy UTF-8).
    pub text: &'a str,
    /// The first line that is not blank, trimmed.
    pub first: &'a str,
    /// `first` starts a JSON value: `{`, or `[` of an array.
    pub json_like: bool,
    /// `first` starts an array.
    pub array: bool,
    /// `first` as a JSON value (after an array's `[` and a trailing `,`), when it is a
    /// whole one: JSON lines, or an array of one-line records. `None` for a pretty-printed
    /// document, whose sniffs look for keys in `text` instead.
    pub json: Option<Value>,
}

impl<'a> Head<'a> {
    pub fn new(text: &'a str) -> Head<'a> {
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let object = first.trim_start_matches('[').trim_start();
        let array = first.starts_with('[');
        let json_like = object.starts_with('{') || array;
        let json = json_like
            .then(|| serde_json::from_str(object.trim_end_matches(',')).ok())
            .flatten();
        Head {
            text,
            first,
            json_like,
            array,
            json,
        }
    }

    /// A key of the first JSON value.
    pub fn has(&self, key: &str) -> bool {
        self.json.as_ref().is_some_and(|v| v.get(key).is_some())
    }

    /// A string field of the first JSON value ("" when absent or not a string).
    pub fn str(&self, key: &str) -> &str {
        self.json
            .as_ref()
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// A pretty-printed JSON document (the first line is not a whole value).
    pub fn json_text(&self) -> bool {
        self.json_like && self.json.is_none()
    }
}

/// One log format. Only `name` and `sniff` are required; a format overrides the hooks of
/// the [`Mode`] it is read in.
pub trait LogFormat: Sync {
    /// The name `--input-format` takes and errors print.
    fn name(&self) -> &'static str;

    /// Does a file with this head hold this format? Asked in [`REGISTRY`] order.
    fn sniff(&self, head: &Head<'_>) -> bool;

    /// How a file with this head is read.
    fn mode(&self, _head: &str) -> Mode {
        Mode::Lines
    }

    /// A JSON format: a file that is not JSON lines (pretty-printed, an array, a `List`)
    /// is cut into records, each parsed by [`LogFormat::parse_record`].
    fn json(&self) -> bool {
        false
    }

    /// One line of a [`Mode::Lines`] format.
    fn parse_line(
        &self,
        _text: &str,
        _file: &str,
        _line: usize,
    ) -> Result<LineOutput, SourceError> {
        Ok(LineOutput::Deployments(Vec::new()))
    }

    /// One JSON record (a line, or one element of a document); `line` is where it starts.
    fn parse_record(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        self.parse_line(text, file, line)
    }

    /// One record as a service receives it ([`crate::pipeline::Pipeline::receive`]: a
    /// webhook's body, a live source's event): parsed like a record of a file, and keeping
    /// whatever an ordered stage may hold back, so the service can store it while it
    /// waits (an audit event before its final stage keeps its text).
    fn parse_received(&self, text: &str, file: &str) -> Result<LineOutput, SourceError> {
        self.parse_record(text, file, 0)
    }

    /// The reader of a [`Mode::Ordered`] format, new for each file.
    fn ordered(&self) -> Option<Box<dyn OrderedReader>> {
        None
    }

    /// A whole [`Mode::Document`] that is not JSON.
    fn parse_document(&self, _text: &str, file: &str) -> (Vec<LineOutput>, Vec<SourceError>) {
        (
            Vec::new(),
            vec![SourceError::at(
                file,
                0,
                format!("{} is not read as a document", self.name()),
            )],
        )
    }

    /// A [`Mode::Binary`] file.
    fn read_binary(&self, _file: std::fs::File, name: &str) -> FileRead {
        FileRead {
            errors: vec![SourceError::at(
                name,
                0,
                format!("{} is not a binary format", self.name()),
            )],
            ..FileRead::default()
        }
    }
}

impl std::fmt::Debug for dyn LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl PartialEq for dyn LogFormat {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

/// The format named `name` (for `--input-format`).
pub fn by_name(name: &str) -> Result<&'static dyn LogFormat, String> {
    REGISTRY
        .iter()
        .copied()
        .find(|f| f.name() == name)
        .ok_or_else(|| {
            format!(
                "unknown input format {name:?} ({})",
                REGISTRY
                    .iter()
                    .map(|f| f.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

/// Guess the format from the first kilobytes of a file. `None`: not a log we read.
pub fn detect(head: &str) -> Option<&'static dyn LogFormat> {
    let head = Head::new(head);
    REGISTRY.iter().copied().find(|f| f.sniff(&head))
}

/// Why a file is not read as a log, in a few words, for the line that says it was skipped.
pub fn not_a_log(head: &str) -> &'static str {
    let first = Head::new(head).first;
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

/// A JSON value's records as JSON text, for formats whose parser reads text: a line
/// format's record given as a parsed value (an element of a document).
pub(crate) fn parse_json_value<T>(
    text: &str,
    file: &str,
    line: usize,
    parse: impl FnOnce(&Value) -> T,
) -> Result<T, SourceError> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        SourceError::json(file, line + e.line().saturating_sub(1), "invalid JSON", &e)
    })?;
    Ok(parse(&v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(head: &str) -> Option<&'static str> {
        detect(head).map(|f| f.name())
    }

    #[test]
    fn detection() {
        let cases: &[(&str, Option<&str>)] = &[
            (
                r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"x"}"#,
                Some("k8s-audit"),
            ),
            (r#"{"auditID":"x","verb":"get"}"#, Some("k8s-audit")),
            (r#"{"protoPayload":{}}"#, Some("k8s-audit")),
            (r#"{"kind":0}"#, Some("k8s-audit")),
            (
                "{\n  \"kind\": \"EventList\",\n  \"apiVersion\": \"audit.k8s.io/v1\",\n",
                Some("k8s-audit"),
            ),
            (
                r#"{"Type":"container","Action":"create","Actor":{}}"#,
                Some("docker-events"),
            ),
            (
                r#"{"status":"create","from":"alpine"}"#,
                Some("docker-events"),
            ),
            (
                r#"{"Status":"create","Type":"container","Time":"x"}"#,
                Some("podman-events"),
            ),
            (
                "2017-01-05T00:35:58.859401177+08:00 container create 0fdb (image=alpine)",
                Some("docker-events-text"),
            ),
            (
                "[\n  {\n    \"Id\": \"abc\",\n    \"HostConfig\": {}",
                Some("docker-inspect"),
            ),
            (
                "[\n  {\n    \"Id\": \"abc\",\n    \"Config\": {}",
                Some("docker-inspect"),
            ),
            (
                r#"{"kind":"Event","involvedObject":{}}"#,
                Some("k8s-events"),
            ),
            (
                r#"{"kind":"List","apiVersion":"v1","items":[]}"#,
                Some("k8s-events"),
            ),
            ("{\n \"involvedObject\": {}", Some("k8s-events")),
            (
                r#"{"@timestamp":"x","process":{"command_line":"docker ps"}}"#,
                Some("ecs"),
            ),
            (r#"{"a":1}"#, None),
            ("Nov 20 node sysmon: <Event><System>", Some("xml-events")),
            ("type=SYSCALL msg=audit(1.2:3): arch=x", Some("auditd")),
            (
                r#"time="x" level=debug msg="Calling GET /_ping""#,
                Some("docker-daemon"),
            ),
            (
                "2026-12-07 00:42:58.114718047 +0000 UTC default /containers/create {\"id\":\"t1\"}",
                Some("containerd-events"),
            ),
            (
                r#"I1207 00:42:58.123456    1234 kubelet.go:2435] "SyncLoop ADD" source="file" pods=["a/b"]"#,
                Some("kubelet"),
            ),
            (
                r#"time="2026-12-07T00:42:48.4Z" level=info msg="starting containerd" revision= version=1.6.20"#,
                Some("docker-daemon"),
            ),
            ("__CURSOR=s=1\n", Some("journald-export")),
            (r#"{"__CURSOR":"s=1","MESSAGE":"x"}"#, Some("journald")),
            ("ElfFile\0rest", Some("evtx")),
            ("plain text", None),
            ("", None),
        ];
        for (head, want) in cases {
            assert_eq!(name(head), *want, "{head:?}");
        }
    }

    #[test]
    fn every_name_is_found_and_unique() {
        for f in REGISTRY {
            assert_eq!(by_name(f.name()).map(|g| g.name()), Ok(f.name()));
        }
        let mut names: Vec<_> = REGISTRY.iter().map(|f| f.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        let e = by_name("nope").err().unwrap_or_default();
        assert!(e.contains("k8s-audit") && e.contains("kubelet"), "{e}");
    }
}
