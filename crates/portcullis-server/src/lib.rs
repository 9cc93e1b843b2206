//! `portcullis serve`: one process, one config, every front-end optional.
//!
//! - `/validate`: Kubernetes validating admission webhook (HTTPS only).
//! - `/audit`: Kubernetes audit webhook receiver (bearer token; stored before the 200).
//! - Docker authorization plugin on a unix socket.
//! - `/healthz`, `/readyz`, `/metrics`.
//!
//! Answers never wait on the store or a sink: admission and AuthZ alerts go through a
//! queue; the audit receiver, whose caller retries, waits until its alerts are durable.

pub mod admission;
pub mod authz;
pub mod decision;
pub mod live;
pub mod sinks;
pub mod store;
pub mod tls;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use decision::Modes;
use portcullis_model::{Deployment, Outcome};
use portcullis_output::Alert;
use portcullis_rules::Engine;
use portcullis_rules::pss::Profile;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Requests' worth of alerts the store may lag behind before answers wait for it.
const QUEUE_BATCHES: usize = 65_536;

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

fn severity<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<portcullis_rules::Severity, D::Error> {
    let s: String = serde::Deserialize::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn docker_modes<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Modes, D::Error> {
    let partial: decision::PartialModes = serde::Deserialize::deserialize(d)?;
    Ok(partial.over(Modes::docker()))
}

fn profile<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Profile>, D::Error> {
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

// Label values the server spells itself are `&'static str`: counting a request then
// allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    front_end: &'static str,
    decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: String,
    severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    door: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SourceLabels {
    pub(crate) source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    endpoint: &'static str,
}

struct Metrics {
    registry: Registry,
    requests: Family<EndpointLabels, Counter>,
    decisions: Family<DecisionLabels, Counter>,
    alerts: Family<RuleLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    queue: Gauge,
    delivered: Family<SinkLabels, Counter>,
    sink_failures: Family<SinkLabels, Counter>,
    /// Requests a door refused without judging (unknown endpoint, unreadable body…).
    refusals: Family<RefusalLabels, Counter>,
    /// Live sources: connected now (1/0), records judged, connections lost.
    pub(crate) live_up: Family<SourceLabels, Gauge>,
    pub(crate) live_records: Family<SourceLabels, Counter>,
    pub(crate) live_reconnects: Family<SourceLabels, Counter>,
    /// The series every admission answer touches, looked up once: a family lookup takes a
    /// lock and hashes its labels, three times a review.
    admitted: AdmissionSeries,
}

struct AdmissionSeries {
    answered: Counter,
    latency: Histogram,
    allow: Counter,
    warn: Counter,
    deny: Counter,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<EndpointLabels, Counter>::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let alerts = Family::<RuleLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0,
            ])
        });
        let queue = Gauge::default();
        registry.register(
            "requests",
            "Requests by endpoint and status code",
            requests.clone(),
        );
        registry.register("decisions", "Verdicts by front-end", decisions.clone());
        registry.register(
            "alerts",
            "Alerts raised, by rule and severity",
            alerts.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer, by endpoint",
            latency.clone(),
        );
        registry.register(
            "alert_queue_depth",
            "Alerts waiting for the store",
            queue.clone(),
        );
        let delivered = Family::<SinkLabels, Counter>::default();
        let sink_failures = Family::<SinkLabels, Counter>::default();
        registry.register(
            "sink_delivered",
            "Alerts delivered, by sink",
            delivered.clone(),
        );
        registry.register(
            "sink_failures",
            "Failed delivery attempts, by sink",
            sink_failures.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "door_refusals",
            "Requests denied because the door could not judge them, by door and reason",
            refusals.clone(),
        );
        let live_up = Family::<SourceLabels, Gauge>::default();
        let live_records = Family::<SourceLabels, Counter>::default();
        let live_reconnects = Family::<SourceLabels, Counter>::default();
        registry.register(
            "live_source_up",
            "1 while a live source is connected to what it follows, by source",
            live_up.clone(),
        );
        registry.register(
            "live_source_records",
            "Deployments a live source handed to the pack, by source",
            live_records.clone(),
        );
        registry.register(
            "live_source_reconnects",
            "Times a live source lost its stream and reconnected, by source",
            live_reconnects.clone(),
        );
        let decision = |decision| {
            decisions
                .get_or_create(&DecisionLabels {
                    front_end: "admission",
                    decision,
                })
                .clone()
        };
        let admitted = AdmissionSeries {
            answered: requests
                .get_or_create(&EndpointLabels {
                    endpoint: "validate",
                    code: 200,
                })
                .clone(),
            latency: latency
                .get_or_create(&LatencyLabels {
                    endpoint: "validate",
                })
                .clone(),
            allow: decision("allow"),
            warn: decision("warn"),
            deny: decision("deny"),
        };
        Metrics {
            admitted,
            registry,
            requests,
            decisions,
            alerts,
            latency,
            queue,
            delivered,
            sink_failures,
            refusals,
            live_up,
            live_records,
            live_reconnects,
        }
    }
}

struct Inner {
    /// Read on every request, swapped on SIGHUP: a load takes no lock and bumps no shared
    /// counter, so two workers judging at once do not fight over one cache line.
    engine: arc_swap::ArcSwap<Engine>,
    /// What deployments are compared with (`baseline`, `inventory`), swapped on SIGHUP
    /// like the pack.
    baseline: arc_swap::ArcSwapOption<portcullis_baseline::Baseline>,
    inventory: arc_swap::ArcSwapOption<portcullis_baseline::inventory::Inventory>,
    /// `baseline_learn_until`: until then, what the doors and sources see (risky
    /// deployments excepted) is learnt here and written to `baseline_learn_to` for review.
    learner: Option<Mutex<portcullis_baseline::Learner>>,
    learn_until: Option<f64>,
    /// Deploys per scope and hour, against the baseline's cadence.
    cadence: Mutex<portcullis_baseline::Cadence>,
    /// Fixed for the life of the process.
    config: ServeConfig,
    store: Option<store::Store>,
    metrics: Metrics,
    correlator: Mutex<portcullis_sources::k8s_audit::Correlator>,
    /// Audit requests waiting for their final stage: since when, and the event as received
    /// (also kept in the store). Locked after `correlator`.
    audit_waiting: Mutex<std::collections::HashMap<String, (Instant, String)>>,
    ready: AtomicBool,
    queue: tokio::sync::mpsc::Sender<Vec<Alert>>,
    sinks_notify: tokio::sync::Notify,
    /// What the Docker watcher has seen of each container's namespaces, so a create that
    /// joins `container:NAME` is judged with what NAME has.
    containers: Mutex<ContainerIndex>,
}

/// Which door a deployment is judged at: each has its own modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Admission,
    Docker,
}

/// Host namespaces of the containers the watcher inspected, by id and name; bounded.
#[derive(Default)]
pub struct ContainerIndex {
    by_key: std::collections::HashMap<String, HostNamespaces>,
    order: std::collections::VecDeque<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostNamespaces {
    pub pid: bool,
    pub network: bool,
    pub ipc: bool,
}

impl ContainerIndex {
    const CAP: usize = 20_000;

    pub fn insert(&mut self, key: &str, ns: HostNamespaces) {
        if key.is_empty() {
            return;
        }
        if self.by_key.insert(key.to_string(), ns).is_none() {
            self.order.push_back(key.to_string());
            while self.order.len() > Self::CAP {
                if let Some(old) = self.order.pop_front() {
                    self.by_key.remove(&old);
                }
            }
        }
    }

    /// By name, full id, or an id prefix of at least 12 characters (as `docker` accepts).
    pub fn get(&self, key: &str) -> Option<HostNamespaces> {
        let key = key.trim_start_matches('/');
        self.by_key.get(key).copied().or_else(|| {
            (key.len() >= 12)
                .then(|| {
                    self.by_key
                        .iter()
                        .find(|(k, _)| k.len() == 64 && k.starts_with(key))
                        .map(|(_, v)| *v)
                })
                .flatten()
        })
    }
}

/// Shared by every front-end.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

impl State {
    /// Build the state and start the background alert writer (needs a tokio runtime).
    pub fn new(engine: Engine, config: ServeConfig) -> Result<State, String> {
        let store = if config.store.is_empty() {
            None
        } else {
            Some(store::Store::open(std::path::Path::new(&config.store))?)
        };
        // Bounded: under a flood the queue pushes back instead of growing without limit.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Alert>>(QUEUE_BATCHES);
        let stdout = config.stdout_alerts;
        let baseline = load_baseline(&config.baseline)?;
        let inventory = load_inventory(&config.inventory)?;
        let learn_until = learn_until(&config)?;
        let state = State {
            inner: Arc::new(Inner {
                engine: arc_swap::ArcSwap::from_pointee(engine),
                baseline: arc_swap::ArcSwapOption::from(baseline.clone().map(Arc::new)),
                inventory: arc_swap::ArcSwapOption::from(inventory.map(Arc::new)),
                learner: learn_until.map(|_| {
                    Mutex::new(portcullis_baseline::Learner::new(
                        baseline.unwrap_or_default(),
                    ))
                }),
                learn_until,
                cadence: Mutex::new(portcullis_baseline::Cadence::default()),
                config,
                store: store.clone(),
                metrics: Metrics::new(),
                correlator: Mutex::new(portcullis_sources::k8s_audit::Correlator::default()),
                audit_waiting: Mutex::new(std::collections::HashMap::new()),
                ready: AtomicBool::new(true),
                queue: tx,
                sinks_notify: tokio::sync::Notify::new(),
                containers: Mutex::new(ContainerIndex::default()),
            }),
        };
        state.reload_waiting();
        let s2 = state.clone();
        tokio::spawn(async move {
            while let Some(batch) = rx.recv().await {
                s2.inner.metrics.queue.dec_by(batch.len() as i64);
                s2.persist(batch, stdout).await;
            }
        });
        Ok(state)
    }

    /// The rule pack in force; a request keeps the one it started with across a reload.
    pub fn engine(&self) -> arc_swap::Guard<Arc<Engine>> {
        self.inner.engine.load()
    }

    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    /// Swap in a new rule pack (SIGHUP). The caller keeps the old one if loading failed.
    pub fn reload(&self, engine: Engine) {
        self.inner.engine.store(Arc::new(engine));
    }

    /// Read the baseline and inventory files again (SIGHUP); on an error the loaded ones
    /// stay.
    pub fn reload_baseline(&self) -> Result<(), String> {
        let b = load_baseline(&self.config().baseline)?;
        let i = load_inventory(&self.config().inventory)?;
        self.inner.baseline.store(b.map(Arc::new));
        self.inner.inventory.store(i.map(Arc::new));
        Ok(())
    }

    /// The deployment as the pack should see it: compared with the baseline and the
    /// inventory when there are any (a copy then; none without).
    fn in_context<'d>(&self, d: &'d Deployment) -> std::borrow::Cow<'d, Deployment> {
        let baseline = self.inner.baseline.load();
        let inventory = self.inner.inventory.load();
        if baseline.is_none() && inventory.is_none() {
            return std::borrow::Cow::Borrowed(d);
        }
        let mut c = d.clone();
        let compared = baseline
            .as_deref()
            .and_then(|b| match self.inner.cadence.lock() {
                Ok(mut cadence) => b.expectation_paced(d, &mut cadence),
                Err(_) => b.expectation(d),
            });
        c.expectation = portcullis_baseline::inventory::combine(
            compared,
            inventory.as_deref().and_then(|i| i.expectation(d)),
        );
        std::borrow::Cow::Owned(c)
    }

    /// While learning, take in a judged deployment unless the pack rated it high or
    /// critical (what an attacker did must not become expected).
    fn learn(&self, d: &Deployment, risky: bool) {
        let (Some(learner), Some(until)) = (&self.inner.learner, self.inner.learn_until) else {
            return;
        };
        if now() >= until {
            return;
        }
        if let Ok(mut l) = learner.lock() {
            if risky {
                l.refuse_risky();
            } else {
                l.learn(d);
            }
        }
    }

    /// Write what has been learnt (for review; the judging baseline changes only when a
    /// person reloads one). Written to a temporary file and renamed, never half-written.
    pub fn save_learnt(&self) -> Result<(), String> {
        let Some(learner) = &self.inner.learner else {
            return Ok(());
        };
        let path = &self.config().baseline_learn_to;
        let yaml = learner
            .lock()
            .map_err(|_| "learner lock poisoned".to_string())?
            .baseline
            .to_yaml();
        let tmp = format!("{path}.tmp");
        std::fs::write(&tmp, yaml).map_err(|e| format!("{tmp}: {e}"))?;
        std::fs::rename(&tmp, path).map_err(|e| format!("{path}: {e}"))
    }

    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::SeqCst);
    }

    async fn persist(&self, alerts: Vec<Alert>, stdout: bool) {
        self.announce(&alerts, stdout);
        if let Some(store) = &self.inner.store {
            match store.insert(alerts).await {
                Ok(_) => self.inner.sinks_notify.notify_waiters(),
                Err(e) => tracing::error!(error = %e, "alert store write failed"),
            }
        }
    }

    /// Count alerts by rule and severity (`/metrics`), and print them when asked to.
    fn announce(&self, alerts: &[Alert], stdout: bool) {
        for a in alerts {
            self.inner
                .metrics
                .alerts
                .get_or_create(&RuleLabels {
                    rule: a.rule.id.clone(),
                    severity: a.severity.as_str().into(),
                })
                .inc();
            if stdout {
                println!("{}", portcullis_output::json_line(a));
            }
        }
    }

    fn sink_delivered(&self, sink: &str, n: usize) {
        self.inner
            .metrics
            .delivered
            .get_or_create(&SinkLabels { sink: sink.into() })
            .inc_by(n as u64);
    }

    /// Put the audit requests the store says are still waiting back in the correlator (a
    /// restart must not forget a request whose last stage had not come).
    fn reload_waiting(&self) {
        let cfg = self.config();
        if cfg.store.is_empty() {
            return;
        }
        let rows = match store::load_pending(std::path::Path::new(&cfg.store)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "could not read the audit requests left waiting");
                return;
            }
        };
        let (Ok(mut c), Ok(mut w)) = (
            self.inner.correlator.lock(),
            self.inner.audit_waiting.lock(),
        ) else {
            return;
        };
        let mut ready = Vec::new();
        for (id, waited, event) in rows {
            if let Ok(records) =
                portcullis_sources::k8s_audit::parse_line_keeping(&event, "audit-webhook", 0)
            {
                for r in records {
                    c.push(r, &mut ready);
                }
            }
            let since = Instant::now()
                .checked_sub(std::time::Duration::from_secs_f64(waited.max(0.0)))
                .unwrap_or_else(Instant::now);
            w.insert(id, (since, event));
        }
        if !w.is_empty() {
            tracing::info!(
                waiting = w.len(),
                "audit requests still waiting for their final stage, reloaded"
            );
        }
    }

    /// Judge the audit requests that have waited `max_age` for a final stage, store their
    /// alerts and forget them — all or nothing: if the store refuses, they keep waiting.
    pub async fn flush_waiting(&self, max_age: std::time::Duration) -> Result<usize, String> {
        let mut ready = Vec::new();
        let stale: Vec<(String, String)> = {
            let (Ok(mut c), Ok(w)) = (
                self.inner.correlator.lock(),
                self.inner.audit_waiting.lock(),
            ) else {
                return Err("audit state poisoned".into());
            };
            let stale: Vec<(String, String)> = w
                .iter()
                .filter(|(_, (since, _))| since.elapsed() >= max_age)
                .map(|(id, (_, ev))| (id.clone(), ev.clone()))
                .collect();
            for (id, _) in &stale {
                c.release(id, &mut ready);
            }
            stale
        };
        if stale.is_empty() {
            return Ok(0);
        }
        let alerts = self.detect(&ready);
        let n = alerts.len();
        let ids: Vec<String> = stale.iter().map(|(id, _)| id.clone()).collect();
        let stored = match &self.inner.store {
            Some(store) => {
                let commit = store::AuditCommit {
                    alerts: alerts.clone(),
                    waiting: Vec::new(),
                    done: ids.clone(),
                };
                store.commit_audit(commit).await.map(|_| {
                    self.announce(&alerts, self.config().stdout_alerts);
                    self.inner.sinks_notify.notify_waiters();
                })
            }
            None => {
                self.enqueue(alerts).await;
                Ok(())
            }
        };
        let (Ok(mut c), Ok(mut w)) = (
            self.inner.correlator.lock(),
            self.inner.audit_waiting.lock(),
        ) else {
            return Err("audit state poisoned".into());
        };
        match stored {
            Ok(()) => {
                for id in &ids {
                    w.remove(id);
                }
                Ok(n)
            }
            Err(e) => {
                // Back to waiting: judged again on the next attempt.
                c.forget(&ids);
                let mut none = Vec::new();
                for (_, event) in &stale {
                    if let Ok(records) =
                        portcullis_sources::k8s_audit::parse_line_keeping(event, "audit-webhook", 0)
                    {
                        for r in records {
                            c.push(r, &mut none);
                        }
                    }
                }
                Err(e)
            }
        }
    }

    /// The metrics in OpenMetrics text.
    pub fn metrics_text(&self) -> Option<String> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.inner.metrics.registry)
            .ok()
            .map(|()| text)
    }

    /// A door refused a request it could not judge.
    pub(crate) fn refused(&self, door: &'static str, reason: &'static str) {
        self.inner
            .metrics
            .refusals
            .get_or_create(&RefusalLabels { door, reason })
            .inc();
    }

    /// Remember a container's host namespaces (the watcher, after an inspect).
    pub(crate) fn remember_container(&self, keys: &[&str], ns: HostNamespaces) {
        if let Ok(mut idx) = self.inner.containers.lock() {
            for k in keys {
                idx.insert(k.trim_start_matches('/'), ns);
            }
        }
    }

    /// A pod that joins `container:NAME` namespaces gets NAME's host namespaces, when the
    /// watcher has seen NAME.
    pub(crate) fn resolve_joins(&self, pod: &mut portcullis_model::PodSpec) {
        let Ok(idx) = self.inner.containers.lock() else {
            return;
        };
        for j in &pod.joined_namespaces {
            let Some((ns, name)) = j.split_once("=container:") else {
                continue;
            };
            let Some(host) = idx.get(name) else {
                continue;
            };
            match ns {
                "pid" => pod.host_pid |= host.pid,
                "network" => pod.host_network |= host.network,
                "ipc" => pod.host_ipc |= host.ipc,
                _ => {}
            }
        }
    }

    fn sink_failed(&self, sink: &str) {
        self.inner
            .metrics
            .sink_failures
            .get_or_create(&SinkLabels { sink: sink.into() })
            .inc();
    }

    /// Queue alerts (admission, AuthZ). The answer waits only if the queue is full — the
    /// store writer is more than QUEUE_BATCHES requests behind — and then it waits rather
    /// than drop an alert.
    /// Judge one deployment at a door (admission, AuthZ): findings decided by the configured
    /// modes, and the alerts worth keeping stamped with what became of the request.
    pub(crate) fn judge(&self, d: &Deployment, door: Door) -> (decision::Verdict, Vec<Alert>) {
        let cfg = self.config();
        let engine = self.engine();
        let modes = match door {
            Door::Admission => &cfg.modes,
            Door::Docker => &cfg.docker_modes,
        };
        // An audit-mode finding below the store's threshold becomes an audit annotation
        // (its code) and nothing else: no message, evidence or alert to build.
        let brief = |r: &portcullis_rules::RuleDef| {
            r.severity < cfg.store_min_severity
                && modes.mode(&r.code, r.severity) == decision::Mode::Audit
        };
        let d = &*self.in_context(d);
        let ev = self.evaluator(&engine, cfg).brief_when(&brief).evaluate(d);
        self.learn(
            d,
            ev.findings
                .iter()
                .any(|f| f.severity >= portcullis_rules::Severity::High),
        );
        let verdict = decision::decide(&ev.findings, modes);
        let outcome = if verdict.allowed {
            Outcome::Created
        } else {
            Outcome::Denied
        };
        let alerts = ev
            .findings
            .iter()
            .filter(|f| f.severity >= cfg.store_min_severity)
            .map(|f| {
                let mut a = Alert::new(d, f);
                a.outcome = outcome;
                a
            })
            .collect();
        (verdict, alerts)
    }

    /// Judge what was observed after the fact (audit events, Docker events): the alerts worth
    /// keeping, their outcome the one the source recorded.
    pub(crate) fn detect(&self, deployments: &[Deployment]) -> Vec<Alert> {
        let cfg = self.config();
        let engine = self.engine();
        // Findings below the store's threshold are dropped: only their rule is built.
        let brief = |r: &portcullis_rules::RuleDef| r.severity < cfg.store_min_severity;
        let evaluator = self.evaluator(&engine, cfg).brief_when(&brief);
        let mut alerts = Vec::new();
        for d in deployments {
            let d = &*self.in_context(d);
            let findings = evaluator.evaluate(d).findings;
            self.learn(
                d,
                findings
                    .iter()
                    .any(|f| f.severity >= portcullis_rules::Severity::High),
            );
            for f in findings {
                if f.severity >= cfg.store_min_severity {
                    alerts.push(Alert::new(d, &f));
                }
            }
        }
        alerts
    }

    /// How every front-end evaluates: the loaded pack and Pod Security profile, and never
    /// inline suppressions — whoever writes a request must not be able to silence its alert.
    fn evaluator<'e>(
        &self,
        engine: &'e Engine,
        cfg: &ServeConfig,
    ) -> portcullis_rules::Evaluator<'e> {
        engine.evaluator(
            &Default::default(),
            portcullis_rules::EvalOptions {
                pss: cfg.pss,
                inline_suppressions: false,
            },
        )
    }

    async fn enqueue(&self, alerts: Vec<Alert>) {
        // Producers keep only alerts at store_min_severity and up (`judge`, `detect`).
        if alerts.is_empty() {
            return;
        }
        self.inner.metrics.queue.inc_by(alerts.len() as i64);
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(batch)) =
            self.inner.queue.try_send(alerts)
        {
            tracing::warn!("alert queue full: answering after the store catches up");
            let _ = self.inner.queue.send(batch).await;
        }
    }

    fn observe(&self, endpoint: &'static str, code: u16, started: Instant) {
        self.inner
            .metrics
            .requests
            .get_or_create(&EndpointLabels { endpoint, code })
            .inc();
        self.inner
            .metrics
            .latency
            .get_or_create(&LatencyLabels { endpoint })
            .observe(started.elapsed().as_secs_f64());
    }

    fn decision(&self, front_end: &'static str, decision: &'static str) {
        self.inner
            .metrics
            .decisions
            .get_or_create(&DecisionLabels {
                front_end,
                decision,
            })
            .inc();
    }
}

fn bad_request(reason: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": reason})),
    )
        .into_response()
}

async fn validate(AxState(state): AxState<State>, body: Bytes) -> Response {
    let started = Instant::now();
    if body.len() > state.config().max_body {
        state.observe("validate", 413, started);
        return (StatusCode::PAYLOAD_TOO_LARGE, Json(serde_json::json!({"error": format!("review larger than {} bytes", state.config().max_body)}))).into_response();
    }
    match admission::review(&state, &body) {
        Ok((doc, alerts, verdict)) => {
            let series = &state.inner.metrics.admitted;
            match (verdict.allowed, verdict.warnings.is_empty()) {
                (false, _) => series.deny.inc(),
                (true, true) => series.allow.inc(),
                (true, false) => series.warn.inc(),
            };
            state.enqueue(alerts).await;
            series.answered.inc();
            series.latency.observe(started.elapsed().as_secs_f64());
            Json(doc).into_response()
        }
        Err(admission::BadReview(reason)) => {
            state.observe("validate", 400, started);
            bad_request(reason)
        }
    }
}

/// The API server's audit webhook backend: an `EventList` per POST.
async fn audit_webhook(
    AxState(state): AxState<State>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let token = state.config().audit_token.clone();
    if token.is_empty() {
        state.observe("audit", 404, started);
        return (
            StatusCode::NOT_FOUND,
            "audit receiver disabled (no audit_token)",
        )
            .into_response();
    }
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Compared in constant time: a byte-by-byte early exit tells a network attacker how
    // much of a guess was right.
    let matches = presented.is_some_and(|p| {
        use subtle::ConstantTimeEq;
        bool::from(p.as_bytes().ct_eq(token.as_bytes()))
    });
    if !matches {
        state.observe("audit", 401, started);
        return (StatusCode::UNAUTHORIZED, "bad or missing bearer token").into_response();
    }
    let text = match std::str::from_utf8(&body) {
        Ok(t) => t,
        Err(_) => {
            state.observe("audit", 400, started);
            return bad_request("body is not UTF-8".into());
        }
    };
    let records = match portcullis_sources::k8s_audit::parse_line_keeping(text, "audit-webhook", 0)
    {
        Ok(r) => r,
        Err(e) => {
            state.observe("audit", 400, started);
            return bad_request(e.to_string());
        }
    };
    let mut ready = Vec::new();
    let ids: Vec<String> = records.iter().filter_map(|r| r.audit_id.clone()).collect();
    let mut commit = store::AuditCommit::default();
    let mut finished = Vec::new();
    if let (Ok(mut c), Ok(mut w)) = (
        state.inner.correlator.lock(),
        state.inner.audit_waiting.lock(),
    ) {
        for r in records {
            let id = r.audit_id.clone();
            let event = r.event.clone();
            c.push(r, &mut ready);
            let Some(id) = id else { continue };
            if c.is_pending(&id) {
                if let Some(event) = event {
                    let since = w.get(&id).map_or_else(Instant::now, |(t, _)| *t);
                    w.insert(id.clone(), (since, event.clone()));
                    commit.waiting.push((id, event));
                }
            } else if let Some(was) = w.remove(&id) {
                commit.done.push(id.clone());
                finished.push((id, was));
            }
        }
    }
    let alerts = state.detect(&ready);
    commit.alerts = alerts.clone();
    // Durable before the 200: the API server retries what we do not acknowledge.
    if let Some(store) = &state.inner.store {
        if let Err(e) = store.commit_audit(commit).await {
            // Not stored, so not seen: the retry is judged again.
            if let (Ok(mut c), Ok(mut w)) = (
                state.inner.correlator.lock(),
                state.inner.audit_waiting.lock(),
            ) {
                c.forget(&ids);
                w.extend(finished);
            }
            state.observe("audit", 503, started);
            tracing::error!(error = %e, "audit batch refused: the alert store did not commit it");
            return (StatusCode::SERVICE_UNAVAILABLE, format!("alert store: {e}")).into_response();
        }
        // Stored like the queue writer stores: counted, printed when asked, sinks woken.
        state.announce(&alerts, state.config().stdout_alerts);
        state.inner.sinks_notify.notify_waiters();
    } else {
        state.enqueue(alerts).await;
    }
    state.observe("audit", 200, started);
    StatusCode::OK.into_response()
}

async fn metrics(AxState(state): AxState<State>) -> Response {
    let Some(text) = state.metrics_text() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

async fn readyz(AxState(state): AxState<State>) -> Response {
    if !state.inner.ready.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    if let Some(Err(e)) = state.inner.store.as_ref().map(store::Store::check) {
        return (StatusCode::SERVICE_UNAVAILABLE, e).into_response();
    }
    (StatusCode::OK, "ok").into_response()
}

/// Watch the store file: a deletion or replacement turns readiness red at once and is
/// logged loudly, even when no alert is being written.
pub async fn watch_store(state: State) {
    let Some(store) = state.inner.store.clone() else {
        return;
    };
    let mut reported = false;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        match store.check() {
            Err(e) if !reported => {
                tracing::error!(error = %e, "ALERT STORE LOST: alerts can no longer be stored");
                reported = true;
            }
            Ok(()) => reported = false,
            Err(_) => {}
        }
    }
}

fn load_inventory(path: &str) -> Result<Option<portcullis_baseline::inventory::Inventory>, String> {
    if path.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("inventory {path}: {e}"))?;
    portcullis_baseline::inventory::Inventory::parse(&text, path).map(Some)
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `baseline_learn_until` as a time; it needs `baseline_learn_to`.
fn learn_until(cfg: &ServeConfig) -> Result<Option<f64>, String> {
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
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => {
            return Err(format!(
                "baseline_learn_until {s:?}: a time or a duration (14d, 36h)"
            ));
        }
    };
    let n: f64 = n
        .parse()
        .map_err(|_| format!("baseline_learn_until {s:?}: a time or a duration (14d, 36h)"))?;
    Ok(Some(now() + n * mult))
}

fn load_baseline(path: &str) -> Result<Option<portcullis_baseline::Baseline>, String> {
    if path.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("baseline {path}: {e}"))?;
    portcullis_baseline::Baseline::from_yaml(&text)
        .map(Some)
        .map_err(|e| format!("baseline {path}: {e}"))
}

/// The HTTPS router: admission, audit, health, metrics.
pub fn router(state: State) -> Router {
    let limit = state.config().max_body.max(16 * 1024 * 1024);
    let noop = state.config().bench_noop;
    let r = Router::new();
    let r = if noop {
        r.route(
            "/noop",
            post(|body: Bytes| async move { Json(admission::allow_unjudged(&body)) }),
        )
    } else {
        r
    };
    r.route("/validate", post(validate))
        .route("/audit", post(audit_webhook))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn authz_activate() -> Json<Value> {
    Json(authz::activate())
}

async fn authz_req(AxState(state): AxState<State>, body: Bytes) -> Json<Value> {
    let started = Instant::now();
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let (answer, alerts) = authz::request(&state, &req);
    let allowed = answer
        .get("Allow")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    state.decision("docker_authz", if allowed { "allow" } else { "deny" });
    state.enqueue(alerts).await;
    state.observe("authz", 200, started);
    Json(answer)
}

async fn authz_res() -> Json<Value> {
    Json(serde_json::json!({"Allow": true}))
}

/// The Docker AuthZ plugin router (served on a unix socket).
pub fn authz_router(state: State) -> Router {
    Router::new()
        .route("/Plugin.Activate", post(authz_activate))
        .route("/AuthZPlugin.AuthZReq", post(authz_req))
        .route("/AuthZPlugin.AuthZRes", post(authz_res))
        .layer(axum::extract::DefaultBodyLimit::max(
            authz::MAX_BODY * 2 + 1024 * 1024,
        ))
        .with_state(state)
}

/// Serve every configured front-end until SIGTERM or SIGINT; reload rules on SIGHUP with
/// `reload` (keeping the old pack when it fails). Returns after queues have drained.
pub async fn run(
    state: State,
    reload: impl Fn() -> Result<Engine, String> + Send + 'static,
) -> Result<(), String> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::service::TowerToHyperService;
    use tokio::signal::unix::{SignalKind, signal};

    let cfg = state.config();
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "portcullis".into(),
        "portcullis.portcullis.svc".into(),
    ];
    let (tls, cert_path) = tls::server_config(
        cfg.tls_cert.as_deref(),
        cfg.tls_key.as_deref(),
        &cfg.tls_dir,
        &names,
    )?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|e| format!("{}: {e}", cfg.listen))?;
    tracing::info!(listen = %cfg.listen, cert = %cert_path, "https listening (/validate /audit /healthz /readyz /metrics)");
    let app = router(state.clone());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut stop = stop_rx.clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections.max(1)));
    let handshake = std::time::Duration::from_millis(cfg.tls_handshake_timeout_ms.max(1));
    let header_read = std::time::Duration::from_millis(cfg.header_read_timeout_ms.max(1));
    let conn_state = state.clone();
    let https = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                conn = listener.accept() => {
                    let Ok((tcp, _)) = conn else { continue };
                    // Over the limit: closed at once, counted, never queued.
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        conn_state.refused("https", "connection_limit");
                        drop(tcp);
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let app = app.clone();
                    let conn_state = conn_state.clone();
                    tokio::spawn(async move {
                        let _slot = slot;
                        let tls = match tokio::time::timeout(handshake, acceptor.accept(tcp)).await {
                            Ok(Ok(tls)) => tls,
                            Ok(Err(_)) => return,
                            Err(_) => {
                                conn_state.refused("https", "tls_handshake_timeout");
                                return;
                            }
                        };
                        let svc = TowerToHyperService::new(app);
                        let mut builder =
                            hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                        builder
                            .http1()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(header_read);
                        builder
                            .http2()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .keep_alive_interval(header_read)
                            .keep_alive_timeout(handshake);
                        let _ = builder
                            .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                            .await;
                    });
                }
            }
        }
    });
    tokio::spawn(watch_store(state.clone()));
    if !cfg.audit_token.is_empty() {
        let waiter = state.clone();
        let wait = std::time::Duration::from_millis(cfg.audit_stage_wait_ms);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if let Err(e) = waiter.flush_waiting(wait).await {
                    tracing::error!(error = %e, "audit requests past their wait could not be stored; retrying");
                }
            }
        });
    }
    let mut authz_task = None;
    if !cfg.authz_socket.is_empty() {
        let path = std::path::PathBuf::from(&cfg.authz_socket);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let _ = std::fs::remove_file(&path);
        let ul = tokio::net::UnixListener::bind(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        tracing::info!(socket = %path.display(), "docker authorization plugin listening");
        let app = authz_router(state.clone());
        let mut stop = stop_rx.clone();
        authz_task = Some(tokio::spawn(async move {
            let _ = axum::serve(ul, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await;
        }));
    }
    if let Some(until) = state.inner.learn_until {
        // Written every minute while learning, and once more when the period ends.
        let s = state.clone();
        tokio::spawn(async move {
            loop {
                let left = until - now();
                tokio::time::sleep(std::time::Duration::from_secs_f64(left.clamp(0.0, 60.0))).await;
                if let Err(e) = s.save_learnt() {
                    tracing::error!(error = %e, "writing the learnt baseline failed");
                }
                if now() >= until {
                    tracing::info!(to = %s.config().baseline_learn_to, "baseline learning period over");
                    break;
                }
            }
        });
    }
    for source in live::from_config(cfg)? {
        tokio::spawn(live::supervise(state.clone(), source));
    }
    if !cfg.sinks.is_empty() && cfg.store.is_empty() {
        return Err("sinks read from the alert store: set store".into());
    }
    for sink in cfg.sinks.clone() {
        tracing::info!(sink = %sink.name(), "sink started");
        tokio::spawn(sinks::run(state.clone(), sink, cfg.store.clone()));
    }
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                match reload() {
                    Ok(engine) => {
                        state.reload(engine);
                        tracing::info!("rules reloaded");
                    }
                    Err(e) => tracing::error!(error = %e, "reload failed; keeping the loaded rules"),
                }
                match state.reload_baseline() {
                    Ok(()) if !cfg.baseline.is_empty() => tracing::info!(baseline = %cfg.baseline, "baseline reloaded"),
                    Ok(()) => {}
                    Err(e) => tracing::error!(error = %e, "baseline reload failed; keeping the loaded one"),
                }
            }
        }
    }
    tracing::info!("shutting down: draining");
    if let Err(e) = state.save_learnt() {
        tracing::error!(error = %e, "writing the learnt baseline failed");
    }
    state.set_ready(false);
    let _ = stop_tx.send(true);
    let _ = https.await;
    if let Some(t) = authz_task {
        let _ = t.await;
    }
    // Let queued alerts reach the store before exiting.
    for _ in 0..100 {
        if state.inner.metrics.queue.get() <= 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    if !cfg.authz_socket.is_empty() {
        let _ = std::fs::remove_file(&cfg.authz_socket);
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A state with the built-in pack and no store, on its own runtime (for tests that
    /// judge without serving).
    pub(crate) fn memory_state() -> (tokio::runtime::Runtime, State) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let engine = Engine::builtin().expect("pack");
        let cfg = ServeConfig {
            store: String::new(),
            ..ServeConfig::default()
        };
        let st = rt
            .block_on(async { State::new(engine, cfg) })
            .expect("state");
        (rt, st)
    }

    fn audit_state(dir: &std::path::Path) -> State {
        let engine = Engine::builtin().expect("pack");
        let cfg = ServeConfig {
            store: dir.join("alerts.db").display().to_string(),
            audit_token: "s3cret".into(),
            ..ServeConfig::default()
        };
        State::new(engine, cfg).expect("state")
    }

    /// One privileged pod create, at stage ResponseComplete, as the API server batches it.
    fn batch(id: &str) -> Bytes {
        staged(id, "ResponseComplete")
    }

    fn staged(id: &str, stage: &str) -> Bytes {
        let status = if stage == "ResponseComplete" {
            r#","responseStatus":{"code":201}"#
        } else {
            ""
        };
        Bytes::from(format!(
            r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"{id}","stage":"{stage}","requestURI":"/api/v1/namespaces/default/pods","verb":"create","user":{{"username":"mallory"}},"objectRef":{{"resource":"pods","namespace":"default","name":"x","apiVersion":"v1"}}{status},"requestObject":{{"kind":"Pod","apiVersion":"v1","metadata":{{"name":"x"}},"spec":{{"containers":[{{"name":"c","image":"alpine","securityContext":{{"privileged":true}}}}]}}}}}}]}}"#
        ))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_whose_last_stage_never_comes_is_judged_and_survives_a_restart() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = audit_state(dir.path());
        let r = audit_webhook(
            AxState(state.clone()),
            bearer(),
            staged("c-1", "RequestReceived"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(stored(dir.path()), 0, "waits for the final stage");
        // Not yet past its wait: still waiting.
        assert_eq!(
            state
                .flush_waiting(std::time::Duration::from_secs(3600))
                .await,
            Ok(0)
        );
        assert!(
            state
                .flush_waiting(std::time::Duration::ZERO)
                .await
                .unwrap_or(0)
                > 0
        );
        let after_flush = stored(dir.path());
        assert!(after_flush > 0);
        // Its final stage arriving late is not judged twice.
        let r = audit_webhook(AxState(state.clone()), bearer(), batch("c-1")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(stored(dir.path()), after_flush);
        // A request acknowledged at RequestReceived, then the receiver restarts: the new
        // process finds it waiting in the store and judges it.
        let r = audit_webhook(
            AxState(state.clone()),
            bearer(),
            staged("d-1", "RequestReceived"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let restarted = audit_state(dir.path());
        assert!(
            restarted
                .flush_waiting(std::time::Duration::ZERO)
                .await
                .unwrap_or(0)
                > 0
        );
        assert!(stored(dir.path()) > after_flush);
        // A completed request leaves nothing waiting.
        let r = audit_webhook(
            AxState(restarted.clone()),
            bearer(),
            staged("e-1", "RequestReceived"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = audit_webhook(AxState(restarted.clone()), bearer(), batch("e-1")).await;
        assert_eq!(r.status(), StatusCode::OK);
        let again = audit_state(dir.path());
        assert_eq!(again.flush_waiting(std::time::Duration::ZERO).await, Ok(0));
    }

    fn bearer() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_static("Bearer s3cret"),
        );
        h
    }

    fn stored(dir: &std::path::Path) -> usize {
        store::query(&dir.join("alerts.db"), &store::Query::default())
            .map(|v| v.len())
            .unwrap_or(0)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_refused_on_a_full_disk_is_judged_again_on_retry() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = audit_state(dir.path());
        let store = state.inner.store.clone().expect("store");
        // Cap the database at its current size and fill what room is left: the next
        // commit fails with SQLITE_FULL, as on a full disk.
        store.limit_pages(1).await;
        let filler = {
            let text = batch("filler");
            let records = portcullis_sources::k8s_audit::parse_line_keeping(
                std::str::from_utf8(&text).expect("utf8"),
                "t",
                0,
            )
            .expect("parses");
            let mut deployments = Vec::new();
            let mut c = portcullis_sources::k8s_audit::Correlator::default();
            for r in records {
                c.push(r, &mut deployments);
            }
            state.detect(&deployments).remove(0)
        };
        for _ in 0..10_000 {
            if store.insert(vec![filler.clone()]).await.is_err() {
                break;
            }
        }
        let before = stored(dir.path());
        let r = audit_webhook(AxState(state.clone()), bearer(), batch("a-1")).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(stored(dir.path()), before);
        // Room again; the API server retries the same batch.
        store.limit_pages(1_000_000).await;
        let r = audit_webhook(AxState(state.clone()), bearer(), batch("a-1")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert!(stored(dir.path()) > before, "the retry stored the alerts");
        // A genuine repeat (already stored) is still dropped.
        let before = stored(dir.path());
        let r = audit_webhook(AxState(state.clone()), bearer(), batch("a-1")).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(stored(dir.path()), before);
        // A wrong token of the right length is refused like any other.
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            header::HeaderValue::from_static("Bearer s3creT"),
        );
        let r = audit_webhook(AxState(state.clone()), h, batch("a-2")).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_store_deleted_while_serving_turns_readiness_red() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = audit_state(dir.path());
        assert_eq!(
            readyz(AxState(state.clone())).await.status(),
            StatusCode::OK
        );
        std::fs::remove_file(dir.path().join("alerts.db")).expect("rm");
        assert_eq!(
            readyz(AxState(state.clone())).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        // And nothing is acknowledged into the unlinked file.
        let r = audit_webhook(AxState(state.clone()), bearer(), batch("b-1")).await;
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        // Replaced by another file: the same.
        std::fs::write(dir.path().join("alerts.db"), b"").expect("write");
        assert_eq!(
            readyz(AxState(state.clone())).await.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
