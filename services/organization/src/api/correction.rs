//! What every correction and withdrawal RPC shares: the mask it names, the reason it gives, and
//! the version it was made against (the revision's `before` is the record at that version).

use kit::api::{Violations, invalid};
use tonic::Status;
use uuid::Uuid;

use super::validate::NOTE;
use crate::change::{self, Aggregate};

/// Longer than any YYYY-MM-DD.
pub(super) const DATE: usize = 16;

/// The paths a correction of a `full_name` names, each a field it may change (not one of
/// `fixed`), checked before anything is looked up; a mask naming a field twice counts it once.
pub(super) fn mask_paths(
    mask: Option<&prost_types::FieldMask>,
    full_name: &str,
    fixed: &[&str],
) -> Result<Vec<String>, Status> {
    match kit::api::mask::Update::parse(mask, full_name, fixed)? {
        kit::api::mask::Update::Fields(fields) => Ok(fields),
        kit::api::mask::Update::Replace => Err(invalid(
            "update_mask",
            "name the fields the correction changes",
        )),
    }
}

/// A withdrawal's record and reason, checked.
pub(super) fn withdrawal<'r>(id: &str, reason: &'r str) -> Result<(Uuid, &'r str), Status> {
    let mut v = Violations::new();
    let id = v.id("id", id);
    let reason = v.text("reason", reason, NOTE, true);
    v.into_result()?;
    Ok((id.expect("validated"), reason))
}

/// ABORTED unless the caller's version (0: any) is the one just read: the revision's `before` is
/// that version, and the change's lock checks the row is still at it.
pub(super) fn stands_at(what: Aggregate, read: i64, given: i64) -> Result<(), Status> {
    change::at_version(what, read, given).map_err(|e| e.into_status("checking the version"))
}

/// A correction merged into the record as it stands (`before`, read at `version`): ABORTED
/// unless the caller's version is that one, then the fields the mask names taken from
/// `incoming` (the merged record, and the version the change expects).
#[allow(clippy::too_many_arguments)]
pub(super) async fn merged<M: prost::Message + Default + Clone>(
    what: Aggregate,
    full_name: &str,
    kept: &[&str],
    mask: Option<&prost_types::FieldMask>,
    expected_version: i64,
    incoming: M,
    before: &M,
    (id, version): (Uuid, i64),
) -> Result<(M, i64), Status> {
    stands_at(what, version, expected_version)?;
    kit::api::mask::merge(
        full_name,
        kept,
        mask,
        Some(id),
        expected_version,
        incoming,
        |_| std::future::ready(Ok((before.clone(), version))),
    )
    .await
}
