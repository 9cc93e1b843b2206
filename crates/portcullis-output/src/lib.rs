//! The one alert schema every command emits (documented in `docs/alert-schema.md`), and
//! its renderers: table, JSON, JSON lines, SARIF.

pub mod csv;
mod sarif;
mod table;

pub use sarif::{RuleInfo, rule_infos, sarif};
pub use table::{table, timeline};

use portcullis_model::{Actor, Deployment, Operation, Outcome};
use portcullis_rules::{ContainerRef, Evidence, Finding, PssResult, Severity};
use serde::{Deserialize, Serialize};

/// Bump when a field changes meaning or disappears; adding fields does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    pub schema: u32,
    pub rule: RuleRef,
    pub severity: Severity,
    pub attack: Vec<String>,
    pub message: String,
    pub source: SourceRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    pub target: TargetRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerRef>,
    /// Every image of the pod, as written.
    pub images: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor>,
    pub operation: Operation,
    pub outcome: Outcome,
    pub evidence: Vec<Evidence>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pss: Option<PssResult>,
    /// Posture findings (`audit`): the MITRE mitigation that is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mitigation: Option<MitigationRef>,
    /// Posture findings: how to fix it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MitigationRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RuleRef {
    pub id: String,
    pub name: String,
    pub family: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SourceRef {
    pub kind: String,
    pub file: String,
    pub line: usize,
    pub document: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TargetRef {
    pub kind: String,
    // Left out when empty, so read back as empty: a Docker container or an exec has none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Alert {
    pub fn new(dep: &Deployment, f: &Finding<'_>) -> Alert {
        Alert {
            schema: SCHEMA_VERSION,
            rule: RuleRef {
                id: f.rule.code.clone(),
                name: f.rule.name.clone(),
                family: f.rule.family().to_string(),
            },
            severity: f.severity,
            attack: f.rule.attack.clone(),
            message: f.message.clone(),
            source: SourceRef {
                kind: dep.origin.kind.clone(),
                file: dep.origin.file.clone(),
                line: dep.origin.line,
                document: dep.origin.document,
                id: dep.origin.record_id.clone(),
            },
            time: dep.time.as_deref().map(portcullis_model::time::normalize),
            target: TargetRef {
                kind: dep.target.kind.clone(),
                api_version: dep.target.api_version.clone(),
                namespace: dep.target.namespace.clone(),
                name: dep.target.name.clone(),
            },
            container: f.container.clone(),
            images: dep
                .pod
                .as_ref()
                .map(|p| p.containers.iter().map(|c| c.image.raw.clone()).collect())
                .unwrap_or_default(),
            actor: (!dep.actor.is_empty()).then(|| dep.actor.clone()),
            operation: dep.operation,
            outcome: dep.outcome,
            evidence: f.evidence.clone(),
            pss: f.pss.clone(),
            mitigation: None,
            fix: None,
        }
    }
}

/// Write alerts as one JSON document (an array).
pub fn json(alerts: &[Alert]) -> String {
    serde_json::to_string_pretty(alerts).unwrap_or_else(|_| "[]".into())
}

/// One alert as a JSON line (no trailing newline).
pub fn json_line(alert: &Alert) -> String {
    serde_json::to_string(alert).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_reads_back_as_it_was_written() {
        let engine = portcullis_rules::Engine::builtin().expect("pack");
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: alpine, securityContext: {privileged: true}}]\n";
        let batch = portcullis_sources::manifest::read(text, "p.yaml");
        let ev = engine
            .evaluator(&Default::default(), Default::default())
            .evaluate(&batch.deployments[0]);
        assert!(!ev.findings.is_empty());
        for f in &ev.findings {
            let a = Alert::new(&batch.deployments[0], f);
            let back: Alert = serde_json::from_str(&json_line(&a)).expect("reads back");
            assert_eq!(back, a);
            // Every field left out when empty reads back empty: a Docker create or an exec
            // has no apiVersion, a pod-level finding no container, a hunt record no time.
            let mut bare = a.clone();
            bare.target.api_version.clear();
            bare.target.namespace = None;
            bare.target.name = None;
            bare.container = None;
            bare.time = None;
            bare.actor = None;
            bare.source.id = None;
            bare.pss = None;
            bare.evidence.clear();
            bare.images.clear();
            bare.attack.clear();
            let back: Alert = serde_json::from_str(&json_line(&bare)).expect("reads back");
            assert_eq!(back, bare);
        }
    }
}
