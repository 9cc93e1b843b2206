//! Loading the rule pack the way every command does: built-in files, then `--rules`
//! files, then `--config`.

use anyhow::{Context, Result, bail};
use portcullis_rules::{Engine, RuleSource, builtin_sources};
use std::path::{Path, PathBuf};

pub fn load(rules: &[PathBuf], config: Option<&Path>) -> Result<Engine> {
    let mut sources = builtin_sources();
    for path in rules {
        let mut files = Vec::new();
        if path.is_dir() {
            for entry in
                std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?
            {
                let p = entry?.path();
                if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    files.push(p);
                }
            }
            files.sort();
        } else {
            files.push(path.clone());
        }
        for f in files {
            sources.push(RuleSource {
                name: f.display().to_string(),
                text: std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?,
            });
        }
    }
    if let Some(c) = config {
        sources.push(RuleSource {
            name: c.display().to_string(),
            text: std::fs::read_to_string(c).with_context(|| format!("reading {}", c.display()))?,
        });
    }
    match portcullis_rules::load(&sources) {
        Ok(e) => Ok(e),
        Err(errors) => {
            for e in &errors {
                eprintln!("portcullis: rule error: {e}");
            }
            bail!(
                "{} problem(s) in the rule pack; nothing was evaluated",
                errors.len()
            )
        }
    }
}
