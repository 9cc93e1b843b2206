//! `portcullis rules list|show|docs`: the pack and its documentation, generated from the
//! registry so `rules show X` and `docs/rules/X.md` never disagree.

use crate::pack;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use portcullis_rules::{CompiledRule, Engine};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum RulesCommand {
    /// One line per rule: code, severity, scope, name, summary.
    List {
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// A rule's full documentation (Markdown).
    Show {
        code: String,
        #[arg(long = "rules")]
        rules: Vec<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write docs/rules/<CODE>.md and docs/rules/README.md for every rule.
    Docs {
        #[arg(long, default_value = "docs/rules")]
        out: PathBuf,
        /// Fail if the files on disk differ instead of writing them (for CI).
        #[arg(long)]
        check: bool,
    },
}

pub fn run(cmd: RulesCommand) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match cmd {
        RulesCommand::List { rules, config } => {
            let engine = pack::load(&rules, config.as_deref())?;
            for r in engine.rules() {
                let d = &r.def;
                writeln!(
                    out,
                    "{}  {:<8}  {:<9}  {:<36}  {}{}",
                    d.code,
                    d.severity.as_str(),
                    d.scope.as_str(),
                    d.name,
                    d.docs.summary,
                    if d.enabled { "" } else { " (disabled)" }
                )?;
            }
        }
        RulesCommand::Show {
            code,
            rules,
            config,
        } => {
            let engine = pack::load(&rules, config.as_deref())?;
            let Some(rule) = engine.rule(&code.to_ascii_uppercase()) else {
                bail!("no rule {code}; `portcullis rules list` shows them all");
            };
            write!(out, "{}", rule_markdown(rule))?;
        }
        RulesCommand::Docs { out: dir, check } => {
            let engine =
                Engine::builtin().map_err(|e| anyhow::anyhow!("{} pack errors", e.len()))?;
            let mut files = vec![
                (dir.join("README.md"), index_markdown(&engine)),
                (dir.join("fields.md"), fields_markdown()),
            ];
            for r in engine.rules() {
                files.push((dir.join(format!("{}.md", r.def.code)), rule_markdown(r)));
            }
            let mut stale = Vec::new();
            for (path, text) in &files {
                if check {
                    if std::fs::read_to_string(path).ok().as_deref() != Some(text.as_str()) {
                        stale.push(path.display().to_string());
                    }
                } else {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                    std::fs::write(path, text)
                        .with_context(|| format!("writing {}", path.display()))?;
                }
            }
            if !stale.is_empty() {
                bail!(
                    "rule docs are stale ({}); run `portcullis rules docs`",
                    stale.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rule_markdown(r: &CompiledRule) -> String {
    let d = &r.def;
    let mut s = format!("# {} {}\n\n{}\n\n", d.code, d.name, d.docs.summary);
    s.push_str(&format!(
        "| severity | scope | ATT&CK | status | tags |\n|---|---|---|---|---|\n| {} | {} | {} | {:?} | {} |\n\n",
        d.severity,
        d.scope.as_str(),
        d.attack.join(", "),
        d.status,
        d.tags.join(", ")
    ).to_lowercase().replace("att&ck", "ATT&CK"));
    if let Some(p) = &d.pss {
        s.push_str(
            &format!("Pod Security check `{}` ({:?}).\n\n", p.check, p.level)
                .replace("Baseline", "baseline")
                .replace("Restricted", "restricted"),
        );
    }
    for (title, body) in [
        ("What it detects", &d.docs.detects),
        ("Why it matters", &d.docs.why),
        ("Example", &d.docs.example),
        ("Tuning", &d.docs.tuning),
        ("Prevention", &d.docs.prevention),
    ] {
        let body = body.trim();
        if title == "Example" {
            s.push_str(&format!("## {title}\n\n```yaml\n{body}\n```\n\n"));
        } else {
            s.push_str(&format!("## {title}\n\n{body}\n\n"));
        }
    }
    s.push_str(&format!(
        "## Condition\n\n```\n{}\n```\n\n",
        d.condition.trim()
    ));
    if !d.exceptions.is_empty() {
        s.push_str("## Built-in exceptions\n\n");
        for x in &d.exceptions {
            s.push_str(&format!(
                "- `{}`: {} = {:?}\n",
                x.name,
                x.fields.join(", "),
                x.values
            ));
        }
        s.push('\n');
    }
    if !d.docs.references.is_empty() {
        s.push_str("## References\n\n");
        for r in &d.docs.references {
            s.push_str(&format!("- {r}\n"));
        }
        s.push('\n');
    }
    s.push_str(&format!("Defined in `{}` line {}.\n", r.file, r.line));
    s
}

fn index_markdown(engine: &Engine) -> String {
    let mut s = String::from(
        "# Rules\n\nGenerated by `portcullis rules docs` from the built-in pack; do not edit.\n\n| code | name | severity | scope | summary |\n|---|---|---|---|---|\n",
    );
    for r in engine.rules() {
        let d = &r.def;
        s.push_str(&format!(
            "| [{}]({}.md) | {} | {} | {} | {} |\n",
            d.code,
            d.code,
            d.name,
            d.severity,
            d.scope.as_str(),
            d.docs.summary.replace('|', "\\|")
        ));
    }
    s
}

/// The condition language's vocabulary, from the registry.
fn fields_markdown() -> String {
    use portcullis_rules::fields::Field;
    let mut s = String::from(
        "# Fields and functions\n\nGenerated by `portcullis rules docs`; do not edit. The condition language is described in [../rule-language.md](../rule-language.md).\n\n| field | scope | meaning |\n|---|---|---|\n",
    );
    for f in Field::ALL {
        s.push_str(&format!(
            "| `{}` | {} | {} |\n",
            f.name(),
            f.scope().as_str(),
            f.doc().replace('|', "\\|")
        ));
    }
    s.push_str("\n| function | meaning |\n|---|---|\n");
    for (name, _, doc) in portcullis_rules::functions::ALL {
        s.push_str(&format!("| `{name}` | {} |\n", doc.replace('|', "\\|")));
    }
    s
}
