//! The live containerd source (DS0032 below Docker and the kubelet): subscribe to
//! containerd's events API on its socket, and for each container create and task start
//! read the container's OCI spec (`Containers.Get`) and judge what it will run with
//! ([`portcullis_sources::oci_spec`]). A container made with `ctr run` or `nerdctl` never
//! passes the API server or Docker: this is where it is seen.
//!
//! containerd keeps no event history, so a new connection catches up by listing every
//! namespace's containers and judging those created after the last event it saw.
//! Namespaces the orchestrators own (`k8s.io`, `moby`) are skipped by default: their
//! containers are judged with more context at admission, in audit logs and by the Docker
//! source, and a kubelet's bind mounts of its own folders are not an attack.
//!
//! The few messages of containerd's API used here are declared by hand with `prost`
//! (field numbers from containerd's `api/` protos), so the build needs no `protoc`.

use super::{Follow, Judging, LiveSource};
use crate::ServeConfig;
use portcullis_model::{Deployment, Operation, Origin};
use std::collections::{HashMap, HashSet, VecDeque};
use tonic::codegen::http::uri::PathAndQuery;

const EVENTS_SUBSCRIBE: &str = "/containerd.services.events.v1.Events/Subscribe";
const CONTAINERS_GET: &str = "/containerd.services.containers.v1.Containers/Get";
const CONTAINERS_LIST: &str = "/containerd.services.containers.v1.Containers/List";
const NAMESPACES_LIST: &str = "/containerd.services.namespaces.v1.Namespaces/List";
/// The gRPC metadata key containerd reads a request's namespace from.
const NAMESPACE_HEADER: &str = "containerd-namespace";

#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, PartialOrd, prost::Message)]
struct Timestamp {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

impl Timestamp {
    fn secs(&self) -> f64 {
        self.seconds as f64 + f64::from(self.nanos) / 1e9
    }
}

#[derive(Clone, PartialEq, prost::Message)]
struct SubscribeRequest {
    #[prost(string, repeated, tag = "1")]
    filters: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Envelope {
    #[prost(message, optional, tag = "1")]
    timestamp: Option<Timestamp>,
    #[prost(string, tag = "2")]
    namespace: String,
    #[prost(string, tag = "3")]
    topic: String,
    #[prost(message, optional, tag = "4")]
    event: Option<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ContainerCreate {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    image: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TaskStart {
    #[prost(string, tag = "1")]
    container_id: String,
    #[prost(uint32, tag = "2")]
    pid: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ContainerRecord {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(map = "string, string", tag = "2")]
    labels: HashMap<String, String>,
    #[prost(string, tag = "3")]
    image: String,
    #[prost(message, optional, tag = "5")]
    spec: Option<Any>,
    #[prost(message, optional, tag = "8")]
    created_at: Option<Timestamp>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GetContainerRequest {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GetContainerResponse {
    #[prost(message, optional, tag = "1")]
    container: Option<ContainerRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ListContainersRequest {
    #[prost(string, repeated, tag = "1")]
    filters: Vec<String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ListContainersResponse {
    #[prost(message, repeated, tag = "1")]
    containers: Vec<ContainerRecord>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ListNamespacesRequest {
    #[prost(string, tag = "1")]
    filter: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct NamespaceRecord {
    #[prost(string, tag = "1")]
    name: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ListNamespacesResponse {
    #[prost(message, repeated, tag = "1")]
    namespaces: Vec<NamespaceRecord>,
}

/// containerd's socket, and where in its event stream the last connection stopped.
pub struct ContainerdEvents {
    address: String,
    ignored: Vec<String>,
    last_seen: Option<Timestamp>,
    /// Containers judged lately, by `namespace/id:operation`, so a catch-up listing and
    /// the stream do not judge one twice.
    judged: HashSet<String>,
    order: VecDeque<String>,
}

/// `containerd_address` (default: /run/containerd/containerd.sock when it exists; ""
/// turns it off) and `containerd_ignored_namespaces`.
pub fn from_config(cfg: &ServeConfig) -> Result<Option<ContainerdEvents>, String> {
    const DEFAULT: &str = "/run/containerd/containerd.sock";
    let address = match cfg.containerd_address.clone() {
        Some(a) => a,
        None if std::path::Path::new(DEFAULT).exists() => DEFAULT.into(),
        None => String::new(),
    };
    let address = address
        .strip_prefix("unix://")
        .unwrap_or(&address)
        .to_string();
    if address.is_empty() {
        return Ok(None);
    }
    if !address.starts_with('/') {
        return Err(format!(
            "containerd_address {address:?}: a unix socket path (containerd listens on no TCP port)"
        ));
    }
    Ok(Some(ContainerdEvents {
        address,
        ignored: cfg.containerd_ignored_namespaces.clone(),
        last_seen: None,
        judged: HashSet::new(),
        order: VecDeque::new(),
    }))
}

impl LiveSource for ContainerdEvents {
    fn name(&self) -> &'static str {
        "containerd"
    }

    fn follow<'a>(&'a mut self, judging: &'a Judging) -> Follow<'a> {
        Box::pin(self.follow_once(judging))
    }
}

type Channel = tonic::transport::Channel;

async fn connect(path: &str) -> Result<Channel, String> {
    let path = path.to_string();
    // The URI is a placeholder: the connector dials the socket.
    tonic::transport::Endpoint::from_static("http://containerd")
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
            }
        }))
        .await
        .map_err(|e| format!("containerd: {e}"))
}

fn request<T>(message: T, namespace: Option<&str>) -> Result<tonic::Request<T>, String> {
    let mut r = tonic::Request::new(message);
    if let Some(ns) = namespace {
        let v = ns
            .parse()
            .map_err(|_| format!("namespace {ns:?} is not a header value"))?;
        r.metadata_mut().insert(NAMESPACE_HEADER, v);
    }
    Ok(r)
}

async fn unary<Req, Resp>(
    channel: &Channel,
    path: &'static str,
    namespace: Option<&str>,
    message: Req,
) -> Result<Resp, String>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.map_err(|e| format!("containerd: {e}"))?;
    let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
    grpc.unary(
        request(message, namespace)?,
        PathAndQuery::from_static(path),
        codec,
    )
    .await
    .map(tonic::Response::into_inner)
    .map_err(|s| format!("{path}: {}", s.message()))
}

impl ContainerdEvents {
    async fn follow_once(&mut self, judging: &Judging) -> Result<(), String> {
        let channel = connect(&self.address).await?;
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.map_err(|e| format!("containerd: {e}"))?;
        let codec = tonic_prost::ProstCodec::<SubscribeRequest, Envelope>::default();
        // containerd answers a subscription's headers with its first event, so the call
        // runs on its own while the connection is reported up and the gap is caught up:
        // subscribed first, so what happens meanwhile is in the stream.
        let subscribe = request(
            SubscribeRequest {
                filters: Vec::new(),
            },
            None,
        )?;
        let subscription = tokio::spawn(async move {
            grpc.server_streaming(
                subscribe,
                PathAndQuery::from_static(EVENTS_SUBSCRIBE),
                codec,
            )
            .await
        });
        tokio::task::yield_now().await;
        tracing::info!(address = %self.address, "following containerd events");
        judging.connected();
        if let Some(since) = self.last_seen {
            self.catch_up(&channel, since, judging).await?;
        }
        let mut stream = subscription
            .await
            .map_err(|e| format!("containerd events: {e}"))?
            .map_err(|s| format!("containerd events: {}", s.message()))?
            .into_inner();
        loop {
            let envelope = match stream.message().await {
                Ok(Some(e)) => e,
                Ok(None) => return Ok(()),
                Err(s) => return Err(format!("containerd events: {}", s.message())),
            };
            if let Some(t) = envelope.timestamp {
                self.last_seen = Some(t);
            }
            if self.ignored.contains(&envelope.namespace) {
                continue;
            }
            let value = envelope.event.as_ref().map_or(&[][..], |a| &a.value[..]);
            let (id, operation) = match envelope.topic.as_str() {
                "/containers/create" => match <ContainerCreate as prost::Message>::decode(value) {
                    Ok(c) => (c.id, Operation::Create),
                    Err(e) => {
                        tracing::warn!(error = %e, "containerd: unreadable ContainerCreate");
                        continue;
                    }
                },
                "/tasks/start" => match <TaskStart as prost::Message>::decode(value) {
                    Ok(t) => (t.container_id, Operation::Start),
                    Err(e) => {
                        tracing::warn!(error = %e, "containerd: unreadable TaskStart");
                        continue;
                    }
                },
                _ => continue,
            };
            let time = envelope.timestamp.map(|t| t.secs());
            let d = self
                .deployment(
                    &channel,
                    &envelope.namespace,
                    &id,
                    operation,
                    &envelope.topic,
                    time,
                )
                .await;
            if let Some(d) = d {
                judging.judge(vec![d]).await;
            }
        }
    }

    /// Judge the containers created while no stream was open.
    async fn catch_up(
        &mut self,
        channel: &Channel,
        since: Timestamp,
        judging: &Judging,
    ) -> Result<(), String> {
        let namespaces: ListNamespacesResponse = unary(
            channel,
            NAMESPACES_LIST,
            None,
            ListNamespacesRequest {
                filter: String::new(),
            },
        )
        .await?;
        for ns in namespaces.namespaces {
            if self.ignored.contains(&ns.name) {
                continue;
            }
            let list: ListContainersResponse = unary(
                channel,
                CONTAINERS_LIST,
                Some(&ns.name),
                ListContainersRequest {
                    filters: Vec::new(),
                },
            )
            .await?;
            for c in list.containers {
                if c.created_at.is_some_and(|t| t.secs() > since.secs()) {
                    let time = c.created_at.map(|t| t.secs());
                    if let Some(d) = self.record(
                        &ns.name,
                        &c.id,
                        Some(&c),
                        Operation::Create,
                        "/containers/create",
                        time,
                    ) {
                        judging.judge(vec![d]).await;
                    }
                }
            }
        }
        Ok(())
    }

    async fn deployment(
        &mut self,
        channel: &Channel,
        namespace: &str,
        id: &str,
        operation: Operation,
        topic: &str,
        time: Option<f64>,
    ) -> Option<Deployment> {
        let got: Result<GetContainerResponse, String> = unary(
            channel,
            CONTAINERS_GET,
            Some(namespace),
            GetContainerRequest { id: id.to_string() },
        )
        .await;
        let container = match got {
            Ok(r) => r.container,
            Err(e) => {
                // Gone already (`ctr run --rm` of a short command): judged by what is known.
                tracing::debug!(error = %e, id, "containerd: container not readable");
                None
            }
        };
        self.record(namespace, id, container.as_ref(), operation, topic, time)
    }

    /// One deployment, unless this container and operation were judged lately.
    fn record(
        &mut self,
        namespace: &str,
        id: &str,
        container: Option<&ContainerRecord>,
        operation: Operation,
        topic: &str,
        time: Option<f64>,
    ) -> Option<Deployment> {
        let key = format!("{namespace}/{id}:{topic}");
        if !self.judged.insert(key.clone()) {
            return None;
        }
        self.order.push_back(key.clone());
        if self.order.len() > 10_000
            && let Some(old) = self.order.pop_front()
        {
            self.judged.remove(&old);
        }
        let image = container
            .map(|c| c.image.as_str())
            .filter(|i| !i.is_empty());
        let origin = Origin {
            kind: "containerd_watch".into(),
            file: format!("containerd://{}", self.address),
            line: 0,
            document: 0,
            record_id: Some(key),
        };
        let mut d = portcullis_sources::containerd::container_deployment(
            namespace,
            id,
            image,
            operation,
            origin,
            time.map(portcullis_model::time::rfc3339),
        );
        if let Some(c) = container {
            d.target.labels = c
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            d.target.labels.sort();
            match c
                .spec
                .as_ref()
                .map(|s| serde_json::from_slice::<serde_json::Value>(&s.value))
            {
                Some(Ok(spec)) => d.pod = Some(portcullis_sources::oci_spec::pod(&spec, id, image)),
                Some(Err(e)) => tracing::warn!(error = %e, id, "containerd: spec is not JSON"),
                None => {}
            }
        }
        Some(d)
    }
}
