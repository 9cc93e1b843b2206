//! containerd's own records → [`Deployment`]s (DS0032 below Docker and the kubelet):
//! - `ctr events` output: `2026-12-07 00:42:53.140841119 +0000 UTC default
//!   /containers/create {"id":"t1","image":"docker.io/library/alpine:3.20",…}`, one event a
//!   line: the time as Go prints it, the containerd namespace, the topic, the payload;
//! - containerd's own log (logrus): the shim's `starting signal loop` line, which every
//!   task start writes with its namespace and bundle path, whatever client asked for it.
//!
//! Neither carries the OCI spec: an event proves a container was created or started, in
//! which namespace and (for a create) from which image. The namespace says who made it:
//! `k8s.io` is the kubelet through CRI, `moby` is Docker, anything else (`default` first)
//! is `ctr`, `nerdctl` or another client on the socket, past the API server and Docker.

use crate::SourceError;
use portcullis_model::{
    Container, Deployment, ImageRef, Operation, Origin, Outcome, PodSpec, Target,
};
use serde::Deserialize;

/// The containerd namespaces of the two orchestrators that drive it.
pub const KUBERNETES_NAMESPACE: &str = "k8s.io";
pub const DOCKER_NAMESPACE: &str = "moby";

#[derive(Deserialize, Default)]
struct Payload {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    container_id: Option<String>,
    #[serde(default)]
    image: Option<String>,
    #[serde(default)]
    exec_id: Option<String>,
}

/// What a topic means for a deployment; `None`: not one (deletes, exits, images, content).
fn operation(topic: &str) -> Option<Operation> {
    Some(match topic {
        "/containers/create" => Operation::Create,
        "/containers/update" => Operation::Update,
        "/tasks/start" => Operation::Start,
        "/tasks/exec-started" | "/tasks/exec_started" => Operation::Exec,
        _ => return None,
    })
}

/// A container of containerd, as the model sees it.
pub fn container_deployment(
    namespace: &str,
    id: &str,
    image: Option<&str>,
    operation: Operation,
    origin: Origin,
    time: Option<String>,
) -> Deployment {
    let pod = image.filter(|i| !i.is_empty()).map(|image| PodSpec {
        path: "event".into(),
        containers: vec![Container {
            path: "event.image".into(),
            name: id.into(),
            image: ImageRef::parse(image),
            ..Container::default()
        }],
        ..PodSpec::default()
    });
    Deployment {
        origin,
        time,
        operation,
        outcome: Outcome::Created,
        target: Target {
            kind: "ContainerdContainer".into(),
            api_version: "containerd".into(),
            namespace: Some(namespace.into()),
            name: Some(id.into()),
            ..Target::default()
        },
        pod,
        ..Deployment::default()
    }
}

/// Go's `time.Time.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`, as RFC 3339.
fn go_time(date: &str, clock: &str, offset: &str) -> Option<String> {
    let o = offset.as_bytes();
    if o.len() != 5 || !matches!(o[0], b'+' | b'-') {
        return None;
    }
    let text = format!("{date}T{clock}{}:{}", &offset[..3], &offset[3..]);
    portcullis_model::time::parse_time(&text).map(portcullis_model::time::rfc3339)
}

/// One line of `ctr events`.
pub fn ctr_event(text: &str, file: &str, line: usize) -> Result<Vec<Deployment>, SourceError> {
    let bad = |why: &str| SourceError::at(file, line, format!("not a `ctr events` line: {why}"));
    // date, clock, offset, zone name, namespace, topic, payload.
    let mut parts = text.trim().splitn(7, ' ');
    let mut next = || parts.next().filter(|p| !p.is_empty());
    let (Some(date), Some(clock), Some(offset), Some(_zone), Some(namespace), Some(topic)) =
        (next(), next(), next(), next(), next(), next())
    else {
        return Err(bad("expected time, namespace, topic and event"));
    };
    let payload = next().unwrap_or("{}");
    let time = go_time(date, clock, offset).ok_or_else(|| bad("the time is not Go's"))?;
    if !topic.starts_with('/') {
        return Err(bad("the topic does not start with /"));
    }
    let Some(op) = operation(topic) else {
        return Ok(Vec::new());
    };
    let p: Payload = serde_json::from_str(payload)
        .map_err(|e| SourceError::json(file, line, "invalid event payload", &e))?;
    let Some(id) = p.id.or(p.container_id).filter(|i| !i.is_empty()) else {
        return Err(SourceError {
            field: Some("id".into()),
            ..bad("the event names no container")
        });
    };
    let record = match &p.exec_id {
        Some(exec) => format!("{namespace}/{id}:{topic}:{exec}"),
        None => format!("{namespace}/{id}:{topic}"),
    };
    let origin = Origin {
        kind: "containerd_events".into(),
        file: file.into(),
        line,
        document: 0,
        record_id: Some(record),
    };
    Ok(vec![container_deployment(
        namespace,
        &id,
        p.image.as_deref(),
        op,
        origin,
        Some(time),
    )])
}

/// Does this line look like `ctr events` output (for detection)?
pub fn looks_like_ctr_event(line: &str) -> bool {
    let mut parts = line.split(' ');
    let date = parts.next().unwrap_or("");
    let clock = parts.next().unwrap_or("");
    let offset = parts.next().unwrap_or("");
    let _zone = parts.next();
    let _namespace = parts.next();
    let topic = parts.next().unwrap_or("");
    date.len() == 10
        && date.as_bytes()[4] == b'-'
        && clock.len() >= 8
        && clock.as_bytes()[2] == b':'
        && go_time(date, clock, offset).is_some()
        && topic.starts_with('/')
}

/// The `key=value` pairs of a logrus text line (values quoted with Go's escapes, or bare).
pub fn logfmt(line: &str) -> Vec<(&str, String)> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = &rest[..eq];
        if key.contains(' ') {
            // Text that is not a pair: skip a word.
            rest = rest.split_once(' ').map_or("", |(_, r)| r).trim_start();
            continue;
        }
        let after = &rest[eq + 1..];
        if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut end = quoted.len();
            let mut chars = quoted.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, 't')) => value.push('\t'),
                        Some((_, other)) => value.push(other),
                        None => break,
                    },
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            out.push((key, value));
            rest = quoted[end.min(quoted.len())..].trim_start();
        } else {
            let (value, r) = after.split_once(' ').unwrap_or((after, ""));
            out.push((key, value.to_string()));
            rest = r.trim_start();
        }
    }
    out
}

/// A containerd log line's deployment, if it is one: the shim's `starting signal loop`
/// (`namespace=default path=…/io.containerd.runtime.v2.task/default/t1 pid=…`), written
/// once per task, for `ctr run`, nerdctl, Docker and the kubelet alike.
pub fn log_line(text: &str, file: &str, line: usize) -> Option<Deployment> {
    if !text.contains("starting signal loop") {
        return None;
    }
    let pairs = logfmt(text);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.as_str())
    };
    if get("msg") != Some("starting signal loop") {
        return None;
    }
    let path = get("path")?;
    let id = path.rsplit('/').next().filter(|s| !s.is_empty())?;
    let namespace = get("namespace")
        .or_else(|| path.rsplit('/').nth(1))
        .unwrap_or("default");
    let time = get("time").map(portcullis_model::time::normalize);
    let origin = Origin {
        kind: "containerd_log".into(),
        file: file.into(),
        line,
        document: 0,
        record_id: Some(format!("{namespace}/{id}:start")),
    };
    Some(container_deployment(
        namespace,
        id,
        None,
        Operation::Start,
        origin,
        time,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Printed by Debian's containerd 1.6.20 and `ctr events` for `ctr run --rootfs`.
    const EVENTS: &str = r#"2026-12-07 00:42:58.114718047 +0000 UTC default /containers/create {"id":"t1","runtime":{"name":"io.containerd.runc.v2","options":{"type_url":"containerd.runc.v1.Options"}}}
2026-12-07 00:42:58.184591951 +0000 UTC default /tasks/create {"container_id":"t1","bundle":"/run/containerd/io.containerd.runtime.v2.task/default/t1","io":{"stdin":"/run/containerd/fifo/4290345112/t1-stdin"},"pid":11837}
2026-12-07 00:42:58.192344337 +0000 UTC default /tasks/start {"container_id":"t1","pid":11837}
2026-12-07 00:42:58.195565566 +0000 UTC default /tasks/exit {"container_id":"t1","id":"t1","pid":11837,"exited_at":"2026-12-07T00:42:58.195538227Z"}
2026-12-07 00:42:58.218159778 +0000 UTC default /containers/delete {"id":"t1"}
2026-12-07 01:00:00.5 +0100 CET k8s.io /containers/create {"id":"0f3a","image":"docker.io/library/nginx:1.27","runtime":{"name":"io.containerd.runc.v2"}}"#;

    #[test]
    fn ctr_events_are_creates_and_starts() {
        let mut out = Vec::new();
        for (i, l) in EVENTS.lines().enumerate() {
            out.extend(ctr_event(l, "ctr.log", i + 1).expect("reads"));
        }
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(out[0].operation, Operation::Create);
        assert_eq!(out[0].target.namespace.as_deref(), Some("default"));
        assert_eq!(out[0].target.name.as_deref(), Some("t1"));
        assert_eq!(out[0].time.as_deref(), Some("2026-12-07T00:42:58.115Z"));
        assert!(out[0].pod.is_none(), "a rootfs container has no image");
        assert_eq!(out[1].operation, Operation::Start);
        let nginx = &out[2];
        assert_eq!(nginx.time.as_deref(), Some("2026-12-07T00:00:00.500Z"));
        let image = &nginx.pod.as_ref().expect("image").containers[0].image;
        assert_eq!(image.name(), "docker.io/library/nginx");
        assert!(looks_like_ctr_event(EVENTS.lines().next().unwrap_or("")));
    }

    #[test]
    fn broken_ctr_lines_are_located() {
        let e = ctr_event("2026-12-07 garbage", "f", 4).expect_err("refused");
        assert_eq!(e.line, 4);
        let e = ctr_event(
            "2026-12-07 00:42:58.1 +0000 UTC default /containers/create {\"id\":",
            "f",
            5,
        )
        .expect_err("refused");
        assert!(e.message.contains("payload"), "{e:?}");
        let e = ctr_event(
            "2026-12-07 00:42:58.1 +0000 UTC default /tasks/start {}",
            "f",
            6,
        )
        .expect_err("refused");
        assert_eq!(e.field.as_deref(), Some("id"));
    }

    #[test]
    fn the_shim_start_is_a_task_start() {
        let l = r#"time="2026-12-07T00:42:58.141748958Z" level=info msg="starting signal loop" namespace=default path=/run/containerd/io.containerd.runtime.v2.task/default/t1 pid=11816 runtime=io.containerd.runc.v2"#;
        let d = log_line(l, "containerd.log", 3).expect("a start");
        assert_eq!(d.operation, Operation::Start);
        assert_eq!(d.target.namespace.as_deref(), Some("default"));
        assert_eq!(d.target.name.as_deref(), Some("t1"));
        assert_eq!(d.time.as_deref(), Some("2026-12-07T00:42:58.141748958Z"));
        let other = r#"time="2026-12-07T00:42:58Z" level=debug msg="event forwarded" ns=default topic=/tasks/start"#;
        assert!(log_line(other, "f", 1).is_none());
        let pairs = logfmt(r#"a=1 msg="x \"y\" z" b="#);
        assert_eq!(pairs[1], ("msg", r#"x "y" z"#.to_string()));
    }
}
