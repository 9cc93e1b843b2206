//! `portcullis serve` end to end: admission reviews over real HTTPS, the audit webhook
//! receiver, and the Docker authorization plugin in front of a real dockerd.

mod common;
use common::*;
use serde_json::{Value, json};

#[allow(clippy::too_many_arguments)]
fn review(
    uid: &str,
    kind: &str,
    group: &str,
    resource: &str,
    op: &str,
    sub: Option<&str>,
    object: Value,
    dry_run: bool,
) -> String {
    let mut req = json!({
        "uid": uid,
        "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": resource},
        "requestKind": {"group": group, "version": "v1", "kind": kind},
        "requestResource": {"group": group, "version": "v1", "resource": resource},
        "name": object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
        "namespace": "shop",
        "operation": op,
        "userInfo": {"username": "alice@example.com", "uid": "c0ffee", "groups": ["devs", "system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": if op == "CONNECT" { "PodExecOptions" } else { "CreateOptions" }},
    });
    if let Some(s) = sub {
        req["subResource"] = s.into();
        req["requestSubResource"] = s.into();
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": req})
        .to_string()
}

fn pod_spec(privileged: bool) -> Value {
    json!({"containers": [
        {"name": "app", "image": "ghcr.io/acme/app:1.4.2", "ports": [{"containerPort": 8080}]},
        {"name": "helper", "image": "alpine:3.20", "securityContext": {"privileged": privileged}}
    ]})
}

/// A review of a privileged Pod (denied by the default modes).
fn privileged_pod(uid: &str, dry_run: bool) -> String {
    review(
        uid,
        "Pod",
        "",
        "pods",
        "CREATE",
        None,
        workload("Pod", "v1", true),
        dry_run,
    )
}

fn workload(kind: &str, api: &str, privileged: bool) -> Value {
    let template = json!({"metadata": {"labels": {"app": "web"}}, "spec": pod_spec(privileged)});
    let spec = match kind {
        "Pod" => {
            return json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"}, "spec": pod_spec(privileged)});
        }
        "CronJob" => {
            json!({"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}})
        }
        "Job" => json!({"template": template}),
        _ => json!({"selector": {"matchLabels": {"app": "web"}}, "template": template}),
    };
    json!({"apiVersion": api, "kind": kind, "metadata": {"name": "web", "namespace": "shop"}, "spec": spec})
}

#[test]
fn admission_judges_every_workload_kind_over_https() {
    let s = Serve::start(&[]);
    let kinds = [
        ("Pod", "", "pods", "v1"),
        ("Deployment", "apps", "deployments", "apps/v1"),
        ("DaemonSet", "apps", "daemonsets", "apps/v1"),
        ("StatefulSet", "apps", "statefulsets", "apps/v1"),
        ("ReplicaSet", "apps", "replicasets", "apps/v1"),
        ("Job", "batch", "jobs", "batch/v1"),
        ("CronJob", "batch", "cronjobs", "batch/v1"),
        ("ReplicationController", "", "replicationcontrollers", "v1"),
    ];
    for (i, (kind, group, resource, api)) in kinds.iter().enumerate() {
        let (code, body) = s.post(
            "/validate",
            &review(
                &format!("u-{i}"),
                kind,
                group,
                resource,
                "CREATE",
                None,
                workload(kind, api, true),
                false,
            ),
            &[],
        );
        assert_eq!(code, 200, "{kind}: {body}");
        let r: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(r["response"]["uid"], format!("u-{i}"));
        assert_eq!(
            r["response"]["allowed"], false,
            "{kind} with a privileged container is denied at the workload: {body}"
        );
        let msg = r["response"]["status"]["message"].as_str().unwrap_or("");
        assert!(
            msg.contains("PRV001 privileged-container")
                && msg.contains("helper")
                && msg.contains("container.privileged=true"),
            "{kind}: {msg}"
        );
        let (_, body) = s.post(
            "/validate",
            &review(
                &format!("ok-{i}"),
                kind,
                group,
                resource,
                "CREATE",
                None,
                workload(kind, api, false),
                false,
            ),
            &[],
        );
        let r: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(r["response"]["allowed"], true, "{kind}: {body}");
    }
    // Ephemeral containers arrive as a Pod on the subresource.
    let mut pod = workload("Pod", "v1", false);
    pod["spec"]["ephemeralContainers"] = json!([{"name": "debugger", "image": "busybox:1.36", "targetContainerName": "app", "command": ["sh", "-c", "nsenter -t 1 -m -- sh"]}]);
    let (_, body) = s.post(
        "/validate",
        &review(
            "eph",
            "Pod",
            "",
            "pods",
            "UPDATE",
            Some("ephemeralcontainers"),
            pod,
            false,
        ),
        &[],
    );
    let r: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(r["response"]["allowed"], false, "{body}");
    assert!(
        r["response"]["status"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("PAY004"),
        "{body}"
    );
    assert!(
        r["response"]["warnings"].as_array().is_some_and(|w| w
            .iter()
            .any(|x| x.as_str().unwrap_or("").starts_with("ACT006"))),
        "{body}"
    );
    // exec CONNECT: allowed with a warning naming the command.
    let exec = json!({"kind": "PodExecOptions", "apiVersion": "v1", "stdin": true, "tty": true, "container": "app", "command": ["cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"]});
    let (_, body) = s.post(
        "/validate",
        &review(
            "exec",
            "PodExecOptions",
            "",
            "pods",
            "CONNECT",
            Some("exec"),
            exec,
            false,
        ),
        &[],
    );
    let r: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(r["response"]["allowed"], true, "{body}");
    assert!(
        r["response"]["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("serviceaccount/token"),
        "{body}"
    );
    // Alerts reach the store, with the human actor and the outcome.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let a = s.alerts();
    let p = a
        .iter()
        .find(|x| x["rule"]["id"] == "PRV001" && x["target"]["kind"] == "CronJob")
        .unwrap_or_else(|| panic!("stored: {a:?}"));
    assert_eq!(p["outcome"], "denied");
    assert_eq!(p["actor"]["user"], "alice@example.com");
    assert_eq!(p["source"]["kind"], "admission");
    let metrics = String::from_utf8_lossy(&s.curl(&["/metrics"]).stdout).to_string();
    assert!(
        metrics.contains("portcullis_decisions_total{front_end=\"admission\",decision=\"deny\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portcullis_request_duration_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn malformed_oversized_and_dry_run_reviews() {
    let s = Serve::start(&[]);
    for bad in [
        "not json",
        "{\"kind\": 0}",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
        &review(
            "x",
            "Pod",
            "",
            "pods",
            "CREATE",
            None,
            json!("a string"),
            false,
        ),
    ] {
        let (code, body) = s.post("/validate", bad, &[]);
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body.contains("error"), "{body}");
    }
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(4 * 1024 * 1024));
    let (code, _) = s.post("/validate", &big, &[]);
    assert_eq!(code, 413);
    // Still serving.
    assert!(s.curl(&["/healthz"]).status.success());
    // Dry run: the same verdict, no alert.
    let (_, body) = s.post("/validate", &privileged_pod("dry", true), &[]);
    assert!(body.contains("\"allowed\":false"), "{body}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(s.alerts().is_empty(), "a dry run leaves no trace");
}

#[test]
fn audit_webhook_batches_are_stored_before_the_200() {
    let s = Serve::start(&["--audit-token", "s3cret"]);
    let trace = std::fs::read_to_string(format!("{SHARED}/corpus/falco-k8s-audit-traces/test/trace_files/k8s_audit/create_nginx_pod_privileged.json")).expect("trace");
    let event: Value = serde_json::from_str(trace.lines().next().expect("line")).expect("json");
    let list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": [event]}).to_string();
    let (code, _) = s.post("/audit", &list, &[]);
    assert_eq!(code, 401, "no token");
    let (code, _) = s.post("/audit", &list, &["Authorization: Bearer wrong"]);
    assert_eq!(code, 401);
    let (code, body) = s.post("/audit", &list, &["Authorization: Bearer s3cret"]);
    assert_eq!(code, 200, "{body}");
    // Durable on acknowledgement: readable at once.
    let a = s.alerts();
    assert!(
        a.iter().any(|x| x["rule"]["id"] == "PRV001"
            && x["source"]["kind"] == "k8s_audit"
            && x["outcome"] == "created"),
        "{a:#?}"
    );
}

#[test]
fn docker_authz_plugin_in_front_of_a_real_dockerd() {
    let name = format!("portcullis-test-{}", std::process::id());
    let sock = format!("/run/docker/plugins/{name}.sock");
    let s = Serve::start(&["--authz-socket", &sock]);
    let d = Dockerd::start(None, &[&format!("--authorization-plugin={name}")]);
    let docker = |args: &[&str]| d.docker(args);
    busybox_image(&d);
    let denied = docker(&[
        "create",
        "--privileged",
        "-v",
        "/:/host",
        "portcullis/busybox:test",
        "/bin/busybox",
        "true",
    ]);
    let err = String::from_utf8_lossy(&denied.stderr);
    assert!(!denied.status.success());
    assert!(
        err.contains("authorization denied by plugin")
            && err.contains("PRV001 privileged-container")
            && err.contains("MNT001 host-root-mount"),
        "{err}"
    );
    // The one-line bypasses of the first version, sent as raw API requests: each is
    // refused by the engine on the plugin's word, and no container exists afterwards.
    for (target, body) in [
        (
            "/v1.41/containers/create",
            r#"{"Image":"portcullis/busybox:test","hostconfig":{"privileged":true,"binds":["/:/host"]}}"#,
        ),
        (
            "/v1.41/containers/create",
            r#"{"Image":"portcullis/busybox:test","HostConfig":{"Privileged":true},"HostConfig":{"Memory":0}}"#,
        ),
        (
            "http://docker/v1.41/containers/create",
            r#"{"Image":"portcullis/busybox:test","HostConfig":{"Privileged":true}}"#,
        ),
        (
            "/v1.41/containers/%63reate",
            r#"{"Image":"portcullis/busybox:test","HostConfig":{"Binds":["/proc/1/root:/h"]}}"#,
        ),
        (
            "/v1.41/containers/create",
            r#"{"Image":"portcullis/busybox:test","HostConfig":{"CapAdd":["SYS_ADMIN"]}}"#,
        ),
        (
            "/v1.41/containers/create",
            r#"{"Image":"portcullis/busybox:test","HostConfig":{"PidMode":"host","UsernsMode":"host"}}"#,
        ),
    ] {
        let (status, answer) = common::http(&d.socket, "POST", target, body.as_bytes());
        assert_eq!(
            status,
            403,
            "{target} {body}: {}",
            String::from_utf8_lossy(&answer)
        );
    }
    let left = docker(&["ps", "-aq"]);
    assert!(left.stdout.is_empty(), "a bypass created a container");
    let ok = docker(&["create", "portcullis/busybox:test", "/bin/busybox", "true"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // A build whose RUN steps share the host's network: allowed (PRV004 is medium, so it
    // warns), and the alert names the build. The legacy builder sends `POST /build` with the
    // options in the query, which is what the plugin sees.
    let ctx = d.dir.path().join("build-ctx");
    std::fs::create_dir_all(&ctx).expect("mkdir");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM portcullis/busybox:test\nRUN [\"/bin/busybox\", \"true\"]\n",
    )
    .expect("Dockerfile");
    let built = std::process::Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", d.socket.display()))
        .args(["build", "--network", "host", "-t", "hostnet-build:1"])
        .arg(&ctx)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .expect("docker build");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let a = s.alerts();
    assert!(
        a.iter().any(|x| x["rule"]["id"] == "MNT001"
            && x["source"]["kind"] == "docker_authz"
            && x["outcome"] == "denied"),
        "{a:#?}"
    );
    assert!(
        a.iter().any(|x| x["rule"]["id"] == "PRV004"
            && x["target"]["kind"] == "DockerBuild"
            && x["target"]["name"] == "hostnet-build:1"
            && x["source"]["kind"] == "docker_authz"),
        "{a:#?}"
    );
}

#[test]
fn the_watcher_judges_api_creates_and_survives_a_dockerd_restart() {
    let mut d = Dockerd::start(None, &[]);
    let image = busybox_image(&d);
    let s = Serve::start(&["--docker-host", &format!("unix://{}", d.socket.display())]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // A risky container created straight through the Engine API.
    let socket = d.socket.clone();
    let create = |name: &str| {
        let body = format!(
            r#"{{"Image":"{image}","Cmd":["/bin/busybox","true"],"HostConfig":{{"Privileged":true,"Binds":["/:/host"]}}}}"#
        );
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "--unix-socket",
                socket.to_str().expect("utf8"),
                "-H",
                "Content-Type: application/json",
                "-d",
                &body,
            ])
            .arg(format!("http://docker/v1.41/containers/create?name={name}"))
            .output()
            .expect("curl");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("\"Id\""),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    let stored = |name: &str, within: std::time::Duration| {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if s.alerts().iter().any(|a| {
                a["rule"]["id"] == "PRV001"
                    && a["target"]["name"] == name
                    && a["source"]["kind"] == "docker_watch"
            }) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        false
    };
    let t = std::time::Instant::now();
    create("first");
    assert!(
        stored("first", std::time::Duration::from_secs(1)),
        "alert stored within a second"
    );
    eprintln!("create → stored alert: {:?}", t.elapsed());
    // Kill dockerd; while it comes back the watcher is disconnected. A container created at
    // once after the restart must still be seen (since= replays it).
    d.restart();
    create("second");
    assert!(
        stored("second", std::time::Duration::from_secs(10)),
        "no event lost across the restart: {}",
        std::fs::read_to_string(s.dir.path().join("serve.log")).unwrap_or_default()
    );
    // Each create is reported once, not again on reconnect.
    let firsts = s
        .alerts()
        .iter()
        .filter(|a| {
            a["rule"]["id"] == "PRV001"
                && a["target"]["name"] == "first"
                && a["operation"] == "create"
        })
        .count();
    assert_eq!(firsts, 1);
}

#[test]
fn kill_9_under_load_loses_no_acknowledged_alert() {
    let mut s = Serve::start(&["--audit-token", "t0ken"]);
    let trace = std::fs::read_to_string(format!("{SHARED}/corpus/falco-k8s-audit-traces/test/trace_files/k8s_audit/create_nginx_pod_privileged.json")).expect("trace");
    let event: Value = serde_json::from_str(trace.lines().next().expect("line")).expect("json");
    let port = s.port;
    let cert = s.cert();
    let sender = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for i in 0..400 {
            let mut e = event.clone();
            e["auditID"] = format!("kill9-{i:04}").into();
            let list = json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "items": [e]})
                .to_string();
            let out = std::process::Command::new("curl")
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--max-time",
                    "5",
                    "--cacert",
                    cert.to_str().expect("utf8"),
                    "-H",
                    "Authorization: Bearer t0ken",
                    "-H",
                    "Content-Type: application/json",
                    "--data-binary",
                    &list,
                ])
                .arg(format!("https://localhost:{port}/audit"))
                .output()
                .expect("curl");
            match String::from_utf8_lossy(&out.stdout).as_ref() {
                "200" => acked.push(format!("kill9-{i:04}")),
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    let _ = s.child.kill(); // SIGKILL
    let _ = s.child.wait();
    let acked = sender.join().expect("sender");
    assert!(
        acked.len() > 5 && acked.len() < 400,
        "the kill must land mid-load ({} acknowledged)",
        acked.len()
    );
    let stored: std::collections::HashSet<String> = s
        .alerts()
        .iter()
        .filter(|a| a["rule"]["id"] == "PRV001")
        .filter_map(|a| a["source"]["id"].as_str().map(str::to_string))
        .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged batches lost: {lost:?}",
        lost.len()
    );
    eprintln!(
        "{} batches acknowledged before kill -9, all stored",
        acked.len()
    );
}

/// A minimal HTTP receiver: records every JSON body posted to it, answers 200.
fn receiver(port: u16, got: std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind receiver");
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(&body)
                && let Ok(mut g) = got.lock()
            {
                g.extend(items);
            }
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
}

#[test]
fn a_sink_outage_loses_nothing() {
    let sink_port = free_port();
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("serve.yaml");
    let file_sink = dir.path().join("alerts.jsonl");
    std::fs::write(&cfg, format!("docker_host: \"\"\nsinks:\n  - type: webhook\n    name: hook\n    url: http://127.0.0.1:{sink_port}/hook\n  - type: file\n    path: {}\n", file_sink.display())).expect("cfg");
    let s = Serve::start(&["--config", cfg.to_str().expect("utf8")]);
    // The webhook receiver is down: every delivery fails while alerts arrive.
    for i in 0..20 {
        let (code, _) = s.post(
            "/validate",
            &privileged_pod(&format!("outage-{i:02}"), false),
            &[],
        );
        assert_eq!(code, 200);
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    receiver(sink_port, got.clone());
    let want: std::collections::BTreeSet<String> =
        (0..20).map(|i| format!("outage-{i:02}")).collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let have: std::collections::BTreeSet<String> = got
            .lock()
            .expect("lock")
            .iter()
            .filter(|a| a["rule"]["id"] == "PRV001")
            .filter_map(|a| a["source"]["id"].as_str().map(str::to_string))
            .collect();
        if have == want {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "after the outage only {} of 20 arrived: {have:?}",
            have.len()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The file sink, never down, has them too.
    let lines = std::fs::read_to_string(&file_sink).expect("file sink");
    assert_eq!(
        lines.lines().filter(|l| l.contains("\"PRV001\"")).count(),
        20
    );
    let metrics = String::from_utf8_lossy(&s.curl(&["/metrics"]).stdout).to_string();
    assert!(
        metrics.contains("portcullis_sink_failures_total{sink=\"hook\"}"),
        "{metrics}"
    );
}

#[test]
fn sighup_reloads_rules_and_keeps_the_old_pack_when_the_new_one_is_bad() {
    let dir = tempfile::tempdir().expect("tmp");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(
        rules.join("local.yaml"),
        "lists:\n  trusted_registries: {append: [registry.corp.example]}\n",
    )
    .expect("w");
    let s = Serve::start(&["--rules", rules.to_str().expect("utf8")]);
    let denied = |s: &Serve, uid: &str| {
        let (_, body) = s.post("/validate", &privileged_pod(uid, false), &[]);
        body.contains("\"allowed\":false")
    };
    let hup = |s: &Serve| {
        let _ = std::process::Command::new("kill")
            .args(["-HUP", &s.child.id().to_string()])
            .status();
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert!(denied(&s, "r1"));
    // Turn PRV001 down to a warning, reload: the same pod is now admitted.
    std::fs::write(
        rules.join("local.yaml"),
        "overrides:\n  - {code: PRV001, severity: high}\n",
    )
    .expect("w");
    hup(&s);
    assert!(
        !denied(&s, "r2"),
        "{}",
        std::fs::read_to_string(s.dir.path().join("serve.log")).unwrap_or_default()
    );
    // A broken file: the reload fails, the last good pack stays.
    std::fs::write(
        rules.join("local.yaml"),
        "overrides:\n  - {code: NOPE999}\n",
    )
    .expect("w");
    hup(&s);
    assert!(!denied(&s, "r3"));
    assert!(
        std::fs::read_to_string(s.dir.path().join("serve.log"))
            .unwrap_or_default()
            .contains("reload failed")
    );
    assert!(s.curl(&["/healthz"]).status.success());
}

/// Records raw HTTP requests (path, headers, body); answers with `reply`.
fn raw_receiver(
    port: u16,
    reply: &'static str,
    got: std::sync::Arc<std::sync::Mutex<Vec<(String, String, String)>>>,
) {
    use std::io::{BufRead, BufReader, Read, Write};
    let l = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind");
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut r = BufReader::new(conn.try_clone().expect("clone"));
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let (mut len, mut headers) = (0usize, String::new());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                headers.push_str(&line);
            }
            let mut body = vec![0u8; len];
            let _ = r.read_exact(&mut body);
            if let Ok(mut g) = got.lock() {
                g.push((
                    first.split_whitespace().nth(1).unwrap_or("").to_string(),
                    headers,
                    String::from_utf8_lossy(&body).into_owned(),
                ));
            }
            let _ = conn.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}", reply.len()).as_bytes());
        }
    });
}

#[test]
fn elasticsearch_splunk_and_syslog_sinks_deliver() {
    let (es, hec, syslog_port) = (free_port(), free_port(), free_port());
    let es_got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let hec_got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    raw_receiver(
        es,
        r#"{"took":3,"errors":false,"items":[]}"#,
        es_got.clone(),
    );
    raw_receiver(hec, r#"{"text":"Success","code":0}"#, hec_got.clone());
    let syslog = std::net::TcpListener::bind(("127.0.0.1", syslog_port)).expect("bind");
    let syslog_got = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sg = syslog_got.clone();
    std::thread::spawn(move || {
        use std::io::Read;
        for conn in syslog.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut s = String::new();
            let _ = c.read_to_string(&mut s);
            if let Ok(mut g) = sg.lock() {
                g.push_str(&s);
            }
        }
    });
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        format!(
            "docker_host: \"\"\nsinks:\n  - {{type: elasticsearch, url: \"http://127.0.0.1:{es}\", index: t1610, authorization: \"ApiKey abc\"}}\n  - {{type: splunk_hec, url: \"http://127.0.0.1:{hec}\", token: 11111111-2222-3333-4444-555555555555}}\n  - {{type: syslog, address: \"127.0.0.1:{syslog_port}\", tcp: true, cef: true}}\n"
        ),
    )
    .expect("cfg");
    let s = Serve::start(&["--config", cfg.to_str().expect("utf8")]);
    let (code, _) = s.post("/validate", &privileged_pod("sinks-1", false), &[]);
    assert_eq!(code, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let done = !es_got.lock().expect("l").is_empty()
            && !hec_got.lock().expect("l").is_empty()
            && syslog_got.lock().expect("l").contains("CEF:0|Portcullis");
        if done {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sinks did not deliver"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (path, headers, body) = es_got.lock().expect("l")[0].clone();
    assert_eq!(path, "/_bulk");
    assert!(
        headers.contains("ApiKey abc")
            && headers
                .to_ascii_lowercase()
                .contains("application/x-ndjson")
    );
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        serde_json::from_str::<Value>(lines[0]).expect("action")["index"]["_index"],
        "t1610"
    );
    assert!(body.contains("\"PRV001\""));
    let (path, headers, body) = hec_got.lock().expect("l")[0].clone();
    assert_eq!(path, "/services/collector/event");
    assert!(headers.contains("Splunk 11111111-2222-3333-4444-555555555555"));
    assert!(body.contains("\"sourcetype\":\"portcullis:alert\"") && body.contains("\"PRV001\""));
    let sys = syslog_got.lock().expect("l").clone();
    assert!(sys.contains("|PRV001|privileged-container|10|"), "{sys}");
}

/// An HTTPS receiver on loopback with a certificate from `ca` for 127.0.0.1: it records
/// every request as "path body" and answers `status` (with `Location: location`).
fn https_receiver(
    ca: &TestCa,
    status: u16,
    location: String,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    https_receiver_for(ca, None, status, location)
}

/// [`https_receiver`] behind mutual TLS when `clients` is given.
fn https_receiver_for(
    ca: &TestCa,
    clients: Option<&TestCa>,
    status: u16,
    location: String,
) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use http_body_util::BodyExt;
    let acceptor = loopback_tls_for(ca, clients);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let bodies = got.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, bodies, location) =
                    (acceptor.clone(), bodies.clone(), location.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (bodies, location) = (bodies.clone(), location.clone());
                            async move {
                                let path = req.uri().path().to_string();
                                let body = req
                                    .into_body()
                                    .collect()
                                    .await
                                    .map_err(std::io::Error::other)?
                                    .to_bytes();
                                if let Ok(mut g) = bodies.lock() {
                                    g.push(format!("{path} {}", String::from_utf8_lossy(&body)));
                                }
                                let resp = hyper::Response::builder()
                                    .status(status)
                                    .header("Location", location)
                                    .body(http_body_util::Full::new(hyper::body::Bytes::from("ok")))
                                    .map_err(std::io::Error::other)?;
                                Ok::<_, std::io::Error>(resp)
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
    });
    (port, got)
}

#[test]
fn an_https_webhook_sink_trusts_its_ca_file_and_nothing_else() {
    let ca = TestCa::new();
    let (trusted, trusted_got) = https_receiver(&ca, 200, String::new());
    let (untrusted, untrusted_got) = https_receiver(&TestCa::new(), 200, String::new());
    // It points elsewhere at a receiver that would take the alerts.
    let (redirecting, redirecting_got) =
        https_receiver(&ca, 307, format!("https://127.0.0.1:{trusted}/stolen"));
    let dir = tempfile::tempdir().expect("tmp");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("ca");
    let cfg = dir.path().join("serve.yaml");
    let ca = ca_file.display();
    std::fs::write(
        &cfg,
        format!(
            "docker_host: \"\"\nsinks:\n  - {{type: webhook, name: trusted, url: \"https://127.0.0.1:{trusted}/hook\", ca_file: \"{ca}\"}}\n  - {{type: webhook, name: untrusted, url: \"https://127.0.0.1:{untrusted}/hook\", ca_file: \"{ca}\"}}\n  - {{type: webhook, name: redirecting, url: \"https://127.0.0.1:{redirecting}/hook\", ca_file: \"{ca}\"}}\n"
        ),
    )
    .expect("cfg");
    let s = Serve::start(&["--config", cfg.to_str().expect("utf8")]);
    let (code, _) = s.post("/validate", &privileged_pod("https-sink-1", false), &[]);
    assert_eq!(code, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let failed = |metrics: &str, sink: &str| {
        metrics.lines().any(|l| {
            l.starts_with(&format!(
                "portcullis_sink_failures_total{{sink=\"{sink}\"}}"
            )) && !l.ends_with(" 0")
        })
    };
    loop {
        let metrics = String::from_utf8_lossy(&s.curl(&["/metrics"]).stdout).to_string();
        let delivered = trusted_got
            .lock()
            .expect("l")
            .iter()
            .any(|b| b.contains("https-sink-1") && b.contains("\"PRV001\""));
        if delivered && failed(&metrics, "untrusted") && failed(&metrics, "redirecting") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivered to the trusted receiver: {delivered}\n{metrics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A certificate from another CA: the handshake fails before any byte of an alert.
    assert!(untrusted_got.lock().expect("l").is_empty());
    // A 3xx is a failed delivery, retried at the same address, never followed.
    assert!(!redirecting_got.lock().expect("l").is_empty());
    assert!(
        trusted_got
            .lock()
            .expect("l")
            .iter()
            .all(|r| r.starts_with("/hook ")),
        "a redirect was followed"
    );
}

#[test]
fn an_https_sink_presents_its_client_certificate_and_a_bad_sink_config_refuses_the_start() {
    let ca = TestCa::new();
    let clients = TestCa::new();
    let (mtls, mtls_got) = https_receiver_for(&ca, Some(&clients), 200, String::new());
    let dir = tempfile::tempdir().expect("tmp");
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p.display().to_string()
    };
    let ca_file = file("ca.pem", &ca.pem);
    let (cert, key) = clients.issue(&[]);
    let (cert, key) = (file("client.pem", &cert), file("client-key.pem", &key));
    let cfg = file(
        "serve.yaml",
        &format!(
            "docker_host: \"\"\nsinks:\n  - {{type: webhook, name: with-cert, url: \"https://127.0.0.1:{mtls}/hook\", ca_file: \"{ca_file}\", client_cert: \"{cert}\", client_key: \"{key}\"}}\n  - {{type: elasticsearch, name: without-cert, url: \"https://127.0.0.1:{mtls}\", ca_file: \"{ca_file}\"}}\n"
        ),
    );
    let s = Serve::start(&["--config", &cfg]);
    let (code, _) = s.post("/validate", &privileged_pod("mtls-sink-1", false), &[]);
    assert_eq!(code, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let metrics = String::from_utf8_lossy(&s.curl(&["/metrics"]).stdout).to_string();
        let delivered = mtls_got.lock().expect("l").iter().any(|b| {
            b.starts_with("/hook ") && b.contains("mtls-sink-1") && b.contains("\"PRV001\"")
        });
        let refused = metrics.lines().any(|l| {
            l.starts_with("portcullis_sink_failures_total{sink=\"without-cert\"}")
                && !l.ends_with(" 0")
        });
        if delivered && refused {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "delivered with the certificate: {delivered}\n{metrics}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The receiver never saw the sink that had no certificate to show.
    assert!(
        mtls_got
            .lock()
            .expect("l")
            .iter()
            .all(|b| b.starts_with("/hook "))
    );
    drop(s);
    // A key without its certificate, a CA file that is not there: serve does not start,
    // and says which sink and which file.
    for (sink, why) in [
        (
            format!(
                "{{type: webhook, name: half, url: \"https://127.0.0.1:{mtls}/\", client_key: \"{key}\"}}"
            ),
            "sink half: client_cert and client_key go together",
        ),
        (
            format!(
                "{{type: splunk_hec, name: no-ca, url: \"https://127.0.0.1:{mtls}\", token: t, ca_file: /nonexistent/ca.pem}}"
            ),
            "sink no-ca: ca_file /nonexistent/ca.pem:",
        ),
        (
            "{type: webhook, name: bare, url: hooks.example/portcullis}".to_string(),
            "sink bare: url \"hooks.example/portcullis\"",
        ),
        (
            "{type: syslog, name: no-port, address: siem.example}".to_string(),
            "sink no-port: address \"siem.example\" is not host:port",
        ),
    ] {
        let cfg = file(
            "bad.yaml",
            &format!("docker_host: \"\"\nsinks:\n  - {sink}\n"),
        );
        let out = bin()
            .args(["serve", "--config", &cfg, "--listen", "127.0.0.1:0"])
            .arg("--store")
            .arg(dir.path().join("bad.db"))
            .arg("--tls-dir")
            .arg(dir.path().join("tls"))
            .args(["--containerd-address", "", "--podman-host", ""])
            .output()
            .expect("serve runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains(why), "{why}: {stderr}");
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, the way `dockerd
/// --tlsverify` and `DOCKER_CERT_PATH` expect them.
fn docker_tls_material(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ca = TestCa::new();
    let (server, server_key) = ca.issue(&["127.0.0.1"]);
    let (client, client_key) = ca.issue(&[]);
    let (daemon, cli) = (dir.join("daemon-tls"), dir.join("client-tls"));
    for (d, cert, key) in [(&daemon, server, server_key), (&cli, client, client_key)] {
        std::fs::create_dir_all(d).expect("mkdir");
        std::fs::write(d.join("ca.pem"), &ca.pem).expect("ca");
        std::fs::write(d.join("cert.pem"), cert).expect("cert");
        std::fs::write(d.join("key.pem"), key).expect("key");
    }
    (daemon, cli)
}

#[test]
fn the_watcher_follows_a_tls_tcp_daemon_with_client_certificates() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (daemon, cli) = docker_tls_material(tmp.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let p = |f: &str| daemon.join(f).display().to_string();
    let d = Dockerd::start(
        Some(&format!("127.0.0.1:{port}")),
        &[
            "--tlsverify",
            &format!("--tlscacert={}", p("ca.pem")),
            &format!("--tlscert={}", p("cert.pem")),
            &format!("--tlskey={}", p("key.pem")),
        ],
    );
    let image = busybox_image(&d);
    // Without our client certificate the daemon's port refuses us: TLS is really on.
    let plain = std::process::Command::new("docker")
        .args(["-H", &format!("tcp://127.0.0.1:{port}"), "version"])
        .output()
        .expect("docker");
    assert!(!plain.status.success());
    let s = Serve::start(&[
        "--docker-host",
        &format!("tcp://127.0.0.1:{port}"),
        "--docker-cert-path",
        cli.to_str().expect("utf8"),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let created = d.docker(&[
        "create",
        "--name",
        "over-tls",
        "--privileged",
        image,
        "/bin/busybox",
        "true",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut seen = false;
    while !seen && std::time::Instant::now() < deadline {
        seen = s.alerts().iter().any(|a| {
            a["rule"]["id"] == "PRV001"
                && a["target"]["name"] == "over-tls"
                && a["source"]["kind"] == "docker_watch"
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        seen,
        "{}",
        std::fs::read_to_string(s.dir.path().join("serve.log")).unwrap_or_default()
    );
}

/// How long until the server closes this connection (reading until EOF or a reset).
fn closed_after(mut r: impl std::io::Read) -> std::time::Duration {
    let t = std::time::Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return t.elapsed(),
            Ok(_) => {}
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "never closed"
        );
    }
}

/// A TLS client that trusts the server's self-signed certificate.
fn client_config(pem: &[u8]) -> rustls::ClientConfig {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_slice_iter(pem) {
        roots.add(c.expect("pem")).expect("root");
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// A TLS session to the server (read timeout 10 s), not yet handshaken.
fn tls_to(
    addr: &str,
    pem: &[u8],
) -> rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream> {
    let conn = rustls::ClientConnection::new(
        std::sync::Arc::new(client_config(pem)),
        rustls_pki_types::ServerName::try_from("localhost").expect("name"),
    )
    .expect("client");
    let tcp = std::net::TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok();
    rustls::StreamOwned::new(conn, tcp)
}

#[test]
fn slow_silent_and_excess_connections_are_closed() {
    use std::net::TcpStream;
    use std::time::Duration;
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = dir.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        "tls_handshake_timeout_ms: 1500\nheader_read_timeout_ms: 1000\nmax_connections: 3\n",
    )
    .expect("config");
    let s = Serve::start(&["--config", cfg.to_str().expect("utf8")]);
    let addr = format!("127.0.0.1:{}", s.port);
    // Silent: no TLS handshake at all.
    let silent = TcpStream::connect(&addr).expect("connect");
    silent.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let took = closed_after(&silent);
    assert!(
        took >= Duration::from_millis(1200) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // Slow: a TLS session that sends half a request header and stops (slowloris).
    let pem = std::fs::read(s.cert()).expect("cert");
    let mut tls = tls_to(&addr, &pem);
    use std::io::Write;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: local")
        .expect("half a header");
    let took = closed_after(&mut tls);
    assert!(
        took < Duration::from_secs(6),
        "slow header kept open {took:?}"
    );
    // Idle: a keep-alive connection that sends nothing after its answer is closed too.
    let mut tls = tls_to(&addr, &pem);
    tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .expect("request");
    let took = closed_after(&mut tls);
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(6),
        "idle keep-alive {took:?}"
    );
    // Excess: with the three slots held by idle connections, a fourth is closed at once.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let extra = TcpStream::connect(&addr).expect("connect");
    extra.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let took = closed_after(&extra);
    assert!(
        took < Duration::from_millis(800),
        "excess connection waited {took:?}"
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let out = s.curl(&["/metrics"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(r#"portcullis_door_refusals_total{door="https",reason="connection_limit"}"#)
            && text.contains(r#"reason="tls_handshake_timeout""#),
        "{text}"
    );
}

#[test]
fn the_watcher_sees_privileged_execs_and_joined_host_namespaces() {
    let d = Dockerd::start(None, &[]);
    let image = busybox_image(&d);
    let s = Serve::start(&["--docker-host", &format!("unix://{}", d.socket.display())]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let run = d.docker(&[
        "run",
        "-d",
        "--name",
        "hostpid",
        "--pid",
        "host",
        image,
        "/bin/busybox",
        "sleep",
        "60",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The exec may fail to start in a sandbox; it is created (and so judged) either way.
    let _ = d.docker(&["exec", "--privileged", "hostpid", "/bin/busybox", "true"]);
    let joined = d.docker(&[
        "create",
        "--name",
        "joiner",
        "--pid",
        "container:hostpid",
        image,
        "/bin/busybox",
        "true",
    ]);
    assert!(
        joined.status.success(),
        "{}",
        String::from_utf8_lossy(&joined.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (mut exec, mut join) = (false, false);
    while std::time::Instant::now() < deadline && !(exec && join) {
        let a = s.alerts();
        exec = a
            .iter()
            .any(|x| x["rule"]["id"] == "PRV014" && x["source"]["kind"] == "docker_watch");
        join = a.iter().any(|x| {
            x["rule"]["id"] == "PRV002"
                && x["target"]["name"] == "joiner"
                && x["source"]["kind"] == "docker_watch"
        });
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(exec, "privileged exec seen: {:#?}", s.alerts());
    assert!(
        join,
        "joining a host-PID container is host PID: {:#?}",
        s.alerts()
    );
    let _ = d.docker(&["rm", "-f", "hostpid", "joiner"]);
}

#[test]
fn the_containerd_source_judges_ctr_run_from_its_oci_spec() {
    let c = Containerd::start();
    let s = Serve::start(&[
        "--docker-host",
        "",
        "--containerd-address",
        c.socket.to_str().expect("utf8"),
    ]);
    let connected = |s: &Serve| {
        String::from_utf8_lossy(&s.curl(&["/metrics"]).stdout)
            .contains("portcullis_live_source_up{source=\"containerd\"} 1")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !connected(&s) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(connected(&s), "the containerd source connects");
    let rootfs = c.busybox_rootfs();
    let rootfs = rootfs.to_str().expect("utf8");
    let stored = |name: &str, rule: &str, within: std::time::Duration| {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if s.alerts().iter().any(|a| {
                a["rule"]["id"] == rule
                    && a["target"]["name"] == name
                    && a["source"]["kind"] == "containerd_watch"
            }) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        false
    };
    // runc keeps its state per containerd namespace in one folder for the whole machine:
    // ids unique to this run, and commands that end, leave nothing behind.
    let id = |name: &str| format!("{name}-{}", std::process::id());
    let (evil, kubelet_made, while_away) = (id("evil"), id("kubelet-made"), id("while-away"));
    let t = std::time::Instant::now();
    let run = c.ctr(&[
        "run",
        "--privileged",
        "--mount",
        "type=bind,src=/,dst=/host,options=rbind",
        "--rootfs",
        rootfs,
        &evil,
        "/bin/busybox",
        "true",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stored(&evil, "PRV001", std::time::Duration::from_secs(1)),
        "a privileged ctr run is stored within a second: {:?}",
        s.alerts()
    );
    eprintln!("ctr run → stored alert: {:?}", t.elapsed());
    let alerts = s.alerts();
    let evil: Vec<&str> = alerts
        .iter()
        .filter(|a| a["target"]["name"] == evil.as_str())
        .filter_map(|a| a["rule"]["id"].as_str())
        .collect();
    assert!(evil.contains(&"ACT018"), "{evil:?}");
    assert!(
        evil.iter().any(|r| r.starts_with("MNT")),
        "the / bind: {evil:?}"
    );
    // The kubelet's namespace is skipped: nothing from a k8s.io container.
    let run = c.ctr(&[
        "--namespace",
        "k8s.io",
        "run",
        "--privileged",
        "--rootfs",
        rootfs,
        &kubelet_made,
        "/bin/busybox",
        "true",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // After a restart of containerd, a container created while the source was away is
    // judged when it reconnects (containerd keeps no event history).
    let mut c = c;
    let _ = c.child.kill();
    let _ = c.child.wait();
    let config = c.dir.path().join("config.toml");
    let log = std::fs::OpenOptions::new()
        .append(true)
        .open(c.dir.path().join("containerd.log"))
        .expect("log");
    c.child = std::process::Command::new("containerd")
        .arg("--config")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .spawn()
        .expect("containerd restarts");
    let up = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !c.ctr(&["version"]).status.success() && std::time::Instant::now() < up {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let create = c.ctr(&[
        "container",
        "create",
        "--privileged",
        "--rootfs",
        rootfs,
        &while_away,
        "/bin/busybox",
        "true",
    ]);
    assert!(
        create.status.success(),
        "{}",
        String::from_utf8_lossy(&create.stderr)
    );
    assert!(
        stored(&while_away, "PRV001", std::time::Duration::from_secs(10)),
        "caught up after reconnecting: {}",
        std::fs::read_to_string(s.dir.path().join("serve.log")).unwrap_or_default()
    );
    assert!(
        !s.alerts()
            .iter()
            .any(|a| a["target"]["name"] == kubelet_made.as_str()),
        "k8s.io is the kubelet's"
    );
}

#[test]
fn the_podman_source_judges_api_creates_through_the_docker_mapping() {
    let p = Podman::start();
    let image = p.busybox_image();
    let s = Serve::start(&[
        "--docker-host",
        "",
        "--podman-host",
        &format!("unix://{}", p.socket.display()),
    ]);
    let connected = |s: &Serve| {
        String::from_utf8_lossy(&s.curl(&["/metrics"]).stdout)
            .contains("portcullis_live_source_up{source=\"podman\"} 1")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !connected(&s) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(connected(&s), "the podman source connects");
    let t = std::time::Instant::now();
    let created = p.api(
        "POST",
        "/v1.41/containers/create?name=pm-evil",
        Some(&format!(
            r#"{{"Image":"{image}","Cmd":["/bin/busybox","true"],"HostConfig":{{"Privileged":true,"Binds":["/:/host"]}}}}"#
        )),
    );
    assert!(created.contains("\"Id\""), "{created}");
    let deadline = t + std::time::Duration::from_secs(1);
    let mut found = Vec::new();
    while std::time::Instant::now() < deadline {
        found = s
            .alerts()
            .into_iter()
            .filter(|a| a["target"]["name"] == "pm-evil" && a["source"]["kind"] == "podman_watch")
            .filter_map(|a| a["rule"]["id"].as_str().map(str::to_string))
            .collect();
        if found.iter().any(|r| r == "PRV001") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    eprintln!("podman create → stored alert: {:?}", t.elapsed());
    assert!(
        found.iter().any(|r| r == "PRV001"),
        "within a second: {found:?}"
    );
    assert!(
        found.iter().any(|r| r.starts_with("MNT")),
        "the / bind: {found:?}"
    );
}

#[test]
fn serve_judges_against_a_baseline_and_reloads_it_on_sighup() {
    let dir = tempfile::tempdir().expect("tmp");
    let baseline = dir.path().join("baseline.yaml");
    let write = |deployers: &str| {
        std::fs::write(
            &baseline,
            format!("version: 1\nscopes:\n  k8s/payments:\n    deploys: 40\n    deployers: [{deployers}]\n    images: [ghcr.io/acme/api]\n"),
        )
        .expect("baseline");
    };
    write("\"system:serviceaccount:cicd:release-bot\"");
    let s = Serve::start(&[
        "--docker-host",
        "",
        "--baseline",
        baseline.to_str().expect("utf8"),
    ]);
    let review = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"b1","kind":{"group":"apps","version":"v1","kind":"Deployment"},"resource":{"group":"apps","version":"v1","resource":"deployments"},"name":"api","namespace":"payments","operation":"CREATE","userInfo":{"username":"bob@example.com"},"object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"api","namespace":"payments"},"spec":{"template":{"spec":{"containers":[{"name":"api","image":"ghcr.io/acme/api:2.4.1"}]}}}}}}"#;
    let (code, body) = s.post("/validate", review, &[]);
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("EXP001"),
        "bob never deployed in payments: {body}"
    );
    // The baseline reviewed and extended: bob is expected there now.
    write("\"system:serviceaccount:cicd:release-bot\", \"bob@example.com\"");
    let _ = std::process::Command::new("kill")
        .args(["-HUP", &s.child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let (_, body) = s.post("/validate", review, &[]);
        if !body.contains("EXP001") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not reloaded: {body}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn serve_keeps_learning_for_a_period_and_knows_its_inventory() {
    let dir = tempfile::tempdir().expect("tmp");
    let learnt = dir.path().join("learnt.yaml");
    let inventory = dir.path().join("cmdb.csv");
    std::fs::write(&inventory, "scope,registries\nk8s/shop,ghcr.io\n").expect("inventory");
    let cfg = dir.path().join("serve.yaml");
    std::fs::write(
        &cfg,
        format!(
            "baseline_learn_until: 1h\nbaseline_learn_to: {}\ninventory: {}\n",
            learnt.display(),
            inventory.display()
        ),
    )
    .expect("cfg");
    let mut s = Serve::start(&["--docker-host", "", "--config", cfg.to_str().expect("utf8")]);
    let review = |uid: &str, ns: &str, spec: &str| {
        format!(
            r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"{uid}","kind":{{"group":"","version":"v1","kind":"Pod"}},"resource":{{"group":"","version":"v1","resource":"pods"}},"name":"p-{uid}","namespace":"{ns}","operation":"CREATE","userInfo":{{"username":"bob@example.com"}},"object":{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"p-{uid}"}},"spec":{spec}}}}}}}"#
        )
    };
    let ok = r#"{"containers":[{"name":"c","image":"ghcr.io/acme/api:2.4.1"}]}"#;
    let (_, body) = s.post("/validate", &review("a1", "shop", ok), &[]);
    assert!(!body.contains("EXP007"), "shop is in the inventory: {body}");
    let (_, body) = s.post("/validate", &review("a2", "scratch", ok), &[]);
    assert!(body.contains("EXP007"), "scratch is not: {body}");
    let risky = r#"{"containers":[{"name":"c","image":"ghcr.io/acme/api:2.4.1","securityContext":{"privileged":true}}]}"#;
    let _ = s.post("/validate", &review("a3", "shop", risky), &[]);
    // A graceful stop writes what was learnt: bob's ordinary pod, not the privileged one.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &s.child.id().to_string()])
        .status();
    let _ = s.child.wait();
    let yaml = std::fs::read_to_string(&learnt).expect("learnt baseline written");
    assert!(
        yaml.contains("k8s/shop") && yaml.contains("bob@example.com"),
        "{yaml}"
    );
    assert!(yaml.contains("refused_risky: 1"), "{yaml}");
    assert!(!yaml.contains("privileged"), "{yaml}");
    // The alert store can teach a baseline too: what its alerts describe, the risky
    // deployment refused.
    let from_store = dir.path().join("from-store.yaml");
    let out = run(&[
        "baseline",
        "learn-store",
        s.dir.path().join("alerts.db").to_str().expect("utf8"),
        "-o",
        from_store.to_str().expect("utf8"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 refused as risky"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&from_store).expect("written");
    assert!(
        yaml.contains("k8s/scratch") && yaml.contains("bob@example.com"),
        "{yaml}"
    );
    // `portcullis alerts` renders the store with the renderers scan and hunt use.
    let db = s.dir.path().join("alerts.db");
    let db = db.to_str().expect("utf8");
    let jsonl = run(&["alerts", "--store", db, "--format", "jsonl"]);
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is an alert"))
        .collect();
    assert!(
        !lines.is_empty(),
        "{}",
        String::from_utf8_lossy(&jsonl.stderr)
    );
    let code = lines[0]["rule"]["id"]
        .as_str()
        .expect("rule id")
        .to_string();
    let csv = String::from_utf8_lossy(&run(&["alerts", "--store", db, "--format", "csv"]).stdout)
        .to_string();
    assert!(csv.lines().count() > lines.len(), "{csv}");
    assert!(csv.contains(&code), "{csv}");
    let sarif = run(&["alerts", "--store", db, "--format", "sarif"]);
    let sarif: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("SARIF is JSON");
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        Some(lines.len())
    );
    let table =
        String::from_utf8_lossy(&run(&["alerts", "--store", db, "--format", "table"]).stdout)
            .to_string();
    assert!(
        table.contains(&code) && table.contains(&format!("{} alert(s)", lines.len())),
        "{table}"
    );
}
