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
mod config;
pub mod decision;
mod http;
pub mod live;
mod metrics;
pub mod sinks;
mod state;
pub mod store;
pub mod tls;

pub use config::ServeConfig;
pub(crate) use config::*;
pub use http::{authz_router, router};
pub(crate) use metrics::*;
pub use state::{ContainerIndex, Door, Gate, HostNamespaces, State, watch_store};

use portcullis_model::time::now;
use portcullis_rules::Engine;
use std::sync::Arc;

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
    // Configuration mistakes refuse the start before anything listens.
    if !cfg.sinks.is_empty() && cfg.store.is_empty() {
        return Err("sinks read from the alert store: set store".into());
    }
    let sinks = sinks::build_all(&cfg.sinks)?;
    let live_sources = live::from_config(cfg)?;
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
    for source in live_sources {
        tokio::spawn(live::supervise(state.clone(), source));
    }
    for (name, sink) in sinks {
        tracing::info!(sink = %name, "sink started");
        tokio::spawn(sinks::run(state.clone(), name, sink, cfg.store.clone()));
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
    use crate::http::*;
    use axum::body::Bytes;
    use axum::extract::State as AxState;
    use axum::http::{HeaderMap, StatusCode, header};

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
    async fn a_sink_gets_typed_alerts_and_a_damaged_row_is_reported_not_sent() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = audit_state(dir.path());
        for id in ["s-1", "s-2", "s-3"] {
            let r = audit_webhook(AxState(state.clone()), bearer(), batch(id)).await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        let db = dir.path().join("alerts.db");
        let ids: Vec<i64> = {
            let conn = rusqlite::Connection::open(&db).expect("open");
            let mut q = conn
                .prepare("SELECT id FROM alerts ORDER BY id")
                .expect("q");
            let ids: Vec<i64> = q
                .query_map([], |r| r.get(0))
                .expect("rows")
                .filter_map(Result::ok)
                .collect();
            // One row damaged after the fact: what a reader must not send as something else.
            conn.execute(
                "UPDATE alerts SET alert = '{\"schema\": 1' WHERE id = ?1",
                [ids[1]],
            )
            .expect("damage");
            ids
        };
        assert!(ids.len() >= 3, "{ids:?}");
        let out = dir.path().join("sink.jsonl");
        let sink = sinks::SinkConfig::File {
            name: Some("file".into()),
            path: out.display().to_string(),
        };
        let sink = sinks::build(&sink).expect("a file sink");
        let task = tokio::spawn(sinks::run(
            state.clone(),
            "file".into(),
            sink,
            db.display().to_string(),
        ));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let lines = loop {
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).expect("a sink line is JSON"))
                .collect();
            // Delivered, and the cursor past the damaged row (it is reported then).
            let passed = state
                .metrics_text()
                .unwrap_or_default()
                .contains("portcullis_sink_skipped_total{sink=\"file\"}");
            if lines.len() + 1 >= ids.len() && passed || std::time::Instant::now() > deadline {
                break lines;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        task.abort();
        let sent: Vec<i64> = lines
            .iter()
            .filter_map(|l| l["store_id"].as_i64())
            .collect();
        let expected: Vec<i64> = ids.iter().copied().filter(|i| *i != ids[1]).collect();
        assert_eq!(sent, expected, "every readable row, in order, none twice");
        for l in &lines {
            assert_eq!(l["rule"]["id"].as_str().map(|s| s.len()), Some(6), "{l}");
            assert_eq!(l["actor"]["user"], "mallory", "{l}");
        }
        let metrics = state.metrics_text().unwrap_or_default();
        assert!(
            metrics.contains("portcullis_sink_skipped_total{sink=\"file\"} 1"),
            "{metrics}"
        );
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
