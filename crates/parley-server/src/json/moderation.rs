//! The JSON of moderation state: restrictions, block lists and reports.

use std::fmt::Write;

use parley_store::{Report, Restriction};

fn quoted(out: &mut String, value: &str) {
    out.push_str(&serde_json::to_string(value).expect("strings serialize to JSON"));
}

/// `{"user":…,"kind":"mute"|"ban","channel":…|null,"expires_at":ms|null,
/// "created_by":…,"created_at":ms}`.
pub fn restriction_json(restriction: &Restriction) -> String {
    let mut out = String::from(r#"{"user":"#);
    quoted(&mut out, &restriction.user);
    let _ = write!(out, r#","kind":"{}","channel":"#, restriction.kind);
    match &restriction.channel {
        Some(channel) => quoted(&mut out, channel.as_str()),
        None => out.push_str("null"),
    }
    out.push_str(r#","expires_at":"#);
    match restriction.expires_at {
        Some(at) => {
            let _ = write!(out, "{}", at.as_millis());
        }
        None => out.push_str("null"),
    }
    out.push_str(r#","created_by":"#);
    quoted(&mut out, &restriction.created_by);
    let _ = write!(
        out,
        r#","created_at":{}}}"#,
        restriction.created_at.as_millis()
    );
    out
}

/// `[restriction, …]`.
pub fn restrictions_json(restrictions: &[Restriction]) -> String {
    let parts: Vec<String> = restrictions.iter().map(restriction_json).collect();
    format!("[{}]", parts.join(","))
}

/// `{"id":"3","message_id":"12","channel":…,"reporter":…,"reason":…,
/// "status":"open"|"resolved","action"?,"resolved_by"?,"created_at":ms,
/// "resolved_at"?}`.
pub fn report_json(report: &Report) -> String {
    let mut out = format!(
        r#"{{"id":"{}","message_id":"{}","channel":"#,
        report.id, report.message_id
    );
    quoted(&mut out, report.channel.as_str());
    out.push_str(r#","reporter":"#);
    quoted(&mut out, &report.reporter);
    out.push_str(r#","reason":"#);
    quoted(&mut out, &report.reason);
    let _ = write!(out, r#","status":"{}""#, report.status);
    if let Some(action) = &report.action {
        out.push_str(r#","action":"#);
        quoted(&mut out, action);
    }
    if let Some(by) = &report.resolved_by {
        out.push_str(r#","resolved_by":"#);
        quoted(&mut out, by);
    }
    let _ = write!(out, r#","created_at":{}"#, report.created_at.as_millis());
    if let Some(at) = report.resolved_at {
        let _ = write!(out, r#","resolved_at":{}"#, at.as_millis());
    }
    out.push('}');
    out
}

/// `{"reports":[…],"has_more":bool}`.
pub fn report_page_json(reports: &[Report], has_more: bool) -> String {
    let parts: Vec<String> = reports.iter().map(report_json).collect();
    format!(
        r#"{{"reports":[{}],"has_more":{has_more}}}"#,
        parts.join(",")
    )
}

/// `{"blocks":["user", …]}`.
pub fn blocks_json(blocks: &[String]) -> String {
    format!(
        r#"{{"blocks":{}}}"#,
        serde_json::to_string(blocks).expect("strings serialize to JSON")
    )
}
