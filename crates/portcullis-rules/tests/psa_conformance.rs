//! Upstream Pod Security Admission fixtures (`shared/conformance/psa/`): every `fail`
//! fixture must yield a PSS finding naming the failed check (or the restricted check that
//! replaces it, as upstream does) with upstream's message substring; every `pass` fixture
//! must yield no PSS finding at its level and version. Each fixture is also wrapped in a
//! Deployment template, which must give the same verdict: we judge workloads, not only pods.

use portcullis_rules::pss::{Profile, overridden_by};
use portcullis_rules::{Engine, EvalOptions, Selection};
use std::path::Path;

const ROOT: &str = "../../../shared/conformance/psa";

fn as_deployment(pod_yaml: &str) -> String {
    let v: serde_json::Value =
        portcullis_sources::manifest::parse_yaml(pod_yaml).expect("fixture parses");
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "wrapped"},
        "spec": {"template": {"metadata": v.get("metadata").cloned().unwrap_or_default(), "spec": v["spec"].clone()}},
    })
    .to_string()
}

#[test]
fn every_psa_fixture_gets_the_upstream_verdict() {
    let engine = Engine::builtin().expect("pack loads");
    let tsv = std::fs::read_to_string(Path::new(ROOT).join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in tsv.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [path, level, version, expected, check, substring, ..] = cols[..] else {
            panic!("bad row {line}");
        };
        let profile = Profile::parse(&format!("{level}:{version}")).expect("profile");
        let ev = engine.evaluator(
            &Selection {
                select: vec!["PSS".into()],
                ignore: vec![],
            },
            EvalOptions {
                pss: Some(profile),
                inline_suppressions: false,
            },
        );
        let text = std::fs::read_to_string(Path::new(ROOT).join(path)).expect("fixture");
        for (shape, input) in [("pod", text.clone()), ("deployment", as_deployment(&text))] {
            let batch = portcullis_sources::manifest::read(&input, path);
            assert!(batch.errors.is_empty(), "{path}: {:?}", batch.errors);
            assert_eq!(batch.deployments.len(), 1, "{path}");
            let findings = ev.evaluate(&batch.deployments[0]).findings;
            checked += 1;
            match expected {
                "allow" => {
                    if !findings.is_empty() {
                        failures.push(format!(
                            "{path} ({shape}): expected allow, got {:?}",
                            findings
                                .iter()
                                .map(|f| f.message.clone())
                                .collect::<Vec<_>>()
                        ));
                    }
                }
                "deny" => {
                    let replacement = overridden_by(check).map(|(r, _)| r);
                    let hit = findings.iter().any(|f| {
                        let c = f.pss.as_ref().map(|p| p.check.as_str()).unwrap_or("");
                        (c == check || Some(c) == replacement) && f.message.contains(substring)
                    });
                    if !hit {
                        failures.push(format!(
                            "{path} ({shape}): expected {check} with {substring:?}, got {:?}",
                            findings
                                .iter()
                                .map(|f| (f.pss.clone(), f.message.clone()))
                                .collect::<Vec<_>>()
                        ));
                    }
                }
                other => panic!("unknown verdict {other}"),
            }
        }
    }
    assert_eq!(
        checked,
        296 * 2,
        "every fixture, as a Pod and as a Deployment"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn findings_name_container_and_field() {
    let engine = Engine::builtin().expect("pack loads");
    let text =
        std::fs::read_to_string(Path::new(ROOT).join("baseline/v1.37/fail/privileged1.yaml"))
            .expect("fixture");
    let batch = portcullis_sources::manifest::read(&text, "privileged1.yaml");
    let ev = engine.evaluator(
        &Selection {
            select: vec!["PSS".into()],
            ignore: vec![],
        },
        EvalOptions {
            pss: Some(Profile::parse("baseline").expect("p")),
            inline_suppressions: false,
        },
    );
    let f = ev.evaluate(&batch.deployments[0]).findings;
    assert_eq!(f.len(), 1);
    let e = &f[0].evidence;
    assert!(!e.is_empty());
    assert!(
        e.iter()
            .all(|x| x.container.is_some() && x.field == "securityContext.privileged"),
        "{e:?}"
    );
}
