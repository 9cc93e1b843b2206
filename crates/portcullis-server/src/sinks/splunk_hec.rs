//! Splunk's HTTP Event Collector: one event object per alert, concatenated.

use super::{Delivery, Sink, StoredAlert, http};

pub(super) struct Hec {
    client: reqwest::Client,
    url: String,
    headers: Vec<(String, String)>,
}

impl Hec {
    pub(super) fn new(url: &str, token: &str, client: reqwest::Client) -> Hec {
        Hec {
            client,
            url: format!("{}/services/collector/event", url.trim_end_matches('/')),
            headers: vec![("Authorization".to_string(), format!("Splunk {token}"))],
        }
    }
}

impl Sink for Hec {
    fn deliver<'a>(&'a mut self, alerts: &'a [StoredAlert]) -> Delivery<'a> {
        Box::pin(async move {
            let mut body = String::new();
            for a in alerts {
                body.push_str(
                    &serde_json::json!({"sourcetype": "portcullis:alert", "source": "portcullis", "event": a})
                        .to_string(),
                );
            }
            http::post(
                &self.client,
                &self.url,
                &self.headers,
                "application/json",
                body,
            )
            .await
            .map(|_| ())
        })
    }
}
