//! Test modules, one per concern, plus shared helpers in `support`.

mod anthropic;
mod common;
mod live_llama;
mod openai_chat;
mod openai_responses;
mod router;
mod support;
