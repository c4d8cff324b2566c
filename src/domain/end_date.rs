//! An access end date: the day access ends, at midnight UTC at its start. Lists say
//! "until 31 Mar 2027"; the access is gone from that moment, on the person's next request.

use chrono::{Datelike, NaiveDate, NaiveDateTime};

/// At most this far ahead (a typo such as 20270 is not a plan).
const MAX_YEARS_AHEAD: i32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EndDate(NaiveDate);

impl EndDate {
    /// A form's "Access ends" field: empty is "no end date"; otherwise a date (as a browser's
    /// date field sends it, 2027-03-31) after `today`.
    pub fn parse(input: &str, today: NaiveDate) -> Result<Option<EndDate>, &'static str> {
        let input = input.trim();
        if input.is_empty() {
            return Ok(None);
        }
        let date = NaiveDate::parse_from_str(input, "%Y-%m-%d")
            .map_err(|_| "Enter the end date as a date, like 2027-03-31, or leave it empty for no end date.")?;
        if date <= today {
            return Err("The end date must be after today.");
        }
        if date.year() > today.year() + MAX_YEARS_AHEAD {
            return Err("The end date must be within ten years.");
        }
        Ok(Some(EndDate(date)))
    }

    /// The date of a stored end (the moment access ends).
    pub fn of(at: NaiveDateTime) -> EndDate {
        EndDate(at.date())
    }

    /// The moment access ends: midnight UTC at the start of the date.
    pub fn starts_at(self) -> NaiveDateTime {
        self.0.and_hms_opt(0, 0, 0).expect("midnight exists")
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// As a date field's value: 2027-03-31.
    pub fn iso(self) -> String {
        self.0.format("%Y-%m-%d").to_string()
    }

    /// As lists show it: 31 Mar 2027.
    pub fn words(self) -> String {
        self.0.format("%-d %b %Y").to_string()
    }

    /// The same date `days` later.
    pub fn plus_days(self, days: i64) -> EndDate {
        EndDate(self.0 + chrono::Duration::days(days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 5).unwrap()
    }

    #[test]
    fn empty_is_no_end_date() {
        assert_eq!(EndDate::parse("  ", today()), Ok(None));
    }

    #[test]
    fn a_date_after_today_is_an_end_at_its_midnight() {
        let d = EndDate::parse("2027-03-31", today()).unwrap().unwrap();
        assert_eq!(d.words(), "31 Mar 2027");
        assert_eq!(d.iso(), "2027-03-31");
        assert_eq!(d.starts_at().to_string(), "2027-03-31 00:00:00");
        assert_eq!(EndDate::of(d.starts_at()), d);
    }

    #[test]
    fn today_the_past_garbage_and_the_far_future_are_refused() {
        assert_eq!(EndDate::parse("2026-12-05", today()), Err("The end date must be after today."));
        assert_eq!(EndDate::parse("2026-01-01", today()), Err("The end date must be after today."));
        assert!(EndDate::parse("31/03/2027", today()).unwrap_err().starts_with("Enter the end date"));
        assert!(EndDate::parse("2027-02-30", today()).unwrap_err().starts_with("Enter the end date"));
        assert_eq!(EndDate::parse("20270-01-01", today()).map_err(|_| ()), Err(()));
        assert_eq!(EndDate::parse("2037-01-01", today()), Err("The end date must be within ten years."));
        assert!(EndDate::parse("2036-12-31", today()).unwrap().is_some());
    }
}
