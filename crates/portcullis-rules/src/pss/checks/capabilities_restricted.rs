//! Pod Security `capabilities_restricted`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx {
        cs, windows_exempt, ..
    } = *cx;
    let mut vs = Vec::new();
    if windows_exempt {
        return None;
    }
    for c in cs {
        if !c.security_context.cap_drop.iter().any(|d| d == "ALL") {
            vs.push(v(
                Some(c),
                "securityContext.capabilities.drop",
                "missing ALL",
            ));
        }
        for cap in c
            .security_context
            .cap_add
            .iter()
            .filter(|a| *a != "NET_BIND_SERVICE")
        {
            vs.push(v(Some(c), "securityContext.capabilities.add", cap.clone()));
        }
    }
    let n = names(&vs);
    fail(
        "unrestricted capabilities",
        format!(
            "{} must set securityContext.capabilities.drop=[\"ALL\"] and may only add \"NET_BIND_SERVICE\"",
            containers_phrase(&n)
        ),
        vs,
    )
}
