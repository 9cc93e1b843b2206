//! Pod Security `sysctls`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { pod, minor, .. } = *cx;
    let mut vs = Vec::new();
    let allowed = allowed_sysctls(minor);
    for (name, _) in &pod.security_context.sysctls {
        if !allowed.contains(&name.as_str()) {
            vs.push(v(None, "securityContext.sysctls[].name", name.clone()));
        }
    }
    let bad: Vec<String> = vs.iter().map(|x| x.value.clone()).collect();
    fail("forbidden sysctls", bad.join(", "), vs)
}
