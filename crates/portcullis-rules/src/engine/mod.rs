//! Evaluation: pure and synchronous. A [`Deployment`] in, [`Finding`]s out.
//!
//! Rules are indexed by scope. Event rules run once per record, pod rules once per pod
//! spec, container rules once per container — so a privileged container is judged as
//! itself, and a decoy sidecar can never hide it (the flattened-array mistake).

mod exceptions;
mod guards;
mod interpreter;
mod messages;

pub(crate) use exceptions::exception_gate;
pub use exceptions::{CompiledException, SUPPRESS_ANNOTATION};
pub(crate) use guards::{Guard, guards_of};
pub(crate) use messages::Segment;

use crate::check::Check;
use crate::expr::Node;
use crate::fields::{Ctx, Field, Scope};
use crate::pss::{self, Profile};
use crate::rule::{RuleDef, Severity};
use interpreter::{Env, State, eval, holds};
use portcullis_model::Deployment;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;

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
        let suppressed_codes = exceptions::inline_suppressions(dep, self.opts.inline_suppressions);
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
        if !guards::hold(&rule.guards, &env, st) {
            return;
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
        let brief = self.brief.is_some_and(|b| b(&rule.def));
        if !brief {
            st.evidence.clear();
            st.pss = None;
            eval(&rule.cond, env, st);
        }
        if exceptions::excused(self.engine, rule, env, sup) {
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
        out.findings
            .push(messages::describe(rule, env, st, self.opts.pss));
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
