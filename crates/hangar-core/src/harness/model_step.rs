//! One model request of a turn: the `span.model_request_start/end` pair, the streamed
//! response (previews on the bus as it arrives), the response's events, and retries of
//! retryable failures (`session.error` with `retrying`, `session.status_rescheduled`, a wait,
//! `session.status_running` again).

use hangar_protocol::event::{
    EventBody, RetryStatus, SessionErrorObject, SessionErrorType, SpanModelUsage,
};
use hangar_protocol::ids::IdKind;
use hangar_protocol::session::SessionStatus;
use tokio_util::sync::CancellationToken;

use super::RunnerError;
use super::response::{ModelResponse, ResponseBuilder};
use super::runner::Runner;
use super::tool_calls::PlannedCall;
use crate::model::{ModelError, ModelEvent, ModelRequest, ModelUsage};

/// How a model step ended.
pub(super) enum Step {
    /// The response is committed; its tool calls are planned.
    Response(ModelResponse, Vec<PlannedCall>),
    /// The turn was interrupted while the model was working or while waiting to retry.
    Interrupted,
    /// The request failed for good (`session.error` with `exhausted` is committed).
    Failed,
}

enum StreamEnd {
    Cancelled,
    Failed(ModelError),
}

impl Runner {
    pub(super) async fn model_step(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<Step, RunnerError> {
        let mut attempt = 1;
        loop {
            let start_id = IdKind::Event.mint();
            // Counted in memory; the count is stored with the next write of the session row.
            self.runtime.turn_requests += 1;
            let start =
                Self::event_with_id(start_id.clone(), &EventBody::ModelRequestStart {}, None)?;
            self.commit(vec![start], Vec::new(), None).await?;
            let failure = match self.stream_response(cancel).await {
                Ok(response) => {
                    let plan = self.commit_response(&start_id, &response).await?;
                    return Ok(Step::Response(response, plan));
                }
                Err(failure) => failure,
            };
            // A server going down is not an interrupt: the open span is closed by the runner
            // that resumes the turn.
            self.stop_if_asked()?;
            self.close_span(&start_id).await?;
            let error = match failure {
                StreamEnd::Cancelled => return Ok(Step::Interrupted),
                StreamEnd::Failed(error) => error,
            };
            tracing::warn!(session = %self.session_id, %error, attempt, "model request failed");
            if !error.is_retryable() || attempt >= self.h.config.retry.max_attempts {
                self.report_error(&error, RetryStatus::Exhausted).await?;
                return Ok(Step::Failed);
            }
            self.report_error(&error, RetryStatus::Retrying).await?;
            let delay = self.h.config.retry.delay(attempt, error.retry_after());
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = cancel.cancelled() => {
                    self.stop_if_asked()?;
                    return Ok(Step::Interrupted);
                }
            }
            self.announce_running().await?;
            attempt += 1;
        }
    }

    fn model_request(&self) -> ModelRequest {
        let agent = &self.session.value.agent.definition;
        ModelRequest {
            model: agent.model.id.clone(),
            system: self.transcript.system_prompt(agent.system.as_deref()),
            messages: self.transcript.messages(),
            tools: self.catalog.specs.clone(),
            max_tokens: self.h.config.max_output_tokens,
        }
    }

    async fn stream_response(
        &mut self,
        cancel: &CancellationToken,
    ) -> Result<ModelResponse, StreamEnd> {
        let request = self.model_request();
        let mut stream = tokio::select! {
            opened = self.h.model.stream(request) => opened.map_err(StreamEnd::Failed)?,
            () = cancel.cancelled() => return Err(StreamEnd::Cancelled),
        };
        let mut builder = ResponseBuilder::default();
        loop {
            let next = tokio::select! {
                next = stream.next() => next,
                () = cancel.cancelled() => return Err(StreamEnd::Cancelled),
            };
            let event = match next {
                Some(Ok(event)) => event,
                Some(Err(error)) => return Err(StreamEnd::Failed(error)),
                None => {
                    return Err(StreamEnd::Failed(ModelError::StreamBroken(
                        "the response ended without its final event".to_owned(),
                    )));
                }
            };
            match event {
                ModelEvent::ThinkingStarted => {
                    let preview = builder.thinking_started();
                    self.h.log.preview(&self.session_id, &preview);
                }
                ModelEvent::Thinking { text, signature } => builder.thinking(text, signature, None),
                ModelEvent::RedactedThinking { data } => {
                    builder.thinking(String::new(), None, Some(data));
                }
                ModelEvent::TextDelta { index, text } => {
                    for preview in builder.text(index, &text) {
                        self.h.log.preview(&self.session_id, &preview);
                    }
                }
                ModelEvent::ToolUse { name, input, .. } => builder.tool_call(name, input),
                ModelEvent::Finished { stop_reason, usage } => {
                    return Ok(builder.finish(stop_reason, usage));
                }
            }
        }
    }

    /// Ends an open span as failed (no usage is known for a broken or cancelled request).
    pub(super) async fn close_span(&mut self, start_id: &str) -> Result<(), RunnerError> {
        let end = Self::event(&span_end(start_id, &ModelUsage::default(), true))?;
        self.commit(vec![end], Vec::new(), None).await
    }

    async fn report_error(
        &mut self,
        error: &ModelError,
        retry_status: RetryStatus,
    ) -> Result<(), RunnerError> {
        let mut events = vec![Self::event(&EventBody::SessionError {
            error: SessionErrorObject {
                r#type: error_type(error),
                message: error.to_string(),
                retry_status,
                mcp_server_name: None,
            },
        })?];
        if retry_status != RetryStatus::Retrying {
            return self.commit(events, Vec::new(), None).await;
        }
        events.push(Self::event(&EventBody::ThreadStatusRescheduled {
            session_thread_id: self.thread_id(),
            agent_name: self.agent_name(),
        })?);
        events.push(Self::event(&EventBody::StatusRescheduled {})?);
        self.commit(
            events,
            Vec::new(),
            Some(&|s| s.status = SessionStatus::Rescheduling),
        )
        .await
    }

    /// `session.status_running` and the primary thread's running event; status `running`.
    pub(super) async fn announce_running(&mut self) -> Result<(), RunnerError> {
        let events = vec![
            Self::event(&EventBody::StatusRunning {})?,
            Self::event(&EventBody::ThreadStatusRunning {
                session_thread_id: self.thread_id(),
                agent_name: self.agent_name(),
            })?,
        ];
        self.commit(
            events,
            Vec::new(),
            Some(&|s| s.status = SessionStatus::Running),
        )
        .await
    }
}

pub(super) fn span_end(start_id: &str, usage: &ModelUsage, is_error: bool) -> EventBody {
    EventBody::ModelRequestEnd {
        model_request_start_id: start_id.to_owned(),
        model_usage: SpanModelUsage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cache_creation_input_tokens: usage.cache_creation_input_tokens,
            cache_read_input_tokens: usage.cache_read_input_tokens,
        },
        is_error,
    }
}

fn error_type(error: &ModelError) -> SessionErrorType {
    match error {
        ModelError::RateLimited { .. } => SessionErrorType::ModelRateLimitedError,
        ModelError::Overloaded { .. } => SessionErrorType::ModelOverloadedError,
        ModelError::Billing { .. } => SessionErrorType::BillingError,
        _ => SessionErrorType::ModelRequestFailedError,
    }
}
