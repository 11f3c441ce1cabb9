//! Upload metadata and message attachments.

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::{
    Dimensions, Message, MessageId, NewUpload, StoreError, Thumbnail, Timestamp, Upload,
    UploadCreation, UploadCursor, UploadId, UploadPage, UploadRemoval,
};

/// The columns [`upload`] reads, in a `SELECT` of the `uploads` table
/// (aliased `u`).
const UPLOAD_COLUMNS: &str = "u.id, u.app_id, u.owner, u.content_type, u.size, u.width, \
     u.height, u.thumbnail_content_type, u.thumbnail_size, u.thumbnail_width, \
     u.thumbnail_height, u.created_at";

/// Stores an upload's metadata and returns it as stored.
async fn insert(
    connection: &mut AnyConnection,
    new: &NewUpload,
    now: Timestamp,
) -> Result<Upload, StoreError> {
    let thumbnail = new.thumbnail.as_ref();
    sqlx::query(
        "INSERT INTO uploads (id, app_id, owner, content_type, size, width, height, \
         thumbnail_content_type, thumbnail_size, thumbnail_width, thumbnail_height, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(new.id.as_str())
    .bind(&*new.app)
    .bind(new.owner.as_str())
    .bind(new.content_type.as_str())
    .bind(to_db(new.size))
    .bind(new.dimensions.map(|d| i64::from(d.width)))
    .bind(new.dimensions.map(|d| i64::from(d.height)))
    .bind(thumbnail.map(|t| t.content_type.as_str()))
    .bind(thumbnail.map(|t| to_db(t.size)))
    .bind(thumbnail.map(|t| i64::from(t.dimensions.width)))
    .bind(thumbnail.map(|t| i64::from(t.dimensions.height)))
    .bind(now.as_millis())
    .execute(&mut *connection)
    .await?;
    Ok(Upload {
        id: new.id.clone(),
        app: new.app.clone(),
        owner: new.owner.clone(),
        content_type: new.content_type.clone(),
        size: new.size,
        dimensions: new.dimensions,
        thumbnail: new.thumbnail.clone(),
        created_at: now,
    })
}

/// Stores an upload's metadata unless it takes its owner past the upload's
/// quota. Run in the writer's transaction, the sum and the insert see every
/// upload committed before, so concurrent uploads cannot overshoot.
pub(crate) async fn insert_within_quota(
    connection: &mut AnyConnection,
    new: &NewUpload,
    now: Timestamp,
) -> Result<UploadCreation, StoreError> {
    if let Some(quota) = new.quota {
        let used = usage(connection, &new.app, &new.owner).await?;
        if used.saturating_add(new.stored_bytes()) > quota {
            return Ok(UploadCreation::OverQuota { used, quota });
        }
    }
    insert(connection, new, now)
        .await
        .map(UploadCreation::Created)
}

/// The bytes (files and thumbnails) `owner` keeps in `app`.
async fn usage(connection: &mut AnyConnection, app: &str, owner: &str) -> Result<u64, StoreError> {
    // PostgreSQL sums BIGINTs into a NUMERIC, hence the cast back.
    let used: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size + COALESCE(thumbnail_size, 0)), 0) AS BIGINT) \
         FROM uploads WHERE app_id = $1 AND owner = $2",
    )
    .bind(app)
    .bind(owner)
    .fetch_one(&mut *connection)
    .await?;
    from_db(used, "upload usage")
}

/// A page of `owner`'s uploads in `app`, newest first (ids break ties),
/// after `after`.
pub(crate) async fn page(
    connection: &mut AnyConnection,
    app: &str,
    owner: &str,
    after: Option<&UploadCursor>,
    limit: usize,
) -> Result<UploadPage, StoreError> {
    // One row past the page says whether there is a next one.
    let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = match after {
        None => {
            let sql = format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads u WHERE u.app_id = $1 AND u.owner = $2 \
                 ORDER BY u.created_at DESC, u.id DESC LIMIT $3"
            );
            sqlx::query(&sql)
                .bind(app)
                .bind(owner)
                .bind(fetch)
                .fetch_all(&mut *connection)
                .await?
        }
        Some(cursor) => {
            let sql = format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads u WHERE u.app_id = $1 AND u.owner = $2 \
                 AND (u.created_at < $3 OR (u.created_at = $3 AND u.id < $4)) \
                 ORDER BY u.created_at DESC, u.id DESC LIMIT $5"
            );
            sqlx::query(&sql)
                .bind(app)
                .bind(owner)
                .bind(cursor.created_at.as_millis())
                .bind(cursor.id.as_str())
                .bind(fetch)
                .fetch_all(&mut *connection)
                .await?
        }
    };
    let mut uploads = rows.iter().map(upload).collect::<Result<Vec<_>, _>>()?;
    let next = if uploads.len() > limit {
        uploads.truncate(limit);
        uploads.last().map(|last| UploadCursor {
            created_at: last.created_at,
            id: last.id.clone(),
        })
    } else {
        None
    };
    Ok(UploadPage { uploads, next })
}

/// Removes `owner`'s upload `id` of `app` unless a message carries it.
/// Deleting a message detaches its uploads, so only live (or hidden)
/// messages hold one.
pub(crate) async fn remove(
    connection: &mut AnyConnection,
    app: &str,
    owner: &str,
    id: &UploadId,
) -> Result<UploadRemoval, StoreError> {
    let upload = find(connection, id)
        .await?
        .filter(|upload| &*upload.app == app)
        .ok_or(StoreError::NotFound("upload"))?;
    if upload.owner != owner {
        return Err(StoreError::Forbidden(
            "only its uploader may delete an upload",
        ));
    }
    let attached: Option<String> = sqlx::query_scalar(
        "SELECT upload_id FROM message_attachments WHERE upload_id = $1 LIMIT 1",
    )
    .bind(id.as_str())
    .fetch_optional(&mut *connection)
    .await?;
    if attached.is_some() {
        return Ok(UploadRemoval::Attached);
    }
    sqlx::query("DELETE FROM uploads WHERE id = $1")
        .bind(id.as_str())
        .execute(&mut *connection)
        .await?;
    Ok(UploadRemoval::Removed(upload))
}

/// The upload with this id, whatever its app.
pub(crate) async fn find(
    connection: &mut AnyConnection,
    id: &UploadId,
) -> Result<Option<Upload>, StoreError> {
    let sql = format!("SELECT {UPLOAD_COLUMNS} FROM uploads u WHERE u.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.as_str())
        .fetch_optional(&mut *connection)
        .await?;
    row.map(|row| upload(&row)).transpose()
}

/// Attaches uploads to a new message, in order, and returns them. Each must
/// be an upload of the message's app whose owner is the message's author.
pub(crate) async fn link(
    connection: &mut AnyConnection,
    app: &str,
    author: &str,
    message: MessageId,
    ids: &[UploadId],
) -> Result<Vec<Upload>, StoreError> {
    let mut attached = Vec::with_capacity(ids.len());
    for (position, id) in ids.iter().enumerate() {
        let upload = find(connection, id)
            .await?
            .filter(|upload| &*upload.app == app)
            .ok_or(StoreError::NotFound("upload"))?;
        if upload.owner != author {
            return Err(StoreError::Forbidden(
                "only its uploader may attach an upload",
            ));
        }
        sqlx::query(
            "INSERT INTO message_attachments (message_id, position, upload_id) VALUES ($1, $2, $3)",
        )
        .bind(message.get())
        .bind(i64::try_from(position).unwrap_or(i64::MAX))
        .bind(id.as_str())
        .execute(&mut *connection)
        .await?;
        attached.push(upload);
    }
    Ok(attached)
}

/// Fills in the attachments of `messages` with one query.
pub(crate) async fn fill(
    connection: &mut AnyConnection,
    messages: &mut [Message],
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    // Message ids are integers from the database, so they are written into
    // the statement rather than bound one placeholder each.
    let ids: Vec<String> = messages.iter().map(|m| m.id.get().to_string()).collect();
    let sql = format!(
        "SELECT a.message_id, {UPLOAD_COLUMNS} FROM message_attachments a \
         JOIN uploads u ON u.id = a.upload_id \
         WHERE a.message_id IN ({}) ORDER BY a.message_id, a.position",
        ids.join(",")
    );
    let rows = sqlx::query(&sql).fetch_all(&mut *connection).await?;
    let mut by_message: HashMap<i64, Vec<Upload>> = HashMap::new();
    for row in &rows {
        by_message
            .entry(row.try_get("message_id")?)
            .or_default()
            .push(upload(row)?);
    }
    for message in messages {
        // A message may be listed twice (a resend answered with it), so
        // each copy gets its attachments.
        message.attachments = by_message
            .get(&message.id.get())
            .cloned()
            .unwrap_or_default();
    }
    Ok(())
}

/// Removes a message's attachments (the uploads stay).
pub(crate) async fn detach(
    connection: &mut AnyConnection,
    message: MessageId,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM message_attachments WHERE message_id = $1")
        .bind(message.get())
        .execute(&mut *connection)
        .await?;
    Ok(())
}

fn to_db(size: u64) -> i64 {
    i64::try_from(size).unwrap_or(i64::MAX)
}

fn from_db(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("negative {what} {value}")))
}

fn pixels(value: Option<i64>) -> Result<Option<u32>, StoreError> {
    value
        .map(|value| {
            u32::try_from(value).map_err(|_| StoreError::corrupt(format!("pixel size {value}")))
        })
        .transpose()
}

fn dimensions(width: Option<u32>, height: Option<u32>) -> Option<Dimensions> {
    Some(Dimensions {
        width: width?,
        height: height?,
    })
}

/// An upload row.
fn upload(row: &AnyRow) -> Result<Upload, StoreError> {
    let id: String = row.try_get("id")?;
    let thumbnail = match (
        row.try_get::<Option<String>, _>("thumbnail_content_type")?,
        row.try_get::<Option<i64>, _>("thumbnail_size")?,
        dimensions(
            pixels(row.try_get("thumbnail_width")?)?,
            pixels(row.try_get("thumbnail_height")?)?,
        ),
    ) {
        (Some(content_type), Some(size), Some(dimensions)) => Some(Thumbnail {
            content_type,
            size: from_db(size, "thumbnail size")?,
            dimensions,
        }),
        _ => None,
    };
    Ok(Upload {
        id: UploadId::parse(&id).map_err(|_| StoreError::corrupt(format!("upload id {id:?}")))?,
        app: Arc::from(row.try_get::<String, _>("app_id")?),
        owner: row.try_get("owner")?,
        content_type: row.try_get("content_type")?,
        size: from_db(row.try_get("size")?, "size")?,
        dimensions: dimensions(
            pixels(row.try_get("width")?)?,
            pixels(row.try_get("height")?)?,
        ),
        thumbnail,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}
