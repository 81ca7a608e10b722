//! The rules page's form: each rule value with its name and unit in Chinese and an input of
//! its type, instead of the rule set's JSON. A number is a number box, a yes/no a choice, a
//! list of numbers or words one line ("7，15，23" — the Chinese comma and 顿号 are accepted),
//! a ratio two numbers ("1/3"); a structured value (a catalogue, bands, signers) is a table
//! with a row per record and a named column per field ([`TABLES`]), codes offered by their
//! names; a value of a shape no table describes keeps a JSON box, in which full-width
//! punctuation from a Chinese IME is accepted too.

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
    (
        "work_log",
        "due_hours_after_week",
        "每周记实截止：周日24时后",
        "小时",
    ),
    (
        "work_log",
        "missed_after_days",
        "逾期多少天未报记为未报",
        "天",
    ),
    ("work_log", "lock_days", "报送后锁定", "天"),
    ("work_log", "require_party_item", "每周须含党建工作内容", ""),
    ("work_log", "max_items", "本周工作、下周计划各最多", "项"),
    (
        "work_log",
        "exempt_weeks_without_working_days",
        "整周放假的周免报",
        "",
    ),
    (
        "work_log",
        "public_dispatch",
        "在公开页面公示每周工作调度",
        "",
    ),
    ("first_secretary", "term_months_min", "派驻任期最短", "个月"),
    ("first_secretary", "term_months_max", "派驻任期最长", "个月"),
    (
        "first_secretary",
        "term_months_max_extended",
        "延期后任期最长",
        "个月",
    ),
    (
        "first_secretary",
        "checkin_radius_m",
        "打卡范围：距驻村地点",
        "米",
    ),
    ("first_secretary", "require_photo", "打卡须拍现场照片", ""),
    ("meeting", "requirements", "会议频次", ""),
    (
        "meeting",
        "committee_from_full_members",
        "正式党员达到此数且设支委会的支部须按期召开支委会",
        "名",
    ),
    (
        "meeting",
        "theme_day_week",
        "主题党日：每月第几周（0为最后一周）",
        "",
    ),
    (
        "meeting",
        "theme_day_weekday",
        "主题党日：星期几（1为周一）",
        "",
    ),
    (
        "meeting",
        "file_within_days",
        "会议记录归档期限（周期结束后）",
        "天",
    ),
    (
        "meeting",
        "missed_after_days",
        "逾期多少天未归档视为未召开",
        "天",
    ),
    ("meeting", "sign_in_before_minutes", "会前可签到", "分钟"),
    ("meeting", "sign_in_after_minutes", "会后可签到", "分钟"),
    (
        "meeting",
        "assembly_quorum_permille",
        "党员大会有表决权党员到会须超过",
        "‰",
    ),
    (
        "meeting",
        "assembly_pass_permille",
        "表决赞成票须超过应到有表决权党员",
        "‰",
    ),
    (
        "meeting",
        "committee_quorum_permille",
        "支委会到会委员须超过",
        "‰",
    ),
    (
        "meeting",
        "amber_missed_max",
        "未按期召开不超过此数为黄灯（超过为红灯）",
        "次",
    ),
    (
        "meeting",
        "absence_months",
        "连续未参加组织生活提醒",
        "个月",
    ),
    (
        "meeting",
        "election_quorum_permille",
        "换届选举：有选举权的到会党员须超过应到人数",
        "‰",
    ),
    (
        "meeting",
        "election_margin_permille",
        "换届选举：候选人数多于应选名额的差额比例不少于",
        "‰",
    ),
    (
        "meeting",
        "election_elect_permille",
        "换届选举：当选须获得的赞成票超过实到会有选举权人数",
        "‰",
    ),
    (
        "meeting",
        "appraisal_self_permille",
        "民主评议：个人自评等次所占权重",
        "‰",
    ),
    (
        "meeting",
        "appraisal_peer_permille",
        "民主评议：民主测评所占权重",
        "‰",
    ),
    (
        "meeting",
        "appraisal_committee_permille",
        "民主评议：支部评价所占权重",
        "‰",
    ),
    (
        "meeting",
        "appraisal_grades",
        "民主评议等次（从高到低）",
        "",
    ),
    (
        "meeting",
        "appraisal_min_ballots_permille",
        "民主评议：评定前收回的测评票不少于参评人数",
        "‰",
    ),
    (
        "meeting",
        "appraisal_excellent_share",
        "民主评议优秀等次最多占参评党员比例",
        "",
    ),
    (
        "meeting",
        "minutes_similar_permille",
        "会议记录与其他支部记录相似度达到此值时提示上级",
        "‰",
    ),
    (
        "meeting",
        "minutes_min_chars",
        "参与相似度比对的会议记录最少字数",
        "字",
    ),
    (
        "meeting",
        "talks_per_category_year",
        "谈心谈话：支委之间、支委与党员之间、党员之间每类每年至少",
        "次",
    ),
    (
        "meeting",
        "extension_max_months",
        "延期换届累计最长",
        "个月",
    ),
    ("first_secretary", "photo_max_mb", "照片大小上限", "MB"),
    (
        "first_secretary",
        "offline_after_minutes",
        "晚于拍摄时间多少分钟上传记为离线补传",
        "分钟",
    ),
    (
        "first_secretary",
        "offline_max_hours",
        "离线打卡补传时限",
        "小时",
    ),
    (
        "first_secretary",
        "village_days_permille",
        "每月在村天数不少于工作日的",
        "‰",
    ),
    (
        "first_secretary",
        "retention_days",
        "打卡位置和照片保存",
        "天",
    ),
    (
        "first_secretary",
        "max_accuracy_m",
        "定位精度低于多少米不算在村",
        "米",
    ),
    (
        "first_secretary",
        "leave_township_max_days",
        "乡镇审批的请假最多",
        "个工作日",
    ),
    (
        "first_secretary",
        "leave_max_days",
        "一次请假最多",
        "个工作日",
    ),
    (
        "first_secretary",
        "activity_grace_days",
        "“四个一”期满后补录期限",
        "天",
    ),
    ("first_secretary", "pledge_items_max", "履职承诺最多", "条"),
    (
        "first_secretary",
        "annual_monthly_percent",
        "年度考核中月度评分（日常考核）所占权重",
        "%",
    ),
    (
        "first_secretary",
        "annual_excellent_min",
        "年度考核“优秀”最低分",
        "分",
    ),
    (
        "first_secretary",
        "annual_competent_min",
        "年度考核“称职”最低分",
        "分",
    ),
    (
        "first_secretary",
        "annual_basic_min",
        "年度考核“基本称职”最低分",
        "分",
    ),
    (
        "first_secretary",
        "annual_excellent_share",
        "年度考核“优秀”最多占比",
        "",
    ),
    (
        "first_secretary",
        "report_due_day",
        "月度实绩报告报送截止（次月）",
        "日",
    ),
    ("first_secretary", "counters", "实绩统计项", ""),
    (
        "first_secretary",
        "public_profile",
        "在岗第一书记设公开展示页（亮身份、亮标准、亮承诺）",
        "",
    ),
    ("first_secretary", "public_standard", "公开的工作标准", ""),
    (
        "first_secretary",
        "contest_champions",
        "每次比武打擂评出擂主（并列的一并评出）",
        "名",
    ),
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
    /// int, bool, ratio, ints, words, table, json
    pub input: &'static str,
    /// The value as the input shows it.
    pub text: String,
    /// A table's columns and rows (each cell a string, a bool, or a list of codes).
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Value>>,
}

/// How a table's cells are typed, shown and read back.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Int,
    Bool,
    Text,
    /// Text that may be left empty
    Note,
    /// `[n, d]`, written n/d
    Ratio,
    /// One of (code, name)
    Choice(&'static [(&'static str, &'static str)]),
    /// Any of (code, name)
    Multi(&'static [(&'static str, &'static str)]),
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Column {
    pub key: &'static str,
    pub label: &'static str,
    pub cell: Cell,
}

/// A rule value that is a list of records, or (`map`) an object of records keyed by the
/// first column's value.
pub struct Table {
    pub kind: &'static str,
    pub key: &'static str,
    pub map: bool,
    pub columns: &'static [Column],
}

const fn col(key: &'static str, label: &'static str, cell: Cell) -> Column {
    Column { key, label, cell }
}

/// Every structured rule value, as a table.
pub const TABLES: &[Table] = &[
    Table {
        kind: "meeting",
        key: "requirements",
        map: false,
        columns: &[
            col("kind", "会议类别", Cell::Choice(&crate::meeting::KINDS)),
            col("period", "周期", Cell::Choice(&crate::meeting::PERIODS)),
            col("count", "每周期次数", Cell::Int),
        ],
    },
    Table {
        kind: "recruit",
        key: "signers",
        map: true,
        columns: &[
            col("step", "步骤", Cell::Int),
            col(
                "signers",
                "签名人",
                Cell::Multi(&crate::recruit::SIGNER_CHOICES),
            ),
        ],
    },
    Table {
        kind: "love_bank",
        key: "services",
        map: false,
        columns: &[
            col("key", "代码", Cell::Text),
            col("name", "服务项目", Cell::Text),
            col("points", "积分", Cell::Int),
        ],
    },
    Table {
        kind: "points",
        key: "indicators",
        map: false,
        columns: &[
            col("key", "代码", Cell::Text),
            col("subject", "对象", Cell::Choice(&crate::points::SUBJECTS)),
            col("category", "类别", Cell::Text),
            col("name", "指标", Cell::Text),
            col("points", "分值", Cell::Int),
            col("cap", "周期上限（0为不限）", Cell::Int),
            col("period", "周期", Cell::Choice(&crate::points::PERIODS)),
            col(
                "awarder",
                "计分组织",
                Cell::Choice(&crate::points::AWARDERS),
            ),
            col("claimable", "党员可申报", Cell::Bool),
            col("evidence", "需佐证", Cell::Bool),
            col("approval", "需审核", Cell::Bool),
            col("scored", "评分项（按月打分）", Cell::Bool),
        ],
    },
    Table {
        kind: "points",
        key: "grades",
        map: false,
        columns: &[
            col("name", "等次", Cell::Text),
            col("min", "最低分", Cell::Int),
            col("outcome", "结果运用", Cell::Note),
        ],
    },
    Table {
        kind: "meeting",
        key: "appraisal_grades",
        map: false,
        columns: &[
            col("name", "等次", Cell::Text),
            col("min", "最低分（百分制）", Cell::Int),
            col("rated", "测评为此等次计分", Cell::Int),
            col("outcome", "结果运用", Cell::Note),
        ],
    },
    Table {
        kind: "first_secretary",
        key: "counters",
        map: false,
        columns: &[
            col("key", "代码", Cell::Text),
            col("category", "类别", Cell::Text),
            col("name", "统计项", Cell::Text),
            col("unit", "单位", Cell::Text),
            col("decimals", "小数位", Cell::Int),
        ],
    },
    Table {
        kind: "stars",
        key: "items",
        map: false,
        columns: &[
            col("key", "代码", Cell::Text),
            col("name", "评定项目", Cell::Text),
            col("max", "满分", Cell::Int),
        ],
    },
    Table {
        kind: "stars",
        key: "bands",
        map: false,
        columns: &[
            col("stars", "星级", Cell::Int),
            col("min", "最低分", Cell::Int),
        ],
    },
    Table {
        kind: "stars",
        key: "caps",
        map: false,
        columns: &[
            col("stars", "星级", Cell::Int),
            col("share", "比例上限（分子/分母）", Cell::Ratio),
        ],
    },
];

fn table_of(kind: &str, key: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.kind == kind && t.key == key)
}

/// A record's cell as the form shows it.
fn cell_view(cell: Cell, v: Option<&Value>) -> Value {
    match (cell, v) {
        (Cell::Bool, v) => Value::Bool(v.and_then(Value::as_bool).unwrap_or(false)),
        (Cell::Ratio, Some(Value::Array(a))) if a.len() == 2 => {
            Value::from(format!("{}/{}", a[0], a[1]))
        }
        (Cell::Multi(_), Some(Value::Array(a))) => Value::Array(a.clone()),
        (Cell::Multi(_), _) => Value::Array(Vec::new()),
        (_, Some(Value::String(s))) => Value::from(s.clone()),
        (_, Some(Value::Number(n))) => Value::from(n.to_string()),
        (_, _) => Value::from(""),
    }
}

/// A table's rows from its value, or None when the value is not of the table's shape.
fn table_rows(t: &Table, v: &Value) -> Option<Vec<Vec<Value>>> {
    let records: Vec<Map<String, Value>> = if t.map {
        let (first, rest) = t.columns.split_first()?;
        v.as_object()?
            .iter()
            .map(|(k, x)| {
                let mut m = Map::new();
                m.insert(first.key.to_string(), Value::from(k.clone()));
                if let Some(c) = rest.first() {
                    m.insert(c.key.to_string(), x.clone());
                }
                m
            })
            .collect()
    } else {
        v.as_array()?
            .iter()
            .map(|x| x.as_object().cloned())
            .collect::<Option<Vec<_>>>()?
    };
    if records
        .iter()
        .any(|r| r.keys().any(|k| !t.columns.iter().any(|c| c.key == k)))
    {
        return None;
    }
    Some(
        records
            .iter()
            .map(|r| {
                t.columns
                    .iter()
                    .map(|c| cell_view(c.cell, r.get(c.key)))
                    .collect()
            })
            .collect(),
    )
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
            let (label, unit) = label(kind, k);
            if let Some((t, rows)) =
                table_of(kind, k).and_then(|t| table_rows(t, v).map(|r| (t, r)))
            {
                return Field {
                    key: k.clone(),
                    label,
                    unit,
                    input: "table",
                    text: String::new(),
                    columns: t.columns.to_vec(),
                    rows,
                };
            }
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
            Field {
                key: k.clone(),
                label,
                unit,
                input,
                text,
                columns: Vec::new(),
                rows: Vec::new(),
            }
        })
        .collect()
}

/// The fields as the refused form sent them (`v.<key>`, a table's cells
/// `v.<key>.<row>.<column>`, every row where it was, so that a refusal's row number points
/// at it), so that the page shows what was typed, not the values in force.
pub fn keep_sent(fields: &mut [Field], form: &std::collections::HashMap<String, String>) {
    for f in fields.iter_mut() {
        if f.input != "table" {
            if let Some(v) = form.get(&format!("v.{}", f.key)) {
                f.text = v.clone();
            }
            continue;
        }
        let prefix = format!("v.{}.", f.key);
        f.rows = row_numbers(form, &prefix)
            .into_iter()
            .take(MAX_TABLE_ROWS)
            .map(|i| {
                f.columns
                    .iter()
                    .map(|c| {
                        let name = format!("{prefix}{i}.{}", c.key);
                        match c.cell {
                            Cell::Bool => Value::Bool(form.contains_key(&name)),
                            Cell::Multi(opts) => Value::from(
                                opts.iter()
                                    .filter(|(code, _)| {
                                        form.contains_key(&format!("{name}.{code}"))
                                    })
                                    .map(|(code, _)| code.to_string())
                                    .collect::<Vec<_>>(),
                            ),
                            _ => Value::from(form.get(&name).cloned().unwrap_or_default()),
                        }
                    })
                    .collect::<Vec<Value>>()
            })
            .collect();
    }
}

/// One difference between the values in force and those about to be published, in words.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Diff {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// A table cell in words: yes/no, a code by its name, several codes by theirs.
fn cell_words(c: &Column, v: &Value) -> String {
    let name = |opts: &[(&str, &str)], code: &str| {
        opts.iter()
            .find(|(k, _)| *k == code)
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| code.to_string())
    };
    match (c.cell, v) {
        (Cell::Bool, Value::Bool(b)) => if *b { "是" } else { "否" }.to_string(),
        (Cell::Choice(opts), Value::String(s)) => name(opts, s),
        (Cell::Multi(opts), Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| name(opts, s))
            .collect::<Vec<_>>()
            .join("、"),
        (_, Value::String(s)) => s.clone(),
        (_, v) => v.to_string(),
    }
}

/// What publishing `after` over `before` (a kind's values) changes, field by field and, for a
/// table, row by row ("积分指标库第3行"), in the form's words; empty when nothing does.
pub fn diff(kind: &str, before: &Value, after: &Value) -> Vec<Diff> {
    let (old, new) = (fields(kind, before), fields(kind, after));
    let mut out = Vec::new();
    for n in &new {
        let Some(o) = old.iter().find(|o| o.key == n.key) else {
            continue;
        };
        if n.input == "table" && o.input == "table" {
            // rows are matched by their first column (the code, the step, the stars), so a
            // row removed or added is one line, not every row after it
            let words = |row: &Vec<Value>, changed: Option<&Vec<Value>>| {
                n.columns
                    .iter()
                    .zip(row)
                    .enumerate()
                    .filter(|(k, (_, v))| changed.is_none_or(|other| other.get(*k) != Some(*v)))
                    .map(|(_, (c, v))| format!("{}：{}", c.label, cell_words(c, v)))
                    .collect::<Vec<_>>()
                    .join("，")
            };
            let key_of = |row: &Vec<Value>| {
                n.columns
                    .first()
                    .zip(row.first())
                    .map(|(c, v)| format!("{}{}", c.label, cell_words(c, v)))
                    .unwrap_or_default()
            };
            let find = |rows: &[Vec<Value>], row: &Vec<Value>| {
                rows.iter().find(|r| r.first() == row.first()).cloned()
            };
            for row in &n.rows {
                match find(&o.rows, row) {
                    None => out.push(Diff {
                        field: format!("{}：新增", n.label),
                        before: "—".into(),
                        after: words(row, None),
                    }),
                    Some(old_row) if &old_row != row => out.push(Diff {
                        field: format!("{}：{}", n.label, key_of(row)),
                        before: words(&old_row, Some(row)),
                        after: words(row, Some(&old_row)),
                    }),
                    Some(_) => {}
                }
            }
            for row in &o.rows {
                if find(&n.rows, row).is_none() {
                    out.push(Diff {
                        field: format!("{}：删除", n.label),
                        before: words(row, None),
                        after: "—".into(),
                    });
                }
            }
        } else if o.text != n.text {
            let shown = |f: &Field| match f.input {
                "bool" if f.text == "true" => "是".to_string(),
                "bool" => "否".to_string(),
                _ if f.unit.is_empty() => f.text.clone(),
                _ => format!("{} {}", f.text, f.unit),
            };
            out.push(Diff {
                field: n.label.clone(),
                before: shown(o),
                after: shown(n),
            });
        }
    }
    out
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

/// "1/3" (or "1:3") as `[1, 3]`; None unless two integers with a positive denominator.
fn ratio(s: &str) -> Option<Value> {
    let parts: Vec<_> = s.split(['/', ':']).map(str::trim).collect();
    match parts.as_slice() {
        [a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
            (Ok(a), Ok(b)) if b > 0 => Some(Value::from(vec![a, b])),
            _ => None,
        },
        _ => None,
    }
}

/// The row numbers of a table's cells in a form (`<prefix><row>.<column>`), in order.
fn row_numbers(form: &std::collections::HashMap<String, String>, prefix: &str) -> Vec<usize> {
    let mut rows: Vec<usize> = form
        .keys()
        .filter_map(|k| k.strip_prefix(prefix)?.split('.').next()?.parse().ok())
        .collect();
    rows.sort_unstable();
    rows.dedup();
    rows
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
                ratio(&halfwidth(raw)).ok_or_else(|| format!("“{name}”应写成 分子/分母，如 1/3"))
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
            "table" => match table_of(kind, key) {
                Some(t) => match table_from(t, &name, form) {
                    Ok(v) => Ok(v),
                    Err(mut es) => {
                        errors.append(&mut es);
                        continue;
                    }
                },
                None => Err(format!("“{name}”无法识别")),
            },
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
        errors.truncate(MAX_ERRORS);
        return Err(AppError::Validation(errors));
    }
    Ok(Value::Object(out))
}

/// The most rows a table may have (the catalogue has about a hundred), and the most
/// refusals one form answers with: a form of thousands of bad rows costs the server no more
/// than one of a few.
pub const MAX_TABLE_ROWS: usize = 500;
pub const MAX_ERRORS: usize = 50;

/// A table's value from its cells (`v.<key>.<row>.<column>`, a multiple choice's options
/// `v.<key>.<row>.<column>.<code>`). A row whose text and number cells are all empty is left
/// out: that is how a record is removed, and how the blank rows stay unused.
fn table_from(
    t: &Table,
    name: &str,
    form: &std::collections::HashMap<String, String>,
) -> Result<Value, Vec<crate::error::FieldError>> {
    let prefix = format!("v.{}.", t.key);
    let rows = row_numbers(form, &prefix);
    if rows.len() > MAX_TABLE_ROWS || rows.last().is_some_and(|r| *r > MAX_TABLE_ROWS + 10) {
        return Err(vec![crate::error::FieldError::new(
            &format!("v.{}", t.key),
            format!("“{name}”最多{MAX_TABLE_ROWS}行"),
        )]);
    }
    let mut errors = Vec::new();
    let mut list = Vec::new();
    let mut map = Map::new();
    for (shown, i) in rows.iter().enumerate() {
        // text as typed; numbers with the IME's full-width digits and slash made half-width
        let get = |c: &str| {
            form.get(&format!("{prefix}{i}.{c}"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let blank = t.columns.iter().all(|c| {
            !matches!(c.cell, Cell::Int | Cell::Text | Cell::Note | Cell::Ratio)
                || get(c.key).is_empty()
        });
        if blank {
            continue;
        }
        let mut record = Map::new();
        for c in t.columns {
            let raw = match c.cell {
                Cell::Int | Cell::Ratio => halfwidth(&get(c.key)).trim().to_string(),
                _ => get(c.key),
            };
            let field = format!("{prefix}{i}.{}", c.key);
            let what = format!("“{name}”第{}行“{}”", shown + 1, c.label);
            let v = match c.cell {
                Cell::Int => raw
                    .parse::<i64>()
                    .map(Value::from)
                    .map_err(|_| format!("{what}应为整数")),
                Cell::Bool => Ok(Value::Bool(raw == "true" || raw == "on" || raw == "1")),
                Cell::Text if raw.is_empty() => Err(format!("{what}不能为空")),
                Cell::Text | Cell::Note => Ok(Value::from(raw)),
                Cell::Ratio => {
                    ratio(&raw).ok_or_else(|| format!("{what}应写成 分子/分母，如 1/10"))
                }
                Cell::Choice(options) => match options.iter().find(|(code, _)| *code == raw) {
                    Some((code, _)) => Ok(Value::from(*code)),
                    None => Err(format!("{what}请从列出的选项中选择")),
                },
                Cell::Multi(options) => Ok(Value::from(
                    options
                        .iter()
                        .filter(|(code, _)| form.contains_key(&format!("{field}.{code}")))
                        .map(|(code, _)| code.to_string())
                        .collect::<Vec<_>>(),
                )),
            };
            match v {
                Ok(v) => {
                    record.insert(c.key.to_string(), v);
                }
                Err(m) => errors.push(crate::error::FieldError::new(&field, m)),
            }
        }
        if errors.len() >= MAX_ERRORS {
            break;
        }
        if t.map {
            let mut cells = t.columns.iter().map(|c| record.remove(c.key));
            if let (Some(Some(k)), Some(Some(v))) = (cells.next(), cells.next()) {
                let k = k
                    .as_i64()
                    .map(|n| n.to_string())
                    .or_else(|| k.as_str().map(str::to_string));
                if let Some(k) = k {
                    map.insert(k, v);
                }
            }
        } else {
            list.push(Value::Object(record));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(if t.map {
        Value::Object(map)
    } else {
        Value::Array(list)
    })
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

    /// What a browser posts for the form's fields as shown (tables: their cells, a checked
    /// box as "true", each chosen option of a multiple choice as its own name).
    fn posted(fs: &[Field]) -> HashMap<String, String> {
        let mut f = HashMap::new();
        for x in fs {
            f.insert(format!("t.{}", x.key), x.input.to_string());
            if x.input != "table" {
                f.insert(format!("v.{}", x.key), x.text.clone());
                continue;
            }
            for (i, row) in x.rows.iter().enumerate() {
                for (c, v) in x.columns.iter().zip(row) {
                    let n = format!("v.{}.{i}.{}", x.key, c.key);
                    match (c.cell, v) {
                        (Cell::Bool, Value::Bool(true)) => {
                            f.insert(n, "true".into());
                        }
                        (Cell::Bool, _) => {}
                        (Cell::Multi(_), Value::Array(codes)) => {
                            for code in codes.iter().filter_map(Value::as_str) {
                                f.insert(format!("{n}.{code}"), "on".into());
                            }
                        }
                        (_, v) => {
                            f.insert(n, v.as_str().unwrap_or_default().to_string());
                        }
                    }
                }
            }
        }
        f
    }

    /// Every rule set's defaults, shown in the form and posted back unchanged, are the same
    /// values; its structured values are tables, none left as JSON.
    #[test]
    fn every_rule_set_round_trips_through_its_tables() {
        fn check<R: crate::rules::RuleKind + Default + serde::Serialize>() {
            let v = serde_json::to_value(R::default()).expect("json");
            let fs = fields(R::KIND, &v);
            assert!(
                fs.iter().all(|f| f.input != "json"),
                "{}: a JSON box left",
                R::KIND
            );
            assert_eq!(
                values_from(R::KIND, &posted(&fs)).expect("values"),
                v,
                "{}",
                R::KIND
            );
        }
        check::<crate::rules::BranchRules>();
        check::<crate::rules::MemberRules>();
        check::<crate::recruit::rules::RecruitRules>();
        check::<crate::rectification::RectifyRules>();
        check::<crate::review::ReviewRules>();
        check::<crate::love_bank::LoveRules>();
        check::<crate::points::PointsRules>();
        check::<crate::stars::StarRules>();
        // signers: a map of steps, each with its signers chosen by name
        let mut r = crate::recruit::rules::RecruitRules::default();
        r.signers.insert(
            "7".into(),
            vec!["branch_secretary".into(), "committee".into()],
        );
        let v = serde_json::to_value(&r).expect("json");
        let fs = fields("recruit", &v);
        let signers = fs.iter().find(|f| f.key == "signers").expect("signers");
        assert_eq!(signers.input, "table");
        assert_eq!(signers.rows[0][0], Value::from("7"));
        assert_eq!(values_from("recruit", &posted(&fs)).expect("values"), v);
    }

    #[test]
    fn a_diff_names_each_changed_value_and_row_in_words() {
        let before = serde_json::to_value(crate::stars::StarRules::default()).expect("json");
        assert!(diff("stars", &before, &before).is_empty());
        let mut after = before.clone();
        after["publicity_days"] = Value::from(9);
        after["bands"][0]["min"] = Value::from(91);
        after["five_needs_innovation"] = Value::Bool(false);
        let d = diff("stars", &before, &after);
        assert_eq!(d.len(), 3, "{d:?}");
        let band = d
            .iter()
            .find(|x| x.field.starts_with("星级分数段"))
            .expect("band");
        assert_eq!(band.field, "星级分数段（五星至二星）：星级5");
        assert_eq!(
            (band.before.as_str(), band.after.as_str()),
            ("最低分：90", "最低分：91")
        );
        assert!(d.iter().any(|x| x.after == "否"), "{d:?}");
        // a catalogue row removed and one added: two lines, not every row after them
        let p = serde_json::to_value(crate::points::PointsRules::default()).expect("json");
        let mut q = p.clone();
        let list = q["indicators"].as_array_mut().expect("indicators");
        let mut extra = list.remove(1);
        extra["key"] = Value::from("M99");
        list.push(extra);
        let d = diff("points", &p, &q);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].field, "积分指标库：新增");
        assert!(d[0].after.starts_with("代码：M99"), "{d:?}");
        assert_eq!(
            (d[1].field.as_str(), d[1].after.as_str()),
            ("积分指标库：删除", "—")
        );
        // a row added; a signer named by its name
        let mut r =
            serde_json::to_value(crate::recruit::rules::RecruitRules::default()).expect("json");
        let before = r.clone();
        r["signers"] = serde_json::json!({"7": ["committee"]});
        let d = diff("recruit", &before, &r);
        assert_eq!(
            (d[0].before.as_str(), d[0].after.as_str()),
            ("—", "步骤：7，签名人：上级党委")
        );
        assert_eq!(d[0].field, "各步骤签名人（未列出的步骤按默认）：新增");
    }

    #[test]
    fn a_table_adds_removes_and_refuses_rows_by_their_number() {
        let v = serde_json::to_value(crate::stars::StarRules::default()).expect("json");
        let fs = fields("stars", &v);
        let mut f = posted(&fs);
        // a new cap in the blank row after the last; the first band emptied (removed)
        let caps = fs
            .iter()
            .find(|x| x.key == "caps")
            .expect("caps")
            .rows
            .len();
        f.insert(format!("v.caps.{caps}.stars"), "４".into());
        f.insert(format!("v.caps.{caps}.share"), "1／5".into());
        f.insert("v.bands.0.stars".into(), String::new());
        f.insert("v.bands.0.min".into(), " ".into());
        let out = values_from("stars", &f).expect("values");
        assert_eq!(out["caps"][caps]["stars"], 4);
        assert_eq!(out["caps"][caps]["share"], serde_json::json!([1, 5]));
        assert_eq!(out["bands"].as_array().map(Vec::len), Some(3));
        // a bad cell is refused naming the table, its row and column
        f.insert("v.items.1.max".into(), "十五".into());
        f.insert(format!("v.caps.{caps}.share"), "五分之一".into());
        let Err(AppError::Validation(errs)) = values_from("stars", &f) else {
            panic!("refused")
        };
        let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert!(
            msgs.contains(&"“评定项目（与积分折算合计100分）”第2行“满分”应为整数"),
            "{msgs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.field == format!("v.caps.{caps}.share")),
            "{errs:?}"
        );
        // a choice outside its options
        let v = serde_json::to_value(crate::points::PointsRules::default()).expect("json");
        let mut f = posted(&fields("points", &v));
        f.insert("v.indicators.0.subject".into(), "boss".into());
        let Err(AppError::Validation(errs)) = values_from("points", &f) else {
            panic!("refused")
        };
        assert_eq!(errs[0].field, "v.indicators.0.subject");
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
