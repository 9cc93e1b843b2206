//! An HTTP webhook: the batch as a JSON array, or one Slack message (`{"text": …}`).

use super::{Delivery, Sink, http};
use serde_json::Value;
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
        ca_file: Option<&str>,
    ) -> Result<Webhook, String> {
        Ok(Webhook {
            client: http::client(ca_file)?,
            url: url.into(),
            slack,
            headers: headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }
}

impl Sink for Webhook {
    fn deliver<'a>(&'a mut self, alerts: &'a [Value]) -> Delivery<'a> {
        Box::pin(async move {
            let body = if self.slack {
                let lines: Vec<String> = alerts
                    .iter()
                    .map(|a| {
                        format!(
                            "*{}* `{}` {}: {}",
                            a["severity"].as_str().unwrap_or(""),
                            a["rule"]["id"].as_str().unwrap_or(""),
                            a["rule"]["name"].as_str().unwrap_or(""),
                            a["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                serde_json::json!({"text": lines.join("\n")}).to_string()
            } else {
                Value::Array(alerts.to_vec()).to_string()
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
