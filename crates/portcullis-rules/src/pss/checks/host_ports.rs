//! Pod Security `hostPorts`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { cs, .. } = *cx;
    let mut vs = Vec::new();
    for c in cs {
        for p in c
            .ports
            .iter()
            .filter_map(|p| p.host_port)
            .filter(|p| *p != 0)
        {
            vs.push(v(Some(c), "ports[].hostPort", p.to_string()));
        }
    }
    let ports: Vec<String> = vs.iter().map(|x| x.value.clone()).collect();
    let n = names(&vs);
    fail(
        "hostPort",
        format!(
            "{} uses hostPorts {}",
            containers_phrase(&n),
            ports.join(", ")
        ),
        vs,
    )
}
