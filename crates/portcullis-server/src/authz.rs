//! The Docker authorization plugin protocol: `/Plugin.Activate`, `/AuthZPlugin.AuthZReq`,
//! `/AuthZPlugin.AuthZRes`, served on a unix socket under `/run/docker/plugins/`.
//!
//! dockerd asks before every API call. The request is read by
//! [`portcullis_sources::docker_authz`] (routed and decoded as dockerd does); this module
//! adds what the watcher knows of joined containers, judges under the Docker door's
//! modes, and answers. Refusals are counted in `door_refusals`.

use crate::{Gate, HostNamespaces};
use portcullis_model::Deployment;
use portcullis_output::Alert;
use portcullis_sources::docker_authz::{self, AuthzRead};
use serde_json::{Value, json};

pub use portcullis_sources::docker_authz::MAX_BODY;

pub fn activate() -> Value {
    json!({"Implements": ["authz"]})
}

fn allow() -> Value {
    json!({"Allow": true, "Msg": "", "Err": ""})
}

fn deny(msg: String) -> Value {
    json!({"Allow": false, "Msg": msg, "Err": ""})
}

/// Judge an `AuthZReq`. Returns the answer and the alerts to keep.
pub fn request(gate: &Gate<'_>, req: &Value) -> (Value, Vec<Alert>) {
    match docker_authz::read(req) {
        AuthzRead::Allow => (allow(), Vec::new()),
        AuthzRead::Refuse { reason, message } => {
            gate.refused(reason);
            tracing::warn!(reason, "{message}");
            (deny(format!("portcullis: {message}")), Vec::new())
        }
        AuthzRead::Judge {
            mut deployment,
            method,
            path,
        } => {
            if let Some(pod) = deployment.pod.as_mut() {
                gate.resolve_joins(pod);
            }
            let (verdict, alerts) = gate.judge(&deployment);
            let answer = if verdict.allowed {
                allow()
            } else {
                deny(format!(
                    "portcullis denied {method} {path}: {}",
                    verdict.denials.join("; ")
                ))
            };
            (answer, alerts)
        }
    }
}

/// What the watcher learned from an inspected container, for later joins.
pub fn host_namespaces(d: &Deployment) -> HostNamespaces {
    d.pod
        .as_ref()
        .map_or_else(HostNamespaces::default, |p| HostNamespaces {
            pid: p.host_pid,
            network: p.host_network,
            ipc: p.host_ipc,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    use crate::tests::memory_state as state;

    fn req(uri: &str, body: Option<&str>, length: Option<usize>) -> Value {
        let mut r = json!({"User": "", "UserAuthNMethod": "", "RequestMethod": "POST", "RequestUri": uri, "RequestHeaders": {"Content-Type": "application/json"}});
        if let Some(b) = body {
            r["RequestBody"] = base64::engine::general_purpose::STANDARD.encode(b).into();
        }
        if let Some(l) = length {
            r["RequestHeaders"]["Content-Length"] = l.to_string().into();
        }
        r
    }

    #[test]
    fn known_bypasses_are_closed() {
        let (_rt, st) = state();
        let allowed = |v: &Value| v["Allow"].as_bool().unwrap_or(false);
        // CVE-2024-41110: a create with no body (Content-Length: 0) must not be waved through.
        let (v, _) = request(
            &st.gate(crate::Door::Docker),
            &req("/v1.47/containers/create", None, Some(0)),
        );
        assert!(
            !allowed(&v) && v["Msg"].as_str().unwrap_or("").contains("CVE-2024-41110"),
            "{v}"
        );
        // The body the plugin saw is not the body dockerd will use.
        let body = r#"{"Image":"alpine"}"#;
        let (v, _) = request(
            &st.gate(crate::Door::Docker),
            &req("/containers/create", Some(body), Some(body.len() + 900)),
        );
        assert!(
            !allowed(&v) && v["Msg"].as_str().unwrap_or("").contains("CVE-2026-34040"),
            "{v}"
        );
        let big = format!(
            r#"{{"Image":"alpine","Labels":{{"x":"{}"}}}}"#,
            "a".repeat(MAX_BODY)
        );
        let (v, _) = request(
            &st.gate(crate::Door::Docker),
            &req("/containers/create", Some(&big), None),
        );
        assert!(!allowed(&v), "oversized body");
        // Chunked or non-JSON: the engine reads a body the plugin never got.
        let (v, _) = request(
            &st.gate(crate::Door::Docker),
            &req("/v1.47/containers/abc/exec", None, None),
        );
        assert!(!allowed(&v), "exec without a body: {v}");
        // Ordinary traffic passes.
        let (v, _) = request(
            &st.gate(crate::Door::Docker),
            &req(
                "/v1.47/containers/create?name=ok",
                Some(body),
                Some(body.len()),
            ),
        );
        assert!(allowed(&v), "{v}");
        let mut get = req("/v1.47/containers/json", None, None);
        get["RequestMethod"] = "GET".into();
        assert!(allowed(&request(&st.gate(crate::Door::Docker), &get).0));
        // Privileged swarm services are judged like containers.
        let svc = r#"{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":"alpine","Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}},"Mode":{"Global":{}}}"#;
        let (v, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req("/v1.47/services/create", Some(svc), Some(svc.len())),
        );
        assert!(
            !allowed(&v) && v["Msg"].as_str().unwrap_or("").contains("MNT001"),
            "{v}"
        );
        assert!(alerts.iter().any(|a| a.target.kind == "SwarmService"));
    }

    /// Every way of spelling a privileged, host-rooted create that dockerd accepts is read as
    /// what dockerd creates, and denied.
    #[test]
    fn bypass_attempts_are_denied() {
        let (_rt, st) = state();
        let allowed = |v: &Value| v["Allow"].as_bool().unwrap_or(false);
        let bodies = [
            // Go matches names case-insensitively.
            r#"{"Image":"alpine","hostconfig":{"privileged":true,"binds":["/:/host"]}}"#,
            r#"{"image":"alpine","HOSTCONFIG":{"PRIVILEGED":true}}"#,
            // KELVIN SIGN / LONG S fold onto k / s.
            r#"{"Image":"alpine","HostConfig":{"Bind\u017F":["/:/host"]}}"#,
            "{\"Image\":\"alpine\",\"HostConfig\":{\"Bind\u{017F}\":[\"/:/h\"]}}",
            // A repeated HostConfig is merged into the first.
            r#"{"Image":"alpine","HostConfig":{"Privileged":true},"HostConfig":{"Memory":0}}"#,
            r#"{"Image":"alpine","HostConfig":{"Binds":["/:/h"]},"hostConfig":{"CapAdd":null}}"#,
            // null leaves a bool as it was.
            r#"{"Image":"alpine","HostConfig":{"Privileged":true,"Privileged":null}}"#,
            // Top-level host fields without a HostConfig (pre-1.24 clients).
            r#"{"Image":"alpine","Privileged":true}"#,
            r#"{"Image":"alpine","binds":["/var/run/docker.sock:/s"]}"#,
            // The inspect-shaped decoy: the engine ignores Config.
            r#"{"Config":{"Image":"nginx"},"Image":"alpine","HostConfig":{"Privileged":true}}"#,
            // CapAdd as a lone string (StrSlice).
            r#"{"Image":"alpine","HostConfig":{"CapAdd":"SYS_ADMIN"}}"#,
            // A local volume that binds the host root, in Mounts.
            r#"{"Image":"alpine","HostConfig":{"Mounts":[{"Type":"volume","Source":"v","Target":"/h","VolumeOptions":{"DriverConfig":{"Name":"local","Options":{"type":"none","o":"bind","device":"/"}}}}]}}"#,
            // The node's root by another name.
            r#"{"Image":"alpine","HostConfig":{"Binds":["/proc/1/root:/h"]}}"#,
            // Every block device through a device cgroup rule (mknod is a default capability).
            r#"{"Image":"alpine","HostConfig":{"DeviceCgroupRules":["b *:* rwm"]}}"#,
            // A raw host disk; host PID with host user namespace.
            r#"{"Image":"alpine","HostConfig":{"Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}]}}"#,
            r#"{"Image":"alpine","HostConfig":{"PidMode":"host","UsernsMode":"host"}}"#,
            // Trailing bytes after the body are not read by the engine.
            r#"{"Image":"alpine","HostConfig":{"Privileged":true}} {"HostConfig":{}}"#,
        ];
        for body in bodies {
            for uri in [
                "/v1.41/containers/create",
                "http://docker/v1.41/containers/create?name=x",
                "/v1.41/containers/%63reate",
                "/v1.41/containers%2Fcreate",
                "/containers/create",
            ] {
                let (v, _) = request(
                    &st.gate(crate::Door::Docker),
                    &req(uri, Some(body), Some(body.len())),
                );
                assert!(!allowed(&v), "{uri} {body}: {v}");
            }
        }
        // Bodies whose meaning depends on the engine's Go version are refused, not guessed.
        for body in [
            r#"{"Image":"alpine","HostConfig":{"Privileged":true,"Pr\u0131vileged":false}}"#,
            r#"{"Image":"alpine","HostConfig":{"Mounts":[{"Type":"bind","Source":"/","Target":"/h"}],"Mounts":[{"Target":"/x"}]}}"#,
            r#"{"Image":"alpine","HostConfig":{"Privileged":"true"}}"#,
            "not json",
        ] {
            let (v, _) = request(
                &st.gate(crate::Door::Docker),
                &req("/containers/create", Some(body), Some(body.len())),
            );
            assert!(!allowed(&v), "{body}: {v}");
        }
        // The other requests that can give a container the node.
        let cases = [
            (
                "/v1.41/containers/web/exec",
                r#"{"Cmd":["sh"],"privileged":true}"#,
                "PRV014",
            ),
            (
                "/v1.41/services/abc/update?version=7",
                r#"{"Name":"s","TaskTemplate":{"ContainerSpec":{"Image":"alpine","Mounts":[{"Type":"bind","Source":"/","Target":"/h"}]}}}"#,
                "MNT001",
            ),
            (
                "/v1.41/volumes/create",
                r#"{"Name":"root","Driver":"local","DriverOpts":{"type":"none","o":"bind","device":"/"}}"#,
                "MNT001",
            ),
            (
                "/v1.41/plugins/vieux/sshfs:latest/set",
                r#"["mnt.source=/"]"#,
                "MNT001",
            ),
        ];
        for (uri, body, code) in cases {
            let (v, _) = request(
                &st.gate(crate::Door::Docker),
                &req(uri, Some(body), Some(body.len())),
            );
            let msg = v["Msg"].as_str().unwrap_or("");
            assert!(!allowed(&v) && msg.contains(code), "{uri}: {v}");
        }
        // Unknown mutating endpoints and unroutable targets fail closed; reads pass.
        for (method, uri) in [
            ("POST", "/v1.99/containers/frobnicate"),
            ("PUT", "/containers/create"),
            ("POST", "/plugins/create?name=x"),
            ("POST", "/containers/%zz/exec"),
            ("POST", "containers/create"),
        ] {
            let mut r = req(uri, Some("{}"), Some(2));
            r["RequestMethod"] = method.into();
            assert!(
                !allowed(&request(&st.gate(crate::Door::Docker), &r).0),
                "{method} {uri}"
            );
        }
        let mut r = req("/v1.41/containers/json?all=1", None, None);
        r["RequestMethod"] = "GET".into();
        assert!(allowed(&request(&st.gate(crate::Door::Docker), &r).0));
        let (v, _) = request(
            &st.gate(crate::Door::Docker),
            &req("/v1.41/containers/abc/kill", None, None),
        );
        assert!(allowed(&v), "{v}");
        let metrics = st.metrics_text().unwrap_or_default();
        assert!(
            metrics.contains(
                "portcullis_door_refusals_total{door=\"docker_authz\",reason=\"unknown_endpoint\"}"
            ),
            "{metrics}"
        );
        // Ordinary creates and execs still pass.
        for (uri, body) in [
            (
                "/v1.41/containers/create?name=web",
                r#"{"Image":"nginx:1.27","HostConfig":{"Binds":["data:/data"],"PortBindings":{"80/tcp":[{"HostPort":"8080"}]}}}"#,
            ),
            (
                "/v1.41/containers/web/exec",
                r#"{"Cmd":["ls"],"AttachStdout":true}"#,
            ),
            (
                "/v1.41/volumes/create",
                r#"{"Name":"data","Driver":"local"}"#,
            ),
        ] {
            let (v, _) = request(
                &st.gate(crate::Door::Docker),
                &req(uri, Some(body), Some(body.len())),
            );
            assert!(allowed(&v), "{uri}: {v}");
        }
    }

    #[test]
    fn a_join_of_a_host_pid_container_is_host_pid() {
        let (_rt, st) = state();
        st.remember_container(
            &[
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "agent",
            ],
            HostNamespaces {
                pid: true,
                network: false,
                ipc: false,
            },
        );
        let body =
            r#"{"Image":"alpine","HostConfig":{"PidMode":"container:agent","UsernsMode":"host"}}"#;
        let (v, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req("/containers/create", Some(body), Some(body.len())),
        );
        assert!(!v["Allow"].as_bool().unwrap_or(true), "{v}");
        assert!(alerts.iter().any(|a| a.rule.id == "PRV002"));
        let body = r#"{"Image":"alpine","HostConfig":{"PidMode":"container:0123456789ab"}}"#;
        let (_, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req("/containers/create", Some(body), Some(body.len())),
        );
        assert!(alerts.iter().any(|a| a.rule.id == "PRV002"), "id prefix");
        let body = r#"{"Image":"alpine","HostConfig":{"PidMode":"container:unknown"}}"#;
        let (v, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req("/containers/create", Some(body), Some(body.len())),
        );
        assert!(v["Allow"].as_bool().unwrap_or(false));
        assert!(!alerts.iter().any(|a| a.rule.id == "PRV002"));
    }

    #[test]
    fn plugin_installs_are_judged_by_the_privileges_they_are_granted() {
        let (_rt, st) = state();
        let allowed = |v: &Value| v["Allow"].as_bool().unwrap_or(false);
        // What `docker plugin install --grant-all-permissions` sends for a plugin that asks
        // for the host root, host networking and CAP_SYS_ADMIN.
        let grants = r#"[{"Name":"network","Description":"permissions to access a network","Value":["host"]},{"Name":"mount","Description":"host path to mount","Value":["/"]},{"Name":"capabilities","Description":"list of additional capabilities required","Value":["CAP_SYS_ADMIN"]}]"#;
        let (v, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req(
                "/v1.47/plugins/pull?remote=evil%2Frootplug%3Alatest&name=rootplug",
                Some(grants),
                Some(grants.len()),
            ),
        );
        let msg = v["Msg"].as_str().unwrap_or("");
        assert!(!allowed(&v) && msg.contains("MNT001"), "{v}");
        let codes: Vec<&str> = alerts.iter().map(|a| a.rule.id.as_str()).collect();
        assert!(
            codes.contains(&"PRV004") && codes.contains(&"PRV006"),
            "{codes:?}"
        );
        assert!(alerts.iter().all(
            |a| a.target.kind == "DockerPlugin" && a.target.name.as_deref() == Some("rootplug")
        ));
        // The same install with its privileges stripped from what the plugin saw.
        let (v, _) = request(
            &st.gate(crate::Door::Docker),
            &req("/v1.47/plugins/pull?remote=evil/rootplug", None, Some(0)),
        );
        assert!(!allowed(&v), "{v}");
        // A plugin that asks for nothing installs.
        let (v, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req(
                "/v1.47/plugins/pull?remote=vieux%2Fsshfs%3Av1.2@sha256:0000000000000000000000000000000000000000000000000000000000000000&name=sshfs",
                Some("[]"),
                Some(2),
            ),
        );
        assert!(allowed(&v) && alerts.is_empty(), "{v} {}", alerts.len());
    }

    #[test]
    fn builds_are_judged_from_their_query() {
        let (_rt, st) = state();
        let allowed = |v: &Value| v["Allow"].as_bool().unwrap_or(false);
        let (v, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req("/v1.47/build?t=miner%3A1&networkmode=host&rm=1", None, None),
        );
        assert!(allowed(&v), "host-network builds warn by default: {v}");
        let a = alerts
            .iter()
            .find(|a| a.rule.id == "PRV004")
            .expect("PRV004 on a host-network build");
        assert_eq!(a.target.kind, "DockerBuild");
        assert_eq!(a.target.name.as_deref(), Some("miner:1"));
        // dockerd reads the first of a repeated key; so must we.
        let (_, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req("/build?networkmode=host&networkmode=bridge", None, None),
        );
        assert!(alerts.iter().any(|a| a.rule.id == "PRV004"));
        let (v, alerts) = request(
            &st.gate(crate::Door::Docker),
            &req("/v1.47/build?t=web%3A2&rm=1", None, None),
        );
        assert!(allowed(&v) && alerts.is_empty(), "{v}");
    }
}
