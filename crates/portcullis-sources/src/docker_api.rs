//! Docker Engine API container-create bodies → [`Deployment`].
//!
//! One mapping for every place a create body appears: `POST /containers/create` seen by
//! the AuthZ plugin or in a `dockerd -D` log, `docker inspect` output, a `curl` to the
//! socket, and the body the `docker run` command-line parser builds. `HostConfig` fields
//! are also read at the top level, where pre-1.24 clients and hand-written `curl` bodies
//! put them.

use crate::value::{as_bool, boolean, obj, scalar, string, string_list};
use portcullis_model::{
    Container, ContainerKind, ContainerSecurityContext, Deployment, EnvVar, HostPath, ImageRef,
    Mount, Origin, PodSecurityContext, PodSpec, Port, SeLinux, Target, Volume,
};
use serde_json::Value;

pub use crate::value::{query_pairs, query_param};

/// Apply Docker `--security-opt` / `security_opt` / `SecurityOpt` entries.
pub fn apply_security_opts(opts: &[String], sc: &mut ContainerSecurityContext) {
    for opt in opts {
        // Docker accepts both `key:value` and `key=value`.
        let (key, value) = opt
            .split_once(['=', ':'])
            .map_or((opt.as_str(), ""), |(k, v)| (k, v));
        match (key, value) {
            ("seccomp", v) => sc.options.seccomp = Some(profile(v)),
            ("apparmor", v) => sc.options.apparmor = Some(profile(v)),
            ("label", "disable") => {
                sc.options.selinux = Some(SeLinux {
                    disabled: true,
                    ..SeLinux::default()
                })
            }
            ("label", v) => {
                let sel = sc.options.selinux.get_or_insert_with(SeLinux::default);
                if let Some((k, val)) = v.split_once(':') {
                    match k {
                        "type" => sel.r#type = Some(val.into()),
                        "user" => sel.user = Some(val.into()),
                        "role" => sel.role = Some(val.into()),
                        "level" => sel.level = Some(val.into()),
                        _ => {}
                    }
                }
            }
            ("no-new-privileges", v) => {
                sc.allow_privilege_escalation = Some(
                    !as_bool(&Value::String(if v.is_empty() {
                        "true".into()
                    } else {
                        v.into()
                    }))
                    .unwrap_or(true),
                )
            }
            // `systempaths=unconfined` unmasks /proc and /sys like procMount: Unmasked.
            ("systempaths", "unconfined") => sc.proc_mount = Some("Unmasked".into()),
            _ => {}
        }
    }
}

/// Docker's profile words mapped to Kubernetes' profile types.
fn profile(v: &str) -> String {
    match v {
        "unconfined" => "Unconfined".into(),
        "" | "default" | "docker-default" | "runtime/default" => "RuntimeDefault".into(),
        _ => "Localhost".into(),
    }
}

/// A parsed bind: source, target, read-only, propagation, and whether the source is a host
/// path (a named volume otherwise).
pub struct Bind {
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    pub propagation: Option<String>,
    pub host: bool,
}

/// `SRC:DST[:OPTS]` or `DST` (Docker `-v`, Compose short syntax, `HostConfig.Binds`).
/// A source that is a path (`/`, `.`, `~`) is a bind mount; any other is a named volume.
pub fn parse_bind(s: &str) -> Bind {
    let parts: Vec<&str> = s.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [dst] => (None, *dst, ""),
        [src, dst] => (Some(*src), *dst, ""),
        [src, dst, opts, ..] => (Some(*src), *dst, *opts),
        [] => (None, "", ""),
    };
    let opts: Vec<&str> = opts.split(',').collect();
    let propagation = opts
        .iter()
        .find(|m| {
            matches!(
                **m,
                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
            )
        })
        .map(|m| m.to_string());
    Bind {
        source: src.map(str::to_string),
        target: dst.to_string(),
        read_only: opts.contains(&"ro") || opts.contains(&"readonly"),
        propagation,
        host: src.is_some_and(|s| s.starts_with(['/', '.', '~'])),
    }
}

/// Build the volumes and mounts of one container from binds, adding to `volumes`.
pub fn push_mount(volumes: &mut Vec<Volume>, mounts: &mut Vec<Mount>, prefix: &str, b: Bind) {
    let name = format!("{prefix}[{}]", volumes.len());
    let host_path = b
        .host
        .then(|| HostPath::new(b.source.as_deref().unwrap_or(""), None));
    volumes.push(Volume {
        name: name.clone(),
        source: if b.host { "hostPath" } else { "volume" }.into(),
        host_path: host_path.clone(),
    });
    mounts.push(Mount {
        volume: name,
        mount_path: b.target,
        read_only: b.read_only,
        propagation: b.propagation,
        sub_path: None,
        host_path,
    });
}

fn words(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => shlex::split(s).unwrap_or_else(|| vec![s.clone()]),
        Some(Value::Array(a)) => a.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    }
}

/// A field of `HostConfig`, or of the body itself (older clients, curl bodies).
fn hc<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body.get("HostConfig")
        .and_then(|h| h.get(key))
        .filter(|v| !v.is_null())
        .or_else(|| body.get(key).filter(|v| !v.is_null()))
}

/// The pod a create body describes. `config` holds Image/Cmd/… (the body itself for a
/// create request, `Config` for `docker inspect`); `host` holds HostConfig (or the body).
pub fn create_pod(body: &Value, path: &str) -> PodSpec {
    let config = body.get("Config").filter(|c| c.is_object()).unwrap_or(body);
    let mode = |key: &str| hc(body, key).and_then(scalar).is_some_and(|m| m == "host");
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let vprefix = format!("{path}.HostConfig.Binds");
    for b in hc(body, "Binds").map(string_list).unwrap_or_default() {
        push_mount(&mut volumes, &mut mounts, &vprefix, parse_bind(&b));
    }
    if let Some(Value::Array(ms)) = hc(body, "Mounts") {
        for m in ms {
            let kind = string(m, "Type").unwrap_or_else(|| "volume".into());
            push_mount(
                &mut volumes,
                &mut mounts,
                &format!("{path}.HostConfig.Mounts"),
                Bind {
                    source: string(m, "Source"),
                    target: string(m, "Target")
                        .or_else(|| string(m, "Destination"))
                        .unwrap_or_default(),
                    read_only: boolean(m, "ReadOnly").unwrap_or(false)
                        || boolean(m, "RW") == Some(false),
                    propagation: m.get("BindOptions").and_then(|b| string(b, "Propagation")),
                    host: kind == "bind",
                },
            );
        }
    }
    let mut sc = ContainerSecurityContext {
        privileged: hc(body, "Privileged").and_then(as_bool),
        cap_add: hc(body, "CapAdd").map(string_list).unwrap_or_default(),
        cap_drop: hc(body, "CapDrop").map(string_list).unwrap_or_default(),
        read_only_root_filesystem: hc(body, "ReadonlyRootfs").and_then(as_bool),
        ..ContainerSecurityContext::default()
    };
    apply_security_opts(
        &hc(body, "SecurityOpt").map(string_list).unwrap_or_default(),
        &mut sc,
    );
    if let Some(user) = string(config, "User") {
        sc.options.run_as_user = match user.split(':').next().unwrap_or("") {
            "root" => Some(0),
            u => u.parse().ok(),
        };
    }
    let mut ports = Vec::new();
    if let Some(Value::Object(pb)) = hc(body, "PortBindings") {
        for (cport, binds) in pb {
            for b in binds.as_array().map(Vec::as_slice).unwrap_or_default() {
                ports.push(Port {
                    container_port: cport.split('/').next().and_then(|p| p.parse().ok()),
                    host_port: string(b, "HostPort")
                        .and_then(|p| p.parse().ok())
                        .or(Some(0)),
                    host_ip: string(b, "HostIp"),
                });
            }
        }
    }
    let devices = match hc(body, "Devices") {
        Some(Value::Array(ds)) => ds
            .iter()
            .filter_map(|d| match d {
                Value::String(s) => s.split(':').next().map(str::to_string),
                other => string(other, "PathOnHost"),
            })
            .collect(),
        _ => Vec::new(),
    };
    let image = string(config, "Image").unwrap_or_default();
    let container = Container {
        kind: ContainerKind::Container,
        path: path.to_string(),
        name: string(body, "Name")
            .map(|n| n.trim_start_matches('/').to_string())
            .unwrap_or_else(|| "container".into()),
        image: ImageRef::parse(&image),
        command: words(config.get("Entrypoint")),
        args: words(config.get("Cmd")),
        env: crate::value::arr(config, "Env")
            .iter()
            .filter_map(scalar)
            .map(|e| EnvVar::from_assignment(&e))
            .collect(),
        working_dir: string(config, "WorkingDir"),
        ports,
        mounts,
        devices,
        security_context: sc,
        ..Container::default()
    };
    let sysctls = obj(body, "HostConfig")
        .and_then(|h| h.get("Sysctls"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    PodSpec {
        path: path.to_string(),
        host_network: mode("NetworkMode"),
        host_pid: mode("PidMode"),
        host_ipc: mode("IpcMode"),
        host_users: mode("UsernsMode").then_some(true),
        security_context: PodSecurityContext {
            sysctls,
            ..PodSecurityContext::default()
        },
        volumes,
        containers: vec![container],
        ..PodSpec::default()
    }
}

/// A create request (or inspected container) as a deployment of kind `DockerContainer`.
pub fn create_deployment(body: &Value, name: Option<&str>, origin: Origin) -> Deployment {
    let mut pod = create_pod(body, "body");
    if let Some(n) = name.filter(|n| !n.is_empty())
        && let Some(c) = pod.containers.first_mut()
    {
        c.name = n.trim_start_matches('/').to_string();
    }
    let cname = pod.containers.first().map(|c| c.name.clone());
    let config = body.get("Config").filter(|c| c.is_object()).unwrap_or(body);
    Deployment {
        origin,
        target: Target {
            kind: "DockerContainer".into(),
            api_version: "docker".into(),
            name: cname,
            labels: crate::value::string_map(config, "Labels"),
            ..Target::default()
        },
        pod: Some(pod),
        ..Deployment::default()
    }
}

/// `POST /build` as a deployment of kind `DockerBuild`, judged from its query (the body is
/// the build context, a tar the engine does not forward to plugins). `RUN` steps execute in
/// containers, so the build's pod carries what they get: `networkmode=host` puts every
/// `RUN` step in the host's network namespace. A `remote` context (a URL the engine fetches)
/// is kept as the `context` label.
pub fn build_deployment(query: &[(String, String)], origin: Origin) -> Deployment {
    let get = |k: &str| query_param(query, k);
    let mut labels = Vec::new();
    if let Some(remote) = get("remote").filter(|r| !r.is_empty()) {
        labels.push(("context".to_string(), remote.to_string()));
    }
    Deployment {
        origin,
        target: Target {
            kind: "DockerBuild".into(),
            api_version: "docker".into(),
            name: get("t").filter(|t| !t.is_empty()).map(str::to_string),
            labels,
            ..Target::default()
        },
        pod: Some(PodSpec {
            path: "query".into(),
            host_network: get("networkmode") == Some("host"),
            ..PodSpec::default()
        }),
        ..Deployment::default()
    }
}

/// `POST /plugins/pull` (install) or `/plugins/{name}/upgrade` as a deployment of kind
/// `DockerPlugin`. A managed plugin is a container the engine runs as root; the body is the
/// list of privileges the user granted (the names of moby's `computePrivileges`), which map
/// onto the same fields a container create has, so the container rules judge them.
pub fn plugin_deployment(
    remote: &str,
    name: Option<&str>,
    privileges: &Value,
    origin: Origin,
) -> Deployment {
    let mut binds = Vec::new();
    let mut devices = Vec::new();
    let mut caps = Vec::new();
    let mut network = None;
    let mut pid = None;
    let mut ipc = None;
    for p in privileges.as_array().map(Vec::as_slice).unwrap_or_default() {
        let values = p.get("Value").map(string_list).unwrap_or_default();
        match string(p, "Name").unwrap_or_default().as_str() {
            "network" => network = values.first().cloned(),
            "host pid namespace" => pid = Some("host"),
            "host ipc namespace" => ipc = Some("host"),
            "mount" => binds.extend(
                values
                    .into_iter()
                    .filter(|m| !m.is_empty())
                    .map(|m| format!("{m}:{m}")),
            ),
            "device" => devices.extend(values),
            // rwm on every device node: the whole of /dev.
            "allow-all-devices" if values.iter().any(|v| v == "true") => {
                devices.push("/dev".into())
            }
            "capabilities" => caps.extend(values),
            _ => {}
        }
    }
    let body = serde_json::json!({
        "Image": remote,
        "HostConfig": {
            "NetworkMode": network, "PidMode": pid, "IpcMode": ipc, "Binds": binds,
            "CapAdd": caps,
            "Devices": devices.iter().map(|d| serde_json::json!({"PathOnHost": d, "PathInContainer": d, "CgroupPermissions": "rwm"})).collect::<Vec<_>>(),
        },
    });
    let mut d = create_deployment(&body, name.or(Some("plugin")), origin);
    d.target.kind = "DockerPlugin".into();
    d.target.name = Some(name.filter(|n| !n.is_empty()).unwrap_or(remote).to_string());
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostconfig_and_top_level_fields() {
        let body = serde_json::json!({
            "Image": "alpine", "Cmd": ["chroot", "/host", "sh"],
            "HostConfig": {"Privileged": true, "PidMode": "host", "Binds": ["/:/host:ro"], "CapAdd": ["SYS_ADMIN"],
                "SecurityOpt": ["apparmor=unconfined"], "Devices": [{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda"}],
                "PortBindings": {"2375/tcp": [{"HostIp": "0.0.0.0", "HostPort": "2375"}]}}
        });
        let p = create_pod(&body, "body");
        let c = &p.containers[0];
        assert!(p.host_pid && !p.host_network);
        assert_eq!(c.security_context.privileged, Some(true));
        assert_eq!(
            c.mounts[0].host_path.as_ref().map(|h| h.path.as_str()),
            Some("/")
        );
        assert!(c.mounts[0].read_only);
        assert_eq!(c.devices, vec!["/dev/sda"]);
        assert_eq!(c.ports[0].host_port, Some(2375));
        assert_eq!(
            c.security_context.options.apparmor.as_deref(),
            Some("Unconfined")
        );
        // A curl body with the old top-level positions.
        let old = serde_json::json!({"Image": "alpine", "Binds": ["/var/run/docker.sock:/s"], "Privileged": true});
        let p = create_pod(&old, "body");
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(p.containers[0].mounts.len(), 1);
    }
}
