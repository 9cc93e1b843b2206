//! Functions conditions can call: the hard or hot logic, written once in Rust and tested
//! here, so the pack's conditions stay short and declarative.

use crate::expr::Node;
use crate::fields::{Items, Val};
use crate::shell::Script;
use portcullis_model::hostpath;
use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `within(paths, bases)`: the paths equal to or below any base.
    Within,
    /// `exposes(paths, targets)`: the paths whose mount reveals a target (ancestor or same).
    Exposes,
    DownloadExec,
    Base64Exec,
    ReverseShell,
    NsenterHost,
    ChrootInto,
    Miner,
    ContainerCli,
    PersistenceWrite,
    BlockMount,
    /// `pss("checkId")`: the Pod Security check's violations under the active profile.
    Pss,
    Lower,
    Len,
    /// `without(list, exclude)`: the items not in exclude.
    Without,
}

pub const ALL: &[(&str, Func, &str)] = &[
    (
        "within",
        Func::Within,
        "within(paths, bases): paths equal to or below one of bases",
    ),
    (
        "exposes",
        Func::Exposes,
        "exposes(paths, targets): paths that are a target or one of its ancestors",
    ),
    (
        "download_exec",
        Func::DownloadExec,
        "download_exec(scripts): downloads piped, substituted or saved into an interpreter",
    ),
    (
        "base64_exec",
        Func::Base64Exec,
        "base64_exec(scripts): decoded payloads fed to an interpreter",
    ),
    (
        "reverse_shell",
        Func::ReverseShell,
        "reverse_shell(scripts): netcat -e, /dev/tcp, socat exec, scripted socket shells",
    ),
    (
        "nsenter_host",
        Func::NsenterHost,
        "nsenter_host(scripts): nsenter into PID 1's namespaces",
    ),
    (
        "chroot_into",
        Func::ChrootInto,
        "chroot_into(scripts, dirs): chroot into one of dirs",
    ),
    (
        "miner",
        Func::Miner,
        "miner(scripts): pool URLs, miner binaries, algorithm flags, wallets",
    ),
    (
        "container_cli",
        Func::ContainerCli,
        "container_cli(scripts): docker, kubectl, crictl, ctr, podman, nerdctl, runc",
    ),
    (
        "block_mount",
        Func::BlockMount,
        "block_mount(scripts): mount of a host disk or device-mapper volume",
    ),
    (
        "persistence_write",
        Func::PersistenceWrite,
        "persistence_write(scripts): writes to cron, SSH keys, systemd units, static-pod manifests",
    ),
    (
        "pss",
        Func::Pss,
        "pss(check): violations of a Pod Security check under the active profile",
    ),
    ("lower", Func::Lower, "lower(text): lower case"),
    ("len", Func::Len, "len(list): number of items"),
    (
        "without",
        Func::Without,
        "without(list, exclude): items of list not in exclude",
    ),
];

impl Func {
    pub fn by_name(name: &str) -> Option<Func> {
        ALL.iter().find(|(n, _, _)| *n == name).map(|(_, f, _)| *f)
    }

    pub fn name(self) -> &'static str {
        ALL.iter()
            .find(|(_, f, _)| *f == self)
            .map_or("?", |(n, _, _)| n)
    }

    fn arity(self) -> usize {
        match self {
            Func::Within | Func::Exposes | Func::ChrootInto | Func::Without => 2,
            _ => 1,
        }
    }

    pub fn check_args(self, args: &[Node]) -> Result<(), String> {
        if args.len() != self.arity() {
            return Err(format!(
                "takes {} argument(s), got {}",
                self.arity(),
                args.len()
            ));
        }
        if self == Func::Pss {
            match &args[0] {
                Node::Lit(crate::expr::Lit::Str(check))
                    if crate::pss::definition(check).is_some() => {}
                _ => {
                    return Err(
                        "takes a Pod Security check id in quotes, e.g. pss(\"privileged\")".into(),
                    );
                }
            }
        }
        Ok(())
    }

    /// Functions over per-container data only make sense in container scope.
    pub fn needs_container(self) -> bool {
        false
    }

    /// Whether the function analyses shell scripts (and can use the per-container parse).
    pub fn is_shell(self) -> bool {
        matches!(
            self,
            Func::DownloadExec
                | Func::Base64Exec
                | Func::ReverseShell
                | Func::NsenterHost
                | Func::ChrootInto
                | Func::Miner
                | Func::ContainerCli
                | Func::PersistenceWrite
                | Func::BlockMount
        )
    }

    /// Call with evaluated arguments. `parsed` is the container's scripts, already parsed,
    /// when the first argument is `container.scripts` (the common, hot case).
    pub fn call<'a>(self, args: &[Val<'a>], parsed: Option<&[Script]>) -> Val<'a> {
        /// A value's items, in place: a list's, or a lone string as a one-item list.
        fn items<'v>(v: &'v Val<'_>) -> &'v [Cow<'v, str>] {
            match v {
                Val::List(l) => l,
                Val::Str(s) => std::slice::from_ref(s),
                _ => &[],
            }
        }
        fn strs<'v>(v: &'v Val<'_>) -> Vec<&'v str> {
            match v {
                Val::List(l) => l.iter().map(|s| s.as_ref()).collect(),
                Val::Str(s) => vec![s.as_ref()],
                _ => Vec::new(),
            }
        }
        let owned = |v: Vec<String>| Val::List(v.into_iter().map(Cow::Owned).collect());
        if self.is_shell() {
            let own;
            let scripts = match parsed {
                Some(p) => p,
                None => {
                    own = crate::shell::parse_all(
                        &strs(&args[0])
                            .iter()
                            .map(|s| s.to_string())
                            .collect::<Vec<_>>(),
                    );
                    &own
                }
            };
            if scripts.is_empty() {
                return Val::List(Items::Owned(Vec::new()));
            }
            return owned(match self {
                Func::DownloadExec => crate::shell::download_exec(scripts),
                Func::Base64Exec => crate::shell::base64_exec(scripts),
                Func::ReverseShell => crate::shell::reverse_shell(scripts),
                Func::NsenterHost => crate::shell::nsenter_host(scripts),
                Func::ChrootInto => crate::shell::chroot_into(scripts, &strs(&args[1])),
                Func::Miner => crate::shell::miner(scripts),
                Func::ContainerCli => crate::shell::container_cli(scripts),
                Func::BlockMount => crate::shell::block_mount(scripts),
                _ => crate::shell::persistence_write(scripts),
            });
        }
        match self {
            Func::Within | Func::Exposes => {
                let paths = match &args[0] {
                    Val::List(l) if l.is_empty() => return Val::List(Items::Owned(Vec::new())),
                    Val::List(l) => l.clone(),
                    Val::Str(s) => Items::Owned(vec![s.clone()]),
                    _ => return Val::List(Items::Owned(Vec::new())),
                };
                let bases = items(&args[1]);
                let rel = |p: &str, b: &str| match self {
                    Func::Within => hostpath::is_within(p, b),
                    _ => hostpath::exposes(p, b),
                };
                Val::List(
                    paths
                        .iter()
                        .filter(|p| p.starts_with('/') && bases.iter().any(|b| rel(p, b)))
                        .cloned()
                        .collect(),
                )
            }
            Func::Without => {
                let exclude = items(&args[1]);
                match &args[0] {
                    Val::List(l) => Val::List(
                        l.iter()
                            .filter(|x| !exclude.iter().any(|e| e == *x))
                            .cloned()
                            .collect(),
                    ),
                    other => other.clone(),
                }
            }
            Func::Lower => match &args[0] {
                Val::Str(s) => Val::Str(Cow::Owned(s.to_lowercase())),
                Val::List(l) => owned(l.iter().map(|s| s.to_lowercase()).collect()),
                other => other.clone(),
            },
            Func::Len => Val::Int(match &args[0] {
                Val::List(l) => l.len() as i64,
                Val::Str(s) => s.chars().count() as i64,
                Val::Null => 0,
                _ => 1,
            }),
            // Evaluated by the engine, which holds the profile; shell functions above.
            _ => Val::Null,
        }
    }
}
