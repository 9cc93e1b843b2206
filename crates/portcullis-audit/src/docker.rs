//! Docker hosts: `daemon.json`, the dockerd command line (systemd unit and `/proc`), the
//! socket's owner and mode, and the `docker` group.
//!
//! [`collect_host`] reads a live host; [`analyze`] is pure and judges whatever was
//! collected (or given on the command line for offline use).

use crate::{
    DKR001, DKR002, DKR003, DKR004, DKR005, DKR006, DKR007, DKR008, DKR010, DKR011, Finding,
};
use serde_json::Value;

/// A text input and where it came from.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Socket {
    pub path: String,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub group: Option<String>,
}

/// Everything the Docker checks look at.
#[derive(Debug, Clone, Default)]
pub struct DockerHost {
    pub daemon_json: Option<Input>,
    /// systemd units and drop-ins, in load order.
    pub units: Vec<Input>,
    /// The running dockerd's argv, and where it was read (`/proc/<pid>/cmdline`).
    pub cmdline: Option<(String, Vec<String>)>,
    pub socket: Option<Socket>,
    /// `/etc/group` (or a file given for offline use).
    pub group_file: Option<Input>,
    /// Users allowed in the docker group.
    pub admins: Vec<String>,
    /// Inputs that could not be read: (path, reason).
    pub unreadable: Vec<(String, String)>,
}

/// Read the live host's configuration. Missing files are normal (no daemon.json): only
/// unreadable ones are reported.
pub fn collect_host(
    daemon_json: Option<&str>,
    units: &[String],
    group_file: Option<&str>,
    socket: Option<&str>,
) -> DockerHost {
    let mut host = DockerHost {
        admins: vec!["root".into()],
        ..DockerHost::default()
    };
    let read = |path: &str, required: bool, host: &mut DockerHost| -> Option<Input> {
        match std::fs::read_to_string(path) {
            Ok(text) => Some(Input {
                path: path.into(),
                text,
            }),
            Err(e) if required || e.kind() != std::io::ErrorKind::NotFound => {
                host.unreadable.push((path.into(), e.to_string()));
                None
            }
            Err(_) => None,
        }
    };
    host.daemon_json = read(
        daemon_json.unwrap_or("/etc/docker/daemon.json"),
        daemon_json.is_some(),
        &mut host,
    );
    if units.is_empty() {
        for p in [
            "/lib/systemd/system/docker.service",
            "/usr/lib/systemd/system/docker.service",
            "/etc/systemd/system/docker.service",
        ] {
            if let Some(i) = read(p, false, &mut host) {
                host.units.push(i);
            }
        }
        if let Ok(dir) = std::fs::read_dir("/etc/systemd/system/docker.service.d") {
            let mut drops: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
            drops.sort();
            for d in drops {
                if let Some(i) = read(&d.display().to_string(), false, &mut host) {
                    host.units.push(i);
                }
            }
        }
        host.cmdline = running_dockerd();
    } else {
        for u in units {
            if let Some(i) = read(u, true, &mut host) {
                host.units.push(i);
            }
        }
    }
    host.group_file = read(
        group_file.unwrap_or("/etc/group"),
        group_file.is_some(),
        &mut host,
    );
    let sock = socket.unwrap_or("/var/run/docker.sock");
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata(sock) {
            let group = host
                .group_file
                .as_ref()
                .and_then(|g| group_name(&g.text, m.gid()));
            host.socket = Some(Socket {
                path: sock.into(),
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                group,
            });
        }
    }
    host
}

fn running_dockerd() -> Option<(String, Vec<String>)> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let pid = entry.file_name();
        let pid = pid.to_string_lossy();
        if !pid.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let path = format!("/proc/{pid}/cmdline");
        if let Ok(raw) = std::fs::read(&path) {
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if argv
                .first()
                .is_some_and(|a| a.rsplit('/').next() == Some("dockerd"))
            {
                return Some((path, argv));
            }
        }
    }
    None
}

fn group_name(group_file: &str, gid: u32) -> Option<String> {
    group_file.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[2].parse::<u32>().ok() == Some(gid)).then(|| f[0].to_string())
    })
}

/// 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(0, |i| i + 1)
}

/// A setting with its evidence: value, file, field, line.
#[derive(Debug, Clone)]
struct Setting {
    value: Value,
    file: String,
    field: String,
    line: usize,
}

/// dockerd's settings from daemon.json and its command line (flags win, as dockerd
/// refuses conflicts anyway).
#[derive(Debug, Default)]
struct Effective {
    hosts: Vec<Setting>,
    tls: Option<Setting>,
    tlsverify: Option<Setting>,
    authz: Vec<Setting>,
    userns: Option<Setting>,
    icc: Option<Setting>,
    live_restore: Option<Setting>,
    rootless: Option<Setting>,
}

/// The `ExecStart=` argv of units (a bare `ExecStart=` resets, as systemd does).
fn exec_start(units: &[Input]) -> Option<(String, usize, Vec<String>)> {
    let mut cur = None;
    for u in units {
        let mut cont = String::new();
        for (i, raw) in u.text.lines().enumerate() {
            let line = raw.trim();
            // Backslash continuations join lines.
            if let Some(stripped) = line.strip_suffix('\\') {
                cont.push_str(stripped);
                cont.push(' ');
                continue;
            }
            let full = format!("{cont}{line}");
            cont.clear();
            if let Some(cmd) = full.strip_prefix("ExecStart=") {
                let cmd = cmd.trim().trim_start_matches(['-', '@', '+', '!']);
                cur = if cmd.is_empty() {
                    None
                } else {
                    shlex::split(cmd).map(|a| (u.path.clone(), i + 1, a))
                };
            }
        }
    }
    cur
}

fn flag_settings(argv: &[String], file: &str, line: usize, e: &mut Effective) {
    let mut i = 1;
    while i < argv.len() {
        let a = &argv[i];
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) => (n.trim_start_matches('-'), Some(v.to_string())),
            None => (a.trim_start_matches('-'), None),
        };
        let bool_flag = matches!(name, "tls" | "tlsverify" | "icc" | "live-restore");
        let value = if bool_flag {
            inline.clone().unwrap_or_else(|| "true".into())
        } else {
            match inline.clone() {
                Some(v) => v,
                None => {
                    i += 1;
                    argv.get(i).cloned().unwrap_or_default()
                }
            }
        };
        let s = |v: Value| Setting {
            value: v,
            file: file.into(),
            field: format!("--{name}"),
            line,
        };
        let as_bool = |v: &str| Value::Bool(!matches!(v, "false" | "0"));
        match name {
            "H" | "host" => e.hosts.push(s(value.into())),
            "tls" => e.tls = Some(s(as_bool(&value))),
            "tlsverify" => e.tlsverify = Some(s(as_bool(&value))),
            "authorization-plugin" => e.authz.push(s(value.into())),
            "userns-remap" => e.userns = Some(s(value.into())),
            "icc" => e.icc = Some(s(as_bool(&value))),
            "live-restore" => e.live_restore = Some(s(as_bool(&value))),
            _ if !a.starts_with('-') => {}
            _ => {}
        }
        i += 1;
    }
    if argv
        .iter()
        .any(|a| a.contains("rootlesskit") || a.contains("dockerd-rootless"))
        || argv.first().is_some_and(|a| a.contains("rootless"))
    {
        e.rootless = Some(Setting {
            value: Value::Bool(true),
            file: file.into(),
            field: "argv".into(),
            line,
        });
    }
}

/// Judge a host's Docker configuration.
/// Every Docker host check after the settings are read, in report order: one function each.
const DOCKER_CHECKS: &[fn(&Settings<'_>, &mut Vec<Finding>)] = &[
    exposed_api,
    rootless,
    no_authorization_plugin,
    no_userns_remap,
    inter_container_traffic,
    no_live_restore,
    socket_writable,
    docker_group_members,
];

/// A host and the daemon settings that take effect on it (daemon.json, then the unit's
/// flags, then the running daemon's).
struct Settings<'a> {
    host: &'a DockerHost,
    effective: Effective,
}

impl Settings<'_> {
    /// Where the daemon is configured, when it is configured at all (the daemon-wide
    /// checks need a configuration to judge).
    fn configured_in(&self) -> Option<String> {
        let host = self.host;
        let configured =
            host.daemon_json.is_some() || !host.units.is_empty() || host.cmdline.is_some();
        configured.then(|| {
            host.daemon_json
                .as_ref()
                .map(|d| d.path.clone())
                .or_else(|| host.units.first().map(|u| u.path.clone()))
                .unwrap_or_default()
        })
    }
}

fn truthy(s: &Option<Setting>) -> bool {
    s.as_ref().is_some_and(|s| {
        s.value.as_bool().unwrap_or(false) || s.value.as_str().is_some_and(|v| v == "true")
    })
}

pub fn analyze(host: &DockerHost) -> Vec<Finding> {
    let mut out = Vec::new();
    for (path, reason) in &host.unreadable {
        out.push(Finding::new(
            &DKR011,
            format!("{path}: {reason}"),
            path.clone(),
        ));
    }
    let mut e = Effective::default();
    if let Some(dj) = &host.daemon_json {
        match serde_json::from_str::<Value>(&dj.text) {
            Ok(v) => {
                let s = |key: &str, value: Value| Setting {
                    value,
                    file: dj.path.clone(),
                    field: key.into(),
                    line: line_of(&dj.text, &format!("\"{key}\"")),
                };
                for (i, h) in v
                    .get("hosts")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    e.hosts.push(Setting {
                        field: format!("hosts[{i}]"),
                        line: h.as_str().map_or(0, |h| line_of(&dj.text, h)),
                        ..s("hosts", h.clone())
                    });
                }
                for key in ["tls", "tlsverify", "userns-remap", "icc", "live-restore"] {
                    if let Some(val) = v.get(key) {
                        let set = Some(s(key, val.clone()));
                        match key {
                            "tls" => e.tls = set,
                            "tlsverify" => e.tlsverify = set,
                            "userns-remap" => e.userns = set,
                            "icc" => e.icc = set,
                            _ => e.live_restore = set,
                        }
                    }
                }
                for (i, p) in v
                    .get("authorization-plugins")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    e.authz.push(Setting {
                        field: format!("authorization-plugins[{i}]"),
                        ..s("authorization-plugins", p.clone())
                    });
                }
            }
            Err(err) => out.push(
                Finding::new(
                    &DKR011,
                    format!("{}: invalid JSON: {err}", dj.path),
                    dj.path.clone(),
                )
                .line(err.line()),
            ),
        }
    }
    if let Some((file, line, argv)) = exec_start(&host.units) {
        flag_settings(&argv, &file, line, &mut e);
    }
    if let Some((file, argv)) = &host.cmdline {
        flag_settings(argv, file, 0, &mut e);
    }
    if host
        .socket
        .as_ref()
        .is_some_and(|s| s.path.starts_with("/run/user/"))
        && e.rootless.is_none()
    {
        e.rootless = host.socket.as_ref().map(|s| Setting {
            value: Value::Bool(true),
            file: s.path.clone(),
            field: "socket".into(),
            line: 0,
        });
    }
    let cx = Settings { host, effective: e };
    for check in DOCKER_CHECKS {
        check(&cx, &mut out);
    }
    out
}

/// DKR001, DKR002: the API on `tcp://` without TLS, or with TLS but no client verification.
fn exposed_api(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let e = &cx.effective;
    let verify = truthy(&e.tlsverify);
    let tls = truthy(&e.tls) || verify;
    for h in &e.hosts {
        let Some(addr) = h.value.as_str() else {
            continue;
        };
        if !addr.starts_with("tcp://") {
            continue;
        }
        let f = |check, msg: String| {
            Finding::new(check, msg, h.file.clone())
                .line(h.line)
                .target("DockerDaemon", None, Some(addr))
                .evidence(&h.field, addr)
        };
        if !tls {
            out.push(f(&DKR001, format!("dockerd listens on {addr} without TLS: anyone who reaches it is root on this host (the TeamTNT/Kinsing/Doki entry point)")));
        } else if !verify {
            out.push(f(
                &DKR002,
                format!("dockerd serves TLS on {addr} but accepts any client (tlsverify is off)"),
            ));
        }
    }
}
/// DKR010: a rootless daemon (informational: it changes what the other findings mean).
fn rootless(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let e = &cx.effective;
    if let Some(r) = &e.rootless {
        out.push(
            Finding::new(&DKR010, "dockerd runs rootless", r.file.clone())
                .evidence(&r.field, r.value.clone()),
        );
    }
}
/// DKR003: no authorization plugin.
fn no_authorization_plugin(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let e = &cx.effective;
    let Some(where_) = cx.configured_in() else {
        return;
    };
    if e.authz.is_empty() {
        out.push(
            Finding::new(
                &DKR003,
                "no authorization plugin: any API client can create privileged containers",
                where_.clone(),
            )
            .evidence("authorization-plugins", Value::Array(Vec::new())),
        );
    }
}
/// DKR004: container root is host root.
fn no_userns_remap(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let e = &cx.effective;
    let Some(where_) = cx.configured_in() else {
        return;
    };
    if e.rootless.is_none()
        && e.userns
            .as_ref()
            .and_then(|s| s.value.as_str())
            .is_none_or(str::is_empty)
    {
        out.push(
            Finding::new(
                &DKR004,
                "userns-remap is off: container root is host root",
                where_.clone(),
            )
            .evidence("userns-remap", Value::Null),
        );
    }
}
/// DKR005: containers on the default bridge talk to each other.
fn inter_container_traffic(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let e = &cx.effective;
    let Some(where_) = cx.configured_in() else {
        return;
    };
    if !e
        .icc
        .as_ref()
        .is_some_and(|s| s.value == Value::Bool(false) || s.value == Value::String("false".into()))
    {
        let (file, line) = e
            .icc
            .as_ref()
            .map_or((where_.clone(), 0), |s| (s.file.clone(), s.line));
        out.push(
            Finding::new(
                &DKR005,
                "containers on the default bridge can talk to each other (icc)",
                file,
            )
            .line(line)
            .evidence(
                "icc",
                e.icc.as_ref().map_or(Value::Null, |s| s.value.clone()),
            ),
        );
    }
}
/// DKR006: live-restore off.
fn no_live_restore(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let e = &cx.effective;
    let Some(where_) = cx.configured_in() else {
        return;
    };
    if !truthy(&e.live_restore) {
        out.push(
            Finding::new(&DKR006, "live-restore is off", where_).evidence(
                "live-restore",
                e.live_restore
                    .as_ref()
                    .map_or(Value::Null, |s| s.value.clone()),
            ),
        );
    }
}
/// DKR007: the socket writable beyond root and the docker group.
fn socket_writable(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let host = cx.host;
    if let Some(s) = &host.socket {
        let group_ok = s
            .group
            .as_deref()
            .is_none_or(|g| g == "docker" || g == "root")
            || s.gid == 0;
        if s.mode & 0o002 != 0 || (s.mode & 0o020 != 0 && !group_ok) {
            out.push(
                Finding::new(
                    &DKR007,
                    format!(
                        "{} is writable by {} (mode {:o})",
                        s.path,
                        if s.mode & 0o002 != 0 {
                            "everyone"
                        } else {
                            "group"
                        },
                        s.mode
                    ),
                    s.path.clone(),
                )
                .target("DockerSocket", None, Some(&s.path))
                .evidence("mode", format!("{:o}", s.mode))
                .evidence(
                    "group",
                    s.group.clone().unwrap_or_else(|| s.gid.to_string()),
                ),
            );
        }
    }
}
/// DKR008: members of the docker group who are not declared admins.
fn docker_group_members(cx: &Settings<'_>, out: &mut Vec<Finding>) {
    let (host, e) = (cx.host, &cx.effective);
    if let Some(g) = &host.group_file {
        for (i, line) in g.text.lines().enumerate() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 4 || f[0] != "docker" {
                continue;
            }
            for member in f[3].split(',').map(str::trim).filter(|m| !m.is_empty()) {
                if host.admins.iter().any(|a| a == member) {
                    continue;
                }
                let sev_note = if e.rootless.is_some() {
                    " (rootless daemon: less severe)"
                } else {
                    ""
                };
                out.push(
                    Finding::new(&DKR008, format!("{member} is in the docker group: root-equivalent on this host{sev_note}"), g.path.clone())
                        .line(i + 1)
                        .target("User", None, Some(member))
                        .evidence("docker", member),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(daemon: &str, unit: &str, group: &str, mode: u32) -> DockerHost {
        DockerHost {
            daemon_json: Some(Input {
                path: "daemon.json".into(),
                text: daemon.into(),
            }),
            units: vec![Input {
                path: "docker.service".into(),
                text: unit.into(),
            }],
            group_file: Some(Input {
                path: "group".into(),
                text: group.into(),
            }),
            socket: Some(Socket {
                path: "/var/run/docker.sock".into(),
                mode,
                uid: 0,
                gid: 999,
                group: Some("docker".into()),
            }),
            admins: vec!["root".into()],
            ..DockerHost::default()
        }
    }

    #[test]
    fn exposed_and_hardened() {
        let exposed = host(
            "{\n  \"hosts\": [\"unix:///var/run/docker.sock\", \"tcp://0.0.0.0:2375\"]\n}\n",
            "[Service]\nExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock\n",
            "root:x:0:\ndocker:x:999:alice,root\n",
            0o666,
        );
        let codes: Vec<&str> = analyze(&exposed).iter().map(|f| f.check.code).collect();
        for c in [
            "DKR001", "DKR003", "DKR004", "DKR005", "DKR006", "DKR007", "DKR008",
        ] {
            assert!(codes.contains(&c), "{c}: {codes:?}");
        }
        let f = analyze(&exposed)
            .into_iter()
            .find(|f| f.check.code == "DKR001")
            .expect("DKR001");
        assert_eq!((f.file.as_str(), f.line), ("daemon.json", 2));
        // TLS is daemon-wide: --tls on the command line without --tlsverify.
        let tls_only = host(
            "{}",
            "[Service]\nExecStart=/usr/bin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --tls\n",
            "",
            0o660,
        );
        let codes: Vec<&str> = analyze(&tls_only).iter().map(|f| f.check.code).collect();
        assert!(
            codes.contains(&"DKR002") && !codes.contains(&"DKR001"),
            "{codes:?}"
        );
        let hardened = host(
            "{\"hosts\":[\"unix:///var/run/docker.sock\",\"tcp://10.0.0.5:2376\"],\"tlsverify\":true,\"tlscacert\":\"/etc/docker/ca.pem\",\"authorization-plugins\":[\"portcullis\"],\"userns-remap\":\"default\",\"icc\":false,\"live-restore\":true}",
            "[Service]\nExecStart=/usr/bin/dockerd --containerd=/run/containerd/containerd.sock\n",
            "docker:x:999:\n",
            0o660,
        );
        assert!(
            analyze(&hardened).is_empty(),
            "{:?}",
            analyze(&hardened)
                .iter()
                .map(|f| f.check.code)
                .collect::<Vec<_>>()
        );
    }
}
