//! Loading rule files: the built-in pack first, then user files and the config, in order.
//! Later files may add rules, replace or extend lists, add macros and exceptions, and
//! override existing rules. Every problem is reported with its file and line; a pack with
//! any problem is refused whole.

use crate::engine::{CompiledException, CompiledRule, Engine, Segment};
use crate::expr::{self, Names};
use crate::fields::{Field, Scope};
use crate::pss::Profile;
use crate::rule::{ExceptionDef, OverrideDef, RuleDef};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::LazyLock;

/// The built-in pack, embedded at build time.
pub const BUILTIN: &[(&str, &str)] = &[
    ("builtin:lists.yaml", include_str!("../pack/lists.yaml")),
    (
        "builtin:privilege.yaml",
        include_str!("../pack/privilege.yaml"),
    ),
    ("builtin:mounts.yaml", include_str!("../pack/mounts.yaml")),
    (
        "builtin:placement.yaml",
        include_str!("../pack/placement.yaml"),
    ),
    ("builtin:image.yaml", include_str!("../pack/image.yaml")),
    ("builtin:payload.yaml", include_str!("../pack/payload.yaml")),
    (
        "builtin:workload.yaml",
        include_str!("../pack/workload.yaml"),
    ),
    (
        "builtin:activity.yaml",
        include_str!("../pack/activity.yaml"),
    ),
    (
        "builtin:modification.yaml",
        include_str!("../pack/modification.yaml"),
    ),
    (
        "builtin:expectation.yaml",
        include_str!("../pack/expectation.yaml"),
    ),
    ("builtin:pss.yaml", include_str!("../pack/pss.yaml")),
    (
        "builtin:exceptions.yaml",
        include_str!("../pack/exceptions.yaml"),
    ),
];

/// One rule or config file to load.
#[derive(Debug, Clone)]
pub struct RuleSource {
    /// A path, or `builtin:<file>` for the embedded pack.
    pub name: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    lists: BTreeMap<String, Spanned<Value>>,
    #[serde(default)]
    macros: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    rules: Vec<Spanned<Value>>,
    #[serde(default)]
    overrides: Vec<Spanned<Value>>,
    #[serde(default)]
    exceptions: Vec<Spanned<Value>>,
    /// Config only: the Pod Security profile to apply (`restricted:v1.30`).
    #[serde(default)]
    pss: Option<Spanned<String>>,
}

struct Located<T> {
    file: String,
    line: usize,
    item: T,
}

static CODE_RE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"^[A-Z]{3}[0-9]{3}$").ok());
static ATTACK_RE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"^T[0-9]{4}(\.[0-9]{3})?$").ok());
static NAME_RE: LazyLock<Option<regex::Regex>> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z0-9]+(-[a-z0-9]+)*$").ok());

fn matches(re: &LazyLock<Option<regex::Regex>>, s: &str) -> bool {
    re.as_ref().is_some_and(|r| r.is_match(s))
}

/// The built-in pack as sources.
pub fn builtin_sources() -> Vec<RuleSource> {
    BUILTIN
        .iter()
        .map(|(n, t)| RuleSource {
            name: n.to_string(),
            text: t.to_string(),
        })
        .collect()
}

/// Load and compile `sources` in order: read each file, merge overrides, validate and
/// compile each rule, link the pack-wide exceptions. Every problem is reported, located;
/// then nothing runs.
pub fn load(sources: &[RuleSource]) -> Result<Engine, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut input = Read::default();
    for src in sources {
        read(src, &mut input, &mut errors);
    }
    merge(&mut input, &mut errors);
    let names = Names {
        lists: &input.lists,
        macros: &input.macros,
    };
    let mut compiled = Vec::new();
    let mut seen_names: HashMap<String, String> = HashMap::new();
    for r in &input.rules {
        let before = errors.len();
        validate(r, &mut seen_names, &mut errors);
        let rule = compile(r, &names, &mut errors);
        if errors.len() == before
            && let Some(rule) = rule
        {
            compiled.push(rule);
        }
    }
    let global_exceptions = link(
        std::mem::take(&mut input.global),
        &mut compiled,
        &mut errors,
    );
    if errors.is_empty() {
        let mut engine = Engine {
            rules: compiled,
            global_exceptions,
            lists: input.lists,
            config_pss: input.pss,
            default_plans: Default::default(),
        };
        let default = crate::Selection::default();
        engine.default_plans = [engine.plan(&default, false), engine.plan(&default, true)];
        Ok(engine)
    } else {
        Err(errors)
    }
}

/// What the files say, in order, before anything is checked against anything else.
#[derive(Default)]
struct Read {
    lists: HashMap<String, Vec<String>>,
    macros: HashMap<String, String>,
    rules: Vec<Located<RuleDef>>,
    overrides: Vec<Located<OverrideDef>>,
    global: Vec<Located<ExceptionDef>>,
    pss: Option<Profile>,
}

/// Stage 1, read: one file's lists (replaced or appended, in file order), macros, rules,
/// overrides, exceptions and profile, each typed and located.
fn read(src: &RuleSource, read: &mut Read, errors: &mut Vec<LoadError>) {
    let at = |line: usize, message: String| LoadError {
        file: src.name.clone(),
        line,
        message,
    };
    let raw: RawFile = match serde_saphyr::from_str(&src.text) {
        Ok(r) => r,
        Err(e) => {
            let line = e.location().map_or(0, |l| l.line() as usize);
            errors.push(at(
                line,
                format!("invalid YAML: {}", portcullis_reason(&e.to_string())),
            ));
            return;
        }
    };
    for (name, def) in raw.lists {
        let line = def.referenced.line() as usize;
        let (append, items) = match &def.value {
            Value::Array(items) => (false, items.clone()),
            Value::Object(m) if m.len() == 1 && m.get("append").is_some_and(Value::is_array) => {
                (true, m["append"].as_array().cloned().unwrap_or_default())
            }
            _ => {
                errors.push(at(
                    line,
                    format!("list {name}: expected a list, or {{append: [...]}}"),
                ));
                continue;
            }
        };
        let items: Vec<String> = items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect();
        if append {
            if !read.lists.contains_key(&name) {
                errors.push(at(
                    line,
                    format!("list {name}: append to a list that does not exist"),
                ));
                continue;
            }
            read.lists.entry(name).or_default().extend(items);
        } else {
            read.lists.insert(name, items);
        }
    }
    for (name, body) in raw.macros {
        if Field::by_name(&name).is_some() {
            errors.push(at(
                body.referenced.line() as usize,
                format!("macro {name} shadows a field"),
            ));
            continue;
        }
        read.macros.insert(name, body.value);
    }
    for r in raw.rules {
        let line = r.referenced.line() as usize;
        match serde_json::from_value::<RuleDef>(r.value) {
            Ok(def) => read.rules.push(Located {
                file: src.name.clone(),
                line,
                item: def,
            }),
            Err(e) => errors.push(at(line, format!("rule: {e}"))),
        }
    }
    for o in raw.overrides {
        let line = o.referenced.line() as usize;
        match serde_json::from_value::<OverrideDef>(o.value) {
            Ok(def) => read.overrides.push(Located {
                file: src.name.clone(),
                line,
                item: def,
            }),
            Err(e) => errors.push(at(line, format!("override: {e}"))),
        }
    }
    for x in raw.exceptions {
        let line = x.referenced.line() as usize;
        match serde_json::from_value::<ExceptionDef>(x.value) {
            Ok(def) => read.global.push(Located {
                file: src.name.clone(),
                line,
                item: def,
            }),
            Err(e) => errors.push(at(line, format!("exception: {e}"))),
        }
    }
    if let Some(p) = raw.pss {
        match Profile::parse(&p.value) {
            Ok(profile) => read.pss = Some(profile),
            Err(e) => errors.push(at(p.referenced.line() as usize, e)),
        }
    }
}

/// Stage 2, merge: codes are unique across files, and overrides apply to the rule they
/// name.
fn merge(read: &mut Read, errors: &mut Vec<LoadError>) {
    let rules = &mut read.rules;
    // Codes are unique; later files override, never redefine.
    let mut by_code: HashMap<String, usize> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        if let Some(first) = by_code.get(&r.item.code) {
            let f = &rules[*first];
            errors.push(LoadError {
                file: r.file.clone(),
                line: r.line,
                message: format!(
                    "rule {}: code already used at {}:{} (use overrides: to change a rule)",
                    r.item.code, f.file, f.line
                ),
            });
        } else {
            by_code.insert(r.item.code.clone(), i);
        }
    }
    for o in std::mem::take(&mut read.overrides) {
        let Some(i) = by_code.get(&o.item.code) else {
            errors.push(LoadError {
                file: o.file,
                line: o.line,
                message: format!("override: no rule with code {}", o.item.code),
            });
            continue;
        };
        let rule = &mut rules[*i].item;
        if let Some(e) = o.item.enabled {
            rule.enabled = e;
        }
        if let Some(s) = o.item.severity {
            rule.severity = s;
        }
        rule.exceptions.extend(o.item.exceptions);
    }
}

/// Stage 3, validate: what a rule must be whatever its condition says — a code, a
/// kebab-case name used once, ATT&CK techniques, a known Pod Security check.
fn validate(
    r: &Located<RuleDef>,
    seen_names: &mut HashMap<String, String>,
    errors: &mut Vec<LoadError>,
) {
    let def = &r.item;
    let at = |message: String| LoadError {
        file: r.file.clone(),
        line: r.line,
        message: format!("rule {}: {message}", def.code),
    };
    if !matches(&CODE_RE, &def.code) {
        errors.push(at(
            "code must be three capitals and three digits (PRV001)".into()
        ));
    }
    if !matches(&NAME_RE, &def.name) {
        errors.push(at(format!("name {:?} must be kebab-case", def.name)));
    } else if let Some(other) = seen_names.insert(def.name.clone(), def.code.clone()) {
        errors.push(at(format!("name {} is already used by {other}", def.name)));
    }
    if def.attack.is_empty() {
        errors.push(at("attack: name at least one ATT&CK technique".into()));
    }
    for t in &def.attack {
        if !matches(&ATTACK_RE, t) {
            errors.push(at(format!(
                "attack: {t:?} is not a technique id (T1610, T1053.007)"
            )));
        }
    }
    if let Some(p) = &def.pss
        && crate::pss::definition(&p.check).is_none()
    {
        errors.push(at(format!("pss: unknown check {:?}", p.check)));
    }
}

/// Stage 4, compile: the condition against the fields, lists and macros, the message
/// template, the rule's exceptions, its guards and judging form. `None` when any of it
/// failed (the errors say why).
fn compile(
    r: &Located<RuleDef>,
    names: &Names<'_>,
    errors: &mut Vec<LoadError>,
) -> Option<CompiledRule> {
    let def = &r.item;
    let at = |message: String| LoadError {
        file: r.file.clone(),
        line: r.line,
        message: format!("rule {}: {message}", def.code),
    };
    let before = errors.len();
    let cond = match expr::compile(&def.condition, def.scope, names) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push(at(format!("condition: {e}")));
            None
        }
    };
    let message = match compile_template(&def.message, def.scope) {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(at(format!("message: {e}")));
            None
        }
    };
    let mut exceptions = Vec::new();
    for x in &def.exceptions {
        match compile_exception(x) {
            Ok(c) => exceptions.push(c),
            Err(e) => errors.push(at(format!("exception {}: {e}", x.name))),
        }
    }
    if errors.len() != before {
        return None;
    }
    let (cond, message) = (cond?, message?);
    Some(CompiledRule {
        def: r.item.clone(),
        file: r.file.clone(),
        line: r.line,
        guards: crate::engine::guards_of(&cond),
        exception_gate: None,
        check: crate::check::Check::compile(&cond),
        cond,
        message,
        exceptions,
        global_exceptions: Vec::new(),
    })
}

/// Stage 5, link: the pack-wide exceptions (each must name rules that exist), and which
/// of them can excuse each rule with its exception gate — decided once here rather than for
/// every finding.
fn link(
    global: Vec<Located<ExceptionDef>>,
    compiled: &mut [CompiledRule],
    errors: &mut Vec<LoadError>,
) -> Vec<CompiledException> {
    let mut global_exceptions = Vec::new();
    for x in global {
        for code in &x.item.rules {
            if !compiled
                .iter()
                .any(|r| r.def.code.starts_with(code.as_str()))
            {
                errors.push(LoadError {
                    file: x.file.clone(),
                    line: x.line,
                    message: format!("exception {}: no rule matches {code:?}", x.item.name),
                });
            }
        }
        match compile_exception(&x.item) {
            Ok(c) => global_exceptions.push(c),
            Err(e) => errors.push(LoadError {
                file: x.file,
                line: x.line,
                message: format!("exception {}: {e}", x.item.name),
            }),
        }
    }
    for r in compiled.iter_mut() {
        r.global_exceptions = global_exceptions
            .iter()
            .enumerate()
            .filter(|(_, x)| x.covers(&r.def.code))
            .map(|(i, _)| i)
            .collect();
        r.exception_gate = crate::engine::exception_gate(
            r.exceptions.iter().chain(
                r.global_exceptions
                    .iter()
                    .filter_map(|&i| global_exceptions.get(i)),
            ),
        );
    }
    global_exceptions
}

fn portcullis_reason(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or("").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match first.strip_prefix("line ") {
        Some(r) => r.split_once(": ").map_or(first, |(_, m)| m).to_string(),
        None => first.to_string(),
    }
}

/// Fields that tie an exception to something an attacker cannot choose freely.
const ANCHOR_FIELDS: &[&str] = &[
    "target.namespace",
    "pod.service_account",
    "actor.user",
    "actor.service_account",
    "container.image.digest",
];

pub(crate) fn compile_exception(x: &ExceptionDef) -> Result<CompiledException, String> {
    if x.fields.is_empty() {
        return Err("fields: name at least one field".into());
    }
    let mut fields = Vec::new();
    for f in &x.fields {
        // Container fields are allowed at any scope: in a finding about the whole pod they
        // must hold for every container (see engine::exceptions::exception_matches).
        fields.push(Field::by_name(f).ok_or_else(|| format!("unknown field {f}"))?);
    }
    // An exception keyed only on image or command fields is one an attacker meets by
    // naming an image: refuse it.
    if !x.fields.iter().any(|f| ANCHOR_FIELDS.contains(&f.as_str())) {
        return Err(format!(
            "keys only on fields an attacker chooses ({}); add one of {}",
            x.fields.join(", "),
            ANCHOR_FIELDS.join(", ")
        ));
    }
    for (i, tuple) in x.values.iter().enumerate() {
        if tuple.len() != fields.len() {
            return Err(format!(
                "values[{i}] has {} values for {} fields",
                tuple.len(),
                fields.len()
            ));
        }
        if tuple.iter().any(|v| v.contains('*')) {
            return Err(format!(
                "values[{i}]: wildcards are not allowed; name exact values"
            ));
        }
    }
    let mut first: Vec<String> = x.values.iter().filter_map(|t| t.first().cloned()).collect();
    first.sort();
    first.dedup();
    Ok(CompiledException {
        name: x.name.clone(),
        fields,
        values: x.values.clone(),
        rules: x.rules.clone(),
        first,
    })
}

fn compile_template(t: &str, scope: Scope) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Segment::Text(rest[..open].to_string()));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err("unclosed {".into());
        };
        let name = &rest[open + 1..open + close];
        if name == "matched" {
            out.push(Segment::Matched);
        } else {
            let f = Field::by_name(name).ok_or_else(|| format!("unknown field {{{name}}}"))?;
            if !scope.allows(f.scope()) {
                return Err(format!("field {name} needs scope {}", f.scope().as_str()));
            }
            out.push(Segment::Field(f));
        }
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest.to_string()));
    }
    Ok(out)
}
