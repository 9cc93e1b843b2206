//! `docker events --format '{{json .}}'` and the Engine API's `/events` stream.

use super::{Head, LineOutput, LogFormat};
use crate::{SourceError, docker_events};

pub struct DockerEvents;

impl LogFormat for DockerEvents {
    fn name(&self) -> &'static str {
        "docker-events"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        if head.json.is_some() {
            head.has("Action") && head.has("Actor") || head.has("status") && head.has("from")
        } else {
            head.json_text() && head.text.contains("\"Actor\"") && head.text.contains("\"Action\"")
        }
    }

    fn json(&self) -> bool {
        true
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        docker_events::event_json(text, file, line).map(LineOutput::Deployments)
    }
}
