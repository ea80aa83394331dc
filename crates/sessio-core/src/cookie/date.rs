//! The IMF-fixdate of `Expires` (RFC 9110 section 5.6.7), computed from a [`Timestamp`]
//! with no calendar dependency: a civil date is a few integer divisions away.

use alloc::string::String;

use crate::time::Timestamp;

/// 9999-12-31T23:59:59Z: the last instant with a four-digit year.
const LAST_FOUR_DIGIT_YEAR_SECS: u64 = 253_402_300_799;
const SECS_PER_DAY: u64 = 86_400;
/// 1970-01-01 was a Thursday; the table starts on Sunday.
const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Appends `at` as an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// The format has exactly four year digits, so instants after 9999-12-31T23:59:59Z are
/// written as that instant: for a cookie's expiry, "the year 9999" already means never.
///
/// ```
/// use sessio_core::cookie::write_imf_fixdate;
/// use sessio_core::Timestamp;
///
/// let mut out = String::new();
/// write_imf_fixdate(Timestamp::from_unix_secs(784_111_777), &mut out);
/// assert_eq!(out, "Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn write_imf_fixdate(at: Timestamp, out: &mut String) {
    let secs = at.unix_secs().min(LAST_FOUR_DIGIT_YEAR_SECS);
    let days = secs / SECS_PER_DAY;
    let of_day = secs % SECS_PER_DAY;
    let (year, month, day) = civil_from_days(days);

    // Both indices are reduced modulo the table length, so they are always in range.
    out.push_str(WEEKDAYS[((days + 4) % 7) as usize]);
    out.push_str(", ");
    push_two_digits(day, out);
    out.push(' ');
    out.push_str(MONTHS[((month + 11) % 12) as usize]);
    out.push(' ');
    push_two_digits(year / 100, out);
    push_two_digits(year % 100, out);
    out.push(' ');
    push_two_digits(of_day / 3600, out);
    out.push(':');
    push_two_digits(of_day / 60 % 60, out);
    out.push(':');
    push_two_digits(of_day % 60, out);
    out.push_str(" GMT");
}

/// Year, month (1..=12) and day (1..=31) of a day count since 1970-01-01, in the proleptic
/// Gregorian calendar. Howard Hinnant's `civil_from_days`, restricted to non-negative days.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01, so the leap day ends each 400-year era.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

fn push_two_digits(n: u64, out: &mut String) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixdate(secs: u64) -> String {
        let mut out = String::new();
        write_imf_fixdate(Timestamp::from_unix_secs(secs), &mut out);
        out
    }

    #[test]
    fn known_dates() {
        assert_eq!(fixdate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(fixdate(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(fixdate(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(fixdate(951_868_800), "Wed, 01 Mar 2000 00:00:00 GMT");
        assert_eq!(fixdate(1_709_164_800), "Thu, 29 Feb 2024 00:00:00 GMT");
        // The 32-bit rollover and beyond.
        assert_eq!(fixdate(2_147_483_647), "Tue, 19 Jan 2038 03:14:07 GMT");
        assert_eq!(fixdate(2_147_483_648), "Tue, 19 Jan 2038 03:14:08 GMT");
        assert_eq!(fixdate(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
        assert_eq!(fixdate(4_102_444_799), "Thu, 31 Dec 2099 23:59:59 GMT");
    }

    #[test]
    fn clamps_after_year_9999() {
        let last = "Fri, 31 Dec 9999 23:59:59 GMT";
        assert_eq!(fixdate(LAST_FOUR_DIGIT_YEAR_SECS), last);
        assert_eq!(fixdate(LAST_FOUR_DIGIT_YEAR_SECS + 1), last);
        assert_eq!(fixdate(u64::MAX), last);
    }

    #[test]
    fn appends_without_clearing() {
        let mut out = String::from("Expires=");
        write_imf_fixdate(Timestamp::UNIX_EPOCH, &mut out);
        assert_eq!(out, "Expires=Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // Walks a few centuries day by day: the date must advance by exactly one day.
        let mut previous = civil_from_days(0);
        for days in 1..(400 * 366) {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = previous;
            let next_day = y == py && m == pm && d == pd + 1;
            let next_month = y == py && m == pm + 1 && d == 1;
            let next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
            assert!(
                next_day || next_month || next_year,
                "{previous:?} -> {:?}",
                (y, m, d)
            );
            assert!(d <= 31 && (1..=12).contains(&m));
            previous = (y, m, d);
        }
    }
}
