//! The rest of the registry's rules, without I/O: where a node may sit in the organization tree,
//! which census figure is newer, what a date field must look like, and the contact-load limit.

use chrono::{Datelike, NaiveDate};
use redsupply_proto::organization::v1::{FormationMode, OrganizationKind};

/// Most workers one party member should keep in touch with, unless a request says otherwise.
/// (145 members cover 2,000+ workers in the county: about 14 each.)
pub const DEFAULT_CONTACT_LOAD: i32 = 20;
/// The highest contact load a coverage request may ask about.
pub const MAX_CONTACT_LOAD: i32 = 10_000;
/// Most workers linked in one LinkContacts call.
pub const MAX_LINKS_PER_CALL: usize = 200;
/// Most entries of help one hardship file holds (the file is sealed and rewritten whole with
/// each entry).
pub const MAX_HELP_ENTRIES: usize = 200;

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

/// A census visit updates a ledger figure unless a later visit already confirmed it (visits may
/// be recorded out of order, e.g. from paper forms).
pub fn visit_confirms(last_confirmed: Option<NaiveDate>, visited_on: NaiveDate) -> bool {
    last_confirmed.is_none_or(|last| visited_on >= last)
}

/// Parses a `YYYY-MM-DD` field; years outside 2000..=2100 are refused as typos.
pub fn parse_date(value: &str) -> Result<NaiveDate, &'static str> {
    let date =
        NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| "must be a date as YYYY-MM-DD")?;
    if !(2000..=2100).contains(&date.year()) {
        return Err("must be a year between 2000 and 2100");
    }
    Ok(date)
}

/// "2026-Q3".
pub fn quarter(date: NaiveDate) -> String {
    format!("{}-Q{}", date.year(), date.month0() / 3 + 1)
}

/// Parses "2026-Q3" into its first and last day; years outside 2000..=2100 are refused as typos,
/// as in dates.
pub fn quarter_range(value: &str) -> Option<(NaiveDate, NaiveDate)> {
    let (year, q) = value.split_once("-Q")?;
    let year: i32 = year.parse().ok()?;
    let q: u32 = q.parse().ok()?;
    if !(1..=4).contains(&q) || !(2000..=2100).contains(&year) {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(year, (q - 1) * 3 + 1, 1)?;
    let next = if q == 4 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, q * 3 + 1, 1)?
    };
    Some((first, next.pred_opt()?))
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

    #[test]
    fn an_older_visit_does_not_overwrite_a_newer_figure() {
        let d = |s| parse_date(s).unwrap();
        assert!(visit_confirms(None, d("2026-03-01")));
        assert!(visit_confirms(Some(d("2026-03-01")), d("2026-03-01")));
        assert!(visit_confirms(Some(d("2026-03-01")), d("2026-04-01")));
        assert!(!visit_confirms(Some(d("2026-04-01")), d("2026-03-01")));
    }

    #[test]
    fn dates_and_quarters() {
        assert!(parse_date("2026-02-30").is_err());
        assert!(parse_date("26-02-01").is_err());
        assert!(parse_date("1926-02-01").is_err());
        let d = parse_date("2026-08-15").unwrap();
        assert_eq!(quarter(d), "2026-Q3");
        assert_eq!(quarter(parse_date("2026-12-31").unwrap()), "2026-Q4");
        assert_eq!(
            quarter_range("2026-Q4"),
            Some((
                parse_date("2026-10-01").unwrap(),
                parse_date("2026-12-31").unwrap()
            ))
        );
        assert_eq!(quarter_range("2026-Q5"), None);
        assert_eq!(quarter_range("-2026-Q1"), None);
        assert_eq!(quarter_range("99999-Q1"), None);
        assert_eq!(quarter_range("Q1"), None);
    }
}
