//! Versioned rule sets (规则集). Every number the reports give is the default of a rule
//! value; an administrator may publish a new version for any organisation, and it applies to
//! that organisation's whole subtree unless a nearer organisation has its own.
//!
//! A rule set is stored as JSON; unknown keys are refused and missing keys take the defaults,
//! so old versions stay readable when new values are added.

pub mod form;
pub mod web;

use crate::audit::{self, Actor, NewEntry};
use crate::db::{Db, DbRow};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// An exact share `[numerator, denominator]` (⅓ is `[1, 3]`), kept as integers so rules
/// compare without rounding.
pub type Ratio = [i64; 2];

/// The label of `key` in a table of (key, label) pairs; empty when the key is unknown.
pub fn label(table: &[(&'static str, &'static str)], key: &str) -> &'static str {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// The largest magnitude any number in a rule set may have. Days, months, years, points,
/// shares and counts of the 细则 are all far below it; a value above it is a typing mistake
/// that would overflow the date and score arithmetic of every page reading it.
pub const RULE_VALUE_MAX: i64 = 10_000;

/// Refuses a rule set holding a number beyond [`RULE_VALUE_MAX`], naming the value.
pub fn check_magnitudes(kind: &str, values: &serde_json::Value) -> AppResult<()> {
    fn too_big(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => n
                .as_i64()
                .map(|x| x.unsigned_abs() > RULE_VALUE_MAX as u64)
                .unwrap_or(true),
            serde_json::Value::Array(a) => a.iter().any(too_big),
            serde_json::Value::Object(o) => o.values().any(too_big),
            _ => false,
        }
    }
    let mut errors = Vec::new();
    if let Some(obj) = values.as_object() {
        for (k, v) in obj {
            if too_big(v) {
                let (label, _) = form::label(kind, k);
                errors.push(crate::error::FieldError::new(
                    &format!("v.{k}"),
                    format!("“{label}”的数值不能超过{RULE_VALUE_MAX}"),
                ));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}

/// A kind of rule set: its name and the typed values with their defaults.
pub trait RuleKind: Serialize + DeserializeOwned + Default + Clone {
    const KIND: &'static str;
    const LABEL: &'static str;
    fn validate(&self) -> Result<(), String>;
}

/// The 支部工作条例 values behind the branch warnings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BranchRules {
    /// A branch needs at least this many full members (正式党员).
    pub min_full_members: i64,
    /// More members than this: the branch should be split.
    pub max_members: i64,
    /// From this many full members a branch committee (支部委员会) is required.
    pub committee_required_at: i64,
    pub committee_min: i64,
    pub committee_max: i64,
    /// Absolute maximum committee size.
    pub committee_hard_max: i64,
    pub term_years: i64,
    /// Term for village (村) and community (社区) branches.
    pub term_years_village: i64,
    /// Warn this many days before a term ends.
    pub term_warn_days: i64,
}

impl Default for BranchRules {
    fn default() -> Self {
        Self {
            min_full_members: 3,
            max_members: 50,
            committee_required_at: 7,
            committee_min: 3,
            committee_max: 5,
            committee_hard_max: 7,
            term_years: 3,
            term_years_village: 5,
            term_warn_days: 90,
        }
    }
}

impl RuleKind for BranchRules {
    const KIND: &'static str = "branch";
    const LABEL: &'static str = "党支部设置规则（支部工作条例）";
    fn validate(&self) -> Result<(), String> {
        let all = [
            self.min_full_members,
            self.max_members,
            self.committee_required_at,
            self.committee_min,
            self.committee_max,
            self.committee_hard_max,
            self.term_years,
            self.term_years_village,
            self.term_warn_days,
        ];
        if all.iter().any(|v| *v < 0) {
            return Err("规则值不能为负数".into());
        }
        if self.committee_min > self.committee_max || self.committee_max > self.committee_hard_max {
            return Err("委员人数须满足 下限 ≤ 一般上限 ≤ 最高上限".into());
        }
        if self.min_full_members > self.max_members {
            return Err("正式党员下限不能大于党员人数上限".into());
        }
        if self.term_years == 0 || self.term_years_village == 0 {
            return Err("任期年限至少1年".into());
        }
        Ok(())
    }
}

/// Member rules used by validation of the roster.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MemberRules {
    /// Minimum age on the day of joining (入党年龄).
    pub min_join_age: i64,
    /// Probation (预备期) in years.
    pub probation_years: i64,
    /// Probation may be extended by at most this many years (延长预备期).
    pub max_probation_extension_years: i64,
}

impl Default for MemberRules {
    fn default() -> Self {
        Self {
            min_join_age: 18,
            probation_years: 1,
            max_probation_extension_years: 1,
        }
    }
}

impl RuleKind for MemberRules {
    const KIND: &'static str = "member";
    const LABEL: &'static str = "党员信息规则";
    fn validate(&self) -> Result<(), String> {
        if !(14..=30).contains(&self.min_join_age) {
            return Err("入党年龄下限应在14至30之间".into());
        }
        if !(1..=3).contains(&self.probation_years)
            || !(0..=2).contains(&self.max_probation_extension_years)
        {
            return Err("预备期1至3年，延长不超过2年".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleSetVersion {
    pub org_id: i64,
    pub kind: String,
    pub version: i64,
    pub values_json: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The rule set in force at `path`: the newest version of the nearest organisation on the
/// path that has one, else the defaults. Returns the values and where they came from.
pub async fn effective<R: RuleKind>(db: &Db, path: &str) -> AppResult<(R, Option<RuleSetVersion>)> {
    let ids: Vec<i64> = crate::org::path_ids(path);
    if ids.is_empty() {
        return Ok((R::default(), None));
    }
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    // ids are integers parsed from the path, so inlining them is safe.
    let sql = format!(
        "SELECT r.org_id, r.kind, r.version, r.values_json, r.created_at FROM rule_sets r JOIN orgs o ON o.id = r.org_id \
         WHERE r.kind = $1 AND r.org_id IN ({list}) ORDER BY o.depth DESC, r.version DESC LIMIT 1"
    );
    let found = on_db!(db, p => {
        match sqlx::query(&sql).bind(R::KIND).fetch_optional(p).await? {
            Some(r) => Some(RuleSetVersion {
                org_id: r.i64("org_id")?,
                kind: r.string("kind")?,
                version: r.i64("version")?,
                values_json: r.string("values_json")?,
                created_at: r.ts("created_at")?,
            }),
            None => None,
        }
    });
    match found {
        Some(v) => {
            let values: R = serde_json::from_str(&v.values_json).map_err(|e| {
                AppError::Internal(format!(
                    "stored rule set {} v{} unreadable: {e}",
                    R::KIND,
                    v.version
                ))
            })?;
            Ok((values, Some(v)))
        }
        None => Ok((R::default(), None)),
    }
}

/// Publishes a new version of a rule set for one organisation (and so its subtree).
/// Whether `values` may be published: the kind's own checks and the magnitudes every rule
/// value keeps to (what [`publish`] asks first; the rules page asks it before its preview).
pub fn check<R: RuleKind>(values: &R) -> AppResult<()> {
    let json = serde_json::to_value(values).unwrap_or_default();
    // a rule set is a few dozen values and a catalogue of about a hundred rows
    if json.to_string().len() > MAX_RULE_SET_BYTES {
        return Err(AppError::field(
            "values",
            format!("规则值过多（一套规则最多{}KB）", MAX_RULE_SET_BYTES / 1000),
        ));
    }
    values
        .validate()
        .map_err(|m| AppError::field("values", m))?;
    check_magnitudes(R::KIND, &json)
}

/// The largest rule set, written as JSON (the default points catalogue is about 30 KB).
pub const MAX_RULE_SET_BYTES: usize = 200_000;

pub async fn publish<R: RuleKind>(
    db: &Db,
    actor: &Actor,
    org_id: i64,
    values: &R,
) -> AppResult<i64> {
    check(values)?;
    let json = serde_json::to_string(values).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut tx = db.begin().await?;
    let now = tx.now;
    let version = on_tx!(&mut tx, c => {
        let r = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM rule_sets WHERE org_id = $1 AND kind = $2")
            .bind(org_id)
            .bind(R::KIND)
            .fetch_one(&mut *c)
            .await?;
        let v = r.i64("v")?;
        sqlx::query("INSERT INTO rule_sets (org_id, kind, version, values_json, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(org_id)
            .bind(R::KIND)
            .bind(v)
            .bind(&json)
            .bind(now)
            .bind(actor.id)
            .execute(&mut *c)
            .await?;
        v
    });
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "rules.publish",
            object_type: "rule_set",
            object_id: format!("{org_id}:{}", R::KIND),
            before: serde_json::Value::Null,
            after: serde_json::json!({"version": version, "values": values}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(version)
}

/// All versions for one organisation and kind, newest first.
pub async fn versions(db: &Db, org_id: i64, kind: &str) -> AppResult<Vec<RuleSetVersion>> {
    Ok(on_db!(db, p => {
        let rows = sqlx::query("SELECT org_id, kind, version, values_json, created_at FROM rule_sets WHERE org_id = $1 AND kind = $2 ORDER BY version DESC")
            .bind(org_id)
            .bind(kind)
            .fetch_all(p)
            .await?;
        rows.iter().map(|r| Ok(RuleSetVersion {
            org_id: r.i64("org_id")?,
            kind: r.string("kind")?,
            version: r.i64("version")?,
            values_json: r.string("values_json")?,
            created_at: r.ts("created_at")?,
        })).collect::<Result<Vec<_>, crate::db::DbError>>()?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_partial_json_fills_defaults() {
        assert!(BranchRules::default().validate().is_ok());
        assert!(MemberRules::default().validate().is_ok());
        let r: BranchRules = serde_json::from_str(r#"{"max_members": 40}"#).expect("json");
        assert_eq!(r.max_members, 40);
        assert_eq!(r.min_full_members, 3);
        assert!(serde_json::from_str::<BranchRules>(r#"{"max_member": 40}"#).is_err());
    }

    #[test]
    fn inconsistent_values_are_refused() {
        let r = BranchRules {
            committee_min: 6,
            ..Default::default()
        };
        assert!(r.validate().is_err());
        let r = BranchRules {
            term_years: 0,
            ..Default::default()
        };
        assert!(r.validate().is_err());
        let m = MemberRules {
            min_join_age: 13,
            ..Default::default()
        };
        assert!(m.validate().is_err());
    }
}
