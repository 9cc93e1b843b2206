//! Alerts as CSV for spreadsheets and SIEM imports: one header, one row an alert, quoted
//! by the `csv` crate (RFC 4180) so messages with commas, quotes or newlines survive.

use crate::Alert;

/// The columns, in order.
pub const HEADER: [&str; 17] = [
    "time",
    "severity",
    "rule_id",
    "rule_name",
    "message",
    "source_kind",
    "file",
    "line",
    "record_id",
    "target_kind",
    "namespace",
    "name",
    "container",
    "images",
    "actor",
    "outcome",
    "attack",
];

fn record(a: &Alert) -> [String; 17] {
    [
        a.time.clone().unwrap_or_default(),
        a.severity.as_str().to_string(),
        a.rule.id.clone(),
        a.rule.name.clone(),
        a.message.clone(),
        a.source.kind.clone(),
        a.source.file.clone(),
        a.source.line.to_string(),
        a.source.id.clone().unwrap_or_default(),
        a.target.kind.clone(),
        a.target.namespace.clone().unwrap_or_default(),
        a.target.name.clone().unwrap_or_default(),
        a.container
            .as_ref()
            .map(|c| c.name.clone())
            .unwrap_or_default(),
        a.images.join(" "),
        a.actor
            .as_ref()
            .and_then(|x| x.user.clone())
            .unwrap_or_default(),
        serde_json::to_value(a.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        a.attack.join(" "),
    ]
}

fn line<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(fields: I) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    // Writing to memory cannot fail.
    let _ = w.write_record(fields);
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_string()
}

/// The header row (no line end).
pub fn header() -> String {
    line(HEADER)
}

/// One alert's row (no line end), for streaming.
pub fn row(a: &Alert) -> String {
    line(record(a))
}

/// A whole CSV document: the header and a row an alert.
pub fn document(alerts: &[Alert]) -> String {
    let mut out = header();
    out.push('\n');
    for a in alerts {
        out.push_str(&row(a));
        out.push('\n');
    }
    out
}
