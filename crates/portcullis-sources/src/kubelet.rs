//! The kubelet's log (klog) → [`Deployment`]s: the pods a kubelet starts from a source
//! other than the API server. `SyncLoop ADD` names where a pod came from: `api` (scheduled
//! to this node, already in the audit log), `file` (a manifest in `staticPodPath`) or
//! `http` (`--manifest-url`). The last two never passed RBAC or admission; the API server
//! only sees a mirror afterwards, if at all.
//!
//! Both forms kubelets have written are read:
//! `I1207 00:42:58.123456    1234 kubelet.go:2435] "SyncLoop ADD" source="file" pods=["kube-system/x"]`
//! (structured, 1.21+) and `SyncLoop (ADD, "file"): "x_kube-system(uid)"` (before).

use portcullis_model::{Actor, Deployment, Operation, Origin, Outcome, Target};

/// The annotation the kubelet gives every pod it read from a file or a URL.
pub const CONFIG_SOURCE_ANNOTATION: &str = "kubernetes.io/config.source";

/// Does this line start like klog's header (`I1207 00:42:58.123456 1234 file.go:12] `)?
pub fn looks_like_klog(line: &str) -> bool {
    let b = line.as_bytes();
    b.len() > 22
        && matches!(b[0], b'I' | b'W' | b'E' | b'F')
        && b[1..5].iter().all(u8::is_ascii_digit)
        && b[5] == b' '
        && b[8] == b':'
        && line.contains("] ")
}

/// The pods a `SyncLoop ADD` line adds, with their source: `(source, [(namespace, name)])`.
fn sync_loop_add(message: &str) -> Option<(String, Vec<(String, String)>)> {
    if let Some(rest) = message.strip_prefix("\"SyncLoop ADD\"") {
        let source = field(rest, "source")?;
        let pods = rest.split("pods=[").nth(1)?.split(']').next()?;
        let pods = pods
            .split(',')
            .filter_map(|p| {
                let p = p.trim().trim_matches('"');
                let (ns, name) = p.split_once('/')?;
                Some((ns.to_string(), name.to_string()))
            })
            .collect();
        return Some((source, pods));
    }
    // SyncLoop (ADD, "file"): "name_namespace(uid)", "other_ns(uid)"
    let rest = message.strip_prefix("SyncLoop (ADD, \"")?;
    let (source, pods) = rest.split_once("\"):")?;
    let pods = pods
        .split(',')
        .filter_map(|p| {
            let p = p.trim().trim_matches('"');
            let p = p.split('(').next()?;
            // Pod names cannot hold `_`; namespaces cannot either: the last one splits.
            let (name, ns) = p.rsplit_once('_')?;
            Some((ns.to_string(), name.to_string()))
        })
        .collect();
    Some((source.to_string(), pods))
}

fn field(text: &str, key: &str) -> Option<String> {
    let start = text.find(&format!("{key}=\""))? + key.len() + 2;
    text[start..].split('"').next().map(str::to_string)
}

/// One kubelet log line. `node`: the node's name when the record knows it (journald's
/// `_HOSTNAME`); the kubelet acts as `system:node:<node>`. `time`: when the record has a
/// full one (klog's header has no year).
pub fn line(
    text: &str,
    file: &str,
    line: usize,
    node: Option<&str>,
    time: Option<String>,
) -> Vec<Deployment> {
    let message = text.split_once("] ").map_or(text, |(_, m)| m).trim();
    let Some((source, pods)) = sync_loop_add(message) else {
        return Vec::new();
    };
    if source == "api" {
        return Vec::new();
    }
    let actor = Actor {
        user: Some(format!("system:node:{}", node.unwrap_or("(kubelet log)"))),
        ..Actor::default()
    };
    pods.into_iter()
        .map(|(namespace, name)| Deployment {
            origin: Origin {
                kind: "kubelet_log".into(),
                file: file.into(),
                line,
                document: 0,
                record_id: Some(format!("{namespace}/{name}:{source}")),
            },
            time: time.clone(),
            actor: actor.clone(),
            operation: Operation::Create,
            outcome: Outcome::Created,
            target: Target {
                kind: "Pod".into(),
                api_version: "v1".into(),
                namespace: Some(namespace),
                name: Some(name),
                annotations: vec![(CONFIG_SOURCE_ANNOTATION.into(), source.clone())],
                ..Target::default()
            },
            ..Deployment::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_pods_from_both_log_forms() {
        let new = r#"I1207 00:42:58.123456    1234 kubelet.go:2435] "SyncLoop ADD" source="file" pods=["kube-system/kube-apiserver-cp1","default/miner-cp1"]"#;
        assert!(looks_like_klog(new));
        let out = line(new, "kubelet.log", 9, Some("cp1"), None);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].target.name.as_deref(), Some("miner-cp1"));
        assert_eq!(out[1].target.namespace.as_deref(), Some("default"));
        assert_eq!(out[1].actor.user.as_deref(), Some("system:node:cp1"));
        assert_eq!(
            out[1].target.annotation(CONFIG_SOURCE_ANNOTATION),
            Some("file")
        );
        let old = r#"I0120 10:25:08.567373    3030 kubelet.go:1908] SyncLoop (ADD, "http"): "miner-node1_default(2ab1c4d5)""#;
        let out = line(old, "kubelet.log", 1, None, None);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].target.name.as_deref(), Some("miner-node1"));
        assert_eq!(out[0].target.namespace.as_deref(), Some("default"));
        let api = r#"I1207 00:42:58.123456    1234 kubelet.go:2435] "SyncLoop ADD" source="api" pods=["default/web-1"]"#;
        assert!(line(api, "f", 1, None, None).is_empty());
        assert!(
            line(
                "I1207 00:42:58.123456    1234 x.go:1] other",
                "f",
                1,
                None,
                None
            )
            .is_empty()
        );
    }
}
