//! The moderation queue: reports on messages, filed by users or by a
//! namespace's filter, listed and resolved by moderators.

use std::fmt;
use std::str::FromStr;

use parley_core::ChannelName;

use crate::sql::reports as sql;
use crate::{MessageId, Store, StoreError, Timestamp};

/// The longest reason a report may give, in characters.
pub const MAX_REASON_LENGTH: usize = 500;

/// A report's id, unique in the store.
pub type ReportId = i64;

/// Where a report stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// Waiting for a moderator.
    Open,
    /// A moderator dealt with it.
    Resolved,
}

impl ReportStatus {
    /// The status's name: `open` or `resolved`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReportStatus {
    type Err = StoreError;

    fn from_str(text: &str) -> Result<Self, StoreError> {
        match text {
            "open" => Ok(Self::Open),
            "resolved" => Ok(Self::Resolved),
            other => Err(StoreError::InvalidInput(format!(
                "report status {other:?} is not open or resolved"
            ))),
        }
    }
}

/// A report on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The report's id.
    pub id: ReportId,
    /// The reported message.
    pub message_id: MessageId,
    /// The message's channel.
    pub channel: ChannelName,
    /// Who reported it (`system` for the namespace's filter).
    pub reporter: String,
    /// Why.
    pub reason: String,
    /// Open or resolved.
    pub status: ReportStatus,
    /// What the moderator did (`dismiss`, `hide`, `delete`), once resolved.
    pub action: Option<String>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// When it was filed.
    pub created_at: Timestamp,
    /// When it was resolved.
    pub resolved_at: Option<Timestamp>,
}

/// A page of reports, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPage {
    /// The reports.
    pub reports: Vec<Report>,
    /// Whether older reports match too (page on with `before` set to the
    /// last id).
    pub has_more: bool,
}

impl Store {
    /// Files a report on a message of the app. A reporter who reported the
    /// message before gets that report back, and nothing new is filed.
    pub async fn report(
        &self,
        app: &str,
        message_id: MessageId,
        reporter: &str,
        reason: &str,
    ) -> Result<Report, StoreError> {
        let length = reason.chars().count();
        if reason.trim().is_empty() || length > MAX_REASON_LENGTH {
            return Err(StoreError::InvalidInput(format!(
                "reason must be 1 to {MAX_REASON_LENGTH} characters"
            )));
        }
        let mut connection = self.pool().acquire().await?;
        let channel = crate::sql::messages::channel_of(&mut connection, app, message_id)
            .await?
            .ok_or(StoreError::NotFound("message"))?;
        sql::insert(
            &mut connection,
            app,
            message_id,
            &channel,
            reporter,
            reason,
            Timestamp::now(),
        )
        .await
    }

    /// A page of the app's reports with `status` (all when `None`), newest
    /// first, older than report `before` when given.
    pub async fn reports(
        &self,
        app: &str,
        status: Option<ReportStatus>,
        before: Option<ReportId>,
        limit: usize,
    ) -> Result<ReportPage, StoreError> {
        let limit = limit.clamp(1, crate::MAX_PAGE_SIZE);
        let mut connection = self.pool().acquire().await?;
        let mut reports = sql::page(&mut connection, app, status, before, limit + 1).await?;
        let has_more = reports.len() > limit;
        reports.truncate(limit);
        Ok(ReportPage { reports, has_more })
    }

    /// One report of the app.
    pub async fn report_by_id(&self, app: &str, id: ReportId) -> Result<Report, StoreError> {
        let mut connection = self.pool().acquire().await?;
        sql::find(&mut connection, app, id)
            .await?
            .ok_or(StoreError::NotFound("report"))
    }

    /// Marks an open report resolved with `action`, by `moderator`. A report
    /// resolved before is refused.
    pub async fn resolve_report(
        &self,
        app: &str,
        id: ReportId,
        action: &str,
        moderator: &str,
    ) -> Result<Report, StoreError> {
        let mut connection = self.pool().acquire().await?;
        if !sql::resolve(
            &mut connection,
            app,
            id,
            action,
            moderator,
            Timestamp::now(),
        )
        .await?
        {
            return match sql::find(&mut connection, app, id).await? {
                None => Err(StoreError::NotFound("report")),
                Some(_) => Err(StoreError::InvalidInput(format!(
                    "report {id} is resolved already"
                ))),
            };
        }
        sql::find(&mut connection, app, id)
            .await?
            .ok_or(StoreError::NotFound("report"))
    }
}
