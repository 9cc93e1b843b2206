//! Pod Security `procMount` and `procMount_restricted`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx {
        check, cs, user_ns, ..
    } = *cx;
    let mut vs = Vec::new();
    if check == "procMount" && user_ns {
        return None;
    }
    for c in cs {
        if let Some(pm) = c
            .security_context
            .proc_mount
            .as_deref()
            .filter(|p| *p != "Default")
        {
            vs.push(v(Some(c), "securityContext.procMount", pm));
        }
    }
    let n = names(&vs);
    fail(
        "procMount",
        format!(
            "{} must not set securityContext.procMount to \"Unmasked\"",
            containers_phrase(&n)
        ),
        vs,
    )
}
