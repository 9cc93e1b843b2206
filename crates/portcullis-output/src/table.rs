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
    if let Some(w) = width {
        t.set_width(w);
    }
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
        let target = format!(
            "{}/{}{}",
            a.target.kind,
            a.target
                .namespace
                .as_deref()
                .map(|n| format!("{n}/"))
                .unwrap_or_default(),
            a.target.name.as_deref().unwrap_or("-")
        );
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
    if let Some(w) = width {
        t.set_width(w);
    }
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
