//! `curl` and `wget` against the Docker Engine API (a socket or `tcp://…:2375`).

use super::*;

/// curl/wget speaking the Docker Engine API: over the socket, or to a TCP daemon (2375).
pub(super) fn http_client(tool: &str, args: &[String], base: &Deployment) -> Vec<Deployment> {
    let (urls, socket, data) = if tool == "curl" {
        let p = parse_args(
            args,
            &Grammar {
                long_bools: &[
                    "silent",
                    "insecure",
                    "location",
                    "fail",
                    "verbose",
                    "include",
                    "compressed",
                    "show-error",
                    "http1.1",
                    "no-buffer",
                    "get",
                ],
                short_values: "XdHoeuAbcmrwTFx",
            },
            0,
        );
        let mut urls = p.positionals.clone();
        urls.extend(p.all(&["url"]));
        let data = p
            .all(&["d", "data", "data-raw", "data-binary", "data-ascii", "json"])
            .pop();
        (urls, p.last(&["unix-socket", "abstract-unix-socket"]), data)
    } else {
        let p = parse_args(
            args,
            &Grammar {
                long_bools: &["quiet", "no-check-certificate", "spider", "server-response"],
                short_values: "OoqPT",
            },
            0,
        );
        (
            p.positionals.clone(),
            None,
            p.last(&["post-data", "body-data"]),
        )
    };
    let mut out = Vec::new();
    for url in urls {
        let (endpoint, path) = split_url(&url);
        let docker_port = endpoint
            .as_deref()
            .is_some_and(|e| e.ends_with(":2375") || e.ends_with(":2376"));
        let to_docker = socket
            .as_deref()
            .is_some_and(|s| s.contains("docker.sock") || s.contains("podman.sock"))
            || docker_port;
        if !to_docker && !path.contains("/containers/") {
            continue;
        }
        let endpoint = match (&socket, endpoint) {
            (Some(s), _) => Some(format!("unix://{s}")),
            (None, Some(e)) => Some(format!("tcp://{e}")),
            (None, None) => None,
        };
        let mut base = base.clone();
        base.endpoint = endpoint;
        let p = path.split('?').next().unwrap_or("");
        let p = strip_version(p);
        if p == "/containers/create" {
            let name = path
                .split_once("name=")
                .map(|(_, n)| n.split('&').next().unwrap_or("").to_string());
            // Read as dockerd reads it; a body it would refuse creates nothing.
            let body = data
                .as_deref()
                .and_then(|d| crate::docker_wire::create_request(d.as_bytes()).ok())
                .unwrap_or_else(|| json!({}));
            let mut d = docker_api::create_deployment(
                &body,
                docker_api::Shape::Request,
                name.as_deref(),
                base.origin.clone(),
            );
            d.target.api_version = "docker-api".into();
            out.push(Deployment {
                operation: Operation::Create,
                outcome: Outcome::Attempted,
                ..with_pod(&base, d)
            });
        } else if let Some(id) = p
            .strip_prefix("/containers/")
            .and_then(|r| r.strip_suffix("/start"))
        {
            out.push(derive(
                &base,
                Operation::Start,
                docker_target("docker-api", id),
                None,
            ));
        } else if let Some(id) = p
            .strip_prefix("/containers/")
            .and_then(|r| r.strip_suffix("/exec"))
        {
            out.push(derive(
                &base,
                Operation::Exec,
                docker_target("docker-api", id),
                None,
            ));
        }
    }
    out
}

pub(super) fn split_url(url: &str) -> (Option<String>, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => {
            let host = &rest[..i];
            let host = (!host.is_empty() && host != "localhost" && host != "docker")
                .then(|| host.to_string());
            (host, rest[i..].to_string())
        }
        None => (Some(rest.to_string()), "/".into()),
    }
}
