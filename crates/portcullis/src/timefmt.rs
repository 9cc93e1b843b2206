//! `--since`/`--until` bounds; logged times are parsed by `portcullis_model::time`.

pub use portcullis_model::time::parse_time;

/// A duration: `90s`, `30m`, `24h`, `14d`, in seconds.
pub fn parse_duration(s: &str) -> Result<f64, String> {
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: f64 = n
        .parse()
        .ok()
        .filter(|n: &f64| *n > 0.0)
        .ok_or_else(|| format!("not a duration: {s:?} (90s, 30m, 24h, 14d)"))?;
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("unknown duration unit in {s:?} (s, m, h, d)")),
    };
    Ok(n * mult)
}

/// `--since/--until`: a time, or a duration back from now (`90s`, `30m`, `24h`, `7d`).
pub fn parse_bound(s: &str) -> Result<f64, String> {
    if let Some(t) = parse_time(s) {
        return Ok(t);
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: f64 = n
        .parse()
        .map_err(|_| format!("not a time or duration: {s:?} (RFC 3339, or 90s, 30m, 24h, 7d)"))?;
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        _ => return Err(format!("unknown duration unit in {s:?} (s, m, h, d)")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Ok(now - n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(parse_bound("2026-11-20T10:00:00Z"), Ok(1_795_168_800.0));
        assert!(parse_bound("24h").is_ok());
        assert!(parse_bound("24x").is_err());
    }
}
