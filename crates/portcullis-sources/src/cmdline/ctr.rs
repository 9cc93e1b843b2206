//! containerd's `ctr run` (and `ctr container create`).

use super::*;

/// containerd's `ctr [global] run|container create [--privileged] [--mount …] [--net-host] IMAGE ID [CMD…]`.
pub(super) fn ctr(args: &[String], base: &Deployment) -> Vec<Deployment> {
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
