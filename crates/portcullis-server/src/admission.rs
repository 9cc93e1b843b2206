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
use portcullis_sources::k8s_wire::{ObjectMeta, PodSpecWire, Text};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A bad review: the reason goes back as a 400 (never a 500, never a crash).
#[derive(Debug)]
pub struct BadReview(pub String);

/// An `AdmissionReview` as the API server sends it: only what we read, the rest skipped
/// unparsed (`oldObject`, `options`, managed fields of other kinds), strings borrowed.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ReviewWire<'a> {
    #[serde(borrow)]
    api_version: Text<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    request: Option<RequestWire<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub struct RequestWire<'a> {
    #[serde(borrow)]
    uid: Text<'a>,
    #[serde(borrow)]
    kind: Option<KindWire<'a>>,
    #[serde(borrow)]
    resource: Option<ResourceWire<'a>>,
    #[serde(borrow)]
    sub_resource: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    namespace: Text<'a>,
    #[serde(borrow)]
    operation: Text<'a>,
    #[serde(borrow)]
    user_info: Option<UserInfoWire<'a>>,
    #[serde(borrow)]
    object: Option<&'a RawValue>,
    dry_run: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KindWire<'a> {
    #[serde(borrow)]
    kind: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResourceWire<'a> {
    #[serde(borrow)]
    resource: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserInfoWire<'a> {
    #[serde(borrow)]
    username: Text<'a>,
    #[serde(default)]
    groups: Vec<String>,
}

/// `pods/exec` and `pods/attach`: a `PodExecOptions` / `PodAttachOptions` object.
#[derive(Deserialize, Default)]
#[serde(default)]
struct ExecOptionsWire {
    command: Vec<String>,
}

/// A built-in kind read straight from bytes; `S` is where its pod sits.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectWire<'a, S> {
    #[serde(borrow)]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    metadata: Option<ObjectMeta<'a>>,
    spec: Option<S>,
    #[serde(borrow)]
    template: Option<TemplateWire<'a>>,
}

/// A pod template: its own metadata (legacy seccomp/AppArmor annotations) and spec.
#[derive(Deserialize)]
struct TemplateWire<'a> {
    #[serde(borrow)]
    metadata: Option<ObjectMeta<'a>>,
    #[serde(borrow)]
    spec: Option<PodSpecWire<'a>>,
}

/// Deployment, ReplicaSet, DaemonSet, StatefulSet, Job, ReplicationController.
#[derive(Deserialize)]
struct WorkloadSpecWire<'a> {
    #[serde(borrow)]
    template: Option<TemplateWire<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpecWire<'a> {
    #[serde(borrow)]
    job_template: Option<JobTemplateWire<'a>>,
}

#[derive(Deserialize)]
struct JobTemplateWire<'a> {
    #[serde(borrow)]
    spec: Option<WorkloadSpecWire<'a>>,
}

impl RequestWire<'_> {
    fn text(v: &Text<'_>) -> Option<String> {
        v.as_deref().map(str::to_string)
    }
}

/// The deployments a review's bytes describe (what `review` judges).
pub fn review_deployments(body: &[u8]) -> Result<Vec<Deployment>, BadReview> {
    let doc: ReviewWire = serde_json::from_slice(body)
        .map_err(|e| BadReview(format!("not an AdmissionReview: {e}")))?;
    deployments(
        &doc.request
            .ok_or_else(|| BadReview("request is missing".into()))?,
    )
}

/// The deployments an admission request describes.
fn deployments(req: &RequestWire<'_>) -> Result<Vec<Deployment>, BadReview> {
    let uid =
        RequestWire::text(&req.uid).ok_or_else(|| BadReview("request.uid is missing".into()))?;
    let op = req.operation.as_deref().unwrap_or_default();
    let sub = req.sub_resource.as_deref().unwrap_or_default();
    let kind = req
        .kind
        .as_ref()
        .and_then(|k| k.kind.as_deref())
        .unwrap_or_default();
    let username = req
        .user_info
        .as_ref()
        .and_then(|u| RequestWire::text(&u.username));
    let actor = Actor {
        service_account: username
            .as_deref()
            .and_then(|u| u.strip_prefix("system:serviceaccount:"))
            .map(str::to_string),
        user: username,
        groups: req
            .user_info
            .as_ref()
            .map(|u| u.groups.clone())
            .unwrap_or_default(),
        ..Actor::default()
    };
    let operation = match (op, sub) {
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
            kind: kind.to_string(),
            namespace: RequestWire::text(&req.namespace),
            name: RequestWire::text(&req.name),
            ..Target::default()
        },
        ..Deployment::default()
    };
    let object = match req.object {
        Some(o) if o.get().starts_with('{') => o,
        _ => return Err(BadReview("request.object is missing".into())),
    };
    if matches!(operation, Operation::Exec | Operation::Attach) {
        let mut d = base;
        d.target.kind = "Pod".into();
        let cmd = serde_json::from_str::<ExecOptionsWire>(object.get())
            .map(|o| o.command)
            .unwrap_or_default();
        if !cmd.is_empty() {
            d.target
                .annotations
                .push(("portcullis.dev/exec-command".into(), cmd.join(" ")));
        }
        return Ok(vec![d]);
    }
    let fallback_kind = if kind.is_empty() {
        req.resource
            .as_ref()
            .and_then(|r| r.resource.as_deref())
            .unwrap_or_default()
    } else {
        kind
    };
    let found = match built_in(object.get(), kind) {
        Some(found) => found,
        None => object_by_value(object.get(), fallback_kind, &base.origin)?,
    };
    // The request says who did what (uid, actor, operation, and the name and namespace it
    // was sent to); the object says what it is (kind, labels, pod). The last deployment takes
    // the request's facts, the others (a CRD with several pods) a copy.
    let mut base = Some(base);
    let last = found.len().saturating_sub(1);
    Ok(found
        .into_iter()
        .enumerate()
        .map(|(i, mut d)| {
            let b = if i == last {
                base.take().unwrap_or_default()
            } else {
                base.clone().unwrap_or_default()
            };
            d.origin = b.origin;
            d.actor = b.actor;
            d.operation = b.operation;
            d.outcome = b.outcome;
            d.target.name = b.target.name.or(d.target.name);
            d.target.namespace = b.target.namespace.or(d.target.namespace);
            d
        })
        .collect())
}

/// A built-in kind read from bytes in one pass, typed. `None` when the kind is not one
/// whose pod sits at a known place, or the object is not what its kind promises (no pod
/// spec, a key written twice, metadata that is not a mapping): the `Value` path then
/// judges it, or explains what is wrong with it.
fn built_in(object: &str, kind: &str) -> Option<Vec<Deployment>> {
    fn one<'a, S: Deserialize<'a>>(
        object: &'a str,
        kind: &str,
        path: &str,
        pod_of: impl FnOnce(
            ObjectWire<'a, S>,
        )
            -> Option<(ObjectMeta<'a>, Option<ObjectMeta<'a>>, PodSpecWire<'a>)>,
    ) -> Option<Vec<Deployment>> {
        let o: ObjectWire<'a, S> = serde_json::from_str(object).ok()?;
        if o.kind.as_deref().is_some_and(|k| k != kind) {
            return None;
        }
        let api_version = o.api_version.as_deref().map(str::to_string);
        let (meta, template_meta, spec) = pod_of(o)?;
        // The pod's own annotations: the object's for a Pod, the template's otherwise.
        let annotations = match template_meta {
            Some(t) => t.annotations.0,
            None => meta.annotations.0.clone(),
        };
        let target = meta.into_target(kind, api_version);
        let pod = spec.into_model(&format!("object.{path}"), annotations, None);
        Some(vec![Deployment {
            target,
            pod: Some(pod),
            ..Deployment::default()
        }])
    }
    fn template<'a>(
        meta: Option<ObjectMeta<'a>>,
        t: Option<TemplateWire<'a>>,
    ) -> Option<(ObjectMeta<'a>, Option<ObjectMeta<'a>>, PodSpecWire<'a>)> {
        let t = t?;
        Some((
            meta.unwrap_or_default(),
            Some(t.metadata.unwrap_or_default()),
            t.spec?,
        ))
    }
    match kind {
        "Pod" => one::<PodSpecWire>(object, kind, "spec", |o| {
            Some((o.metadata.unwrap_or_default(), None, o.spec?))
        }),
        "PodTemplate" => one::<IgnoredAny>(object, kind, "template.spec", |o| {
            template(o.metadata, o.template)
        }),
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController" => {
            one::<WorkloadSpecWire>(object, kind, "spec.template.spec", |o| {
                template(o.metadata, o.spec?.template)
            })
        }
        "CronJob" => {
            one::<CronJobSpecWire>(object, kind, "spec.jobTemplate.spec.template.spec", |o| {
                template(o.metadata, o.spec?.job_template?.spec?.template)
            })
        }
        _ => None,
    }
}

/// Any object, read as a `Value` and searched like a manifest (CRDs, odd shapes).
fn object_by_value(
    object: &str,
    kind: &str,
    origin: &Origin,
) -> Result<Vec<Deployment>, BadReview> {
    let mut object: Value =
        serde_json::from_str(object).map_err(|e| BadReview(format!("request.object: {e}")))?;
    if object.get("kind").is_none()
        && let Some(m) = object.as_object_mut()
    {
        m.insert("kind".into(), Value::String(kind.to_string()));
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    portcullis_sources::k8s::object_to_deployments(
        &object,
        origin,
        &mut found,
        &mut errors,
        "object",
    );
    match errors.first() {
        Some(e) => Err(BadReview(format!("request.object: {}", e.message))),
        None => Ok(found),
    }
}

/// The answer to a review.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewAnswer {
    api_version: String,
    kind: &'static str,
    response: Response,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    uid: String,
    allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<Status>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_annotations: Option<AuditAnnotations>,
}

#[derive(Serialize)]
struct Status {
    code: u16,
    reason: &'static str,
    message: String,
}

#[derive(Serialize)]
struct AuditAnnotations {
    findings: String,
}

/// The least a webhook can answer: "allowed", echoing the request's uid (the API server
/// rejects an answer whose uid is not its request's), without judging anything. The
/// baseline `/noop` serves for the load benchmark (`bench_noop`).
pub fn allow_unjudged(body: &[u8]) -> ReviewAnswer {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow)]
        request: Option<UidOnly<'a>>,
    }
    #[derive(Deserialize)]
    struct UidOnly<'a> {
        #[serde(borrow)]
        uid: Option<Cow<'a, str>>,
    }
    let uid = serde_json::from_slice::<Head>(body)
        .ok()
        .and_then(|h| h.request)
        .and_then(|r| r.uid)
        .unwrap_or_default();
    ReviewAnswer {
        api_version: "admission.k8s.io/v1".into(),
        kind: "AdmissionReview",
        response: Response {
            uid: uid.into_owned(),
            allowed: true,
            status: None,
            warnings: Vec::new(),
            audit_annotations: None,
        },
    }
}

/// Judge a review; returns the answer and the alerts to keep.
pub fn review(
    state: &State,
    body: &[u8],
) -> Result<(ReviewAnswer, Vec<Alert>, Verdict), BadReview> {
    let doc: ReviewWire = serde_json::from_slice(body)
        .map_err(|e| BadReview(format!("not an AdmissionReview: {e}")))?;
    if doc.kind.as_deref() != Some("AdmissionReview") {
        return Err(BadReview("expected kind AdmissionReview".into()));
    }
    let api_version = doc
        .api_version
        .as_deref()
        .unwrap_or("admission.k8s.io/v1")
        .to_string();
    let req = doc
        .request
        .ok_or_else(|| BadReview("request is missing".into()))?;
    let uid =
        RequestWire::text(&req.uid).ok_or_else(|| BadReview("request.uid is missing".into()))?;
    let dry_run = req.dry_run.unwrap_or(false);
    let namespace = req.namespace.as_deref().unwrap_or_default();
    let cfg = state.config();
    let mut verdict = Verdict {
        allowed: true,
        ..Verdict::default()
    };
    let mut alerts = Vec::new();
    if !cfg.exempt_namespaces.iter().any(|n| n == namespace) {
        let mut kept = Vec::new();
        for d in deployments(&req)? {
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
    let response = Response {
        uid,
        allowed: verdict.allowed,
        status: (!verdict.allowed).then(|| Status {
            code: 403,
            reason: "Forbidden",
            message: format!(
                "portcullis denied this request: {}",
                verdict.denials.join("; ")
            ),
        }),
        warnings: verdict.warnings.clone(),
        audit_annotations: (!verdict.codes.is_empty()).then(|| AuditAnnotations {
            findings: verdict.codes.join(","),
        }),
    };
    let answer = ReviewAnswer {
        api_version,
        kind: "AdmissionReview",
        response,
    };
    Ok((answer, alerts, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                yaml_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }

    /// The typed reader (bytes → model, what `/validate` uses for built-in kinds) and the
    /// `Value` reader (what `scan` uses, checked by the Pod Security conformance suite) must
    /// see the same deployment in every pod and workload we have: upstream conformance
    /// fixtures, badPods, and the rule pack's own fixtures.
    #[test]
    fn typed_reader_matches_value_reader() {
        let mut files = Vec::new();
        for dir in [
            "../../../shared/conformance/psa",
            "../../../shared/corpus/badPods",
            "../portcullis-rules/fixtures",
        ] {
            yaml_files(Path::new(dir), &mut files);
        }
        let origin = Origin {
            kind: "admission".into(),
            file: "admission".into(),
            ..Origin::default()
        };
        let mut compared = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for doc in portcullis_sources::manifest::split_documents(&text) {
                let Ok(object) = portcullis_sources::manifest::parse_yaml(doc.text) else {
                    continue;
                };
                let Some(kind) = object.get("kind").and_then(Value::as_str) else {
                    continue;
                };
                let json = object.to_string();
                let Some(typed) = built_in(&json, kind) else {
                    continue;
                };
                let by_value = object_by_value(&json, kind, &origin)
                    .unwrap_or_else(|e| panic!("{}: {}", file.display(), e.0));
                let view = |ds: &[Deployment]| {
                    ds.iter()
                        .map(|d| serde_json::json!({"target": d.target, "pod": d.pod}))
                        .collect::<Vec<_>>()
                };
                assert_eq!(view(&typed), view(&by_value), "{} ({kind})", file.display());
                compared += 1;
            }
        }
        // 296 conformance pods alone; fewer means the fixtures were not found.
        assert!(compared > 400, "only {compared} objects compared");
    }

    #[test]
    fn odd_objects_fall_back_to_the_value_reader() {
        // A key written twice, and metadata that is not a mapping: not for the typed reader.
        let twice = r#"{"kind":"Pod","spec":{"containers":[{"name":"a","image":"x"}],"hostPID":false,"hostPID":true}}"#;
        assert!(built_in(twice, "Pod").is_none());
        let origin = Origin::default();
        let ds = object_by_value(twice, "Pod", &origin).unwrap_or_default();
        assert!(
            ds[0].pod.as_ref().is_some_and(|p| p.host_pid),
            "last key wins, as in Go"
        );
        let odd_meta = r#"{"kind":"Pod","metadata":"x","spec":{"containers":[]}}"#;
        assert!(built_in(odd_meta, "Pod").is_none());
        assert!(object_by_value(odd_meta, "Pod", &origin).is_err());
        // A kind that disagrees with the request's: judged by what the object says it is.
        let cron = r#"{"kind":"CronJob","spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"a","image":"x","securityContext":{"privileged":"yes"}}]}}}}}}"#;
        assert!(built_in(cron, "Pod").is_none());
        let ds = object_by_value(cron, "Pod", &origin).unwrap_or_default();
        assert_eq!(ds[0].target.kind, "CronJob");
        let typed = built_in(cron, "CronJob").unwrap_or_default();
        let c = &typed[0].pod.as_ref().expect("pod").containers[0];
        assert_eq!(
            c.security_context.privileged,
            Some(true),
            "YAML 1.1 boolean"
        );
    }
}
