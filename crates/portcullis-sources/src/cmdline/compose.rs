//! `docker compose` / `docker-compose` `up` and `run`.

use super::*;

/// `docker compose up|run|create` and `docker-compose …`: a project is deployed; the file
/// itself is judged by `scan`.
pub(super) fn compose(args: &[String], base: &Deployment, tool: &str) -> Vec<Deployment> {
    let p = parse_args(
        args,
        &Grammar {
            long_bools: &[
                "detach",
                "build",
                "no-build",
                "force-recreate",
                "remove-orphans",
                "wait",
                "help",
                "rm",
                "no-deps",
                "service-ports",
                "privileged",
            ],
            short_values: "fpd",
        },
        0,
    );
    let Some(verb) = p.positionals.first() else {
        return Vec::new();
    };
    if !matches!(verb.as_str(), "up" | "run" | "create" | "start") {
        return Vec::new();
    }
    let t = Target {
        kind: "ComposeProject".into(),
        api_version: tool.into(),
        name: p
            .last(&["p", "project-name"])
            .or_else(|| p.last(&["f", "file"])),
        ..Target::default()
    };
    vec![derive(base, Operation::Create, t, None)]
}
