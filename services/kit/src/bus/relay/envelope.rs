//! The event as the outbox trigger writes it into the WAL (kit migration 0004): version byte 1,
//! the event id, the time written, then six length-prefixed fields. Read here, and refused whole
//! when anything is off: the relay then stops rather than publish half an event or skip one.

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

use super::Envelope;

const VERSION: u8 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Malformed {
    #[error("envelope version {0} (this relay reads {VERSION}): a newer release wrote it")]
    Version(u8),
    #[error("envelope ends inside {0}")]
    Truncated(&'static str),
    #[error("envelope field {0} is not UTF-8")]
    NotText(&'static str),
    #[error("envelope field {0} is NULL")]
    Null(&'static str),
    #[error("envelope time is out of range")]
    Time,
    #[error("{0} bytes left after the envelope's last field")]
    Trailing(usize),
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed::Truncated(field));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn fixed<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Malformed> {
        Ok(self.take(N, field)?.try_into().expect("took N bytes"))
    }

    /// A 4-byte big-endian length (-1: NULL) and that many bytes.
    fn bytes(&mut self, field: &'static str) -> Result<Option<&'a [u8]>, Malformed> {
        match i32::from_be_bytes(self.fixed(field)?) {
            -1 => Ok(None),
            n if n < 0 => Err(Malformed::Truncated(field)),
            n => self.take(n as usize, field).map(Some),
        }
    }

    fn text(&mut self, field: &'static str) -> Result<Option<String>, Malformed> {
        self.bytes(field)?
            .map(|b| {
                std::str::from_utf8(b)
                    .map(str::to_owned)
                    .map_err(|_| Malformed::NotText(field))
            })
            .transpose()
    }

    fn required(&mut self, field: &'static str) -> Result<String, Malformed> {
        self.text(field)?.ok_or(Malformed::Null(field))
    }
}

/// PostgreSQL's epoch for `timestamptz_send`.
fn pg_epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(946_684_800, 0).expect("2000-01-01 is a valid time")
}

impl Envelope {
    pub(super) fn decode(content: &[u8]) -> Result<Self, Malformed> {
        let mut r = Reader(content);
        let [version] = r.fixed::<1>("version")?;
        if version != VERSION {
            return Err(Malformed::Version(version));
        }
        let event_id = Uuid::from_bytes(r.fixed("event_id")?);
        let micros = i64::from_be_bytes(r.fixed("created_at")?);
        let created_at = pg_epoch()
            .checked_add_signed(TimeDelta::microseconds(micros))
            .ok_or(Malformed::Time)?;
        let envelope = Self {
            event_id,
            created_at,
            subject: r.required("subject")?,
            source: r.required("source")?,
            ce_subject: r.required("ce_subject")?,
            payload: r
                .bytes("payload")?
                .ok_or(Malformed::Null("payload"))?
                .to_vec(),
            traceparent: r.text("traceparent")?,
            tracestate: r.text("tracestate")?,
        };
        match r.0.len() {
            0 => Ok(envelope),
            n => Err(Malformed::Trailing(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the trigger writes, built the same way by hand.
    fn encoded(traceparent: Option<&str>) -> Vec<u8> {
        let mut b = vec![VERSION];
        b.extend_from_slice(Uuid::from_u128(7).as_bytes());
        b.extend_from_slice(&1_000_000i64.to_be_bytes());
        for field in [
            Some("redsupply.governance.tip.submitted".as_bytes()),
            Some(b"redsupply/governance"),
            Some(b"tip-1"),
            Some(&[0u8, 1, 2][..]),
            traceparent.map(str::as_bytes),
            None,
        ] {
            match field {
                Some(f) => {
                    b.extend_from_slice(&(f.len() as i32).to_be_bytes());
                    b.extend_from_slice(f);
                }
                None => b.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        b
    }

    #[test]
    fn an_envelope_reads_back_every_field() {
        let e = Envelope::decode(&encoded(Some("00-ab-cd-01"))).unwrap();
        assert_eq!(e.event_id, Uuid::from_u128(7));
        assert_eq!(e.created_at.to_rfc3339(), "2000-01-01T00:00:01+00:00");
        assert_eq!(e.subject, "redsupply.governance.tip.submitted");
        assert_eq!(e.source, "redsupply/governance");
        assert_eq!(e.ce_subject, "tip-1");
        assert_eq!(e.payload, [0, 1, 2]);
        assert_eq!(e.traceparent.as_deref(), Some("00-ab-cd-01"));
        assert_eq!(e.tracestate, None);
    }

    #[test]
    fn a_damaged_or_newer_envelope_is_refused_whole() {
        let good = encoded(None);
        for cut in 0..good.len() {
            assert!(
                Envelope::decode(&good[..cut]).is_err(),
                "cut at {cut} read as an event"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert_eq!(Envelope::decode(&longer), Err(Malformed::Trailing(1)));
        let mut newer = good.clone();
        newer[0] = 2;
        assert_eq!(Envelope::decode(&newer), Err(Malformed::Version(2)));
        let mut not_text = good;
        not_text[1 + 16 + 8 + 4] = 0xff;
        assert_eq!(
            Envelope::decode(&not_text),
            Err(Malformed::NotText("subject"))
        );
    }
}
