//! The audit log in words: what each action code means in Chinese, and what an entry changed
//! as "字段 旧值 → 新值" — for the change history on a record's page and the auditor's log.
//! The codes themselves stay in the log (they are part of the hashed entry and of the API).

use serde::Serialize;

/// Action codes and their names. An action not listed is named by its capability
/// ([`CAPABILITIES`]) and its code.
pub const ACTIONS: &[(&str, &str)] = &[
    ("account.change_password", "修改密码"),
    ("account.create", "新建账号"),
    ("account.locale", "更改界面语言"),
    ("account.request", "提交账号变更申请"),
    ("account.approve", "批准账号变更"),
    ("account.reject", "驳回账号变更"),
    ("account.reset_password", "重置密码"),
    ("account.roles", "变更角色"),
    ("account.unlock", "解除锁定"),
    ("audit.export", "导出审计日志"),
    ("audit.redact", "按保存期限脱敏"),
    ("audit.seal", "封存审计链"),
    ("auth.login", "登录"),
    ("auth.login_failed", "登录失败"),
    ("auth.logout", "退出登录"),
    ("auth.signature_failed", "签名验证失败"),
    ("auth.totp_failed", "动态口令错误"),
    ("authz.denied", "越权访问被拒绝"),
    ("calendar.replace", "修改节假日安排"),
    ("calendar.seed", "载入国务院节假日安排"),
    ("cadre.create", "登记干部"),
    ("cadre.update", "修改干部信息"),
    ("work_log.file", "报送工作记实"),
    ("work_log.resubmit", "重新报送工作记实"),
    ("work_log.return", "退回工作记实"),
    ("work_log.addendum", "补充说明工作记实"),
    ("meeting.create", "安排会议"),
    ("meeting.update", "修改会议安排"),
    ("meeting.makeup", "登记补学"),
    ("meeting.decision_done", "登记会议决定落实情况"),
    ("meeting.plan", "生成年度会议计划"),
    ("meeting.notify", "发出会议通知"),
    ("meeting.cancel", "取消会议"),
    ("meeting.sign_in", "党员会议签到"),
    ("meeting.observer_sign_in", "列席人员签到"),
    ("meeting.observation", "列席人员提出意见"),
    ("meeting.leave_ask", "会议请假"),
    ("meeting.mark", "登记参会情况"),
    ("meeting.file", "会议记录签字归档"),
    ("meeting.addendum", "补充说明会议记录"),
    ("meeting.talk", "登记谈心谈话"),
    ("appraisal.create", "开展民主评议"),
    ("appraisal.self", "个人自评"),
    ("appraisal.rating", "开始民主测评"),
    ("appraisal.ballot", "提交民主测评票"),
    ("appraisal.decide", "民主评议评定"),
    ("appraisal.handle", "记录不合格党员组织处置"),
    ("appraisal.cancel", "取消民主评议"),
    ("election.create", "筹备换届选举"),
    ("election.record", "记录换届选举结果"),
    ("election.approve", "批复换届选举结果"),
    ("election.return", "不予批复换届选举结果"),
    ("election.cancel", "取消换届选举"),
    ("election.extension_ask", "申请延期换届"),
    ("election.extension_approve", "批准延期换届"),
    ("election.extension_refuse", "不批准延期换届"),
    ("work_log.view", "查阅工作记实"),
    ("work_log.compliance_export", "导出工作记实按时率"),
    ("fs.round_create", "新建第一书记选派批次"),
    ("fs.nominate", "推荐第一书记人选"),
    ("fs.assign", "派驻第一书记"),
    ("fs.return", "不予采纳第一书记人选"),
    ("fs.recall", "召回第一书记"),
    ("fs.complete", "第一书记任期届满"),
    ("fs.extend", "延长第一书记任期"),
    ("fs.tutor_add", "确定第一书记导师"),
    ("fs.tutor_remove", "撤销第一书记导师"),
    ("fs.checkin", "第一书记打卡"),
    ("fs.purge", "清除过期的打卡位置和照片"),
    ("fs.presence_export", "导出第一书记在村情况"),
    ("fs.leave_request", "第一书记请假"),
    ("fs.leave_approve", "批准第一书记请假"),
    ("fs.leave_refuse", "不批准第一书记请假"),
    ("fs.leave_cancel", "撤销第一书记请假"),
    ("fs.spot_check", "抽查第一书记在岗情况"),
    ("fs.ledger_add", "记入第一书记红黑台账"),
    ("fs.ledger_reverse", "冲销第一书记红黑台账记录"),
    ("fs.activity", "记录第一书记“四个一”活动"),
    ("fs.pledge_add", "填写第一书记履职承诺"),
    ("fs.pledge_progress", "更新第一书记履职承诺进展"),
    ("fs.pledge_remove", "撤回第一书记履职承诺事项"),
    ("fs.report_file", "报送第一书记月度实绩报告"),
    ("fs.report_refile", "重新报送第一书记月度实绩报告"),
    ("fs.guidance", "记录第一书记导师指导"),
    ("fs.alliance", "组建第一书记联盟"),
    ("fs.alliance_members", "第一书记加入联盟"),
    ("fs.alliance_member_remove", "第一书记移出联盟"),
    ("fs.contest", "开设第一书记比武打擂"),
    ("fs.ranking_publish", "发布第一书记季度排名"),
    ("fs.assess", "记录第一书记年度履职考核"),
    ("fs.year_confirm", "确认第一书记年度考核结果"),
    ("circular.publish", "发布通知"),
    ("circular.receive", "签收通知"),
    ("circular.remind", "催办签收"),
    ("circular.withdraw", "撤回通知"),
    ("crypto.rebind", "重新加密个人信息"),
    ("demo.generate", "生成演示数据"),
    ("interview.held", "登记约谈结果"),
    ("interview.plan", "安排约谈"),
    ("love.card", "办理爱心卡"),
    ("love.earn", "爱心积分入账"),
    ("love.goods", "登记兑换物品"),
    ("love.redeem", "爱心积分兑换"),
    ("love.reverse", "冲正爱心积分"),
    ("love.stock", "物品入库"),
    ("member.create", "新增党员"),
    ("member.create_refused", "新增党员被拒绝"),
    ("member.discipline", "登记党纪处分"),
    ("member.discipline_revoked", "撤销党纪处分"),
    ("member.export", "导出党员信息"),
    ("member.full", "按期转正"),
    ("member.import", "批量导入党员"),
    ("member.lookup", "按完整证件号查询"),
    ("member.remove", "移出党员"),
    (
        "member.registered_elsewhere",
        "证件号码已在其他党组织登记（已拒绝）",
    ),
    ("member.unmask", "查看完整个人信息"),
    ("member.update", "修改党员信息"),
    ("org.approval_authority", "变更审批权"),
    ("org.create", "新建党组织"),
    ("org.dissolve", "撤销党组织"),
    ("org.move", "调整隶属关系"),
    ("org.update", "修改党组织信息"),
    ("org.warnings_export", "导出有提醒的党支部"),
    ("points.award", "记分"),
    ("points.claim", "申报积分"),
    ("points.close", "月度关账"),
    ("points.decide", "审核积分申报"),
    ("points.reverse", "冲正积分"),
    ("points.ranking_export", "导出积分排名"),
    ("points.year", "确认年度兑分"),
    ("recruit.apply", "登记入党申请"),
    ("recruit.backfill_finished", "补录完成"),
    ("recruit.correction_applied", "更正记录"),
    ("recruit.document", "上传材料"),
    ("recruit.evaluate", "登记考察意见"),
    ("recruit.export", "导出发展党员档案"),
    ("recruit.list_export", "导出发展党员名单"),
    ("recruit.stats_export", "导出发展党员统计"),
    ("recruit.import", "导入发展党员档案"),
    ("recruit.objection", "登记公示反映"),
    ("recruit.objection_answer", "答复公示反映"),
    ("recruit.plan", "制定发展计划"),
    ("recruit.publicity", "发布公示"),
    ("recruit.revisit", "回访"),
    ("recruit.sign", "签名"),
    ("recruit.step_complete", "完成发展步骤"),
    ("rectify.open", "登记整改事项"),
    ("review.campaign", "发起述职评议"),
    ("review.close", "结束评议并公布结果"),
    ("review.critique", "点评问题"),
    ("review.decision", "作出评议结果决定"),
    ("review.open", "召开述职评议会"),
    ("review.rater", "登记评议人"),
    ("review.report_review", "审核述职报告"),
    ("review.results_export", "导出述职评议结果"),
    ("review.scheme", "修改评议方案"),
    ("review.score", "评分"),
    ("rules.publish", "发布规则"),
    ("stars.export", "导出星级评定结果"),
    ("stars.finalise", "确定星级"),
    ("stars.publish", "公示星级"),
    ("stars.round", "发起星级评定"),
    ("stars.score", "星级评分"),
    ("talent.add", "纳入人才库"),
    ("talent.applied", "人才库人员递交申请"),
    ("talent.contact", "跟踪联系"),
    ("talent.withdraw", "移出人才库"),
    ("token.create", "创建接口令牌"),
    ("token.revoke", "撤销接口令牌"),
    ("transfer.send", "发出组织关系转接"),
    ("transfer.receive", "接收组织关系"),
    ("transfer.return", "退回组织关系转接"),
];

/// Capabilities by the prefix of their action codes.
pub const CAPABILITIES: &[(&str, &str)] = &[
    ("account", "账号"),
    ("audit", "审计"),
    ("auth", "登录"),
    ("authz", "权限"),
    ("cadre", "干部名册"),
    ("calendar", "节假日"),
    ("circular", "通知公告"),
    ("crypto", "加密"),
    ("fs", "第一书记"),
    ("interview", "约谈"),
    ("love", "爱心银行"),
    ("member", "党员"),
    ("org", "党组织"),
    ("points", "积分"),
    ("recruit", "发展党员"),
    ("rectify", "整改台账"),
    ("review", "述职评议"),
    ("rules", "规则"),
    ("stars", "星级评定"),
    ("talent", "人才库"),
    ("token", "接口令牌"),
    ("transfer", "组织关系转接"),
    ("work_log", "工作记实"),
    ("meeting", "会议"),
    ("election", "换届选举"),
    ("appraisal", "民主评议"),
];

/// The name of an action code.
pub fn action_label(code: &str) -> String {
    if let Some((_, l)) = ACTIONS.iter().find(|(c, _)| *c == code) {
        return (*l).to_string();
    }
    let cap = code.split('.').next().unwrap_or(code);
    match CAPABILITIES.iter().find(|(c, _)| *c == cap) {
        Some((_, l)) => format!("{l}（{code}）"),
        None => code.to_string(),
    }
}

/// Field names of the records the log holds, in words. A field not listed is shown by its
/// name.
pub const FIELDS: &[(&str, &str)] = &[
    ("kinds", "会议类别"),
    ("meeting_id", "会议"),
    ("seats", "应选名额"),
    ("rater_id", "测评人"),
    ("lines", "测评人数"),
    ("grade", "等次"),
    ("results", "评定结果"),
    ("chars", "字数"),
    ("by_secretary", "由书记代录"),
    ("handling", "组织处置"),
    ("via", "方式"),
    ("similar_to", "记录相似的会议"),
    ("similar_permille", "记录相似度"),
    ("candidates", "候选人"),
    ("voting_expected", "应到有表决权人数"),
    ("voting_present", "实到有表决权人数"),
    ("ballots_returned", "收回选票"),
    ("ballots_invalid", "无效票"),
    ("unfilled", "未选出名额"),
    ("tied", "得票相等"),
    ("approval_no", "批复文号"),
    ("approved_on", "批复日期"),
    ("term_start", "任期开始"),
    ("committee", "委员会"),
    ("term_extended_months", "已延期月数"),
    ("place", "地点"),
    ("invitees", "参会人员"),
    ("expected", "应到人数"),
    ("roll", "参会名单"),
    ("attendance", "参会情况"),
    ("observer", "列席人员"),
    ("host", "主持人"),
    ("recorder", "记录人"),
    ("votes", "表决"),
    ("decisions", "决定事项"),
    ("obligations", "履职义务"),
    ("planned", "计划数"),
    ("body", "内容"),
    ("addendum", "补充说明"),
    ("name", "姓名"),
    ("gender", "性别"),
    ("ethnicity", "民族"),
    ("birth_month", "出生年月"),
    ("birth_year", "出生年份"),
    ("id_number", "身份证号码"),
    ("id_masked", "身份证号码"),
    ("phone", "手机号码"),
    ("phone_masked", "手机号码"),
    ("education", "学历"),
    ("work_unit", "工作单位及职务"),
    ("region_code", "籍贯"),
    ("county_code", "所在县（市、区）"),
    ("join_date", "入党日期"),
    ("full_date", "转正日期"),
    ("status", "状态"),
    ("grid_role", "网格职务"),
    ("mobile_destination", "流动去向"),
    ("org_id", "所在组织"),
    ("org_name", "组织名称"),
    ("group_id", "党小组"),
    ("parent_id", "上级组织"),
    ("kind", "类别"),
    ("level", "层级"),
    ("title", "标题"),
    ("reason", "原因"),
    ("note", "说明"),
    ("deadline", "期限"),
    ("points", "分值"),
    ("indicator", "事项"),
    ("month", "月份"),
    ("quarter", "季度"),
    ("year", "年度"),
    ("score", "得分"),
    ("ranked", "参与排名人数"),
    ("digest", "校验值"),
    ("roles", "角色"),
    ("display_name", "显示名称"),
    ("username", "用户名"),
    ("fields", "涉及项目"),
    ("to_org_id", "接收组织"),
    ("from_org_id", "转出组织"),
    ("decided_on", "决定日期"),
    ("document_no", "文号"),
    ("months", "期限（月）"),
    ("step", "步骤"),
    ("done_on", "日期"),
    ("locale", "界面语言"),
    ("unit", "工作单位"),
    ("position", "职务"),
    ("rank", "职级"),
    ("category", "干部类别"),
    ("managed_by", "管理单位"),
    ("member_id", "关联党员编号"),
    ("account", "填报账号"),
    ("weekly_record", "每周填报工作记实"),
    ("round_id", "选派批次"),
    ("cadre_id", "干部编号"),
    ("sending_level", "选派层级"),
    ("sending_unit", "派出单位"),
    ("village_id", "派驻村"),
    ("start_on", "到村日期"),
    ("term_months", "任期（月）"),
    ("ends_on", "任期届满日期"),
    ("ended_on", "离村日期"),
    ("liaison", "联络员"),
    ("team", "工作队"),
    ("lat", "驻村地点纬度"),
    ("lng", "驻村地点经度"),
    ("baseline", "派驻时村情"),
    ("tutor_id", "导师编号"),
    ("role", "导师类别"),
    ("checkin_id", "打卡编号"),
    ("at", "打卡时间"),
    ("offline", "离线补传"),
    ("distance_m", "距驻村地点（米）"),
    ("inside", "在打卡范围内"),
    ("photo", "现场照片"),
    ("checkins", "条数"),
    ("photos_deleted", "删除照片数"),
    ("before", "早于"),
    ("leave_id", "请假编号"),
    ("from_on", "开始日期"),
    ("to_on", "结束日期"),
    ("days", "工作日数"),
    ("approver", "审批层级"),
    ("spot_check_id", "抽查编号"),
    ("ledger_id", "台账记录编号"),
    ("activity_id", "活动编号"),
    ("pledge_id", "承诺事项编号"),
    ("item", "承诺事项"),
    ("target", "目标"),
    ("progress", "进展"),
    ("held_on", "活动日期"),
    ("attendees", "参加人数"),
    ("period", "所属期间"),
    ("side", "红黑榜"),
    ("ledger_category", "台账类别"),
    ("occurred_on", "发生日期"),
    ("reverses", "冲销的记录"),
    ("checked_on", "抽查日期"),
    ("method", "抽查方式"),
    ("result", "抽查结果"),
    ("flagged", "无故不在岗"),
    ("report_id", "实绩报告编号"),
    ("counters", "实绩"),
    ("projects", "项目进展"),
    ("problems", "困难问题"),
    ("guidance_id", "指导记录编号"),
    ("tutor", "导师"),
    ("guidance_method", "指导方式"),
    ("topic", "主题"),
    ("content", "内容"),
    ("alliance", "联盟"),
    ("whole_alliance_id", "所属总盟"),
    ("members", "成员"),
    ("campaign_id", "评议编号"),
];

/// Fields that are bookkeeping, not content.
const SKIP: &[&str] = &[
    "version",
    "account_id",
    "id",
    "updated_at",
    "created_at",
    "transfer_id",
    "object_path",
    "key_version",
];

/// A value longer than this is shortened in the history (the raw record keeps it whole).
const MAX_SHOWN: usize = 120;

fn field_label(key: &str) -> String {
    FIELDS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| (*l).to_string())
        .unwrap_or_else(|| key.to_string())
}

/// One field's change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub before: String,
    pub after: String,
}

fn text(v: Option<&serde_json::Value>) -> String {
    let s = full_text(v);
    if s.chars().count() > MAX_SHOWN {
        let mut t: String = s.chars().take(MAX_SHOWN).collect();
        t.push('…');
        t
    } else {
        s
    }
}

fn full_text(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => "—".into(),
        Some(serde_json::Value::String(s)) if s.is_empty() => "—".into(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Bool(b)) => if *b { "是" } else { "否" }.into(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|x| match x {
                serde_json::Value::String(s) => field_label(s),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("、"),
        Some(other) => other.to_string(),
    }
}

/// What an entry changed, field by field: the fields whose value differs between the
/// before and after records (objects), in the after record's order; for an entry with no
/// before record, the fields it set.
pub fn changes(before_json: &str, after_json: &str) -> Vec<Change> {
    keyed_changes(before_json, after_json)
        .into_iter()
        .map(|(_, c)| c)
        .collect()
}

/// Fields whose values are organisations' ids: a history shows them by name.
pub const ORG_FIELDS: &[&str] = &[
    "org_id",
    "parent_id",
    "group_id",
    "to_org_id",
    "from_org_id",
    "supervisor_id",
    "managed_by",
    "village_id",
];

/// [`changes`], each with the key of its field.
pub fn keyed_changes(before_json: &str, after_json: &str) -> Vec<(String, Change)> {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap_or_default();
    let (before, after) = (parse(before_json), parse(after_json));
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = a.keys().collect();
    keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
    keys.into_iter()
        .filter(|k| !SKIP.contains(&k.as_str()))
        .map(|k| {
            let c = Change {
                field: field_label(k),
                before: text(b.get(k)),
                after: text(a.get(k)),
            };
            (k.clone(), c)
        })
        .filter(|(_, c)| c.before != c.after)
        .collect()
}

/// One entry of an object's history as a page shows it: when, who (the account's name),
/// what, and what changed, organisations by name.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub ts: String,
    pub actor: String,
    pub action: String,
    pub changes: Vec<Change>,
}

/// An object's entries in words: each organisation id among [`ORG_FIELDS`] replaced by
/// `orgs`' name for it, each actor by `actors`' display name (the login name when unknown).
pub fn in_words(
    entries: &[super::Entry],
    orgs: &std::collections::HashMap<i64, String>,
    actors: &std::collections::HashMap<i64, String>,
) -> Vec<HistoryRow> {
    let named = |v: String| match v.parse::<i64>().ok().and_then(|id| orgs.get(&id)) {
        Some(n) => n.clone(),
        None => v,
    };
    entries
        .iter()
        .map(|e| HistoryRow {
            ts: e.ts.clone(),
            actor: e
                .actor_id
                .and_then(|id| actors.get(&id).cloned())
                .unwrap_or_else(|| e.actor_name.clone()),
            action: e.action.clone(),
            changes: keyed_changes(&e.before_json, &e.after_json)
                .into_iter()
                .map(|(k, mut c)| {
                    if ORG_FIELDS.contains(&k.as_str()) {
                        c.before = named(c.before);
                        c.after = named(c.after);
                    }
                    c
                })
                .collect(),
        })
        .collect()
}

/// The organisation ids among [`ORG_FIELDS`] of `entries`' records.
pub fn org_ids(entries: &[super::Entry]) -> Vec<i64> {
    let mut ids = Vec::new();
    for e in entries {
        for json in [&e.before_json, &e.after_json] {
            if let Ok(serde_json::Value::Object(m)) = serde_json::from_str(json) {
                ids.extend(ORG_FIELDS.iter().filter_map(|k| m.get(*k)?.as_i64()));
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_listed_field_by_field_in_words() {
        let before = r#"{"name":"陈宁","phone_masked":"192****3728","version":2,"status":"full"}"#;
        let after = r#"{"name":"陈宁","phone_masked":"139****8888","version":3,"status":"full"}"#;
        assert_eq!(
            changes(before, after),
            vec![Change {
                field: "手机号码".into(),
                before: "192****3728".into(),
                after: "139****8888".into()
            }]
        );
        // a record created: what it set; nothing before
        let c = changes("null", r#"{"name":"王芳","group_id":null}"#);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!((c[0].field.as_str(), c[0].before.as_str()), ("姓名", "—"));
        // an unmask: which fields were shown
        let c = changes("null", r#"{"fields":["id_number","phone"]}"#);
        assert_eq!(c[0].after, "身份证号码、手机号码");
        // a removed field and an unknown one
        let c = changes(r#"{"x_y":1,"grid_role":"网格长"}"#, r#"{"x_y":2}"#);
        assert_eq!(c[0].field, "x_y");
        assert_eq!(
            (c[1].field.as_str(), c[1].after.as_str()),
            ("网格职务", "—")
        );
        assert!(changes("not json", "").is_empty());
    }

    #[test]
    fn a_history_names_organisations_and_people() {
        let entry = |actor_id: Option<i64>, before: &str, after: &str| super::super::Entry {
            seq: 1,
            prev_hash: String::new(),
            hash: String::new(),
            ts: "2026-12-01T00:00:00Z".into(),
            actor_id,
            actor_name: "chengguan".into(),
            role: "committee_staff".into(),
            org_id: Some(1),
            action: "org.move".into(),
            object_type: "org".into(),
            object_id: "9".into(),
            before_json: before.into(),
            after_json: after.into(),
            ip: String::new(),
        };
        let es = vec![
            entry(
                Some(5),
                r#"{"parent_id":2,"committee_size":3}"#,
                r#"{"parent_id":3,"committee_size":5}"#,
            ),
            entry(Some(6), "null", r#"{"org_id":4}"#),
        ];
        assert_eq!(org_ids(&es), vec![2, 3, 4]);
        let orgs = [
            (2, "中共城关镇委员会".to_string()),
            (3, "中共河口镇委员会".to_string()),
        ]
        .into_iter()
        .collect();
        let actors = [(5, "城关镇组织委员".to_string())].into_iter().collect();
        let rows = in_words(&es, &orgs, &actors);
        assert_eq!(rows[0].actor, "城关镇组织委员");
        assert_eq!(
            rows[1].actor, "chengguan",
            "an account not found keeps its login name"
        );
        let field = |label: &str| {
            let c = rows[0]
                .changes
                .iter()
                .find(|c| c.field == label)
                .expect("field");
            (c.before.as_str(), c.after.as_str())
        };
        assert_eq!(field("上级组织"), ("中共城关镇委员会", "中共河口镇委员会"));
        assert_eq!(
            field(&field_label("committee_size")),
            ("3", "5"),
            "a number that is no organisation stays a number"
        );
        assert_eq!(
            rows[1].changes[0].after, "4",
            "an organisation not found keeps its id"
        );
    }

    #[test]
    fn every_action_written_has_a_name() {
        assert_eq!(action_label("member.update"), "修改党员信息");
        assert_eq!(action_label("rectify.extend"), "整改台账（rectify.extend）");
        assert_eq!(action_label("zzz"), "zzz");
        // each code the sources write literally is named
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).expect("dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(std::fs::read_to_string(&p).expect("read"));
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut missing = std::collections::BTreeSet::new();
        for f in &files {
            for part in f.split("action: \"").skip(1) {
                let code: String = part.chars().take_while(|c| *c != '"').collect();
                if code.contains('.') && !ACTIONS.iter().any(|(c, _)| *c == code) {
                    missing.insert(code);
                }
            }
        }
        assert!(missing.is_empty(), "actions without a name: {missing:?}");
    }
}
