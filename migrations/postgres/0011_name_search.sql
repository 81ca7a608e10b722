-- The name indexes carry each member's organisation, so a name search in a county or a city
-- counts its matches within the subtree from the indexes alone, without reading a member row
-- per match (see member::store::name_total).
DROP INDEX members_initials;
DROP INDEX members_pinyin;
CREATE INDEX members_initials ON members (name_initials, org_id);
CREATE INDEX members_pinyin ON members (name_pinyin, org_id);
