//! The interpreter: judging a condition in its checked form, and walking its tree to
//! record the evidence of a rule that fired.

use super::Evidence;
use crate::check::{Check, any_item};
use crate::expr::{CmpOp, Lit, Node};
use crate::fields::{Ctx, Field, Items, Val};
use crate::functions::Func;
use crate::pss::{self, Failure, Profile};
use portcullis_model::PodSpec;
use std::borrow::Cow;

/// Per-evaluation scratch: evidence being collected, the last Pod Security failure, and
/// the container's scripts (parsed once, read by several payload rules).
pub(super) struct State {
    pub(super) evidence: Vec<Evidence>,
    pub(super) pss: Option<Failure>,
    pub(super) profile: Option<Profile>,
    /// False under `not`: what a negation matched is never evidence, so skip building it.
    pub(super) recording: bool,
    /// Guard answers for the current context (0 unknown, 1 holds, 2 fails), two per field.
    pub(super) guards: [u8; Field::ALL.len() * 2],
}

/// What evaluation reads. One lifetime: the deployment, the rule and the container's
/// parsed scripts all outlive a single rule's evaluation, so values can borrow from any.
pub(super) struct Env<'a> {
    pub(super) ctx: Ctx<'a>,
    pub(super) scripts: &'a [crate::shell::Script],
    pub(super) pod: Option<&'a PodSpec>,
}

pub(super) fn get<'a>(f: Field, env: &Env<'a>) -> Val<'a> {
    if f == Field::ContainerScripts {
        return Val::List(
            env.scripts
                .iter()
                .map(|s| Cow::Borrowed(s.text.as_str()))
                .collect(),
        );
    }
    f.get(&env.ctx)
}

fn lit(l: &Lit) -> Val<'_> {
    match l {
        Lit::Bool(b) => Val::Bool(*b),
        Lit::Int(i) => Val::Int(*i),
        Lit::Str(s) => Val::Str(Cow::Borrowed(s)),
        Lit::List(l) => Val::List(Items::Borrowed(l)),
    }
}

/// The value of an operand, without recording evidence.
fn value<'a>(n: &'a Node, env: &Env<'a>, st: &mut State) -> Val<'a> {
    match n {
        Node::Lit(l) => lit(l),
        Node::Field(f) => get(*f, env),
        Node::Call(Func::Pss, args) => {
            let (Some(Node::Lit(Lit::Str(check))), Some(profile), Some(pod)) =
                (args.first(), st.profile, env.pod)
            else {
                return Val::Null;
            };
            match pss::check(check, pod, profile) {
                Some(f) => {
                    let list = f
                        .violations
                        .iter()
                        .map(|v| {
                            Cow::Owned(format!(
                                "{}{}={}",
                                v.container
                                    .as_ref()
                                    .map(|c| format!("{c}: "))
                                    .unwrap_or_default(),
                                v.field,
                                v.value
                            ))
                        })
                        .collect();
                    st.pss = Some(f);
                    Val::List(list)
                }
                None => Val::Null,
            }
        }
        Node::Call(func, args) => {
            let parsed = (func.is_shell()
                && matches!(args.first(), Some(Node::Field(Field::ContainerScripts))))
            .then_some(env.scripts);
            // Arguments on the stack, exactly as many as given: every function of the pack
            // takes one to three.
            let mut arg = |i: usize| match args.get(i) {
                Some(_) if i == 0 && parsed.is_some() => Val::Null,
                Some(a) => value(a, env, st),
                None => Val::Null,
            };
            match args.len() {
                0 => func.call(&[], parsed),
                1 => func.call(&[arg(0)], parsed),
                2 => func.call(&[arg(0), arg(1)], parsed),
                3 => func.call(&[arg(0), arg(1), arg(2)], parsed),
                n => {
                    let vals: Vec<Val<'a>> = (0..n).map(arg).collect();
                    func.call(&vals, parsed)
                }
            }
        }
        other => Val::Bool(eval(other, env, st).truthy()),
    }
}

fn label(n: &Node) -> Option<String> {
    match n {
        Node::Field(f) => Some(f.name().to_string()),
        Node::Call(func, args) => Some(format!(
            "{}({})",
            func.name(),
            args.iter()
                .map(|a| label(a).unwrap_or_else(|| "…".into()))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => None,
    }
}

fn record(st: &mut State, n: &Node, v: &Val<'_>, env: &Env<'_>) {
    if !st.recording {
        return;
    }
    if let Some(field) = label(n) {
        st.evidence.push(Evidence {
            field,
            value: v.to_json(),
            container: env.ctx.container.map(|c| c.name.clone()),
        });
    }
}

/// Judge a condition: whether it holds, nothing recorded (the judging pass).
pub(super) fn holds<'a>(c: &'a Check, env: &Env<'a>, st: &mut State) -> bool {
    match c {
        Check::Const(b) => *b,
        Check::Truthy(f) => get(*f, env).truthy(),
        Check::Exists(f) => {
            let v = get(*f, env);
            !matches!(v, Val::Null) && !matches!(&v, Val::List(l) if l.is_empty())
        }
        Check::Eq(f, lit) => lit.equals(&get(*f, env)),
        Check::Ne(f, lit) => !lit.equals(&get(*f, env)),
        Check::In(f, items) => any_item(&get(*f, env), |x| items.contains(x)),
        Check::StartsWith(f, items) => any_item(&get(*f, env), |x| items.any(|p| x.starts_with(p))),
        Check::EndsWith(f, items) => any_item(&get(*f, env), |x| items.any(|p| x.ends_with(p))),
        Check::Matches(f, re) => match get(*f, env) {
            Val::Str(s) => re.is_match(&s),
            Val::List(l) => l.iter().any(|s| re.is_match(s)),
            _ => false,
        },
        Check::Not(inner) => !holds(inner, env, st),
        Check::And(items) => items.iter().all(|c| holds(c, env, st)),
        Check::Or(items) => items.iter().any(|c| holds(c, env, st)),
        Check::Tree(n) => eval(n, env, st).truthy(),
    }
}

/// Evaluate a condition, recording evidence for the parts that made it true.
pub(super) fn eval<'a>(n: &'a Node, env: &Env<'a>, st: &mut State) -> Val<'a> {
    match n {
        Node::And(items) => {
            let mark = st.evidence.len();
            for i in items {
                if !eval(i, env, st).truthy() {
                    st.evidence.truncate(mark);
                    return Val::Bool(false);
                }
            }
            Val::Bool(true)
        }
        Node::Or(items) => {
            for i in items {
                let mark = st.evidence.len();
                if eval(i, env, st).truthy() {
                    return Val::Bool(true);
                }
                st.evidence.truncate(mark);
            }
            Val::Bool(false)
        }
        Node::Not(inner) => {
            let pss_before = st.pss.take();
            let recording = std::mem::replace(&mut st.recording, false);
            let v = eval(inner, env, st).truthy();
            st.recording = recording;
            st.pss = pss_before;
            Val::Bool(!v)
        }
        Node::Field(_) | Node::Call(..) => {
            let v = value(n, env, st);
            if v.truthy() {
                record(st, n, &v, env);
            }
            v
        }
        Node::Lit(l) => lit(l),
        Node::Exists(inner) => {
            let v = value(inner, env, st);
            let ok = !matches!(v, Val::Null) && !matches!(&v, Val::List(l) if l.is_empty());
            if ok {
                record(st, inner, &v, env);
            }
            Val::Bool(ok)
        }
        Node::Matches(inner, re) => {
            let v = value(inner, env, st);
            if !st.recording {
                return Val::Bool(match &v {
                    Val::Str(s) => re.is_match(s),
                    Val::List(l) => l.iter().any(|s| re.is_match(s)),
                    _ => false,
                });
            }
            let hit = match &v {
                Val::Str(s) => re.is_match(s).then(|| v.clone()),
                Val::List(l) => {
                    let m: Vec<Cow<'a, str>> =
                        l.iter().filter(|s| re.is_match(s)).cloned().collect();
                    (!m.is_empty()).then_some(Val::List(Items::Owned(m)))
                }
                _ => None,
            };
            match hit {
                Some(h) => {
                    record(st, inner, &h, env);
                    Val::Bool(true)
                }
                None => Val::Bool(false),
            }
        }
        Node::Cmp(op, l, r) => {
            let lv = value(l, env, st);
            // A literal right-hand side (a named list, often dozens of items) is read in
            // place, not copied into a value for every container.
            let rv;
            let rhs = match &**r {
                Node::Lit(lit) => Rhs::Lit(lit),
                other => {
                    rv = value(other, env, st);
                    Rhs::Val(&rv)
                }
            };
            match compare(*op, &lv, rhs, st.recording) {
                Some(matched) => {
                    record(st, l, &matched, env);
                    if let Rhs::Val(rv) = rhs
                        && matches!(**r, Node::Field(_) | Node::Call(..))
                        && !matches!(op, CmpOp::In | CmpOp::Intersects)
                    {
                        record(st, r, rv, env);
                    }
                    Val::Bool(true)
                }
                None => Val::Bool(false),
            }
        }
    }
}

fn scalar_eq(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(x), Val::Bool(y)) => x == y,
        (Val::Int(x), Val::Int(y)) => x == y,
        (Val::Str(x), Val::Str(y)) => x == y,
        (Val::Int(x), Val::Str(y)) | (Val::Str(y), Val::Int(x)) => {
            y.parse::<i64>().ok() == Some(*x)
        }
        (Val::List(x), Val::List(y)) => x == y,
        _ => false,
    }
}

/// `Some(matched part of the left side)` when the comparison holds. With `build` false the
/// matched part is not assembled (the answer is `Some(Null)`): the judging pass only asks
/// whether it holds.
fn compare<'a>(op: CmpOp, l: &Val<'a>, rhs: Rhs<'_, '_>, build: bool) -> Option<Val<'a>> {
    // Whether any item of the right-hand side satisfies `f`. Borrowed, not collected: this
    // runs for every `in`/`startswith`/`endswith` of every rule on every container.
    let any_item = |f: &dyn Fn(&str) -> bool| -> bool {
        match rhs {
            Rhs::Lit(Lit::List(x)) => x.iter().any(|s| f(s)),
            Rhs::Lit(Lit::Str(s)) => f(s),
            Rhs::Lit(other) => f(&lit(other).display()),
            Rhs::Val(Val::List(x)) => x.iter().any(|s| f(s)),
            Rhs::Val(Val::Null) => false,
            Rhs::Val(Val::Str(s)) => f(s),
            Rhs::Val(other) => f(&other.display()),
        }
    };
    // The right-hand side as a value, for the comparisons that need one whole.
    let owned;
    let r: &Val<'_> = match rhs {
        Rhs::Val(v) => v,
        Rhs::Lit(Lit::List(_))
            if matches!(
                op,
                CmpOp::In | CmpOp::Intersects | CmpOp::StartsWith | CmpOp::EndsWith
            ) =>
        {
            &Val::Null
        }
        Rhs::Lit(l) => {
            owned = lit(l);
            &owned
        }
    };
    let filter_list = |pred: &dyn Fn(&str) -> bool| -> Option<Val<'a>> {
        match l {
            Val::List(x) if !build => x.iter().any(|s| pred(s)).then_some(Val::Null),
            Val::List(x) => {
                let m: Vec<Cow<'a, str>> = x.iter().filter(|s| pred(s)).cloned().collect();
                (!m.is_empty()).then_some(Val::List(Items::Owned(m)))
            }
            Val::Null => None,
            Val::Str(s) => pred(s).then(|| l.clone()),
            other => pred(&other.display()).then(|| other.clone()),
        }
    };
    match op {
        CmpOp::Eq => scalar_eq(l, r).then(|| l.clone()),
        CmpOp::Ne => (!scalar_eq(l, r)).then(|| l.clone()),
        CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge => {
            let as_int = |v: &Val<'_>| match v {
                Val::Int(i) => Some(*i),
                Val::Str(s) => s.parse().ok(),
                _ => None,
            };
            let (a, b) = (as_int(l)?, as_int(r)?);
            let ok = match op {
                CmpOp::Lt => a < b,
                CmpOp::Le => a <= b,
                CmpOp::Gt => a > b,
                _ => a >= b,
            };
            ok.then(|| l.clone())
        }
        CmpOp::In | CmpOp::Intersects => filter_list(&|s| any_item(&|x| x == s)),
        CmpOp::Contains => match l {
            Val::Str(s) => s.contains(r.display().as_str()).then(|| l.clone()),
            Val::List(x) => {
                let needle = r.display();
                let found = x.iter().any(|s| *s == needle);
                found.then_some(Val::Str(Cow::Owned(needle)))
            }
            _ => None,
        },
        // A list on the right means "any of these prefixes / suffixes".
        CmpOp::StartsWith => filter_list(&|s| any_item(&|p| s.starts_with(p))),
        CmpOp::EndsWith => filter_list(&|s| any_item(&|p| s.ends_with(p))),
    }
}

/// The right-hand side of a comparison: a value, or a literal read in place.
#[derive(Clone, Copy)]
enum Rhs<'v, 'a> {
    Val(&'v Val<'a>),
    Lit(&'v Lit),
}
