//! An HTTP webhook: the batch as a JSON array, or one Slack message (`{"text": …}`).

use super::{Delivery, Sink, StoredAlert, http};
use std::collections::BTreeMap;

pub(super) struct Webhook {
    client: reqwest::Client,
    url: String,
    slack: bool,
    headers: Vec<(String, String)>,
}

impl Webhook {
    pub(super) fn new(
        url: &str,
        slack: bool,
        headers: &BTreeMap<String, String>,
        client: reqwest::Client,
    ) -> Webhook {
        Webhook {
            client,
            url: url.into(),
            slack,
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

impl Sink for Webhook {
    fn deliver<'a>(&'a mut self, alerts: &'a [StoredAlert]) -> Delivery<'a> {
        Box::pin(async move {
            let body = if self.slack {
                let lines: Vec<String> = alerts
                    .iter()
                    .map(|StoredAlert { alert: a, .. }| {
                        format!(
                            "*{}* `{}` {}: {}",
                            a.severity.as_str(),
                            a.rule.id,
                            a.rule.name,
                            a.message
                        )
                    })
                    .collect();
                serde_json::json!({"text": lines.join("\n")}).to_string()
            } else {
                serde_json::to_string(alerts).map_err(|e| e.to_string())?
            };
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
