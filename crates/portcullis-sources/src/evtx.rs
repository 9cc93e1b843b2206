//! Binary Windows event logs (`.evtx`): Sysmon event 1 and Security 4688 process creation,
//! read with the `evtx` crate and judged exactly as their XML export is — each record is
//! rendered as its `<Event>` XML and handed to [`crate::process::xml_event`].

use crate::formats::FileRead;
use crate::{SourceError, process};
use std::io::{Read, Seek};

/// The first bytes of every EVTX file.
pub const MAGIC: &[u8] = b"ElfFile\0";

/// Read every record of an EVTX file. A damaged record is an error naming its record id;
/// the records after it are still read. `line` in errors and origins is the record id.
pub fn read<R: Read + Seek>(reader: R, file: &str) -> FileRead {
    let mut out = FileRead::default();
    let mut parser = match evtx::EvtxParser::from_read_seek(reader) {
        Ok(p) => p,
        Err(e) => {
            out.errors.push(SourceError::at(
                file,
                0,
                format!("not a readable EVTX file: {e}"),
            ));
            return out;
        }
    };
    for record in parser.records() {
        out.records += 1;
        match record {
            Ok(r) => {
                let line = usize::try_from(r.event_record_id).unwrap_or(usize::MAX);
                match process::xml_event(&r.data, file, line, "evtx") {
                    Ok(ds) => out.deployments.extend(ds),
                    Err(e) => out.errors.push(e),
                }
            }
            Err(e) => out.errors.push(SourceError::at(
                file,
                0,
                format!("EVTX record {}: {e}", out.records),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_that_is_not_evtx_is_an_error() {
        let r = read(
            std::io::Cursor::new(b"ElfFile\0 but nothing else".to_vec()),
            "x.evtx",
        );
        assert_eq!(
            r.errors.len(),
            1,
            "{:?}",
            r.errors.iter().map(ToString::to_string).collect::<Vec<_>>()
        );
        assert!(r.deployments.is_empty());
    }
}
