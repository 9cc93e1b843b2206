//! Linux audit logs: `type=… msg=audit(…)` records joined by serial ([`crate::process`]).

use super::{Head, LogFormat, Mode, OrderedReader};
use crate::SourceError;
use crate::process::AuditdReader;
use portcullis_model::Deployment;

pub struct Auditd;

impl LogFormat for Auditd {
    fn name(&self) -> &'static str {
        "auditd"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        head.first.contains("type=") && head.first.contains("msg=audit(")
    }

    fn mode(&self, _head: &str) -> Mode {
        Mode::Ordered
    }

    fn ordered(&self) -> Option<Box<dyn OrderedReader>> {
        Some(Box::new(Serials(AuditdReader::default())))
    }
}

struct Serials(AuditdReader);

impl OrderedReader for Serials {
    fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        self.0.push(text, file, line, out)
    }

    fn finish(&mut self, file: &str, out: &mut Vec<Deployment>) {
        self.0.finish(file, out);
    }
}
