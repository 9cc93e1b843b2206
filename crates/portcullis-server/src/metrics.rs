//! The Prometheus series serve keeps, registered once; the ones every admission answer
//! touches are resolved at start.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

// Label values the server spells itself are `&'static str`: counting a request then
// allocates nothing.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct EndpointLabels {
    pub(crate) endpoint: &'static str,
    pub(crate) code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct DecisionLabels {
    pub(crate) front_end: &'static str,
    pub(crate) decision: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RuleLabels {
    pub(crate) rule: String,
    pub(crate) severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RefusalLabels {
    pub(crate) door: &'static str,
    pub(crate) reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SinkLabels {
    pub(crate) sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct SourceLabels {
    pub(crate) source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct LatencyLabels {
    pub(crate) endpoint: &'static str,
}

pub(crate) struct Metrics {
    pub(crate) registry: Registry,
    pub(crate) requests: Family<EndpointLabels, Counter>,
    pub(crate) decisions: Family<DecisionLabels, Counter>,
    pub(crate) alerts: Family<RuleLabels, Counter>,
    pub(crate) latency: Family<LatencyLabels, Histogram>,
    pub(crate) queue: Gauge,
    pub(crate) delivered: Family<SinkLabels, Counter>,
    pub(crate) sink_failures: Family<SinkLabels, Counter>,
    /// Stored alerts a sink could not read back (not delivered, logged).
    pub(crate) sink_skipped: Family<SinkLabels, Counter>,
    /// Requests a door refused without judging (unknown endpoint, unreadable body…).
    pub(crate) refusals: Family<RefusalLabels, Counter>,
    /// Live sources: connected now (1/0), records judged, connections lost.
    pub(crate) live_up: Family<SourceLabels, Gauge>,
    pub(crate) live_records: Family<SourceLabels, Counter>,
    pub(crate) live_unreadable: Family<SourceLabels, Counter>,
    pub(crate) live_reconnects: Family<SourceLabels, Counter>,
    /// The series every admission answer touches, looked up once: a family lookup takes a
    /// lock and hashes its labels, three times a review.
    pub(crate) admitted: AdmissionSeries,
}

pub(crate) struct AdmissionSeries {
    pub(crate) answered: Counter,
    pub(crate) latency: Histogram,
    pub(crate) allow: Counter,
    pub(crate) warn: Counter,
    pub(crate) deny: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<EndpointLabels, Counter>::default();
        let decisions = Family::<DecisionLabels, Counter>::default();
        let alerts = Family::<RuleLabels, Counter>::default();
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0,
            ])
        });
        let queue = Gauge::default();
        registry.register(
            "requests",
            "Requests by endpoint and status code",
            requests.clone(),
        );
        registry.register("decisions", "Verdicts by front-end", decisions.clone());
        registry.register(
            "alerts",
            "Alerts raised, by rule and severity",
            alerts.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer, by endpoint",
            latency.clone(),
        );
        registry.register(
            "alert_queue_depth",
            "Alerts waiting for the store",
            queue.clone(),
        );
        let delivered = Family::<SinkLabels, Counter>::default();
        let sink_failures = Family::<SinkLabels, Counter>::default();
        let sink_skipped = Family::<SinkLabels, Counter>::default();
        registry.register(
            "sink_skipped",
            "Stored alerts a sink could not read back and so did not deliver, by sink",
            sink_skipped.clone(),
        );
        registry.register(
            "sink_delivered",
            "Alerts delivered, by sink",
            delivered.clone(),
        );
        registry.register(
            "sink_failures",
            "Failed delivery attempts, by sink",
            sink_failures.clone(),
        );
        let refusals = Family::<RefusalLabels, Counter>::default();
        registry.register(
            "door_refusals",
            "Requests denied because the door could not judge them, by door and reason",
            refusals.clone(),
        );
        let live_up = Family::<SourceLabels, Gauge>::default();
        let live_records = Family::<SourceLabels, Counter>::default();
        let live_reconnects = Family::<SourceLabels, Counter>::default();
        let live_unreadable = Family::<SourceLabels, Counter>::default();
        registry.register(
            "live_source_up",
            "1 while a live source is connected to what it follows, by source",
            live_up.clone(),
        );
        registry.register(
            "live_source_records",
            "Deployments a live source handed to the pack, by source",
            live_records.clone(),
        );
        registry.register(
            "live_source_unreadable",
            "Records a live source fetched that its format could not read, by source",
            live_unreadable.clone(),
        );
        registry.register(
            "live_source_reconnects",
            "Times a live source lost its stream and reconnected, by source",
            live_reconnects.clone(),
        );
        let decision = |decision| {
            decisions
                .get_or_create(&DecisionLabels {
                    front_end: "admission",
                    decision,
                })
                .clone()
        };
        let admitted = AdmissionSeries {
            answered: requests
                .get_or_create(&EndpointLabels {
                    endpoint: "validate",
                    code: 200,
                })
                .clone(),
            latency: latency
                .get_or_create(&LatencyLabels {
                    endpoint: "validate",
                })
                .clone(),
            allow: decision("allow"),
            warn: decision("warn"),
            deny: decision("deny"),
        };
        Metrics {
            admitted,
            registry,
            requests,
            decisions,
            alerts,
            latency,
            queue,
            delivered,
            sink_failures,
            sink_skipped,
            refusals,
            live_up,
            live_records,
            live_unreadable,
            live_reconnects,
        }
    }
}
