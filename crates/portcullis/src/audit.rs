//! `portcullis audit docker|kubernetes`: check the mitigations that make container
//! deployment hard, and say where each one is missing.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use portcullis_audit::{CHECKS, Check, Finding, docker, html, kubernetes, probe};
use portcullis_rules::Severity;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Jsonl,
    Sarif,
    Csv,
    Html,
}

#[derive(Args, Debug)]
pub struct Common {
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<AuditFormat>,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, default_value = "high", value_parser = |s: &str| s.parse::<Severity>())]
    pub fail_on: Severity,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// A Docker host: daemon.json, the dockerd command line, the socket, the docker group.
    Docker {
        /// Ask an endpoint for /version without credentials (repeatable).
        #[arg(long)]
        probe: Vec<String>,
        /// daemon.json to read (default /etc/docker/daemon.json).
        #[arg(long)]
        daemon_json: Option<String>,
        /// systemd unit or drop-in with dockerd's ExecStart (repeatable; default: the
        /// installed unit and the running dockerd's command line).
        #[arg(long)]
        unit: Vec<String>,
        /// Group file (default /etc/group).
        #[arg(long)]
        group_file: Option<String>,
        /// The Docker socket (default /var/run/docker.sock).
        #[arg(long)]
        socket: Option<String>,
        /// Users allowed in the docker group (root always is).
        #[arg(long)]
        admin: Vec<String>,
        /// Only probe; do not read this host's configuration.
        #[arg(long)]
        probe_only: bool,
        #[command(flatten)]
        common: Common,
    },
    /// A Kubernetes cluster, from `kubectl get … -o json` dumps.
    Kubernetes {
        /// Folder of dumps: roles, clusterroles, bindings, serviceaccounts, namespaces,
        /// networkpolicies, validatingwebhookconfigurations, validatingadmissionpolicies,
        /// kube-system pods, kubelet configz.
        #[arg(long)]
        dump: Option<PathBuf>,
        /// A live cluster: read the same objects from the API server of the kubeconfig's
        /// current context (client certificate or bearer token; the server is verified).
        #[arg(long, conflicts_with = "dump")]
        kubeconfig: Option<PathBuf>,
        /// The kubeconfig context to use instead of its current-context.
        #[arg(long, requires = "kubeconfig")]
        context: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

pub fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Docker {
            probe: probes,
            daemon_json,
            unit,
            group_file,
            socket,
            admin,
            probe_only,
            common,
        } => {
            let mut findings = Vec::new();
            if !probe_only {
                let mut host = docker::collect_host(
                    daemon_json.as_deref(),
                    &unit,
                    group_file.as_deref(),
                    socket.as_deref(),
                );
                host.admins.extend(admin);
                findings.extend(docker::analyze(&host));
            }
            for p in &probes {
                let answer = probe::probe(p, Duration::from_secs(3));
                match &answer {
                    probe::Probe::Answered { .. } => {}
                    probe::Probe::Refused(why) => eprintln!(
                        "portcullis: probe {p}: reached, no unauthenticated Docker API ({why})"
                    ),
                    probe::Probe::Unreachable(why) => {
                        eprintln!("portcullis: probe {p}: no answer ({why})")
                    }
                }
                findings.extend(probe::findings(p, &answer));
            }
            let scope: Vec<&Check> = CHECKS
                .iter()
                .copied()
                .filter(|c| c.code.starts_with("DKR"))
                .collect();
            let subject = if probe_only {
                format!("Docker API probe: {}", probes.join(", "))
            } else {
                "Docker host".to_string()
            };
            emit(
                &common,
                "Portcullis audit: Docker host",
                &subject,
                &scope,
                &findings,
                &[],
                "docker_config",
            )
        }
        AuditCommand::Kubernetes {
            dump,
            kubeconfig,
            context,
            common,
        } => {
            let (objects, errors, what) = match (dump, kubeconfig) {
                (Some(dump), _) => {
                    if !dump.is_dir() {
                        bail!("{}: not a folder", dump.display());
                    }
                    let (o, e) = kubernetes::load_dump(&dump);
                    (o, e, format!("Kubernetes cluster dump {}", dump.display()))
                }
                (None, Some(kc)) => {
                    let cluster =
                        portcullis_audit::live::Cluster::from_kubeconfig(&kc, context.as_deref())
                            .map_err(|e| anyhow::anyhow!(e))?;
                    let (o, e) = cluster.fetch().map_err(|e| anyhow::anyhow!(e))?;
                    if o.is_empty() {
                        for e in &e {
                            eprintln!("portcullis: input error: {e}");
                        }
                        bail!("{}: nothing could be read", cluster.server);
                    }
                    (
                        o,
                        e,
                        format!(
                            "Kubernetes cluster {} (context {})",
                            cluster.server, cluster.context
                        ),
                    )
                }
                (None, None) => bail!(
                    "pass --dump DIR (a folder of kubectl get … -o json files) or --kubeconfig FILE"
                ),
            };
            for e in &errors {
                eprintln!("portcullis: input error: {e}");
            }
            let report = kubernetes::analyze(&objects);
            let scope: Vec<&Check> = CHECKS
                .iter()
                .copied()
                .filter(|c| !c.code.starts_with("DKR"))
                .collect();
            let subject = format!(
                "{what} ({} objects, {} namespaces)",
                objects.len(),
                report.namespaces.len()
            );
            emit(
                &common,
                "Portcullis audit: Kubernetes",
                &subject,
                &scope,
                &report.findings,
                &report.grants,
                "k8s_config",
            )
        }
    }
}

fn emit(
    common: &Common,
    title: &str,
    subject: &str,
    scope: &[&Check],
    findings: &[Finding],
    grants: &[kubernetes::Grant],
    kind: &str,
) -> Result<ExitCode> {
    let tty = common.output.is_none() && std::io::stdout().is_terminal();
    let format = common.format.unwrap_or(if tty {
        AuditFormat::Table
    } else {
        AuditFormat::Jsonl
    });
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by(|a, b| {
        b.check
            .severity
            .cmp(&a.check.severity)
            .then(a.check.code.cmp(b.check.code))
    });
    let alerts: Vec<portcullis_output::Alert> = sorted.iter().map(|f| f.to_alert(kind)).collect();
    let text = match format {
        AuditFormat::Html => {
            html::render(title, subject, scope, findings, grants).map_err(anyhow::Error::msg)?
        }
        AuditFormat::Csv => portcullis_output::csv::document(&alerts),
        AuditFormat::Json => portcullis_output::json(&alerts) + "\n",
        AuditFormat::Jsonl => alerts
            .iter()
            .map(|a| portcullis_output::json_line(a) + "\n")
            .collect(),
        AuditFormat::Sarif => {
            portcullis_output::sarif(
                &alerts,
                &portcullis_audit::rule_infos(),
                env!("CARGO_PKG_VERSION"),
            ) + "\n"
        }
        AuditFormat::Table => {
            let mut s = String::new();
            if !grants.is_empty() {
                s.push_str(&who_can_deploy(grants, tty));
                s.push('\n');
            }
            s.push_str(&portcullis_output::table(
                &alerts,
                if tty { None } else { Some(160) },
                tty,
            ));
            for m in portcullis_audit::Mitigation::ALL {
                if let Some((pct, passed, total)) = html::score(m, scope, findings) {
                    s.push_str(&format!(
                        "{} {}: score {pct}/100 ({passed} of {total} checks pass)\n",
                        m.id(),
                        m.name()
                    ));
                }
            }
            s
        }
    };
    match &common.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    Ok(
        if findings.iter().any(|f| f.check.severity >= common.fail_on) {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// The headline: every grant that lets a subject create pods or workloads.
fn who_can_deploy(grants: &[kubernetes::Grant], tty: bool) -> String {
    use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED).set_header([
        "WHO CAN DEPLOY",
        "KIND",
        "SCOPE",
        "CAN CREATE",
        "EXEC",
        "ESCALATION",
        "VIA",
    ]);
    if !tty {
        t.force_no_tty();
        t.set_width(160);
    }
    for g in grants
        .iter()
        .filter(|g| g.abilities.can_deploy() || g.abilities.wildcard)
    {
        let a = &g.abilities;
        t.add_row(vec![
            g.subject.clone(),
            g.subject_kind.clone(),
            g.scope.clone(),
            if a.wildcard {
                "everything".into()
            } else {
                a.create.iter().cloned().collect::<Vec<_>>().join(", ")
            },
            if a.exec || a.ephemeral || a.wildcard {
                "yes".into()
            } else {
                String::new()
            },
            if a.wildcard {
                "all".into()
            } else {
                a.escalate.iter().cloned().collect::<Vec<_>>().join(", ")
            },
            format!("{} ({})", g.via, g.role),
        ]);
    }
    format!("{t}\n")
}
