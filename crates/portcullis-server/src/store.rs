//! The alert store: embedded SQLite in WAL mode, one writer thread. An alert is durable
//! (committed with `synchronous=FULL`) before [`Store::insert`] returns, so a front-end
//! that waits for it never acknowledges an alert it could lose.

use portcullis_model::time::now;
use portcullis_output::Alert;
use rusqlite::{Connection, params};
use std::path::Path;
use std::sync::mpsc;
use std::thread;

enum Msg {
    Insert(
        Vec<Alert>,
        tokio::sync::oneshot::Sender<Result<usize, String>>,
    ),
    /// Alerts and the audit receiver's waiting requests, in one transaction: a request is
    /// acknowledged only once both what it produced and what it still waits for are kept.
    Audit(
        AuditCommit,
        tokio::sync::oneshot::Sender<Result<usize, String>>,
    ),
    /// `PRAGMA max_page_count`: a full disk on demand, for tests of what the front-ends
    /// answer when the store cannot commit.
    MaxPages(i64, tokio::sync::oneshot::Sender<()>),
}

/// What one audit batch (or one expiry) changes.
#[derive(Default)]
pub struct AuditCommit {
    pub alerts: Vec<Alert>,
    /// Requests still waiting for their final stage: `(audit ID, event JSON)`.
    pub waiting: Vec<(String, String)>,
    /// Requests judged (complete, or expired): no longer waiting.
    pub done: Vec<String>,
}

/// A handle to the writer thread. Cloneable; the thread ends when every handle is gone.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::SyncSender<Msg>,
    file: std::sync::Arc<StoreFile>,
}

/// The database file as opened: a file deleted or replaced while serving would take every
/// later write into an unlinked inode, stored nowhere anyone can read.
struct StoreFile {
    path: std::path::PathBuf,
    identity: Option<(u64, u64)>,
}

impl StoreFile {
    fn identity(path: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    fn check(&self) -> Result<(), String> {
        let now = StoreFile::identity(&self.path);
        if now.is_some() && now == self.identity {
            Ok(())
        } else {
            Err(format!(
                "alert store {} was {} while serving: refusing to write where no one can read it (restart serve to reopen)",
                self.path.display(),
                if now.is_none() { "deleted" } else { "replaced" }
            ))
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            stored_at REAL NOT NULL,
            time TEXT,
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            severity_rank INTEGER NOT NULL,
            namespace TEXT,
            target_kind TEXT,
            target_name TEXT,
            images TEXT NOT NULL,
            source_kind TEXT NOT NULL,
            alert TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS audit_pending (
            audit_id TEXT PRIMARY KEY,
            received REAL NOT NULL,
            event TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS sink_cursors (
            sink TEXT PRIMARY KEY,
            last_id INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS alerts_rule ON alerts(rule);
        CREATE INDEX IF NOT EXISTS alerts_stored ON alerts(stored_at);",
    )?;
    Ok(conn)
}

fn rank(s: portcullis_rules::Severity) -> i64 {
    portcullis_rules::Severity::ALL
        .iter()
        .position(|x| *x == s)
        .unwrap_or(0) as i64
}

impl Store {
    /// Open (creating) the database and start the writer.
    pub fn open(path: &Path) -> Result<Store, String> {
        let mut conn = open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let file = std::sync::Arc::new(StoreFile {
            path: path.to_path_buf(),
            identity: StoreFile::identity(path),
        });
        let writer_file = file.clone();
        let (tx, rx) = mpsc::sync_channel::<Msg>(1024);
        thread::Builder::new()
            .name("portcullis-store".into())
            .spawn(move || {
                // Group commit: everything queued while the last transaction was syncing
                // goes into the next one, so the fsync cost is shared under load.
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while let Ok(more) = rx.try_recv() {
                        batch.push(more);
                        if batch.len() >= 256 {
                            break;
                        }
                    }
                    let mut all = Vec::new();
                    let mut acks = Vec::new();
                    for msg in batch {
                        match msg {
                            Msg::Insert(alerts, ack) => {
                                acks.push((alerts.len(), ack));
                                all.extend(alerts);
                            }
                            Msg::Audit(commit, ack) => {
                                // Alone in its transaction: its ack reports its own result.
                                let r = writer_file.check().and_then(|()| {
                                    commit_audit(&mut conn, &commit).map_err(|e| e.to_string())
                                });
                                let _ = ack.send(r);
                            }
                            Msg::MaxPages(n, done) => {
                                let _ = conn.pragma_update(None, "max_page_count", n);
                                let _ = done.send(());
                            }
                        }
                    }
                    if acks.is_empty() {
                        continue;
                    }
                    let r = writer_file
                        .check()
                        .and_then(|()| insert(&mut conn, &all).map_err(|e| e.to_string()));
                    if let Err(e) = &r {
                        tracing::error!(error = %e, "alert store write failed");
                    }
                    for (n, ack) in acks {
                        let _ = ack.send(r.clone().map(|_| n));
                    }
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Store { tx, file })
    }

    /// Commit an audit batch's alerts and waiting requests together.
    pub async fn commit_audit(&self, commit: AuditCommit) -> Result<usize, String> {
        if commit.alerts.is_empty() && commit.waiting.is_empty() && commit.done.is_empty() {
            return Ok(0);
        }
        let (ack, done) = tokio::sync::oneshot::channel();
        let tx = self.tx.clone();
        tokio::task::spawn_blocking(move || tx.send(Msg::Audit(commit, ack)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| "alert store stopped".to_string())?;
        done.await.map_err(|_| "alert store stopped".to_string())?
    }

    /// Is the file we write the file at the configured path? (`/readyz`.)
    pub fn check(&self) -> Result<(), String> {
        self.file.check()
    }

    /// Cap the database at `pages` pages, as a full disk would (tests).
    #[doc(hidden)]
    pub async fn limit_pages(&self, pages: i64) {
        let (done, wait) = tokio::sync::oneshot::channel();
        let tx = self.tx.clone();
        let _ = tokio::task::spawn_blocking(move || tx.send(Msg::MaxPages(pages, done))).await;
        let _ = wait.await;
    }

    /// Store alerts; resolves once they are committed.
    pub async fn insert(&self, alerts: Vec<Alert>) -> Result<usize, String> {
        if alerts.is_empty() {
            return Ok(0);
        }
        let (ack, done) = tokio::sync::oneshot::channel();
        let tx = self.tx.clone();
        // The channel is bounded: wait for room off the async threads.
        tokio::task::spawn_blocking(move || tx.send(Msg::Insert(alerts, ack)))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|_| "alert store stopped".to_string())?;
        done.await.map_err(|_| "alert store stopped".to_string())?
    }
}

fn commit_audit(conn: &mut Connection, c: &AuditCommit) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    insert_into(&tx, &c.alerts)?;
    {
        let mut up = tx.prepare_cached(
            "INSERT INTO audit_pending (audit_id, received, event) VALUES (?1, ?2, ?3)
             ON CONFLICT(audit_id) DO UPDATE SET event = excluded.event",
        )?;
        let t = now();
        for (id, event) in &c.waiting {
            up.execute(params![id, t, event])?;
        }
        let mut del = tx.prepare_cached("DELETE FROM audit_pending WHERE audit_id = ?1")?;
        for id in &c.done {
            del.execute(params![id])?;
        }
    }
    tx.commit()?;
    Ok(c.alerts.len())
}

/// The audit receiver's waiting requests, oldest first: `(audit ID, seconds waited,
/// event JSON)`. Read at start, so a restart does not forget them.
pub fn load_pending(path: &Path) -> Result<Vec<(String, f64, String)>, String> {
    let conn = open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut stmt = conn
        .prepare("SELECT audit_id, received, event FROM audit_pending ORDER BY received")
        .map_err(|e| e.to_string())?;
    let t = now();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                t - r.get::<_, f64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(|e| e.to_string())?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| e.to_string())
}

fn insert(conn: &mut Connection, alerts: &[Alert]) -> rusqlite::Result<usize> {
    let tx = conn.transaction()?;
    insert_into(&tx, alerts)?;
    tx.commit()?;
    Ok(alerts.len())
}

fn insert_into(tx: &rusqlite::Transaction<'_>, alerts: &[Alert]) -> rusqlite::Result<()> {
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO alerts (stored_at, time, rule, severity, severity_rank, namespace, target_kind, target_name, images, source_kind, alert)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        let t = now();
        for a in alerts {
            stmt.execute(params![
                t,
                a.time,
                a.rule.id,
                a.severity.as_str(),
                rank(a.severity),
                a.target.namespace,
                a.target.kind,
                a.target.name,
                a.images.join(" "),
                a.source.kind,
                portcullis_output::json_line(a),
            ])?;
        }
    }
    Ok(())
}

/// Filters for `portcullis alerts`.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pub rules: Vec<String>,
    pub min_severity: Option<portcullis_rules::Severity>,
    pub since: Option<f64>,
    pub until: Option<f64>,
    pub namespace: Option<String>,
    /// Substring of an image.
    pub image: Option<String>,
    pub limit: Option<usize>,
}

/// Read alerts back (read-only connection; safe while a server writes).
pub fn query(path: &Path, q: &Query) -> Result<Vec<serde_json::Value>, String> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut sql = String::from("SELECT alert FROM alerts WHERE 1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if !q.rules.is_empty() {
        let ors: Vec<String> = q
            .rules
            .iter()
            .map(|r| {
                args.push(format!("{r}%").into());
                format!("rule LIKE ?{}", args.len())
            })
            .collect();
        sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
    }
    if let Some(s) = q.min_severity {
        args.push(rank(s).into());
        sql.push_str(&format!(" AND severity_rank >= ?{}", args.len()));
    }
    if let Some(s) = q.since {
        args.push(s.into());
        sql.push_str(&format!(" AND stored_at >= ?{}", args.len()));
    }
    if let Some(u) = q.until {
        args.push(u.into());
        sql.push_str(&format!(" AND stored_at < ?{}", args.len()));
    }
    if let Some(n) = &q.namespace {
        args.push(n.clone().into());
        sql.push_str(&format!(" AND namespace = ?{}", args.len()));
    }
    if let Some(i) = &q.image {
        args.push(format!("%{i}%").into());
        sql.push_str(&format!(" AND images LIKE ?{}", args.len()));
    }
    sql.push_str(" ORDER BY id");
    if let Some(l) = q.limit {
        sql.push_str(&format!(" LIMIT {l}"));
    }
    let mut stmt = conn.prepare(&sql).map_err(|e| e.to_string())?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |r| r.get::<_, String>(0))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for r in rows {
        let text = r.map_err(|e| e.to_string())?;
        out.push(serde_json::from_str(&text).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// [`query`], typed: the alerts as the schema defines them, and an error naming the
/// position of each stored row that is not an alert of this schema (the rest still read).
pub fn query_alerts(path: &Path, q: &Query) -> Result<(Vec<Alert>, Vec<String>), String> {
    let mut alerts = Vec::new();
    let mut unreadable = Vec::new();
    for (i, v) in query(path, q)?.into_iter().enumerate() {
        match serde_json::from_value(v) {
            Ok(a) => alerts.push(a),
            Err(e) => unreadable.push(format!("{}: alert {}: {e}", path.display(), i + 1)),
        }
    }
    Ok((alerts, unreadable))
}

/// Delete alerts stored more than `days` ago.
pub fn retain(path: &Path, days: f64) -> Result<usize, String> {
    let conn = open(path).map_err(|e| e.to_string())?;
    conn.execute(
        "DELETE FROM alerts WHERE stored_at < ?1",
        params![now() - days * 86_400.0],
    )
    .map_err(|e| e.to_string())
}

/// A sink's view of the store: alerts after its cursor, and moving the cursor once they are
/// delivered. The store is the spool: an outage or a restart resumes where delivery stopped.
pub struct SinkCursor {
    conn: Connection,
    sink: String,
}

impl SinkCursor {
    pub fn open(path: &Path, sink: &str) -> Result<SinkCursor, String> {
        let conn = open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| e.to_string())?;
        Ok(SinkCursor {
            conn,
            sink: sink.to_string(),
        })
    }

    pub fn position(&self) -> i64 {
        self.conn
            .query_row(
                "SELECT last_id FROM sink_cursors WHERE sink = ?1",
                params![self.sink],
                |r| r.get(0),
            )
            .unwrap_or(0)
    }

    /// Up to `limit` alerts after the cursor: (id, alert JSON).
    pub fn pending(&self, limit: usize) -> Result<Vec<(i64, String)>, String> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, alert FROM alerts WHERE id > ?1 ORDER BY id LIMIT ?2")
            .map_err(|e| e.to_string())?;
        let rows = stmt
            .query_map(params![self.position(), limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())
    }

    pub fn advance(&self, last_id: i64) -> Result<(), String> {
        self.conn
            .execute(
                "INSERT INTO sink_cursors (sink, last_id) VALUES (?1, ?2) ON CONFLICT(sink) DO UPDATE SET last_id = excluded.last_id",
                params![self.sink, last_id],
            )
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    pub fn backlog(&self) -> i64 {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM alerts WHERE id > ?1",
                params![self.position()],
                |r| r.get(0),
            )
            .unwrap_or(0)
    }
}
