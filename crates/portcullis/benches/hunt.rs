//! `cargo bench -p portcullis --bench hunt -- --mb 1024 --assert`
//!
//! Writes a realistic Kubernetes audit log and a process (ECS) log of the given size into
//! `target/bench-data/`, then measures in the same run:
//! 1. the naive baseline: read every line and parse it into a `serde_json::Value`, one
//!    thread (what a script or a generic JSON pipeline does);
//! 2. `portcullis hunt` (the real binary, full pack, alerts as JSON lines to /dev/null), on
//!    every core and on one thread, with its peak resident memory read from /proc.
//!
//! Audit logs come in several policy mixes (`MIXES`); `--mix NAME` runs one.
//!
//! Targets, on every mix: hunt ≥ 2× the naive parse on every core and ≥ 1.5× on one
//! thread; peak memory < 100 MB.

// The baseline runs in this process; the portcullis binary uses mimalloc, so this does too,
// or the ratio would measure the allocator rather than the parser.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Rng;

const NAMESPACES: &[&str] = &[
    "default",
    "shop",
    "payments",
    "monitoring",
    "kube-system",
    "ingress-nginx",
    "team-a",
    "team-b",
];
const NODES: &[&str] = &["node-a1", "node-a2", "node-b1", "node-b2", "node-c1"];

fn ts(n: u64) -> String {
    let s = n / 1000;
    format!(
        "2026-11-20T{:02}:{:02}:{:02}.{:06}Z",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        (n % 1000) * 1000
    )
}

fn user_json(user: &str) -> String {
    if let Some(rest) = user.strip_prefix("system:serviceaccount:") {
        let ns = rest.split(':').next().unwrap_or("");
        format!(
            r#"{{"username":"{user}","uid":"5e0c2b0e-1f2a-4c3b-9d8e-7f6a5b4c3d2e","groups":["system:serviceaccounts","system:serviceaccounts:{ns}","system:authenticated"]}}"#
        )
    } else if user.starts_with("system:node:") {
        format!(r#"{{"username":"{user}","groups":["system:nodes","system:authenticated"]}}"#)
    } else {
        format!(r#"{{"username":"{user}","groups":["devs","system:authenticated"]}}"#)
    }
}

fn pod_body(r: &mut Rng, name: &str, ns: &str, owner: Option<(&str, &str)>) -> String {
    let image = r.pick(&[
        "ghcr.io/acme/api:2.4.1",
        "registry.k8s.io/pause:3.9",
        "nginx:1.27",
        "docker.io/library/redis:7.4",
        "quay.io/prometheus/node-exporter:v1.8.2",
    ]);
    let privileged = r.below(200) == 0;
    let owner = owner.map_or(String::new(), |(k, n)| format!(r#","ownerReferences":[{{"apiVersion":"apps/v1","kind":"{k}","name":"{n}","uid":"8c800470-d85f-11e8-88b6-080027728ac4","controller":true,"blockOwnerDeletion":true}}]"#));
    format!(
        r#"{{"kind":"Pod","apiVersion":"v1","metadata":{{"generateName":"{name}-","namespace":"{ns}","creationTimestamp":null,"labels":{{"app":"{name}","pod-template-hash":"5cdcc99dbf"}}{owner}}},"spec":{{"volumes":[{{"name":"kube-api-access-x7k2p","projected":{{"sources":[{{"serviceAccountToken":{{"expirationSeconds":3607,"path":"token"}}}},{{"configMap":{{"name":"kube-root-ca.crt","items":[{{"key":"ca.crt","path":"ca.crt"}}]}}}}],"defaultMode":420}}}}],"containers":[{{"name":"{name}","image":"{image}","ports":[{{"containerPort":8080,"protocol":"TCP"}}],"env":[{{"name":"LOG_LEVEL","value":"info"}}],"resources":{{"limits":{{"cpu":"1","memory":"512Mi"}},"requests":{{"cpu":"100m","memory":"128Mi"}}}},"volumeMounts":[{{"name":"kube-api-access-x7k2p","readOnly":true,"mountPath":"/var/run/secrets/kubernetes.io/serviceaccount"}}],"livenessProbe":{{"httpGet":{{"path":"/healthz","port":8080,"scheme":"HTTP"}},"timeoutSeconds":1,"periodSeconds":10,"successThreshold":1,"failureThreshold":3}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{{"privileged":{privileged},"allowPrivilegeEscalation":{privileged}}}}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","serviceAccount":"default","securityContext":{{}},"schedulerName":"default-scheduler","tolerations":[{{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}},{{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"}},"status":{{}}}}"#
    )
}

#[allow(clippy::too_many_arguments)]
fn event(
    out: &mut String,
    n: u64,
    stage: &str,
    level: &str,
    verb: &str,
    user: &str,
    ns: &str,
    resource: &str,
    group: &str,
    name: &str,
    code: u32,
    ua: &str,
    body: Option<&str>,
    response: Option<&str>,
) {
    let gv = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    let api = if group.is_empty() {
        "/api/v1".to_string()
    } else {
        format!("/apis/{group}/v1")
    };
    let status = if stage == "RequestReceived" {
        String::new()
    } else {
        format!(r#","responseStatus":{{"metadata":{{}},"code":{code}}}"#)
    };
    let mut body = body.map_or(String::new(), |b| format!(r#","requestObject":{b}"#));
    if let Some(resp) = response {
        let _ = write!(body, r#","responseObject":{resp}"#);
    }
    let _ = gv;
    // "web-0/exec?command=sh": a subresource (and its query) after the object's name.
    let (object, sub) = name.split_once('/').unwrap_or((name, ""));
    let subresource = sub.split('?').next().unwrap_or("");
    let subresource = if subresource.is_empty() {
        String::new()
    } else {
        format!(r#","subresource":"{subresource}""#)
    };
    let (scope, ns_ref) = if ns.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!("/namespaces/{ns}"),
            format!(r#","namespace":"{ns}""#),
        )
    };
    let _ = writeln!(
        out,
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"{level}","auditID":"{:08x}-1f2a-4c3b-9d8e-{:012x}","stage":"{stage}","requestURI":"{api}{scope}/{resource}/{name}","verb":"{verb}","user":{},"sourceIPs":["10.0.{}.{}"],"userAgent":"{ua}","objectRef":{{"resource":"{resource}"{ns_ref},"name":"{object}","apiGroup":"{group}","apiVersion":"v1"{subresource}}}{status}{body},"requestReceivedTimestamp":"{}","stageTimestamp":"{}","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:controller\""}}}}"#,
        n >> 16,
        n,
        user_json(user),
        n % 250,
        (n / 250) % 250,
        ts(n),
        ts(n + 3)
    );
}

/// One kind of line an audit log is made of.
#[derive(Clone, Copy)]
enum Line {
    /// get/list/watch by kubelets, controllers, Prometheus, CoreDNS.
    Read,
    /// A kubelet's lease renewal; `true`: at RequestResponse level, with both bodies.
    Lease(bool),
    /// A kubelet's node status patch (conditions and the image list), RequestResponse.
    NodeStatus,
    /// An Event written by a controller; `true`: at Request level, with its body.
    EventWrite(bool),
    /// Endpoint slices and config maps, Metadata level.
    OtherWrite,
    /// A ReplicaSet controller's pod create; the level names which bodies it carries.
    ControllerPod(Level),
    /// A person's Deployment create, with its body (Metadata: without).
    PersonDeployment(Level),
    /// `kubectl exec`.
    Exec,
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

/// An audit-policy mix: what share (per mille) of lines each kind is.
struct Mix {
    name: &'static str,
    about: &'static str,
    lines: &'static [(u64, Line)],
}

const MIXES: &[Mix] = &[
    Mix {
        name: "busy",
        about: "68% reads, 22% leases, 7% other writes, 2.5% controller pod creates (Request level, a fifth in two stages), 0.4% people's Deployments, 0.1% exec",
        lines: &[
            (680, Line::Read),
            (220, Line::Lease(false)),
            (70, Line::OtherWrite),
            (25, Line::ControllerPod(Level::Request)),
            (4, Line::PersonDeployment(Level::Request)),
            (1, Line::Exec),
        ],
    },
    Mix {
        name: "rr-creates",
        about: "RequestResponse for pods: 4% controller pod creates with request and response bodies (managedFields, status), 60% reads, 26% leases, 9.5% other writes",
        lines: &[
            (600, Line::Read),
            (260, Line::Lease(false)),
            (95, Line::OtherWrite),
            (40, Line::ControllerPod(Level::RequestResponse)),
            (4, Line::PersonDeployment(Level::RequestResponse)),
            (1, Line::Exec),
        ],
    },
    Mix {
        name: "nodes-leases",
        about: "a RequestResponse default policy on a large cluster: 45% lease renewals and 15% node status patches with both bodies, 35% reads, 4% events, 1% pod creates",
        lines: &[
            (350, Line::Read),
            (450, Line::Lease(true)),
            (150, Line::NodeStatus),
            (40, Line::EventWrite(true)),
            (9, Line::ControllerPod(Level::RequestResponse)),
            (1, Line::Exec),
        ],
    },
    Mix {
        name: "events",
        about: "an event storm at Request level: 55% Event writes with bodies, 35% reads, 8% leases, 2% pod creates",
        lines: &[
            (350, Line::Read),
            (550, Line::EventWrite(true)),
            (80, Line::Lease(false)),
            (19, Line::ControllerPod(Level::Request)),
            (1, Line::Exec),
        ],
    },
    Mix {
        name: "metadata",
        about: "a Metadata-only policy: no bodies anywhere; 60% reads, 25% leases, 10% events, 4% pod creates, 1% people's Deployments",
        lines: &[
            (600, Line::Read),
            (250, Line::Lease(false)),
            (100, Line::EventWrite(false)),
            (40, Line::ControllerPod(Level::Metadata)),
            (9, Line::PersonDeployment(Level::Metadata)),
            (1, Line::Exec),
        ],
    },
];

const UID: &str = "8c800470-d85f-11e8-88b6-080027728ac4";

fn managed_fields(manager: &str, op: &str, n: u64) -> String {
    format!(
        r#""managedFields":[{{"manager":"{manager}","operation":"{op}","apiVersion":"v1","time":"{}","fieldsType":"FieldsV1","fieldsV1":{{"f:metadata":{{"f:generateName":{{}},"f:labels":{{".":{{}},"f:app":{{}},"f:pod-template-hash":{{}}}},"f:ownerReferences":{{".":{{}},"k:{{\"uid\":\"{UID}\"}}":{{}}}}}},"f:spec":{{"f:containers":{{"k:{{\"name\":\"web\"}}":{{".":{{}},"f:env":{{".":{{}},"k:{{\"name\":\"LOG_LEVEL\"}}":{{".":{{}},"f:name":{{}},"f:value":{{}}}}}},"f:image":{{}},"f:imagePullPolicy":{{}},"f:livenessProbe":{{".":{{}},"f:failureThreshold":{{}},"f:httpGet":{{".":{{}},"f:path":{{}},"f:port":{{}},"f:scheme":{{}}}},"f:periodSeconds":{{}}}},"f:name":{{}},"f:ports":{{".":{{}},"k:{{\"containerPort\":8080,\"protocol\":\"TCP\"}}":{{".":{{}},"f:containerPort":{{}},"f:protocol":{{}}}}}},"f:resources":{{".":{{}},"f:limits":{{".":{{}},"f:cpu":{{}},"f:memory":{{}}}},"f:requests":{{".":{{}},"f:cpu":{{}},"f:memory":{{}}}}}},"f:securityContext":{{".":{{}},"f:allowPrivilegeEscalation":{{}},"f:privileged":{{}}}},"f:terminationMessagePath":{{}},"f:terminationMessagePolicy":{{}}}}}},"f:dnsPolicy":{{}},"f:enableServiceLinks":{{}},"f:restartPolicy":{{}},"f:schedulerName":{{}},"f:securityContext":{{}},"f:terminationGracePeriodSeconds":{{}}}}}}}}]"#,
        ts(n)
    )
}

/// A created pod as the API server returns it: named, with a uid, managed fields, the
/// defaults filled in and a Pending status.
fn pod_response(request: &str, n: u64) -> String {
    let named = request.replacen(
        r#""generateName":"web-","#,
        &format!(
            r#""name":"web-{:05x}","generateName":"web-","uid":"{:08x}-d85f-11e8-88b6-080027728ac4","resourceVersion":"{}","creationTimestamp":"{}",{},"#,
            n & 0xfffff,
            n,
            1_000_000 + n,
            ts(n),
            managed_fields("kube-controller-manager", "Update", n)
        ),
        1,
    );
    named.replacen(
        r#""status":{}"#,
        r#""status":{"phase":"Pending","qosClass":"Burstable"}"#,
        1,
    )
}

fn lease_body(node: &str, n: u64, response: bool) -> String {
    let meta = if response {
        format!(
            r#","uid":"{UID}","resourceVersion":"{}","creationTimestamp":"2026-11-01T00:00:00Z","ownerReferences":[{{"apiVersion":"v1","kind":"Node","name":"{node}","uid":"{UID}"}}],"managedFields":[{{"manager":"kubelet","operation":"Update","apiVersion":"coordination.k8s.io/v1","time":"{}","fieldsType":"FieldsV1","fieldsV1":{{"f:metadata":{{"f:ownerReferences":{{".":{{}},"k:{{\"uid\":\"{UID}\"}}":{{}}}}}},"f:spec":{{"f:holderIdentity":{{}},"f:leaseDurationSeconds":{{}},"f:renewTime":{{}}}}}}}}]"#,
            2_000_000 + n,
            ts(n)
        )
    } else {
        String::new()
    };
    format!(
        r#"{{"kind":"Lease","apiVersion":"coordination.k8s.io/v1","metadata":{{"name":"{node}","namespace":"kube-node-lease"{meta}}},"spec":{{"holderIdentity":"{node}","leaseDurationSeconds":40,"renewTime":"{}"}}}}"#,
        ts(n)
    )
}

/// A kubelet's strategic-merge status patch: heartbeat conditions and the node's images.
fn node_status_patch(n: u64) -> String {
    let conditions = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
        .iter()
        .map(|c| format!(r#"{{"lastHeartbeatTime":"{}","type":"{c}"}}"#, ts(n)))
        .collect::<Vec<_>>()
        .join(",");
    let images = (0..24)
        .map(|i| {
            format!(
                r#"{{"names":["registry.example.com/team-{}/service-{i}@sha256:{:064x}","registry.example.com/team-{}/service-{i}:v1.{i}.0"],"sizeBytes":{}}}"#,
                i % 5,
                (i as u64 + 1) * 0x9e3779b97f4a7c15,
                i % 5,
                30_000_000 + i * 1_234_567
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    format!(
        r#"{{"status":{{"$setElementOrder/conditions":[{{"type":"MemoryPressure"}},{{"type":"DiskPressure"}},{{"type":"PIDPressure"}},{{"type":"Ready"}}],"conditions":[{conditions}],"images":[{images}]}}}}"#
    )
}

fn node_object(node: &str, n: u64, patch: &str) -> String {
    let status = patch
        .strip_prefix(r#"{"status":{"#)
        .and_then(|s| s.strip_suffix("}}"))
        .unwrap_or("");
    format!(
        r#"{{"kind":"Node","apiVersion":"v1","metadata":{{"name":"{node}","uid":"{UID}","resourceVersion":"{}","creationTimestamp":"2026-11-01T00:00:00Z","labels":{{"kubernetes.io/hostname":"{node}","kubernetes.io/os":"linux","node.kubernetes.io/instance-type":"m5.xlarge","topology.kubernetes.io/zone":"eu-west-1a"}},"annotations":{{"node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true"}}}},"spec":{{"podCIDR":"10.244.1.0/24","providerID":"aws:///eu-west-1a/i-0abc"}},"status":{{"capacity":{{"cpu":"4","memory":"16Gi","pods":"110"}},"allocatable":{{"cpu":"3920m","memory":"15Gi","pods":"110"}},"addresses":[{{"type":"InternalIP","address":"10.0.1.5"}},{{"type":"Hostname","address":"{node}"}}],"nodeInfo":{{"kubeletVersion":"v1.31.2","containerRuntimeVersion":"containerd://1.7.22","osImage":"Debian GNU/Linux 12 (bookworm)","architecture":"amd64"}},{status}}}}}"#,
        3_000_000 + n
    )
}

fn event_body(ns: &str, n: u64) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"v1","metadata":{{"name":"web-5cdcc99dbf-x7k2p.{:x}","namespace":"{ns}"}},"involvedObject":{{"kind":"Pod","namespace":"{ns}","name":"web-5cdcc99dbf-x7k2p","uid":"{UID}","apiVersion":"v1","resourceVersion":"{}","fieldPath":"spec.containers{{web}}"}},"reason":"Pulled","message":"Container image \"ghcr.io/acme/api:2.4.1\" already present on machine","source":{{"component":"kubelet","host":"node-a1"}},"firstTimestamp":"{}","lastTimestamp":"{}","count":1,"type":"Normal","eventTime":null,"reportingComponent":"kubelet","reportingInstance":"node-a1"}}"#,
        n,
        1_000_000 + n,
        ts(n),
        ts(n)
    )
}

/// Both bodies of an event at `level`: the request only from Request up, the response only
/// at RequestResponse.
fn bodies(
    level: Level,
    request: String,
    response: impl FnOnce() -> String,
) -> (Option<String>, Option<String>) {
    match level {
        Level::Metadata => (None, None),
        Level::Request => (Some(request), None),
        Level::RequestResponse => (Some(request), Some(response())),
    }
}

fn write_audit(path: &Path, bytes: u64, mix: &Mix) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut r = Rng(0x5DEECE66D);
    let (mut written, mut n, mut lines) = (0u64, 0u64, 0u64);
    let total: u64 = mix.lines.iter().map(|(w, _)| w).sum();
    let mut buf = String::with_capacity(1 << 16);
    while written < bytes {
        buf.clear();
        n += 1;
        let ns = r.pick(NAMESPACES);
        let node = r.pick(NODES);
        let mut roll = r.below(total);
        let kind = mix
            .lines
            .iter()
            .find(|(w, _)| {
                let hit = roll < *w;
                roll = roll.saturating_sub(*w);
                hit
            })
            .map_or(Line::Read, |(_, l)| *l);
        let e = |buf: &mut String,
                 stage,
                 level: Level,
                 verb,
                 user: &str,
                 ns,
                 res,
                 group,
                 name,
                 code,
                 ua,
                 body: (Option<String>, Option<String>)| {
            event(
                buf,
                n,
                stage,
                level.name(),
                verb,
                user,
                ns,
                res,
                group,
                name,
                code,
                ua,
                body.0.as_deref(),
                body.1.as_deref(),
            )
        };
        match kind {
            // Reads: the bulk of any audit log.
            Line::Read => {
                let (user, ua) = match r.below(4) {
                    0 => (
                        format!("system:node:{node}"),
                        "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    ),
                    1 => (
                        "system:serviceaccount:monitoring:prometheus".to_string(),
                        "Prometheus/2.53.0",
                    ),
                    2 => (
                        "system:kube-controller-manager".to_string(),
                        "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/leader-election",
                    ),
                    _ => (
                        "system:serviceaccount:kube-system:coredns".to_string(),
                        "coredns/v1.11.3 (linux/amd64) kubernetes/5864a46",
                    ),
                };
                let verb = r.pick(&["get", "list", "watch"]);
                let res = r.pick(&[
                    "pods",
                    "configmaps",
                    "secrets",
                    "services",
                    "endpoints",
                    "nodes",
                    "events",
                ]);
                e(
                    &mut buf,
                    "ResponseComplete",
                    Level::Metadata,
                    verb,
                    &user,
                    ns,
                    res,
                    "",
                    "x",
                    200,
                    ua,
                    (None, None),
                );
            }
            Line::Lease(full) => {
                let user = format!("system:node:{node}");
                let level = if full {
                    Level::RequestResponse
                } else {
                    Level::Metadata
                };
                let body = bodies(level, lease_body(node, n, false), || {
                    lease_body(node, n, true)
                });
                e(
                    &mut buf,
                    "ResponseComplete",
                    level,
                    "update",
                    &user,
                    "kube-node-lease",
                    "leases",
                    "coordination.k8s.io",
                    node,
                    200,
                    "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    body,
                );
            }
            Line::NodeStatus => {
                let user = format!("system:node:{node}");
                let patch = node_status_patch(n);
                let response = node_object(node, n, &patch);
                e(
                    &mut buf,
                    "ResponseComplete",
                    Level::RequestResponse,
                    "patch",
                    &user,
                    "",
                    "nodes",
                    "",
                    &format!("{node}/status"),
                    200,
                    "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    (Some(patch), Some(response)),
                );
            }
            Line::EventWrite(full) => {
                let level = if full {
                    Level::Request
                } else {
                    Level::Metadata
                };
                let body = bodies(level, event_body(ns, n), String::new);
                e(
                    &mut buf,
                    "ResponseComplete",
                    level,
                    r.pick(&["create", "patch"]),
                    &format!("system:node:{node}"),
                    ns,
                    "events",
                    "",
                    "web-5cdcc99dbf-x7k2p.1",
                    201,
                    "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    body,
                );
            }
            // Other writes: endpoints, config maps.
            Line::OtherWrite => {
                let res = r.pick(&["events", "endpointslices", "configmaps"]);
                let verb = r.pick(&["create", "update", "patch"]);
                e(
                    &mut buf,
                    "ResponseComplete",
                    Level::Metadata,
                    verb,
                    "system:serviceaccount:kube-system:endpointslice-controller",
                    ns,
                    res,
                    "",
                    "web",
                    200,
                    "kube-controller-manager/v1.31.2",
                    (None, None),
                );
            }
            // Pod creates by the ReplicaSet controller, a fifth in two stages.
            Line::ControllerPod(level) => {
                let request = pod_body(&mut r, "web", ns, Some(("ReplicaSet", "web-5cdcc99dbf")));
                let response = pod_response(&request, n);
                let user = "system:serviceaccount:kube-system:replicaset-controller";
                if r.below(5) == 0 {
                    let first = bodies(level, request.clone(), String::new);
                    e(
                        &mut buf,
                        "RequestReceived",
                        level,
                        "create",
                        user,
                        ns,
                        "pods",
                        "",
                        "",
                        0,
                        "kube-controller-manager/v1.31.2",
                        (first.0, None),
                    );
                }
                let body = bodies(level, request, || response);
                e(
                    &mut buf,
                    "ResponseComplete",
                    level,
                    "create",
                    user,
                    ns,
                    "pods",
                    "",
                    "",
                    201,
                    "kube-controller-manager/v1.31.2",
                    body,
                );
            }
            // Workload creates by people.
            Line::PersonDeployment(level) => {
                let body = pod_body(&mut r, "api", ns, None);
                let body = format!(
                    r#"{{"kind":"Deployment","apiVersion":"apps/v1","metadata":{{"name":"api","namespace":"{ns}"}},"spec":{{"replicas":3,"selector":{{"matchLabels":{{"app":"api"}}}},"template":{}}}}}"#,
                    body.split_once(r#""metadata":"#)
                        .map(|(_, m)| format!("{{\"metadata\":{m}"))
                        .unwrap_or_default()
                );
                let response = body.replacen(
                    r#""name":"api","#,
                    &format!(
                        r#""name":"api","uid":"{UID}","resourceVersion":"{}","generation":1,"#,
                        4_000_000 + n
                    ),
                    1,
                );
                let body = bodies(level, body, || response);
                e(
                    &mut buf,
                    "ResponseComplete",
                    level,
                    "create",
                    "alice@example.com",
                    ns,
                    "deployments",
                    "apps",
                    "",
                    201,
                    "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    body,
                );
            }
            Line::Exec => e(
                &mut buf,
                "ResponseComplete",
                Level::Metadata,
                "create",
                "bob@example.com",
                ns,
                "pods",
                "",
                "web-0/exec?command=sh",
                101,
                "kubectl/v1.31.2",
                (None, None),
            ),
        }
        lines += buf.lines().count() as u64;
        w.write_all(buf.as_bytes())?;
        written += buf.len() as u64;
    }
    w.flush()?;
    Ok(lines)
}

fn write_ecs(path: &Path, bytes: u64) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut r = Rng(0xC0FFEE);
    let (mut written, mut n) = (0u64, 0u64);
    let mut buf = String::with_capacity(4096);
    // A container host's process mix: mostly system and application processes; a few
    // percent name a container tool without deploying anything (ps, get, a commit message).
    let benign = [
        "/usr/bin/ls -la /var/log",
        "/usr/bin/grep -r error /var/log/syslog",
        "/usr/sbin/sshd -D -R",
        "/usr/bin/python3 /opt/app/worker.py --queue default",
        "/usr/bin/systemctl status containerd",
        "/bin/sh -c date",
        "/usr/bin/cat /proc/meminfo",
        "/usr/bin/awk -F: {print} /etc/passwd",
        "/usr/bin/sed -n 1,10p /var/log/auth.log",
        "/usr/sbin/logrotate /etc/logrotate.conf",
        "/usr/bin/find /tmp -mtime +7 -delete",
        "/usr/bin/ps aux",
        "/usr/bin/df -h",
        "/usr/lib/systemd/systemd-journald",
        "/usr/bin/rsync -a /srv/data/ /backup/data/",
        "/usr/bin/node /opt/web/server.js",
        "/usr/bin/java -Xmx2g -jar /opt/svc/app.jar",
        "/usr/bin/tar czf /backup/etc.tgz /etc",
        "/usr/sbin/cron -f",
        "/usr/bin/sleep 30",
        "/usr/bin/journalctl -u kubelet --since today",
        "/usr/bin/top -b -n 1",
        "/usr/bin/git commit -m docker run fix",
        "/usr/bin/docker ps -a",
        "/usr/bin/kubectl get pods -A",
    ];
    let deploys = [
        "docker run -d --name web -p 8080:80 nginx:1.27",
        "kubectl apply -f deploy/web.yaml",
        "docker run --privileged -v /:/host alpine chroot /host sh",
        "kubectl run debug --image=busybox --restart=Never -- sleep 3600",
        "docker build -t app:1.2 .",
    ];
    while written < bytes {
        buf.clear();
        n += 1;
        let cmd = if r.below(100) == 0 {
            r.pick(&deploys)
        } else if r.below(100) < 5 {
            // the tool-naming ones, at the end of the list
            benign[benign.len() - 1 - r.below(3) as usize]
        } else {
            benign[r.below(benign.len() as u64 - 3) as usize]
        };
        let args: Vec<&str> = cmd.split(' ').collect();
        let _ = writeln!(
            buf,
            r#"{{"@timestamp":"{}","event":{{"id":"{n:016x}","kind":"event","category":["process"],"type":["start"],"module":"auditd","dataset":"auditd.log"}},"process":{{"pid":{},"executable":"{}","name":"{}","args":{},"command_line":"{cmd}","working_directory":"/root","parent":{{"pid":1200,"executable":"/usr/bin/bash","command_line":"-bash"}}}},"user":{{"id":"0","name":"root"}},"host":{{"hostname":"{}","os":{{"type":"linux","family":"debian"}}}},"agent":{{"type":"auditbeat","version":"8.15.0"}}}}"#,
            ts(n),
            10_000 + n % 50_000,
            args[0],
            args[0].rsplit('/').next().unwrap_or(""),
            serde_json::to_string(&args).unwrap_or_default(),
            r.pick(NODES)
        );
        w.write_all(buf.as_bytes())?;
        written += buf.len() as u64;
    }
    w.flush()?;
    Ok(n)
}

fn naive(path: &Path) -> (Duration, u64) {
    let t = Instant::now();
    let f = BufReader::with_capacity(1 << 20, std::fs::File::open(path).expect("open"));
    let mut n = 0;
    for line in f.lines() {
        let line = line.expect("line");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            std::hint::black_box(&v);
            n += 1;
        }
    }
    (t.elapsed(), n)
}

/// Run the real binary; returns wall time, peak RSS (kB, from /proc VmHWM), alerts.
fn hunt(path: &Path, threads: Option<usize>) -> (Duration, u64, u64) {
    let t = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.args(["hunt", "--format", "jsonl", "--quiet"]);
    if let Some(n) = threads {
        cmd.args(["--threads", &n.to_string()]);
    }
    let mut child = cmd
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("portcullis runs");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let counter = std::thread::spawn(move || BufReader::new(stdout).lines().count() as u64);
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            for l in s.lines() {
                if let Some(v) = l.strip_prefix("VmHWM:") {
                    peak = peak.max(v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
                }
            }
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let alerts = counter.join().unwrap_or(0);
    (t.elapsed(), peak, alerts)
}

fn report(name: &str, path: &Path, lines: u64) -> bool {
    let mb = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) as f64 / 1e6;
    let (base, parsed) = naive(path);
    let (all, peak_all, alerts) = hunt(path, None);
    let (one, peak_one, _) = hunt(path, Some(1));
    let row = |label: &str, d: Duration, peak: Option<u64>| {
        println!(
            "| {label} | {:.2} s | {:.0} | {:.0} | {} | {:.2}× |",
            d.as_secs_f64(),
            mb / d.as_secs_f64(),
            lines as f64 / d.as_secs_f64(),
            peak.map_or("—".to_string(), |p| format!(
                "{:.1} MB",
                p as f64 / 1024.0
            )),
            base.as_secs_f64() / d.as_secs_f64()
        );
    };
    println!(
        "\n### {name}: {mb:.0} MB, {lines} lines ({parsed} parsed by the baseline), {alerts} alerts\n"
    );
    println!("| run | time | MB/s | events/s | peak memory | speed vs baseline |");
    println!("|---|---|---|---|---|---|");
    row(
        "naive: every line → serde_json::Value (1 thread)",
        base,
        None,
    );
    row("portcullis hunt, every core", all, Some(peak_all));
    row("portcullis hunt --threads 1", one, Some(peak_one));
    let ok = base.as_secs_f64() / all.as_secs_f64() >= 2.0
        && base.as_secs_f64() / one.as_secs_f64() >= 1.5
        && peak_all.max(peak_one) < 100 * 1024;
    println!(
        "\ntarget (≥ 2× baseline on every core, ≥ 1.5× on one thread, < 100 MB): {}",
        if ok { "met" } else { "MISSED" }
    );
    ok
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mb: u64 = flag("--mb").and_then(|s| s.parse().ok()).unwrap_or(1024);
    // `--mix NAME` runs one audit mix (and no process log); default: every mix.
    let only = flag("--mix");
    // `--keep`: leave the generated logs in target/bench-data, to profile by hand.
    let keep = args.iter().any(|a| a == "--keep");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench dir");
    println!(
        "{mb} MB per log, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut ok = true;
    for mix in MIXES {
        if only.as_deref().is_some_and(|m| m != mix.name) {
            continue;
        }
        let audit = dir.join(format!("audit-{}-{mb}mb.log", mix.name));
        let lines = write_audit(&audit, mb * 1_000_000, mix).expect("write audit log");
        ok &= report(
            &format!("Kubernetes audit log, mix `{}` ({})", mix.name, mix.about),
            &audit,
            lines,
        );
        if !keep {
            let _ = std::fs::remove_file(&audit);
        }
    }
    if only.is_none() {
        let ecs = dir.join(format!("process-{mb}mb.json"));
        let ecs_lines = write_ecs(&ecs, mb * 1_000_000).expect("write process log");
        ok &= report("Process log (ECS)", &ecs, ecs_lines);
        if !keep {
            let _ = std::fs::remove_file(&ecs);
        }
    }
    // Timing on a shared CI machine is noisy: the verdict is printed always and fails the
    // run only when asked (`--assert`), as the documented full-size run does.
    if !ok && args.iter().any(|a| a == "--assert") {
        std::process::exit(1);
    }
}
