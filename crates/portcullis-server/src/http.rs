//! The HTTP handlers, thin: read the request, hand it to the state, answer. Protocol
//! decoding lives in `admission` and `authz` (and the readers in `portcullis-sources`).

use crate::*;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::Instant;

pub(crate) fn bad_request(reason: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": reason})),
    )
        .into_response()
}

pub(crate) async fn validate(AxState(state): AxState<State>, body: Bytes) -> Response {
    let started = Instant::now();
    if body.len() > state.config().max_body {
        state.observe("validate", 413, started);
        return (StatusCode::PAYLOAD_TOO_LARGE, Json(serde_json::json!({"error": format!("review larger than {} bytes", state.config().max_body)}))).into_response();
    }
    match admission::review(&state.gate(Door::Admission), &body) {
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
pub(crate) async fn audit_webhook(
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
    let mut ids = Vec::new();
    let mut commit = store::AuditCommit::default();
    let mut finished = Vec::new();
    // Parsed before taking the lock (batches from several API servers parse at once);
    // only the stage merging is in order.
    let parsed = match state
        .inner
        .audit_format
        .parse_received(text, "audit-webhook")
    {
        Ok(p) => p,
        Err(e) => {
            state.observe("audit", 400, started);
            return bad_request(e.to_string());
        }
    };
    let ready = {
        let (Ok(mut p), Ok(mut w)) = (state.inner.audit.lock(), state.inner.audit_waiting.lock())
        else {
            state.observe("audit", 500, started);
            return (StatusCode::INTERNAL_SERVER_ERROR, "audit state poisoned").into_response();
        };
        let received = p.stage(parsed);
        for (id, event) in received.held {
            let since = w.get(&id).map_or_else(Instant::now, |(t, _)| *t);
            w.insert(id.clone(), (since, event.clone()));
            ids.push(id.clone());
            commit.waiting.push((id, event));
        }
        for id in received.settled {
            if let Some(was) = w.remove(&id) {
                commit.done.push(id.clone());
                finished.push((id.clone(), was));
            }
            ids.push(id);
        }
        received.ready
    };
    let alerts = state.detect(&ready);
    commit.alerts = alerts.clone();
    // Durable before the 200: the API server retries what we do not acknowledge.
    if let Some(store) = &state.inner.store {
        if let Err(e) = store.commit_audit(commit).await {
            // Not stored, so not seen: the retry is judged again.
            if let (Ok(mut p), Ok(mut w)) =
                (state.inner.audit.lock(), state.inner.audit_waiting.lock())
            {
                p.forget(&ids);
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

pub(crate) async fn metrics(AxState(state): AxState<State>) -> Response {
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

pub(crate) async fn readyz(AxState(state): AxState<State>) -> Response {
    if !state.inner.ready.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    if let Some(Err(e)) = state.inner.store.as_ref().map(store::Store::check) {
        return (StatusCode::SERVICE_UNAVAILABLE, e).into_response();
    }
    (StatusCode::OK, "ok").into_response()
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
        // The load bench's middle stage: the review read into the model (the same
        // reader /validate uses), nothing judged, answered like /noop. With /noop and
        // /validate it splits a request's server CPU into transport, reading, judging.
        .route(
            "/read",
            post(|body: Bytes| async move {
                let read = portcullis_sources::admission_review::read(&body);
                std::hint::black_box(read.map(|r| r.deployments.len()).ok());
                Json(admission::allow_unjudged(&body))
            }),
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

pub(crate) async fn authz_activate() -> Json<Value> {
    Json(authz::activate())
}

pub(crate) async fn authz_req(AxState(state): AxState<State>, body: Bytes) -> Json<Value> {
    let started = Instant::now();
    let req: Value = serde_json::from_slice(&body).unwrap_or_default();
    let (answer, alerts) = authz::request(&state.gate(Door::Docker), &req);
    let allowed = answer
        .get("Allow")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    state.decision("docker_authz", if allowed { "allow" } else { "deny" });
    state.enqueue(alerts).await;
    state.observe("authz", 200, started);
    Json(answer)
}

pub(crate) async fn authz_res() -> Json<Value> {
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
