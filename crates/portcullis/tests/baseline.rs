//! Baselines end to end: a generated month of a realistic cluster's audit log — a CD bot
//! deploying during working hours, the controllers' pods, a nightly CronJob, people on
//! weekdays — with unexpected deployments injected in the last week, none of them risky
//! by spec alone. Learnt on the first three weeks, judged on the last, in one run
//! (`hunt --learn-first 21d`), and compared with the same run without a baseline.

mod common;
use common::*;
use serde_json::{Value, json};
use std::fmt::Write as _;

/// The cluster's own release pipeline: not in any built-in list of trusted deployers.
const ARGO: &str = "system:serviceaccount:cicd:release-bot";
const RS: &str = "system:serviceaccount:kube-system:replicaset-controller";
const CRONJOB: &str = "system:serviceaccount:kube-system:cronjob-controller";
const JOB: &str = "system:serviceaccount:kube-system:job-controller";
/// 2026-11-02 00:00:00 UTC, a Monday.
const START: i64 = 1_793_577_600;
const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn rfc3339(secs: i64) -> String {
    portcullis_model::time::rfc3339(secs as f64)
}

struct Log {
    text: String,
    n: u64,
}

/// One container's spec as a release pipeline writes it: resources, probes, non-root.
fn container(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image, "ports": [{"containerPort": 8080}],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
        "securityContext": {"runAsNonRoot": true, "runAsUser": 10001, "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}})
}

fn pod_spec(sa: &str, containers: Vec<Value>) -> Value {
    json!({"serviceAccountName": sa, "automountServiceAccountToken": false,
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": containers})
}

impl Log {
    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        at: i64,
        user: &str,
        verb: &str,
        resource: &str,
        group: &str,
        ns: &str,
        name: &str,
        body: Value,
    ) {
        self.n += 1;
        let ua = match user {
            ARGO => "release-bot/4.2.0 (gitlab-ci)",
            u if u.starts_with("system:serviceaccount:kube-system:") => {
                "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46"
            }
            _ => "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
        };
        let ip = if user == ARGO {
            "10.0.4.17"
        } else if user.contains('@') {
            "10.8.1.23"
        } else {
            "10.0.0.2"
        };
        let api = if group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{group}/v1")
        };
        let e = json!({"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request",
            "auditID": format!("{:08x}-0000-4000-8000-{:012x}", self.n, self.n), "stage": "ResponseComplete",
            "requestURI": format!("{api}/namespaces/{ns}/{resource}"), "verb": verb,
            "user": {"username": user, "groups": ["system:authenticated"]}, "sourceIPs": [ip], "userAgent": ua,
            "objectRef": {"resource": resource, "namespace": ns, "name": name, "apiGroup": group, "apiVersion": "v1"},
            "responseStatus": {"metadata": {}, "code": if verb == "create" { 201 } else { 200 }},
            "requestObject": body, "requestReceivedTimestamp": rfc3339(at), "stageTimestamp": rfc3339(at)});
        let _ = writeln!(self.text, "{e}");
    }

    /// A Deployment written by `user`, and the two pods its ReplicaSet makes.
    fn deploy(&mut self, at: i64, user: &str, ns: &str, name: &str, spec: Value) {
        let verb = if self.n.is_multiple_of(3) {
            "create"
        } else {
            "update"
        };
        let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                "template": {"metadata": {"labels": {"app": name}}, "spec": spec.clone()}}});
        self.event(at, user, verb, "deployments", "apps", ns, name, body);
        for i in 0..2 {
            let pod = json!({"kind": "Pod", "apiVersion": "v1",
                "metadata": {"generateName": format!("{name}-7d9f8-"), "namespace": ns, "labels": {"app": name},
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{name}-7d9f8"), "uid": "8c800470-d85f-11e8-88b6-080027728ac4", "controller": true}]},
                "spec": spec.clone()});
            self.event(at + 2 + i, RS, "create", "pods", "", ns, "", pod);
        }
    }
}

/// The services the CD bot releases, with the image each runs (payments pins by digest).
fn release(ns: &str, svc: &str, version: u32) -> Value {
    let image = match ns {
        // Payments releases one tag, pinned: the digest is the release.
        "payments" => format!("ghcr.io/acme/{svc}:1.4.0@{DIGEST_A}"),
        _ => format!("ghcr.io/acme/{svc}:2.{version}.0"),
    };
    pod_spec(svc, vec![container(svc, &image)])
}

/// Four weeks of the cluster, and the injections of the last week with what each must
/// raise.
fn month() -> (String, Vec<(String, &'static str)>) {
    let mut log = Log {
        text: String::new(),
        n: 0,
    };
    let services = [
        ("shop", "web"),
        ("shop", "cart"),
        ("payments", "api"),
        ("team-a", "worker"),
    ];
    let mut injected = Vec::new();
    for day in 0..28i64 {
        let midnight = START + day * 86_400;
        let weekday = day % 7 < 5;
        // The nightly backup CronJob: its Job and pod, every day at 02:00.
        let at = midnight + 2 * 3600;
        let job_spec = pod_spec(
            "backup",
            vec![container("backup", "ghcr.io/acme/backup:3.1.0")],
        );
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": format!("backup-{day}"), "namespace": "ops",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "backup", "uid": "1c800470-d85f-11e8-88b6-080027728ac4", "controller": true}]},
            "spec": {"template": {"spec": job_spec.clone()}}});
        log.event(
            at,
            CRONJOB,
            "create",
            "jobs",
            "batch",
            "ops",
            &format!("backup-{day}"),
            job,
        );
        let pod = json!({"kind": "Pod", "apiVersion": "v1",
            "metadata": {"generateName": format!("backup-{day}-"), "namespace": "ops",
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": format!("backup-{day}"), "uid": "2c800470-d85f-11e8-88b6-080027728ac4", "controller": true}]},
            "spec": job_spec});
        log.event(at + 1, JOB, "create", "pods", "", "ops", "", pod);
        if !weekday {
            continue;
        }
        // The CD bot releases each service a few times a working day, 09–17 UTC.
        for (i, (ns, svc)) in services.iter().enumerate() {
            for k in 0..2i64 {
                let at = midnight + (9 + (i as i64 * 2 + k * 4 + day) % 8) * 3600 + 600 * i as i64;
                log.deploy(at, ARGO, ns, svc, release(ns, svc, (day / 2) as u32));
            }
        }
        // Alice runs her tools in team-a, mid-day.
        let at = midnight + (11 + day % 4) * 3600;
        log.deploy(
            at,
            "alice@example.com",
            "team-a",
            "notebook",
            pod_spec(
                "notebook",
                vec![container("notebook", "ghcr.io/acme/notebook:1.0.0")],
            ),
        );
        if day < 21 {
            continue;
        }
        // The last week: one injection a day, each looks like an ordinary release.
        let (t, who, ns, name, spec, expect): (i64, &str, &str, &str, Value, &str) = match day {
            21 => (
                midnight + 11 * 3600 + 120,
                "mallory@example.com",
                "payments",
                "api",
                release("payments", "api", 0),
                "EXP001",
            ),
            22 => (
                midnight + 10 * 3600 + 300,
                ARGO,
                "shop",
                "web",
                pod_spec(
                    "web",
                    vec![container("web", "quay.io/cloudtools/webhook-relay:1.2.0")],
                ),
                "EXP002",
            ),
            23 => (
                midnight + 14 * 3600 + 60,
                ARGO,
                "payments",
                "api",
                pod_spec(
                    "api",
                    vec![container(
                        "api",
                        &format!("ghcr.io/acme/api:1.4.0@{DIGEST_B}"),
                    )],
                ),
                "EXP003",
            ),
            24 => {
                let mut c = container("worker", "ghcr.io/acme/worker:2.12.0");
                c["securityContext"]["allowPrivilegeEscalation"] = json!(true);
                (
                    midnight + 15 * 3600 + 60,
                    ARGO,
                    "team-a",
                    "worker",
                    pod_spec("worker", vec![c]),
                    "EXP004",
                )
            }
            25 => {
                let mut s = release("shop", "cart", 12);
                s["nodeName"] = json!("node-c1");
                (
                    midnight + 10 * 3600 + 900,
                    ARGO,
                    "shop",
                    "cart",
                    s,
                    "EXP005",
                )
            }
            // The weekend injections come after this loop, which skips weekends.
            _ => continue,
        };
        log.deploy(t, who, ns, name, spec);
        injected.push((rfc3339(t), expect));
    }
    // The weekend injections (days 26, 27 are Saturday and Sunday).
    for (day, hour, who, ns, name, image, expect) in [
        (
            26i64,
            3i64,
            "alice@example.com",
            "team-a",
            "notebook",
            "ghcr.io/acme/notebook:1.0.0",
            "EXP006",
        ),
        (
            27,
            12,
            "alice@example.com",
            "tmp-build",
            "builder",
            "ghcr.io/acme/notebook:1.0.0",
            "EXP007",
        ),
    ] {
        let t = START + day * 86_400 + hour * 3600;
        log.deploy(
            t,
            who,
            ns,
            name,
            pod_spec(name, vec![container(name, image)]),
        );
        injected.push((rfc3339(t), expect));
    }
    // Audit logs are in time order.
    let mut lines: Vec<&str> = log.text.lines().collect();
    lines.sort_by_key(|l| {
        serde_json::from_str::<Value>(l)
            .ok()
            .and_then(|v| v["stageTimestamp"].as_str().map(str::to_string))
            .unwrap_or_default()
    });
    (lines.join("\n") + "\n", injected)
}

fn rank_of(a: &Value) -> u8 {
    rank(a["severity"].as_str().unwrap_or("info"))
}

#[test]
fn a_month_learnt_on_three_weeks_catches_every_quiet_injection_in_the_fourth() {
    let dir = tempfile::tempdir().expect("tmp");
    let (text, injected) = month();
    let log = dir.path().join("audit.log");
    std::fs::write(&log, &text).expect("write");
    let saved = dir.path().join("learnt.yaml");
    let with = run(&[
        "hunt",
        "--format",
        "jsonl",
        "--quiet",
        "--learn-first",
        "21d",
        "--save-baseline",
        saved.to_str().unwrap_or(""),
        log.to_str().unwrap_or(""),
    ]);
    assert_ne!(
        with.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    let with = alerts(&with);
    let without = alerts(&run(&[
        "hunt",
        "--format",
        "jsonl",
        "--quiet",
        log.to_str().unwrap_or(""),
    ]));
    let judged_from = rfc3339(START + 21 * 86_400);
    let judged = |a: &&Value| {
        a["time"]
            .as_str()
            .is_some_and(|t| t >= judged_from.as_str())
    };
    // Every injection is caught at medium or above by the rule made for it.
    for (time, code) in &injected {
        let caught: Vec<&Value> = with
            .iter()
            .filter(|a| a["time"] == time.as_str() && a["rule"]["id"] == *code)
            .collect();
        assert!(
            caught.iter().any(|a| rank_of(a) >= rank("medium")),
            "{code} at {time} not caught: {:?}",
            with.iter()
                .filter(|a| a["time"] == time.as_str())
                .map(|a| (&a["rule"]["id"], &a["severity"]))
                .collect::<Vec<_>>()
        );
        // None of them is risky by its spec: without a baseline, no spec rule at medium or
        // above names it (beyond the node pin, which PLC001 rates medium by spec alone).
        // The change rules (MOD) may: an update is judged against the previous version in
        // the log, with or without a baseline.
        let without_baseline: Vec<String> = without
            .iter()
            .filter(|a| a["time"] == time.as_str() && rank_of(a) >= rank("medium"))
            .map(|a| a["rule"]["id"].as_str().unwrap_or("").to_string())
            .filter(|r| r != "ACT004")
            .collect();
        let spec_alone: Vec<&String> = without_baseline
            .iter()
            .filter(|r| !r.starts_with("MOD"))
            .collect();
        assert!(
            spec_alone.is_empty() || *code == "EXP005",
            "{code}: the spec alone already raises {spec_alone:?}"
        );
        eprintln!("{code} at {time}: without a baseline {without_baseline:?}");
    }
    // The noise: alerts at medium or above in the judged week that are not injections.
    // One is expected: the release after the EXP002 injection swaps `web` back from the
    // injected repository, a change MOD001 reports.
    let noise = |alerts: &[Value]| {
        alerts
            .iter()
            .filter(judged)
            .filter(|a| rank_of(a) >= rank("medium"))
            .filter(|a| !injected.iter().any(|(t, _)| a["time"] == t.as_str()))
            .count()
    };
    for a in with
        .iter()
        .filter(judged)
        .filter(|a| rank_of(a) >= rank("medium"))
    {
        if !injected.iter().any(|(t, _)| a["time"] == t.as_str()) {
            eprintln!("other: {} {} {}", a["time"], a["rule"]["id"], a["message"]);
        }
    }
    let (with_noise, without_noise) = (noise(&with), noise(&without));
    eprintln!(
        "judged week: {} alerts >= medium that are not injections with the baseline ({:.2}/day), {} without ({:.2}/day)",
        with_noise,
        with_noise as f64 / 7.0,
        without_noise,
        without_noise as f64 / 7.0
    );
    assert!(with_noise < 7, "under one a day: {with_noise}");
    assert!(
        without_noise > with_noise,
        "the baseline quiets the CD pipeline's ACT004"
    );
    // The learnt baseline is the reviewable file, and nothing of the last week is in it.
    let yaml = std::fs::read_to_string(&saved).expect("saved baseline");
    assert!(yaml.contains("k8s/payments"), "{yaml}");
    assert!(!yaml.contains("mallory"), "{yaml}");
    let show = run(&["baseline", "show", saved.to_str().unwrap_or("")]);
    assert!(String::from_utf8_lossy(&show.stdout).contains("k8s/shop"));
}

#[test]
fn learn_show_diff_and_merge_as_a_user_runs_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let (text, _) = month();
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let (fa, fb) = (dir.path().join("a.log"), dir.path().join("b.log"));
    std::fs::write(&fa, a.join("\n")).expect("w");
    std::fs::write(&fb, b.join("\n")).expect("w");
    let out = |n: &str| dir.path().join(n).to_str().unwrap_or("").to_string();
    for (log, yaml) in [(&fa, out("a.yaml")), (&fb, out("b.yaml"))] {
        let r = run(&["baseline", "learn", log.to_str().unwrap_or(""), "-o", &yaml]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let diff = run(&["baseline", "diff", &out("a.yaml"), &out("b.yaml")]);
    assert_eq!(diff.status.code(), Some(1), "the halves differ");
    let text = String::from_utf8_lossy(&diff.stdout).to_string();
    assert!(text.contains("+ k8s/tmp-build: new scope"), "{text}");
    let merged = run(&[
        "baseline",
        "merge",
        &out("a.yaml"),
        &out("b.yaml"),
        "-o",
        &out("m.yaml"),
    ]);
    assert!(merged.status.success());
    let same = run(&["baseline", "diff", &out("m.yaml"), &out("m.yaml")]);
    assert_eq!(same.status.code(), Some(0));
    // A risky deployment is never learnt: a privileged pod during learning stays unexpected.
    let risky = dir.path().join("risky.log");
    std::fs::write(
        &risky,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"r1","stage":"ResponseComplete","verb":"create","user":{"username":"mallory@example.com"},"objectRef":{"resource":"pods","namespace":"shop","name":"x","apiVersion":"v1"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","metadata":{"name":"x"},"spec":{"containers":[{"name":"x","image":"alpine","securityContext":{"privileged":true}}]}},"stageTimestamp":"2026-11-20T10:00:00Z"}"#,
    )
    .expect("w");
    let r = run(&[
        "baseline",
        "learn",
        risky.to_str().unwrap_or(""),
        "-o",
        &out("r.yaml"),
    ]);
    assert!(r.status.success());
    assert!(
        String::from_utf8_lossy(&r.stderr).contains("1 refused as risky"),
        "{}",
        String::from_utf8_lossy(&r.stderr)
    );
    let yaml = std::fs::read_to_string(out("r.yaml")).expect("r.yaml");
    assert!(!yaml.contains("mallory"), "{yaml}");
    // A baseline that is not one is refused with its name.
    std::fs::write(out("bad.yaml"), "scopes: [1, 2]\n").expect("w");
    let r = run(&[
        "hunt",
        "--baseline",
        &out("bad.yaml"),
        fa.to_str().unwrap_or(""),
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("bad.yaml"));
}

/// The inventory the month's cluster would have in its CMDB.
const INVENTORY: &str = "\
# scope,owner,environment,registries,images,deployers,change_windows
scope,owner,environment,registries,images,deployers,change_windows
k8s/shop,shop-team,prod,ghcr.io,,system:serviceaccount:cicd:*,mon-fri 08:00-18:00
k8s/payments,payments-team,prod,ghcr.io,,system:serviceaccount:cicd:release-bot,mon-fri 08:00-18:00
k8s/team-a,team-a,dev,ghcr.io,,system:serviceaccount:cicd:*;alice@example.com,mon-fri 08:00-18:00
k8s/ops,platform,prod,ghcr.io,,,
";

#[test]
fn an_inventory_is_a_baseline_a_person_wrote() {
    let dir = tempfile::tempdir().expect("tmp");
    let (text, injected) = month();
    let log = dir.path().join("audit.log");
    std::fs::write(&log, &text).expect("write");
    let inv = dir.path().join("cmdb.csv");
    std::fs::write(&inv, INVENTORY).expect("write");
    let out = run(&[
        "hunt",
        "--format",
        "jsonl",
        "--quiet",
        "--inventory",
        inv.to_str().unwrap_or(""),
        log.to_str().unwrap_or(""),
    ]);
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = alerts(&out);
    // What an inventory can know: deployers, registries, change windows, places.
    for (time, code) in injected
        .iter()
        .filter(|(_, c)| ["EXP001", "EXP002", "EXP006", "EXP007"].contains(c))
    {
        assert!(
            found.iter().any(|a| a["time"] == time.as_str()
                && a["rule"]["id"] == *code
                && rank_of(a) >= rank("medium")),
            "{code} at {time}: {:?}",
            found
                .iter()
                .filter(|a| a["time"] == time.as_str())
                .map(|a| &a["rule"]["id"])
                .collect::<Vec<_>>()
        );
    }
    // The CD bot, inside its windows and registries, raises nothing it did not before.
    let noise = found
        .iter()
        .filter(|a| rank_of(a) >= rank("medium"))
        .filter(|a| !injected.iter().any(|(t, _)| a["time"] == t.as_str()))
        .filter(|a| a["rule"]["id"].as_str().unwrap_or("").starts_with("EXP"))
        .count();
    assert_eq!(noise, 0, "the month's ordinary deploys fit the inventory");
    // scan --inventory in CI: a manifest with an image from an unlisted registry, and one
    // for a namespace the inventory does not list.
    let manifests = dir.path().join("deploy.yaml");
    std::fs::write(
        &manifests,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cache, namespace: shop}\nspec:\n  template:\n    spec:\n      containers: [{name: redis, image: docker.io/library/redis:7.4}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: scratch}\nspec:\n  containers: [{name: x, image: ghcr.io/acme/x:1}]\n",
    )
    .expect("write");
    let out = run(&[
        "scan",
        "--format",
        "jsonl",
        "--inventory",
        inv.to_str().unwrap_or(""),
        manifests.to_str().unwrap_or(""),
    ]);
    let codes: Vec<(String, String)> = alerts(&out)
        .iter()
        .map(|a| {
            (
                a["rule"]["id"].as_str().unwrap_or("").to_string(),
                a["target"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        codes.contains(&("EXP002".into(), "cache".into())),
        "{codes:?}"
    );
    assert!(codes.contains(&("EXP007".into(), "x".into())), "{codes:?}");
    // A broken inventory is refused with its file and line.
    std::fs::write(&inv, "scope,change_windows\nk8s/shop,someday 9-5\n").expect("write");
    let out = run(&[
        "scan",
        "--inventory",
        inv.to_str().unwrap_or(""),
        manifests.to_str().unwrap_or(""),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cmdb.csv"));
}

#[test]
fn a_docker_host_unknown_to_the_inventory_and_a_month_of_docker_events() {
    let dir = tempfile::tempdir().expect("tmp");
    // Process records (Auditbeat ECS) of `docker run` on two hosts; the CMDB lists one.
    let ecs = |host: &str, n: u32| {
        json!({"@timestamp": "2026-11-24T10:00:00Z", "event": {"category": ["process"], "type": ["start"], "id": format!("e{n}")},
            "process": {"executable": "/usr/bin/docker", "args": ["docker", "run", "-d", "--name", format!("web{n}"), "ghcr.io/acme/web:2.1.0"]},
            "host": {"hostname": host}, "user": {"name": "deploy"}})
        .to_string()
    };
    let log = dir.path().join("process.json");
    std::fs::write(
        &log,
        format!("{}\n{}\n", ecs("docker-1", 1), ecs("rogue-7", 2)),
    )
    .expect("write");
    let inv = dir.path().join("cmdb.json");
    std::fs::write(&inv, r#"[{"scope": "host/docker-1", "owner": "platform", "environment": "prod", "registries": ["ghcr.io"]}]"#).expect("write");
    let found = alerts(&run(&[
        "hunt",
        "--format",
        "jsonl",
        "--quiet",
        "--inventory",
        inv.to_str().unwrap_or(""),
        log.to_str().unwrap_or(""),
    ]));
    let unknown: Vec<&str> = found
        .iter()
        .filter(|a| a["rule"]["id"] == "EXP007")
        .filter_map(|a| a["target"]["name"].as_str())
        .collect();
    assert_eq!(
        unknown,
        vec!["web2"],
        "only the container on the unlisted host: {found:?}"
    );
    // A Docker host's event log over four weeks: the shop project's containers start on
    // weekdays from ghcr.io; in the last week, one starts from another registry and a
    // new project appears.
    let mut events = String::new();
    let mut injected = Vec::new();
    for day in 0..28i64 {
        if day % 7 >= 5 {
            continue;
        }
        for (k, svc) in ["web", "cart", "db"].iter().enumerate() {
            let t = START + day * 86_400 + (10 + k as i64) * 3600;
            let image = if *svc == "db" {
                "ghcr.io/acme/postgres:16".to_string()
            } else {
                format!("ghcr.io/acme/{svc}:2.{}.0", day / 3)
            };
            let _ = writeln!(
                events,
                "{}",
                docker_event(t, &format!("shop-{svc}-1"), &image, "shop")
            );
        }
    }
    for (t, name, image, project, code) in [
        (
            START + 22 * 86_400 + 15 * 3600,
            "shop-web-1",
            "docker.io/someone/web:1.0",
            "shop",
            "EXP002",
        ),
        (
            START + 23 * 86_400 + 11 * 3600,
            "miner-1",
            "ghcr.io/acme/web:2.7.0",
            "tools",
            "EXP007",
        ),
    ] {
        let _ = writeln!(events, "{}", docker_event(t, name, image, project));
        injected.push((rfc3339(t), code));
    }
    let mut lines: Vec<&str> = events.lines().collect();
    lines.sort_by_key(|l| {
        serde_json::from_str::<Value>(l)
            .ok()
            .and_then(|v| v["time"].as_i64())
            .unwrap_or(0)
    });
    let log = dir.path().join("docker-events.json");
    std::fs::write(&log, lines.join("\n") + "\n").expect("write");
    let found = alerts(&run(&[
        "hunt",
        "--format",
        "jsonl",
        "--quiet",
        "--learn-first",
        "21d",
        log.to_str().unwrap_or(""),
    ]));
    for (time, code) in &injected {
        assert!(
            found
                .iter()
                .any(|a| a["time"] == time.as_str() && a["rule"]["id"] == *code),
            "{code} at {time}: {:?}",
            found
                .iter()
                .filter(|a| a["time"] == time.as_str())
                .map(|a| &a["rule"]["id"])
                .collect::<Vec<_>>()
        );
    }
    let other = found
        .iter()
        .filter(|a| a["rule"]["id"].as_str().unwrap_or("").starts_with("EXP"))
        .filter(|a| !injected.iter().any(|(t, _)| a["time"] == t.as_str()))
        .count();
    assert_eq!(other, 0, "ordinary starts are expected: {found:?}");
}

/// One `docker events --format '{{json .}}'` start of a Compose service's container.
fn docker_event(t: i64, name: &str, image: &str, project: &str) -> String {
    json!({"status": "start", "id": format!("{:064x}", t), "from": image, "Type": "container", "Action": "start",
        "Actor": {"ID": format!("{:064x}", t), "Attributes": {"image": image, "name": name,
            "com.docker.compose.project": project, "com.docker.compose.service": name.split('-').nth(1).unwrap_or(name)}},
        "scope": "local", "time": t, "timeNano": t * 1_000_000_000})
    .to_string()
}
