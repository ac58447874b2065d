//! The rules of `POST /v1/sessions/{id}/events` (`cma-api.md` §4.2, `cma-behaviour.md` E):
//! which events a session accepts in its current state, checked for the whole request before
//! anything is written (all or nothing).

use hangar_protocol::content::ContentBlock;
use hangar_protocol::error::ApiError;
use hangar_protocol::event::{Confirmation, EventBody};
use hangar_protocol::event_params::EventParams;
use hangar_protocol::session::{Session, SessionStatus};

use crate::harness::runner::primary_thread_id;
use crate::harness::state::{PendingKind, RuntimeState};
use crate::limits::*;

/// A validated event: its body, whether it is processed on receipt, and whether it is kept
/// at all (an interrupt to a session whose budget is spent is accepted and dropped).
pub(crate) struct Accepted {
    pub body: EventBody,
    pub processed_on_receipt: bool,
    pub keep: bool,
}

/// What the checks need to know about the session.
pub(crate) struct SessionView<'a> {
    pub session: &'a Session,
    pub runtime: &'a RuntimeState,
    /// The session's environment is `self_hosted` (read only when a request needs it).
    pub self_hosted: bool,
    /// The session has a budget and has spent it.
    pub budget_reached: bool,
}

pub(crate) fn check_request(
    events: Vec<EventParams>,
    view: &SessionView<'_>,
) -> Result<Vec<Accepted>, ApiError> {
    if events.is_empty() {
        return Err(ApiError::invalid("events: must contain at least one event"));
    }
    if events.len() > MAX_EVENTS_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "events: at most {MAX_EVENTS_PER_REQUEST} events per request (got {})",
            events.len()
        )));
    }
    let session = view.session;
    if session.archived_at.is_some() {
        return Err(ApiError::invalid(
            "Cannot send events to an archived session.",
        ));
    }
    if session.status == SessionStatus::Terminated {
        return Err(ApiError::invalid(
            "Cannot send events to a terminated session.",
        ));
    }
    check_system_message_placement(&events)?;
    let mut answered: Vec<String> = Vec::new();
    let mut accepted = Vec::with_capacity(events.len());
    for (i, event) in events.into_iter().enumerate() {
        let field = format!("events[{i}]");
        accepted.push(check_event(&field, event, view, &mut answered)?);
    }
    Ok(accepted)
}

fn check_event(
    field: &str,
    event: EventParams,
    view: &SessionView<'_>,
    answered: &mut Vec<String>,
) -> Result<Accepted, ApiError> {
    let queued = |body| Accepted {
        body,
        processed_on_receipt: false,
        keep: true,
    };
    Ok(match event {
        EventParams::UserMessage(_) if view.budget_reached => {
            return Err(ApiError::invalid(format!(
                "{field}: the session has spent its budget; raise `budget.max_list_cost` or \
                 remove the budget (POST /v1/sessions/{}) to continue",
                view.session.id
            )));
        }
        EventParams::UserInterrupt(_) if view.budget_reached => Accepted {
            body: EventBody::UserInterrupt {
                session_thread_id: None,
            },
            processed_on_receipt: true,
            keep: false,
        },
        EventParams::UserMessage(p) => {
            check_content(
                field,
                &p.content,
                &["text", "image", "document", "redacted"],
                true,
            )?;
            queued(EventBody::UserMessage { content: p.content })
        }
        EventParams::UserInterrupt(p) => {
            if let Some(thread) = &p.session_thread_id
                && *thread != primary_thread_id(&view.session.id)
            {
                return Err(ApiError::invalid(format!(
                    "{field}.session_thread_id: thread `{thread}` does not belong to this session"
                )));
            }
            queued(EventBody::UserInterrupt {
                session_thread_id: p.session_thread_id,
            })
        }
        EventParams::UserToolConfirmation(p) => {
            expect_pending(
                field,
                "tool_use_id",
                &p.tool_use_id,
                PendingKind::Confirmation,
                view,
                answered,
            )?;
            match (&p.result, &p.deny_message) {
                (Confirmation::Allow, Some(_)) => {
                    return Err(ApiError::invalid(format!(
                        "{field}.deny_message: only allowed when result is `deny`"
                    )));
                }
                (_, Some(m)) if m.chars().count() > MAX_DENY_MESSAGE_CHARS => {
                    return Err(ApiError::invalid(format!(
                        "{field}.deny_message: at most {MAX_DENY_MESSAGE_CHARS} characters"
                    )));
                }
                _ => {}
            }
            queued(EventBody::UserToolConfirmation {
                tool_use_id: p.tool_use_id,
                result: p.result,
                deny_message: p.deny_message,
                session_thread_id: None,
            })
        }
        EventParams::UserCustomToolResult(p) => {
            let answer = Answer {
                key: "custom_tool_use_id",
                id: &p.custom_tool_use_id,
                kind: PendingKind::CustomResult,
            };
            check_result(field, &answer, p.content.as_deref(), view, answered)?;
            received(EventBody::UserCustomToolResult {
                custom_tool_use_id: p.custom_tool_use_id,
                content: p.content,
                is_error: p.is_error,
                session_thread_id: None,
            })
        }
        EventParams::UserToolResult(p) => {
            if !view.self_hosted {
                return Err(ApiError::invalid(format!(
                    "{field}: user.tool_result is only accepted for sessions in self_hosted \
                     environments; this session's environment runs its tools itself"
                )));
            }
            let answer = Answer {
                key: "tool_use_id",
                id: &p.tool_use_id,
                kind: PendingKind::ClientResult,
            };
            check_result(field, &answer, p.content.as_deref(), view, answered)?;
            received(EventBody::UserToolResult {
                tool_use_id: p.tool_use_id,
                content: p.content,
                is_error: p.is_error,
                session_thread_id: None,
            })
        }
        EventParams::UserDefineOutcome(_) => {
            return Err(ApiError::invalid(format!(
                "{field}: user.define_outcome is not supported by this server yet (outcome \
                 evaluation is not implemented)"
            )));
        }
        EventParams::SystemMessage(p) => {
            check_content(field, &p.content, &["text"], true)?;
            queued(EventBody::SystemMessage { content: p.content })
        }
    })
}

/// A tool result: processed on receipt.
fn received(body: EventBody) -> Accepted {
    Accepted {
        body,
        processed_on_receipt: true,
        keep: true,
    }
}

/// Which pending tool use an answer names.
struct Answer<'a> {
    key: &'static str,
    id: &'a str,
    kind: PendingKind,
}

/// A tool result must answer a pending call of its kind, once, with result-type blocks.
fn check_result(
    field: &str,
    answer: &Answer<'_>,
    content: Option<&[ContentBlock]>,
    view: &SessionView<'_>,
    answered: &mut Vec<String>,
) -> Result<(), ApiError> {
    expect_pending(field, answer.key, answer.id, answer.kind, view, answered)?;
    let allowed = ["text", "image", "document", "search_result"];
    check_content(field, content.unwrap_or_default(), &allowed, false)
}

/// `system.message`: at most one, last, right after the message or result it accompanies.
fn check_system_message_placement(events: &[EventParams]) -> Result<(), ApiError> {
    let positions: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, EventParams::SystemMessage(_)))
        .map(|(i, _)| i)
        .collect();
    match positions.as_slice() {
        [] => Ok(()),
        [i] if *i + 1 == events.len()
            && *i > 0
            && matches!(
                events[*i - 1],
                EventParams::UserMessage(_)
                    | EventParams::UserToolResult(_)
                    | EventParams::UserCustomToolResult(_)
            ) =>
        {
            Ok(())
        }
        [i] => Err(ApiError::invalid(format!(
            "events[{i}]: a system.message must be the last event and immediately follow the \
             user.message, user.tool_result or user.custom_tool_result it accompanies"
        ))),
        _ => Err(ApiError::invalid(
            "events: at most one system.message per request",
        )),
    }
}

fn expect_pending(
    field: &str,
    key: &str,
    id: &str,
    kind: PendingKind,
    view: &SessionView<'_>,
    answered: &mut Vec<String>,
) -> Result<(), ApiError> {
    let shown: String = id.chars().take(128).collect();
    match view.runtime.pending(id) {
        Some(p) if p.kind == kind => {}
        Some(p) => {
            return Err(ApiError::invalid(format!(
                "{field}.{key}: `{shown}` waits for a {}, not a {}",
                p.kind.answered_by(),
                kind.answered_by()
            )));
        }
        None => {
            return Err(ApiError::invalid(format!(
                "{field}.{key}: `{shown}` is not a tool use awaiting a {} in this session",
                kind.answered_by()
            )));
        }
    }
    if answered.iter().any(|a| a == id) {
        return Err(ApiError::invalid(format!(
            "{field}.{key}: `{shown}` is answered twice in this request"
        )));
    }
    answered.push(id.to_owned());
    Ok(())
}

fn check_content(
    field: &str,
    content: &[ContentBlock],
    allowed: &[&str],
    required: bool,
) -> Result<(), ApiError> {
    if required && content.is_empty() {
        return Err(ApiError::invalid(format!(
            "{field}.content: must contain at least one block"
        )));
    }
    if content.len() > MAX_CONTENT_BLOCKS {
        return Err(ApiError::invalid(format!(
            "{field}.content: at most {MAX_CONTENT_BLOCKS} blocks (got {})",
            content.len()
        )));
    }
    for (i, block) in content.iter().enumerate() {
        let at = format!("{field}.content[{i}]");
        if !allowed.contains(&block.kind()) {
            return Err(ApiError::invalid(format!(
                "{at}.type: `{}` is not allowed here; expected one of {}",
                block.kind(),
                allowed.join(", ")
            )));
        }
        match block {
            ContentBlock::Text(t) if t.text.is_empty() => {
                return Err(ApiError::invalid(format!("{at}.text: must not be empty")));
            }
            ContentBlock::Text(t) if t.text.chars().count() > MAX_TEXT_BLOCK_CHARS => {
                return Err(ApiError::invalid(format!(
                    "{at}.text: at most {MAX_TEXT_BLOCK_CHARS} characters"
                )));
            }
            ContentBlock::Image(image) => {
                if let hangar_protocol::content::ImageSource::File { file_id } = &image.source {
                    return Err(ApiError::invalid(format!(
                        "{at}.source.file_id: file `{file_id}` not found (no files API on this server)"
                    )));
                }
            }
            ContentBlock::Document(doc) => {
                if let hangar_protocol::content::DocumentSource::File { file_id } = &doc.source {
                    return Err(ApiError::invalid(format!(
                        "{at}.source.file_id: file `{file_id}` not found (no files API on this server)"
                    )));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
