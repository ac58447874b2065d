//! Tool calls of a response: how each is handled (permission policy, custom tool, a
//! self-hosted sandbox tool, or refused up front), the events that record the response, and
//! the execution of allowed built-in calls through the [`crate::tool_runtime::ToolRuntime`].

use hangar_protocol::agent::{BuiltinToolConfig, PermissionPolicy};
use hangar_protocol::content::{ContentBlock, ImageBlock, ImageSource};
use hangar_protocol::environment::EnvironmentConfig;
use hangar_protocol::event::{
    Evaluation, EventBody, Permission, RetryStatus, SessionErrorObject, SessionErrorType,
};
use tokio_util::sync::CancellationToken;

use super::builtin_tools::runs_in_sandbox;
use super::catalog::ToolKind;
use super::model_step::span_end;
use super::response::{Item, ModelResponse};
use super::runner::Runner;
use super::state::{PendingAction, PendingKind};
use super::transcript::ThinkingPrivate;
use super::{MAX_TOOL_RESULT_CHARS, RunnerError};
use crate::event_store::EncodedEvent;
use crate::model::{Block, MediaSource};
use crate::tool_runtime::{ToolCall, ToolContext, ToolOutput};

/// What happens to one tool call.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    /// Run now in the tool runtime.
    Run(Box<BuiltinToolConfig>),
    /// Wait for the client.
    Wait(PendingKind),
    /// Refused before any policy applied; the result explains why.
    Refused(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct PlannedCall {
    pub id: String,
    pub name: String,
    pub input: serde_json::Value,
    pub action: Action,
}

/// The outcome of running a response's allowed calls.
pub(super) enum CallsOutcome {
    /// All ran (or were cancelled); these wait for the client.
    Done(Vec<PendingAction>),
    /// The runtime itself failed; a `session.error` is committed and the turn must end.
    RuntimeFailed,
}

impl Runner {
    fn self_hosted(&self) -> bool {
        matches!(self.environment.config, EnvironmentConfig::SelfHosted)
    }

    fn plan(&self, id: &str, name: &str, input: &serde_json::Value) -> PlannedCall {
        let action = match self.catalog.kind(name) {
            None => Action::Refused(format!(
                "The tool `{name}` is not available to this agent; use one of the tools offered."
            )),
            Some(ToolKind::Custom) => Action::Wait(PendingKind::CustomResult),
            Some(ToolKind::Builtin(config)) => match config.permission_policy {
                PermissionPolicy::AlwaysAllow
                    if self.self_hosted() && runs_in_sandbox(config.name) =>
                {
                    Action::Wait(PendingKind::ClientResult)
                }
                PermissionPolicy::AlwaysAllow => Action::Run(config.clone()),
                PermissionPolicy::AlwaysAsk | PermissionPolicy::Auto => {
                    Action::Wait(PendingKind::Confirmation)
                }
            },
        };
        PlannedCall {
            id: id.to_owned(),
            name: name.to_owned(),
            input: input.clone(),
            action,
        }
    }

    fn tool_use_body(&self, call: &PlannedCall) -> EventBody {
        let policy = match self.catalog.kind(&call.name) {
            Some(ToolKind::Builtin(config)) => Some(config.permission_policy),
            _ => None,
        };
        let (permission, evaluation) = match (&call.action, policy) {
            (Action::Refused(_), _) | (_, None) => (Permission::Deny, None),
            (_, Some(PermissionPolicy::AlwaysAllow)) => {
                (Permission::Allow, Some(Evaluation::AlwaysAllow))
            }
            (_, Some(PermissionPolicy::AlwaysAsk)) => {
                (Permission::Ask, Some(Evaluation::AlwaysAsk))
            }
            // No risk classifier exists here, so `auto` always asks, and says why.
            (_, Some(PermissionPolicy::Auto)) => (
                Permission::Ask,
                Some(Evaluation::Auto {
                    evaluated_permission: serde_json::json!({"type": "ask",
                        "reason_code": "indeterminate"}),
                }),
            ),
        };
        EventBody::AgentToolUse {
            name: call.name.clone(),
            input: call.input.clone(),
            evaluated_permission: Some(permission),
            evaluation,
        }
    }

    /// Commits the response: reasoning, messages and tool uses in model order, the span end
    /// with usage, and results for calls refused up front; adds the usage to the session.
    pub(super) async fn commit_response(
        &mut self,
        start_id: &str,
        response: &ModelResponse,
    ) -> Result<Vec<PlannedCall>, RunnerError> {
        let mut events = Vec::new();
        let mut plan = Vec::new();
        for item in &response.items {
            match item {
                Item::Thinking {
                    id,
                    text,
                    signature,
                    redacted,
                } => {
                    let private = serde_json::to_value(ThinkingPrivate {
                        text: text.clone(),
                        signature: signature.clone(),
                        redacted: redacted.clone(),
                    })
                    .ok();
                    events.push(Self::event_with_id(
                        id.clone(),
                        &EventBody::AgentThinking {},
                        private.as_ref(),
                    )?);
                }
                Item::Message { id, blocks, .. } => {
                    let content: Vec<ContentBlock> = blocks
                        .iter()
                        .filter(|text| !text.is_empty())
                        .map(ContentBlock::text)
                        .collect();
                    if !content.is_empty() {
                        let body = EventBody::AgentMessage { content };
                        events.push(Self::event_with_id(id.clone(), &body, None)?);
                    }
                }
                Item::ToolCall { id, name, input } => {
                    let call = self.plan(id, name, input);
                    let body = match call.action {
                        Action::Wait(PendingKind::CustomResult) => EventBody::AgentCustomToolUse {
                            name: name.clone(),
                            input: input.clone(),
                        },
                        _ => self.tool_use_body(&call),
                    };
                    events.push(Self::event_with_id(id.clone(), &body, None)?);
                    plan.push(call);
                }
            }
        }
        events.push(Self::event(&span_end(start_id, &response.usage, false))?);
        for call in &plan {
            if let Action::Refused(reason) = &call.action {
                events.push(result_event(&call.id, &ToolOutput::error(reason.clone()))?);
            }
        }
        let usage = response.usage;
        let prices = self.h.config.prices.clone();
        self.commit(
            events,
            Vec::new(),
            Some(&move |s| {
                s.usage.input_tokens += usage.input_tokens;
                s.usage.output_tokens += usage.output_tokens;
                s.usage.cache_read_input_tokens += usage.cache_read_input_tokens;
                s.usage.cache_creation.ephemeral_5m_input_tokens +=
                    usage.cache_creation_input_tokens;
                if let Some(cents) = prices.cost_cents(&s.agent.definition.model.id, &s.usage) {
                    s.usage.list_cost.amount = cents.to_string();
                }
            }),
        )
        .await?;
        Ok(plan)
    }

    /// Runs the calls that may run, in order, and collects those that wait for the client.
    pub(super) async fn run_calls(
        &mut self,
        plan: &[PlannedCall],
        cancel: &CancellationToken,
    ) -> Result<CallsOutcome, RunnerError> {
        let mut waiting = Vec::new();
        for call in plan {
            match &call.action {
                Action::Run(config) => {
                    if cancel.is_cancelled() {
                        // The rest get their results when the interrupted turn ends.
                        continue;
                    }
                    if !self.run_one(call, (**config).clone(), cancel).await? {
                        return Ok(CallsOutcome::RuntimeFailed);
                    }
                }
                Action::Wait(kind) => waiting.push(PendingAction {
                    event_id: call.id.clone(),
                    name: call.name.clone(),
                    kind: *kind,
                }),
                Action::Refused(_) => {}
            }
        }
        Ok(CallsOutcome::Done(waiting))
    }

    /// Runs one built-in call and commits its result. `false` when the runtime failed (the
    /// result and a `session.error` are committed).
    pub(super) async fn run_one(
        &mut self,
        call: &PlannedCall,
        config: BuiltinToolConfig,
        cancel: &CancellationToken,
    ) -> Result<bool, RunnerError> {
        let context = ToolContext {
            session_id: self.session_id.clone(),
            environment: self.environment.clone(),
        };
        let tool_call = ToolCall {
            id: call.id.clone(),
            name: call.name.clone(),
            input: call.input.clone(),
            config,
        };
        let outcome = self
            .h
            .tools
            .run(&context, &tool_call, cancel.child_token())
            .await;
        // A call cut short by the server going down gets its result from the runner that
        // resumes the turn ("the runtime restarted"), not a misleading "cancelled".
        self.stop_if_asked()?;
        match outcome {
            Ok(output) => {
                self.commit(vec![result_event(&call.id, &output)?], Vec::new(), None)
                    .await?;
                Ok(true)
            }
            Err(error) => {
                tracing::error!(session = %self.session_id, %error, "tool runtime failed");
                let events = vec![
                    result_event(&call.id, &ToolOutput::error(error.to_string()))?,
                    Self::event(&EventBody::SessionError {
                        error: SessionErrorObject {
                            r#type: SessionErrorType::UnknownError,
                            message: error.to_string(),
                            retry_status: RetryStatus::Exhausted,
                            mcp_server_name: None,
                        },
                    })?,
                ];
                self.commit(events, Vec::new(), None).await?;
                Ok(false)
            }
        }
    }

    /// Gives every tool use still without a result an error result saying why (interrupt,
    /// restart), so the conversation stays paired.
    pub(super) async fn close_unanswered(&mut self, why: &str) -> Result<(), RunnerError> {
        let events = self
            .transcript
            .unanswered_tool_uses()
            .iter()
            .map(|id| result_event(id, &ToolOutput::error(why)))
            .collect::<Result<Vec<_>, _>>()?;
        if events.is_empty() {
            return Ok(());
        }
        self.commit(events, Vec::new(), None).await
    }
}

/// An `agent.tool_result` for `tool_use_id`, with text capped at [`MAX_TOOL_RESULT_CHARS`].
pub(super) fn result_event(
    tool_use_id: &str,
    output: &ToolOutput,
) -> Result<EncodedEvent, RunnerError> {
    let content = output.content.iter().filter_map(wire_block).collect();
    Runner::event(&EventBody::AgentToolResult {
        tool_use_id: tool_use_id.to_owned(),
        content: Some(content),
        is_error: Some(output.is_error),
    })
}

fn wire_block(block: &Block) -> Option<ContentBlock> {
    match block {
        Block::Text { text } => Some(ContentBlock::text(cap(text))),
        Block::Image {
            source: MediaSource::Base64 { media_type, data },
        } => Some(ContentBlock::Image(ImageBlock {
            source: ImageSource::Base64 {
                media_type: media_type.clone(),
                data: data.clone(),
            },
        })),
        _ => None,
    }
}

fn cap(text: &str) -> String {
    if text.len() <= MAX_TOOL_RESULT_CHARS {
        return text.to_owned();
    }
    let mut end = MAX_TOOL_RESULT_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[output truncated: {} of {} bytes kept]",
        &text[..end],
        end,
        text.len()
    )
}
