//! Pod Security `windowsHostProcess`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { cs, psc, .. } = *cx;
    let mut vs = Vec::new();
    if psc.windows_host_process == Some(true) {
        vs.push(v(
            None,
            "securityContext.windowsOptions.hostProcess",
            "true",
        ));
    }
    for c in cs
        .iter()
        .filter(|c| c.security_context.options.windows_host_process == Some(true))
    {
        vs.push(v(
            Some(c),
            "securityContext.windowsOptions.hostProcess",
            "true",
        ));
    }
    let who = if vs.iter().any(|v| v.container.is_none()) {
        "pod and containers"
    } else {
        "containers"
    };
    fail(
        "hostProcess",
        format!("{who} must not set securityContext.windowsOptions.hostProcess=true"),
        vs,
    )
}
