//! Exceptions and suppressions: what excuses a rule that fired.

use super::interpreter::{Env, get};
use super::{CompiledRule, Engine};
use crate::fields::{Ctx, Field, Scope, Val};
use portcullis_model::Deployment;
use std::borrow::Cow;

/// The annotation (or Compose label) that suppresses findings by code or family in `scan`.
pub const SUPPRESS_ANNOTATION: &str = "portcullis.dev/ignore";

#[derive(Debug, Clone)]
pub struct CompiledException {
    pub name: String,
    pub(crate) fields: Vec<Field>,
    pub(crate) values: Vec<Vec<String>>,
    pub(crate) rules: Vec<String>,
    /// Every tuple's first value, sorted: most findings are excused by no tuple, and most
    /// tuples fail on their first field (the namespace), so that is checked first, once.
    pub(crate) first: Vec<String>,
}

impl CompiledException {
    /// Whether this exception can excuse the rule `code` (no `rules`: every rule).
    pub(crate) fn covers(&self, code: &str) -> bool {
        self.rules.is_empty() || self.rules.iter().any(|r| code.starts_with(r.as_str()))
    }
}

/// The [`CompiledRule::exception_gate`] of a rule with these exceptions.
pub(crate) fn exception_gate<'x>(
    mut exceptions: impl Iterator<Item = &'x CompiledException>,
) -> Option<(Field, Vec<String>)> {
    let first = exceptions.next()?;
    let field = *first.fields.first()?;
    if field.scope() == Scope::Container {
        return None;
    }
    let mut values = first.first.clone();
    for x in exceptions {
        if x.fields.first() != Some(&field) {
            return None;
        }
        values.extend(x.first.iter().cloned());
    }
    values.sort();
    values.dedup();
    Some((field, values))
}

/// Whether a rule that fired is excused here: by an inline suppression (`sup`, scan only),
/// or by one of its own exceptions or the pack-wide ones that cover it — unless its
/// exception gate shows none can match.
pub(super) fn excused(engine: &Engine, rule: &CompiledRule, env: &Env<'_>, sup: &[String]) -> bool {
    let gated = rule.exception_gate.as_ref().is_some_and(|(f, values)| {
        matches!(get(*f, env), Val::Str(v) if values.binary_search_by(|p| p.as_str().cmp(&v)).is_err())
    });
    sup.iter().any(|s| rule.def.code.starts_with(s.as_str()))
        || (!gated
            && rule
                .exceptions
                .iter()
                .chain(
                    rule.global_exceptions
                        .iter()
                        .filter_map(|&i| engine.global_exceptions.get(i)),
                )
                .any(|x| exception_matches(x, env)))
}

/// The codes and families `portcullis.dev/ignore` names on the target or its pod, when
/// inline suppressions are honoured (scan).
pub(super) fn inline_suppressions(dep: &Deployment, honoured: bool) -> Vec<String> {
    if !honoured {
        return Vec::new();
    }
    let pod_ann = dep
        .pod
        .as_ref()
        .map(|p| p.annotations.as_slice())
        .unwrap_or(&[]);
    dep.target
        .annotations
        .iter()
        .chain(pod_ann)
        .filter(|(k, _)| k == SUPPRESS_ANNOTATION)
        .flat_map(|(_, v)| {
            v.split([',', ' '])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An exception matches when, for one of its value tuples, every field equals its value.
/// In a finding about the whole pod, container fields must hold for every container: each
/// container has to be allowed by some tuple, so one allow-listed sidecar cannot excuse
/// the pod.
fn exception_matches(x: &CompiledException, env: &Env<'_>) -> bool {
    let has_container_field = x.fields.iter().any(|f| f.scope() == Scope::Container);
    if env.ctx.container.is_some() || !has_container_field {
        return any_tuple_matches(x, env, &env.ctx);
    }
    let Some(pod) = env.pod else { return false };
    !pod.containers.is_empty()
        && pod.containers.iter().all(|c| {
            let ctx = Ctx {
                container: Some(c),
                ..env.ctx
            };
            any_tuple_matches(x, env, &ctx)
        })
}

/// Whether one value tuple of the exception holds in `ctx`. Exceptions are checked for
/// every finding, on the hot path: each field is read at most once, and only when a tuple
/// gets that far (most tuples fail on their first field, the namespace).
fn any_tuple_matches<'a>(x: &CompiledException, env: &Env<'a>, ctx: &Ctx<'a>) -> bool {
    let read = |f: Field| {
        if f == Field::ContainerScripts {
            Val::List(
                env.scripts
                    .iter()
                    .map(|s| Cow::Borrowed(s.text.as_str()))
                    .collect(),
            )
        } else {
            f.get(ctx)
        }
    };
    let Some(&first_field) = x.fields.first() else {
        return false;
    };
    let first = read(first_field);
    // A text first field that no tuple names: nothing to compare.
    if let Val::Str(v) = &first
        && x.first.binary_search_by(|p| p.as_str().cmp(v)).is_err()
    {
        return false;
    }
    const CACHED: usize = 8;
    let mut cache: [Option<Val<'a>>; CACHED] = [const { None }; CACHED];
    cache[0] = Some(first);
    x.values.iter().any(|tuple| {
        x.fields
            .iter()
            .zip(tuple)
            .enumerate()
            .all(|(i, (f, want))| match cache.get_mut(i) {
                Some(slot) => val_equals(slot.get_or_insert_with(|| read(*f)), want),
                None => val_equals(&read(*f), want),
            })
    })
}

/// A value against an exception's text: lists compare as their items joined by spaces.
fn val_equals(v: &Val<'_>, want: &str) -> bool {
    match v {
        Val::Str(s) => s == want,
        Val::Bool(b) => want == if *b { "true" } else { "false" },
        Val::Int(i) => want.parse::<i64>().ok() == Some(*i),
        Val::Null => want.is_empty(),
        Val::List(items) => {
            let mut rest = want;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    match rest.strip_prefix(' ') {
                        Some(r) => rest = r,
                        None => return false,
                    }
                }
                match rest.strip_prefix(item.as_ref()) {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            rest.is_empty()
        }
    }
}
