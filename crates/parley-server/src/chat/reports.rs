//! Reports: users report messages into the moderation queue; moderators
//! list the queue and resolve reports with an action.

use parley_store::{DeleteMode, Visibility};
use parley_store::{MessageId, Report, ReportId, ReportPage, ReportStatus};

use super::{Actor, Chat, ChatError};
use crate::state::AppContext;

/// What a moderator does when resolving a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Nothing wrong: close the report.
    Dismiss,
    /// Soft-delete the reported message, then close the report.
    Delete,
    /// Hide the reported message (moderators still see it), then close the
    /// report.
    Hide,
}

impl Resolution {
    /// Parses `dismiss` or `delete`.
    pub fn parse(text: &str) -> Result<Self, ChatError> {
        match text {
            "dismiss" => Ok(Self::Dismiss),
            "delete" => Ok(Self::Delete),
            "hide" => Ok(Self::Hide),
            other => Err(ChatError::Invalid(format!(
                "action {other:?} is not dismiss, hide or delete"
            ))),
        }
    }

    /// The action's name, as stored with the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dismiss => "dismiss",
            Self::Delete => "delete",
            Self::Hide => "hide",
        }
    }
}

/// Files a report by `actor` on a message the reporter may read.
pub async fn report(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    message_id: MessageId,
    reason: &str,
) -> Result<Report, ChatError> {
    Ok(chat
        .store()
        .report(&app.app.id, message_id, &actor.user, reason)
        .await?)
}

/// A page of the queue: `status` `open`, `resolved` or all.
pub async fn list(
    chat: &Chat,
    app: &AppContext,
    status: Option<&str>,
    before: Option<ReportId>,
    limit: Option<usize>,
) -> Result<ReportPage, ChatError> {
    let status = match status {
        None | Some("all") => None,
        Some(status) => Some(status.parse::<ReportStatus>()?),
    };
    let limit = super::page_limit(limit)?;
    Ok(chat
        .store()
        .reports(&app.app.id, status, before, limit)
        .await?)
}

/// Resolves an open report: applies the action to the reported message,
/// then closes the report.
pub async fn resolve(
    chat: &Chat,
    app: &AppContext,
    actor: &Actor,
    id: ReportId,
    resolution: Resolution,
) -> Result<Report, ChatError> {
    let report = chat.store().report_by_id(&app.app.id, id).await?;
    super::moderation::require_moderator(chat, app, Some(&report.channel), actor).await?;
    if report.status == ReportStatus::Resolved {
        return Err(ChatError::Invalid(format!(
            "report {id} is resolved already"
        )));
    }
    if resolution != Resolution::Dismiss {
        let message = chat.store().message(&app.app.id, report.message_id).await?;
        let id = report.message_id.to_string();
        match resolution {
            Resolution::Delete if !message.is_deleted() => {
                super::delete(chat, app, &id, actor, DeleteMode::Soft).await?;
            }
            Resolution::Hide if !message.is_deleted() && !message.hidden => {
                super::moderation::hide(chat, app, actor, &id, Visibility::Hidden).await?;
            }
            _ => {}
        }
    }
    Ok(chat
        .store()
        .resolve_report(&app.app.id, id, resolution.as_str(), &actor.user)
        .await?)
}
