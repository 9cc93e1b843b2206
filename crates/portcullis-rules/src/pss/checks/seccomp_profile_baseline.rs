//! Pod Security `seccompProfile_baseline`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx {
        pod,
        minor,
        cs,
        psc,
        ..
    } = *cx;
    let mut vs = Vec::new();
    if minor < 19 {
        for (k, val) in &pod.annotations {
            let legacy = k == "seccomp.security.alpha.kubernetes.io/pod"
                || k.starts_with("container.seccomp.security.alpha.kubernetes.io/");
            if legacy
                && !(val.is_empty()
                    || val == "runtime/default"
                    || val == "docker/default"
                    || val.starts_with("localhost/"))
            {
                vs.push(v(None, format!("metadata.annotations[{k}]"), val.clone()));
            }
        }
    } else {
        if psc.seccomp.as_deref() == Some("Unconfined") {
            vs.push(v(None, "securityContext.seccompProfile.type", "Unconfined"));
        }
        for c in cs
            .iter()
            .filter(|c| c.security_context.options.seccomp.as_deref() == Some("Unconfined"))
        {
            vs.push(v(
                Some(c),
                "securityContext.seccompProfile.type",
                "Unconfined",
            ));
        }
    }
    let who = if vs.iter().any(|x| x.container.is_none()) {
        "pod".to_string()
    } else {
        containers_phrase(&names(&vs))
    };
    fail(
        "seccompProfile",
        format!("{who} must not set securityContext.seccompProfile.type to \"Unconfined\""),
        vs,
    )
}
