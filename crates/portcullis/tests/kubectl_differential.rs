//! Differential test of `scan`'s YAML reading against kubectl, the consumer of a manifest.
//! `kubectl label --local -f FILE probe=1 -o json` (Debian's kubectl, offline) prints every
//! object exactly as kubectl would send it: YAML 1.1 scalars, anchors, merge keys. Each
//! generated document is read twice by Portcullis — from the YAML, and from kubectl's JSON
//! — and the pods must be the same. A document Portcullis refuses (a key given twice,
//! which kubectl silently resolves to the last) is counted, never judged differently.

mod common;

use common::Rng;
use portcullis_sources::manifest;
use serde_json::Value;
use std::fmt::Write as _;
use std::process::Command;

/// Boolean spellings YAML 1.1 (kubectl's sigs.k8s.io/yaml) reads as booleans, and some
/// it reads as strings.
const BOOLS: &[&str] = &[
    "true", "false", "True", "FALSE", "yes", "no", "Yes", "NO", "on", "off", "On", "OFF", "y", "n",
    "Y", "N", "\"true\"", "'yes'",
];
const INTS: &[&str] = &[
    "0", "1000", "010", "0x0", "+0", "-1", "\"0\"", "0o0", "1_000",
];
const PATHS: &[&str] = &[
    "/",
    "/etc",
    "/var/run",
    "/var/run/docker.sock",
    "/proc/1/root",
    "/data",
];

fn document(rng: &mut Rng, i: usize) -> String {
    let mut d = String::new();
    let kind = *rng.pick(&["Pod", "Deployment", "DaemonSet"]);
    let api = if kind == "Pod" { "v1" } else { "apps/v1" };
    let _ = writeln!(
        d,
        "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: doc-{i}"
    );
    if kind == "Pod" {
        d.push_str("spec:\n");
    } else {
        let _ = write!(
            d,
            "spec:\n  selector: {{matchLabels: {{app: a}}}}\n  template:\n    metadata: {{labels: {{app: a}}}}\n    spec:\n"
        );
    }
    let s = if kind == "Pod" { "  " } else { "      " };
    for field in ["hostPID", "hostNetwork", "hostIPC"] {
        if rng.chance(40) {
            let _ = writeln!(d, "{s}{field}: {}", rng.pick(BOOLS));
        }
    }
    let anchored = rng.chance(30);
    let _ = writeln!(d, "{s}containers:");
    let _ = writeln!(d, "{s}- name: main");
    let _ = writeln!(
        d,
        "{s}  image: {}",
        rng.pick(&["alpine", "nginx:1.27", "\"busybox\""])
    );
    if anchored {
        let _ = writeln!(d, "{s}  securityContext: &sc");
    } else {
        let _ = writeln!(d, "{s}  securityContext:");
    }
    let _ = writeln!(d, "{s}    privileged: {}", rng.pick(BOOLS));
    if rng.chance(50) {
        let _ = writeln!(d, "{s}    runAsUser: {}", rng.pick(INTS));
    }
    if rng.chance(40) {
        let _ = writeln!(d, "{s}    allowPrivilegeEscalation: {}", rng.pick(BOOLS));
    }
    if rng.chance(40) {
        let _ = writeln!(
            d,
            "{s}    capabilities: {{add: [{}]}}",
            rng.pick(&["SYS_ADMIN", "NET_ADMIN", "\"ALL\""])
        );
    }
    let with_volume = rng.chance(50);
    if with_volume {
        let _ = writeln!(
            d,
            "{s}  volumeMounts: [{{name: h, mountPath: /h, readOnly: {}}}]",
            rng.pick(BOOLS)
        );
    }
    if rng.chance(50) {
        // A second container built with a merge key, or an alias of the first's context.
        let _ = writeln!(d, "{s}- name: side");
        let _ = writeln!(d, "{s}  image: busybox");
        if anchored {
            let _ = writeln!(d, "{s}  securityContext: *sc");
        } else {
            let _ = writeln!(
                d,
                "{s}  securityContext: {{<<: {{privileged: {}}}, runAsUser: {}}}",
                rng.pick(BOOLS),
                rng.pick(INTS)
            );
        }
    }
    if with_volume {
        let _ = writeln!(
            d,
            "{s}volumes: [{{name: h, hostPath: {{path: {}}}}}]",
            rng.pick(PATHS)
        );
    }
    if rng.chance(8) {
        // A key given twice: kubectl keeps the last.
        let _ = writeln!(d, "{s}hostPID: true\n{s}hostPID: false");
    }
    d
}

fn pods(batch: &portcullis_sources::Batch) -> Vec<(String, Value)> {
    batch
        .deployments
        .iter()
        .map(|d| {
            let mut pod = serde_json::to_value(&d.pod).unwrap_or_default();
            // Where the spec sits and the document's position are not what kubectl prints.
            if let Some(m) = pod.as_object_mut() {
                m.remove("path");
            }
            (d.target.name.clone().unwrap_or_default(), pod)
        })
        .collect()
}

#[test]
fn scan_reads_yaml_as_kubectl_does() {
    let cases: usize = std::env::var("PORTCULLIS_KUBECTL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let mut rng = Rng(0x6b75_6265);
    let dir = tempfile::tempdir().expect("tmp");
    let (mut compared, mut refused) = (0, 0);
    let mut mismatches = Vec::new();
    // kubectl reads one file of many documents per run (it prints a List).
    for chunk in 0..cases.div_ceil(100) {
        let docs: Vec<String> = (0..100.min(cases - chunk * 100))
            .map(|i| document(&mut rng, chunk * 100 + i))
            .collect();
        let yaml = docs.join("---\n");
        let file = dir.path().join(format!("docs-{chunk}.yaml"));
        std::fs::write(&file, &yaml).expect("write");
        let out = Command::new("kubectl")
            .args(["label", "--local", "-o", "json", "probe=1", "-f"])
            .arg(&file)
            .output()
            .expect("kubectl runs (scripts/test installs it)");
        assert!(
            out.status.success(),
            "kubectl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let theirs = manifest::read(&String::from_utf8_lossy(&out.stdout), "kubectl.json");
        assert!(theirs.errors.is_empty(), "{:?}", theirs.errors);
        let theirs = pods(&theirs);
        let ours_batch = manifest::read(&yaml, "docs.yaml");
        refused += ours_batch.errors.len();
        for e in &ours_batch.errors {
            assert!(
                e.message.contains("duplicate"),
                "only repeated keys are refused: {e}"
            );
        }
        let ours = pods(&ours_batch);
        for (name, pod) in &ours {
            let Some((_, want)) = theirs.iter().find(|(n, _)| n == name) else {
                mismatches.push(format!("{name}: kubectl printed no such object"));
                continue;
            };
            compared += 1;
            if want != pod {
                let i: usize = name.trim_start_matches("doc-").parse().unwrap_or(0);
                mismatches.push(format!(
                    "{name}\n--- yaml\n{}\n--- kubectl's reading\n{want}\n--- ours\n{pod}",
                    docs[i - chunk * 100]
                ));
            }
        }
    }
    eprintln!(
        "kubectl differential: {cases} documents, {compared} compared, {refused} refused (keys given twice), {} mismatches",
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
    assert!(compared > cases / 2);
}
