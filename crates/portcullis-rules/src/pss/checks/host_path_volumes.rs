//! Pod Security `hostPathVolumes`.

use super::super::*;

pub(crate) fn check(cx: &Cx<'_>) -> Option<Failure> {
    let Cx { pod, .. } = *cx;
    let mut vs = Vec::new();
    for vol in pod.volumes.iter().filter(|x| x.host_path.is_some()) {
        vs.push(v(
            None,
            format!("volumes[{}].hostPath", vol.name),
            vol.host_path
                .as_ref()
                .map(|h| h.path.clone())
                .unwrap_or_default(),
        ));
    }
    let vols: Vec<String> = pod
        .volumes
        .iter()
        .filter(|x| x.host_path.is_some())
        .map(|x| x.name.clone())
        .collect();
    fail("hostPath volumes", format!("volumes {}", quoted(&vols)), vs)
}
