//! Pod Security `runAsNonRoot`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx {
        cs, psc, user_ns, ..
    } = *cx;
    let mut vs = Vec::new();
    if user_ns {
        return None;
    }
    let pod_true = psc.run_as_non_root == Some(true);
    if psc.run_as_non_root == Some(false) {
        vs.push(v(None, "securityContext.runAsNonRoot", "false"));
    }
    for c in cs {
        match c.security_context.options.run_as_non_root {
            Some(false) => vs.push(v(Some(c), "securityContext.runAsNonRoot", "false")),
            None if !pod_true => vs.push(v(Some(c), "securityContext.runAsNonRoot", "unset")),
            _ => {}
        }
    }
    fail(
        "runAsNonRoot != true",
        "pod or containers must set securityContext.runAsNonRoot=true".into(),
        vs,
    )
}
