//! Pod Security `seccompProfile_restricted`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx {
        cs,
        psc,
        windows_exempt,
        ..
    } = *cx;
    let mut vs = Vec::new();
    if windows_exempt {
        return None;
    }
    let ok = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    let pod_ok = psc.seccomp.as_deref().is_some_and(ok);
    if let Some(t) = psc.seccomp.as_deref().filter(|t| !ok(t)) {
        vs.push(v(None, "securityContext.seccompProfile.type", t));
    }
    for c in cs {
        match c.security_context.options.seccomp.as_deref() {
            Some(t) if !ok(t) => vs.push(v(Some(c), "securityContext.seccompProfile.type", t)),
            None if !pod_ok => vs.push(v(Some(c), "securityContext.seccompProfile.type", "unset")),
            _ => {}
        }
    }
    fail("seccompProfile", "pod or containers must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"".into(), vs)
}
