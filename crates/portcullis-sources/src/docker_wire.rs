//! The Docker Engine API's request bodies, read as dockerd reads them.
//!
//! Each body is decoded by [`go_json`] against the Go types dockerd decodes it into
//! (moby's `api/types`, field order kept: Go's case-insensitive match takes the first
//! field in declaration order). Fields that cannot change what a container may do on its
//! node are listed as [`Ty::Ignore`] — known, so their keys never fall through to another
//! field, and skipped. The result is the canonical JSON the mappers in [`crate::docker_api`]
//! read, so the plugin, the watcher, `hunt` of daemon logs and `curl` bodies in command
//! lines all judge the object the engine will run.

use crate::go_json::{self, DecodeError, Field, Go, Raw, Ty, f};
use serde_json::Value;
use std::sync::LazyLock;

use Ty::{Bool, Ignore, Int, Map, Ptr, Slice, StrSlice, Struct};
const STR: Ty = Ty::String;
const STRS: Ty = Slice(&STR);

/// `container.Config` (API 1.41).
static CONFIG: [Field; 25] = [
    f("Hostname", STR),
    f("Domainname", Ignore),
    f("User", STR),
    f("AttachStdin", Ignore),
    f("AttachStdout", Ignore),
    f("AttachStderr", Ignore),
    f("ExposedPorts", Ignore),
    f("Tty", Ignore),
    f("OpenStdin", Ignore),
    f("StdinOnce", Ignore),
    f("Env", STRS),
    f("Cmd", StrSlice),
    f("Healthcheck", Ignore),
    f("ArgsEscaped", Ignore),
    f("Image", STR),
    f("Volumes", Ignore),
    f("WorkingDir", STR),
    f("Entrypoint", StrSlice),
    f("NetworkDisabled", Ignore),
    f("MacAddress", Ignore),
    f("OnBuild", Ignore),
    f("Labels", Map(&STR)),
    f("StopSignal", Ignore),
    f("StopTimeout", Ignore),
    f("Shell", Ignore),
];

static PORT_BINDING: [Field; 2] = [f("HostIp", STR), f("HostPort", STR)];
static DEVICE: [Field; 3] = [
    f("PathOnHost", STR),
    f("PathInContainer", STR),
    f("CgroupPermissions", STR),
];
static BIND_OPTIONS: [Field; 2] = [f("Propagation", STR), f("NonRecursive", Bool)];
static DRIVER: [Field; 2] = [f("Name", STR), f("Options", Map(&STR))];
static VOLUME_OPTIONS: [Field; 3] = [
    f("NoCopy", Ignore),
    f("Labels", Ignore),
    f("DriverConfig", Ptr(&Struct(&DRIVER))),
];
/// `mount.Mount`.
pub static MOUNT: [Field; 8] = [
    f("Type", STR),
    f("Source", STR),
    f("Target", STR),
    f("ReadOnly", Bool),
    f("Consistency", Ignore),
    f("BindOptions", Ptr(&Struct(&BIND_OPTIONS))),
    f("VolumeOptions", Ptr(&Struct(&VOLUME_OPTIONS))),
    f("TmpfsOptions", Ignore),
];

/// `container.HostConfig` with its embedded `Resources` in place (API 1.41).
static HOST_CONFIG: [Field; 75] = [
    f("Binds", STRS),
    f("ContainerIDFile", Ignore),
    f("LogConfig", Ignore),
    f("NetworkMode", STR),
    f("PortBindings", Map(&Slice(&Struct(&PORT_BINDING)))),
    f("RestartPolicy", Ignore),
    f("AutoRemove", Ignore),
    f("VolumeDriver", STR),
    f("VolumesFrom", STRS),
    f("CapAdd", StrSlice),
    f("CapDrop", StrSlice),
    f("CgroupnsMode", STR),
    f("Dns", Ignore),
    f("DnsOptions", Ignore),
    f("DnsSearch", Ignore),
    f("ExtraHosts", Ignore),
    f("GroupAdd", STRS),
    f("IpcMode", STR),
    f("Cgroup", STR),
    f("Links", Ignore),
    f("OomScoreAdj", Ignore),
    f("PidMode", STR),
    f("Privileged", Bool),
    f("PublishAllPorts", Bool),
    f("ReadonlyRootfs", Bool),
    f("SecurityOpt", STRS),
    f("StorageOpt", Ignore),
    f("Tmpfs", Ignore),
    f("UTSMode", STR),
    f("UsernsMode", STR),
    f("ShmSize", Ignore),
    f("Sysctls", Map(&STR)),
    f("Runtime", STR),
    f("ConsoleSize", Ignore),
    f("Isolation", Ignore),
    // Resources (embedded).
    f("CpuShares", Ignore),
    f("Memory", Ignore),
    f("NanoCpus", Ignore),
    f("CgroupParent", STR),
    f("BlkioWeight", Ignore),
    f("BlkioWeightDevice", Ignore),
    f("BlkioDeviceReadBps", Ignore),
    f("BlkioDeviceWriteBps", Ignore),
    f("BlkioDeviceReadIOps", Ignore),
    f("BlkioDeviceWriteIOps", Ignore),
    f("CpuPeriod", Ignore),
    f("CpuQuota", Ignore),
    f("CpuRealtimePeriod", Ignore),
    f("CpuRealtimeRuntime", Ignore),
    f("CpusetCpus", Ignore),
    f("CpusetMems", Ignore),
    f("Devices", Slice(&Struct(&DEVICE))),
    f("DeviceCgroupRules", STRS),
    f("DeviceRequests", Ignore),
    f("KernelMemory", Ignore),
    f("KernelMemoryTCP", Ignore),
    f("MemoryReservation", Ignore),
    f("MemorySwap", Ignore),
    f("MemorySwappiness", Ignore),
    f("OomKillDisable", Ignore),
    f("PidsLimit", Ignore),
    f("Ulimits", Ignore),
    f("CpuCount", Ignore),
    f("CpuPercent", Ignore),
    f("IOMaximumIOps", Ignore),
    f("IOMaximumBandwidth", Ignore),
    // Back in HostConfig.
    f("Mounts", Slice(&Struct(&MOUNT))),
    f("MaskedPaths", STRS),
    f("ReadonlyPaths", STRS),
    f("Init", Ignore),
    // Later API versions (kept so that their keys are known, not mistaken).
    f("Annotations", Ignore),
    f("CpusetCpusDeprecated", Ignore),
    f("BlkioDeviceWriteIops", Ignore),
    f("BlkioDeviceReadIops", Ignore),
    f("MemorySwapDeprecated", Ignore),
];

/// `HostConfig` as a type, for the other bodies that carry one.
pub const HOST_CONFIG_TY: Ty = Struct(&HOST_CONFIG);

/// moby's `runconfig.ContainerConfigWrapper` (the body of `POST /containers/create`):
/// `*container.Config` embedded, then `HostConfig` (the "inner" one), `Cpuset`,
/// `NetworkingConfig`, then `*container.HostConfig` embedded again — its fields readable
/// at the top level for pre-1.24 clients.
static WRAPPER: LazyLock<Vec<Field>> = LazyLock::new(|| {
    let mut fields: Vec<Field> = CONFIG.to_vec();
    fields.push(f("HostConfig", Ptr(&HOST_CONFIG_TY)));
    fields.push(f("Cpuset", Ignore));
    fields.push(f("NetworkingConfig", Ignore));
    fields.extend_from_slice(&HOST_CONFIG);
    fields
});

/// The body of `POST /containers/create` as the engine will use it: the config fields
/// at the top level and `HostConfig` the one `getHostConfig` returns — the inner
/// `HostConfig` when given (top-level host fields are then ignored), else the top-level
/// fields (engines before 25.0; later ones ignore them, so reading them only adds
/// findings). A top-level `Config` is not part of this body and is ignored, as dockerd
/// ignores it.
pub fn create_request(bytes: &[u8]) -> Result<Value, DecodeError> {
    let raw = parse(bytes)?;
    create_request_raw(&raw)
}

/// [`create_request`] from an already parsed body.
pub fn create_request_raw(raw: &Raw) -> Result<Value, DecodeError> {
    let Raw::Object(members) = raw else {
        return Err(DecodeError {
            path: String::new(),
            message: format!("a create body is an object, not {}", kind(raw)),
        });
    };
    let fields = &*WRAPPER;
    let mut slot = Go::Zero;
    go_json::decode_struct(&mut slot, members, fields, "")?;
    let Go::Struct(slots) = slot else {
        return Ok(Value::Object(serde_json::Map::new()));
    };
    let n_config = CONFIG.len();
    let inner_at = n_config;
    let top_at = n_config + 3;
    let mut out = go_json::struct_value(&fields[..n_config], &slots[..n_config]);
    let top_set = slots[top_at..].iter().any(|g| !matches!(g, Go::Zero));
    let host = match &slots[inner_at] {
        Go::Zero if top_set => Some(go_json::struct_value(&HOST_CONFIG, &slots[top_at..])),
        Go::Zero => None,
        inner => Some(inner.to_value(&HOST_CONFIG_TY)),
    };
    if let (Some(h), Value::Object(m)) = (host, &mut out) {
        m.insert("HostConfig".into(), h);
    }
    Ok(out)
}

/// `types.ExecConfig`: the body of `POST /containers/{id}/exec`.
static EXEC_CONFIG: [Field; 11] = [
    f("User", STR),
    f("Privileged", Bool),
    f("Tty", Ignore),
    f("AttachStdin", Ignore),
    f("AttachStderr", Ignore),
    f("AttachStdout", Ignore),
    f("Detach", Ignore),
    f("DetachKeys", Ignore),
    f("Env", STRS),
    f("WorkingDir", STR),
    f("Cmd", STRS),
];

pub fn exec_config(bytes: &[u8]) -> Result<Value, DecodeError> {
    go_json::decode(bytes, &Struct(&EXEC_CONFIG))
}

static SELINUX: [Field; 5] = [
    f("Disable", Bool),
    f("User", STR),
    f("Role", STR),
    f("Type", STR),
    f("Level", STR),
];
static SECCOMP: [Field; 2] = [f("Mode", STR), f("Profile", Ignore)];
static APPARMOR: [Field; 1] = [f("Mode", STR)];
static PRIVILEGES: [Field; 5] = [
    f("CredentialSpec", Ignore),
    f("SELinuxContext", Ptr(&Struct(&SELINUX))),
    f("Seccomp", Ptr(&Struct(&SECCOMP))),
    f("AppArmor", Ptr(&Struct(&APPARMOR))),
    f("NoNewPrivileges", Bool),
];
/// `swarm.ContainerSpec`.
static CONTAINER_SPEC: [Field; 30] = [
    f("Image", STR),
    f("Labels", Map(&STR)),
    f("Command", STRS),
    f("Args", STRS),
    f("Hostname", STR),
    f("Env", STRS),
    f("Dir", STR),
    f("User", STR),
    f("Groups", STRS),
    f("Privileges", Ptr(&Struct(&PRIVILEGES))),
    f("Init", Ignore),
    f("StopSignal", Ignore),
    f("TTY", Ignore),
    f("OpenStdin", Ignore),
    f("ReadOnly", Bool),
    f("Mounts", Slice(&Struct(&MOUNT))),
    f("StopGracePeriod", Ignore),
    f("Healthcheck", Ignore),
    f("Hosts", Ignore),
    f("DNSConfig", Ignore),
    f("Secrets", Ignore),
    f("Configs", Ignore),
    f("Isolation", Ignore),
    f("Sysctls", Map(&STR)),
    f("CapabilityAdd", STRS),
    f("CapabilityDrop", STRS),
    f("Ulimits", Ignore),
    f("OomScoreAdj", Ignore),
    f("PidsLimit", Ignore),
    f("Annotations", Ignore),
];
/// `types.PluginPrivilege` (also swarm's `runtime.PluginPrivilege`, tagged in lower case:
/// the same fields to a case-insensitive match).
static PLUGIN_PRIVILEGE: [Field; 3] = [f("Name", STR), f("Description", Ignore), f("Value", STRS)];
pub const PLUGIN_PRIVILEGES_TY: Ty = Slice(&Struct(&PLUGIN_PRIVILEGE));
static PLUGIN_SPEC: [Field; 5] = [
    f("Name", STR),
    f("Remote", STR),
    f("Privileges", Slice(&Ptr(&Struct(&PLUGIN_PRIVILEGE)))),
    f("Disabled", Ignore),
    f("Env", Ignore),
];
static NETWORK_ATTACHMENT: [Field; 3] = [
    f("Target", STR),
    f("Aliases", Ignore),
    f("DriverOpts", Ignore),
];
static TASK_SPEC: [Field; 10] = [
    f("ContainerSpec", Ptr(&Struct(&CONTAINER_SPEC))),
    f("PluginSpec", Ptr(&Struct(&PLUGIN_SPEC))),
    f("NetworkAttachmentSpec", Ignore),
    f("Resources", Ignore),
    f("RestartPolicy", Ignore),
    f("Placement", Ignore),
    f("Networks", Slice(&Struct(&NETWORK_ATTACHMENT))),
    f("LogDriver", Ignore),
    f("ForceUpdate", Ignore),
    f("Runtime", Ignore),
];
static EMPTY: [Field; 0] = [];
static SERVICE_MODE: [Field; 4] = [
    f("Replicated", Ignore),
    f("Global", Ptr(&Struct(&EMPTY))),
    f("ReplicatedJob", Ignore),
    f("GlobalJob", Ptr(&Struct(&EMPTY))),
];
/// `swarm.ServiceSpec` (`Annotations` embedded first).
static SERVICE_SPEC: [Field; 8] = [
    f("Name", STR),
    f("Labels", Map(&STR)),
    f("TaskTemplate", Struct(&TASK_SPEC)),
    f("Mode", Struct(&SERVICE_MODE)),
    f("UpdateConfig", Ignore),
    f("RollbackConfig", Ignore),
    f("Networks", Slice(&Struct(&NETWORK_ATTACHMENT))),
    f("EndpointSpec", Ignore),
];

/// The body of `POST /services/create` and `POST /services/{id}/update`.
pub fn service_spec(bytes: &[u8]) -> Result<Value, DecodeError> {
    go_json::decode(bytes, &Struct(&SERVICE_SPEC))
}

/// `volume.CreateOptions` (`VolumeCreateBody` before API 1.42).
static VOLUME_CREATE: [Field; 5] = [
    f("ClusterVolumeSpec", Ignore),
    f("Driver", STR),
    f("DriverOpts", Map(&STR)),
    f("Labels", Map(&STR)),
    f("Name", STR),
];

/// The body of `POST /volumes/create`.
pub fn volume_create(bytes: &[u8]) -> Result<Value, DecodeError> {
    go_json::decode(bytes, &Struct(&VOLUME_CREATE))
}

/// The body of `POST /plugins/pull` and `/plugins/{name}/upgrade`: the granted privileges.
pub fn plugin_privileges(bytes: &[u8]) -> Result<Value, DecodeError> {
    go_json::decode(bytes, &PLUGIN_PRIVILEGES_TY)
}

/// The body of `POST /plugins/{name}/set`: `["key=value", …]`.
pub fn plugin_settings(bytes: &[u8]) -> Result<Value, DecodeError> {
    go_json::decode(bytes, &STRS)
}

/// `HostConfig.Ulimits`-style integers are ignored; `Int` is kept for callers that need
/// a number (none of the judged fields today).
pub const INT: Ty = Int;

fn parse(bytes: &[u8]) -> Result<Raw, DecodeError> {
    Raw::parse_first(bytes).map_err(|e| DecodeError {
        path: String::new(),
        message: format!("not JSON: {e}"),
    })
}

fn kind(raw: &Raw) -> &'static str {
    match raw {
        Raw::Null => "null",
        Raw::Bool(_) => "a bool",
        Raw::Number(_) => "a number",
        Raw::String(_) => "a string",
        Raw::Array(_) => "an array",
        Raw::Object(_) => "an object",
    }
}

/// The local volume driver's options that make a named volume a host bind (`type=none`,
/// `o=bind`, `device=/path`) or a host block device (`device=/dev/…` with a filesystem
/// type): the host path reached, if any. `driver` empty is the default, `local`.
pub fn local_volume_host_path(
    driver: &str,
    opts: &serde_json::Map<String, Value>,
) -> Option<String> {
    if !(driver.is_empty() || driver == "local") {
        return None;
    }
    let get = |k: &str| {
        opts.iter()
            .find(|(key, _)| key.as_str() == k)
            .and_then(|(_, v)| v.as_str())
    };
    let device = get("device")?;
    if !device.starts_with('/') {
        return None;
    }
    let bind = get("o").is_some_and(|o| o.split(',').any(|p| p == "bind" || p == "rbind"));
    (bind || device.starts_with("/dev/")).then(|| device.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_bodies_read_as_dockerd_reads_them() {
        // Case variants.
        let v = create_request(
            br#"{"image":"alpine","hostconfig":{"privileged":true,"binds":["/:/host"]}}"#,
        );
        assert_eq!(
            v.ok(),
            Some(json!({"Image":"alpine","HostConfig":{"Privileged":true,"Binds":["/:/host"]}}))
        );
        // A repeated HostConfig merges.
        let v = create_request(
            br#"{"Image":"a","HostConfig":{"Privileged":true},"HostConfig":{"Binds":["/:/h"]}}"#,
        );
        assert_eq!(
            v.ok().and_then(|v| v.get("HostConfig").cloned()),
            Some(json!({"Privileged":true,"Binds":["/:/h"]}))
        );
        // A top-level Config is inspect's shape, ignored by the engine.
        let v = create_request(br#"{"Image":"a","Config":{"Image":"b","Cmd":["x"]}}"#);
        assert_eq!(v.ok(), Some(json!({"Image":"a"})));
        // Top-level host fields count when there is no HostConfig …
        let v = create_request(br#"{"Image":"a","Privileged":true}"#);
        assert_eq!(
            v.ok(),
            Some(json!({"Image":"a","HostConfig":{"Privileged":true}}))
        );
        // … and not when there is one.
        let v = create_request(br#"{"Image":"a","Privileged":true,"HostConfig":{}}"#);
        assert_eq!(v.ok(), Some(json!({"Image":"a","HostConfig":{}})));
        // StrSlice takes a string.
        let v = create_request(br#"{"Image":"a","HostConfig":{"CapAdd":"SYS_ADMIN"}}"#);
        assert_eq!(
            v.ok(),
            Some(json!({"Image":"a","HostConfig":{"CapAdd":["SYS_ADMIN"]}}))
        );
    }

    #[test]
    fn local_volumes_that_bind_the_host() {
        let opts = json!({"type":"none","o":"bind","device":"/"});
        assert_eq!(
            local_volume_host_path("local", opts.as_object().expect("map")),
            Some("/".into())
        );
        let opts = json!({"type":"nfs","o":"addr=10.0.0.1","device":":/export"});
        assert_eq!(
            local_volume_host_path("", opts.as_object().expect("map")),
            None
        );
        let opts = json!({"type":"ext4","device":"/dev/sda1"});
        assert_eq!(
            local_volume_host_path("", opts.as_object().expect("map")),
            Some("/dev/sda1".into())
        );
    }
}
