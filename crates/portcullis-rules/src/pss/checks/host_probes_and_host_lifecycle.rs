//! Pod Security `hostProbesAndHostLifecycle`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { cs, .. } = *cx;
    let mut vs = Vec::new();
    for c in cs {
        for (field, host) in &c.probe_hosts {
            vs.push(v(Some(c), field.clone(), host.clone()));
        }
    }
    let n = names(&vs);
    fail(
        "probe or lifecycle host",
        format!("{} uses probe or lifecycle hosts", containers_phrase(&n)),
        vs,
    )
}
