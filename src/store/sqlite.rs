//! The embedded store: one SQLite file in WAL mode.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;

use super::{unix_now, Change, Entity, NasRecord, Store, StoreError, UserRecord, ALL_KEYS};

/// Rows per INSERT statement in bulk imports (SQLite allows 32766 bound values).
const IMPORT_BATCH: usize = 1000;

/// A SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the file (creating it and its directory), enables WAL and migrates.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(e.into()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

async fn log_change(
    tx: &mut Transaction<'_, Sqlite>,
    entity: Entity,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO changes (entity, key) VALUES ($1, $2)")
        .bind(entity.as_str())
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        name: row.try_get("name")?,
        password_sealed: row.try_get("password_sealed")?,
        enabled: row.try_get("enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn nas_from_row(row: &SqliteRow) -> Result<NasRecord, StoreError> {
    let name: String = row.try_get("name")?;
    let vendor: String = row.try_get("vendor")?;
    Ok(NasRecord {
        vendor: vendor.parse().map_err(|e| StoreError::Corrupt {
            row: format!("nas_devices/{name}"),
            reason: format!("{e}"),
        })?,
        address: row.try_get("address")?,
        secret_sealed: row.try_get("secret_sealed")?,
        require_message_authenticator: row.try_get("require_message_authenticator")?,
        created_at: row.try_get("created_at")?,
        name,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

const USER_COLUMNS: &str = "name, password_sealed, enabled, created_at, updated_at";

impl SqliteStore {
    /// Runs an UPDATE or DELETE of one row and logs the change when a row was touched.
    async fn touch<'q>(
        &self,
        entity: Entity,
        name: &str,
        query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let touched = query.execute(&mut *tx).await?.rows_affected() > 0;
        if touched {
            log_change(&mut tx, entity, name).await?;
        }
        tx.commit().await?;
        Ok(touched)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
        sqlx::query(&sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(user_from_row)
            .transpose()
    }

    async fn for_each_user(
        &self,
        visit: &mut (dyn FnMut(UserRecord) + Send),
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
        let mut rows = sqlx::query(&sql).fetch(&self.pool);
        while let Some(row) = rows.try_next().await? {
            visit(user_from_row(&row)?);
        }
        Ok(())
    }

    async fn add_user(&self, user: &UserRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let sql = format!("INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)");
        let inserted = sqlx::query(&sql)
            .bind(&user.name)
            .bind(&user.password_sealed)
            .bind(user.enabled)
            .bind(user.created_at)
            .bind(user.updated_at)
            .execute(&mut *tx)
            .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::UserExists(user.name.clone()))
            }
            other => other?,
        };
        log_change(&mut tx, Entity::User, &user.name).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn import_users(&self, users: &[UserRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for batch in users.chunks(IMPORT_BATCH) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new(format!("INSERT INTO users ({USER_COLUMNS}) "));
            q.push_values(batch, |mut row, u| {
                row.push_bind(&u.name)
                    .push_bind(&u.password_sealed)
                    .push_bind(u.enabled)
                    .push_bind(u.created_at)
                    .push_bind(u.updated_at);
            });
            if let Err(e) = q.build().execute(&mut *tx).await {
                if !is_unique_violation(&e) {
                    return Err(e.into());
                }
                // Name the first clash so the caller can point at its line.
                for u in batch {
                    let exists = sqlx::query("SELECT 1 FROM users WHERE name = $1")
                        .bind(&u.name)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    if exists {
                        return Err(StoreError::UserExists(u.name.clone()));
                    }
                }
                return Err(e.into());
            }
        }
        log_change(&mut tx, Entity::User, ALL_KEYS).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_user(&self, name: &str) -> Result<bool, StoreError> {
        self.touch(
            Entity::User,
            name,
            sqlx::query("DELETE FROM users WHERE name = $1").bind(name),
        )
        .await
    }

    async fn set_password(&self, name: &str, sealed: &[u8]) -> Result<bool, StoreError> {
        let q =
            sqlx::query("UPDATE users SET password_sealed = $1, updated_at = $2 WHERE name = $3")
                .bind(sealed)
                .bind(unix_now())
                .bind(name);
        self.touch(Entity::User, name, q).await
    }

    async fn set_enabled(&self, name: &str, enabled: bool) -> Result<bool, StoreError> {
        let q = sqlx::query("UPDATE users SET enabled = $1, updated_at = $2 WHERE name = $3")
            .bind(enabled)
            .bind(unix_now())
            .bind(name);
        self.touch(Entity::User, name, q).await
    }

    async fn nas_devices(&self) -> Result<Vec<NasRecord>, StoreError> {
        sqlx::query(
            "SELECT name, address, secret_sealed, vendor, require_message_authenticator, created_at \
             FROM nas_devices ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(nas_from_row)
        .collect()
    }

    async fn add_nas(&self, nas: &NasRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO nas_devices \
             (name, address, secret_sealed, vendor, require_message_authenticator, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&nas.name)
        .bind(&nas.address)
        .bind(&nas.secret_sealed)
        .bind(nas.vendor.name())
        .bind(nas.require_message_authenticator)
        .bind(nas.created_at)
        .execute(&mut *tx)
        .await;
        match inserted {
            Err(e) if is_unique_violation(&e) => {
                return Err(StoreError::NasExists(nas.name.clone()))
            }
            other => other?,
        };
        log_change(&mut tx, Entity::Nas, &nas.name).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_nas(&self, name: &str) -> Result<bool, StoreError> {
        let q = sqlx::query("DELETE FROM nas_devices WHERE name = $1").bind(name);
        self.touch(Entity::Nas, name, q).await
    }

    async fn changes_since(&self, seq: i64) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query("SELECT seq, entity, key FROM changes WHERE seq > $1 ORDER BY seq")
            .bind(seq)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get("seq")?;
                let entity = match row.try_get::<String, _>("entity")?.as_str() {
                    "user" => Entity::User,
                    "nas" => Entity::Nas,
                    other => {
                        return Err(StoreError::Corrupt {
                            row: format!("changes/{seq}"),
                            reason: format!("unknown entity {other:?}"),
                        })
                    }
                };
                Ok(Change {
                    seq,
                    entity,
                    key: row.try_get("key")?,
                })
            })
            .collect()
    }

    async fn last_change(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    async fn prune_changes(&self, seq: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM changes WHERE seq <= $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_once(&self, key: &str) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(format!("claimed:{key}"))
        .bind(unix_now().to_string())
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        Ok(claimed)
    }
}
