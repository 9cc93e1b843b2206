//! `portcullis serve` and `portcullis alerts`.

use crate::pack;
use crate::timefmt;
use anyhow::{Context, Result, anyhow};
use clap::Args;
use portcullis_rules::Severity;
use portcullis_server::{ServeConfig, State};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Serve configuration (YAML). Every key below overrides it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// HTTPS listener for /validate, /audit, /healthz, /readyz, /metrics.
    #[arg(long)]
    pub listen: Option<String>,
    #[arg(long)]
    pub tls_cert: Option<String>,
    #[arg(long)]
    pub tls_key: Option<String>,
    /// Folder for the self-signed pair made when no certificate is given.
    #[arg(long)]
    pub tls_dir: Option<String>,
    /// SQLite alert store ("" to disable).
    #[arg(long)]
    pub store: Option<String>,
    /// Docker AuthZ plugin socket (e.g. /run/docker/plugins/portcullis.sock).
    #[arg(long)]
    pub authz_socket: Option<String>,
    /// Docker daemon to watch (unix:///var/run/docker.sock, tcp://host:2376; "" disables).
    #[arg(long)]
    pub docker_host: Option<String>,
    /// Docker client certificates (ca.pem, cert.pem, key.pem) for a tcp:// daemon with
    /// --tlsverify.
    #[arg(long)]
    pub docker_cert_path: Option<String>,
    /// containerd socket to follow (/run/containerd/containerd.sock; "" disables).
    #[arg(long)]
    pub containerd_address: Option<String>,
    /// Baseline to compare deployments with (`portcullis baseline learn`); read again on
    /// SIGHUP.
    #[arg(long)]
    pub baseline: Option<String>,
    /// Asset inventory (CSV or JSON) to compare deployments with; read again on SIGHUP.
    #[arg(long)]
    pub inventory: Option<String>,
    /// Podman's Docker-compatible API to follow (unix:///run/podman/podman.sock; ""
    /// disables).
    #[arg(long)]
    pub podman_host: Option<String>,
    /// Bearer token for the audit webhook receiver (/audit).
    #[arg(long, env = "PORTCULLIS_AUDIT_TOKEN")]
    pub audit_token: Option<String>,
    /// Also print every alert as a JSON line on stdout.
    #[arg(long)]
    pub stdout_alerts: bool,
    /// Extra rule files or folders.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Rule config (lists, exceptions, overrides).
    #[arg(long)]
    pub rule_config: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let mut cfg: ServeConfig = match &args.config {
        Some(p) => serde_saphyr::from_str(
            &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .map_err(|e| anyhow!("{}: {e}", p.display()))?,
        None => ServeConfig::default(),
    };
    if let Some(v) = args.listen {
        cfg.listen = v;
    }
    if args.tls_cert.is_some() {
        cfg.tls_cert = args.tls_cert;
    }
    if args.tls_key.is_some() {
        cfg.tls_key = args.tls_key;
    }
    if let Some(v) = args.tls_dir {
        cfg.tls_dir = v;
    }
    if let Some(v) = args.store {
        cfg.store = v;
    }
    if let Some(v) = args.authz_socket {
        cfg.authz_socket = v;
    }
    if args.docker_host.is_some() {
        cfg.docker_host = args.docker_host;
    }
    if args.docker_cert_path.is_some() {
        cfg.docker_cert_path = args.docker_cert_path;
    }
    if args.containerd_address.is_some() {
        cfg.containerd_address = args.containerd_address;
    }
    if args.podman_host.is_some() {
        cfg.podman_host = args.podman_host;
    }
    if let Some(v) = args.baseline {
        cfg.baseline = v;
    }
    if let Some(v) = args.inventory {
        cfg.inventory = v;
    }
    if let Some(v) = args.audit_token {
        cfg.audit_token = v;
    }
    cfg.stdout_alerts |= args.stdout_alerts;
    let engine = pack::load(&args.rules, args.rule_config.as_deref())?;
    if cfg.pss.is_none() {
        cfg.pss = engine.config_pss();
    }
    let rules = args.rules.clone();
    let rule_config = args.rule_config.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(async move {
        let state = State::new(engine, cfg).map_err(|e| anyhow!(e))?;
        portcullis_server::run(state, move || {
            pack::load(&rules, rule_config.as_deref()).map_err(|e| format!("{e:#}"))
        })
        .await
        .map_err(|e| anyhow!(e))
    })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    /// The alert store.
    #[arg(long, default_value = "portcullis.db")]
    pub store: PathBuf,
    /// Rule codes or family prefixes.
    #[arg(long, value_delimiter = ',')]
    pub rule: Vec<String>,
    #[arg(long, value_parser = |s: &str| s.parse::<Severity>())]
    pub min_severity: Option<Severity>,
    /// Stored at or after (RFC 3339, or 24h, 7d).
    #[arg(long, value_parser = timefmt::parse_bound)]
    pub since: Option<f64>,
    #[arg(long, value_parser = timefmt::parse_bound)]
    pub until: Option<f64>,
    #[arg(long)]
    pub namespace: Option<String>,
    /// Substring of an image.
    #[arg(long)]
    pub image: Option<String>,
    #[arg(long)]
    pub limit: Option<usize>,
    /// Output format (default: table on a terminal, jsonl otherwise).
    #[arg(long, value_enum)]
    pub format: Option<crate::Format>,
    /// Delete alerts older than this many days, then exit.
    #[arg(long)]
    pub retain_days: Option<f64>,
}

pub fn alerts(args: AlertsArgs) -> Result<ExitCode> {
    if let Some(days) = args.retain_days {
        let n = portcullis_server::store::retain(&args.store, days).map_err(|e| anyhow!(e))?;
        eprintln!("portcullis: deleted {n} alert(s) older than {days} day(s)");
        return Ok(ExitCode::SUCCESS);
    }
    let q = portcullis_server::store::Query {
        rules: args.rule,
        min_severity: args.min_severity,
        since: args.since,
        until: args.until,
        namespace: args.namespace,
        image: args.image,
        limit: args.limit,
    };
    let (alerts, unreadable) =
        portcullis_server::store::query_alerts(&args.store, &q).map_err(|e| anyhow!(e))?;
    for e in &unreadable {
        eprintln!("portcullis: input error: {e}");
    }
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    // The same renderers as scan and hunt: an alert reads the same wherever it comes from.
    match args.format.unwrap_or(if tty {
        crate::Format::Table
    } else {
        crate::Format::Jsonl
    }) {
        crate::Format::Json => writeln!(out, "{}", portcullis_output::json(&alerts))?,
        crate::Format::Jsonl => {
            for a in &alerts {
                writeln!(out, "{}", portcullis_output::json_line(a))?;
            }
        }
        crate::Format::Csv => write!(out, "{}", portcullis_output::csv::document(&alerts))?,
        crate::Format::Sarif => {
            let engine = portcullis_rules::Engine::builtin()
                .map_err(|e| anyhow!("built-in rules: {} error(s)", e.len()))?;
            let rules = portcullis_output::rule_infos(&engine);
            writeln!(
                out,
                "{}",
                portcullis_output::sarif(&alerts, &rules, env!("CARGO_PKG_VERSION"))
            )?;
        }
        crate::Format::Table => {
            let width = if tty { None } else { Some(160) };
            write!(out, "{}", portcullis_output::timeline(&alerts, width, tty))?;
            writeln!(out, "{} alert(s)", alerts.len())?;
        }
    }
    // As scan and hunt: what could not be read makes the exit status 2.
    Ok(if unreadable.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
