//! `journalctl -o export`: field lines, entries separated by a blank line.

use super::{Head, LogFormat, Mode, OrderedReader};
use crate::SourceError;
use crate::journald::JournaldReader;
use portcullis_model::Deployment;

pub struct JournaldExport;

impl LogFormat for JournaldExport {
    fn name(&self) -> &'static str {
        "journald-export"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        head.first.starts_with("__CURSOR=") || head.first.starts_with("__REALTIME_TIMESTAMP=")
    }

    fn mode(&self, _head: &str) -> Mode {
        Mode::Ordered
    }

    fn ordered(&self) -> Option<Box<dyn OrderedReader>> {
        Some(Box::new(Export(JournaldReader::default())))
    }
}

struct Export(JournaldReader);

impl OrderedReader for Export {
    fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        self.0.push_export(text, file, line, out)
    }

    fn finish(&mut self, file: &str, out: &mut Vec<Deployment>) {
        self.0.finish(file, out);
    }
}
