//! Judge the load bench's Deployment review `N` times and nothing else, for profilers that
//! count rather than time (timing on a shared 2-core machine drifts ±15%; instruction
//! counts do not):
//!
//! ```text
//! cargo build --release -p portcullis-server --example profile_review
//! valgrind --tool=callgrind --toggle-collect='portcullis_sources::admission_review::read' \
//!     target/release/examples/profile_review read 1000     # the reader alone
//! valgrind --tool=callgrind --toggle-collect='portcullis_server::admission::review' \
//!     target/release/examples/profile_review review 1000   # the whole judgement
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Collected instructions ÷ N is the cost of one review (docs/performance.md).

use portcullis_server::{Door, ServeConfig, State};
use std::hint::black_box;

// As the serve binary allocates.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REVIEW: &str = include_str!("../benches/reviews/deployment.json");

fn main() {
    let mut args = std::env::args().skip(1);
    let stage = args.next().unwrap_or_else(|| "review".into());
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let body = REVIEW.trim_end().as_bytes();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _guard = rt.enter();
    let engine = portcullis_rules::Engine::builtin().expect("built-in pack");
    let config = ServeConfig {
        store: String::new(),
        ..ServeConfig::default()
    };
    let state = State::new(engine, config).expect("state");
    let gate = state.gate(Door::Admission);
    for _ in 0..n {
        if stage == "read" {
            black_box(portcullis_sources::admission_review::read(black_box(body)).ok());
        } else {
            black_box(portcullis_server::admission::review(&gate, black_box(body)).ok());
        }
    }
}
