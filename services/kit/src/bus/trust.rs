//! Who sent an event: the NATS server lets only a service publish `redsupply.<service>.>`
//! (deploy/nats/redsupply-auth.conf), so the subject names the sender; an event's `ce-source`
//! must say the same, or the consumer parks it unapplied.

use super::{Event, headers};

/// Why an event on `producer`'s stream cannot be trusted: the server lets only `producer` publish
/// `redsupply.<producer>.>`, so the subject names the sender, and the event's `ce-source` must say
/// the same (a mismatch is a forgery or a bug: parked, never applied).
pub(crate) fn sender_mismatch(producer: &str, event: &Event) -> Option<String> {
    let expected = format!("redsupply/{producer}");
    if !event
        .subject
        .strip_prefix("redsupply.")
        .and_then(|rest| rest.strip_prefix(producer))
        .is_some_and(|rest| rest.starts_with('.'))
    {
        return Some(format!(
            "subject {} does not belong to {producer}'s stream",
            event.subject
        ));
    }
    match event.headers.get(headers::SOURCE) {
        Some(source) if *source == expected => None,
        Some(source) => Some(format!(
            "ce-source {source:?} does not match the subject's service (expected {expected:?})"
        )),
        None => Some(format!("no ce-source header (expected {expected:?})")),
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn event(subject: &str, source: Option<&str>) -> Event {
        Event {
            id: Uuid::now_v7(),
            subject: subject.into(),
            headers: source
                .map(|s| (headers::SOURCE.to_owned(), s.to_owned()))
                .into_iter()
                .collect(),
            payload: Default::default(),
            delivered: 1,
        }
    }

    #[test]
    fn an_event_must_come_from_the_service_its_subject_names() {
        let ok = event(
            "redsupply.governance.tip.submitted",
            Some("redsupply/governance"),
        );
        assert_eq!(sender_mismatch("governance", &ok), None);
        let forged = event(
            "redsupply.governance.tip.submitted",
            Some("redsupply/stations"),
        );
        let why = sender_mismatch("governance", &forged).unwrap();
        assert!(why.contains("redsupply/stations"), "{why}");
        assert!(sender_mismatch("governance", &event("redsupply.governance.x", None)).is_some());
        // A subject of another stream, or one that only starts like it.
        let other = event("redsupply.governancex.tip", Some("redsupply/governance"));
        assert!(sender_mismatch("governance", &other).is_some());
    }
}
