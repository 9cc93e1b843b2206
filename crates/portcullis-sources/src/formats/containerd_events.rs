//! `ctr events` output: `<time> <namespace> <topic> <json>` a line ([`crate::containerd`]).

use super::{Head, LineOutput, LogFormat};
use crate::SourceError;

pub struct ContainerdEvents;

impl LogFormat for ContainerdEvents {
    fn name(&self) -> &'static str {
        "containerd-events"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        crate::containerd::looks_like_ctr_event(head.first)
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        crate::containerd::ctr_event(text, file, line).map(LineOutput::Deployments)
    }
}
