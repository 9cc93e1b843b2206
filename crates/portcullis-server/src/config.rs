//! The serve configuration: one YAML file, every key also a flag, fixed for the process's
//! life; and the context files it names (baseline, inventory), loaded.

use crate::*;
use decision::Modes;
use portcullis_model::time::now;
use portcullis_rules::pss::Profile;

/// The serve configuration (YAML; every key also a flag).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeConfig {
    /// HTTPS listener for /validate, /audit, /healthz, /readyz, /metrics.
    pub listen: String,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    /// Where a self-signed pair is made on first start when no cert is given.
    pub tls_dir: String,
    /// SQLite alert store; empty disables it.
    pub store: String,
    /// Docker AuthZ plugin socket; empty disables it.
    pub authz_socket: String,
    /// Bearer token the API server's audit webhook presents; empty disables /audit.
    pub audit_token: String,
    /// Modes at the Kubernetes admission door (warnings reach the user there).
    pub modes: Modes,
    /// Modes at the Docker AuthZ door. The Docker API has no warning channel — the CLI
    /// never shows an AuthZ message on success — so `warn` there is a silent allow, read
    /// as `audit`; out of the box critical *and high* (escape primitives: SYS_ADMIN, raw
    /// disks, device cgroup rules, host PID with host user namespace) are enforced.
    #[serde(deserialize_with = "docker_modes")]
    pub docker_modes: Modes,
    pub exempt_namespaces: Vec<String>,
    #[serde(deserialize_with = "profile")]
    pub pss: Option<Profile>,
    /// Largest request body accepted, bytes.
    pub max_body: usize,
    /// Also write every stored alert as a JSON line to stdout.
    pub stdout_alerts: bool,
    /// Alerts below this severity are answered (warnings, audit annotations) but not
    /// stored or sent: hygiene notes on every request are noise at admission rates.
    #[serde(deserialize_with = "severity")]
    pub store_min_severity: portcullis_rules::Severity,
    /// Serve `/noop`, a handler that answers "allowed" without judging: the baseline the
    /// load benchmark compares /validate against, on the same TLS stack. Off by default.
    pub bench_noop: bool,
    /// Where stored alerts go next (file, webhook, syslog, elasticsearch, splunk_hec).
    pub sinks: Vec<sinks::SinkConfig>,
    /// How long the audit receiver waits for a request's final stage before judging what
    /// it has (a policy that omits later stages, an API server that died mid-request).
    pub audit_stage_wait_ms: u64,
    /// Most HTTPS connections open at once; more are closed as they arrive.
    pub max_connections: usize,
    /// A TLS handshake not finished in this time is dropped (slow or silent clients).
    pub tls_handshake_timeout_ms: u64,
    /// Request headers not read in this time (also: an idle keep-alive connection) close
    /// the connection.
    pub header_read_timeout_ms: u64,
    /// Docker daemon to follow (unix:// or tcp://); default: the local socket if present,
    /// "" disables the watcher.
    pub docker_host: Option<String>,
    /// Folder with `ca.pem`, `cert.pem`, `key.pem` (Docker's `DOCKER_CERT_PATH` layout) for a
    /// `tcp://` daemon run with `--tlsverify`.
    pub docker_cert_path: Option<String>,
    /// containerd's socket to follow; default: /run/containerd/containerd.sock when it
    /// exists, "" disables the source.
    pub containerd_address: Option<String>,
    /// containerd namespaces the containerd source skips: the orchestrators' own, judged
    /// at admission, in audit logs and by the Docker source.
    pub containerd_ignored_namespaces: Vec<String>,
    /// A baseline file (`portcullis baseline learn`): every door and source compares
    /// deployments with it (the EXP rules); read again on SIGHUP. "" for none.
    pub baseline: String,
    /// An asset inventory (CSV or JSON) compared like a baseline; read again on SIGHUP.
    pub inventory: String,
    /// Keep learning until this time (RFC 3339) or for this long after start (14d, 36h):
    /// what is judged, risky deployments excepted, is learnt on top of `baseline` and
    /// written to `baseline_learn_to` every minute and at the end, for review.
    pub baseline_learn_until: String,
    pub baseline_learn_to: String,
    /// Podman's Docker-compatible API to follow (unix://…); default: the rootful socket
    /// /run/podman/podman.sock when it exists, "" disables the source.
    pub podman_host: Option<String>,
}

pub(crate) fn severity<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<portcullis_rules::Severity, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

pub(crate) fn docker_modes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Modes, D::Error> {
    let partial: decision::PartialModes = serde::Deserialize::deserialize(d)?;
    Ok(partial.over(Modes::docker()))
}

pub(crate) fn profile<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Profile>, D::Error> {
    let s: Option<String> = serde::Deserialize::deserialize(d)?;
    s.map(|s| Profile::parse(&s).map_err(serde::de::Error::custom))
        .transpose()
}

impl Default for ServeConfig {
    fn default() -> ServeConfig {
        ServeConfig {
            listen: "127.0.0.1:8443".into(),
            tls_cert: None,
            tls_key: None,
            tls_dir: "portcullis-tls".into(),
            store: "portcullis.db".into(),
            authz_socket: String::new(),
            audit_token: String::new(),
            modes: Modes::default(),
            docker_modes: Modes::docker(),
            exempt_namespaces: Vec::new(),
            pss: None,
            max_body: 3 * 1024 * 1024,
            stdout_alerts: false,
            docker_host: None,
            docker_cert_path: None,
            containerd_address: None,
            containerd_ignored_namespaces: vec!["k8s.io".into(), "moby".into()],
            baseline: String::new(),
            inventory: String::new(),
            baseline_learn_until: String::new(),
            baseline_learn_to: String::new(),
            podman_host: None,
            audit_stage_wait_ms: 30_000,
            max_connections: 1024,
            tls_handshake_timeout_ms: 10_000,
            header_read_timeout_ms: 30_000,
            sinks: Vec::new(),
            bench_noop: false,
            store_min_severity: portcullis_rules::Severity::Low,
        }
    }
}

pub(crate) fn load_inventory(
    path: &str,
) -> Result<Option<portcullis_baseline::inventory::Inventory>, String> {
    if path.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("inventory {path}: {e}"))?;
    portcullis_baseline::inventory::Inventory::parse(&text, path).map(Some)
}

/// `baseline_learn_until` as a time; it needs `baseline_learn_to`.
pub(crate) fn learn_until(cfg: &ServeConfig) -> Result<Option<f64>, String> {
    let s = cfg.baseline_learn_until.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if cfg.baseline_learn_to.is_empty() {
        return Err(
            "baseline_learn_until needs baseline_learn_to (where the learnt baseline is written)"
                .into(),
        );
    }
    if let Some(t) = portcullis_model::time::parse_time(s) {
        return Ok(Some(t));
    }
    portcullis_model::time::parse_duration(s)
        .map(|d| Some(now() + d))
        .map_err(|_| format!("baseline_learn_until {s:?}: a time or a duration (14d, 36h)"))
}

pub(crate) fn load_baseline(path: &str) -> Result<Option<portcullis_baseline::Baseline>, String> {
    if path.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("baseline {path}: {e}"))?;
    portcullis_baseline::Baseline::from_yaml(&text)
        .map(Some)
        .map_err(|e| format!("baseline {path}: {e}"))
}
