//! Citizen identity numbers (公民身份号码, GB 11643-1999): 6-digit region code (GB/T 2260),
//! 8-digit birth date, 3-digit sequence (odd = male), 1 check character (ISO 7064 MOD 11-2).

use chrono::NaiveDate;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Province-level prefixes in use (GB/T 2260).
const PROVINCES: [&str; 34] = [
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdInfo {
    pub region_code: String,
    pub birth_date: NaiveDate,
    pub male: bool,
}

/// The check character for the first 17 digits.
pub fn check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    Some(CHECK[(sum % 11) as usize])
}

/// Validates an 18-digit number; the message says what is wrong, in Chinese.
pub fn parse(id: &str) -> Result<IdInfo, &'static str> {
    let id = id.trim().to_ascii_uppercase();
    if id.chars().count() != 18 {
        return Err("身份证号码应为18位");
    }
    // Characters, not bytes: a multi-byte character must be refused, not sliced through.
    if !id.chars().take(17).all(|c| c.is_ascii_digit()) {
        return Err("身份证号码前17位应为数字");
    }
    if !id.is_ascii() {
        return Err("身份证号码校验位错误");
    }
    let first17 = &id[..17];
    if !PROVINCES.contains(&&id[..2]) {
        return Err("身份证号码的地区码无效");
    }
    let birth = NaiveDate::parse_from_str(&id[6..14], "%Y%m%d")
        .map_err(|_| "身份证号码中的出生日期无效")?;
    if birth < NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(birth) {
        return Err("身份证号码中的出生日期无效");
    }
    let last = id[17..].chars().next().unwrap_or(' ');
    if check_char(first17) != Some(last) {
        return Err("身份证号码校验位错误");
    }
    let seq_digit = id.as_bytes()[16] - b'0';
    Ok(IdInfo {
        region_code: id[..6].to_string(),
        birth_date: birth,
        male: seq_digit % 2 == 1,
    })
}

/// Builds a valid number from its parts (demo data, tests).
pub fn compose(region: &str, birth: NaiveDate, seq: u16, male: bool) -> String {
    let mut s = seq % 1000;
    if (s % 2 == 1) != male {
        s = if s == 999 { 998 } else { s + 1 };
        if (s % 2 == 1) != male {
            s -= 1;
        }
    }
    let first17 = format!("{region}{}{s:03}", birth.format("%Y%m%d"));
    let c = check_char(&first17).unwrap_or('0');
    format!("{first17}{c}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_valid_numbers() {
        // The GB 11643 example and a number ending in X.
        let i = parse("11010519491231002X").expect("valid");
        assert_eq!(i.region_code, "110105");
        assert_eq!(
            i.birth_date,
            NaiveDate::from_ymd_opt(1949, 12, 31).expect("d")
        );
        assert!(!i.male);
        assert!(
            parse("11010519491231002x").is_ok(),
            "lower-case x is accepted"
        );
        let j = parse("440524198001010013").expect("valid");
        assert!(j.male);
    }

    #[test]
    fn refusals() {
        let table = [
            ("11010519491231002", "身份证号码应为18位"),
            ("1101051949123100211", "身份证号码应为18位"),
            ("11010519491231002Y", "身份证号码校验位错误"),
            ("110105194912310021", "身份证号码校验位错误"),
            ("A1010519491231002X", "身份证号码前17位应为数字"),
            ("99010519491231002X", "身份证号码的地区码无效"),
        ];
        for (id, msg) in table {
            assert_eq!(parse(id).err(), Some(msg), "{id}");
        }
        // A date that does not exist, with a correct check digit.
        let bad = compose(
            "370102",
            NaiveDate::from_ymd_opt(2001, 1, 1).expect("d"),
            1,
            true,
        )
        .replacen("20010101", "20010230", 1);
        let fixed = format!("{}{}", &bad[..17], check_char(&bad[..17]).expect("c"));
        assert_eq!(parse(&fixed).err(), Some("身份证号码中的出生日期无效"));
    }

    #[test]
    fn compose_round_trips() {
        let b = NaiveDate::from_ymd_opt(1985, 7, 1).expect("d");
        for (seq, male) in [(0, true), (1, true), (2, false), (999, false), (999, true)] {
            let id = compose("370811", b, seq, male);
            let info = parse(&id).expect("valid");
            assert_eq!(info.birth_date, b);
            assert_eq!(info.male, male, "{id}");
            assert_eq!(info.region_code, "370811");
        }
    }

    /// Fuzz target: any string at all — no panic, and what passes is 18 characters with a
    /// correct check character; any one digit changed in a valid number is caught.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]

            #[test]
            fn never_panics(s in "\\PC{0,24}", mixed in "[0-9]{0,17}[\\x{80}-\\x{10FFFF}][0-9Xx中]{0,4}") {
                for input in [&s, &mixed] {
                    if let Ok(info) = parse(input) {
                        let id = input.trim().to_ascii_uppercase();
                        prop_assert_eq!(id.chars().count(), 18);
                        prop_assert_eq!(check_char(&id[..17]), id[17..].chars().next());
                        prop_assert_eq!(&info.region_code, &id[..6]);
                    }
                }
            }

            #[test]
            fn one_changed_digit_is_caught(days in 0i64..40_000, seq in 0u16..1000, male: bool, at in 0usize..17, by in 1u8..10) {
                let birth = NaiveDate::from_ymd_opt(1910, 1, 1).expect("d") + chrono::Duration::days(days);
                let id = compose("370811", birth, seq, male);
                let info = parse(&id).expect("composed numbers are valid");
                prop_assert_eq!(info.birth_date, birth);
                prop_assert_eq!(info.male, male);
                let mut b = id.into_bytes();
                b[at] = b'0' + (b[at] - b'0' + by) % 10;
                let changed = String::from_utf8(b).expect("ascii");
                prop_assert!(parse(&changed).is_err(), "{}", changed);
            }
        }
    }
}
