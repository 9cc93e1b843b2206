//! The Docker authorization plugin's request (`AuthZPlugin.AuthZReq`), read into what the
//! door must do with it: allow, refuse (with a reason), or judge a deployment.
//!
//! The request is routed the way dockerd's router routes it ([`crate::docker_route`]:
//! absolute-form targets, percent-encoding, version prefixes) and its body read the way
//! dockerd's Go decoder reads it ([`crate::docker_wire`]: case-folded names, merged
//! repeats, the inspect-shaped `Config` decoy ignored). What cannot be judged is refused:
//! - a mutating request to an endpoint no route matches, or whose request target Go would
//!   refuse;
//! - an endpoint whose request hides what it grants (`POST /plugins/create`);
//! - a judged request whose body is missing or empty (CVE-2024-41110), shorter than its
//!   Content-Length, larger than the engine forwards (CVE-2026-34040), or one dockerd's
//!   decoder would read differently from any reading we can be sure of.
//!
//! No IO and no state: the server adds what its watcher knows and the verdict.

use crate::docker_api::{self, Shape};
use crate::docker_route::{self, Class, Endpoint};
use crate::docker_wire;
use base64::Engine as _;
use portcullis_model::{Deployment, Operation, Origin, Outcome};
use serde_json::Value;

/// The largest body dockerd forwards to a plugin (4 MiB since Engine 29.3.1).
pub const MAX_BODY: usize = 4 * 1024 * 1024;

/// What the door does with a request.
#[derive(Debug)]
pub enum AuthzRead {
    /// A read, or a change that grants no container anything: allowed unjudged.
    Allow,
    /// Denied without judging; `reason` is the metric label.
    Refuse {
        reason: &'static str,
        message: String,
    },
    /// Judge this deployment (`Outcome::Attempted`, the caller as actor).
    Judge {
        deployment: Box<Deployment>,
        method: String,
        path: String,
    },
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

fn refuse(reason: &'static str, message: String) -> AuthzRead {
    AuthzRead::Refuse { reason, message }
}

/// Read an `AuthZReq` envelope.
pub fn read(req: &Value) -> AuthzRead {
    let method = req
        .get("RequestMethod")
        .and_then(Value::as_str)
        .unwrap_or("");
    let uri = req.get("RequestUri").and_then(Value::as_str).unwrap_or("");
    let routed = match docker_route::route(method, uri) {
        Ok(r) => r,
        Err(e) => {
            return refuse("bad_request_target", format!("{method} {uri:?}: {e}"));
        }
    };
    let endpoint = match routed.class {
        Class::Reads | Class::Mutates => return AuthzRead::Allow,
        Class::Unknown if matches!(method, "GET" | "HEAD") => return AuthzRead::Allow,
        Class::Unknown => {
            return refuse(
                "unknown_endpoint",
                format!(
                    "{method} {} is not an endpoint this plugin knows; a request it cannot classify is denied",
                    routed.path
                ),
            );
        }
        Class::Opaque(why) => {
            return refuse(
                "opaque_endpoint",
                format!("{method} {}: {why}", routed.path),
            );
        }
        Class::Judged(e) => e,
    };
    let path = routed.path.as_str();
    let query = docker_api::query_pairs(&format!("?{}", routed.query));
    let param = |k: &str| docker_api::query_param(&query, k);
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
    if endpoint == Endpoint::Build {
        // The body is the context tar, which dockerd does not forward: the query is the
        // request.
        let d = docker_api::build_deployment(&query, origin);
        return judge(d, user, method, path);
    }
    // The body arrives base64-encoded (a Go []byte).
    let body = match req.get("RequestBody") {
        Some(Value::String(b64)) => match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(b) => b,
            Err(e) => {
                return refuse(
                    "body_unreadable",
                    format!("{path}: RequestBody is not base64: {e}"),
                );
            }
        },
        _ => Vec::new(),
    };
    let declared = header(req, "Content-Length").and_then(|l| l.trim().parse::<usize>().ok());
    if body.is_empty() {
        return refuse(
            "body_missing",
            format!(
                "{method} {path} arrived without a body (chunked, not JSON, or stripped); a request that grants powers cannot be judged blind (CVE-2024-41110)"
            ),
        );
    }
    if body.len() > MAX_BODY || declared.is_some_and(|d| d != body.len()) {
        return refuse(
            "body_incomplete",
            format!(
                "{path} body is {} bytes, Content-Length {declared:?}: refusing a body the plugin may not have seen whole (CVE-2026-34040)",
                body.len()
            ),
        );
    }
    let decoded = match endpoint {
        Endpoint::ContainerCreate => docker_wire::create_request(&body),
        Endpoint::ContainerExec => docker_wire::exec_config(&body),
        Endpoint::ServiceCreate | Endpoint::ServiceUpdate => docker_wire::service_spec(&body),
        Endpoint::VolumeCreate => docker_wire::volume_create(&body),
        Endpoint::PluginPull | Endpoint::PluginUpgrade => docker_wire::plugin_privileges(&body),
        Endpoint::PluginSet => docker_wire::plugin_settings(&body),
        Endpoint::Build => Ok(Value::Null),
    };
    let v = match decoded {
        Ok(v) => v,
        Err(e) => return refuse("body_undecodable", format!("{method} {path}: {e}")),
    };
    let name = routed.name.as_deref();
    let d = match endpoint {
        Endpoint::ContainerCreate => {
            docker_api::create_deployment(&v, Shape::Request, param("name"), origin)
        }
        Endpoint::ContainerExec => docker_api::exec_deployment(&v, name.unwrap_or(""), origin),
        Endpoint::ServiceCreate | Endpoint::ServiceUpdate => {
            let mut d = docker_api::service_deployment(&v, origin);
            if endpoint == Endpoint::ServiceUpdate {
                d.operation = Operation::Update;
                if d.target.name.is_none() {
                    d.target.name = name.map(str::to_string);
                }
            }
            d
        }
        Endpoint::VolumeCreate => docker_api::volume_deployment(&v, origin),
        Endpoint::PluginPull | Endpoint::PluginUpgrade => {
            // `remote` is the plugin image; an upgrade names the installed plugin in the path.
            let name = param("name").or(name);
            docker_api::plugin_deployment(param("remote").unwrap_or(""), name, &v, origin)
        }
        Endpoint::PluginSet => {
            docker_api::plugin_settings_deployment(name.unwrap_or(""), &v, origin)
        }
        Endpoint::Build => return AuthzRead::Allow,
    };
    judge(d, user, method, path)
}

fn judge(mut d: Deployment, user: Option<String>, method: &str, path: &str) -> AuthzRead {
    if d.operation == Operation::Declare {
        d.operation = Operation::Create;
    }
    d.actor.user = user;
    d.outcome = Outcome::Attempted;
    AuthzRead::Judge {
        deployment: Box::new(d),
        method: method.to_string(),
        path: path.to_string(),
    }
}
