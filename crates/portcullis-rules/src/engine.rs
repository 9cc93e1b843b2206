//! Evaluation: pure and synchronous. A [`Deployment`] in, [`Finding`]s out.
//!
//! Rules are indexed by scope. Event rules run once per record, pod rules once per pod
//! spec, container rules once per container — so a privileged container is judged as
//! itself, and a decoy sidecar can never hide it (the flattened-array mistake).

use crate::check::{Check, any_item};
use crate::expr::{CmpOp, Lit, Node};
use crate::fields::{Ctx, Field, Items, Scope, Val};
use crate::functions::Func;
use crate::pss::{self, Failure, Profile};
use crate::rule::{RuleDef, Severity};
use portcullis_model::{Container, Deployment, PodSpec};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;

/// The annotation (or Compose label) that suppresses findings by code or family in `scan`.
pub const SUPPRESS_ANNOTATION: &str = "portcullis.dev/ignore";

pub struct CompiledRule {
    pub def: RuleDef,
    pub file: String,
    pub line: usize,
    pub(crate) cond: Node,
    /// `cond` in its judging form (see [`crate::check`]).
    pub(crate) check: Check,
    pub(crate) message: Vec<Segment>,
    pub(crate) exceptions: Vec<CompiledException>,
    /// Indices of the pack-wide exceptions whose `rules` cover this rule.
    pub(crate) global_exceptions: Vec<usize>,
    /// What must hold for the condition to hold at all (see [`guards_of`]).
    pub(crate) guards: Vec<Guard>,
    /// When every exception that can excuse this rule first compares the same pod- or
    /// event-level field: that field, and every value they compare it with (sorted). A
    /// finding whose value is not among them is excused by none — one lookup instead of
    /// a dozen exceptions tried one by one (see [`exception_gate`]).
    pub(crate) exception_gate: Option<(Field, Vec<String>)>,
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

#[derive(Debug, Clone)]
pub(crate) enum Segment {
    Text(String),
    Field(Field),
    Matched,
}

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

/// A loaded, compiled pack.
pub struct Engine {
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) global_exceptions: Vec<CompiledException>,
    pub(crate) lists: HashMap<String, Vec<String>>,
    pub(crate) config_pss: Option<Profile>,
    /// The plans of the default selection without and with a Pod Security profile, made
    /// at load: a server asks for one on every request.
    pub(crate) default_plans: [Plan; 2],
}

/// The rules one run judges, by scope, as indices into the pack.
pub(crate) type Plan = [Vec<usize>; 3];

/// What a finding points at: the field path, its value, and the container it belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Evidence {
    pub field: String,
    pub value: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// The container a finding is about.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct ContainerRef {
    pub name: String,
    pub kind: std::borrow::Cow<'static, str>,
    pub path: String,
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PssResult {
    pub level: pss::Level,
    pub version: String,
    pub check: String,
}

#[derive(Debug, Clone)]
pub struct Finding<'e> {
    pub rule: &'e RuleDef,
    pub severity: Severity,
    pub message: String,
    pub container: Option<ContainerRef>,
    pub evidence: Vec<Evidence>,
    pub pss: Option<PssResult>,
}

#[derive(Debug, Default)]
pub struct Evaluation<'e> {
    pub findings: Vec<Finding<'e>>,
    /// Findings dropped by an exception or an inline suppression.
    pub suppressed: usize,
}

/// Which rules run: like ruff, `select` and `ignore` take codes or family prefixes.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub select: Vec<String>,
    pub ignore: Vec<String>,
}

impl Selection {
    fn hit(list: &[String], code: &str) -> bool {
        list.iter().any(|s| code.starts_with(s.as_str()))
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct EvalOptions {
    /// The Pod Security profile; `PSS` rules run only when one is set.
    pub pss: Option<Profile>,
    /// Honour `portcullis.dev/ignore` annotations. Only for files a reviewer owns (scan):
    /// a live request's annotations are written by whoever may be the attacker.
    pub inline_suppressions: bool,
}

/// The rules selected for one run, indexed by scope.
pub struct Evaluator<'e> {
    engine: &'e Engine,
    plan: Cow<'e, Plan>,
    opts: EvalOptions,
    brief: Option<&'e (dyn Fn(&RuleDef) -> bool + Sync)>,
}

impl Engine {
    /// The built-in pack alone.
    pub fn builtin() -> Result<Engine, Vec<crate::LoadError>> {
        crate::load(&crate::builtin_sources())
    }

    pub fn rules(&self) -> impl Iterator<Item = &CompiledRule> {
        self.rules.iter()
    }

    pub fn rule(&self, code: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.def.code == code)
    }

    pub fn list(&self, name: &str) -> Option<&[String]> {
        self.lists.get(name).map(Vec::as_slice)
    }

    /// The Pod Security profile a config file asked for.
    pub fn config_pss(&self) -> Option<Profile> {
        self.config_pss
    }

    pub fn evaluator(&self, sel: &Selection, opts: EvalOptions) -> Evaluator<'_> {
        let plan = if sel.select.is_empty() && sel.ignore.is_empty() {
            Cow::Borrowed(&self.default_plans[usize::from(opts.pss.is_some())])
        } else {
            Cow::Owned(self.plan(sel, opts.pss.is_some()))
        };
        Evaluator {
            engine: self,
            plan,
            opts,
            brief: None,
        }
    }

    /// Which rules a selection runs; `PSS` rules only with a Pod Security profile.
    pub(crate) fn plan(&self, sel: &Selection, pss: bool) -> Plan {
        let mut plan = Plan::default();
        for (i, r) in self.rules.iter().enumerate() {
            let code = r.def.code.as_str();
            let explicitly = sel.select.iter().any(|s| s == code);
            let selected = if sel.select.is_empty() {
                r.def.enabled
            } else {
                Selection::hit(&sel.select, code) && (r.def.enabled || explicitly)
            };
            let pss_ok = r.def.pss.is_none() || pss;
            if selected && pss_ok && !Selection::hit(&sel.ignore, code) {
                plan[r.def.scope as usize].push(i);
            }
        }
        plan
    }
}

/// Per-evaluation scratch: evidence being collected, the last Pod Security failure, and
/// the container's scripts (parsed once, read by several payload rules).
struct State {
    evidence: Vec<Evidence>,
    pss: Option<Failure>,
    profile: Option<Profile>,
    /// False under `not`: what a negation matched is never evidence, so skip building it.
    recording: bool,
    /// Guard answers for the current context (0 unknown, 1 holds, 2 fails), two per field.
    guards: [u8; Field::ALL.len() * 2],
}

impl<'e> Evaluator<'e> {
    /// Findings of the rules `brief` picks carry the rule alone: no message, container,
    /// evidence or Pod Security detail. For a caller that will only count or name them (an
    /// admission answer records an audit-mode info finding as its code), building what
    /// nobody reads is most of a finding's cost — and `IMG001` fires on most containers.
    pub fn brief_when(mut self, brief: &'e (dyn Fn(&RuleDef) -> bool + Sync)) -> Self {
        self.brief = Some(brief);
        self
    }

    pub fn active_rules(&self) -> usize {
        self.plan.iter().map(Vec::len).sum()
    }

    pub fn evaluate(&self, dep: &Deployment) -> Evaluation<'e> {
        let mut out = Evaluation::default();
        let mut st = State {
            evidence: Vec::new(),
            pss: None,
            profile: self.opts.pss,
            recording: true,
            guards: [0; Field::ALL.len() * 2],
        };
        let base = Ctx {
            dep,
            pod: dep.pod.as_ref(),
            container: None,
        };
        let suppressed_codes = self.inline_suppressions(dep);
        for rule in self.rules(Scope::Event) {
            self.run(rule, &base, &mut st, &suppressed_codes, &mut out);
        }
        if let Some(pod) = dep.pod.as_ref() {
            for rule in self.rules(Scope::Pod) {
                self.run(rule, &base, &mut st, &suppressed_codes, &mut out);
            }
            if !self.plan[Scope::Container as usize].is_empty() {
                for c in &pod.containers {
                    let ctx = Ctx {
                        container: Some(c),
                        ..base
                    };
                    st.guards.fill(0);
                    // Parsed once, read by every payload rule.
                    let scripts: Vec<crate::shell::Script> = crate::shell::scripts(c)
                        .into_iter()
                        .map(crate::shell::Script::new)
                        .collect();
                    for rule in self.rules(Scope::Container) {
                        self.run_with_scripts(
                            rule,
                            &ctx,
                            &scripts,
                            &mut st,
                            &suppressed_codes,
                            &mut out,
                        );
                    }
                }
            }
        }
        out
    }

    /// The planned rules of one scope.
    fn rules(&self, scope: Scope) -> impl Iterator<Item = &'e CompiledRule> + use<'_, 'e> {
        let rules = &self.engine.rules;
        self.plan[scope as usize]
            .iter()
            .filter_map(move |&i| rules.get(i))
    }

    fn inline_suppressions(&self, dep: &Deployment) -> Vec<String> {
        if !self.opts.inline_suppressions {
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

    fn run(
        &self,
        rule: &'e CompiledRule,
        ctx: &Ctx<'_>,
        st: &mut State,
        sup: &[String],
        out: &mut Evaluation<'e>,
    ) {
        self.run_with_scripts(rule, ctx, &[], st, sup, out)
    }

    fn run_with_scripts(
        &self,
        rule: &'e CompiledRule,
        ctx: &Ctx<'_>,
        scripts: &[crate::shell::Script],
        st: &mut State,
        sup: &[String],
        out: &mut Evaluation<'e>,
    ) {
        let env = Env {
            ctx: *ctx,
            scripts,
            pod: ctx.pod,
        };
        for g in &rule.guards {
            let (f, slot) = match *g {
                Guard::Truthy(f) => (f, f as usize * 2),
                Guard::NonEmpty(f) => (f, f as usize * 2 + 1),
            };
            let holds = match st.guards.get(slot).copied() {
                Some(1) => true,
                Some(2) => false,
                _ => {
                    let v = get(f, &env);
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
                return;
            }
        }
        // Judge first without building evidence: nearly every rule is false for nearly
        // every container, and evidence (labels, JSON values) is only worth building for
        // the few that fire. Those are evaluated again, recording.
        st.recording = false;
        let fired = holds(&rule.check, &env, st);
        st.recording = true;
        if fired {
            self.found(rule, &env, st, sup, out);
        }
    }

    /// A rule fired: unless an exception excuses it, its finding, with the evidence of a
    /// second, recording evaluation. Kept apart from the judging above, which runs for
    /// every rule and container and so stays small.
    #[cold]
    #[inline(never)]
    fn found(
        &self,
        rule: &'e CompiledRule,
        env: &Env<'_>,
        st: &mut State,
        sup: &[String],
        out: &mut Evaluation<'e>,
    ) {
        let ctx = &env.ctx;
        let brief = self.brief.is_some_and(|b| b(&rule.def));
        if !brief {
            st.evidence.clear();
            st.pss = None;
            eval(&rule.cond, env, st);
        }
        let gated = rule.exception_gate.as_ref().is_some_and(|(f, values)| {
            matches!(get(*f, env), Val::Str(v) if values.binary_search_by(|p| p.as_str().cmp(&v)).is_err())
        });
        if sup.iter().any(|s| rule.def.code.starts_with(s.as_str()))
            || (!gated
                && rule
                    .exceptions
                    .iter()
                    .chain(
                        rule.global_exceptions
                            .iter()
                            .filter_map(|&i| self.engine.global_exceptions.get(i)),
                    )
                    .any(|x| exception_matches(x, env)))
        {
            out.suppressed += 1;
            return;
        }
        if brief {
            out.findings.push(Finding {
                rule: &rule.def,
                severity: rule.def.severity,
                message: String::new(),
                container: None,
                evidence: Vec::new(),
                pss: None,
            });
            return;
        }
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
        out.findings.push(Finding {
            rule: &rule.def,
            severity: rule.def.severity,
            message,
            container,
            evidence,
            pss: rule.def.pss.as_ref().and(self.opts.pss).map(|p| PssResult {
                level: p.level,
                version: p.version(),
                check: rule
                    .def
                    .pss
                    .as_ref()
                    .map(|m| m.check.clone())
                    .unwrap_or_default(),
            }),
        });
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

/// What evaluation reads. One lifetime: the deployment, the rule and the container's
/// parsed scripts all outlive a single rule's evaluation, so values can borrow from any.
struct Env<'a> {
    ctx: Ctx<'a>,
    scripts: &'a [crate::shell::Script],
    pod: Option<&'a PodSpec>,
}

fn get<'a>(f: Field, env: &Env<'a>) -> Val<'a> {
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
fn holds<'a>(c: &'a Check, env: &Env<'a>, st: &mut State) -> bool {
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
fn eval<'a>(n: &'a Node, env: &Env<'a>, st: &mut State) -> Val<'a> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards only skip rules whose condition would be false, and exception gates only skip
    /// exceptions that could not match: with and without them, the pack finds (and excuses)
    /// the same things in every fixture.
    #[test]
    fn guards_change_nothing_but_time() {
        let guarded = Engine::builtin().expect("pack");
        let mut bare = Engine::builtin().expect("pack");
        for r in &mut bare.rules {
            r.guards.clear();
            r.exception_gate = None;
        }
        assert!(guarded.rules.iter().any(|r| !r.guards.is_empty()));
        assert!(guarded.rules.iter().any(|r| r.exception_gate.is_some()));
        let mut deployments = fixture_deployments();
        // kube-proxy as kubeadm deploys it (excused by the pack), and the same pod where an
        // attacker would put it (not excused).
        for ns in ["kube-system", "default"] {
            let manifest = format!(
                "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: kube-proxy, namespace: {ns}}}\n\
                 spec:\n  template:\n    spec:\n      serviceAccountName: kube-proxy\n      hostNetwork: true\n\
                 \x20     containers:\n      - name: kube-proxy\n        image: registry.k8s.io/kube-proxy:v1.31.0\n\
                 \x20       securityContext: {{privileged: true}}\n        volumeMounts: [{{name: lib, mountPath: /lib/modules}}]\n\
                 \x20     volumes: [{{name: lib, hostPath: {{path: /lib/modules}}}}]\n"
            );
            deployments.extend(
                portcullis_sources::manifest::read(&manifest, "kube-proxy.yaml").deployments,
            );
        }
        let (fired, excused) = same_findings(&guarded, &bare, &deployments);
        assert!(fired > 100, "only {fired} findings compared");
        assert!(
            excused > 0,
            "no exception excused anything: the gates went untested"
        );
    }

    /// The judging form of every condition finds exactly what the interpreter finds, in
    /// every fixture; and it stands on its own for a good part of the pack (function calls
    /// such as the payload detectors are the interpreter's).
    #[test]
    fn checks_judge_as_the_interpreter() {
        let compiled = Engine::builtin().expect("pack");
        let mut tree = Engine::builtin().expect("pack");
        for r in &mut tree.rules {
            r.check = Check::Tree(Box::new(r.cond.clone()));
        }
        let standalone = compiled
            .rules
            .iter()
            .filter(|r| !r.check.uses_tree())
            .count();
        assert!(
            standalone * 3 > compiled.rules.len(),
            "only {standalone} of {} rules judged without the interpreter",
            compiled.rules.len()
        );
        let (fired, _) = same_findings(&compiled, &tree, &fixture_deployments());
        assert!(fired > 100, "only {fired} findings compared");
    }

    /// Asserts that two engines find (and excuse) the same things — code, message,
    /// container, evidence — in every deployment, judged with the restricted profile;
    /// answers how many findings and excused findings there were.
    fn same_findings(a: &Engine, b: &Engine, deployments: &[Deployment]) -> (usize, usize) {
        let opts = EvalOptions {
            pss: crate::pss::Profile::parse("restricted").ok(),
            inline_suppressions: false,
        };
        let (a, b) = (
            a.evaluator(&Selection::default(), opts),
            b.evaluator(&Selection::default(), opts),
        );
        let seen = |e: Evaluation<'_>| -> (Vec<String>, usize) {
            let found = e
                .findings
                .iter()
                .map(|f| {
                    format!(
                        "{} {} {:?} {:?}",
                        f.rule.code, f.message, f.container, f.evidence
                    )
                })
                .collect();
            (found, e.suppressed)
        };
        let (mut fired, mut excused) = (0, 0);
        for d in deployments {
            let (x, y) = (seen(a.evaluate(d)), seen(b.evaluate(d)));
            fired += x.0.len();
            excused += x.1;
            assert_eq!(x, y, "{}:{}", d.origin.file, d.origin.line);
        }
        (fired, excused)
    }

    /// Every deployment in the rule fixtures (manifests and logs).
    fn fixture_deployments() -> Vec<Deployment> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let mut deployments = Vec::new();
        for code in std::fs::read_dir(&dir).expect("fixtures").flatten() {
            for f in std::fs::read_dir(code.path())
                .expect("fixture dir")
                .flatten()
            {
                let path = f.path();
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let name = path.display().to_string();
                let batch = if name.ends_with(".yaml") {
                    portcullis_sources::manifest::read(&text, &name)
                } else {
                    portcullis_sources::pipeline::read_all(&text, &name, None)
                };
                deployments.extend(batch.deployments);
            }
        }
        assert!(deployments.len() > 100, "fixtures not found");
        deployments
    }

    /// Brief findings are the same findings (rule, count, suppressions), only unadorned;
    /// rules not picked keep every detail.
    #[test]
    fn brief_findings_are_the_same_findings() {
        let engine = Engine::builtin().expect("pack");
        let deployments = fixture_deployments();
        let opts = EvalOptions::default();
        let full = engine.evaluator(&Selection::default(), opts);
        let low = |r: &RuleDef| r.severity <= Severity::Low;
        let brief = engine
            .evaluator(&Selection::default(), opts)
            .brief_when(&low);
        let (mut briefed, mut detailed) = (0, 0);
        for d in &deployments {
            let (a, b) = (full.evaluate(d), brief.evaluate(d));
            assert_eq!(a.suppressed, b.suppressed);
            assert_eq!(a.findings.len(), b.findings.len(), "{}", d.origin.file);
            for (x, y) in a.findings.iter().zip(&b.findings) {
                assert_eq!(x.rule.code, y.rule.code);
                if low(y.rule) {
                    assert!(y.message.is_empty() && y.evidence.is_empty() && y.container.is_none());
                    briefed += 1;
                } else {
                    assert_eq!((&x.message, &x.container), (&y.message, &y.container));
                    detailed += 1;
                }
            }
        }
        assert!(
            briefed > 20 && detailed > 20,
            "{briefed} brief, {detailed} detailed"
        );
    }
}
