//! Rule files as written: the data users read, override and extend.

use crate::fields::Scope;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str() == s.to_ascii_lowercase())
            .ok_or_else(|| format!("unknown severity {s:?} (info, low, medium, high, critical)"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Stable,
    Preview,
}

/// A rule's documentation: the same text `rules show` prints and `docs/rules/` holds.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Docs {
    /// One line.
    pub summary: String,
    pub detects: String,
    pub why: String,
    pub example: String,
    pub tuning: String,
    pub prevention: String,
    #[serde(default)]
    pub references: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PssMeta {
    pub level: crate::pss::Level,
    pub check: String,
}

impl<'de> Deserialize<'de> for crate::pss::Level {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "baseline" => Ok(crate::pss::Level::Baseline),
            "restricted" => Ok(crate::pss::Level::Restricted),
            other => Err(serde::de::Error::custom(format!(
                "unknown level {other:?} (baseline or restricted)"
            ))),
        }
    }
}

/// A structured exception: a tuple of field paths and the value tuples that are allowed.
/// Every field of a tuple must match. See `docs/rules.md` for why bare image names are
/// refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExceptionDef {
    pub name: String,
    pub fields: Vec<String>,
    pub values: Vec<Vec<String>>,
    /// Rule codes or family prefixes this exception is for; empty in a rule's own list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    pub code: String,
    pub name: String,
    pub severity: Severity,
    pub attack: Vec<String>,
    #[serde(default)]
    pub status: Status,
    pub scope: Scope,
    pub condition: String,
    /// Template: `{field.path}` is replaced by the field's value, `{matched}` by what the
    /// condition matched.
    pub message: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pss: Option<PssMeta>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionDef>,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub docs: Docs,
}

fn yes() -> bool {
    true
}

/// A change to an existing rule, from a user file or `--config`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OverrideDef {
    pub code: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Appended to the rule's exceptions.
    #[serde(default)]
    pub exceptions: Vec<ExceptionDef>,
}

impl RuleDef {
    /// The family: the letters of the code (`PRV` of `PRV001`).
    pub fn family(&self) -> &str {
        self.code.trim_end_matches(|c: char| c.is_ascii_digit())
    }
}
