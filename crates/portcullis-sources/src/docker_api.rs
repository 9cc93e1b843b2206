//! Docker Engine API container-create bodies → [`Deployment`].
//!
//! One mapping for every place a create body appears: `POST /containers/create` seen by
//! the AuthZ plugin or in a `dockerd -D` log, `docker inspect` output, a `curl` to the
//! socket, and the body the `docker run` command-line parser builds. Raw bodies are first
//! read as dockerd reads them ([`crate::docker_wire`]: Go's case-insensitive names, merged
//! repeats, top-level host fields only without a `HostConfig`); the mappers here read the
//! canonical result.

use crate::value::{as_bool, boolean, scalar, string, string_list};
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
    // A Windows source holds a colon of its own (`C:\:/host`, `c:/Users:/u:ro`): split
    // after it.
    let b = s.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && matches!(b[2], b'\\' | b'/') {
        let rest = parse_bind(&s[2..]);
        return Bind {
            source: rest.source.map(|src| format!("{}{src}", &s[..2])),
            host: true,
            ..rest
        };
    }
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
        host: src.is_some_and(|s| s.starts_with(['/', '.', '~', '\\'])),
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

/// Where a container's settings sit in a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A create request in its canonical form ([`crate::docker_wire::create_request`], or
    /// a body built from a command line): config fields at the top, `HostConfig` beside.
    Request,
    /// `docker inspect` / `GET /containers/{id}/json`: the config under `Config`.
    Inspect,
}

/// A `{type=none,o=bind,device=/…}` local volume or a `Mounts` entry of type `volume` with
/// such driver options is a bind of the device path in disguise.
fn volume_mount_host_path(m: &Value) -> Option<String> {
    let driver = m.pointer("/VolumeOptions/DriverConfig")?;
    let opts = driver.get("Options").and_then(Value::as_object)?;
    crate::docker_wire::local_volume_host_path(
        driver.get("Name").and_then(Value::as_str).unwrap_or(""),
        opts,
    )
}

/// The pod a create body describes.
pub fn create_pod(body: &Value, shape: Shape, path: &str) -> PodSpec {
    let config = match shape {
        Shape::Request => body,
        Shape::Inspect => body.get("Config").filter(|c| c.is_object()).unwrap_or(body),
    };
    let host = body.get("HostConfig").filter(|h| h.is_object());
    let hc = |key: &str| host.and_then(|h| h.get(key)).filter(|v| !v.is_null());
    let mode = |key: &str| hc(key).and_then(scalar).unwrap_or_default();
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    let vprefix = format!("{path}.HostConfig.Binds");
    for b in hc("Binds").map(string_list).unwrap_or_default() {
        push_mount(&mut volumes, &mut mounts, &vprefix, parse_bind(&b));
    }
    if let Some(Value::Array(ms)) = hc("Mounts") {
        for m in ms {
            let kind = string(m, "Type").unwrap_or_else(|| "volume".into());
            let disguised = (kind == "volume")
                .then(|| volume_mount_host_path(m))
                .flatten();
            push_mount(
                &mut volumes,
                &mut mounts,
                &format!("{path}.HostConfig.Mounts"),
                Bind {
                    source: disguised.clone().or_else(|| string(m, "Source")),
                    target: string(m, "Target")
                        .or_else(|| string(m, "Destination"))
                        .unwrap_or_default(),
                    read_only: boolean(m, "ReadOnly").unwrap_or(false)
                        || boolean(m, "RW") == Some(false),
                    propagation: m.get("BindOptions").and_then(|b| string(b, "Propagation")),
                    host: kind == "bind" || disguised.is_some(),
                },
            );
        }
    }
    let mut sc = ContainerSecurityContext {
        privileged: hc("Privileged").and_then(as_bool),
        cap_add: hc("CapAdd").map(string_list).unwrap_or_default(),
        cap_drop: hc("CapDrop").map(string_list).unwrap_or_default(),
        read_only_root_filesystem: hc("ReadonlyRootfs").and_then(as_bool),
        ..ContainerSecurityContext::default()
    };
    apply_security_opts(
        &hc("SecurityOpt").map(string_list).unwrap_or_default(),
        &mut sc,
    );
    // An explicit empty MaskedPaths unmasks /proc like `systempaths=unconfined`.
    if hc("MaskedPaths")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        sc.proc_mount = Some("Unmasked".into());
    }
    if let Some(user) = string(config, "User") {
        sc.options.run_as_user = match user.split(':').next().unwrap_or("") {
            "root" => Some(0),
            u => u.parse().ok(),
        };
    }
    let mut ports = Vec::new();
    if let Some(Value::Object(pb)) = hc("PortBindings") {
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
    let mut devices: Vec<String> = match hc("Devices") {
        Some(Value::Array(ds)) => ds
            .iter()
            .filter_map(|d| match d {
                Value::String(s) => s.split(':').next().map(str::to_string),
                other => string(other, "PathOnHost"),
            })
            .collect(),
        _ => Vec::new(),
    };
    // A Mounts volume that is a local block device (`device=/dev/sda1`) is a device.
    devices.extend(
        mounts
            .iter()
            .filter_map(|m| m.host_path.as_ref())
            .filter(|h| h.path.starts_with("/dev/"))
            .map(|h| h.path.clone()),
    );
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
        device_cgroup_rules: hc("DeviceCgroupRules").map(string_list).unwrap_or_default(),
        security_context: sc,
        ..Container::default()
    };
    let sysctls = host
        .and_then(|h| h.get("Sysctls"))
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let mut joined_namespaces = Vec::new();
    for (key, ns) in [
        ("PidMode", "pid"),
        ("NetworkMode", "network"),
        ("IpcMode", "ipc"),
    ] {
        if let Some(c) = mode(key).strip_prefix("container:") {
            joined_namespaces.push(format!("{ns}=container:{c}"));
        }
    }
    PodSpec {
        path: path.to_string(),
        host_network: mode("NetworkMode") == "host",
        host_pid: mode("PidMode") == "host",
        host_ipc: mode("IpcMode") == "host",
        host_users: (mode("UsernsMode") == "host").then_some(true),
        host_cgroupns: mode("CgroupnsMode") == "host",
        joined_namespaces,
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
pub fn create_deployment(
    body: &Value,
    shape: Shape,
    name: Option<&str>,
    origin: Origin,
) -> Deployment {
    let mut pod = create_pod(body, shape, "body");
    if let Some(n) = name.filter(|n| !n.is_empty())
        && let Some(c) = pod.containers.first_mut()
    {
        c.name = n.trim_start_matches('/').to_string();
    }
    let cname = pod.containers.first().map(|c| c.name.clone());
    let config = match shape {
        Shape::Request => body,
        Shape::Inspect => body.get("Config").filter(|c| c.is_object()).unwrap_or(body),
    };
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

/// `POST /containers/{id}/exec` (canonical [`crate::docker_wire::exec_config`]): an exec
/// into `id`, with the powers the exec itself asks for.
pub fn exec_deployment(config: &Value, id: &str, origin: Origin) -> Deployment {
    let cmd: Vec<String> = config.get("Cmd").map(string_list).unwrap_or_default();
    let mut target = Target {
        kind: "DockerContainer".into(),
        api_version: "docker".into(),
        name: Some(id.to_string()),
        ..Target::default()
    };
    target.set_exec_command(cmd.join(" "));
    Deployment {
        origin,
        operation: portcullis_model::Operation::Exec,
        target,
        exec: Some(portcullis_model::ExecSpec {
            privileged: boolean(config, "Privileged").unwrap_or(false),
            user: string(config, "User"),
        }),
        ..Deployment::default()
    }
}

/// `POST /services/create` or `/services/{id}/update` (canonical
/// [`crate::docker_wire::service_spec`]): the task's container as a create, kind
/// `SwarmService`; a plugin task as a plugin install.
pub fn service_deployment(spec: &Value, origin: Origin) -> Deployment {
    let name = spec.get("Name").and_then(Value::as_str);
    if let Some(plugin) = spec
        .pointer("/TaskTemplate/PluginSpec")
        .filter(|p| p.is_object())
    {
        let mut d = plugin_deployment(
            plugin.get("Remote").and_then(Value::as_str).unwrap_or(""),
            plugin.get("Name").and_then(Value::as_str).or(name),
            plugin.get("Privileges").unwrap_or(&Value::Null),
            origin,
        );
        d.target.kind = "SwarmPlugin".into();
        return d;
    }
    let cs = spec
        .pointer("/TaskTemplate/ContainerSpec")
        .cloned()
        .unwrap_or_default();
    let get = |k: &str| cs.get(k).cloned().unwrap_or(Value::Null);
    let mut security_opt = Vec::new();
    if let Some(p) = cs.get("Privileges") {
        if p.pointer("/SELinuxContext/Disable") == Some(&Value::Bool(true)) {
            security_opt.push("label=disable".to_string());
        }
        if p.pointer("/Seccomp/Mode").and_then(Value::as_str) == Some("unconfined") {
            security_opt.push("seccomp=unconfined".into());
        }
        if p.pointer("/AppArmor/Mode").and_then(Value::as_str) == Some("disabled") {
            security_opt.push("apparmor=unconfined".into());
        }
        if p.get("NoNewPrivileges") == Some(&Value::Bool(true)) {
            security_opt.push("no-new-privileges".into());
        }
    }
    // Attached to the `host` network (task or service level): the node's network.
    let host_network = ["/TaskTemplate/Networks", "/Networks"].iter().any(|p| {
        spec.pointer(p).and_then(Value::as_array).is_some_and(|ns| {
            ns.iter()
                .any(|n| n.get("Target").and_then(Value::as_str) == Some("host"))
        })
    });
    let body = serde_json::json!({
        "Image": get("Image"), "Cmd": get("Args"), "Entrypoint": get("Command"),
        "User": get("User"), "Env": get("Env"), "WorkingDir": get("Dir"), "Labels": get("Labels"),
        "HostConfig": {
            "Mounts": get("Mounts"), "CapAdd": get("CapabilityAdd"), "CapDrop": get("CapabilityDrop"),
            "ReadonlyRootfs": get("ReadOnly"), "Sysctls": get("Sysctls"), "SecurityOpt": security_opt,
            "NetworkMode": if host_network { "host" } else { "" },
        },
    });
    let mut d = create_deployment(&body, Shape::Request, name, origin);
    d.target.kind = "SwarmService".into();
    let global = ["/Mode/Global", "/Mode/GlobalJob"]
        .iter()
        .any(|p| spec.pointer(p).is_some_and(Value::is_object));
    if global {
        d.target.labels.push(("mode".into(), "global".into()));
    }
    d
}

/// `POST /volumes/create` (canonical [`crate::docker_wire::volume_create`]): a volume of
/// the local driver that binds a host path (or mounts a host block device) is judged as a
/// container mounting it, kind `DockerVolume`, because every container that mounts the
/// volume by name gets that path. Other volumes have no pod.
pub fn volume_deployment(spec: &Value, origin: Origin) -> Deployment {
    let name = spec
        .get("Name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .unwrap_or("volume");
    let host_path = spec
        .get("DriverOpts")
        .and_then(Value::as_object)
        .and_then(|o| {
            crate::docker_wire::local_volume_host_path(
                spec.get("Driver").and_then(Value::as_str).unwrap_or(""),
                o,
            )
        });
    let pod = host_path.map(|p| {
        let body = serde_json::json!({"HostConfig": {"Binds": [format!("{p}:/{name}")]}});
        let mut pod = create_pod(&body, Shape::Request, "body");
        if p.starts_with("/dev/")
            && let Some(c) = pod.containers.first_mut()
        {
            c.devices.push(p.clone());
        }
        if let Some(c) = pod.containers.first_mut() {
            c.name = name.to_string();
        }
        pod
    });
    Deployment {
        origin,
        target: Target {
            kind: "DockerVolume".into(),
            api_version: "docker".into(),
            name: Some(name.to_string()),
            labels: crate::value::string_map(spec, "Labels"),
            ..Target::default()
        },
        pod,
        ..Deployment::default()
    }
}

/// `POST /plugins/{name}/set` (`["mnt.source=/", "DEBUG=1", "dev.path=/dev/sda"]`):
/// a plugin's mount sources and device paths changed to host paths of the caller's
/// choosing, judged like the privileges of an install.
pub fn plugin_settings_deployment(name: &str, settings: &Value, origin: Origin) -> Deployment {
    let mut privileges = Vec::new();
    for s in settings.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some((key, value)) = s.as_str().and_then(|s| s.split_once('=')) else {
            continue;
        };
        if key.ends_with(".source") {
            privileges.push(serde_json::json!({"Name": "mount", "Value": [value]}));
        } else if key.ends_with(".path") && value.starts_with('/') {
            privileges.push(serde_json::json!({"Name": "device", "Value": [value]}));
        }
    }
    let mut d = plugin_deployment("", Some(name), &Value::Array(privileges), origin);
    d.operation = portcullis_model::Operation::Update;
    d
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
    let mut d = create_deployment(&body, Shape::Request, name.or(Some("plugin")), origin);
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
        let p = create_pod(&body, Shape::Request, "body");
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
        // A curl body with the old top-level positions, read as dockerd reads it.
        let old = crate::docker_wire::create_request(
            br#"{"Image": "alpine", "Binds": ["/var/run/docker.sock:/s"], "Privileged": true}"#,
        )
        .expect("decodes");
        let p = create_pod(&old, Shape::Request, "body");
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(p.containers[0].mounts.len(), 1);
    }
}
