//! Pod Security `privileged`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { cs, .. } = *cx;
    let mut vs = Vec::new();
    for c in cs
        .iter()
        .filter(|c| c.security_context.privileged == Some(true))
    {
        vs.push(v(Some(c), "securityContext.privileged", "true"));
    }
    let n = names(&vs);
    fail(
        "privileged",
        format!(
            "{} must not set securityContext.privileged=true",
            containers_phrase(&n)
        ),
        vs,
    )
}
