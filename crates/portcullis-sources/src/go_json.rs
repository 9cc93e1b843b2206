//! JSON read the way Go's `encoding/json` reads it into a struct.
//!
//! dockerd decodes every request body with `json.NewDecoder(body).Decode(&typedStruct)`.
//! Reading the same bytes with map semantics (serde_json's `Value`: case-sensitive keys,
//! the last of a repeated key wins) judges a different object than the one the engine
//! runs, and the attacker picks the meaning. What Go does, and so what this does:
//!
//! - **Field names** match exactly first, else case-insensitively, first field in
//!   declaration order: ASCII case, plus the non-ASCII runes that fold onto ASCII letters
//!   (`K` KELVIN SIGN onto `k`, `ſ` LONG S onto `s`: Unicode simple folding, as
//!   `bytes.EqualFold`). Go 1.21 and later fold by `ToUpper(ToLower(r))`, which also maps
//!   `ı` and `İ` onto `i`; Go 1.20 and earlier do not. A key that matches a field only under
//!   one of the two rules is **refused**: whichever engine runs, we do not guess.
//! - **Unknown keys** are ignored.
//! - **A repeated key** decodes into the same field again: a struct (or pointer to one)
//!   merges, a map gains keys (each value decoded fresh), a scalar takes the last value.
//!   `null` clears a pointer, slice or map and leaves a bool, number, string or struct as it
//!   was. A slice decoded twice reuses its backing array, so elements merge with — and even
//!   revive — earlier ones depending on the runtime's growth policy: when that could matter
//!   (elements that are objects, or `null` elements) the body is refused.
//! - **A type mismatch** fails the whole decode (dockerd answers 400 and creates nothing).
//! - **Trailing bytes** after the first value are not read (`Decoder.Decode` stops there).
//!
//! The output is a canonical `serde_json::Value`: field names spelled as declared, only
//! the fields the body set, ready for the mappers that read Docker's canonical shapes.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// JSON as the bytes say it: every member kept, in order, repeats included.
#[derive(Debug, Clone, PartialEq)]
pub enum Raw {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Raw>),
    Object(Vec<(String, Raw)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(b))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Raw, E> {
                Ok(Raw::Number(n.into()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Raw, E> {
                Ok(Raw::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Raw, E> {
                serde_json::Number::from_f64(n)
                    .map(Raw::Number)
                    .ok_or_else(|| E::custom("number out of range"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
                Ok(Raw::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Raw, E> {
                Ok(Raw::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Raw::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Raw>()? {
                    members.push((k, v));
                }
                Ok(Raw::Object(members))
            }
        }
        d.deserialize_any(RawVisitor)
    }
}

impl Raw {
    /// The first JSON value in `bytes`, as `Decoder.Decode` reads it: what follows it is
    /// not looked at.
    pub fn parse_first(bytes: &[u8]) -> Result<Raw, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        Raw::deserialize(&mut de)
    }

    /// As a `serde_json::Value` (a repeated key keeps its last value: check
    /// [`Raw::first_repeated_key`] first where that matters).
    pub fn into_value(self) -> Value {
        match self {
            Raw::Null => Value::Null,
            Raw::Bool(b) => Value::Bool(b),
            Raw::Number(n) => Value::Number(n),
            Raw::String(s) => Value::String(s),
            Raw::Array(items) => Value::Array(items.into_iter().map(Raw::into_value).collect()),
            Raw::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
        }
    }

    /// Does any object in this value name the same key twice (exactly)?
    pub fn first_repeated_key(&self) -> Option<String> {
        self.repeated_key_at(&mut String::new())
    }

    fn repeated_key_at(&self, path: &mut String) -> Option<String> {
        match self {
            Raw::Object(members) => {
                let mut seen = std::collections::HashSet::with_capacity(members.len());
                for (k, v) in members {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    if !seen.insert(k.as_str()) {
                        return Some(path.clone());
                    }
                    if let Some(p) = v.repeated_key_at(path) {
                        return Some(p);
                    }
                    path.truncate(len);
                }
                None
            }
            Raw::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    if let Some(p) = v.repeated_key_at(path) {
                        return Some(p);
                    }
                    path.truncate(len);
                }
                None
            }
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Raw::Null => "null",
            Raw::Bool(_) => "bool",
            Raw::Number(_) => "number",
            Raw::String(_) => "string",
            Raw::Array(_) => "array",
            Raw::Object(_) => "object",
        }
    }
}

/// A JSON value read the way Go merges repeated keys into a struct, when no schema says
/// which fields are structs: a key given twice with two objects merges them (the first's
/// fields stay unless the second sets them), a `null` after a value leaves the value (as
/// for Go's non-pointer fields; for pointers Go would clear it, so this errs towards
/// judging more), anything else takes the last value. For records the API server wrote
/// from a client's raw body (an audit event's `requestObject`): one read, as cheap as a
/// `Value`.
///
/// `managedFields` is skipped wherever it appears: it is the API server's bookkeeping of
/// who set which field (only `ObjectMeta` has it), never what runs, and it is the largest
/// part of every object an audit response carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged(pub Value);

impl<'de> Deserialize<'de> for Merged {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Merged, D::Error> {
        struct MergedVisitor;
        impl<'de> Visitor<'de> for MergedVisitor {
            type Value = Merged;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Merged, E> {
                Ok(Merged(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Merged, E> {
                Ok(Merged(Value::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Merged, E> {
                Ok(Merged(Value::Bool(b)))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Merged, E> {
                Ok(Merged(Value::Number(n.into())))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Merged, E> {
                Ok(Merged(Value::Number(n.into())))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Merged, E> {
                Ok(Merged(
                    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, s: &str) -> Result<Merged, E> {
                Ok(Merged(Value::String(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Result<Merged, E> {
                Ok(Merged(Value::String(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Merged, A::Error> {
                let mut items = Vec::new();
                while let Some(Merged(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Merged(Value::Array(items)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Merged, A::Error> {
                let mut out = Map::new();
                while let Some(k) = map.next_key::<String>()? {
                    if k == "managedFields" {
                        map.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    }
                    let Merged(v) = map.next_value()?;
                    // One lookup a key: a repeat (rare) merges, a new key is inserted.
                    match out.entry(k) {
                        serde_json::map::Entry::Occupied(mut e) => merge_repeat(e.get_mut(), v),
                        serde_json::map::Entry::Vacant(e) => {
                            e.insert(v);
                        }
                    }
                }
                Ok(Merged(Value::Object(out)))
            }
        }
        d.deserialize_any(MergedVisitor)
    }
}

fn merge_repeat(existing: &mut Value, later: Value) {
    match (existing, later) {
        (_, Value::Null) => {}
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(e) => merge_repeat(e, v),
                    None => {
                        a.insert(k, v);
                    }
                }
            }
        }
        // Go decodes a repeated array element by element into the earlier one.
        (Value::Array(a), Value::Array(b)) => {
            let n = b.len();
            for (i, v) in b.into_iter().enumerate() {
                match a.get_mut(i) {
                    Some(e) => merge_repeat(e, v),
                    None => a.push(v),
                }
            }
            a.truncate(n);
        }
        (e, v) => *e = v,
    }
}

/// The Go type a field is decoded into.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A field that exists but whose value does not matter here: skipped.
    Ignore,
    Bool,
    String,
    /// A Go integer field (any width; the value is kept as written).
    Int,
    /// Docker's `strslice.StrSlice`: a string or an array of strings, decoded fresh
    /// (its own `UnmarshalJSON`), never merged.
    StrSlice,
    Slice(&'static Ty),
    /// `map[string]T`: the map gains keys; each value is decoded from zero.
    Map(&'static Ty),
    Struct(&'static [Field]),
    Ptr(&'static Ty),
}

/// One struct field: its JSON name (the tag, else the Go name) and type.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: Ty,
}

/// Shorthand for the schema tables.
pub const fn f(name: &'static str, ty: Ty) -> Field {
    Field { name, ty }
}

/// Why a body was not decoded. `path` is the dotted field path as Go would name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

/// A Go value while decoding.
#[derive(Debug, Clone)]
pub enum Go {
    /// The zero value of a field never set (or nil).
    Zero,
    Scalar(Value),
    /// `items` is the backing array; `len` of them are in the slice.
    Slice {
        items: Vec<Go>,
        len: usize,
    },
    Map(Vec<(String, Go)>),
    /// Index-aligned with the struct's fields.
    Struct(Vec<Go>),
}

impl Go {
    /// The canonical JSON of this value: declared field names, set fields only.
    pub fn to_value(&self, ty: &Ty) -> Value {
        match (self, ty) {
            (Go::Zero, _) => Value::Null,
            (Go::Scalar(v), _) => v.clone(),
            (Go::Slice { items, len }, Ty::Slice(elem)) => {
                Value::Array(items[..*len].iter().map(|g| g.to_value(elem)).collect())
            }
            (Go::Slice { items, len }, _) => Value::Array(
                items[..*len]
                    .iter()
                    .map(|g| g.to_value(&Ty::String))
                    .collect(),
            ),
            (Go::Map(entries), Ty::Map(elem)) => Value::Object(
                entries
                    .iter()
                    .map(|(k, g)| (k.clone(), g.to_value(elem)))
                    .collect(),
            ),
            (Go::Struct(slots), Ty::Struct(fields)) => struct_value(fields, slots),
            (g, Ty::Ptr(inner)) => g.to_value(inner),
            _ => Value::Null,
        }
    }
}

/// A struct's canonical JSON from its slots (also used for field lists built at run time).
pub fn struct_value(fields: &[Field], slots: &[Go]) -> Value {
    let mut m = Map::new();
    for (field, slot) in fields.iter().zip(slots) {
        if matches!(slot, Go::Zero) || matches!(field.ty, Ty::Ignore) {
            continue;
        }
        m.insert(field.name.to_string(), slot.to_value(&field.ty));
    }
    Value::Object(m)
}

/// How a key folds onto an ASCII field name: `None` when it cannot match any (a rune
/// with no ASCII fold), else the upper-cased spelling and whether it relied on a fold
/// that only some Go versions make (`ı`, `İ`).
fn fold_key(key: &str) -> Option<(String, bool)> {
    let mut out = String::with_capacity(key.len());
    let mut version_dependent = false;
    for c in key.chars() {
        let up = match c {
            c if c.is_ascii() => c.to_ascii_uppercase(),
            '\u{212A}' => 'K',
            '\u{017F}' => 'S',
            '\u{0130}' | '\u{0131}' => {
                version_dependent = true;
                'I'
            }
            _ => return None,
        };
        out.push(up);
    }
    Some((out, version_dependent))
}

/// The field a key names, Go's way: exact first, then the first case-folded match.
fn field_index(fields: &[Field], key: &str, path: &str) -> Result<Option<usize>, DecodeError> {
    if let Some(i) = fields.iter().position(|f| f.name == key) {
        return Ok(Some(i));
    }
    let Some((folded, version_dependent)) = fold_key(key) else {
        return Ok(None);
    };
    let found = fields
        .iter()
        .position(|f| f.name.eq_ignore_ascii_case(&folded));
    if found.is_some() && version_dependent {
        return Err(DecodeError {
            path: join(path, key),
            message: format!(
                "key {key:?} names field {:?} only under Go 1.21's case folding (not 1.20's): refused, the engines disagree",
                fields[found.unwrap_or_default()].name
            ),
        });
    }
    Ok(found)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn mismatch(path: &str, want: &str, raw: &Raw) -> DecodeError {
    DecodeError {
        path: path.to_string(),
        message: format!(
            "cannot unmarshal {} into a Go value of type {want}",
            raw.kind()
        ),
    }
}

fn is_scalar(ty: &Ty) -> bool {
    matches!(ty, Ty::Bool | Ty::String | Ty::Int | Ty::Ignore)
}

/// Decode `raw` into `slot` (which holds what earlier keys set) as Go decodes into a
/// value of type `ty`.
pub fn decode_into(slot: &mut Go, raw: &Raw, ty: &Ty, path: &str) -> Result<(), DecodeError> {
    match ty {
        Ty::Ignore => Ok(()),
        Ty::Bool => match raw {
            Raw::Null => Ok(()),
            Raw::Bool(b) => {
                *slot = Go::Scalar(Value::Bool(*b));
                Ok(())
            }
            other => Err(mismatch(path, "bool", other)),
        },
        Ty::String => match raw {
            Raw::Null => Ok(()),
            Raw::String(s) => {
                *slot = Go::Scalar(Value::String(s.clone()));
                Ok(())
            }
            other => Err(mismatch(path, "string", other)),
        },
        Ty::Int => match raw {
            Raw::Null => Ok(()),
            Raw::Number(n) if n.is_i64() || n.is_u64() => {
                *slot = Go::Scalar(Value::Number(n.clone()));
                Ok(())
            }
            other => Err(mismatch(path, "int", other)),
        },
        Ty::StrSlice => {
            *slot = match raw {
                Raw::Null => Go::Zero,
                Raw::String(s) => Go::Slice {
                    items: vec![Go::Scalar(Value::String(s.clone()))],
                    len: 1,
                },
                Raw::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, item) in items.iter().enumerate() {
                        out.push(match item {
                            Raw::String(s) => Go::Scalar(Value::String(s.clone())),
                            Raw::Null => Go::Scalar(Value::String(String::new())),
                            other => {
                                return Err(mismatch(&format!("{path}[{i}]"), "string", other));
                            }
                        });
                    }
                    Go::Slice {
                        len: out.len(),
                        items: out,
                    }
                }
                other => return Err(mismatch(path, "strslice.StrSlice", other)),
            };
            Ok(())
        }
        Ty::Slice(elem) => match raw {
            Raw::Null => {
                *slot = Go::Zero;
                Ok(())
            }
            Raw::Array(items) => {
                let reused = matches!(slot, Go::Slice { items, .. } if !items.is_empty());
                if reused && (!is_scalar(elem) || items.contains(&Raw::Null)) {
                    return Err(DecodeError {
                        path: path.to_string(),
                        message: "an array of objects (or with null elements) given again: Go merges it into the earlier one's backing array, and how depends on the Go version; refused".into(),
                    });
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    let mut g = Go::Zero;
                    decode_into(&mut g, item, elem, &format!("{path}[{i}]"))?;
                    out.push(g);
                }
                *slot = Go::Slice {
                    len: out.len(),
                    items: out,
                };
                Ok(())
            }
            other => Err(mismatch(path, "slice", other)),
        },
        Ty::Map(elem) => match raw {
            Raw::Null => {
                *slot = Go::Zero;
                Ok(())
            }
            Raw::Object(members) => {
                if !matches!(slot, Go::Map(_)) {
                    *slot = Go::Map(Vec::new());
                }
                let Go::Map(entries) = slot else {
                    return Ok(());
                };
                for (k, v) in members {
                    let mut g = Go::Zero;
                    decode_into(&mut g, v, elem, &join(path, k))?;
                    match entries.iter_mut().find(|(ek, _)| ek == k) {
                        Some(e) => e.1 = g,
                        None => entries.push((k.clone(), g)),
                    }
                }
                Ok(())
            }
            other => Err(mismatch(path, "map", other)),
        },
        Ty::Struct(fields) => match raw {
            Raw::Null => Ok(()),
            Raw::Object(members) => decode_struct(slot, members, fields, path),
            other => Err(mismatch(path, "struct", other)),
        },
        Ty::Ptr(inner) => match raw {
            Raw::Null => {
                *slot = Go::Zero;
                Ok(())
            }
            other => {
                if matches!(slot, Go::Zero) && matches!(inner, Ty::Struct(_)) {
                    *slot = Go::Struct(Vec::new());
                }
                decode_into(slot, other, inner, path)
            }
        },
    }
}

/// Decode an object's members into a struct with these fields (merging into `slot`).
pub fn decode_struct(
    slot: &mut Go,
    members: &[(String, Raw)],
    fields: &[Field],
    path: &str,
) -> Result<(), DecodeError> {
    if !matches!(slot, Go::Struct(_)) {
        *slot = Go::Struct(Vec::new());
    }
    let Go::Struct(slots) = slot else {
        return Ok(());
    };
    if slots.len() < fields.len() {
        slots.resize(fields.len(), Go::Zero);
    }
    for (key, value) in members {
        let Some(i) = field_index(fields, key, path)? else {
            continue;
        };
        let field = &fields[i];
        decode_into(&mut slots[i], value, &field.ty, &join(path, field.name))?;
    }
    Ok(())
}

/// Decode `bytes` as Go decodes them into a value of type `ty`: the canonical JSON.
pub fn decode(bytes: &[u8], ty: &Ty) -> Result<Value, DecodeError> {
    let raw = Raw::parse_first(bytes).map_err(|e| DecodeError {
        path: String::new(),
        message: format!("not JSON: {e}"),
    })?;
    let mut slot = Go::Zero;
    decode_into(&mut slot, &raw, ty, "")?;
    Ok(slot.to_value(ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    static INNER: [Field; 2] = [
        f("Privileged", Ty::Bool),
        f("Binds", Ty::Slice(&Ty::String)),
    ];
    static OUTER: [Field; 4] = [
        f("Image", Ty::String),
        f("HostConfig", Ty::Ptr(&Ty::Struct(&INNER))),
        f("Mounts", Ty::Slice(&Ty::Struct(&INNER))),
        f("Labels", Ty::Map(&Ty::String)),
    ];
    const OUTER_TY: Ty = Ty::Struct(&OUTER);

    fn d(s: &str) -> Result<Value, DecodeError> {
        decode(s.as_bytes(), &OUTER_TY)
    }

    #[test]
    fn names_fold_like_go() {
        let v = d(r#"{"image":"a","hostconfig":{"PRIVILEGED":true,"binds":["/:/h"]}}"#);
        assert_eq!(
            v.ok(),
            Some(
                serde_json::json!({"Image":"a","HostConfig":{"Privileged":true,"Binds":["/:/h"]}})
            )
        );
        // KELVIN SIGN and LONG S fold onto k and s in every Go version.
        let v = d("{\"HostConfig\":{\"Bind\u{017F}\":[\"/:/h\"]}}");
        assert_eq!(
            v.ok(),
            Some(serde_json::json!({"HostConfig":{"Binds":["/:/h"]}}))
        );
        // Dotless i folds only in Go 1.21+: refused.
        let e = d("{\"HostConfig\":{\"Pr\u{0131}vileged\":true}}");
        assert!(e.is_err(), "{e:?}");
        // Unknown keys and the rest after the first value are ignored.
        let v = d(r#"{"Image":"a","Config":{"Image":"b"}} {"Image":"c"}"#);
        assert_eq!(v.ok(), Some(serde_json::json!({"Image":"a"})));
    }

    #[test]
    fn repeats_merge_like_go() {
        // The second HostConfig merges into the first: Privileged stays.
        let v = d(r#"{"HostConfig":{"Privileged":true},"HostConfig":{"Binds":["/:/h"]}}"#);
        assert_eq!(
            v.ok(),
            Some(serde_json::json!({"HostConfig":{"Privileged":true,"Binds":["/:/h"]}}))
        );
        // Scalars: last wins, across spellings; null leaves a bool as it was.
        let v = d(r#"{"HostConfig":{"Privileged":true,"privileged":null}}"#);
        assert_eq!(
            v.ok(),
            Some(serde_json::json!({"HostConfig":{"Privileged":true}}))
        );
        let v = d(r#"{"HostConfig":{"Privileged":true,"privileged":false}}"#);
        assert_eq!(
            v.ok(),
            Some(serde_json::json!({"HostConfig":{"Privileged":false}}))
        );
        // null clears a pointer.
        let v = d(r#"{"HostConfig":{"Privileged":true},"HostConfig":null}"#);
        assert_eq!(v.ok(), Some(serde_json::json!({})));
        // Maps gain keys.
        let v = d(r#"{"Labels":{"a":"1"},"labels":{"b":"2","a":"3"}}"#);
        assert_eq!(
            v.ok(),
            Some(serde_json::json!({"Labels":{"a":"3","b":"2"}}))
        );
        // String arrays: the last one.
        let v = d(r#"{"HostConfig":{"Binds":["/:/h"],"Binds":["/tmp:/t"]}}"#);
        assert_eq!(
            v.ok(),
            Some(serde_json::json!({"HostConfig":{"Binds":["/tmp:/t"]}}))
        );
        // Arrays of objects given twice depend on the runtime: refused.
        assert!(d(r#"{"Mounts":[{"Privileged":true}],"Mounts":[{}]}"#).is_err());
        assert!(d(r#"{"HostConfig":{"Binds":["/:/h"],"Binds":[null]}}"#).is_err());
    }

    #[test]
    fn type_errors_fail_the_decode() {
        let e = d(r#"{"HostConfig":{"Privileged":"yes"}}"#);
        assert_eq!(
            e.err().map(|e| e.path),
            Some("HostConfig.Privileged".to_string())
        );
        assert!(d(r#"{"HostConfig":[]}"#).is_err());
        assert!(d("not json").is_err());
    }

    #[test]
    fn schema_less_repeats_merge() {
        let Merged(v) = serde_json::from_str(
            r#"{"spec":{"containers":[{"securityContext":{"privileged":true},"securityContext":{"runAsUser":1}}]},"spec":{"hostPID":true,"containers":[{"name":"decoy"}]},"x":1,"x":null}"#,
        )
        .expect("json");
        assert_eq!(
            v,
            serde_json::json!({"spec":{"containers":[{"securityContext":{"privileged":true,"runAsUser":1},"name":"decoy"}],"hostPID":true},"x":1})
        );
    }

    #[test]
    fn repeated_keys_are_found() {
        let raw = Raw::parse_first(br#"{"a":{"b":1,"c":[{"d":1,"d":2}]}}"#).expect("json");
        assert_eq!(raw.first_repeated_key().as_deref(), Some("a.c[0].d"));
        let raw = Raw::parse_first(br#"{"a":{"b":1},"b":{"a":1}}"#).expect("json");
        assert_eq!(raw.first_repeated_key(), None);
    }
}
