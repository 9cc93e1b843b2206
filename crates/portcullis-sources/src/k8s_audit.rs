//! Kubernetes audit logs → [`Deployment`]s.
//!
//! Reads `audit.k8s.io/v1` and `v1beta1` Events (with or without top-level `apiVersion`),
//! `EventList` bodies, arrays, and the GKE (`protoPayload`) and AKS (`properties.log`, an
//! object or a JSON string) wrappers.
//!
//! Two halves, so the expensive one runs on every core:
//! - [`parse_line`] is stateless: a typed, borrowing parse of one event (bodies stay raw
//!   until the event is known to matter), then the mapping to deployments.
//! - [`Correlator`] is the ordered, stateful part: it counts a request once by merging its
//!   stages on `auditID`, and links controller-made pods to the workload whose template
//!   was already judged, so an alert on a Deployment is not repeated for every replica
//!   while a pod that differs from its template is judged on its own.

use crate::{SourceError, k8s, value};
use portcullis_model::{
    Actor, Deployment, Operation, Origin, Outcome, OwnerRef, PodSpec, Target, WorkloadLink,
};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};

/// Built-in resources, by API group, whose objects never hold a pod: a write to one is
/// not a deployment whatever its body, so its body is not read. Lease renewals, node
/// status patches and events are most of the writes in every audit log, and at Request or
/// RequestResponse level each carries a body. Only built-in groups are listed: a custom
/// resource named `events` in another group still has its body searched for a pod.
const PODLESS_RESOURCES: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "events",
            "endpoints",
            "configmaps",
            "secrets",
            "services",
            "serviceaccounts",
            "namespaces",
            "nodes",
            "persistentvolumeclaims",
            "persistentvolumes",
            "limitranges",
            "resourcequotas",
        ],
    ),
    ("coordination.k8s.io", &["leases"]),
    ("events.k8s.io", &["events"]),
    ("discovery.k8s.io", &["endpointslices"]),
    (
        "authentication.k8s.io",
        &["tokenreviews", "selfsubjectreviews"],
    ),
    (
        "authorization.k8s.io",
        &[
            "subjectaccessreviews",
            "selfsubjectaccessreviews",
            "selfsubjectrulesreviews",
            "localsubjectaccessreviews",
        ],
    ),
    (
        "rbac.authorization.k8s.io",
        &[
            "roles",
            "rolebindings",
            "clusterroles",
            "clusterrolebindings",
        ],
    ),
    (
        "networking.k8s.io",
        &["ingresses", "ingressclasses", "networkpolicies"],
    ),
    ("policy", &["poddisruptionbudgets"]),
    ("autoscaling", &["horizontalpodautoscalers"]),
    (
        "storage.k8s.io",
        &[
            "storageclasses",
            "csinodes",
            "csidrivers",
            "volumeattachments",
            "csistoragecapacities",
        ],
    ),
    ("scheduling.k8s.io", &["priorityclasses"]),
    ("certificates.k8s.io", &["certificatesigningrequests"]),
    (
        "flowcontrol.apiserver.k8s.io",
        &["flowschemas", "prioritylevelconfigurations"],
    ),
    ("apiregistration.k8s.io", &["apiservices"]),
    (
        "admissionregistration.k8s.io",
        &[
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicybindings",
        ],
    ),
];

fn is_podless(group: &str, resource: &str) -> bool {
    PODLESS_RESOURCES
        .iter()
        .any(|(g, rs)| *g == group && rs.contains(&resource))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ObjectRef<'a> {
    #[serde(borrow, default)]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    subresource: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    api_group: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    api_version: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct UserInfo<'a> {
    #[serde(borrow, default)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    groups: Vec<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
struct ResponseStatus<'a> {
    #[serde(default)]
    code: Option<i64>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

/// The fields of an audit Event we read. Bodies stay raw: parsing them is the expensive
/// part, and most events (reads, leases) never need it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Event<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "auditID")]
    audit_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "requestURI")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    verb: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    user: UserInfo<'a>,
    #[serde(borrow, default)]
    impersonated_user: Option<UserInfo<'a>>,
    #[serde(borrow, default, rename = "sourceIPs")]
    source_ips: Vec<Cow<'a, str>>,
    #[serde(borrow, default)]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    object_ref: Option<ObjectRef<'a>>,
    #[serde(borrow, default)]
    response_status: Option<ResponseStatus<'a>>,
    #[serde(borrow, default)]
    request_object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response_object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    annotations: Option<HashMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow, default)]
    request_received_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stage_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    // Wrappers and lists.
    #[serde(borrow, default)]
    items: Option<&'a RawValue>,
    #[serde(borrow, default)]
    proto_payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
}

/// The few fields that decide whether an event can matter, read without allocating.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    #[serde(borrow, default)]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    verb: Option<&'a str>,
    #[serde(borrow, default)]
    object_ref: Option<HeadRef<'a>>,
    #[serde(borrow, default)]
    request_object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    response_object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    items: Option<&'a RawValue>,
    #[serde(borrow, default)]
    proto_payload: Option<&'a RawValue>,
    #[serde(borrow, default)]
    properties: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeadRef<'a> {
    #[serde(borrow, default)]
    api_group: Option<&'a str>,
    #[serde(borrow, default)]
    resource: Option<&'a str>,
    #[serde(borrow, default)]
    subresource: Option<&'a str>,
}

impl Head<'_> {
    /// False only for well-formed events that cannot be a deployment: wrappers, lists and
    /// anything unusual go on to the full parse.
    fn may_matter(&self) -> bool {
        if self.items.is_some() || self.proto_payload.is_some() || self.properties.is_some() {
            return true;
        }
        if self.kind.is_some_and(|k| k != "Event") || self.verb.is_none() {
            return true;
        }
        let verb = self.verb.unwrap_or("");
        let (group, resource, sub) = self.object_ref.as_ref().map_or(("", "", ""), |o| {
            (
                o.api_group.unwrap_or(""),
                o.resource.unwrap_or(""),
                o.subresource.unwrap_or(""),
            )
        });
        let writes = matches!(verb, "create" | "update" | "patch");
        match sub {
            "exec" | "attach" => matches!(verb, "create" | "get"),
            "ephemeralcontainers" => writes,
            "" => {
                writes
                    && !is_podless(group, resource)
                    && (resource_kind(resource).is_some()
                        || self.request_object.is_some()
                        || self.response_object.is_some())
            }
            _ => false,
        }
    }
}

/// One relevant audit event, mapped: what the correlator needs to merge and link.
#[derive(Debug)]
pub struct Record {
    pub audit_id: Option<String>,
    pub stage: Stage,
    pub deployments: Vec<Deployment>,
    /// The event as received, kept for a stage before `ResponseComplete`: a receiver
    /// stores it so that a request whose last stage never comes is still judged, across a
    /// restart too.
    pub event: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    RequestReceived,
    ResponseStarted,
    ResponseComplete,
    Panic,
}

/// Parse one line (or one document) of an audit log. `Ok(vec![])` for events that are not
/// deployments (reads, leases, RBAC…), an error naming the line and field otherwise.
pub fn parse_line(text: &str, file: &str, line: usize) -> Result<Vec<Record>, SourceError> {
    parse_event(text, file, line, false)
}

/// [`parse_line`] for a receiver that must keep what it acknowledged: a record before its
/// final stage carries its event text ([`Record::event`]) to be stored while it waits.
pub fn parse_line_keeping(text: &str, file: &str, line: usize) -> Result<Vec<Record>, SourceError> {
    parse_event(text, file, line, true)
}

fn parse_event(
    text: &str,
    file: &str,
    line: usize,
    keep: bool,
) -> Result<Vec<Record>, SourceError> {
    if is_plain_read(text) {
        return Ok(Vec::new());
    }
    let err = |message: String| SourceError::at(file, line, message);
    // A cheap first look (no allocation): most writes are leases and events.
    if let Ok(head) = serde_json::from_str::<Head<'_>>(text)
        && !head.may_matter()
    {
        return Ok(Vec::new());
    }
    let ev: Event<'_> = serde_json::from_str(text)
        .map_err(|e| SourceError::json(file, line, "invalid audit event", &e))?;
    // Wrappers first: an EventList, a GKE or AKS envelope.
    if let Some(items) = ev.items {
        let items: Vec<&RawValue> =
            serde_json::from_str(items.get()).map_err(|e| err(format!("EventList items: {e}")))?;
        let mut out = Vec::new();
        for it in items {
            out.extend(parse_event(it.get(), file, line, keep)?);
        }
        return Ok(out);
    }
    if let Some(props) = ev.properties {
        let props: Value =
            serde_json::from_str(props.get()).map_err(|e| err(format!("properties: {e}")))?;
        return match props.get("log") {
            Some(Value::String(s)) => parse_event(s, file, line, keep),
            Some(obj @ Value::Object(_)) => parse_event(&obj.to_string(), file, line, keep),
            _ => Ok(Vec::new()),
        };
    }
    if let Some(pp) = ev.proto_payload {
        let pp: Value =
            serde_json::from_str(pp.get()).map_err(|e| err(format!("protoPayload: {e}")))?;
        let outer: Value = serde_json::from_str(text).unwrap_or_default();
        return match gke_to_event(&pp, &outer) {
            Some(e) => parse_event(&e.to_string(), file, line, keep),
            None => Ok(Vec::new()),
        };
    }
    if let Some(k) = &ev.kind
        && k != "Event"
    {
        return Err(SourceError {
            field: Some("kind".into()),
            ..err(format!("expected an audit Event, found kind {k:?}"))
        });
    }
    if ev.verb.is_none() && ev.audit_id.is_none() {
        return Err(SourceError {
            field: Some("verb".into()),
            ..err("not an audit event: no verb and no auditID".into())
        });
    }
    Ok(map_event(&ev, file, line)
        .map(|mut r| {
            if keep && r.stage < Stage::ResponseComplete {
                r.event = Some(text.to_string());
            }
            r
        })
        .into_iter()
        .collect())
}

/// A fast path for the bulk of every audit log: a complete line whose every `"verb"` is
/// get, list or watch and that names no subresource (exec, attach) is a read, and cannot
/// be a deployment. Found by byte search, without parsing. Checking every occurrence
/// matters: with sorted keys, a body's own `verb` field can come before the event's.
/// Anything else — including a truncated or odd line — takes the full parse, so broken
/// lines are still reported.
fn is_plain_read(text: &str) -> bool {
    let t = text.trim_end();
    if !t.starts_with('{') || !t.ends_with('}') || t.contains("\"subresource\"") {
        return false;
    }
    let bytes = t.as_bytes();
    let finder = memchr::memmem::Finder::new(b"\"verb\"");
    let mut seen = false;
    for at in finder.find_iter(bytes) {
        let rest = t[at + 6..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else {
            return false;
        };
        let rest = rest.trim_start();
        let verb = rest
            .strip_prefix('"')
            .and_then(|r| r.split('"').next())
            .unwrap_or("");
        if !matches!(verb, "get" | "list" | "watch") {
            return false;
        }
        seen = true;
    }
    seen
}

fn resource_kind(resource: &str) -> Option<&'static str> {
    portcullis_model::workload::by_resource(resource).map(|w| w.kind)
}

fn map_event(ev: &Event<'_>, file: &str, line: usize) -> Option<Record> {
    let verb = ev.verb.as_deref().unwrap_or("");
    let oref = ev.object_ref.as_ref();
    let resource = oref.and_then(|o| o.resource.as_deref()).unwrap_or("");
    let sub = oref.and_then(|o| o.subresource.as_deref()).unwrap_or("");
    let operation = match (resource, sub, verb) {
        ("pods", "exec", "create" | "get") => Operation::Exec,
        ("pods", "attach", "create" | "get") => Operation::Attach,
        ("pods", "ephemeralcontainers", "update" | "patch") => Operation::EphemeralContainer,
        (_, "", "create") => Operation::Create,
        (_, "", "update") => Operation::Update,
        (_, "", "patch") => Operation::Patch,
        _ => return None,
    };
    let known_kind = resource_kind(resource);
    let has_body = ev.request_object.is_some() || ev.response_object.is_some();
    // Unknown resources matter only when their body embeds a pod (found by shape below).
    let group = oref.and_then(|o| o.api_group.as_deref()).unwrap_or("");
    if known_kind.is_none() && (!has_body || is_podless(group, resource)) {
        return None;
    }
    let stage = match ev.stage.as_deref() {
        Some("RequestReceived") => Stage::RequestReceived,
        Some("ResponseStarted") => Stage::ResponseStarted,
        Some("Panic") => Stage::Panic,
        _ => Stage::ResponseComplete,
    };
    let origin = Origin {
        kind: "k8s_audit".into(),
        file: file.into(),
        line,
        document: 0,
        record_id: ev.audit_id.as_deref().map(str::to_string),
    };
    let username = ev.user.username.as_deref().map(str::to_string);
    let (user, groups, impersonator) = match &ev.impersonated_user {
        Some(imp) => (
            imp.username.as_deref().map(str::to_string),
            imp.groups.iter().map(|g| g.to_string()).collect(),
            username.clone(),
        ),
        None => (
            username,
            ev.user.groups.iter().map(|g| g.to_string()).collect(),
            None,
        ),
    };
    let actor = Actor {
        source_ips: ev.source_ips.iter().map(|s| s.to_string()).collect(),
        user_agent: ev.user_agent.as_deref().map(str::to_string),
        impersonator,
        ..Actor::from_user(user, groups)
    };
    let annotations = |k: &str| {
        ev.annotations
            .as_ref()
            .and_then(|a| a.get(k))
            .map(|v| v.to_string())
    };
    let code = ev.response_status.as_ref().and_then(|s| s.code);
    let dry_run = ev
        .request_uri
        .as_deref()
        .is_some_and(|u| u.contains("dryRun="));
    let outcome = if annotations("authorization.k8s.io/decision").as_deref() == Some("forbid") {
        Outcome::Denied
    } else {
        match code {
            None => Outcome::Attempted,
            Some(_) if dry_run => Outcome::Attempted,
            Some(101 | 200..=299) => Outcome::Created,
            Some(401 | 403) => Outcome::Denied,
            // Admission webhooks and ValidatingAdmissionPolicy deny with 400/422.
            Some(400 | 422)
                if ev.response_status.as_ref().is_some_and(|s| {
                    let m = format!(
                        "{} {}",
                        s.reason.as_deref().unwrap_or(""),
                        s.message.as_deref().unwrap_or("")
                    );
                    m.contains("admission")
                        || m.contains("denied")
                        || m.contains("violates PodSecurity")
                        || m.contains("Forbidden")
                }) =>
            {
                Outcome::Denied
            }
            Some(_) => Outcome::Attempted,
        }
    };
    let mut target = Target {
        kind: known_kind.map_or_else(|| resource.to_string(), str::to_string),
        api_version: oref
            .map(|o| match (&o.api_group, &o.api_version) {
                (Some(g), Some(v)) if !g.is_empty() => format!("{g}/{v}"),
                (_, Some(v)) => v.to_string(),
                _ => String::new(),
            })
            .unwrap_or_default(),
        namespace: oref
            .and_then(|o| o.namespace.as_deref())
            .map(str::to_string),
        name: oref.and_then(|o| o.name.as_deref()).map(str::to_string),
        ..Target::default()
    };
    if matches!(operation, Operation::Exec | Operation::Attach) {
        // The command of an exec is in the query string: command=a&command=b.
        if let Some(uri) = ev.request_uri.as_deref() {
            let query = uri.split_once('?').map_or("", |(_, q)| q);
            let cmd: Vec<String> = query
                .split('&')
                .filter_map(|kv| kv.strip_prefix("command="))
                .map(crate::value::percent_decode)
                .collect();
            if !cmd.is_empty() {
                target.set_exec_command(cmd.join(" "));
            }
            if let Some(c) = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("container="))
            {
                target.set_exec_container(crate::value::percent_decode(c));
            }
        }
    }
    let time = ev
        .stage_timestamp
        .as_deref()
        .or(ev.request_received_timestamp.as_deref())
        .or(ev.timestamp.as_deref())
        .map(str::to_string);
    let base = Deployment {
        origin,
        time,
        actor,
        operation,
        outcome,
        target,
        ..Deployment::default()
    };
    let mut deployments = Vec::new();
    if matches!(operation, Operation::Exec | Operation::Attach) {
        deployments.push(base);
    } else {
        // The object as persisted when the response has it (mutations applied, a patch
        // merged), else what was asked for.
        let response = ev
            .response_object
            .filter(|_| code.is_some_and(|c| (200..300).contains(&c)));
        let is_response = response.is_some();
        let body = response.or(ev.request_object);
        // A client's body may name a key twice; the API server merged it into what it
        // stored, so it is read merged (go_json::Merged), not last-wins.
        match body.and_then(|b| {
            serde_json::from_str::<crate::go_json::Merged>(b.get())
                .ok()
                .map(|m| m.0)
        }) {
            Some(obj) => deployments.extend(object_deployments(obj, &base, is_response, resource)),
            None if known_kind.is_some() => deployments.push(base),
            None => {}
        }
    }
    (!deployments.is_empty()).then(|| Record {
        audit_id: ev.audit_id.as_deref().map(str::to_string),
        stage,
        deployments,
        event: None,
    })
}

/// Deployments from an event's object. A patch body (no response object) is a fragment: a
/// JSON Patch is placed at its paths, a merge patch is taken as the partial object.
fn object_deployments(
    mut obj: Value,
    base: &Deployment,
    is_response: bool,
    resource: &str,
) -> Vec<Deployment> {
    if base.operation == Operation::Patch && !is_response {
        if obj.is_array() {
            obj = k8s::json_patch_object(&obj);
        }
        let pod = k8s::any_pod_spec(&obj);
        // A patch of a resource that is not a workload is a deployment only when it
        // carries a pod (a custom resource's template).
        if pod.is_none() && resource_kind(resource).is_none() {
            return Vec::new();
        }
        let mut d = base.clone();
        absorb_metadata(&mut d.target, &obj);
        d.pod = pod;
        return vec![d];
    }
    if obj.get("kind").is_none()
        && let Some(kind) = resource_kind(resource)
        && let Some(m) = obj.as_object_mut()
    {
        m.insert("kind".into(), Value::String(kind.into()));
    }
    // Legacy `EphemeralContainers` objects hold the list at the top level.
    if obj.get("kind").and_then(Value::as_str) == Some("EphemeralContainers")
        && let Some(m) = obj.as_object_mut()
    {
        let list = m
            .remove("ephemeralContainers")
            .unwrap_or(Value::Array(Vec::new()));
        m.insert("kind".into(), "Pod".into());
        m.insert(
            "spec".into(),
            serde_json::json!({"containers": [], "ephemeralContainers": list}),
        );
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    k8s::object_to_deployments(&obj, &base.origin, &mut found, &mut errors, "");
    if found.is_empty() {
        let mut d = base.clone();
        absorb_metadata(&mut d.target, &obj);
        return if resource_kind(resource).is_some() {
            vec![d]
        } else {
            Vec::new()
        };
    }
    found
        .into_iter()
        .map(|f| {
            let mut d = base.clone();
            // The audit event knows the namespace and name even when the body leaves them
            // to the URL (generateName, namespace defaulting).
            d.target.kind = f.target.kind;
            d.target.owner_references = f.target.owner_references;
            d.target.labels = f.target.labels;
            d.target.annotations.extend(f.target.annotations);
            d.target.schedule = f.target.schedule;
            if d.target.name.is_none() {
                d.target.name = f.target.name;
            }
            if d.target.namespace.is_none() {
                d.target.namespace = f.target.namespace;
            }
            d.pod = f.pod;
            d
        })
        .collect()
}

fn absorb_metadata(t: &mut Target, obj: &Value) {
    let meta = obj.get("metadata").unwrap_or(&Value::Null);
    if t.name.is_none() {
        t.name = value::string(meta, "name");
    }
    t.labels = value::string_map(meta, "labels");
    t.annotations.extend(value::string_map(meta, "annotations"));
    t.owner_references = value::arr(meta, "ownerReferences")
        .iter()
        .map(|o| OwnerRef {
            kind: value::string(o, "kind").unwrap_or_default(),
            name: value::string(o, "name").unwrap_or_default(),
            controller: value::boolean(o, "controller").unwrap_or(false),
        })
        .collect();
}

/// A GKE Cloud Audit Log entry as a Kubernetes audit Event.
fn gke_to_event(pp: &Value, outer: &Value) -> Option<Value> {
    let method = pp.get("methodName")?.as_str()?;
    // io.k8s.core.v1.pods.create, io.k8s.apps.v1.deployments.patch, io.k8s.core.v1.pods.exec.create
    let parts: Vec<&str> = method.strip_prefix("io.k8s.")?.split('.').collect();
    let verb = *parts.last()?;
    let (group, version, resource, sub) = match parts.as_slice() {
        [g, v, r, s, _] => (*g, *v, *r, Some(*s)),
        [g, v, r, _] => (*g, *v, *r, None),
        _ => return None,
    };
    // resourceName: core/v1/namespaces/default/pods/name[/exec]
    let rn: Vec<&str> = pp
        .get("resourceName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .split('/')
        .collect();
    let ns = rn
        .iter()
        .position(|p| *p == "namespaces")
        .and_then(|i| rn.get(i + 1))
        .copied();
    let name = rn
        .iter()
        .position(|p| *p == resource)
        .and_then(|i| rn.get(i + 1))
        .copied();
    let code = match pp
        .get("status")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_i64)
    {
        Some(0) | None => 200,
        Some(7) => 403,
        Some(16) => 401,
        Some(3) => 400,
        Some(_) => 500,
    };
    Some(serde_json::json!({
        "kind": "Event",
        "auditID": outer.get("insertId"),
        "stage": "ResponseComplete",
        "verb": verb,
        "user": {"username": pp.get("authenticationInfo").and_then(|a| a.get("principalEmail"))},
        "sourceIPs": pp.get("requestMetadata").and_then(|m| m.get("callerIp")).map(|ip| vec![ip.clone()]).unwrap_or_default(),
        "userAgent": pp.get("requestMetadata").and_then(|m| m.get("callerSuppliedUserAgent")),
        "objectRef": {"resource": resource, "subresource": sub, "namespace": ns, "name": name,
                      "apiGroup": if group == "core" { "" } else { group }, "apiVersion": version},
        "responseStatus": {"code": code},
        "requestObject": pp.get("request"),
        "responseObject": pp.get("response"),
        "annotations": outer.get("labels"),
        "stageTimestamp": outer.get("timestamp"),
    }))
}

/// The security-relevant shape of a pod spec, without what admission and controllers add
/// (default tolerations, service-account volumes, node affinity by name, paths).
pub fn fingerprint(pod: &PodSpec) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (
        pod.host_network,
        pod.host_pid,
        pod.host_ipc,
        pod.host_users,
        pod.share_process_namespace,
    )
        .hash(&mut h);
    format!("{:?}", pod.security_context).hash(&mut h);
    for v in pod.volumes.iter().filter(|v| v.host_path.is_some()) {
        format!("{:?}", v.host_path).hash(&mut h);
    }
    for c in &pod.containers {
        (
            c.kind,
            &c.name,
            &c.image.raw,
            &c.command,
            &c.args,
            &c.working_dir,
            &c.devices,
            &c.post_start,
            &c.pre_stop,
        )
            .hash(&mut h);
        format!("{:?}", c.security_context).hash(&mut h);
        for m in c.mounts.iter().filter(|m| m.host_path.is_some()) {
            (
                &m.mount_path,
                m.read_only,
                &m.propagation,
                format!("{:?}", m.host_path),
            )
                .hash(&mut h);
        }
        for p in c.ports.iter().filter_map(|p| p.host_port) {
            p.hash(&mut h);
        }
    }
    h.finish()
}

/// Merges stages and links controller pods, in log order, within bounded memory.
pub struct Correlator {
    pending: HashMap<String, Record>,
    pending_order: VecDeque<String>,
    emitted: HashSet<String>,
    emitted_order: VecDeque<String>,
    templates: HashMap<(Option<String>, u64), WorkloadLink>,
    template_order: VecDeque<(Option<String>, u64)>,
    /// The last whole spec seen of each workload (namespace, kind, name), so an update or
    /// a patch is judged as a change from it.
    specs: HashMap<WorkloadKey, PodSpec>,
    spec_order: VecDeque<WorkloadKey>,
    limit: usize,
    /// Replica pods dropped because their workload's template was already judged.
    pub linked_replicas: usize,
}

type WorkloadKey = (Option<String>, String, String);

/// Workloads whose last spec is kept for judging changes (a few MB at most).
const MAX_REMEMBERED_SPECS: usize = 5_000;

impl Default for Correlator {
    fn default() -> Self {
        Correlator::new(100_000)
    }
}

impl Correlator {
    /// `limit` bounds each of the in-flight, seen and template tables.
    pub fn new(limit: usize) -> Correlator {
        Correlator {
            pending: HashMap::new(),
            pending_order: VecDeque::new(),
            emitted: HashSet::new(),
            emitted_order: VecDeque::new(),
            templates: HashMap::new(),
            template_order: VecDeque::new(),
            specs: HashMap::new(),
            spec_order: VecDeque::new(),
            limit: limit.max(16),
            linked_replicas: 0,
        }
    }

    /// Feed one record; deployments that are ready go to `out`.
    pub fn push(&mut self, rec: Record, out: &mut Vec<Deployment>) {
        let Some(id) = rec.audit_id.clone() else {
            self.emit(rec, out);
            return;
        };
        if self.emitted.contains(&id) {
            return;
        }
        let merged = match self.pending.remove(&id) {
            Some(prev) => merge(prev, rec),
            None => rec,
        };
        if merged.stage >= Stage::ResponseComplete {
            self.emit(merged, out);
        } else {
            if !self.pending.contains_key(&id) {
                self.pending_order.push_back(id.clone());
            }
            self.pending.insert(id, merged);
            while self.pending.len() > self.limit {
                let Some(old) = self.pending_order.pop_front() else {
                    break;
                };
                if let Some(r) = self.pending.remove(&old) {
                    self.emit(r, out);
                }
            }
        }
    }

    /// Is this request still waiting for its final stage?
    pub fn is_pending(&self, id: &str) -> bool {
        self.pending.contains_key(id)
    }

    /// Judge a request now, without its final stage (it never came in time).
    pub fn release(&mut self, id: &str, out: &mut Vec<Deployment>) {
        if let Some(r) = self.pending.remove(id) {
            self.pending_order.retain(|p| p != id);
            self.emit(r, out);
        }
    }

    /// Take back the "already judged" mark of these audit IDs: a receiver whose store
    /// refused the alerts they produced answers an error, and the API server's retry must
    /// be judged again rather than dropped as a repeat.
    pub fn forget(&mut self, ids: &[String]) {
        for id in ids {
            self.emitted.remove(id);
        }
    }

    /// Flush requests whose final stage never came (a truncated log, a long exec).
    pub fn finish(&mut self, out: &mut Vec<Deployment>) {
        while let Some(id) = self.pending_order.pop_front() {
            if let Some(r) = self.pending.remove(&id) {
                self.emit(r, out);
            }
        }
    }

    fn emit(&mut self, rec: Record, out: &mut Vec<Deployment>) {
        if let Some(id) = rec.audit_id {
            self.emitted_order.push_back(id.clone());
            self.emitted.insert(id);
            while self.emitted_order.len() > self.limit {
                if let Some(old) = self.emitted_order.pop_front() {
                    self.emitted.remove(&old);
                }
            }
        }
        for mut d in rec.deployments {
            self.remember_spec(&mut d);
            if self.link(&mut d) {
                self.linked_replicas += 1;
                continue;
            }
            out.push(d);
        }
    }

    /// Give an update or patch the workload's previous spec; remember whole specs
    /// (creates and updates carry the whole object; a patch without its response object
    /// is a fragment, and is not remembered).
    fn remember_spec(&mut self, d: &mut Deployment) {
        let (Some(name), Some(pod)) = (d.target.name.clone(), d.pod.as_ref()) else {
            return;
        };
        if d.outcome == Outcome::Denied {
            return;
        }
        let key = (d.target.namespace.clone(), d.target.kind.clone(), name);
        if matches!(
            d.operation,
            Operation::Update | Operation::Patch | Operation::EphemeralContainer
        ) && d.previous.is_none()
        {
            d.previous = self.specs.get(&key).cloned().map(Box::new);
        }
        if matches!(d.operation, Operation::Create | Operation::Update) {
            if !self.specs.contains_key(&key) {
                self.spec_order.push_back(key.clone());
            }
            self.specs.insert(key, pod.clone());
            // Specs are kilobytes each: fewer of them than of the ID tables.
            while self.specs.len() > self.limit.min(MAX_REMEMBERED_SPECS) {
                let Some(old) = self.spec_order.pop_front() else {
                    break;
                };
                self.specs.remove(&old);
            }
        }
    }

    /// Record workload templates; link (and drop) controller pods identical to one.
    fn link(&mut self, d: &mut Deployment) -> bool {
        let Some(pod) = d.pod.as_ref() else {
            return false;
        };
        let key = (d.target.namespace.clone(), fingerprint(pod));
        let by_controller = d.target.owner_references.iter().any(|o| o.controller)
            || d.actor.user.as_deref().is_some_and(|u| {
                u.starts_with("system:serviceaccount:kube-system:") && u.ends_with("-controller")
                    || u == "system:kube-controller-manager"
            });
        if d.target.kind != "Pod" || !by_controller {
            if d.outcome != Outcome::Denied && d.target.kind != "Pod" {
                let link = WorkloadLink {
                    kind: d.target.kind.clone(),
                    name: d.target.name.clone().unwrap_or_default(),
                    actor: d.actor.user.clone(),
                };
                if !self.templates.contains_key(&key) {
                    self.template_order.push_back(key.clone());
                }
                // A ReplicaSet made by the deployment controller keeps the Deployment's link.
                let keep =
                    self.templates.get(&key).is_some_and(|l| l.actor.is_some()) && by_controller;
                if !keep {
                    self.templates.insert(key, link);
                }
                while self.templates.len() > self.limit {
                    if let Some(old) = self.template_order.pop_front() {
                        self.templates.remove(&old);
                    }
                }
                // A ReplicaSet or Job stamped out by a controller from a judged template is
                // a replica too.
                return by_controller && keep;
            }
            return false;
        }
        match self.templates.get(&key) {
            Some(link) => {
                d.created_for = Some(link.clone());
                true
            }
            None => {
                // Judged on its own: the template was never seen, or the pod differs from it.
                d.created_for = d
                    .target
                    .owner_references
                    .iter()
                    .find(|o| o.controller)
                    .map(|o| WorkloadLink {
                        kind: o.kind.clone(),
                        name: o.name.clone(),
                        actor: None,
                    });
                false
            }
        }
    }
}

/// Merge two stages of one request: the later stage's outcome, the earlier bodies if the
/// later has none.
fn merge(a: Record, b: Record) -> Record {
    let (early, late) = if a.stage <= b.stage { (a, b) } else { (b, a) };
    let deployments = if late.deployments.iter().all(|d| d.pod.is_none())
        && early.deployments.iter().any(|d| d.pod.is_some())
    {
        let outcome = late.deployments.first().map(|d| d.outcome);
        early
            .deployments
            .into_iter()
            .map(|mut d| {
                if let Some(o) = outcome {
                    d.outcome = o;
                }
                d
            })
            .collect()
    } else {
        late.deployments
    };
    Record {
        audit_id: late.audit_id,
        stage: late.stage,
        deployments,
        event: late.event.or(early.event),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> (Vec<Deployment>, usize) {
        let mut c = Correlator::default();
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            for r in parse_line(l, "t.log", i + 1).expect("parses") {
                c.push(r, &mut out);
            }
        }
        c.finish(&mut out);
        (out, c.linked_replicas)
    }

    const DEPLOY: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a1","stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/prod/deployments","verb":"create","user":{"username":"alice","groups":["devs","system:authenticated"]},"sourceIPs":["10.1.2.3"],"userAgent":"kubectl/v1.31.0","objectRef":{"resource":"deployments","namespace":"prod","apiGroup":"apps","apiVersion":"v1"},"responseStatus":{"code":201},"requestObject":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true}}]}}}},"stageTimestamp":"2026-11-20T10:00:00Z"}"#;
    const POD: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"p1","stage":"ResponseComplete","verb":"create","user":{"username":"system:serviceaccount:kube-system:replicaset-controller"},"objectRef":{"resource":"pods","namespace":"prod"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","metadata":{"generateName":"web-5d-","ownerReferences":[{"kind":"ReplicaSet","name":"web-5d","controller":true}]},"spec":{"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true}}],"tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute"}]}}}"#;

    #[test]
    fn workload_keeps_the_human_and_replicas_are_linked() {
        let (out, linked) = run(&[DEPLOY, POD, &POD.replace("p1", "p2")]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(linked, 2);
        let d = &out[0];
        assert_eq!(d.target.kind, "Deployment");
        assert_eq!(d.target.name.as_deref(), Some("web"));
        assert_eq!(d.actor.user.as_deref(), Some("alice"));
        assert_eq!(d.outcome, Outcome::Created);
        assert_eq!(d.origin.record_id.as_deref(), Some("a1"));
        // A replica that differs from its template (a mutating webhook added hostPID) is judged.
        let mutated = POD
            .replace("p1", "p3")
            .replace(r#""tolerations""#, r#""hostPID":true,"tolerations""#);
        let (out, linked) = run(&[DEPLOY, &mutated]);
        assert_eq!(linked, 0);
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[1].created_for.as_ref().map(|l| l.kind.as_str()),
            Some("ReplicaSet")
        );
    }

    #[test]
    fn stages_merge_into_one_request() {
        let rr = DEPLOY
            .replace("ResponseComplete", "RequestReceived")
            .replace(r#""responseStatus":{"code":201},"#, "");
        let done = DEPLOY.replace(r#""requestObject""#, r#""ignored""#);
        let (out, _) = run(&[&rr, &done]);
        assert_eq!(out.len(), 1);
        assert!(
            out[0].pod.is_some(),
            "the body from RequestReceived is kept"
        );
        assert_eq!(out[0].outcome, Outcome::Created);
        let (out, _) = run(&[&rr]);
        assert_eq!(out[0].outcome, Outcome::Attempted);
    }

    #[test]
    fn denied_metadata_level_and_wrappers() {
        let denied = DEPLOY.replace(r#""code":201"#, r#""code":403"#);
        assert_eq!(run(&[&denied]).0[0].outcome, Outcome::Denied);
        let meta = DEPLOY.replace(r#""level":"RequestResponse""#, r#""level":"Metadata""#);
        let meta = meta
            .split(r#","requestObject""#)
            .next()
            .unwrap_or_default()
            .to_string()
            + "}";
        let (out, _) = run(&[&meta]);
        assert_eq!(out.len(), 1);
        assert!(out[0].pod.is_none());
        assert_eq!(out[0].target.kind, "Deployment");
        let aks = serde_json::json!({"category": "kube-audit", "properties": {"log": DEPLOY}})
            .to_string();
        assert_eq!(run(&[&aks]).0[0].actor.user.as_deref(), Some("alice"));
        let list =
            format!(r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{DEPLOY}]}}"#);
        assert_eq!(run(&[&list]).0.len(), 1);
    }

    #[test]
    fn bad_events_are_located() {
        assert_eq!(
            parse_line(r#"{"kind": 0}"#, "f", 7).err().map(|e| e.line),
            Some(7)
        );
        assert!(parse_line(r#"{"kind":"Event","verb":"create","objectRef":{"#, "f", 2).is_err());
        assert!(
            parse_line(
                r#"{"kind":"Event","verb":"get","objectRef":{"resource":"pods"}}"#,
                "f",
                1
            )
            .expect("ok")
            .is_empty()
        );
    }

    #[test]
    fn built_in_resources_without_pods_are_not_deployments() {
        // An Event patched in kube-system with its body: not a workload (WKL003 used to
        // fire on it), and its body is not read.
        let event = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"e1","stage":"ResponseComplete","verb":"patch","user":{"username":"system:node:n1"},"objectRef":{"resource":"events","namespace":"kube-system","name":"x.1","apiVersion":"v1"},"responseStatus":{"code":200},"requestObject":{"count":2,"lastTimestamp":"2026-11-20T10:00:00Z"}}"#;
        assert!(run(&[event]).0.is_empty());
        let lease = event
            .replace(
                r#""resource":"events""#,
                r#""resource":"leases","apiGroup":"coordination.k8s.io""#,
            )
            .replace(r#""verb":"patch""#, r#""verb":"update""#);
        assert!(run(&[&lease]).0.is_empty());
        // A custom resource that happens to be called `events`, in its own group, is still
        // searched for a pod template.
        let custom = DEPLOY
            .replace(r#""resource":"deployments""#, r#""resource":"events""#)
            .replace(r#""apiGroup":"apps""#, r#""apiGroup":"ops.example.com""#)
            .replace(r#""kind":"Deployment""#, r#""kind":"Runner""#);
        let (out, _) = run(&[&custom]);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].pod.is_some());
    }

    #[test]
    fn managed_fields_are_not_read() {
        let with = DEPLOY.replace(
            r#""metadata":{"name":"web"}"#,
            r#""metadata":{"name":"web","managedFields":[{"manager":"kubectl","fieldsV1":{"f:spec":{}}}]}"#,
        );
        let (a, _) = run(&[&with]);
        let (b, _) = run(&[DEPLOY]);
        assert_eq!(a.len(), 1);
        assert_eq!(format!("{:?}", a[0].pod), format!("{:?}", b[0].pod));
    }
}
