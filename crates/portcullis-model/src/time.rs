//! Times as logs write them, to seconds since the epoch and back to RFC 3339: RFC 3339
//! (`Z` or offset, any fraction), `YYYY-MM-DD HH:MM:SS[.fff]` (Sysmon's UtcTime), and epoch
//! numbers (seconds, milliseconds or nanoseconds; auditd's `1732096800.123`). One home for
//! time, so every alert carries the same shape whatever its source wrote.

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

/// Seconds since the epoch of a logged time.
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

/// A duration as people write one: `90s`, `30m`, `24h`, `14d`, in seconds.
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

/// Seconds since the epoch, now.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 in UTC (`2026-11-20T10:00:00Z`, milliseconds when the time has a fraction).
pub fn rfc3339(secs: f64) -> String {
    let whole = secs.floor();
    let millis = ((secs - whole) * 1000.0).round() as i64;
    let (whole, millis) = if millis >= 1000 {
        (whole as i64 + 1, 0)
    } else {
        (whole as i64, millis)
    };
    let (days, rem) = (whole.div_euclid(86_400), whole.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if millis == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{millis:03}Z")
    }
}

/// A logged time as RFC 3339: kept as written when it is RFC 3339 already, converted
/// when it is an epoch number or Sysmon's `YYYY-MM-DD HH:MM:SS`, as written otherwise.
pub fn normalize(s: &str) -> String {
    let b = s.as_bytes();
    let already = b.len() >= 20 && b[4] == b'-' && b[10] == b'T';
    if already {
        return s.to_string();
    }
    parse_time(s).map_or_else(|| s.to_string(), rfc3339)
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
    }

    #[test]
    fn back_to_rfc3339() {
        assert_eq!(rfc3339(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_795_168_800.5), "2026-11-20T10:00:00.500Z");
        assert_eq!(normalize("1792058400.000"), "2026-10-15T10:00:00Z");
        assert_eq!(
            normalize("2026-11-20 10:00:00.500"),
            "2026-11-20T10:00:00.500Z"
        );
        assert_eq!(
            normalize("2026-11-20T11:00:00+01:00"),
            "2026-11-20T11:00:00+01:00"
        );
        assert_eq!(normalize("soon"), "soon");
        // Leap years and the end of a month.
        assert_eq!(rfc3339(951_782_400.0), "2000-02-29T00:00:00Z");
        for t in [0.0, 951_782_400.0, 1_795_168_800.0, 4_102_444_799.0] {
            assert_eq!(parse_time(&rfc3339(t)), Some(t));
        }
    }
}
