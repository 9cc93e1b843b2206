//! Pod Security Standards, versioned like upstream `k8s.io/pod-security-admission`.
//!
//! Each check has the semantics of its upstream implementation for the Kubernetes minor
//! version asked for (`--pss restricted:v1.30`). The rule pack holds one rule per check
//! (family `PSS`) whose condition calls `pss("<checkId>")`; this module decides whether the
//! check applies at the active level and version and returns every violation with the
//! container and field, in upstream's wording so messages read the same as PSA's.

use portcullis_model::{Container, PodSpec, SecurityOptions};
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

/// Every upstream check: its id, level, the minor version it first exists in, and the
/// function that runs it (one file each under `checks/`).
pub struct CheckDef {
    pub id: &'static str,
    pub level: Level,
    pub since: u32,
    run: fn(&Cx<'_>) -> Option<Failure>,
}

pub static CHECKS: &[CheckDef] = &[
    CheckDef {
        id: "windowsHostProcess",
        level: Level::Baseline,
        since: 0,
        run: checks::windows_host_process::check,
    },
    CheckDef {
        id: "hostNamespaces",
        level: Level::Baseline,
        since: 0,
        run: checks::host_namespaces::check,
    },
    CheckDef {
        id: "privileged",
        level: Level::Baseline,
        since: 0,
        run: checks::privileged::check,
    },
    CheckDef {
        id: "capabilities_baseline",
        level: Level::Baseline,
        since: 0,
        run: checks::capabilities_baseline::check,
    },
    CheckDef {
        id: "hostPathVolumes",
        level: Level::Baseline,
        since: 0,
        run: checks::host_path_volumes::check,
    },
    CheckDef {
        id: "hostPorts",
        level: Level::Baseline,
        since: 0,
        run: checks::host_ports::check,
    },
    CheckDef {
        id: "appArmorProfile",
        level: Level::Baseline,
        since: 0,
        run: checks::app_armor_profile::check,
    },
    CheckDef {
        id: "seLinuxOptions",
        level: Level::Baseline,
        since: 0,
        run: checks::se_linux_options::check,
    },
    CheckDef {
        id: "procMount",
        level: Level::Baseline,
        since: 0,
        run: checks::proc_mount::check,
    },
    CheckDef {
        id: "seccompProfile_baseline",
        level: Level::Baseline,
        since: 0,
        run: checks::seccomp_profile_baseline::check,
    },
    CheckDef {
        id: "sysctls",
        level: Level::Baseline,
        since: 0,
        run: checks::sysctls::check,
    },
    CheckDef {
        id: "hostProbesAndHostLifecycle",
        level: Level::Baseline,
        since: 34,
        run: checks::host_probes_and_host_lifecycle::check,
    },
    CheckDef {
        id: "restrictedVolumes",
        level: Level::Restricted,
        since: 0,
        run: checks::restricted_volumes::check,
    },
    CheckDef {
        id: "allowPrivilegeEscalation",
        level: Level::Restricted,
        since: 8,
        run: checks::allow_privilege_escalation::check,
    },
    CheckDef {
        id: "runAsNonRoot",
        level: Level::Restricted,
        since: 0,
        run: checks::run_as_non_root::check,
    },
    CheckDef {
        id: "runAsUser",
        level: Level::Restricted,
        since: 23,
        run: checks::run_as_user::check,
    },
    CheckDef {
        id: "seccompProfile_restricted",
        level: Level::Restricted,
        since: 19,
        run: checks::seccomp_profile_restricted::check,
    },
    CheckDef {
        id: "capabilities_restricted",
        level: Level::Restricted,
        since: 22,
        run: checks::capabilities_restricted::check,
    },
    CheckDef {
        id: "procMount_restricted",
        level: Level::Restricted,
        since: 35,
        run: checks::proc_mount::check,
    },
];

/// The check with this id.
pub fn definition(id: &str) -> Option<&'static CheckDef> {
    CHECKS.iter().find(|c| c.id == id)
}

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

/// Does `check` run under `profile`?
pub fn applies(check: &str, profile: Profile) -> bool {
    let Some(def) = definition(check) else {
        return false;
    };
    if def.level > profile.level || profile.minor < def.since {
        return false;
    }
    if profile.level == Level::Restricted
        && let Some((replacement, from)) = overridden_by(check)
    {
        return profile.minor < from.max(definition(replacement).map_or(0, |r| r.since));
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

/// What every check reads: the pod, the profile, and what the version makes of them.
#[derive(Clone, Copy)]
pub(crate) struct Cx<'a> {
    pub check: &'a str,
    pub pod: &'a PodSpec,
    pub minor: u32,
    pub cs: &'a [Container],
    /// The pod's security context.
    pub psc: &'a SecurityOptions,
    /// A user namespace (`hostUsers: false`, 1.35+) exempts some baseline checks.
    pub user_ns: bool,
    /// Windows pods are exempt from some restricted checks (1.25+).
    pub windows_exempt: bool,
}

mod checks {
    pub(super) mod allow_privilege_escalation;
    pub(super) mod app_armor_profile;
    pub(super) mod capabilities_baseline;
    pub(super) mod capabilities_restricted;
    pub(super) mod host_namespaces;
    pub(super) mod host_path_volumes;
    pub(super) mod host_ports;
    pub(super) mod host_probes_and_host_lifecycle;
    pub(super) mod privileged;
    pub(super) mod proc_mount;
    pub(super) mod restricted_volumes;
    pub(super) mod run_as_non_root;
    pub(super) mod run_as_user;
    pub(super) mod se_linux_options;
    pub(super) mod seccomp_profile_baseline;
    pub(super) mod seccomp_profile_restricted;
    pub(super) mod sysctls;
    pub(super) mod windows_host_process;
}

/// A failure when there are violations.
fn fail(reason: &'static str, detail: String, vs: Vec<Violation>) -> Option<Failure> {
    (!vs.is_empty()).then_some(Failure {
        reason,
        detail,
        violations: vs,
    })
}

/// The containers named in violations, in order, each once in a row.
fn names(vs: &[Violation]) -> Vec<String> {
    let mut n: Vec<String> = vs.iter().filter_map(|v| v.container.clone()).collect();
    n.dedup();
    n
}

/// Run one check. `None` when it passes or does not apply to this profile.
pub fn check(check: &str, pod: &PodSpec, profile: Profile) -> Option<Failure> {
    let def = definition(check)?;
    if !applies(check, profile) {
        return None;
    }
    let minor = profile.minor;
    let cx = Cx {
        check,
        pod,
        minor,
        cs: &pod.containers,
        psc: &pod.security_context.options,
        user_ns: minor >= 35 && pod.host_users == Some(false),
        windows_exempt: minor >= 25 && is_windows(pod),
    };
    (def.run)(&cx)
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
