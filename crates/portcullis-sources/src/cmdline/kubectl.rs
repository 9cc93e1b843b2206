//! `kubectl` and `oc`: `run` (with `--overrides`), `debug`, `apply`/`create` of inline manifests, `patch`.

use super::*;

pub(super) const KUBECTL: Grammar = Grammar {
    long_bools: &[
        "rm",
        "stdin",
        "tty",
        "quiet",
        "privileged",
        "dry-run",
        "recursive",
        "help",
        "all",
        "overwrite",
        "force",
        "wait",
        "attach",
        "command",
        "insecure-skip-tls-verify",
        "leave-stdin-open",
        "record",
        "save-config",
        "validate",
        "server-side",
        "prune",
        "expose",
        "keep-annotations",
        "share-processes",
        "same-node",
        "copy-to",
    ],
    short_values: "cfklnops",
};

/// kubectl: the global options and the deploying subcommands.
pub(super) fn kubectl(args: &[String], base: &Deployment) -> Vec<Deployment> {
    let p = parse_args(args, &KUBECTL, 0);
    let mut base = base.clone();
    base.endpoint = p
        .last(&["s", "server"])
        .or_else(|| p.last(&["context"]).map(|c| format!("context:{c}")))
        .or(base.endpoint.clone());
    let ns = p.last(&["n", "namespace"]);
    let pos: Vec<&str> = p.positionals.iter().map(String::as_str).collect();
    let target = |kind: &str, name: Option<&str>| Target {
        kind: kind.into(),
        namespace: ns.clone(),
        name: name.map(str::to_string),
        ..Target::default()
    };
    match pos.as_slice() {
        ["apply" | "create" | "replace", ..]
            if pos.len() == 1
                || pos[0] != "create"
                || p.last(&["f", "filename", "k", "kustomize"]).is_some() =>
        {
            let files = p.all(&["f", "filename", "k", "kustomize"]);
            let mut t = target("Manifest", files.first().map(String::as_str));
            t.labels
                .extend(files.iter().map(|f| ("source".to_string(), f.clone())));
            vec![derive(&base, Operation::Create, t, None)]
        }
        [
            "create",
            kind @ ("deployment" | "deploy" | "job" | "cronjob" | "cj"),
            name,
            ..,
        ] => {
            let image = p.last(&["image"]).unwrap_or_default();
            let kind = match *kind {
                "deployment" | "deploy" => "Deployment",
                "job" => "Job",
                _ => "CronJob",
            };
            let pod = simple_pod("spec.template.spec", name, &image, &[], &p.rest, false);
            vec![derive(
                &base,
                Operation::Create,
                target(kind, Some(name)),
                Some(pod),
            )]
        }
        ["run", name, ..] => kubectl_run(&p, name, &base, ns.clone()),
        ["debug", what, ..] => kubectl_debug(&p, what, &base, ns.clone()),
        ["exec", pod, ..] | ["attach", pod, ..] => {
            let op = if pos[0] == "exec" {
                Operation::Exec
            } else {
                Operation::Attach
            };
            vec![derive(
                &base,
                op,
                target("Pod", Some(pod.trim_start_matches("pod/"))),
                None,
            )]
        }
        ["set", "image", res, ..] => {
            let (kind, name) = res.split_once('/').unwrap_or((res, ""));
            let images: Vec<(String, String)> = pos[3..]
                .iter()
                .filter_map(|a| {
                    a.split_once('=')
                        .map(|(c, i)| (c.to_string(), i.to_string()))
                })
                .collect();
            let mut pod = PodSpec {
                path: "spec.template.spec".into(),
                ..PodSpec::default()
            };
            for (i, (c, img)) in images.iter().enumerate() {
                pod.containers.push(Container {
                    path: format!("spec.template.spec.containers[{i}]"),
                    name: c.clone(),
                    image: ImageRef::parse(img),
                    ..Container::default()
                });
            }
            vec![derive(
                &base,
                Operation::Update,
                target(&title(kind), Some(name)),
                Some(pod),
            )]
        }
        ["patch", res, rest @ ..] => {
            let (kind, name) = match res.split_once('/') {
                Some((k, n)) => (k.to_string(), n.to_string()),
                None => (
                    res.to_string(),
                    rest.first().map_or(String::new(), |s| s.to_string()),
                ),
            };
            let patch = p
                .last(&["p", "patch"])
                .and_then(|s| serde_json::from_str::<Value>(&s).ok());
            let pod = patch
                .as_ref()
                .and_then(|v| patch_pod(v, p.last(&["type"]).as_deref()));
            vec![derive(
                &base,
                Operation::Patch,
                target(&title(&kind), Some(&name)),
                pod,
            )]
        }
        _ => Vec::new(),
    }
}

pub(super) fn title(kind: &str) -> String {
    match kind.trim_end_matches('s') {
        "deployment" | "deploy" => "Deployment".into(),
        "daemonset" | "ds" => "DaemonSet".into(),
        "statefulset" | "st" => "StatefulSet".into(),
        "replicaset" | "r" => "ReplicaSet".into(),
        "cronjob" | "cj" => "CronJob".into(),
        "job" => "Job".into(),
        "pod" | "po" => "Pod".into(),
        other => other.to_string(),
    }
}

/// The pod a patch body would write: a merge or strategic patch is a partial object; a JSON
/// patch's values are placed at their paths.
pub(super) fn patch_pod(patch: &Value, kind: Option<&str>) -> Option<PodSpec> {
    let object = if kind == Some("json") || patch.is_array() {
        crate::k8s::json_patch_object(patch)
    } else {
        patch.clone()
    };
    crate::k8s::any_pod_spec(&object)
}

pub(super) fn simple_pod(
    path: &str,
    name: &str,
    image: &str,
    command: &[String],
    args: &[String],
    privileged: bool,
) -> PodSpec {
    PodSpec {
        path: path.into(),
        containers: vec![Container {
            kind: ContainerKind::Container,
            path: format!("{path}.containers[0]"),
            name: name.into(),
            image: ImageRef::parse(image),
            command: command.to_vec(),
            args: args.to_vec(),
            security_context: ContainerSecurityContext {
                privileged: privileged.then_some(true),
                ..ContainerSecurityContext::default()
            },
            ..Container::default()
        }],
        ..PodSpec::default()
    }
}

/// `kubectl run NAME --image=IMG [--privileged] [--overrides JSON] [--command] -- ARGS`:
/// the generated Pod with the overrides applied as a JSON merge patch (kubectl's default
/// `--override-type=merge`), judged like any manifest.
pub(super) fn kubectl_run(
    p: &Parsed,
    name: &str,
    base: &Deployment,
    ns: Option<String>,
) -> Vec<Deployment> {
    let image = p.last(&["image"]).unwrap_or_default();
    let mut container = json!({"name": name, "image": image});
    if !p.rest.is_empty() {
        container[if p.on(&["command"]) {
            "command"
        } else {
            "args"
        }] = json!(p.rest);
    }
    if p.on(&["privileged"]) {
        container["securityContext"] = json!({"privileged": true});
    }
    let env: Vec<Value> = p
        .all(&["env"])
        .iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| json!({"name": k, "value": v}))
        })
        .collect();
    if !env.is_empty() {
        container["env"] = json!(env);
    }
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [container]},
    });
    if let Some(o) = p
        .last(&["overrides"])
        .and_then(|o| serde_json::from_str::<Value>(&o).ok())
    {
        merge_patch(&mut pod, &o);
    }
    let mut deployments = Vec::new();
    let mut errors = Vec::new();
    crate::k8s::object_to_deployments(&pod, &base.origin, &mut deployments, &mut errors, "");
    deployments
        .into_iter()
        .map(|d| Deployment {
            operation: Operation::Create,
            outcome: Outcome::Attempted,
            target: d.target,
            pod: d.pod,
            ..base.clone()
        })
        .collect()
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(pm) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(tm) = target {
                for (k, v) in pm {
                    if v.is_null() {
                        tm.remove(k);
                    } else {
                        merge_patch(tm.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// `kubectl debug node/N`: a pod in the node's namespaces with the root at /host, pinned
/// to the node. `kubectl debug POD`: an ephemeral container.
pub(super) fn kubectl_debug(
    p: &Parsed,
    what: &str,
    base: &Deployment,
    ns: Option<String>,
) -> Vec<Deployment> {
    let image = p.last(&["image"]).unwrap_or_else(|| "busybox".into());
    let profile = p.last(&["profile"]).unwrap_or_else(|| "legacy".into());
    let privileged = profile == "sysadmin";
    if let Some(node) = what
        .strip_prefix("node/")
        .or_else(|| what.strip_prefix("nodes/"))
    {
        let mut pod = simple_pod("spec", "debugger", &image, &[], &p.rest, privileged);
        pod.host_pid = true;
        pod.host_network = true;
        pod.host_ipc = true;
        pod.node_name = Some(node.to_string());
        pod.volumes.push(Volume {
            name: "host-root".into(),
            source: "hostPath".into(),
            host_path: Some(HostPath::new("/", None)),
        });
        pod.containers[0].mounts.push(Mount {
            volume: "host-root".into(),
            mount_path: "/host".into(),
            host_path: Some(HostPath::new("/", None)),
            ..Mount::default()
        });
        let t = Target {
            kind: "Pod".into(),
            namespace: ns,
            name: Some(format!("node-debugger-{node}")),
            ..Target::default()
        };
        return vec![derive(base, Operation::Create, t, Some(pod))];
    }
    let pod_name = what.trim_start_matches("pod/");
    let mut pod = simple_pod("spec", "debugger", &image, &[], &p.rest, privileged);
    pod.containers[0].kind = ContainerKind::Ephemeral;
    pod.containers[0].path = "spec.ephemeralContainers[0]".into();
    let copy = p.last(&["copy-to"]).is_some() || p.on(&["copy-to"]);
    let t = Target {
        kind: "Pod".into(),
        namespace: ns,
        name: Some(pod_name.to_string()),
        ..Target::default()
    };
    let op = if copy {
        Operation::Create
    } else {
        Operation::EphemeralContainer
    };
    vec![derive(base, op, t, Some(pod))]
}
