//! `portcullis hunt PATH…`: sweep logs for container deployments.
//!
//! Pipeline per file: a reader thread cuts the (possibly gzipped) stream into blocks of
//! whole lines; worker threads, one per core, parse the lines of a block (the expensive
//! part); the main thread takes blocks back in order, merges audit stages and links
//! controller pods (which needs order), evaluates the rules and writes alerts. Channels are
//! bounded, so memory stays flat whatever the file size.

use crate::Format as OutputFormat;
use crate::pack;
use crate::timefmt;
use anyhow::{Context, Result};
use clap::Args;
use portcullis_baseline::inventory::{Inventory, combine};
use portcullis_baseline::{Baseline, Cadence, Learner};
use portcullis_model::Deployment;
use portcullis_output::Alert;
use portcullis_rules::{EvalOptions, Evaluator, Severity};
use portcullis_sources::SourceError;
use portcullis_sources::k8s_audit::Correlator;
use portcullis_sources::logs::{self, Format, Kind, LineOutput};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, sync_channel};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct HuntArgs {
    /// Log files or folders (recursive; .gz read transparently), or - for stdin.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Force the input format instead of detecting it per file.
    #[arg(long, value_parser = Format::parse)]
    pub input_format: Option<Format>,
    /// Only records at or after this time (RFC 3339, or a duration back from now: 24h, 7d).
    #[arg(long, value_parser = timefmt::parse_bound)]
    pub since: Option<f64>,
    /// Only records before this time.
    #[arg(long, value_parser = timefmt::parse_bound)]
    pub until: Option<f64>,
    /// Only report alerts at or above this severity (default: low for the table, whose
    /// info findings are counted in the summary; info for every other format).
    #[arg(long, value_parser = parse_severity)]
    pub min_severity: Option<Severity>,
    /// Exit 1 when an alert is at or above this severity.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    #[command(flatten)]
    pub rule_args: pack::RuleArgs,
    /// Worker threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// A line longer than this (bytes, after decompression) is an input error, skipped
    /// without being held in memory, whatever the format.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES)]
    pub max_line_bytes: usize,
    /// Judge each deployment against this baseline (`portcullis baseline learn`): the EXP
    /// rules fire on what is unexpected where it lands.
    #[arg(long, conflicts_with = "learn_first")]
    pub baseline: Option<PathBuf>,
    /// Learn a baseline from the first period of the logs (from the first record's time:
    /// 14d, 36h), then judge the rest against it, in one run.
    #[arg(long, value_parser = timefmt::parse_duration)]
    pub learn_first: Option<f64>,
    /// Write the baseline learnt with --learn-first here, for review.
    #[arg(long, requires = "learn_first")]
    pub save_baseline: Option<PathBuf>,
    /// An asset inventory (CSV or JSON; docs/baselines.md) used like a baseline a person
    /// wrote: expected deployers, registries, change windows; a place it does not list is
    /// unknown (EXP007). Combines with --baseline and --learn-first.
    #[arg(long)]
    pub inventory: Option<PathBuf>,
}

/// What deployments are compared with before they are judged.
pub enum Expect {
    /// Only their spec and record.
    None,
    /// A baseline given whole.
    Baseline(Baseline),
    /// Learn until `span` after the first record's time, then judge against what was
    /// learnt.
    LearnFirst {
        span: f64,
        until: Option<f64>,
        learner: Learner,
        frozen: Option<Baseline>,
    },
    /// `baseline learn`: learn from everything, report nothing.
    LearnOnly(Learner),
}

/// The default line cap: above the API server's 3 MiB request limit with room for a
/// RequestResponse event's two bodies, far below what would threaten memory.
pub const DEFAULT_MAX_LINE_BYTES: usize = 8 * 1024 * 1024;

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

/// Lines per block handed to a worker.
const BLOCK_BYTES: usize = 1 << 20;
/// A document-format file (`docker inspect`, an EventList, event XML) larger than this is
/// refused: it is read whole, and peak memory must stay bounded. Logs that size come as
/// lines.
const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

/// Totals for the closing summary.
#[derive(Default, Debug)]
pub struct Stats {
    pub files: usize,
    pub bytes: u64,
    pub records: u64,
    pub deployments: u64,
    pub alerts: u64,
    pub errors: u64,
    pub linked_replicas: usize,
    pub skipped_by_time: u64,
    pub unreadable: usize,
    pub skipped_files: usize,
    /// Deployments learnt into a baseline, and those refused as risky.
    pub learnt: u64,
    pub refused_risky: u64,
}

/// Where alerts go: streamed for json/jsonl/csv, gathered for the table.
struct Sink<'w> {
    format: OutputFormat,
    out: Box<dyn Write + 'w>,
    min: Severity,
    fail_on: Severity,
    failed: bool,
    gathered: Vec<Alert>,
    first_json: bool,
    count: u64,
    /// Info findings a table does not list unless asked.
    hidden_info: u64,
    /// The pack's rules, for a SARIF document's tool section.
    rules: Vec<portcullis_output::RuleInfo>,
}

impl Sink<'_> {
    fn start(&mut self) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => write!(self.out, "["),
            OutputFormat::Csv => writeln!(self.out, "{}", portcullis_output::csv::header()),
            _ => Ok(()),
        }
    }

    fn push(&mut self, alert: Alert) -> std::io::Result<()> {
        if alert.severity < self.min {
            if alert.severity == Severity::Info {
                self.hidden_info += 1;
            }
            return Ok(());
        }
        self.failed |= alert.severity >= self.fail_on;
        self.count += 1;
        match self.format {
            OutputFormat::Table | OutputFormat::Sarif => self.gathered.push(alert),
            OutputFormat::Jsonl => writeln!(self.out, "{}", portcullis_output::json_line(&alert))?,
            OutputFormat::Json => {
                let sep = if self.first_json { "\n" } else { ",\n" };
                self.first_json = false;
                write!(self.out, "{sep}{}", portcullis_output::json_line(&alert))?;
            }
            OutputFormat::Csv => writeln!(self.out, "{}", portcullis_output::csv::row(&alert))?,
        }
        Ok(())
    }

    fn finish(&mut self, stats: &Stats, elapsed: f64, tty: bool) -> std::io::Result<()> {
        match self.format {
            OutputFormat::Json => writeln!(self.out, "\n]")?,
            OutputFormat::Table => {
                let width = if tty { None } else { Some(160) };
                write!(
                    self.out,
                    "{}",
                    portcullis_output::timeline(&self.gathered, width, tty)
                )?;
                if self.hidden_info > 0 {
                    writeln!(
                        self.out,
                        "{} info finding(s) not listed (--min-severity info lists them)",
                        self.hidden_info
                    )?;
                }
                writeln!(self.out, "{}", summary_line(stats, elapsed))?;
            }
            OutputFormat::Sarif => writeln!(
                self.out,
                "{}",
                portcullis_output::sarif(&self.gathered, &self.rules, env!("CARGO_PKG_VERSION"))
            )?,
            _ => {}
        }
        self.out.flush()
    }
}

fn summary_line(s: &Stats, elapsed: f64) -> String {
    let mb = s.bytes as f64 / 1e6;
    let learnt = if s.learnt + s.refused_risky > 0 {
        format!(
            ", {} deployment(s) learnt into the baseline ({} refused as risky)",
            s.learnt, s.refused_risky
        )
    } else {
        String::new()
    };
    format!(
        "{} file(s) ({} not logs, skipped), {:.1} MB, {} record(s), {} deployment(s), {} alert(s), {} replica pod(s) linked to their workload, {} outside --since/--until, {} input error(s){learnt} in {:.2}s ({:.1} MB/s, {:.0} records/s)",
        s.files,
        s.skipped_files,
        mb,
        s.records,
        s.deployments,
        s.alerts,
        s.linked_replicas,
        s.skipped_by_time,
        s.errors,
        elapsed,
        mb / elapsed.max(1e-9),
        s.records as f64 / elapsed.max(1e-9)
    )
}

/// The judging half, on the main thread: time filter, evaluation, output.
struct Judge<'e, 'w> {
    evaluator: Evaluator<'e>,
    since: Option<f64>,
    until: Option<f64>,
    sink: Sink<'w>,
    stats: Stats,
    expect: Expect,
    inventory: Option<Inventory>,
    /// Deploys per scope and hour while judging against a baseline.
    cadence: Cadence,
}

impl Judge<'_, '_> {
    /// Learn from a deployment unless the pack rates it high or critical: what an attacker
    /// did while the baseline was learnt must not become expected.
    fn learn(evaluator: &Evaluator<'_>, learner: &mut Learner, stats: &mut Stats, d: &Deployment) {
        let risky = evaluator
            .evaluate(d)
            .findings
            .iter()
            .any(|f| f.severity >= Severity::High);
        if risky {
            learner.refuse_risky();
            stats.refused_risky += 1;
        } else {
            learner.learn(d);
            stats.learnt += 1;
        }
    }

    fn deployment(&mut self, mut d: Deployment) -> std::io::Result<()> {
        if self.since.is_some() || self.until.is_some() {
            // Records without a time are kept: absence is not evidence of age.
            if let Some(t) = d.time.as_deref().and_then(timefmt::parse_time)
                && (self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u))
            {
                self.stats.skipped_by_time += 1;
                return Ok(());
            }
        }
        self.stats.deployments += 1;
        match &mut self.expect {
            Expect::None => {}
            Expect::Baseline(b) => d.expectation = b.expectation_paced(&d, &mut self.cadence),
            Expect::LearnOnly(learner) => {
                Judge::learn(&self.evaluator, learner, &mut self.stats, &d);
                return Ok(());
            }
            Expect::LearnFirst {
                span,
                until,
                learner,
                frozen,
            } => {
                if frozen.is_none() {
                    let t = d.time.as_deref().and_then(timefmt::parse_time);
                    if until.is_none() {
                        *until = t.map(|t| t + *span);
                    }
                    match (t, *until) {
                        (Some(t), Some(u)) if t >= u => {
                            *frozen = Some(std::mem::take(&mut learner.baseline));
                        }
                        // Still learning: judged on its spec alone, and learnt.
                        _ => Judge::learn(&self.evaluator, learner, &mut self.stats, &d),
                    }
                }
                if let Some(b) = frozen {
                    d.expectation = b.expectation_paced(&d, &mut self.cadence);
                }
            }
        }
        if let Some(inv) = &self.inventory {
            d.expectation = combine(d.expectation.take(), inv.expectation(&d));
        }
        let ev = self.evaluator.evaluate(&d);
        for f in &ev.findings {
            self.stats.alerts += 1;
            self.sink.push(Alert::new(&d, f))?;
        }
        Ok(())
    }

    fn error(&mut self, e: &SourceError) {
        self.stats.errors += 1;
        // Thousands of garbage lines must not flood the terminal: report the first ones.
        if self.stats.errors <= 100 {
            eprintln!("portcullis: input error: {e}");
        } else if self.stats.errors == 101 {
            eprintln!("portcullis: further input errors are counted, not shown");
        }
    }
}

pub fn run(args: HuntArgs) -> Result<ExitCode> {
    let expect = match (&args.baseline, args.learn_first) {
        (Some(path), _) => Expect::Baseline(read_baseline(path)?),
        (None, Some(span)) => Expect::LearnFirst {
            span,
            until: None,
            learner: Learner::default(),
            frozen: None,
        },
        (None, None) => Expect::None,
    };
    let save = args.save_baseline.clone();
    let (code, expect, _) = run_with(args, expect)?;
    if let (
        Some(path),
        Expect::LearnFirst {
            learner, frozen, ..
        },
    ) = (save, expect)
    {
        let b = frozen.unwrap_or(learner.baseline);
        std::fs::write(&path, b.to_yaml())
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "portcullis: baseline of {} deployment(s) ({} refused as risky) written to {}",
            b.learnt.deployments,
            b.learnt.refused_risky,
            path.display()
        );
    }
    Ok(code)
}

/// An inventory file, or an error naming it.
pub fn read_inventory(path: &Path) -> Result<Inventory> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Inventory::parse(&text, &path.display().to_string()).map_err(anyhow::Error::msg)
}

/// A baseline file, or an error naming it.
pub fn read_baseline(path: &Path) -> Result<Baseline> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Baseline::from_yaml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Read every input and judge (or learn from) what it holds; the context comes back,
/// with what it learnt.
pub fn run_with(args: HuntArgs, expect: Expect) -> Result<(ExitCode, Expect, Stats)> {
    let (engine, selection, pss) = args.rule_args.load()?;
    let opts = EvalOptions {
        pss,
        // Annotations in logs were written by whoever deployed: never a suppression.
        inline_suppressions: false,
    };
    let inputs = collect(&args.paths)?;
    let total_bytes: u64 = inputs
        .iter()
        .filter_map(|(p, _)| {
            p.as_ref()
                .and_then(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
        })
        .sum();
    let tty = std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if tty {
        OutputFormat::Table
    } else {
        OutputFormat::Jsonl
    });
    let stdout = std::io::stdout();
    let mut judge = Judge {
        evaluator: engine.evaluator(&selection, opts),
        since: args.since,
        until: args.until,
        sink: Sink {
            format,
            out: Box::new(std::io::BufWriter::new(stdout.lock())),
            min: args
                .min_severity
                .unwrap_or(if format == OutputFormat::Table {
                    Severity::Low
                } else {
                    Severity::Info
                }),
            fail_on: args.fail_on,
            failed: false,
            gathered: Vec::new(),
            first_json: true,
            count: 0,
            hidden_info: 0,
            rules: if format == OutputFormat::Sarif {
                portcullis_output::rule_infos(&engine)
            } else {
                Vec::new()
            },
        },
        stats: Stats::default(),
        expect,
        inventory: args.inventory.as_deref().map(read_inventory).transpose()?,
        cadence: Cadence::default(),
    };
    let progress = (!args.quiet
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none())
    .then(|| {
        let pb = indicatif::ProgressBar::new(total_bytes);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        pb
    });
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let started = Instant::now();
    let mut correlator = Correlator::default();
    judge.sink.start()?;
    for (input, explicit) in &inputs {
        let name = input
            .as_ref()
            .map_or("-".to_string(), |p| p.display().to_string());
        judge.stats.files += 1;
        let reader: Box<dyn Read + Send> = match input {
            Some(p) => match std::fs::File::open(p) {
                Ok(f) => Box::new(f),
                Err(e) => {
                    judge.stats.unreadable += 1;
                    eprintln!("portcullis: input error: {name}: cannot open: {e}");
                    continue;
                }
            },
            None => Box::new(std::io::stdin()),
        };
        let unzipped = match maybe_gunzip(reader) {
            Ok(r) => r,
            Err(e) => {
                judge.error(&SourceError::at(&name, 0, format!("cannot read: {e:#}")));
                continue;
            }
        };
        let mut reader = BufReader::with_capacity(1 << 16, unzipped);
        let head = match reader.fill_buf() {
            Ok(h) => String::from_utf8_lossy(h).into_owned(),
            Err(e) => {
                // A .gz damaged in its first block, or decompressing to garbage.
                judge.error(&SourceError::at(&name, 0, format!("cannot read: {e}")));
                continue;
            }
        };
        let Some(fmt) = args.input_format.or_else(|| logs::detect(&head)) else {
            // Named on the command line: an error. Found in a folder (a README, a
            // manifest): skipped and counted.
            let why = logs::not_a_log(&head);
            if *explicit && !head.trim().is_empty() {
                judge.stats.unreadable += 1;
                eprintln!(
                    "portcullis: input error: {name}: not a log format portcullis reads: {why} (use --input-format)"
                );
            } else {
                judge.stats.skipped_files += 1;
                eprintln!("portcullis: skipped {name}: {why}");
            }
            continue;
        };
        let progress_ref = progress.as_ref();
        let cap = args.max_line_bytes.max(1024);
        // A read error (a truncated or corrupt .gz) ends this file only: what was read
        // before the damage is judged, and the run goes on.
        let as_records = logs::is_json(fmt)
            && (fmt.kind() == Kind::Document
                || portcullis_sources::json_stream::needs_records(&head));
        let damaged = match fmt.kind() {
            // EVTX is read by its own parser, which seeks: from the file itself.
            Kind::Binary => match input.as_ref().map(std::fs::File::open) {
                Some(Ok(f)) => {
                    let r = portcullis_sources::evtx::read(std::io::BufReader::new(f), &name);
                    judge.stats.records += r.records;
                    judge.stats.bytes += input
                        .as_ref()
                        .and_then(|p| std::fs::metadata(p).ok())
                        .map_or(0, |m| m.len());
                    for e in &r.errors {
                        judge.error(e);
                    }
                    for d in r.deployments {
                        judge.deployment(d)?;
                    }
                    None
                }
                Some(Err(e)) => Some(SourceError::at(&name, 0, format!("cannot open: {e}"))),
                None => Some(SourceError::at(
                    &name,
                    0,
                    "EVTX is read from a file (it is seeked), not from stdin",
                )),
            },
            // Pretty-printed JSON, arrays, `List`s and EventLists: record by record.
            _ if as_records => hunt_records(
                reader,
                fmt,
                &name,
                cap,
                &mut judge,
                &mut correlator,
                progress_ref,
            )?,
            Kind::Lines if !(fmt == Format::XmlEvents && head.contains("<Events")) => hunt_lines(
                reader,
                fmt,
                &name,
                threads,
                cap,
                &mut judge,
                &mut correlator,
                progress_ref,
            )?,
            Kind::OrderedLines => hunt_ordered(reader, fmt, &name, cap, &mut judge, progress_ref)?,
            _ => {
                let mut text = String::new();
                let read = reader
                    .take(MAX_DOCUMENT_BYTES + 1)
                    .read_to_string(&mut text);
                if let Err(e) = read {
                    judge.error(&SourceError::at(&name, 0, format!("cannot read: {e}")));
                    continue;
                }
                if text.len() as u64 > MAX_DOCUMENT_BYTES {
                    judge.error(&SourceError::at(
                        &name,
                        0,
                        format!(
                            "document larger than {} MiB; export it as JSON lines",
                            MAX_DOCUMENT_BYTES >> 20
                        ),
                    ));
                    continue;
                }
                judge.stats.bytes += text.len() as u64;
                let (outs, errors) = logs::parse_document(fmt, &text, &name);
                for e in &errors {
                    judge.error(e);
                }
                let mut ready = Vec::new();
                for o in outs {
                    judge.stats.records += 1;
                    route(o, &mut correlator, &mut ready);
                }
                for d in ready {
                    judge.deployment(d)?;
                }
                None
            }
        };
        if let Some(e) = damaged {
            judge.error(&e);
        }
    }
    let mut rest = Vec::new();
    correlator.finish(&mut rest);
    for d in rest {
        judge.deployment(d)?;
    }
    judge.stats.linked_replicas = correlator.linked_replicas;
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let elapsed = started.elapsed().as_secs_f64();
    judge.sink.finish(&judge.stats, elapsed, tty)?;
    if format != OutputFormat::Table {
        eprintln!("portcullis: {}", summary_line(&judge.stats, elapsed));
    }
    // Input errors are never silent: whatever was found, the run did not read everything.
    let code = if judge.stats.unreadable > 0 || judge.stats.errors > 0 {
        ExitCode::from(2)
    } else if judge.sink.failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };
    Ok((code, judge.expect, judge.stats))
}

fn route(o: LineOutput, correlator: &mut Correlator, ready: &mut Vec<Deployment>) {
    match o {
        LineOutput::Audit(records) => {
            for r in records {
                correlator.push(r, ready);
            }
        }
        LineOutput::Deployments(d) => ready.extend(d),
    }
}

/// Gzip is recognised by its magic bytes, whatever the file is called.
fn maybe_gunzip(r: Box<dyn Read + Send>) -> Result<Box<dyn Read + Send>> {
    let mut r = BufReader::new(r);
    let magic = r.fill_buf().context("reading input")?;
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

/// Lines of a file, parsed on every core. `Ok(Some(error))` when reading the file failed
/// part-way (what came before was judged); `Err` only when the output cannot be written.
#[allow(clippy::too_many_arguments)]
fn hunt_lines<R: Read + Send>(
    reader: R,
    fmt: Format,
    name: &str,
    threads: usize,
    cap: usize,
    judge: &mut Judge<'_, '_>,
    correlator: &mut Correlator,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Option<SourceError>> {
    let (block_tx, block_rx) = sync_channel::<Block>(threads * 2);
    let block_rx = std::sync::Mutex::new(block_rx);
    let (out_tx, out_rx) = sync_channel::<Parsed>(threads * 2);
    let mut io_result: Result<Option<SourceError>> = Ok(None);
    std::thread::scope(|s| {
        // Reader: cut the stream into blocks of whole lines.
        let reader_handle = s.spawn(move || -> Result<(), SourceError> {
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
        });
        // Workers: parse the lines of a block.
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
                    let parsed = parse_block(&block, fmt, name);
                    if out_tx.send(parsed).is_err() {
                        return;
                    }
                }
            });
        }
        drop(out_tx);
        io_result = collect_in_order(out_rx, judge, correlator, progress).map(|()| None);
        if let Ok(Err(e)) = reader_handle.join()
            && io_result.is_ok()
        {
            io_result = Ok(Some(e));
        }
    });
    io_result
}

fn parse_block(block: &Block, fmt: Format, name: &str) -> Parsed {
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
            Ok(text) => match logs::parse_line(fmt, text, name, line_no) {
                Ok(LineOutput::Audit(r)) if r.is_empty() => {}
                Ok(LineOutput::Deployments(d)) if d.is_empty() => {}
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

/// Take parsed blocks back in file order: merging stages and linking pods need it.
fn collect_in_order(
    rx: Receiver<Parsed>,
    judge: &mut Judge<'_, '_>,
    correlator: &mut Correlator,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<()> {
    let mut waiting: BTreeMap<usize, Parsed> = BTreeMap::new();
    let mut next = 0usize;
    let mut ready = Vec::new();
    for parsed in rx {
        waiting.insert(parsed.seq, parsed);
        while let Some(p) = waiting.remove(&next) {
            next += 1;
            judge.stats.records += p.lines;
            judge.stats.bytes += p.bytes;
            if let Some(pb) = progress {
                pb.inc(p.bytes);
                pb.set_message(format!(
                    "{} records, {} alerts",
                    judge.stats.records, judge.stats.alerts
                ));
            }
            for o in p.outputs {
                match o {
                    Ok(o) => route(o, correlator, &mut ready),
                    Err(e) => judge.error(&e),
                }
            }
            for d in ready.drain(..) {
                judge.deployment(d)?;
            }
        }
    }
    Ok(())
}

fn hunt_ordered<R: BufRead>(
    mut reader: R,
    fmt: Format,
    name: &str,
    cap: usize,
    judge: &mut Judge<'_, '_>,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Option<SourceError>> {
    let mut state = logs::Ordered::new(fmt);
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
                judge.stats.bytes += length;
                judge.error(&too_long(name, line, length, cap));
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
        judge.stats.bytes += n as u64;
        judge.stats.records += 1;
        if let Some(pb) = progress {
            pb.inc(n as u64);
        }
        let text = String::from_utf8_lossy(&buf);
        if let Err(e) = state.push(text.trim_end(), name, line, &mut ready) {
            judge.error(&e);
        }
        for d in ready.drain(..) {
            judge.deployment(d)?;
        }
    }
    state.finish(name, &mut ready);
    for d in ready {
        judge.deployment(d)?;
    }
    Ok(damaged)
}

/// A JSON file that is not JSON lines, cut into records by a streaming scanner (one record
/// in memory at a time, however large the file), each parsed like a line of its format.
fn hunt_records<R: BufRead>(
    reader: R,
    fmt: Format,
    name: &str,
    cap: usize,
    judge: &mut Judge<'_, '_>,
    correlator: &mut Correlator,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Option<SourceError>> {
    use portcullis_sources::json_stream::{JsonRecords, Piece};
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
                judge.stats.records += 1;
                judge.stats.bytes += text.len() as u64;
                if let Some(pb) = progress {
                    pb.inc(text.len() as u64);
                }
                match logs::parse_record(fmt, &text, name, line) {
                    Ok(o) => route(o, correlator, &mut ready),
                    Err(e) => judge.error(&e),
                }
            }
            Piece::TooLarge { line, bytes } => {
                judge.stats.bytes += bytes;
                judge.error(&SourceError::at(
                    name,
                    line,
                    format!(
                        "record of {bytes} bytes is longer than --max-line-bytes {cap}: skipped"
                    ),
                ));
            }
            Piece::Invalid { line, message } => judge.error(&SourceError::at(name, line, message)),
        }
        for d in ready.drain(..) {
            judge.deployment(d)?;
        }
    }
    Ok(None)
}

/// Files to hunt, and whether each was named explicitly: folders recursively (hidden
/// entries skipped), `-` is stdin (`None`).
fn collect(paths: &[String]) -> Result<Vec<(Option<PathBuf>, bool)>> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push((None, true));
            continue;
        }
        let path = PathBuf::from(p);
        if path.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files).with_context(|| format!("reading folder {p}"))?;
            files.sort();
            out.extend(files.into_iter().map(|f| (Some(f), false)));
        } else {
            out.push((Some(path), true));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&entry.path(), out)?;
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}
