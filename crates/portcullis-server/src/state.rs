//! What every front-end shares: the pack and the baseline (swapped on SIGHUP), the store
//! queue, the audit receiver's pipeline, the containers the live sources have seen; and the one
//! way to judge (`judge` for doors, `detect` for detection).

use crate::*;
use portcullis_model::time::now;
use portcullis_model::{Deployment, Outcome};
use portcullis_output::Alert;
use portcullis_rules::Engine;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Requests' worth of alerts the store may lag behind before answers wait for it.
pub(crate) const QUEUE_BATCHES: usize = 65_536;

pub(crate) struct Inner {
    /// Read on every request, swapped on SIGHUP: a load takes no lock and bumps no shared
    /// counter, so two workers judging at once do not fight over one cache line.
    pub(crate) engine: arc_swap::ArcSwap<Engine>,
    /// What deployments are compared with (`baseline`, `inventory`), swapped on SIGHUP
    /// like the pack.
    pub(crate) baseline: arc_swap::ArcSwapOption<portcullis_baseline::Baseline>,
    pub(crate) inventory: arc_swap::ArcSwapOption<portcullis_baseline::inventory::Inventory>,
    /// `baseline_learn_until`: until then, what the doors and sources see (risky
    /// deployments excepted) is learnt here and written to `baseline_learn_to` for review.
    pub(crate) learner: Option<Mutex<portcullis_baseline::Learner>>,
    pub(crate) learn_until: Option<f64>,
    /// Deploys per scope and hour, against the baseline's cadence.
    pub(crate) cadence: Mutex<portcullis_baseline::Cadence>,
    /// Fixed for the life of the process.
    pub(crate) config: ServeConfig,
    pub(crate) store: Option<store::Store>,
    pub(crate) metrics: Metrics,
    /// The `/audit` receiver's reading: the same pipeline `hunt` reads an audit log with
    /// (the `k8s-audit` format, stages merged by request, pods linked to controllers),
    /// fed one POST at a time.
    pub(crate) audit: Mutex<portcullis_sources::pipeline::Pipeline>,
    pub(crate) audit_format: &'static dyn portcullis_sources::formats::LogFormat,
    /// Audit requests waiting for their final stage: since when, and the event as received
    /// (also kept in the store). Locked after `audit`.
    pub(crate) audit_waiting: Mutex<std::collections::HashMap<String, (Instant, String)>>,
    pub(crate) ready: AtomicBool,
    pub(crate) queue: tokio::sync::mpsc::Sender<Vec<Alert>>,
    pub(crate) sinks_notify: tokio::sync::Notify,
    /// What the Docker watcher has seen of each container's namespaces, so a create that
    /// joins `container:NAME` is judged with what NAME has.
    pub(crate) containers: Mutex<ContainerIndex>,
}

/// Which door a deployment is judged at: each has its own modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Admission,
    Docker,
}

impl Door {
    /// Its name in metrics (`portcullis_refusals_total{door=…}`).
    pub fn name(self) -> &'static str {
        match self {
            Door::Admission => "admission",
            Door::Docker => "docker_authz",
        }
    }
}

/// What a prevention door may do with the server: judge a deployment at this door (the
/// verdict now, the alerts for the store), count a request refused unjudged, ask whether
/// a namespace is exempt, and see what the live sources learnt of containers. The
/// admission and AuthZ front-ends get this, not the state.
pub struct Gate<'s> {
    state: &'s State,
    door: Door,
}

impl Gate<'_> {
    pub fn judge(&self, d: &Deployment) -> (decision::Verdict, Vec<Alert>) {
        self.state.judge(d, self.door)
    }

    pub fn refused(&self, reason: &'static str) {
        self.state.refused(self.door.name(), reason);
    }

    pub fn exempt(&self, namespace: &str) -> bool {
        self.state
            .config()
            .exempt_namespaces
            .iter()
            .any(|n| n == namespace)
    }

    /// Set host flags for namespaces a pod joins from containers seen before.
    pub fn resolve_joins(&self, pod: &mut portcullis_model::PodSpec) {
        self.state.resolve_joins(pod);
    }
}

/// Host namespaces of the containers the watcher inspected, by id and name; bounded.
#[derive(Default)]
pub struct ContainerIndex {
    pub(crate) by_key: std::collections::HashMap<String, HostNamespaces>,
    pub(crate) order: std::collections::VecDeque<String>,
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
    pub(crate) inner: Arc<Inner>,
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
                audit: Mutex::new(portcullis_sources::pipeline::Pipeline::new(1)),
                audit_format: portcullis_sources::formats::by_name("k8s-audit")?,
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
    /// The handle a prevention door judges through.
    pub fn gate(&self, door: Door) -> Gate<'_> {
        Gate { state: self, door }
    }

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
    pub(crate) fn in_context<'d>(&self, d: &'d Deployment) -> std::borrow::Cow<'d, Deployment> {
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
    pub(crate) fn learn(&self, d: &Deployment, risky: bool) {
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

    pub(crate) async fn persist(&self, alerts: Vec<Alert>, stdout: bool) {
        self.announce(&alerts, stdout);
        if let Some(store) = &self.inner.store {
            match store.insert(alerts).await {
                Ok(_) => self.inner.sinks_notify.notify_waiters(),
                Err(e) => tracing::error!(error = %e, "alert store write failed"),
            }
        }
    }

    /// Count alerts by rule and severity (`/metrics`), and print them when asked to.
    pub(crate) fn announce(&self, alerts: &[Alert], stdout: bool) {
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

    /// Resolves when new alerts are stored (sinks wait on it between batches).
    pub(crate) fn sinks_woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.sinks_notify.notified()
    }

    pub(crate) fn sink_delivered(&self, sink: &str, n: usize) {
        self.inner
            .metrics
            .delivered
            .get_or_create(&SinkLabels { sink: sink.into() })
            .inc_by(n as u64);
    }

    /// Put the audit requests the store says are still waiting back in the pipeline (a
    /// restart must not forget a request whose last stage had not come).
    pub(crate) fn reload_waiting(&self) {
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
        let (Ok(mut p), Ok(mut w)) = (self.inner.audit.lock(), self.inner.audit_waiting.lock())
        else {
            return;
        };
        for (id, waited, event) in rows {
            // Held again, as when it arrived; nothing is ready from a stage that waits.
            let _ = p.receive(self.inner.audit_format, &event, "audit-webhook");
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
            let (Ok(mut p), Ok(w)) = (self.inner.audit.lock(), self.inner.audit_waiting.lock())
            else {
                return Err("audit state poisoned".into());
            };
            let stale: Vec<(String, String)> = w
                .iter()
                .filter(|(_, (since, _))| since.elapsed() >= max_age)
                .map(|(id, (_, ev))| (id.clone(), ev.clone()))
                .collect();
            for (id, _) in &stale {
                ready.extend(p.release(id));
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
        let (Ok(mut p), Ok(mut w)) = (self.inner.audit.lock(), self.inner.audit_waiting.lock())
        else {
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
                p.forget(&ids);
                for (_, event) in &stale {
                    let _ = p.receive(self.inner.audit_format, event, "audit-webhook");
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

    /// A stored alert a sink could not read back, so did not deliver.
    pub(crate) fn sink_skipped(&self, sink: &str) {
        self.inner
            .metrics
            .sink_skipped
            .get_or_create(&SinkLabels { sink: sink.into() })
            .inc();
    }

    pub(crate) fn sink_failed(&self, sink: &str) {
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
    pub(crate) fn evaluator<'e>(
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

    pub(crate) async fn enqueue(&self, alerts: Vec<Alert>) {
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

    pub(crate) fn observe(&self, endpoint: &'static str, code: u16, started: Instant) {
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

    pub(crate) fn decision(&self, front_end: &'static str, decision: &'static str) {
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
