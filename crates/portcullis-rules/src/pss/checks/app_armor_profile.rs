//! Pod Security `appArmorProfile`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { pod, cs, psc, .. } = *cx;
    let mut vs = Vec::new();
    let ok_type = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    if let Some(t) = psc.apparmor.as_deref().filter(|t| !ok_type(t)) {
        vs.push(v(None, "securityContext.appArmorProfile.type", t));
    }
    for c in cs {
        if let Some(t) = c
            .security_context
            .options
            .apparmor
            .as_deref()
            .filter(|t| !ok_type(t))
        {
            vs.push(v(Some(c), "securityContext.appArmorProfile.type", t));
        }
    }
    for (k, val) in &pod.annotations {
        if let Some(name) = k.strip_prefix("container.apparmor.security.beta.kubernetes.io/")
            && !(val.is_empty() || val == "runtime/default" || val.starts_with("localhost/"))
        {
            vs.push(Violation {
                container: Some(name.to_string()),
                field: format!("metadata.annotations[{k}]"),
                value: val.clone(),
            });
        }
    }
    let detail = vs
        .iter()
        .map(|x| {
            format!(
                "{}={:?}",
                x.container
                    .as_deref()
                    .map_or(x.field.clone(), |c| format!("{c}: {}", x.field)),
                x.value
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    fail("forbidden AppArmor profile", detail, vs)
}
