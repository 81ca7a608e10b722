//! 通知公告: notices an organisation department or Party committee sends down its tree, with
//! 签收 (each receiving organisation acknowledges, who and when) and read receipts of
//! members; the sender sees who has received and reminds the laggards.
//!
//! The audience is resolved at publishing into one row per receiving organisation
//! (`circular_targets`): the sender's whole subtree, its direct children, chosen
//! organisations of its subtree, or the members of a subtree (one target: the subtree's root;
//! its members read it). Nobody reads a notice not addressed to their organisation, their
//! subtree's members or sent by their organisation.

pub mod store;
pub mod web;

/// Audiences (code, label).
pub const AUDIENCES: [(&str, &str); 4] = [
    ("subtree", "本组织以下全部党组织"),
    ("children", "直属下级党组织"),
    ("orgs", "指定的党组织"),
    ("members", "本组织以下全体党员"),
];

pub fn audience_label(code: &str) -> &'static str {
    AUDIENCES
        .iter()
        .find(|a| a.0 == code)
        .map(|a| a.1)
        .unwrap_or("")
}

/// Statuses (code, label).
pub const STATUSES: [(&str, &str); 2] = [("published", "已发布"), ("withdrawn", "已撤回")];

/// Limits of a notice.
pub const MAX_TITLE: usize = 100;
pub const MAX_BODY: usize = 20_000;
pub const MAX_FILES: usize = 5;
/// Attachments: PDF, images (recognised by content, like every stored file), at most this big.
pub const MAX_FILE_MB: i64 = 20;
/// Chosen organisations at most (a wider audience is a subtree).
pub const MAX_CHOSEN: usize = 200;
