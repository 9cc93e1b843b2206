//! Times as logs write them, to seconds since the epoch: RFC 3339 (`Z` or offset, any
//! fraction), `YYYY-MM-DD HH:MM:SS[.fff]` (Sysmon's UtcTime), and epoch numbers (seconds,
//! milliseconds or nanoseconds; auditd's `1732096800.123`).

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn parse_time(s: &str) -> Option<f64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return Some(match n {
            n if n > 1e17 => n / 1e9,
            n if n > 1e11 => n / 1e3,
            n => n,
        });
    }
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.chars().take_while(char::is_ascii_digit).count();
        frac = format!("0.{}", &r[..digits]).parse().unwrap_or(0.0);
        rest = &r[digits..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        o if o.len() == 6 && (o.starts_with('+') || o.starts_with('-')) => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o[1..3].parse::<i64>().ok()? * 3600 + o[4..6].parse::<i64>().ok()? * 60)
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se - offset;
    Some(secs as f64 + frac)
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
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_time("2026-11-20T10:00:00Z"), Some(1_795_168_800.0));
        assert_eq!(
            parse_time("2026-11-20T11:00:00+01:00"),
            Some(1_795_168_800.0)
        );
        assert_eq!(parse_time("2026-11-20 10:00:00.500"), Some(1_795_168_800.5));
        assert_eq!(parse_time("1795168800"), Some(1_795_168_800.0));
        assert_eq!(parse_time("1795168800000000000"), Some(1_795_168_800.0));
        assert_eq!(parse_time("yesterday"), None);
        assert!(parse_bound("24h").is_ok());
        assert!(parse_bound("24x").is_err());
    }
}
