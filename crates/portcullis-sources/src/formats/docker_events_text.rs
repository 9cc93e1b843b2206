//! `docker events` without `--format`: `<time> container <action> <id> (attrs)`.

use super::{Head, LineOutput, LogFormat};
use crate::{SourceError, docker_events};

pub struct DockerEventsText;

impl LogFormat for DockerEventsText {
    fn name(&self) -> &'static str {
        "docker-events-text"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        let first = head.first;
        first.len() > 20
            && first.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && first.contains(" container ")
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        docker_events::event_text(text, file, line).map(LineOutput::Deployments)
    }
}
