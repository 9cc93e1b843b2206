//! The logrus log of dockerd and containerd: API calls with their bodies (debug level),
//! containerd's task starts ([`crate::docker_events::DaemonLogReader`]).

use super::{Head, LogFormat, Mode, OrderedReader};
use crate::SourceError;
use crate::docker_events::DaemonLogReader;
use portcullis_model::Deployment;

pub struct DockerDaemon;

impl LogFormat for DockerDaemon {
    fn name(&self) -> &'static str {
        "docker-daemon"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        // dockerd and containerd both log with logrus; one reader knows both.
        let first = head.first;
        first.contains("msg=\"") && (first.contains("level=") || first.contains("dockerd"))
    }

    fn mode(&self, _head: &str) -> Mode {
        Mode::Ordered
    }

    fn ordered(&self) -> Option<Box<dyn OrderedReader>> {
        Some(Box::new(Calls(DaemonLogReader::default())))
    }
}

struct Calls(DaemonLogReader);

impl OrderedReader for Calls {
    fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        out.extend(self.0.push(text, file, line)?);
        Ok(())
    }
}
