//! The normalised model every Portcullis source produces and every rule reads:
//! **who** deployed **what**, **where**, with **which powers**.
//!
//! A [`Deployment`] is one observed or proposed deployment: a manifest document, an audit
//! event, a Docker create request, a command line. It carries the actor, the origin of the
//! record, the operation and its outcome, the target object and, when the record holds one,
//! the [`PodSpec`] with every container (regular, init and ephemeral) fully resolved.
//!
//! This crate does no IO and knows no input format.

pub mod hostpath;
pub mod image;
pub mod shell;
pub mod time;
pub mod workload;

pub use image::ImageRef;
use serde::Serialize;

/// One deployment as observed by a source.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Deployment {
    pub origin: Origin,
    /// RFC 3339 time of the record, when the source has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    pub actor: Actor,
    pub operation: Operation,
    pub outcome: Outcome,
    pub target: Target,
    /// The pod the target runs, when the record carries a spec (a Metadata-level audit
    /// event or a `docker start` does not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodSpec>,
    /// The process that issued the deployment, for process-creation sources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessInfo>,
    /// For a pod a controller created: the workload it was made for, and who made that.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_for: Option<WorkloadLink>,
    /// The API endpoint a client talked to (`tcp://10.0.0.5:2375`), when not the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// For an exec: what the exec itself is granted (Docker's `ExecConfig`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecSpec>,
    /// The pod spec this change replaces, when the source knows it: an admission
    /// request's `oldObject`, or the last version of the workload earlier in the log.
    #[serde(skip)]
    pub previous: Option<Box<PodSpec>>,
    /// How this deployment compares with what is expected where it lands (a baseline or
    /// an inventory); `None` when no baseline was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectation: Option<Expectation>,
}

/// What a baseline says of one deployment: each field is a fact rules can test
/// (`baseline.*`). Lists name what was not seen before, so alerts can say it.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Expectation {
    /// The baseline's scope the deployment falls in (`k8s/payments`, `docker/shop`).
    pub scope: String,
    /// The scope itself was never seen (a new namespace, an unknown Docker host).
    pub scope_unknown: bool,
    /// The deployer was seen deploying in this scope before.
    pub deployer_known: bool,
    /// Image repositories this workload (or, for a new workload, this scope) never ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_images: Vec<String>,
    /// `repo:tag` whose digest differs from the one learnt for the same tag.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub digest_changed: Vec<String>,
    /// Powers the workload never had in its baseline (`privileged`, `hostPath:/`, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_privileges: Vec<String>,
    /// A CronJob schedule its baseline never had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_schedule: Option<String>,
    /// Node pins and control-plane targets the scope never used.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_node_targets: Vec<String>,
    /// The deploy happened in an hour of the week when this scope never deploys
    /// (`None`: too few deploys learnt, or no time on the record).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub off_schedule: Option<bool>,
    /// Deploys into the scope in this clock hour, when that is a burst against the
    /// cadence learnt (more than three times its busiest hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
    /// How many of the facts above are unexpected.
    pub unexpected: u32,
}

impl Expectation {
    /// How many facts are unexpected: the one count `unexpected` holds, recomputed
    /// whenever a fact is set.
    pub fn count(&self) -> u32 {
        u32::from(self.scope_unknown)
            + u32::from(!self.deployer_known)
            + u32::from(!self.new_images.is_empty())
            + u32::from(!self.digest_changed.is_empty())
            + u32::from(!self.new_privileges.is_empty())
            + u32::from(!self.new_node_targets.is_empty())
            + u32::from(self.new_schedule.is_some())
            + u32::from(self.burst.is_some())
            + u32::from(self.off_schedule == Some(true))
    }
}

/// An exec's own powers: `docker exec --privileged` gives the exec process every
/// capability and device of the node, whatever the container was started with.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct ExecSpec {
    pub privileged: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A process-creation record: what ran, as what, from what.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executable: Option<String>,
    pub command_line: String,
    pub argv: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_executable: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_command_line: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The tool that really runs after unwrapping sudo/env/sh -c (`docker`, `kubectl`).
    pub tool: String,
}

/// The workload a controller-created pod belongs to.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct WorkloadLink {
    pub kind: String,
    pub name: String,
    /// Who created the workload, when it was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

/// Where a record came from, precise enough to open the file at the line.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Origin {
    /// Source kind: `manifest`, `compose`, `k8s_audit`, `docker_events`, …
    pub kind: String,
    /// File path, `-` for stdin, or an endpoint name for live sources.
    pub file: String,
    /// 1-based line where the record (document, JSON line) starts.
    pub line: usize,
    /// 0-based document index inside a multi-document file.
    pub document: usize,
    /// The record's native id: `auditID`, ECS `event.id`, `EventRecordID`, audit serial.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
}

/// The principal behind a deployment. Empty for a manifest at rest.
#[derive(Debug, Clone, Serialize, serde::Deserialize, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Actor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `namespace:name` when the user is a Kubernetes service account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The authenticated user when `user` was impersonated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impersonator: Option<String>,
}

impl Actor {
    /// A Kubernetes user as the API server names it: `system:serviceaccount:NS:NAME` is
    /// also the service account `NS:NAME`.
    pub fn from_user(user: Option<String>, groups: Vec<String>) -> Actor {
        Actor {
            service_account: user
                .as_deref()
                .and_then(|u| u.strip_prefix("system:serviceaccount:"))
                .map(str::to_string),
            user,
            groups,
            ..Actor::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Actor::default()
    }
}

#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// A manifest or compose file: what would be deployed if applied.
    #[default]
    Declare,
    Create,
    Update,
    Patch,
    Exec,
    Attach,
    EphemeralContainer,
    Start,
}

impl Operation {
    /// The name rules and alerts use (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Declare => "declare",
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Patch => "patch",
            Operation::Exec => "exec",
            Operation::Attach => "attach",
            Operation::EphemeralContainer => "ephemeral_container",
            Operation::Start => "start",
        }
    }
}

/// What became of the request. Telling these apart is the difference between an attempt,
/// an intrusion and a blocked intrusion.
#[derive(Debug, Clone, Copy, Serialize, serde::Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    #[default]
    Unknown,
    /// Requested; result not (yet) known, or declared in a file.
    Attempted,
    Created,
    Denied,
}

impl Outcome {
    /// The name rules and alerts use (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Unknown => "unknown",
            Outcome::Attempted => "attempted",
            Outcome::Created => "created",
            Outcome::Denied => "denied",
        }
    }
}

/// The object being deployed.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Target {
    pub kind: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<(String, String)>,
    /// A CronJob's schedule (`spec.schedule`), as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// What an exec or attach into the target runs, when the record says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<Exec>,
}

/// An exec or attach request: the command (argv joined by spaces; rules read it as
/// `exec.command`) and the container it enters. A field of the model, not an annotation,
/// so nothing a workload's author writes can pose as one.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Exec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

impl Target {
    /// Record the command an exec or attach runs.
    pub fn set_exec_command(&mut self, command: String) {
        self.exec.get_or_insert_with(Exec::default).command = Some(command);
    }

    /// Record the container an exec or attach enters.
    pub fn set_exec_container(&mut self, container: String) {
        self.exec.get_or_insert_with(Exec::default).container = Some(container);
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
    pub controller: bool,
}

/// A pod specification, wherever it was found (a Pod, a workload template, a CRD, a
/// compose service, a Docker create body).
#[derive(Debug, Clone, Serialize, Default)]
pub struct PodSpec {
    /// Where the spec sits in the source document (`spec.template.spec`).
    pub path: String,
    pub host_network: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    /// `hostUsers` as written; Docker `--userns=host` maps to `Some(true)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_users: Option<bool>,
    pub share_process_namespace: bool,
    /// Docker `CgroupnsMode: host`: the node's cgroup namespace.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub host_cgroupns: bool,
    /// Namespaces joined from another container (`PidMode: container:web` →
    /// `pid=container:web`). When the joined container is known to run in a host
    /// namespace, that host flag is set as well.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub joined_namespaces: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_selector: Vec<(String, String)>,
    /// Required and preferred node-affinity match expressions, flattened.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_affinity: Vec<LabelRequirement>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_class: Option<String>,
    pub security_context: PodSecurityContext,
    /// The pod's own annotations (a workload template's, not the workload's): legacy
    /// seccomp and AppArmor settings live here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<(String, String)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    pub containers: Vec<Container>,
}

impl PodSpec {
    pub fn volume(&self, name: &str) -> Option<&Volume> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// The powers the pod uses, as comparable tokens: `privileged`, `hostNetwork`,
    /// `hostPID`, `hostIPC`, `hostCgroupns`, `allowPrivilegeEscalation`, `cap:NET_ADMIN`,
    /// `hostPath:/var/log`, `device:/dev/sda`. One list for baselines and for changes.
    pub fn powers(&self) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for (on, name) in [
            (self.host_network, "hostNetwork"),
            (self.host_pid, "hostPID"),
            (self.host_ipc, "hostIPC"),
            (self.host_cgroupns, "hostCgroupns"),
        ] {
            if on {
                out.insert(name.to_string());
            }
        }
        for c in &self.containers {
            let sc = &c.security_context;
            if sc.privileged == Some(true) {
                out.insert("privileged".into());
            }
            if sc.allow_privilege_escalation == Some(true) {
                out.insert("allowPrivilegeEscalation".into());
            }
            for cap in &sc.cap_add {
                out.insert(format!("cap:{}", normalize_capability(cap)));
            }
            for m in &c.mounts {
                if let Some(h) = &m.host_path {
                    out.insert(format!("hostPath:{}", h.path));
                }
            }
            for dev in &c.devices {
                out.insert(format!("device:{dev}"));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct LabelRequirement {
    pub key: String,
    pub operator: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Toleration {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `Equal` (the default) or `Exists`.
    pub operator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
}

/// Security settings shared by pod and container level. Every field is `None` when unset,
/// because "unset" and "set to the default" mean different things to Pod Security.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// `seccompProfile.type` (`RuntimeDefault`, `Localhost`, `Unconfined`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<String>,
    /// `appArmorProfile.type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apparmor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux: Option<SeLinux>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows_host_process: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct SeLinux {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// Docker `label=disable`: no SELinux confinement at all.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct PodSecurityContext {
    #[serde(flatten)]
    pub options: SecurityOptions,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sysctls: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    /// The volume source key (`hostPath`, `emptyDir`, `configMap`, `bind`, …).
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPath>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct HostPath {
    /// Cleaned path (see [`hostpath::clean`]).
    pub path: String,
    /// As written, when cleaning changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<String>,
    /// `hostPath.type` (`Directory`, `Socket`, `CharDevice`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#type: Option<String>,
}

impl HostPath {
    pub fn new(raw: &str, kind: Option<String>) -> HostPath {
        let path = hostpath::node_path(raw);
        HostPath {
            raw: (path != raw).then(|| raw.to_string()),
            path,
            r#type: kind,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum ContainerKind {
    #[default]
    Container,
    Init,
    Ephemeral,
}

impl ContainerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerKind::Container => "container",
            ContainerKind::Init => "init",
            ContainerKind::Ephemeral => "ephemeral",
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Container {
    pub kind: ContainerKind,
    /// Where the container sits in the source (`spec.template.spec.initContainers[0]`).
    pub path: String,
    pub name: String,
    pub image: ImageRef,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// `lifecycle.postStart.exec.command`, `lifecycle.preStop.exec.command`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<Port>,
    /// Volume mounts resolved to their volume.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Host devices passed through (`docker --device`, compose `devices`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<String>,
    /// Docker `DeviceCgroupRules` (`c 1:3 mr`, `a *:* rwm`): device nodes the container
    /// may create and open (CAP_MKNOD is in Docker's default set).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub device_cgroup_rules: Vec<String>,
    /// `host` fields set in probes or lifecycle handlers, as `(field path, host)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probe_hosts: Vec<(String, String)>,
    pub security_context: ContainerSecurityContext,
}

impl Container {
    /// The argv the container starts with when both are given (entrypoint + cmd).
    pub fn argv(&self) -> impl Iterator<Item = &str> {
        self.command
            .iter()
            .chain(self.args.iter())
            .map(String::as_str)
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct ContainerSecurityContext {
    #[serde(flatten)]
    pub options: SecurityOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_privilege_escalation: Option<bool>,
    /// Capabilities as written (Pod Security compares the exact spelling).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proc_mount: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_root_filesystem: Option<bool>,
}

/// `sys_admin`, `CAP_SYS_ADMIN` and `SYS_ADMIN` are the same capability to the runtime.
pub fn normalize_capability(cap: &str) -> String {
    let up = cap.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_string).unwrap_or(up)
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

impl EnvVar {
    /// Docker's `KEY=VALUE` form (`Config.Env`, Compose list syntax); a bare `KEY` passes
    /// the variable through from the caller's environment, so its value is unknown.
    pub fn from_assignment(e: &str) -> EnvVar {
        match e.split_once('=') {
            Some((k, v)) => EnvVar {
                name: k.into(),
                value: Some(v.into()),
            },
            None => EnvVar {
                name: e.into(),
                value: None,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Port {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_port: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<String>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct Mount {
    /// The volume's name (empty for an anonymous Docker bind).
    pub volume: String,
    pub mount_path: String,
    pub read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub propagation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    /// The host path this mount reaches, with `subPath` applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_path: Option<HostPath>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_spellings_normalise() {
        assert_eq!(normalize_capability("cap_sys_admin"), "SYS_ADMIN");
        assert_eq!(normalize_capability("NET_ADMIN"), "NET_ADMIN");
    }

    #[test]
    fn host_path_keeps_raw_only_when_cleaned() {
        assert_eq!(HostPath::new("/etc", None).raw, None);
        let h = HostPath::new("/etc/../", None);
        assert_eq!(h.path, "/");
        assert_eq!(h.raw.as_deref(), Some("/etc/../"));
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn operation_and_outcome_names_are_their_serde_names() {
        for op in [
            Operation::Declare,
            Operation::Create,
            Operation::Update,
            Operation::Patch,
            Operation::Exec,
            Operation::Attach,
            Operation::EphemeralContainer,
            Operation::Start,
        ] {
            assert_eq!(serde_json::to_value(op).ok(), Some(op.as_str().into()));
        }
        for o in [
            Outcome::Unknown,
            Outcome::Attempted,
            Outcome::Created,
            Outcome::Denied,
        ] {
            assert_eq!(serde_json::to_value(o).ok(), Some(o.as_str().into()));
        }
    }
}
