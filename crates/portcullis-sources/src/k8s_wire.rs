//! The pod spec as Kubernetes writes it, read with serde straight into the model.
//!
//! One reader for every way a pod reaches us: a parsed manifest (`&serde_json::Value`, from
//! YAML or JSON) and the raw bytes of an admission review, which skip the `Value` tree
//! altogether — on the admission hot path, building that tree cost more than judging it.
//!
//! Every field is read leniently, exactly as [`crate::value`] reads a `Value`: YAML 1.1
//! booleans (`privileged: yes`), numbers written as strings (`runAsUser: "0"`), scalars
//! where lists are expected; a value of the wrong shape reads as absent. Reading a `Value`
//! therefore cannot fail. Reading bytes fails only on what a `Value` could not hold either
//! (bad JSON) or on a key written twice in one object, which the API server never sends;
//! callers fall back to the `Value` path for those.

use portcullis_model::{
    Container, ContainerKind, ContainerSecurityContext, EnvVar, HostPath, ImageRef,
    LabelRequirement, Mount, OwnerRef, PodSecurityContext, PodSpec, Port, SeLinux, SecurityOptions,
    Target, Toleration, Volume,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

// ---------------------------------------------------------------------------------------
// Lenient scalars and containers.

/// A scalar as text: strings as they are, numbers and booleans spelled out; anything else
/// (a list, a mapping, null) is absent.
#[derive(Debug, Default)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'a> Text<'a> {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
    /// The text, empty strings counting as absent (`value::string`).
    fn non_empty(self) -> Option<String> {
        self.0.filter(|s| !s.is_empty()).map(Cow::into_owned)
    }
    /// The text as written, empty or not (`value::scalar`).
    fn any(self) -> Option<String> {
        self.0.map(Cow::into_owned)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v))))
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Borrowed(if v { "true" } else { "false" }))))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        // Spelled as serde_json spells the number (`1.0`, not `1`).
        Ok(Text(
            serde_json::Number::from_f64(v).map(|n| Cow::Owned(n.to_string())),
        ))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Text(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(None))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// A boolean as the API server would read it (`value::as_bool`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Bool(pub Option<bool>);

impl<'de> Deserialize<'de> for Bool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Bool(match d.deserialize_any(ScalarVisitor)? {
            Scalar::Bool(b) => Some(b),
            Scalar::Int(i) => Some(i != 0),
            Scalar::Text(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "on" | "1" => Some(true),
                "false" | "no" | "n" | "off" | "0" => Some(false),
                _ => None,
            },
            Scalar::Float(_) | Scalar::None => None,
        }))
    }
}

/// An integer as the API server would read it (`value::as_int`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Int(pub Option<i64>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Int(match d.deserialize_any(ScalarVisitor)? {
            Scalar::Int(i) => Some(i),
            Scalar::Float(f) if f.fract() == 0.0 => Some(f as i64),
            Scalar::Text(s) => s.trim().parse().ok(),
            _ => None,
        }))
    }
}

enum Scalar<'a> {
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(Cow<'a, str>),
    None,
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        // Beyond i64, serde_json's `as_i64` fails and `as_f64` answers.
        Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Text(Cow::Owned(v.to_string())))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::None)
    }
}

/// A list of scalars as text; a lone scalar is a one-item list (`value::string_list`).
#[derive(Debug, Default)]
pub struct Texts(pub Vec<String>);

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Texts;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of scalars")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Texts, A::Error> {
                let mut out = Vec::new();
                while let Some(t) = seq.next_element::<Text>()? {
                    out.extend(t.any());
                }
                Ok(Texts(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Texts, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Texts(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<Texts, E> {
                Ok(Texts(Vec::new()))
            }
            fn visit_none<E>(self) -> Result<Texts, E> {
                Ok(Texts(Vec::new()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Texts, E> {
                Ok(Texts(vec![v.to_string()]))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Texts, E> {
                Ok(Texts(vec![v.to_string()]))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Texts, E> {
                Ok(Texts(vec![v.to_string()]))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Texts, E> {
                Ok(Texts(
                    serde_json::Number::from_f64(v)
                        .map(|n| n.to_string())
                        .into_iter()
                        .collect(),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<Texts, E> {
                Ok(Texts(vec![v.to_string()]))
            }
        }
        d.deserialize_any(V)
    }
}

/// A string→string map in document order; values that are not scalars read as empty
/// (`value::string_map`). A key written twice is kept twice: rules then see both values.
#[derive(Debug, Default)]
pub struct TextMap(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for TextMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TextMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TextMap, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<Text, Text>()? {
                    out.push((k.any().unwrap_or_default(), v.any().unwrap_or_default()));
                }
                Ok(TextMap(out))
            }
        }
        d.deserialize_any(Absorb(Shape::Map, V))
    }
}

/// A mapping read as `T`; any other shape reads as `T::default()` (`value::obj` answering
/// `None` and every field then absent).
#[derive(Debug, Default)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Absorb(Shape::Map, MapAs(PhantomData, Obj)))
    }
}

/// Reads a mapping as `T`, wrapped by `.1`; with [`Absorb`], other shapes read as the
/// wrapper's default.
struct MapAs<T, W>(PhantomData<T>, fn(T) -> W);

impl<'de, T: Deserialize<'de>, W> Visitor<'de> for MapAs<T, W> {
    type Value = W;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<W, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(self.1)
    }
}

/// [`Obj`] for the large shapes (security contexts): boxed when present, nothing when
/// absent. Serde moves a value up through every layer it returns from; a security context
/// read in place was most of a kilobyte copied several times per container.
#[derive(Debug)]
pub struct BoxedObj<T>(pub Option<Box<T>>);

impl<T> Default for BoxedObj<T> {
    fn default() -> Self {
        BoxedObj(None)
    }
}

impl<T: Default> BoxedObj<T> {
    pub fn into_inner(self) -> T {
        self.0.map_or_else(T::default, |b| *b)
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for BoxedObj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let boxed: fn(Box<T>) -> BoxedObj<T> = |b| BoxedObj(Some(b));
        d.deserialize_any(Absorb(Shape::Map, MapAs(PhantomData, boxed)))
    }
}

/// A key that is there, whatever its value (`v.get(key).is_some()`), read as `T`.
#[derive(Debug)]
pub struct Present<T>(pub Option<T>);

impl<T> Default for Present<T> {
    fn default() -> Self {
        Present(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Present<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(|t| Present(Some(t)))
    }
}

/// A list of mappings; items of another shape read as defaults, anything but a list as an
/// empty list (`value::arr`).
#[derive(Debug)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(Obj(t)) = seq.next_element::<Obj<T>>()? {
                    out.push(t);
                }
                Ok(List(out))
            }
        }
        d.deserialize_any(Absorb(Shape::Seq, V(PhantomData)))
    }
}

/// The one shape a wrapped visitor reads.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    Map,
    Seq,
}

/// Wraps a visitor that knows one shape so that every other shape — scalars, null, and the
/// other container shape — reads as its default. Without it a mapping where a list belongs
/// (`initContainers: {}`) would fail the whole pod, and a pod read as nothing hides every
/// container in it.
struct Absorb<V>(Shape, V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Absorb<V>
where
    V::Value: Default,
{
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.1.expecting(f)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if self.0 == Shape::Map {
            return self.1.visit_map(map);
        }
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Default::default())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.0 == Shape::Seq {
            return self.1.visit_seq(seq);
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Default::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Default::default())
    }
}

// ---------------------------------------------------------------------------------------
// The Kubernetes shapes: only the fields the model reads; every other key is skipped.

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta<'a> {
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(borrow)]
    pub generate_name: Text<'a>,
    #[serde(borrow)]
    pub namespace: Text<'a>,
    pub labels: TextMap,
    pub annotations: TextMap,
    #[serde(borrow)]
    pub owner_references: List<OwnerReference<'a>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct OwnerReference<'a> {
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    controller: Bool,
}

impl ObjectMeta<'_> {
    /// The target an object's metadata names (`kind` and `apiVersion` from the object).
    pub fn into_target(self, kind: &str, api_version: Option<String>) -> Target {
        Target {
            kind: kind.to_string(),
            api_version: api_version.unwrap_or_default(),
            namespace: self.namespace.non_empty(),
            name: self
                .name
                .non_empty()
                .or_else(|| self.generate_name.non_empty()),
            owner_references: self
                .owner_references
                .0
                .into_iter()
                .map(|o| OwnerRef {
                    kind: o.kind.non_empty().unwrap_or_default(),
                    name: o.name.non_empty().unwrap_or_default(),
                    controller: o.controller.0.unwrap_or(false),
                })
                .collect(),
            labels: self.labels.0,
            annotations: self.annotations.0,
            schedule: None,
            exec: None,
        }
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpecWire<'a> {
    pub volumes: List<VolumeWire>,
    host_network: Bool,
    #[serde(rename = "hostPID")]
    host_pid: Bool,
    #[serde(rename = "hostIPC")]
    host_ipc: Bool,
    host_users: Bool,
    share_process_namespace: Bool,
    #[serde(borrow)]
    node_name: Text<'a>,
    node_selector: TextMap,
    affinity: Obj<Affinity>,
    #[serde(borrow)]
    tolerations: List<TolerationWire<'a>>,
    #[serde(borrow)]
    service_account_name: Text<'a>,
    #[serde(borrow)]
    service_account: Text<'a>,
    automount_service_account_token: Bool,
    #[serde(borrow)]
    os: Obj<OsWire<'a>>,
    #[serde(borrow)]
    runtime_class_name: Text<'a>,
    #[serde(borrow)]
    security_context: BoxedObj<SecurityContextWire<'a>>,
    // Boxed: a container's wire form is most of a kilobyte, and serde moves values up
    // through every layer it returns from.
    #[serde(borrow)]
    init_containers: List<Box<ContainerWire<'a>>>,
    #[serde(borrow)]
    containers: List<Box<ContainerWire<'a>>>,
    #[serde(borrow)]
    ephemeral_containers: List<Box<ContainerWire<'a>>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct OsWire<'a> {
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct Affinity {
    node_affinity: Obj<NodeAffinity>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct NodeAffinity {
    #[serde(rename = "requiredDuringSchedulingIgnoredDuringExecution")]
    required: Obj<NodeSelector>,
    #[serde(rename = "preferredDuringSchedulingIgnoredDuringExecution")]
    preferred: List<PreferredTerm>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct NodeSelector {
    node_selector_terms: List<SelectorTerm>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct PreferredTerm {
    preference: Present<Obj<SelectorTerm>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct SelectorTerm {
    match_expressions: List<Requirement>,
    match_fields: List<Requirement>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Requirement {
    key: OwnedText,
    operator: OwnedText,
    values: Texts,
}

/// A scalar as owned text, empty counting as absent (for shapes that need no borrowing).
#[derive(Debug, Default)]
struct OwnedText(Option<String>);

impl<'de> Deserialize<'de> for OwnedText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Text::deserialize(d).map(|t| OwnedText(t.non_empty()))
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct TolerationWire<'a> {
    #[serde(borrow)]
    key: Text<'a>,
    #[serde(borrow)]
    operator: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
    #[serde(borrow)]
    effect: Text<'a>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct SecurityContextWire<'a> {
    run_as_user: Int,
    run_as_non_root: Bool,
    #[serde(borrow)]
    seccomp_profile: Obj<TypeOnly<'a>>,
    #[serde(borrow)]
    app_armor_profile: Obj<TypeOnly<'a>>,
    #[serde(rename = "seLinuxOptions")]
    #[serde(borrow)]
    selinux_options: Present<Obj<SeLinuxWire<'a>>>,
    windows_options: Obj<WindowsOptions>,
    #[serde(borrow)]
    sysctls: List<Sysctl<'a>>,
    // Container-only settings; absent on a pod.
    privileged: Bool,
    allow_privilege_escalation: Bool,
    capabilities: Obj<Capabilities>,
    #[serde(borrow)]
    proc_mount: Text<'a>,
    read_only_root_filesystem: Bool,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct TypeOnly<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct SeLinuxWire<'a> {
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow)]
    user: Text<'a>,
    #[serde(borrow)]
    role: Text<'a>,
    #[serde(borrow)]
    level: Text<'a>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct WindowsOptions {
    host_process: Bool,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Sysctl<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct Capabilities {
    add: Texts,
    drop: Texts,
}

/// A volume: its name, the kind of source (its first other key), and a host path.
#[derive(Default, Debug)]
pub struct VolumeWire {
    name: Option<String>,
    source: Option<String>,
    host_path: Option<HostPathWire>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct HostPathWire {
    path: OwnedText,
    #[serde(rename = "type")]
    kind: OwnedText,
}

impl<'de> Deserialize<'de> for VolumeWire {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = VolumeWire;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a volume")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<VolumeWire, A::Error> {
                let mut out = VolumeWire::default();
                while let Some(Text(key)) = map.next_key::<Text>()? {
                    match key.as_deref().unwrap_or_default() {
                        "name" => out.name = map.next_value::<Text>()?.non_empty(),
                        other => {
                            if out.source.is_none() {
                                out.source = Some(other.to_string());
                            }
                            if other == "hostPath" {
                                out.host_path = Some(map.next_value::<Obj<HostPathWire>>()?.0);
                            } else {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(Absorb(Shape::Map, V))
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerWire<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    image: Text<'a>,
    command: Texts,
    args: Texts,
    #[serde(borrow)]
    env: List<EnvWire<'a>>,
    lifecycle: Obj<Lifecycle>,
    liveness_probe: Obj<Handler>,
    readiness_probe: Obj<Handler>,
    startup_probe: Obj<Handler>,
    #[serde(borrow)]
    working_dir: Text<'a>,
    #[serde(borrow)]
    ports: List<PortWire<'a>>,
    #[serde(borrow)]
    volume_mounts: List<MountWire<'a>>,
    #[serde(borrow)]
    security_context: BoxedObj<SecurityContextWire<'a>>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct EnvWire<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    value: Text<'a>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct Lifecycle {
    post_start: Obj<Handler>,
    pre_stop: Obj<Handler>,
}

/// A probe or lifecycle hook: what it runs, and the host it reaches.
#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct Handler {
    exec: Obj<ExecWire>,
    http_get: Obj<HostOnly>,
    tcp_socket: Obj<HostOnly>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct ExecWire {
    command: Texts,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default)]
struct HostOnly {
    host: OwnedText,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct PortWire<'a> {
    container_port: Int,
    host_port: Int,
    #[serde(borrow, rename = "hostIP")]
    host_ip: Text<'a>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, rename_all = "camelCase")]
struct MountWire<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    mount_path: Text<'a>,
    read_only: Bool,
    #[serde(borrow)]
    mount_propagation: Text<'a>,
    #[serde(borrow)]
    sub_path: Present<Text<'a>>,
    #[serde(borrow)]
    sub_path_expr: Text<'a>,
}

// ---------------------------------------------------------------------------------------
// Into the model.

impl PodSpecWire<'_> {
    /// The model's pod. `explicit` replaces the `containers` lists for CRD shapes.
    pub fn into_model(
        self,
        path: &str,
        annotations: Vec<(String, String)>,
        explicit: Option<Vec<(String, ContainerWire<'_>)>>,
    ) -> PodSpec {
        let pod_sc = self.security_context.into_inner();
        let mut pod = PodSpec {
            path: path.to_string(),
            host_network: self.host_network.0.unwrap_or(false),
            host_pid: self.host_pid.0.unwrap_or(false),
            host_ipc: self.host_ipc.0.unwrap_or(false),
            host_users: self.host_users.0,
            share_process_namespace: self.share_process_namespace.0.unwrap_or(false),
            host_cgroupns: false,
            joined_namespaces: Vec::new(),
            node_name: self.node_name.non_empty(),
            node_selector: self.node_selector.0,
            node_affinity: self.affinity.0.node_affinity.0.into_requirements(),
            tolerations: self
                .tolerations
                .0
                .into_iter()
                .map(|t| Toleration {
                    key: t.key.non_empty(),
                    operator: t.operator.non_empty().unwrap_or_else(|| "Equal".into()),
                    value: t.value.non_empty(),
                    effect: t.effect.non_empty(),
                })
                .collect(),
            service_account: self
                .service_account_name
                .non_empty()
                .or_else(|| self.service_account.non_empty()),
            automount_service_account_token: self.automount_service_account_token.0,
            os: self.os.0.name.non_empty(),
            runtime_class: self.runtime_class_name.non_empty(),
            security_context: PodSecurityContext {
                options: pod_sc.options(),
                sysctls: pod_sc
                    .sysctls
                    .0
                    .into_iter()
                    .map(|s| {
                        (
                            s.name.non_empty().unwrap_or_default(),
                            s.value.non_empty().unwrap_or_default(),
                        )
                    })
                    .collect(),
            },
            annotations,
            volumes: self
                .volumes
                .0
                .into_iter()
                .map(|v| Volume {
                    name: v.name.unwrap_or_default(),
                    source: v.source.unwrap_or_default(),
                    host_path: v
                        .host_path
                        .map(|hp| HostPath::new(&hp.path.0.unwrap_or_default(), hp.kind.0)),
                })
                .collect(),
            containers: Vec::new(),
        };
        let mut containers = Vec::new();
        match explicit {
            Some(list) => {
                for (cpath, c) in list {
                    containers.push(c.into_model(ContainerKind::Container, cpath, &pod));
                }
            }
            None => {
                for (key, kind, list) in [
                    ("initContainers", ContainerKind::Init, self.init_containers),
                    ("containers", ContainerKind::Container, self.containers),
                    (
                        "ephemeralContainers",
                        ContainerKind::Ephemeral,
                        self.ephemeral_containers,
                    ),
                ] {
                    for (i, c) in list.0.into_iter().enumerate() {
                        containers.push((*c).into_model(kind, item_path(path, key, i), &pod));
                    }
                }
            }
        }
        pod.containers = containers;
        pod
    }
}

/// `{path}.{key}[{i}]`, written into one buffer sized up front (it runs for every
/// container of every review; `format!` grew it piece by piece).
fn item_path(path: &str, key: &str, i: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(path.len() + key.len() + 24);
    out.push_str(path);
    out.push('.');
    out.push_str(key);
    let _ = write!(out, "[{i}]");
    out
}

impl NodeAffinity {
    /// Required and preferred match expressions and fields, flattened.
    fn into_requirements(self) -> Vec<LabelRequirement> {
        let terms = self.required.0.node_selector_terms.0.into_iter().chain(
            self.preferred
                .0
                .into_iter()
                .filter_map(|p| p.preference.0.map(|o| o.0)),
        );
        terms
            .flat_map(|t| t.match_expressions.0.into_iter().chain(t.match_fields.0))
            .map(|e| LabelRequirement {
                key: e.key.0.unwrap_or_default(),
                operator: e.operator.0.unwrap_or_default(),
                values: e.values.0,
            })
            .collect()
    }
}

impl SecurityContextWire<'_> {
    fn options(&self) -> SecurityOptions {
        let text = |t: &Text<'_>| t.0.as_deref().filter(|s| !s.is_empty()).map(str::to_string);
        SecurityOptions {
            run_as_user: self.run_as_user.0,
            run_as_non_root: self.run_as_non_root.0,
            seccomp: text(&self.seccomp_profile.0.kind),
            apparmor: text(&self.app_armor_profile.0.kind),
            selinux: self.selinux_options.0.as_ref().map(|s| SeLinux {
                r#type: text(&s.0.kind),
                user: text(&s.0.user),
                role: text(&s.0.role),
                level: text(&s.0.level),
                disabled: false,
            }),
            windows_host_process: self.windows_options.0.host_process.0,
        }
    }
}

impl ContainerWire<'_> {
    pub fn into_model(self, kind: ContainerKind, path: String, pod: &PodSpec) -> Container {
        let sc = self.security_context.into_inner();
        let mounts = self
            .volume_mounts
            .0
            .into_iter()
            .map(|m| {
                let volume = m.name.non_empty().unwrap_or_default();
                let sub_path_written = m.sub_path.0.is_some();
                let sub_path = m
                    .sub_path
                    .0
                    .and_then(Text::non_empty)
                    .or_else(|| m.sub_path_expr.non_empty());
                let host_path = pod
                    .volume(&volume)
                    .and_then(|v| v.host_path.as_ref())
                    .map(|hp| match &sub_path {
                        // `subPathExpr` is expanded at runtime; the base path bounds it.
                        Some(sp) if sub_path_written => {
                            // From the path as written: `/proc` + `1/root` is the node's `/`.
                            let base = hp.raw.as_deref().unwrap_or(&hp.path);
                            HostPath::new(&format!("{base}/{sp}"), hp.r#type.clone())
                        }
                        _ => hp.clone(),
                    });
                Mount {
                    volume,
                    mount_path: m.mount_path.non_empty().unwrap_or_default(),
                    read_only: m.read_only.0.unwrap_or(false),
                    propagation: m.mount_propagation.non_empty(),
                    sub_path,
                    host_path,
                }
            })
            .collect();
        let lifecycle = self.lifecycle.0;
        let mut probe_hosts = Vec::new();
        for (key, handler) in [
            ("livenessProbe", &self.liveness_probe.0),
            ("readinessProbe", &self.readiness_probe.0),
            ("startupProbe", &self.startup_probe.0),
            ("lifecycle.postStart", &lifecycle.post_start.0),
            ("lifecycle.preStop", &lifecycle.pre_stop.0),
        ] {
            for (name, reach) in [
                ("httpGet", &handler.http_get),
                ("tcpSocket", &handler.tcp_socket),
            ] {
                if let Some(host) = &reach.0.host.0 {
                    probe_hosts.push((format!("{key}.{name}.host"), host.clone()));
                }
            }
        }
        let post_start = lifecycle.post_start.0.exec.0.command.0;
        let pre_stop = lifecycle.pre_stop.0.exec.0.command.0;
        let caps = &sc.capabilities.0;
        Container {
            kind,
            path,
            name: self.name.non_empty().unwrap_or_default(),
            image: ImageRef::parse(self.image.0.as_deref().unwrap_or_default()),
            command: self.command.0,
            args: self.args.0,
            env: self
                .env
                .0
                .into_iter()
                .map(|e| EnvVar {
                    name: e.name.non_empty().unwrap_or_default(),
                    value: e.value.any(),
                })
                .collect(),
            post_start,
            pre_stop,
            device_cgroup_rules: Vec::new(),
            working_dir: self.working_dir.non_empty(),
            ports: self
                .ports
                .0
                .into_iter()
                .map(|p| Port {
                    container_port: p.container_port.0,
                    host_port: p.host_port.0,
                    host_ip: p.host_ip.non_empty(),
                })
                .collect(),
            mounts,
            // Kubernetes passes host devices only through hostPath volumes (judged as
            // mounts); `volumeDevices` are PVC block devices, not host devices.
            devices: Vec::new(),
            probe_hosts,
            security_context: ContainerSecurityContext {
                options: sc.options(),
                privileged: sc.privileged.0,
                allow_privilege_escalation: sc.allow_privilege_escalation.0,
                cap_add: caps.add.0.clone(),
                cap_drop: caps.drop.0.clone(),
                proc_mount: sc
                    .proc_mount
                    .0
                    .as_deref()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                read_only_root_filesystem: sc.read_only_root_filesystem.0,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn item_paths_read_as_formatted() {
        for i in [0, 7, 9, 10, 42, 100, 12345] {
            assert_eq!(
                super::item_path("spec.template.spec", "containers", i),
                format!("spec.template.spec.containers[{i}]")
            );
        }
    }

    use super::*;

    /// An oddly typed pod, as YAML writers and attackers produce: the bytes reader and the
    /// `Value` reader must agree on every field, and both must read it as the API server.
    const ODD: &str = r#"{
        "hostPID": "yes", "hostNetwork": 1, "hostIPC": "off", "hostUsers": "false",
        "nodeName": 7, "serviceAccountName": "", "serviceAccount": "builder",
        "securityContext": {"runAsUser": "0", "seccompProfile": "Unconfined", "seLinuxOptions": null,
                            "sysctls": [{"name": "kernel.msgmax", "value": 65536}, "junk"]},
        "volumes": [{"name": "root", "hostPath": {"path": "/etc/../", "type": ""}}, 3, {"configMap": {}, "name": "c"}],
        "tolerations": [{"operator": "Exists"}, {"key": "k", "operator": ""}],
        "containers": [
            {"name": "a", "image": 12, "command": "sh", "args": ["-c", 5, true, 1.5, {"x": 1}],
             "env": [{"name": "A", "value": 3}, {"name": "B"}],
             "ports": [{"containerPort": "80", "hostPort": 8080.0, "hostIP": ""}],
             "volumeMounts": [{"name": "root", "mountPath": "/host", "subPath": "", "readOnly": "true"}],
             "livenessProbe": {"httpGet": {"host": "169.254.169.254"}},
             "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "id"]}}},
             "securityContext": {"privileged": "Y", "capabilities": {"add": "SYS_ADMIN", "drop": null},
                                 "procMount": "Unmasked", "allowPrivilegeEscalation": 0}},
            "not a container"
        ],
        "initContainers": {"not": "a list"}
    }"#;

    fn by_bytes() -> PodSpec {
        let wire: PodSpecWire = serde_json::from_str(ODD).expect("lenient reader reads it");
        wire.into_model("spec", Vec::new(), None)
    }

    fn by_value() -> PodSpec {
        let v: serde_json::Value = serde_json::from_str(ODD).expect("json");
        let wire = Obj::<PodSpecWire>::deserialize(&v)
            .expect("lenient reader reads it")
            .0;
        wire.into_model("spec", Vec::new(), None)
    }

    #[test]
    fn bytes_and_value_agree_on_odd_types() {
        assert_eq!(
            serde_json::to_value(by_bytes()).ok(),
            serde_json::to_value(by_value()).ok()
        );
    }

    #[test]
    fn odd_types_read_as_the_api_server_would() {
        let p = by_bytes();
        assert!(p.host_pid && p.host_network && !p.host_ipc);
        assert_eq!(p.host_users, Some(false));
        assert_eq!(p.node_name.as_deref(), Some("7"));
        assert_eq!(p.service_account.as_deref(), Some("builder"));
        assert_eq!(p.security_context.options.run_as_user, Some(0));
        assert_eq!(
            p.security_context.options.seccomp, None,
            "not a mapping: absent"
        );
        assert!(
            p.security_context.options.selinux.is_some(),
            "present even as null"
        );
        assert_eq!(
            p.security_context.sysctls,
            vec![
                ("kernel.msgmax".to_string(), "65536".to_string()),
                (String::new(), String::new())
            ]
        );
        assert_eq!(p.volumes[0].source, "hostPath");
        assert_eq!(
            p.volumes[2].source, "configMap",
            "first key that is not the name"
        );
        assert_eq!(
            p.tolerations[1].operator, "Equal",
            "empty operator defaults"
        );
        assert_eq!(
            p.containers.len(),
            2,
            "a non-mapping item reads as an empty container"
        );
        let c = &p.containers[0];
        assert_eq!(c.image.raw, "12");
        assert_eq!(c.command, vec!["sh"]);
        assert_eq!(c.args, vec!["-c", "5", "true", "1.5"]);
        assert_eq!(c.env[0].value.as_deref(), Some("3"));
        assert_eq!(c.env[1].value, None);
        assert_eq!(c.ports[0].container_port, Some(80));
        assert_eq!(c.ports[0].host_port, Some(8080));
        assert!(c.mounts[0].read_only);
        assert_eq!(
            c.mounts[0].host_path.as_ref().map(|h| h.path.as_str()),
            Some("/")
        );
        assert_eq!(c.probe_hosts[0].1, "169.254.169.254");
        assert_eq!(c.post_start, vec!["sh", "-c", "id"]);
        assert_eq!(c.security_context.privileged, Some(true));
        assert_eq!(c.security_context.allow_privilege_escalation, Some(false));
        assert_eq!(c.security_context.cap_add, vec!["SYS_ADMIN"]);
        assert!(c.security_context.cap_drop.is_empty());
        assert_eq!(c.security_context.proc_mount.as_deref(), Some("Unmasked"));
    }
}
