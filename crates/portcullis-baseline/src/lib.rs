//! Baselines: what deployments are *expected* in each place, learnt from what was seen,
//! so a deployment can be judged against its context and not only its spec (MITRE's
//! "unexpected or unauthorized containers", "not aligned with expected images or known
//! administrative schedules").
//!
//! A baseline is a YAML file made to live in git, reviewed and diffed like code. Per scope
//! (`k8s/<namespace>`, `docker/<compose project or container>`) it holds the deployers
//! seen, their user agents and source networks, the workload kinds, the node targets,
//! the hours of the week deploys happen in, and per workload the image repositories (with
//! each tag's digest) and the powers its pods use. Every set is capped, so a noisy
//! cluster cannot blow it up: what does not fit is counted in `dropped`, not stored.
//!
//! Learning never absorbs what the pack rates high or critical: the caller judges first
//! and passes only the rest to [`Learner::learn`] (an attacker's privileged pod during the
//! learning period must not become "expected").

pub mod inventory;

use portcullis_model::{Deployment, Expectation, PodSpec, time};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Caps on what one scope keeps.
pub const MAX_DEPLOYERS: usize = 64;
pub const MAX_WORKLOADS: usize = 512;
pub const MAX_IMAGES: usize = 64;
pub const MAX_VALUES: usize = 64;
/// A scope needs this many learnt deploys before "outside its schedule" means anything.
pub const MIN_DEPLOYS_FOR_SCHEDULE: u64 = 20;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    pub version: u32,
    /// What it was learnt from: first and last record time, how many deployments.
    #[serde(default)]
    pub learnt: Learnt,
    #[serde(default)]
    pub scopes: BTreeMap<String, Scope>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Learnt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default)]
    pub deployments: u64,
    /// Deployments not learnt because the pack rated them high or critical.
    #[serde(default)]
    pub refused_risky: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Scope {
    #[serde(default)]
    pub deploys: u64,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub deployers: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub user_agents: BTreeSet<String>,
    /// Source addresses as /24 (IPv4) or /64 (IPv6) networks.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub source_networks: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub kinds: BTreeSet<String>,
    /// Image repositories any workload of the scope ran.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub images: BTreeSet<String>,
    /// `node:NAME`, `selector:KEY=VALUE`, `control-plane`.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub node_targets: BTreeSet<String>,
    /// The most deploys seen in one clock hour while learning (the scope's cadence).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub busiest_hour: u64,
    /// Hours of the week deploys happened in, `mon-09` … `sun-23` (UTC).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub hours: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub workloads: BTreeMap<String, Workload>,
    /// Values not stored because a cap was reached.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Workload {
    /// Image repository → tag → digests seen for it (empty when never pinned).
    #[serde(default)]
    pub images: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// The powers its pods used: `privileged`, `hostNetwork`, `cap:NET_ADMIN`,
    /// `hostPath:/var/log`, …
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub privileges: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub service_accounts: BTreeSet<String>,
    /// A CronJob's schedules (`0 2 * * *`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub schedules: BTreeSet<String>,
}

/// The scope a deployment falls in, or `None` when it names no place (a bare process).
pub fn scope_of(d: &Deployment) -> Option<String> {
    let labels = &d.target.labels;
    let label = |k: &str| {
        labels
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    match d.target.api_version.as_str() {
        "docker" | "podman" | "containerd" => {
            let place = label("com.docker.compose.project")
                .map(str::to_string)
                .or_else(|| d.target.name.clone())?;
            Some(format!("{}/{place}", d.target.api_version))
        }
        _ if d.target.kind == "Process" || d.target.kind == "Manifest" => None,
        _ => Some(format!(
            "k8s/{}",
            d.target.namespace.as_deref().unwrap_or("default")
        )),
    }
}

/// The workload a deployment belongs to: the workload a controller's pod was made for,
/// its owner, or itself (a generated name's prefix, so replicas share one entry).
pub fn workload_of(d: &Deployment) -> String {
    if let Some(w) = &d.created_for {
        return format!("{}/{}", w.kind, w.name);
    }
    if let Some(o) = d
        .target
        .owner_references
        .iter()
        .find(|o| o.controller)
        .or(d.target.owner_references.first())
    {
        return format!("{}/{}", o.kind, o.name);
    }
    let name = d.target.name.as_deref().unwrap_or("");
    format!("{}/{}", d.target.kind, name)
}

fn node_targets(pod: &PodSpec) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(n) = &pod.node_name {
        out.insert(format!("node:{n}"));
    }
    for (k, v) in &pod.node_selector {
        if k.starts_with("node-role.kubernetes.io/") {
            out.insert("control-plane".into());
        } else {
            out.insert(format!("selector:{k}={v}"));
        }
    }
    for t in &pod.tolerations {
        if t.key.as_deref().is_some_and(|k| {
            k == "node-role.kubernetes.io/control-plane" || k == "node-role.kubernetes.io/master"
        }) || (t.key.is_none() && t.operator == "Exists")
        {
            out.insert("control-plane".into());
        }
    }
    out
}

const DAYS: [&str; 7] = ["thu", "fri", "sat", "sun", "mon", "tue", "wed"];

/// `mon-09`: the hour of the week (UTC) of an RFC 3339 time.
pub fn hour_of_week(t: &str) -> Option<String> {
    let secs = time::parse_time(t)? as i64;
    let days = secs.div_euclid(86_400);
    let hour = secs.rem_euclid(86_400) / 3600;
    Some(format!("{}-{hour:02}", DAYS[days.rem_euclid(7) as usize]))
}

/// The hours next to one (an hour either side), so a deploy at 09:58 and one at 10:03
/// count as the same habit.
fn neighbours(how: &str) -> Vec<String> {
    let Some((day, hour)) = how.split_once('-') else {
        return vec![how.to_string()];
    };
    let (Some(d), Ok(h)) = (DAYS.iter().position(|x| *x == day), hour.parse::<i64>()) else {
        return vec![how.to_string()];
    };
    let at = d as i64 * 24 + h;
    [-1, 0, 1]
        .iter()
        .map(|o| {
            let x = (at + o).rem_euclid(168);
            format!("{}-{:02}", DAYS[(x / 24) as usize], x % 24)
        })
        .collect()
}

fn network(ip: &str) -> String {
    if let Ok(v4) = ip.parse::<std::net::Ipv4Addr>() {
        let o = v4.octets();
        format!("{}.{}.{}.0/24", o[0], o[1], o[2])
    } else if let Ok(v6) = ip.parse::<std::net::Ipv6Addr>() {
        let s = v6.segments();
        format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
    } else {
        ip.to_string()
    }
}

fn capped(set: &mut BTreeSet<String>, value: String, cap: usize, dropped: &mut u64) {
    if set.contains(&value) {
        return;
    }
    if set.len() >= cap {
        *dropped += 1;
        return;
    }
    set.insert(value);
}

/// Builds a baseline from deployments, in any order.
#[derive(Debug, Default)]
pub struct Learner {
    pub baseline: Baseline,
    /// Deploys per scope in the clock hour being counted.
    hours: Cadence,
}

/// Deploys per scope per clock hour (since the epoch), for the cadence: while learning it
/// finds each scope's busiest hour; while judging it tells a burst from the usual pace.
#[derive(Debug, Default)]
pub struct Cadence {
    current: BTreeMap<String, (i64, u64)>,
}

impl Cadence {
    /// Count one deploy of `scope` at `time`; the count of its hour so far.
    pub fn count(&mut self, scope: &str, time: Option<&str>) -> Option<u64> {
        let hour = (time.and_then(time::parse_time)? / 3600.0).floor() as i64;
        let slot = self.current.entry(scope.to_string()).or_insert((hour, 0));
        if slot.0 != hour {
            *slot = (hour, 0);
        }
        slot.1 += 1;
        Some(slot.1)
    }
}

/// A burst: more deploys in one hour than three times the busiest hour learnt, and at
/// least ten more (a quiet scope's two deploys are not a burst of six).
pub fn is_burst(count: u64, busiest: u64) -> bool {
    busiest > 0 && count > busiest.saturating_mul(3).max(busiest + 10)
}

impl Learner {
    pub fn new(from: Baseline) -> Learner {
        Learner {
            baseline: from,
            hours: Cadence::default(),
        }
    }

    /// Count a deployment the pack rated high or critical: seen, not learnt.
    pub fn refuse_risky(&mut self) {
        self.baseline.learnt.refused_risky += 1;
    }

    /// Learn what one (not risky) deployment shows of its scope.
    pub fn learn(&mut self, d: &Deployment) {
        // An exec or attach runs in a pod; it deploys nothing.
        if matches!(
            d.operation,
            portcullis_model::Operation::Exec | portcullis_model::Operation::Attach
        ) {
            return;
        }
        if matches!(
            d.outcome,
            portcullis_model::Outcome::Denied | portcullis_model::Outcome::Attempted
        ) && d.origin.kind == "k8s_audit"
        {
            // A request the API server refused shows what someone tried, not the place.
            return;
        }
        let Some(scope_key) = scope_of(d) else {
            return;
        };
        let b = &mut self.baseline;
        b.version = 1;
        b.learnt.deployments += 1;
        if let Some(t) = d.time.as_deref() {
            let secs = time::parse_time(t);
            let earlier = |a: &Option<String>| {
                a.as_deref()
                    .and_then(time::parse_time)
                    .zip(secs)
                    .is_none_or(|(x, y)| y < x)
            };
            let later = |a: &Option<String>| {
                a.as_deref()
                    .and_then(time::parse_time)
                    .zip(secs)
                    .is_none_or(|(x, y)| y > x)
            };
            if secs.is_some() && earlier(&b.learnt.from) {
                b.learnt.from = Some(time::normalize(t));
            }
            if secs.is_some() && later(&b.learnt.to) {
                b.learnt.to = Some(time::normalize(t));
            }
        }
        let in_hour = self.hours.count(&scope_key, d.time.as_deref());
        let scope = b.scopes.entry(scope_key).or_default();
        scope.deploys += 1;
        if let Some(n) = in_hour {
            scope.busiest_hour = scope.busiest_hour.max(n);
        }
        let mut dropped = 0;
        if let Some(u) = &d.actor.user {
            capped(&mut scope.deployers, u.clone(), MAX_DEPLOYERS, &mut dropped);
        }
        if let Some(ua) = &d.actor.user_agent {
            // The client and its version, not the platform suffix.
            let client = ua.split_whitespace().next().unwrap_or(ua).to_string();
            capped(&mut scope.user_agents, client, MAX_VALUES, &mut dropped);
        }
        for ip in &d.actor.source_ips {
            capped(
                &mut scope.source_networks,
                network(ip),
                MAX_VALUES,
                &mut dropped,
            );
        }
        capped(
            &mut scope.kinds,
            d.target.kind.clone(),
            MAX_VALUES,
            &mut dropped,
        );
        if let Some(how) = d.time.as_deref().and_then(hour_of_week) {
            capped(&mut scope.hours, how, 168, &mut dropped);
        }
        if let Some(pod) = &d.pod {
            for t in node_targets(pod) {
                capped(&mut scope.node_targets, t, MAX_VALUES, &mut dropped);
            }
            let key = workload_of(d);
            if !scope.workloads.contains_key(&key) && scope.workloads.len() >= MAX_WORKLOADS {
                dropped += 1;
            } else {
                let w = scope.workloads.entry(key).or_default();
                for c in &pod.containers {
                    let repo = c.image.name().to_string();
                    if repo.is_empty() {
                        continue;
                    }
                    capped(&mut scope.images, repo.clone(), MAX_IMAGES, &mut dropped);
                    if !w.images.contains_key(&repo) && w.images.len() >= MAX_IMAGES {
                        dropped += 1;
                        continue;
                    }
                    let tags = w.images.entry(repo).or_default();
                    let tag = c.image.effective_tag().unwrap_or("").to_string();
                    let digests = tags.entry(tag).or_default();
                    if let Some(dg) = &c.image.digest {
                        capped(digests, dg.clone(), MAX_VALUES, &mut dropped);
                    }
                }
                for p in pod.powers() {
                    capped(&mut w.privileges, p, MAX_VALUES, &mut dropped);
                }
                if let Some(sa) = &pod.service_account {
                    capped(
                        &mut w.service_accounts,
                        sa.clone(),
                        MAX_VALUES,
                        &mut dropped,
                    );
                }
                if let Some(cron) = &d.target.schedule {
                    capped(&mut w.schedules, cron.clone(), MAX_VALUES, &mut dropped);
                }
            }
        }
        scope.dropped += dropped;
    }
}

impl Baseline {
    pub fn from_yaml(text: &str) -> Result<Baseline, String> {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())
    }

    pub fn to_yaml(&self) -> String {
        let mut b = self.clone();
        b.version = 1;
        serde_saphyr::to_string(&b).unwrap_or_default()
    }

    /// [`Baseline::expectation`], and whether the deployment is part of a burst: more
    /// deploys in its scope this hour than the cadence learnt (`cadence` counts them).
    pub fn expectation_paced(&self, d: &Deployment, cadence: &mut Cadence) -> Option<Expectation> {
        let mut e = self.expectation(d)?;
        if let (Some(scope), Some(n)) = (
            self.scopes.get(&e.scope),
            cadence.count(&e.scope, d.time.as_deref()),
        ) && is_burst(n, scope.busiest_hour)
        {
            e.burst = Some(n);
            e.unexpected = e.count();
        }
        Some(e)
    }

    /// Compare one deployment with what its scope expects; `None` when it names no scope.
    pub fn expectation(&self, d: &Deployment) -> Option<Expectation> {
        let key = scope_of(d)?;
        let mut e = Expectation {
            scope: key.clone(),
            ..Expectation::default()
        };
        let Some(scope) = self.scopes.get(&key) else {
            // Nothing is known of the place, so nothing of its deployers either.
            e.scope_unknown = true;
            e.deployer_known = true;
            e.unexpected = e.count();
            return Some(e);
        };
        e.deployer_known = d
            .actor
            .user
            .as_ref()
            .is_none_or(|u| scope.deployers.contains(u));
        if let Some(pod) = &d.pod {
            let workload = scope.workloads.get(&workload_of(d));
            for c in &pod.containers {
                let repo = c.image.name();
                if repo.is_empty() {
                    continue;
                }
                let known = match workload {
                    Some(w) => w.images.contains_key(repo),
                    None => scope.images.contains(repo),
                };
                if !known && !e.new_images.iter().any(|x| x == repo) {
                    e.new_images.push(repo.to_string());
                }
                if let (Some(w), Some(dg), Some(tag)) =
                    (workload, &c.image.digest, c.image.effective_tag())
                    && let Some(seen) = w.images.get(repo).and_then(|t| t.get(tag))
                    && !seen.is_empty()
                    && !seen.contains(dg)
                {
                    e.digest_changed.push(format!("{repo}:{tag}"));
                }
            }
            if let Some(w) = workload {
                e.new_privileges = pod
                    .powers()
                    .into_iter()
                    .filter(|p| !w.privileges.contains(p))
                    .collect();
                e.new_schedule = d
                    .target
                    .schedule
                    .clone()
                    .filter(|s| !w.schedules.is_empty() && !w.schedules.contains(s));
            }
            e.new_node_targets = node_targets(pod)
                .into_iter()
                .filter(|t| !scope.node_targets.contains(t))
                .collect();
        }
        if scope.deploys >= MIN_DEPLOYS_FOR_SCHEDULE
            && !scope.hours.is_empty()
            && let Some(how) = d.time.as_deref().and_then(hour_of_week)
        {
            e.off_schedule = Some(!neighbours(&how).iter().any(|h| scope.hours.contains(h)));
        }
        e.unexpected = e.count();
        Some(e)
    }

    /// Everything `other` knows is added to this one (caps still apply).
    pub fn merge(&mut self, other: &Baseline) {
        self.version = 1;
        self.learnt.deployments += other.learnt.deployments;
        self.learnt.refused_risky += other.learnt.refused_risky;
        for (slot, pick_earlier) in [(&other.learnt.from, true), (&other.learnt.to, false)] {
            let mine = if pick_earlier {
                &mut self.learnt.from
            } else {
                &mut self.learnt.to
            };
            let better = match (
                mine.as_deref().and_then(time::parse_time),
                slot.as_deref().and_then(time::parse_time),
            ) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(a), Some(b)) => (b < a) == pick_earlier,
            };
            if better {
                *mine = slot.clone();
            }
        }
        for (key, theirs) in &other.scopes {
            let mine = self.scopes.entry(key.clone()).or_default();
            mine.deploys += theirs.deploys;
            mine.busiest_hour = mine.busiest_hour.max(theirs.busiest_hour);
            let mut dropped = theirs.dropped;
            for (dst, src, cap) in [
                (&mut mine.deployers, &theirs.deployers, MAX_DEPLOYERS),
                (&mut mine.user_agents, &theirs.user_agents, MAX_VALUES),
                (
                    &mut mine.source_networks,
                    &theirs.source_networks,
                    MAX_VALUES,
                ),
                (&mut mine.kinds, &theirs.kinds, MAX_VALUES),
                (&mut mine.images, &theirs.images, MAX_IMAGES),
                (&mut mine.node_targets, &theirs.node_targets, MAX_VALUES),
                (&mut mine.hours, &theirs.hours, 168),
            ] {
                for v in src {
                    capped(dst, v.clone(), cap, &mut dropped);
                }
            }
            for (wk, w) in &theirs.workloads {
                if !mine.workloads.contains_key(wk) && mine.workloads.len() >= MAX_WORKLOADS {
                    dropped += 1;
                    continue;
                }
                let m = mine.workloads.entry(wk.clone()).or_default();
                for (repo, tags) in &w.images {
                    let mt = m.images.entry(repo.clone()).or_default();
                    for (tag, digests) in tags {
                        mt.entry(tag.clone())
                            .or_default()
                            .extend(digests.iter().cloned());
                    }
                }
                m.privileges.extend(w.privileges.iter().cloned());
                m.service_accounts
                    .extend(w.service_accounts.iter().cloned());
                m.schedules.extend(w.schedules.iter().cloned());
            }
            mine.dropped += dropped;
        }
    }

    /// What `newer` has that this one does not, and what it lost: one line a fact,
    /// `+ scope: what` or `- scope: what`, for review before a baseline is trusted.
    pub fn diff(&self, newer: &Baseline) -> Vec<String> {
        let mut out = Vec::new();
        let empty = Scope::default();
        let keys: BTreeSet<&String> = self.scopes.keys().chain(newer.scopes.keys()).collect();
        for key in keys {
            let a = self.scopes.get(key).unwrap_or(&empty);
            let b = newer.scopes.get(key).unwrap_or(&empty);
            if !self.scopes.contains_key(key) {
                out.push(format!("+ {key}: new scope"));
            } else if !newer.scopes.contains_key(key) {
                out.push(format!("- {key}: scope gone"));
            }
            for (what, x, y) in [
                ("deployer", &a.deployers, &b.deployers),
                ("user agent", &a.user_agents, &b.user_agents),
                ("source network", &a.source_networks, &b.source_networks),
                ("kind", &a.kinds, &b.kinds),
                ("image", &a.images, &b.images),
                ("node target", &a.node_targets, &b.node_targets),
                ("hour", &a.hours, &b.hours),
            ] {
                for v in y.difference(x) {
                    out.push(format!("+ {key}: {what} {v}"));
                }
                for v in x.difference(y) {
                    out.push(format!("- {key}: {what} {v}"));
                }
            }
            let wkeys: BTreeSet<&String> = a.workloads.keys().chain(b.workloads.keys()).collect();
            let none = Workload::default();
            for wk in wkeys {
                let (x, y) = (
                    a.workloads.get(wk).unwrap_or(&none),
                    b.workloads.get(wk).unwrap_or(&none),
                );
                for p in y.privileges.difference(&x.privileges) {
                    out.push(format!("+ {key} {wk}: privilege {p}"));
                }
                for p in x.privileges.difference(&y.privileges) {
                    out.push(format!("- {key} {wk}: privilege {p}"));
                }
                for c in y.schedules.difference(&x.schedules) {
                    out.push(format!("+ {key} {wk}: schedule {c}"));
                }
                for c in x.schedules.difference(&y.schedules) {
                    out.push(format!("- {key} {wk}: schedule {c}"));
                }
                for repo in y.images.keys().filter(|r| !x.images.contains_key(*r)) {
                    out.push(format!("+ {key} {wk}: image {repo}"));
                }
                for repo in x.images.keys().filter(|r| !y.images.contains_key(*r)) {
                    out.push(format!("- {key} {wk}: image {repo}"));
                }
            }
        }
        out
    }

    /// A readable summary, one scope a line, for `baseline show`.
    pub fn summary(&self) -> Vec<String> {
        let mut out = vec![format!(
            "learnt from {} deployments ({} refused as risky), {} … {}",
            self.learnt.deployments,
            self.learnt.refused_risky,
            self.learnt.from.as_deref().unwrap_or("?"),
            self.learnt.to.as_deref().unwrap_or("?"),
        )];
        for (key, s) in &self.scopes {
            let privileged: BTreeSet<&String> = s
                .workloads
                .values()
                .flat_map(|w| w.privileges.iter())
                .collect();
            out.push(format!(
                "{key}: {} deploys by {} deployer(s) [{}], {} workload(s), {} image(s), {} hour(s) of the week{}{}",
                s.deploys,
                s.deployers.len(),
                s.deployers.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                s.workloads.len(),
                s.images.len(),
                s.hours.len(),
                if privileged.is_empty() {
                    String::new()
                } else {
                    format!(", powers used: {}", privileged.into_iter().cloned().collect::<Vec<_>>().join(" "))
                },
                if s.dropped > 0 {
                    format!(", {} value(s) over the caps", s.dropped)
                } else {
                    String::new()
                }
            ));
        }
        out
    }
}
