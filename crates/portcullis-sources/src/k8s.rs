//! Kubernetes objects → [`Deployment`]s.
//!
//! Known kinds have their pod spec at a known place (PSA's list of nine). Any other kind
//! (a Kubeflow Notebook, an Argo Workflow, a Tekton Task, a vendor CRD) is searched by
//! shape: a mapping with a `containers` list is a pod spec; a `container` mapping with an
//! `image`, or a list of mappings that each have an `image`, is a container list whose
//! parent mapping plays the pod. One object can therefore yield several deployments.

use crate::SourceError;
use crate::k8s_wire::{ContainerWire, Obj, ObjectMeta, PodSpecWire};
use crate::value::{self, arr, obj, string, string_map};
use portcullis_model::{Deployment, Origin, PodSpec, Target};
use serde::Deserialize;
use serde_json::Value;

/// How deep the CRD shape search goes before giving up (a guard against hostile nesting).
const MAX_SEARCH_DEPTH: usize = 16;

/// Where the pod spec of each built-in kind lives.
fn known_pod_spec_path(kind: &str) -> Option<&'static [&'static str]> {
    portcullis_model::workload::by_kind(kind).and_then(|w| w.pod_path)
}

/// Kinds that certainly carry no pod: skipped without a shape search.
fn is_podless_builtin(kind: &str) -> bool {
    matches!(
        kind,
        "Service"
            | "ConfigMap"
            | "Secret"
            | "Namespace"
            | "ServiceAccount"
            | "Role"
            | "ClusterRole"
            | "RoleBinding"
            | "ClusterRoleBinding"
            | "NetworkPolicy"
            | "Ingress"
            | "PersistentVolumeClaim"
            | "PersistentVolume"
            | "StorageClass"
            | "CustomResourceDefinition"
            | "Event"
            | "Endpoints"
            | "EndpointSlice"
            | "LimitRange"
            | "ResourceQuota"
            | "PodDisruptionBudget"
            | "HorizontalPodAutoscaler"
            | "PriorityClass"
            | "ValidatingWebhookConfiguration"
            | "MutatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding"
            | "Lease"
    )
}

/// Turn one object (already known to be a mapping with a string `kind`) into deployments.
/// `List` kinds recurse into their items.
pub fn object_to_deployments(
    v: &Value,
    origin: &Origin,
    out: &mut Vec<Deployment>,
    errors: &mut Vec<SourceError>,
    item_path: &str,
) {
    let err = |field: &str, message: String| SourceError {
        file: origin.file.clone(),
        line: origin.line,
        column: None,
        field: Some(join(item_path, field)),
        message,
    };
    let Some(map) = v.as_object() else {
        errors.push(err(
            "",
            format!("expected an object, found {}", value::type_name(v)),
        ));
        return;
    };
    let kind = match map.get("kind") {
        Some(Value::String(k)) => k.as_str(),
        Some(other) => {
            errors.push(err(
                "kind",
                format!("expected a string, found {}", value::type_name(other)),
            ));
            return;
        }
        None => {
            errors.push(err("kind", "missing".into()));
            return;
        }
    };
    if let Some(other) = map.get("apiVersion").filter(|a| !a.is_string()) {
        errors.push(err(
            "apiVersion",
            format!("expected a string, found {}", value::type_name(other)),
        ));
        return;
    }
    if kind == "List" || (kind.ends_with("List") && map.contains_key("items")) {
        for (i, item) in arr(v, "items").iter().enumerate() {
            object_to_deployments(
                item,
                origin,
                out,
                errors,
                &join(item_path, &format!("items[{i}]")),
            );
        }
        return;
    }
    if let Some(meta) = map
        .get("metadata")
        .filter(|m| !m.is_object() && !m.is_null())
    {
        errors.push(err(
            "metadata",
            format!("expected a mapping, found {}", value::type_name(meta)),
        ));
        return;
    }
    let target = target_of(v, kind);
    let base = Deployment {
        origin: origin.clone(),
        target,
        ..Deployment::default()
    };
    if let Some(path) = known_pod_spec_path(kind) {
        let mut cur = v;
        for key in path {
            match cur.get(*key) {
                Some(next) if next.is_object() => cur = next,
                _ => {
                    errors.push(err(
                        &path.join("."),
                        format!("{kind} has no pod spec at {}", path.join(".")),
                    ));
                    return;
                }
            }
        }
        // The pod's own metadata: the object's for a Pod, the template's otherwise.
        let meta_owner = if kind == "Pod" {
            v
        } else {
            let mut m = v;
            for key in &path[..path.len() - 1] {
                m = m.get(*key).unwrap_or(&Value::Null);
            }
            m
        };
        let annotations = obj(meta_owner, "metadata")
            .map(|_| string_map(&meta_owner["metadata"], "annotations"))
            .unwrap_or_default();
        let spec_path = join(item_path, &path.join("."));
        match pod_spec(cur, &spec_path, annotations, None) {
            Ok(pod) => out.push(Deployment {
                pod: Some(pod),
                ..base
            }),
            Err(e) => errors.push(err(&path.join("."), e)),
        }
        return;
    }
    if is_podless_builtin(kind) {
        return;
    }
    let mut found = Vec::new();
    for key in ["spec", "template", "data"] {
        if let Some(child) = v.get(key) {
            find_by_shape(child, &join(item_path, key), 0, &mut found);
        }
    }
    for (path, spec_value, containers) in found {
        match pod_spec(spec_value, &path, Vec::new(), containers) {
            Ok(pod) => out.push(Deployment {
                pod: Some(pod),
                ..base.clone()
            }),
            Err(e) => errors.push(SourceError {
                field: Some(path),
                message: e,
                ..err("", String::new())
            }),
        }
    }
}

/// An embedded pod found by shape: its path, the mapping that plays the pod, and an
/// explicit container list when the mapping has no `containers` key of its own.
type ShapeMatch<'a> = (String, &'a Value, Option<Vec<(String, &'a Value)>>);

fn find_by_shape<'a>(v: &'a Value, path: &str, depth: usize, found: &mut Vec<ShapeMatch<'a>>) {
    if depth > MAX_SEARCH_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            if arr(v, "containers").iter().any(Value::is_object) {
                found.push((path.to_string(), v, None));
                return;
            }
            if let Some(c) = map.get("container").filter(|c| is_container_like(c)) {
                found.push((
                    path.to_string(),
                    v,
                    Some(vec![(join(path, "container"), c)]),
                ));
                // An Argo template may also carry sidecars / init containers; fall through
                // is not needed: they are listed below as container lists of their own.
            }
            for (key, child) in map {
                let child_path = join(path, key);
                if key == "container" {
                    continue;
                }
                if let Value::Array(items) = child
                    && !items.is_empty()
                    && items.iter().all(is_container_like)
                {
                    let list = items
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (format!("{child_path}[{i}]"), c))
                        .collect();
                    found.push((child_path, v, Some(list)));
                    continue;
                }
                find_by_shape(child, &child_path, depth + 1, found);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                find_by_shape(item, &format!("{path}[{i}]"), depth + 1, found);
            }
        }
        _ => {}
    }
}

fn is_container_like(v: &Value) -> bool {
    v.get("image").is_some_and(Value::is_string)
}

fn target_of(v: &Value, kind: &str) -> Target {
    let meta = v.get("metadata").unwrap_or(&Value::Null);
    let mut t = Obj::<ObjectMeta>::deserialize(meta)
        .map_or_else(|_| ObjectMeta::default(), |o| o.0)
        .into_target(kind, string(v, "apiVersion"));
    if kind == "CronJob" {
        t.schedule = v
            .pointer("/spec/schedule")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    t
}

fn join(base: &str, key: &str) -> String {
    match (base.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (_, true) => base.to_string(),
        _ => format!("{base}.{key}"),
    }
}

/// Read a pod spec. `explicit` replaces the `containers` list for CRD shapes.
pub fn pod_spec(
    spec: &Value,
    path: &str,
    annotations: Vec<(String, String)>,
    explicit: Option<Vec<(String, &Value)>>,
) -> Result<PodSpec, String> {
    // Every field is lenient and a Value holds no key twice, so this does not fail; if it
    // ever did, the caller reports it rather than judge an empty pod.
    let wire = Obj::<PodSpecWire>::deserialize(spec)
        .map_err(|e| e.to_string())?
        .0;
    let explicit = match explicit {
        Some(list) => Some(
            list.into_iter()
                .map(|(p, c)| Ok((p, Obj::<ContainerWire>::deserialize(c)?.0)))
                .collect::<Result<Vec<_>, serde_json::Error>>()
                .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    Ok(wire.into_model(path, annotations, explicit))
}

/// Keys that only a pod spec has: a partial object holding one is a pod spec fragment.
const POD_SPEC_KEYS: &[&str] = &[
    "containers",
    "initContainers",
    "ephemeralContainers",
    "hostPID",
    "hostIPC",
    "hostNetwork",
    "hostUsers",
    "volumes",
    "nodeName",
    "nodeSelector",
    "tolerations",
    "serviceAccountName",
    "securityContext",
];

/// The pod spec inside a (possibly partial) object: a patch body, a merge fragment. Tries
/// the workload paths, then the object's own `spec`, then a search by shape.
pub fn any_pod_spec(object: &Value) -> Option<PodSpec> {
    for path in [
        &["spec", "jobTemplate", "spec", "template", "spec"][..],
        &["spec", "template", "spec"][..],
        &["template", "spec"][..],
        &["spec"][..],
    ] {
        let mut cur = object;
        let mut ok = true;
        for k in path {
            match cur.get(*k) {
                Some(next) => cur = next,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok
            && cur
                .as_object()
                .is_some_and(|m| m.keys().any(|k| POD_SPEC_KEYS.contains(&k.as_str())))
        {
            let annotations = Vec::new();
            return pod_spec(cur, &path.join("."), annotations, None).ok();
        }
    }
    let mut found = Vec::new();
    find_by_shape(object, "", 0, &mut found);
    found
        .into_iter()
        .next()
        .and_then(|(path, v, explicit)| pod_spec(v, &path, Vec::new(), explicit).ok())
}

/// The object a JSON Patch (RFC 6902) writes: every `add`/`replace` value placed at its
/// path in an otherwise empty object, so the fragment can be judged like a manifest.
pub fn json_patch_object(patch: &Value) -> Value {
    let mut root = Value::Object(serde_json::Map::new());
    for op in patch.as_array().map(Vec::as_slice).unwrap_or_default() {
        let kind = op.get("op").and_then(Value::as_str).unwrap_or("");
        if !matches!(kind, "add" | "replace") {
            continue;
        }
        let (Some(path), Some(value)) = (op.get("path").and_then(Value::as_str), op.get("value"))
        else {
            continue;
        };
        let segments: Vec<String> = path
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        set_path(&mut root, &segments, value.clone());
    }
    root
}

fn set_path(cur: &mut Value, segments: &[String], value: Value) {
    let Some((first, rest)) = segments.split_first() else {
        *cur = value;
        return;
    };
    let index = if first == "-" {
        Some(usize::MAX)
    } else {
        first.parse::<usize>().ok()
    };
    match index {
        Some(i) => {
            if !cur.is_array() {
                *cur = Value::Array(Vec::new());
            }
            if let Value::Array(a) = cur {
                // Bounded: a hostile patch must not make us allocate a huge array.
                let i = if i == usize::MAX {
                    a.len()
                } else {
                    i.min(a.len()).min(1024)
                };
                if i >= a.len() {
                    a.push(Value::Object(serde_json::Map::new()));
                }
                let last = a.len() - 1;
                set_path(&mut a[i.min(last)], rest, value);
            }
        }
        None => {
            if !cur.is_object() {
                *cur = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(m) = cur {
                set_path(m.entry(first.clone()).or_insert(Value::Null), rest, value);
            }
        }
    }
}
