//! The JSON a person writes by hand, and the errors they get when it is wrong.

use std::collections::BTreeMap;

use pdfmill_schemas::payload::{self, DecodeError, Encoding};
use pdfmill_schemas::v1::{
    ConversionFailure, ConversionResult, ConvertRequest, ErrorClass, Fit, JobState, JobStatus,
    conversion_result::Outcome,
};
use pdfmill_schemas::well_known::{Duration, Timestamp};

#[test]
fn hand_written_convert_request_decodes() {
    let json = br#"{"jobId": "job-42", "images": [{"key": "uploads/a.png"}], "notifyEmail": "me@example.com"}"#;

    let request: ConvertRequest = payload::decode(Some("application/json"), json).unwrap();

    assert_eq!(request.job_id, "job-42");
    assert_eq!(request.images.len(), 1);
    assert_eq!(request.images[0].key, "uploads/a.png");
    assert_eq!(request.images[0].content_type, "");
    assert_eq!(request.images[0].size_bytes, 0);
    assert_eq!(request.notify_email, "me@example.com");
    assert_eq!(request.page, None);
    assert!(request.labels.is_empty());
    assert_eq!(request.submitted_at, None);
}

#[test]
fn full_convert_request_decodes_from_canonical_json() {
    let json = br#"{
        "jobId": "job-42",
        "images": [
            {"key": "uploads/a.png", "contentType": "image/png", "sizeBytes": "1048576"},
            {"key": "uploads/b.jpg", "sizeBytes": 2048}
        ],
        "page": {"pageSize": "210x297mm", "fit": "FIT_COVER", "marginPt": 36, "dpi": 300, "title": "Scans"},
        "labels": {"tenant": "acme"},
        "submittedAt": "2025-03-01T12:30:00.250+01:00"
    }"#;

    let request: ConvertRequest =
        payload::decode(Some("application/json; charset=utf-8"), json).unwrap();

    assert_eq!(
        request.images[0].size_bytes, 1_048_576,
        "64-bit ints as strings"
    );
    assert_eq!(request.images[1].size_bytes, 2048, "and as numbers");
    let page = request.page.unwrap();
    assert_eq!(page.page_size, "210x297mm");
    assert_eq!(page.fit(), Fit::Cover);
    assert_eq!(page.margin_pt, 36.0);
    assert_eq!(page.dpi, 300);
    assert_eq!(page.title, "Scans");
    assert_eq!(
        request.labels,
        BTreeMap::from([("tenant".to_owned(), "acme".to_owned())])
    );
    assert_eq!(
        request.submitted_at,
        Some(Timestamp {
            seconds: 1_740_828_600,
            nanos: 250_000_000
        })
    );
}

#[test]
fn proto_field_names_are_accepted_too() {
    let json = br#"{"job_id": "job-42", "notify_email": "me@example.com"}"#;
    let request: ConvertRequest = payload::decode(Some("application/json"), json).unwrap();
    assert_eq!(request.job_id, "job-42");
    assert_eq!(request.notify_email, "me@example.com");
}

#[test]
fn json_uses_rfc3339_timestamps_enum_names_and_camel_case() {
    let status = JobStatus {
        job_id: "job-42".into(),
        state: JobState::Failed.into(),
        updated_at: Some(Timestamp {
            seconds: 1_740_828_600,
            nanos: 0,
        }),
        error_class: ErrorClass::Corrupt.into(),
        pdf_size_bytes: 7,
        ..Default::default()
    };

    let json: serde_json::Value =
        serde_json::from_slice(&payload::encode_json(&status).unwrap()).unwrap();

    assert_eq!(
        json,
        serde_json::json!({
            "jobId": "job-42",
            "state": "JOB_STATE_FAILED",
            "updatedAt": "2025-03-01T11:30:00+00:00",
            "errorClass": "ERROR_CLASS_CORRUPT",
            "pdfSizeBytes": "7",
        })
    );
}

#[test]
fn oneof_and_duration_in_json() {
    let result = ConversionResult {
        job_id: "job-42".into(),
        outcome: Some(Outcome::Failure(ConversionFailure {
            error_class: ErrorClass::Unsupported.into(),
            message: "16-bit PNG".into(),
        })),
        convert_duration: Some(Duration {
            seconds: 1,
            nanos: 500_000_000,
        }),
        attempt: 2,
        ..Default::default()
    };

    let json: serde_json::Value =
        serde_json::from_slice(&payload::encode_json(&result).unwrap()).unwrap();

    assert_eq!(
        json,
        serde_json::json!({
            "jobId": "job-42",
            "failure": {"errorClass": "ERROR_CLASS_UNSUPPORTED", "message": "16-bit PNG"},
            "convertDuration": "1.500s",
            "attempt": 2,
        })
    );
}

#[test]
fn misspelt_field_is_an_error_that_names_it() {
    let json = br#"{"jobId": "job-42", "notifyMail": "me@example.com"}"#;

    let error = payload::decode::<ConvertRequest>(Some("application/json"), json).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, DecodeError::Json { .. }), "{error:?}");
    assert!(message.contains("pdfmill.v1.ConvertRequest"), "{message}");
    assert!(message.contains("notifyMail"), "{message}");
}

#[test]
fn json_without_content_type_says_how_to_fix_it() {
    let json = br#"{"jobId": "job-42"}"#;

    let error = payload::decode::<ConvertRequest>(None, json).unwrap_err();

    let message = error.to_string();
    assert!(matches!(error, DecodeError::Protobuf { .. }), "{error:?}");
    assert!(message.contains("pdfmill.v1.ConvertRequest"), "{message}");
    assert!(
        message.contains("Content-Type: application/json"),
        "{message}"
    );
}

#[test]
fn unknown_content_type_is_rejected() {
    let error = payload::decode::<ConvertRequest>(Some("text/plain"), b"hello").unwrap_err();
    assert_eq!(
        error,
        DecodeError::UnsupportedContentType {
            content_type: "text/plain".into()
        }
    );
    assert!(error.to_string().contains("application/json"), "{error}");
}

#[test]
fn content_type_header_values() {
    assert_eq!(Encoding::from_content_type(None), Ok(Encoding::Protobuf));
    assert_eq!(
        Encoding::from_content_type(Some("")),
        Ok(Encoding::Protobuf)
    );
    assert_eq!(
        Encoding::from_content_type(Some("application/x-protobuf")),
        Ok(Encoding::Protobuf)
    );
    assert_eq!(
        Encoding::from_content_type(Some("Application/JSON; charset=utf-8")),
        Ok(Encoding::Json)
    );
    assert_eq!(Encoding::Protobuf.content_type(), "application/protobuf");
    assert_eq!(Encoding::Json.content_type(), "application/json");
}
