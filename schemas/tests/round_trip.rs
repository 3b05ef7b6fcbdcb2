//! Every message survives encode → decode unchanged, in protobuf and in canonical JSON.
//!
//! The strategies stay inside what each encoding can express: Timestamps within years
//! 1–9999 and Durations with non-negative parts (the proto3 JSON mapping's ranges), enum
//! fields set to values the enum names, and floats finite.

use std::collections::BTreeMap;
use std::fmt::Debug;

use pdfmill_schemas::payload::{self, Payload};
use pdfmill_schemas::v1::{
    ConversionFailure, ConversionResult, ConversionSuccess, ConvertRequest, EmailRequest,
    EmailResult, ImageRef, JobStatus, PageOptions, conversion_result::Outcome,
};
use pdfmill_schemas::well_known::{Duration, Timestamp};
use proptest::prelude::*;

fn text() -> impl Strategy<Value = String> {
    // Mostly ASCII identifiers and keys, with some non-ASCII and JSON-escaped characters.
    prop_oneof![
        4 => "[a-zA-Z0-9._/@:-]{0,16}",
        1 => "[\"\\\\\n\té€😀]{0,4}",
    ]
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(text(), text(), 0..4)
}

fn timestamp() -> impl Strategy<Value = Option<Timestamp>> {
    // 0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59Z
    prop::option::of(
        (-62_135_596_800i64..=253_402_300_799, 0..1_000_000_000i32)
            .prop_map(|(seconds, nanos)| Timestamp { seconds, nanos }),
    )
}

fn duration() -> impl Strategy<Value = Option<Duration>> {
    prop::option::of(
        (0..=315_576_000_000i64, 0..1_000_000_000i32)
            .prop_map(|(seconds, nanos)| Duration { seconds, nanos }),
    )
}

fn finite_f32() -> impl Strategy<Value = f32> {
    use proptest::num::f32::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn image_ref() -> impl Strategy<Value = ImageRef> {
    (text(), text(), any::<u64>()).prop_map(|(key, content_type, size_bytes)| ImageRef {
        key,
        content_type,
        size_bytes,
    })
}

fn page_options() -> impl Strategy<Value = PageOptions> {
    (text(), 0..=3i32, finite_f32(), any::<u32>(), text()).prop_map(
        |(page_size, fit, margin_pt, dpi, title)| PageOptions {
            page_size,
            fit,
            margin_pt,
            dpi,
            title,
        },
    )
}

fn convert_request() -> impl Strategy<Value = ConvertRequest> {
    (
        text(),
        prop::collection::vec(image_ref(), 0..4),
        text(),
        prop::option::of(page_options()),
        labels(),
        timestamp(),
    )
        .prop_map(
            |(job_id, images, notify_email, page, labels, submitted_at)| ConvertRequest {
                job_id,
                images,
                notify_email,
                page,
                labels,
                submitted_at,
            },
        )
}

fn outcome() -> impl Strategy<Value = Option<Outcome>> {
    let success = (text(), any::<u64>(), any::<u32>(), any::<u64>()).prop_map(
        |(pdf_key, pdf_size_bytes, pages, input_bytes)| {
            Outcome::Success(ConversionSuccess {
                pdf_key,
                pdf_size_bytes,
                pages,
                input_bytes,
            })
        },
    );
    let failure = (0..=5i32, text()).prop_map(|(error_class, message)| {
        Outcome::Failure(ConversionFailure {
            error_class,
            message,
        })
    });
    prop::option::of(prop_oneof![success, failure])
}

fn conversion_result() -> impl Strategy<Value = ConversionResult> {
    (
        text(),
        outcome(),
        duration(),
        timestamp(),
        text(),
        any::<u32>(),
    )
        .prop_map(
            |(job_id, outcome, convert_duration, finished_at, notify_email, attempt)| {
                ConversionResult {
                    job_id,
                    outcome,
                    convert_duration,
                    finished_at,
                    notify_email,
                    attempt,
                }
            },
        )
}

fn email_request() -> impl Strategy<Value = EmailRequest> {
    (text(), text(), text(), labels(), text(), timestamp()).prop_map(
        |(email_id, to, template, variables, job_id, requested_at)| EmailRequest {
            email_id,
            to,
            template,
            variables,
            job_id,
            requested_at,
        },
    )
}

fn email_result() -> impl Strategy<Value = EmailResult> {
    (
        text(),
        text(),
        text(),
        text(),
        text(),
        any::<bool>(),
        text(),
        timestamp(),
    )
        .prop_map(
            |(email_id, job_id, to, template, message_id, sent, error, sent_at)| EmailResult {
                email_id,
                job_id,
                to,
                template,
                message_id,
                sent,
                error,
                sent_at,
            },
        )
}

fn job_status() -> impl Strategy<Value = JobStatus> {
    (
        (text(), 0..=6i32, timestamp(), timestamp(), any::<u32>()),
        (
            text(),
            any::<u64>(),
            0..=5i32,
            text(),
            text(),
            any::<u32>(),
            text(),
        ),
    )
        .prop_map(
            |(
                (job_id, state, submitted_at, updated_at, pages),
                (
                    pdf_key,
                    pdf_size_bytes,
                    error_class,
                    error_message,
                    notify_email,
                    image_count,
                    request_digest,
                ),
            )| JobStatus {
                job_id,
                state,
                submitted_at,
                updated_at,
                pages,
                pdf_key,
                pdf_size_bytes,
                error_class,
                error_message,
                notify_email,
                image_count,
                request_digest,
            },
        )
}

/// Asserts that `message` comes back equal through both encodings, the way a consumer
/// reads them: by `Content-Type` header.
fn assert_round_trips<M: Payload + PartialEq + Debug>(message: &M) -> Result<(), TestCaseError> {
    let bytes = payload::encode(message);
    let decoded: M = payload::decode(None, &bytes).map_err(fail)?;
    prop_assert_eq!(&decoded, message, "protobuf round trip");
    let decoded: M = payload::decode(Some("application/protobuf"), &bytes).map_err(fail)?;
    prop_assert_eq!(&decoded, message, "protobuf round trip with header");

    let json = payload::encode_json(message).map_err(fail)?;
    let decoded: M = payload::decode(Some("application/json"), &json).map_err(|error| {
        TestCaseError::fail(format!("{error}\nJSON: {}", String::from_utf8_lossy(&json)))
    })?;
    prop_assert_eq!(
        &decoded,
        message,
        "JSON round trip through {}",
        String::from_utf8_lossy(&json)
    );
    Ok(())
}

fn fail(error: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(error.to_string())
}

proptest! {
    #[test]
    fn convert_request_round_trips(message in convert_request()) {
        assert_round_trips(&message)?;
    }

    #[test]
    fn conversion_result_round_trips(message in conversion_result()) {
        assert_round_trips(&message)?;
    }

    #[test]
    fn email_request_round_trips(message in email_request()) {
        assert_round_trips(&message)?;
    }

    #[test]
    fn email_result_round_trips(message in email_result()) {
        assert_round_trips(&message)?;
    }

    #[test]
    fn job_status_round_trips(message in job_status()) {
        assert_round_trips(&message)?;
    }

    #[test]
    fn image_ref_round_trips(message in image_ref()) {
        assert_round_trips(&message)?;
    }

    #[test]
    fn page_options_round_trips(message in page_options()) {
        assert_round_trips(&message)?;
    }
}
