-- 星级评定 on exact values: a branch's points convert to a fraction of the points score, so a
-- total is kept in hundredths rounded down (a shown 89.80 never bands as 90) and the stars are
-- decided on the exact total. Totals and points scores stored before were whole points.
ALTER TABLE star_scores RENAME COLUMN points_score TO points_centi;
ALTER TABLE star_scores RENAME COLUMN total TO total_centi;
UPDATE star_scores SET points_centi = points_centi * 100, total_centi = total_centi * 100;
ALTER TABLE star_ratings RENAME COLUMN total TO total_centi;
UPDATE star_ratings SET total_centi = total_centi * 100;
