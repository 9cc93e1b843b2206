//! `crictl run` and `create` against the CRI socket.

use super::*;

/// crictl takes its pod and container specs from files we do not have: the deployment is
/// recorded with its config paths.
pub(super) fn crictl(args: &[String], base: &Deployment) -> Vec<Deployment> {
    let p = parse_args(
        args,
        &Grammar {
            long_bools: &["debug", "help", "interactive", "tty", "sync"],
            short_values: "rt",
        },
        0,
    );
    let pos: Vec<&str> = p.positionals.iter().map(String::as_str).collect();
    let (op, kind) = match pos.first() {
        Some(&"runp") => (Operation::Create, "CriPodSandbox"),
        Some(&"create" | &"run") => (Operation::Create, "CriContainer"),
        Some(&"exec" | &"attach") => (Operation::Exec, "CriContainer"),
        Some(&"start") => (Operation::Start, "CriContainer"),
        _ => return Vec::new(),
    };
    let t = Target {
        kind: kind.into(),
        name: pos.get(1).map(|s| s.to_string()),
        labels: pos
            .iter()
            .skip(1)
            .map(|f| ("config".to_string(), f.to_string()))
            .collect(),
        ..Target::default()
    };
    vec![derive(base, op, t, None)]
}
