//! The one integration test binary: in-process HTTP flows on SQLite, and on PostgreSQL when
//! DANGJIAN_TEST_PG holds a server URL.

mod appraisals;
mod audit_chain;
mod authz;
mod backfill;
mod calendar;
mod circulars;
mod discipline;
mod elections;
mod first_secretaries;
mod flows;
mod hardening;
mod heavy;
mod import_export;
mod love_bank;
mod meetings;
mod points;
mod recruit;
mod rectify;
mod review;
mod schema;
mod security;
mod support;
mod web;
mod work_logs;
