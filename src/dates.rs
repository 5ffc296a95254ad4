//! Dates for people: `YYYY-MM-DD` in, `YYYY-MM-DD HH:MM` (UTC) out, over Unix seconds.

/// A date that is not `YYYY-MM-DD`.
#[derive(Debug, thiserror::Error)]
#[error("dates are YYYY-MM-DD, got {0:?}")]
pub struct BadDate(pub String);

/// The years a date may name (no arithmetic on hostile numbers overflows).
const YEARS: std::ops::RangeInclusive<i64> = 1900..=9999;

/// `YYYY-MM-DD` (UTC midnight) to Unix seconds, years 1900 to 9999.
pub(crate) fn parse_date(text: &str) -> Result<i64, BadDate> {
    let parts: Vec<&str> = text.split('-').collect();
    let bad = || BadDate(text.to_owned());
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    let (y, m, d): (i64, i64, i64) = (
        y.parse().map_err(|_| bad())?,
        m.parse().map_err(|_| bad())?,
        d.parse().map_err(|_| bad())?,
    );
    if !(YEARS.contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d)) {
        return Err(bad());
    }
    // Days from the civil date (proleptic Gregorian), after H. Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Ok((era * 146_097 + doe - 719_468) * 86_400)
}

/// Unix seconds to `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn format_time(at: i64) -> String {
    let days = at.div_euclid(86_400);
    let secs = at.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("1970-01-01").unwrap(), 0);
        assert_eq!(parse_date("2026-11-24").unwrap(), 1_795_478_400);
        assert_eq!(format_time(1_795_478_400 + 3_660), "2026-11-24 01:01");
        assert_eq!(format_time(parse_date("2000-02-29").unwrap()), "2000-02-29 00:00");
        assert!(parse_date("2026-13-01").is_err() && parse_date("yesterday").is_err());
        for hostile in
            ["300000000000-01-01", "-9223372036854775808-01-01", "1899-12-31", "10000-01-01"]
        {
            assert!(parse_date(hostile).is_err(), "{hostile}");
        }
        assert_eq!(format_time(parse_date("9999-12-31").unwrap()), "9999-12-31 00:00");
    }
}
