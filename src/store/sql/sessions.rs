//! Online sessions and their history.

use async_trait::async_trait;
use sqlx::{QueryBuilder, Row, Transaction};
use std::collections::HashMap;

use super::rows::{corrupt, counter};
use super::{begin_sessions, Db, DbRow, SqlStore, LOCK_ROWS};
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
        // Instances in one order on every node: two batches waiting on each other's rows
        // would deadlock.
        planned
            .usage
            .sort_by(|a, b| (&a.user, &a.product).cmp(&(&b.user, &b.product)));
        add_usage(&mut tx, &planned.usage).await?;
        // Each statement is a round trip to the database, so a batch is collapsed into
        // a few statements: between two NAS-wide ends, only the last state of each
        // session matters, and the order of different sessions does not.
        for segment in planned
            .changes
            .split_inclusive(|c| matches!(c, OnlineChange::EndNas { .. }))
        {
            let (last, rest) = match segment.split_last() {
                Some((end @ OnlineChange::EndNas { .. }, rest)) => (Some(end), rest),
                _ => (None, segment),
            };
            write_sessions(&mut tx, rest).await?;
            if let Some(OnlineChange::EndNas { nas, at, cause }) = last {
                // The sessions end now; their usage is what the last update said, since
                // their last split.
                let select = SESSION_COLUMNS
                    .replace(
                        "started_at",
                        "CASE WHEN split_at > started_at THEN split_at ELSE started_at END",
                    )
                    .replace("updated_at", "$1")
                    .replace("session_time", "session_time - split_time")
                    .replace("input_octets", "input_octets - split_input")
                    .replace("output_octets", "output_octets - split_output");
                let sql = format!(
                    "INSERT INTO session_history ({HISTORY_COLUMNS}, cause) \
                     SELECT {select}, $2 FROM online_sessions WHERE nas = $3"
                );
                sqlx::query(&sql)
                    .bind(at)
                    .bind(i64::from(*cause))
                    .bind(nas)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM online_sessions WHERE nas = $1")
                    .bind(nas)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        self.announce_sessions(&mut tx, &planned.changes).await?;
        tx.commit().await?;
        Ok(planned)
    }

    async fn online_of(&self, touched: &SessionsTouched) -> Result<Vec<OnlineRecord>, StoreError> {
        if touched.all {
            return self.online_sessions().await;
        }
        let mut found = Vec::new();
        for chunk in sized_chunks(&touched.sessions) {
            let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
                "SELECT {SESSION_COLUMNS}, {SPLIT_COLUMNS} FROM online_sessions \
                 WHERE (nas, session_id) IN (VALUES "
            ));
            push_refs(&mut q, chunk);
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

/// `items` in chunks of a few sizes only (powers of two up to 512): a batch's statements
/// then come in a few shapes, which the database keeps prepared and planned instead of
/// parsing and planning a new statement of every length on every batch.
fn sized_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = 1usize << rest.len().min(512).ilog2();
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// `(nas, session_id)` pairs as a VALUES list.
fn push_refs(q: &mut QueryBuilder<'_, Db>, refs: &[SessionRef]) {
    let mut list = q.separated(", ");
    for (nas, id) in refs {
        list.push("(");
        list.push_bind_unseparated(nas.clone());
        list.push_unseparated(", ");
        list.push_bind_unseparated(id.clone());
        list.push_unseparated(")");
    }
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
    for chunk in sized_chunks(&keys) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "SELECT {SESSION_COLUMNS}, {SPLIT_COLUMNS} FROM online_sessions \
             WHERE (nas, session_id) IN (VALUES "
        ));
        push_refs(&mut q, chunk);
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
    for chunk in sized_chunks(&offline) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "SELECT DISTINCT nas, session_id FROM session_history WHERE ended_at >= ",
        );
        q.push_bind(ended_since);
        q.push(" AND (nas, session_id) IN (VALUES ");
        push_refs(&mut q, chunk);
        q.push(")");
        for row in q.build().fetch_all(&mut **tx).await? {
            stored
                .ended
                .insert((row.try_get("nas")?, row.try_get("session_id")?));
        }
    }
    Ok(stored)
}

/// Columns of `online_sessions`, in [`push_session`] order.
pub(super) const SESSION_COLUMNS: &str =
    "nas, session_id, user_name, product, framed_ip, station, \
    nas_port, nas_addr, started_at, updated_at, session_time, input_octets, output_octets";
/// Where an online session was last split, in [`push_split`] order.
pub(super) const SPLIT_COLUMNS: &str = "split_at, split_time, split_input, split_output";
/// The same columns of `session_history`, where the last update is the end.
pub(super) const HISTORY_COLUMNS: &str =
    "nas, session_id, user_name, product, framed_ip, station, \
    nas_port, nas_addr, started_at, ended_at, session_time, input_octets, output_octets";

pub(super) fn push_session(
    row: &mut sqlx::query_builder::Separated<'_, '_, Db, &'static str>,
    s: &OnlineRecord,
) {
    row.push_bind(s.nas.clone())
        .push_bind(s.session_id.clone())
        .push_bind(s.user.clone())
        .push_bind(s.product.clone())
        .push_bind(s.framed_ip.clone())
        .push_bind(s.station.clone())
        .push_bind(s.nas_port.clone())
        .push_bind(s.nas_addr.clone())
        .push_bind(s.started_at)
        .push_bind(s.updated_at)
        .push_bind(s.session_time)
        .push_bind(s.input_octets)
        .push_bind(s.output_octets);
}

pub(super) fn push_split(
    row: &mut sqlx::query_builder::Separated<'_, '_, Db, &'static str>,
    s: &OnlineRecord,
) {
    row.push_bind(s.split_at)
        .push_bind(s.split_time)
        .push_bind(s.split_input)
        .push_bind(s.split_output);
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

/// Writes puts, splits and ends of sessions (no NAS-wide end among them) in three
/// statements.
pub(super) async fn write_sessions(
    tx: &mut Transaction<'_, Db>,
    changes: &[OnlineChange],
) -> Result<(), StoreError> {
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
    for chunk in sized_chunks(&gone) {
        let mut q: QueryBuilder<Db> =
            QueryBuilder::new("DELETE FROM online_sessions WHERE (nas, session_id) IN (VALUES ");
        push_refs(&mut q, chunk);
        q.push(")");
        q.build().execute(&mut **tx).await?;
    }
    for chunk in sized_chunks(&ended) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "INSERT INTO session_history ({HISTORY_COLUMNS}, cause, terminate_cause, via) "
        ));
        q.push_values(chunk, |mut row, h| {
            push_session(&mut row, &h.session.part());
            row.push_bind(h.cause.map(i64::from))
                .push_bind(h.terminate_cause.map(i64::from))
                .push_bind(h.via.map(i64::from));
        });
        q.build().execute(&mut **tx).await?;
    }
    for chunk in sized_chunks(&online) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(format!(
            "INSERT INTO online_sessions ({SESSION_COLUMNS}, {SPLIT_COLUMNS}) "
        ));
        q.push_values(chunk, |mut row, r| {
            push_session(&mut row, r);
            push_split(&mut row, r);
        });
        q.push(
            " ON CONFLICT (nas, session_id) DO UPDATE SET user_name = excluded.user_name, \
             product = excluded.product, framed_ip = excluded.framed_ip, \
             station = excluded.station, nas_port = excluded.nas_port, \
             nas_addr = excluded.nas_addr, updated_at = excluded.updated_at, session_time = excluded.session_time, \
             input_octets = excluded.input_octets, output_octets = excluded.output_octets, \
             split_at = excluded.split_at, split_time = excluded.split_time, \
             split_input = excluded.split_input, split_output = excluded.split_output",
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Adds usage to product instances, creating those a user does not have yet (a group's
/// default product); usage of a user who does not exist is dropped.
pub(super) async fn add_usage(
    tx: &mut Transaction<'_, Db>,
    usage: &[UsageDelta],
) -> Result<(), StoreError> {
    for chunk in sized_chunks(usage) {
        let mut q: QueryBuilder<Db> = QueryBuilder::new(
            "INSERT INTO user_products \
             (user_name, product, started_at, cycle_start, used_secs, used_in, used_out, logins) \
             SELECT v.column1, v.column2, v.column3, v.column3, v.column4, v.column5, v.column6, \
             v.column7 FROM (",
        );
        q.push_values(chunk, |mut row, d| {
            row.push_bind(d.user.clone())
                .push_bind(d.product.clone())
                .push_bind(d.at)
                .push_bind(counter(d.usage.secs))
                .push_bind(counter(d.usage.bytes_in))
                .push_bind(counter(d.usage.bytes_out))
                .push_bind(counter(d.usage.logins));
        });
        // "WHERE true" tells SQLite's parser that ON CONFLICT belongs to the INSERT.
        q.push(
            ") AS v JOIN users ON users.name = v.column1 WHERE true \
             ON CONFLICT (user_name, product) DO UPDATE SET \
             used_secs = user_products.used_secs + excluded.used_secs, \
             used_in = user_products.used_in + excluded.used_in, \
             used_out = user_products.used_out + excluded.used_out, \
             logins = user_products.logins + excluded.logins",
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sized_chunks;

    #[test]
    fn chunks_come_in_powers_of_two_and_cover_everything_in_order() {
        let sizes = |n: usize| {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = sized_chunks(&items).collect();
            assert_eq!(chunks.concat(), items, "{n}");
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(300), vec![256, 32, 8, 4]);
        assert_eq!(sizes(1100), vec![512, 512, 64, 8, 4]);
        for n in 0..2000 {
            assert!(sizes(n).iter().all(|s| s.is_power_of_two() && *s <= 512));
        }
    }
}
