//! The Kubernetes validating admission webhook: `AdmissionReview` v1 in, a verdict out.
//!
//! Pods, every workload kind and any CRD that embeds a pod are judged per container, so a
//! bad template is denied at the Deployment, not pod by pod later. `pods/ephemeralcontainers`
//! is judged like a pod; `pods/exec` and `pods/attach` CONNECT requests carry their command.
//! Dry-run requests get the same answer and leave no trace.

use crate::State;
use crate::decision::Verdict;
use portcullis_model::{Actor, Deployment, Operation, Origin, Outcome, Target};
use portcullis_output::Alert;
use serde_json::{Value, json};

/// A bad review: the reason goes back as a 400 (never a 500, never a crash).
#[derive(Debug)]
pub struct BadReview(pub String);

fn s(v: &Value, ptr: &str) -> Option<String> {
    v.pointer(ptr).and_then(Value::as_str).map(str::to_string)
}

/// The deployments an admission request describes.
pub fn deployments(req: &mut Value) -> Result<Vec<Deployment>, BadReview> {
    let uid = s(req, "/uid").ok_or_else(|| BadReview("request.uid is missing".into()))?;
    let op = s(req, "/operation").unwrap_or_default();
    let sub = s(req, "/subResource").unwrap_or_default();
    let resource = s(req, "/resource/resource").unwrap_or_default();
    let kind = s(req, "/kind/kind").unwrap_or_default();
    let user = req.get("userInfo").cloned().unwrap_or_default();
    let username = s(&user, "/username");
    let actor = Actor {
        service_account: username
            .as_deref()
            .and_then(|u| u.strip_prefix("system:serviceaccount:"))
            .map(str::to_string),
        user: username,
        groups: user
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        ..Actor::default()
    };
    let operation = match (op.as_str(), sub.as_str()) {
        ("CONNECT", "exec") => Operation::Exec,
        ("CONNECT", "attach") => Operation::Attach,
        (_, "ephemeralcontainers") => Operation::EphemeralContainer,
        ("CREATE", _) => Operation::Create,
        ("UPDATE", _) => Operation::Update,
        _ => return Ok(Vec::new()),
    };
    let base = Deployment {
        origin: Origin {
            kind: "admission".into(),
            file: "admission".into(),
            line: 0,
            document: 0,
            record_id: Some(uid),
        },
        actor,
        operation,
        outcome: Outcome::Attempted,
        target: Target {
            kind: kind.clone(),
            namespace: s(req, "/namespace"),
            name: s(req, "/name"),
            ..Target::default()
        },
        ..Deployment::default()
    };
    if matches!(operation, Operation::Exec | Operation::Attach) {
        let mut d = base;
        d.target.kind = "Pod".into();
        let cmd: Vec<String> = req
            .pointer("/object/command")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if !cmd.is_empty() {
            d.target
                .annotations
                .push(("portcullis.dev/exec-command".into(), cmd.join(" ")));
        }
        return Ok(vec![d]);
    }
    // Taken, not cloned: the review is ours and the object is read once.
    let mut object = match req.get_mut("object").map(Value::take) {
        Some(o) if o.is_object() => o,
        _ => return Err(BadReview("request.object is missing".into())),
    };
    if object.get("kind").is_none()
        && let Some(m) = object.as_object_mut()
    {
        m.insert(
            "kind".into(),
            Value::String(if kind.is_empty() {
                resource.clone()
            } else {
                kind.clone()
            }),
        );
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    portcullis_sources::k8s::object_to_deployments(
        &object,
        &base.origin,
        &mut found,
        &mut errors,
        "object",
    );
    if let Some(e) = errors.first() {
        return Err(BadReview(format!("request.object: {}", e.message)));
    }
    Ok(found
        .into_iter()
        .map(|f| {
            let mut d = base.clone();
            d.target.kind = f.target.kind;
            d.target.api_version = f.target.api_version;
            d.target.owner_references = f.target.owner_references;
            d.target.labels = f.target.labels;
            d.target.annotations = f.target.annotations;
            if d.target.name.is_none() {
                d.target.name = f.target.name;
            }
            if d.target.namespace.is_none() {
                d.target.namespace = f.target.namespace;
            }
            d.pod = f.pod;
            d
        })
        .collect())
}

/// Judge a review; returns the response document and the alerts to keep.
pub fn review(state: &State, body: &[u8]) -> Result<(Value, Vec<Alert>, Verdict), BadReview> {
    let mut doc: Value =
        serde_json::from_slice(body).map_err(|e| BadReview(format!("not JSON: {e}")))?;
    if doc.get("kind").and_then(Value::as_str) != Some("AdmissionReview") {
        return Err(BadReview("expected kind AdmissionReview".into()));
    }
    let api_version = doc
        .get("apiVersion")
        .cloned()
        .unwrap_or_else(|| "admission.k8s.io/v1".into());
    let req = doc
        .get_mut("request")
        .ok_or_else(|| BadReview("request is missing".into()))?;
    let uid = s(req, "/uid").ok_or_else(|| BadReview("request.uid is missing".into()))?;
    let dry_run = req.get("dryRun").and_then(Value::as_bool).unwrap_or(false);
    let namespace = s(req, "/namespace").unwrap_or_default();
    let cfg = state.config();
    let mut verdict = Verdict {
        allowed: true,
        ..Verdict::default()
    };
    let mut alerts = Vec::new();
    if !cfg.exempt_namespaces.contains(&namespace) {
        let mut kept = Vec::new();
        for d in deployments(&mut *req)? {
            let (v, alerts) = state.judge(&d);
            verdict.allowed &= v.allowed;
            verdict.denials.extend(v.denials);
            verdict.warnings.extend(v.warnings);
            verdict.codes.extend(v.codes);
            kept.extend(alerts);
        }
        // A dry run leaves no side effects: no alert, no store, no sink.
        if !dry_run {
            alerts = kept;
        }
    }
    verdict.codes.sort();
    verdict.codes.dedup();
    let mut response = json!({"uid": uid, "allowed": verdict.allowed});
    if !verdict.allowed {
        response["status"] = json!({
            "code": 403,
            "reason": "Forbidden",
            "message": format!("portcullis denied this request: {}", verdict.denials.join("; ")),
        });
    }
    if !verdict.warnings.is_empty() {
        response["warnings"] = json!(verdict.warnings);
    }
    if !verdict.codes.is_empty() {
        response["auditAnnotations"] = json!({"findings": verdict.codes.join(",")});
    }
    let out = json!({
        "apiVersion": api_version,
        "kind": "AdmissionReview",
        "response": response,
    });
    Ok((out, alerts, verdict))
}
