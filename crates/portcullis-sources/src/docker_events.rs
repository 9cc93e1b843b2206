//! Docker's own records → [`Deployment`]s:
//! - `docker events --format '{{json .}}'` lines and Engine API `/events` JSON, and the
//!   default text form of `docker events`;
//! - `docker inspect` output (one container or an array): the full `HostConfig`;
//! - the daemon's debug log (DS0015): with `dockerd -D`, `Calling POST
//!   /v1.xx/containers/create?name=…` is followed by `form data: {…}`, the whole create
//!   body, judged like an AuthZ request;
//! - Kubernetes `Event` objects (`kubectl get events -o json`): Pulling / Created / Started.
//!
//! An event carries only image and name: it proves a container was created or started and
//! lets image rules run, nothing more. Inspect output and daemon logs carry the spec.

use crate::{SourceError, docker_api, value};
use portcullis_model::{
    Container, Deployment, ImageRef, Operation, Origin, Outcome, PodSpec, Target,
};
use serde_json::Value;

fn origin(kind: &str, file: &str, line: usize, id: Option<String>) -> Origin {
    Origin {
        kind: kind.into(),
        file: file.into(),
        line,
        document: 0,
        record_id: id,
    }
}

fn image_only_pod(image: &str, name: &str) -> PodSpec {
    PodSpec {
        path: "event".into(),
        containers: vec![Container {
            path: "event.Actor.Attributes".into(),
            name: name.into(),
            image: ImageRef::parse(image),
            ..Container::default()
        }],
        ..PodSpec::default()
    }
}

fn event_deployment(
    kind: &str,
    file: &str,
    line: usize,
    action: &str,
    id: &str,
    attrs: &[(String, String)],
    time: Option<String>,
) -> Option<Deployment> {
    let op = match action.split(':').next().unwrap_or("").trim() {
        "create" => Operation::Create,
        "start" => Operation::Start,
        "exec_create" | "exec_start" => Operation::Exec,
        _ => return None,
    };
    let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    let name = get("name").unwrap_or_else(|| id.chars().take(12).collect());
    let mut target = Target {
        kind: "DockerContainer".into(),
        api_version: "docker".into(),
        name: Some(name.clone()),
        labels: attrs
            .iter()
            .filter(|(k, _)| k != "image" && k != "name")
            .cloned()
            .collect(),
        ..Target::default()
    };
    if op == Operation::Exec
        && let Some((_, cmd)) = action.split_once(':')
    {
        target.set_exec_command(cmd.trim().to_string());
    }
    Some(Deployment {
        origin: origin(kind, file, line, Some(format!("{id}:{action}"))),
        time,
        operation: op,
        outcome: Outcome::Created,
        target,
        pod: (op != Operation::Exec)
            .then(|| image_only_pod(&get("image").unwrap_or_default(), &name)),
        ..Deployment::default()
    })
}

/// One `podman events --format json` line. Podman's events carry the container, its image
/// and what happened, never the spec: a create or start is judged with what is known (the
/// image), and `podman inspect` output (Docker's shape) gives the full spec.
pub fn podman_event_json(
    text: &str,
    file: &str,
    line: usize,
) -> Result<Vec<Deployment>, SourceError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| SourceError::json(file, line, "invalid Podman event", &e))?;
    if value::string(&v, "Type").as_deref() != Some("container") {
        return Ok(Vec::new());
    }
    let op = match value::string(&v, "Status").unwrap_or_default().as_str() {
        "create" => Operation::Create,
        "init" | "start" | "restart" => Operation::Start,
        "exec" => Operation::Exec,
        _ => return Ok(Vec::new()),
    };
    let id = value::string(&v, "ID").unwrap_or_default();
    let name = value::string(&v, "Name").unwrap_or_else(|| id.clone());
    let image = value::string(&v, "Image").unwrap_or_default();
    let status = value::string(&v, "Status").unwrap_or_default();
    let mut labels = value::string_map(&v, "Attributes");
    labels.retain(|(k, _)| k != "image" && k != "name");
    Ok(vec![Deployment {
        origin: origin("podman_events", file, line, Some(format!("{id}:{status}"))),
        time: value::string(&v, "Time"),
        operation: op,
        outcome: Outcome::Created,
        target: Target {
            kind: "PodmanContainer".into(),
            api_version: "podman".into(),
            name: Some(name.clone()),
            labels,
            ..Target::default()
        },
        pod: (op != Operation::Exec).then(|| image_only_pod(&image, &name)),
        ..Deployment::default()
    }])
}

/// One `docker events` JSON line (CLI `{{json .}}` or Engine API `/events`).
pub fn event_json(text: &str, file: &str, line: usize) -> Result<Vec<Deployment>, SourceError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| SourceError::json(file, line, "invalid Docker event", &e))?;
    let typ = value::string(&v, "Type").unwrap_or_else(|| "container".into());
    if typ != "container" {
        return Ok(Vec::new());
    }
    let action = value::string(&v, "Action")
        .or_else(|| value::string(&v, "status"))
        .unwrap_or_default();
    let actor = v.get("Actor").unwrap_or(&Value::Null);
    let id = value::string(actor, "ID")
        .or_else(|| value::string(&v, "id"))
        .unwrap_or_default();
    let mut attrs = value::string_map(actor, "Attributes");
    if !attrs.iter().any(|(k, _)| k == "image")
        && let Some(from) = value::string(&v, "from")
    {
        attrs.push(("image".into(), from));
    }
    let time = value::string(&v, "time");
    Ok(
        event_deployment("docker_events", file, line, &action, &id, &attrs, time)
            .into_iter()
            .collect(),
    )
}

/// One line of `docker events` default text output:
/// `2017-01-05T00:35:58.859401177+08:00 container create 0fdb… (image=alpine:latest, name=test)`.
pub fn event_text(text: &str, file: &str, line: usize) -> Result<Vec<Deployment>, SourceError> {
    let mut parts = text.splitn(4, ' ');
    let (Some(time), Some(typ), Some(action_id)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(SourceError::at(file, line, "not a docker events line"));
    };
    if typ != "container" {
        return Ok(Vec::new());
    }
    let rest = parts.next().unwrap_or("");
    // exec_create carries the command after a colon: `exec_create: sh -c id <id> (…)`.
    let (action, id, attrs_text) = if action_id.ends_with(':') {
        let (cmd_and_id, attrs) = rest.split_once(" (").unwrap_or((rest, ""));
        let (cmd, id) = cmd_and_id.rsplit_once(' ').unwrap_or(("", cmd_and_id));
        (format!("{action_id} {cmd}"), id.to_string(), attrs)
    } else {
        let (id, attrs) = rest.split_once(" (").unwrap_or((rest, ""));
        (action_id.to_string(), id.to_string(), attrs)
    };
    let attrs: Vec<(String, String)> = attrs_text
        .trim_end_matches(')')
        .split(", ")
        .filter_map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    Ok(event_deployment(
        "docker_events",
        file,
        line,
        &action,
        &id,
        &attrs,
        Some(time.to_string()),
    )
    .into_iter()
    .collect())
}

/// `docker inspect` output: a container object, or an array of them.
pub fn inspect(v: &Value, file: &str, line: usize) -> Vec<Deployment> {
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    items
        .into_iter()
        .filter(|c| c.get("HostConfig").is_some())
        .map(|c| {
            let id = value::string(c, "Id");
            let mut d = docker_api::create_deployment(
                c,
                docker_api::Shape::Inspect,
                value::string(c, "Name").as_deref(),
                origin("docker_inspect", file, line, id),
            );
            d.operation = Operation::Create;
            d.outcome = Outcome::Created;
            d.time = value::string(c, "Created");
            d
        })
        .collect()
}

/// The daemon's debug log, line by line: a `Calling POST …/containers/create` line, then
/// its `form data: {…}` line.
#[derive(Default)]
pub struct DaemonLogReader {
    pending: Option<(usize, Option<String>, Option<String>)>,
}

impl DaemonLogReader {
    pub fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
    ) -> Result<Vec<Deployment>, SourceError> {
        let msg = go_msg(text);
        let msg = msg.as_deref().unwrap_or(text);
        // containerd logs with the same library: its shim start is a task start.
        if let Some(d) = crate::containerd::log_line(text, file, line) {
            return Ok(vec![d]);
        }
        let time = go_field(text, "time");
        if let Some(call) = msg.split("Calling POST ").nth(1) {
            let path = call.split_whitespace().next().unwrap_or("");
            let (p, query) = path.split_once('?').unwrap_or((path, ""));
            self.pending = (crate::cmdline::strip_version(p) == "/containers/create").then(|| {
                let name = query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("name="))
                    .map(str::to_string);
                (line, name, time)
            });
            return Ok(Vec::new());
        }
        if let Some(body) = msg.split("form data: ").nth(1)
            && let Some((start, name, t)) = self.pending.take()
        {
            // The body as the client sent it: read as dockerd read it.
            let v = crate::docker_wire::create_request(body.trim().as_bytes()).map_err(|e| {
                SourceError {
                    file: file.into(),
                    line,
                    column: None,
                    field: Some("form data".into()),
                    message: format!("create body dockerd would refuse: {e}"),
                }
            })?;
            let mut d = docker_api::create_deployment(
                &v,
                docker_api::Shape::Request,
                name.as_deref(),
                origin("docker_daemon", file, start, None),
            );
            d.operation = Operation::Create;
            d.outcome = Outcome::Attempted;
            d.time = t;
            return Ok(vec![d]);
        }
        Ok(Vec::new())
    }
}

/// The `msg="…"` of a logrus line, unescaped.
fn go_msg(line: &str) -> Option<String> {
    go_field(line, "msg")
}

fn go_field(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("{key}=\""))? + key.len() + 2;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => break,
            },
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    Some(out)
}

/// Kubernetes `Event` objects (core/v1): Pulling, Pulled, Created, Started.
pub fn k8s_events(v: &Value, file: &str, line: usize) -> Vec<Deployment> {
    let items: Vec<&Value> = match v.get("items") {
        Some(Value::Array(a)) => a.iter().collect(),
        _ => vec![v],
    };
    items
        .into_iter()
        .filter_map(|e| {
            let reason = value::string(e, "reason")?;
            let op = match reason.as_str() {
                "Pulling" | "Pulled" | "Created" => Operation::Create,
                "Started" => Operation::Start,
                _ => return None,
            };
            let obj = e.get("involvedObject").unwrap_or(&Value::Null);
            let message = value::string(e, "message").unwrap_or_default();
            let image = message
                .split('"')
                .nth(1)
                .filter(|_| reason.starts_with("Pull"))
                .unwrap_or("");
            let container = value::string(obj, "fieldPath")
                .and_then(|f| {
                    f.split('{')
                        .nth(1)
                        .map(|s| s.trim_end_matches('}').to_string())
                })
                .unwrap_or_default();
            Some(Deployment {
                origin: origin(
                    "k8s_events",
                    file,
                    line,
                    e.get("metadata").and_then(|m| value::string(m, "uid")),
                ),
                time: value::string(e, "lastTimestamp").or_else(|| value::string(e, "eventTime")),
                operation: op,
                outcome: Outcome::Created,
                target: Target {
                    kind: value::string(obj, "kind").unwrap_or_else(|| "Pod".into()),
                    namespace: value::string(obj, "namespace"),
                    name: value::string(obj, "name"),
                    ..Target::default()
                },
                pod: (!image.is_empty()).then(|| image_only_pod(image, &container)),
                ..Deployment::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_text_lines() {
        let text = std::fs::read_to_string(
            "../../../shared/corpus/docker-cli-docs/system_events.basic-example.txt",
        )
        .expect("corpus");
        let mut found = Vec::new();
        for (i, l) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("20"))
        {
            found.extend(event_text(l, "events.txt", i + 1).expect("line"));
        }
        assert!(
            found
                .iter()
                .any(|d| d.operation == Operation::Create
                    && d.target.name.as_deref() == Some("test"))
        );
        assert!(found.iter().any(|d| d.operation == Operation::Start));
        assert!(found.iter().all(|d| {
            d.pod
                .as_ref()
                .is_none_or(|p| p.containers[0].image.raw == "alpine:latest")
        }));
    }

    #[test]
    fn json_events_and_daemon_log() {
        let e = r#"{"status":"create","id":"abc","from":"alpineos/dockerapi","Type":"container","Action":"create","Actor":{"ID":"abc","Attributes":{"image":"alpineos/dockerapi","name":"x"}},"scope":"local","time":1732096800,"timeNano":1732096800000000000}"#;
        let d = event_json(e, "ev.json", 1).expect("ok");
        assert_eq!(
            d[0].pod.as_ref().expect("pod").containers[0].image.name(),
            "docker.io/alpineos/dockerapi"
        );
        let mut r = DaemonLogReader::default();
        let l1 = r#"time="2026-11-20T10:00:00.000000000Z" level=debug msg="Calling POST /v1.47/containers/create?name=miner""#;
        let l2 = r#"time="2026-11-20T10:00:00.000100000Z" level=debug msg="form data: {\"HostConfig\":{\"Binds\":[\"/:/host\"],\"Privileged\":true},\"Image\":\"alpine\"}""#;
        assert!(r.push(l1, "d.log", 1).expect("ok").is_empty());
        let d = r.push(l2, "d.log", 2).expect("ok");
        assert_eq!(d[0].origin.line, 1);
        assert_eq!(d[0].target.name.as_deref(), Some("miner"));
        assert_eq!(
            d[0].pod.as_ref().expect("pod").containers[0]
                .security_context
                .privileged,
            Some(true)
        );
    }
}
