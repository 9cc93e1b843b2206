//! Pod Security `runAsUser`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx {
        cs, psc, user_ns, ..
    } = *cx;
    let mut vs = Vec::new();
    if user_ns {
        return None;
    }
    if psc.run_as_user == Some(0) {
        vs.push(v(None, "securityContext.runAsUser", "0"));
    }
    for c in cs
        .iter()
        .filter(|c| c.security_context.options.run_as_user == Some(0))
    {
        vs.push(v(Some(c), "securityContext.runAsUser", "0"));
    }
    fail(
        "runAsUser=0",
        "pod and containers must not set runAsUser=0".into(),
        vs,
    )
}
