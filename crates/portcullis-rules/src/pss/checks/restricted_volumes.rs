//! Pod Security `restrictedVolumes`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { pod, .. } = *cx;
    let mut vs = Vec::new();
    for vol in &pod.volumes {
        if !vol.source.is_empty() && !RESTRICTED_VOLUMES.contains(&vol.source.as_str()) {
            vs.push(v(
                None,
                format!("volumes[{}]", vol.name),
                vol.source.clone(),
            ));
        }
    }
    let detail = vs
        .iter()
        .map(|x| format!("{} uses restricted volume type {:?}", x.field, x.value))
        .collect::<Vec<_>>()
        .join(", ");
    fail("restricted volume types", detail, vs)
}
