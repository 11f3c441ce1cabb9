//! Requests of Parley's HTTP API: `POST /api/v1/publish {channel, data}`
//! for one publication, `POST /api/v1/batch {publications: [...]}` for
//! more, with `Authorization: Bearer <api key>`.

use super::Request;
use crate::target::Target;

/// The most publications one batch may carry.
pub const MAX_BATCH: usize = 1000;

/// Parley's HTTP API.
#[derive(Debug)]
pub struct NativeApi {
    publish_url: String,
    batch_url: String,
    authorization: String,
}

impl NativeApi {
    /// The API of the server at `target`, called with `api_key`.
    pub fn new(target: &Target, api_key: &str) -> Self {
        Self {
            publish_url: target.http_url("/api/v1/publish"),
            batch_url: target.http_url("/api/v1/batch"),
            authorization: format!("Bearer {api_key}"),
        }
    }

    /// The request publishing `publications` (channel, JSON payload).
    pub fn request(&self, publications: &[(&str, String)]) -> Request {
        let (url, body) = match publications {
            [(channel, data)] => (
                self.publish_url.clone(),
                format!(r#"{{"channel":"{channel}","data":{data}}}"#),
            ),
            many => {
                let size: usize = many.iter().map(|(c, d)| c.len() + d.len() + 24).sum();
                let mut body = String::with_capacity(size + 20);
                body.push_str(r#"{"publications":["#);
                for (i, (channel, data)) in many.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(r#"{"channel":""#);
                    body.push_str(channel);
                    body.push_str(r#"","data":"#);
                    body.push_str(data);
                    body.push('}');
                }
                body.push_str("]}");
                (self.batch_url.clone(), body)
            }
        };
        Request {
            url,
            body,
            authorization: Some(self.authorization.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn api() -> NativeApi {
        let target = Target::resolve("http://127.0.0.1:7070").await.unwrap();
        NativeApi::new(&target, "key-1")
    }

    #[tokio::test]
    async fn one_publication_uses_publish() {
        let request = api().await.request(&[("bench:1", r#"{"t":1}"#.to_owned())]);
        assert_eq!(request.url, "http://127.0.0.1:7070/api/v1/publish");
        assert_eq!(request.authorization.as_deref(), Some("Bearer key-1"));
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"channel": "bench:1", "data": {"t": 1}})
        );
    }

    #[tokio::test]
    async fn several_publications_use_batch() {
        let request = api().await.request(&[
            ("bench:1", r#"{"t":1}"#.to_owned()),
            ("bench:2", r#"{"t":2}"#.to_owned()),
        ]);
        assert_eq!(request.url, "http://127.0.0.1:7070/api/v1/batch");
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"publications": [
                {"channel": "bench:1", "data": {"t": 1}},
                {"channel": "bench:2", "data": {"t": 2}},
            ]})
        );
    }
}
