//! Pod Security Standards, versioned like upstream `k8s.io/pod-security-admission`.
//!
//! Each check has the semantics of its upstream implementation for the Kubernetes minor
//! version asked for (`--pss restricted:v1.30`). The rule pack holds one rule per check
//! (family `PSS`) whose condition calls `pss("<checkId>")`; this module decides whether the
//! check applies at the active level and version and returns every violation with the
//! container and field, in upstream's wording so messages read the same as PSA's.

use portcullis_model::{Container, PodSpec};
use std::fmt;

/// The newest Kubernetes minor whose Pod Security behaviour is implemented here.
pub const LATEST_MINOR: u32 = 37;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Baseline,
    Restricted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub level: Level,
    /// Kubernetes minor version (`1.<minor>`).
    pub minor: u32,
}

impl Profile {
    /// `baseline`, `restricted`, `baseline:v1.30`, `restricted:latest`, `restricted:1.29`.
    pub fn parse(s: &str) -> Result<Profile, String> {
        let (level, version) = s.split_once(':').unwrap_or((s, "latest"));
        let level = match level {
            "baseline" => Level::Baseline,
            "restricted" => Level::Restricted,
            other => {
                return Err(format!(
                    "unknown Pod Security level {other:?} (baseline or restricted)"
                ));
            }
        };
        let minor = if version == "latest" {
            LATEST_MINOR
        } else {
            let v = version.trim_start_matches('v');
            match v.split_once('.') {
                Some(("1", m)) => m.parse().map_err(|_| format!("bad version {version:?}"))?,
                _ => {
                    return Err(format!(
                        "bad version {version:?} (expected v1.<minor> or latest)"
                    ));
                }
            }
        };
        Ok(Profile {
            level,
            minor: minor.min(LATEST_MINOR),
        })
    }

    pub fn version(&self) -> String {
        format!("v1.{}", self.minor)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        };
        write!(f, "{level}:{}", self.version())
    }
}

/// Every upstream check id, with its level.
pub const CHECKS: &[(&str, Level)] = &[
    ("windowsHostProcess", Level::Baseline),
    ("hostNamespaces", Level::Baseline),
    ("privileged", Level::Baseline),
    ("capabilities_baseline", Level::Baseline),
    ("hostPathVolumes", Level::Baseline),
    ("hostPorts", Level::Baseline),
    ("appArmorProfile", Level::Baseline),
    ("seLinuxOptions", Level::Baseline),
    ("procMount", Level::Baseline),
    ("seccompProfile_baseline", Level::Baseline),
    ("sysctls", Level::Baseline),
    ("hostProbesAndHostLifecycle", Level::Baseline),
    ("restrictedVolumes", Level::Restricted),
    ("allowPrivilegeEscalation", Level::Restricted),
    ("runAsNonRoot", Level::Restricted),
    ("runAsUser", Level::Restricted),
    ("seccompProfile_restricted", Level::Restricted),
    ("capabilities_restricted", Level::Restricted),
    ("procMount_restricted", Level::Restricted),
];

/// The restricted check that replaces a baseline one, from the version it does so.
pub fn overridden_by(check: &str) -> Option<(&'static str, u32)> {
    Some(match check {
        "hostPathVolumes" => ("restrictedVolumes", 0),
        "capabilities_baseline" => ("capabilities_restricted", 22),
        "seccompProfile_baseline" => ("seccompProfile_restricted", 19),
        "procMount" => ("procMount_restricted", 35),
        _ => return None,
    })
}

/// The minor version a check first exists in.
fn since(check: &str) -> u32 {
    match check {
        "allowPrivilegeEscalation" => 8,
        "seccompProfile_restricted" => 19,
        "capabilities_restricted" => 22,
        "runAsUser" => 23,
        "hostProbesAndHostLifecycle" => 34,
        "procMount_restricted" => 35,
        _ => 0,
    }
}

/// Does `check` run under `profile`?
pub fn applies(check: &str, profile: Profile) -> bool {
    let Some((_, level)) = CHECKS.iter().find(|(c, _)| *c == check) else {
        return false;
    };
    if *level > profile.level || profile.minor < since(check) {
        return false;
    }
    if profile.level == Level::Restricted
        && let Some((replacement, from)) = overridden_by(check)
    {
        return profile.minor < from.max(since(replacement));
    }
    true
}

/// One failed field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The container, or `None` for a pod-level field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The field path inside the pod spec.
    pub field: String,
    pub value: String,
}

/// The result of a failed check: upstream's reason and detail, and each violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: &'static str,
    pub detail: String,
    pub violations: Vec<Violation>,
}

impl Failure {
    pub fn message(&self) -> String {
        format!("{} ({})", self.reason, self.detail)
    }
}

fn v(
    container: Option<&Container>,
    field: impl Into<String>,
    value: impl Into<String>,
) -> Violation {
    Violation {
        container: container.map(|c| c.name.clone()),
        field: field.into(),
        value: value.into(),
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn containers_phrase(names: &[String]) -> String {
    let noun = if names.len() == 1 {
        "container"
    } else {
        "containers"
    };
    format!("{noun} {}", quoted(names))
}

fn is_windows(pod: &PodSpec) -> bool {
    pod.os.as_deref() == Some("windows")
}

fn annotation<'a>(pod: &'a PodSpec, key: &str) -> Option<&'a str> {
    pod.annotations
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The seccomp profile type that applies to a container: its own field, else the pod's,
/// else the legacy annotations (mapped to field spellings).
pub fn effective_seccomp<'a>(c: &'a Container, pod: &'a PodSpec) -> Option<&'a str> {
    let legacy = |v: &str| match v {
        "unconfined" => "Unconfined",
        "runtime/default" | "docker/default" => "RuntimeDefault",
        _ => "Localhost",
    };
    c.security_context
        .options
        .seccomp
        .as_deref()
        .or(pod.security_context.options.seccomp.as_deref())
        .or_else(|| {
            container_annotation(
                pod,
                "container.seccomp.security.alpha.kubernetes.io/",
                &c.name,
            )
            .or_else(|| annotation(pod, "seccomp.security.alpha.kubernetes.io/pod"))
            .map(legacy)
        })
}

/// The AppArmor profile type that applies to a container.
pub fn effective_apparmor<'a>(c: &'a Container, pod: &'a PodSpec) -> Option<&'a str> {
    c.security_context
        .options
        .apparmor
        .as_deref()
        .or_else(|| {
            container_annotation(
                pod,
                "container.apparmor.security.beta.kubernetes.io/",
                &c.name,
            )
            .map(|v| match v {
                "unconfined" => "Unconfined",
                "runtime/default" => "RuntimeDefault",
                _ => "Localhost",
            })
        })
        .or(pod.security_context.options.apparmor.as_deref())
}

/// A per-container legacy annotation (`<prefix><container name>`), found without building
/// the key: this runs for every container on every review.
fn container_annotation<'a>(pod: &'a PodSpec, prefix: &str, container: &str) -> Option<&'a str> {
    pod.annotations
        .iter()
        .find(|(k, _)| k.strip_prefix(prefix) == Some(container))
        .map(|(_, v)| v.as_str())
}

const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

fn allowed_sysctls(minor: u32) -> Vec<&'static str> {
    let mut s = vec![
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    ];
    if minor >= 27 {
        s.push("net.ipv4.ip_local_reserved_ports");
    }
    if minor >= 29 {
        s.extend([
            "net.ipv4.tcp_keepalive_time",
            "net.ipv4.tcp_fin_timeout",
            "net.ipv4.tcp_keepalive_intvl",
            "net.ipv4.tcp_keepalive_probes",
        ]);
    }
    if minor >= 32 {
        s.extend(["net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]);
    }
    if minor >= 37 {
        s.extend([
            "net.ipv4.tcp_slow_start_after_idle",
            "net.ipv4.tcp_notsent_lowat",
        ]);
    }
    s
}

/// Run one check. `None` when it passes or does not apply to this profile.
pub fn check(check: &str, pod: &PodSpec, profile: Profile) -> Option<Failure> {
    if !applies(check, profile) {
        return None;
    }
    let minor = profile.minor;
    let cs = &pod.containers;
    let psc = &pod.security_context.options;
    let user_ns = minor >= 35 && pod.host_users == Some(false);
    let windows_exempt = minor >= 25 && is_windows(pod);
    let mut vs = Vec::new();
    let fail = |reason: &'static str, detail: String, vs: Vec<Violation>| {
        (!vs.is_empty()).then_some(Failure {
            reason,
            detail,
            violations: vs,
        })
    };
    let names = |vs: &[Violation]| -> Vec<String> {
        let mut n: Vec<String> = vs.iter().filter_map(|v| v.container.clone()).collect();
        n.dedup();
        n
    };
    match check {
        "windowsHostProcess" => {
            if psc.windows_host_process == Some(true) {
                vs.push(v(
                    None,
                    "securityContext.windowsOptions.hostProcess",
                    "true",
                ));
            }
            for c in cs
                .iter()
                .filter(|c| c.security_context.options.windows_host_process == Some(true))
            {
                vs.push(v(
                    Some(c),
                    "securityContext.windowsOptions.hostProcess",
                    "true",
                ));
            }
            let who = if vs.iter().any(|v| v.container.is_none()) {
                "pod and containers"
            } else {
                "containers"
            };
            fail(
                "hostProcess",
                format!("{who} must not set securityContext.windowsOptions.hostProcess=true"),
                vs,
            )
        }
        "hostNamespaces" => {
            for (set, f) in [
                (pod.host_network, "hostNetwork"),
                (pod.host_pid, "hostPID"),
                (pod.host_ipc, "hostIPC"),
            ] {
                if set {
                    vs.push(v(None, f, "true"));
                }
            }
            let detail = vs
                .iter()
                .map(|x| format!("{}=true", x.field))
                .collect::<Vec<_>>()
                .join(", ");
            fail("host namespaces", detail, vs)
        }
        "privileged" => {
            for c in cs
                .iter()
                .filter(|c| c.security_context.privileged == Some(true))
            {
                vs.push(v(Some(c), "securityContext.privileged", "true"));
            }
            let n = names(&vs);
            fail(
                "privileged",
                format!(
                    "{} must not set securityContext.privileged=true",
                    containers_phrase(&n)
                ),
                vs,
            )
        }
        "capabilities_baseline" => {
            for c in cs {
                for cap in &c.security_context.cap_add {
                    if !BASELINE_CAPS.contains(&cap.as_str()) {
                        vs.push(v(Some(c), "securityContext.capabilities.add", cap.clone()));
                    }
                }
            }
            let caps: Vec<String> = vs.iter().map(|x| x.value.clone()).collect();
            let n = names(&vs);
            fail(
                "non-default capabilities",
                format!(
                    "{} must not include {} in securityContext.capabilities.add",
                    containers_phrase(&n),
                    quoted(&caps)
                ),
                vs,
            )
        }
        "hostPathVolumes" => {
            for vol in pod.volumes.iter().filter(|x| x.host_path.is_some()) {
                vs.push(v(
                    None,
                    format!("volumes[{}].hostPath", vol.name),
                    vol.host_path
                        .as_ref()
                        .map(|h| h.path.clone())
                        .unwrap_or_default(),
                ));
            }
            let vols: Vec<String> = pod
                .volumes
                .iter()
                .filter(|x| x.host_path.is_some())
                .map(|x| x.name.clone())
                .collect();
            fail("hostPath volumes", format!("volumes {}", quoted(&vols)), vs)
        }
        "hostPorts" => {
            for c in cs {
                for p in c
                    .ports
                    .iter()
                    .filter_map(|p| p.host_port)
                    .filter(|p| *p != 0)
                {
                    vs.push(v(Some(c), "ports[].hostPort", p.to_string()));
                }
            }
            let ports: Vec<String> = vs.iter().map(|x| x.value.clone()).collect();
            let n = names(&vs);
            fail(
                "hostPort",
                format!(
                    "{} uses hostPorts {}",
                    containers_phrase(&n),
                    ports.join(", ")
                ),
                vs,
            )
        }
        "appArmorProfile" => {
            let ok_type = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
            if let Some(t) = psc.apparmor.as_deref().filter(|t| !ok_type(t)) {
                vs.push(v(None, "securityContext.appArmorProfile.type", t));
            }
            for c in cs {
                if let Some(t) = c
                    .security_context
                    .options
                    .apparmor
                    .as_deref()
                    .filter(|t| !ok_type(t))
                {
                    vs.push(v(Some(c), "securityContext.appArmorProfile.type", t));
                }
            }
            for (k, val) in &pod.annotations {
                if let Some(name) =
                    k.strip_prefix("container.apparmor.security.beta.kubernetes.io/")
                    && !(val.is_empty()
                        || val == "runtime/default"
                        || val.starts_with("localhost/"))
                {
                    vs.push(Violation {
                        container: Some(name.to_string()),
                        field: format!("metadata.annotations[{k}]"),
                        value: val.clone(),
                    });
                }
            }
            let detail = vs
                .iter()
                .map(|x| {
                    format!(
                        "{}={:?}",
                        x.container
                            .as_deref()
                            .map_or(x.field.clone(), |c| format!("{c}: {}", x.field)),
                        x.value
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            fail("forbidden AppArmor profile", detail, vs)
        }
        "seLinuxOptions" => {
            let mut types = vec!["", "container_t", "container_init_t", "container_kvm_t"];
            if minor >= 31 {
                types.push("container_engine_t");
            }
            let mut judge = |c: Option<&Container>, se: &Option<portcullis_model::SeLinux>| {
                let Some(se) = se else { return };
                if let Some(t) = se.r#type.as_deref().filter(|t| !types.contains(t)) {
                    vs.push(v(c, "securityContext.seLinuxOptions.type", t));
                }
                if let Some(u) = &se.user {
                    vs.push(v(c, "securityContext.seLinuxOptions.user", u.clone()));
                }
                if let Some(r) = &se.role {
                    vs.push(v(c, "securityContext.seLinuxOptions.role", r.clone()));
                }
            };
            judge(None, &psc.selinux);
            for c in cs {
                judge(Some(c), &c.security_context.options.selinux);
            }
            let detail = vs
                .iter()
                .map(|x| format!("{}={:?}", x.field, x.value))
                .collect::<Vec<_>>()
                .join(", ");
            fail("seLinuxOptions", detail, vs)
        }
        "procMount" | "procMount_restricted" => {
            if check == "procMount" && user_ns {
                return None;
            }
            for c in cs {
                if let Some(pm) = c
                    .security_context
                    .proc_mount
                    .as_deref()
                    .filter(|p| *p != "Default")
                {
                    vs.push(v(Some(c), "securityContext.procMount", pm));
                }
            }
            let n = names(&vs);
            fail(
                "procMount",
                format!(
                    "{} must not set securityContext.procMount to \"Unmasked\"",
                    containers_phrase(&n)
                ),
                vs,
            )
        }
        "seccompProfile_baseline" => {
            if minor < 19 {
                for (k, val) in &pod.annotations {
                    let legacy = k == "seccomp.security.alpha.kubernetes.io/pod"
                        || k.starts_with("container.seccomp.security.alpha.kubernetes.io/");
                    if legacy
                        && !(val.is_empty()
                            || val == "runtime/default"
                            || val == "docker/default"
                            || val.starts_with("localhost/"))
                    {
                        vs.push(v(None, format!("metadata.annotations[{k}]"), val.clone()));
                    }
                }
            } else {
                if psc.seccomp.as_deref() == Some("Unconfined") {
                    vs.push(v(None, "securityContext.seccompProfile.type", "Unconfined"));
                }
                for c in cs
                    .iter()
                    .filter(|c| c.security_context.options.seccomp.as_deref() == Some("Unconfined"))
                {
                    vs.push(v(
                        Some(c),
                        "securityContext.seccompProfile.type",
                        "Unconfined",
                    ));
                }
            }
            let who = if vs.iter().any(|x| x.container.is_none()) {
                "pod".to_string()
            } else {
                containers_phrase(&names(&vs))
            };
            fail(
                "seccompProfile",
                format!("{who} must not set securityContext.seccompProfile.type to \"Unconfined\""),
                vs,
            )
        }
        "sysctls" => {
            let allowed = allowed_sysctls(minor);
            for (name, _) in &pod.security_context.sysctls {
                if !allowed.contains(&name.as_str()) {
                    vs.push(v(None, "securityContext.sysctls[].name", name.clone()));
                }
            }
            let bad: Vec<String> = vs.iter().map(|x| x.value.clone()).collect();
            fail("forbidden sysctls", bad.join(", "), vs)
        }
        "hostProbesAndHostLifecycle" => {
            for c in cs {
                for (field, host) in &c.probe_hosts {
                    vs.push(v(Some(c), field.clone(), host.clone()));
                }
            }
            let n = names(&vs);
            fail(
                "probe or lifecycle host",
                format!("{} uses probe or lifecycle hosts", containers_phrase(&n)),
                vs,
            )
        }
        "restrictedVolumes" => {
            for vol in &pod.volumes {
                if !vol.source.is_empty() && !RESTRICTED_VOLUMES.contains(&vol.source.as_str()) {
                    vs.push(v(
                        None,
                        format!("volumes[{}]", vol.name),
                        vol.source.clone(),
                    ));
                }
            }
            let detail = vs
                .iter()
                .map(|x| format!("{} uses restricted volume type {:?}", x.field, x.value))
                .collect::<Vec<_>>()
                .join(", ");
            fail("restricted volume types", detail, vs)
        }
        "allowPrivilegeEscalation" => {
            if windows_exempt {
                return None;
            }
            for c in cs
                .iter()
                .filter(|c| c.security_context.allow_privilege_escalation != Some(false))
            {
                let val = c
                    .security_context
                    .allow_privilege_escalation
                    .map_or("unset".to_string(), |b| b.to_string());
                vs.push(v(Some(c), "securityContext.allowPrivilegeEscalation", val));
            }
            let n = names(&vs);
            fail(
                "allowPrivilegeEscalation != false",
                format!(
                    "{} must set securityContext.allowPrivilegeEscalation=false",
                    containers_phrase(&n)
                ),
                vs,
            )
        }
        "runAsNonRoot" => {
            if user_ns {
                return None;
            }
            let pod_true = psc.run_as_non_root == Some(true);
            if psc.run_as_non_root == Some(false) {
                vs.push(v(None, "securityContext.runAsNonRoot", "false"));
            }
            for c in cs {
                match c.security_context.options.run_as_non_root {
                    Some(false) => vs.push(v(Some(c), "securityContext.runAsNonRoot", "false")),
                    None if !pod_true => {
                        vs.push(v(Some(c), "securityContext.runAsNonRoot", "unset"))
                    }
                    _ => {}
                }
            }
            fail(
                "runAsNonRoot != true",
                "pod or containers must set securityContext.runAsNonRoot=true".into(),
                vs,
            )
        }
        "runAsUser" => {
            if user_ns {
                return None;
            }
            if psc.run_as_user == Some(0) {
                vs.push(v(None, "securityContext.runAsUser", "0"));
            }
            for c in cs
                .iter()
                .filter(|c| c.security_context.options.run_as_user == Some(0))
            {
                vs.push(v(Some(c), "securityContext.runAsUser", "0"));
            }
            fail(
                "runAsUser=0",
                "pod and containers must not set runAsUser=0".into(),
                vs,
            )
        }
        "seccompProfile_restricted" => {
            if windows_exempt {
                return None;
            }
            let ok = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
            let pod_ok = psc.seccomp.as_deref().is_some_and(ok);
            if let Some(t) = psc.seccomp.as_deref().filter(|t| !ok(t)) {
                vs.push(v(None, "securityContext.seccompProfile.type", t));
            }
            for c in cs {
                match c.security_context.options.seccomp.as_deref() {
                    Some(t) if !ok(t) => {
                        vs.push(v(Some(c), "securityContext.seccompProfile.type", t))
                    }
                    None if !pod_ok => {
                        vs.push(v(Some(c), "securityContext.seccompProfile.type", "unset"))
                    }
                    _ => {}
                }
            }
            fail("seccompProfile", "pod or containers must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"".into(), vs)
        }
        "capabilities_restricted" => {
            if windows_exempt {
                return None;
            }
            for c in cs {
                if !c.security_context.cap_drop.iter().any(|d| d == "ALL") {
                    vs.push(v(
                        Some(c),
                        "securityContext.capabilities.drop",
                        "missing ALL",
                    ));
                }
                for cap in c
                    .security_context
                    .cap_add
                    .iter()
                    .filter(|a| *a != "NET_BIND_SERVICE")
                {
                    vs.push(v(Some(c), "securityContext.capabilities.add", cap.clone()));
                }
            }
            let n = names(&vs);
            fail(
                "unrestricted capabilities",
                format!(
                    "{} must set securityContext.capabilities.drop=[\"ALL\"] and may only add \"NET_BIND_SERVICE\"",
                    containers_phrase(&n)
                ),
                vs,
            )
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse() {
        assert_eq!(
            Profile::parse("baseline").map(|p| p.minor),
            Ok(LATEST_MINOR)
        );
        assert_eq!(
            Profile::parse("restricted:v1.29").map(|p| (p.level, p.minor)),
            Ok((Level::Restricted, 29))
        );
        assert!(Profile::parse("strict").is_err());
        assert!(Profile::parse("baseline:2.0").is_err());
    }

    #[test]
    fn overrides_follow_versions() {
        let r = |m| Profile {
            level: Level::Restricted,
            minor: m,
        };
        let b = |m| Profile {
            level: Level::Baseline,
            minor: m,
        };
        assert!(!applies("hostPathVolumes", r(30)));
        assert!(applies("hostPathVolumes", b(30)));
        assert!(applies("capabilities_baseline", r(21)));
        assert!(!applies("capabilities_baseline", r(22)));
        assert!(applies("procMount", r(34)));
        assert!(!applies("procMount", r(35)));
        assert!(!applies("runAsNonRoot", b(37)));
        assert!(!applies("hostProbesAndHostLifecycle", b(33)));
    }
}
