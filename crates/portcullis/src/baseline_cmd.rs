//! `portcullis baseline`: learn what is expected where, from logs, and review it like
//! code (show, diff, merge) before `hunt --baseline` or `serve` trusts it.

use crate::hunt::{self, Expect, HuntArgs};
use anyhow::{Context, Result};
use clap::Subcommand;
use portcullis_baseline::{Baseline, Learner};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum BaselineCommand {
    /// Learn a baseline from logs (audit logs, Docker, Podman and containerd events, daemon
    /// and process logs), read as `hunt` reads them. Deployments the pack rates high or
    /// critical are counted, never learnt. With --baseline, extends that one.
    Learn {
        #[command(flatten)]
        hunt: Box<HuntArgs>,
        /// Where to write the baseline (YAML).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// A readable summary: one line a scope.
    Show { file: PathBuf },
    /// What B has that A does not (+) and what it lost (-); exit 1 when they differ.
    Diff { a: PathBuf, b: PathBuf },
    /// Merge baselines into one (caps still apply).
    Merge {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(short, long)]
        output: PathBuf,
    },
}

pub fn run(command: BaselineCommand) -> Result<ExitCode> {
    match command {
        BaselineCommand::Learn { mut hunt, output } => {
            let start = match hunt.baseline.take() {
                Some(p) => hunt::read_baseline(&p)?,
                None => Baseline::default(),
            };
            hunt.quiet = true;
            hunt.format = Some(hunt::HuntFormat::Jsonl);
            let (code, expect, stats) =
                hunt::run_with(*hunt, Expect::LearnOnly(Learner::new(start)))?;
            let Expect::LearnOnly(learner) = expect else {
                unreachable!("the context given is the context returned")
            };
            std::fs::write(&output, learner.baseline.to_yaml())
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "portcullis: learnt {} deployment(s) into {} scope(s) ({} refused as risky), written to {}",
                stats.learnt,
                learner.baseline.scopes.len(),
                stats.refused_risky,
                output.display()
            );
            // Input errors still fail the run: a baseline learnt from half a log is not
            // what the user asked for.
            Ok(if code == ExitCode::from(2) {
                code
            } else {
                ExitCode::SUCCESS
            })
        }
        BaselineCommand::Show { file } => {
            for line in hunt::read_baseline(&file)?.summary() {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        BaselineCommand::Diff { a, b } => {
            let lines = hunt::read_baseline(&a)?.diff(&hunt::read_baseline(&b)?);
            for line in &lines {
                println!("{line}");
            }
            Ok(if lines.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        BaselineCommand::Merge { files, output } => {
            let mut merged = Baseline::default();
            for f in &files {
                merged.merge(&hunt::read_baseline(f)?);
            }
            std::fs::write(&output, merged.to_yaml())
                .with_context(|| format!("writing {}", output.display()))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
