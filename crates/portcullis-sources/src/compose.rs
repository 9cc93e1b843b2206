//! Docker Compose files → [`Deployment`]s, one per service.
//!
//! Compose speaks Docker's vocabulary (`privileged`, `pid: host`, `security_opt`,
//! `volumes: ["/:/host"]`); it is mapped onto the same pod model so one rule pack judges
//! both. The mapping follows the Compose Specification's short and long syntaxes.

use crate::SourceError;
use crate::value::{arr, boolean, obj, scalar, string, string_map, strings};
use portcullis_model::{
    Container, ContainerKind, ContainerSecurityContext, Deployment, EnvVar, ImageRef, Origin,
    PodSecurityContext, PodSpec, Port, SecurityOptions, Target,
};
use serde_json::Value;

/// A document is a Compose file when it has a `services` mapping whose entries are
/// mappings (and no Kubernetes `kind`).
pub fn looks_like_compose(v: &Value) -> bool {
    obj(v, "services").is_some_and(|s| s.values().all(|svc| svc.is_object() || svc.is_null()))
}

pub fn read(
    v: &Value,
    doc_text: &str,
    origin: &Origin,
    out: &mut Vec<Deployment>,
    errors: &mut Vec<SourceError>,
) {
    let project = string(v, "name");
    let Some(services) = obj(v, "services") else {
        return;
    };
    let named = named_volume_binds(v);
    for (name, svc) in services {
        if !svc.is_object() {
            errors.push(SourceError {
                file: origin.file.clone(),
                line: origin.line,
                column: None,
                field: Some(format!("services.{name}")),
                message: "expected a mapping".into(),
            });
            continue;
        }
        let line = service_line(doc_text, name).map_or(origin.line, |l| origin.line + l);
        let resolved = match resolve_extends(svc, services, &origin.file, 0) {
            Ok(r) => r,
            Err(message) => {
                errors.push(SourceError {
                    file: origin.file.clone(),
                    line,
                    column: None,
                    field: Some(format!("services.{name}.extends")),
                    message,
                });
                continue;
            }
        };
        let svc = &resolved;
        let labels = labels(svc);
        let annotations = labels
            .iter()
            .filter(|(k, _)| k.starts_with("portcullis.dev/"))
            .cloned()
            .collect();
        out.push(Deployment {
            origin: Origin {
                line,
                ..origin.clone()
            },
            target: Target {
                kind: "ComposeService".into(),
                api_version: "compose-spec".into(),
                namespace: project.clone(),
                name: Some(name.clone()),
                labels,
                annotations,
                ..Target::default()
            },
            pod: Some(service_pod(name, svc, project.as_deref(), &named)),
            ..Deployment::default()
        });
    }
}

/// Top-level named volumes of the local driver that bind a host path (`driver_opts:
/// {type: none, o: bind, device: /}`): a service mounting one by name mounts that path.
fn named_volume_binds(v: &Value) -> Vec<(String, String)> {
    let Some(volumes) = obj(v, "volumes") else {
        return Vec::new();
    };
    volumes
        .iter()
        .filter_map(|(name, spec)| {
            let opts = obj(spec, "driver_opts")?;
            let driver = string(spec, "driver").unwrap_or_default();
            crate::docker_wire::local_volume_host_path(&driver, opts).map(|p| (name.clone(), p))
        })
        .collect()
}

/// How deep `extends` may chain (Compose itself refuses cycles; this bounds them).
const MAX_EXTENDS: usize = 10;

/// A service with its `extends` applied, the way Compose merges: the extending service's
/// mappings merge over the base's, its scalars replace them, and sequences (volumes,
/// devices, cap_add, ports…) are the union — Compose replaces a base entry only when
/// both name the same target, and keeping both is the cautious reading. `extends.file`
/// is read relative to this file.
fn resolve_extends(
    svc: &Value,
    services: &serde_json::Map<String, Value>,
    file: &str,
    depth: usize,
) -> Result<Value, String> {
    let Some(ext) = svc.get("extends") else {
        return Ok(svc.clone());
    };
    if depth >= MAX_EXTENDS {
        return Err(format!(
            "extends chains more than {MAX_EXTENDS} deep (a cycle?)"
        ));
    }
    let (base_name, base_file) = match ext {
        Value::String(s) => (s.clone(), None),
        other => (
            string(other, "service").ok_or("extends names no service")?,
            string(other, "file"),
        ),
    };
    let (base, base_services, base_path) = match base_file {
        None => (
            services.get(&base_name).cloned(),
            services.clone(),
            file.to_string(),
        ),
        Some(f) => {
            let path = std::path::Path::new(file)
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(&f);
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("extends file {}: {e}", path.display()))?;
            if meta.len() > crate::manifest::DEFAULT_MAX_FILE_BYTES {
                return Err(format!("extends file {} is too large", path.display()));
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("extends file {}: {e}", path.display()))?;
            let doc = crate::manifest::parse_yaml(&text)
                .map_err(|(l, _, m)| format!("extends file {}:{l}: {m}", path.display()))?;
            let other = obj(&doc, "services").cloned().unwrap_or_default();
            (
                other.get(&base_name).cloned(),
                other,
                path.display().to_string(),
            )
        }
    };
    let base =
        base.ok_or_else(|| format!("extends service {base_name:?}, which does not exist"))?;
    let base = resolve_extends(&base, &base_services, &base_path, depth + 1)?;
    let mut merged = base;
    merge_service(&mut merged, svc);
    if let Value::Object(m) = &mut merged {
        m.remove("extends");
    }
    Ok(merged)
}

fn merge_service(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing) => merge_service(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => {
            for v in o {
                if !b.contains(v) {
                    b.push(v.clone());
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// 0-based offset of the line that opens `services.<name>` in the document, found by text:
/// the YAML value no longer knows its lines.
fn service_line(doc: &str, name: &str) -> Option<usize> {
    let mut in_services = false;
    for (i, line) in doc.lines().enumerate() {
        if line.starts_with("services:") {
            in_services = true;
            continue;
        }
        if in_services {
            if !line.starts_with([' ', '\t']) && !line.trim().is_empty() {
                in_services = false;
                continue;
            }
            let t = line.trim_start();
            let key = t.trim_end().strip_suffix(':').unwrap_or("");
            if key.trim_matches(['"', '\'']) == name {
                return Some(i);
            }
        }
    }
    None
}

fn labels(svc: &Value) -> Vec<(String, String)> {
    match svc.get("labels") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(scalar)
            .map(|l| match l.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l, String::new()),
            })
            .collect(),
        _ => string_map(svc, "labels"),
    }
}

/// A command written as a string is split the way Compose splits it (shell words, no
/// shell); a list is taken as is.
fn command(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::String(s)) => shlex::split(s).unwrap_or_else(|| vec![s.clone()]),
        Some(_) => strings(v, key),
        None => Vec::new(),
    }
}

fn service_pod(
    name: &str,
    svc: &Value,
    project: Option<&str>,
    named: &[(String, String)],
) -> PodSpec {
    let path = format!("services.{name}");
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for vol in arr(svc, "volumes") {
        let bind = match vol {
            Value::String(s) => crate::docker_api::parse_bind(s),
            Value::Object(_) => crate::docker_api::Bind {
                source: string(vol, "source"),
                target: string(vol, "target").unwrap_or_default(),
                read_only: boolean(vol, "read_only").unwrap_or(false),
                propagation: vol.get("bind").and_then(|b| string(b, "propagation")),
                host: string(vol, "type").is_some_and(|t| t == "bind"),
            },
            _ => continue,
        };
        // A named volume that is a host bind in disguise.
        let mut bind = bind;
        if !bind.host
            && let Some((_, path)) = named
                .iter()
                .find(|(n, _)| Some(n.as_str()) == bind.source.as_deref())
        {
            bind.source = Some(path.clone());
            bind.host = true;
        }
        crate::docker_api::push_mount(&mut volumes, &mut mounts, &format!("{path}.volumes"), bind);
    }
    let mut security = ContainerSecurityContext {
        privileged: boolean(svc, "privileged"),
        cap_add: strings(svc, "cap_add"),
        cap_drop: strings(svc, "cap_drop"),
        read_only_root_filesystem: boolean(svc, "read_only"),
        ..ContainerSecurityContext::default()
    };
    if let Some(user) = string(svc, "user") {
        let uid = user.split(':').next().unwrap_or("");
        security.options.run_as_user = match uid {
            "root" => Some(0),
            u => u.parse().ok(),
        };
    }
    crate::docker_api::apply_security_opts(&strings(svc, "security_opt"), &mut security);
    let image = match string(svc, "image") {
        Some(i) => i,
        // A build-only service runs an image built on the spot, named after the project.
        None => format!("{}-{}", project.unwrap_or("local"), name),
    };
    let env = match svc.get("environment") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| EnvVar {
                name: k.clone(),
                value: scalar(v),
            })
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(scalar)
            .map(|e| EnvVar::from_assignment(&e))
            .collect(),
        _ => Vec::new(),
    };
    let container = Container {
        kind: ContainerKind::Container,
        path: path.clone(),
        name: string(svc, "container_name").unwrap_or_else(|| name.to_string()),
        image: ImageRef::parse(&image),
        command: command(svc, "entrypoint"),
        args: command(svc, "command"),
        env,
        working_dir: string(svc, "working_dir"),
        ports: arr(svc, "ports").iter().map(port).collect(),
        mounts,
        devices: arr(svc, "devices")
            .iter()
            .filter_map(|d| match d {
                Value::String(s) => s.split(':').next().map(str::to_string),
                other => string(other, "source"),
            })
            .collect(),
        device_cgroup_rules: strings(svc, "device_cgroup_rules"),
        security_context: security,
        ..Container::default()
    };
    let mode = |key: &str| string(svc, key).is_some_and(|m| m == "host");
    let joined_namespaces = [("pid", "pid"), ("network_mode", "network"), ("ipc", "ipc")]
        .iter()
        .filter_map(|(key, ns)| {
            let v = string(svc, key)?;
            let other = v
                .strip_prefix("container:")
                .or_else(|| v.strip_prefix("service:"))?;
            Some(format!("{ns}=container:{other}"))
        })
        .collect();
    PodSpec {
        path,
        host_network: mode("network_mode")
            || string(svc, "network_mode").is_some_and(|m| m == "host"),
        host_pid: mode("pid"),
        host_ipc: mode("ipc"),
        host_users: mode("userns_mode").then_some(true),
        host_cgroupns: mode("cgroup"),
        joined_namespaces,
        security_context: PodSecurityContext {
            options: SecurityOptions::default(),
            sysctls: match svc.get("sysctls") {
                Some(Value::Array(items)) => items
                    .iter()
                    .filter_map(scalar)
                    .map(|s| match s.split_once('=') {
                        Some((k, v)) => (k.into(), v.into()),
                        None => (s, String::new()),
                    })
                    .collect(),
                _ => string_map(svc, "sysctls"),
            },
        },
        volumes,
        containers: vec![container],
        ..PodSpec::default()
    }
}

fn port(p: &Value) -> Port {
    match p {
        Value::Object(_) => Port {
            container_port: p.get("target").and_then(crate::value::as_int),
            host_port: p.get("published").and_then(crate::value::as_int),
            host_ip: string(p, "host_ip"),
        },
        other => {
            let s = scalar(other).unwrap_or_default();
            let s = s.split('/').next().unwrap_or("");
            // [HOST_IP:]HOST:CONTAINER or CONTAINER; ranges keep their first port.
            let parts: Vec<&str> = s.rsplitn(3, ':').collect();
            let first = |x: &str| x.split('-').next().and_then(|p| p.parse().ok());
            match parts.as_slice() {
                [c] => Port {
                    container_port: first(c),
                    ..Port::default()
                },
                [c, h] => Port {
                    container_port: first(c),
                    host_port: first(h),
                    host_ip: None,
                },
                [c, h, ip, ..] => Port {
                    container_port: first(c),
                    host_port: first(h),
                    host_ip: Some(ip.trim_matches(['[', ']']).to_string()),
                },
                [] => Port::default(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use portcullis_model::PodSpec;

    fn pods(text: &str, file: &str) -> Vec<(String, PodSpec)> {
        let b = crate::manifest::read(text, file);
        assert!(b.errors.is_empty(), "{:?}", b.errors);
        b.deployments
            .into_iter()
            .map(|d| (d.target.name.unwrap_or_default(), d.pod.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn extends_and_named_volume_binds_are_resolved() {
        let dir = std::env::temp_dir().join(format!("portcullis-compose-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp");
        std::fs::write(
            dir.join("base.yaml"),
            "services:\n  root:\n    image: alpine\n    privileged: true\n    volumes: [\"/:/host\"]\n",
        )
        .expect("write");
        let main = dir.join("compose.yaml");
        let text = "services:\n  base:\n    image: alpine\n    pid: host\n  web:\n    extends: base\n    image: nginx\n  far:\n    extends: {file: base.yaml, service: root}\n    image: busybox\n  disguised:\n    image: alpine\n    volumes: [\"rootfs:/host\", {type: volume, source: rootfs, target: /h2}]\n    device_cgroup_rules: [\"b *:* rwm\"]\n    cgroup: host\nvolumes:\n  rootfs:\n    driver: local\n    driver_opts: {type: none, o: bind, device: /}\n";
        let got = pods(text, &main.display().to_string());
        let pod = |n: &str| {
            got.iter()
                .find(|(name, _)| name == n)
                .map(|(_, p)| p.clone())
                .expect(n)
        };
        let web = pod("web");
        assert!(web.host_pid, "extends a host-PID base");
        assert_eq!(web.containers[0].image.raw, "nginx");
        let far = pod("far");
        assert_eq!(far.containers[0].security_context.privileged, Some(true));
        assert_eq!(
            far.containers[0].mounts[0]
                .host_path
                .as_ref()
                .map(|h| h.path.as_str()),
            Some("/")
        );
        let disguised = pod("disguised");
        let hosts: Vec<_> = disguised.containers[0]
            .mounts
            .iter()
            .filter_map(|m| m.host_path.as_ref().map(|h| h.path.clone()))
            .collect();
        assert_eq!(hosts, vec!["/", "/"]);
        assert!(disguised.host_cgroupns);
        assert_eq!(
            disguised.containers[0].device_cgroup_rules,
            vec!["b *:* rwm"]
        );
        // A missing base is a located error, and the other services are still read.
        let b = crate::manifest::read(
            "services:\n  a:\n    extends: nowhere\n  b:\n    image: x\n",
            "c.yaml",
        );
        assert_eq!(b.errors.len(), 1);
        assert_eq!(b.errors[0].field.as_deref(), Some("services.a.extends"));
        assert_eq!(b.deployments.len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    use crate::manifest;

    #[test]
    fn compose_service_maps_to_pod() {
        let text = r#"
name: shop
services:
  web:
    image: nginx:1.27
    ports: ["127.0.0.1:8080:80", "443"]
  miner:
    image: xmrig/xmrig
    privileged: true
    pid: host
    network_mode: host
    command: "--url stratum+tcp://pool.example:3333 --user wallet"
    cap_add: [SYS_ADMIN]
    security_opt: ["seccomp:unconfined", "label=disable", "apparmor=unconfined"]
    user: "0:0"
    devices: ["/dev/mem:/dev/mem"]
    volumes:
      - /:/host:ro
      - data:/data
      - type: bind
        source: /var/run/docker.sock
        target: /var/run/docker.sock
"#;
        let b = manifest::read(text, "compose.yaml");
        assert!(b.errors.is_empty(), "{:?}", b.errors);
        assert_eq!(b.deployments.len(), 2);
        let web = &b.deployments[0];
        assert_eq!(web.origin.kind, "compose");
        assert_eq!(web.origin.line, 4);
        let wp = web.pod.as_ref().expect("pod");
        assert_eq!(wp.containers[0].ports[0].host_port, Some(8080));
        assert_eq!(wp.containers[0].ports[1].host_port, None);
        let m = b.deployments[1].pod.as_ref().expect("pod");
        assert!(m.host_pid && m.host_network && !m.host_ipc);
        let c = &m.containers[0];
        assert_eq!(c.security_context.privileged, Some(true));
        assert_eq!(c.args[0], "--url");
        assert_eq!(
            c.security_context.options.seccomp.as_deref(),
            Some("Unconfined")
        );
        assert_eq!(
            c.security_context.options.apparmor.as_deref(),
            Some("Unconfined")
        );
        assert!(
            c.security_context
                .options
                .selinux
                .as_ref()
                .is_some_and(|s| s.disabled)
        );
        assert_eq!(c.security_context.options.run_as_user, Some(0));
        assert_eq!(c.devices, vec!["/dev/mem"]);
        assert_eq!(c.mounts.len(), 3);
        assert!(c.mounts[0].read_only);
        assert_eq!(
            c.mounts[0].host_path.as_ref().map(|h| h.path.as_str()),
            Some("/")
        );
        assert!(c.mounts[1].host_path.is_none());
        assert_eq!(
            c.mounts[2].host_path.as_ref().map(|h| h.path.as_str()),
            Some("/var/run/docker.sock")
        );
    }
}
