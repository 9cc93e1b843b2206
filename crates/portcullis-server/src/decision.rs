//! From findings to a verdict. Each rule has a mode — `enforce` (deny), `warn` (allow with a
//! warning), `audit` (allow, record) — chosen per rule, else by severity: out of the box
//! enforce for critical, warn for high and medium, audit below.

use portcullis_rules::{Finding, Severity};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Enforce,
    Warn,
    Audit,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Modes {
    #[serde(default = "d_critical")]
    pub critical: Mode,
    #[serde(default = "d_warn")]
    pub high: Mode,
    #[serde(default = "d_warn")]
    pub medium: Mode,
    #[serde(default = "d_audit")]
    pub low: Mode,
    #[serde(default = "d_audit")]
    pub info: Mode,
    /// Per rule code (or family prefix): overrides the severity default.
    #[serde(default)]
    pub rules: HashMap<String, Mode>,
}

fn d_critical() -> Mode {
    Mode::Enforce
}
fn d_warn() -> Mode {
    Mode::Warn
}
fn d_audit() -> Mode {
    Mode::Audit
}

impl Default for Modes {
    fn default() -> Modes {
        Modes {
            critical: Mode::Enforce,
            high: Mode::Warn,
            medium: Mode::Warn,
            low: Mode::Audit,
            info: Mode::Audit,
            rules: HashMap::new(),
        }
    }
}

/// Modes as written in a config, every key optional: filled from a door's own defaults
/// (`docker_modes: {medium: enforce}` keeps the Docker door's `high: enforce`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartialModes {
    critical: Option<Mode>,
    high: Option<Mode>,
    medium: Option<Mode>,
    low: Option<Mode>,
    info: Option<Mode>,
    #[serde(default)]
    rules: HashMap<String, Mode>,
}

impl PartialModes {
    pub fn over(self, base: Modes) -> Modes {
        Modes {
            critical: self.critical.unwrap_or(base.critical),
            high: self.high.unwrap_or(base.high),
            medium: self.medium.unwrap_or(base.medium),
            low: self.low.unwrap_or(base.low),
            info: self.info.unwrap_or(base.info),
            rules: if self.rules.is_empty() {
                base.rules
            } else {
                self.rules
            },
        }
    }
}

impl Modes {
    /// The Docker door's defaults: it has no warning channel, so what is not enforced is
    /// audited, and escape primitives rated high are enforced with the critical ones.
    pub fn docker() -> Modes {
        Modes {
            critical: Mode::Enforce,
            high: Mode::Enforce,
            medium: Mode::Audit,
            low: Mode::Audit,
            info: Mode::Audit,
            rules: HashMap::new(),
        }
    }

    pub fn mode(&self, code: &str, severity: Severity) -> Mode {
        // The longest matching code or prefix wins: PRV001 over PRV.
        if let Some((_, m)) = self
            .rules
            .iter()
            .filter(|(k, _)| code.starts_with(k.as_str()))
            .max_by_key(|(k, _)| k.len())
        {
            return *m;
        }
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => self.info,
        }
    }
}

/// What the front-end answers.
#[derive(Debug, Default)]
pub struct Verdict {
    pub allowed: bool,
    /// One line per enforced finding: rule, container, what matched.
    pub denials: Vec<String>,
    pub warnings: Vec<String>,
    /// Codes of every finding, for audit annotations.
    pub codes: Vec<String>,
}

pub fn describe(f: &Finding<'_>) -> String {
    let container = f
        .container
        .as_ref()
        .map(|c| format!(" [{} {}]", c.kind, c.name))
        .unwrap_or_default();
    let field = f
        .evidence
        .first()
        .map(|e| format!(" ({}={})", e.field, e.value))
        .unwrap_or_default();
    let mut s = format!(
        "{} {}{container}: {}{field}",
        f.rule.code, f.rule.name, f.message
    );
    // Kubernetes caps each warning; keep every line readable in a terminal.
    if s.len() > 240 {
        let mut cut = 237;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

pub fn decide(findings: &[Finding<'_>], modes: &Modes) -> Verdict {
    let mut v = Verdict {
        allowed: true,
        ..Verdict::default()
    };
    for f in findings {
        v.codes.push(f.rule.code.clone());
        match modes.mode(&f.rule.code, f.severity) {
            Mode::Enforce => {
                v.allowed = false;
                v.denials.push(describe(f));
            }
            Mode::Warn => v.warnings.push(describe(f)),
            Mode::Audit => {}
        }
    }
    v.codes.sort();
    v.codes.dedup();
    v
}
