//! The live Podman source: Podman's Docker-compatible API (`podman system service`,
//! rootful at /run/podman/podman.sock) speaks Docker's `/events` and
//! `/containers/{id}/json`, so it is followed and judged by the Docker source's reader and
//! mapping, under its own name (`podman`, alerts with `source.kind: podman_watch`).

use super::docker::{DockerEvents, endpoint};
use crate::ServeConfig;

const DEFAULT: &str = "/run/podman/podman.sock";

/// `podman_host` (default: the rootful socket when it exists; "" turns it off).
pub fn from_config(cfg: &ServeConfig) -> Result<Option<DockerEvents>, String> {
    let host = match cfg.podman_host.clone() {
        Some(h) => h,
        None if std::path::Path::new(DEFAULT).exists() => format!("unix://{DEFAULT}"),
        None => String::new(),
    };
    if host.is_empty() {
        return Ok(None);
    }
    let ep = endpoint(&host, None).map_err(|e| format!("podman source: {e}"))?;
    Ok(Some(DockerEvents::new("podman", host, ep)?))
}
