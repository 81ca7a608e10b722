//! The message catalogue of the user interface.
//!
//! zh-CN is the source language: every UI string is written once, in Chinese, as the message
//! id of a `t("…")` call in a template (or as a label constant in Rust that a template passes
//! through `t`). Other languages translate those ids in `i18n/<lang>.toml`; a missing
//! translation falls back to the Chinese text. A test keeps the catalogue honest: no Chinese
//! text in a template outside `t("…")`, and every id has an English entry.
//!
//! Placeholders `{0}`, `{1}`, … in a message are filled from the extra arguments of `t`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// A language of the user interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

/// An account's language setting: a language, or `auto` (follow the browser).
pub const LOCALE_SETTINGS: [(&str, &str); 3] = [
    ("auto", "跟随浏览器"),
    ("zh-CN", "简体中文"),
    ("en", "English"),
];

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::ZhCn, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s == "zh" || s.starts_with("zh-") || s.starts_with("zh_") {
            Some(Lang::ZhCn)
        } else if s == "en" || s.starts_with("en-") || s.starts_with("en_") {
            Some(Lang::En)
        } else {
            None
        }
    }

    /// The best supported language of an `Accept-Language` header (quality values honoured;
    /// Chinese when nothing matches).
    pub fn from_accept_language(header: &str) -> Lang {
        let mut best: Option<(f32, usize, Lang)> = None;
        for (i, part) in header.split(',').enumerate() {
            let mut it = part.split(';');
            let tag = it.next().unwrap_or("").trim();
            let q = it
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if q <= 0.0 {
                continue;
            }
            if let Some(l) = Lang::parse(tag) {
                // Highest quality wins; among equals, the first listed.
                if best.is_none_or(|(bq, bi, _)| q > bq || (q == bq && i < bi)) {
                    best = Some((q, i, l));
                }
            }
        }
        best.map(|b| b.2).unwrap_or_default()
    }

    /// The language of a request: the account's setting unless it is `auto`, else the
    /// browser's `Accept-Language`.
    pub fn resolve(setting: Option<&str>, accept_language: Option<&str>) -> Lang {
        match setting.and_then(Lang::parse) {
            Some(l) => l,
            None => accept_language
                .map(Lang::from_accept_language)
                .unwrap_or_default(),
        }
    }
}

const EN: &str = include_str!("../i18n/en.toml");

/// The English catalogue: message id (Chinese) → English.
pub fn english() -> &'static HashMap<String, String> {
    static CAT: OnceLock<HashMap<String, String>> = OnceLock::new();
    CAT.get_or_init(|| match toml::from_str::<HashMap<String, String>>(EN) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "the English catalogue does not parse");
            HashMap::new()
        }
    })
}

/// The text of `msgid` in `lang` (the id itself in Chinese or when untranslated).
pub fn text(lang: Lang, msgid: &str) -> &str {
    match lang {
        Lang::ZhCn => msgid,
        Lang::En => english().get(msgid).map(String::as_str).unwrap_or(msgid),
    }
}

/// `text` with `{0}`, `{1}`, … replaced by `args`.
pub fn format(lang: Lang, msgid: &str, args: &[String]) -> String {
    let mut s = text(lang, msgid).to_string();
    for (i, a) in args.iter().enumerate() {
        s = s.replace(&format!("{{{i}}}"), a);
    }
    s
}

/// Messages that the browser script shows (toasts after a redirect, busy and error notes),
/// handed to it as a JSON block in the page.
pub const SCRIPT_MESSAGES: &[(&str, &str)] = &[
    ("created", "已创建"),
    ("saved", "已保存"),
    ("checkin_inside", "打卡成功：在村"),
    ("checkin_outside", "已记录：不在打卡范围"),
    ("moved", "已移动"),
    ("dissolved", "已撤销"),
    ("sent", "已发出转接"),
    ("password", "密码已修改"),
    ("totp", "动态口令已启用"),
    ("revoked", "令牌已撤销"),
    ("reset", "密码已重置"),
    ("published", "规则已发布"),
    ("locale", "界面语言已更改"),
    ("loading", "正在加载…"),
    ("failed", "请求失败，请稍后重试"),
    ("selected", "已选 {0} 项"),
    ("verified", "审计链校验完成：完整"),
    ("verify_failed", "审计链校验发现问题，详见页面上方"),
    ("pending", "已提交，等待审核"),
    ("closed", "已关账"),
    ("ranking_published", "排名已发布"),
    ("report_filed", "实绩报告已报送"),
    ("year_confirmed", "年度考核结果已确认"),
    ("circular_published", "通知已发布"),
    ("cadre_saved", "干部信息已保存"),
    ("work_log_filed", "该周工作记实已报送"),
    ("work_log_returned", "已退回，待本人重新报送"),
    ("work_log_addendum", "补充说明已添加"),
    ("meeting_created", "会议已安排"),
    ("meeting_planned", "年度计划已生成"),
    ("meeting_plan_none", "各周期均已安排，没有需要新增的会议"),
    ("meeting_notified", "已发出通知，参会名单已生成"),
    ("meeting_cancelled", "会议已取消"),
    ("meeting_marked", "参会情况已登记"),
    ("meeting_leave_asked", "请假申请已提交，等待支部书记审批"),
    ("meeting_signed", "签到成功"),
    ("meeting_filed", "会议记录已签字归档"),
    ("meeting_addendum", "补充说明已添加"),
    ("meeting_makeup", "补学已登记"),
    ("meeting_decision_done", "落实情况已登记"),
    ("talk_logged", "谈心谈话已登记"),
    ("appraisal_created", "民主评议已开展，请党员填写个人自评"),
    ("appraisal_self", "个人自评已保存"),
    ("appraisal_rating", "民主测评已开始，请公布测评码"),
    ("appraisal_rated", "测评票已提交，谢谢参与"),
    ("appraisal_paper", "纸质测评票已录入"),
    ("appraisal_decided", "评定结果已产生"),
    ("appraisal_handled", "组织处置已记录"),
    ("appraisal_cancelled", "本次民主评议已取消"),
    ("election_created", "换届选举已筹备，可打印选票"),
    ("election_recorded", "选举结果已记录，已报上级批复"),
    ("election_approved", "已批复，新一届委员会名单已更新"),
    ("election_returned", "已退回，不予批复"),
    ("election_cancelled", "本次选举已取消"),
    ("extension_asked", "延期换届申请已报上级"),
    ("extension_decided", "延期换届申请已处理"),
    ("received", "已签收"),
    ("reminded", "已催办未签收的组织"),
    ("withdrawn", "通知已撤回"),
    ("review_closed", "评议已结束，结果已公布"),
    ("awarded", "已计分"),
    ("confirmed", "年度兑分已确认"),
    ("remove", "移除"),
    ("requested", "已提交，等待另一名管理员审批"),
    ("approved", "已批准"),
    ("rejected", "已驳回"),
];

pub fn script_messages(lang: Lang) -> HashMap<&'static str, &'static str> {
    SCRIPT_MESSAGES
        .iter()
        .map(|(k, v)| (*k, text(lang, v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_best_supported_language() {
        let cases = [
            ("", Lang::ZhCn),
            ("en", Lang::En),
            ("en-US,en;q=0.9", Lang::En),
            ("zh-CN,zh;q=0.9,en;q=0.8", Lang::ZhCn),
            ("fr-FR, en;q=0.5, zh;q=0.4", Lang::En),
            ("fr-FR, en;q=0.4, zh;q=0.5", Lang::ZhCn),
            ("de", Lang::ZhCn),
            ("en;q=0, zh-TW", Lang::ZhCn),
            ("en;q=0.8, zh;q=0.8", Lang::En),
            ("garbage;;;q=x", Lang::ZhCn),
        ];
        for (h, want) in cases {
            assert_eq!(Lang::from_accept_language(h), want, "{h:?}");
        }
    }

    #[test]
    fn the_account_setting_wins_over_the_browser() {
        assert_eq!(Lang::resolve(Some("en"), Some("zh-CN")), Lang::En);
        assert_eq!(Lang::resolve(Some("zh-CN"), Some("en")), Lang::ZhCn);
        assert_eq!(Lang::resolve(Some("auto"), Some("en")), Lang::En);
        assert_eq!(Lang::resolve(None, None), Lang::ZhCn);
    }

    /// Every `?ok=<key>` a handler redirects to has its toast (a missing one shows nothing).
    #[test]
    fn every_redirect_toast_has_a_message() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).expect("dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("i18n.rs") {
                    out.push(std::fs::read_to_string(&p).expect("read"));
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut keys = std::collections::BTreeSet::new();
        for f in &files {
            for part in f.split("ok=").skip(1) {
                let key: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !key.is_empty() {
                    keys.insert(key);
                }
            }
            // keys chosen at run time: `let ok = if .. { "a" } else { "b" };`
            for part in f.split("let ok = if ").skip(1) {
                let block: String = part.chars().take_while(|c| *c != ';').collect();
                for lit in block.split('"').skip(1).step_by(2) {
                    keys.insert(lit.to_string());
                }
            }
        }
        assert!(
            keys.contains("saved") && keys.contains("pending"),
            "{keys:?}"
        );
        let missing: Vec<_> = keys
            .iter()
            .filter(|k| !SCRIPT_MESSAGES.iter().any(|(m, _)| m == k))
            .collect();
        assert!(missing.is_empty(), "toasts without a message: {missing:?}");
    }

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            format(Lang::ZhCn, "第 {0} / {1} 页", &["2".into(), "9".into()]),
            "第 2 / 9 页"
        );
        assert_eq!(text(Lang::En, "no such id 不存在"), "no such id 不存在");
    }
}
