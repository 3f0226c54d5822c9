//! Dates, without I/O: what a date field must look like, the quarters forums are counted in, the
//! periods reports cover, and which of two dated census figures stands.

use chrono::{Datelike, NaiveDate};

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

/// The first and last day of a reporting period: "2026-11" (a month), "2026-Q3" (a quarter),
/// "2026" (a year) or "ytd" (this year). A period never ends after `today`: the running month,
/// quarter or year is counted to date; one that has not begun is refused.
pub fn period(value: &str, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), &'static str> {
    const SHAPE: &str = "must be a month (2026-11), a quarter (2026-Q3), a year (2026) or ytd";
    let year = |y: &str| -> Result<i32, &'static str> {
        let y: i32 = y.parse().map_err(|_| SHAPE)?;
        if (2000..=2100).contains(&y) {
            Ok(y)
        } else {
            Err("must be a year between 2000 and 2100")
        }
    };
    let (first, last) = if value.eq_ignore_ascii_case("ytd") {
        (
            NaiveDate::from_ymd_opt(today.year(), 1, 1).ok_or(SHAPE)?,
            today,
        )
    } else if value.contains("-Q") {
        quarter_range(value).ok_or(SHAPE)?
    } else if let Some((y, m)) = value.split_once('-') {
        let y = year(y)?;
        let m: u32 = m.parse().map_err(|_| SHAPE)?;
        let first = NaiveDate::from_ymd_opt(y, m, 1).ok_or(SHAPE)?;
        let next = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        }
        .ok_or(SHAPE)?;
        (first, next.pred_opt().ok_or(SHAPE)?)
    } else {
        let y = year(value)?;
        (
            NaiveDate::from_ymd_opt(y, 1, 1).ok_or(SHAPE)?,
            NaiveDate::from_ymd_opt(y, 12, 31).ok_or(SHAPE)?,
        )
    };
    if first > today {
        return Err("must not begin after today");
    }
    Ok((first, last.min(today)))
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn periods_end_by_today_and_cover_whole_months_quarters_and_years() {
        let d = |s| parse_date(s).unwrap();
        let today = d("2026-12-02");
        assert_eq!(
            period("2026-11", today),
            Ok((d("2026-11-01"), d("2026-11-30")))
        );
        assert_eq!(
            period("2024-02", today),
            Ok((d("2024-02-01"), d("2024-02-29")))
        );
        assert_eq!(
            period("2025-12", today),
            Ok((d("2025-12-01"), d("2025-12-31")))
        );
        assert_eq!(
            period("2026-Q3", today),
            Ok((d("2026-07-01"), d("2026-09-30")))
        );
        // The running month, quarter and year are counted to date.
        assert_eq!(period("2026-12", today), Ok((d("2026-12-01"), today)));
        assert_eq!(period("2026-Q4", today), Ok((d("2026-10-01"), today)));
        assert_eq!(period("2026", today), Ok((d("2026-01-01"), today)));
        assert_eq!(period("YTD", today), Ok((d("2026-01-01"), today)));
        assert_eq!(
            period("2025", today),
            Ok((d("2025-01-01"), d("2025-12-31")))
        );
        for bad in ["2026-13", "2026-Q5", "26", "1999", "2026-1-x", "", "Q3"] {
            assert!(period(bad, today).is_err(), "{bad}");
        }
        assert_eq!(period("2027", today), Err("must not begin after today"));
    }
}
