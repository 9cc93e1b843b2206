//! Pod Security `capabilities_baseline`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { cs, .. } = *cx;
    let mut vs = Vec::new();
    for c in cs {
        for cap in &c.security_context.cap_add {
            if !BASELINE_CAPS.contains(&cap.as_str()) {
                vs.push(v(Some(c), "securityContext.capabilities.add", cap.clone()));
            }
        }
    }
    let caps: Vec<String> = vs.iter().map(|x| x.value.clone()).collect();
    let n = names(&vs);
    fail(
        "non-default capabilities",
        format!(
            "{} must not include {} in securityContext.capabilities.add",
            containers_phrase(&n),
            quoted(&caps)
        ),
        vs,
    )
}
