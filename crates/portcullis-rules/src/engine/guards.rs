//! Guards: necessary conditions read off a rule at load, checked before it is judged.

use super::interpreter::{Env, State, get};
use crate::expr::{CmpOp, Node};
use crate::fields::{Field, Val};
use crate::functions::Func;

/// A necessary condition of a rule, read off its condition at load: a field that must be
/// truthy (`container.privileged and …`) or must hold something (`"/" in
/// container.host_mounts`, `within(container.host_mounts, …)`, `miner(container.scripts)`).
/// Checked once per container and shared by every rule that needs it, so the seven mount
/// rules cost one look at a container without host mounts, not seven evaluations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Guard {
    Truthy(Field),
    NonEmpty(Field),
}

/// The guards of a condition: those of its top-level conjuncts. A guard that fails means
/// the condition is false, so skipping the rule changes nothing but the time it takes.
pub(crate) fn guards_of(cond: &Node) -> Vec<Guard> {
    fn walk(n: &Node, out: &mut Vec<Guard>) {
        match n {
            Node::And(items) => items.iter().for_each(|i| walk(i, out)),
            // A guard every branch shares (`within(x, …) or exposes(x, …)`).
            Node::Or(items) => {
                let mut branches = items.iter().map(|i| {
                    let mut g = Vec::new();
                    walk(i, &mut g);
                    g
                });
                if let Some(first) = branches.next() {
                    let rest: Vec<Vec<Guard>> = branches.collect();
                    out.extend(
                        first
                            .into_iter()
                            .filter(|g| rest.iter().all(|b| b.contains(g))),
                    );
                }
            }
            Node::Field(f) => out.push(Guard::Truthy(*f)),
            // `"/" in container.host_mounts`: an item equal to the literal needs an item.
            Node::Cmp(CmpOp::In | CmpOp::Intersects, l, r)
                if matches!((&**l, &**r), (Node::Lit(_), Node::Field(_))) =>
            {
                if let Node::Field(f) = &**r {
                    out.push(Guard::NonEmpty(*f));
                }
            }
            // These never hold for a null or an empty list on the left (an empty *string*
            // may still be `in` a list holding "", so only lists and nulls are skipped).
            Node::Cmp(
                CmpOp::In
                | CmpOp::Intersects
                | CmpOp::StartsWith
                | CmpOp::EndsWith
                | CmpOp::Contains,
                l,
                _,
            ) => {
                if let Node::Field(f) = &**l {
                    out.push(Guard::NonEmpty(*f));
                }
            }
            // Path, list and shell functions answer an empty list (or null) for a null or
            // empty first argument.
            Node::Call(func, args)
                if matches!(func, Func::Within | Func::Exposes | Func::Without)
                    || func.is_shell() =>
            {
                if let Some(Node::Field(f)) = args.first() {
                    out.push(Guard::NonEmpty(*f));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(cond, &mut out);
    out
}

/// Whether every guard of a rule holds in this context; each field is looked at once per
/// container, however many rules share the guard (`st.guards` keeps the answers).
pub(super) fn hold(guards: &[Guard], env: &Env<'_>, st: &mut State) -> bool {
    for g in guards {
        let (f, slot) = match *g {
            Guard::Truthy(f) => (f, f as usize * 2),
            Guard::NonEmpty(f) => (f, f as usize * 2 + 1),
        };
        let holds = match st.guards.get(slot).copied() {
            Some(1) => true,
            Some(2) => false,
            _ => {
                let v = get(f, env);
                let holds = match g {
                    Guard::Truthy(_) => v.truthy(),
                    Guard::NonEmpty(_) => {
                        !matches!(&v, Val::Null) && !matches!(&v, Val::List(l) if l.is_empty())
                    }
                };
                if let Some(s) = st.guards.get_mut(slot) {
                    *s = if holds { 1 } else { 2 };
                }
                holds
            }
        };
        if !holds {
            return false;
        }
    }
    true
}
