//! Loading the rule pack the way every command does: built-in files, then `--rules`
//! files, then `--config`.

use anyhow::{Context, Result, bail};
use portcullis_rules::pss::Profile;
use portcullis_rules::{Engine, RuleSource, Selection, builtin_sources};
use std::path::{Path, PathBuf};

/// The rule choices every judging command takes (`scan`, `hunt`).
#[derive(clap::Args, Debug)]
pub struct RuleArgs {
    /// Rule codes or family prefixes to run (PRV, MNT001, PSS…). Default: every enabled rule.
    #[arg(long, value_delimiter = ',')]
    pub select: Vec<String>,
    /// Rule codes or family prefixes to skip.
    #[arg(long, value_delimiter = ',')]
    pub ignore: Vec<String>,
    /// Pod Security profile: baseline|restricted[:v1.xx|latest]. Enables the PSS family.
    #[arg(long, value_parser = Profile::parse)]
    pub pss: Option<Profile>,
    /// Extra rule files, or folders of them (overrides, lists, new rules).
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Config file: lists, exceptions, overrides, pss profile.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

impl RuleArgs {
    /// The pack, what to run of it, and the Pod Security profile: `--pss`, else the config
    /// file's, else baseline when `--select` names the PSS family.
    pub fn load(&self) -> Result<(Engine, Selection, Option<Profile>)> {
        let engine = load(&self.rules, self.config.as_deref())?;
        let mut pss = self.pss.or(engine.config_pss());
        if pss.is_none() && self.select.iter().any(|s| s.starts_with("PSS")) {
            pss = Some(Profile::parse("baseline").map_err(anyhow::Error::msg)?);
        }
        let selection = Selection {
            select: self.select.clone(),
            ignore: self.ignore.clone(),
        };
        Ok((engine, selection, pss))
    }
}

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
