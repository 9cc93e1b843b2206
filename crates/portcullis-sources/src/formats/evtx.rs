//! Binary Windows event logs (Sysmon, Security), read by [`crate::evtx`] from the file.

use super::{FileRead, Head, LogFormat, Mode};

pub struct Evtx;

impl LogFormat for Evtx {
    fn name(&self) -> &'static str {
        "evtx"
    }

    fn sniff(&self, head: &Head<'_>) -> bool {
        head.text.as_bytes().starts_with(crate::evtx::MAGIC)
    }

    fn mode(&self, _head: &str) -> Mode {
        Mode::Binary
    }

    fn read_binary(&self, file: std::fs::File, name: &str) -> FileRead {
        crate::evtx::read(std::io::BufReader::new(file), name)
    }
}
