//! The rule engine and the built-in pack.
//!
//! Rules are data (YAML under `pack/`, embedded; users add files or override rules by
//! code). Conditions are compiled once into typed accessors over the model
//! ([`fields`]); hard logic lives in Rust functions conditions call ([`functions`],
//! [`shell`], [`pss`]). The engine is pure: it never does IO.

mod check;
pub mod engine;
pub mod expr;
pub mod fields;
pub mod functions;
pub mod loader;
pub mod pss;
pub mod rule;
pub mod shell;

pub use engine::{
    CompiledRule, ContainerRef, Engine, EvalOptions, Evaluation, Evaluator, Evidence, Finding,
    PssResult, SUPPRESS_ANNOTATION, Selection,
};
pub use loader::{BUILTIN, LoadError, RuleSource, builtin_sources, load};
pub use rule::{Docs, RuleDef, Severity};
