//! The Kubernetes admission webhook's reader: an `AdmissionReview` v1 as the API server
//! sends it → what it asks (uid, namespace, dry run) and the deployments it describes.
//!
//! Pods, every workload kind and any CRD that embeds a pod become deployments, so a bad
//! template is judged at the Deployment, not pod by pod later; `pods/ephemeralcontainers`
//! reads like a pod; `pods/exec` and `pods/attach` CONNECT requests carry their command.
//! Judging and the answer are the server's (`portcullis_server::admission`).

use crate::k8s_wire::{ObjectMeta, PodSpecWire, Text, TextMap};
use portcullis_model::{Actor, Deployment, Operation, Origin, Outcome, Target};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A bad review: the reason goes back as a 400 (never a 500, never a crash).
#[derive(Debug)]
pub struct BadReview(pub String);

/// An `AdmissionReview` as the API server sends it: only what we read, the rest skipped
/// unparsed (`oldObject`, `options`), strings borrowed. With `TYPED`, a built-in kind's
/// object is read into the model in the same pass; without, it is kept as raw JSON.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase", bound(deserialize = "M: Mode"))]
struct ReviewWire<'a, M> {
    #[serde(borrow)]
    api_version: Text<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    request: Option<RequestWire<'a, M>>,
}

/// How a review's object is read: typed in the same pass, or kept raw.
trait Mode: Default {
    const TYPED: bool;
}

#[derive(Default)]
struct Typed;

impl Mode for Typed {
    const TYPED: bool = true;
}

#[derive(Default)]
struct Raw;

impl Mode for Raw {
    const TYPED: bool = false;
}

#[derive(Default)]
struct RequestWire<'a, M> {
    uid: Text<'a>,
    kind: Option<KindWire<'a>>,
    resource: Option<ResourceWire<'a>>,
    sub_resource: Text<'a>,
    name: Text<'a>,
    namespace: Text<'a>,
    operation: Text<'a>,
    user_info: Option<UserInfoWire<'a>>,
    object: ObjectField<'a>,
    /// UPDATE: the object as it was, so the request is judged as a change too.
    old_object: ObjectField<'a>,
    dry_run: Option<bool>,
    mode: std::marker::PhantomData<M>,
}

/// What the request's `object` held.
#[derive(Default)]
enum ObjectField<'a> {
    #[default]
    Absent,
    /// Kept as written: read later as a `Value`, or as exec options.
    Raw(&'a RawValue),
    /// A built-in kind read straight into the model. `None`: not what its kind promises
    /// (no pod spec, another kind), so the review is read again with the object kept raw.
    Typed(Option<Vec<Deployment>>),
}

impl<'de: 'a, 'a, M: Mode> Deserialize<'de> for RequestWire<'a, M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<M>(std::marker::PhantomData<M>);
        impl<'de, M: Mode> Visitor<'de> for V<M> {
            type Value = RequestWire<'de, M>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an admission request")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut r = RequestWire::default();
                while let Some(key) = map.next_key::<Text<'de>>()? {
                    match key.as_deref().unwrap_or_default() {
                        "uid" => r.uid = map.next_value()?,
                        "kind" => r.kind = map.next_value()?,
                        "resource" => r.resource = map.next_value()?,
                        "subResource" => r.sub_resource = map.next_value()?,
                        "name" => r.name = map.next_value()?,
                        "namespace" => r.namespace = map.next_value()?,
                        "operation" => r.operation = map.next_value()?,
                        "userInfo" => r.user_info = map.next_value()?,
                        "dryRun" => r.dry_run = map.next_value()?,
                        key @ ("object" | "oldObject") => {
                            // The API server writes `kind` before `object`, so the object's
                            // shape is known when it arrives.
                            let kind = r.kind.as_ref().and_then(|k| k.kind.as_deref());
                            let slot = if key == "object" {
                                &mut r.object
                            } else {
                                &mut r.old_object
                            };
                            *slot = match kind {
                                Some(kind) if M::TYPED && is_built_in(kind) => {
                                    ObjectField::Typed(map.next_value_seed(BuiltIn { kind })?)
                                }
                                _ => match map.next_value::<Option<&'de RawValue>>()? {
                                    Some(raw) => ObjectField::Raw(raw),
                                    None => ObjectField::Absent,
                                },
                            }
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(r)
            }
        }
        d.deserialize_map(V::<M>(std::marker::PhantomData))
    }
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
    spec: Option<Box<S>>,
    #[serde(borrow)]
    template: Option<TemplateWire<'a>>,
}

/// A pod template: its own metadata (legacy seccomp/AppArmor annotations) and spec.
#[derive(Deserialize)]
struct TemplateWire<'a> {
    metadata: Option<TemplateMeta>,
    // Boxed: serde moves values up through every layer it returns from.
    #[serde(borrow)]
    spec: Option<Box<PodSpecWire<'a>>>,
}

/// A template's metadata: the model keeps only its annotations (the pod's own).
#[derive(Deserialize, Default)]
#[serde(default)]
struct TemplateMeta {
    annotations: TextMap,
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
    #[serde(borrow)]
    schedule: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct JobTemplateWire<'a> {
    #[serde(borrow)]
    spec: Option<WorkloadSpecWire<'a>>,
}

/// What a review asks, read.
pub struct Request {
    pub api_version: String,
    pub uid: String,
    pub namespace: String,
    pub dry_run: bool,
    pub deployments: Vec<Deployment>,
    /// Why the review is denied without judging it, when it is.
    pub refused: Option<String>,
}

/// Read a review. A built-in kind's object is read in the same pass as the request; an
/// object that is not what its kind promises, or odd JSON (a key written twice), is read a
/// second time, kept raw, and judged through the `Value` reader.
pub fn read(body: &[u8]) -> Result<Request, BadReview> {
    // JSON is UTF-8 (RFC 8259). Checked once for the whole body, the parser then reads
    // every string without checking it again — a tenth of the time a review takes to read.
    let body = std::str::from_utf8(body)
        .map_err(|e| BadReview(format!("not an AdmissionReview: not UTF-8 ({e})")))?;
    if let Ok(doc) = serde_json::from_str::<ReviewWire<Typed>>(body)
        && let Some(request) = request_of(doc)?
    {
        return Ok(request);
    }
    let doc: ReviewWire<Raw> = serde_json::from_str(body)
        .map_err(|e| BadReview(format!("not an AdmissionReview: {e}")))?;
    let mut request =
        request_of(doc)?.ok_or_else(|| BadReview("request.object could not be read".into()))?;
    // The API server never writes a key twice. One that does is forged or mangled, and
    // means two objects: Go's decoder merges a repeated object into the first, a map reader
    // keeps the last. Judge neither: deny.
    if let Ok(raw) = crate::go_json::Raw::parse_first(body.as_bytes())
        && let Some(key) = raw.first_repeated_key()
    {
        request.refused = Some(format!(
            "{key} is given twice; the API server merges repeated objects, so this review cannot be judged as one object"
        ));
    }
    Ok(request)
}

fn request_of<M: Mode>(doc: ReviewWire<'_, M>) -> Result<Option<Request>, BadReview> {
    if doc.kind.as_deref() != Some("AdmissionReview") {
        return Err(BadReview("expected kind AdmissionReview".into()));
    }
    let req = doc
        .request
        .ok_or_else(|| BadReview("request is missing".into()))?;
    let uid = req
        .uid
        .as_deref()
        .map(str::to_string)
        .ok_or_else(|| BadReview("request.uid is missing".into()))?;
    let namespace = req.namespace.as_deref().unwrap_or_default().to_string();
    let dry_run = req.dry_run.unwrap_or(false);
    let Some(deployments) = deployments(req)? else {
        return Ok(None);
    };
    Ok(Some(Request {
        api_version: doc
            .api_version
            .as_deref()
            .unwrap_or("admission.k8s.io/v1")
            .to_string(),
        uid,
        namespace,
        dry_run,
        deployments,
        refused: None,
    }))
}

/// The deployments a review's bytes describe (what `review` judges).
pub fn review_deployments(body: &[u8]) -> Result<Vec<Deployment>, BadReview> {
    read(body).map(|r| r.deployments)
}

/// The deployments an admission request describes; `None` when its object was read typed
/// but is not what its kind promises (the caller reads the review again, raw).
fn deployments<M: Mode>(mut req: RequestWire<'_, M>) -> Result<Option<Vec<Deployment>>, BadReview> {
    let uid = req
        .uid
        .as_deref()
        .map(str::to_string)
        .ok_or_else(|| BadReview("request.uid is missing".into()))?;
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
        .and_then(|u| u.username.as_deref().map(str::to_string));
    let actor = Actor::from_user(
        username,
        req.user_info
            .as_mut()
            .map(|u| std::mem::take(&mut u.groups))
            .unwrap_or_default(),
    );
    let operation = match (op, sub) {
        ("CONNECT", "exec") => Operation::Exec,
        ("CONNECT", "attach") => Operation::Attach,
        (_, "ephemeralcontainers") => Operation::EphemeralContainer,
        ("CREATE", _) => Operation::Create,
        ("UPDATE", _) => Operation::Update,
        _ => return Ok(Some(Vec::new())),
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
        // The kind comes from the object (or is "Pod" for exec and attach).
        target: Target {
            namespace: req.namespace.as_deref().map(str::to_string),
            name: req.name.as_deref().map(str::to_string),
            ..Target::default()
        },
        ..Deployment::default()
    };
    let old_object = std::mem::take(&mut req.old_object);
    let found = match req.object {
        ObjectField::Typed(Some(found)) => found,
        ObjectField::Typed(None) => return Ok(None),
        ObjectField::Raw(object) if object.get().starts_with('{') => {
            if matches!(operation, Operation::Exec | Operation::Attach) {
                let mut d = base;
                d.target.kind = "Pod".into();
                let cmd = serde_json::from_str::<ExecOptionsWire>(object.get())
                    .map(|o| o.command)
                    .unwrap_or_default();
                if !cmd.is_empty() {
                    d.target.set_exec_command(cmd.join(" "));
                }
                return Ok(Some(vec![d]));
            }
            let fallback_kind = if kind.is_empty() {
                req.resource
                    .as_ref()
                    .and_then(|r| r.resource.as_deref())
                    .unwrap_or_default()
            } else {
                kind
            };
            match built_in(object.get(), kind) {
                Some(found) => found,
                None => object_by_value(object.get(), fallback_kind, &base.origin)?,
            }
        }
        _ => return Err(BadReview("request.object is missing".into())),
    };
    // An UPDATE's old object: each pod it held is the previous spec of the same pod now.
    let previous: Vec<Option<portcullis_model::PodSpec>> = match old_object {
        ObjectField::Typed(Some(old)) => old.into_iter().map(|d| d.pod).collect(),
        ObjectField::Raw(raw) if raw.get().starts_with('{') => built_in(raw.get(), kind)
            .or_else(|| object_by_value(raw.get(), kind, &base.origin).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.pod)
            .collect(),
        _ => Vec::new(),
    };
    // The request says who did what (uid, actor, operation, and the name and namespace it
    // was sent to); the object says what it is (kind, labels, pod). The last deployment takes
    // the request's facts, the others (a CRD with several pods) a copy.
    let mut base = Some(base);
    let last = found.len().saturating_sub(1);
    Ok(Some(
        found
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
                d.previous = previous.get(i).cloned().flatten().map(Box::new);
                d
            })
            .collect(),
    ))
}

/// Kinds whose pod sits at a known place (PSA's list), read typed.
fn is_built_in(kind: &str) -> bool {
    matches!(
        kind,
        "Pod"
            | "PodTemplate"
            | "Deployment"
            | "ReplicaSet"
            | "DaemonSet"
            | "StatefulSet"
            | "Job"
            | "ReplicationController"
            | "CronJob"
    )
}

/// A built-in kind's object (as a standalone JSON text), read typed.
fn built_in(object: &str, kind: &str) -> Option<Vec<Deployment>> {
    if !is_built_in(kind) {
        return None;
    }
    BuiltIn { kind }
        .deserialize(&mut serde_json::Deserializer::from_str(object))
        .ok()
        .flatten()
}

/// Reads a built-in kind's object straight into the model, in one pass. `None` when the
/// object is not what its kind promises (no pod spec, another kind); an error when it is
/// odd JSON (a key written twice, metadata that is not a mapping). Either way the `Value`
/// path then judges it, or explains what is wrong with it.
struct BuiltIn<'k> {
    kind: &'k str,
}

impl<'de> DeserializeSeed<'de> for BuiltIn<'_> {
    type Value = Option<Vec<Deployment>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        type Parts<'a> = (ObjectMeta<'a>, Option<TemplateMeta>, Box<PodSpecWire<'a>>);
        fn one<'de, S: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
            kind: &str,
            path: &str,
            pod_of: impl FnOnce(ObjectWire<'de, S>) -> Option<Parts<'de>>,
        ) -> Result<Option<Vec<Deployment>>, D::Error> {
            let o = ObjectWire::<'de, S>::deserialize(d)?;
            if o.kind.as_deref().is_some_and(|k| k != kind) {
                return Ok(None);
            }
            let api_version = o.api_version.as_deref().map(str::to_string);
            let Some((meta, template_meta, spec)) = pod_of(o) else {
                return Ok(None);
            };
            // The pod's own annotations: the object's for a Pod, the template's otherwise.
            let annotations = match template_meta {
                Some(t) => t.annotations.0,
                None => meta.annotations.0.clone(),
            };
            let target = meta.into_target(kind, api_version);
            let pod = spec.into_model(&["object.", path].concat(), annotations, None);
            Ok(Some(vec![Deployment {
                target,
                pod: Some(pod),
                ..Deployment::default()
            }]))
        }
        fn template<'a>(
            meta: Option<ObjectMeta<'a>>,
            t: Option<TemplateWire<'a>>,
        ) -> Option<Parts<'a>> {
            let t = t?;
            Some((
                meta.unwrap_or_default(),
                Some(t.metadata.unwrap_or_default()),
                t.spec?,
            ))
        }
        let kind = self.kind;
        match kind {
            "Pod" => one::<PodSpecWire, D>(d, kind, "spec", |o| {
                Some((o.metadata.unwrap_or_default(), None, o.spec?))
            }),
            "PodTemplate" => one::<IgnoredAny, D>(d, kind, "template.spec", |o| {
                template(o.metadata, o.template)
            }),
            "CronJob" => {
                let mut schedule = None;
                let found = one::<CronJobSpecWire, D>(
                    d,
                    kind,
                    "spec.jobTemplate.spec.template.spec",
                    |o| {
                        let spec = o.spec?;
                        schedule = spec.schedule.as_deref().map(str::to_string);
                        template(o.metadata, spec.job_template?.spec?.template)
                    },
                )?;
                Ok(found.map(|mut ds| {
                    for d in &mut ds {
                        d.target.schedule = schedule.clone();
                    }
                    ds
                }))
            }
            _ => one::<WorkloadSpecWire, D>(d, kind, "spec.template.spec", |o| {
                template(o.metadata, o.spec?.template)
            }),
        }
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
    crate::k8s::object_to_deployments(&object, origin, &mut found, &mut errors, "object");
    match errors.first() {
        Some(e) => Err(BadReview(format!("request.object: {}", e.message))),
        None => Ok(found),
    }
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
            for doc in crate::manifest::split_documents(&text) {
                let Ok(object) = crate::manifest::parse_yaml(doc.text) else {
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

    /// JSON is UTF-8: a review with other bytes is refused with the reason, wherever the
    /// bytes sit (even in a part the reader would skip); escapes still read as text.
    #[test]
    fn reviews_are_utf8() {
        let review = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../portcullis-server/benches/reviews/deployment.json"),
        )
        .expect("the review benchmark's Deployment review");
        assert_eq!(
            review_deployments(review.as_bytes()).map(|d| d.len()).ok(),
            Some(1)
        );
        let mut broken = review
            .replace("\"dryRun\":false", "\"dryRun\":false,\"x\":\"caf\u{e9}\"")
            .into_bytes();
        if let Some(at) = broken.iter().position(|&b| b == 0xc3) {
            broken.remove(at); // é without its lead byte: a stray continuation byte
        }
        let err = review_deployments(&broken)
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(err.contains("not UTF-8"), "{err}");
        let escaped = review.replace(
            "\"name\":\"web\",\"image\"",
            "\"name\":\"w\\u00e9b\",\"image\"",
        );
        let ds = review_deployments(escaped.as_bytes()).unwrap_or_default();
        let names: Vec<&str> = ds
            .iter()
            .flat_map(|d| d.pod.iter())
            .flat_map(|p| p.containers.iter())
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, ["wéb", "proxy"]);
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
        // A mapping where a list belongs must not make the pod read as empty (which would
        // hide the privileged container from every rule), on either path.
        let odd_list = r#"{"kind":"Pod","spec":{"initContainers":{},"containers":[{"name":"a","image":"x","securityContext":{"privileged":true}}],"hostPID":true,"hostPID":true}}"#;
        assert!(
            built_in(odd_list, "Pod").is_none(),
            "a key twice: the Value path"
        );
        let ds = object_by_value(odd_list, "Pod", &origin).unwrap_or_default();
        let pod = ds[0].pod.as_ref().expect("pod");
        assert_eq!(pod.containers.len(), 1);
        assert_eq!(pod.containers[0].security_context.privileged, Some(true));
        let once = odd_list.replacen(r#","hostPID":true"#, "", 1);
        let typed = built_in(&once, "Pod").unwrap_or_default();
        assert_eq!(
            typed[0].pod.as_ref().map(|p| p.containers.len()),
            Some(1),
            "typed path"
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
