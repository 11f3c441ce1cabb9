//! The pages, scripts and styles embedded in the binary (the table that
//! `build.rs` writes from `crates/parley-server/web/`), and how each is
//! answered: content type, validator, caching and security headers.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Every embedded file as `(path under web/ with a leading slash, bytes)`,
/// sorted by path.
static ASSETS: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The strict policy of every page: scripts, styles, images and API calls
/// from this server only (`'self'` covers its own `ws:`/`wss:` URL), no
/// inline code, no plugins, no framing, no `<base>` or form posts.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Entity tags by path: a digest of the content, computed once.
static ETAGS: LazyLock<HashMap<&'static str, HeaderValue>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|(path, bytes)| {
            let digest = Sha256::digest(bytes);
            let tag = format!("\"{}\"", hex::encode(&digest[..12]));
            (
                *path,
                HeaderValue::from_str(&tag).expect("a quoted hex string is a header value"),
            )
        })
        .collect()
});

/// The embedded file at `path` (such as `/demo/app.js`).
pub fn find(path: &str) -> Option<&'static [u8]> {
    ASSETS
        .binary_search_by(|(candidate, _)| (*candidate).cmp(path))
        .ok()
        .map(|index| ASSETS[index].1)
}

/// Every embedded path, for tests and the freshness check.
pub fn paths() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(path, _)| *path)
}

/// The media type of a file by its extension, or `None` for a kind the
/// server does not serve.
pub fn content_type(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1;
    Some(match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "json" => "application/json",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => return None,
    })
}

/// Answers a request for the embedded file at `path`: 200 with the file,
/// 304 when the browser's copy (`If-None-Match`) is current, `None` when
/// there is no such file.
pub fn respond(path: &str, request: &HeaderMap) -> Option<Response> {
    let bytes = find(path)?;
    let kind = content_type(path)?;
    let etag = ETAGS.get(path)?.clone();
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == "*" || tag.trim() == etag.to_str().unwrap_or(""))
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(kind))],
            bytes,
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    // The file names carry no version, so the browser keeps its copy but
    // asks each time whether it is current (a 304 costs a few bytes).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(headers);
    Some(response)
}

/// The security headers of every web response.
pub fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_is_a_kind_the_server_serves() {
        let paths: Vec<_> = paths().collect();
        assert!(paths.contains(&"/admin/index.html"), "{paths:?}");
        assert!(paths.contains(&"/demo/index.html"), "{paths:?}");
        assert!(paths.contains(&"/sdk/index.js"), "{paths:?}");
        for path in paths {
            assert!(content_type(path).is_some(), "{path} has no content type");
            assert!(find(path).is_some(), "{path} cannot be found");
        }
    }

    #[test]
    fn a_current_copy_gets_304() {
        let etag = ETAGS["/demo/index.html"].clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, etag.clone());
        let response = respond("/demo/index.html", &request).expect("the page exists");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(response.headers()[header::ETAG], etag);
        assert!(respond("/demo/missing.js", &request).is_none());
    }
}
