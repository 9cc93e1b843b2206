//! `portcullis scan PATH…`: judge manifests and Compose files before they ship.

use crate::{Format, pack};
use anyhow::{Context, Result};
use clap::Args;
use portcullis_baseline::inventory::Inventory;
use portcullis_output::Alert;
use portcullis_rules::{Engine, EvalOptions, Selection, Severity};
use portcullis_sources::{SourceError, manifest};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Files or folders (searched recursively for .yaml, .yml, .json), or - for stdin.
    #[arg(required = true)]
    pub paths: Vec<String>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Only report findings at or above this severity.
    #[arg(long, default_value = "info", value_parser = parse_severity)]
    pub min_severity: Severity,
    #[command(flatten)]
    pub rule_args: pack::RuleArgs,
    /// Refuse files larger than this many bytes (with a located error).
    #[arg(long, default_value_t = manifest::DEFAULT_MAX_FILE_BYTES)]
    pub max_file_size: u64,
    /// An asset inventory (CSV or JSON; docs/baselines.md): manifests are checked against
    /// the registries and places it lists (EXP002, EXP007), for CI.
    #[arg(long)]
    pub inventory: Option<std::path::PathBuf>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

/// Everything one input produced.
#[derive(Default)]
pub struct FileResult {
    pub alerts: Vec<Alert>,
    pub errors: Vec<SourceError>,
    pub documents: usize,
    pub deployments: usize,
    pub suppressed: usize,
}

pub fn run(args: ScanArgs) -> Result<ExitCode> {
    let (engine, selection, pss) = args.rule_args.load()?;
    let opts = EvalOptions {
        pss,
        inline_suppressions: true,
    };
    let inputs = collect_inputs(&args.paths)?;
    let inventory = args
        .inventory
        .as_deref()
        .map(crate::hunt::read_inventory)
        .transpose()?;
    let results = scan_inputs(
        &engine,
        &selection,
        opts,
        &inputs,
        args.max_file_size,
        inventory.as_ref(),
    );

    let mut alerts: Vec<Alert> = Vec::new();
    let (mut errors, mut documents, mut deployments, mut suppressed) =
        (0usize, 0usize, 0usize, 0usize);
    let mut stderr = std::io::stderr().lock();
    for r in results {
        for e in &r.errors {
            writeln!(stderr, "portcullis: input error: {e}")?;
        }
        errors += r.errors.len();
        documents += r.documents;
        deployments += r.deployments;
        suppressed += r.suppressed;
        alerts.extend(
            r.alerts
                .into_iter()
                .filter(|a| a.severity >= args.min_severity),
        );
    }
    let tty = std::io::stdout().is_terminal();
    let format = args
        .format
        .unwrap_or(if tty { Format::Table } else { Format::Jsonl });
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => {
            let width = if tty { None } else { Some(160) };
            write!(out, "{}", portcullis_output::table(&alerts, width, tty))?;
            writeln!(
                out,
                "{} file(s), {documents} document(s), {deployments} workload(s) scanned; {suppressed} finding(s) suppressed; {errors} input error(s)",
                inputs.len()
            )?;
        }
        Format::Json => writeln!(out, "{}", portcullis_output::json(&alerts))?,
        Format::Jsonl => {
            for a in &alerts {
                writeln!(out, "{}", portcullis_output::json_line(a))?;
            }
        }
        Format::Sarif => writeln!(
            out,
            "{}",
            portcullis_output::sarif(
                &alerts,
                &portcullis_output::rule_infos(&engine),
                env!("CARGO_PKG_VERSION")
            )
        )?,
        Format::Csv => write!(out, "{}", portcullis_output::csv::document(&alerts))?,
    }
    out.flush()?;
    Ok(if errors > 0 {
        ExitCode::from(2)
    } else if alerts.iter().any(|a| a.severity >= args.fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// An input: a file path, or stdin.
pub enum Input {
    File(PathBuf),
    Stdin,
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".into(),
        }
    }
}

/// Expand folders (recursively, skipping hidden ones) into manifest files, in a stable order.
pub fn collect_inputs(paths: &[String]) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let path = PathBuf::from(p);
        if path.is_dir() {
            let files =
                portcullis_sources::walk::files(&path, portcullis_sources::walk::is_manifest)
                    .with_context(|| format!("reading folder {p}"))?;
            out.extend(files.into_iter().map(Input::File));
        } else {
            // A missing file is reported like any other input error, in order.
            out.push(Input::File(path));
        }
    }
    Ok(out)
}

/// Scan every input on all cores; results come back in input order.
pub fn scan_inputs(
    engine: &Engine,
    selection: &Selection,
    opts: EvalOptions,
    inputs: &[Input],
    max_bytes: u64,
    inventory: Option<&Inventory>,
) -> Vec<FileResult> {
    let evaluator = engine.evaluator(selection, opts);
    let next = AtomicUsize::new(0);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(inputs.len().max(1));
    let mut slots: Vec<Option<FileResult>> = (0..inputs.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = inputs.get(i) else { break };
                        done.push((i, scan_one(&evaluator, input, max_bytes, inventory)));
                    }
                    done
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (i, r) in done {
                    slots[i] = Some(r);
                }
            }
        }
    });
    slots.into_iter().map(Option::unwrap_or_default).collect()
}

fn read_input(input: &Input, max_bytes: u64) -> Result<String, SourceError> {
    let name = input.name();
    let err = |message: String| SourceError::at(&name, 0, message);
    let mut bytes = Vec::new();
    let limited = |r: &mut dyn Read, bytes: &mut Vec<u8>| r.take(max_bytes + 1).read_to_end(bytes);
    let read = match input {
        Input::Stdin => limited(&mut std::io::stdin().lock(), &mut bytes),
        Input::File(p) => match std::fs::File::open(p) {
            Ok(mut f) => limited(&mut f, &mut bytes),
            Err(e) => return Err(err(format!("cannot open: {e}"))),
        },
    };
    read.map_err(|e| err(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(err(format!(
            "larger than {max_bytes} bytes (--max-file-size); not scanned"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        SourceError {
            line,
            ..err("not UTF-8 text".into())
        }
    })
}

fn scan_one(
    evaluator: &portcullis_rules::Evaluator<'_>,
    input: &Input,
    max_bytes: u64,
    inventory: Option<&Inventory>,
) -> FileResult {
    let text = match read_input(input, max_bytes) {
        Ok(t) => t,
        Err(e) => {
            return FileResult {
                errors: vec![e],
                ..FileResult::default()
            };
        }
    };
    let mut batch = manifest::read(&text, &input.name());
    if let Some(inv) = inventory {
        for d in &mut batch.deployments {
            d.expectation = inv.expectation(d);
        }
    }
    let mut r = FileResult {
        errors: batch.errors,
        documents: batch.documents,
        deployments: batch.deployments.len(),
        ..FileResult::default()
    };
    for dep in &batch.deployments {
        let ev = evaluator.evaluate(dep);
        r.suppressed += ev.suppressed;
        r.alerts
            .extend(ev.findings.iter().map(|f| Alert::new(dep, f)));
    }
    r
}
