//! A self-contained HTML report, grouped by mitigation, with a score per mitigation: what a
//! person would rather look at than read. No scripts, no external assets.

use crate::kubernetes::Grant;
use crate::{CHECKS, Check, Finding, Mitigation};
use portcullis_rules::Severity;

fn sev_class(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Info => "info",
    }
}

/// Score of one mitigation: the share of its checks (in this audit's scope) that passed,
/// weighted by severity so a failed critical check costs more than a failed low one.
pub fn score(
    mitigation: Mitigation,
    scope: &[&Check],
    findings: &[Finding],
) -> Option<(u32, usize, usize)> {
    let weight = |s: Severity| match s {
        Severity::Critical => 8,
        Severity::High => 5,
        Severity::Medium => 3,
        Severity::Low => 1,
        Severity::Info => 0,
    };
    let checks: Vec<&&Check> = scope
        .iter()
        .filter(|c| c.mitigation == mitigation && c.severity > Severity::Info)
        .collect();
    if checks.is_empty() {
        return None;
    }
    let failed: Vec<&&Check> = checks
        .iter()
        .copied()
        .filter(|c| findings.iter().any(|f| f.check.code == c.code))
        .collect();
    let total: u32 = checks.iter().map(|c| weight(c.severity)).sum();
    let lost: u32 = failed.iter().map(|c| weight(c.severity)).sum();
    Some((
        100 * (total - lost) / total.max(1),
        checks.len() - failed.len(),
        checks.len(),
    ))
}

/// The report's page (`templates/report.html`): askama escapes every value for HTML, so a
/// subject, namespace or message from the audited cluster cannot become markup.
#[derive(askama::Template)]
#[template(path = "report.html")]
struct Report<'a> {
    title: &'a str,
    subject: &'a str,
    css: &'static str,
    cards: Vec<Card>,
    pills: Vec<Pill>,
    verdict: &'static str,
    /// The who-can-deploy table (Kubernetes audits).
    deployers: Option<Vec<DeployerRow<'a>>>,
    sections: Vec<Section<'a>>,
    check_count: usize,
}

/// A mitigation's score card.
struct Card {
    grade: &'static str,
    id: &'static str,
    name: &'static str,
    pct: u32,
    passed: usize,
    total: usize,
}

/// A severity and how many findings have it.
struct Pill {
    class: &'static str,
    count: usize,
    label: &'static str,
}

struct DeployerRow<'a> {
    subject: &'a str,
    kind: &'a str,
    scope: &'a str,
    create: String,
    exec: &'static str,
    escalation: String,
    via: &'a str,
    role: &'a str,
}

/// A mitigation and its findings, worst first.
struct Section<'a> {
    id: &'static str,
    name: &'static str,
    rows: Vec<FindingRow<'a>>,
}

struct FindingRow<'a> {
    class: &'static str,
    severity: &'static str,
    code: &'static str,
    name: &'static str,
    message: &'a str,
    location: String,
    evidence: Vec<(&'a str, String)>,
    fix: &'static str,
}

/// Render the report. `scope` is the checks this audit ran (Docker or Kubernetes ones).
pub fn render(
    title: &str,
    subject: &str,
    scope: &[&Check],
    findings: &[Finding],
    grants: &[Grant],
) -> Result<String, String> {
    let cards = Mitigation::ALL
        .into_iter()
        .filter_map(|m| {
            let (pct, passed, total) = score(m, scope, findings)?;
            let grade = match pct {
                90..=100 => "good",
                60..=89 => "fair",
                _ => "poor",
            };
            Some(Card {
                grade,
                id: m.id(),
                name: m.name(),
                pct,
                passed,
                total,
            })
        })
        .collect();
    let pills = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ]
    .into_iter()
    .map(|s| Pill {
        class: sev_class(s),
        count: findings.iter().filter(|f| f.check.severity == s).count(),
        label: s.as_str(),
    })
    .collect();
    let verdict = match findings.iter().map(|f| f.check.severity).max() {
        Some(Severity::Critical) => {
            "Critical exposure: an attacker can deploy containers here today."
        }
        Some(Severity::High) => "High risk: deployment is easier than it should be.",
        Some(Severity::Medium) => "Gaps remain: tighten the medium findings.",
        _ => "No high or critical gaps found.",
    };
    let deployers = (!grants.is_empty()).then(|| {
        grants
            .iter()
            .filter(|g| g.abilities.can_deploy() || g.abilities.wildcard)
            .map(|g| {
                let a = &g.abilities;
                let joined = |set: &std::collections::BTreeSet<String>| {
                    set.iter().cloned().collect::<Vec<_>>().join(", ")
                };
                DeployerRow {
                    subject: &g.subject,
                    kind: &g.subject_kind,
                    scope: &g.scope,
                    create: if a.wildcard {
                        "everything".into()
                    } else {
                        joined(&a.create)
                    },
                    exec: if a.exec || a.ephemeral || a.wildcard {
                        "yes"
                    } else {
                        ""
                    },
                    escalation: if a.wildcard {
                        "all".into()
                    } else {
                        joined(&a.escalate)
                    },
                    via: &g.via,
                    role: &g.role,
                }
            })
            .collect()
    });
    let sections = Mitigation::ALL
        .into_iter()
        .filter_map(|m| {
            let mut mine: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.check.mitigation == m)
                .collect();
            if mine.is_empty() && score(m, scope, findings).is_none() {
                return None;
            }
            mine.sort_by(|a, b| {
                b.check
                    .severity
                    .cmp(&a.check.severity)
                    .then(a.check.code.cmp(b.check.code))
            });
            let rows = mine
                .into_iter()
                .map(|f| FindingRow {
                    class: sev_class(f.check.severity),
                    severity: f.check.severity.as_str(),
                    code: f.check.code,
                    name: f.check.name,
                    message: &f.message,
                    location: if f.line > 0 {
                        format!("{}:{}", f.file, f.line)
                    } else {
                        f.file.clone()
                    },
                    evidence: f
                        .evidence
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.to_string()))
                        .collect(),
                    fix: f.check.fix,
                })
                .collect();
            Some(Section {
                id: m.id(),
                name: m.name(),
                rows,
            })
        })
        .collect();
    let report = Report {
        title,
        subject,
        css: CSS,
        cards,
        pills,
        verdict,
        deployers,
        sections,
        check_count: CHECKS.len(),
    };
    askama::Template::render(&report).map_err(|e| format!("HTML report: {e}"))
}

const CSS: &str = "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:24px 40px}header h1{margin:0;font-size:26px}.subject{margin:6px 0 0;color:#b8c0d0}
section{background:#fff;margin:20px 40px;padding:20px 28px;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{margin-top:0;font-size:19px}.cards{display:flex;gap:16px;flex-wrap:wrap}
.card{flex:1;min-width:190px;border-radius:10px;padding:16px;color:#fff}.card.good{background:#1f8a4c}.card.fair{background:#c98a0b}.card.poor{background:#c0392b}
.mid{font-weight:700;font-size:14px;opacity:.9}.mname{font-size:13px;min-height:34px}.score{font-size:44px;font-weight:800;line-height:1.1}.checks{font-size:13px;opacity:.95}
.totals{margin:16px 0 4px}.verdict{font-weight:600}
.pill{display:inline-block;border-radius:12px;padding:2px 10px;font-size:12px;font-weight:700;color:#fff}
.pill.critical{background:#7b1fa2}.pill.high{background:#c0392b}.pill.medium{background:#d68910}.pill.low{background:#2e86c1}.pill.info{background:#7f8c8d}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:7px 9px;border-bottom:1px solid #e6e8ec;vertical-align:top}
th{background:#f0f2f5}code{font-size:12px;background:#f0f2f5;padding:1px 4px;border-radius:3px}.ok{color:#1f8a4c;font-weight:600}
footer{color:#7f8c8d;font-size:12px;margin:10px 40px 30px}";

#[cfg(test)]
mod tests {
    use super::*;

    /// Names and messages come from the audited cluster: whoever wrote a RoleBinding picks
    /// them, so none may become markup in the report.
    #[test]
    fn what_the_cluster_wrote_is_text_not_markup() {
        let hostile = "<img src=x onerror=alert(1)>";
        let finding = Finding::new(
            &crate::RBAC004,
            format!("User {hostile} can create pods"),
            "rb.yaml",
        )
        .evidence("binding", hostile);
        let page = render(hostile, hostile, &[&crate::RBAC004], &[finding], &[]).expect("renders");
        assert!(!page.contains("<img"), "{page}");
        assert!(
            page.contains("onerror=alert(1)"),
            "the text is kept, escaped"
        );
        assert!(page.contains("id=\"M1018\"") && page.contains("RBAC004"));
    }
}
