//! Differential test against the real consumer: generated create requests (case variants,
//! repeated keys, decoys, top-level host fields, every HostConfig field that grants host
//! access, odd request targets) go to a real dockerd *without* the plugin. For each one
//! the engine accepted, what it actually created (`GET /containers/{id}/json`) must be,
//! in every security-relevant field, what the plugin's reading of the same request said
//! (the route the plugin found, and the model `docker_wire` + `docker_api` build).
//!
//! A request the plugin's reader refuses is fine (the plugin denies it); one the engine
//! refuses is fine (nothing runs). CI runs `PORTCULLIS_DIFF_CASES` (default 120) cases; a
//! long run is the same test with a larger number.

mod common;

use common::{Dockerd, Rng, busybox_image, http};
use portcullis_model::Deployment;
use portcullis_sources::docker_api::{self, Shape};
use portcullis_sources::docker_route::{self, Class, Endpoint};
use serde_json::{Value, json};

/// A key as a client might spell it: exact, lower, upper, mixed, or with the runes Go
/// folds onto `s`/`k` (every Go version agrees on those).
fn spell(rng: &mut Rng, key: &str) -> String {
    match rng.below(6) {
        0 | 1 => key.to_string(),
        2 => key.to_ascii_lowercase(),
        3 => key.to_ascii_uppercase(),
        4 => key
            .chars()
            .map(|c| {
                if rng.chance(50) {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            })
            .collect(),
        _ => key
            .chars()
            .map(|c| match c {
                's' | 'S' if rng.chance(70) => '\u{017F}',
                'k' | 'K' if rng.chance(70) => '\u{212A}',
                c => c,
            })
            .collect(),
    }
}

/// One HostConfig member: (canonical key, JSON value text).
fn host_member(rng: &mut Rng) -> (&'static str, String) {
    let bind = |rng: &mut Rng| {
        rng.pick(&[
            "/:/host",
            "/etc:/e:ro",
            "/var/run:/r",
            "/proc/1/root:/p",
            "/tmp:/t:rw",
            "data:/data",
            "/dev/null:/n",
        ])
        .to_string()
    };
    match rng.below(16) {
        0 | 1 => ("Privileged", rng.pick(&["true", "false", "null"]).to_string()),
        2 | 3 => {
            let n = 1 + rng.below(2);
            let binds: Vec<String> = (0..n).map(|_| format!("{:?}", bind(rng))).collect();
            ("Binds", format!("[{}]", binds.join(",")))
        }
        4 => (
            "CapAdd",
            rng.pick(&[r#""SYS_ADMIN""#, r#"["NET_ADMIN"]"#, r#"["SYS_PTRACE","CAP_SYS_ADMIN"]"#, "null"])
                .to_string(),
        ),
        5 => ("PidMode", rng.pick(&[r#""host""#, r#""""#]).to_string()),
        6 => ("IpcMode", rng.pick(&[r#""host""#, r#""private""#, r#""shareable""#]).to_string()),
        7 => ("NetworkMode", rng.pick(&[r#""host""#, r#""none""#]).to_string()),
        8 => ("UsernsMode", rng.pick(&[r#""host""#, r#""""#]).to_string()),
        9 => ("CgroupnsMode", rng.pick(&[r#""host""#, r#""private""#]).to_string()),
        10 => (
            "SecurityOpt",
            rng.pick(&[
                r#"["seccomp=unconfined"]"#,
                r#"["apparmor=unconfined"]"#,
                r#"["no-new-privileges"]"#,
                r#"["label=disable","seccomp=unconfined"]"#,
            ])
            .to_string(),
        ),
        11 => (
            "Devices",
            rng.pick(&[
                r#"[{"PathOnHost":"/dev/null","PathInContainer":"/dev/xnull","CgroupPermissions":"rwm"}]"#,
                r#"[{"pathonhost":"/dev/zero","pathincontainer":"/dev/xzero"}]"#,
            ])
            .to_string(),
        ),
        12 => (
            "DeviceCgroupRules",
            rng.pick(&[r#"["b *:* rwm"]"#, r#"["c 1:3 rwm"]"#, r#"["a *:* rwm"]"#]).to_string(),
        ),
        13 => (
            "Mounts",
            rng.pick(&[
                r#"[{"Type":"bind","Source":"/","Target":"/m"}]"#,
                r#"[{"type":"bind","source":"/etc","target":"/m","readonly":true}]"#,
                r#"[{"Type":"volume","Source":"rootvol","Target":"/m","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]"#,
                r#"[{"Type":"tmpfs","Target":"/m"}]"#,
            ])
            .to_string(),
        ),
        14 => ("ReadonlyRootfs", rng.pick(&["true", "false"]).to_string()),
        _ => ("MaskedPaths", rng.pick(&["[]", r#"["/proc/kcore"]"#]).to_string()),
    }
}

fn object(rng: &mut Rng, members: &[(&str, String)]) -> String {
    let parts: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(spell(rng, k))))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// A create body: config fields, host fields placed inner / top-level / both / split over
/// a repeated HostConfig, decoys and repeats mixed in.
fn body(rng: &mut Rng, image: &str) -> String {
    let mut top: Vec<(&str, String)> = vec![
        ("Image", json!(image).to_string()),
        ("Cmd", r#"["/bin/busybox","true"]"#.to_string()),
    ];
    if rng.chance(20) {
        top.push((
            "User",
            rng.pick(&[r#""0""#, r#""1000""#, r#""root""#]).to_string(),
        ));
    }
    let n = rng.below(4) + 1;
    let members: Vec<(&str, String)> = (0..n).map(|_| host_member(rng)).collect();
    match rng.below(6) {
        0 | 1 => top.push(("HostConfig", object(rng, &members))),
        // Pre-1.24 placement.
        2 => top.extend(members.iter().cloned()),
        // Both: the inner one wins.
        3 => {
            top.extend(members.iter().cloned());
            let inner: Vec<(&str, String)> =
                (0..1 + rng.below(2)).map(|_| host_member(rng)).collect();
            top.push(("HostConfig", object(rng, &inner)));
        }
        // Split over two HostConfig objects: merged.
        4 => {
            let cut = rng.below(members.len() + 1);
            top.push(("HostConfig", object(rng, &members[..cut])));
            top.push(("HostConfig", object(rng, &members[cut..])));
        }
        // A HostConfig, then null for it.
        _ => {
            top.push(("HostConfig", object(rng, &members)));
            if rng.chance(50) {
                top.push(("HostConfig", "null".into()));
            }
        }
    }
    if rng.chance(25) {
        // The inspect-shaped decoy.
        top.push((
            "Config",
            r#"{"Image":"decoy","HostConfig":{"Privileged":false,"Binds":[]}}"#.into(),
        ));
    }
    if rng.chance(10) {
        top.push(("NotAField", r#"{"Privileged":true}"#.into()));
    }
    // Shuffle member order a little (later wins for scalars, so order matters).
    if rng.chance(30) && top.len() > 3 {
        let i = 2 + rng.below(top.len() - 2);
        let j = 2 + rng.below(top.len() - 2);
        top.swap(i, j);
    }
    let mut text = object(rng, &top);
    if rng.chance(10) {
        text.push_str(r#" {"HostConfig":{"Privileged":true}}"#);
    }
    text
}

fn target(rng: &mut Rng) -> String {
    let name = format!("d{}", rng.next() % 1_000_000_000);
    match rng.below(5) {
        0 => format!("/v1.41/containers/create?name={name}"),
        1 => format!("http://docker/v1.41/containers/create?name={name}"),
        2 => format!("/v1.41/containers/%63reate?name={name}"),
        3 => format!("/v1.41/containers%2Fcreate?name={name}"),
        _ => format!("/containers/create?name={name}"),
    }
}

/// Everything a rule can judge about a container's reach into the node.
fn projection(d: &Deployment, default_cgroupns_host: bool) -> Value {
    let Some(pod) = &d.pod else {
        return Value::Null;
    };
    let c = &pod.containers[0];
    let mut caps: Vec<String> = c
        .security_context
        .cap_add
        .iter()
        .map(|x| portcullis_model::normalize_capability(x))
        .collect();
    caps.sort();
    let mut mounts: Vec<(String, bool)> = c
        .mounts
        .iter()
        .filter_map(|m| m.host_path.as_ref().map(|h| (h.path.clone(), m.read_only)))
        .collect();
    mounts.sort();
    let mut devices = c.devices.clone();
    devices.sort();
    json!({
        "privileged": c.security_context.privileged.unwrap_or(false),
        "cap_add": caps,
        "host_pid": pod.host_pid, "host_ipc": pod.host_ipc, "host_network": pod.host_network,
        "host_users": pod.host_users.unwrap_or(false),
        "host_cgroupns": pod.host_cgroupns || default_cgroupns_host,
        "host_mounts": mounts,
        "devices": devices,
        "device_cgroup_rules": c.device_cgroup_rules,
        "seccomp": c.security_context.options.seccomp,
        "apparmor": c.security_context.options.apparmor,
        // dockerd itself adds `label=disable` to privileged and host-PID/IPC containers.
        "selinux_disabled": c.security_context.options.selinux.as_ref().is_some_and(|s| s.disabled)
            || c.security_context.privileged == Some(true) || pod.host_pid || pod.host_ipc,
        "no_new_privileges": c.security_context.allow_privilege_escalation == Some(false),
        "proc_unmasked": c.security_context.proc_mount.as_deref() == Some("Unmasked"),
        "read_only_root": c.security_context.read_only_root_filesystem.unwrap_or(false),
        "run_as_user": c.security_context.options.run_as_user,
        "image": c.image.raw,
    })
}

#[test]
fn the_plugin_reads_create_requests_as_dockerd_does() {
    let cases: usize = std::env::var("PORTCULLIS_DIFF_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(120);
    let seed: u64 = std::env::var("PORTCULLIS_DIFF_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x7061_7274);
    let d = Dockerd::start(None, &[]);
    let image = busybox_image(&d);
    // The daemon's default cgroup namespace (host on cgroup v1): what a body that leaves
    // CgroupnsMode unset gets.
    let (_, probe) = http(
        &d.socket,
        "POST",
        "/containers/create",
        format!(r#"{{"Image":"{image}","Cmd":["/bin/busybox","true"]}}"#).as_bytes(),
    );
    let probe: Value = serde_json::from_slice(&probe).expect("create answer");
    let pid = probe["Id"].as_str().expect("id");
    let (_, inspected) = http(&d.socket, "GET", &format!("/containers/{pid}/json"), b"");
    let inspected: Value = serde_json::from_slice(&inspected).expect("inspect");
    let default_host_cgroupns = inspected["HostConfig"]["CgroupnsMode"] == "host";
    http(
        &d.socket,
        "DELETE",
        &format!("/containers/{pid}?force=1"),
        b"",
    );

    let mut rng = Rng(seed);
    let (mut compared, mut refused_by_us, mut refused_by_engine) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for case in 0..cases {
        let body = body(&mut rng, image);
        let target = target(&mut rng);
        let routed = docker_route::route("POST", &target).expect("routable");
        assert_eq!(
            routed.class,
            Class::Judged(Endpoint::ContainerCreate),
            "case {case}: {target}"
        );
        let ours = portcullis_sources::docker_wire::create_request(body.as_bytes());
        let (status, answer) = http(&d.socket, "POST", &target, body.as_bytes());
        if status != 201 {
            refused_by_engine += 1;
            continue;
        }
        let id = serde_json::from_slice::<Value>(&answer)
            .ok()
            .and_then(|v| v["Id"].as_str().map(str::to_string))
            .expect("201 has an Id");
        let (_, inspected) = http(&d.socket, "GET", &format!("/containers/{id}/json"), b"");
        http(
            &d.socket,
            "DELETE",
            &format!("/containers/{id}?force=1&v=1"),
            b"",
        );
        let inspected: Value = serde_json::from_slice(&inspected).expect("inspect JSON");
        let Ok(canonical) = ours else {
            refused_by_us += 1;
            continue;
        };
        let engine = portcullis_sources::docker_events::inspect(&inspected, "inspect", 0);
        let engine = engine.first().expect("inspect maps to a deployment");
        let plugin =
            docker_api::create_deployment(&canonical, Shape::Request, None, Default::default());
        let cgroupns_default = default_host_cgroupns
            && canonical
                .pointer("/HostConfig/CgroupnsMode")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty();
        let (want, got) = (
            projection(engine, false),
            projection(&plugin, cgroupns_default),
        );
        compared += 1;
        if want != got {
            mismatches.push(format!(
                "case {case} {target}\n  body:    {body}\n  engine:  {want}\n  plugin:  {got}"
            ));
        }
    }
    eprintln!(
        "differential: {cases} cases, {compared} compared, {refused_by_us} refused by the plugin's reader, {refused_by_engine} refused by dockerd, {} mismatches",
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(
        compared > cases / 3,
        "too few cases reached a comparison: {compared}"
    );
}
