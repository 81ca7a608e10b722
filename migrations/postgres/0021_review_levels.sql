-- 三级审核: the organisation whose accounts do each review level (市委组织部, 市委书记, 省委组织部
-- for a county secretary's report). Campaigns from before keep `[]` and are read with the
-- default: every level at the organiser, a level named 上级… at its parent.
ALTER TABLE review_campaigns ADD COLUMN level_orgs_json TEXT NOT NULL DEFAULT '[]';
