//! SARIF 2.1.0 for code scanning (GitHub, GitLab, Azure DevOps).
//!
//! Rules carry `security-severity` so code scanning ranks them; results carry a
//! fingerprint of rule, file, target and container so a re-run matches previous alerts.

use crate::Alert;
use portcullis_rules::{Engine, Severity};
use serde_json::{Value, json};

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's scale: critical ≥ 9.0, high ≥ 7.0, medium ≥ 4.0, low > 0.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.5",
    }
}

/// What SARIF says about a rule, from the engine's pack or from the posture checks.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    pub id: String,
    pub name: String,
    pub summary: String,
    pub description: String,
    pub help_text: String,
    pub help_markdown: String,
    pub severity: Severity,
    pub tags: Vec<String>,
}

/// Every rule of a loaded pack as SARIF rule metadata.
pub fn rule_infos(engine: &Engine) -> Vec<RuleInfo> {
    engine
        .rules()
        .map(|r| {
            let d = &r.def.docs;
            RuleInfo {
                id: r.def.code.clone(),
                name: r.def.name.clone(),
                summary: d.summary.clone(),
                description: d.detects.trim().to_string(),
                help_text: format!("{}\n\nPrevention: {}", d.why.trim(), d.prevention.trim()),
                help_markdown: format!(
                    "**Why it matters.** {}\n\n**Tuning.** {}\n\n**Prevention.** {}",
                    d.why.trim(),
                    d.tuning.trim(),
                    d.prevention.trim()
                ),
                severity: r.def.severity,
                tags: r
                    .def
                    .attack
                    .iter()
                    .map(|t| format!("external/mitre-attack/{t}"))
                    .chain(r.def.tags.iter().cloned())
                    .collect(),
            }
        })
        .collect()
}

/// A SARIF log for `alerts`, with `rules` in the driver.
pub fn sarif(alerts: &[Alert], rules: &[RuleInfo], version: &str) -> String {
    let sarif_rules: Vec<Value> = rules
        .iter()
        .map(|r| {
            let tags: Vec<String> = std::iter::once("security".to_string())
                .chain(r.tags.iter().cloned())
                .collect();
            json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.summary},
                "fullDescription": {"text": r.description},
                "help": {"text": r.help_text, "markdown": r.help_markdown},
                "defaultConfiguration": {"level": level(r.severity)},
                "properties": {
                    "tags": tags,
                    "security-severity": security_severity(r.severity),
                    "precision": "high",
                },
            })
        })
        .collect();
    let index: std::collections::HashMap<&str, usize> = rules
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id.as_str(), i))
        .collect();
    let results: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let uri = if a.source.file == "-" { "stdin".to_string() } else { a.source.file.trim_start_matches("./").to_string() };
            let fingerprint = format!(
                "{}:{}:{}/{}/{}:{}",
                a.rule.id,
                uri,
                a.target.kind,
                a.target.namespace.as_deref().unwrap_or(""),
                a.target.name.as_deref().unwrap_or(""),
                a.container.as_ref().map_or("", |c| c.name.as_str())
            );
            let mut r = json!({
                "ruleId": a.rule.id,
                "level": level(a.severity),
                "message": {"text": a.message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri},
                        "region": {"startLine": a.source.line.max(1)},
                    },
                    "logicalLocations": [{
                        "fullyQualifiedName": format!("{}/{}", a.target.kind, a.target.name.as_deref().unwrap_or("-")),
                        "kind": "resource",
                    }],
                }],
                "partialFingerprints": {"portcullis/v1": fingerprint},
                "properties": {
                    "severity": a.severity.as_str(),
                    "evidence": a.evidence,
                },
            });
            if let Some(i) = index.get(a.rule.id.as_str()) {
                r["ruleIndex"] = json!(i);
            }
            r
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "portcullis",
                "semanticVersion": version,
                "informationUri": "https://attack.mitre.org/techniques/T1610/",
                "rules": sarif_rules,
            }},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    });
    serde_json::to_string_pretty(&log).unwrap_or_default()
}
