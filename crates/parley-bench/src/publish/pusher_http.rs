//! Requests of the Pusher HTTP API: signed `POST /apps/{id}/events` for
//! one event, `POST /apps/{id}/batch_events` for up to ten. Event data is
//! the payload as a JSON-encoded string, as Pusher servers expect.

use super::Request;
use crate::payload;
use crate::protocol::pusher::EVENT;
use crate::pusher_sign;
use crate::target::Target;

/// The most events one `batch_events` request may carry.
pub const MAX_BATCH: usize = 10;

/// A Pusher-compatible HTTP API.
#[derive(Debug)]
pub struct PusherApi {
    events_url: String,
    events_path: String,
    batch_url: String,
    batch_path: String,
    key: String,
    secret: String,
}

impl PusherApi {
    /// The API of app `app_id` on the server at `target`.
    pub fn new(target: &Target, app_id: &str, key: &str, secret: &str) -> Self {
        let events = format!("/apps/{app_id}/events");
        let batch = format!("/apps/{app_id}/batch_events");
        Self {
            events_url: target.http_url(&events),
            events_path: target.request_path(&events),
            batch_url: target.http_url(&batch),
            batch_path: target.request_path(&batch),
            key: key.to_owned(),
            secret: secret.to_owned(),
        }
    }

    /// The signed request publishing `publications` (channel, JSON
    /// payload), stamped with the clock now.
    pub fn request(&self, publications: &[(&str, String)]) -> Request {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        self.request_at(publications, now)
    }

    fn request_at(&self, publications: &[(&str, String)], timestamp: u64) -> Request {
        let (url, path, body) = match publications {
            [(channel, data)] => (
                &self.events_url,
                &self.events_path,
                format!(
                    r#"{{"name":"{EVENT}","channels":["{channel}"],"data":{}}}"#,
                    payload::as_json_string(data)
                ),
            ),
            many => {
                let events: Vec<String> = many
                    .iter()
                    .map(|(channel, data)| {
                        format!(
                            r#"{{"channel":"{channel}","name":"{EVENT}","data":{}}}"#,
                            payload::as_json_string(data)
                        )
                    })
                    .collect();
                (
                    &self.batch_url,
                    &self.batch_path,
                    format!(r#"{{"batch":[{}]}}"#, events.join(",")),
                )
            }
        };
        let query = pusher_sign::signed_query(
            &self.key,
            &self.secret,
            "POST",
            path,
            body.as_bytes(),
            timestamp,
        );
        Request {
            url: format!("{url}?{query}"),
            body,
            authorization: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn api() -> PusherApi {
        let target = Target::resolve("http://127.0.0.1:6001").await.unwrap();
        PusherApi::new(&target, "3", "278d425bdf160c739803", "7ad3773142a6692b25b8")
    }

    #[tokio::test]
    async fn one_event_is_signed_for_the_events_path() {
        let request = api().await.request_at(
            &[("bench-1", r#"{"t":1,"s":0,"p":""}"#.to_owned())],
            1_353_088_179,
        );
        let (url, query) = request.url.split_once('?').unwrap();
        assert_eq!(url, "http://127.0.0.1:6001/apps/3/events");
        let expected = pusher_sign::signed_query(
            "278d425bdf160c739803",
            "7ad3773142a6692b25b8",
            "POST",
            "/apps/3/events",
            request.body.as_bytes(),
            1_353_088_179,
        );
        assert_eq!(query, expected);
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body["name"], EVENT);
        assert_eq!(body["channels"][0], "bench-1");
        // The data is a string holding the payload's JSON.
        let data: serde_json::Value = serde_json::from_str(body["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["t"], 1);
    }

    #[tokio::test]
    async fn several_events_use_batch_events() {
        let request = api().await.request_at(
            &[
                ("bench-1", r#"{"t":1}"#.to_owned()),
                ("bench-2", r#"{"t":2}"#.to_owned()),
            ],
            5,
        );
        assert!(
            request
                .url
                .starts_with("http://127.0.0.1:6001/apps/3/batch_events?auth_key=")
        );
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body["batch"][1]["channel"], "bench-2");
        assert_eq!(body["batch"][1]["data"], r#"{"t":2}"#);
    }
}
