//! Lenient accessors over `serde_json::Value`.
//!
//! Manifests reach us through YAML, where `privileged: yes` is a boolean (YAML 1.1, which
//! Kubernetes' `sigs.k8s.io/yaml` follows) and `runAsUser: "0"` may be a string. A detector
//! must read them the way the API server will, and must never reject a document for being
//! oddly typed when the runtime would accept it.

use serde_json::{Map, Value};

pub type Obj = Map<String, Value>;

pub fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Obj> {
    v.get(key).and_then(Value::as_object)
}

pub fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Scalars as text: strings as is, numbers and booleans spelled out.
pub fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(scalar).filter(|s| !s.is_empty())
}

pub fn boolean(v: &Value, key: &str) -> Option<bool> {
    v.get(key).and_then(as_bool)
}

pub fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "on" | "1" => Some(true),
            "false" | "no" | "n" | "off" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

pub fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list of strings; a lone string becomes a one-element list.
pub fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key).map(string_list).unwrap_or_default()
}

/// A value as a list of strings: an array's scalars, or a lone scalar.
pub fn string_list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().filter_map(scalar).collect(),
        Value::Null => Vec::new(),
        other => scalar(other).into_iter().collect(),
    }
}

/// A string→string map (labels, annotations, nodeSelector), in document order.
pub fn string_map(v: &Value, key: &str) -> Vec<(String, String)> {
    obj(v, key)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), scalar(v).unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default()
}

/// A JSON value's type, for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Decode `application/x-www-form-urlencoded` text (`%XX` escapes, `+` for space). Works on
/// bytes, so a `%` before a multi-byte character cannot split it; invalid UTF-8 after
/// decoding is replaced, not rejected; text with a bad escape is kept as written (with
/// `+` as space), where Go would refuse it.
pub fn percent_decode(s: &str) -> String {
    query_unescape(s).unwrap_or_else(|| s.replace('+', " "))
}

/// Go's `url.QueryUnescape`: `None` for a bad escape (Go then drops the pair).
fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let h = b.get(i + 1).copied().and_then(hex)?;
                let l = b.get(i + 2).copied().and_then(hex)?;
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The query of a request URI as decoded `(key, value)` pairs, in order, as Go's
/// `url.ParseQuery` reads them: a pair holding `;` or a bad escape is dropped (so it can
/// not shadow the pair after it for a first-wins reader).
pub fn query_pairs(uri: &str) -> Vec<(String, String)> {
    let Some((_, query)) = uri.split_once('?') else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|p| !p.is_empty() && !p.contains(';'))
        .filter_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((query_unescape(k)?, query_unescape(v)?))
        })
        .collect()
}

/// A query parameter's value as dockerd reads it: Go's `r.Form.Get` returns the *first*
/// value of a repeated key. Reading any other one would let `networkmode=host&networkmode=
/// bridge` show the plugin a bridge build while the engine builds on the host network.
pub fn query_param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod query_tests {
    use super::*;

    #[test]
    fn percent_decoding_never_splits_characters() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("%aé"), "%aé");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41"), "A");
        let q = query_pairs("/build?networkmode=host&networkmode=bridge");
        assert_eq!(query_param(&q, "networkmode"), Some("host"));
        assert_eq!(
            query_pairs("/build?t=web%3A1&networkmode=host&hostname=x&name"),
            vec![
                ("t".to_string(), "web:1".to_string()),
                ("networkmode".to_string(), "host".to_string()),
                ("hostname".to_string(), "x".to_string()),
                ("name".to_string(), String::new()),
            ]
        );
    }
}
