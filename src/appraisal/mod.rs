//! 民主评议党员: a branch's yearly round. 个人自评 (each member's text and the grade they give
//! themselves) → 党员互评 and 民主测评 (members rate each other by the round's code, never
//! themselves, with a comment for each; paper ballots entered without a name) → 评定 at a
//! sitting of the committee or the assembly, which gives the committee's grade → results:
//! the first grade (优秀) commended and capped, the last (不合格) with its organisational
//! handling recorded; on the member's record and in the statistics.
//!
//! The rules are pure functions over plain data. Their numbers are rule values of the
//! organisational-life rule set ([`MeetingRules`]: `appraisal_*`); the cap and its ties are
//! those of the points year ([`crate::points::convert_in`]).

pub mod store;
pub mod web;

use crate::error::{AppError, FieldError};
use crate::meeting::MeetingRules;
use crate::points::{Grade, Outcome};

/// A round's states (code, name).
pub const STATUSES: [(&str, &str); 4] = [
    ("open", "个人自评"),
    ("rating", "民主测评中"),
    ("decided", "已评定"),
    ("cancelled", "已取消"),
];

/// The organisational handling of a member graded in the last grade (code, name).
pub const HANDLINGS: [(&str, &str); 3] = [
    ("correct", "限期改正"),
    ("persuade", "劝其退党"),
    ("expel", "除名"),
];

pub fn status_label(code: &str) -> &'static str {
    crate::rules::label(&STATUSES, code)
}

pub fn handling_label(code: &str) -> &'static str {
    crate::rules::label(&HANDLINGS, code)
}

/// The points (of 100) a rating in the named grade gives; `None` for a name not in the rules.
pub fn rated(grade: &str, r: &MeetingRules) -> Option<i64> {
    r.appraisal_grades
        .iter()
        .find(|g| g.name == grade)
        .map(|g| g.rated)
}

/// Refuses a grade name the rules do not have.
pub fn check_grade(field: &str, grade: &str, r: &MeetingRules) -> Result<(), AppError> {
    if rated(grade, r).is_none() {
        let names: Vec<&str> = r.appraisal_grades.iter().map(|g| g.name.as_str()).collect();
        return Err(AppError::field(
            field,
            format!("等次须为{}之一", names.join("、")),
        ));
    }
    Ok(())
}

/// The three parts of a member's score in tenths of a point (of 100): the self-assessed
/// grade, the mean of the ratings received, the committee's grade. A part with nothing
/// given is `None`.
pub fn parts(
    self_grade: &str,
    ratings: &[&str],
    committee_grade: &str,
    r: &MeetingRules,
) -> [Option<i64>; 3] {
    let one = |g: &str| rated(g, r).map(|v| v * 10);
    let got: Vec<i64> = ratings.iter().filter_map(|g| rated(g, r)).collect();
    let peer = if got.is_empty() {
        None
    } else {
        let n = got.len() as i64;
        Some((got.iter().sum::<i64>() * 10 * 2 + n) / (2 * n))
    };
    [one(self_grade), peer, one(committee_grade)]
}

/// The weighted score (tenths of a point) of the parts with the rule weights; the weights of
/// the parts present are renormalised to the whole (half up). `None` when no weighted part
/// is present.
pub fn weighted(parts: [Option<i64>; 3], r: &MeetingRules) -> Option<i64> {
    let w = [
        r.appraisal_self_permille,
        r.appraisal_peer_permille,
        r.appraisal_committee_permille,
    ];
    let (mut num, mut den) = (0i64, 0i64);
    for (p, w) in parts.iter().zip(w) {
        if let (Some(p), true) = (p, w > 0) {
            num += p * w;
            den += w;
        }
    }
    (den > 0).then(|| (num * 2 + den) / (2 * den))
}

/// The grades of a round's scores (tenths of a point): the bands of the rules, at most the
/// share of the roll in the first grade, a tie across that limit down together.
pub fn results(scores: &[(i64, i64)], r: &MeetingRules) -> Vec<Outcome> {
    let grades: Vec<Grade> = r
        .appraisal_grades
        .iter()
        .map(|g| Grade {
            name: g.name.clone(),
            min: g.min * 10,
            outcome: g.outcome.clone(),
        })
        .collect();
    crate::points::convert_in(scores, &grades, r.appraisal_excellent_share, "评议得分")
}

/// One line of a 民主测评 ballot.
#[derive(
    Debug, Clone, Default, PartialEq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[schema(as = AppraisalRating)]
#[serde(default)]
pub struct Rating {
    pub member_id: i64,
    /// A grade name of the rules (优秀, 合格, 基本合格, 不合格 by default).
    pub grade: String,
    /// 党员互评: what the rater says of the member (optional, at most 200 characters).
    pub comment: String,
}

/// A ballot is whole: every member of the roll but the rater rated once with a grade of the
/// rules, nobody else, never the rater; comments short.
pub fn check_ballot(
    rater: Option<i64>,
    roll: &[(i64, String)],
    ballot: &[Rating],
    r: &MeetingRules,
) -> Result<(), AppError> {
    let mut errs = Vec::new();
    if let Some(me) = rater {
        if ballot.iter().any(|x| x.member_id == me) {
            return Err(AppError::refused(
                "appraisal.self_rating",
                "民主测评不能给自己评定等次",
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for x in ballot {
        if !roll.iter().any(|(id, _)| *id == x.member_id) || !seen.insert(x.member_id) {
            errs.push(FieldError::new(
                "ratings",
                "测评对象须为本次评议的党员，每人一次",
            ));
            break;
        }
    }
    for x in ballot {
        if rated(&x.grade, r).is_none() {
            let names: Vec<&str> = r.appraisal_grades.iter().map(|g| g.name.as_str()).collect();
            errs.push(FieldError::new(
                "ratings",
                format!("测评等次须为{}之一", names.join("、")),
            ));
            break;
        }
    }
    if ballot.iter().any(|x| x.comment.chars().count() > 200) {
        errs.push(FieldError::new("ratings", "每条互评意见不超过200字"));
    }
    let missing: Vec<&str> = roll
        .iter()
        .filter(|(id, _)| Some(*id) != rater && !ballot.iter().any(|x| x.member_id == *id))
        .map(|(_, n)| n.as_str())
        .collect();
    if !missing.is_empty() {
        errs.push(FieldError::new(
            "ratings",
            format!("还未测评：{}", missing.join("、")),
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<(), AppError>) -> String {
        match r {
            Ok(()) => "ok".into(),
            Err(e) => e.code().to_string(),
        }
    }

    #[test]
    fn a_rating_scores_by_its_grade() {
        let r = MeetingRules::default();
        assert_eq!(rated("优秀", &r), Some(100));
        assert_eq!(rated("不合格", &r), Some(0));
        assert_eq!(rated("良好", &r), None);
        assert_eq!(code(check_grade("g", "合格", &r)), "ok");
        assert_eq!(code(check_grade("g", "", &r)), "validation_failed");
    }

    #[test]
    fn parts_are_means_in_tenths() {
        let r = MeetingRules::default();
        assert_eq!(
            parts("优秀", &["合格", "优秀", "合格"], "合格", &r),
            [Some(1000), Some(867), Some(800)]
        );
        // 80 and 60: 70.0; one 不合格 among two 优秀: 66.7
        assert_eq!(parts("", &["合格", "基本合格"], "", &r)[1], Some(700));
        assert_eq!(parts("", &["优秀", "优秀", "不合格"], "", &r)[1], Some(667));
        assert_eq!(parts("", &[], "", &r), [None, None, None]);
    }

    #[test]
    fn weights_renormalise_when_a_part_is_missing() {
        let r = MeetingRules::default(); // 200 / 500 / 300
        assert_eq!(weighted([Some(1000), Some(800), Some(800)], &r), Some(840));
        // no self-assessment: 500 and 300 scaled to the whole
        assert_eq!(weighted([None, Some(1000), Some(600)], &r), Some(850));
        // only the committee
        assert_eq!(weighted([None, None, Some(600)], &r), Some(600));
        assert_eq!(weighted([None, None, None], &r), None);
        // a weight of 0 never counts, even when its part is there
        let mut z = r.clone();
        z.appraisal_self_permille = 0;
        z.appraisal_peer_permille = 700;
        assert_eq!(weighted([Some(0), None, Some(900)], &z), Some(900));
        assert_eq!(weighted([Some(0), None, None], &z), None);
    }

    #[test]
    fn results_respect_the_bands_and_the_cap() {
        let r = MeetingRules::default(); // 优秀 ≥ 90, 合格 ≥ 70, 基本合格 ≥ 50; ⅓ 优秀
        let g = |v: &[(i64, i64)]| -> Vec<(i64, String)> {
            results(v, &r)
                .into_iter()
                .map(|o| (o.member_id, o.grade))
                .collect()
        };
        // each line at, below and above
        let one = |s| g(&[(1, s), (2, 0), (3, 0)])[0].1.clone();
        assert_eq!(one(900), "优秀");
        assert_eq!(one(899), "合格");
        assert_eq!(one(901), "优秀");
        assert_eq!(one(700), "合格");
        assert_eq!(one(699), "基本合格");
        assert_eq!(one(500), "基本合格");
        assert_eq!(one(499), "不合格");
        // six members all over the line: at most ⌊6/3⌋ = 2
        let six: Vec<(i64, i64)> = (1..=6).map(|i| (i, 900 + i)).collect();
        let out = g(&six);
        assert_eq!(out.iter().filter(|x| x.1 == "优秀").count(), 2);
        assert_eq!(out[0], (6, "优秀".into()));
        // a tie across the cap goes down together, with the reason
        let tie = [(1, 990), (2, 950), (3, 950), (4, 800), (5, 800), (6, 800)];
        let out = results(&tie, &r);
        assert_eq!(
            out.iter()
                .filter(|o| o.grade == "优秀")
                .map(|o| o.member_id)
                .collect::<Vec<_>>(),
            vec![1]
        );
        let two = out
            .iter()
            .find(|o| o.member_id == 2)
            .map(|o| o.note.clone());
        assert!(two.is_some_and(|n| n.contains("超出优秀比例")));
        // a share of 0: nobody 优秀
        let mut z = r.clone();
        z.appraisal_excellent_share = [0, 1];
        assert!(results(&[(1, 1000)], &z).iter().all(|o| o.grade == "合格"));
    }

    #[test]
    fn a_ballot_rates_everyone_else_once() {
        let r = MeetingRules::default();
        let roll: Vec<(i64, String)> = vec![(1, "甲".into()), (2, "乙".into()), (3, "丙".into())];
        let rate = |id: i64, g: &str| Rating {
            member_id: id,
            grade: g.into(),
            comment: String::new(),
        };
        let whole = vec![rate(2, "优秀"), rate(3, "合格")];
        assert_eq!(code(check_ballot(Some(1), &roll, &whole, &r)), "ok");
        let mut own = whole.clone();
        own.push(rate(1, "优秀"));
        assert_eq!(
            code(check_ballot(Some(1), &roll, &own, &r)),
            "appraisal.self_rating"
        );
        // one missing, named
        match check_ballot(Some(1), &roll, &whole[..1], &r) {
            Err(AppError::Validation(e)) => assert!(e[0].message.contains("丙")),
            other => panic!("{other:?}"),
        }
        let twice = vec![rate(2, "优秀"), rate(2, "合格"), rate(3, "合格")];
        assert_eq!(
            code(check_ballot(Some(1), &roll, &twice, &r)),
            "validation_failed"
        );
        let stranger = vec![rate(2, "优秀"), rate(3, "合格"), rate(9, "合格")];
        assert_eq!(
            code(check_ballot(Some(1), &roll, &stranger, &r)),
            "validation_failed"
        );
        let bad = vec![rate(2, "良好"), rate(3, "合格")];
        assert_eq!(
            code(check_ballot(Some(1), &roll, &bad, &r)),
            "validation_failed"
        );
        // a paper ballot has no rater: the whole roll
        assert_eq!(
            code(check_ballot(None, &roll, &whole, &r)),
            "validation_failed"
        );
        let all = vec![rate(1, "合格"), rate(2, "优秀"), rate(3, "合格")];
        assert_eq!(code(check_ballot(None, &roll, &all, &r)), "ok");
        // comments: 200 characters at most
        let mut long = whole.clone();
        long[0].comment = "好".repeat(200);
        assert_eq!(code(check_ballot(Some(1), &roll, &long, &r)), "ok");
        long[0].comment.push('好');
        assert_eq!(
            code(check_ballot(Some(1), &roll, &long, &r)),
            "validation_failed"
        );
    }
}
