//! Which Docker Engine endpoint a request reaches, decided the way dockerd's router
//! decides it.
//!
//! The AuthZ plugin is handed the request line's target as the client wrote it
//! (`RequestUri` is Go's `r.RequestURI`), while dockerd routes on the parsed, decoded
//! path (`r.URL.Path`) with gorilla/mux. So, as Go and mux do:
//! - an absolute-form target (`http://docker/v1.41/containers/create`) is routed by its
//!   path;
//! - the path is percent-decoded (`%63reate`, `containers%2Fcreate`); a bad escape is a
//!   request Go refuses;
//! - a path mux would first redirect (`//`, `.`, `..`) is cleaned — the redirected request
//!   is then routed like any other;
//! - an API version prefix `/v{[0-9.]+}` is optional on every route;
//! - routes are tried in moby's registration order, with its patterns (`{name:.*}` spans
//!   slashes: `/containers/a/b/exec` is an exec into container `a/b`).
//!
//! Every route moby registers (Engine 20.10 to 28) is listed, with what it can do to the
//! node. A mutating request that matches none is [`Class::Unknown`]; the plugin denies it.

/// What a route can do, for the door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Gives a container (or a plugin, or a build step) its powers: judged with the pack.
    Judged(Endpoint),
    /// Changes state but grants no container anything it did not already have (stop,
    /// remove, pull, tag, network create…): allowed.
    Mutates,
    /// Reads only.
    Reads,
    /// Changes state in a way the plugin cannot see (the request carries no readable
    /// description of what it grants): denied.
    Opaque(&'static str),
    /// No route matches: dockerd answers 404/405, or a newer engine has an endpoint this
    /// table does not know. Denied unless the method only reads.
    Unknown,
}

/// The endpoints whose bodies the pack judges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ContainerCreate,
    ContainerExec,
    ServiceCreate,
    ServiceUpdate,
    VolumeCreate,
    PluginPull,
    PluginUpgrade,
    PluginSet,
    Build,
}

/// A routed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub class: Class,
    /// The decoded, cleaned path without its version prefix (`/containers/create`).
    pub path: String,
    /// The route's `{name}`/`{id}` variable, when it has one.
    pub name: Option<String>,
    /// The raw query (after `?`), for [`crate::docker_api::query_pairs`].
    pub query: String,
}

use Class::{Judged, Mutates, Opaque, Reads};
use Endpoint as E;

/// moby's routes: method, path pattern, class. `{x}` is one segment, `{x:.*}` any text
/// (slashes included, possibly empty), `{x:.+}` any non-empty text.
static ROUTES: &[(&str, &str, Class)] = &[
    ("POST", "/build", Judged(E::Build)),
    ("POST", "/build/prune", Mutates),
    ("POST", "/build/cancel", Mutates),
    ("GET", "/containers/{name:.*}/checkpoints", Reads),
    ("POST", "/containers/{name:.*}/checkpoints", Mutates),
    (
        "DELETE",
        "/containers/{name}/checkpoints/{checkpoint}",
        Mutates,
    ),
    ("HEAD", "/containers/{name:.*}/archive", Reads),
    ("GET", "/containers/json", Reads),
    ("GET", "/containers/{name:.*}/export", Reads),
    ("GET", "/containers/{name:.*}/changes", Reads),
    ("GET", "/containers/{name:.*}/json", Reads),
    ("GET", "/containers/{name:.*}/top", Reads),
    ("GET", "/containers/{name:.*}/logs", Reads),
    ("GET", "/containers/{name:.*}/stats", Reads),
    ("GET", "/containers/{name:.*}/attach/ws", Reads),
    ("GET", "/exec/{id:.*}/json", Reads),
    ("GET", "/containers/{name:.*}/archive", Reads),
    ("POST", "/containers/create", Judged(E::ContainerCreate)),
    ("POST", "/containers/{name:.*}/kill", Mutates),
    ("POST", "/containers/{name:.*}/pause", Mutates),
    ("POST", "/containers/{name:.*}/unpause", Mutates),
    ("POST", "/containers/{name:.*}/restart", Mutates),
    ("POST", "/containers/{name:.*}/start", Mutates),
    ("POST", "/containers/{name:.*}/stop", Mutates),
    ("POST", "/containers/{name:.*}/wait", Mutates),
    ("POST", "/containers/{name:.*}/resize", Mutates),
    ("POST", "/containers/{name:.*}/attach", Mutates),
    ("POST", "/containers/{name:.*}/copy", Mutates),
    (
        "POST",
        "/containers/{name:.*}/exec",
        Judged(E::ContainerExec),
    ),
    ("POST", "/exec/{name:.*}/start", Mutates),
    ("POST", "/exec/{name:.*}/resize", Mutates),
    ("POST", "/containers/{name:.*}/rename", Mutates),
    // `UpdateConfig` is resources and restart policy; the engine applies no device or
    // namespace change to a running container.
    ("POST", "/containers/{name:.*}/update", Mutates),
    ("POST", "/containers/prune", Mutates),
    ("POST", "/commit", Mutates),
    ("PUT", "/containers/{name:.*}/archive", Mutates),
    ("DELETE", "/containers/{name:.*}", Mutates),
    ("GET", "/vars", Reads),
    ("GET", "/pprof/", Reads),
    ("GET", "/pprof/cmdline", Reads),
    ("GET", "/pprof/profile", Reads),
    ("GET", "/pprof/symbol", Reads),
    ("GET", "/pprof/trace", Reads),
    ("GET", "/pprof/{name}", Reads),
    ("GET", "/distribution/{name:.*}/json", Reads),
    // BuildKit's gRPC and session streams: what a BuildKit build runs is not in any
    // request the plugin sees (see the threat model in docs/serve.md).
    ("POST", "/grpc", Mutates),
    ("POST", "/session", Mutates),
    ("GET", "/images/json", Reads),
    ("GET", "/images/search", Reads),
    ("GET", "/images/get", Reads),
    ("GET", "/images/{name:.*}/get", Reads),
    ("GET", "/images/{name:.*}/history", Reads),
    ("GET", "/images/{name:.*}/json", Reads),
    ("POST", "/images/load", Mutates),
    ("POST", "/images/create", Mutates),
    ("POST", "/images/{name:.*}/push", Mutates),
    ("POST", "/images/{name:.*}/tag", Mutates),
    ("POST", "/images/prune", Mutates),
    ("DELETE", "/images/{name:.*}", Mutates),
    ("GET", "/networks", Reads),
    ("GET", "/networks/", Reads),
    ("GET", "/networks/{id:.+}", Reads),
    ("POST", "/networks/create", Mutates),
    ("POST", "/networks/{id:.*}/connect", Mutates),
    ("POST", "/networks/{id:.*}/disconnect", Mutates),
    ("POST", "/networks/prune", Mutates),
    ("DELETE", "/networks/{id:.*}", Mutates),
    ("GET", "/plugins", Reads),
    ("GET", "/plugins/{name:.*}/json", Reads),
    ("GET", "/plugins/privileges", Reads),
    ("DELETE", "/plugins/{name:.*}", Mutates),
    ("POST", "/plugins/{name:.*}/enable", Mutates),
    ("POST", "/plugins/{name:.*}/disable", Mutates),
    ("POST", "/plugins/pull", Judged(E::PluginPull)),
    ("POST", "/plugins/{name:.*}/push", Mutates),
    (
        "POST",
        "/plugins/{name:.*}/upgrade",
        Judged(E::PluginUpgrade),
    ),
    ("POST", "/plugins/{name:.*}/set", Judged(E::PluginSet)),
    // The plugin's config.json (its mounts, devices, capabilities) is inside the tar body,
    // which dockerd does not forward.
    (
        "POST",
        "/plugins/create",
        Opaque(
            "a plugin created from a tar context: its privileges are inside the archive, which the engine does not show the plugin",
        ),
    ),
    ("POST", "/swarm/init", Mutates),
    ("POST", "/swarm/join", Mutates),
    ("POST", "/swarm/leave", Mutates),
    ("GET", "/swarm", Reads),
    ("GET", "/swarm/unlockkey", Reads),
    ("POST", "/swarm/update", Mutates),
    ("POST", "/swarm/unlock", Mutates),
    ("GET", "/services", Reads),
    ("GET", "/services/{id}", Reads),
    ("POST", "/services/create", Judged(E::ServiceCreate)),
    ("POST", "/services/{id}/update", Judged(E::ServiceUpdate)),
    ("DELETE", "/services/{id}", Mutates),
    ("GET", "/services/{id}/logs", Reads),
    ("GET", "/nodes", Reads),
    ("GET", "/nodes/{id}", Reads),
    ("DELETE", "/nodes/{id}", Mutates),
    ("POST", "/nodes/{id}/update", Mutates),
    ("GET", "/tasks", Reads),
    ("GET", "/tasks/{id}", Reads),
    ("GET", "/tasks/{id}/logs", Reads),
    ("GET", "/secrets", Reads),
    ("POST", "/secrets/create", Mutates),
    ("DELETE", "/secrets/{id}", Mutates),
    ("GET", "/secrets/{id}", Reads),
    ("POST", "/secrets/{id}/update", Mutates),
    ("GET", "/configs", Reads),
    ("POST", "/configs/create", Mutates),
    ("DELETE", "/configs/{id}", Mutates),
    ("GET", "/configs/{id}", Reads),
    ("POST", "/configs/{id}/update", Mutates),
    ("OPTIONS", "/{anyroute:.*}", Reads),
    ("GET", "/_ping", Reads),
    ("HEAD", "/_ping", Reads),
    ("GET", "/events", Reads),
    ("GET", "/info", Reads),
    ("GET", "/version", Reads),
    ("GET", "/system/df", Reads),
    ("POST", "/auth", Mutates),
    ("GET", "/volumes", Reads),
    ("GET", "/volumes/{name:.*}", Reads),
    ("POST", "/volumes/create", Judged(E::VolumeCreate)),
    ("POST", "/volumes/prune", Mutates),
    // Cluster volumes (API 1.42): updates availability, not what a container mounts.
    ("PUT", "/volumes/{name:.*}", Mutates),
    ("DELETE", "/volumes/{name:.*}", Mutates),
];

/// Why a request target cannot be routed at all (Go's server answers 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError(pub String);

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The path and raw query of a request target, as Go's `url.ParseRequestURI` reads it.
pub fn split_target(uri: &str) -> Result<(String, String), RouteError> {
    let rest = if uri.starts_with('/') {
        uri
    } else if let Some(after) = scheme_rest(uri) {
        // Absolute form: `scheme://authority/path?query`.
        let end = after.find(['/', '?']).unwrap_or(after.len());
        &after[end..]
    } else {
        return Err(RouteError(format!(
            "request target {uri:?} is neither a path nor an absolute URL"
        )));
    };
    let (raw_path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let decoded = percent_decode_path(raw_path)?;
    let path = if decoded.is_empty() {
        "/".to_string()
    } else {
        decoded
    };
    Ok((path, query.to_string()))
}

/// `scheme://…` → the text after `://`, when the scheme is a valid URL scheme.
fn scheme_rest(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .then_some(rest)
}

/// Go's `url.PathUnescape`: every `%` followed by two hex digits, `+` stays `+`.
fn percent_decode_path(p: &str) -> Result<String, RouteError> {
    let b = p.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            match (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                _ => {
                    return Err(RouteError(format!("invalid percent-escape in path {p:?}")));
                }
            }
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// gorilla/mux's `cleanPath`: `path.Clean`, keeping a trailing slash.
fn clean(p: &str) -> String {
    let mut c = portcullis_model::hostpath::clean(p);
    if p.ends_with('/') && c != "/" {
        c.push('/');
    }
    c
}

/// `/v1.41/containers/create` → `/containers/create` (mux's `/v{version:[0-9.]+}`).
pub fn strip_version(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("/v")
        && let Some(i) = rest.find('/')
        && i > 0
        && rest[..i].bytes().all(|c| c.is_ascii_digit() || c == b'.')
    {
        return &rest[i..];
    }
    path
}

/// Route a request as dockerd would.
pub fn route(method: &str, uri: &str) -> Result<Routed, RouteError> {
    let (decoded, query) = split_target(uri)?;
    let cleaned = clean(&decoded);
    let unversioned = strip_version(&cleaned);
    // Each route is registered twice, `/v{version}` + path first, then the bare path.
    for (m, pattern, class) in ROUTES {
        if *m != method {
            continue;
        }
        for path in [unversioned, cleaned.as_str()] {
            if let Some(name) = matches(pattern, path) {
                return Ok(Routed {
                    class: *class,
                    path: path.to_string(),
                    name,
                    query,
                });
            }
        }
    }
    Ok(Routed {
        class: Class::Unknown,
        path: unversioned.to_string(),
        name: None,
        query,
    })
}

/// Match a mux pattern; `Some(variable)` (the first one, if any) on a match.
fn matches(pattern: &str, path: &str) -> Option<Option<String>> {
    let mut var = None;
    match_from(pattern, path, &mut var).then_some(var)
}

fn match_from(pattern: &str, path: &str, var: &mut Option<String>) -> bool {
    let Some(open) = pattern.find('{') else {
        return pattern == path;
    };
    let Some(close) = pattern[open..].find('}').map(|c| open + c) else {
        return false;
    };
    let (lit, spec, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let Some(rest) = path.strip_prefix(lit) else {
        return false;
    };
    let any = spec.ends_with(":.*");
    let non_empty_any = spec.ends_with(":.+");
    // Try every split of `rest` into (variable, remainder), longest first like a greedy
    // regexp, so `/containers/a/b/exec` gives `a/b`.
    let mut ends: Vec<usize> = (0..=rest.len())
        .filter(|i| rest.is_char_boundary(*i))
        .collect();
    ends.reverse();
    for end in ends {
        let value = &rest[..end];
        let ok = if any {
            true
        } else if non_empty_any {
            !value.is_empty()
        } else {
            !value.is_empty() && !value.contains('/')
        };
        if !ok {
            continue;
        }
        let mut inner = None;
        if match_from(tail, &rest[end..], &mut inner) {
            if var.is_none() {
                *var = Some(value.to_string());
            }
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(method: &str, uri: &str) -> Class {
        route(method, uri)
            .map(|r| r.class)
            .unwrap_or(Class::Unknown)
    }

    #[test]
    fn targets_route_like_dockerd() {
        let create = Judged(E::ContainerCreate);
        for uri in [
            "/containers/create",
            "/v1.41/containers/create?name=x",
            "http://docker/v1.41/containers/create",
            "HTTP://localhost:2375/containers/create?name=x",
            "/v1.41/containers/%63reate",
            "/v1.41/containers%2Fcreate",
            "//containers/create",
            "/v1.41/./containers/create",
            "/v1.41/x/../containers/create",
        ] {
            assert_eq!(class("POST", uri), create, "{uri}");
        }
        let r = route("POST", "/v1.44/containers/a/b/exec").expect("route");
        assert_eq!(r.class, Judged(E::ContainerExec));
        assert_eq!(r.name.as_deref(), Some("a/b"));
        let r = route("POST", "/plugins/vieux/sshfs:latest/set").expect("route");
        assert_eq!(
            (r.class, r.name.as_deref()),
            (Judged(E::PluginSet), Some("vieux/sshfs:latest"))
        );
        assert_eq!(
            class("POST", "/services/abc/update?version=3"),
            Judged(E::ServiceUpdate)
        );
        assert_eq!(class("GET", "/containers/json"), Reads);
        assert_eq!(class("POST", "/containers/abc/kill"), Mutates);
        assert_eq!(class("POST", "/containers/frobnicate"), Class::Unknown);
        assert_eq!(class("PATCH", "/containers/create"), Class::Unknown);
        assert!(matches!(class("POST", "/plugins/create?name=x"), Opaque(_)));
        assert!(route("POST", "/containers/%zzcreate").is_err());
        assert!(route("POST", "containers/create").is_err());
    }
}
