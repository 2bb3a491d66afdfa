use super::{SqlStore, conflict, execute, fetch_all, fetch_opt, other, to_json};
use async_trait::async_trait;
use latchkey_core::actions::Trigger;
use latchkey_core::domain::{Action, ActionBinding, ActionExecutionRecord, ActionVersion};
use latchkey_core::store::{ActionStore, StoreResult};
use latchkey_core::time::Timestamp;
use sqlx::Row;
use sqlx::any::AnyRow;

fn doc<T: serde::de::DeserializeOwned>(row: &AnyRow) -> anyhow::Result<T> {
    Ok(serde_json::from_str(&row.try_get::<String, _>("doc")?)?)
}

fn binding(row: &AnyRow) -> anyhow::Result<ActionBinding> {
    let trigger: String = row.try_get("trigger_id")?;
    Ok(ActionBinding {
        id: row.try_get("id")?,
        trigger: Trigger::parse(&trigger)
            .ok_or_else(|| anyhow::anyhow!("unknown trigger {trigger}"))?,
        action_id: row.try_get("action_id")?,
        display_name: row.try_get("display_name")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?),
    })
}

#[async_trait]
impl ActionStore for SqlStore {
    async fn insert_action(&self, a: &Action) -> StoreResult<()> {
        sqlx::query("INSERT INTO actions (id, name, doc, created_at) VALUES ($1, $2, $3, $4)")
            .bind(a.id.clone())
            .bind(a.name.clone())
            .bind(to_json(a))
            .bind(a.created_at.millis())
            .execute(&self.writer)
            .await
            .map_err(conflict("An action with that name"))?;
        Ok(())
    }

    async fn get_action(&self, id: &str) -> StoreResult<Option<Action>> {
        let q = sqlx::query("SELECT doc FROM actions WHERE id = $1").bind(id.to_owned());
        fetch_opt(q, &self.reader, doc).await
    }

    async fn find_action_by_name(&self, name: &str) -> StoreResult<Option<Action>> {
        let q = sqlx::query("SELECT doc FROM actions WHERE name = $1").bind(name.to_owned());
        fetch_opt(q, &self.reader, doc).await
    }

    async fn list_actions(&self) -> StoreResult<Vec<Action>> {
        let q = sqlx::query("SELECT doc FROM actions ORDER BY created_at, id");
        fetch_all(q, &self.reader, doc).await
    }

    async fn update_action(&self, a: &Action) -> StoreResult<bool> {
        let q = sqlx::query("UPDATE actions SET name = $1, doc = $2 WHERE id = $3")
            .bind(a.name.clone())
            .bind(to_json(a))
            .bind(a.id.clone());
        let n = q
            .execute(&self.writer)
            .await
            .map_err(conflict("An action with that name"))?
            .rows_affected();
        Ok(n == 1)
    }

    async fn delete_action(&self, id: &str) -> StoreResult<bool> {
        let mut tx = self.begin_write().await.map_err(other)?;
        // Explicit, so SQLite without foreign-key enforcement leaves nothing behind either.
        for table in ["action_bindings", "action_versions"] {
            let q = sqlx::query(if table == "action_bindings" {
                "DELETE FROM action_bindings WHERE action_id = $1"
            } else {
                "DELETE FROM action_versions WHERE action_id = $1"
            })
            .bind(id.to_owned());
            execute(q, &mut *tx).await?;
        }
        let n = execute(
            sqlx::query("DELETE FROM actions WHERE id = $1").bind(id.to_owned()),
            &mut *tx,
        )
        .await?;
        tx.commit().await.map_err(other)?;
        Ok(n == 1)
    }

    async fn deploy_action(&self, a: &Action, v: &ActionVersion) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        let q = sqlx::query(
            "INSERT INTO action_versions (id, action_id, number, doc) VALUES ($1, $2, $3, $4)",
        )
        .bind(v.id.clone())
        .bind(v.action_id.clone())
        .bind(v.number)
        .bind(to_json(v));
        q.execute(&mut *tx)
            .await
            .map_err(conflict("A version with that number"))?;
        let q = sqlx::query("UPDATE actions SET doc = $1 WHERE id = $2")
            .bind(to_json(a))
            .bind(a.id.clone());
        execute(q, &mut *tx).await?;
        tx.commit().await.map_err(other)?;
        Ok(())
    }

    async fn list_action_versions(&self, action_id: &str) -> StoreResult<Vec<ActionVersion>> {
        let q = sqlx::query(
            "SELECT doc FROM action_versions WHERE action_id = $1 ORDER BY number DESC",
        )
        .bind(action_id.to_owned());
        fetch_all(q, &self.reader, doc).await
    }

    async fn get_action_version(&self, id: &str) -> StoreResult<Option<ActionVersion>> {
        let q = sqlx::query("SELECT doc FROM action_versions WHERE id = $1").bind(id.to_owned());
        fetch_opt(q, &self.reader, doc).await
    }

    async fn list_bindings(&self, trigger: Trigger) -> StoreResult<Vec<ActionBinding>> {
        let q = sqlx::query(
            "SELECT id, trigger_id, action_id, display_name, created_at, updated_at \
             FROM action_bindings WHERE trigger_id = $1 ORDER BY position",
        )
        .bind(trigger.id().to_owned());
        fetch_all(q, &self.reader, binding).await
    }

    async fn replace_bindings(
        &self,
        trigger: Trigger,
        bindings: &[ActionBinding],
    ) -> StoreResult<()> {
        let mut tx = self.begin_write().await.map_err(other)?;
        execute(
            sqlx::query("DELETE FROM action_bindings WHERE trigger_id = $1")
                .bind(trigger.id().to_owned()),
            &mut *tx,
        )
        .await?;
        for (position, b) in bindings.iter().enumerate() {
            let q = sqlx::query(
                "INSERT INTO action_bindings (id, trigger_id, position, action_id, display_name, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(b.id.clone())
            .bind(trigger.id().to_owned())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(b.action_id.clone())
            .bind(b.display_name.clone())
            .bind(b.created_at.millis())
            .bind(b.updated_at.millis());
            execute(q, &mut *tx).await?;
        }
        tx.commit().await.map_err(other)?;
        Ok(())
    }

    async fn put_execution(&self, r: &ActionExecutionRecord) -> StoreResult<()> {
        let q = sqlx::query(
            "INSERT INTO action_executions (id, doc, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
        )
        .bind(r.id.clone())
        .bind(to_json(r))
        .bind(r.created_at.millis());
        execute(q, &self.writer).await.map(drop)
    }

    async fn get_execution(&self, id: &str) -> StoreResult<Option<ActionExecutionRecord>> {
        let q = sqlx::query("SELECT doc FROM action_executions WHERE id = $1").bind(id.to_owned());
        fetch_opt(q, &self.reader, doc).await
    }

    async fn prune_executions(&self, before: Timestamp) -> StoreResult<u64> {
        let q = sqlx::query("DELETE FROM action_executions WHERE created_at < $1")
            .bind(before.millis());
        execute(q, &self.writer).await
    }
}
