//! An asset inventory (CMDB export) used like a baseline a person wrote: which places
//! exist, who deploys there, from which registries, and in which change windows. A
//! deployment into a place the inventory does not list is the "unknown system" analytic.
//!
//! CSV (a header row; list cells separated by `;`) or JSON (an array of objects, or
//! `{"assets": [...]}`), with these columns:
//!
//! | column | meaning |
//! |---|---|
//! | `scope` | the place: `k8s/<namespace>`, `docker/<compose project>`, `host/<hostname>` (a node or Docker host) |
//! | `owner`, `environment` | who answers for it, `prod`/`staging`/…; shown in alerts' scope |
//! | `registries` | registries images may come from (`ghcr.io`, `registry.example.com:5000`) |
//! | `images` | image repositories allowed besides those (`docker.io/library/nginx`, `ghcr.io/acme/*`) |
//! | `deployers` | users or service accounts that deploy there (`system:serviceaccount:cicd:*`) |
//! | `change_windows` | when deploys are expected, UTC: `mon-fri 09:00-18:00`, a cron line `* 9-17 * * 1-5`, or an RFC 5545 rule `FREQ=WEEKLY;BYDAY=SA;BYHOUR=2,3` |
//!
//! An empty list means "not constrained". `*` at the end of a value matches any suffix.

use crate::scope_of;
use portcullis_model::{Deployment, Expectation, time};
use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asset {
    pub scope: String,
    pub owner: String,
    pub environment: String,
    pub registries: Vec<String>,
    pub images: Vec<String>,
    pub deployers: Vec<String>,
    pub change_windows: Vec<Window>,
}

/// Hours of the week a deploy is expected in: `hours[day][hour]`, Monday first, UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub text: String,
    hours: [[bool; 24]; 7],
}

const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "MO"),
    ("tue", "TU"),
    ("wed", "WE"),
    ("thu", "TH"),
    ("fri", "FR"),
    ("sat", "SA"),
    ("sun", "SU"),
];

impl Window {
    /// `mon-fri 09:00-18:00`, `sat 02-04`, `daily 22:00-02:00`, a cron line
    /// (`* 9-17 * * 1-5`: its hour and day-of-week fields), or
    /// `FREQ=WEEKLY;BYDAY=MO,TU;BYHOUR=9,10` / `FREQ=DAILY;BYHOUR=2`.
    pub fn parse(text: &str) -> Result<Window, String> {
        let t = text.trim();
        let mut hours = [[false; 24]; 7];
        let fields: Vec<&str> = t.split_whitespace().collect();
        if fields.len() == 5 {
            let hrs = cron_field(fields[1], 0, 23, t)?;
            // Day of week: 0 and 7 are Sunday; Monday-first index is (n + 6) % 7.
            let dows = cron_field(&cron_day_names(fields[4]), 0, 7, t)?;
            for dow in dows {
                for h in &hrs {
                    hours[(dow + 6) % 7][*h] = true;
                }
            }
            return Ok(Window {
                text: t.to_string(),
                hours,
            });
        }
        if t.to_ascii_uppercase().starts_with("FREQ=") || t.contains("BYDAY=") {
            let (mut days, mut hrs): (Vec<usize>, Vec<usize>) =
                ((0..7).collect(), (0..24).collect());
            for part in t.split(';') {
                let (k, v) = part
                    .split_once('=')
                    .ok_or_else(|| format!("{t:?}: {part:?} is not KEY=VALUE"))?;
                match k.trim().to_ascii_uppercase().as_str() {
                    "FREQ"
                        if !matches!(
                            v.trim().to_ascii_uppercase().as_str(),
                            "WEEKLY" | "DAILY"
                        ) =>
                    {
                        return Err(format!(
                            "{t:?}: only FREQ=WEEKLY or DAILY are change windows"
                        ));
                    }
                    "BYDAY" => {
                        days = v
                            .split(',')
                            .map(|d| {
                                let d = d.trim().to_ascii_uppercase();
                                DAY_NAMES
                                    .iter()
                                    .position(|(_, code)| *code == d)
                                    .ok_or_else(|| format!("{t:?}: unknown BYDAY {d:?}"))
                            })
                            .collect::<Result<_, _>>()?;
                    }
                    "BYHOUR" => {
                        hrs = v
                            .split(',')
                            .map(|h| {
                                h.trim()
                                    .parse::<usize>()
                                    .ok()
                                    .filter(|h| *h < 24)
                                    .ok_or_else(|| format!("{t:?}: BYHOUR {h:?} is not 0-23"))
                            })
                            .collect::<Result<_, _>>()?;
                    }
                    // INTERVAL, WKST, BYMINUTE…: a window is hours of the week.
                    _ => {}
                }
            }
            for d in &days {
                for h in &hrs {
                    hours[*d][*h] = true;
                }
            }
            return Ok(Window {
                text: t.to_string(),
                hours,
            });
        }
        let (days, span) = t
            .split_once(' ')
            .ok_or_else(|| format!("{t:?}: expected DAYS HH:MM-HH:MM (mon-fri 09:00-18:00)"))?;
        let day = |d: &str| {
            DAY_NAMES
                .iter()
                .position(|(name, _)| *name == d.trim().to_ascii_lowercase())
                .ok_or_else(|| format!("{t:?}: unknown day {d:?}"))
        };
        let days: Vec<usize> = match days.trim().to_ascii_lowercase().as_str() {
            "daily" | "*" => (0..7).collect(),
            d => {
                let mut out = Vec::new();
                for piece in d.split(',') {
                    match piece.split_once('-') {
                        Some((a, b)) => {
                            let (a, b) = (day(a)?, day(b)?);
                            let mut i = a;
                            loop {
                                out.push(i);
                                if i == b {
                                    break;
                                }
                                i = (i + 1) % 7;
                            }
                        }
                        None => out.push(day(piece)?),
                    }
                }
                out
            }
        };
        let hour = |h: &str| {
            let h = h.trim();
            let (hh, mm) = h.split_once(':').unwrap_or((h, "0"));
            match (hh.parse::<usize>(), mm.parse::<usize>()) {
                (Ok(hh), Ok(mm)) if hh <= 24 && mm < 60 => Ok((hh, mm)),
                _ => Err(format!("{t:?}: {h:?} is not an hour")),
            }
        };
        let (from, to) = span
            .split_once('-')
            .ok_or_else(|| format!("{t:?}: expected HH:MM-HH:MM"))?;
        let ((fh, _), (th, tm)) = (hour(from)?, hour(to)?);
        // Whole hours: 09:00-18:00 covers 09 … 17; 18:30 covers 18 too.
        let end = if tm > 0 { th + 1 } else { th };
        let end = end.min(24);
        for d in days {
            if fh < end {
                hours[d][fh..end].iter_mut().for_each(|h| *h = true);
            } else {
                // Past midnight (22:00-02:00), or the whole day when both ends meet.
                hours[d][fh..].iter_mut().for_each(|h| *h = true);
                hours[(d + 1) % 7][..end].iter_mut().for_each(|h| *h = true);
            }
        }
        Ok(Window {
            text: t.to_string(),
            hours,
        })
    }

    /// Is this time (seconds since the epoch) inside the window?
    pub fn contains(&self, secs: f64) -> bool {
        let secs = secs as i64;
        let days = secs.div_euclid(86_400);
        // 1970-01-01 was a Thursday: Monday-first index 3.
        let day = (days + 3).rem_euclid(7) as usize;
        let hour = (secs.rem_euclid(86_400) / 3600) as usize;
        self.hours[day][hour]
    }
}

/// `MON`…`SUN` in a cron day-of-week field, as numbers.
fn cron_day_names(field: &str) -> String {
    let mut f = field.to_ascii_lowercase();
    for (i, day) in ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
        .iter()
        .enumerate()
    {
        f = f.replace(day, &i.to_string());
    }
    f
}

/// One cron field: `*`, `n`, `a-b`, lists of those, each with an optional `/step`.
fn cron_field(field: &str, min: usize, max: usize, line: &str) -> Result<Vec<usize>, String> {
    let bad = || format!("{line:?}: cron field {field:?} is not {min}-{max}");
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<usize>().ok().filter(|s| *s > 0).ok_or_else(bad)?,
            ),
            None => (part, 1),
        };
        let (a, b) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?),
                None => {
                    let n = r.parse().map_err(|_| bad())?;
                    (n, if step > 1 { max } else { n })
                }
            },
        };
        if a < min || b > max || a > b {
            return Err(bad());
        }
        out.extend((a..=b).step_by(step));
    }
    Ok(out)
}

fn matches(pattern: &str, value: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => value.starts_with(prefix),
        None => pattern == value,
    }
}

#[derive(Deserialize)]
struct Row {
    scope: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    registries: Cell,
    #[serde(default)]
    images: Cell,
    #[serde(default)]
    deployers: Cell,
    #[serde(default)]
    change_windows: Cell,
}

/// A list cell: `a;b` in CSV, a string or an array in JSON.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Cell {
    #[default]
    Empty,
    Text(String),
    List(Vec<String>),
}

impl Cell {
    fn items(self, sep: char) -> Vec<String> {
        match self {
            Cell::Empty => Vec::new(),
            Cell::Text(t) => t
                .split(sep)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            Cell::List(v) => v,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub assets: Vec<Asset>,
}

impl Inventory {
    /// Read a CSV or JSON inventory; errors name the row (CSV line) and column.
    pub fn parse(text: &str, name: &str) -> Result<Inventory, String> {
        let trimmed = text.trim_start();
        let rows: Vec<(usize, Row)> = if trimmed.starts_with('[') || trimmed.starts_with('{') {
            #[derive(Deserialize)]
            #[serde(untagged)]
            enum Doc {
                List(Vec<Row>),
                Wrapped { assets: Vec<Row> },
            }
            let doc: Doc =
                serde_json::from_str(text).map_err(|e| format!("{name}:{}: {e}", e.line()))?;
            let rows = match doc {
                Doc::List(r) | Doc::Wrapped { assets: r } => r,
            };
            rows.into_iter()
                .enumerate()
                .map(|(i, r)| (i + 1, r))
                .collect()
        } else {
            let mut reader = csv::ReaderBuilder::new()
                .trim(csv::Trim::All)
                .comment(Some(b'#'))
                .from_reader(text.as_bytes());
            let mut rows = Vec::new();
            for r in reader.deserialize::<Row>() {
                match r {
                    Ok(row) => rows.push((0, row)),
                    Err(e) => {
                        let line = e.position().map_or(0, |p| p.line());
                        return Err(format!("{name}:{line}: {e}"));
                    }
                }
            }
            rows
        };
        let mut assets = Vec::new();
        for (n, row) in rows {
            let at = |what: &str| {
                if n > 0 {
                    format!("{name}: asset {n}: {what}")
                } else {
                    format!("{name}: {what}")
                }
            };
            if row.scope.trim().is_empty() {
                return Err(at("scope is empty"));
            }
            let change_windows = row
                .change_windows
                .items('|')
                .iter()
                .map(|w| Window::parse(w).map_err(|e| at(&format!("change_windows: {e}"))))
                .collect::<Result<_, _>>()?;
            assets.push(Asset {
                scope: row.scope.trim().to_string(),
                owner: row.owner,
                environment: row.environment,
                registries: row.registries.items(';'),
                images: row.images.items(';'),
                deployers: row.deployers.items(';'),
                change_windows,
            });
        }
        Ok(Inventory { assets })
    }

    /// The scopes a deployment can be listed under: its baseline scope and, when the
    /// record names the machine, `host/<name>`.
    fn scopes_of(d: &Deployment) -> Vec<String> {
        let mut out: Vec<String> = scope_of(d).into_iter().collect();
        let host = d.process.as_ref().and_then(|p| p.host.clone()).or_else(|| {
            d.endpoint.as_deref().map(|e| {
                let e = e.split("://").nth(1).unwrap_or(e);
                e.rsplit_once(':').map_or(e, |(h, _)| h).to_string()
            })
        });
        if let Some(h) = host.filter(|h| !h.is_empty()) {
            out.push(format!("host/{h}"));
        }
        out
    }

    /// What the inventory says of a deployment; `None` when it names no place.
    pub fn expectation(&self, d: &Deployment) -> Option<Expectation> {
        let scopes = Inventory::scopes_of(d);
        let first = scopes.first()?.clone();
        let Some(asset) = self
            .assets
            .iter()
            .find(|a| scopes.iter().any(|s| matches(&a.scope, s)))
        else {
            return Some(Expectation {
                scope: scopes.last().cloned().unwrap_or(first),
                scope_unknown: true,
                deployer_known: true,
                unexpected: 1, // the unknown place: nothing else is known of it
                ..Expectation::default()
            });
        };
        let mut e = Expectation {
            scope: if asset.environment.is_empty() {
                asset.scope.clone()
            } else {
                format!("{} ({})", asset.scope, asset.environment)
            },
            deployer_known: asset.deployers.is_empty()
                || d.actor
                    .user
                    .as_ref()
                    .is_none_or(|u| asset.deployers.iter().any(|p| matches(p, u))),
            ..Expectation::default()
        };
        if let Some(pod) = &d.pod
            && !(asset.registries.is_empty() && asset.images.is_empty())
        {
            for c in &pod.containers {
                let (registry, repo) = (c.image.registry(), c.image.name());
                if repo.is_empty() {
                    continue;
                }
                let allowed = asset.registries.iter().any(|r| r == registry)
                    || asset.images.iter().any(|p| matches(p, repo));
                if !allowed && !e.new_images.iter().any(|x| x == repo) {
                    e.new_images.push(repo.to_string());
                }
            }
        }
        if !asset.change_windows.is_empty()
            && let Some(t) = d.time.as_deref().and_then(time::parse_time)
        {
            e.off_schedule = Some(!asset.change_windows.iter().any(|w| w.contains(t)));
        }
        e.unexpected = e.count();
        Some(e)
    }
}

/// One expectation from a baseline and an inventory: a fact unexpected in either is
/// unexpected; the place is unknown only when neither knows it.
pub fn combine(
    baseline: Option<Expectation>,
    inventory: Option<Expectation>,
) -> Option<Expectation> {
    match (baseline, inventory) {
        (None, x) | (x, None) => x,
        (Some(mut b), Some(i)) => {
            b.scope_unknown &= i.scope_unknown;
            b.deployer_known &= i.deployer_known;
            for img in i.new_images {
                if !b.new_images.contains(&img) {
                    b.new_images.push(img);
                }
            }
            b.off_schedule = match (b.off_schedule, i.off_schedule) {
                (Some(x), Some(y)) => Some(x || y),
                (x, y) => x.or(y),
            };
            b.unexpected = b.count();
            Some(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_in_both_forms() {
        let w = Window::parse("mon-fri 09:00-18:00").expect("window");
        // 2026-11-16 is a Monday.
        let mon = |h: f64| 1_794_787_200.0 + h * 3600.0;
        assert!(w.contains(mon(9.5)));
        assert!(w.contains(mon(17.9)));
        assert!(!w.contains(mon(18.1)));
        assert!(!w.contains(mon(5.0 * 24.0 + 10.0)), "Saturday");
        let r = Window::parse("FREQ=WEEKLY;BYDAY=SA;BYHOUR=2,3").expect("rrule");
        assert!(r.contains(mon(5.0 * 24.0 + 2.5)));
        assert!(!r.contains(mon(2.5)));
        let night = Window::parse("daily 22:00-02:00").expect("night");
        assert!(
            night.contains(mon(23.0)) && night.contains(mon(25.0)) && !night.contains(mon(3.0))
        );
        assert!(Window::parse("someday 9-5").is_err());
        let cron = Window::parse("* 9-17 * * 1-5").expect("cron");
        assert!(cron.contains(mon(9.5)) && cron.contains(mon(17.5)) && !cron.contains(mon(18.5)));
        assert!(!cron.contains(mon(5.0 * 24.0 + 10.0)), "Saturday");
        let sunday = Window::parse("0 3 * * SUN").expect("cron names");
        assert!(sunday.contains(mon(6.0 * 24.0 + 3.5)));
        assert!(Window::parse("* 25 * * *").is_err());
        assert!(Window::parse("FREQ=WEEKLY;BYHOUR=25").is_err());
    }

    #[test]
    fn csv_and_json_rows_and_located_errors() {
        let csv = "scope,owner,environment,registries,images,deployers,change_windows\n\
            k8s/payments,payments-team,prod,ghcr.io,docker.io/library/nginx,system:serviceaccount:cicd:*,mon-fri 09:00-18:00\n\
            host/node-1,platform,prod,,,,\n";
        let inv = Inventory::parse(csv, "inv.csv").expect("csv");
        assert_eq!(inv.assets.len(), 2);
        assert_eq!(
            inv.assets[0].deployers,
            vec!["system:serviceaccount:cicd:*".to_string()]
        );
        let json =
            r#"[{"scope": "k8s/shop", "registries": ["ghcr.io"], "change_windows": "sat 02-04"}]"#;
        assert_eq!(
            Inventory::parse(json, "inv.json")
                .expect("json")
                .assets
                .len(),
            1
        );
        let bad = "scope,change_windows\nk8s/x,someday 9-5\n";
        let e = Inventory::parse(bad, "inv.csv").expect_err("refused");
        assert!(e.contains("inv.csv") && e.contains("change_windows"), "{e}");
        let e = Inventory::parse("[{\"owner\": 1}]", "inv.json").expect_err("refused");
        assert!(e.contains("inv.json"), "{e}");
    }
}
