//! The kubelet's klog lines: static pods added from files or URLs ([`crate::kubelet`]).

use super::{Head, LineOutput, LogFormat};
use crate::SourceError;

pub struct Kubelet;

impl LogFormat for Kubelet {
    fn name(&self) -> &'static str {
        "kubelet"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        crate::kubelet::looks_like_klog(head.first)
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        Ok(LineOutput::Deployments(crate::kubelet::line(
            text, file, line, None, None,
        )))
    }
}
