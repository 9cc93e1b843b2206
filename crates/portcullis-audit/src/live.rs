//! A live cluster through a kubeconfig: the same objects a `--dump` folder holds, read from
//! the API server with the kubeconfig's current context.
//!
//! Why our own small client and not kubectl or kube-rs: an audit must run where it is
//! pointed, with nothing else installed, and must verify the server (so
//! `insecure-skip-tls-verify` is refused, not honoured). Authentication: client
//! certificates and bearer tokens (inline or from files) and `exec` credential plugins
//! (`exec_credential`: EKS, GKE, AKS's kubelogin). The legacy `auth-provider` entries
//! (removed from kubectl in 1.26) get a clear error naming `--dump`.

use crate::kubernetes::{Object, flatten};
use base64::Engine as _;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The collections a dump holds, as API paths. Optional ones (404 on older clusters) are
/// skipped quietly.
/// Objects asked for per page (`?limit=`): the API server answers a large collection in
/// pages of at most this many, linked by `metadata.continue`, so a cluster of any size is
/// read in bounded memory, as `kubectl get` reads it.
const PAGE_LIMIT: usize = 500;

/// The most one page may be: 500 objects are a few megabytes; a larger answer is not an
/// API server's.
const MAX_PAGE_BYTES: usize = 64 * 1024 * 1024;

/// Pages of one collection at the most (5 million objects): an API server that hands back
/// continue tokens forever is not followed forever.
const MAX_PAGES: usize = 10_000;

const COLLECTIONS: &[(&str, bool)] = &[
    ("/apis/rbac.authorization.k8s.io/v1/clusterroles", true),
    (
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        true,
    ),
    ("/apis/rbac.authorization.k8s.io/v1/roles", true),
    ("/apis/rbac.authorization.k8s.io/v1/rolebindings", true),
    ("/api/v1/serviceaccounts", true),
    ("/api/v1/namespaces", true),
    ("/apis/networking.k8s.io/v1/networkpolicies", true),
    (
        "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
        true,
    ),
    (
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
        false,
    ),
    (
        "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings",
        false,
    ),
    ("/api/v1/namespaces/kube-system/pods", true),
];

/// The connection details of the kubeconfig's current context.
pub struct Cluster {
    pub server: String,
    pub context: String,
    authority: String,
    tls: Arc<rustls::ClientConfig>,
    name: ServerName<'static>,
    token: Option<String>,
}

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `*-data` (base64) or a file path relative to the kubeconfig.
fn bytes(v: &Value, key: &str, base: &Path, what: &str) -> Result<Option<Vec<u8>>, String> {
    if let Some(d) = field(v, &format!("{key}-data")) {
        return base64::engine::general_purpose::STANDARD
            .decode(d.trim())
            .map(Some)
            .map_err(|e| format!("{what}.{key}-data: {e}"));
    }
    match field(v, key) {
        Some(p) => {
            let path = base.join(p);
            std::fs::read(&path)
                .map(Some)
                .map_err(|e| format!("{what}.{key} {}: {e}", path.display()))
        }
        None => Ok(None),
    }
}

fn named<'a>(cfg: &'a Value, list: &str, name: &str, inner: &str) -> Result<&'a Value, String> {
    cfg.get(list)
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|e| field(e, "name") == Some(name)))
        .and_then(|e| e.get(inner))
        .ok_or_else(|| format!("{list}: no entry named {name:?}"))
}

impl Cluster {
    /// Read a kubeconfig (`context`: the current one when `None`).
    pub fn from_kubeconfig(path: &Path, context: Option<&str>) -> Result<Cluster, String> {
        let at = |e: String| format!("{}: {e}", path.display());
        let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
        let cfg = portcullis_sources::manifest::parse_yaml(&text)
            .map_err(|(line, _, m)| format!("{}:{line}: {m}", path.display()))?;
        let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let context = match context {
            Some(c) => c.to_string(),
            None => field(&cfg, "current-context")
                .ok_or_else(|| at("no current-context".into()))?
                .to_string(),
        };
        let ctx = named(&cfg, "contexts", &context, "context").map_err(at)?;
        let cluster_name =
            field(ctx, "cluster").ok_or_else(|| at("context without cluster".into()))?;
        let cluster = named(&cfg, "clusters", cluster_name, "cluster").map_err(at)?;
        let user = match field(ctx, "user") {
            Some(u) => named(&cfg, "users", u, "user").map_err(at)?.clone(),
            None => Value::Null,
        };
        let server = field(cluster, "server")
            .ok_or_else(|| at(format!("cluster {cluster_name:?} has no server")))?
            .trim_end_matches('/')
            .to_string();
        let authority = server
            .strip_prefix("https://")
            .ok_or_else(|| at(format!("{server}: only https:// API servers are audited")))?
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        if cluster
            .get("insecure-skip-tls-verify")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Err(at(format!(
                "cluster {cluster_name:?} sets insecure-skip-tls-verify; an audit verifies the server: add certificate-authority-data, or dump the cluster and use --dump"
            )));
        }
        if user.get("auth-provider").is_some() {
            return Err(at(format!(
                "user of context {context:?} authenticates through an auth-provider, which kubectl no longer supports; use an exec plugin, or dump the cluster with kubectl and use --dump"
            )));
        }
        // As client-go: what the kubeconfig states itself wins, the plugin fills the rest.
        let plugin = match user.get("exec").filter(|e| !e.is_null()) {
            Some(exec) => crate::exec_credential::run(exec, &base, cluster).map_err(at)?,
            None => crate::exec_credential::Credential::default(),
        };
        let host = authority
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(authority.as_str(), |(h, _)| h)
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let name = ServerName::try_from(
            field(cluster, "tls-server-name")
                .map(str::to_string)
                .unwrap_or(host),
        )
        .map_err(|e| at(e.to_string()))?;
        let ca = bytes(cluster, "certificate-authority", &base, "cluster").map_err(at)?;
        let ca = ca.ok_or_else(|| {
            at(format!(
                "cluster {cluster_name:?} names no certificate-authority(-data)"
            ))
        })?;
        let cas = portcullis_tls::certificates(&ca, "certificate-authority").map_err(at)?;
        let cert = bytes(&user, "client-certificate", &base, "user").map_err(at)?;
        let key = bytes(&user, "client-key", &base, "user").map_err(at)?;
        let (cert, key) = match (cert, key, plugin.client_cert) {
            (None, None, Some((c, k))) => (Some(c), Some(k)),
            (c, k, _) => (c, k),
        };
        let identity = match (cert, key) {
            (Some(c), Some(k)) => Some(
                portcullis_tls::Identity::from_pem(&c, "client-certificate", &k, "client-key")
                    .map_err(at)?,
            ),
            _ => None,
        };
        let tls = portcullis_tls::client_config(portcullis_tls::Trust::Only(cas), identity)
            .map_err(at)?;
        let token = match (field(&user, "token"), field(&user, "tokenFile")) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(base.join(f))
                    .map_err(|e| at(format!("tokenFile {f}: {e}")))?
                    .trim()
                    .to_string(),
            ),
            _ => plugin.token,
        };
        Ok(Cluster {
            server,
            context,
            authority,
            tls,
            name,
            token,
        })
    }

    async fn get(&self, path: &str) -> Result<(u16, Bytes), String> {
        let addr = if self.authority.contains(':') && !self.authority.ends_with(']') {
            self.authority.clone()
        } else {
            format!("{}:443", self.authority)
        };
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("{}: {e}", self.server))?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(self.name.clone(), tcp)
            .await
            .map_err(|e| format!("{}: TLS: {e}", self.server))?;
        let (mut tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut req = hyper::Request::get(path)
            .header("Host", &self.authority)
            .header("Accept", "application/json")
            .header("User-Agent", "portcullis-audit");
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let req = req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
        let resp = tx.send_request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = http_body_util::Limited::new(resp.into_body(), MAX_PAGE_BYTES)
            .collect()
            .await
            .map_err(|e| format!("{}{path}: {e}", self.server))?
            .to_bytes();
        Ok((status, body))
    }

    async fn collect(&self, objects: &mut Vec<Object>, errors: &mut Vec<String>) {
        let fetch = |path: String| async move {
            match tokio::time::timeout(Duration::from_secs(30), self.get(&path)).await {
                Ok(r) => r,
                Err(_) => Err(format!("{}{path}: timed out", self.server)),
            }
        };
        for (path, required) in COLLECTIONS {
            let source = format!("{}{path}", self.server);
            let mut next: Option<String> = None;
            for page in 0.. {
                if page == MAX_PAGES {
                    errors.push(format!(
                        "{source}: more than {MAX_PAGES} pages; read no further"
                    ));
                    break;
                }
                let query = match &next {
                    None => format!("{path}?limit={PAGE_LIMIT}"),
                    Some(token) => format!(
                        "{path}?limit={PAGE_LIMIT}&continue={}",
                        percent_encoding::utf8_percent_encode(
                            token,
                            percent_encoding::NON_ALPHANUMERIC
                        )
                    ),
                };
                match fetch(query).await {
                    Ok((200, body)) => match serde_json::from_slice::<Value>(&body) {
                        Ok(v) => {
                            next = v
                                .pointer("/metadata/continue")
                                .and_then(Value::as_str)
                                .filter(|t| !t.is_empty())
                                .map(str::to_string);
                            flatten(v, &source, objects);
                            if next.is_none() {
                                break;
                            }
                        }
                        Err(e) => {
                            errors.push(format!("{source}: not JSON: {e}"));
                            break;
                        }
                    },
                    Ok((404, _)) if !required => break,
                    Ok((status, body)) => {
                        // 410 Gone: the continue token expired (the list changed too much
                        // while it was read); what was read so far is kept, and said.
                        errors.push(format!(
                            "{source}: HTTP {status}{}: {}",
                            if page > 0 {
                                format!(" on page {}", page + 1)
                            } else {
                                String::new()
                            },
                            String::from_utf8_lossy(&body)
                                .chars()
                                .take(200)
                                .collect::<String>()
                        ));
                        break;
                    }
                    Err(e) => {
                        errors.push(e);
                        break;
                    }
                }
            }
        }
        // Each node's kubelet configuration, through the API server's node proxy.
        let nodes = match fetch("/api/v1/nodes".into()).await {
            Ok((200, body)) => serde_json::from_slice::<Value>(&body).unwrap_or_default(),
            Ok((status, _)) => {
                errors.push(format!("{}/api/v1/nodes: HTTP {status}", self.server));
                Value::Null
            }
            Err(e) => {
                errors.push(e);
                Value::Null
            }
        };
        let names: Vec<String> = nodes
            .get("items")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|n| n.pointer("/metadata/name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        for node in names {
            let path = format!("/api/v1/nodes/{node}/proxy/configz");
            let source = format!("{}{path}", self.server);
            match fetch(path).await {
                Ok((200, body)) => match serde_json::from_slice::<Value>(&body) {
                    Ok(mut v) => {
                        // configz does not say which node it describes.
                        if let Some(k) = v.get_mut("kubeletconfig").and_then(Value::as_object_mut) {
                            k.insert("metadata".into(), serde_json::json!({"name": node}));
                        }
                        flatten(v, &source, objects)
                    }
                    Err(e) => errors.push(format!("{source}: not JSON: {e}")),
                },
                Ok((status, _)) => errors.push(format!("{source}: HTTP {status}")),
                Err(e) => errors.push(e),
            }
        }
    }

    /// Every object a dump would hold, and what could not be read (by API path).
    pub fn fetch(&self) -> Result<(Vec<Object>, Vec<String>), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let mut objects = Vec::new();
        let mut errors = Vec::new();
        rt.block_on(self.collect(&mut objects, &mut errors));
        Ok((objects, errors))
    }
}
