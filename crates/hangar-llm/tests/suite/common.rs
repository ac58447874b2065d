//! Behaviour every adapter shares, checked on each wire format against the mock server:
//! streaming, tool calls, stop reasons, usage, HTTP errors, broken streams and timeouts.

use std::time::Duration;

use hangar_core::model::{ModelError, ModelEvent, ModelUsage, StopReason};
use hangar_llm::{ApiKey, HttpSettings};
use hangar_testkit::mock_model::{ContentItem, MockModel, ResponseStep, Script, Step, Usage};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::support::{
    ALL, Flavor, finished, hello, idle, run, run_until_error, text_deltas, text_of, tool_uses,
};

async fn mock(steps: Vec<Step>) -> MockModel {
    MockModel::start(Script::new(steps))
        .await
        .expect("mock starts")
}

#[tokio::test]
async fn text_streams_in_several_deltas_and_finishes_once_with_usage() {
    for flavor in ALL {
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 5,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 4,
        };
        let step = ResponseStep::new(vec![ContentItem::text("Hello, world!")])
            .chunk_chars(3)
            .usage(usage);
        let mock = mock(vec![Step::Response(step)]).await;
        let events = run(&*flavor.client(&mock), hello()).await.expect("stream");
        assert_eq!(text_of(&events, 0), "Hello, world!", "{flavor:?}");
        assert!(
            text_deltas(&events) >= 4,
            "{flavor:?} streamed in pieces: {events:?}"
        );
        let (stop_reason, usage) = finished(&events);
        assert_eq!(stop_reason, StopReason::EndTurn, "{flavor:?}");
        assert_eq!(
            usage,
            ModelUsage {
                input_tokens: 10,
                output_tokens: 5,
                cache_creation_input_tokens: 0,
                cache_read_input_tokens: 4
            },
            "{flavor:?}"
        );
    }
}

#[tokio::test]
async fn several_tool_calls_arrive_whole_with_ids_and_parsed_input() {
    for flavor in ALL {
        let step = ResponseStep::new(vec![
            ContentItem::text("Checking both."),
            ContentItem::tool_use("call_paris", "get_weather", json!({"city": "Paris"})),
            ContentItem::tool_use(
                "call_rome",
                "get_weather",
                json!({"city": "Rome", "units": {"temp": "C"}}),
            ),
            ContentItem::tool_use("call_empty", "noop", json!({})),
        ])
        .chunk_chars(3);
        let mock = mock(vec![Step::Response(step)]).await;
        let events = run(&*flavor.client(&mock), hello()).await.expect("stream");
        assert_eq!(
            tool_uses(&events),
            vec![
                (
                    "call_paris".into(),
                    "get_weather".into(),
                    json!({"city": "Paris"})
                ),
                (
                    "call_rome".into(),
                    "get_weather".into(),
                    json!({"city": "Rome", "units": {"temp": "C"}})
                ),
                ("call_empty".into(), "noop".into(), json!({})),
            ],
            "{flavor:?}"
        );
        assert_eq!(text_of(&events, 0), "Checking both.", "{flavor:?}");
        assert_eq!(finished(&events).0, StopReason::ToolUse, "{flavor:?}");
    }
}

#[tokio::test]
async fn thinking_arrives_whole_after_it_started() {
    for flavor in ALL {
        let step = ResponseStep::new(vec![
            ContentItem::thinking("Weather needs a tool.", "sig-abc"),
            ContentItem::text("Let me check."),
        ])
        .chunk_chars(4);
        let mock = mock(vec![Step::Response(step)]).await;
        let events = run(&*flavor.client(&mock), hello()).await.expect("stream");
        // Only Anthropic carries a signature; the OpenAI formats have no such field.
        let signature = (flavor == Flavor::Anthropic).then(|| "sig-abc".to_owned());
        assert_eq!(events[0], ModelEvent::ThinkingStarted, "{flavor:?}");
        assert_eq!(
            events[1],
            ModelEvent::Thinking {
                text: "Weather needs a tool.".into(),
                signature
            },
            "{flavor:?}"
        );
        assert_eq!(text_of(&events, 0), "Let me check.", "{flavor:?}");
    }
}

#[tokio::test]
async fn stop_reasons_map_to_the_port() {
    let cases = [
        ("max_tokens", StopReason::MaxTokens, ALL.as_slice()),
        (
            "refusal",
            StopReason::Refusal,
            &[Flavor::Anthropic, Flavor::Chat],
        ),
        (
            "stop_sequence",
            StopReason::StopSequence,
            &[Flavor::Anthropic],
        ),
        (
            "pause_turn",
            StopReason::Other("pause_turn".into()),
            &[Flavor::Anthropic],
        ),
    ];
    for (wire, expected, flavors) in cases {
        for flavor in flavors {
            let step = ResponseStep::new(vec![ContentItem::text("partial")]).stop_reason(wire);
            let mock = mock(vec![Step::Response(step)]).await;
            let events = run(&*flavor.client(&mock), hello()).await.expect("stream");
            assert_eq!(finished(&events).0, expected, "{flavor:?} {wire}");
        }
    }
}

#[tokio::test]
async fn http_429_is_rate_limited_with_the_retry_after_duration() {
    for flavor in ALL {
        let step = Step::http_error(429, "rate_limit_error", "slow down").with_retry_after("3");
        let mock = mock(vec![step]).await;
        let error = run(&*flavor.client(&mock), hello()).await.expect_err("429");
        assert_eq!(
            error,
            ModelError::RateLimited {
                message: "rate_limit_error: slow down".into(),
                retry_after: Some(Duration::from_secs(3)),
            },
            "{flavor:?}"
        );
        assert!(error.is_retryable());
    }
}

#[tokio::test]
async fn http_statuses_map_to_error_kinds() {
    for flavor in ALL {
        let mock = mock(vec![
            Step::http_error(529, "overloaded_error", "Overloaded"),
            Step::http_error(500, "api_error", "Internal server error"),
            Step::http_error(401, "authentication_error", "invalid x-api-key"),
            Step::http_error(400, "invalid_request_error", "prompt is too long"),
        ])
        .await;
        let client = flavor.client(&mock);
        let overloaded = run(&*client, hello()).await.expect_err("529");
        assert!(
            matches!(
                overloaded,
                ModelError::Overloaded {
                    retry_after: None,
                    ..
                }
            ),
            "{flavor:?} {overloaded:?}"
        );
        let server = run(&*client, hello()).await.expect_err("500");
        assert!(
            matches!(server, ModelError::Server { status: 500, .. }),
            "{flavor:?} {server:?}"
        );
        let auth = run(&*client, hello()).await.expect_err("401");
        assert!(
            matches!(auth, ModelError::Authentication { status: 401, .. }),
            "{flavor:?}"
        );
        assert!(!auth.is_retryable());
        let invalid = run(&*client, hello()).await.expect_err("400");
        assert_eq!(
            invalid,
            ModelError::InvalidRequest {
                status: 400,
                message: "invalid_request_error: prompt is too long".into()
            },
            "{flavor:?}"
        );
    }
}

#[tokio::test]
async fn dropped_connection_mid_stream_is_stream_broken_not_a_short_answer() {
    for flavor in ALL {
        let response =
            ResponseStep::new(vec![ContentItem::text("This answer never ends properly.")])
                .chunk_chars(4);
        let mock = mock(vec![Step::broken(5, response)]).await;
        let (events, error) = run_until_error(&*flavor.client(&mock), hello()).await;
        assert!(
            matches!(error, Some(ModelError::StreamBroken(_))),
            "{flavor:?}: {error:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ModelEvent::Finished { .. })),
            "{flavor:?}: {events:?}"
        );
    }
}

#[tokio::test]
async fn well_framed_stream_that_stops_early_is_stream_broken() {
    for flavor in ALL {
        let response =
            ResponseStep::new(vec![ContentItem::text("Cut short by a proxy.")]).chunk_chars(4);
        let mock = mock(vec![Step::truncated(4, response)]).await;
        let (events, error) = run_until_error(&*flavor.client(&mock), hello()).await;
        assert!(
            matches!(&error, Some(ModelError::StreamBroken(m)) if m.contains("ended before")),
            "{flavor:?}: {error:?}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ModelEvent::Finished { .. }))
        );
    }
}

#[tokio::test]
async fn overloaded_error_event_mid_stream_is_overloaded() {
    for flavor in ALL {
        let response = ResponseStep::new(vec![ContentItem::text("Half an answer")]).chunk_chars(4);
        let mock = mock(vec![Step::stream_error(
            4,
            "overloaded_error",
            "Overloaded",
            response,
        )])
        .await;
        let (events, error) = run_until_error(&*flavor.client(&mock), hello()).await;
        assert!(
            matches!(&error, Some(ModelError::Overloaded { message, .. }) if message.contains("Overloaded")),
            "{flavor:?}: {error:?}"
        );
        assert!(error.is_some_and(|e| e.is_retryable()));
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, ModelEvent::Finished { .. }))
        );
    }
}

#[tokio::test]
async fn silent_provider_hits_the_idle_timeout() {
    for flavor in ALL {
        let slow = ResponseStep::new(vec![ContentItem::text("slow")]).event_delay_ms(2_000);
        let late = ResponseStep::new(vec![ContentItem::text("late")]).delay_ms(2_000);
        let mock = mock(vec![Step::Response(slow), Step::Response(late)]).await;
        let client =
            flavor.client_with(&mock, ApiKey::NotRequired, idle(Duration::from_millis(300)));
        let (_, error) = run_until_error(&*client, hello()).await;
        assert!(
            matches!(&error, Some(ModelError::StreamBroken(m)) if m.contains("sent nothing")),
            "{flavor:?}: {error:?}"
        );
        let (_, error) = run_until_error(&*client, hello()).await;
        assert!(
            matches!(&error, Some(ModelError::Connect(m)) if m.contains("no response")),
            "{flavor:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn exhausted_script_is_a_server_error_saying_so() {
    for flavor in ALL {
        let mock = mock(vec![]).await;
        let error = run(&*flavor.client(&mock), hello())
            .await
            .expect_err("exhausted");
        assert!(
            matches!(&error, ModelError::Server { status: 500, message, .. } if message.contains("script exhausted")),
            "{flavor:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn unreachable_provider_is_a_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    for flavor in ALL {
        let base_url = match flavor {
            Flavor::Anthropic => format!("http://{addr}"),
            _ => format!("http://{addr}/v1"),
        };
        let settings = hangar_llm::ProviderSettings {
            name: "gone".into(),
            base_url,
            api_key: ApiKey::NotRequired,
            http: HttpSettings::default(),
        };
        let client = super::support::build(flavor, settings);
        let error = run(&*client, hello()).await.expect_err("refused");
        assert!(
            matches!(error, ModelError::Connect(_)),
            "{flavor:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn keys_are_sent_in_each_formats_header_and_omitted_when_not_required() {
    for flavor in ALL {
        let mock = mock(vec![Step::text("a"), Step::text("b")]).await;
        run(&*flavor.client(&mock), hello())
            .await
            .expect("with key");
        let keyless = flavor.client_with(&mock, ApiKey::NotRequired, HttpSettings::default());
        run(&*keyless, hello()).await.expect("without key");
        let requests = mock.requests();
        match flavor {
            Flavor::Anthropic => {
                assert_eq!(
                    requests[0].header("x-api-key"),
                    Some(super::support::TEST_KEY)
                );
                assert_eq!(requests[0].header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(requests[1].header("x-api-key"), None);
            }
            Flavor::Chat | Flavor::Responses => {
                let bearer = format!("Bearer {}", super::support::TEST_KEY);
                assert_eq!(requests[0].header("authorization"), Some(bearer.as_str()));
                assert_eq!(requests[1].header("authorization"), None);
            }
        }
        assert_eq!(requests[0].body["stream"], json!(true), "{flavor:?}");
    }
}

#[tokio::test]
async fn missing_key_is_a_config_error_naming_the_variable_before_any_request() {
    for flavor in ALL {
        let mock = mock(vec![Step::text("unused")]).await;
        let missing = ApiKey::Missing {
            env_var: "SOME_PROVIDER_KEY".into(),
        };
        let client = flavor.client_with(&mock, missing, HttpSettings::default());
        let error = run(&*client, hello()).await.expect_err("no key");
        assert!(
            matches!(&error, ModelError::Config(m) if m.contains("SOME_PROVIDER_KEY")),
            "{flavor:?}: {error:?}"
        );
        assert!(mock.requests().is_empty());
    }
}
