//! What a finding says: its message template, evidence and container.

use super::interpreter::{Env, State, get};
use super::{CompiledRule, ContainerRef, Evidence, Finding, PssResult};
use crate::fields::Field;
use crate::pss::Profile;
use portcullis_model::Container;

#[derive(Debug, Clone)]
pub(crate) enum Segment {
    Text(String),
    Field(Field),
    Matched,
}

/// The finding of a rule that fired, with what the recording evaluation found: evidence
/// (or the Pod Security violations), the container, the message with `{matched}` and
/// fields filled in.
pub(super) fn describe<'e>(
    rule: &'e CompiledRule,
    env: &Env<'_>,
    st: &mut State,
    profile: Option<Profile>,
) -> Finding<'e> {
    let ctx = &env.ctx;
    let failure = st.pss.take();
    let mut evidence = std::mem::take(&mut st.evidence);
    if let Some(f) = &failure {
        evidence = f
            .violations
            .iter()
            .map(|v| Evidence {
                field: v.field.clone(),
                value: v.value.clone().into(),
                container: v.container.clone(),
            })
            .collect();
    }
    let mut container = ctx.container.map(container_ref);
    if container.is_none()
        && let (Some(f), Some(pod)) = (&failure, ctx.pod)
    {
        // A pod-level check names a container when exactly one failed.
        let mut names: Vec<&str> = f
            .violations
            .iter()
            .filter_map(|v| v.container.as_deref())
            .collect();
        names.dedup();
        if names.len() == 1 && f.violations.iter().all(|v| v.container.is_some()) {
            container = pod
                .containers
                .iter()
                .find(|c| c.name == names[0])
                .map(container_ref);
        }
    }
    let mut message = String::with_capacity(96);
    for s in &rule.message {
        match s {
            Segment::Text(t) => message.push_str(t),
            Segment::Field(f) => get(*f, env).write_display(&mut message),
            Segment::Matched => message.push_str(&match &failure {
                Some(f) => f.message(),
                None => matched_text(&evidence),
            }),
        }
    }
    Finding {
        rule: &rule.def,
        severity: rule.def.severity,
        message,
        container,
        evidence,
        pss: rule.def.pss.as_ref().and(profile).map(|p| PssResult {
            level: p.level,
            version: p.version(),
            check: rule
                .def
                .pss
                .as_ref()
                .map(|m| m.check.clone())
                .unwrap_or_default(),
        }),
    }
}

/// What `{matched}` says: what the functions found, else the list items that matched,
/// else every value (so `"/" in container.host_mounts` says `/`, not `true`).
fn matched_text(evidence: &[Evidence]) -> String {
    let show = |e: &Evidence| match &e.value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    };
    let calls: Vec<String> = evidence
        .iter()
        .filter(|e| e.field.contains('('))
        .map(show)
        .collect();
    if !calls.is_empty() {
        return calls.join("; ");
    }
    let lists: Vec<String> = evidence
        .iter()
        .filter(|e| e.value.is_array())
        .map(show)
        .collect();
    if !lists.is_empty() {
        return lists.join("; ");
    }
    evidence.iter().map(show).collect::<Vec<_>>().join("; ")
}

fn container_ref(c: &Container) -> ContainerRef {
    ContainerRef {
        name: c.name.clone(),
        kind: std::borrow::Cow::Borrowed(c.kind.as_str()),
        path: c.path.clone(),
        image: c.image.raw.clone(),
    }
}
