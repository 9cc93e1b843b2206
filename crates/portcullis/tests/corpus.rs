//! The shared attack corpus, scanned as a user would: the built binary, real files,
//! verdicts from `shared/corpus/README.md`.
//!
//! Verdict words map to the highest severity of a document: ALERT-high = high or above,
//! ALERT-medium = medium, ALERT-low/inventory = low or below, NO-ALERT = info at most.

mod common;
use common::*;
use std::path::Path;

#[test]
fn bad_pods_are_flagged_with_their_category_severity() {
    let dir = format!("{SHARED}/corpus/badPods/manifests");
    let out = run(&["scan", &dir, "--format", "jsonl"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "high findings exit 1");
    let files = max_by_file(&alerts(&out));
    let mut seen = 0;
    for entry in walk(Path::new(&dir)) {
        let path = entry.display().to_string();
        let rel = path.trim_start_matches(&format!("{dir}/")).to_string();
        let category = rel.split('/').next().unwrap_or_default();
        let revshell = rel.contains("-revshell-");
        let (sev, rules) = files
            .get(&path)
            .cloned()
            .unwrap_or_else(|| panic!("{rel}: no alert at all"));
        let has = |code: &str| rules.iter().any(|r| r == code);
        seen += 1;
        match category {
            "everything-allowed" => {
                assert!(sev >= rank("high"), "{rel}");
                assert!(
                    has("PRV001")
                        && has("MNT001")
                        && has("PRV002")
                        && has("PRV003")
                        && has("PRV004"),
                    "{rel}: {rules:?}"
                );
            }
            "priv-and-hostpid" => {
                assert!(sev >= rank("high"), "{rel}");
                assert!(
                    has("PRV001") && has("PRV002") && has("PAY004"),
                    "{rel}: nsenter into PID 1: {rules:?}"
                );
            }
            "priv" => assert!(sev >= rank("high") && has("PRV001"), "{rel}"),
            "hostpath" => assert!(sev >= rank("high") && has("MNT001"), "{rel}"),
            "hostpid" | "hostnetwork" | "hostipc" => {
                let code = match category {
                    "hostpid" => "PRV002",
                    "hostnetwork" => "PRV004",
                    _ => "PRV003",
                };
                assert!(has(code), "{rel}: {rules:?}");
                // The exec variants are exactly medium; revshell variants rise with PAY003.
                // (Upstream's hostipc revshell DaemonSet also sets hostNetwork and hostPID.)
                if !revshell {
                    assert_eq!(sev, rank("medium"), "{rel}: {rules:?}");
                }
            }
            "nothing-allowed" => {
                if revshell {
                    assert!(
                        has("PAY003"),
                        "{rel}: the ncat -e command must be flagged: {rules:?}"
                    );
                    assert!(
                        has("IMG006"),
                        "{rel}: raesene/ncat is an offensive tool image"
                    );
                } else {
                    assert!(sev <= rank("low"), "{rel}: {rules:?}");
                }
            }
            other => panic!("unknown category {other}"),
        }
        if revshell {
            assert!(
                has("PAY003"),
                "{rel}: reverse shell in every revshell variant"
            );
        }
    }
    assert_eq!(seen, 128);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "yaml") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn max_of(path: &str) -> (u8, Vec<String>) {
    let out = run(&["scan", path, "--format", "jsonl"]);
    assert_ne!(
        out.status.code(),
        Some(2),
        "{path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    max_by_file(&alerts(&out))
        .remove(path)
        .unwrap_or((0, Vec::new()))
}

#[test]
fn kubernetes_goat_verdicts() {
    let root = format!("{SHARED}/corpus/kubernetes-goat/scenarios");
    let high = [
        ("system-monitor/deployment.yaml", "MNT001"),
        ("health-check/deployment.yaml", "MNT002"),
        ("docker-bench-security/deployment.yaml", "MNT002"),
    ];
    for (f, code) in high {
        let (sev, rules) = max_of(&format!("{root}/{f}"));
        assert!(
            sev >= rank("high") && rules.iter().any(|r| r == code),
            "{f}: {rules:?}"
        );
    }
    // A legitimate tool that looks dangerous: medium, read-only mounts, until allow-listed.
    for f in [
        "kube-bench-security/master-job.yaml",
        "kube-bench-security/node-job.yaml",
    ] {
        let (sev, rules) = max_of(&format!("{root}/{f}"));
        assert_eq!(sev, rank("medium"), "{f}: {rules:?}");
        assert!(rules.iter().any(|r| r == "MNT004"), "{f}: {rules:?}");
    }
    for f in [
        "batch-check/job.yaml",
        "build-code/deployment.yaml",
        "cache-store/deployment.yaml",
        "hidden-in-layers/deployment.yaml",
        "hunger-check/deployment.yaml",
        "internal-proxy/deployment.yaml",
        "kubernetes-goat-home/deployment.yaml",
        "poor-registry/deployment.yaml",
    ] {
        let (sev, rules) = max_of(&format!("{root}/{f}"));
        assert!(sev <= rank("low"), "{f}: {rules:?}");
    }
}

#[test]
fn kube_bench_is_quiet_once_excepted_by_namespace_and_image_but_a_mimic_is_not() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("config.yaml");
    std::fs::write(
        &cfg,
        "exceptions:\n  - name: kube-bench\n    rules: [MNT, PRV002, PLC]\n    fields: [target.namespace, container.image.name]\n    values:\n      - [security-tools, docker.io/aquasec/kube-bench]\n",
    )
    .expect("write");
    let cfg = cfg.to_str().expect("utf8");
    for f in ["master-job.yaml", "node-job.yaml"] {
        let text = std::fs::read_to_string(format!(
            "{SHARED}/corpus/kubernetes-goat/scenarios/kube-bench-security/{f}"
        ))
        .expect("read");
        let placed =
            |ns: &str| text.replacen("metadata:\n", &format!("metadata:\n  namespace: {ns}\n"), 1);
        let out = run_stdin(
            &["scan", "-", "--format", "jsonl", "--config", cfg],
            &placed("security-tools"),
        );
        let a = alerts(&out);
        assert!(
            a.iter()
                .all(|x| rank(x["severity"].as_str().unwrap_or("")) <= rank("low")),
            "{f}: {a:?}"
        );
        // The same image deployed elsewhere is not excused: the image name alone proves nothing.
        let out = run_stdin(
            &["scan", "-", "--format", "jsonl", "--config", cfg],
            &placed("default"),
        );
        let a = alerts(&out);
        assert!(a.iter().any(|x| x["rule"]["id"] == "MNT004"), "{f}: {a:?}");
    }
}

#[test]
fn event_generator_verdicts() {
    let root = format!("{SHARED}/corpus/falco-event-generator/events/k8saudit/yaml");
    let cases = [
        ("create-privileged-pod.yaml", "high", Some("PRV001")),
        ("create-sensitive-mount-pod.yaml", "medium", Some("MNT003")),
        ("create-host-network-pod.yaml", "medium", Some("PRV004")),
    ];
    for (f, min, code) in cases {
        let (sev, rules) = max_of(&format!("{root}/{f}"));
        assert!(sev >= rank(min), "{f}: {rules:?}");
        if let Some(c) = code {
            assert!(rules.iter().any(|r| r == c), "{f}: {rules:?}");
        }
    }
    for f in ["create-disallowed-pod.yaml", "k8s-deployment-created.yaml"] {
        let (sev, rules) = max_of(&format!("{root}/{f}"));
        assert!(sev <= rank("low"), "{f}: {rules:?}");
    }
    // RBAC, services, config maps: not deployments, no alert at all.
    for e in std::fs::read_dir(&root).expect("dir") {
        let p = e.expect("entry").path();
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with("cluster-role")
            || name.contains("configmap")
            || name.starts_with("k8s-service")
            || name.contains("node-port")
        {
            let out = run(&["scan", p.to_str().expect("utf8"), "--format", "jsonl"]);
            assert!(alerts(&out).is_empty(), "{name}");
        }
    }
}

/// The Falco regression traces are audit events; `scan` judges the pod spec they carry.
/// As the API server does, the object's namespace comes from `objectRef` when the body
/// leaves it out.
fn trace_spec(name: &str) -> String {
    let path = format!("{SHARED}/corpus/falco-k8s-audit-traces/test/trace_files/k8s_audit/{name}");
    let text = std::fs::read_to_string(&path).expect("trace");
    let mut docs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let e: serde_json::Value = serde_json::from_str(line).expect("json line");
        let mut obj = e["requestObject"].clone();
        if obj.is_null() {
            continue;
        }
        if let Some(ns) = e["objectRef"]["namespace"].as_str()
            && obj["metadata"]["namespace"].is_null()
        {
            obj["metadata"]["namespace"] = ns.into();
        }
        docs.push(obj.to_string());
    }
    docs.join("\n")
}

fn scan_trace(name: &str) -> (u8, Vec<String>, Vec<serde_json::Value>) {
    let out = run_stdin(&["scan", "-", "--format", "jsonl"], &trace_spec(name));
    assert_ne!(
        out.status.code(),
        Some(2),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let a = alerts(&out);
    let max = a
        .iter()
        .map(|x| rank(x["severity"].as_str().unwrap_or("info")))
        .max()
        .unwrap_or(0);
    let rules = a
        .iter()
        .map(|x| x["rule"]["id"].as_str().unwrap_or("").to_string())
        .collect();
    (max, rules, a)
}

#[test]
fn falco_audit_trace_pod_specs() {
    for f in [
        "create_nginx_pod_privileged.json",
        "create_nginx_pod_privileged_2nd_container.json",
        "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json",
    ] {
        let (sev, rules, a) = scan_trace(f);
        assert!(
            sev >= rank("high") && rules.iter().any(|r| r == "PRV001"),
            "{f}: {rules:?}"
        );
        if f.contains("2nd_container") {
            // The finding names the second container, the privileged one.
            let c: Vec<&str> = a
                .iter()
                .filter(|x| x["rule"]["id"] == "PRV001")
                .filter_map(|x| x["container"]["name"].as_str())
                .collect();
            assert!(!c.is_empty() && !c.contains(&"nginx1"), "{f}: {c:?}");
        }
    }
    let (sev, rules, _) = scan_trace("create_nginx_pod_hostnetwork.json");
    assert_eq!(sev, rank("medium"), "{rules:?}");
    for f in [
        "create_nginx_pod_sensitive_mount.json",
        "create_nginx_pod_sensitive_mount_2nd_container.json",
    ] {
        let (sev, rules, _) = scan_trace(f);
        assert!(
            sev >= rank("medium") && rules.iter().any(|r| r.starts_with("MNT")),
            "{f}: {rules:?}"
        );
    }
    for f in [
        "create_nginx_pod_nohostnetwork.json",
        "create_nginx_pod_unprivileged.json",
    ] {
        let (sev, rules, _) = scan_trace(f);
        assert_eq!(
            sev,
            rank("info"),
            "{f}: NO-ALERT allows hygiene notes only: {rules:?}"
        );
    }
    for f in [
        "create_pod_kube_system_namespace.json",
        "create_pod_kube_public_namespace.json",
    ] {
        let (sev, rules, _) = scan_trace(f);
        assert_eq!(sev, rank("medium"), "{f}: {rules:?}");
        assert!(rules.iter().any(|r| r == "WKL003"), "{f}: {rules:?}");
    }
    let (sev, rules, _) = scan_trace("create_deployment.json");
    assert!(sev <= rank("low"), "{rules:?}");
}
