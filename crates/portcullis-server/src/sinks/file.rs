//! JSON lines appended to a file, synced before the batch counts as delivered.

use super::{Delivery, Sink, StoredAlert};
use tokio::io::AsyncWriteExt;

pub(super) struct FileSink {
    path: String,
}

impl FileSink {
    pub(super) fn new(path: &str) -> FileSink {
        FileSink { path: path.into() }
    }
}

impl Sink for FileSink {
    fn deliver<'a>(&'a mut self, alerts: &'a [StoredAlert]) -> Delivery<'a> {
        Box::pin(async move {
            let mut text = String::new();
            for a in alerts {
                text.push_str(&serde_json::to_string(a).map_err(|e| e.to_string())?);
                text.push('\n');
            }
            let path = &self.path;
            let mut f = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
                .map_err(|e| format!("{path}: {e}"))?;
            f.write_all(text.as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            f.sync_data().await.map_err(|e| e.to_string())
        })
    }
}
