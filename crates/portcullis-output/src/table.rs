//! The human view: one row per alert, then a summary per rule and severity.

use crate::Alert;
use comfy_table::{Cell, Color, ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use portcullis_rules::Severity;
use std::collections::BTreeMap;

fn color(s: Severity) -> Color {
    match s {
        Severity::Critical => Color::Magenta,
        Severity::High => Color::Red,
        Severity::Medium => Color::Yellow,
        Severity::Low => Color::Cyan,
        Severity::Info => Color::Grey,
    }
}

/// The width to lay a table out in: the one asked for, else the terminal's when it reports
/// a usable one. Pseudo-terminals in CI often report 0 columns, which would collapse every
/// column to one character: then 160.
fn sized(t: &mut Table, width: Option<u16>) {
    let w = width
        .or_else(|| t.width())
        .filter(|w| *w >= 40)
        .unwrap_or(160);
    t.set_width(w);
}

/// A hunter's view: one row per alert in time order — when, who, what they did and what
/// became of it, on what, which rule, how bad, what it means — then the summary.
pub fn timeline(alerts: &[Alert], width: Option<u16>, colors: bool) -> String {
    if alerts.is_empty() {
        return "No findings.\n".to_string();
    }
    let mut sorted: Vec<(Option<f64>, &Alert)> = alerts
        .iter()
        .map(|a| {
            (
                a.time
                    .as_deref()
                    .and_then(portcullis_model::time::parse_time),
                a,
            )
        })
        .collect();
    // Untimed alerts last, each group in the order found.
    sorted.sort_by(|(x, _), (y, _)| match (x, y) {
        (Some(a), Some(b)) => a.total_cmp(b),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "TIME", "ACTOR", "ACTION", "TARGET", "RULE", "SEVERITY", "MESSAGE",
        ]);
    sized(&mut t, width);
    if !colors {
        t.force_no_tty();
    }
    for (_, a) in sorted {
        let sev = Cell::new(a.severity.as_str());
        let sev = if colors {
            sev.fg(color(a.severity))
        } else {
            sev
        };
        let actor = a
            .actor
            .as_ref()
            .and_then(|x| x.user.clone().or_else(|| x.service_account.clone()))
            .unwrap_or_else(|| "-".into());
        t.add_row(vec![
            Cell::new(a.time.as_deref().unwrap_or("-")),
            Cell::new(actor),
            Cell::new(format!("{} / {}", a.operation.as_str(), a.outcome.as_str())),
            Cell::new(target_of(a)),
            Cell::new(&a.rule.id),
            sev,
            Cell::new(&a.message),
        ]);
    }
    let mut out = t.to_string();
    out.push('\n');
    out.push_str(&summary(alerts, width, colors));
    out
}

fn target_of(a: &Alert) -> String {
    format!(
        "{}/{}{}",
        a.target.kind,
        a.target
            .namespace
            .as_deref()
            .map(|n| format!("{n}/"))
            .unwrap_or_default(),
        a.target.name.as_deref().unwrap_or("-")
    )
}

/// Render alerts as a table followed by a per-rule summary. `width` fixes the terminal
/// width (tests and pipes); `colors` adds ANSI colours.
pub fn table(alerts: &[Alert], width: Option<u16>, colors: bool) -> String {
    if alerts.is_empty() {
        return "No findings.\n".to_string();
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header([
            "SEVERITY",
            "RULE",
            "LOCATION",
            "TARGET",
            "CONTAINER",
            "MESSAGE",
        ]);
    sized(&mut t, width);
    if !colors {
        t.force_no_tty();
    }
    for a in alerts {
        let sev = Cell::new(a.severity.as_str());
        let sev = if colors {
            sev.fg(color(a.severity))
        } else {
            sev
        };
        let target = target_of(a);
        t.add_row(vec![
            sev,
            Cell::new(format!("{} {}", a.rule.id, a.rule.name)),
            Cell::new(if a.source.line > 0 {
                format!("{}:{}", a.source.file, a.source.line)
            } else {
                a.source.file.clone()
            }),
            Cell::new(target),
            Cell::new(
                a.container
                    .as_ref()
                    .map_or("-".to_string(), |c| c.name.clone()),
            ),
            Cell::new(&a.message),
        ]);
    }
    let mut out = t.to_string();
    out.push('\n');
    out.push_str(&summary(alerts, width, colors));
    out
}

fn summary(alerts: &[Alert], width: Option<u16>, colors: bool) -> String {
    let mut by_rule: BTreeMap<(std::cmp::Reverse<Severity>, String, String), usize> =
        BTreeMap::new();
    let mut by_sev: BTreeMap<std::cmp::Reverse<Severity>, usize> = BTreeMap::new();
    for a in alerts {
        *by_rule
            .entry((
                std::cmp::Reverse(a.severity),
                a.rule.id.clone(),
                a.rule.name.clone(),
            ))
            .or_default() += 1;
        *by_sev.entry(std::cmp::Reverse(a.severity)).or_default() += 1;
    }
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_header(["SEVERITY", "RULE", "ALERTS"]);
    sized(&mut t, width);
    if !colors {
        t.force_no_tty();
    }
    for ((sev, id, name), n) in &by_rule {
        t.add_row(vec![
            Cell::new(sev.0.as_str()),
            Cell::new(format!("{id} {name}")),
            Cell::new(n),
        ]);
    }
    let totals = by_sev
        .iter()
        .map(|(s, n)| format!("{n} {}", s.0))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{t}\n{} alerts: {totals}\n", alerts.len())
}

#[cfg(test)]
mod width_tests {
    use super::*;

    #[test]
    fn a_zero_width_terminal_does_not_collapse_columns() {
        let mut t = Table::new();
        t.set_header(["A"]);
        sized(&mut t, Some(0));
        assert_eq!(t.width(), Some(160));
        sized(&mut t, Some(100));
        assert_eq!(t.width(), Some(100));
    }
}
