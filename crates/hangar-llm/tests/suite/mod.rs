//! Test modules, one per concern, plus shared helpers in `support`.

mod anthropic;
mod common;
mod live_llama;
mod mock_server;
mod openai_chat;
mod openai_responses;
mod router;
mod support;
