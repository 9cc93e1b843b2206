//! `cargo bench -p portcullis --bench hunt -- --mb 1024 --assert`
//!
//! Writes a realistic Kubernetes audit log and a process (ECS) log of the given size into
//! `target/bench-data/`, then measures in the same run:
//! 1. the naive baseline: read every line and parse it into a `serde_json::Value`, one
//!    thread (what a script or a generic JSON pipeline does);
//! 2. `portcullis hunt` (the real binary, full pack, alerts as JSON lines to /dev/null), on
//!    every core and on one thread, with its peak resident memory read from /proc.
//!
//! Targets: hunt ≥ 2× the naive parse; peak memory < 100 MB.

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
    let body = body.map_or(String::new(), |b| format!(r#","requestObject":{b}"#));
    let _ = gv;
    let _ = writeln!(
        out,
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"{level}","auditID":"{:08x}-1f2a-4c3b-9d8e-{:012x}","stage":"{stage}","requestURI":"{api}/namespaces/{ns}/{resource}/{name}","verb":"{verb}","user":{},"sourceIPs":["10.0.{}.{}"],"userAgent":"{ua}","objectRef":{{"resource":"{resource}","namespace":"{ns}","name":"{name}","apiGroup":"{group}","apiVersion":"v1"}}{status}{body},"requestReceivedTimestamp":"{}","stageTimestamp":"{}","annotations":{{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: allowed by ClusterRoleBinding \"system:controller\""}}}}"#,
        n >> 16,
        n,
        user_json(user),
        n % 250,
        (n / 250) % 250,
        ts(n),
        ts(n + 3)
    );
}

fn write_audit(path: &Path, bytes: u64) -> std::io::Result<u64> {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut r = Rng(0x5DEECE66D);
    let (mut written, mut n, mut lines) = (0u64, 0u64, 0u64);
    let mut buf = String::with_capacity(1 << 16);
    while written < bytes {
        buf.clear();
        n += 1;
        let ns = r.pick(NAMESPACES);
        let node = r.pick(NODES);
        match r.below(1000) {
            // Reads: the bulk of any audit log.
            0..=679 => {
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
                event(
                    &mut buf,
                    n,
                    "ResponseComplete",
                    "Metadata",
                    verb,
                    &user,
                    ns,
                    res,
                    "",
                    "x",
                    200,
                    ua,
                    None,
                );
            }
            // Leases: every kubelet and controller, every few seconds.
            680..=899 => {
                let user = format!("system:node:{node}");
                event(
                    &mut buf,
                    n,
                    "ResponseComplete",
                    "Metadata",
                    "update",
                    &user,
                    "kube-node-lease",
                    "leases",
                    "coordination.k8s.io",
                    node,
                    200,
                    "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    None,
                );
            }
            // Other writes: events, endpoints, config maps.
            900..=969 => {
                let res = r.pick(&["events", "endpointslices", "configmaps"]);
                let verb = r.pick(&["create", "update", "patch"]);
                event(
                    &mut buf,
                    n,
                    "ResponseComplete",
                    "Metadata",
                    verb,
                    "system:serviceaccount:kube-system:endpointslice-controller",
                    ns,
                    res,
                    "",
                    "web",
                    200,
                    "kube-controller-manager/v1.31.2",
                    None,
                );
            }
            // Pod creates by the ReplicaSet controller, with bodies, in two stages.
            970..=994 => {
                let body = pod_body(&mut r, "web", ns, Some(("ReplicaSet", "web-5cdcc99dbf")));
                let user = "system:serviceaccount:kube-system:replicaset-controller";
                if r.below(5) == 0 {
                    event(
                        &mut buf,
                        n,
                        "RequestReceived",
                        "Request",
                        "create",
                        user,
                        ns,
                        "pods",
                        "",
                        "",
                        0,
                        "kube-controller-manager/v1.31.2",
                        Some(&body),
                    );
                }
                event(
                    &mut buf,
                    n,
                    "ResponseComplete",
                    "Request",
                    "create",
                    user,
                    ns,
                    "pods",
                    "",
                    "",
                    201,
                    "kube-controller-manager/v1.31.2",
                    Some(&body),
                );
            }
            // Workload creates by people.
            995..=998 => {
                let body = pod_body(&mut r, "api", ns, None).replacen(
                    r#"{"kind":"Pod","apiVersion":"v1","metadata":"#,
                    r#"{"kind":"Deployment","apiVersion":"apps/v1","metadata":"#,
                    1,
                );
                let body = format!(
                    r#"{{"kind":"Deployment","apiVersion":"apps/v1","metadata":{{"name":"api","namespace":"{ns}"}},"spec":{{"replicas":3,"selector":{{"matchLabels":{{"app":"api"}}}},"template":{}}}}}"#,
                    body.split_once(r#""metadata":"#)
                        .map(|(_, m)| format!("{{\"metadata\":{m}"))
                        .unwrap_or_default()
                );
                event(
                    &mut buf,
                    n,
                    "ResponseComplete",
                    "Request",
                    "create",
                    "alice@example.com",
                    ns,
                    "deployments",
                    "apps",
                    "",
                    201,
                    "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    Some(&body),
                );
            }
            // Exec.
            _ => event(
                &mut buf,
                n,
                "ResponseComplete",
                "Metadata",
                "create",
                "bob@example.com",
                ns,
                "pods",
                "",
                "web-0/exec?command=sh",
                101,
                "kubectl/v1.31.2",
                None,
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
    let ok = base.as_secs_f64() / all.as_secs_f64() >= 2.0 && peak_all < 100 * 1024;
    println!(
        "\ntarget (≥ 2× baseline, < 100 MB): {}",
        if ok { "met" } else { "MISSED" }
    );
    ok
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb: u64 = args
        .iter()
        .position(|a| a == "--mb")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench dir");
    let audit = dir.join(format!("audit-{mb}mb.log"));
    let ecs = dir.join(format!("process-{mb}mb.json"));
    let t = Instant::now();
    let audit_lines = write_audit(&audit, mb * 1_000_000).expect("write audit log");
    let ecs_lines = write_ecs(&ecs, mb * 1_000_000).expect("write process log");
    println!(
        "generated {mb} MB × 2 in {:.1}s on {} cores",
        t.elapsed().as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let a = report("Kubernetes audit log", &audit, audit_lines);
    let b = report("Process log (ECS)", &ecs, ecs_lines);
    let _ = std::fs::remove_file(&audit);
    let _ = std::fs::remove_file(&ecs);
    // Timing on a shared CI machine is noisy: the verdict is printed always and fails the
    // run only when asked (`--assert`), as the documented full-size run does.
    if !(a && b) && args.iter().any(|a| a == "--assert") {
        std::process::exit(1);
    }
}
