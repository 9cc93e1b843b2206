//! Pod Security `seLinuxOptions`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { minor, cs, psc, .. } = *cx;
    let mut vs = Vec::new();
    let mut types = vec!["", "container_t", "container_init_t", "container_kvm_t"];
    if minor >= 31 {
        types.push("container_engine_t");
    }
    let mut judge = |c: Option<&Container>, se: &Option<portcullis_model::SeLinux>| {
        let Some(se) = se else { return };
        if let Some(t) = se.r#type.as_deref().filter(|t| !types.contains(t)) {
            vs.push(v(c, "securityContext.seLinuxOptions.type", t));
        }
        if let Some(u) = &se.user {
            vs.push(v(c, "securityContext.seLinuxOptions.user", u.clone()));
        }
        if let Some(r) = &se.role {
            vs.push(v(c, "securityContext.seLinuxOptions.role", r.clone()));
        }
    };
    judge(None, &psc.selinux);
    for c in cs {
        judge(Some(c), &c.security_context.options.selinux);
    }
    let detail = vs
        .iter()
        .map(|x| format!("{}={:?}", x.field, x.value))
        .collect::<Vec<_>>()
        .join(", ");
    fail("seLinuxOptions", detail, vs)
}
