//! What the fuzz targets share: the built-in rule pack, loaded once, judging whatever a
//! reader made, so a panic anywhere from bytes to findings is found.

use portcullis_model::Deployment;
use portcullis_rules::{Engine, EvalOptions, Selection};
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| match Engine::builtin() {
        Ok(e) => e,
        Err(errs) => panic!("built-in pack does not load: {errs:?}"),
    })
}

/// Judge every deployment with the whole pack, restricted Pod Security included.
pub fn judge(deployments: &[Deployment]) {
    let opts = EvalOptions {
        pss: portcullis_rules::pss::Profile::parse("restricted").ok(),
        inline_suppressions: true,
    };
    let evaluator = engine().evaluator(&Selection::default(), opts);
    for d in deployments {
        let ev = evaluator.evaluate(d);
        for f in &ev.findings {
            // Rendering is part of the path an alert takes.
            let _ = portcullis_output_line(d, f);
        }
    }
}

fn portcullis_output_line(d: &Deployment, f: &portcullis_rules::Finding<'_>) -> usize {
    format!("{} {:?} {}", f.rule.code, f.severity, d.target.kind).len()
}
