//! Elasticsearch / OpenSearch `_bulk`: an index action and the alert per line. A 200 whose
//! answer reports item errors is a failure, so the batch is retried.

use super::{Delivery, Sink, StoredAlert, http};
use serde_json::Value;

pub(super) struct Bulk {
    client: reqwest::Client,
    url: String,
    index: String,
    headers: Vec<(String, String)>,
}

impl Bulk {
    pub(super) fn new(
        url: &str,
        index: &str,
        authorization: Option<&str>,
        client: reqwest::Client,
    ) -> Bulk {
        Bulk {
            client,
            url: format!("{}/_bulk", url.trim_end_matches('/')),
            index: index.into(),
            headers: authorization
                .iter()
                .map(|a| ("Authorization".to_string(), a.to_string()))
                .collect(),
        }
    }
}

impl Sink for Bulk {
    fn deliver<'a>(&'a mut self, alerts: &'a [StoredAlert]) -> Delivery<'a> {
        Box::pin(async move {
            let action = serde_json::json!({"index": {"_index": self.index}}).to_string();
            let mut body = String::new();
            for a in alerts {
                body.push_str(&action);
                body.push('\n');
                body.push_str(&serde_json::to_string(a).map_err(|e| e.to_string())?);
                body.push('\n');
            }
            let resp = http::post(
                &self.client,
                &self.url,
                &self.headers,
                "application/x-ndjson",
                body,
            )
            .await?;
            match serde_json::from_str::<Value>(&resp) {
                Ok(v) if v.get("errors").and_then(Value::as_bool) == Some(true) => {
                    Err("bulk response reports item errors".into())
                }
                _ => Ok(()),
            }
        })
    }
}
