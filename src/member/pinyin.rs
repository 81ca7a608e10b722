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

/// Whether `q` is a pinyin search: letters only ("zs", "zhangsan").
pub fn is_query(q: &str) -> bool {
    !q.is_empty() && q.chars().all(|c| c.is_ascii_alphabetic())
}

/// Whether `name` reads as the pinyin search `q`, as the roster reads it: its initials or its
/// full pinyin begin with `q` (case ignored).
pub fn reads_as(name: &str, q: &str) -> bool {
    let q = q.to_ascii_lowercase();
    let (full, initials) = keys(name);
    initials.starts_with(&q) || full.starts_with(&q)
}

/// The most names a pinyin search reads through, and the most ids it hands back.
const MAX_READ: i64 = 50_000;
pub const MAX_FOUND: usize = 2_000;

/// The ids among `sql`'s rows (`id`, `name`; `$1`/`$2` the subtree's path range) whose name
/// reads as the pinyin search `q`: for the lists whose names have no stored pinyin keys
/// (applicants, pools, ledger owners, love-bank cards — hundreds to a few thousand a city),
/// read through in the process instead. Empty when `q` is no pinyin search.
pub async fn matching(
    db: &crate::db::Db,
    sql: &str,
    scope_path: &str,
    q: &str,
) -> crate::error::AppResult<Vec<i64>> {
    use crate::db::DbRow;
    let q = q.trim();
    if !is_query(q) {
        return Ok(Vec::new());
    }
    let sql = format!("{sql} LIMIT {MAX_READ}");
    let upper = crate::db::path_upper(scope_path);
    let rows: Vec<(i64, String)> = crate::on_db!(db, p => {
        let rows = sqlx::query(&sql).bind(scope_path).bind(&upper).fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?))).collect::<crate::db::DbResult<Vec<_>>>()?
    });
    Ok(rows
        .into_iter()
        .filter(|(_, name)| reads_as(name, q))
        .map(|(id, _)| id)
        .take(MAX_FOUND)
        .collect())
}

/// ` AND (<like> OR <id_col> IN (ids))`: a name search that also finds `ids` (a pinyin
/// search's matches), on `b`.
pub fn name_or_ids(
    b: &mut crate::db::SqlBuilder,
    like_sql: &str,
    like: String,
    id_col: &str,
    ids: &[i64],
) {
    use crate::db::Val;
    let l = b.arg(Val::Str(like));
    let cond = like_sql.replace('?', &l);
    if ids.is_empty() {
        b.push(&format!(" AND ({cond})"));
        return;
    }
    let list: Vec<String> = ids.iter().map(|id| b.arg(Val::I64(*id))).collect();
    b.push(&format!(
        " AND ({cond} OR {id_col} IN ({}))",
        list.join(", ")
    ));
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
    fn a_pinyin_search_reads_initials_or_the_whole_name() {
        for (name, q, yes) in [
            ("徐丽霞", "xlx", true),
            ("徐丽霞", "XL", true),
            ("徐丽霞", "xuli", true),
            ("徐丽霞", "lx", false),
            ("王华", "wh", true),
            ("王华", "whx", false),
            ("单雄信", "sxx", true),
        ] {
            assert_eq!(reads_as(name, q), yes, "{name} {q}");
        }
        assert!(is_query("wh") && !is_query("w1") && !is_query("") && !is_query("王"));
    }

    #[test]
    fn prefix_range() {
        let up = prefix_upper("zs");
        assert!("zs" < up.as_str() && "zsz" < up.as_str() && "zt" > up.as_str());
    }
}
