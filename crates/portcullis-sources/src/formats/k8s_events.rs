//! Kubernetes `Event` objects (`kubectl get events -o json`), one or a `List`.

use super::{Head, LineOutput, LogFormat, Mode};
use crate::{SourceError, docker_events};

pub struct K8sEvents;

impl LogFormat for K8sEvents {
    fn name(&self) -> &'static str {
        "k8s-events"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        if head.json.is_some() {
            let (kind, api) = (head.str("kind"), head.str("apiVersion"));
            kind == "Event" && head.has("involvedObject")
                || (kind == "List" || kind == "EventList") && !api.starts_with("audit")
        } else {
            // Inspect output comes first when a document has both.
            head.json_text()
                && !(head.array && head.text.contains("\"Config\""))
                && head.text.contains("\"involvedObject\"")
                && !head.text.contains("\"HostConfig\"")
        }
    }

    fn mode(&self, _head: &str) -> Mode {
        Mode::Document
    }

    fn json(&self) -> bool {
        true
    }

    fn parse_record(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        super::parse_json_value(text, file, line, |v| {
            LineOutput::Deployments(docker_events::k8s_events(v, file, line))
        })
    }
}
