//! The Kubernetes kinds that hold a pod, in one table: each kind's plural resource (how
//! audit logs name it), its API group and where its pod template sits. Every reader
//! (manifests, admission, audit logs) and the rules' `workload_kinds` list agree with it;
//! a kind missing here is still found by shape when its body embeds a pod.

/// One kind that holds a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkloadKind {
    pub kind: &'static str,
    /// The plural resource name in API paths and audit `objectRef.resource`.
    pub resource: &'static str,
    /// The API group ("" for core).
    pub group: &'static str,
    /// The path from the object to its pod spec; `None` for custom resources whose pods
    /// are found by shape (their templates sit in several places, or are optional).
    pub pod_path: Option<&'static [&'static str]>,
}

const TEMPLATE: &[&str] = &["spec", "template", "spec"];

pub const WORKLOAD_KINDS: &[WorkloadKind] = &[
    // Pod Security's nine kinds.
    WorkloadKind {
        kind: "Pod",
        resource: "pods",
        group: "",
        pod_path: Some(&["spec"]),
    },
    WorkloadKind {
        kind: "PodTemplate",
        resource: "podtemplates",
        group: "",
        pod_path: Some(&["template", "spec"]),
    },
    WorkloadKind {
        kind: "ReplicationController",
        resource: "replicationcontrollers",
        group: "",
        pod_path: Some(TEMPLATE),
    },
    WorkloadKind {
        kind: "ReplicaSet",
        resource: "replicasets",
        group: "apps",
        pod_path: Some(TEMPLATE),
    },
    WorkloadKind {
        kind: "Deployment",
        resource: "deployments",
        group: "apps",
        pod_path: Some(TEMPLATE),
    },
    WorkloadKind {
        kind: "StatefulSet",
        resource: "statefulsets",
        group: "apps",
        pod_path: Some(TEMPLATE),
    },
    WorkloadKind {
        kind: "DaemonSet",
        resource: "daemonsets",
        group: "apps",
        pod_path: Some(TEMPLATE),
    },
    WorkloadKind {
        kind: "Job",
        resource: "jobs",
        group: "batch",
        pod_path: Some(TEMPLATE),
    },
    WorkloadKind {
        kind: "CronJob",
        resource: "cronjobs",
        group: "batch",
        pod_path: Some(&["spec", "jobTemplate", "spec", "template", "spec"]),
    },
    // Outside Kubernetes proper, with a mandatory template read by its path, so that a
    // template without `containers` (a peer's fixture, a patch) still has its pod-level
    // settings judged: OpenShift's DeploymentConfig, OpenKruise's CloneSet.
    WorkloadKind {
        kind: "DeploymentConfig",
        resource: "deploymentconfigs",
        group: "apps.openshift.io",
        pod_path: Some(TEMPLATE),
    },
    WorkloadKind {
        kind: "CloneSet",
        resource: "clonesets",
        group: "apps.kruise.io",
        pod_path: Some(TEMPLATE),
    },
    // Custom resources known to embed pod templates, judged even at Metadata level (an
    // Argo Rollout may use `workloadRef` instead of a template: found by shape).
    WorkloadKind {
        kind: "Notebook",
        resource: "notebooks",
        group: "kubeflow.org",
        pod_path: None,
    },
    WorkloadKind {
        kind: "Workflow",
        resource: "workflows",
        group: "argoproj.io",
        pod_path: None,
    },
    WorkloadKind {
        kind: "CronWorkflow",
        resource: "cronworkflows",
        group: "argoproj.io",
        pod_path: None,
    },
    WorkloadKind {
        kind: "WorkflowTemplate",
        resource: "workflowtemplates",
        group: "argoproj.io",
        pod_path: None,
    },
    WorkloadKind {
        kind: "Task",
        resource: "tasks",
        group: "tekton.dev",
        pod_path: None,
    },
    WorkloadKind {
        kind: "TaskRun",
        resource: "taskruns",
        group: "tekton.dev",
        pod_path: None,
    },
    WorkloadKind {
        kind: "PipelineRun",
        resource: "pipelineruns",
        group: "tekton.dev",
        pod_path: None,
    },
    WorkloadKind {
        kind: "Rollout",
        resource: "rollouts",
        group: "argoproj.io",
        pod_path: None,
    },
    WorkloadKind {
        kind: "ScaledJob",
        resource: "scaledjobs",
        group: "keda.sh",
        pod_path: None,
    },
];

/// The workload kind an object's `kind` names.
pub fn by_kind(kind: &str) -> Option<&'static WorkloadKind> {
    WORKLOAD_KINDS.iter().find(|w| w.kind == kind)
}

/// The workload kind a resource name (audit `objectRef.resource`) names. Matched on the
/// plural alone: audit events of custom resources do not always carry the group.
pub fn by_resource(resource: &str) -> Option<&'static WorkloadKind> {
    WORKLOAD_KINDS.iter().find(|w| w.resource == resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_resources_are_unique() {
        for (i, a) in WORKLOAD_KINDS.iter().enumerate() {
            for b in &WORKLOAD_KINDS[i + 1..] {
                assert_ne!(a.kind, b.kind);
                assert_ne!(a.resource, b.resource);
            }
        }
        assert_eq!(
            by_resource("cronjobs")
                .and_then(|w| w.pod_path)
                .map(<[_]>::len),
            Some(5)
        );
    }
}
