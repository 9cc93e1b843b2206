//! Image references parsed with Docker's reference grammar
//! (`distribution/reference`: `ParseNormalizedNamed`).
//!
//! Why here and not in a rule: every rule about images (digest pinning, trusted
//! registries, known-malicious repositories) depends on the same normalisation, and an
//! attacker who can write `index.docker.io/library/xmrig` or `XMRIG/xmrig:latest@sha256:…`
//! must not slip past a list that says `docker.io/xmrig/xmrig`.

use serde::Serialize;

/// Docker Hub's canonical registry name after normalisation.
pub const DOCKER_HUB: &str = "docker.io";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageRef {
    /// The reference exactly as written.
    pub raw: String,
    pub tag: Option<String>,
    /// `algorithm:hex`, when the reference is pinned.
    pub digest: Option<String>,
    /// False when the reference does not follow the grammar (the fields then hold a
    /// best-effort split); rules can flag that on its own.
    pub valid: bool,
    /// `registry/repository` in one string (rules read it for every container on every
    /// review); the registry is its first `registry_len` bytes.
    name: String,
    registry_len: usize,
}

impl Serialize for ImageRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("ImageRef", 6)?;
        st.serialize_field("raw", &self.raw)?;
        st.serialize_field("registry", self.registry())?;
        st.serialize_field("repository", self.repository())?;
        st.serialize_field("tag", &self.tag)?;
        st.serialize_field("digest", &self.digest)?;
        st.serialize_field("valid", &self.valid)?;
        st.end()
    }
}

impl ImageRef {
    pub fn parse(raw: &str) -> ImageRef {
        let trimmed = raw.trim();
        let mut valid = !trimmed.is_empty() && trimmed == raw;
        let (name_tag, digest) = match trimmed.split_once('@') {
            Some((n, d)) => {
                valid &= is_valid_digest(d);
                (n, Some(d.to_string()))
            }
            None => (trimmed, None),
        };
        // A tag is the part after the last ':' when that ':' comes after the last '/'
        // (otherwise it is a registry port).
        let last_slash = name_tag.rfind('/');
        let (name, tag) = match name_tag.rfind(':') {
            Some(colon) if last_slash.is_none_or(|s| colon > s) => {
                let tag = &name_tag[colon + 1..];
                valid &= is_valid_tag(tag);
                (&name_tag[..colon], Some(tag.to_string()))
            }
            _ => (name_tag, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first, rest)
            }
            _ => (DOCKER_HUB, name),
        };
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        let official =
            registry == DOCKER_HUB && !repository.contains('/') && !repository.is_empty();
        valid &= !repository.is_empty() && repository.split('/').all(is_valid_path_component);
        let mut joined = String::with_capacity(registry.len() + repository.len() + 9);
        // Registries are case-insensitive host names; repositories must be lowercase
        // (an uppercase one is invalid, which `valid` already records).
        joined.push_str(registry);
        joined.make_ascii_lowercase();
        joined.push('/');
        if official {
            joined.push_str("library/");
        }
        joined.push_str(repository);
        ImageRef {
            raw: raw.to_string(),
            registry_len: registry.len(),
            name: joined,
            tag,
            digest,
            valid,
        }
    }

    /// `registry/repository`, the identity lists and exceptions compare against.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registry host (with port), `docker.io` when none is named.
    pub fn registry(&self) -> &str {
        self.name.get(..self.registry_len).unwrap_or_default()
    }

    /// Path inside the registry, `library/` prefixed for official Docker Hub images.
    pub fn repository(&self) -> &str {
        self.name.get(self.registry_len + 1..).unwrap_or_default()
    }

    /// The tag the runtime will pull: the written tag, else `latest` unless pinned by digest.
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// True when the registry is a literal IPv4/IPv6 address (with or without port).
    pub fn registry_is_ip(&self) -> bool {
        let host = registry_host(self.registry());
        // An IPv4 address starts with a digit, an IPv6 one holds a colon: host names
        // (nearly every registry) are turned away before the address parser.
        (host.starts_with(|c: char| c.is_ascii_digit()) || host.contains(':'))
            && host.parse::<std::net::IpAddr>().is_ok()
    }
}

/// The host part of a `host[:port]` or `[v6]:port` registry.
pub fn registry_host(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    }
}

// The grammar is ASCII: checked byte by byte (a byte of a non-ASCII character fails every
// test, as the character itself would).

fn is_valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    matches!(bytes.next(), Some(c) if c.is_ascii_alphanumeric() || c == b'_')
        && tag.len() <= 128
        && bytes.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn is_valid_digest(d: &str) -> bool {
    match d.split_once(':') {
        Some((alg, hex)) => {
            !alg.is_empty()
                && alg.bytes().all(|c| {
                    c.is_ascii_lowercase()
                        || c.is_ascii_digit()
                        || matches!(c, b'+' | b'.' | b'_' | b'-')
                })
                && hex.len() >= 32
                && hex.bytes().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

fn is_valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter().all(|ch| {
            ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, b'.' | b'_' | b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_image_defaults() {
        let i = ImageRef::parse("nginx");
        assert_eq!(i.registry(), "docker.io");
        assert_eq!(i.repository(), "library/nginx");
        assert_eq!(i.tag, None);
        assert_eq!(i.effective_tag(), Some("latest"));
        assert!(i.valid);
    }

    #[test]
    fn user_repo_tag_and_digest() {
        let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let i = ImageRef::parse(&format!("raesene/ncat:1.0@{d}"));
        assert_eq!(i.name(), "docker.io/raesene/ncat");
        assert_eq!(i.tag.as_deref(), Some("1.0"));
        assert_eq!(i.digest.as_deref(), Some(d));
        assert!(i.valid);
    }

    #[test]
    fn registry_with_port_is_not_a_tag() {
        let i = ImageRef::parse("10.0.0.5:5000/miner");
        assert_eq!(i.registry(), "10.0.0.5:5000");
        assert_eq!(i.repository(), "miner");
        assert_eq!(i.tag, None);
        assert!(i.registry_is_ip());
        let i = ImageRef::parse("localhost/app:v1");
        assert_eq!(i.registry(), "localhost");
        assert!(!i.registry_is_ip());
        let i = ImageRef::parse("[::1]:5000/app");
        assert!(i.registry_is_ip());
    }

    #[test]
    fn hub_aliases_normalise() {
        assert_eq!(
            ImageRef::parse("index.docker.io/library/alpine").name(),
            "docker.io/library/alpine"
        );
        assert_eq!(
            ImageRef::parse("docker.io/alpine:3").name(),
            "docker.io/library/alpine"
        );
    }

    #[test]
    fn invalid_references_are_marked() {
        assert!(!ImageRef::parse("XMRIG/xmrig").valid);
        assert!(!ImageRef::parse("").valid);
        assert!(!ImageRef::parse("a@sha256:zz").valid);
        assert!(!ImageRef::parse("a:b c").valid);
    }
}
