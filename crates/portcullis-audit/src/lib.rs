//! Posture checks for the mitigations MITRE names for T1610: where is it easy to deploy a
//! container, before an attacker finds out.
//!
//! - [`docker`]: a Docker host's daemon configuration, socket and group (M1035, M1047,
//!   M1018), and [`probe`] for an API that answers without credentials.
//! - [`kubernetes`]: a cluster from `kubectl get -o json` dumps — who can deploy (RBAC after
//!   wildcards and aggregation), admission coverage, API server and kubelet exposure,
//!   network segmentation (M1018, M1035, M1030, M1047).
//!
//! Checks are Rust, not rule-pack conditions: they reason over whole configurations (all
//! bindings, all namespaces) rather than one deployment. Every finding names its check, the
//! mitigation, the evidence (file and field) and the fix, and renders as the common alert.

pub mod docker;
pub mod exec_credential;
pub mod html;
pub mod kubernetes;
pub mod live;
pub mod probe;

use portcullis_output::{Alert, MitigationRef, RuleRef, SourceRef, TargetRef};
use portcullis_rules::{Evidence, Severity};

/// A MITRE ATT&CK mitigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mitigation {
    /// M1035 Limit Access to Resource Over Network.
    M1035,
    /// M1047 Audit.
    M1047,
    /// M1018 User Account Management.
    M1018,
    /// M1030 Network Segmentation.
    M1030,
}

impl Mitigation {
    pub const ALL: [Mitigation; 4] = [
        Mitigation::M1035,
        Mitigation::M1047,
        Mitigation::M1018,
        Mitigation::M1030,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Mitigation::M1035 => "M1035",
            Mitigation::M1047 => "M1047",
            Mitigation::M1018 => "M1018",
            Mitigation::M1030 => "M1030",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mitigation::M1035 => "Limit Access to Resource Over Network",
            Mitigation::M1047 => "Audit (admission control)",
            Mitigation::M1018 => "User Account Management",
            Mitigation::M1030 => "Network Segmentation",
        }
    }
}

/// One posture check.
#[derive(Debug)]
pub struct Check {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub mitigation: Mitigation,
    pub summary: &'static str,
    pub fix: &'static str,
}

macro_rules! checks {
    ($($id:ident $code:literal $name:literal $sev:ident $mit:ident $summary:literal $fix:literal;)*) => {
        $(pub static $id: Check = Check { code: $code, name: $name, severity: Severity::$sev, mitigation: Mitigation::$mit, summary: $summary, fix: $fix };)*
        /// Every check, for `--list` and SARIF.
        pub static CHECKS: &[&Check] = &[$(&$id),*];
    };
}

checks! {
    DKR001 "DKR001" "docker-tcp-without-tls" Critical M1035 "The Docker daemon listens on TCP without TLS client verification." "Remove tcp:// hosts, or set tlsverify with tlscacert/tlscert/tlskey; never expose 2375.";
    DKR002 "DKR002" "docker-tls-without-client-verification" High M1035 "The Docker daemon serves TLS on TCP but does not verify client certificates." "Set \"tlsverify\": true and a tlscacert: TLS alone encrypts an open door.";
    DKR003 "DKR003" "docker-no-authorization-plugin" Medium M1047 "No Docker authorization plugin: every API client may create privileged containers." "Enable an AuthZ plugin (portcullis serve --authz-socket) in daemon.json \"authorization-plugins\", then SIGHUP dockerd.";
    DKR004 "DKR004" "docker-userns-remap-off" Medium M1018 "User-namespace remapping is off: root in a container is root on the host." "Set \"userns-remap\": \"default\" in daemon.json (or run rootless).";
    DKR005 "DKR005" "docker-icc-on" Low M1035 "Inter-container communication on the default bridge is allowed." "Set \"icc\": false and publish what must talk.";
    DKR006 "DKR006" "docker-live-restore-off" Low M1047 "live-restore is off: restarting dockerd (to patch or reconfigure it) stops every container, which discourages doing so." "Set \"live-restore\": true.";
    DKR007 "DKR007" "docker-socket-open" Critical M1018 "The Docker socket is writable by users other than root and the docker group." "chmod 660 the socket, owner root:docker (or root:root).";
    DKR008 "DKR008" "docker-group-members" High M1018 "Members of the docker group are root-equivalent." "Remove non-admin users from the docker group; use rootless Docker or an authorization plugin for others.";
    DKR009 "DKR009" "docker-api-answers-unauthenticated" Critical M1035 "A Docker API endpoint answers /version without credentials." "Bind the daemon to the socket only, or require tlsverify; block 2375/2376 at the firewall.";
    DKR010 "DKR010" "docker-rootless" Info M1018 "The daemon runs rootless: container root is an unprivileged user on the host." "Nothing to fix.";
    DKR011 "DKR011" "docker-config-unreadable" Info M1047 "A Docker configuration input could not be read or parsed." "Pass the file explicitly (--daemon-json, --unit) or run as a user who can read it.";
    RBAC001 "RBAC001" "anonymous-rbac-binding" Critical M1018 "Anonymous or unauthenticated users are granted permissions beyond the public discovery endpoints." "Delete the binding; anonymous access should see only /version and /healthz.";
    RBAC002 "RBAC002" "cluster-admin-binding" High M1018 "A non-system subject is bound to cluster-admin (or an equivalent wildcard role)." "Bind the least role that does the job; keep cluster-admin for break-glass identities.";
    RBAC003 "RBAC003" "service-account-can-deploy" High M1018 "A service account can create pods or workloads cluster-wide: its token deploys anywhere." "Scope it to a namespace with a RoleBinding, or remove create on pods/workloads.";
    RBAC004 "RBAC004" "subject-can-deploy" Medium M1018 "A user or group can create pods or workloads." "Review: deploying should go through a pipeline identity, not people.";
    RBAC005 "RBAC005" "subject-can-exec" Medium M1018 "A subject can exec into or attach to pods, or add ephemeral containers." "Remove pods/exec, pods/attach and pods/ephemeralcontainers where not needed.";
    RBAC006 "RBAC006" "escalation-verbs" High M1018 "A subject holds escalate, bind or impersonate: it can grant itself anything." "Remove escalate/bind/impersonate from non-admin roles.";
    RBAC007 "RBAC007" "ui-service-account-reach" High M1018 "The Kubernetes dashboard's or Kubeflow's service account can deploy workloads." "Give UI service accounts read-only roles; never expose the dashboard.";
    ADM001 "ADM001" "no-admission-coverage" High M1047 "No validating webhook or ValidatingAdmissionPolicy covers pods and workload kinds." "Deploy an admission controller for pods and workloads (portcullis serve, Kyverno, Gatekeeper or a ValidatingAdmissionPolicy).";
    ADM002 "ADM002" "admission-fails-open" Medium M1047 "A webhook that covers pods fails open (failurePolicy: Ignore)." "Set failurePolicy: Fail for the security webhook and run it highly available.";
    ADM003 "ADM003" "namespace-without-pod-security" Medium M1047 "A namespace has no Pod Security enforce label, or enforces privileged." "Label it pod-security.kubernetes.io/enforce=baseline (or restricted).";
    ADM004 "ADM004" "admission-misses-workloads" Medium M1047 "Admission covers pods but not the workload kinds: a bad template is accepted and fails only later, per pod." "Add deployments, daemonsets, statefulsets, replicasets, jobs and cronjobs to the webhook rules.";
    EXP001 "EXP001" "apiserver-anonymous-auth" Medium M1035 "The API server accepts anonymous requests (--anonymous-auth is not false)." "Set --anonymous-auth=false (or restrict anonymous to health endpoints with AuthenticationConfiguration).";
    EXP002 "EXP002" "apiserver-always-allow" Critical M1035 "The API server authorizes everything (--authorization-mode includes AlwaysAllow)." "Use --authorization-mode=Node,RBAC.";
    EXP003 "EXP003" "apiserver-insecure-port" Critical M1035 "The API server serves an unauthenticated insecure port." "Remove --insecure-port / --insecure-bind-address (removed in v1.24).";
    EXP004 "EXP004" "kubelet-anonymous-or-always-allow" Critical M1035 "The kubelet accepts anonymous requests or authorizes everything: anyone on the network runs commands in pods." "authentication.anonymous.enabled: false and authorization.mode: Webhook in the KubeletConfiguration.";
    EXP005 "EXP005" "kubelet-read-only-port" Medium M1035 "The kubelet's read-only port (10255) is open." "Set readOnlyPort: 0.";
    NET001 "NET001" "namespace-without-default-deny" Medium M1030 "A namespace has no default-deny NetworkPolicy: any pod reaches any other, and the API." "Add a NetworkPolicy with podSelector: {} and policyTypes [Ingress, Egress], then allow what is needed.";
}

/// A finding: a check that failed, on what, with which evidence.
#[derive(Debug, Clone)]
pub struct Finding {
    pub check: &'static Check,
    pub message: String,
    /// The file (or endpoint) the evidence came from.
    pub file: String,
    pub line: usize,
    pub target_kind: String,
    pub target_namespace: Option<String>,
    pub target_name: Option<String>,
    pub evidence: Vec<(String, serde_json::Value)>,
}

impl Finding {
    pub fn new(
        check: &'static Check,
        message: impl Into<String>,
        file: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            message: message.into(),
            file: file.into(),
            line: 0,
            target_kind: String::new(),
            target_namespace: None,
            target_name: None,
            evidence: Vec::new(),
        }
    }

    pub fn target(mut self, kind: &str, namespace: Option<&str>, name: Option<&str>) -> Finding {
        self.target_kind = kind.into();
        self.target_namespace = namespace.map(str::to_string);
        self.target_name = name.map(str::to_string);
        self
    }

    pub fn evidence(mut self, field: &str, value: impl Into<serde_json::Value>) -> Finding {
        self.evidence.push((field.into(), value.into()));
        self
    }

    pub fn line(mut self, line: usize) -> Finding {
        self.line = line;
        self
    }

    /// As the alert every command emits.
    pub fn to_alert(&self, source_kind: &str) -> Alert {
        Alert {
            schema: portcullis_output::SCHEMA_VERSION,
            rule: RuleRef {
                id: self.check.code.into(),
                name: self.check.name.into(),
                family: self
                    .check
                    .code
                    .trim_end_matches(|c: char| c.is_ascii_digit())
                    .into(),
            },
            severity: self.check.severity,
            attack: vec!["T1610".into()],
            message: self.message.clone(),
            source: SourceRef {
                kind: source_kind.into(),
                file: self.file.clone(),
                line: self.line,
                document: 0,
                id: None,
            },
            time: None,
            target: TargetRef {
                kind: self.target_kind.clone(),
                api_version: String::new(),
                namespace: self.target_namespace.clone(),
                name: self.target_name.clone(),
            },
            container: None,
            images: Vec::new(),
            actor: None,
            operation: portcullis_model::Operation::Declare,
            outcome: portcullis_model::Outcome::Unknown,
            evidence: self
                .evidence
                .iter()
                .map(|(f, v)| Evidence {
                    field: f.clone(),
                    value: v.clone(),
                    container: None,
                })
                .collect(),
            pss: None,
            mitigation: Some(MitigationRef {
                id: self.check.mitigation.id().into(),
                name: self.check.mitigation.name().into(),
            }),
            fix: Some(self.check.fix.into()),
        }
    }
}

/// Every check as SARIF rule metadata.
pub fn rule_infos() -> Vec<portcullis_output::RuleInfo> {
    CHECKS
        .iter()
        .map(|c| portcullis_output::RuleInfo {
            id: c.code.into(),
            name: c.name.into(),
            summary: c.summary.into(),
            description: c.summary.into(),
            help_text: format!("Fix: {}", c.fix),
            help_markdown: format!(
                "**Mitigation.** {} {}\n\n**Fix.** {}",
                c.mitigation.id(),
                c.mitigation.name(),
                c.fix
            ),
            severity: c.severity,
            tags: vec![
                "external/mitre-attack/T1610".into(),
                format!("mitigation/{}", c.mitigation.id()),
            ],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for c in CHECKS {
            assert!(seen.insert(c.code), "{}", c.code);
        }
    }
}
