//! `portcullis hunt` end to end: the built binary on the shared corpus, on Atomic Red Team
//! commands rendered as process records, and on audit logs written for the occasion.

mod common;
use common::*;
use std::fs;
use std::io::Write;

const TRACES: &str = "corpus/falco-k8s-audit-traces/test/trace_files/k8s_audit";

fn hunt(args: &[&str]) -> (Vec<serde_json::Value>, String, Option<i32>) {
    let mut a = vec!["hunt", "--format", "jsonl", "--quiet"];
    a.extend_from_slice(args);
    let out = run(&a);
    (
        alerts(&out),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn codes(alerts: &[serde_json::Value]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn the_whole_corpus_runs_and_bad_lines_are_located() {
    let (a, err, code) = hunt(&[&format!("{SHARED}/corpus")]);
    assert!(!err.contains("panicked"), "{err}");
    // The corpus holds one deliberately broken event: an input error, so exit 2 (after
    // hunting everything else).
    assert_eq!(code, Some(2), "{err}");
    assert!(!a.is_empty());
    assert!(
        err.contains("fal_01_003.json:1:10: invalid audit event"),
        "{err}"
    );
}

#[test]
fn falco_traces_give_their_hits() {
    let t = |f: &str| {
        let (a, err, _) = hunt(&[&format!("{SHARED}/{TRACES}/{f}")]);
        assert!(!err.contains("input error:"), "{f}: {err}");
        a
    };
    let max = |a: &[serde_json::Value]| {
        a.iter()
            .map(|x| rank(x["severity"].as_str().unwrap_or("info")))
            .max()
            .unwrap_or(0)
    };
    for f in [
        "create_nginx_pod_privileged.json",
        "create_nginx_pod_privileged_2nd_container.json",
        "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json",
    ] {
        let a = t(f);
        let p: Vec<_> = a.iter().filter(|x| x["rule"]["id"] == "PRV001").collect();
        assert_eq!(
            p.len(),
            1,
            "{f}: one alert, for the privileged container: {a:?}"
        );
        assert_eq!(p[0]["outcome"], "created");
        assert!(
            p[0]["source"]["id"].is_string(),
            "the auditID is the record id"
        );
        assert_eq!(
            p[0]["actor"]["service_account"],
            "kube-system:replicaset-controller"
        );
    }
    assert!(codes(&t("create_nginx_pod_hostnetwork.json")).contains(&"PRV004".to_string()));
    for f in [
        "create_nginx_pod_sensitive_mount.json",
        "create_nginx_pod_sensitive_mount_2nd_container.json",
    ] {
        assert!(codes(&t(f)).contains(&"MNT003".to_string()), "{f}");
    }
    // A `get` whose response holds a hostPath: not a deployment, no alert at all.
    assert!(t("create_nginx_pod_unsensitive_mount.json").is_empty());
    for f in [
        "create_nginx_pod_nohostnetwork.json",
        "create_nginx_pod_unprivileged.json",
    ] {
        assert_eq!(max(&t(f)), rank("info"), "{f}: NO-ALERT");
    }
    for f in [
        "create_pod_kube_system_namespace.json",
        "create_pod_kube_public_namespace.json",
    ] {
        let a = t(f);
        assert_eq!(max(&a), rank("medium"), "{f}: {a:?}");
        assert!(codes(&a).contains(&"WKL003".to_string()));
    }
    let a = t("create_deployment.json");
    assert_eq!(max(&a), rank("low"));
    let d = a
        .iter()
        .find(|x| x["rule"]["id"] == "ACT010")
        .expect("the human who deployed");
    assert_eq!(d["actor"]["user"], "minikube-user");
    for f in ["exec_pod.json", "attach_pod.json"] {
        let a = t(f);
        assert!(codes(&a) == vec!["ACT005".to_string()], "{f}: {a:?}");
        assert_eq!(a[0]["attack"], serde_json::json!(["T1609"]));
    }
    assert!(
        t("create_nginx_pod_no_secctx_1st_container_privileged_2nd_container.json")
            .iter()
            .any(|x| x["container"]["name"] != "nginx1" && x["rule"]["id"] == "PRV001")
    );
    // RBAC, namespaces, config maps: not deployments.
    for f in [
        "create_clusterrolebinding.json",
        "anonymous_creates_namespace_foo.json",
        "create_configmap.json",
        "create_secret.json",
    ] {
        assert!(t(f).is_empty(), "{f}");
    }
}

#[test]
fn broken_lines_do_not_stop_the_file_and_gzip_is_read() {
    let src = fs::read_to_string(format!(
        "{SHARED}/{TRACES}/create_nginx_pod_privileged.json"
    ))
    .expect("trace");
    let good = src.lines().next().expect("line");
    let text = format!(
        "{good}\n{{\"kind\": 0}}\n{}\n\n{}\n",
        &good[..good.len() / 2],
        good.replace("a362d22b", "b362d22b")
    );
    let dir = tempfile::tempdir().expect("tmp");
    let plain = dir.path().join("audit.log");
    fs::write(&plain, &text).expect("w");
    let (a, err, _) = hunt(&[plain.to_str().expect("utf8")]);
    assert!(err.contains("audit.log:2:10:"), "{err}");
    assert!(
        err.contains("audit.log:3:"),
        "truncated line located: {err}"
    );
    assert_eq!(
        a.iter().filter(|x| x["rule"]["id"] == "PRV001").count(),
        2,
        "lines 1 and 5 still hunted"
    );
    assert_eq!(
        a.iter()
            .filter(|x| x["rule"]["id"] == "PRV001")
            .map(|x| x["source"]["line"].as_u64().unwrap_or(0))
            .collect::<Vec<_>>(),
        vec![1, 5]
    );
    let gz = dir.path().join("audit.log.1.gz");
    let mut enc = flate2::write::GzEncoder::new(
        fs::File::create(&gz).expect("create"),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes()).expect("gzip");
    enc.finish().expect("gzip");
    let (b, _, _) = hunt(&[gz.to_str().expect("utf8")]);
    assert_eq!(codes(&a), codes(&b));
}

/// One audit event as the API server writes it (`audit.k8s.io/v1`, Request level).
fn audit_event(
    id: &str,
    user: &str,
    ns: &str,
    resource: &str,
    obj: serde_json::Value,
    time: &str,
) -> String {
    serde_json::json!({
        "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": id,
        "stage": "ResponseComplete", "requestURI": format!("/api/v1/namespaces/{ns}/{resource}"), "verb": "create",
        "user": {"username": user, "groups": ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"]},
        "sourceIPs": ["172.18.0.2"], "userAgent": "kube-controller-manager/v1.31.2 (linux/amd64) kubernetes/5864a46/system:serviceaccount:kube-system:daemon-set-controller",
        "objectRef": {"resource": resource, "namespace": ns, "apiVersion": "v1"},
        "responseStatus": {"metadata": {}, "code": 201},
        "requestObject": obj,
        "requestReceivedTimestamp": time, "stageTimestamp": time,
        "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC: allowed by ClusterRoleBinding \"system:controller:daemon-set-controller\""}
    })
    .to_string()
}

fn ds_pod(
    name: &str,
    ns: &str,
    owner: &str,
    sa: &str,
    spec: serde_json::Value,
) -> serde_json::Value {
    let mut spec = spec;
    spec["serviceAccountName"] = sa.into();
    spec["tolerations"] = serde_json::json!([{"operator": "Exists", "effect": "NoSchedule"}, {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}]);
    spec["affinity"] = serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["kind-worker"]}]}]}}});
    serde_json::json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {"generateName": format!("{name}-"), "namespace": ns, "labels": {"k8s-app": name},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner, "name": name, "uid": "6a4a2b9e-4c1f-4f8e-9d51-1b2c3d4e5f60", "controller": true, "blockOwnerDeletion": true}]},
        "spec": spec
    })
}

#[test]
fn standard_cluster_components_stay_at_low_or_below() {
    let t = "2026-11-20T10:00:00.000000Z";
    let lines = [
        audit_event(
            "c1",
            "system:serviceaccount:kube-system:daemon-set-controller",
            "kube-system",
            "pods",
            ds_pod(
                "kube-proxy",
                "kube-system",
                "DaemonSet",
                "kube-proxy",
                serde_json::json!({
                    "hostNetwork": true, "priorityClassName": "system-node-critical",
                    "containers": [{"name": "kube-proxy", "image": "registry.k8s.io/kube-proxy:v1.31.2", "command": ["/usr/local/bin/kube-proxy", "--config=/var/lib/kube-proxy/config.conf", "--hostname-override=$(NODE_NAME)"],
                        "securityContext": {"privileged": true},
                        "volumeMounts": [{"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"}, {"name": "xtables-lock", "mountPath": "/run/xtables.lock"}, {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": true}]}],
                    "volumes": [{"name": "kube-proxy", "configMap": {"name": "kube-proxy"}}, {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}}, {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}]
                }),
            ),
            t,
        ),
        audit_event(
            "c2",
            "system:serviceaccount:kube-system:daemon-set-controller",
            "kube-system",
            "pods",
            ds_pod(
                "calico-node",
                "kube-system",
                "DaemonSet",
                "calico-node",
                serde_json::json!({
                    "hostNetwork": true,
                    "initContainers": [{"name": "install-cni", "image": "docker.io/calico/cni:v3.28.2", "command": ["/opt/cni/bin/install"], "securityContext": {"privileged": true},
                        "volumeMounts": [{"name": "cni-bin-dir", "mountPath": "/host/opt/cni/bin"}, {"name": "cni-net-dir", "mountPath": "/host/etc/cni/net.d"}]}],
                    "containers": [{"name": "calico-node", "image": "docker.io/calico/node:v3.28.2", "securityContext": {"privileged": true},
                        "volumeMounts": [{"name": "var-run-calico", "mountPath": "/var/run/calico"}, {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": true}]}],
                    "volumes": [{"name": "cni-bin-dir", "hostPath": {"path": "/opt/cni/bin"}}, {"name": "cni-net-dir", "hostPath": {"path": "/etc/cni/net.d"}},
                                {"name": "var-run-calico", "hostPath": {"path": "/var/run/calico"}}, {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}}]
                }),
            ),
            t,
        ),
        audit_event(
            "c3",
            "system:serviceaccount:kube-system:replicaset-controller",
            "kube-system",
            "pods",
            ds_pod(
                "coredns",
                "kube-system",
                "ReplicaSet",
                "coredns",
                serde_json::json!({
                    "containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.11.3", "args": ["-conf", "/etc/coredns/Corefile"],
                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "readOnlyRootFilesystem": true}}]
                }),
            ),
            t,
        ),
        // A static control-plane pod mirrored by the kubelet.
        audit_event(
            "c4",
            "system:node:kind-control-plane",
            "kube-system",
            "pods",
            serde_json::json!({
                "kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": "kube-apiserver-kind-control-plane", "namespace": "kube-system", "annotations": {"kubernetes.io/config.mirror": "4f2c6d"},
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "kind-control-plane", "uid": "0d5b5f0c-0000-4000-8000-000000000001", "controller": true}]},
                "spec": {"hostNetwork": true, "nodeName": "kind-control-plane", "priorityClassName": "system-node-critical",
                    "containers": [{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v1.31.2", "command": ["kube-apiserver", "--advertise-address=172.18.0.2"],
                        "volumeMounts": [{"name": "k8s-certs", "mountPath": "/etc/kubernetes/pki", "readOnly": true}, {"name": "etc-ca-certificates", "mountPath": "/etc/ca-certificates", "readOnly": true}]}],
                    "volumes": [{"name": "k8s-certs", "hostPath": {"path": "/etc/kubernetes/pki", "type": "DirectoryOrCreate"}}, {"name": "etc-ca-certificates", "hostPath": {"path": "/etc/ca-certificates", "type": "DirectoryOrCreate"}}]}
            }),
            t,
        ),
    ];
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("audit.log");
    fs::write(&f, lines.join("\n") + "\n").expect("w");
    let (a, err, _) = hunt(&[f.to_str().expect("utf8")]);
    assert!(!err.contains("input error:"), "{err}");
    let loud: Vec<String> = a
        .iter()
        .filter(|x| rank(x["severity"].as_str().unwrap_or("")) > rank("low"))
        .map(|x| {
            format!(
                "{} {} {}",
                x["rule"]["id"], x["target"]["name"], x["message"]
            )
        })
        .collect();
    assert!(loud.is_empty(), "{loud:#?}");
    // The same kube-proxy pod in another namespace, or with an attacker's image, is not excused.
    let mimic = lines[0].replace("registry.k8s.io/kube-proxy", "docker.io/evil/kube-proxy");
    let moved = lines[0]
        .replace("\"kube-system\"", "\"default\"")
        .replace("namespaces/kube-system", "namespaces/default")
        .replace("\"c1\"", "\"c9\"");
    fs::write(&f, format!("{mimic}\n{moved}\n")).expect("w");
    let (a, _, _) = hunt(&[f.to_str().expect("utf8")]);
    assert_eq!(
        a.iter().filter(|x| x["rule"]["id"] == "PRV001").count(),
        2,
        "{a:#?}"
    );
}

#[test]
fn since_until_and_csv() {
    let f = format!("{SHARED}/{TRACES}/create_nginx_pod_privileged.json");
    let (a, _, _) = hunt(&[&f, "--since", "2018-10-25T14:09:13Z"]);
    assert!(a.is_empty(), "the event is at 14:09:12");
    let (a, _, _) = hunt(&[
        &f,
        "--since",
        "2018-10-25T14:09:12Z",
        "--until",
        "2018-10-25T14:09:13Z",
    ]);
    assert!(!a.is_empty());
    let out = run(&["hunt", "--format", "csv", "--quiet", &f]);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .is_some_and(|h| h.starts_with("time,severity,rule_id"))
    );
    assert!(
        text.contains(",critical,PRV001,privileged-container,"),
        "{text}"
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "critical ≥ the default --fail-on high"
    );
}

// ---- Atomic Red Team commands rendered as process records ----------------------------

/// The executor commands of an atomic, with `#{arg}` replaced by the argument defaults.
fn atomic_commands(technique: &str) -> Vec<(String, Vec<String>)> {
    let path = format!("{SHARED}/corpus/atomic-red-team/atomics/{technique}/{technique}.yaml");
    let doc: serde_json::Value =
        serde_saphyr::from_str(&fs::read_to_string(&path).expect("atomic")).expect("yaml");
    let mut out = Vec::new();
    for test in doc["atomic_tests"].as_array().expect("tests") {
        let mut cmd = test["executor"]["command"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if let Some(args) = test["input_arguments"].as_object() {
            for (k, v) in args {
                let default = v["default"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v["default"].to_string());
                cmd = cmd.replace(&format!("#{{{k}}}"), &default);
            }
        }
        cmd = cmd.replace("$PathtoAtomicsFolder", "/opt/atomic-red-team/atomics");
        let lines = cmd
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(str::to_string)
            .collect();
        out.push((test["name"].as_str().unwrap_or("").to_string(), lines));
    }
    out
}

/// How the executor's shell runs a line: plain commands as their own argv, lines with
/// shell syntax through `sh -c`.
fn argv_of(line: &str) -> Vec<String> {
    if line.contains([';', '|', '>', '<', '`', '$', '&']) || line.starts_with("if ") {
        vec!["sh".into(), "-c".into(), line.into()]
    } else {
        shlex::split(line).unwrap_or_else(|| vec!["sh".into(), "-c".into(), line.into()])
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn render_ecs(n: usize, argv: &[String]) -> String {
    serde_json::json!({
        "@timestamp": "2026-11-20T10:00:00.000Z",
        "event": {"id": format!("art-{n}"), "kind": "event", "category": ["process"], "type": ["start"], "module": "auditd"},
        "process": {"pid": 4000 + n, "executable": format!("/usr/bin/{}", argv[0]), "name": argv[0], "args": argv, "command_line": argv.join(" "),
                    "parent": {"pid": 3999, "executable": "/usr/bin/bash", "command_line": "bash"}},
        "user": {"name": "root", "id": "0"}, "host": {"hostname": "node-1", "os": {"type": "linux"}}
    })
    .to_string()
}

fn render_sysmon(n: usize, argv: &[String]) -> String {
    // Sysmon for Linux logs the argv joined by spaces, without quoting.
    let cmd = argv.join(" ");
    format!(
        "Nov 20 10:00:00 node-1 sysmon: <Event><System><Provider Name=\"Linux-Sysmon\" Guid=\"{{ff032593-a8d3-4f13-b0d6-01fc615a0f97}}\"/><EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime=\"2026-11-20T10:00:00.000000000Z\"/><EventRecordID>{}</EventRecordID><Correlation/><Execution ProcessID=\"1\" ThreadID=\"1\"/><Channel>Linux-Sysmon/Operational</Channel><Computer>node-1</Computer><Security UserId=\"0\"/></System><EventData><Data Name=\"RuleName\">-</Data><Data Name=\"UtcTime\">2026-11-20 10:00:00.000</Data><Data Name=\"ProcessGuid\">{{00000000-0000-0000-0000-000000000000}}</Data><Data Name=\"ProcessId\">{}</Data><Data Name=\"Image\">/usr/bin/{}</Data><Data Name=\"CommandLine\">{}</Data><Data Name=\"CurrentDirectory\">/root</Data><Data Name=\"User\">root</Data><Data Name=\"ParentProcessId\">3999</Data><Data Name=\"ParentImage\">/usr/bin/bash</Data><Data Name=\"ParentCommandLine\">bash</Data></EventData></Event>",
        1000 + n,
        4000 + n,
        xml_escape(&argv[0]),
        xml_escape(&cmd)
    )
}

fn render_auditd(n: usize, argv: &[String]) -> String {
    let hex = |s: &str| s.bytes().map(|b| format!("{b:02X}")).collect::<String>();
    let args = argv
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if a.contains([' ', '"', '\'']) || a.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
                format!("a{i}={}", hex(a))
            } else {
                format!("a{i}=\"{a}\"")
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let serial = 5000 + n;
    format!(
        "type=SYSCALL msg=audit(1795168800.{n:03}:{serial}): arch=c000003e syscall=59 success=yes exit=0 a0=55d0 a1=55d1 a2=55d2 a3=0 items=2 ppid=3999 pid={} auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm=\"{}\" exe=\"/usr/bin/{}\" subj=unconfined key=\"exec\"\ntype=EXECVE msg=audit(1795168800.{n:03}:{serial}): argc={} {args}\ntype=PROCTITLE msg=audit(1795168800.{n:03}:{serial}): proctitle={}\ntype=EOE msg=audit(1795168800.{n:03}:{serial}): ",
        4000 + n,
        argv[0],
        argv[0],
        argv.len(),
        hex(&argv.join("\0"))
    )
}

#[test]
fn atomic_red_team_commands_are_caught_in_every_process_format() {
    // (technique, test name fragment, rules that must fire)
    let expected: &[(&str, &str, &[&str])] = &[
        ("T1610", "Deploy Docker container", &["ACT009"]),
        ("T1609", "ExecIntoContainer", &["ACT009", "ACT005"]),
        ("T1609", "Docker Exec Into Container", &["ACT009", "ACT005"]),
        (
            "T1611",
            "nsenter container escape",
            &["PRV001", "PRV002", "PAY004"],
        ),
        ("T1611", "Mount host filesystem", &["PRC001", "PRC002"]),
        ("T1611", "Docker Volume Mapping", &["MNT001", "PAY005"]),
    ];
    let dir = tempfile::tempdir().expect("tmp");
    for (technique, test, rules) in expected {
        let atomics = atomic_commands(technique);
        let (_, lines) = atomics
            .iter()
            .find(|(n, _)| n.contains(test))
            .unwrap_or_else(|| {
                panic!(
                    "{technique}: no test {test}: {:?}",
                    atomics.iter().map(|a| &a.0).collect::<Vec<_>>()
                )
            });
        for (format, render) in [
            ("ecs", render_ecs as fn(usize, &[String]) -> String),
            ("sysmon", render_sysmon),
            ("auditd", render_auditd),
        ] {
            let text: Vec<String> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| render(i, &argv_of(l)))
                .collect();
            let f = dir.path().join(format!("{technique}-{format}.log"));
            fs::write(&f, text.join("\n") + "\n").expect("w");
            let (a, err, _) = hunt(&[f.to_str().expect("utf8")]);
            assert!(!err.contains("input error:"), "{technique} {format}: {err}");
            let got = codes(&a);
            for r in *rules {
                assert!(
                    got.iter().any(|g| g == r),
                    "{technique} '{test}' as {format}: {r} missing from {got:?}\n{}",
                    text.join("\n")
                );
            }
            let kind = if format == "sysmon" { "sysmon" } else { format };
            assert!(a.iter().all(|x| x["source"]["kind"] == kind), "{a:?}");
            assert!(
                a.iter().all(|x| x["source"]["id"].is_string()),
                "native record ids"
            );
        }
    }
}

#[test]
fn commands_that_only_mention_tools_raise_nothing() {
    let lines = [
        "git commit -m \"docker run --privileged -v /:/host alpine\"",
        "grep -rn 'kubectl apply' /etc",
        "man docker-run",
        "echo docker run --privileged alpine",
        "vim docker-compose.yml",
    ];
    let text: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| render_ecs(i, &shlex::split(l).expect("split")))
        .collect();
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("benign.json");
    fs::write(&f, text.join("\n") + "\n").expect("w");
    let (a, _, _) = hunt(&[f.to_str().expect("utf8")]);
    assert!(a.is_empty(), "{a:?}");
}

/// Run hunt and sample its peak resident memory (VmHWM, the kernel's high-water mark)
/// until it exits: (exit code, stderr, peak kB, alert count).
fn hunt_measured(args: &[&str]) -> (Option<i32>, String, u64, usize) {
    let mut a = vec!["hunt", "--format", "jsonl", "--quiet"];
    a.extend_from_slice(args);
    let dir = tempfile::tempdir().expect("tmp");
    let out_path = dir.path().join("out");
    let err_path = dir.path().join("err");
    let mut child = bin()
        .args(&a)
        .stdout(fs::File::create(&out_path).expect("out"))
        .stderr(fs::File::create(&err_path).expect("err"))
        .spawn()
        .expect("hunt runs");
    let status = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let code = loop {
        if let Ok(s) = fs::read_to_string(&status)
            && let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            peak = peak.max(v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
        }
        if let Ok(Some(st)) = child.try_wait() {
            break st.code();
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let alerts = fs::read_to_string(&out_path)
        .unwrap_or_default()
        .lines()
        .count();
    (
        code,
        fs::read_to_string(&err_path).unwrap_or_default(),
        peak,
        alerts,
    )
}

/// Write `prefix`, then `total` bytes of `byte` (gzipped) with a newline every `line`
/// bytes (0: none).
fn gz_of(path: &std::path::Path, prefix: &str, byte: u8, total: usize, line: usize) {
    let mut enc = flate2::write::GzEncoder::new(
        fs::File::create(path).expect("create"),
        flate2::Compression::fast(),
    );
    enc.write_all(prefix.as_bytes()).expect("gzip");
    let mut chunk = vec![byte; 1 << 20];
    if line > 0 {
        for i in (line - 1..chunk.len()).step_by(line) {
            chunk[i] = b'\n';
        }
    }
    for _ in 0..total / chunk.len() {
        enc.write_all(&chunk).expect("gzip");
    }
    enc.finish().expect("gzip");
}

#[test]
fn damaged_gzip_giant_lines_and_gzip_bombs_are_errors_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let src = fs::read_to_string(format!(
        "{SHARED}/{TRACES}/create_nginx_pod_privileged.json"
    ))
    .expect("trace");
    let good_line = src.lines().next().expect("line").to_string();
    // A good file, hunted after each bad one: the run goes on.
    let good = dir.path().join("good.log");
    fs::write(&good, format!("{good_line}\n")).expect("w");
    let good = good.to_str().expect("utf8");

    // Truncated .gz: the lines before the damage are judged, the error is located.
    let mut lines = String::new();
    for i in 0..3000 {
        lines.push_str(&good_line.replace("a362d22b", &format!("{i:08x}")));
        lines.push('\n');
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(lines.as_bytes()).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let truncated = dir.path().join("truncated.log.gz");
    fs::write(&truncated, &gz[..gz.len() / 2]).expect("w");
    let (code, err, _, alerts) = hunt_measured(&[truncated.to_str().expect("utf8"), good]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("truncated.log.gz") && err.contains("cannot read further"),
        "{err}"
    );
    assert!(
        err.contains("portcullis: 2 file(s)"),
        "the summary is printed: {err}"
    );
    assert!(
        alerts > 100,
        "what came before the damage is judged: {alerts}"
    );
    // A .gz whose header is cut: an error, not "nothing to read".
    let stub = dir.path().join("stub.gz");
    fs::write(&stub, &gz[..6]).expect("w");
    let (code, err, _, _) = hunt_measured(&[stub.to_str().expect("utf8")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("stub.gz"), "{err}");

    // One 256 MiB line (1 MiB of gzip): an error at its line, never held in memory.
    let giant = dir.path().join("giant.log.gz");
    // An audit event whose one string never ends.
    gz_of(
        &giant,
        r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"g","verb":"create","requestObject":{"x":""#,
        b'a',
        256 << 20,
        0,
    );
    let (code, err, peak, alerts) = hunt_measured(&[giant.to_str().expect("utf8"), good]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("giant.log.gz:1:") && err.contains("--max-line-bytes"),
        "{err}"
    );
    assert!(alerts > 0, "the good file after it is hunted");
    assert!(peak < 100 * 1024, "peak {peak} kB");
    // The same bomb forced to a line format, and to an ordered one.
    for format in ["k8s-audit", "auditd"] {
        let (code, err, peak, _) =
            hunt_measured(&["--input-format", format, giant.to_str().expect("utf8")]);
        assert_eq!(code, Some(2), "{format}: {err}");
        assert!(err.contains("--max-line-bytes"), "{format}: {err}");
        assert!(peak < 100 * 1024, "{format}: peak {peak} kB");
    }
    // 1 GiB of short junk lines: a long file, read in bounded memory.
    let bomb = dir.path().join("bomb.log.gz");
    gz_of(&bomb, "", b'x', 1 << 30, 4096);
    let (code, _, peak, _) =
        hunt_measured(&["--input-format", "k8s-audit", bomb.to_str().expect("utf8")]);
    assert_eq!(code, Some(2));
    assert!(peak < 100 * 1024, "peak {peak} kB");
}

#[test]
fn an_audited_body_with_a_key_given_twice_is_read_as_the_api_server_merged_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("audit.log");
    // The raw body a client sent (curl): the second securityContext merges into the
    // first, so the stored pod is privileged.
    let body = r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"m"},"spec":{"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true},"securityContext":{"runAsUser":1000}}]}}"#;
    let line = format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"dup-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"create","user":{{"username":"mallory"}},"objectRef":{{"resource":"pods","namespace":"default","name":"m","apiVersion":"v1"}},"responseStatus":{{"code":201}},"requestObject":{body}}}"#
    );
    fs::write(&log, format!("{line}\n")).expect("w");
    let (a, err, _) = hunt(&[log.to_str().expect("utf8")]);
    assert!(codes(&a).contains(&"PRV001".to_string()), "{err} {a:?}");
}

/// What a hunter compares between two shapes of one log: rule, target, severity.
fn verdicts(alerts: &[serde_json::Value]) -> Vec<String> {
    let mut v: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {}",
                a["rule"]["id"].as_str().unwrap_or(""),
                a["target"]["kind"].as_str().unwrap_or(""),
                a["target"]["name"].as_str().unwrap_or(""),
                a["severity"].as_str().unwrap_or("")
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn pretty_printed_arrays_and_lists_give_what_their_json_lines_twin_gives() {
    let dir = tempfile::tempdir().expect("tmp");
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../portcullis-rules/fixtures");
    let mut twins = 0;
    let mut sources: Vec<std::path::PathBuf> = fs::read_dir(&fixtures)
        .expect("fixtures")
        .flatten()
        .map(|e| e.path().join("positive.jsonl"))
        .filter(|p| p.exists())
        .collect();
    sources.push(std::path::PathBuf::from(format!(
        "{SHARED}/{TRACES}/create_nginx_pod_privileged.json"
    )));
    for src in sources {
        let text = fs::read_to_string(&src).expect("read");
        let values: Vec<serde_json::Value> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("fixture line is JSON"))
            .collect();
        // The EXP rules' fixtures come with the baseline they are judged against.
        let baseline = src.with_file_name("baseline.yaml");
        let mut args: Vec<String> = Vec::new();
        if baseline.exists() {
            args = vec!["--baseline".into(), baseline.display().to_string()];
        }
        let with = |file: &str| -> Vec<String> {
            let mut a = args.clone();
            a.push(file.to_string());
            a
        };
        let run_on = |file: &str| {
            let a = with(file);
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            hunt(&refs)
        };
        let (want, _, _) = run_on(src.to_str().expect("utf8"));
        let want = verdicts(&want);
        assert!(!want.is_empty(), "{}", src.display());
        let pretty: Vec<String> = values
            .iter()
            .map(|v| serde_json::to_string_pretty(v).expect("json"))
            .collect();
        let is_audit = values.iter().all(|v| v.get("auditID").is_some());
        let mut shapes = vec![
            ("jq", pretty.join("\n")),
            ("slurp", serde_json::to_string(&values).expect("json")),
            (
                "slurp-pretty",
                serde_json::to_string_pretty(&values).expect("json"),
            ),
        ];
        if is_audit {
            let list = serde_json::json!({"kind": "EventList", "apiVersion": "audit.k8s.io/v1", "metadata": {}, "items": values});
            shapes.push((
                "eventlist",
                serde_json::to_string_pretty(&list).expect("json"),
            ));
        }
        for (shape, body) in shapes {
            let f = dir.path().join(format!("{shape}.json"));
            fs::write(&f, body).expect("w");
            let (got, err, code) = run_on(f.to_str().expect("utf8"));
            assert_ne!(code, Some(2), "{} as {shape}: {err}", src.display());
            assert_eq!(verdicts(&got), want, "{} as {shape}: {err}", src.display());
            twins += 1;
        }
    }
    assert!(twins > 40, "{twins}");
}

#[test]
fn an_exec_into_a_system_namespace_is_not_a_deployment_there() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("audit.log");
    let line = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"ex-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/kube-system/pods/coredns-1/exec?command=sh&container=coredns&stdin=true&tty=true","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"kube-system","name":"coredns-1","apiVersion":"v1","subresource":"exec"},"responseStatus":{"code":101}}"#;
    fs::write(&log, format!("{line}\n")).expect("w");
    let (a, err, _) = hunt(&[log.to_str().expect("utf8")]);
    let c = codes(&a);
    assert!(c.contains(&"ACT005".to_string()), "{err} {c:?}");
    assert!(!c.contains(&"WKL003".to_string()), "{c:?}");
}

#[test]
fn every_alert_time_is_rfc3339() {
    let dir = tempfile::tempdir().expect("tmp");
    let argv: Vec<String> = ["docker", "run", "--privileged", "alpine"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let log = dir.path().join("audit.log");
    fs::write(&log, format!("{}\n", render_auditd(7, &argv))).expect("w");
    let sysmon = dir.path().join("sysmon.xml");
    fs::write(&sysmon, format!("{}\n", render_sysmon(3, &argv))).expect("w");
    for f in [&log, &sysmon] {
        let (a, err, _) = hunt(&[f.to_str().expect("utf8")]);
        assert!(!a.is_empty(), "{err}");
        for x in &a {
            let t = x["time"].as_str().unwrap_or("");
            let b = t.as_bytes();
            assert!(
                b.len() >= 20
                    && b[4] == b'-'
                    && b[10] == b'T'
                    && (t.ends_with('Z') || t.contains('+')),
                "{}: time {t:?}",
                f.display()
            );
        }
    }
}

#[test]
fn the_table_is_a_timeline_and_info_is_counted_not_listed() {
    let dir = tempfile::tempdir().expect("tmp");
    let argv = |s: &str| -> Vec<String> { s.split(' ').map(str::to_string).collect() };
    // Two process records, written out of time order.
    let later =
        render_ecs(2, &argv("docker run --privileged alpine")).replace("10:00:00", "12:00:00");
    let earlier = render_ecs(1, &argv("docker run --pid host alpine"));
    let log = dir.path().join("ecs.ndjson");
    fs::write(&log, format!("{later}\n{earlier}\n")).expect("w");
    let out = run(&[
        "hunt",
        "--format",
        "table",
        "--quiet",
        log.to_str().expect("utf8"),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("TIME") && text.contains("ACTOR") && text.contains("ACTION"),
        "{text}"
    );
    let (pid, privileged) = (text.find("PRV002"), text.find("PRV001"));
    assert!(
        pid.is_some() && privileged.is_some() && pid < privileged,
        "sorted by time:\n{text}"
    );
    assert!(
        !text.contains("IMG001"),
        "info is not listed by default:\n{text}"
    );
    assert!(text.contains("info finding(s) not listed"), "{text}");
    let all = run(&[
        "hunt",
        "--format",
        "table",
        "--quiet",
        "--min-severity",
        "info",
        log.to_str().expect("utf8"),
    ]);
    assert!(String::from_utf8_lossy(&all.stdout).contains("IMG001"));
}

#[test]
fn files_that_are_not_logs_are_skipped_with_one_line_each() {
    let dir = tempfile::tempdir().expect("tmp");
    fs::write(
        dir.path().join("deploy.yaml"),
        "apiVersion: v1\nkind: Pod\n",
    )
    .expect("w");
    fs::write(
        dir.path().join("wrapper.json"),
        "{\n  \"name\": \"test case\",\n  \"expected\": [1, 2]\n}\n",
    )
    .expect("w");
    let src = fs::read_to_string(format!(
        "{SHARED}/{TRACES}/create_nginx_pod_privileged.json"
    ))
    .expect("trace");
    fs::write(dir.path().join("audit.log"), src).expect("w");
    let (a, err, code) = hunt(&[dir.path().to_str().expect("utf8")]);
    assert!(!a.is_empty());
    assert_eq!(code, Some(1), "no input error: {err}");
    assert!(
        err.contains("skipped") && err.contains("deploy.yaml: a Kubernetes manifest"),
        "{err}"
    );
    assert!(err.contains("wrapper.json: JSON, but not"), "{err}");
    assert_eq!(err.matches("skipped ").count(), 2, "one line each: {err}");
    assert!(
        err.contains("(2 not logs, skipped)"),
        "the summary agrees: {err}"
    );
}

const EVTX: &str = "corpus/evtx-samples";

#[test]
fn real_evtx_files_are_read_end_to_end_like_their_xml_export() {
    // Every record of every real file is read (a damaged chunk is a located error).
    for name in [
        "sysmon.evtx",
        "Security_short_selected.evtx",
        "new-user-security.evtx",
    ] {
        let path = format!("{SHARED}/{EVTX}/{name}");
        let mut parser = evtx::EvtxParser::from_path(&path).expect("evtx");
        let records = parser.records().count();
        let (_, err, code) = hunt(&[&path]);
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains(&format!("{records} record(s)")),
            "{name}: {records} records expected in the summary: {err}"
        );
        assert_ne!(code, None, "{err}");
    }
    // A real Sysmon event 1, as the evtx crate renders it, with a deployment command line
    // put in: the EVTX reader and the XML reader find the same.
    let path = format!("{SHARED}/{EVTX}/sysmon.evtx");
    let mut parser = evtx::EvtxParser::from_path(&path).expect("evtx");
    let xml = parser
        .records()
        .flatten()
        .map(|r| r.data)
        .find(|x| x.contains("<EventID>1</EventID>") && x.contains("Name=\"CommandLine\""))
        .expect("a Sysmon process-creation record");
    let start = xml
        .find("<Data Name=\"CommandLine\">")
        .expect("CommandLine");
    let end = start + xml[start..].find("</Data>").expect("end");
    let planted = format!(
        "{}<Data Name=\"CommandLine\">docker run --privileged -v /:/host alpine{}",
        &xml[..start],
        &xml[end..]
    );
    let dir = tempfile::tempdir().expect("tmp");
    let f = dir.path().join("planted.xml");
    fs::write(&f, format!("<Events>{planted}</Events>\n")).expect("w");
    let (a, err, _) = hunt(&[f.to_str().expect("utf8")]);
    let c = codes(&a);
    assert!(
        c.contains(&"PRV001".to_string()) && c.contains(&"MNT001".to_string()),
        "{err} {c:?}"
    );
}

#[test]
fn windows_docker_command_lines_and_drive_binds() {
    let dir = tempfile::tempdir().expect("tmp");
    let exe = r"C:\Program Files\Docker\Docker\resources\bin\docker.exe";
    let lines: Vec<String> = [
        (format!(r#""{exe}" run --privileged -v C:\:/host alpine"#), "MNT001"),
        (format!(r"{exe} run -v C:\:/host alpine"), "MNT001"),
        (r"docker.exe run -v C:\Windows\System32:/s alpine".to_string(), "MNT003"),
        (r"docker run -v \\.\pipe\docker_engine:\\.\pipe\docker_engine alpine".to_string(), "MNT002"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (cl, _))| {
        serde_json::json!({"@timestamp": "2026-11-20T10:00:00.000Z",
            "event": {"id": format!("w{i}"), "kind": "event", "category": ["process"], "type": ["start"]},
            "process": {"pid": 10 + i, "executable": exe, "command_line": cl},
            "user": {"name": "alice"}, "host": {"hostname": "win-1", "os": {"type": "windows"}}})
        .to_string()
    })
    .collect();
    let log = dir.path().join("win.ndjson");
    fs::write(&log, lines.join("\n") + "\n").expect("w");
    let (a, err, _) = hunt(&[log.to_str().expect("utf8")]);
    for (line, code) in [(1, "MNT001"), (2, "MNT001"), (3, "MNT003"), (4, "MNT002")] {
        assert!(
            a.iter()
                .any(|x| x["source"]["line"] == line && x["rule"]["id"] == code),
            "line {line} {code}: {err} {:?}",
            codes(&a)
        );
    }
}

/// Debian's podman (installed by scripts/test) with a private store, as root or not.
fn podman(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("podman")
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("run"))
        .args([
            "--storage-driver",
            "vfs",
            "--events-backend",
            "file",
            "--cgroup-manager",
            "cgroupfs",
        ])
        .arg("--tmpdir")
        .arg(dir.join("tmp"))
        .args(args)
        .output()
        .expect("podman runs (scripts/test installs it)")
}

#[test]
fn real_podman_events_and_inspect_are_hunted() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("rootfs");
    fs::create_dir_all(root.join("bin")).expect("mkdir");
    fs::copy("/bin/busybox", root.join("bin/busybox")).expect("busybox-static");
    let tar = dir.path().join("bb.tar");
    let ok = std::process::Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(ok.success());
    let imported = podman(
        dir.path(),
        &["import", tar.to_str().expect("utf8"), "portcullis/bb:1"],
    );
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let created = podman(
        dir.path(),
        &[
            "create",
            "--name",
            "pmx",
            "--privileged",
            "-v",
            "/:/host",
            "portcullis/bb:1",
            "/bin/busybox",
            "true",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let events = podman(
        dir.path(),
        &["events", "--stream=false", "--format", "json"],
    );
    let inspect = podman(dir.path(), &["inspect", "pmx"]);
    let (ev, insp) = (
        dir.path().join("events.json"),
        dir.path().join("inspect.json"),
    );
    fs::write(&ev, &events.stdout).expect("w");
    fs::write(&insp, &inspect.stdout).expect("w");
    let (a, err, _) = hunt(&["--min-severity", "info", ev.to_str().expect("utf8")]);
    assert!(
        a.iter().any(|x| x["target"]["kind"] == "PodmanContainer"
            && x["target"]["name"] == "pmx"
            && x["source"]["kind"] == "podman_events"
            && x["operation"] == "create"),
        "{err} {a:#?}"
    );
    let (a, err, _) = hunt(&[insp.to_str().expect("utf8")]);
    let c = codes(&a);
    assert!(
        c.contains(&"PRV001".to_string()) && c.contains(&"MNT001".to_string()),
        "{err} {c:?}"
    );
}

#[test]
fn journald_exports_of_dockerd_and_podman_are_hunted() {
    let dir = tempfile::tempdir().expect("tmp");
    let entry = |cursor: u32, ident: &str, msg: &str| {
        serde_json::json!({"__CURSOR": format!("s=abc;i={cursor}"), "__REALTIME_TIMESTAMP": "1795168800000000",
            "_SYSTEMD_UNIT": format!("{ident}.service"), "SYSLOG_IDENTIFIER": ident, "_COMM": ident, "PRIORITY": "7", "MESSAGE": msg})
        .to_string()
    };
    let lines = [
        entry(
            1,
            "systemd",
            "Started docker.service - Docker Application Container Engine.",
        ),
        entry(
            2,
            "dockerd",
            r#"time="2026-11-20T10:00:00.000000000Z" level=debug msg="Calling POST /v1.41/containers/create?name=root""#,
        ),
        entry(
            3,
            "dockerd",
            r#"time="2026-11-20T10:00:00.000100000Z" level=debug msg="form data: {\"HostConfig\":{\"Binds\":[\"/:/host\"],\"Privileged\":true},\"Image\":\"alpine\"}""#,
        ),
        entry(
            4,
            "containerd",
            r#"time="2026-11-20T10:00:00.1Z" level=info msg="loading plugin""#,
        ),
    ];
    let json = dir.path().join("docker.journal.json");
    fs::write(&json, lines.join("\n") + "\n").expect("w");
    let (a, err, code) = hunt(&[json.to_str().expect("utf8")]);
    let c = codes(&a);
    assert!(
        c.contains(&"PRV001".to_string()) && c.contains(&"MNT001".to_string()),
        "{err} {c:?}"
    );
    assert!(a.iter().all(|x| x["source"]["kind"] == "journald"));
    assert_ne!(code, Some(2), "{err}");
    let export = "__CURSOR=s=abc;i=9\n__REALTIME_TIMESTAMP=1795168800000000\n_COMM=podman\nSYSLOG_IDENTIFIER=podman\nPODMAN_EVENT=create\nPODMAN_TYPE=container\nPODMAN_NAME=miner\nPODMAN_IMAGE=docker.io/xmrig/xmrig:latest\nPODMAN_ID=0123\nMESSAGE=container create 0123\n\n";
    let ex = dir.path().join("podman.export");
    fs::write(&ex, export).expect("w");
    let (a, err, _) = hunt(&["--min-severity", "info", ex.to_str().expect("utf8")]);
    assert!(
        a.iter()
            .any(|x| x["target"]["kind"] == "PodmanContainer" && x["target"]["name"] == "miner"),
        "{err} {a:#?}"
    );
}

/// Wait until `path` holds `needle` (a file another process is writing).
fn wait_for_text(path: &std::path::Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn real_containerd_events_and_log_show_a_container_made_on_its_socket() {
    let c = Containerd::start();
    let events = c.dir.path().join("ctr-events.log");
    let mut watcher = std::process::Command::new("ctr")
        .arg("--address")
        .arg(&c.socket)
        .arg("events")
        .stdout(fs::File::create(&events).expect("events file"))
        .spawn()
        .expect("ctr events");
    // The subscription is live once it has seen an event of its own making: made again
    // until one is seen, since `ctr events` may not have subscribed yet.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut probe = 0;
    while !fs::read_to_string(&events)
        .unwrap_or_default()
        .contains("/namespaces/create")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "ctr events saw nothing"
        );
        probe += 1;
        assert!(
            c.ctr(&["namespaces", "create", &format!("probe{probe}")])
                .status
                .success()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let rootfs = c.busybox_rootfs();
    let rootfs = rootfs.to_string_lossy();
    let run = c.ctr(&[
        "run",
        "--rm",
        "--privileged",
        "--rootfs",
        &rootfs,
        "t1",
        "/bin/busybox",
        "true",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    // The Kubernetes namespace is the kubelet's: the same run there is not ACT018's.
    let run = c.ctr(&[
        "--namespace",
        "k8s.io",
        "run",
        "--rm",
        "--rootfs",
        &rootfs,
        "k1",
        "/bin/busybox",
        "true",
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = wait_for_text(&events, r#"k8s.io /containers/delete {"id":"k1"}"#);
    let _ = watcher.kill();
    let _ = watcher.wait();
    assert!(text.contains("/tasks/start"), "{text}");

    let act018 = |a: &[serde_json::Value]| -> Vec<(String, String)> {
        a.iter()
            .filter(|x| x["rule"]["id"] == "ACT018")
            .map(|x| {
                (
                    x["target"]["name"].as_str().unwrap_or("").to_string(),
                    x["operation"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let (a, err, _) = hunt(&[events.to_str().unwrap_or("")]);
    assert!(!err.contains("input error:"), "{err}");
    assert_eq!(
        act018(&a),
        vec![
            ("t1".to_string(), "create".to_string()),
            ("t1".into(), "start".into())
        ],
        "{a:?}"
    );
    // containerd's own log: the shim's start of each task, by namespace.
    let log = c.dir.path().join("containerd.log");
    let (a, err, _) = hunt(&[log.to_str().unwrap_or("")]);
    assert!(!err.contains("input error:"), "{err}");
    assert_eq!(
        act018(&a),
        vec![("t1".to_string(), "start".to_string())],
        "{}",
        c.log()
    );
}

#[test]
fn a_kubelet_log_shows_static_pods_that_never_met_admission() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("kubelet.log");
    fs::write(
        &log,
        concat!(
            "I1207 00:40:01.000100    1234 server.go:484] \"Kubelet version\" kubeletVersion=\"v1.31.2\"\n",
            "I1207 00:40:02.123456    1234 kubelet.go:2435] \"SyncLoop ADD\" source=\"api\" pods=[\"default/web-5cdcc99dbf-x7k2p\"]\n",
            "I1207 00:42:58.123456    1234 kubelet.go:2435] \"SyncLoop ADD\" source=\"file\" pods=[\"default/miner-node-3\"]\n",
            "E1207 00:42:59.000000    1234 pod_workers.go:1301] \"Error syncing pod, skipping\" err=\"failed to \\\"StartContainer\\\"\"\n",
        ),
    )
    .expect("write");
    let (a, err, _) = hunt(&["--min-severity", "low", log.to_str().unwrap_or("")]);
    assert!(!err.contains("input error:"), "{err}");
    let static_pods: Vec<_> = a
        .iter()
        .filter(|x| x["rule"]["id"] == "ACT012")
        .map(|x| x["target"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(static_pods, vec!["miner-node-3"], "{a:?}");
}
