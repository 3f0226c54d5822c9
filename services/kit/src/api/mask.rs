//! Partial updates (AIP-134): an update request names the fields it changes in `update_mask`, and
//! every other field keeps its stored value. The merge works on any message of the contract
//! through its descriptor: the stored record (as the API would answer it) takes the masked fields
//! of the request, and the result goes through the same checks and write as a full replacement.
//! Without a mask (or with `*`) the request replaces the record whole, as before.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tonic::Status;

use super::invalid;

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(redsupply_proto::FILE_DESCRIPTOR_SET)
            .expect("the contract's descriptor set decodes")
    })
}

fn descriptor(full_name: &str) -> MessageDescriptor {
    pool()
        .get_message_by_name(full_name)
        .unwrap_or_else(|| panic!("{full_name} is a message of the contract"))
}

/// What an update changes: the fields its mask names (top-level fields of the resource), or all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    Replace,
    Fields(Vec<String>),
}

impl Update {
    /// Reads `update_mask` for a resource of type `full_name`; `fixed` are the fields no update
    /// may name (ids, versions, what the service keeps). INVALID_ARGUMENT naming `update_mask`
    /// for a path that is not a field or may not be changed.
    pub fn parse(
        mask: Option<&prost_types::FieldMask>,
        full_name: &str,
        fixed: &[&str],
    ) -> Result<Update, Status> {
        let paths = match mask {
            None => return Ok(Update::Replace),
            Some(m) if m.paths.is_empty() || m.paths.iter().any(|p| p == "*") => {
                return Ok(Update::Replace);
            }
            Some(m) => &m.paths,
        };
        if paths.len() > 64 {
            return Err(invalid("update_mask", "names at most 64 fields"));
        }
        let message = descriptor(full_name);
        let mut fields = Vec::with_capacity(paths.len());
        for path in paths {
            let shown: String = path.chars().take(64).collect();
            if message.get_field_by_name(path).is_none() {
                return Err(invalid(
                    "update_mask",
                    format!("{shown:?} is not a field of {}", message.name()),
                ));
            }
            if fixed.contains(&path.as_str()) {
                return Err(invalid(
                    "update_mask",
                    format!("{shown:?} is not changed by an update"),
                ));
            }
            if !fields.contains(path) {
                fields.push(path.clone());
            }
        }
        Ok(Update::Fields(fields))
    }

    /// Whether a create (no stored record) may use this update: only a whole one.
    pub fn is_replace(&self) -> bool {
        matches!(self, Update::Replace)
    }

    /// `incoming` for a replacement; otherwise `current` with the masked fields taken from
    /// `incoming` (a masked field left unset in `incoming` is cleared).
    pub fn apply<M: prost::Message + Default>(
        &self,
        full_name: &str,
        current: &M,
        incoming: M,
    ) -> M {
        let Update::Fields(fields) = self else {
            return incoming;
        };
        let message = descriptor(full_name);
        let decode = |m: &M| {
            DynamicMessage::decode(message.clone(), m.encode_to_vec().as_slice())
                .expect("a message of the contract decodes as itself")
        };
        let mut merged = decode(current);
        let from = decode(&incoming);
        for name in fields {
            let field = message.get_field_by_name(name).expect("checked in parse");
            if from.has_field(&field) {
                merged.set_field(&field, from.get_field(&field).into_owned());
            } else {
                merged.clear_field(&field);
            }
        }
        M::decode(prost::Message::encode_to_vec(&merged).as_slice())
            .expect("the merged message decodes as its own type")
    }
}

/// The record an update writes, and the version it expects: the request's record for a whole
/// replacement; for a masked update, the stored record (`load`: as the API answers it, with its
/// version) with the masked fields of the request, expecting that version unless the caller
/// gave one (a record changed meanwhile answers ABORTED, as any stale update does).
pub async fn merge<M, F, Fut>(
    full_name: &str,
    fixed: &[&str],
    mask: Option<&prost_types::FieldMask>,
    id: Option<uuid::Uuid>,
    expected_version: i64,
    incoming: M,
    load: F,
) -> Result<(M, i64), Status>
where
    M: prost::Message + Default,
    F: FnOnce(uuid::Uuid) -> Fut,
    Fut: std::future::Future<Output = Result<(M, i64), Status>>,
{
    let update = Update::parse(mask, full_name, fixed)?;
    if update.is_replace() {
        return Ok((incoming, expected_version));
    }
    let Some(id) = id else {
        return Err(invalid(
            "update_mask",
            "a create takes the whole record: leave update_mask empty",
        ));
    };
    let (current, version) = load(id).await?;
    let expected = if expected_version == 0 {
        version
    } else {
        expected_version
    };
    Ok((update.apply(full_name, &current, incoming), expected))
}

#[cfg(test)]
mod tests {
    use redsupply_proto::organization::v1::Organization;

    use super::*;

    const ORG: &str = "redsupply.organization.v1.Organization";

    fn mask(paths: &[&str]) -> prost_types::FieldMask {
        prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn a_masked_update_changes_only_the_fields_it_names() {
        let current = Organization {
            id: "o1".into(),
            name: "Express branch".into(),
            community_id: "c1".into(),
            enterprise_ids: vec!["e1".into(), "e2".into()],
            founded_on: "2024-05-01".into(),
            version: 3,
            ..Default::default()
        };
        let rename = Organization {
            name: "Express and delivery branch".into(),
            ..Default::default()
        };
        let update = Update::parse(Some(&mask(&["name"])), ORG, &["id", "version"]).unwrap();
        let merged = update.apply(ORG, &current, rename.clone());
        assert_eq!(merged.name, "Express and delivery branch");
        assert_eq!(
            (
                merged.community_id.as_str(),
                merged.enterprise_ids.len(),
                merged.founded_on.as_str()
            ),
            ("c1", 2, "2024-05-01"),
            "the rest is kept"
        );
        // A field named but left empty is cleared; no mask replaces the whole record.
        let cleared = Update::parse(Some(&mask(&["enterprise_ids"])), ORG, &[])
            .unwrap()
            .apply(ORG, &current, rename.clone());
        assert!(cleared.enterprise_ids.is_empty());
        assert_eq!(cleared.name, "Express branch");
        let whole = Update::parse(None, ORG, &[]).unwrap();
        assert!(whole.is_replace());
        assert_eq!(whole.apply(ORG, &current, rename.clone()), rename);
        assert!(
            Update::parse(Some(&mask(&["*"])), ORG, &[])
                .unwrap()
                .is_replace()
        );
    }

    #[test]
    fn a_mask_naming_an_unknown_or_fixed_field_is_refused() {
        for paths in [&["nmae"][..], &["version"], &["name", "ledger.headcount"]] {
            let err = Update::parse(Some(&mask(paths)), ORG, &["id", "version"]).unwrap_err();
            assert_eq!(err.code(), tonic::Code::InvalidArgument, "{paths:?}");
            assert!(err.message().contains("update_mask"), "{err:?}");
        }
    }
}
