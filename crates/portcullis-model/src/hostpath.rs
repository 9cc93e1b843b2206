//! Host paths, cleaned lexically and compared by ancestry.
//!
//! Exact-string lists miss `/var/run` (which exposes `/var/run/docker.sock`), `/run`
//! (containerd), `//etc/` and `/etc/../`. Every host-path judgement goes through
//! [`clean`] and the two ancestry relations below.

/// Lexically clean a path like Go's `path.Clean`: collapse `//`, drop `.`, resolve `..`
/// (never above `/`), strip the trailing slash. Relative paths stay relative.
pub fn clean(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Clean only when needed: most paths reaching a rule are already clean.
fn cleaned(path: &str) -> std::borrow::Cow<'_, str> {
    let is_clean = path == "/"
        || (!path.ends_with('/')
            && !path.contains("//")
            && !path.split('/').any(|p| p == "." || p == ".."));
    if is_clean {
        std::borrow::Cow::Borrowed(path)
    } else {
        std::borrow::Cow::Owned(clean(path))
    }
}

/// `path` is `base` or lies below it (`/etc/kubernetes` is within `/etc`).
pub fn is_within(path: &str, base: &str) -> bool {
    let (path, base) = (cleaned(path), cleaned(base));
    if base == "/" {
        return path.starts_with('/');
    }
    path == base
        || path
            .strip_prefix(base.as_ref())
            .is_some_and(|r| r.starts_with('/'))
}

/// Mounting `path` exposes `target`: `target` is `path` or lies below it
/// (mounting `/var` exposes `/var/run/docker.sock`).
pub fn exposes(path: &str, target: &str) -> bool {
    is_within(target, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning() {
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("//etc/"), "/etc");
        assert_eq!(clean("/etc/../"), "/");
        assert_eq!(clean("/../../x"), "/x");
        assert_eq!(clean("/var/./run//docker.sock"), "/var/run/docker.sock");
        assert_eq!(clean("./data"), "data");
        assert_eq!(clean("../x"), "../x");
    }

    #[test]
    fn ancestry() {
        assert!(is_within("/etc/kubernetes", "/etc"));
        assert!(is_within("/etc", "/etc"));
        assert!(!is_within("/etcetera", "/etc"));
        assert!(is_within("/anything", "/"));
        assert!(exposes("/var/run", "/var/run/docker.sock"));
        assert!(exposes("/", "/run/containerd/containerd.sock"));
        assert!(!exposes("/var/lib", "/var/run/docker.sock"));
    }
}
