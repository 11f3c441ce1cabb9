//! The report queue.

use parley_core::ChannelName;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::rows::channel_from_db;
use crate::{MessageId, Report, ReportId, ReportStatus, StoreError, Timestamp};

const REPORT_COLUMNS: &str = "id, message_id, channel, reporter, reason, status, action, \
     resolved_by, created_at, resolved_at";

fn report(row: &AnyRow) -> Result<Report, StoreError> {
    Ok(Report {
        id: row.try_get("id")?,
        message_id: MessageId::new(row.try_get("message_id")?),
        channel: channel_from_db(&row.try_get::<String, _>("channel")?)?,
        reporter: row.try_get("reporter")?,
        reason: row.try_get("reason")?,
        status: row
            .try_get::<String, _>("status")?
            .parse()
            .map_err(|_| StoreError::corrupt("unknown report status"))?,
        action: row.try_get("action")?,
        resolved_by: row.try_get("resolved_by")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        resolved_at: row
            .try_get::<Option<i64>, _>("resolved_at")?
            .map(Timestamp::from_millis),
    })
}

/// Files a report, or finds the reporter's earlier report on the message.
pub(crate) async fn insert(
    connection: &mut AnyConnection,
    app: &str,
    message_id: MessageId,
    channel: &ChannelName,
    reporter: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Report, StoreError> {
    sqlx::query(
        "INSERT INTO reports (app_id, message_id, channel, reporter, reason, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, 'open', $6) \
         ON CONFLICT (app_id, message_id, reporter) DO NOTHING",
    )
    .bind(app)
    .bind(message_id.get())
    .bind(channel.as_str())
    .bind(reporter)
    .bind(reason)
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    let sql = format!(
        "SELECT {REPORT_COLUMNS} FROM reports \
         WHERE app_id = $1 AND message_id = $2 AND reporter = $3"
    );
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(message_id.get())
        .bind(reporter)
        .fetch_one(&mut *connection)
        .await?;
    report(&row)
}

pub(crate) async fn page(
    connection: &mut AnyConnection,
    app: &str,
    status: Option<ReportStatus>,
    before: Option<ReportId>,
    limit: usize,
) -> Result<Vec<Report>, StoreError> {
    let sql = format!(
        "SELECT {REPORT_COLUMNS} FROM reports \
         WHERE app_id = $1 AND ($2 = '' OR status = $2) AND id < $3 \
         ORDER BY id DESC LIMIT $4"
    );
    let rows = sqlx::query(&sql)
        .bind(app)
        .bind(status.map_or("", ReportStatus::as_str))
        .bind(before.unwrap_or(i64::MAX))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *connection)
        .await?;
    rows.iter().map(report).collect()
}

pub(crate) async fn find(
    connection: &mut AnyConnection,
    app: &str,
    id: ReportId,
) -> Result<Option<Report>, StoreError> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM reports WHERE app_id = $1 AND id = $2");
    let row = sqlx::query(&sql)
        .bind(app)
        .bind(id)
        .fetch_optional(&mut *connection)
        .await?;
    row.as_ref().map(report).transpose()
}

/// Resolves an open report; returns whether it was open.
pub(crate) async fn resolve(
    connection: &mut AnyConnection,
    app: &str,
    id: ReportId,
    action: &str,
    moderator: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE reports SET status = 'resolved', action = $3, resolved_by = $4, resolved_at = $5 \
         WHERE app_id = $1 AND id = $2 AND status = 'open'",
    )
    .bind(app)
    .bind(id)
    .bind(action)
    .bind(moderator)
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(done.rows_affected() > 0)
}
