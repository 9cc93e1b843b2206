//! `--since`/`--until` bounds; logged times are parsed by `portcullis_model::time`.

pub use portcullis_model::time::parse_time;

pub use portcullis_model::time::parse_duration;

/// `--since/--until`: a time, or a duration back from now (`90s`, `30m`, `24h`, `7d`).
pub fn parse_bound(s: &str) -> Result<f64, String> {
    if let Some(t) = parse_time(s) {
        return Ok(t);
    }
    let back = parse_duration(s)
        .map_err(|_| format!("not a time or duration: {s:?} (RFC 3339, or 90s, 30m, 24h, 7d)"))?;
    Ok(portcullis_model::time::now() - back)
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
