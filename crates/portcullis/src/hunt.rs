//! `portcullis hunt PATH…`: sweep logs for container deployments.
//!
//! Reading is [`portcullis_sources::pipeline`]'s (formats, threads, caps, stage merging);
//! this module is the judging half, on the main thread: time filter, baselines,
//! evaluation, output.

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
use portcullis_sources::formats::{self, LogFormat};
use portcullis_sources::pipeline::{Consumer, DEFAULT_MAX_LINE_BYTES, Opened, Pipeline};
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
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
    #[arg(long, value_parser = formats::by_name)]
    pub input_format: Option<&'static dyn LogFormat>,
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

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

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
    let mut pipeline = Pipeline::new(
        args.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    );
    pipeline.max_line_bytes = args.max_line_bytes;
    pipeline.format = args.input_format;
    let started = Instant::now();
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
        let mut feed = Feed {
            judge: &mut judge,
            progress: progress.as_ref(),
        };
        if let Opened::NotALog { why, empty } =
            pipeline.read(reader, input.as_deref(), &name, &mut feed)?
        {
            // Named on the command line: an error. Found in a folder (a README, a
            // manifest): skipped and counted.
            if *explicit && !empty {
                judge.stats.unreadable += 1;
                eprintln!(
                    "portcullis: input error: {name}: not a log format portcullis reads: {why} (use --input-format)"
                );
            } else {
                judge.stats.skipped_files += 1;
                eprintln!("portcullis: skipped {name}: {why}");
            }
        }
    }
    pipeline.finish(&mut Feed {
        judge: &mut judge,
        progress: progress.as_ref(),
    })?;
    judge.stats.linked_replicas = pipeline.linked_replicas();
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

/// The pipeline's consumer: the judge, and the progress bar it moves.
struct Feed<'j, 'e, 'w> {
    judge: &'j mut Judge<'e, 'w>,
    progress: Option<&'j indicatif::ProgressBar>,
}

impl Consumer for Feed<'_, '_, '_> {
    fn deployment(&mut self, d: Deployment) -> std::io::Result<()> {
        self.judge.deployment(d)
    }

    fn error(&mut self, e: &SourceError) {
        self.judge.error(e);
    }

    fn progress(&mut self, bytes: u64, records: u64) {
        let stats = &mut self.judge.stats;
        stats.bytes += bytes;
        stats.records += records;
        if let Some(pb) = self.progress {
            pb.inc(bytes);
            pb.set_message(format!(
                "{} records, {} alerts",
                stats.records, stats.alerts
            ));
        }
    }
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
            let files = portcullis_sources::walk::files(&path, |_| true)
                .with_context(|| format!("reading folder {p}"))?;
            out.extend(files.into_iter().map(|f| (Some(f), false)));
        } else {
            out.push((Some(path), true));
        }
    }
    Ok(out)
}
