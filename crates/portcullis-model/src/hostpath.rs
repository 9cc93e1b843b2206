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

/// The node path a host path reaches, cleaned ([`clean`]) and with `/proc`'s views of
/// another process's filesystem resolved: `/proc/<pid>/root` and `/proc/<pid>/cwd` (also
/// `self`, `thread-self` and `task/<tid>/…`) are that process's root — for PID 1, and for
/// the runtime resolving the bind, the node's `/` — so `/proc/1/root/etc` is `/etc`.
/// `/proc` and `/proc/<pid>` themselves contain those links: mounting them is mounting `/`.
pub fn node_path(raw: &str) -> String {
    if let Some(p) = windows_path(raw) {
        return p;
    }
    let path = clean(raw);
    let Some(rest) = path.strip_prefix("/proc") else {
        return path;
    };
    if rest.is_empty() {
        return "/".into();
    }
    let Some(rest) = rest.strip_prefix('/') else {
        return path; // `/procfoo`
    };
    let is_process = |s: &str| {
        s == "self"
            || s == "thread-self"
            || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
    };
    let mut parts = rest.splitn(2, '/');
    let pid = parts.next().unwrap_or("");
    if !is_process(pid) {
        return path;
    }
    let mut after = parts.next().unwrap_or("");
    // `/proc/<pid>/task/<tid>/…` is the same process view.
    if let Some(t) = after.strip_prefix("task/") {
        let mut tp = t.splitn(2, '/');
        if is_process(tp.next().unwrap_or("")) {
            after = tp.next().unwrap_or("");
        } else {
            return path;
        }
    } else if after == "task" {
        return "/".into();
    }
    if after.is_empty() {
        return "/".into();
    }
    match after.split_once('/').unwrap_or((after, "")) {
        ("root" | "cwd", "") => "/".into(),
        ("root" | "cwd", below) => format!("/{below}"),
        _ => path,
    }
}

/// A Windows host path in the same shape as the rest: a drive root (`C:\`) is the host's
/// `/`; below it, `/c/Windows/System32`; a named pipe (`\\.\pipe\docker_engine`) is
/// `/pipe/docker_engine`. `None` for a POSIX path.
fn windows_path(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    if let Some(pipe) = raw
        .strip_prefix(r"\\.\pipe\")
        .or_else(|| raw.strip_prefix("//./pipe/"))
    {
        return Some(clean(&format!("/pipe/{}", pipe.replace('\\', "/"))));
    }
    if b.len() >= 2
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b.len() == 2 || matches!(b[2], b'\\' | b'/'))
    {
        let rest = raw[2..].replace('\\', "/");
        let below = clean(&format!("/{rest}"));
        return Some(if below == "/" {
            "/".into()
        } else {
            format!("/{}{below}", (b[0] as char).to_ascii_lowercase())
        });
    }
    None
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
    fn windows_paths() {
        assert_eq!(node_path(r"C:\"), "/");
        assert_eq!(node_path("c:/"), "/");
        assert_eq!(
            node_path(r"C:\Windows\System32\config"),
            "/c/Windows/System32/config"
        );
        assert_eq!(node_path(r"D:\data\..\"), "/");
        assert_eq!(node_path(r"\\.\pipe\docker_engine"), "/pipe/docker_engine");
    }

    #[test]
    fn proc_views_are_the_node() {
        for p in [
            "/proc",
            "/proc/",
            "/proc/1",
            "/proc/1/root",
            "/proc/self/root/",
            "/proc/42/cwd",
            "/proc/thread-self/root",
            "/proc/1/task/1/root",
            "/dev/../proc/1/root",
            "/proc/1/task",
        ] {
            assert_eq!(node_path(p), "/", "{p}");
        }
        assert_eq!(node_path("/proc/1/root/etc"), "/etc");
        assert_eq!(
            node_path("/proc/self/cwd/var/run/docker.sock"),
            "/var/run/docker.sock"
        );
        assert_eq!(node_path("/proc/sys"), "/proc/sys");
        assert_eq!(node_path("/proc/1/environ"), "/proc/1/environ");
        assert_eq!(node_path("/procfs"), "/procfs");
        assert_eq!(node_path("/etc/../"), "/");
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
