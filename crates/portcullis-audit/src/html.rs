//! A self-contained HTML report, grouped by mitigation, with a score per mitigation: what a
//! person would rather look at than read. No scripts, no external assets.

use crate::kubernetes::Grant;
use crate::{CHECKS, Check, Finding, Mitigation};
use portcullis_rules::Severity;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

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

/// Render the report. `scope` is the checks this audit ran (Docker or Kubernetes ones).
pub fn render(
    title: &str,
    subject: &str,
    scope: &[&Check],
    findings: &[Finding],
    grants: &[Grant],
) -> String {
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style></head><body>",
        esc(title),
        CSS
    ));
    h.push_str(&format!(
        "<header><h1>{}</h1><p class=\"subject\">{}</p></header>",
        esc(title),
        esc(subject)
    ));
    let worst = findings.iter().map(|f| f.check.severity).max();
    let counts = |s: Severity| findings.iter().filter(|f| f.check.severity == s).count();
    h.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    for m in Mitigation::ALL {
        let Some((pct, passed, total)) = score(m, scope, findings) else {
            continue;
        };
        let grade = match pct {
            90..=100 => "good",
            60..=89 => "fair",
            _ => "poor",
        };
        h.push_str(&format!(
            "<div class=\"card {grade}\"><div class=\"mid\">{}</div><div class=\"mname\">{}</div><div class=\"score\">{pct}</div><div class=\"checks\">{passed} of {total} checks pass</div></div>",
            m.id(),
            esc(m.name())
        ));
    }
    h.push_str("</div><p class=\"totals\">");
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        h.push_str(&format!(
            "<span class=\"pill {}\">{} {}</span> ",
            sev_class(s),
            counts(s),
            s.as_str()
        ));
    }
    h.push_str(&format!(
        "</p><p class=\"verdict\">{}</p></section>",
        match worst {
            Some(Severity::Critical) =>
                "Critical exposure: an attacker can deploy containers here today.",
            Some(Severity::High) => "High risk: deployment is easier than it should be.",
            Some(Severity::Medium) => "Gaps remain: tighten the medium findings.",
            _ => "No high or critical gaps found.",
        }
    ));
    if !grants.is_empty() {
        let deployers: Vec<&Grant> = grants
            .iter()
            .filter(|g| g.abilities.can_deploy() || g.abilities.wildcard)
            .collect();
        h.push_str(&format!("<section id=\"who-can-deploy\"><h2>Who can deploy containers</h2><p>{} grant(s) let a subject create pods or workloads.</p><table><thead><tr><th>Subject</th><th>Kind</th><th>Scope</th><th>Can create</th><th>Exec</th><th>Escalation</th><th>Via</th></tr></thead><tbody>", deployers.len()));
        for g in deployers {
            let a = &g.abilities;
            let create = if a.wildcard {
                "everything".to_string()
            } else {
                a.create.iter().cloned().collect::<Vec<_>>().join(", ")
            };
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td></tr>",
                esc(&g.subject),
                esc(&g.subject_kind),
                esc(&g.scope),
                esc(&create),
                if a.exec || a.ephemeral || a.wildcard { "yes" } else { "" },
                esc(&if a.wildcard { "all".to_string() } else { a.escalate.iter().cloned().collect::<Vec<_>>().join(", ") }),
                esc(&g.via),
                esc(&g.role)
            ));
        }
        h.push_str("</tbody></table></section>");
    }
    for m in Mitigation::ALL {
        let mine: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.check.mitigation == m)
            .collect();
        if mine.is_empty() && score(m, scope, findings).is_none() {
            continue;
        }
        h.push_str(&format!(
            "<section class=\"mitigation\" id=\"{}\"><h2>{} {}</h2>",
            m.id(),
            m.id(),
            esc(m.name())
        ));
        if mine.is_empty() {
            h.push_str("<p class=\"ok\">Every check passes.</p></section>");
            continue;
        }
        h.push_str("<table><thead><tr><th>Severity</th><th>Check</th><th>Finding</th><th>Evidence</th><th>Fix</th></tr></thead><tbody>");
        let mut sorted = mine;
        sorted.sort_by(|a, b| {
            b.check
                .severity
                .cmp(&a.check.severity)
                .then(a.check.code.cmp(b.check.code))
        });
        for f in sorted {
            let ev = f
                .evidence
                .iter()
                .map(|(k, v)| {
                    format!(
                        "<code>{}</code> = <code>{}</code>",
                        esc(k),
                        esc(&v.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>");
            let loc = if f.line > 0 {
                format!("{}:{}", f.file, f.line)
            } else {
                f.file.clone()
            };
            h.push_str(&format!(
                "<tr><td><span class=\"pill {}\">{}</span></td><td>{}<br><small>{}</small></td><td>{}</td><td><small>{}</small><br>{}</td><td>{}</td></tr>",
                sev_class(f.check.severity),
                f.check.severity.as_str(),
                f.check.code,
                esc(f.check.name),
                esc(&f.message),
                esc(&loc),
                ev,
                esc(f.check.fix)
            ));
        }
        h.push_str("</tbody></table></section>");
    }
    h.push_str(&format!("<footer>portcullis audit · {} checks · MITRE ATT&amp;CK T1610 mitigations</footer></body></html>", CHECKS.len()));
    h
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
