//! `journalctl -o json`: one JSON entry a line, the unit's message in `MESSAGE`.

use super::{Head, LogFormat, Mode, OrderedReader};
use crate::SourceError;
use crate::journald::JournaldReader;
use portcullis_model::Deployment;

pub struct Journald;

impl LogFormat for Journald {
    fn name(&self) -> &'static str {
        "journald"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        let first = head.first;
        first.starts_with('{')
            && (first.contains("\"__CURSOR\"") || first.contains("\"__REALTIME_TIMESTAMP\""))
    }

    fn mode(&self, _head: &str) -> Mode {
        Mode::Ordered
    }

    fn ordered(&self) -> Option<Box<dyn OrderedReader>> {
        Some(Box::new(Entries(JournaldReader::default())))
    }
}

struct Entries(JournaldReader);

impl OrderedReader for Entries {
    fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        if text.trim().is_empty() {
            return Ok(());
        }
        self.0.push_json(text, file, line, out)
    }

    fn finish(&mut self, file: &str, out: &mut Vec<Deployment>) {
        self.0.finish(file, out);
    }
}
