//! Pod Security `hostNamespaces`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { pod, .. } = *cx;
    let mut vs = Vec::new();
    for (set, f) in [
        (pod.host_network, "hostNetwork"),
        (pod.host_pid, "hostPID"),
        (pod.host_ipc, "hostIPC"),
    ] {
        if set {
            vs.push(v(None, f, "true"));
        }
    }
    let detail = vs
        .iter()
        .map(|x| format!("{}=true", x.field))
        .collect::<Vec<_>>()
        .join(", ");
    fail("host namespaces", detail, vs)
}
