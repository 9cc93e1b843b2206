//! `docker inspect` output: an array of container objects, each with its `HostConfig`.

use super::{Head, LineOutput, LogFormat, Mode};
use crate::{SourceError, docker_events};

pub struct DockerInspect;

impl LogFormat for DockerInspect {
    fn name(&self) -> &'static str {
        "docker-inspect"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        if head.json.is_some() {
            head.has("HostConfig") || head.array && head.has("Config")
        } else {
            head.json_text()
                && (head.text.contains("\"HostConfig\"")
                    || head.array && head.text.contains("\"Config\""))
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
            LineOutput::Deployments(docker_events::inspect(v, file, line))
        })
    }
}
