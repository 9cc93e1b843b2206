//! Kubernetes clusters, from a directory of `kubectl get … -o json` (or YAML) dumps.
//! File names are free: kinds are recognised from content (`List` or single objects).
//!
//! Who can deploy is computed the way the RBAC authorizer decides: every binding's subjects
//! get its role's rules, ClusterRole aggregation resolved, wildcards honoured,
//! resourceNames-restricted rules not counting for create.

use crate::{
    ADM001, ADM002, ADM003, ADM004, Check, EXP001, EXP002, EXP003, EXP004, EXP005, Finding, NET001,
    RBAC001, RBAC002, RBAC003, RBAC004, RBAC005, RBAC006, RBAC007,
};
use portcullis_sources::manifest;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// An object and the file it came from.
#[derive(Debug, Clone)]
pub struct Object {
    pub file: String,
    pub kind: String,
    pub value: Value,
}

impl Object {
    fn meta(&self, key: &str) -> Option<&str> {
        self.value
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
    }
    fn name(&self) -> &str {
        self.meta("name").unwrap_or("")
    }
    fn namespace(&self) -> Option<&str> {
        self.meta("namespace")
    }
    fn labels(&self) -> BTreeMap<String, String> {
        self.value
            .get("metadata")
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Read every JSON/YAML file under `dir`. Unparseable files are reported, not fatal.
pub fn load_dump(dir: &Path) -> (Vec<Object>, Vec<String>) {
    let mut errors = Vec::new();
    let files = portcullis_sources::walk::files(dir, portcullis_sources::walk::is_manifest)
        .unwrap_or_else(|e| {
            errors.push(format!("cannot read the dump: {e}"));
            Vec::new()
        });
    let mut objects = Vec::new();
    for f in files {
        let name = f.display().to_string();
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!("{name}: {e}"));
                continue;
            }
        };
        let values: Vec<Value> = if text.trim_start().starts_with(['{', '[']) {
            let mut out = Vec::new();
            for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
                match v {
                    Ok(v) => out.push(v),
                    Err(e) => {
                        errors.push(format!("{name}:{}: {e}", e.line()));
                        break;
                    }
                }
            }
            out
        } else {
            manifest::split_documents(&text)
                .into_iter()
                .filter_map(|d| match manifest::parse_yaml(d.text) {
                    Ok(v) => Some(v),
                    Err((l, _, m)) => {
                        errors.push(format!("{name}:{}: {m}", d.line + l - 1));
                        None
                    }
                })
                .collect()
        };
        for v in values {
            flatten(v, &name, &mut objects);
        }
    }
    (objects, errors)
}

/// Objects from one parsed document: a single object, a `List` (kubectl's, whose items carry
/// their kind, or the API's, whose items do not: the list's kind names them), or a
/// kubelet `configz` answer.
pub fn flatten(v: Value, file: &str, out: &mut Vec<Object>) {
    match v {
        Value::Array(items) => items.into_iter().for_each(|i| flatten(i, file, out)),
        Value::Object(ref m) if m.get("items").is_some_and(Value::is_array) => {
            let item_kind = m
                .get("kind")
                .and_then(Value::as_str)
                .and_then(|k| k.strip_suffix("List"))
                .filter(|k| !k.is_empty())
                .map(str::to_string);
            if let Some(Value::Array(items)) = m.get("items").cloned() {
                for mut i in items {
                    if let (Some(k), Some(o)) = (&item_kind, i.as_object_mut()) {
                        o.entry("kind").or_insert_with(|| Value::from(k.as_str()));
                    }
                    flatten(i, file, out);
                }
            }
        }
        // `kubectl get --raw /api/v1/nodes/N/proxy/configz`.
        Value::Object(ref m) if m.contains_key("kubeletconfig") => out.push(Object {
            file: file.into(),
            kind: "KubeletConfiguration".into(),
            value: m.get("kubeletconfig").cloned().unwrap_or_default(),
        }),
        Value::Object(ref m) => {
            if let Some(kind) = m.get("kind").and_then(Value::as_str) {
                out.push(Object {
                    file: file.into(),
                    kind: kind.into(),
                    value: v.clone(),
                });
            }
        }
        _ => {}
    }
}

/// One RBAC rule.
#[derive(Debug, Clone, Default)]
struct Rule {
    verbs: Vec<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn rules_of(v: &Value) -> Vec<Rule> {
    v.get("rules")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .map(|r| Rule {
                    verbs: strings(r, "verbs"),
                    groups: strings(r, "apiGroups"),
                    resources: strings(r, "resources"),
                    names: strings(r, "resourceNames"),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn allows(rules: &[Rule], verb: &str, group: &str, resource: &str) -> bool {
    rules.iter().any(|r| {
        let any = |l: &[String], x: &str| l.iter().any(|v| v == "*" || v == x);
        let res = r.resources.iter().any(|v| {
            v == "*"
                || v == resource
                || (resource.contains('/')
                    && v.strip_suffix("/*")
                        .is_some_and(|p| resource.starts_with(&format!("{p}/"))))
                || v.strip_prefix("*/")
                    .is_some_and(|s| resource.split_once('/').is_some_and(|(_, rs)| rs == s))
        });
        // A rule limited to resourceNames cannot create (the name is not known yet).
        any(&r.verbs, verb)
            && any(&r.groups, group)
            && res
            && (r.names.is_empty() || verb != "create")
    })
}

const WORKLOADS: &[(&str, &str)] = &[
    ("", "pods"),
    ("apps", "deployments"),
    ("apps", "daemonsets"),
    ("apps", "statefulsets"),
    ("apps", "replicasets"),
    ("batch", "jobs"),
    ("batch", "cronjobs"),
    ("", "replicationcontrollers"),
];

/// What a set of rules lets a subject do, for container deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Abilities {
    /// Workload resources it can create.
    pub create: BTreeSet<String>,
    pub exec: bool,
    pub ephemeral: bool,
    pub escalate: BTreeSet<String>,
    pub wildcard: bool,
    /// Any resource permission at all (beyond nonResourceURLs).
    pub any_resource: bool,
}

impl Abilities {
    fn of(rules: &[Rule]) -> Abilities {
        let mut a = Abilities::default();
        for (g, r) in WORKLOADS {
            if allows(rules, "create", g, r) {
                a.create.insert((*r).into());
            }
        }
        a.exec = allows(rules, "create", "", "pods/exec")
            || allows(rules, "get", "", "pods/exec")
            || allows(rules, "create", "", "pods/attach");
        a.ephemeral = allows(rules, "update", "", "pods/ephemeralcontainers")
            || allows(rules, "patch", "", "pods/ephemeralcontainers");
        for (verb, g, r) in [
            ("escalate", "rbac.authorization.k8s.io", "clusterroles"),
            ("escalate", "rbac.authorization.k8s.io", "roles"),
            ("bind", "rbac.authorization.k8s.io", "clusterroles"),
            ("bind", "rbac.authorization.k8s.io", "roles"),
            ("impersonate", "", "users"),
            ("impersonate", "", "groups"),
            ("impersonate", "", "serviceaccounts"),
        ] {
            if allows(rules, verb, g, r) {
                a.escalate.insert(verb.into());
            }
        }
        a.wildcard = rules.iter().any(|r| {
            r.verbs.iter().any(|v| v == "*")
                && r.groups.iter().any(|v| v == "*")
                && r.resources.iter().any(|v| v == "*")
        });
        a.any_resource = rules
            .iter()
            .any(|r| !r.resources.is_empty() && !r.verbs.is_empty());
        a
    }

    pub fn can_deploy(&self) -> bool {
        !self.create.is_empty()
    }
}

/// A row of the who-can-deploy table.
#[derive(Debug, Clone)]
pub struct Grant {
    pub subject_kind: String,
    /// `namespace:name` for service accounts.
    pub subject: String,
    /// `cluster` or the namespace of a RoleBinding.
    pub scope: String,
    pub via: String,
    pub role: String,
    pub abilities: Abilities,
    pub file: String,
}

/// The result of auditing a cluster.
#[derive(Debug, Default)]
pub struct ClusterReport {
    pub findings: Vec<Finding>,
    pub grants: Vec<Grant>,
    pub namespaces: Vec<String>,
    pub errors: Vec<String>,
}

fn is_system_subject(kind: &str, name: &str) -> bool {
    match kind {
        "Group" => {
            name.starts_with("system:")
                && name != "system:unauthenticated"
                && name != "system:authenticated"
                && name != "system:serviceaccounts"
        }
        "User" => name.starts_with("system:") && name != "system:anonymous",
        "ServiceAccount" => {
            name.starts_with("kube-system:")
                && (name.ends_with("-controller")
                    || name.contains(":system:")
                    || name.ends_with("-controller-manager"))
        }
        _ => false,
    }
}

const UI_SERVICE_ACCOUNTS: &[&str] = &[
    "kubernetes-dashboard",
    "pipeline-runner",
    "default-editor",
    "ml-pipeline",
    "jupyter-web-app-service-account",
];

/// Audit a loaded cluster dump: every grant through each grant check in turn, then the
/// cluster-wide checks.
pub fn analyze(objects: &[Object]) -> ClusterReport {
    let mut rep = ClusterReport {
        grants: grants(objects),
        ..ClusterReport::default()
    };
    for g in &rep.grants {
        for check in GRANT_CHECKS {
            if check(g, &mut rep.findings) == Next::Done {
                break;
            }
        }
    }
    for check in CLUSTER_CHECKS {
        check(objects, &mut rep);
    }
    rep
}

/// What a grant check tells the next: look further, or this grant is accounted for.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Done,
}

/// The checks of one grant (a subject bound to a role), in order.
const GRANT_CHECKS: &[fn(&Grant, &mut Vec<Finding>) -> Next] = &[
    anonymous_access,
    system_subject,
    cluster_admin,
    may_deploy,
    may_exec,
    may_escalate,
];

/// The checks over the whole cluster (admission coverage, exposure, segmentation).
const CLUSTER_CHECKS: &[fn(&[Object], &mut ClusterReport)] = &[admission, exposure, segmentation];

/// Effective RBAC as the authorizer computes it: ClusterRole aggregation resolved, one
/// grant per subject of every binding whose role exists.
fn grants(objects: &[Object]) -> Vec<Grant> {
    let mut grants = Vec::new();
    fn of<'o>(objects: &'o [Object], kind: &'static str) -> impl Iterator<Item = &'o Object> {
        objects.iter().filter(move |o| o.kind == kind)
    }
    // Roles, with ClusterRole aggregation resolved.
    let cluster_roles: Vec<&Object> = of(objects, "ClusterRole").collect();
    let mut role_rules: BTreeMap<(String, String, String), Vec<Rule>> = BTreeMap::new();
    for cr in &cluster_roles {
        let mut rules = rules_of(&cr.value);
        if let Some(selectors) = cr
            .value
            .get("aggregationRule")
            .and_then(|a| a.get("clusterRoleSelectors"))
            .and_then(Value::as_array)
        {
            for other in &cluster_roles {
                let labels = other.labels();
                let matches = selectors.iter().any(|s| {
                    s.get("matchLabels")
                        .and_then(Value::as_object)
                        .is_some_and(|ml| {
                            ml.iter()
                                .all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str())
                        })
                });
                if matches && other.name() != cr.name() {
                    rules.extend(rules_of(&other.value));
                }
            }
        }
        role_rules.insert(
            ("ClusterRole".into(), String::new(), cr.name().into()),
            rules,
        );
    }
    for r in of(objects, "Role") {
        role_rules.insert(
            (
                "Role".into(),
                r.namespace().unwrap_or("").into(),
                r.name().into(),
            ),
            rules_of(&r.value),
        );
    }
    // Grants from bindings.
    for b in of(objects, "ClusterRoleBinding").chain(of(objects, "RoleBinding")) {
        let rr = b.value.get("roleRef").cloned().unwrap_or_default();
        let rkind = rr
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("ClusterRole");
        let rname = rr.get("name").and_then(Value::as_str).unwrap_or("");
        let ns = if b.kind == "RoleBinding" {
            b.namespace().unwrap_or("").to_string()
        } else {
            String::new()
        };
        let key = (
            rkind.to_string(),
            if rkind == "Role" {
                ns.clone()
            } else {
                String::new()
            },
            rname.to_string(),
        );
        let Some(rules) = role_rules.get(&key) else {
            continue;
        };
        let mut abilities = Abilities::of(rules);
        if rname == "cluster-admin" {
            abilities.wildcard = true;
        }
        for s in b
            .value
            .get("subjects")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            let name = s.get("name").and_then(Value::as_str).unwrap_or("");
            let subject = if kind == "ServiceAccount" {
                format!(
                    "{}:{name}",
                    s.get("namespace").and_then(Value::as_str).unwrap_or(&ns)
                )
            } else {
                name.to_string()
            };
            grants.push(Grant {
                subject_kind: kind.into(),
                subject,
                scope: if b.kind == "ClusterRoleBinding" {
                    "cluster".into()
                } else {
                    ns.clone()
                },
                via: format!("{}/{}", b.kind, b.name()),
                role: format!("{rkind}/{rname}"),
                abilities: abilities.clone(),
                file: b.file.clone(),
            });
        }
    }
    grants
}

/// A finding about a grant: the subject as target, the binding, role and scope as evidence.
fn grant_finding(g: &Grant, check: &'static Check, msg: String) -> Finding {
    let service_account = g
        .subject
        .split_once(':')
        .filter(|_| g.subject_kind == "ServiceAccount");
    Finding::new(check, msg, g.file.clone())
        .target(
            &g.subject_kind,
            service_account.map(|(n, _)| n),
            Some(service_account.map_or(g.subject.as_str(), |(_, n)| n)),
        )
        .evidence("binding", g.via.as_str())
        .evidence("role", g.role.as_str())
        .evidence("scope", g.scope.as_str())
}

/// RBAC001: anything granted to anonymous or unauthenticated requests (and nothing more to
/// say of such a grant).
fn anonymous_access(g: &Grant, out: &mut Vec<Finding>) -> Next {
    let anonymous = (g.subject_kind == "User" && g.subject == "system:anonymous")
        || (g.subject_kind == "Group" && g.subject == "system:unauthenticated");
    if !(anonymous && g.abilities.any_resource) {
        return Next::Continue;
    }
    out.push(grant_finding(
        g,
        &RBAC001,
        format!(
            "{} {} is granted {} through {}",
            g.subject_kind, g.subject, g.role, g.via
        ),
    ));
    Next::Done
}

/// The control plane's own subjects and roles hold what they need: not findings.
fn system_subject(g: &Grant, _: &mut Vec<Finding>) -> Next {
    let system = is_system_subject(&g.subject_kind, &g.subject)
        || g.role.starts_with("ClusterRole/system:")
            && g.subject_kind != "User"
            && g.subject_kind != "Group";
    if system { Next::Done } else { Next::Continue }
}

/// RBAC002: cluster-admin power, cluster-wide; reported once, as such.
fn cluster_admin(g: &Grant, out: &mut Vec<Finding>) -> Next {
    if !(g.abilities.wildcard && g.scope == "cluster") {
        return Next::Continue;
    }
    out.push(grant_finding(
        g,
        &RBAC002,
        format!(
            "{} {} has cluster-admin power through {} ({})",
            g.subject_kind, g.subject, g.via, g.role
        ),
    ));
    Next::Done
}

/// RBAC007 (a dashboard or pipeline UI's service account), RBAC003 (a service account in
/// every namespace), RBAC004 (a person or group): who may create workloads.
fn may_deploy(g: &Grant, out: &mut Vec<Finding>) -> Next {
    let a = &g.abilities;
    if !a.can_deploy() {
        return Next::Continue;
    }
    let kinds = a.create.iter().cloned().collect::<Vec<_>>().join(", ");
    let ui = g.subject_kind == "ServiceAccount"
        && UI_SERVICE_ACCOUNTS
            .iter()
            .any(|u| g.subject.ends_with(&format!(":{u}")));
    if ui {
        out.push(grant_finding(
            g,
            &RBAC007,
            format!(
                "UI service account {} can create {kinds} ({})",
                g.subject,
                scope_text(&g.scope)
            ),
        ));
    } else if g.subject_kind == "ServiceAccount" && g.scope == "cluster" {
        out.push(grant_finding(
            g,
            &RBAC003,
            format!(
                "service account {} can create {kinds} in every namespace",
                g.subject
            ),
        ));
    } else if g.subject_kind != "ServiceAccount" {
        out.push(grant_finding(
            g,
            &RBAC004,
            format!(
                "{} {} can create {kinds} ({})",
                g.subject_kind,
                g.subject,
                scope_text(&g.scope)
            ),
        ));
    }
    Next::Continue
}

/// RBAC005: exec/attach into running pods, or ephemeral containers.
fn may_exec(g: &Grant, out: &mut Vec<Finding>) -> Next {
    let a = &g.abilities;
    if a.exec || a.ephemeral {
        let what = [
            (a.exec, "exec/attach"),
            (a.ephemeral, "ephemeral containers"),
        ]
        .iter()
        .filter(|x| x.0)
        .map(|x| x.1)
        .collect::<Vec<_>>()
        .join(" and ");
        out.push(grant_finding(
            g,
            &RBAC005,
            format!(
                "{} {} can use {what} ({})",
                g.subject_kind,
                g.subject,
                scope_text(&g.scope)
            ),
        ));
    }
    Next::Continue
}

/// RBAC006: escalate, bind or impersonate (short of a wildcard, reported as RBAC002).
fn may_escalate(g: &Grant, out: &mut Vec<Finding>) -> Next {
    let a = &g.abilities;
    if !a.escalate.is_empty() && !a.wildcard {
        out.push(grant_finding(
            g,
            &RBAC006,
            format!(
                "{} {} holds {} ({})",
                g.subject_kind,
                g.subject,
                a.escalate.iter().cloned().collect::<Vec<_>>().join(", "),
                scope_text(&g.scope)
            ),
        ));
    }
    Next::Continue
}

fn scope_text(scope: &str) -> String {
    if scope == "cluster" {
        "cluster-wide".into()
    } else {
        format!("in namespace {scope}")
    }
}

/// Does a webhook or policy rule cover `resource` creation?
fn rule_covers(rule: &Value, groups_key: &str, resource: &str, group: &str) -> bool {
    let list = |k: &str| strings(rule, k);
    let ops = list("operations");
    let res = list("resources");
    let groups = list(groups_key);
    (ops.is_empty() || ops.iter().any(|o| o == "*" || o == "CREATE"))
        && res.iter().any(|r| r == "*" || r == resource || r == "*/*")
        && groups.iter().any(|g| g == "*" || g == group)
}

fn admission(objects: &[Object], rep: &mut ClusterReport) {
    let mut covers_pods = false;
    let mut covers_workloads = false;
    let mut where_ = String::new();
    for w in objects
        .iter()
        .filter(|o| o.kind == "ValidatingWebhookConfiguration")
    {
        for hook in w
            .value
            .get("webhooks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let rules = hook
                .get("rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let pods = rules
                .iter()
                .any(|r| rule_covers(r, "apiGroups", "pods", ""));
            let work = rules.iter().any(|r| {
                rule_covers(r, "apiGroups", "deployments", "apps")
                    && rule_covers(r, "apiGroups", "daemonsets", "apps")
            });
            covers_pods |= pods;
            covers_workloads |= work;
            where_ = w.file.clone();
            if pods && hook.get("failurePolicy").and_then(Value::as_str) == Some("Ignore") {
                let name = hook.get("name").and_then(Value::as_str).unwrap_or("");
                rep.findings.push(
                    Finding::new(&ADM002, format!("webhook {name} covers pods but fails open: when it is down or slow, every pod is admitted"), w.file.clone())
                        .target("ValidatingWebhookConfiguration", None, Some(w.name()))
                        .evidence("failurePolicy", "Ignore"),
                );
            }
        }
    }
    let bound: BTreeSet<String> = objects
        .iter()
        .filter(|o| o.kind == "ValidatingAdmissionPolicyBinding")
        .filter_map(|b| {
            b.value
                .get("spec")
                .and_then(|s| s.get("policyName"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    for p in objects
        .iter()
        .filter(|o| o.kind == "ValidatingAdmissionPolicy")
    {
        if !bound.contains(p.name()) {
            continue;
        }
        let rules = p
            .value
            .get("spec")
            .and_then(|s| s.get("matchConstraints"))
            .and_then(|m| m.get("resourceRules"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        covers_pods |= rules
            .iter()
            .any(|r| rule_covers(r, "apiGroups", "pods", ""));
        covers_workloads |= rules
            .iter()
            .any(|r| rule_covers(r, "apiGroups", "deployments", "apps"));
        where_ = p.file.clone();
    }
    if !covers_pods {
        rep.findings.push(
            Finding::new(
                &ADM001,
                "no validating webhook or bound ValidatingAdmissionPolicy covers pod creation",
                where_.clone(),
            )
            .evidence("validatingwebhookconfigurations", "none covering pods"),
        );
    } else if !covers_workloads {
        rep.findings.push(Finding::new(&ADM004, "admission covers pods but not deployments/daemonsets: a bad template is accepted and fails per pod, later", where_).evidence("resources", "pods only"));
    }
    const SYSTEM: &[&str] = &["kube-system", "kube-public", "kube-node-lease"];
    for ns in objects.iter().filter(|o| o.kind == "Namespace") {
        rep.namespaces.push(ns.name().into());
        let labels = ns.labels();
        let enforce = labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str);
        let problem = match enforce {
            None => Some("has no pod-security.kubernetes.io/enforce label".to_string()),
            Some("privileged") if !SYSTEM.contains(&ns.name()) => {
                Some("enforces the privileged (empty) profile".to_string())
            }
            _ => None,
        };
        if let Some(p) = problem {
            rep.findings.push(
                Finding::new(
                    &ADM003,
                    format!("namespace {} {p}", ns.name()),
                    ns.file.clone(),
                )
                .target("Namespace", None, Some(ns.name()))
                .evidence(
                    "metadata.labels[pod-security.kubernetes.io/enforce]",
                    enforce.map_or(Value::Null, Value::from),
                ),
            );
        }
    }
}

/// `--flag=value` or `--flag value` from a container's command and args.
fn flag(args: &[String], name: &str) -> Option<String> {
    let key = format!("--{name}");
    args.iter().enumerate().find_map(|(i, a)| {
        if let Some(v) = a.strip_prefix(&format!("{key}=")) {
            Some(v.to_string())
        } else if *a == key {
            args.get(i + 1).cloned()
        } else {
            None
        }
    })
}

fn exposure(objects: &[Object], rep: &mut ClusterReport) {
    for p in objects
        .iter()
        .filter(|o| o.kind == "Pod" && o.namespace() == Some("kube-system"))
    {
        let is_api = p.name().starts_with("kube-apiserver")
            || p.labels()
                .get("component")
                .is_some_and(|c| c == "kube-apiserver");
        if !is_api {
            continue;
        }
        for c in p
            .value
            .get("spec")
            .and_then(|s| s.get("containers"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let args: Vec<String> = strings(c, "command")
                .into_iter()
                .chain(strings(c, "args"))
                .collect();
            if !args
                .iter()
                .any(|a| a.contains("kube-apiserver") || a.starts_with("--"))
            {
                continue;
            }
            let f = |check, msg: String, field: &str, value: Value| {
                Finding::new(check, msg, p.file.clone())
                    .target("Pod", Some("kube-system"), Some(p.name()))
                    .evidence(field, value)
            };
            let anon = flag(&args, "anonymous-auth");
            if anon.as_deref() != Some("false") {
                rep.findings.push(f(
                    &EXP001,
                    "kube-apiserver accepts anonymous requests".into(),
                    "--anonymous-auth",
                    anon.map_or(Value::Null, Value::from),
                ));
            }
            if let Some(modes) = flag(&args, "authorization-mode")
                .filter(|m| m.split(',').any(|x| x == "AlwaysAllow"))
            {
                rep.findings.push(f(
                    &EXP002,
                    format!(
                        "kube-apiserver authorizes every request (--authorization-mode={modes})"
                    ),
                    "--authorization-mode",
                    modes.into(),
                ));
            }
            let insecure = flag(&args, "insecure-port").filter(|p| p != "0");
            let bind = flag(&args, "insecure-bind-address");
            if insecure.is_some() || bind.is_some() {
                rep.findings.push(f(
                    &EXP003,
                    format!(
                        "kube-apiserver serves an insecure port ({})",
                        insecure.clone().or(bind.clone()).unwrap_or_default()
                    ),
                    "--insecure-port",
                    insecure.or(bind).map_or(Value::Null, Value::from),
                ));
            }
        }
    }
    for k in objects.iter().filter(|o| o.kind == "KubeletConfiguration") {
        let v = &k.value;
        let anon = v
            .pointer("/authentication/anonymous/enabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mode = v
            .pointer("/authorization/mode")
            .and_then(Value::as_str)
            .unwrap_or("Webhook");
        // configz carries no node name: the metadata's, else the dump file's name.
        let node = k
            .value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| {
                Path::new(&k.file)
                    .file_stem()
                    .map_or_else(|| k.file.clone(), |s| s.to_string_lossy().into_owned())
            });
        if anon || mode == "AlwaysAllow" {
            rep.findings.push(
                Finding::new(
                    &EXP004,
                    format!("kubelet on {node}: anonymous {anon}, authorization {mode}"),
                    k.file.clone(),
                )
                .target("Kubelet", None, Some(&node))
                .evidence("authentication.anonymous.enabled", anon)
                .evidence("authorization.mode", mode),
            );
        }
        let ro = v.get("readOnlyPort").and_then(Value::as_i64).unwrap_or(0);
        if ro != 0 {
            rep.findings.push(
                Finding::new(
                    &EXP005,
                    format!("kubelet on {node} serves the read-only port {ro}"),
                    k.file.clone(),
                )
                .target("Kubelet", None, Some(&node))
                .evidence("readOnlyPort", ro),
            );
        }
    }
}

fn segmentation(objects: &[Object], rep: &mut ClusterReport) {
    let mut deny: BTreeSet<String> = BTreeSet::new();
    for np in objects.iter().filter(|o| o.kind == "NetworkPolicy") {
        let spec = np.value.get("spec").cloned().unwrap_or_default();
        let all_pods = spec
            .get("podSelector")
            .and_then(Value::as_object)
            .is_some_and(|s| {
                s.values().all(|v| {
                    v.as_object().is_some_and(|m| m.is_empty())
                        || v.as_array().is_some_and(|a| a.is_empty())
                })
            });
        let types = strings(&spec, "policyTypes");
        let ingress_denied = (types.is_empty() || types.iter().any(|t| t == "Ingress"))
            && spec
                .get("ingress")
                .and_then(Value::as_array)
                .is_none_or(|a| a.is_empty());
        if all_pods && ingress_denied {
            deny.insert(np.namespace().unwrap_or("default").to_string());
        }
    }
    for ns in objects.iter().filter(|o| o.kind == "Namespace") {
        let name = ns.name();
        if matches!(name, "kube-public" | "kube-node-lease") || deny.contains(name) {
            continue;
        }
        rep.findings.push(
            Finding::new(
                &NET001,
                format!("namespace {name} has no default-deny NetworkPolicy"),
                ns.file.clone(),
            )
            .target("Namespace", None, Some(name))
            .evidence(
                "networkpolicies",
                "no podSelector: {} policy denying ingress",
            ),
        );
    }
}
