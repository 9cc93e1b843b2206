#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Output, Stdio};

pub const SHARED: &str = "../../../shared";

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("portcullis runs")
}

pub fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portcullis runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

/// Alerts of a `--format jsonl` run.
pub fn alerts(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}

pub fn rank(sev: &str) -> u8 {
    match sev {
        "info" => 0,
        "low" => 1,
        "medium" => 2,
        "high" => 3,
        "critical" => 4,
        other => panic!("unknown severity {other}"),
    }
}

/// Highest severity and rule ids per (file, document).
pub fn by_document(alerts: &[Value]) -> BTreeMap<(String, u64), (u8, Vec<String>)> {
    let mut m: BTreeMap<(String, u64), (u8, Vec<String>)> = BTreeMap::new();
    for a in alerts {
        let key = (
            a["source"]["file"].as_str().unwrap_or_default().to_string(),
            a["source"]["document"].as_u64().unwrap_or_default(),
        );
        let e = m.entry(key).or_insert((0, Vec::new()));
        e.0 = e.0.max(rank(a["severity"].as_str().unwrap_or("info")));
        e.1.push(a["rule"]["id"].as_str().unwrap_or_default().to_string());
    }
    m
}

/// Highest severity per file (0 when a file has no alert at all is indistinguishable from
/// info: callers check rule ids when that matters).
pub fn max_by_file(alerts: &[Value]) -> BTreeMap<String, (u8, Vec<String>)> {
    let mut m: BTreeMap<String, (u8, Vec<String>)> = BTreeMap::new();
    for ((file, _), (sev, rules)) in by_document(alerts) {
        let e = m.entry(file).or_insert((0, Vec::new()));
        e.0 = e.0.max(sev);
        e.1.extend(rules);
    }
    m
}

/// A real dockerd (Debian's docker.io, installed by scripts/test), private to a test: its
/// own data root, exec root, unix socket and optional TCP listener, killed on drop.
pub struct Dockerd {
    pub child: std::process::Child,
    pub dir: tempfile::TempDir,
    pub socket: std::path::PathBuf,
    pub tcp: Option<String>,
    pub extra: Vec<String>,
}

impl Dockerd {
    pub fn start(tcp: Option<&str>, extra: &[&str]) -> Dockerd {
        let dir = tempfile::tempdir().expect("tmp");
        let child = Dockerd::spawn(dir.path(), tcp, extra);
        let d = Dockerd {
            child,
            socket: dir.path().join("docker.sock"),
            dir,
            tcp: tcp.map(str::to_string),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        d.wait_up();
        d
    }

    /// Kill the daemon (SIGKILL, a crash) and start it again on the same data root and
    /// socket. The containerd it had started is killed too, as a crash would leave it.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.kill_containerd();
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        self.child = Dockerd::spawn(self.dir.path(), self.tcp.as_deref(), &extra);
        self.wait_up();
    }

    pub fn docker(&self, args: &[&str]) -> Output {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .output()
            .expect("docker runs")
    }

    fn spawn(dir: &std::path::Path, tcp: Option<&str>, extra: &[&str]) -> std::process::Child {
        let mut cmd = Command::new("dockerd");
        cmd.arg("--data-root")
            .arg(dir.join("data"))
            .arg("--exec-root")
            .arg(dir.join("exec"))
            .arg("--pidfile")
            .arg(dir.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join("dockerd.log"))
                    .expect("log"),
            );
        if let Some(t) = tcp {
            cmd.arg("-H").arg(format!("tcp://{t}"));
        }
        cmd.spawn()
            .expect("dockerd runs (scripts/test installs docker.io)")
    }

    fn wait_up(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            let ok = Command::new("docker")
                .arg("-H")
                .arg(format!("unix://{}", self.socket.display()))
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        panic!(
            "dockerd did not come up: {}",
            std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
        );
    }
}

impl Dockerd {
    fn kill_containerd(&self) {
        let pidfile = self.dir.path().join("exec/containerd/containerd.pid");
        if let Ok(pid) = std::fs::read_to_string(&pidfile) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
            for _ in 0..50 {
                if !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let _ = std::fs::remove_file(pidfile);
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.kill_containerd();
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Import a one-file image made from the static busybox (no registry is reachable).
pub fn busybox_image(d: &Dockerd) -> &'static str {
    let root = d.dir.path().join("rootfs");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("busybox-static is installed by scripts/test");
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&root)
        .args(["-cf", "-", "."])
        .output()
        .expect("tar");
    let mut import = Command::new("docker")
        .arg("-H")
        .arg(format!("unix://{}", d.socket.display()))
        .args(["import", "-", "portcullis/busybox:test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("import");
    use std::io::Write;
    import
        .stdin
        .take()
        .expect("stdin")
        .write_all(&tar.stdout)
        .expect("write");
    assert!(import.wait().expect("wait").success());
    "portcullis/busybox:test"
}

/// `portcullis serve` as a child process, with its own store and TLS folder.
pub struct Serve {
    pub child: std::process::Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Serve {
    pub fn start(extra: &[&str]) -> Serve {
        let dir = tempfile::tempdir().expect("tmp");
        let port = free_port();
        let child = bin()
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--store")
            .arg(dir.path().join("alerts.db"))
            .arg("--tls-dir")
            .arg(dir.path().join("tls"))
            // Hermetic: a containerd or Podman on the test machine is not followed unless
            // a test asks.
            .args(
                ["--containerd-address", "--podman-host"]
                    .into_iter()
                    .filter(|flag| !extra.contains(flag))
                    .flat_map(|flag| [flag, ""]),
            )
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("serve.log")).expect("log"))
            .spawn()
            .expect("serve starts");
        let s = Serve { child, dir, port };
        for _ in 0..100 {
            if s.curl(&["/healthz"]).status.success() {
                return s;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "serve did not come up: {}",
            std::fs::read_to_string(s.dir.path().join("serve.log")).unwrap_or_default()
        );
    }

    pub fn cert(&self) -> std::path::PathBuf {
        self.dir.path().join("tls").join("tls.crt")
    }

    /// curl over real HTTPS, verifying the server's (self-signed) certificate.
    pub fn curl(&self, args: &[&str]) -> Output {
        let mut a: Vec<String> = vec![
            "-s".into(),
            "--max-time".into(),
            "10".into(),
            "--cacert".into(),
            self.cert().display().to_string(),
            "-w".into(),
            "\n%{http_code}".into(),
        ];
        let path = args.first().copied().unwrap_or("/");
        a.extend(args[1..].iter().map(|s| s.to_string()));
        a.push(format!("https://localhost:{}{path}", self.port));
        Command::new("curl").args(&a).output().expect("curl runs")
    }

    pub fn post(&self, path: &str, body: &str, headers: &[&str]) -> (u16, String) {
        let f = self.dir.path().join("body.json");
        std::fs::write(&f, body).expect("w");
        let mut args = vec![
            path,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
        ];
        let at = format!("@{}", f.display());
        args.push(&at);
        for h in headers {
            args.push("-H");
            args.push(h);
        }
        let out = self.curl(&args);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or((&text, "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    pub fn alerts(&self) -> Vec<serde_json::Value> {
        let out = run(&[
            "alerts",
            "--store",
            self.dir.path().join("alerts.db").to_str().expect("utf8"),
            "--format",
            "jsonl",
        ]);
        alerts(&out)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway certificate authority for loopback TLS tests.
pub struct TestCa {
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).expect("ca").pem();
        TestCa {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A certificate and its key, PEM: a server's for `names`, or a client's when `names`
    /// is empty.
    pub fn issue(&self, names: &[&str]) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("params");
        if names.is_empty() {
            params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        }
        let cert = params.signed_by(&key, &self.issuer).expect("cert");
        (cert.pem(), key.serialize_pem())
    }
}

/// A TLS acceptor for a loopback server, with a certificate from `ca` for 127.0.0.1.
pub fn loopback_tls(ca: &TestCa) -> tokio_rustls::TlsAcceptor {
    loopback_tls_for(ca, None)
}

/// [`loopback_tls`] that, given `clients`, asks every client for a certificate from that
/// CA and refuses the handshake without one (a receiver behind mutual TLS).
pub fn loopback_tls_for(ca: &TestCa, clients: Option<&TestCa>) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (cert, key) = ca.issue(&["127.0.0.1"]);
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(clients) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(
                    rustls_pki_types::CertificateDer::from_pem_slice(clients.pem.as_bytes())
                        .expect("ca"),
                )
                .expect("root");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                std::sync::Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        }
    };
    let tls = builder
        .with_single_cert(
            vec![rustls_pki_types::CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
            rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
        )
        .expect("tls");
    tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls))
}

/// One HTTP/1.0 exchange on the daemon's socket (no chunking, the server closes).
pub fn http(socket: &std::path::Path, method: &str, target: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = std::os::unix::net::UnixStream::connect(socket).expect("connect");
    use std::io::{Read, Write};
    let head = format!(
        "{method} {target} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write");
    let mut out = Vec::new();
    s.read_to_end(&mut out).expect("read");
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(out.len(), |i| i + 4);
    let status = std::str::from_utf8(&out[..split.min(out.len())])
        .ok()
        .and_then(|h| h.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out[split..].to_vec())
}

/// splitmix64: deterministic generated cases from a seed, so a failure is replayable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A real containerd (Debian's `containerd`, a dependency of docker.io), private to a
/// test: its own root, state and socket, its log in `containerd.log`, killed on drop.
#[allow(dead_code)] // not every test binary starts one
pub struct Containerd {
    pub child: std::process::Child,
    pub dir: tempfile::TempDir,
    pub socket: std::path::PathBuf,
}

#[allow(dead_code)]
impl Containerd {
    pub fn start() -> Containerd {
        let dir = tempfile::tempdir().expect("tmp");
        let socket = dir.path().join("containerd.sock");
        let config = format!(
            "version = 2\nroot = \"{root}/root\"\nstate = \"{root}/state\"\n[grpc]\n  address = \"{sock}\"\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n",
            root = dir.path().display(),
            sock = socket.display()
        );
        std::fs::write(dir.path().join("config.toml"), config).expect("config");
        let log = std::fs::File::create(dir.path().join("containerd.log")).expect("log");
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("containerd runs (scripts/test installs it)");
        let c = Containerd { child, dir, socket };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if c.ctr(&["version"]).status.success() {
                return c;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("containerd did not come up: {}", c.log());
    }

    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr")
            .arg("--address")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("ctr runs")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    /// A root filesystem holding the static busybox, for `ctr run --rootfs` (no registry
    /// is reachable, and `--rootfs` needs no image).
    pub fn busybox_rootfs(&self) -> std::path::PathBuf {
        let root = self.dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).expect("mkdir");
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("busybox-static is installed by scripts/test");
        root
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real rootful Podman API service (Debian's `podman system service`), private to a
/// test: its own storage (vfs), run root and socket, killed on drop.
#[allow(dead_code)] // not every test binary starts one
pub struct Podman {
    pub child: std::process::Child,
    pub dir: tempfile::TempDir,
    pub socket: std::path::PathBuf,
}

#[allow(dead_code)]
impl Podman {
    fn global(dir: &std::path::Path) -> Vec<String> {
        vec![
            "--root".into(),
            dir.join("root").display().to_string(),
            "--runroot".into(),
            dir.join("run").display().to_string(),
            "--storage-driver".into(),
            "vfs".into(),
        ]
    }

    pub fn start() -> Podman {
        let dir = tempfile::tempdir().expect("tmp");
        let socket = dir.path().join("podman.sock");
        let child = Command::new("podman")
            .args(Podman::global(dir.path()))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("podman.log")).expect("log"))
            .spawn()
            .expect("podman runs (scripts/test installs it)");
        let p = Podman { child, dir, socket };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            if p.api("GET", "/v1.41/_ping", None).contains("OK") {
                return p;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "podman did not come up: {}",
            std::fs::read_to_string(p.dir.path().join("podman.log")).unwrap_or_default()
        );
    }

    /// One call to the Docker-compatible API, with curl; the body of the answer.
    pub fn api(&self, method: &str, path: &str, body: Option<&str>) -> String {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", method, "--unix-socket"])
            .arg(&self.socket)
            .args(["-H", "Content-Type: application/json"]);
        if let Some(b) = body {
            cmd.args(["-d", b]);
        }
        let out = cmd
            .arg(format!("http://podman{path}"))
            .output()
            .expect("curl");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Import a one-file image made from the static busybox (no registry is reachable).
    pub fn busybox_image(&self) -> &'static str {
        let root = self.dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).expect("mkdir");
        std::fs::copy("/bin/busybox", root.join("bin/busybox"))
            .expect("busybox-static is installed by scripts/test");
        let tar = self.dir.path().join("rootfs.tar");
        assert!(
            Command::new("tar")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .arg(".")
                .status()
                .expect("tar")
                .success()
        );
        let out = Command::new("podman")
            .args(Podman::global(self.dir.path()))
            .arg("import")
            .arg(&tar)
            .arg("localhost/portcullis/busybox:test")
            .output()
            .expect("podman import");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        "localhost/portcullis/busybox:test"
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
