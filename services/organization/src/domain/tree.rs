//! Where a node may sit in the organization tree, without I/O.

use redsupply_proto::organization::v1::{FormationMode, OrganizationKind};

/// Why a node cannot sit where the request puts it.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("kind must be given")]
    NoKind,
    #[error("the working committee is the root and has no parent")]
    RootWithParent,
    #[error("an industry committee sits under the working committee")]
    IndustryCommitteeParent,
    #[error("a party organization sits under an industry committee")]
    PartyOrganizationParent,
    #[error("a party organization needs a formation mode")]
    NoFormationMode,
    #[error("only party organizations have a formation mode")]
    CommitteeWithFormationMode,
}

/// Which field a placement error is about.
impl PlacementError {
    pub fn field(&self) -> &'static str {
        match self {
            PlacementError::NoKind => "organization.kind",
            PlacementError::RootWithParent
            | PlacementError::IndustryCommitteeParent
            | PlacementError::PartyOrganizationParent => "organization.parent_id",
            PlacementError::NoFormationMode | PlacementError::CommitteeWithFormationMode => {
                "organization.formation_mode"
            }
        }
    }
}

/// Working committee → industry committees → party organizations; formation modes belong to party
/// organizations only. `parent` is the parent's kind (None: no parent).
pub fn check_placement(
    kind: OrganizationKind,
    parent: Option<OrganizationKind>,
    mode: FormationMode,
) -> Result<(), PlacementError> {
    use OrganizationKind as K;
    match (kind, parent) {
        (K::Unspecified, _) => return Err(PlacementError::NoKind),
        (K::WorkingCommittee, None) => {}
        (K::WorkingCommittee, Some(_)) => return Err(PlacementError::RootWithParent),
        (K::IndustryCommittee, Some(K::WorkingCommittee)) => {}
        (K::IndustryCommittee, _) => return Err(PlacementError::IndustryCommitteeParent),
        (K::PartyOrganization, Some(K::IndustryCommittee)) => {}
        (K::PartyOrganization, _) => return Err(PlacementError::PartyOrganizationParent),
    }
    match (kind, mode) {
        (K::PartyOrganization, FormationMode::Unspecified) => Err(PlacementError::NoFormationMode),
        (K::PartyOrganization, _) | (_, FormationMode::Unspecified) => Ok(()),
        _ => Err(PlacementError::CommitteeWithFormationMode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FormationMode as M;
    use OrganizationKind as K;

    #[test]
    fn the_tree_has_three_levels() {
        assert_eq!(
            check_placement(K::WorkingCommittee, None, M::Unspecified),
            Ok(())
        );
        assert_eq!(
            check_placement(
                K::IndustryCommittee,
                Some(K::WorkingCommittee),
                M::Unspecified
            ),
            Ok(())
        );
        assert_eq!(
            check_placement(
                K::PartyOrganization,
                Some(K::IndustryCommittee),
                M::OnlineBranch
            ),
            Ok(())
        );
        assert_eq!(
            check_placement(
                K::PartyOrganization,
                Some(K::WorkingCommittee),
                M::Standalone
            ),
            Err(PlacementError::PartyOrganizationParent)
        );
        assert_eq!(
            check_placement(K::IndustryCommittee, None, M::Unspecified),
            Err(PlacementError::IndustryCommitteeParent)
        );
        assert_eq!(
            check_placement(
                K::WorkingCommittee,
                Some(K::WorkingCommittee),
                M::Unspecified
            ),
            Err(PlacementError::RootWithParent)
        );
        assert_eq!(
            check_placement(K::Unspecified, None, M::Unspecified),
            Err(PlacementError::NoKind)
        );
    }

    #[test]
    fn formation_modes_belong_to_party_organizations() {
        assert_eq!(
            check_placement(
                K::PartyOrganization,
                Some(K::IndustryCommittee),
                M::Unspecified
            ),
            Err(PlacementError::NoFormationMode)
        );
        let e = check_placement(
            K::IndustryCommittee,
            Some(K::WorkingCommittee),
            M::RegionalJoint,
        )
        .unwrap_err();
        assert_eq!(e, PlacementError::CommitteeWithFormationMode);
        assert_eq!(e.field(), "organization.formation_mode");
    }
}
