//! Checks on refusals that many tests share: the fields an INVALID_ARGUMENT's `BadRequest` details
//! name, and an assertion on them.

use tonic::Code;
use tonic_types::StatusExt;

/// The fields `status` names in its `BadRequest` details (none when it has none).
pub fn field_violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
        .unwrap_or_default()
}

/// Asserts an INVALID_ARGUMENT naming `field`.
pub fn assert_invalid(status: tonic::Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        field_violations(&status).iter().any(|f| f == field),
        "expected a violation on {field}, got {:?}",
        field_violations(&status)
    );
}
