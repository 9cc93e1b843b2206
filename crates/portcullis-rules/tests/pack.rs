//! Meta-tests over the whole built-in pack (ruff's discipline): every rule has docs, a
//! unique code and name, valid ATT&CK ids, and a fixture pair in raw input form — the
//! positive fixture fires the rule, the negative does not — plus one snapshot of what the
//! whole pack finds in every positive fixture.

use portcullis_rules::pss::Profile;
use portcullis_rules::{Engine, EvalOptions, Selection};
use std::collections::HashSet;
use std::fmt::Write;
use std::path::Path;

fn engine() -> Engine {
    match Engine::builtin() {
        Ok(e) => e,
        Err(errs) => panic!(
            "{}",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// A rule's fixture in raw input form: a manifest (`.yaml`) or a log (`.jsonl`, `.log`).
fn fixture(code: &str, which: &str) -> (String, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(code);
    for ext in ["yaml", "jsonl", "log"] {
        let path = dir.join(format!("{which}.{ext}"));
        if let Ok(text) = std::fs::read_to_string(&path) {
            return (text, format!("fixtures/{code}/{which}.{ext}"));
        }
    }
    panic!("{code}: missing {which} fixture in {}", dir.display())
}

/// Read a fixture; when its folder holds a `baseline.yaml` (the EXP rules), every
/// deployment is compared with it first, as `hunt --baseline` does.
fn read_fixture(text: &str, name: &str) -> portcullis_sources::Batch {
    let mut batch = if name.ends_with(".yaml") {
        portcullis_sources::manifest::read(text, name)
    } else {
        portcullis_sources::pipeline::read_all(text, name, None)
    };
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(Path::new(name).parent().unwrap_or_else(|| Path::new("")));
    if let Ok(yaml) = std::fs::read_to_string(folder.join("baseline.yaml")) {
        let baseline = portcullis_baseline::Baseline::from_yaml(&yaml)
            .unwrap_or_else(|e| panic!("{name}: baseline.yaml: {e}"));
        let mut cadence = portcullis_baseline::Cadence::default();
        for d in &mut batch.deployments {
            d.expectation = baseline.expectation_paced(d, &mut cadence);
        }
    }
    batch
}

fn opts_for(rule: &portcullis_rules::RuleDef) -> EvalOptions {
    EvalOptions {
        pss: rule.pss.as_ref().map(|p| {
            Profile::parse(match p.level {
                portcullis_rules::pss::Level::Baseline => "baseline",
                portcullis_rules::pss::Level::Restricted => "restricted",
            })
            .expect("profile")
        }),
        inline_suppressions: false,
    }
}

/// Codes the rule fires on a fixture, with the rule alone selected.
fn fires(engine: &Engine, code: &str, (text, name): &(String, String)) -> usize {
    let rule = &engine.rule(code).expect("rule").def;
    let batch = read_fixture(text, name);
    assert!(
        batch.errors.is_empty(),
        "{code}: fixture does not parse: {:?}",
        batch.errors
    );
    assert!(
        !batch.deployments.is_empty(),
        "{code}: fixture holds no workload"
    );
    let ev = engine.evaluator(
        &Selection {
            select: vec![code.into()],
            ignore: vec![],
        },
        opts_for(rule),
    );
    batch
        .deployments
        .iter()
        .map(|d| ev.evaluate(d).findings.len())
        .sum()
}

#[test]
fn every_rule_is_documented_unique_and_has_a_fixture_pair() {
    let engine = engine();
    let mut codes = HashSet::new();
    let mut names = HashSet::new();
    let mut count = 0;
    for r in engine.rules() {
        let d = &r.def;
        count += 1;
        assert!(codes.insert(d.code.clone()), "duplicate code {}", d.code);
        assert!(names.insert(d.name.clone()), "duplicate name {}", d.name);
        for (field, text) in [
            ("summary", &d.docs.summary),
            ("detects", &d.docs.detects),
            ("why", &d.docs.why),
            ("example", &d.docs.example),
            ("tuning", &d.docs.tuning),
            ("prevention", &d.docs.prevention),
        ] {
            assert!(!text.trim().is_empty(), "{}: docs.{field} is empty", d.code);
        }
        assert!(!d.docs.references.is_empty(), "{}: no references", d.code);
        assert!(
            d.attack
                .iter()
                .any(|t| ["T1610", "T1609", "T1611"].contains(&t.as_str())),
            "{}: every rule serves T1610 or the techniques next to it (T1609 exec, T1611 escape)",
            d.code
        );
        assert!(
            fires(&engine, &d.code, &fixture(&d.code, "positive")) > 0,
            "{}: positive fixture does not fire",
            d.code
        );
        assert_eq!(
            fires(&engine, &d.code, &fixture(&d.code, "negative")),
            0,
            "{}: negative fixture fires",
            d.code
        );
    }
    assert!(count >= 75, "the pack shrank to {count} rules");
    // No orphan fixture folders.
    for e in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")).expect("fixtures")
    {
        let name = e.expect("entry").file_name().to_string_lossy().to_string();
        assert!(codes.contains(&name), "fixture folder {name} has no rule");
    }
}

#[test]
fn snapshot_of_the_whole_pack_on_every_positive_fixture() {
    let engine = engine();
    let mut out = String::new();
    for r in engine.rules() {
        let code = &r.def.code;
        let (text, name) = fixture(code, "positive");
        let batch = read_fixture(&text, &name);
        let ev = engine.evaluator(&Selection::default(), opts_for(&r.def));
        writeln!(out, "## {code}").expect("write");
        for d in &batch.deployments {
            for f in ev.evaluate(d).findings {
                let ev_text = f
                    .evidence
                    .iter()
                    .map(|e| format!("{}={}", e.field, e.value))
                    .collect::<Vec<_>>()
                    .join(" ");
                writeln!(
                    out,
                    "{} {} [{}] {} | {}",
                    f.rule.code,
                    f.severity,
                    f.container
                        .as_ref()
                        .map_or("-".to_string(), |c| c.name.clone()),
                    f.message,
                    ev_text
                )
                .expect("write");
            }
        }
    }
    insta::assert_snapshot!("pack_findings", out);
}

#[test]
fn a_decoy_sidecar_never_hides_a_privileged_container() {
    let engine = engine();
    // The rule is excepted for the monitoring image in its namespace; the privileged
    // container next to it is a different image and must still be reported.
    let cfg = portcullis_rules::RuleSource {
        name: "config.yaml".into(),
        text: "overrides:\n  - code: PRV001\n    exceptions:\n      - name: monitor\n        fields: [target.namespace, container.image.name]\n        values: [[apps, docker.io/sysdig/agent]]\n  - code: PRV002\n    exceptions:\n      - name: monitor\n        fields: [target.namespace, container.image.name]\n        values: [[apps, docker.io/sysdig/agent]]\n".into(),
    };
    let mut sources = portcullis_rules::builtin_sources();
    sources.push(cfg);
    let engine2 = portcullis_rules::load(&sources).expect("loads");
    let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: apps}\nspec:\n  hostPID: true\n  containers:\n  - {name: decoy, image: sysdig/agent, securityContext: {privileged: true}}\n  - {name: evil, image: alpine, securityContext: {privileged: true}}\n";
    let batch = portcullis_sources::manifest::read(text, "x.yaml");
    for (e, expect_decoy) in [(&engine, true), (&engine2, false)] {
        let ev = e.evaluator(
            &Selection {
                select: vec!["PRV001".into(), "PRV002".into()],
                ignore: vec![],
            },
            EvalOptions::default(),
        );
        let f = ev.evaluate(&batch.deployments[0]).findings;
        let priv_containers: Vec<String> = f
            .iter()
            .filter(|x| x.rule.code == "PRV001")
            .filter_map(|x| x.container.as_ref().map(|c| c.name.clone()))
            .collect();
        assert!(
            priv_containers.contains(&"evil".to_string()),
            "{priv_containers:?}"
        );
        assert_eq!(priv_containers.contains(&"decoy".to_string()), expect_decoy);
        // Pod-level hostPID: an exception naming a container image holds only if every
        // container matches; the evil container does not, so the pod is still reported.
        assert!(f.iter().any(|x| x.rule.code == "PRV002"));
    }
}

#[test]
fn exceptions_keyed_only_on_images_are_refused_with_file_and_line() {
    let mut sources = portcullis_rules::builtin_sources();
    sources.push(portcullis_rules::RuleSource {
        name: "user.yaml".into(),
        text: "overrides:\n  - code: PRV001\n    exceptions:\n      - name: by-image\n        fields: [container.image.name]\n        values: [[docker.io/library/nginx]]\nrules:\n  - code: XYZ001\n    name: broken\n    severity: high\n    attack: [T1610]\n    scope: pod\n    condition: container.privileged\n    message: m\n    docs: {summary: s, detects: d, why: w, example: e, tuning: t, prevention: p}\n  - code: XYZ002\n    name: broken-too\n    severity: extreme\n".into(),
    });
    let errs = portcullis_rules::load(&sources).err().expect("refused");
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|e| e.starts_with("user.yaml:8:") && e.contains("needs scope: container")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.starts_with("user.yaml:16:") && e.contains("rule:")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e.contains("by-image") && e.contains("attacker")),
        "{text:?}"
    );
}

#[test]
fn users_disable_rules_change_severity_and_extend_lists_without_rebuilding() {
    let mut sources = portcullis_rules::builtin_sources();
    sources.push(portcullis_rules::RuleSource {
        name: "user.yaml".into(),
        text: "lists:\n  trusted_registries: {append: [registry.corp.example]}\noverrides:\n  - {code: IMG002, enabled: false}\n  - {code: PRV004, severity: critical}\n".into(),
    });
    let e = portcullis_rules::load(&sources).expect("loads");
    assert!(!e.rule("IMG002").expect("rule").def.enabled);
    assert_eq!(
        e.rule("PRV004").expect("rule").def.severity,
        portcullis_rules::Severity::Critical
    );
    assert!(
        e.list("trusted_registries")
            .expect("list")
            .iter()
            .any(|r| r == "registry.corp.example")
    );
    let text = "kind: Pod\nmetadata: {name: p}\nspec:\n  hostNetwork: true\n  containers: [{name: a, image: registry.corp.example/app}]\n";
    let batch = portcullis_sources::manifest::read(text, "p.yaml");
    let f = e
        .evaluator(&Selection::default(), EvalOptions::default())
        .evaluate(&batch.deployments[0])
        .findings;
    let codes: Vec<&str> = f.iter().map(|x| x.rule.code.as_str()).collect();
    assert!(
        !codes.contains(&"IMG002") && !codes.contains(&"IMG004"),
        "{codes:?}"
    );
    assert!(
        f.iter()
            .any(|x| x.rule.code == "PRV004" && x.severity == portcullis_rules::Severity::Critical)
    );
}
