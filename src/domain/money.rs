//! Amounts in cents and ISO dates, as typed into the add-transaction form.

use chrono::NaiveDate;

/// "1,234.56", "-12.5", "(40.00)", "$ 7" → cents.
pub fn parse_amount(input: &str) -> Result<i64, &'static str> {
    const MSG: &str = "Enter an amount like 1234.56 or -80.00.";
    let mut s: String = input.trim().chars().filter(|c| !matches!(c, ',' | ' ' | '$' | '€' | '£')).collect();
    if s.is_empty() {
        return Err("Enter an amount.");
    }
    let mut negative = false;
    if s.starts_with('(') && s.ends_with(')') {
        negative = true;
        s = s[1..s.len() - 1].to_string();
    }
    if let Some(rest) = s.strip_prefix('-') {
        negative = !negative;
        s = rest.to_string();
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest.to_string();
    }
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s.as_str(), ""),
    };
    if whole.is_empty() && frac.is_empty() {
        return Err(MSG);
    }
    if !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || whole.len() > 13
    {
        return Err(MSG);
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| MSG)? };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| MSG)? * 10,
        _ => frac.parse().map_err(|_| MSG)?,
    };
    let cents = whole * 100 + frac;
    Ok(if negative { -cents } else { cents })
}

/// Cents → "1,234.56" / "-80.00".
pub fn format_amount(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    let whole = (abs / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{sign}{grouped}.{:02}", abs % 100)
}

pub fn parse_date(input: &str) -> Result<NaiveDate, &'static str> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d").map_err(|_| "Enter a date like 2026-01-31.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(parse_amount("1,234.56"), Ok(123456));
        assert_eq!(parse_amount("-12.5"), Ok(-1250));
        assert_eq!(parse_amount("(40.00)"), Ok(-4000));
        assert_eq!(parse_amount("$7"), Ok(700));
        assert!(parse_amount("12.345").is_err());
        assert!(parse_amount("abc").is_err());
        assert!(parse_amount("").is_err());
        assert!(parse_amount("99999999999999999").is_err());
        assert_eq!(format_amount(123456), "1,234.56");
        assert_eq!(format_amount(-8000), "-80.00");
        assert_eq!(format_amount(5), "0.05");
        assert!(parse_date("2026-02-30").is_err());
    }
}
