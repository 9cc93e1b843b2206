//! The one file walker: the files under a folder, recursively, hidden entries (a `.git`,
//! an editor's swap file) skipped, in a stable (sorted) order, so a run over a folder
//! reports the same findings in the same order every time.

use std::path::{Path, PathBuf};

/// Files under `dir` that `keep` accepts. A folder that cannot be read is an error naming it.
pub fn files(dir: &Path, keep: impl Fn(&Path) -> bool) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    walk(dir, &keep, &mut out)?;
    out.sort();
    Ok(out)
}

/// Manifests and dumps: `.yaml`, `.yml`, `.json`.
pub fn is_manifest(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
}

fn walk(dir: &Path, keep: &impl Fn(&Path) -> bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&path, keep, out)?;
        } else if ft.is_file() && keep(&path) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_recursive_and_hidden_skipped() {
        let dir = std::env::temp_dir().join(format!("portcullis-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for f in ["b/x.yaml", "a.json", ".git/c.yaml", "b/.swp.yaml", "n.txt"] {
            let p = dir.join(f);
            std::fs::create_dir_all(p.parent().unwrap_or(&dir)).ok();
            std::fs::write(&p, "x").ok();
        }
        let got: Vec<String> = files(&dir, is_manifest)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.strip_prefix(&dir).ok().map(|p| p.display().to_string()))
            .collect();
        assert_eq!(got, ["a.json", "b/x.yaml"]);
        assert_eq!(files(&dir, |_| true).map(|f| f.len()).unwrap_or(0), 3);
        assert!(files(&dir.join("missing"), |_| true).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
