//! Turning failures into `tonic::Status` without losing them: field violations become
//! `INVALID_ARGUMENT` with `BadRequest` details; internal errors keep their cause in the log (with the
//! trace id) and as the status's source; lists share one paging rule; updates may name their
//! fields ([`mask`]).

mod lookup;
pub mod mask;
mod paging;
mod status;
mod violations;

pub use lookup::*;
pub use paging::*;
pub use status::*;
pub use violations::*;

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use tonic::Code;
    use tonic_types::StatusExt;

    use super::{lookup::RECENT, *};

    /// The fields a refusal names, in order.
    fn fields(v: Violations) -> Vec<String> {
        let status = v.into_result().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        status
            .get_details_bad_request()
            .expect("BadRequest details")
            .field_violations
            .into_iter()
            .map(|f| f.field)
            .collect()
    }

    #[test]
    fn violations_name_every_field() {
        let mut v = Violations::new();
        v.check(false, "location.latitude", "must be within -90..90")
            .check(true, "description", "never")
            .check(false, "request_id", "is required");
        assert_eq!(fields(v), ["location.latitude", "request_id"]);
    }

    #[test]
    fn page_size_defaults_and_caps() {
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(10_000).unwrap(), MAX_PAGE_SIZE);
        assert_eq!(page_size(-1).unwrap_err().code(), Code::InvalidArgument);
    }

    #[test]
    fn violations_are_capped_and_counted() {
        let mut v = Violations::new();
        for i in 0..100_000 {
            v.add(&format!("ids[{i}]"), "must be a UUID");
        }
        let status = v.into_result().unwrap_err();
        let details = status.get_details_bad_request().expect("details");
        assert_eq!(details.field_violations.len(), MAX_VIOLATIONS);
        assert!(status.message().contains("99990 more violations left out"));
        assert!(status.details().len() < 2_000, "{}", status.details().len());
    }

    #[test]
    fn text_refuses_control_characters_but_keeps_line_breaks() {
        let mut v = Violations::new();
        assert_eq!(v.text("note", " two\nlines\t ", 20, true), "two\nlines");
        assert!(v.is_empty());
        v.line("name", "a\nb", 20, true);
        v.text("note", "bell\u{7}", 20, true);
        v.text("note", "nul\0", 20, true);
        v.text("note", &"x".repeat(1_000_000), 20, true);
        v.request_id(&"r".repeat(129));
        assert_eq!(fields(v), ["name", "note", "note", "note", "request_id"]);
    }

    #[test]
    fn ids_are_bounded_parsed_and_distinct() {
        let a = uuid::Uuid::now_v7();
        let b = uuid::Uuid::now_v7();
        let mut v = Violations::new();
        let ids = v.ids(
            "worker_ids",
            &[a.to_string(), b.to_string(), a.to_string()],
            10,
        );
        assert_eq!(ids, [a, b]);
        assert!(v.is_empty());
        v.ids("worker_ids", &vec![a.to_string(); 11], 10);
        v.ids("grid_ids", &["x".to_owned()], 10);
        assert_eq!(fields(v), ["worker_ids", "grid_ids[0]"]);
    }

    #[test]
    fn only_fresh_ids_are_waited_for() {
        assert!(minted_within(uuid::Uuid::now_v7(), RECENT));
        assert!(
            !minted_within(
                uuid::Uuid::from_u128(0x1234_5678_9abc_4def_8123_4567_89ab_cdef),
                RECENT
            ),
            "no time in a v4"
        );
        let old = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_700_000_000,
            0,
        ));
        assert!(!minted_within(old, RECENT));
    }

    #[test]
    fn one_line_text_may_end_in_a_line_break_it_loses() {
        let mut v = Violations::new();
        assert_eq!(v.line("name", "Li Wei\n", 20, true), "Li Wei");
        assert!(v.is_empty());
    }

    #[test]
    fn patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
        assert_eq!(contains_pattern(""), "%%");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any text at all is either refused naming its field or comes back trimmed, within
            /// its bound, and free of NUL and control characters (line breaks and tabs aside).
            #[test]
            fn text_is_refused_or_clean(value in any::<String>(), max in 0usize..40, required: bool) {
                let mut v = Violations::new();
                let kept = v.text("note", &value, max, required).to_owned();
                if v.is_empty() {
                    prop_assert_eq!(kept.as_str(), value.trim());
                    prop_assert!(kept.chars().count() <= max);
                    prop_assert!(!required || !kept.is_empty());
                    prop_assert!(!kept.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')));
                } else {
                    prop_assert!(fields(v).iter().all(|f| f == "note"));
                }
            }

            /// Id lists come back distinct, in first order, and only when every element is a UUID
            /// and the list is within its bound.
            #[test]
            fn ids_are_distinct_or_refused(
                picks in prop::collection::vec(0usize..6, 0..20),
                bad in any::<bool>(),
            ) {
                let pool: Vec<uuid::Uuid> = (0..6).map(|i| uuid::Uuid::from_u128(i + 1)).collect();
                let mut values: Vec<String> = picks.iter().map(|&i| pool[i].to_string()).collect();
                if bad {
                    values.push("not-an-id".to_owned());
                }
                let mut v = Violations::new();
                let ids = v.ids("ids", &values, 15);
                if values.len() > 15 || bad {
                    prop_assert!(!v.is_empty());
                } else {
                    prop_assert!(v.is_empty());
                    let mut want: Vec<uuid::Uuid> = Vec::new();
                    for &i in &picks {
                        if !want.contains(&pool[i]) {
                            want.push(pool[i]);
                        }
                    }
                    prop_assert_eq!(ids, want);
                }
            }

            /// A LIKE pattern of any text matches that text only literally: every wildcard the
            /// caller wrote is escaped.
            #[test]
            fn patterns_escape_every_wildcard(text in any::<String>()) {
                let p = contains_pattern(&text);
                let inner = &p[1..p.len() - 1];
                let mut chars = inner.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        prop_assert!(matches!(chars.next(), Some('%' | '_' | '\\')));
                    } else {
                        prop_assert!(c != '%' && c != '_');
                    }
                }
            }
        }
    }

    #[test]
    fn internal_keeps_the_cause() {
        let status = internal("loading the tip", sqlx::Error::PoolTimedOut);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(status.source().is_some());
    }
}
