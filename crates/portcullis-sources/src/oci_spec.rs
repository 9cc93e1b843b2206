//! An OCI runtime spec (`config.json`; what containerd stores as a container's `Spec`) →
//! the model's pod: what the container will run with, however it was asked for.
//!
//! The spec has no "privileged" flag: `ctr run --privileged`, `nerdctl run --privileged`
//! and Docker all expand it into the parts below, so it is read back from them. A spec
//! whose bounding set holds (nearly) every capability and that has no seccomp filter is
//! privileged; otherwise the capabilities beyond containerd's default set are added ones.
//! A namespace missing from `linux.namespaces` is the host's; one given by `path` is
//! joined. Bind mounts are host paths.

use portcullis_model::{
    Container, ContainerSecurityContext, EnvVar, HostPath, ImageRef, Mount, PodSpec, Volume,
    normalize_capability,
};
use serde_json::Value;

/// containerd's default capabilities (`oci.WithDefaultSpec`), the same as Docker's.
const DEFAULT_CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

/// Linux has 41 capabilities (5.x kernels); `--privileged` grants every one the runtime
/// knows (40 for containerd 1.6). Fewer than this many is not "all".
const ALL_CAPABILITIES_AT_LEAST: usize = 37;

/// Binds `ctr run --net-host` and nerdctl add so the container resolves names like the
/// host: read-only copies of two files, not a reach into the node.
const NAME_RESOLUTION_FILES: &[&str] = &["/etc/hosts", "/etc/resolv.conf"];

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The pod one OCI spec describes: one container named `id`, from `image` when known.
pub fn pod(spec: &Value, id: &str, image: Option<&str>) -> PodSpec {
    let process = spec.get("process").unwrap_or(&Value::Null);
    let linux = spec.get("linux").unwrap_or(&Value::Null);
    let mut pod = PodSpec {
        path: "Spec".into(),
        ..PodSpec::default()
    };
    // Namespaces: absent is the host's; a path joins another process's.
    let namespaces = linux
        .get("namespaces")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let has = |t: &str| {
        namespaces
            .iter()
            .any(|n| n.get("type").and_then(Value::as_str) == Some(t))
    };
    pod.host_pid = !has("pid");
    pod.host_network = !has("network");
    pod.host_ipc = !has("ipc");
    for n in &namespaces {
        if let (Some(t), Some(path)) = (
            n.get("type").and_then(Value::as_str),
            n.get("path").and_then(Value::as_str),
        ) {
            pod.joined_namespaces.push(format!("{t}={path}"));
            // `/proc/1/ns/*` is the node's init: the host namespace itself.
            if path.starts_with("/proc/1/ns/") {
                match t {
                    "pid" => pod.host_pid = true,
                    "network" => pod.host_network = true,
                    "ipc" => pod.host_ipc = true,
                    _ => {}
                }
            }
        }
    }
    let caps = process.get("capabilities").unwrap_or(&Value::Null);
    let bounding: Vec<String> = strings(caps.get("bounding"))
        .iter()
        .map(|c| normalize_capability(c))
        .collect();
    let seccomp = linux.get("seccomp").filter(|s| !s.is_null());
    let apparmor = process
        .get("apparmorProfile")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty());
    let mut sc = ContainerSecurityContext::default();
    if bounding.len() >= ALL_CAPABILITIES_AT_LEAST && seccomp.is_none() && apparmor.is_none() {
        sc.privileged = Some(true);
    } else {
        sc.cap_add = bounding
            .iter()
            .filter(|c| !DEFAULT_CAPABILITIES.contains(&c.as_str()))
            .cloned()
            .collect();
    }
    // Every spec names a user and most leave `noNewPrivileges` out: read as unset, as
    // for a `docker run` without `-u`, so only a choice someone made is judged.
    sc.options.run_as_user = process
        .pointer("/user/uid")
        .and_then(Value::as_i64)
        .filter(|uid| *uid != 0);
    if process.get("noNewPrivileges").and_then(Value::as_bool) == Some(true) {
        sc.allow_privilege_escalation = Some(false);
    }
    if spec.pointer("/root/readonly").and_then(Value::as_bool) == Some(true) {
        sc.read_only_root_filesystem = Some(true);
    }
    if linux
        .get("maskedPaths")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        sc.proc_mount = Some("Unmasked".into());
    }
    let mut mounts = Vec::new();
    for (i, m) in spec
        .get("mounts")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let options = strings(m.get("options"));
        let is_bind = m.get("type").and_then(Value::as_str) == Some("bind")
            || options.iter().any(|o| o == "bind" || o == "rbind");
        let (Some(source), Some(dest)) = (
            m.get("source").and_then(Value::as_str),
            m.get("destination").and_then(Value::as_str),
        ) else {
            continue;
        };
        if !is_bind {
            continue;
        }
        let read_only = options.iter().any(|o| o == "ro");
        if read_only && source == dest && NAME_RESOLUTION_FILES.contains(&source) {
            continue;
        }
        let name = format!("mount-{i}");
        let host = HostPath::new(source, None);
        pod.volumes.push(Volume {
            name: name.clone(),
            source: "bind".into(),
            host_path: Some(host.clone()),
        });
        mounts.push(Mount {
            volume: name,
            mount_path: dest.to_string(),
            read_only,
            propagation: options
                .iter()
                .find(|o| o.contains("shared") || o.contains("slave"))
                .cloned(),
            sub_path: None,
            host_path: Some(host),
        });
    }
    let devices = linux
        .get("devices")
        .and_then(Value::as_array)
        .map(|ds| {
            ds.iter()
                .filter_map(|d| d.get("path").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    pod.containers.push(Container {
        path: "Spec.process".into(),
        name: id.into(),
        image: ImageRef::parse(image.unwrap_or("")),
        command: strings(process.get("args")),
        env: strings(process.get("env"))
            .iter()
            .map(|e| EnvVar::from_assignment(e))
            .collect(),
        working_dir: process
            .get("cwd")
            .and_then(Value::as_str)
            .map(str::to_string),
        mounts,
        devices,
        security_context: sc,
        ..Container::default()
    });
    pod
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of `ctr containers info` for `ctr run --privileged --net-host --mount
    // type=bind,src=/etc,dst=/hostetc,options=rbind:ro` on Debian's containerd 1.6
    // (devices and capabilities shortened to what the reading needs).
    fn privileged() -> Value {
        let caps: Vec<String> = (0..40)
            .map(|i| format!("CAP_{i}"))
            .chain(["CAP_SYS_ADMIN".into()])
            .collect();
        serde_json::json!({
            "ociVersion": "1.0.2-dev",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["/bin/busybox", "sleep", "1000"],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps}, "noNewPrivileges": false},
            "root": {"path": "rootfs"},
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
                {"destination": "/hostetc", "type": "bind", "source": "/etc", "options": ["rbind", "ro"]},
                {"destination": "/etc/hosts", "type": "bind", "source": "/etc/hosts", "options": ["rbind", "ro"]},
                {"destination": "/etc/resolv.conf", "type": "bind", "source": "/etc/resolv.conf", "options": ["rbind", "ro"]}
            ],
            "linux": {"devices": [{"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}],
                "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
        })
    }

    #[test]
    fn a_privileged_host_network_spec_reads_as_one() {
        let p = pod(&privileged(), "p1", None);
        assert!(p.host_network);
        assert!(!p.host_pid);
        let c = &p.containers[0];
        assert_eq!(c.security_context.privileged, Some(true));
        assert_eq!(c.devices, vec!["/dev/sda".to_string()]);
        assert_eq!(
            c.mounts.len(),
            1,
            "the name-resolution files are not host reach"
        );
        assert_eq!(
            c.mounts[0].host_path.as_ref().map(|h| h.path.as_str()),
            Some("/etc")
        );
        assert!(c.mounts[0].read_only);
        assert_eq!(c.command[0], "/bin/busybox");
    }

    #[test]
    fn a_default_spec_is_confined_and_added_capabilities_are_named() {
        let mut s = privileged();
        s["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}]);
        s["linux"]["seccomp"] = serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO"});
        s["process"]["capabilities"]["bounding"] =
            serde_json::json!(["CAP_CHOWN", "CAP_KILL", "CAP_SYS_PTRACE"]);
        s["mounts"] = serde_json::json!([]);
        let p = pod(&s, "n1", Some("docker.io/library/alpine:3.20"));
        assert!(!p.host_network && !p.host_pid && !p.host_ipc);
        let c = &p.containers[0];
        assert_eq!(c.security_context.privileged, None);
        assert_eq!(c.security_context.cap_add, vec!["SYS_PTRACE".to_string()]);
        // A namespace joined from the node's init is the node's.
        s["linux"]["namespaces"][0] = serde_json::json!({"type": "pid", "path": "/proc/1/ns/pid"});
        assert!(pod(&s, "n1", None).host_pid);
    }
}
