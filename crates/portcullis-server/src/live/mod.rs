//! Live sources: things serve follows (a Docker daemon's events, containerd's events) and
//! judges as they happen. Each source is one file implementing [`LiveSource`]: how to
//! connect, catch up and read its stream. The server runs every source the config names
//! under one [`supervise`] loop — reconnect with backoff, the `live_source_*` metrics —
//! without knowing any protocol, and hands each a [`Judging`] handle: the pack and the
//! store, nothing else of the server.
//!
//! Adding a source: a file here implementing the trait, and one line in [`from_config`].

pub mod containerd;
pub mod docker;
pub mod podman;

use crate::{ServeConfig, SourceLabels, State};
use portcullis_model::{Deployment, PodSpec};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// What one connection's work returns: `Ok` when the stream ended, `Err` when it could
/// not be had (the reason is logged); the supervisor reconnects either way.
pub type Follow<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub trait LiveSource: Send + 'static {
    /// The source's name in logs and metrics (`docker`, `containerd`).
    fn name(&self) -> &'static str;
    /// Connect, catch up on what happened since the last connection (the source keeps
    /// its own position), and follow until the stream ends.
    fn follow<'a>(&'a mut self, judging: &'a Judging) -> Follow<'a>;
}

/// What a live source may do with the server: read what it fetched through the pipeline,
/// judge deployments (stored before the call returns), say it is connected, and share what
/// it learnt of containers' namespaces.
pub struct Judging {
    state: State,
    source: &'static str,
    pipeline: std::sync::Mutex<portcullis_sources::pipeline::Pipeline>,
}

impl Judging {
    /// Read one record the source fetched (an event, an inspect answer) with the log
    /// format `hunt` reads the same record with in a file, through the same pipeline: one
    /// reading of each wire format, however it arrives. A record that cannot be read is
    /// logged with its reason and counted, and gives nothing.
    pub fn read(
        &self,
        format: &'static dyn portcullis_sources::formats::LogFormat,
        text: &str,
        name: &str,
    ) -> Vec<Deployment> {
        let received = match self.pipeline.lock() {
            Ok(mut p) => p.receive(format, text, name),
            Err(_) => return Vec::new(),
        };
        match received {
            Ok(r) => r.ready,
            Err(e) => {
                tracing::warn!(source = self.source, error = %e, "live record not readable");
                self.state
                    .inner
                    .metrics
                    .live_unreadable
                    .get_or_create(&SourceLabels {
                        source: self.source,
                    })
                    .inc();
                Vec::new()
            }
        }
    }

    /// Judge with the pack and store the alerts: a live source is on nobody's request
    /// path, so it waits for the store before reading on.
    pub async fn judge(&self, deployments: Vec<Deployment>) {
        let metrics = &self.state.inner.metrics;
        metrics
            .live_records
            .get_or_create(&SourceLabels {
                source: self.source,
            })
            .inc_by(deployments.len() as u64);
        let alerts = self.state.detect(&deployments);
        let stdout = self.state.config().stdout_alerts;
        self.state.persist(alerts, stdout).await;
    }

    /// The handle `supervise` gives the source called `source`.
    pub(crate) fn new(state: State, source: &'static str) -> Judging {
        Judging {
            state,
            source,
            pipeline: std::sync::Mutex::new(portcullis_sources::pipeline::Pipeline::new(1)),
        }
    }

    /// The stream is open.
    pub fn connected(&self) {
        tracing::info!(source = self.source, "live source connected");
        self.up(1);
    }

    fn up(&self, v: i64) {
        self.state
            .inner
            .metrics
            .live_up
            .get_or_create(&SourceLabels {
                source: self.source,
            })
            .set(v);
    }

    /// Set host flags for namespaces a pod joins from containers seen before.
    pub fn resolve_joins(&self, pod: &mut PodSpec) {
        self.state.resolve_joins(pod);
    }

    /// Remember a container's host namespaces, by its id and name.
    pub fn remember_container(&self, keys: &[&str], d: &Deployment) {
        self.state
            .remember_container(keys, crate::authz::host_namespaces(d));
    }
}

/// The live sources a configuration asks for. Errors are configuration mistakes, reported
/// before serve starts.
pub fn from_config(cfg: &ServeConfig) -> Result<Vec<Box<dyn LiveSource>>, String> {
    let mut sources: Vec<Box<dyn LiveSource>> = Vec::new();
    if let Some(s) = docker::from_config(cfg)? {
        sources.push(Box::new(s));
    }
    if let Some(s) = containerd::from_config(cfg)? {
        sources.push(Box::new(s));
    }
    if let Some(s) = podman::from_config(cfg)? {
        sources.push(Box::new(s));
    }
    Ok(sources)
}

/// Run a source for as long as the server runs: reconnect after every end or failure,
/// backing off from 100 ms to 2 s while it keeps failing.
pub async fn supervise(state: State, mut source: Box<dyn LiveSource>) {
    let name = source.name();
    let judging = Judging::new(state.clone(), name);
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let result = source.follow(&judging).await;
        judging.up(0);
        match result {
            Ok(()) => tracing::warn!(source = name, "live source stream ended; reconnecting"),
            Err(e) => tracing::debug!(source = name, error = %e, "live source not reachable"),
        }
        state
            .inner
            .metrics
            .live_reconnects
            .get_or_create(&SourceLabels { source: name })
            .inc();
        // A connection that lasted resets the backoff; a flapping one does not.
        if started.elapsed() > Duration::from_secs(10) {
            backoff = Duration::from_millis(100);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}
