//! A kubeconfig user's `exec` credential plugin, run as client-go runs it: EKS's
//! `aws eks get-token`, GKE's `gke-gcloud-auth-plugin`, `kubelogin` and the like.
//!
//! The plugin gets `KUBERNETES_EXEC_INFO` (an `ExecCredential` request naming the API
//! version the kubeconfig asked for, never interactive: an audit runs unattended, so
//! `interactiveMode: Always` is refused), the kubeconfig's `env` on top of ours, no stdin,
//! our stderr (where plugins explain themselves). It must answer on stdout with an
//! `ExecCredential` of the same API version whose `status` holds a token, a client
//! certificate and key, or both. A plugin that runs longer than [`TIMEOUT`] or writes more
//! than [`MAX_OUTPUT`] is stopped and its credential refused.
//!
//! Why not `kube`'s exec support: `kube-client` brings `k8s-openapi` (a typed model of every
//! API version, minutes of compile time) and its own HTTP stack for what is ~150 lines
//! here; the audit needs one token or certificate, once.

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// How long a plugin may take (a cloud CLI fetching a token over the network).
pub const TIMEOUT: Duration = Duration::from_secs(60);
/// The most an `ExecCredential` answer may be.
pub const MAX_OUTPUT: u64 = 1024 * 1024;

const VERSIONS: &[&str] = &[
    "client.authentication.k8s.io/v1",
    "client.authentication.k8s.io/v1beta1",
];

/// What a plugin handed over.
#[derive(Debug, Default)]
pub struct Credential {
    pub token: Option<String>,
    /// PEM client certificate and key, together or not at all.
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// Run `exec` (a kubeconfig `user.exec`), relative paths against the kubeconfig's folder
/// `base`; `cluster` is the context's cluster entry, passed on when the plugin asks for it
/// (`provideClusterInfo`).
pub fn run(exec: &Value, base: &Path, cluster: &Value) -> Result<Credential, String> {
    let version = text(exec, "apiVersion").ok_or("user.exec.apiVersion is missing")?;
    if !VERSIONS.contains(&version) {
        return Err(format!(
            "user.exec.apiVersion {version:?} is not one of {}",
            VERSIONS.join(", ")
        ));
    }
    let command = text(exec, "command").ok_or("user.exec.command is missing")?;
    match text(exec, "interactiveMode") {
        Some("Always") => {
            return Err(format!(
                "user.exec {command}: interactiveMode is Always, and an audit runs without a terminal"
            ));
        }
        None if version.ends_with("/v1") => {
            return Err(
                "user.exec.interactiveMode is required by client.authentication.k8s.io/v1".into(),
            );
        }
        None | Some("Never") | Some("IfAvailable") => {}
        Some(other) => return Err(format!("user.exec.interactiveMode {other:?} is unknown")),
    }
    // As kubectl resolves it: a command with a path separator is relative to the
    // kubeconfig; a bare name is looked up on PATH.
    let program = if command.contains('/') {
        base.join(command)
    } else {
        command.into()
    };
    let args: Vec<&str> = match exec.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .ok_or(format!("user.exec.args[{i}] is not a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("user.exec.args is not a list".into()),
    };
    let mut env = Vec::new();
    match exec.get("env") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for (i, e) in a.iter().enumerate() {
                let name = text(e, "name").ok_or(format!("user.exec.env[{i}].name is missing"))?;
                let value = e.get("value").and_then(Value::as_str).unwrap_or_default();
                env.push((name, value));
            }
        }
        Some(_) => return Err("user.exec.env is not a list".into()),
    }
    let mut spec = json!({"interactive": false});
    if exec.get("provideClusterInfo").and_then(Value::as_bool) == Some(true) {
        let mut info = json!({
            "server": cluster.get("server").cloned().unwrap_or(Value::Null),
            "certificate-authority-data": cluster.get("certificate-authority-data").cloned().unwrap_or(Value::Null),
            "tls-server-name": cluster.get("tls-server-name").cloned().unwrap_or(Value::Null),
        });
        if let Some(cfg) = cluster
            .get("extensions")
            .and_then(Value::as_array)
            .and_then(|x| {
                x.iter()
                    .find(|e| text(e, "name") == Some("client.authentication.k8s.io/exec"))
            })
            .and_then(|e| e.get("extension"))
        {
            info["config"] = cfg.clone();
        }
        spec["cluster"] = info;
    }
    let request = json!({"apiVersion": version, "kind": "ExecCredential", "spec": spec});
    let shown = program.display().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let stdout = rt.block_on(async {
        use tokio::io::AsyncReadExt;
        let mut child = tokio::process::Command::new(&program)
            .args(&args)
            .envs(env.iter().copied())
            .env("KUBERNETES_EXEC_INFO", request.to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                let hint = text(exec, "installHint").map_or(String::new(), |h| format!(" ({h})"));
                format!("user.exec {shown}: {e}{hint}")
            })?;
        let mut out = Vec::new();
        let finished = tokio::time::timeout(TIMEOUT, async {
            if let Some(pipe) = child.stdout.take() {
                pipe.take(MAX_OUTPUT + 1).read_to_end(&mut out).await?;
            }
            // Past the cap nobody reads its pipe any more: stop it rather than wait for it.
            if out.len() as u64 > MAX_OUTPUT {
                let _ = child.start_kill();
            }
            child.wait().await
        })
        .await;
        match finished {
            Err(_) => Err(format!(
                "user.exec {shown}: no answer within {}s",
                TIMEOUT.as_secs()
            )),
            Ok(Err(e)) => Err(format!("user.exec {shown}: {e}")),
            Ok(Ok(_)) if out.len() as u64 > MAX_OUTPUT => Err(format!(
                "user.exec {shown}: wrote more than {MAX_OUTPUT} bytes"
            )),
            Ok(Ok(status)) if !status.success() => Err(format!("user.exec {shown}: {status}")),
            Ok(Ok(_)) => Ok(out),
        }
    })?;
    parse(&stdout, version).map_err(|e| format!("user.exec {shown}: {e}"))
}

/// Read a plugin's answer: an `ExecCredential` of the version asked for, with a status.
fn parse(stdout: &[u8], version: &str) -> Result<Credential, String> {
    let v: Value =
        serde_json::from_slice(stdout).map_err(|e| format!("answer is not JSON: {e}"))?;
    if text(&v, "kind") != Some("ExecCredential") {
        return Err("answer is not an ExecCredential".into());
    }
    if text(&v, "apiVersion") != Some(version) {
        return Err(format!(
            "answer's apiVersion {:?} is not the {version} asked for",
            text(&v, "apiVersion").unwrap_or_default()
        ));
    }
    let status = v.get("status").ok_or("answer has no status")?;
    let token = text(status, "token").map(str::to_string);
    let client_cert = match (
        text(status, "clientCertificateData"),
        text(status, "clientKeyData"),
    ) {
        (Some(c), Some(k)) => Some((c.as_bytes().to_vec(), k.as_bytes().to_vec())),
        (None, None) => None,
        _ => {
            return Err(
                "status has one of clientCertificateData and clientKeyData without the other"
                    .into(),
            );
        }
    };
    if token.is_none() && client_cert.is_none() {
        return Err("status holds neither a token nor a client certificate".into());
    }
    Ok(Credential { token, client_cert })
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = "client.authentication.k8s.io/v1";

    #[test]
    fn answers_are_held_to_the_protocol() {
        let ok = parse(
            br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t0k","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#,
            V1,
        )
        .expect("token");
        assert_eq!(ok.token.as_deref(), Some("t0k"));
        for (answer, why) in [
            (&br#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}"#[..], "not the"),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"}"#, "no status"),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}"#, "neither"),
            (br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x"}}"#, "without the other"),
            (b"token: t", "not JSON"),
        ] {
            let e = parse(answer, V1).expect_err("refused");
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn a_kubeconfig_exec_entry_is_checked_before_anything_runs() {
        let base = Path::new("/nonexistent");
        for (exec, why) in [
            (json!({"command": "x"}), "apiVersion is missing"),
            (
                json!({"apiVersion": "client.authentication.k8s.io/v1alpha1", "command": "x"}),
                "is not one of",
            ),
            (
                json!({"apiVersion": V1, "command": "x"}),
                "interactiveMode is required",
            ),
            (
                json!({"apiVersion": V1, "command": "x", "interactiveMode": "Always"}),
                "without a terminal",
            ),
            (
                json!({"apiVersion": V1, "command": "./missing", "interactiveMode": "Never", "installHint": "install it"}),
                "install it",
            ),
        ] {
            let e = run(&exec, base, &Value::Null).expect_err("refused");
            assert!(e.contains(why), "{exec}: {e}");
        }
    }

    #[test]
    fn a_plugin_that_never_stops_writing_is_stopped_at_the_cap() {
        let exec = json!({"apiVersion": V1, "command": "/bin/sh", "args": ["-c", "yes"], "interactiveMode": "Never"});
        let started = std::time::Instant::now();
        let e = run(&exec, Path::new("/"), &Value::Null).expect_err("refused");
        assert!(e.contains("wrote more than"), "{e}");
        assert!(started.elapsed() < TIMEOUT / 2, "stopped, not waited for");
    }
}
