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
    /// Learn from serve's alert store: the deployments its alerts describe (deployer,
    /// target, images, time), risky ones refused. The store holds only what raised an
    /// alert at `store_min_severity`, so logs, where you have them, teach more.
    LearnStore {
        /// The SQLite alert store.
        store: PathBuf,
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
            hunt.format = Some(crate::Format::Jsonl);
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
        BaselineCommand::LearnStore { store, output } => {
            let (rows, unreadable) =
                portcullis_server::store::query_alerts(&store, &Default::default())
                    .map_err(anyhow::Error::msg)?;
            for e in &unreadable {
                eprintln!("portcullis: input error: {e} (not learnt)");
            }
            let mut learner = Learner::default();
            let (learnt, refused) = learn_from_alerts(&mut learner, &rows);
            std::fs::write(&output, learner.baseline.to_yaml())
                .with_context(|| format!("writing {}", output.display()))?;
            eprintln!(
                "portcullis: learnt {learnt} deployment(s) from {} alert(s) ({refused} refused as risky), written to {}",
                rows.len(),
                output.display()
            );
            Ok(ExitCode::SUCCESS)
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

/// The deployments stored alerts describe, one per record (its alerts share a source id),
/// learnt unless one of its alerts is high or critical.
fn learn_from_alerts(learner: &mut Learner, alerts: &[portcullis_output::Alert]) -> (u64, u64) {
    use portcullis_model::{Container, Deployment, ImageRef, Origin, PodSpec, Target};
    use portcullis_rules::Severity;
    use std::collections::BTreeMap;
    let mut records: BTreeMap<String, Vec<&portcullis_output::Alert>> = BTreeMap::new();
    for a in alerts {
        let src = &a.source;
        let key = src
            .id
            .clone()
            .unwrap_or_else(|| format!("{}:{}:{}", src.file, src.line, src.document));
        records.entry(key).or_default().push(a);
    }
    let (mut learnt, mut refused) = (0, 0);
    for group in records.values() {
        if group.iter().any(|a| a.severity >= Severity::High) {
            learner.refuse_risky();
            refused += 1;
            continue;
        }
        let a = group[0];
        let mut images: Vec<&String> = group.iter().flat_map(|a| &a.images).collect();
        images.sort();
        images.dedup();
        let d = Deployment {
            origin: Origin {
                kind: a.source.kind.clone(),
                ..Origin::default()
            },
            time: a.time.clone(),
            actor: a.actor.clone().unwrap_or_default(),
            operation: a.operation,
            outcome: a.outcome,
            target: Target {
                kind: a.target.kind.clone(),
                api_version: a.target.api_version.clone(),
                namespace: a.target.namespace.clone(),
                name: a.target.name.clone(),
                ..Target::default()
            },
            pod: (!images.is_empty()).then(|| PodSpec {
                containers: images
                    .iter()
                    .map(|i| Container {
                        image: ImageRef::parse(i),
                        ..Container::default()
                    })
                    .collect(),
                ..PodSpec::default()
            }),
            ..Deployment::default()
        };
        learner.learn(&d);
        learnt += 1;
    }
    (learnt, refused)
}
