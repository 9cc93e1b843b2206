//! `helm install` and `upgrade`.

use super::*;

pub(super) fn helm(args: &[String], base: &Deployment) -> Vec<Deployment> {
    let p = parse_args(
        args,
        &Grammar {
            long_bools: &[
                "install",
                "atomic",
                "wait",
                "create-namespace",
                "dry-run",
                "debug",
                "force",
                "reuse-values",
                "reset-values",
                "generate-name",
                "help",
            ],
            short_values: "fn",
        },
        0,
    );
    match p.positionals.first().map(String::as_str) {
        Some("install" | "upgrade") => {
            let t = Target {
                kind: "HelmRelease".into(),
                namespace: p.last(&["n", "namespace"]),
                name: p.positionals.get(1).cloned(),
                labels: p
                    .positionals
                    .get(2)
                    .map(|c| vec![("chart".to_string(), c.clone())])
                    .unwrap_or_default(),
                ..Target::default()
            };
            vec![derive(base, Operation::Create, t, None)]
        }
        _ => Vec::new(),
    }
}
