//! The native protocol's document commands: `doc_set`, `doc_merge`,
//! `doc_increment`, `doc_delete`, `doc_get`, `doc_list`, `doc_watch` and
//! `doc_unwatch`. The rules live in [`crate::documents`]; these handlers
//! read parameters, apply the connection's identity and reply.

use parley_core::{ChannelName, Frame};
use parley_store::{Document, DocumentData, DocumentEdit};
use serde::Deserialize;
use serde_json::{Number, Value, json};

use super::codes::{self, ErrorReply};
use super::session::NativeSession;
use super::wire;
use crate::documents::watch::MAX_WATCHES_PER_CONNECTION;
use crate::documents::{self, WriteRequest};
use crate::json::documents::{self as documents_json, document_value};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SetParams {
    channel: String,
    key: String,
    data: DocumentData,
    if_version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MergeParams {
    channel: String,
    key: String,
    patch: DocumentData,
    if_version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IncrementParams {
    channel: String,
    key: String,
    field: String,
    #[serde(default = "one")]
    by: Number,
}

fn one() -> Number {
    Number::from(1)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeleteParams {
    channel: String,
    key: String,
    if_version: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GetParams {
    channel: String,
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListParams {
    channel: String,
    #[serde(rename = "where")]
    filters: Option<Value>,
    order: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WatchParams {
    channel: String,
    #[serde(rename = "where")]
    filters: Option<Value>,
    order: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UnwatchParams {
    query: String,
}

/// A watch whose reply is being sent: activated once it is queued.
pub(super) struct PendingWatch {
    id: u64,
    channel: ChannelName,
    result: Vec<Document>,
}

impl NativeSession {
    pub(super) async fn doc_set(
        &mut self,
        id: u64,
        params: SetParams,
    ) -> Result<Frame, ErrorReply> {
        let request = WriteRequest {
            key: params.key,
            edit: DocumentEdit::Set(params.data),
            if_version: params.if_version,
        };
        self.doc_write(id, &params.channel, request).await
    }

    pub(super) async fn doc_merge(
        &mut self,
        id: u64,
        params: MergeParams,
    ) -> Result<Frame, ErrorReply> {
        let request = WriteRequest {
            key: params.key,
            edit: DocumentEdit::Merge(params.patch),
            if_version: params.if_version,
        };
        self.doc_write(id, &params.channel, request).await
    }

    pub(super) async fn doc_increment(
        &mut self,
        id: u64,
        params: IncrementParams,
    ) -> Result<Frame, ErrorReply> {
        let request = WriteRequest {
            key: params.key,
            edit: DocumentEdit::Increment {
                field: params.field,
                by: params.by,
            },
            if_version: None,
        };
        self.doc_write(id, &params.channel, request).await
    }

    pub(super) async fn doc_delete(
        &mut self,
        id: u64,
        params: DeleteParams,
    ) -> Result<Frame, ErrorReply> {
        let request = WriteRequest {
            key: params.key,
            edit: DocumentEdit::Delete,
            if_version: params.if_version,
        };
        self.doc_write(id, &params.channel, request).await
    }

    /// Any write: the reply is the change, with the stream position of its
    /// `doc_changed` event.
    async fn doc_write(
        &mut self,
        id: u64,
        channel: &str,
        request: WriteRequest,
    ) -> Result<Frame, ErrorReply> {
        let actor = self.actor()?;
        let channel = ChannelName::new(channel).map_err(parley_core::Error::from)?;
        let subscribed = self.subscriptions.contains(&channel);
        let written =
            documents::write(&self.chat, &self.app, &channel, &actor, subscribed, request).await?;
        let mut reply = documents_json::changed_value(&written.change);
        reply["offset"] = json!(written.publication.position.offset);
        reply["epoch"] = json!(written.publication.position.epoch);
        Ok(wire::result_frame(id, &reply))
    }

    pub(super) async fn doc_get(
        &mut self,
        id: u64,
        params: GetParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.document_channel(&params.channel).await?;
        let document = documents::get(&self.chat, &self.app, &channel, &params.key).await?;
        let reply = json!({ "document": document.as_ref().map(document_value) });
        Ok(wire::result_frame(id, &reply))
    }

    pub(super) async fn doc_list(
        &mut self,
        id: u64,
        params: ListParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.document_channel(&params.channel).await?;
        let query = documents_json::parse_query(
            params.filters.as_ref(),
            params.order.as_deref(),
            params.limit,
            params.cursor.as_deref(),
        )
        .map_err(|message| ErrorReply::new(codes::BAD_REQUEST, message))?;
        let page = documents::list(&self.chat, &self.app, &channel, &query).await?;
        Ok(wire::result_frame(id, &documents_json::page_value(&page)))
    }

    pub(super) async fn doc_watch(
        &mut self,
        id: u64,
        params: WatchParams,
    ) -> Result<Frame, ErrorReply> {
        let channel = self.document_channel(&params.channel).await?;
        if self.watches.len() >= MAX_WATCHES_PER_CONNECTION {
            return Err(ErrorReply::new(
                codes::TOO_MANY_REQUESTS,
                format!("a connection holds at most {MAX_WATCHES_PER_CONNECTION} watches"),
            ));
        }
        let query = documents_json::parse_query(
            params.filters.as_ref(),
            params.order.as_deref(),
            params.limit,
            None,
        )
        .map_err(|message| ErrorReply::new(codes::BAD_REQUEST, message))?;
        let (watch, result) = self
            .server
            .watches
            .watch(&self.app.app, &channel, &self.client, query)
            .await?;
        self.watches.insert(watch, channel.clone());
        let reply = json!({
            "query": watch.to_string(),
            "documents": result.iter().map(document_value).collect::<Vec<_>>(),
        });
        self.pending_watches.push(PendingWatch {
            id: watch,
            channel,
            result,
        });
        Ok(wire::result_frame(id, &reply))
    }

    pub(super) fn doc_unwatch(
        &mut self,
        id: u64,
        params: UnwatchParams,
    ) -> Result<Frame, ErrorReply> {
        let watch = params
            .query
            .parse::<u64>()
            .ok()
            .filter(|watch| self.watches.contains_key(watch))
            .ok_or_else(|| ErrorReply::new(codes::UNKNOWN_NAMESPACE, "no such query"))?;
        if let Some(channel) = self.watches.remove(&watch) {
            self.server
                .watches
                .unwatch(&self.app.app.id, &channel, watch);
        }
        Ok(wire::result_frame(id, &json!({})))
    }

    /// Lets the watches whose replies are now queued push their changes.
    pub(super) fn activate_watches(&mut self) {
        for pending in std::mem::take(&mut self.pending_watches) {
            self.server.watches.activate(
                &self.app.app.id,
                &pending.channel,
                pending.id,
                &pending.result,
            );
        }
    }

    /// Ends every watch of the connection, as it closes.
    pub(super) fn end_watches(&mut self) {
        for (watch, channel) in std::mem::take(&mut self.watches) {
            self.server
                .watches
                .unwatch(&self.app.app.id, &channel, watch);
        }
    }

    /// A channel whose documents this connection may read.
    async fn document_channel(&self, name: &str) -> Result<ChannelName, ErrorReply> {
        let channel = self.readable(name).await?;
        documents::documents_namespace(&self.app, &channel)?;
        Ok(channel)
    }
}
