#![no_main]
//! The Docker AuthZ plugin's reader: a request line (method, target) and a body, wrapped
//! as dockerd wraps them (base64 body, headers), routed and decoded, then judged.
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use portcullis_sources::docker_authz::{self, AuthzRead};

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let (method, uri) = head.split_once(' ').unwrap_or(("POST", &head));
    let req = serde_json::json!({
        "User": "fuzz",
        "RequestMethod": method,
        "RequestUri": uri,
        "RequestHeaders": {"Content-Type": "application/json", "Content-Length": body.len().to_string()},
        "RequestBody": base64::engine::general_purpose::STANDARD.encode(body),
    });
    if let AuthzRead::Judge { deployment, .. } = docker_authz::read(&req) {
        portcullis_fuzz::judge(std::slice::from_ref(&*deployment));
    }
    // The envelope itself, as raw JSON from the socket.
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = docker_authz::read(&v);
    }
});
