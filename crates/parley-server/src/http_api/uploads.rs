//! Uploads over HTTP: `POST /api/v1/uploads` (multipart, a user's token)
//! and `GET /api/v1/uploads/{id}` and `/api/v1/uploads/{id}/thumbnail`.
//!
//! Reading needs no token: an upload id is 128 random bits, so the URL is
//! the capability, as with attachment links in other chat products; anyone
//! who was shown a message with the attachment may fetch it, and nobody can
//! guess another. Files are served so that a browser never runs them: the
//! stored type with `nosniff`, a sandboxing `Content-Security-Policy`, and
//! `Content-Disposition: attachment` for everything but the images the
//! server re-encoded itself.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;

use super::extract::Caller;
use super::{ApiError, ApiPath};
use crate::chat::{Chat, ChatError};
use crate::json;
use crate::uploads::{UploadError, Uploads};

/// What a multipart body may hold beyond the file itself: boundaries, part
/// headers, small form fields.
const MULTIPART_SLACK: usize = 64 * 1024;

/// The form field that carries the file.
const FILE_FIELD: &str = "file";

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        match error {
            UploadError::TooLarge(limit) => too_large(limit),
            UploadError::Unsupported(message) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
            }
            error @ UploadError::Undecodable(_) => {
                Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, error.to_string())
            }
            UploadError::ImageTooLarge(message) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
            UploadError::Storage(error) => {
                tracing::error!(%error, "upload storage failure");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
            UploadError::Store(error) => ChatError::Store(error).into(),
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the file is larger than {limit} bytes"),
    )
}

/// `POST /api/v1/uploads`, a multipart form whose `file` field is the file:
/// checked, processed and kept; answers 201 with the upload's JSON.
#[utoipa::path(
    post,
    path = "/api/v1/uploads",
    tag = "uploads",
    request_body(content_type = "multipart/form-data", description = "A form whose `file` field is the file."),
    responses((status = 201, description = "The upload.", body = crate::json::schema::UploadShape)),
    security(("user_token" = [])),
)]
pub async fn create(
    State(chat): State<Chat>,
    State(uploads): State<Uploads>,
    caller: Caller,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let Caller::User { app, actor } = caller else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "uploads are made with a user's token, not an API key",
        ));
    };
    let limit = uploads.max_bytes();
    // A declared length past the limit is refused before reading anything.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit.saturating_add(MULTIPART_SLACK)) {
        return Err(too_large(limit));
    }
    let mut multipart =
        multipart.map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
    let mut file = None;
    // Every byte of every field counts, so a body without a declared length
    // is bounded all the same.
    let mut read = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let is_file = field.name() == Some(FILE_FIELD);
        if is_file && file.is_some() {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "send one file per upload",
            ));
        }
        let mut buffer = BytesMut::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            read += chunk.len();
            if read > limit {
                return Err(too_large(limit));
            }
            if is_file {
                buffer.extend_from_slice(&chunk);
            }
        }
        if is_file {
            file = Some(buffer.freeze());
        }
    }
    let file = file.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing the multipart field `file`",
        )
    })?;
    if file.is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "the file is empty"));
    }
    let upload = uploads
        .accept(chat.store(), app.app.id.clone(), &actor.user, file)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        json::upload_json(&upload),
    )
        .into_response())
}

fn multipart_error(error: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::new(error.status(), error.body_text())
}

/// `GET /api/v1/uploads/{id}`: the file.
#[utoipa::path(
    get,
    path = "/api/v1/uploads/{id}",
    tag = "uploads",
    params(("id" = String, Path)),
    responses((status = 200, description = "The file, with its stored type.", content_type = "application/octet-stream")),
    security(()),
)]
pub async fn file(
    State(chat): State<Chat>,
    State(uploads): State<Uploads>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    serve(&chat, &uploads, &id, false).await
}

/// `GET /api/v1/uploads/{id}/thumbnail`: an image's thumbnail.
#[utoipa::path(
    get,
    path = "/api/v1/uploads/{id}/thumbnail",
    tag = "uploads",
    params(("id" = String, Path)),
    responses((status = 200, description = "The image's thumbnail.", content_type = "image/webp")),
    security(()),
)]
pub async fn thumbnail(
    State(chat): State<Chat>,
    State(uploads): State<Uploads>,
    ApiPath(id): ApiPath<String>,
) -> Result<Response, ApiError> {
    serve(&chat, &uploads, &id, true).await
}

async fn serve(
    chat: &Chat,
    uploads: &Uploads,
    id: &str,
    thumbnail: bool,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::new(StatusCode::NOT_FOUND, "no such upload");
    let id = parley_store::UploadId::parse(id).map_err(|_| not_found())?;
    let upload = match chat.store().upload(&id).await {
        Ok(upload) => upload,
        Err(parley_store::StoreError::NotFound(_)) => return Err(not_found()),
        Err(error) => return Err(ChatError::Store(error).into()),
    };
    let content_type = match (&upload.thumbnail, thumbnail) {
        (_, false) => upload.content_type.as_str(),
        (Some(thumbnail), true) => thumbnail.content_type.as_str(),
        (None, true) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "this upload has no thumbnail",
            ));
        }
    };
    let bytes = uploads
        .read(&id, thumbnail)
        .await
        .map_err(UploadError::from)?
        .ok_or_else(|| {
            tracing::error!(upload = %id, thumbnail, "an upload's bytes are missing");
            not_found()
        })?;
    // Only images the server decoded and encoded itself are shown inline.
    let disposition = match upload.dimensions {
        Some(_) => "inline",
        None => "attachment",
    };
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static(disposition),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=31536000, immutable"),
            ),
        ],
        bytes,
    )
        .into_response())
}
