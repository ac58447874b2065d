//! The `Store` port on SQLite: agents (with every version), environments, sessions, API keys.

use async_trait::async_trait;
use hangar_core::store::{ListQuery, Rows, SessionFilter, Store, StoreError, Versioned};
use hangar_protocol::agent::Agent;
use hangar_protocol::environment::Environment;
use hangar_protocol::session::Session;
use hangar_protocol::time::Timestamp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::listing::{SortKey, into_rows, push_time_range, push_walk};
use crate::sqlite::{SqliteStore, backend, write_error};

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(backend)
}

fn decode<T: DeserializeOwned>(id: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

/// An agent body with the agent-level `archived_at` laid over it (archiving is not a version).
fn decode_agent(body: &str, archived_at: Option<i64>) -> Result<Agent, StoreError> {
    let mut agent: Agent = decode("agent", body)?;
    agent.archived_at = archived_at.map(Timestamp::from_micros);
    Ok(agent)
}

fn text_key(query: &ListQuery) -> Option<SortKey> {
    query.cursor.as_ref().map(|c| SortKey::Text(c.key.clone()))
}

fn archived_filter(qb: &mut QueryBuilder<Sqlite>, query: &ListQuery) {
    if !query.include_archived {
        qb.push(" AND archived_at IS NULL");
    }
}

impl SqliteStore {
    async fn fetch_bodies(
        &self,
        mut qb: QueryBuilder<Sqlite>,
    ) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        let rows = qb.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get(0).map_err(backend)?,
                    row.try_get(1).map_err(backend)?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert_agent(&self, agent: &Agent) -> Result<(), StoreError> {
        let body = encode(agent)?;
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query("INSERT INTO agents (id, version, created_at, archived_at, body) VALUES (?, ?, ?, NULL, ?)")
            .bind(&agent.id)
            .bind(agent.version)
            .bind(agent.created_at.as_micros())
            .bind(&body)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "id"))?;
        sqlx::query("INSERT INTO agent_versions (agent_id, version, body) VALUES (?, ?, ?)")
            .bind(&agent.id)
            .bind(agent.version)
            .bind(&body)
            .execute(&mut *tx)
            .await
            .map_err(|e| write_error(e, "version"))?;
        tx.commit().await.map_err(backend)
    }

    async fn update_agent(&self, agent: &Agent, expected_version: i64) -> Result<(), StoreError> {
        let body = encode(agent)?;
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let updated =
            sqlx::query("UPDATE agents SET version = ?, body = ? WHERE id = ? AND version = ?")
                .bind(agent.version)
                .bind(&body)
                .bind(&agent.id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Stale);
        }
        sqlx::query("INSERT INTO agent_versions (agent_id, version, body) VALUES (?, ?, ?)")
            .bind(&agent.id)
            .bind(agent.version)
            .bind(&body)
            .execute(&mut *tx)
            .await
            .map_err(|e| match write_error(e, "version") {
                StoreError::Duplicate { .. } => StoreError::Stale,
                other => other,
            })?;
        tx.commit().await.map_err(backend)
    }

    async fn agent(&self, id: &str, version: Option<i64>) -> Result<Option<Agent>, StoreError> {
        let row = match version {
            None => sqlx::query("SELECT body, archived_at FROM agents WHERE id = ?").bind(id),
            Some(v) => sqlx::query(
                "SELECT v.body, a.archived_at FROM agent_versions v JOIN agents a ON a.id = v.agent_id \
                 WHERE v.agent_id = ? AND v.version = ?",
            )
            .bind(id)
            .bind(v),
        }
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| decode_agent(r.get(0), r.get(1))).transpose()
    }

    async fn archive_agent(&self, id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE agents SET archived_at = COALESCE(archived_at, ?) WHERE id = ?")
                .bind(at.as_micros())
                .bind(id)
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_agents(&self, query: &ListQuery) -> Result<Rows<Agent>, StoreError> {
        let mut qb = QueryBuilder::new("SELECT body, archived_at FROM agents WHERE 1 = 1");
        archived_filter(&mut qb, query);
        push_time_range(&mut qb, "created_at", &query.created_at);
        push_walk(&mut qb, "id", text_key(query), query);
        let rows = self.fetch_bodies(qb).await?;
        let agents = rows
            .iter()
            .map(|(b, a)| decode_agent(b, *a))
            .collect::<Result<_, _>>()?;
        Ok(into_rows(agents, query))
    }

    async fn list_agent_versions(
        &self,
        id: &str,
        query: &ListQuery,
    ) -> Result<Rows<Agent>, StoreError> {
        let mut qb = QueryBuilder::new(
            "SELECT v.body, a.archived_at FROM agent_versions v JOIN agents a ON a.id = v.agent_id \
             WHERE v.agent_id = ",
        );
        qb.push_bind(id);
        let key = query
            .cursor
            .as_ref()
            .and_then(|c| c.key.parse().ok())
            .map(SortKey::Int);
        push_walk(&mut qb, "v.version", key, query);
        let rows = self.fetch_bodies(qb).await?;
        let agents = rows
            .iter()
            .map(|(b, a)| decode_agent(b, *a))
            .collect::<Result<_, _>>()?;
        Ok(into_rows(agents, query))
    }

    async fn insert_environment(&self, env: &Environment) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO environments (id, name, rev, created_at, archived_at, body) VALUES (?, ?, 1, ?, ?, ?)",
        )
        .bind(&env.id)
        .bind(&env.name)
        .bind(env.created_at.as_micros())
        .bind(env.archived_at.map(Timestamp::as_micros))
        .bind(encode(env)?)
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "name"))?;
        Ok(())
    }

    async fn environment(&self, id: &str) -> Result<Option<Versioned<Environment>>, StoreError> {
        let row = sqlx::query("SELECT rev, body FROM environments WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(Versioned {
                rev: r.get(0),
                value: decode(id, r.get(1))?,
            })
        })
        .transpose()
    }

    async fn update_environment(
        &self,
        env: &Environment,
        expected_rev: i64,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE environments SET name = ?, rev = rev + 1, archived_at = ?, body = ? WHERE id = ? AND rev = ?",
        )
        .bind(&env.name)
        .bind(env.archived_at.map(Timestamp::as_micros))
        .bind(encode(env)?)
        .bind(&env.id)
        .bind(expected_rev)
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "name"))?;
        if done.rows_affected() == 0 {
            Err(StoreError::Stale)
        } else {
            Ok(())
        }
    }

    async fn list_environments(&self, query: &ListQuery) -> Result<Rows<Environment>, StoreError> {
        let mut qb = QueryBuilder::new("SELECT body, archived_at FROM environments WHERE 1 = 1");
        archived_filter(&mut qb, query);
        push_time_range(&mut qb, "created_at", &query.created_at);
        push_walk(&mut qb, "id", text_key(query), query);
        let rows = self.fetch_bodies(qb).await?;
        let envs = rows
            .iter()
            .map(|(b, _)| decode("environment", b))
            .collect::<Result<_, _>>()?;
        Ok(into_rows(envs, query))
    }

    async fn delete_environment(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM environments WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, rev, agent_id, agent_version, environment_id, status, \
             deployment_id, created_at, archived_at, body) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&session.id)
        .bind(&session.agent.id)
        .bind(session.agent.version)
        .bind(&session.environment_id)
        .bind(session.status.as_str())
        .bind(&session.deployment_id)
        .bind(session.created_at.as_micros())
        .bind(session.archived_at.map(Timestamp::as_micros))
        .bind(encode(session)?)
        .execute(&self.writer)
        .await
        .map_err(|e| write_error(e, "id"))?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<Versioned<Session>>, StoreError> {
        let row = sqlx::query("SELECT rev, body FROM sessions WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| {
            Ok(Versioned {
                rev: r.get(0),
                value: decode(id, r.get(1))?,
            })
        })
        .transpose()
    }

    async fn update_session(&self, session: &Session, expected_rev: i64) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE sessions SET rev = rev + 1, status = ?, archived_at = ?, body = ? WHERE id = ? AND rev = ?",
        )
        .bind(session.status.as_str())
        .bind(session.archived_at.map(Timestamp::as_micros))
        .bind(encode(session)?)
        .bind(&session.id)
        .bind(expected_rev)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        if done.rows_affected() == 0 {
            Err(StoreError::Stale)
        } else {
            Ok(())
        }
    }

    async fn list_sessions(
        &self,
        query: &ListQuery,
        filter: &SessionFilter,
    ) -> Result<Rows<Session>, StoreError> {
        let mut qb = QueryBuilder::new("SELECT body, archived_at FROM sessions WHERE 1 = 1");
        archived_filter(&mut qb, query);
        push_time_range(&mut qb, "created_at", &query.created_at);
        if let Some(agent_id) = &filter.agent_id {
            qb.push(" AND agent_id = ").push_bind(agent_id.clone());
        }
        if let Some(version) = filter.agent_version {
            qb.push(" AND agent_version = ").push_bind(version);
        }
        if let Some(deployment_id) = &filter.deployment_id {
            qb.push(" AND deployment_id = ")
                .push_bind(deployment_id.clone());
        }
        if filter.memory_store_id.is_some() {
            // Sessions cannot attach memory stores yet, so none matches.
            qb.push(" AND 0");
        }
        if !filter.statuses.is_empty() {
            qb.push(" AND status IN (");
            let mut list = qb.separated(", ");
            for status in &filter.statuses {
                list.push_bind(status.as_str());
            }
            qb.push(")");
        }
        push_walk(&mut qb, "id", text_key(query), query);
        let rows = self.fetch_bodies(qb).await?;
        let sessions = rows
            .iter()
            .map(|(b, _)| decode("session", b))
            .collect::<Result<_, _>>()?;
        Ok(into_rows(sessions, query))
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        // The session, its log and its lease go in one transaction.
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let done = sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        for statement in [
            "DELETE FROM events WHERE session_id = ?",
            "DELETE FROM session_leases WHERE session_id = ?",
        ] {
            sqlx::query(statement)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(done.rows_affected() == 1)
    }

    async fn api_key_hashes(&self) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar("SELECT hash FROM api_keys")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)
    }

    async fn insert_api_key(&self, id: &str, hash: &str, at: Timestamp) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO api_keys (id, hash, created_at) VALUES (?, ?, ?)")
            .bind(id)
            .bind(hash)
            .bind(at.as_micros())
            .execute(&self.writer)
            .await
            .map_err(|e| write_error(e, "hash"))?;
        Ok(())
    }
}
