//! Reading logs: one pipeline for `hunt`, the rule fixtures and every other reader of log
//! files. It opens a file (gzip by its magic bytes), finds its [`LogFormat`] unless one is
//! given, reads it in the format's [`Mode`] — lines on every core, ordered lines, records
//! of a JSON document, a whole document, a binary file — caps every line, and hands what
//! it found to a [`Consumer`] in file order, after the audit stages of one request are
//! merged and controller pods linked ([`Correlator`], the ordered stage every format
//! shares).
//!
//! Lines: a reader thread cuts the stream into blocks of whole lines; worker threads parse
//! the lines of a block (the expensive part); the calling thread takes blocks back in
//! order. Channels are bounded, so memory stays flat whatever the file size.

use crate::formats::{self, LineOutput, LogFormat, Mode};
use crate::k8s_audit::Correlator;
use crate::{Batch, SourceError};
use portcullis_model::Deployment;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, sync_channel};

/// Lines per block handed to a worker: large enough that channel traffic is noise, small
/// enough that every core gets work on a modest file.
const BLOCK_BYTES: usize = 1 << 20;

/// A document that is not JSON (an XML export) is read whole, and peak memory must stay
/// bounded: a larger one is refused. Logs that size come as lines.
pub const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

/// The default line cap: above the API server's 3 MiB request limit with room for a
/// RequestResponse event's two bodies, far below what would threaten memory.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

/// Who takes what the pipeline read, in file order, on the calling thread.
pub trait Consumer {
    /// A deployment to judge. An error here (the output cannot be written) ends the run.
    fn deployment(&mut self, d: Deployment) -> std::io::Result<()>;
    /// A located input error: counted and reported; reading goes on.
    fn error(&mut self, e: &SourceError);
    /// Bytes and records read since the last call.
    fn progress(&mut self, _bytes: u64, _records: u64) {}
}

/// What one record a service received did ([`Pipeline::receive`]).
#[derive(Default, Debug)]
pub struct Received {
    /// Ready to judge.
    pub ready: Vec<Deployment>,
    /// Held back by the ordered stage until a later record (an audit request's final
    /// stage): its key and the record's text, for the service to store while it waits.
    pub held: Vec<(String, String)>,
    /// Keys of records that are no longer held: if the service stored one as waiting,
    /// it is done now.
    pub settled: Vec<String>,
}

/// What became of one input.
#[derive(Debug)]
pub enum Opened {
    /// Read in this format (its errors went to the consumer).
    Read(&'static dyn LogFormat),
    /// Not a log this pipeline reads; why, in a few words. `empty`: nothing but blanks.
    NotALog { why: &'static str, empty: bool },
    /// Could not be read at all; the error went to the consumer.
    Unreadable,
}

/// The pipeline's settings and the state that spans files (the audit correlator: one
/// request's stages may sit in two rotated files).
pub struct Pipeline {
    /// Worker threads for line formats.
    pub threads: usize,
    /// A longer line (or JSON record) is an input error, skipped without being held.
    pub max_line_bytes: usize,
    /// Read every input in this format instead of detecting it.
    pub format: Option<&'static dyn LogFormat>,
    correlator: Correlator,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline::new(1)
    }
}

impl Pipeline {
    pub fn new(threads: usize) -> Pipeline {
        Pipeline {
            threads: threads.max(1),
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            format: None,
            correlator: Correlator::default(),
        }
    }

    /// Read one input. `path` is where it came from (`None` for stdin), needed by formats
    /// that seek. `Err` only when the consumer failed.
    pub fn read(
        &mut self,
        reader: Box<dyn Read + Send>,
        path: Option<&Path>,
        name: &str,
        out: &mut dyn Consumer,
    ) -> std::io::Result<Opened> {
        let unzipped = match maybe_gunzip(reader) {
            Ok(r) => r,
            Err(e) => {
                out.error(&SourceError::at(name, 0, format!("cannot read: {e}")));
                return Ok(Opened::Unreadable);
            }
        };
        let mut reader = BufReader::with_capacity(1 << 16, unzipped);
        let head = match reader.fill_buf() {
            Ok(h) => String::from_utf8_lossy(h).into_owned(),
            Err(e) => {
                // A .gz damaged in its first block, or decompressing to garbage.
                out.error(&SourceError::at(name, 0, format!("cannot read: {e}")));
                return Ok(Opened::Unreadable);
            }
        };
        let Some(format) = self.format.or_else(|| formats::detect(&head)) else {
            return Ok(Opened::NotALog {
                why: formats::not_a_log(&head),
                empty: head.trim().is_empty(),
            });
        };
        let cap = self.max_line_bytes.max(1024);
        let mode = format.mode(&head);
        let as_records =
            format.json() && (mode == Mode::Document || crate::json_stream::needs_records(&head));
        // A read error (a truncated or corrupt .gz) ends this file only: what was read
        // before the damage is judged, and the run goes on.
        let damaged = match mode {
            Mode::Binary => match path.map(std::fs::File::open) {
                Some(Ok(f)) => {
                    let bytes = f.metadata().map_or(0, |m| m.len());
                    let r = format.read_binary(f, name);
                    out.progress(bytes, r.records);
                    for e in &r.errors {
                        out.error(e);
                    }
                    for d in r.deployments {
                        out.deployment(d)?;
                    }
                    None
                }
                Some(Err(e)) => Some(SourceError::at(name, 0, format!("cannot open: {e}"))),
                None => Some(SourceError::at(
                    name,
                    0,
                    format!(
                        "{} is read from a file (it is seeked), not from stdin",
                        format.name()
                    ),
                )),
            },
            // Pretty-printed JSON, arrays, `List`s and EventLists: record by record.
            _ if as_records => self.records(reader, format, name, cap, out)?,
            Mode::Lines => self.lines(reader, format, name, cap, out)?,
            Mode::Ordered => self.ordered(reader, format, name, cap, out)?,
            Mode::Document => self.document(reader, format, name, out)?,
        };
        if let Some(e) = damaged {
            out.error(&e);
        }
        Ok(Opened::Read(format))
    }

    /// The end of the inputs: audit requests whose last stage never came are judged on
    /// what they have.
    pub fn finish(&mut self, out: &mut dyn Consumer) -> std::io::Result<()> {
        let mut rest = Vec::new();
        self.correlator.finish(&mut rest);
        for d in rest {
            out.deployment(d)?;
        }
        Ok(())
    }

    /// One record as a service receives it — the audit webhook's body, a live source's
    /// event or inspect answer — read by `format` exactly as the same record in a file,
    /// through the same ordered stage (audit stages merged by request, pods linked to
    /// their controller). `name` is where it came from, in errors and alerts.
    pub fn receive(
        &mut self,
        format: &dyn LogFormat,
        text: &str,
        name: &str,
    ) -> Result<Received, SourceError> {
        Ok(self.stage(format.parse_received(text, name)?))
    }

    /// The ordered half of [`Pipeline::receive`], for a service that parses outside its
    /// lock on the pipeline (`format.parse_received`, the expensive part, runs on every
    /// core; only the stage is in order).
    pub fn stage(&mut self, parsed: LineOutput) -> Received {
        let mut r = Received::default();
        match parsed {
            LineOutput::Audit(records) => {
                for rec in records {
                    let key = rec.audit_id.clone();
                    let text = rec.event.clone();
                    self.correlator.push(rec, &mut r.ready);
                    let Some(key) = key else { continue };
                    if !self.correlator.is_pending(&key) {
                        r.settled.push(key);
                    } else if let Some(text) = text {
                        r.held.push((key, text));
                    }
                }
            }
            LineOutput::Deployments(d) => r.ready = d,
        }
        r
    }

    /// Let go of what the ordered stage holds for `key`, judged on what it has (a request
    /// whose final stage never came).
    pub fn release(&mut self, key: &str) -> Vec<Deployment> {
        let mut out = Vec::new();
        self.correlator.release(key, &mut out);
        out
    }

    /// Forget that these keys were ever completed: a service that could not store what
    /// they produced receives them again, and they must be judged again.
    pub fn forget(&mut self, keys: &[String]) {
        self.correlator.forget(keys);
    }

    /// Pods linked to the controller that made them, so far.
    pub fn linked_replicas(&self) -> usize {
        self.correlator.linked_replicas
    }

    fn route(
        &mut self,
        o: LineOutput,
        out: &mut dyn Consumer,
        ready: &mut Vec<Deployment>,
    ) -> std::io::Result<()> {
        match o {
            LineOutput::Audit(records) => {
                for r in records {
                    self.correlator.push(r, ready);
                }
            }
            LineOutput::Deployments(d) => ready.extend(d),
        }
        for d in ready.drain(..) {
            out.deployment(d)?;
        }
        Ok(())
    }

    /// Lines of a file, parsed on every core. `Ok(Some(error))` when reading the file
    /// failed part-way (what came before was judged).
    fn lines<R: Read + Send>(
        &mut self,
        reader: R,
        format: &'static dyn LogFormat,
        name: &str,
        cap: usize,
        out: &mut dyn Consumer,
    ) -> std::io::Result<Option<SourceError>> {
        let threads = self.threads;
        let (block_tx, block_rx) = sync_channel::<Block>(threads * 2);
        let block_rx = std::sync::Mutex::new(block_rx);
        let (out_tx, out_rx) = sync_channel::<Parsed>(threads * 2);
        let mut result: std::io::Result<Option<SourceError>> = Ok(None);
        std::thread::scope(|s| {
            let reader_handle = s.spawn(move || cut_blocks(reader, name, cap, &block_tx));
            for _ in 0..threads {
                let out_tx = out_tx.clone();
                let block_rx = &block_rx;
                s.spawn(move || {
                    loop {
                        let block = match block_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok(block) = block else { return };
                        if out_tx.send(parse_block(&block, format, name)).is_err() {
                            return;
                        }
                    }
                });
            }
            drop(out_tx);
            result = self.collect_in_order(out_rx, out).map(|()| None);
            if let Ok(Err(e)) = reader_handle.join()
                && result.is_ok()
            {
                result = Ok(Some(e));
            }
        });
        result
    }

    /// Take parsed blocks back in file order: merging stages and linking pods need it.
    fn collect_in_order(
        &mut self,
        rx: Receiver<Parsed>,
        out: &mut dyn Consumer,
    ) -> std::io::Result<()> {
        let mut waiting: BTreeMap<usize, Parsed> = BTreeMap::new();
        let mut next = 0usize;
        let mut ready = Vec::new();
        for parsed in rx {
            waiting.insert(parsed.seq, parsed);
            while let Some(p) = waiting.remove(&next) {
                next += 1;
                out.progress(p.bytes, p.lines);
                for o in p.outputs {
                    match o {
                        Ok(o) => self.route(o, out, &mut ready)?,
                        Err(e) => out.error(&e),
                    }
                }
            }
        }
        Ok(())
    }

    fn ordered<R: BufRead>(
        &mut self,
        mut reader: R,
        format: &'static dyn LogFormat,
        name: &str,
        cap: usize,
        out: &mut dyn Consumer,
    ) -> std::io::Result<Option<SourceError>> {
        let Some(mut state) = format.ordered() else {
            return Ok(Some(SourceError::at(
                name,
                0,
                format!("{} has no ordered reader", format.name()),
            )));
        };
        let mut buf = Vec::new();
        let mut line = 0usize;
        let mut ready = Vec::new();
        let mut damaged = None;
        loop {
            buf.clear();
            let n = match read_capped_line(&mut reader, &mut buf, cap) {
                Ok(Ok(n)) => n,
                Ok(Err(length)) => {
                    line += 1;
                    out.progress(length, 0);
                    out.error(&too_long(name, line, length, cap));
                    continue;
                }
                Err(e) => {
                    damaged = Some(SourceError::at(
                        name,
                        line + 1,
                        format!("cannot read further ({e}); the lines before were judged"),
                    ));
                    break;
                }
            };
            if n == 0 {
                break;
            }
            line += 1;
            out.progress(n as u64, 1);
            let text = String::from_utf8_lossy(&buf);
            if let Err(e) = state.push(text.trim_end(), name, line, &mut ready) {
                out.error(&e);
            }
            for d in ready.drain(..) {
                out.deployment(d)?;
            }
        }
        state.finish(name, &mut ready);
        for d in ready {
            out.deployment(d)?;
        }
        Ok(damaged)
    }

    /// A JSON file that is not JSON lines, cut into records by a streaming scanner (one
    /// record in memory at a time, however large the file), each parsed like a line of
    /// its format.
    fn records<R: BufRead>(
        &mut self,
        reader: R,
        format: &'static dyn LogFormat,
        name: &str,
        cap: usize,
        out: &mut dyn Consumer,
    ) -> std::io::Result<Option<SourceError>> {
        use crate::json_stream::{JsonRecords, Piece};
        let mut ready = Vec::new();
        for piece in JsonRecords::new(reader, cap) {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    return Ok(Some(SourceError::at(
                        name,
                        0,
                        format!("cannot read further ({e}); the records before were judged"),
                    )));
                }
            };
            match piece {
                Piece::Record { line, text } => {
                    out.progress(text.len() as u64, 1);
                    match format.parse_record(&text, name, line) {
                        Ok(o) => self.route(o, out, &mut ready)?,
                        Err(e) => out.error(&e),
                    }
                }
                Piece::TooLarge { line, bytes } => {
                    out.progress(bytes, 0);
                    out.error(&SourceError::at(
                        name,
                        line,
                        format!(
                            "record of {bytes} bytes is longer than --max-line-bytes {cap}: skipped"
                        ),
                    ));
                }
                Piece::Invalid { line, message } => {
                    out.error(&SourceError::at(name, line, message))
                }
            }
        }
        Ok(None)
    }

    fn document<R: Read>(
        &mut self,
        reader: R,
        format: &'static dyn LogFormat,
        name: &str,
        out: &mut dyn Consumer,
    ) -> std::io::Result<Option<SourceError>> {
        let mut text = String::new();
        if let Err(e) = reader
            .take(MAX_DOCUMENT_BYTES + 1)
            .read_to_string(&mut text)
        {
            return Ok(Some(SourceError::at(name, 0, format!("cannot read: {e}"))));
        }
        if text.len() as u64 > MAX_DOCUMENT_BYTES {
            return Ok(Some(SourceError::at(
                name,
                0,
                format!(
                    "document larger than {} MiB; export it as JSON lines",
                    MAX_DOCUMENT_BYTES >> 20
                ),
            )));
        }
        let (outs, errors) = format.parse_document(&text, name);
        out.progress(text.len() as u64, outs.len() as u64);
        for e in &errors {
            out.error(e);
        }
        let mut ready = Vec::new();
        for o in outs {
            self.route(o, out, &mut ready)?;
        }
        Ok(None)
    }
}

/// Read a whole log text in order: detection (unless `format` is given), every line or
/// record, stage merging and pod linking, as `hunt` reads a file. For the rule fixtures,
/// tests and small inputs.
pub fn read_all(text: &str, file: &str, format: Option<&'static dyn LogFormat>) -> Batch {
    struct Collect(Batch);
    impl Consumer for Collect {
        fn deployment(&mut self, d: Deployment) -> std::io::Result<()> {
            self.0.deployments.push(d);
            Ok(())
        }
        fn error(&mut self, e: &SourceError) {
            self.0.errors.push(e.clone());
        }
        fn progress(&mut self, _bytes: u64, records: u64) {
            self.0.documents += usize::try_from(records).unwrap_or(usize::MAX);
        }
    }
    let mut pipeline = Pipeline::new(1);
    pipeline.format = format;
    let mut out = Collect(Batch::default());
    let reader = Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
    // The consumer never fails: the results are infallible.
    if let Ok(Opened::NotALog { .. }) = pipeline.read(reader, None, file, &mut out) {
        out.0.errors.push(SourceError::at(
            file,
            0,
            "not a log format portcullis reads (use --input-format)",
        ));
    }
    let _ = pipeline.finish(&mut out);
    out.0
}

/// Gzip is recognised by its magic bytes, whatever the file is called.
fn maybe_gunzip(r: Box<dyn Read + Send>) -> std::io::Result<Box<dyn Read + Send>> {
    let mut r = BufReader::new(r);
    let magic = r.fill_buf()?;
    Ok(if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else {
        Box::new(r)
    })
}

/// A block of whole lines and the number of its first line.
struct Block {
    seq: usize,
    first_line: usize,
    data: Vec<u8>,
    /// Lines over the cap in this block (left empty in `data`).
    long: Vec<SourceError>,
}

/// What a worker made of a block.
struct Parsed {
    seq: usize,
    lines: u64,
    bytes: u64,
    outputs: Vec<Result<LineOutput, SourceError>>,
}

/// The reader thread: cut the stream into blocks of whole lines.
fn cut_blocks<R: Read>(
    reader: R,
    name: &str,
    cap: usize,
    block_tx: &std::sync::mpsc::SyncSender<Block>,
) -> Result<(), SourceError> {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let (mut seq, mut line) = (0usize, 1usize);
    loop {
        let mut data = Vec::with_capacity(BLOCK_BYTES + 4096);
        let mut lines = 0;
        let mut long = Vec::new();
        let mut failure = None;
        while data.len() < BLOCK_BYTES {
            match read_capped_line(&mut reader, &mut data, cap) {
                Ok(Ok(0)) => break,
                Ok(Ok(_)) => lines += 1,
                Ok(Err(length)) => {
                    // Kept as an empty line, so line numbers stay right.
                    data.push(b'\n');
                    long.push((line + lines, length));
                    lines += 1;
                }
                Err(e) => {
                    failure = Some(SourceError::at(
                        name,
                        line + lines,
                        format!("cannot read further ({e}); the lines before were judged"),
                    ));
                    break;
                }
            }
        }
        if !data.is_empty() || !long.is_empty() {
            let sent = block_tx.send(Block {
                seq,
                first_line: line,
                data,
                long: long
                    .into_iter()
                    .map(|(l, n)| too_long(name, l, n, cap))
                    .collect(),
            });
            if sent.is_err() {
                return Ok(());
            }
        } else if failure.is_none() {
            return Ok(());
        }
        if let Some(f) = failure {
            return Err(f);
        }
        seq += 1;
        line += lines;
    }
}

fn parse_block(block: &Block, format: &dyn LogFormat, name: &str) -> Parsed {
    let mut outputs: Vec<Result<LineOutput, SourceError>> =
        block.long.iter().cloned().map(Err).collect();
    let mut lines = 0u64;
    // memchr finds line ends a word at a time; `split` on a byte compares one at a time
    // and was a seventh of a one-thread run over long audit lines.
    let mut start = 0usize;
    let ends = memchr::memchr_iter(b'\n', &block.data).chain(std::iter::once(block.data.len()));
    for (i, end) in ends.enumerate() {
        let raw = &block.data[start.min(end)..end];
        start = end + 1;
        let line_no = block.first_line + i;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        match std::str::from_utf8(raw) {
            Ok(text) => match format.parse_line(text, name, line_no) {
                Ok(o) if o.is_empty() => {}
                other => outputs.push(other),
            },
            Err(_) => outputs.push(Err(SourceError::at(name, line_no, "not UTF-8 text"))),
        }
    }
    Parsed {
        seq: block.seq,
        lines,
        bytes: block.data.len() as u64,
        outputs,
    }
}

/// One line into `buf` (newline included), never more than `cap` bytes of it: a longer
/// line is consumed to its end without being kept, and reported as `Err(length)`.
fn read_capped_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    cap: usize,
) -> std::io::Result<Result<usize, u64>> {
    let start = buf.len();
    let n = reader.by_ref().take(cap as u64).read_until(b'\n', buf)?;
    if n < cap || buf.last() == Some(&b'\n') {
        return Ok(Ok(n));
    }
    // Over the cap: drop what was kept, skip the rest of the line in place.
    buf.truncate(start);
    let mut skipped = n as u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Err(skipped));
        }
        match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(Err(skipped + i as u64 + 1));
            }
            None => {
                let len = chunk.len();
                reader.consume(len);
                skipped += len as u64;
            }
        }
    }
}

fn too_long(name: &str, line: usize, length: u64, cap: usize) -> SourceError {
    SourceError::at(
        name,
        line,
        format!("line of {length} bytes is longer than --max-line-bytes {cap}: skipped"),
    )
}
