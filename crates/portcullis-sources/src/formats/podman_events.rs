//! `podman events --format json`: capitalised `Status`/`Type`/`Time`, no `Actor`.

use super::{Head, LineOutput, LogFormat};
use crate::{SourceError, docker_events};

pub struct PodmanEvents;

impl LogFormat for PodmanEvents {
    fn name(&self) -> &'static str {
        "podman-events"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        head.has("Status") && head.has("Type") && head.has("Time") && !head.has("Actor")
    }

    fn json(&self) -> bool {
        true
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        docker_events::podman_event_json(text, file, line).map(LineOutput::Deployments)
    }
}
