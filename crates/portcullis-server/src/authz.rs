//! The Docker authorization plugin protocol: `/Plugin.Activate`, `/AuthZPlugin.AuthZReq`,
//! `/AuthZPlugin.AuthZRes`, served on a unix socket under `/run/docker/plugins/`.
//!
//! dockerd asks before every API call; we judge container creates, exec creates, service
//! creates, image builds and plugin installs/upgrades with the same pack and modes as the
//! admission webhook. Closed against
//! the known bypasses: a create whose body is missing or empty (CVE-2024-41110), shorter
//! than its Content-Length, or larger than the engine forwards (CVE-2026-34040) is denied.

use crate::State;
use base64::Engine as _;
use portcullis_model::{Deployment, Operation, Origin, Outcome, Target};
use portcullis_output::Alert;
use serde_json::{Value, json};

/// The largest body dockerd forwards to a plugin (4 MiB since Engine 29.3.1).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

pub fn activate() -> Value {
    json!({"Implements": ["authz"]})
}

fn allow() -> Value {
    json!({"Allow": true, "Msg": "", "Err": ""})
}

fn deny(msg: String) -> Value {
    json!({"Allow": false, "Msg": msg, "Err": ""})
}

/// `/v1.41/containers/create` → `/containers/create`.
fn path_of(uri: &str) -> &str {
    portcullis_sources::cmdline::strip_version(uri.split('?').next().unwrap_or(""))
}

fn header(req: &Value, name: &str) -> Option<String> {
    req.get("RequestHeaders")
        .and_then(Value::as_object)
        .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
        .and_then(|(_, v)| {
            v.as_str().map(str::to_string).or_else(|| {
                v.as_array()
                    .and_then(|a| a.first())
                    .and_then(|x| x.as_str().map(str::to_string))
            })
        })
}

/// Judge an `AuthZReq`. Returns the answer and the alerts to keep.
pub fn request(state: &State, req: &Value) -> (Value, Vec<Alert>) {
    let method = req
        .get("RequestMethod")
        .and_then(Value::as_str)
        .unwrap_or("");
    let uri = req.get("RequestUri").and_then(Value::as_str).unwrap_or("");
    let path = path_of(uri);
    let query = portcullis_sources::docker_api::query_pairs(uri);
    let param = |k: &str| portcullis_sources::docker_api::query_param(&query, k);
    let origin = Origin {
        kind: "docker_authz".into(),
        file: uri.into(),
        line: 0,
        document: 0,
        record_id: None,
    };
    let user = req
        .get("User")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    if method == "POST" && path == "/build" {
        // The body is the context tar, which dockerd does not forward: the query is the
        // request.
        let d = portcullis_sources::docker_api::build_deployment(&query, origin);
        return judge(state, d, user, method, path);
    }
    let plugin_install =
        path == "/plugins/pull" || path.starts_with("/plugins/") && path.ends_with("/upgrade");
    let creates = method == "POST"
        && (path == "/containers/create"
            || path == "/services/create"
            || plugin_install
            || path.ends_with("/exec") && path.starts_with("/containers/"));
    if !creates {
        return (allow(), Vec::new());
    }
    // The body arrives base64-encoded (a Go []byte).
    let body = match req.get("RequestBody") {
        Some(Value::String(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let declared = header(req, "Content-Length").and_then(|l| l.trim().parse::<usize>().ok());
    // A plugin install's body is the privileges it is granted: one the plugin never saw
    // must not become one the engine grants, so it is judged like a container create.
    let body_required = path == "/containers/create" || plugin_install;
    if body.is_empty() && !body_required && declared.unwrap_or(0) == 0 {
        // An exec or service create with no options at all: nothing to judge.
        return (allow(), Vec::new());
    }
    if body.is_empty() {
        return (
            deny(format!(
                "portcullis: {method} {path} arrived without a body; a create cannot be judged blind (CVE-2024-41110)"
            )),
            Vec::new(),
        );
    }
    if body.len() > MAX_BODY || declared.is_some_and(|d| d != body.len()) {
        return (
            deny(format!(
                "portcullis: {path} body is {} bytes, Content-Length {:?}: refusing a body the plugin may not have seen whole (CVE-2026-34040)",
                body.len(),
                declared
            )),
            Vec::new(),
        );
    }
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return (
            deny(format!("portcullis: {path} body is not JSON")),
            Vec::new(),
        );
    };
    let d = if path == "/containers/create" {
        let mut d = portcullis_sources::docker_api::create_deployment(&v, param("name"), origin);
        d.operation = Operation::Create;
        d
    } else if plugin_install {
        // `remote` is the plugin image; an upgrade names the installed plugin in the path.
        let name = param("name").or_else(|| {
            path.strip_prefix("/plugins/")
                .and_then(|p| p.strip_suffix("/upgrade"))
        });
        let mut d = portcullis_sources::docker_api::plugin_deployment(
            param("remote").unwrap_or(""),
            name,
            &v,
            origin,
        );
        d.operation = Operation::Create;
        d
    } else if path == "/services/create" {
        // A swarm service: its ContainerSpec is a container create, mounts included.
        let spec = v
            .pointer("/TaskTemplate/ContainerSpec")
            .cloned()
            .unwrap_or_default();
        let body = json!({
            "Image": spec.get("Image"), "Cmd": spec.get("Args"), "Entrypoint": spec.get("Command"),
            "User": spec.get("User"), "Env": spec.get("Env"),
            "HostConfig": {"Mounts": spec.get("Mounts"), "CapAdd": spec.get("CapabilityAdd"), "Privileged": spec.pointer("/Privileges/NoNewPrivileges").map(|_| false)},
        });
        let mut d = portcullis_sources::docker_api::create_deployment(
            &body,
            v.pointer("/Name").and_then(Value::as_str),
            origin,
        );
        d.target.kind = "SwarmService".into();
        d.operation = Operation::Create;
        d
    } else {
        let id = path
            .trim_start_matches("/containers/")
            .trim_end_matches("/exec");
        let cmd: Vec<String> = v
            .get("Cmd")
            .and_then(Value::as_array)
            .map(|c| {
                c.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut t = Target {
            kind: "DockerContainer".into(),
            name: Some(id.into()),
            ..Target::default()
        };
        t.set_exec_command(cmd.join(" "));
        Deployment {
            origin,
            operation: Operation::Exec,
            target: t,
            ..Deployment::default()
        }
    };
    judge(state, d, user, method, path)
}

/// Evaluate one mapped request and answer with the configured modes.
fn judge(
    state: &State,
    mut d: Deployment,
    user: Option<String>,
    method: &str,
    path: &str,
) -> (Value, Vec<Alert>) {
    if d.operation == Operation::Declare {
        d.operation = Operation::Create;
    }
    d.actor.user = user;
    d.outcome = Outcome::Attempted;
    let (verdict, alerts) = state.judge(&d);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (tokio::runtime::Runtime, State) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let engine = portcullis_rules::Engine::builtin().expect("pack");
        let cfg = crate::ServeConfig {
            store: String::new(),
            ..crate::ServeConfig::default()
        };
        let st = rt
            .block_on(async { State::new(engine, cfg) })
            .expect("state");
        (rt, st)
    }

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
        let (v, _) = request(&st, &req("/v1.47/containers/create", None, Some(0)));
        assert!(
            !allowed(&v) && v["Msg"].as_str().unwrap_or("").contains("CVE-2024-41110"),
            "{v}"
        );
        // The body the plugin saw is not the body dockerd will use.
        let body = r#"{"Image":"alpine"}"#;
        let (v, _) = request(
            &st,
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
        let (v, _) = request(&st, &req("/containers/create", Some(&big), None));
        assert!(!allowed(&v), "oversized body");
        // Ordinary traffic passes.
        let (v, _) = request(
            &st,
            &req(
                "/v1.47/containers/create?name=ok",
                Some(body),
                Some(body.len()),
            ),
        );
        assert!(allowed(&v), "{v}");
        let mut get = req("/v1.47/containers/json", None, None);
        get["RequestMethod"] = "GET".into();
        assert!(allowed(&request(&st, &get).0));
        // Privileged swarm services are judged like containers.
        let svc = r#"{"Name":"x","TaskTemplate":{"ContainerSpec":{"Image":"alpine","Mounts":[{"Type":"bind","Source":"/","Target":"/host"}]}},"Mode":{"Global":{}}}"#;
        let (v, alerts) = request(
            &st,
            &req("/v1.47/services/create", Some(svc), Some(svc.len())),
        );
        assert!(
            !allowed(&v) && v["Msg"].as_str().unwrap_or("").contains("MNT001"),
            "{v}"
        );
        assert!(alerts.iter().any(|a| a.target.kind == "SwarmService"));
    }

    #[test]
    fn plugin_installs_are_judged_by_the_privileges_they_are_granted() {
        let (_rt, st) = state();
        let allowed = |v: &Value| v["Allow"].as_bool().unwrap_or(false);
        // What `docker plugin install --grant-all-permissions` sends for a plugin that asks
        // for the host root, host networking and CAP_SYS_ADMIN.
        let grants = r#"[{"Name":"network","Description":"permissions to access a network","Value":["host"]},{"Name":"mount","Description":"host path to mount","Value":["/"]},{"Name":"capabilities","Description":"list of additional capabilities required","Value":["CAP_SYS_ADMIN"]}]"#;
        let (v, alerts) = request(
            &st,
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
            &st,
            &req("/v1.47/plugins/pull?remote=evil/rootplug", None, Some(0)),
        );
        assert!(!allowed(&v), "{v}");
        // A plugin that asks for nothing installs.
        let (v, alerts) = request(
            &st,
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
            &st,
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
            &st,
            &req("/build?networkmode=host&networkmode=bridge", None, None),
        );
        assert!(alerts.iter().any(|a| a.rule.id == "PRV004"));
        let (v, alerts) = request(&st, &req("/v1.47/build?t=web%3A2&rm=1", None, None));
        assert!(allowed(&v) && alerts.is_empty(), "{v}");
    }
}
