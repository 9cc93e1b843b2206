//! Sysmon (Linux or Windows) and Windows Security events as XML: one `<Event>` a line
//! (syslog-forwarded Sysmon for Linux), or an exported `<Events>` document.

use super::{Head, LineOutput, LogFormat, Mode};
use crate::{SourceError, process};

pub struct XmlEvents;

impl LogFormat for XmlEvents {
    fn name(&self) -> &'static str {
        "xml-events"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        let first = head.first;
        first.contains("<Event") || first.starts_with("<?xml") || first.starts_with("<Events")
    }

    fn mode(&self, head: &str) -> Mode {
        if head.contains("<Events") {
            Mode::Document
        } else {
            Mode::Lines
        }
    }

    fn parse_line(&self, text: &str, file: &str, line: usize) -> Result<LineOutput, SourceError> {
        process::xml_event(text, file, line, "sysmon").map(LineOutput::Deployments)
    }

    /// Every `<Event>…</Event>` of an export.
    fn parse_document(&self, text: &str, file: &str) -> (Vec<LineOutput>, Vec<SourceError>) {
        let mut outs = Vec::new();
        let mut errors = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(start) = rest.find("<Event") {
            let tail = &rest[start..];
            if let Some(after) = tail.strip_prefix("<Events") {
                rest = after;
                offset += start + 7;
                continue;
            }
            let end = tail.find("</Event>").map_or(tail.len(), |e| e + 8);
            let line = text[..offset + start].matches('\n').count() + 1;
            match process::xml_event(&tail[..end], file, line, "windows_xml") {
                Ok(d) => outs.push(LineOutput::Deployments(d)),
                Err(e) => errors.push(e),
            }
            rest = &tail[end..];
            offset += start + end;
        }
        (outs, errors)
    }
}
