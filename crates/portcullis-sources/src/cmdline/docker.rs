//! `docker`, `podman` and `nerdctl`: `run`/`create` (and `container run`), read with the Docker CLI's flag grammar into an Engine API create body.

use super::*;

pub(super) const DOCKER_GLOBAL: Grammar = Grammar {
    long_bools: &["debug", "tls", "tlsverify", "version", "help"],
    short_values: "Hcl",
};

pub(super) const DOCKER_RUN: Grammar = Grammar {
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
pub(super) fn docker(tool: &str, args: &[String], base: &Deployment) -> Vec<Deployment> {
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

pub(super) fn with_pod(base: &Deployment, d: Deployment) -> Deployment {
    Deployment {
        target: d.target,
        pod: d.pod,
        ..base.clone()
    }
}

pub(super) fn docker_target(tool: &str, name: &str) -> Target {
    Target {
        kind: "DockerContainer".into(),
        api_version: tool.into(),
        name: (!name.is_empty()).then(|| name.to_string()),
        ..Target::default()
    }
}

/// A Docker create body from `docker run` flags.
pub(super) fn docker_run_body(p: &Parsed, image: &str) -> Value {
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
pub(super) fn mount_spec(spec: &str) -> Value {
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
