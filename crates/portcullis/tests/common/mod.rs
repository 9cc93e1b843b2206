#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

pub const SHARED: &str = "../../../shared";

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("portcullis runs")
}

pub fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portcullis runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// Alerts of a `--format jsonl` run.
pub fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

pub fn rank(sev: &str) -> u8 {
    match sev {
        "info" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        other => panic!("unknown severity {other}"),
    }
}

/// Highest severity and rule ids per (file, document).
pub fn by_document(alerts: &[Value]) -> BTreeMap<(String, u64), (u8, Vec<String>)> {
    let mut m: BTreeMap<(String, u64), (u8, Vec<String>)> = BTreeMap::new();
    for a in alerts {
        let key = (
            a["source"]["file"].as_str().unwrap_or_default().to_string(),
            a["source"]["document"].as_u64().unwrap_or_default(),
        );
        let e = m.entry(key).or_insert((0, Vec::new()));
        e.0 = e.0.max(rank(a["severity"].as_str().unwrap_or("info")));
        e.1.push(a["rule"]["id"].as_str().unwrap_or_default().to_string());
    }
    m
}

/// Highest severity per file (0 when a file has no alert at all is indistinguishable from
/// info: callers check rule ids when that matters).
pub fn max_by_file(alerts: &[Value]) -> BTreeMap<String, (u8, Vec<String>)> {
    let mut m: BTreeMap<String, (u8, Vec<String>)> = BTreeMap::new();
    for ((file, _), (sev, rules)) in by_document(alerts) {
        let e = m.entry(file).or_insert((0, Vec::new()));
        e.0 = e.0.max(sev);
        e.1.extend(rules);
    }
    m
}
