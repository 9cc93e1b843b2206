//! Process-creation logs → [`Deployment`]s: ECS JSON (Elastic Agent, Auditbeat,
//! Winlogbeat), Sysmon event 1 XML (Linux, in syslog, one event per line; Windows exports),
//! Windows Security 4688 XML, and auditd (`EXECVE` joined with `SYSCALL` by serial, hex
//! arguments, `PROCTITLE`).
//!
//! Every record becomes an argv, and the argv goes through [`crate::cmdline`]: the
//! deployment is whatever the tool would have done. A process that only mentions these
//! tools produces nothing. Besides deployment commands, the escape follow-ons the pack
//! judges on the host (block-device mounts, cron and SSH-key writes, nsenter into PID 1,
//! reverse shells) are kept as `Process` records.

use crate::{SourceError, cmdline};
use portcullis_model::shell;
use portcullis_model::{Deployment, Operation, Origin, Outcome, ProcessInfo, Target};
use quick_xml::events::Event as XmlEvent;
use serde_json::Value;
use std::collections::HashMap;

/// Words that make a non-deployment command worth judging on the host (T1611 follow-ons).
const ESCAPE_HINTS: &[&str] = &[
    "mount",
    "nsenter",
    "chroot",
    "/dev/tcp/",
    "crontab",
    "cron.d",
    "authorized_keys",
    "ld.so.preload",
    "release_agent",
    "core_pattern",
    "ncat",
    "netcat",
    "socat",
    "unshare",
];

/// The deployments (or host follow-ons) of one process record.
pub fn from_process(
    origin: Origin,
    time: Option<String>,
    user: Option<String>,
    process: ProcessInfo,
) -> Vec<Deployment> {
    if process.argv.is_empty() {
        return Vec::new();
    }
    let base = cmdline::process_base(origin, time, user, process);
    let argv = base
        .process
        .as_ref()
        .map(|p| p.argv.clone())
        .unwrap_or_default();
    let found = cmdline::analyze(&argv, &base);
    if !found.is_empty() {
        return found;
    }
    // Under another name (`exec -a kworker docker …`): what runs is the executable, so its
    // grammar reads the arguments.
    if let Some(exe) = base.process.as_ref().and_then(|p| p.executable.clone())
        && argv.len() > 1
        && !portcullis_model::shell::base_name(&exe)
            .eq_ignore_ascii_case(portcullis_model::shell::base_name(&argv[0]))
    {
        let mut as_run = argv.clone();
        as_run[0] = exe;
        let found = cmdline::analyze(&as_run, &base);
        if !found.is_empty() {
            return found;
        }
    }
    let line = base
        .process
        .as_ref()
        .map(|p| p.command_line.clone())
        .unwrap_or_default();
    if ESCAPE_HINTS.iter().any(|h| line.contains(h)) {
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (tool, _) = shell::unwrap(&refs);
        let mut d = Deployment {
            operation: Operation::Exec,
            outcome: Outcome::Created,
            target: Target {
                kind: "Process".into(),
                name: Some(tool.to_string()),
                ..Target::default()
            },
            ..base
        };
        if let Some(p) = d.process.as_mut() {
            p.tool = tool.to_string();
        }
        return vec![d];
    }
    Vec::new()
}

/// Split a command line into argv: Windows rules for `.exe` images and `C:\` paths.
/// On Linux a logged command line is the argv joined by spaces with no quoting (Sysmon,
/// auditd's PROCTITLE, Auditbeat's `command_line`), so a shell split would be wrong:
/// split on spaces, then put back what spaces broke — an `sh -c` body is the rest of the
/// line, and a JSON value (`--overrides {"spec": …}`) runs until it parses.
/// The argv of a logged command line, knowing the executable: a Windows line that starts
/// with an unquoted path holding spaces (`C:\Program Files\Docker\docker.exe run …`) keeps
/// that path whole as argv[0], as Windows itself resolved it.
pub fn split_logged(line: &str, executable: Option<&str>, windows: bool) -> Vec<String> {
    if let Some(exe) = executable.filter(|e| e.contains(' '))
        && line.len() >= exe.len()
        && line.is_char_boundary(exe.len())
        && line[..exe.len()].eq_ignore_ascii_case(exe)
        && line[exe.len()..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
    {
        let mut argv = vec![exe.to_string()];
        argv.extend(split_command_line(&line[exe.len()..], windows));
        return argv;
    }
    split_command_line(line, windows)
}

pub fn split_command_line(line: &str, windows: bool) -> Vec<String> {
    if windows {
        return windows_argv(line);
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let shell_c = out
            .last()
            .is_some_and(|prev| shell::SHELLS.contains(&shell::base_name(prev)))
            && w.starts_with('-')
            && !w.starts_with("--")
            && w.contains('c');
        if shell_c {
            out.push(w.to_string());
            if i + 1 < words.len() {
                out.push(words[i + 1..].join(" "));
            }
            break;
        }
        if (w.starts_with('{') || w.starts_with('[')) && serde_json::from_str::<Value>(w).is_err() {
            let mut joined = w.to_string();
            let mut j = i + 1;
            while j < words.len() && j - i < 256 {
                joined.push(' ');
                joined.push_str(words[j]);
                j += 1;
                if serde_json::from_str::<Value>(&joined).is_ok() {
                    out.push(joined.clone());
                    i = j;
                    break;
                }
            }
            if i == j {
                continue;
            }
        }
        out.push(w.to_string());
        i += 1;
    }
    out
}

/// `CommandLineToArgvW`: backslashes are literal unless they precede a quote.
fn windows_argv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut has = false;
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let mut n = 0;
            while i < chars.len() && chars[i] == '\\' {
                n += 1;
                i += 1;
            }
            if i < chars.len() && chars[i] == '"' {
                cur.extend(std::iter::repeat_n('\\', n / 2));
                if n % 2 == 1 {
                    cur.push('"');
                    i += 1;
                }
            } else {
                cur.extend(std::iter::repeat_n('\\', n));
            }
            has = true;
            continue;
        }
        match c {
            '"' => {
                in_quotes = !in_quotes;
                has = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            c => {
                cur.push(c);
                has = true;
            }
        }
        i += 1;
    }
    if has {
        out.push(cur);
    }
    out
}

fn looks_windows(exe: Option<&str>, line: &str) -> bool {
    exe.is_some_and(|e| e.to_ascii_lowercase().ends_with(".exe") || e.contains('\\'))
        || line.contains(":\\")
}

/// A dotted path in an ECS document: nested objects, or flat `a.b.c` keys.
fn ecs<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(flat) = v.get(path) {
        return Some(flat);
    }
    let mut cur = v;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        match cur.get(*p) {
            Some(next) => cur = next,
            None => {
                // Mixed: `process` nested, `parent.command_line` flat inside it.
                let rest = parts[i..].join(".");
                return cur.get(rest.as_str());
            }
        }
    }
    Some(cur)
}

fn ecs_str(v: &Value, path: &str) -> Option<String> {
    ecs(v, path)
        .and_then(crate::value::scalar)
        .filter(|s| !s.is_empty())
}

/// Words without which a process record can be neither a deployment nor an escape
/// follow-on. A complete line that contains none of them is skipped unparsed: most
/// processes on a host are neither.
static NEEDLES: std::sync::LazyLock<aho_corasick::AhoCorasick> = std::sync::LazyLock::new(|| {
    let mut words = vec![
        "docker", "podman", "nerdctl", "kubectl", "\"oc\"", "/oc\"", "helm", "ctr", "crictl",
        "curl", "wget", "compose",
    ];
    words.extend_from_slice(ESCAPE_HINTS);
    aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(words)
        .expect("a fixed list of plain words always compiles")
});

/// True when a whole-looking line mentions nothing worth parsing.
pub fn skippable(text: &str) -> bool {
    let t = text.trim();
    t.starts_with('{') && t.ends_with('}') && !NEEDLES.is_match(t)
}

/// One ECS JSON line (Elastic Agent / Auditbeat / Winlogbeat process events).
pub fn ecs_line(text: &str, file: &str, line: usize) -> Result<Vec<Deployment>, SourceError> {
    if skippable(text) {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_str(text)
        .map_err(|e| SourceError::json(file, line, "invalid ECS JSON", &e))?;
    // Only process starts (ECS `event.type: start`, Sysmon 1, Security 4688) are creations.
    let event_type = ecs(&v, "event.type")
        .map(crate::value::string_list)
        .unwrap_or_default();
    let code = ecs_str(&v, "event.code").or_else(|| ecs_str(&v, "winlog.event_id"));
    let is_start = event_type.iter().any(|t| t == "start")
        || matches!(code.as_deref(), Some("1" | "4688"))
        || (event_type.is_empty() && code.is_none());
    if !is_start {
        return Ok(Vec::new());
    }
    let data = |k: &str| ecs_str(&v, &format!("winlog.event_data.{k}"));
    let command_line = ecs_str(&v, "process.command_line")
        .or_else(|| data("CommandLine"))
        .unwrap_or_default();
    let executable = ecs_str(&v, "process.executable")
        .or_else(|| data("Image"))
        .or_else(|| data("NewProcessName"));
    let windows = looks_windows(executable.as_deref(), &command_line);
    let argv = match ecs(&v, "process.args") {
        Some(Value::Array(a)) if !a.is_empty() => {
            a.iter().filter_map(crate::value::scalar).collect()
        }
        _ => split_logged(&command_line, executable.as_deref(), windows),
    };
    let command_line = if command_line.is_empty() {
        argv.join(" ")
    } else {
        command_line
    };
    let origin = Origin {
        kind: "ecs".into(),
        file: file.into(),
        line,
        document: 0,
        record_id: ecs_str(&v, "event.id").or_else(|| ecs_str(&v, "winlog.record_id")),
    };
    let process = ProcessInfo {
        executable,
        command_line,
        argv,
        pid: ecs(&v, "process.pid").and_then(crate::value::as_int),
        parent_executable: ecs_str(&v, "process.parent.executable").or_else(|| data("ParentImage")),
        parent_command_line: ecs_str(&v, "process.parent.command_line")
            .or_else(|| data("ParentCommandLine")),
        host: ecs_str(&v, "host.hostname").or_else(|| ecs_str(&v, "host.name")),
        tool: String::new(),
    };
    let user = ecs_str(&v, "user.name")
        .or_else(|| data("User"))
        .or_else(|| data("SubjectUserName"));
    Ok(from_process(
        origin,
        ecs_str(&v, "@timestamp"),
        user,
        process,
    ))
}

/// One Windows-style XML `<Event>` (Sysmon for Linux in syslog, Sysmon or Security 4688
/// exported from Windows). `text` may carry a syslog prefix before `<Event`.
pub fn xml_event(
    text: &str,
    file: &str,
    line: usize,
    kind: &str,
) -> Result<Vec<Deployment>, SourceError> {
    let err = |m: String| SourceError::at(file, line, m);
    let Some(start) = text.find("<Event") else {
        return Ok(Vec::new());
    };
    let xml = &text[start..];
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut data_name: Option<String> = None;
    let mut fields: HashMap<String, String> = HashMap::new();
    let mut text_buf = String::new();
    loop {
        match reader.read_event() {
            Ok(XmlEvent::Start(e)) => {
                let name = e.local_name().as_ref().to_string();
                if name == "Data" {
                    data_name = e.try_get_attribute("Name").ok().flatten().and_then(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .ok()
                            .map(|v| v.into_owned())
                    });
                }
                path.push(name);
                text_buf.clear();
            }
            Ok(XmlEvent::Empty(e)) => {
                let name = e.local_name().as_ref().to_string();
                if name == "TimeCreated"
                    && let Ok(Some(a)) = e.try_get_attribute("SystemTime")
                    && let Ok(v) = a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                {
                    fields.insert("@time".into(), v.into_owned());
                }
            }
            Ok(XmlEvent::Text(t)) => text_buf.push_str(&t.xml10_content()),
            Ok(XmlEvent::CData(t)) => text_buf.push_str(&t.into_inner()),
            Ok(XmlEvent::GeneralRef(r)) => {
                if r.is_char_ref() {
                    if let Ok(Some(c)) = r.resolve_char_ref() {
                        text_buf.push(c);
                    }
                } else if let Some(s) =
                    quick_xml::escape::resolve_predefined_entity(&r.xml10_content())
                {
                    text_buf.push_str(s);
                }
            }
            Ok(XmlEvent::End(_)) => {
                let name = path.pop().unwrap_or_default();
                let key = if name == "Data" {
                    data_name.take()
                } else {
                    Some(name.clone())
                };
                if let Some(k) = key
                    && !text_buf.is_empty()
                {
                    fields.entry(k).or_insert_with(|| text_buf.clone());
                }
                text_buf.clear();
                if name == "Event" {
                    break;
                }
            }
            Ok(XmlEvent::Eof) => {
                if !path.is_empty() {
                    return Err(err(format!(
                        "truncated XML event (unclosed <{}>)",
                        path.join("><")
                    )));
                }
                break;
            }
            Ok(_) => {}
            Err(e) => return Err(err(format!("invalid XML event: {e}"))),
        }
    }
    let id = fields.get("EventID").map(String::as_str).unwrap_or("");
    if id != "1" && id != "4688" {
        return Ok(Vec::new());
    }
    let command_line = fields.get("CommandLine").cloned().unwrap_or_default();
    let executable = fields
        .get("Image")
        .or_else(|| fields.get("NewProcessName"))
        .cloned();
    let windows = looks_windows(executable.as_deref(), &command_line);
    let origin = Origin {
        kind: kind.into(),
        file: file.into(),
        line,
        document: 0,
        record_id: fields.get("EventRecordID").cloned(),
    };
    let process = ProcessInfo {
        argv: split_logged(&command_line, executable.as_deref(), windows),
        command_line,
        executable,
        pid: fields
            .get("ProcessId")
            .or_else(|| fields.get("NewProcessId"))
            .and_then(|p| {
                p.strip_prefix("0x")
                    .map_or_else(|| p.parse().ok(), |h| i64::from_str_radix(h, 16).ok())
            }),
        parent_executable: fields
            .get("ParentImage")
            .or_else(|| fields.get("ParentProcessName"))
            .cloned(),
        parent_command_line: fields.get("ParentCommandLine").cloned(),
        host: fields.get("Computer").cloned(),
        tool: String::new(),
    };
    let user = fields
        .get("User")
        .or_else(|| fields.get("SubjectUserName"))
        .cloned();
    let time = fields
        .get("UtcTime")
        .cloned()
        .or_else(|| fields.get("@time").cloned());
    Ok(from_process(origin, time, user, process))
}

/// auditd: records of one event share `msg=audit(<time>:<serial>)`; `EXECVE` holds the
/// arguments (hex when they contain spaces or quotes), `SYSCALL` the ids and `exe`,
/// `PROCTITLE` the (possibly truncated) command line; `EOE` ends the event.
#[derive(Default)]
pub struct AuditdReader {
    events: HashMap<String, AuditdEvent>,
    order: Vec<String>,
}

#[derive(Default)]
struct AuditdEvent {
    line: usize,
    time: Option<String>,
    args: Vec<(usize, String)>,
    proctitle: Option<String>,
    fields: HashMap<String, String>,
}

impl AuditdReader {
    /// Feed one line; finished events' deployments go to `out`.
    pub fn push(
        &mut self,
        text: &str,
        file: &str,
        line: usize,
        out: &mut Vec<Deployment>,
    ) -> Result<(), SourceError> {
        let err = |m: String| SourceError::at(file, line, m);
        let Some(t) = text.find("type=") else {
            return if text.trim().is_empty() {
                Ok(())
            } else {
                Err(err("not an auditd record (no type=)".into()))
            };
        };
        let rec = &text[t..];
        let kind = rec[5..].split_whitespace().next().unwrap_or("");
        let Some(m) = rec.find("msg=audit(") else {
            return Err(err("auditd record without msg=audit(…)".into()));
        };
        let stamp = &rec[m + 10..];
        let Some(close) = stamp.find(')') else {
            return Err(err("auditd record with a truncated msg=audit(…)".into()));
        };
        let (ts, serial) = stamp[..close]
            .split_once(':')
            .unwrap_or((&stamp[..close], ""));
        let body = stamp[close + 1..].trim_start_matches(':').trim();
        let key = serial.to_string();
        if kind == "EOE" {
            self.flush(&key, file, out);
            return Ok(());
        }
        if !self.events.contains_key(&key) {
            self.order.push(key.clone());
        }
        let ev = self.events.entry(key.clone()).or_default();
        if ev.line == 0 {
            ev.line = line;
            ev.time = Some(ts.to_string());
        }
        for (k, v) in audit_fields(body) {
            match kind {
                "EXECVE" => {
                    if let Some(n) = k
                        .strip_prefix('a')
                        .and_then(|n| n.split(['[', '_']).next())
                        .and_then(|n| n.parse::<usize>().ok())
                        && !k.contains("_len")
                    {
                        let value = decode_audit_value(&v);
                        // Split arguments (`a1[0]`, `a1[1]`) concatenate.
                        if let Some(existing) = ev.args.iter_mut().find(|(i, _)| *i == n) {
                            existing.1.push_str(&value);
                        } else {
                            ev.args.push((n, value));
                        }
                    }
                }
                "PROCTITLE" if k == "proctitle" => {
                    ev.proctitle = Some(decode_audit_value(&v).replace('\0', " "));
                }
                _ => {
                    ev.fields.entry(k).or_insert(v);
                }
            }
        }
        // Bound memory: events whose EOE never comes are flushed oldest first.
        if self.order.len() > 4096 {
            let old = self.order.remove(0);
            self.flush(&old, file, out);
        }
        Ok(())
    }

    pub fn finish(&mut self, file: &str, out: &mut Vec<Deployment>) {
        for key in std::mem::take(&mut self.order) {
            self.flush(&key, file, out);
        }
    }

    fn flush(&mut self, key: &str, file: &str, out: &mut Vec<Deployment>) {
        let Some(mut ev) = self.events.remove(key) else {
            return;
        };
        self.order.retain(|k| k != key);
        ev.args.sort_by_key(|(i, _)| *i);
        let argv: Vec<String> = if ev.args.is_empty() {
            ev.proctitle
                .as_deref()
                .map(|p| split_command_line(p, false))
                .unwrap_or_default()
        } else {
            ev.args.into_iter().map(|(_, a)| a).collect()
        };
        if argv.is_empty() {
            return;
        }
        let unquote = |s: &String| s.trim_matches('"').to_string();
        let uid = ev
            .fields
            .get("auid")
            .filter(|a| *a != "4294967295" && *a != "unset")
            .or_else(|| ev.fields.get("uid"));
        let origin = Origin {
            kind: "auditd".into(),
            file: file.into(),
            line: ev.line,
            document: 0,
            record_id: Some(key.to_string()),
        };
        let process = ProcessInfo {
            command_line: argv.join(" "),
            argv,
            executable: ev.fields.get("exe").map(unquote),
            pid: ev.fields.get("pid").and_then(|p| p.parse().ok()),
            parent_executable: None,
            parent_command_line: None,
            host: ev.fields.get("node").cloned(),
            tool: String::new(),
        };
        out.extend(from_process(
            origin,
            ev.time,
            uid.map(|u| format!("uid:{u}")),
            process,
        ));
    }
}

/// `key=value` pairs of an audit record; values may be `"quoted"`.
fn audit_fields(body: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_string();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (format!("\"{}\"", &q[..end]), &q[end + 1..]),
                None => (after.to_string(), ""),
            }
        } else {
            match after.find(' ') {
                Some(sp) => (after[..sp].to_string(), &after[sp..]),
                None => (after.to_string(), ""),
            }
        };
        out.push((key, value));
        rest = next.trim_start();
    }
    out
}

/// A quoted value is literal; an unquoted one is hex (auditd encodes any argument with
/// spaces, quotes or control characters), unless it is `(null)`.
fn decode_audit_value(v: &str) -> String {
    if let Some(q) = v.strip_prefix('"') {
        return q.trim_end_matches('"').to_string();
    }
    if v.len().is_multiple_of(2) && !v.is_empty() && v.chars().all(|c| c.is_ascii_hexdigit()) {
        let bytes: Vec<u8> = (0..v.len())
            .step_by(2)
            .filter_map(|i| u8::from_str_radix(&v[i..i + 2], 16).ok())
            .collect();
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02X}")).collect()
    }

    #[test]
    fn ecs_nested_and_flat() {
        let nested = r#"{"@timestamp":"2026-11-20T10:00:00Z","event":{"id":"e1","category":["process"],"type":["start"]},"process":{"executable":"/usr/bin/docker","command_line":"docker run --privileged -v /:/host alpine","pid":42,"parent":{"executable":"/bin/bash"}},"user":{"name":"mallory"},"host":{"hostname":"node-1"}}"#;
        let d = ecs_line(nested, "p.json", 3).expect("parses");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].origin.record_id.as_deref(), Some("e1"));
        assert_eq!(d[0].actor.user.as_deref(), Some("mallory"));
        assert_eq!(
            d[0].process.as_ref().map(|p| p.tool.as_str()),
            Some("docker")
        );
        let flat = r#"{"event.type":"start","process.args":["kubectl","exec","-it","web","--","sh"],"process.command_line":"kubectl exec -it web -- sh"}"#;
        assert_eq!(
            ecs_line(flat, "p.json", 1).expect("parses")[0].operation,
            Operation::Exec
        );
        let end = r#"{"event":{"type":["end"]},"process":{"command_line":"docker run --privileged alpine"}}"#;
        assert!(ecs_line(end, "p.json", 1).expect("parses").is_empty());
        let benign = r#"{"event":{"type":["start"]},"process":{"command_line":"git commit -m \"docker run --privileged\""}}"#;
        assert!(ecs_line(benign, "p.json", 1).expect("parses").is_empty());
    }

    #[test]
    fn sysmon_linux_and_windows_xml() {
        let linux = r#"Nov 20 10:00:00 node-1 sysmon: <Event><System><Provider Name="Linux-Sysmon" Guid="{ff032593-a8d3-4f13-b0d6-01fc615a0f97}"/><EventID>1</EventID><Version>5</Version><EventRecordID>9001</EventRecordID><Computer>node-1</Computer></System><EventData><Data Name="UtcTime">2026-11-20 10:00:00.000</Data><Data Name="ProcessId">4242</Data><Data Name="Image">/usr/bin/docker</Data><Data Name="CommandLine">docker run --privileged -v /:/host alpine chroot /host sh -c id</Data><Data Name="User">root</Data><Data Name="ParentImage">/usr/bin/bash</Data></EventData></Event>"#;
        let d = xml_event(linux, "syslog", 10, "sysmon").expect("parses");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].origin.record_id.as_deref(), Some("9001"));
        let c = &d[0].pod.as_ref().expect("pod").containers[0];
        assert_eq!(c.args, vec!["chroot", "/host", "sh", "-c", "id"]);
        let win = r#"<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Security-Auditing"/><EventID>4688</EventID><EventRecordID>77</EventRecordID><Computer>ws1</Computer></System><EventData><Data Name="SubjectUserName">alice</Data><Data Name="NewProcessName">C:\Program Files\Docker\docker.exe</Data><Data Name="CommandLine">"C:\Program Files\Docker\docker.exe" -H tcp://10.0.0.5:2375 run --privileged alpine</Data></EventData></Event>"#;
        let d = xml_event(win, "sec.xml", 1, "windows_xml").expect("parses");
        assert_eq!(d[0].endpoint.as_deref(), Some("tcp://10.0.0.5:2375"));
        assert_eq!(d[0].actor.user.as_deref(), Some("alice"));
        assert!(xml_event("<Event><System><EventID>1</EventID>", "f", 1, "sysmon").is_err());
    }

    #[test]
    fn auditd_execve_joined_by_serial() {
        let mut r = AuditdReader::default();
        let mut out = Vec::new();
        let lines = [
            r#"type=SYSCALL msg=audit(1732096800.123:4567): arch=c000003e syscall=59 success=yes exit=0 ppid=100 pid=200 auid=1000 uid=0 comm="docker" exe="/usr/bin/docker" key="exec""#.to_string(),
            format!(r#"type=EXECVE msg=audit(1732096800.123:4567): argc=6 a0="docker" a1="run" a2="--privileged" a3="-v" a4="/:/host" a5={}"#, hex("alpine:3.20")),
            format!("type=PROCTITLE msg=audit(1732096800.123:4567): proctitle={}", hex("docker\0run\0--privileged")),
            "type=EOE msg=audit(1732096800.123:4567): ".to_string(),
        ];
        for (i, l) in lines.iter().enumerate() {
            r.push(l, "audit.log", i + 1, &mut out).expect("record");
        }
        r.finish("audit.log", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].origin.record_id.as_deref(), Some("4567"));
        assert_eq!(out[0].actor.user.as_deref(), Some("uid:1000"));
        let c = &out[0].pod.as_ref().expect("pod").containers[0];
        assert_eq!(c.image.raw, "alpine:3.20");
        assert!(r.push("garbage", "audit.log", 9, &mut out).is_err());
    }

    #[test]
    fn windows_argv_rules() {
        assert_eq!(
            windows_argv(r#""C:\a b\c.exe" x "y z" a\\"b"#),
            vec![r"C:\a b\c.exe", "x", "y z", r#"a\b"#]
        );
    }
}
