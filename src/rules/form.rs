//! The rules page's form: each rule value with its name and unit in Chinese and an input of
//! its type, instead of the rule set's JSON. A number is a number box, a yes/no a choice, a
//! list of numbers or words one line ("7，15，23" — the Chinese comma and 顿号 are accepted),
//! a ratio two numbers ("1/3"); structured values (catalogues, bands, signers) keep a JSON
//! box of their own, in which full-width punctuation from a Chinese IME is accepted too.

use crate::error::AppError;
use serde::Serialize;
use serde_json::{Map, Value};

/// (kind, key, name, unit)
pub const LABELS: &[(&str, &str, &str, &str)] = &[
    ("branch", "min_full_members", "党支部最少正式党员数", "名"),
    ("branch", "max_members", "党员超过此数应分设党支部", "名"),
    (
        "branch",
        "committee_required_at",
        "正式党员达到此数应设支部委员会",
        "名",
    ),
    ("branch", "committee_min", "支部委员会最少委员数", "名"),
    ("branch", "committee_max", "支部委员会一般最多委员数", "名"),
    ("branch", "committee_hard_max", "支部委员会最多委员数", "名"),
    ("branch", "term_years", "党支部任期", "年"),
    ("branch", "term_years_village", "村（社区）党支部任期", "年"),
    ("branch", "term_warn_days", "任期届满前提醒", "天"),
    ("member", "min_join_age", "入党最低年龄", "岁"),
    ("member", "probation_years", "预备期", "年"),
    (
        "member",
        "max_probation_extension_years",
        "预备期最多延长",
        "年",
    ),
    ("recruit", "min_age", "递交入党申请最低年龄", "岁"),
    ("recruit", "talk_within_days", "收到申请后谈话期限", "天"),
    (
        "recruit",
        "min_months_before_activist",
        "申请后确定积极分子最短间隔（0为不限）",
        "个月",
    ),
    ("recruit", "contacts_min", "培养联系人最少", "名"),
    ("recruit", "contacts_max", "培养联系人最多", "名"),
    ("recruit", "review_every_months", "积极分子考察间隔", "个月"),
    (
        "recruit",
        "min_cultivation_months",
        "培养教育最短时间",
        "个月",
    ),
    (
        "recruit",
        "require_evaluation",
        "列为发展对象前须经百分制考评",
        "",
    ),
    (
        "recruit",
        "evaluation_org_weight_pct",
        "考评中党组织评分权重",
        "%",
    ),
    ("recruit", "evaluation_pass", "考评合格分数线", "分"),
    ("recruit", "evaluation_keep", "继续培养分数线", "分"),
    ("recruit", "introducers", "入党介绍人人数", "名"),
    (
        "recruit",
        "political_review_valid_months",
        "政治审查结论有效期",
        "个月",
    ),
    ("recruit", "training_min_days", "集中培训最少天数", "天"),
    ("recruit", "training_min_hours", "集中培训最少学时", "学时"),
    (
        "recruit",
        "prereview_leave_months",
        "预审时将离开单位的期限",
        "个月",
    ),
    (
        "recruit",
        "quorum_permille",
        "支部大会有效的到会比例（超过）",
        "‰",
    ),
    (
        "recruit",
        "pass_permille",
        "决议通过的赞成比例（超过）",
        "‰",
    ),
    (
        "recruit",
        "approval_within_months",
        "上级党委审批期限",
        "个月",
    ),
    (
        "recruit",
        "approval_max_months",
        "特殊情况审批最长期限",
        "个月",
    ),
    ("recruit", "probation_months", "预备期", "个月"),
    ("recruit", "extension_min_months", "延长预备期最短", "个月"),
    ("recruit", "extension_max_months", "延长预备期最长", "个月"),
    (
        "recruit",
        "full_application_window_days",
        "预备期满前可递交转正申请",
        "天",
    ),
    ("recruit", "publicity_steps", "须先公示的步骤（序号）", ""),
    ("recruit", "publicity_working_days", "公示期", "个工作日"),
    (
        "recruit",
        "thought_report_every_months",
        "思想汇报间隔（0为不跟踪）",
        "个月",
    ),
    ("recruit", "max_document_mb", "材料文件最大", "MB"),
    (
        "recruit",
        "signers",
        "各步骤签名人（未列出的步骤按默认）",
        "",
    ),
    (
        "recruit",
        "talent_youth_max_age",
        "向阳计划优秀青年最大年龄",
        "岁",
    ),
    (
        "recruit",
        "talent_contact_every_months",
        "向阳计划跟踪培养间隔",
        "个月",
    ),
    ("rectify", "max_deadline_days", "整改时限最长", "天"),
    ("rectify", "due_soon_days", "临近到期提醒", "天"),
    (
        "rectify",
        "evidence_min_chars",
        "销号申请说明最少字数",
        "字",
    ),
    (
        "rectify",
        "evidence_file_required",
        "销号申请须附佐证材料",
        "",
    ),
    ("rectify", "max_extensions", "每项最多延期次数", "次"),
    ("rectify", "extension_max_days", "每次延期最长", "天"),
    (
        "rectify",
        "overdue_penalty_points",
        "每项逾期在述职评议中扣分",
        "分",
    ),
    ("rectify", "max_document_mb", "佐证文件最大", "MB"),
    ("review", "achievements_max", "述职报告成绩部分最多占比", ""),
    ("review", "problems_min", "问题部分最少占比", ""),
    ("review", "measures_min", "整改措施部分最少占比", ""),
    ("review", "min_figures", "报告中数据少于此数时提醒", "处"),
    ("review", "min_report_chars", "述职报告最少字数", "字"),
    (
        "review",
        "public_min",
        "党代表和群众代表在评议人中最少占比",
        "",
    ),
    ("review", "public_groups", "计为代表和群众的评议人组别", ""),
    ("review", "critique_min", "每名述职人至少点评问题", "个"),
    ("review", "bottom_interviews", "排名靠后约谈人数", "名"),
    (
        "review",
        "bottom_ties_included",
        "末位并列时全部约谈（否：均不约谈）",
        "",
    ),
    ("review", "rectify_days", "评议问题整改时限", "天"),
    ("review", "deduct_overdue", "扣减当年整改逾期分", ""),
    ("love_bank", "services", "服务项目及积分", ""),
    (
        "love_bank",
        "daily_cap",
        "每卡每日最多积分（0为不限）",
        "分",
    ),
    ("love_bank", "max_quantity", "每次兑换同一物品最多", "件"),
    ("points", "indicators", "积分指标库", ""),
    ("points", "grades", "年度等次（从高到低）", ""),
    (
        "points",
        "excellent_share",
        "优秀等次最多占支部党员比例",
        "",
    ),
    ("points", "claim_days", "党员申报期限（事后）", "天"),
    ("points", "backdate_days", "记分最多补记", "天"),
    ("points", "max_evidence_mb", "佐证文件最大", "MB"),
    ("stars", "points_max", "积分折算满分", "分"),
    ("stars", "points_full", "积分达到此数得满分", "分"),
    ("stars", "items", "评定项目（与积分折算合计100分）", ""),
    ("stars", "bands", "星级分数段（五星至二星）", ""),
    ("stars", "five_needs_innovation", "五星须有创新项目", ""),
    ("stars", "caps", "各星级比例上限", ""),
    ("stars", "cap_at_least_one", "比例上限至少允许1个", ""),
    ("stars", "publicity_days", "星级公示期", "天"),
];

/// The name and unit of a rule value (the key itself when not listed).
pub fn label(kind: &str, key: &str) -> (String, &'static str) {
    LABELS
        .iter()
        .find(|(k, f, _, _)| *k == kind && *f == key)
        .map(|(_, _, l, u)| ((*l).to_string(), *u))
        .unwrap_or_else(|| (key.to_string(), ""))
}

/// One input of the form.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub unit: &'static str,
    /// int, bool, ratio, ints, words, json
    pub input: &'static str,
    /// The value as the input shows it.
    pub text: String,
}

fn input_of(v: &Value) -> &'static str {
    match v {
        Value::Bool(_) => "bool",
        Value::Number(_) => "int",
        Value::Array(a) if a.len() == 2 && a.iter().all(Value::is_i64) => "ratio",
        Value::Array(a) if a.iter().all(Value::is_i64) => "ints",
        Value::Array(a) if a.iter().all(Value::is_string) => "words",
        _ => "json",
    }
}

/// The form's fields for a rule set's values (a JSON object).
pub fn fields(kind: &str, values: &Value) -> Vec<Field> {
    let Some(obj) = values.as_object() else {
        return Vec::new();
    };
    // the listed order first (the order of the rule set's document), then any others
    let mut keys: Vec<&String> = LABELS
        .iter()
        .filter(|(k, _, _, _)| *k == kind)
        .filter_map(|(_, f, _, _)| obj.keys().find(|x| x == f))
        .collect();
    keys.extend(obj.keys().filter(|k| !keys.contains(k)).collect::<Vec<_>>());
    keys.into_iter()
        .map(|k| {
            let v = &obj[k];
            let input = input_of(v);
            let text = match (input, v) {
                ("bool", Value::Bool(b)) => b.to_string(),
                ("int", n) => n.to_string(),
                ("ratio", Value::Array(a)) => format!("{}/{}", a[0], a[1]),
                ("ints" | "words", Value::Array(a)) => a
                    .iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join("，"),
                _ => serde_json::to_string_pretty(v).unwrap_or_default(),
            };
            let (label, unit) = label(kind, k);
            Field {
                key: k.clone(),
                label,
                unit,
                input,
                text,
            }
        })
        .collect()
}

/// Full-width punctuation a Chinese IME types, as JSON needs it.
pub fn halfwidth(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '，' | '、' => ',',
            '：' => ':',
            '“' | '”' | '＂' => '"',
            '｛' => '{',
            '｝' => '}',
            '［' | '【' => '[',
            '］' | '】' => ']',
            '　' => ' ',
            '－' => '-',
            '／' => '/',
            c if ('０'..='９').contains(&c) => {
                char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c)
            }
            c => c,
        })
        .collect()
}

fn split_list(s: &str) -> Vec<String> {
    halfwidth(s)
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// The rule set's values from the form's fields (`v.<key>` with `t.<key>` naming the input),
/// each refused in words that name the field.
pub fn values_from(
    kind: &str,
    form: &std::collections::HashMap<String, String>,
) -> Result<Value, AppError> {
    let mut out = Map::new();
    let mut errors = Vec::new();
    let mut keys: Vec<&String> = form.keys().filter(|k| k.starts_with("t.")).collect();
    keys.sort();
    for tk in keys {
        let key = &tk[2..];
        let input = form[tk].as_str();
        let raw = form
            .get(&format!("v.{key}"))
            .map(String::as_str)
            .unwrap_or("");
        let (name, _) = label(kind, key);
        let field = format!("v.{key}");
        let value = match input {
            "int" => halfwidth(raw)
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("“{name}”应为整数")),
            "bool" => Ok(Value::Bool(raw == "true" || raw == "on" || raw == "1")),
            "ratio" => {
                let t = halfwidth(raw);
                let parts: Vec<_> = t.split(['/', ':']).map(str::trim).collect();
                match parts.as_slice() {
                    [a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
                        (Ok(a), Ok(b)) if b > 0 => Ok(Value::from(vec![a, b])),
                        _ => Err(format!("“{name}”应写成 分子/分母，如 1/3")),
                    },
                    _ => Err(format!("“{name}”应写成 分子/分母，如 1/3")),
                }
            }
            "ints" => split_list(raw)
                .iter()
                .map(|x| x.parse::<i64>())
                .collect::<Result<Vec<_>, _>>()
                .map(Value::from)
                .map_err(|_| format!("“{name}”应为以逗号分隔的整数")),
            "words" => Ok(Value::from(split_list(raw))),
            "json" => serde_json::from_str::<Value>(&halfwidth(raw))
                .map_err(|e| format!("“{name}”格式有误（第{}行第{}列）", e.line(), e.column())),
            _ => Err(format!("“{name}”无法识别")),
        };
        match value {
            Ok(v) => {
                out.insert(key.to_string(), v);
            }
            Err(m) => errors.push(crate::error::FieldError::new(&field, m)),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn values_round_trip_through_the_form() {
        let v = serde_json::to_value(crate::recruit::rules::RecruitRules::default()).expect("json");
        let fs = fields("recruit", &v);
        assert_eq!(fs[0].label, "递交入党申请最低年龄");
        assert_eq!(fs[0].unit, "岁");
        let steps = fs
            .iter()
            .find(|f| f.key == "publicity_steps")
            .expect("steps");
        assert_eq!((steps.input, steps.text.as_str()), ("ints", "7，15，23"));
        let mut f = HashMap::new();
        for x in &fs {
            f.insert(format!("t.{}", x.key), x.input.to_string());
            f.insert(format!("v.{}", x.key), x.text.clone());
        }
        assert_eq!(values_from("recruit", &f).expect("values"), v);
    }

    #[test]
    fn chinese_input_is_accepted_and_errors_name_the_field() {
        let f = form(&[
            ("t.publicity_steps", "ints"),
            ("v.publicity_steps", "7、15，２３"),
            ("t.require_evaluation", "bool"),
            ("v.require_evaluation", "false"),
            ("t.excellent_share", "ratio"),
            ("v.excellent_share", "三分之一"),
            ("t.signers", "json"),
            ("v.signers", "｛“7”：［“branch_secretary”］｝"),
        ]);
        let e = values_from("recruit", &f).expect_err("三分之一 is no ratio here");
        let AppError::Validation(errs) = e else {
            panic!("validation")
        };
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "v.excellent_share");
        let mut f = f;
        f.insert("v.excellent_share".into(), "1／3".into());
        let v = values_from("recruit", &f).expect("values");
        assert_eq!(v["publicity_steps"], serde_json::json!([7, 15, 23]));
        assert_eq!(v["require_evaluation"], false);
        assert_eq!(v["excellent_share"], serde_json::json!([1, 3]));
        assert_eq!(v["signers"]["7"][0], "branch_secretary");
        let bad = form(&[("t.min_age", "int"), ("v.min_age", "十八")]);
        let Err(AppError::Validation(errs)) = values_from("recruit", &bad) else {
            panic!("refused")
        };
        assert_eq!(errs[0].message, "“递交入党申请最低年龄”应为整数");
    }

    #[test]
    fn every_rule_value_has_a_name() {
        use crate::rules::RuleKind;
        fn check<R: RuleKind + Default + serde::Serialize>() {
            let v = serde_json::to_value(R::default()).expect("json");
            for k in v.as_object().expect("object").keys() {
                assert!(
                    LABELS
                        .iter()
                        .any(|(kind, f, _, _)| *kind == R::KIND && f == k),
                    "{} {k}",
                    R::KIND
                );
            }
        }
        check::<crate::rules::BranchRules>();
        check::<crate::rules::MemberRules>();
        check::<crate::recruit::rules::RecruitRules>();
        check::<crate::rectification::RectifyRules>();
        check::<crate::review::ReviewRules>();
        check::<crate::love_bank::LoveRules>();
        check::<crate::points::PointsRules>();
        check::<crate::stars::StarRules>();
    }
}
