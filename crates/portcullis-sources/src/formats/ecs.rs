//! Elastic Common Schema process events (Auditbeat, Winlogbeat, Elastic Defend).

use super::{Head, LineOutput, LogFormat};
use crate::{SourceError, process};

pub struct Ecs;

impl LogFormat for Ecs {
    fn name(&self) -> &'static str {
        "ecs"
    }

    /// `process` (nested or dotted), `event`, or Winlogbeat's `winlog`.
    fn sniff(&self, head: &Head<'_>) -> bool {
        match head.json.as_ref().and_then(|v| v.as_object()) {
            Some(m) => m.keys().any(|k| {
                k == "process"
                    || k.starts_with("process.")
                    || k == "winlog"
                    || k == "event"
                    || k.starts_with("event.")
            }),
            None => {
                head.json_text()
                    && (head.text.contains("\"process\"")
                        || head.text.contains("\"process.")
                        || head.text.contains("\"winlog\""))
            }
        }
    }

    fn json(&self) -> bool {
        true
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        process::ecs_line(text, file, line).map(LineOutput::Deployments)
    }
}
