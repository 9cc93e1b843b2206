//! `cargo bench -p portcullis-server --bench review [-- --iterations 200000]`
//!
//! Where an admission answer's CPU goes, without the network: the time per review of
//! 1. the JSON parse floor (serde skipping every value: `IgnoredAny`),
//! 2. the whole judgement (`admission::review`: parse, model, rules, answer),
//!
//! for the same Deployment review the `serve` load bench sends, and for a privileged Pod
//! that is denied (the answer-building path). The figure that matters is the ratio against
//! the floor measured in the same run. On stderr, each stage alone: JSON into a `Value`
//! (what a tree-building reader would pay), the model read from the bytes, the rule pack.
//!
//! Profiling aids: `--case deployment|pod` runs one review; `--select CODE,…` narrows the
//! rules stage; `--per-rule` times every rule alone (slowest first).
//!
//! Counting instead of timing (exact, where a shared machine's clock drifts ±15%): each
//! stage runs `--iterations` times plus a tenth to warm up, so under callgrind
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='portcullis_server::admission::review' \
//!     target/release/deps/review-<hash> --case deployment --iterations 1000
//! ```
//!
//! collects 1,100 whole judgements (÷ 1,100 = instructions a review); with
//! `--toggle-collect='portcullis_sources::admission_review::review_deployments'`, the reader
//! alone (1,101 calls: the stage and the one that feeds the rules stage).

use portcullis_server::{ServeConfig, State};
use std::hint::black_box;
use std::time::Instant;

// The serve binary allocates with mimalloc; so does this, or the figures would not carry over.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What the API server sends for a Deployment with two containers, probes, volumes and
/// security contexts (the `serve` load bench sends the same).
const DEPLOYMENT_REVIEW: &str = include_str!("reviews/deployment.json");
/// A badPods-style "everything allowed" Pod: privileged, host namespaces, `/` mounted.
const PRIVILEGED_POD_REVIEW: &str = include_str!("reviews/privileged-pod.json");

fn per_op(iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..iterations {
        f();
    }
    t.elapsed().as_nanos() as f64 / f64::from(iterations)
}

/// The value after `--name` on the command line.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let iterations: u32 = flag(&args, "--iterations")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    // `--case deployment|pod` runs one case (for profiling).
    let case = flag(&args, "--case");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = rt.enter();
    let engine = portcullis_rules::Engine::builtin().expect("built-in pack");
    let config = ServeConfig {
        store: String::new(),
        ..ServeConfig::default()
    };
    let state = State::new(engine, config).expect("state");
    let gate = state.gate(portcullis_server::Door::Admission);
    println!("| review | bytes | parse floor (ns) | review (ns) | ratio |");
    println!("|---|---|---|---|---|");
    for (key, name, body) in [
        (
            "deployment",
            "Deployment, 2 containers, allowed",
            DEPLOYMENT_REVIEW.trim_end().as_bytes(),
        ),
        (
            "pod",
            "privileged Pod, denied",
            PRIVILEGED_POD_REVIEW.trim_end().as_bytes(),
        ),
    ] {
        if case.is_some_and(|c| c != key) {
            continue;
        }
        let floor = per_op(iterations, || {
            black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).ok());
        });
        // The stages, each alone: JSON into a Value (what a tree-building reader pays),
        // the model read straight from the bytes, the rule pack.
        let value = per_op(iterations, || {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).ok());
        });
        let model = per_op(iterations, || {
            black_box(portcullis_server::admission::review_deployments(black_box(body)).ok());
        });
        let deployments =
            portcullis_server::admission::review_deployments(body).unwrap_or_default();
        let engine = state.engine();
        // `--select CODE,…` narrows the rules stage (for profiling one rule).
        let select: Vec<String> = flag(&args, "--select")
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let evaluator = engine.evaluator(
            &portcullis_rules::Selection {
                select,
                ignore: Vec::new(),
            },
            portcullis_rules::EvalOptions {
                pss: state.config().pss,
                inline_suppressions: false,
            },
        );
        let rules = per_op(iterations, || {
            for d in &deployments {
                black_box(evaluator.evaluate(black_box(d)));
            }
        });
        if args.iter().any(|a| a == "--per-rule") {
            let mut times: Vec<(f64, String)> = engine
                .rules()
                .map(|r| {
                    let sel = portcullis_rules::Selection {
                        select: vec![r.def.code.clone()],
                        ignore: vec![],
                    };
                    let ev = engine.evaluator(
                        &sel,
                        portcullis_rules::EvalOptions {
                            pss: state.config().pss,
                            inline_suppressions: false,
                        },
                    );
                    let t = per_op(20000, || {
                        for d in &deployments {
                            black_box(ev.evaluate(black_box(d)));
                        }
                    });
                    (t, r.def.code.clone())
                })
                .collect();
            times.sort_by(|a, b| b.0.total_cmp(&a.0));
            for (t, c) in times.iter().take(25) {
                eprintln!("  {c}: {t:.0} ns");
            }
            eprintln!("  sum {:.0}", times.iter().map(|t| t.0).sum::<f64>());
        }
        eprintln!("{name}: Value parse {value:.0} ns, model {model:.0} ns, rules {rules:.0} ns");
        let review = per_op(iterations, || {
            black_box(portcullis_server::admission::review(&gate, black_box(body)).ok());
        });
        println!(
            "| {name} | {} | {floor:.0} | {review:.0} | {:.1}× |",
            body.len(),
            review / floor
        );
    }
}
