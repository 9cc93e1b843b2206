//! Kubernetes audit events: the API server's log backend (JSON lines), `EventList`s and
//! pretty-printed exports, and the cloud exports (GKE `protoPayload`, AKS `properties`).
//! Stages of one request are merged after parsing, in order, by the pipeline's
//! [`crate::k8s_audit::Correlator`].

use super::{Head, LineOutput, LogFormat};
use crate::{SourceError, k8s_audit};

pub struct K8sAudit;

impl LogFormat for K8sAudit {
    fn name(&self) -> &'static str {
        "k8s-audit"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        if head.json.is_some() {
            head.has("auditID")
                || head.str("apiVersion").starts_with("audit.k8s.io")
                || head.has("protoPayload")
                || head.has("properties")
                // A `kind` that is not a string (`{"kind": 0}`) is a broken Kubernetes
                // object: read as audit so the error is reported, not skipped.
                || head.json.as_ref().and_then(|v| v.get("kind")).is_some_and(|k| !k.is_string())
        } else {
            // An array of inspect objects mentioning an audit id is still inspect output.
            head.json_text()
                && !(head.array && head.text.contains("\"Config\""))
                && (head.text.contains("\"auditID\"") || head.text.contains("audit.k8s.io"))
        }
    }

    fn json(&self) -> bool {
        true
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        k8s_audit::parse_line(text, file, line).map(LineOutput::Audit)
    }

    fn parse_received(&self, text: &str, file: &str) -> Result<LineOutput, SourceError> {
        k8s_audit::parse_line_keeping(text, file, 0).map(LineOutput::Audit)
    }
}
