//! The publish path of a channel, the one every publisher takes: through
//! the store in a persisted namespace (`persist = true`), through the
//! node's memory broker otherwise. Native `publish`, the HTTP publish
//! routes, Pusher client events and Pusher HTTP triggers all publish here,
//! so each channel's offsets come from one stream: a publication in a
//! persisted channel is durable, answered after its commit, and recovered
//! from the store like every other publication of that channel.

use bytes::Bytes;
use parley_core::{ChannelName, ClientInfo, StreamPosition};

use crate::chat::{Chat, ChatError, chat_namespace};
use crate::state::AppContext;

/// Publishes `data` to `channel` of `app` by the channel's path and returns
/// the publication's stream position. `info` names the publishing
/// connection (which Pusher connections do not hear back) and its user.
pub async fn publish(
    chat: &Chat,
    app: &AppContext,
    channel: &ChannelName,
    data: Bytes,
    info: Option<ClientInfo>,
) -> Result<StreamPosition, ChatError> {
    if chat_namespace(app, channel).is_ok() {
        let stored = chat
            .store()
            .publish(app.app.id.clone(), channel.clone(), data, info)
            .await?;
        return Ok(stored.position);
    }
    Ok(chat.node().publish(&app.app, channel, data, info).await?)
}
