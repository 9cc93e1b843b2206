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
            let rows = portcullis_server::store::query(&store, &Default::default())
                .map_err(anyhow::Error::msg)?;
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
fn learn_from_alerts(learner: &mut Learner, rows: &[serde_json::Value]) -> (u64, u64) {
    use portcullis_model::{Actor, Container, Deployment, ImageRef, Origin, PodSpec, Target};
    use std::collections::BTreeMap;
    let mut records: BTreeMap<String, Vec<&serde_json::Value>> = BTreeMap::new();
    for a in rows {
        let src = &a["source"];
        let key = src["id"].as_str().map_or_else(
            || format!("{}:{}:{}", src["file"], src["line"], src["document"]),
            str::to_string,
        );
        records.entry(key).or_default().push(a);
    }
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let list = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let (mut learnt, mut refused) = (0, 0);
    for alerts in records.values() {
        let risky = alerts
            .iter()
            .any(|a| matches!(a["severity"].as_str(), Some("high" | "critical")));
        if risky {
            learner.refuse_risky();
            refused += 1;
            continue;
        }
        let a = alerts[0];
        let t = &a["target"];
        let mut images: Vec<String> = alerts.iter().flat_map(|a| list(&a["images"])).collect();
        images.sort();
        images.dedup();
        let d = Deployment {
            origin: Origin {
                kind: a["source"]["kind"].as_str().unwrap_or("store").to_string(),
                ..Origin::default()
            },
            time: text(&a["time"]),
            actor: Actor {
                user: text(&a["actor"]["user"]),
                groups: list(&a["actor"]["groups"]),
                service_account: text(&a["actor"]["service_account"]),
                source_ips: list(&a["actor"]["source_ips"]),
                user_agent: text(&a["actor"]["user_agent"]),
                impersonator: None,
            },
            operation: serde_json::from_value(a["operation"].clone()).unwrap_or_default(),
            outcome: serde_json::from_value(a["outcome"].clone()).unwrap_or_default(),
            target: Target {
                kind: t["kind"].as_str().unwrap_or("").to_string(),
                api_version: t["api_version"].as_str().unwrap_or("").to_string(),
                namespace: text(&t["namespace"]),
                name: text(&t["name"]),
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
