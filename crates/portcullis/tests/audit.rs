//! `portcullis audit` end to end: fixture sets for a hardened and a weak cluster and Docker
//! host, a real dockerd on tcp://127.0.0.1:2375, and the HTML report in headless Chromium.

mod common;
use common::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../portcullis-audit/fixtures");

fn audit(args: &[&str]) -> (Vec<serde_json::Value>, std::process::Output) {
    let mut a = vec!["audit"];
    a.extend_from_slice(args);
    a.extend_from_slice(&["--format", "jsonl"]);
    let out = run(&a);
    (alerts(&out), out)
}

fn codes(a: &[serde_json::Value]) -> BTreeSet<String> {
    a.iter()
        .map(|x| x["rule"]["id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn weak_cluster_produces_every_kubernetes_finding() {
    let (a, out) = audit(&["kubernetes", "--dump", &format!("{FIX}/kubernetes/weak")]);
    assert_eq!(out.status.code(), Some(1), "critical findings exit 1");
    let got = codes(&a);
    for c in [
        "RBAC001", "RBAC002", "RBAC003", "RBAC004", "RBAC005", "RBAC006", "RBAC007", "ADM002",
        "ADM003", "ADM004", "EXP001", "EXP002", "EXP003", "EXP004", "EXP005", "NET001",
    ] {
        assert!(got.contains(c), "{c} missing from {got:?}");
    }
    // Default bindings are not findings: system:public-info-viewer for unauthenticated,
    // controllers, system:masters.
    assert!(
        !a.iter().any(|x| x["target"]["name"] == "system:masters"
            || x["target"]["name"] == "replicaset-controller"),
        "{a:#?}"
    );
    let anon = a
        .iter()
        .find(|x| x["rule"]["id"] == "RBAC001")
        .expect("RBAC001");
    assert_eq!(anon["severity"], "critical");
    assert_eq!(anon["mitigation"]["id"], "M1018");
    assert!(anon["fix"].as_str().is_some_and(|f| !f.is_empty()));
    assert!(
        anon["source"]["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("clusterrolebindings.json"))
    );
    // Aggregation: `deployer` has no rules of its own; its aggregated ClusterRole gives
    // create on pods and deployments.
    assert!(
        a.iter()
            .any(|x| x["rule"]["id"] == "RBAC003" && x["target"]["name"] == "builder"),
        "{a:#?}"
    );
    // The same cluster with no admission webhook at all.
    let dir = tempfile::tempdir().expect("tmp");
    for e in fs::read_dir(format!("{FIX}/kubernetes/weak")).expect("dir") {
        let p = e.expect("e").path();
        if !p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("validatingwebhook"))
        {
            fs::copy(&p, dir.path().join(p.file_name().expect("name"))).expect("copy");
        }
    }
    let (a, _) = audit(&["kubernetes", "--dump", dir.path().to_str().expect("utf8")]);
    assert!(codes(&a).contains("ADM001"), "{:?}", codes(&a));
}

#[test]
fn hardened_cluster_has_nothing_high() {
    let (a, out) = audit(&[
        "kubernetes",
        "--dump",
        &format!("{FIX}/kubernetes/hardened"),
    ]);
    assert_eq!(out.status.code(), Some(0), "{a:#?}");
    assert!(
        a.iter()
            .all(|x| rank(x["severity"].as_str().unwrap_or("")) < rank("high")),
        "{a:#?}"
    );
    // The table's headline lists who can deploy: the namespaced CI identity is there.
    let out = run(&[
        "audit",
        "kubernetes",
        "--dump",
        &format!("{FIX}/kubernetes/hardened"),
        "--format",
        "table",
    ]);
    let t = String::from_utf8_lossy(&out.stdout);
    assert!(t.contains("WHO CAN DEPLOY") && t.contains("shop:ci"), "{t}");
}

fn docker_args<'a>(set: &str, socket: &'a str, buf: &'a mut Vec<String>) -> Vec<&'a str> {
    *buf = vec![
        format!("{FIX}/docker/{set}/daemon.json"),
        format!("{FIX}/docker/{set}/docker.service"),
        format!("{FIX}/docker/{set}/group"),
    ];
    vec![
        "docker",
        "--daemon-json",
        &buf[0],
        "--unit",
        &buf[1],
        "--group-file",
        &buf[2],
        "--socket",
        socket,
    ]
}

#[test]
fn exposed_and_hardened_docker_hosts() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let sock = dir.path().join("docker.sock");
    fs::write(&sock, "").expect("w");
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o666)).expect("chmod");
    let mut buf = Vec::new();
    let (a, out) = audit(&docker_args(
        "exposed",
        sock.to_str().expect("utf8"),
        &mut buf,
    ));
    assert_eq!(out.status.code(), Some(1));
    let got = codes(&a);
    for c in [
        "DKR001", "DKR003", "DKR004", "DKR005", "DKR006", "DKR007", "DKR008",
    ] {
        assert!(got.contains(c), "{c} missing from {got:?}");
    }
    let d1 = a
        .iter()
        .find(|x| x["rule"]["id"] == "DKR001")
        .expect("DKR001");
    assert_eq!(d1["severity"], "critical");
    assert_eq!(d1["source"]["line"], 2, "the hosts line of daemon.json");
    assert_eq!(d1["evidence"][0]["value"], "tcp://0.0.0.0:2375");
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o660)).expect("chmod");
    let (a, out) = audit(&docker_args(
        "hardened",
        sock.to_str().expect("utf8"),
        &mut buf,
    ));
    assert_eq!(out.status.code(), Some(0), "{a:#?}");
    assert!(
        a.iter()
            .all(|x| rank(x["severity"].as_str().unwrap_or("")) < rank("high")),
        "{a:#?}"
    );
    // TLS without client verification, from the unit's command line.
    let unit = dir.path().join("docker.service");
    fs::write(&unit, "[Service]\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --tls --tlscert=/etc/docker/cert.pem\n").expect("w");
    let (a, _) = audit(&[
        "docker",
        "--daemon-json",
        &format!("{FIX}/docker/hardened/group"),
        "--unit",
        unit.to_str().expect("utf8"),
        "--group-file",
        &format!("{FIX}/docker/hardened/group"),
        "--socket",
        sock.to_str().expect("utf8"),
    ]);
    assert!(codes(&a).contains("DKR002"), "{:?}", codes(&a));
    assert!(
        codes(&a).contains("DKR011"),
        "an unparseable daemon.json is reported: {:?}",
        codes(&a)
    );
}

#[test]
fn a_real_dockerd_on_2375_is_reported_critical() {
    let d = Dockerd::start(Some("127.0.0.1:2375"), &[]);
    let (a, out) = audit(&["docker", "--probe-only", "--probe", "tcp://127.0.0.1:2375"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f = a
        .iter()
        .find(|x| x["rule"]["id"] == "DKR009")
        .expect("DKR009");
    assert_eq!(f["severity"], "critical");
    assert!(
        f["evidence"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["field"] == "ApiVersion"))
    );
    drop(d);
    // Once it is gone, nothing answers.
    let (a, _) = audit(&["docker", "--probe-only", "--probe", "tcp://127.0.0.1:2375"]);
    assert!(a.is_empty(), "{a:?}");
}

fn chromium() -> &'static str {
    for c in [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ] {
        if Path::new(c).exists() {
            return c;
        }
    }
    panic!("no Chromium: scripts/test installs Debian's chromium");
}

fn chrome_args(dir: &Path) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--user-data-dir={}", dir.join("profile").display())])
    .collect()
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().expect("tmp");
    let html = dir.path().join("report.html");
    let out = run(&[
        "audit",
        "kubernetes",
        "--dump",
        &format!("{FIX}/kubernetes/weak"),
        "--format",
        "html",
        "-o",
        html.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = fs::read_to_string(&html).expect("report");
    assert!(
        !text.contains("<script") && !text.contains("http://") && !text.contains("https://"),
        "self-contained"
    );
    // The DOM Chromium builds holds the summary with a score per mitigation.
    let dom = std::process::Command::new(chromium())
        .args(chrome_args(dir.path()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("id=\"summary\""), "{dom}");
    for m in ["M1035", "M1047", "M1018", "M1030"] {
        assert!(dom.contains(m), "{m}");
    }
    assert!(dom.contains("class=\"score\""));
    assert!(dom.contains("Who can deploy containers"));
    // And a screenshot of the top of the page, the summary.
    let png = dir.path().join("summary.png");
    let shot = std::process::Command::new(chromium())
        .args(chrome_args(dir.path()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1280,900")
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    let bytes = fs::read(&png)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&shot.stderr)));
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    let (w, h) = (
        u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]),
        u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]]),
    );
    assert_eq!((w, h), (1280, 900));
    // A rendered page with coloured cards compresses far worse than a blank one.
    assert!(
        bytes.len() > 30_000,
        "screenshot looks blank ({} bytes)",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("PORTCULLIS_KEEP_SCREENSHOT") {
        let _ = fs::copy(&png, keep);
    }
}

#[test]
fn sarif_for_posture_findings() {
    let out = run(&[
        "audit",
        "kubernetes",
        "--dump",
        &format!("{FIX}/kubernetes/weak"),
        "--format",
        "sarif",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["version"], "2.1.0");
    let rules = v["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    assert!(rules.iter().any(|r| r["id"] == "RBAC001"));
    assert!(v["runs"][0]["results"].as_array().is_some_and(|r| {
        r.iter()
            .any(|x| x["ruleId"] == "EXP002" && x["level"] == "error")
    }));
}

/// The fixture file an API path answers with, reshaped the way the API server sends lists:
/// `kind: XList` and items without their own `kind`/`apiVersion` (kubectl adds those).
fn api_answer(dir: &str, path: &str) -> Option<String> {
    let file = match path {
        "/apis/rbac.authorization.k8s.io/v1/clusterroles" => "clusterroles",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" => "clusterrolebindings",
        "/apis/rbac.authorization.k8s.io/v1/roles" => "roles",
        "/apis/rbac.authorization.k8s.io/v1/rolebindings" => "rolebindings",
        "/api/v1/serviceaccounts" => "serviceaccounts",
        "/api/v1/namespaces" => "namespaces",
        "/apis/networking.k8s.io/v1/networkpolicies" => "networkpolicies",
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations" => {
            "validatingwebhookconfigurations"
        }
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies" => {
            "validatingadmissionpolicies"
        }
        "/api/v1/namespaces/kube-system/pods" => "kube-system-pods",
        "/api/v1/nodes" => {
            return Some(
                r#"{"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"node-1"}}]}"#
                    .into(),
            );
        }
        "/api/v1/nodes/node-1/proxy/configz" => "kubelet-configz-node-1",
        _ => return None,
    };
    let text = fs::read_to_string(format!("{dir}/{file}.json")).ok()?;
    let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
    if let Some(items) = v.get_mut("items").and_then(|i| i.as_array_mut()) {
        let kind = items
            .first()
            .and_then(|i| i["kind"].as_str())
            .unwrap_or("Unknown")
            .to_string();
        for i in items.iter_mut() {
            if let Some(o) = i.as_object_mut() {
                o.remove("kind");
                o.remove("apiVersion");
            }
        }
        v["kind"] = format!("{kind}List").into();
    }
    Some(v.to_string())
}

/// A list as the API server answers `?limit=N&continue=T`: at most N items — and at most
/// two here, which a server may do, so that every collection of the fixtures takes
/// several pages — with `metadata.continue` pointing at the rest. No `limit`: everything.
fn page_of(list: &str, query: &str) -> String {
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    let Some(limit) = param("limit").and_then(|l| l.parse::<usize>().ok()) else {
        return list.to_string();
    };
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(list) else {
        return list.to_string();
    };
    let from: usize = param("continue")
        .and_then(|c| c.strip_prefix("offset%3A").map(str::to_string))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let Some(items) = v.get_mut("items").and_then(|i| i.as_array_mut()) else {
        return list.to_string();
    };
    let take = limit.min(2);
    let total = items.len();
    let page: Vec<serde_json::Value> = items.drain(..).skip(from).take(take).collect();
    *items = page;
    if from + take < total {
        // Opaque to the client, as a real token is; it must come back percent-encoded.
        v["metadata"]["continue"] = format!("offset:{}", from + take).into();
    }
    v.to_string()
}

/// An HTTPS API server on loopback that serves a fixture set to holders of `token`.
fn fake_api_server(dir: &'static str, token: &'static str) -> (u16, String) {
    let ca = TestCa::new();
    let acceptor = loopback_tls(&ca);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| async move {
                            let authorized = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                == Some(&format!("Bearer {token}"));
                            let (status, body) = if !authorized {
                                (401, r#"{"kind":"Status","code":401}"#.to_string())
                            } else {
                                match api_answer(dir, req.uri().path())
                                    .map(|b| page_of(&b, req.uri().query().unwrap_or("")))
                                {
                                    Some(b) => (200, b),
                                    None => (404, r#"{"kind":"Status","code":404}"#.to_string()),
                                }
                            };
                            hyper::Response::builder()
                                .status(status)
                                .header("Content-Type", "application/json")
                                .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
    });
    (port, ca.pem)
}

#[test]
fn a_live_cluster_through_a_kubeconfig_matches_its_dump() {
    const WEAK: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../portcullis-audit/fixtures/kubernetes/weak"
    );
    use base64::Engine as _;
    let (port, ca) = fake_api_server(WEAK, "auditor-t0ken");
    let dir = tempfile::tempdir().expect("tmp");
    let kubeconfig = |token: &str| {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: weak\nclusters:\n- name: weak\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority-data: {}\ncontexts:\n- name: weak\n  context:\n    cluster: weak\n    user: auditor\nusers:\n- name: auditor\n  user:\n    token: {token}\n",
            base64::engine::general_purpose::STANDARD.encode(&ca)
        )
    };
    let kc = dir.path().join("kubeconfig");
    fs::write(&kc, kubeconfig("auditor-t0ken")).expect("kubeconfig");
    let (live, out) = audit(&["kubernetes", "--kubeconfig", kc.to_str().expect("utf8")]);
    let (dumped, _) = audit(&["kubernetes", "--dump", WEAK]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!live.is_empty());
    assert_eq!(codes(&live), codes(&dumped));
    assert_eq!(live.len(), dumped.len());
    // A wrong token is an error per API path, not a clean report.
    fs::write(&kc, kubeconfig("wrong")).expect("kubeconfig");
    let (a, out) = audit(&["kubernetes", "--kubeconfig", kc.to_str().expect("utf8")]);
    assert!(a.is_empty());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401"));
    // An exec credential plugin (EKS, GKE, kubelogin): run as kubectl runs it, relative
    // to the kubeconfig, with its env and KUBERNETES_EXEC_INFO, its token used.
    let plugin = dir.path().join("get-token.sh");
    fs::write(
        &plugin,
        "#!/bin/sh\ncase \"$KUBERNETES_EXEC_INFO\" in *'\"interactive\":false'*) ;; *) echo \"no exec info\" >&2; exit 3;; esac\nprintf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"%s\"}}' \"$PLUGIN_TOKEN\"\n",
    )
    .expect("plugin");
    fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let with_plugin = |token: &str| {
        kubeconfig("x").replace(
            "    token: x\n",
            &format!("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./get-token.sh\n      interactiveMode: Never\n      env:\n      - name: PLUGIN_TOKEN\n        value: {token}\n"),
        )
    };
    fs::write(&kc, with_plugin("auditor-t0ken")).expect("kubeconfig");
    let (via_plugin, out) = audit(&["kubernetes", "--kubeconfig", kc.to_str().expect("utf8")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(codes(&via_plugin), codes(&dumped));
    // A plugin that fails stops the audit with its command named, not an empty report.
    fs::write(
        &kc,
        with_plugin("x").replace("./get-token.sh", "./no-such-plugin"),
    )
    .expect("kubeconfig");
    let (a, out) = audit(&["kubernetes", "--kubeconfig", kc.to_str().expect("utf8")]);
    assert!(a.is_empty());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-plugin"));
    // Skipping verification is refused.
    fs::write(
        &kc,
        kubeconfig("auditor-t0ken").replace(
            "    certificate-authority-data:",
            "    insecure-skip-tls-verify: true\n    x:",
        ),
    )
    .expect("kubeconfig");
    let (_, out) = audit(&["kubernetes", "--kubeconfig", kc.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("insecure-skip-tls-verify"));
}
