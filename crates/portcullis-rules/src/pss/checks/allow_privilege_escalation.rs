//! Pod Security `allowPrivilegeEscalation`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx {
        cs, windows_exempt, ..
    } = *cx;
    let mut vs = Vec::new();
    if windows_exempt {
        return None;
    }
    for c in cs
        .iter()
        .filter(|c| c.security_context.allow_privilege_escalation != Some(false))
    {
        let val = c
            .security_context
            .allow_privilege_escalation
            .map_or("unset".to_string(), |b| b.to_string());
        vs.push(v(Some(c), "securityContext.allowPrivilegeEscalation", val));
    }
    let n = names(&vs);
    fail(
        "allowPrivilegeEscalation != false",
        format!(
            "{} must set securityContext.allowPrivilegeEscalation=false",
            containers_phrase(&n)
        ),
        vs,
    )
}
