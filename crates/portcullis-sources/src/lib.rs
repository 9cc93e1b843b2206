//! Sources: each module turns bytes plus an origin into [`Deployment`] events, or into
//! [`SourceError`]s that name the file, line and field. A bad record never stops the
//! records after it.
//!
//! Modules follow the data: [`manifest`] reads YAML/JSON documents and hands each object
//! to [`k8s`] (Kubernetes objects, known workload kinds and CRDs found by shape) or
//! [`compose`] (Docker Compose files).

pub mod admission_review;
pub mod cmdline;
pub mod compose;
pub mod containerd;
pub mod docker_api;
pub mod docker_authz;
pub mod docker_events;
pub mod docker_route;
pub mod docker_wire;
pub mod evtx;
pub mod formats;
pub mod go_json;
pub mod journald;
pub mod json_stream;
pub mod k8s;
pub mod k8s_audit;
pub mod k8s_wire;
pub mod kubelet;
pub mod manifest;
pub mod oci_spec;
pub mod pipeline;
pub mod process;
mod value;
pub mod walk;

use portcullis_model::Deployment;
use std::fmt;

/// A located input error. Displayed as `file:line[:column]: [field: ]message`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceError {
    pub file: String,
    /// 1-based; 0 when the error concerns the whole file.
    pub line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The field the error is about, as a dotted path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl SourceError {
    /// An error about a whole record or file (no column, no field).
    pub fn at(file: &str, line: usize, message: impl Into<String>) -> SourceError {
        SourceError {
            file: file.to_string(),
            line,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// A JSON syntax or type error, located: `what` names the record (`invalid audit
    /// event`), serde's own position suffix is dropped because `line`/`column` carry it.
    pub fn json(file: &str, line: usize, what: &str, e: &serde_json::Error) -> SourceError {
        let msg = e.to_string();
        let reason = msg.split(" at line ").next().unwrap_or_default();
        SourceError {
            file: file.to_string(),
            line,
            column: Some(e.column()),
            field: None,
            message: format!("{what}: {reason}"),
        }
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        write!(f, ": ")?;
        if let Some(field) = &self.field {
            write!(f, "field {field}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for SourceError {}

/// What a source made of one input: the deployments it found, the errors it hit, and how
/// many documents it read (a document that is not a workload, a Service say, counts here
/// and nowhere else).
#[derive(Debug, Default)]
pub struct Batch {
    pub deployments: Vec<Deployment>,
    pub errors: Vec<SourceError>,
    pub documents: usize,
}
