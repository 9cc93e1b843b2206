//! `portcullis`: a thin binary over the library crates. Commands parse their arguments,
//! call the libraries and choose an exit code: 0 clean, 1 findings at or above the
//! threshold, 2 usage or input error.

mod audit;
mod baseline_cmd;
mod hunt;
mod pack;
mod rules_cmd;
mod scan;
mod serve;
mod timefmt;

use clap::{Parser, Subcommand, ValueEnum};

// Why a different allocator: `serve` allocates many short-lived JSON values per review on
// every worker thread, and glibc's malloc serialises those threads on arena locks (in a
// profile of /validate under load, malloc/free plus their lock waits were over a quarter of
// the CPU). mimalloc keeps per-thread heaps. `hunt` and `scan` benefit the same way.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::io::Write;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Detect and prevent container deployment as an attack (MITRE ATT&CK T1610)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan manifests and Compose files before they ship.
    Scan(scan::ScanArgs),
    /// Hunt through Kubernetes audit logs, Docker events and daemon logs, and process logs.
    Hunt(hunt::HuntArgs),
    /// Admission webhook, audit webhook receiver and Docker authorization plugin.
    Serve(serve::ServeArgs),
    /// Query the alert store.
    Alerts(serve::AlertsArgs),
    /// Check the mitigations that make container deployment hard (Docker hosts, clusters).
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Learn, show, diff and merge baselines: what deployments are expected where.
    Baseline {
        #[command(subcommand)]
        command: baseline_cmd::BaselineCommand,
    },
    /// List the rule pack, show a rule's docs, or write the docs for every rule.
    Rules {
        #[command(subcommand)]
        command: rules_cmd::RulesCommand,
    },
}

/// Output formats shared by every command (each renderer lives in `portcullis-output`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Jsonl,
    Sarif,
    Csv,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Structured logs on stderr; RUST_LOG tunes them (default: info). PORTCULLIS_LOG=json
    // writes one JSON object per line for a log pipeline; colours only on a terminal.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,evtx=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if std::env::var("PORTCULLIS_LOG").is_ok_and(|v| v == "json") {
        logs.json().init();
    } else {
        logs.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    let result = match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Audit { command } => audit::run(command),
        Command::Serve(args) => serve::run(args),
        Command::Alerts(args) => serve::alerts(args),
        Command::Rules { command } => rules_cmd::run(command),
        Command::Baseline { command } => baseline_cmd::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`portcullis scan … | head`) is not an error.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "portcullis: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
