use portcullis_rules::{Engine, EvalOptions, Selection};

#[test]
fn builtin_pack_loads() {
    let engine = match Engine::builtin() {
        Ok(e) => e,
        Err(errs) => panic!("{}", errs.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n")),
    };
    let text = std::fs::read_to_string("../../../shared/corpus/badPods/manifests/priv-and-hostpid/pod/priv-and-hostpid-revshell-pod.yaml").unwrap();
    let batch = portcullis_sources::manifest::read(&text, "x.yaml");
    let ev = engine.evaluator(&Selection::default(), EvalOptions::default());
    for d in &batch.deployments {
        for f in ev.evaluate(d).findings {
            println!("{} {} {} {:?}", f.rule.code, f.severity, f.message, f.evidence);
        }
    }
}
