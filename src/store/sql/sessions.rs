//! Online sessions and their history.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Transaction};
use std::collections::HashMap;

use super::rows::{corrupt, counter, int, text, Column};
use super::{begin_sessions, push_rows, row_chunks, Db, DbRow, SqlStore, Writes, LOCK_ROWS};
use crate::store::billing::UsageDelta;
use crate::store::{
    HistoryRecord, OnlineChange, OnlinePlan, OnlineRecord, SessionRef, SessionStore,
    SessionsTouched, StoreError, StoredSessions,
};

#[async_trait]
impl SessionStore for SqlStore {
    async fn online_sessions(&self) -> Result<Vec<OnlineRecord>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS}, {SPLIT_COLUMNS} FROM online_sessions ORDER BY started_at"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(online_from_row).collect()
    }

    async fn apply_online(
        &self,
        keys: &[SessionRef],
        late: &[SessionRef],
        ended_since: i64,
        plan: &mut (dyn for<'s> FnMut(&'s StoredSessions) -> OnlinePlan + Send),
    ) -> Result<OnlinePlan, StoreError> {
        let mut tx = begin_sessions(&self.pool).await?;
        let stored = read_sessions(&mut tx, keys, late, ended_since).await?;
        let mut planned = plan(&stored);
        // Round trips to the database are what a batch waits for, so a batch is
        // collapsed into few statements, sent together where the backend can: between
        // two NAS-wide ends, only the last state of each session matters, and the order
        // of different sessions does not.
        let mut writes = Writes::default();
        for segment in planned
            .changes
            .split_inclusive(|c| matches!(c, OnlineChange::EndNas { .. }))
        {
            let (last, rest) = match segment.split_last() {
                Some((end @ OnlineChange::EndNas { .. }, rest)) => (Some(end), rest),
                _ => (None, segment),
            };
            write_sessions(&mut writes, rest);
            if let Some(OnlineChange::EndNas { nas, at, cause }) = last {
                // The NAS's sessions as written so far end now, before what follows
                // the end is written.
                writes.flush(&mut tx).await?;
                end_nas(&mut writes, nas, *at, *cause);
                writes.flush(&mut tx).await?;
            }
        }
        // Instances are locked in one order everywhere: two batches waiting on each
        // other's rows would deadlock.
        planned
            .usage
            .sort_by(|a, b| (&a.user, &a.product).cmp(&(&b.user, &b.product)));
        add_usage(&mut writes, &planned.usage);
        self.announce_sessions(&mut writes, &planned.changes);
        writes.flush(&mut tx).await?;
        tx.commit().await?;
        Ok(planned)
    }

    async fn online_of(&self, touched: &SessionsTouched) -> Result<Vec<OnlineRecord>, StoreError> {
        if touched.all {
            return self.online_sessions().await;
        }
        let mut found = Vec::new();
        for chunk in row_chunks(&touched.sessions) {
            let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
                "SELECT {SESSION_COLUMNS}, {SPLIT_COLUMNS} FROM online_sessions \
                 WHERE (nas, session_id) IN ("
            ));
            push_rows(&mut q, chunk, &ref_columns());
            q.push(")");
            for row in q.build().fetch_all(&self.pool).await? {
                found.push(online_from_row(&row)?);
            }
        }
        for nas in &touched.nases {
            let sql = format!(
                "SELECT {SESSION_COLUMNS}, {SPLIT_COLUMNS} FROM online_sessions WHERE nas = $1"
            );
            for row in sqlx::query(&sql).bind(nas).fetch_all(&self.pool).await? {
                found.push(online_from_row(&row)?);
            }
        }
        Ok(found)
    }

    async fn changed_elsewhere(&self) -> SessionsTouched {
        self.sessions_touched().await
    }

    async fn history(
        &self,
        user: Option<&str>,
        limit: u32,
    ) -> Result<Vec<HistoryRecord>, StoreError> {
        let columns = HISTORY_COLUMNS.replace("ended_at", "ended_at AS updated_at");
        let sql = format!(
            "SELECT {columns}, cause, terminate_cause, via FROM session_history \
             WHERE $1 IS NULL OR user_name = $1 ORDER BY id DESC LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(user)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let code = |column: &str| -> Result<Option<u32>, StoreError> {
                    let v: Option<i64> = r.try_get(column)?;
                    v.map(u32::try_from)
                        .transpose()
                        .map_err(|e| corrupt("session_history".into(), format!("{column}: {e}")))
                };
                Ok(HistoryRecord {
                    session: session_from_row(r)?,
                    cause: code("cause")?,
                    terminate_cause: code("terminate_cause")?,
                    via: code("via")?,
                })
            })
            .collect()
    }
}

/// Columns of a `(nas, session_id)` list.
fn ref_columns<'a>() -> Vec<Column<'a, SessionRef>> {
    vec![
        text(|k: &SessionRef| Some(k.0.clone())),
        text(|k: &SessionRef| Some(k.1.clone())),
    ]
}

/// The sessions of `keys` online (rows locked where the database can), and those of
/// `late` not online that ended since `ended_since`.
async fn read_sessions(
    tx: &mut Transaction<'_, Db>,
    keys: &[SessionRef],
    late: &[SessionRef],
    ended_since: i64,
) -> Result<StoredSessions, StoreError> {
    let mut keys = keys.to_vec();
    // Rows locked in one order on every node.
    keys.sort();
    keys.dedup();
    let mut stored = StoredSessions::default();
    for chunk in row_chunks(&keys) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {SESSION_COLUMNS}, {SPLIT_COLUMNS} FROM online_sessions \
             WHERE (nas, session_id) IN ("
        ));
        push_rows(&mut q, chunk, &ref_columns());
        q.push(") ORDER BY nas, session_id");
        q.push(LOCK_ROWS);
        for row in q.build().fetch_all(&mut **tx).await? {
            let r = online_from_row(&row)?;
            stored
                .online
                .insert((r.nas.clone(), r.session_id.clone()), r);
        }
    }
    let offline: Vec<SessionRef> = late
        .iter()
        .filter(|k| !stored.online.contains_key(*k))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in row_chunks(&offline) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT DISTINCT nas, session_id FROM session_history WHERE ended_at >= ",
        );
        q.push_bind(ended_since);
        q.push(" AND (nas, session_id) IN (");
        push_rows(&mut q, chunk, &ref_columns());
        q.push(")");
        for row in q.build().fetch_all(&mut **tx).await? {
            stored
                .ended
                .insert((row.try_get("nas")?, row.try_get("session_id")?));
        }
    }
    Ok(stored)
}

/// Columns of `online_sessions`, in the order of [`session_columns`].
pub(super) const SESSION_COLUMNS: &str =
    "nas, session_id, user_name, product, framed_ip, station, \
    nas_port, nas_addr, started_at, updated_at, session_time, input_octets, output_octets";
/// Where an online session was last split, in the order of [`online_columns`].
pub(super) const SPLIT_COLUMNS: &str = "split_at, split_time, split_input, split_output";
/// The same columns of `session_history`, where the last update is the end.
pub(super) const HISTORY_COLUMNS: &str =
    "nas, session_id, user_name, product, framed_ip, station, \
    nas_port, nas_addr, started_at, ended_at, session_time, input_octets, output_octets";

/// The [`SESSION_COLUMNS`] of the session `of` an item, in order.
fn session_columns<'a, T: 'a>(of: fn(&T) -> &OnlineRecord) -> Vec<Column<'a, T>> {
    vec![
        text(move |t| Some(of(t).nas.clone())),
        text(move |t| Some(of(t).session_id.clone())),
        text(move |t| Some(of(t).user.clone())),
        text(move |t| of(t).product.clone()),
        text(move |t| of(t).framed_ip.clone()),
        text(move |t| of(t).station.clone()),
        text(move |t| of(t).nas_port.clone()),
        text(move |t| of(t).nas_addr.clone()),
        int(move |t| Some(of(t).started_at)),
        int(move |t| Some(of(t).updated_at)),
        int(move |t| Some(of(t).session_time)),
        int(move |t| Some(of(t).input_octets)),
        int(move |t| Some(of(t).output_octets)),
    ]
}

/// [`SESSION_COLUMNS`] then [`SPLIT_COLUMNS`] of an online session.
fn online_columns<'a>() -> Vec<Column<'a, &'a OnlineRecord>> {
    let mut columns = session_columns(|r: &&OnlineRecord| *r);
    columns.extend([
        int(|r: &&OnlineRecord| Some(r.split_at)),
        int(|r: &&OnlineRecord| Some(r.split_time)),
        int(|r: &&OnlineRecord| Some(r.split_input)),
        int(|r: &&OnlineRecord| Some(r.split_output)),
    ]);
    columns
}

/// [`HISTORY_COLUMNS`], then cause, terminate_cause and via, of an ended session.
fn history_columns<'a>() -> Vec<Column<'a, HistoryRecord>> {
    let mut columns = session_columns(|h: &HistoryRecord| &h.session);
    columns.extend([
        int(|h: &HistoryRecord| h.cause.map(i64::from)),
        int(|h: &HistoryRecord| h.terminate_cause.map(i64::from)),
        int(|h: &HistoryRecord| h.via.map(i64::from)),
    ]);
    columns
}

pub(super) fn session_from_row(r: &DbRow) -> Result<OnlineRecord, StoreError> {
    Ok(OnlineRecord {
        nas: r.try_get("nas")?,
        session_id: r.try_get("session_id")?,
        user: r.try_get("user_name")?,
        product: r.try_get("product")?,
        framed_ip: r.try_get("framed_ip")?,
        station: r.try_get("station")?,
        nas_port: r.try_get("nas_port")?,
        nas_addr: r.try_get("nas_addr")?,
        started_at: r.try_get("started_at")?,
        updated_at: r.try_get("updated_at")?,
        session_time: r.try_get("session_time")?,
        input_octets: r.try_get("input_octets")?,
        output_octets: r.try_get("output_octets")?,
        ..OnlineRecord::default()
    })
}

pub(super) fn online_from_row(r: &DbRow) -> Result<OnlineRecord, StoreError> {
    Ok(OnlineRecord {
        split_at: r.try_get("split_at")?,
        split_time: r.try_get("split_time")?,
        split_input: r.try_get("split_input")?,
        split_output: r.try_get("split_output")?,
        ..session_from_row(r)?
    })
}

/// Adds the end of every session of `nas` at `at` with `cause`: their usage is what the
/// last update said, since their last split. Both statements read the sessions as the
/// writes before them left them.
fn end_nas(writes: &mut Writes, nas: &str, at: i64, cause: u32) {
    let select = SESSION_COLUMNS
        .replace(
            "started_at",
            "CASE WHEN split_at > started_at THEN split_at ELSE started_at END",
        )
        .replace("updated_at", "e.at")
        .replace("session_time", "session_time - split_time")
        .replace("input_octets", "input_octets - split_input")
        .replace("output_octets", "output_octets - split_output");
    let nas = nas.to_string();
    writes.statement(|q| {
        q.push(format!(
            "INSERT INTO session_history ({HISTORY_COLUMNS}, cause) \
             SELECT {select}, e.cause FROM online_sessions, (SELECT "
        ));
        q.push_bind(at);
        q.push(" AS at, ");
        q.push_bind(i64::from(cause));
        q.push(" AS cause) AS e WHERE nas = ");
        q.push_bind(nas.clone());
    });
    writes.statement(|q| {
        q.push("DELETE FROM online_sessions WHERE nas = ");
        q.push_bind(nas);
    });
}

/// Adds the writes of puts, splits and ends of sessions (no NAS-wide end among them):
/// three statements, which touch different rows.
fn write_sessions(writes: &mut Writes, changes: &[OnlineChange]) {
    // The last state of each session: Some(record) online, None gone.
    let mut last: HashMap<(&str, &str), Option<&OnlineRecord>> = HashMap::new();
    let mut ended: Vec<&HistoryRecord> = Vec::new();
    for c in changes {
        match c {
            OnlineChange::Put(r) => {
                last.insert((&r.nas, &r.session_id), Some(r));
            }
            OnlineChange::End(h) => {
                last.insert((&h.session.nas, &h.session.session_id), None);
                ended.push(h);
            }
            OnlineChange::Split { history, session } => {
                last.insert((&session.nas, &session.session_id), Some(session));
                ended.push(history);
            }
            OnlineChange::EndNas { .. } => {}
        }
    }
    let gone: Vec<(&str, &str)> = last
        .iter()
        .filter(|(_, r)| r.is_none())
        .map(|(k, _)| *k)
        .collect();
    let online: Vec<&OnlineRecord> = last.values().filter_map(|r| *r).collect();
    let gone: Vec<SessionRef> = gone
        .into_iter()
        .map(|(nas, id)| (nas.to_string(), id.to_string()))
        .collect();
    for chunk in row_chunks(&gone) {
        writes.statement(|q| {
            q.push("DELETE FROM online_sessions WHERE (nas, session_id) IN (");
            push_rows(q, chunk, &ref_columns());
            q.push(")");
        });
    }
    // What each part used, since the session's last split.
    let ended: Vec<HistoryRecord> = ended
        .into_iter()
        .map(|h| HistoryRecord {
            session: h.session.part(),
            ..*h
        })
        .collect();
    for chunk in row_chunks(&ended) {
        writes.statement(|q| {
            q.push(format!(
                "INSERT INTO session_history ({HISTORY_COLUMNS}, cause, terminate_cause, via) "
            ));
            push_rows(q, chunk, &history_columns());
        });
    }
    for chunk in row_chunks(&online) {
        writes.statement(|q| {
            q.push(format!(
                "INSERT INTO online_sessions ({SESSION_COLUMNS}, {SPLIT_COLUMNS}) "
            ));
            push_rows(q, chunk, &online_columns());
            q.push(
                " ON CONFLICT (nas, session_id) DO UPDATE SET user_name = excluded.user_name, \
                 product = excluded.product, framed_ip = excluded.framed_ip, \
                 station = excluded.station, nas_port = excluded.nas_port, \
                 nas_addr = excluded.nas_addr, updated_at = excluded.updated_at, \
                 session_time = excluded.session_time, \
                 input_octets = excluded.input_octets, output_octets = excluded.output_octets, \
                 split_at = excluded.split_at, split_time = excluded.split_time, \
                 split_input = excluded.split_input, split_output = excluded.split_output",
            );
        });
    }
}

/// Adds usage to product instances, creating those a user does not have yet (a group's
/// default product); usage of a user who does not exist is dropped.
fn add_usage(writes: &mut Writes, usage: &[UsageDelta]) {
    let columns: Vec<Column<UsageDelta>> = vec![
        text(|d: &UsageDelta| Some(d.user.clone())),
        text(|d: &UsageDelta| Some(d.product.clone())),
        int(|d: &UsageDelta| Some(d.at)),
        int(|d: &UsageDelta| Some(counter(d.usage.secs))),
        int(|d: &UsageDelta| Some(counter(d.usage.bytes_in))),
        int(|d: &UsageDelta| Some(counter(d.usage.bytes_out))),
        int(|d: &UsageDelta| Some(counter(d.usage.logins))),
    ];
    for chunk in row_chunks(usage) {
        writes.statement(|q| {
            q.push(
                "INSERT INTO user_products \
                 (user_name, product, started_at, cycle_start, used_secs, used_in, used_out, \
                 logins) SELECT v.column1, v.column2, v.column3, v.column3, v.column4, \
                 v.column5, v.column6, v.column7 FROM (",
            );
            push_rows(q, chunk, &columns);
            // Each user is looked up by key: a join would have PostgreSQL read the whole
            // users table for a batch of a hundred. (A WHERE also tells SQLite's parser
            // that ON CONFLICT belongs to the INSERT.)
            q.push(
                ") AS v WHERE (SELECT true FROM users WHERE users.name = v.column1) \
                 ON CONFLICT (user_name, product) DO UPDATE SET \
                 used_secs = user_products.used_secs + excluded.used_secs, \
                 used_in = user_products.used_in + excluded.used_in, \
                 used_out = user_products.used_out + excluded.used_out, \
                 logins = user_products.logins + excluded.logins",
            );
        });
    }
}
