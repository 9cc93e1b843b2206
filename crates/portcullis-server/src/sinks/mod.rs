//! Sinks: where stored alerts go next — JSON lines to a file, an HTTP webhook (generic JSON
//! or Slack), syslog (RFC 5424 or CEF, UDP or TCP), Elasticsearch/OpenSearch `_bulk`,
//! Splunk HEC. Each is one file implementing [`Sink`], built from its [`SinkConfig`]
//! variant by [`build`].
//!
//! One loop drives them all ([`run`]): read the store after the sink's own cursor, deliver
//! a batch, move the cursor only on success; failures back off (100 ms doubling to 30 s)
//! and retry the same batch. The store is the spool: nothing waits in memory, an outage or
//! a restart loses nothing, and no sink is ever on a request's path. Delivery is at least
//! once (a batch may be repeated after a crash); every alert carries its store id for
//! dedupe. A sink keeps what it needs between batches (an HTTP sink its client's
//! connection pool).

use crate::State;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

mod elasticsearch;
mod file;
mod http;
mod splunk_hec;
mod syslog;
mod webhook;

pub use syslog::{cef_line, rfc5424};

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    File {
        name: Option<String>,
        path: String,
    },
    Webhook {
        name: Option<String>,
        url: String,
        /// Post `{"text": …}` as Slack's incoming webhooks expect.
        #[serde(default)]
        slack: bool,
        #[serde(default)]
        headers: BTreeMap<String, String>,
        ca_file: Option<String>,
        client_cert: Option<String>,
        client_key: Option<String>,
    },
    Elasticsearch {
        name: Option<String>,
        url: String,
        #[serde(default = "default_index")]
        index: String,
        /// `Authorization` header value (`ApiKey …` or `Basic …`).
        authorization: Option<String>,
        ca_file: Option<String>,
        client_cert: Option<String>,
        client_key: Option<String>,
    },
    SplunkHec {
        name: Option<String>,
        url: String,
        token: String,
        ca_file: Option<String>,
        client_cert: Option<String>,
        client_key: Option<String>,
    },
    Syslog {
        name: Option<String>,
        /// host:port
        address: String,
        #[serde(default)]
        tcp: bool,
        #[serde(default)]
        cef: bool,
    },
}

fn default_index() -> String {
    "portcullis-alerts".into()
}

impl SinkConfig {
    pub fn name(&self) -> String {
        match self {
            SinkConfig::File { name, path } => {
                name.clone().unwrap_or_else(|| format!("file:{path}"))
            }
            SinkConfig::Webhook { name, url, .. } => {
                name.clone().unwrap_or_else(|| format!("webhook:{url}"))
            }
            SinkConfig::Elasticsearch { name, url, .. } => name
                .clone()
                .unwrap_or_else(|| format!("elasticsearch:{url}")),
            SinkConfig::SplunkHec { name, url, .. } => {
                name.clone().unwrap_or_else(|| format!("splunk:{url}"))
            }
            SinkConfig::Syslog { name, address, .. } => {
                name.clone().unwrap_or_else(|| format!("syslog:{address}"))
            }
        }
    }
}

/// An alert as the store hands it to a sink: typed, with its row id, which every sink
/// sends as `store_id` so a receiver can drop a batch delivered twice (after a crash
/// between delivery and the cursor's advance).
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredAlert {
    #[serde(flatten)]
    pub alert: portcullis_output::Alert,
    pub store_id: i64,
}

/// What a delivery returns.
pub type Delivery<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

/// One destination. `deliver` gets each batch once until it succeeds; the sink may keep
/// state (connections) between calls and drop it on failure.
pub trait Sink: Send {
    fn deliver<'a>(&'a mut self, alerts: &'a [StoredAlert]) -> Delivery<'a>;
}

/// The sink a config entry describes. Errors are configuration mistakes (a CA file that is
/// not there, a key without its certificate), reported before serve starts.
pub fn build(config: &SinkConfig) -> Result<Box<dyn Sink>, String> {
    let sink: Box<dyn Sink> = match config {
        SinkConfig::File { path, .. } => Box::new(file::FileSink::new(path)),
        SinkConfig::Webhook {
            url,
            slack,
            headers,
            ca_file,
            client_cert,
            client_key,
            ..
        } => Box::new(webhook::Webhook::new(
            http::endpoint(url)?,
            *slack,
            headers,
            http::client(ca_file, client_cert, client_key)?,
        )),
        SinkConfig::Elasticsearch {
            url,
            index,
            authorization,
            ca_file,
            client_cert,
            client_key,
            ..
        } => Box::new(elasticsearch::Bulk::new(
            http::endpoint(url)?,
            index,
            authorization.as_deref(),
            http::client(ca_file, client_cert, client_key)?,
        )),
        SinkConfig::SplunkHec {
            url,
            token,
            ca_file,
            client_cert,
            client_key,
            ..
        } => Box::new(splunk_hec::Hec::new(
            http::endpoint(url)?,
            token,
            http::client(ca_file, client_cert, client_key)?,
        )),
        SinkConfig::Syslog {
            address, tcp, cef, ..
        } => Box::new(syslog::Syslog::new(address, *tcp, *cef)?),
    };
    Ok(sink)
}

/// A built sink and its name (in logs, metrics and its cursor in the store).
pub type Named = (String, Box<dyn Sink>);

/// Every configured sink, built: the first mistake refuses the start, naming its sink.
pub fn build_all(configs: &[SinkConfig]) -> Result<Vec<Named>, String> {
    configs
        .iter()
        .map(|c| {
            let name = c.name();
            build(c)
                .map(|s| (name.clone(), s))
                .map_err(|e| format!("sink {name}: {e}"))
        })
        .collect()
}

/// Run one sink until the process ends: the shared cursor-and-backoff loop.
pub async fn run(state: State, name: String, mut sink: Box<dyn Sink>, store_path: String) {
    let cursor = match crate::store::SinkCursor::open(std::path::Path::new(&store_path), &name) {
        Ok(c) => std::sync::Arc::new(std::sync::Mutex::new(c)),
        Err(e) => {
            tracing::error!(sink = %name, error = %e, "sink not started");
            return;
        }
    };
    let mut backoff = Duration::from_millis(100);
    loop {
        let c = cursor.clone();
        let batch = tokio::task::spawn_blocking(move || {
            c.lock()
                .map_err(|e| e.to_string())
                .and_then(|c| c.pending(500))
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(sink = %name, error = %e, "reading the store");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if batch.is_empty() {
            // Woken by the next insert, or by the clock.
            let _ = tokio::time::timeout(Duration::from_millis(500), state.sinks_woken()).await;
            continue;
        }
        let last = batch.last().map_or(0, |(id, _)| *id);
        let mut alerts = Vec::with_capacity(batch.len());
        let mut unreadable = Vec::new();
        for (id, text) in &batch {
            match serde_json::from_str(text) {
                Ok(alert) => alerts.push(StoredAlert {
                    alert,
                    store_id: *id,
                }),
                // Not what this version writes (a damaged row, a store written by a
                // future schema): never sent as something else, and said once the cursor
                // passes it; the batch goes on, or one bad row would hold back every
                // later alert.
                Err(e) => unreadable.push((*id, e.to_string())),
            }
        }
        // A batch of nothing readable is passed over, not posted empty.
        let delivered = if alerts.is_empty() {
            Ok(())
        } else {
            sink.deliver(&alerts).await
        };
        match delivered {
            Ok(()) => {
                let c = cursor.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    c.lock()
                        .map_err(|e| e.to_string())
                        .and_then(|c| c.advance(last))
                })
                .await;
                state.sink_delivered(&name, alerts.len());
                for (id, e) in unreadable {
                    state.sink_skipped(&name);
                    tracing::error!(sink = %name, store_id = id, error = %e, "stored alert unreadable: not delivered");
                }
                backoff = Duration::from_millis(100);
            }
            Err(e) => {
                state.sink_failed(&name);
                tracing::warn!(sink = %name, error = %e, retry_in = ?backoff, "delivery failed; will retry");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
