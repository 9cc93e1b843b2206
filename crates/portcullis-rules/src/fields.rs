//! The field paths a condition can read, each bound at compile time to an accessor over
//! the model. One table: names, scopes, docs and accessors cannot drift apart.

use portcullis_model::{Container, Deployment, PodSpec, hostpath, normalize_capability};
use std::borrow::Cow;

/// A value during evaluation. Lists are lists of text: that is all the pack needs, and
/// it keeps comparison rules simple.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Str(Cow<'a, str>),
    /// Borrowed when it is a literal list of the rule (read in place, never copied).
    List(Items<'a>),
}

/// A list value's items: built for this evaluation, or a literal list of the rule read in
/// place (a named list can hold dozens of items; copying it for every container showed up
/// as a tenth of the judging time).
#[derive(Debug, Clone)]
pub enum Items<'a> {
    Owned(Vec<Cow<'a, str>>),
    Borrowed(&'a [Cow<'a, str>]),
}

impl<'a> std::ops::Deref for Items<'a> {
    type Target = [Cow<'a, str>];
    fn deref(&self) -> &Self::Target {
        match self {
            Items::Owned(v) => v,
            Items::Borrowed(s) => s,
        }
    }
}

impl PartialEq for Items<'_> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<'a> From<Vec<Cow<'a, str>>> for Items<'a> {
    fn from(v: Vec<Cow<'a, str>>) -> Self {
        Items::Owned(v)
    }
}

impl<'a> FromIterator<Cow<'a, str>> for Items<'a> {
    fn from_iter<I: IntoIterator<Item = Cow<'a, str>>>(it: I) -> Self {
        Items::Owned(it.into_iter().collect())
    }
}

impl Val<'_> {
    pub fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Int(i) => *i != 0,
            Val::Str(s) => !s.is_empty(),
            Val::List(l) => !l.is_empty(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Val::Null => serde_json::Value::Null,
            Val::Bool(b) => (*b).into(),
            Val::Int(i) => (*i).into(),
            Val::Str(s) => s.as_ref().into(),
            Val::List(l) => l.iter().map(|s| s.as_ref()).collect::<Vec<_>>().into(),
        }
    }

    /// Text for message templates, appended to `out`.
    pub fn write_display(&self, out: &mut String) {
        match self {
            Val::Str(s) => out.push_str(s),
            Val::List(l) => {
                for (i, s) in l.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(s);
                }
            }
            other => out.push_str(&other.display()),
        }
    }

    /// Text for message templates.
    pub fn display(&self) -> String {
        match self {
            Val::Null => String::new(),
            Val::Bool(b) => b.to_string(),
            Val::Int(i) => i.to_string(),
            Val::Str(s) => s.to_string(),
            Val::List(l) => l.join(", "),
        }
    }
}

fn s(x: &str) -> Val<'_> {
    Val::Str(Cow::Borrowed(x))
}
fn opt(x: &Option<String>) -> Val<'_> {
    x.as_deref().map_or(Val::Null, s)
}
fn ob(x: Option<bool>) -> Val<'static> {
    x.map_or(Val::Null, Val::Bool)
}
fn oi(x: Option<i64>) -> Val<'static> {
    x.map_or(Val::Null, Val::Int)
}
fn list<'a, I: IntoIterator<Item = &'a str>>(it: I) -> Val<'a> {
    Val::List(it.into_iter().map(Cow::Borrowed).collect())
}
fn owned_list<I: IntoIterator<Item = String>>(it: I) -> Val<'static> {
    Val::List(it.into_iter().map(Cow::Owned).collect())
}

/// Which part of the model a rule (or a field) is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The record as a whole: actor, target, operation. Evaluated even without a spec.
    Event,
    /// Once per pod spec.
    Pod,
    /// Once per container (init, regular and ephemeral alike).
    Container,
}

impl Scope {
    pub fn allows(self, field: Scope) -> bool {
        field <= self
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Event => "event",
            Scope::Pod => "pod",
            Scope::Container => "container",
        }
    }
}

/// What an accessor sees.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub dep: &'a Deployment,
    pub pod: Option<&'a PodSpec>,
    pub container: Option<&'a Container>,
}

macro_rules! fields {
    ($( $variant:ident $name:literal $scope:ident $doc:literal => $acc:expr ;)*) => {
        /// A field path of the model.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Field { $($variant),* }

        impl Field {
            pub const ALL: &'static [Field] = &[$(Field::$variant),*];
            pub fn by_name(name: &str) -> Option<Field> {
                match name { $($name => Some(Field::$variant),)* _ => None }
            }
            pub fn name(self) -> &'static str {
                match self { $(Field::$variant => $name),* }
            }
            pub fn scope(self) -> Scope {
                match self { $(Field::$variant => Scope::$scope),* }
            }
            pub fn doc(self) -> &'static str {
                match self { $(Field::$variant => $doc),* }
            }
            pub fn get<'a>(self, ctx: &Ctx<'a>) -> Val<'a> {
                match self { $(Field::$variant => fields!(@call $scope ctx $acc)),* }
            }
        }
    };
    (@call Event $ctx:ident $acc:expr) => {{
        let f: fn(&'a Deployment) -> Val<'a> = $acc;
        f($ctx.dep)
    }};
    (@call Pod $ctx:ident $acc:expr) => {{
        let f: fn(&'a PodSpec, &'a Deployment) -> Val<'a> = $acc;
        match $ctx.pod { Some(p) => f(p, $ctx.dep), None => Val::Null }
    }};
    (@call Container $ctx:ident $acc:expr) => {{
        let f: fn(&'a Container, &'a PodSpec, &'a Deployment) -> Val<'a> = $acc;
        match ($ctx.container, $ctx.pod) { (Some(c), Some(p)) => f(c, p, $ctx.dep), _ => Val::Null }
    }};
}

fields! {
    OriginKind "origin.kind" Event "source kind: manifest, compose, k8s_audit, …" => |d| s(&d.origin.kind);
    Operation "operation" Event "declare, create, update, patch, exec, attach, ephemeral_container, start" =>
        |d| s(d.operation.as_str());
    Outcome "outcome" Event "unknown, attempted, created, denied" =>
        |d| s(d.outcome.as_str());
    ActorUser "actor.user" Event "user name" => |d| opt(&d.actor.user);
    ActorGroups "actor.groups" Event "groups of the user" => |d| list(d.actor.groups.iter().map(String::as_str));
    ActorServiceAccount "actor.service_account" Event "namespace:name when the actor is a service account" => |d| opt(&d.actor.service_account);
    ActorUserAgent "actor.user_agent" Event "client user agent" => |d| opt(&d.actor.user_agent);
    TargetKind "target.kind" Event "object kind (Pod, Deployment, ComposeService, …)" => |d| s(&d.target.kind);
    TargetApiVersion "target.api_version" Event "object apiVersion" => |d| s(&d.target.api_version);
    TargetNamespace "target.namespace" Event "object namespace (unset: the apply-time default)" => |d| opt(&d.target.namespace);
    TargetName "target.name" Event "object name" => |d| opt(&d.target.name);
    TargetOwnerKinds "target.owner_kinds" Event "kinds of the object's owner references" =>
        |d| list(d.target.owner_references.iter().map(|o| o.kind.as_str()));
    Endpoint "endpoint" Event "API endpoint the client used when not the default (tcp://host:2375, unix:///var/run/docker.sock, context:name)" => |d| opt(&d.endpoint);
    ActorIsController "actor.is_controller" Event "the actor is a Kubernetes control-plane identity: a kube-system *-controller service account, the controller manager, the scheduler or a kubelet (system:node:*)" =>
        |d| Val::Bool(d.actor.user.as_deref().is_some_and(is_controller));
    ExecCommand "exec.command" Event "command of an exec/attach (pods/exec query, docker exec_create)" =>
        |d| d.target.exec.as_ref().and_then(|e| e.command.as_deref()).map_or(Val::Null, s);
    ChangePresent "change.present" Event "the previous spec of the changed workload is known (admission oldObject, or an earlier version in the log)" =>
        |d| Val::Bool(d.previous.is_some() && d.pod.is_some());
    ChangeNewImageRepos "change.new_image_repos" Event "image repositories the change brings that the previous spec did not run (kubectl set image to another repository)" =>
        |d| change(d, |old, new| owned_list(image_repos(new).into_iter().filter(|r| !image_repos(old).contains(r))));
    ChangeContainersAdded "change.containers_added" Event "containers, init containers or ephemeral containers the change adds, by name" =>
        |d| change(d, |old, new| owned_list(new.containers.iter().filter(|c| !old.containers.iter().any(|o| o.name == c.name)).map(|c| c.name.clone())));
    ChangeCommandsChanged "change.commands_changed" Event "containers whose start command or arguments the change replaces, by name" =>
        |d| change(d, |old, new| owned_list(new.containers.iter().filter(|c| c.argv().next().is_some() && old.containers.iter().any(|o| o.name == c.name && !o.argv().eq(c.argv()))).map(|c| c.name.clone())));
    ChangePowersAdded "change.powers_added" Event "powers the change adds to the workload's pods (privileged, hostNetwork, cap:X, hostPath:/path, device:/dev/x)" =>
        |d| change(d, |old, new| { let before = old.powers(); owned_list(new.powers().into_iter().filter(|p| !before.contains(p))) });
    ChangeServiceAccount "change.service_account" Event "the service account swap a change makes, as `old -> new`" =>
        |d| change(d, |old, new| match (&new.service_account, old.service_account.as_deref().unwrap_or("default")) {
            (Some(n), o) if n != o => Val::Str(Cow::Owned(format!("{o} -> {n}"))),
            _ => Val::Null,
        });
    BaselinePresent "baseline.present" Event "a baseline was given and the deployment falls in one of its scopes (or in an unknown one)" =>
        |d| Val::Bool(d.expectation.is_some());
    BaselineScope "baseline.scope" Event "the baseline scope of the deployment (k8s/NAMESPACE, docker/PROJECT, podman/…, containerd/…)" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| s(&e.scope));
    BaselineScopeUnknown "baseline.scope_unknown" Event "the scope never appeared in the baseline: a new namespace, Compose project or host" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| Val::Bool(e.scope_unknown));
    BaselineDeployerKnown "baseline.deployer_known" Event "the deployer was seen deploying in this scope while the baseline was learnt (null without a baseline)" =>
        |d| d.expectation.as_ref().filter(|e| !e.scope_unknown).map_or(Val::Null, |e| Val::Bool(e.deployer_known));
    BaselineNewImages "baseline.new_images" Event "image repositories the workload (or, for a new workload, the scope) never ran" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| list(e.new_images.iter().map(String::as_str)));
    BaselineDigestChanged "baseline.digest_changed" Event "repo:tag whose digest differs from the one learnt for the same tag" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| list(e.digest_changed.iter().map(String::as_str)));
    BaselineNewPrivileges "baseline.new_privileges" Event "powers the workload's pods never used in the baseline (privileged, hostNetwork, cap:X, hostPath:/path, device:/dev/x)" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| list(e.new_privileges.iter().map(String::as_str)));
    BaselineNewSchedule "baseline.new_schedule" Event "a CronJob schedule its baseline never had (the workload had others)" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| opt(&e.new_schedule));
    TargetSchedule "target.schedule" Event "a CronJob's schedule (spec.schedule)" =>
        |d| opt(&d.target.schedule);
    BaselineBurst "baseline.burst" Event "deploys into the scope this clock hour, when more than three times the busiest hour learnt (null otherwise)" =>
        |d| d.expectation.as_ref().and_then(|e| e.burst).map_or(Val::Null, |n| Val::Int(n as i64));
    BaselineNewNodeTargets "baseline.new_node_targets" Event "node pins, selectors and control-plane targets the scope never used" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| list(e.new_node_targets.iter().map(String::as_str)));
    BaselineOffSchedule "baseline.off_schedule" Event "the deploy falls in an hour of the week (±1 h, UTC) when the scope never deployed (null: too few deploys learnt or no time)" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| ob(e.off_schedule));
    BaselineUnexpected "baseline.unexpected" Event "how many baseline facts of this deployment are unexpected (deployer, images, digest, privileges, node targets, schedule)" =>
        |d| d.expectation.as_ref().map_or(Val::Null, |e| Val::Int(i64::from(e.unexpected)));
    TargetMirrorPod "target.mirror_pod" Event "a static pod or its mirror: a Pod with the kubernetes.io/config.mirror annotation, or one a kubelet read from a file or URL (kubernetes.io/config.source file or http)" =>
        |d| Val::Bool(d.target.kind == "Pod" && (d.target.annotation("kubernetes.io/config.mirror").is_some() || matches!(d.target.annotation("kubernetes.io/config.source"), Some("file" | "http"))));
    ExecPrivileged "exec.privileged" Event "the exec itself runs privileged (docker exec --privileged, ExecConfig.Privileged)" =>
        |d| Val::Bool(d.exec.as_ref().is_some_and(|e| e.privileged));
    CreatedForKind "created_for.kind" Event "for a controller-made pod: the kind of workload it belongs to" =>
        |d| d.created_for.as_ref().map_or(Val::Null, |l| s(&l.kind));
    ProcessTool "process.tool" Event "the tool a process record runs, after unwrapping sudo/env/sh -c (docker, kubectl, mount…)" =>
        |d| d.process.as_ref().map_or(Val::Null, |p| s(&p.tool));
    ProcessArgv0 "process.argv0" Event "argv[0] as logged" =>
        |d| d.process.as_ref().and_then(|p| p.argv.first()).map_or(Val::Null, |a| s(a));
    ProcessRenamed "process.renamed" Event "the executable's file name and argv[0]'s differ (.exe aside), and one of them is a container tool" =>
        |d| Val::Bool(d.process.as_ref().is_some_and(crate::shell::renamed_tool));
    ProcessCommandLine "process.command_line" Event "the process command line" =>
        |d| d.process.as_ref().map_or(Val::Null, |p| s(&p.command_line));
    ProcessExecutable "process.executable" Event "the process executable path" =>
        |d| d.process.as_ref().map_or(Val::Null, |p| opt(&p.executable));
    ProcessParentExecutable "process.parent_executable" Event "the parent process executable" =>
        |d| d.process.as_ref().map_or(Val::Null, |p| opt(&p.parent_executable));
    ProcessScripts "process.scripts" Event "the shell text the process runs (its sh -c body, or its argv joined)" =>
        |d| d.process.as_ref().map_or(Val::Null, |p| {
            let argv: Vec<&str> = p.argv.iter().map(String::as_str).collect();
            owned_list(portcullis_model::shell::script_of(&argv))
        });
    TargetLabels "target.labels" Event "labels as key=value" =>
        |d| owned_list(d.target.labels.iter().map(|(k, v)| format!("{k}={v}")));

    PodHostNetwork "pod.host_network" Pod "hostNetwork / network_mode: host" => |p, _| Val::Bool(p.host_network);
    PodHostPid "pod.host_pid" Pod "hostPID / pid: host" => |p, _| Val::Bool(p.host_pid);
    PodHostIpc "pod.host_ipc" Pod "hostIPC / ipc: host" => |p, _| Val::Bool(p.host_ipc);
    PodHostUsers "pod.host_users" Pod "hostUsers as written (null when unset)" => |p, _| ob(p.host_users);
    PodHostCgroupns "pod.host_cgroupns" Pod "Docker CgroupnsMode: host (the node's cgroup namespace)" => |p, _| Val::Bool(p.host_cgroupns);
    PodJoinedNamespaces "pod.joined_namespaces" Pod "namespaces joined from another container, as ns=container:NAME" =>
        |p, _| list(p.joined_namespaces.iter().map(String::as_str));
    PodShareProcessNamespace "pod.share_process_namespace" Pod "shareProcessNamespace" => |p, _| Val::Bool(p.share_process_namespace);
    PodNodeName "pod.node_name" Pod "spec.nodeName" => |p, _| opt(&p.node_name);
    PodNodeSelector "pod.node_selector" Pod "nodeSelector as key=value" =>
        |p, _| owned_list(p.node_selector.iter().map(|(k, v)| format!("{k}={v}")));
    PodNodeSelectorKeys "pod.node_selector_keys" Pod "nodeSelector keys" =>
        |p, _| list(p.node_selector.iter().map(|(k, _)| k.as_str()));
    PodAffinityKeys "pod.affinity_keys" Pod "node-affinity expression keys" =>
        |p, _| list(p.node_affinity.iter().map(|r| r.key.as_str()));
    PodAffinityLabels "pod.affinity_labels" Pod "node-affinity In-values as key=value, and bare keys for Exists" =>
        |p, _| owned_list(p.node_affinity.iter().flat_map(|r| {
            if r.values.is_empty() { vec![r.key.clone()] } else { r.values.iter().map(|v| format!("{}={v}", r.key)).collect() }
        }));
    PodTolerationKeys "pod.toleration_keys" Pod "keys of tolerations (empty string for a keyless one)" =>
        |p, _| list(p.tolerations.iter().map(|t| t.key.as_deref().unwrap_or("")));
    PodToleratesAll "pod.tolerates_all" Pod "a toleration with operator Exists and no key: accepts every taint" =>
        |p, _| Val::Bool(p.tolerations.iter().any(|t| t.key.is_none() && t.operator == "Exists"));
    PodServiceAccount "pod.service_account" Pod "serviceAccountName" => |p, _| opt(&p.service_account);
    PodAutomountToken "pod.automount_token" Pod "automountServiceAccountToken (null when unset)" => |p, _| ob(p.automount_service_account_token);
    PodRunAsUser "pod.run_as_user" Pod "pod-level runAsUser" => |p, _| oi(p.security_context.options.run_as_user);
    PodSysctls "pod.sysctls" Pod "sysctl names" => |p, _| list(p.security_context.sysctls.iter().map(|(k, _)| k.as_str()));
    PodHostPaths "pod.host_paths" Pod "cleaned hostPath of every volume" =>
        |p, _| list(p.volumes.iter().filter_map(|v| v.host_path.as_ref()).map(|h| h.path.as_str()));
    PodImages "pod.images" Pod "every container's image as written" => |p, _| list(p.containers.iter().map(|c| c.image.raw.as_str()));

    ContainerName "container.name" Container "container name" => |c, _, _| s(&c.name);
    ContainerKind "container.kind" Container "container, init or ephemeral" => |c, _, _| s(c.kind.as_str());
    ContainerPath "container.path" Container "where the container sits in the source" => |c, _, _| s(&c.path);
    ContainerImage "container.image" Container "image as written" => |c, _, _| s(&c.image.raw);
    ContainerImageRegistry "container.image.registry" Container "registry host, docker.io by default" => |c, _, _| s(c.image.registry());
    ContainerImageRepository "container.image.repository" Container "repository path (library/ for official images)" => |c, _, _| s(c.image.repository());
    ContainerImageName "container.image.name" Container "registry/repository" => |c, _, _| Val::Str(Cow::Borrowed(c.image.name()));
    ContainerImageTag "container.image.tag" Container "tag as written (null when none)" => |c, _, _| opt(&c.image.tag);
    ContainerImageEffectiveTag "container.image.effective_tag" Container "tag that will be pulled: latest when none and no digest" =>
        |c, _, _| c.image.effective_tag().map_or(Val::Null, s);
    ContainerImageDigest "container.image.digest" Container "digest (null when not pinned)" => |c, _, _| opt(&c.image.digest);
    ContainerImageValid "container.image.valid" Container "the reference follows Docker's grammar" => |c, _, _| Val::Bool(c.image.valid);
    ContainerImageRegistryIsIp "container.image.registry_is_ip" Container "registry is a bare IP address" => |c, _, _| Val::Bool(c.image.registry_is_ip());
    ContainerCommand "container.command" Container "command / entrypoint" => |c, _, _| list(c.command.iter().map(String::as_str));
    ContainerArgs "container.args" Container "args / cmd" => |c, _, _| list(c.args.iter().map(String::as_str));
    ContainerArgv "container.argv" Container "command followed by args" => |c, _, _| list(c.argv());
    ContainerScripts "container.scripts" Container "shell text the container runs at start and in lifecycle hooks (sh -c bodies, or the argv joined)" =>
        |c, _, _| owned_list(crate::shell::scripts(c));
    ContainerWorkingDir "container.working_dir" Container "workingDir" => |c, _, _| opt(&c.working_dir);
    ContainerEnvNames "container.env_names" Container "names of environment variables" => |c, _, _| list(c.env.iter().map(|e| e.name.as_str()));
    ContainerPrivileged "container.privileged" Container "securityContext.privileged (false when unset)" =>
        |c, _, _| Val::Bool(c.security_context.privileged.unwrap_or(false));
    ContainerAllowPrivilegeEscalation "container.allow_privilege_escalation" Container "allowPrivilegeEscalation as written (null when unset)" =>
        |c, _, _| ob(c.security_context.allow_privilege_escalation);
    ContainerCapAdd "container.cap_add" Container "added capabilities, upper case without CAP_" =>
        |c, _, _| owned_list(c.security_context.cap_add.iter().map(|x| normalize_capability(x)));
    ContainerCapDrop "container.cap_drop" Container "dropped capabilities, upper case without CAP_" =>
        |c, _, _| owned_list(c.security_context.cap_drop.iter().map(|x| normalize_capability(x)));
    ContainerRunAsUser "container.run_as_user" Container "effective runAsUser (container, else pod)" =>
        |c, p, _| oi(c.security_context.options.run_as_user.or(p.security_context.options.run_as_user));
    ContainerRunAsNonRoot "container.run_as_non_root" Container "effective runAsNonRoot (container, else pod)" =>
        |c, p, _| ob(c.security_context.options.run_as_non_root.or(p.security_context.options.run_as_non_root));
    ContainerSeccomp "container.seccomp" Container "effective seccomp profile type (container, pod, legacy annotations)" =>
        |c, p, _| crate::pss::effective_seccomp(c, p).map_or(Val::Null, s);
    ContainerApparmor "container.apparmor" Container "effective AppArmor profile type (container, annotation, pod)" =>
        |c, p, _| crate::pss::effective_apparmor(c, p).map_or(Val::Null, s);
    ContainerSelinuxType "container.selinux_type" Container "effective SELinux type" =>
        |c, p, _| c.security_context.options.selinux.as_ref().and_then(|x| x.r#type.as_deref())
            .or_else(|| p.security_context.options.selinux.as_ref().and_then(|x| x.r#type.as_deref()))
            .map_or(Val::Null, s);
    ContainerSelinuxDisabled "container.selinux_disabled" Container "SELinux labelling disabled (Docker label=disable)" =>
        |c, _, _| Val::Bool(c.security_context.options.selinux.as_ref().is_some_and(|x| x.disabled));
    ContainerWindowsHostProcess "container.windows_host_process" Container "windowsOptions.hostProcess (container, else pod; false when unset)" =>
        |c, p, _| Val::Bool(c.security_context.options.windows_host_process.or(p.security_context.options.windows_host_process).unwrap_or(false));
    ContainerProcMount "container.proc_mount" Container "procMount (null when unset)" => |c, _, _| opt(&c.security_context.proc_mount);
    ContainerReadOnlyRootFs "container.read_only_root_filesystem" Container "readOnlyRootFilesystem (null when unset)" =>
        |c, _, _| ob(c.security_context.read_only_root_filesystem);
    ContainerHostPorts "container.host_ports" Container "host ports bound (non-zero hostPort / published)" =>
        |c, _, _| owned_list(c.ports.iter().filter_map(|p| p.host_port).filter(|p| *p != 0).map(|p| p.to_string()));
    ContainerHostMounts "container.host_mounts" Container "host paths this container mounts (subPath applied)" =>
        |c, _, _| list(c.mounts.iter().filter_map(|m| m.host_path.as_ref()).map(|h| h.path.as_str()));
    ContainerWritableHostMounts "container.writable_host_mounts" Container "host paths mounted read-write" =>
        |c, _, _| list(c.mounts.iter().filter(|m| !m.read_only).filter_map(|m| m.host_path.as_ref()).map(|h| h.path.as_str()));
    ContainerReadonlyHostMounts "container.readonly_host_mounts" Container "host paths mounted read-only" =>
        |c, _, _| list(c.mounts.iter().filter(|m| m.read_only).filter_map(|m| m.host_path.as_ref()).map(|h| h.path.as_str()));
    ContainerHostMountTargets "container.host_mount_targets" Container "where host paths appear inside the container" =>
        |c, _, _| list(c.mounts.iter().filter(|m| m.host_path.is_some()).map(|m| m.mount_path.as_str()));
    ContainerMountPropagations "container.mount_propagations" Container "mountPropagation values (Docker shared/rshared map to Bidirectional)" =>
        |c, _, _| list(c.mounts.iter().filter_map(|m| m.propagation.as_deref()).map(|p| match p {
            "shared" | "rshared" => "Bidirectional",
            "slave" | "rslave" => "HostToContainer",
            other => other,
        }));
    ContainerDeviceCgroupRules "container.device_cgroup_rules" Container "Docker DeviceCgroupRules as written (type major:minor access)" =>
        |c, _, _| list(c.device_cgroup_rules.iter().map(String::as_str));
    ContainerDevices "container.devices" Container "host devices: --device, and hostPath mounts of device files or under /dev" =>
        |c, _, _| owned_list(c.devices.iter().cloned().chain(c.mounts.iter().filter_map(|m| m.host_path.as_ref()).filter(|h| {
            matches!(h.r#type.as_deref(), Some("CharDevice" | "BlockDevice")) || (hostpath::is_within(&h.path, "/dev") && h.path != "/dev")
        }).map(|h| h.path.clone())));
}

/// A fact about a change: `f(previous, new)` when both specs are known.
fn change<'a>(d: &'a Deployment, f: impl Fn(&'a PodSpec, &'a PodSpec) -> Val<'a>) -> Val<'a> {
    match (d.previous.as_deref(), d.pod.as_ref()) {
        (Some(old), Some(new)) => f(old, new),
        _ => Val::Null,
    }
}

fn image_repos(pod: &PodSpec) -> Vec<String> {
    let mut v: Vec<String> = pod
        .containers
        .iter()
        .map(|c| c.image.name().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Control-plane identities that create pods on others' behalf.
pub fn is_controller(user: &str) -> bool {
    (user.starts_with("system:serviceaccount:kube-system:") && user.ends_with("-controller"))
        || user == "system:kube-controller-manager"
        || user == "system:kube-scheduler"
        || user.starts_with("system:node:")
}

impl Field {
    /// The closest known field name, for "did you mean" hints.
    pub fn suggest(name: &str) -> Option<&'static str> {
        Field::ALL
            .iter()
            .map(|f| (f.name(), distance(name, f.name())))
            .filter(|(_, d)| *d <= 3)
            .min_by_key(|(_, d)| *d)
            .map(|(n, _)| n)
    }
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}
