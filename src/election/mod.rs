//! 换届选举: a branch's committee elected at a 党员大会 under the 《中国共产党基层组织选举工作条例》,
//! reported to the level above for its 批复, which replaces the committee roster and starts the
//! new term; and 延期换届, asked by the branch and approved by the level above, capped.
//!
//! The rules here are pure functions over plain data; their numbers are rule values of the
//! organisational-life rule set ([`crate::meeting::MeetingRules`]: `election_*`,
//! `extension_max_months`), the term lengths those of the branch rules.

pub mod store;
pub mod web;

use crate::error::AppError;
use crate::meeting::{share_words, MeetingRules};
use serde::{Deserialize, Serialize};

/// An election's states (code, name).
pub const STATUSES: [(&str, &str); 5] = [
    ("prepared", "筹备中"),
    ("reported", "已报上级批复"),
    ("approved", "已批复"),
    ("returned", "未予批复"),
    ("cancelled", "已取消"),
];

/// The roles on a committee (code, name).
pub const ROLES: [(&str, &str); 3] = [
    ("secretary", "书记"),
    ("deputy", "副书记"),
    ("member", "委员"),
];

/// A 延期's states (code, name).
pub const EXTENSION_STATUSES: [(&str, &str); 3] = [
    ("asked", "待批准"),
    ("approved", "已批准"),
    ("refused", "未批准"),
];

/// A candidate on the ballot and, once counted, their votes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ElectionCandidate)]
#[serde(default)]
pub struct Candidate {
    pub member_id: i64,
    pub name: String,
    pub votes: i64,
    pub elected: bool,
    /// `secretary`, `deputy` or `member` once elected; empty otherwise.
    pub role: String,
}

/// The fewest candidates for `seats` under the 差额 share: more than the seats by at least
/// `permille` of them, rounded up (5 seats at 20% → 6; 3 seats → 4).
pub fn min_candidates(seats: i64, permille: i64) -> i64 {
    seats + (seats * permille + 999) / 1000
}

/// 差额: refuses a candidate list shorter than [`min_candidates`].
pub fn check_margin(seats: i64, candidates: i64, r: &MeetingRules) -> Result<(), AppError> {
    let need = min_candidates(seats, r.election_margin_permille);
    if candidates < need {
        return Err(AppError::refused(
            "election.margin",
            format!(
                "差额选举：候选人数应多于应选名额{}以上（应选{}名，至少{}名候选人，现有{}名）",
                share_words(r.election_margin_permille),
                seats,
                need,
                candidates
            ),
        ));
    }
    Ok(())
}

/// The sitting is valid only when the voting members present exceed the share (⅘) of those
/// entitled.
pub fn check_present(expected: i64, present: i64, r: &MeetingRules) -> Result<(), AppError> {
    if expected <= 0 || present * 1000 <= expected * r.election_quorum_permille {
        return Err(AppError::refused(
            "election.no_quorum",
            format!(
                "有选举权的到会党员须超过应到人数的{}（应到{}人，实到{}人），选举无效",
                share_words(r.election_quorum_permille),
                expected,
                present
            ),
        ));
    }
    Ok(())
}

/// The ballots as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ballots {
    /// Issued: one to each voting member present.
    pub issued: i64,
    pub returned: i64,
    pub invalid: i64,
}

/// What the count decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// Seats left unfilled (另行选举).
    pub unfilled: i64,
    /// Candidates over the line but tied at the last seat (再次投票).
    pub tied: Vec<String>,
}

/// Counts the ballots: more returned than issued makes the election void; each candidate's
/// votes are at most the valid ballots and all together at most valid × seats (a ballot
/// marking more than the seats is invalid). Elected: more than the share (half) of the voting
/// members present, the most votes first, up to the seats; candidates tied across the last
/// seat are none of them elected. Marks `elected` on `c`.
pub fn tally(
    seats: i64,
    ballots: Ballots,
    c: &mut [Candidate],
    r: &MeetingRules,
) -> Result<Outcome, AppError> {
    if ballots.returned > ballots.issued {
        return Err(AppError::refused(
            "election.too_many_ballots",
            format!(
                "收回的选票多于发出的选票（发出{}张，收回{}张），选举无效",
                ballots.issued, ballots.returned
            ),
        ));
    }
    if ballots.returned < 0 || ballots.invalid < 0 || ballots.invalid > ballots.returned {
        return Err(AppError::field(
            "ballots_invalid",
            format!("无效票须在0至收回票数（{}张）之间", ballots.returned),
        ));
    }
    let valid = ballots.returned - ballots.invalid;
    for x in c.iter() {
        if x.votes < 0 || x.votes > valid {
            return Err(AppError::field(
                "votes",
                format!("{}的得票须在0至有效票数（{}张）之间", x.name, valid),
            ));
        }
    }
    let sum: i64 = c.iter().map(|x| x.votes).sum();
    if sum > valid.saturating_mul(seats) {
        return Err(AppError::field(
            "votes",
            format!("得票合计{sum}票，多于有效票{valid}张×应选{seats}名，请核对计票"),
        ));
    }
    let line = |v: i64| v * 1000 > ballots.issued * r.election_elect_permille;
    let mut order: Vec<usize> = (0..c.len()).filter(|&i| line(c[i].votes)).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(c[i].votes));
    let seats_u = usize::try_from(seats.max(0)).unwrap_or(0);
    let mut out = Outcome::default();
    let mut chosen: Vec<usize> = order.iter().copied().take(seats_u).collect();
    if order.len() > seats_u && seats_u > 0 {
        let last = c[order[seats_u - 1]].votes;
        if c[order[seats_u]].votes == last {
            chosen.retain(|&i| c[i].votes != last);
            out.tied = order
                .iter()
                .filter(|&&i| c[i].votes == last)
                .map(|&i| c[i].name.clone())
                .collect();
        }
    }
    for x in c.iter_mut() {
        x.elected = false;
    }
    for &i in &chosen {
        c[i].elected = true;
    }
    out.unfilled = seats - chosen.len() as i64;
    Ok(out)
}

/// 延期换届: the months asked on top of those approved may not pass the cap.
pub fn check_extension(approved: i64, asked: i64, r: &MeetingRules) -> Result<(), AppError> {
    if asked < 1 {
        return Err(AppError::field("months", "延期月数须至少1个月"));
    }
    if approved + asked > r.extension_max_months {
        return Err(AppError::refused(
            "election.extension_cap",
            format!(
                "延期换届累计不得超过{}个月（本届已批准延期{}个月，本次申请{}个月）",
                r.extension_max_months, approved, asked
            ),
        ));
    }
    Ok(())
}

pub fn status_label(code: &str) -> &'static str {
    crate::rules::label(&STATUSES, code)
}

pub fn role_label(code: &str) -> &'static str {
    crate::rules::label(&ROLES, code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(name: &str, votes: i64) -> Candidate {
        Candidate {
            member_id: 0,
            name: name.into(),
            votes,
            ..Default::default()
        }
    }

    fn elected(c: &[Candidate]) -> Vec<&str> {
        c.iter()
            .filter(|x| x.elected)
            .map(|x| x.name.as_str())
            .collect()
    }

    #[test]
    fn margin_at_least_a_fifth_more() {
        let r = MeetingRules::default();
        for (seats, cands, ok) in [
            (5, 5, false),
            (5, 6, true),
            (3, 3, false),
            (3, 4, true),
            (7, 8, false),
            (7, 9, true),
            (1, 2, true),
            (1, 1, false),
        ] {
            assert_eq!(
                check_margin(seats, cands, &r).is_ok(),
                ok,
                "{seats}/{cands}"
            );
        }
        assert_eq!(min_candidates(5, 200), 6);
        assert_eq!(min_candidates(7, 200), 9);
        assert_eq!(min_candidates(5, 0), 5);
        let e = format!("{:?}", check_margin(5, 5, &r).expect_err("margin"));
        assert!(e.contains("应选5名，至少6名候选人，现有5名"), "{e}");
    }

    #[test]
    fn more_than_four_fifths_present() {
        let r = MeetingRules::default();
        // 10 entitled: 8 is exactly ⅘ (refused), 9 passes; 11: 8 is below, 9 passes.
        for (e, p, ok) in [
            (10, 8, false),
            (10, 9, true),
            (11, 8, false),
            (11, 9, true),
            (5, 4, false),
            (5, 5, true),
            (0, 0, false),
        ] {
            assert_eq!(check_present(e, p, &r).is_ok(), ok, "{e}/{p}");
        }
        let e = format!("{:?}", check_present(10, 8, &r).expect_err("quorum"));
        assert!(e.contains("五分之四（应到10人，实到8人）"), "{e}");
        let loose = MeetingRules {
            election_quorum_permille: 500,
            ..Default::default()
        };
        assert!(check_present(10, 6, &loose).is_ok());
    }

    #[test]
    fn elected_with_more_than_half_of_those_present() {
        let r = MeetingRules::default();
        let b = Ballots {
            issued: 10,
            returned: 10,
            invalid: 0,
        };
        // 5 of 10 is half (not elected), 6 is more
        let mut c = vec![cand("甲", 6), cand("乙", 5), cand("丙", 9), cand("丁", 10)];
        let o = tally(3, b, &mut c, &r).expect("tally");
        assert_eq!(elected(&c), vec!["甲", "丙", "丁"]);
        assert_eq!(o.unfilled, 0);
        // the line counts those present (issued), not the ballots returned
        let b2 = Ballots {
            issued: 10,
            returned: 8,
            invalid: 0,
        };
        let mut c = vec![cand("甲", 5), cand("乙", 6), cand("丙", 6), cand("丁", 7)];
        let o = tally(3, b2, &mut c, &r).expect("tally");
        assert_eq!(elected(&c), vec!["乙", "丙", "丁"]);
        assert_eq!(o.unfilled, 0);
        // too few over the line: seats unfilled
        let mut c = vec![cand("甲", 6), cand("乙", 5), cand("丙", 4), cand("丁", 5)];
        let o = tally(3, b, &mut c, &r).expect("tally");
        assert_eq!(elected(&c), vec!["甲"]);
        assert_eq!(o.unfilled, 2);
    }

    #[test]
    fn most_votes_first_and_ties_across_the_last_seat() {
        let r = MeetingRules::default();
        let b = Ballots {
            issued: 10,
            returned: 10,
            invalid: 0,
        };
        let mut c = vec![cand("甲", 9), cand("乙", 8), cand("丙", 7), cand("丁", 6)];
        tally(3, b, &mut c, &r).expect("tally");
        assert_eq!(elected(&c), vec!["甲", "乙", "丙"]);
        let mut c = vec![cand("甲", 8), cand("乙", 6), cand("丙", 6), cand("丁", 0)];
        let o = tally(2, b, &mut c, &r).expect("tally");
        assert_eq!(elected(&c), vec!["甲"]);
        assert_eq!(o.unfilled, 1);
        assert_eq!(o.tied, vec!["乙".to_string(), "丙".to_string()]);
    }

    #[test]
    fn ballots_must_add_up() {
        let r = MeetingRules::default();
        let c0 = vec![cand("甲", 6), cand("乙", 6), cand("丙", 6), cand("丁", 6)];
        // more returned than issued: void
        let mut c = c0.clone();
        let e = tally(
            3,
            Ballots {
                issued: 10,
                returned: 11,
                invalid: 0,
            },
            &mut c,
            &r,
        )
        .expect_err("void");
        assert!(format!("{e:?}").contains("election.too_many_ballots"));
        // returned = issued is fine
        let mut c = c0.clone();
        assert!(tally(
            3,
            Ballots {
                issued: 10,
                returned: 10,
                invalid: 0
            },
            &mut c,
            &r
        )
        .is_ok());
        // invalid beyond returned
        let mut c = c0.clone();
        assert!(tally(
            3,
            Ballots {
                issued: 10,
                returned: 9,
                invalid: 10
            },
            &mut c,
            &r
        )
        .is_err());
        // a candidate over the valid ballots
        let mut c = vec![cand("甲", 10), cand("乙", 1)];
        assert!(tally(
            1,
            Ballots {
                issued: 10,
                returned: 10,
                invalid: 1
            },
            &mut c,
            &r
        )
        .is_err());
        // at most valid × seats in all: 3 seats × 8 valid = 24
        let mut c = vec![cand("甲", 8), cand("乙", 8), cand("丙", 8), cand("丁", 1)];
        assert!(tally(
            3,
            Ballots {
                issued: 10,
                returned: 8,
                invalid: 0
            },
            &mut c,
            &r
        )
        .is_err());
        let mut c = vec![cand("甲", 8), cand("乙", 8), cand("丙", 7), cand("丁", 1)];
        assert!(tally(
            3,
            Ballots {
                issued: 10,
                returned: 8,
                invalid: 0
            },
            &mut c,
            &r
        )
        .is_ok());
    }

    #[test]
    fn extension_capped() {
        let r = MeetingRules::default();
        for (approved, asked, ok) in [
            (0, 12, true),
            (0, 13, false),
            (6, 6, true),
            (6, 7, false),
            (0, 0, false),
            (12, 1, false),
        ] {
            assert_eq!(
                check_extension(approved, asked, &r).is_ok(),
                ok,
                "{approved}+{asked}"
            );
        }
        let e = format!("{:?}", check_extension(6, 7, &r).expect_err("cap"));
        assert!(
            e.contains("不得超过12个月（本届已批准延期6个月，本次申请7个月）"),
            "{e}"
        );
    }
}
