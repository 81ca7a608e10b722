//! Pinyin keys for search: "zs" (initials) and "zhangsan" (full) both find 张三.
//! Surnames with a special reading (单 shàn, 曾 zēng, ...) are read as surnames.

use pinyin::ToPinyin;

const SURNAMES: &[(char, &str)] = &[
    ('单', "shan"),
    ('曾', "zeng"),
    ('解', "xie"),
    ('仇', "qiu"),
    ('区', "ou"),
    ('朴', "piao"),
    ('查', "zha"),
    ('盖', "ge"),
    ('缪', "miao"),
    ('翟', "zhai"),
    ('乐', "yue"),
    ('覃', "qin"),
    ('种', "chong"),
    ('长', "chang"),
    ('重', "chong"),
    ('万', "wan"),
    ('尉', "yu"),
    ('召', "shao"),
    ('秘', "bi"),
];

/// (full pinyin, initials), lower-case ASCII, no spaces.
pub fn keys(name: &str) -> (String, String) {
    let mut full = String::new();
    let mut initials = String::new();
    for (i, ch) in name.chars().enumerate() {
        let special = if i == 0 {
            SURNAMES.iter().find(|(c, _)| *c == ch).map(|(_, p)| *p)
        } else {
            None
        };
        let syllable: Option<String> = match special {
            Some(p) => Some(p.to_string()),
            None => ch.to_pinyin().map(|p| p.plain().to_string()),
        };
        match syllable {
            Some(s) => {
                full.push_str(&s);
                if let Some(c) = s.chars().next() {
                    initials.push(c);
                }
            }
            None if ch.is_ascii_alphanumeric() => {
                let c = ch.to_ascii_lowercase();
                full.push(c);
                initials.push(c);
            }
            None => {}
        }
    }
    (full, initials)
}

/// The smallest string greater than every string with prefix `p` (ASCII keys).
pub fn prefix_upper(p: &str) -> String {
    format!("{p}\u{7f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(keys("张三"), ("zhangsan".into(), "zs".into()));
        assert_eq!(keys("王小明"), ("wangxiaoming".into(), "wxm".into()));
        assert_eq!(keys("单雄信"), ("shanxiongxin".into(), "sxx".into()));
        assert_eq!(keys("曾国藩"), ("zengguofan".into(), "zgf".into()));
        assert_eq!(keys("欧阳 娜娜"), ("ouyangnana".into(), "oynn".into()));
        assert_eq!(keys("李A"), ("lia".into(), "la".into()));
    }

    #[test]
    fn prefix_range() {
        let up = prefix_upper("zs");
        assert!("zs" < up.as_str() && "zsz" < up.as_str() && "zt" > up.as_str());
    }
}
