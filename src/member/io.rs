//! Import and export of the roster: xlsx and csv, a template with Chinese headers, every
//! row checked before anything is written, and a per-row report (row, column, reason).

use super::rules::{CheckedMember, MemberInput};
use super::store::{self, MemberFilter};
use super::Member;
use crate::audit::Actor;
use crate::error::{AppError, AppResult};
use crate::org::Org;
use crate::Ctx;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Columns of the template and of exports, in order.
pub const HEADERS: [&str; 13] = [
    "姓名",
    "性别",
    "民族",
    "身份证号码",
    "手机号码",
    "学历",
    "工作单位",
    "所在党支部",
    "入党日期",
    "转正日期",
    "党员状态",
    "网格角色",
    "流入地",
];

/// Input field behind each header (for the report).
const FIELDS: [&str; 13] = [
    "name",
    "gender",
    "ethnicity",
    "id_number",
    "phone",
    "education",
    "work_unit",
    "org_id",
    "join_date",
    "full_date",
    "status",
    "grid_role",
    "mobile_destination",
];

fn header_for_field(field: &str) -> &'static str {
    FIELDS
        .iter()
        .position(|f| *f == field)
        .map(|i| HEADERS[i])
        .unwrap_or(match field {
            "birth_date" => "身份证号码",
            "region_code" => "身份证号码",
            "group_id" => "所在党支部",
            _ => "",
        })
}

/// The phases an import goes through, as shown on its progress page.
pub const PHASES: [&str; 4] = ["读取文件", "校验中", "写入中", "完成"];

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RowError {
    /// Spreadsheet row number (the header is row 1).
    pub row: usize,
    pub column: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ImportMode {
    /// Nothing is written if any row is wrong.
    AllOrNothing,
    /// Valid rows are written, wrong rows reported.
    ValidOnly,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct ImportReport {
    pub total_rows: usize,
    pub valid_rows: usize,
    pub written: usize,
    /// The first errors (at most [`MAX_ERRORS`]).
    pub errors: Vec<RowError>,
    /// How many errors there were in all.
    pub error_count: usize,
    pub done: bool,
    pub phase: String,
    pub progress: usize,
    pub failed: Option<String>,
}

/// Import jobs of this process, for progress display.
#[derive(Clone, Default)]
pub struct ImportJobs(Arc<Mutex<HashMap<String, (i64, ImportReport)>>>);

impl ImportJobs {
    pub fn start(&self, account_id: i64) -> String {
        let id = crate::crypto::random_token()[..16].to_string();
        if let Ok(mut m) = self.0.lock() {
            if m.len() > 200 {
                m.retain(|_, (_, r)| !r.done);
            }
            m.insert(
                id.clone(),
                (
                    account_id,
                    ImportReport {
                        phase: PHASES[0].into(),
                        ..Default::default()
                    },
                ),
            );
        }
        id
    }
    pub fn update(&self, id: &str, f: impl FnOnce(&mut ImportReport)) {
        if let Ok(mut m) = self.0.lock() {
            if let Some((_, r)) = m.get_mut(id) {
                f(r);
            }
        }
    }
    /// The report of a job, only for the account that started it.
    pub fn get(&self, id: &str, account_id: i64) -> Option<ImportReport> {
        self.0.lock().ok().and_then(|m| {
            m.get(id)
                .filter(|(a, _)| *a == account_id)
                .map(|(_, r)| r.clone())
        })
    }
}

/// Raw cell text of one row, keyed by header.
/// One row of an import file: its cells by column header (one of [`HEADERS`]), all kept in
/// one text. (As a map of strings a row took about 1.1 KB; 100,000 rows were 110 MB.)
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawRow {
    text: String,
    /// Where each header's cell lies in `text`; `None` when the row has no such cell.
    spans: [Option<(u32, u32)>; HEADERS.len()],
}

impl RawRow {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the cell under `header` (a header not in [`HEADERS`] is ignored).
    pub fn insert(&mut self, header: &str, value: &str) {
        if let Some(i) = HEADERS.iter().position(|h| *h == header) {
            let start = self.text.len() as u32;
            self.text.push_str(value);
            self.spans[i] = Some((start, self.text.len() as u32));
        }
    }

    /// The cell under `header`, if the row has one.
    pub fn get(&self, header: &str) -> Option<&str> {
        let i = HEADERS.iter().position(|h| *h == header)?;
        let (a, b) = self.spans[i]?;
        self.text.get(a as usize..b as usize)
    }

    pub fn contains_key(&self, header: &str) -> bool {
        self.get(header).is_some()
    }

    /// No cell holds anything.
    pub fn is_blank(&self) -> bool {
        self.text.is_empty()
    }

    /// The row as kept: its text no longer than it needs.
    fn done(mut self) -> Self {
        self.text.shrink_to_fit();
        self
    }
}

/// `row["姓名"]`: the cell, or "" when the row has none.
impl std::ops::Index<&str> for RawRow {
    type Output = str;
    fn index(&self, header: &str) -> &str {
        self.get(header).unwrap_or("")
    }
}

fn excel_serial_to_date(v: f64) -> Option<NaiveDate> {
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?;
    // `try_days`: a serial out of any calendar's range is no date, not a panic
    base.checked_add_signed(chrono::Duration::try_days(v.trunc() as i64)?)
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some(d);
        }
    }
    // "2020-01-01 00:00:00" from spreadsheets
    s.get(..10)
        .and_then(|p| NaiveDate::parse_from_str(p, "%Y-%m-%d").ok())
}

fn map_headers(header: &[String]) -> Result<Vec<Option<&'static str>>, String> {
    let cols: Vec<Option<&'static str>> = header
        .iter()
        .map(|h| HEADERS.iter().copied().find(|x| *x == h.trim()))
        .collect();
    let missing: Vec<&str> = ["姓名", "身份证号码", "所在党支部", "入党日期", "党员状态"]
        .into_iter()
        .filter(|m| !cols.contains(&Some(*m)))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "缺少必需的列：{}（请使用下载的模板）",
            missing.join("、")
        ));
    }
    Ok(cols)
}

/// Reads an xlsx workbook's first sheet. A damaged workbook is refused; the xlsx reader is
/// third-party code that has been seen to panic on some damaged files (an overflow on a
/// malformed cell reference, found by the fuzz target below), so a panic inside it is caught
/// and answered as a file that cannot be read.
pub fn read_xlsx(bytes: &[u8]) -> Result<Vec<RawRow>, String> {
    // a decompression bomb is refused before the reader unpacks anything for itself
    crate::zipguard::check(bytes, crate::zipguard::WORKBOOK)?;
    std::panic::catch_unwind(|| read_xlsx_inner(bytes))
        .unwrap_or_else(|_| Err("无法读取该xlsx文件（文件已损坏）".to_string()))
}

/// Rows one import may hold.
pub const MAX_ROWS: usize = 200_000;
/// Characters one cell may hold (the longest field, 工作单位, takes 100).
pub const MAX_CELL_CHARS: usize = 1_000;
/// Row errors an import report keeps (the count of all is kept too).
pub const MAX_ERRORS: usize = 1_000;

fn check_cell(row: u32, text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_CELL_CHARS {
        return Err(format!(
            "第{}行有单元格超过{}个字，请检查文件",
            row + 1,
            MAX_CELL_CHARS
        ));
    }
    Ok(())
}

fn check_rows_count(n: usize) -> Result<(), String> {
    if n > MAX_ROWS {
        return Err(format!("一次最多导入{MAX_ROWS}行，请分批导入"));
    }
    Ok(())
}

/// The first worksheet's rows, read cell by cell as the file is unpacked: the sheet is never
/// held whole (100,000 rows of 13 cells were 1.3 million cells in memory next to the rows made
/// of them). The first row holding a cell is the header; cells are placed by their column.
fn read_xlsx_inner(bytes: &[u8]) -> Result<Vec<RawRow>, String> {
    use calamine::{Data, Reader, Xlsx};
    let mut wb: Xlsx<_> =
        Xlsx::new(std::io::Cursor::new(bytes)).map_err(|_| "无法读取该xlsx文件".to_string())?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or("工作簿中没有工作表")?;
    let mut cells = wb
        .worksheet_cells_reader(&sheet)
        .map_err(|_| "无法读取工作表".to_string())?;
    let mut header: Vec<String> = Vec::new();
    let mut header_row: Option<u32> = None;
    let mut cols: Vec<Option<&'static str>> = Vec::new();
    let mut out = Vec::new();
    let mut row = RawRow::new();
    let mut row_no: Option<u32> = None;
    let finish = |row: &mut RawRow, out: &mut Vec<RawRow>| {
        let done = std::mem::take(row);
        if !done.is_blank() {
            out.push(done.done());
        }
    };
    loop {
        let cell = cells
            .next_cell()
            .map_err(|_| "无法读取工作表".to_string())?;
        let Some(cell) = cell else { break };
        let (r, c) = cell.get_position();
        let c = c as usize;
        match header_row {
            None => header_row = Some(r),
            Some(h) if r == h => {}
            Some(_) => {
                if cols.is_empty() {
                    cols = map_headers(&header)?;
                }
                if row_no != Some(r) {
                    finish(&mut row, &mut out);
                    row_no = Some(r);
                }
            }
        }
        let data = Data::from(cell.get_value().clone());
        if header_row == Some(r) {
            if header.len() <= c {
                header.resize(c + 1, String::new());
            }
            header[c] = data.to_string();
            continue;
        }
        let Some(Some(h)) = cols.get(c) else { continue };
        let text = match data {
            Data::Empty => String::new(),
            Data::DateTime(dt) => excel_serial_to_date(dt.as_f64())
                .map(|d| d.to_string())
                .unwrap_or_default(),
            Data::Float(f) if *h == "入党日期" || *h == "转正日期" => {
                excel_serial_to_date(f)
                    .map(|d| d.to_string())
                    .unwrap_or_default()
            }
            Data::Float(f) if f.fract() == 0.0 => format!("{}", f as i64),
            other => other.to_string(),
        };
        check_cell(r, &text)?;
        check_rows_count(out.len())?;
        row.insert(h, text.trim());
    }
    if header_row.is_none() {
        return Err("文件为空".into());
    }
    if cols.is_empty() {
        // a header with no rows under it still has to name the columns
        map_headers(&header)?;
    }
    finish(&mut row, &mut out);
    Ok(out)
}

/// Reads UTF-8 CSV (a BOM is allowed).
pub fn read_csv(bytes: &[u8]) -> Result<Vec<RawRow>, String> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "CSV文件应为UTF-8编码（可在Excel中另存为“CSV UTF-8”）".to_string())?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = rdr
        .headers()
        .map_err(|_| "无法读取CSV表头".to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    let cols = map_headers(&header)?;
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("CSV格式错误：{e}"))?;
        check_rows_count(out.len())?;
        let mut row = RawRow::new();
        for (i, v) in rec.iter().enumerate() {
            if let Some(Some(h)) = cols.get(i) {
                check_cell(out.len() as u32 + 1, v)?;
                row.insert(h, v.trim());
            }
        }
        if !row.is_blank() {
            out.push(row.done());
        }
    }
    Ok(out)
}

/// Resolves "所在党支部" cells (name or #id) to branches inside the scope.
pub struct BranchLookup {
    by_name: HashMap<String, Vec<Org>>,
    by_id: HashMap<i64, Org>,
}

impl BranchLookup {
    pub async fn load(ctx: &Ctx, scope_path: &str) -> AppResult<Self> {
        let branches = crate::org::store::search(&ctx.db, scope_path, "", true, 1_000_000).await?;
        let mut by_name: HashMap<String, Vec<Org>> = HashMap::new();
        let mut by_id = HashMap::new();
        for b in branches {
            by_name.entry(b.name.clone()).or_default().push(b.clone());
            by_id.insert(b.id, b);
        }
        Ok(Self { by_name, by_id })
    }
    pub fn resolve(&self, cell: &str) -> Result<&Org, String> {
        let cell = cell.trim();
        if cell.is_empty() {
            return Err("请填写所在党支部".into());
        }
        if let Some(id) = cell.strip_prefix('#').and_then(|s| s.parse::<i64>().ok()) {
            return self
                .by_id
                .get(&id)
                .ok_or_else(|| format!("编号为{id}的党支部不存在或不在管辖范围内"));
        }
        match self.by_name.get(cell).map(|v| v.as_slice()) {
            None | Some([]) => Err(format!("党支部“{cell}”不存在或不在管辖范围内")),
            Some([one]) => Ok(one),
            Some(many) => Err(format!(
                "有{}个党支部名为“{cell}”，请改用编号，如 #{}",
                many.len(),
                many[0].id
            )),
        }
    }
}

fn to_input(row: &RawRow, org_id: i64) -> Result<MemberInput, Vec<(String, String)>> {
    let g = |k: &str| row.get(k).unwrap_or_default().to_string();
    let mut errs = Vec::new();
    let join = match parse_date(&g("入党日期")) {
        Some(d) => d,
        None => {
            errs.push((
                "入党日期".to_string(),
                "入党日期无效，应为如2020-07-01".to_string(),
            ));
            NaiveDate::MIN
        }
    };
    let full_raw = g("转正日期");
    let full = if full_raw.is_empty() {
        None
    } else {
        match parse_date(&full_raw) {
            Some(d) => Some(d),
            None => {
                errs.push((
                    "转正日期".to_string(),
                    "转正日期无效，应为如2021-07-01".to_string(),
                ));
                None
            }
        }
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let opt = |k: &str| Some(g(k)).filter(|s| !s.is_empty());
    Ok(MemberInput {
        org_id,
        group_id: None,
        name: g("姓名"),
        gender: opt("性别"),
        ethnicity: opt("民族").unwrap_or_else(|| "汉族".into()),
        birth_date: None,
        id_number: opt("身份证号码"),
        phone: opt("手机号码"),
        education: g("学历"),
        work_unit: g("工作单位"),
        region_code: None,
        join_date: join,
        full_date: full,
        status: g("党员状态"),
        grid_role: opt("网格角色"),
        mobile_destination: opt("流入地"),
        version: None,
    })
}

/// Checks every row; returns the rows that passed with their branch, and the errors.
/// Checks every row; returns the rows that passed with their branch, the errors, and how many
/// rows named an ID number registered outside the scope (answered neutrally, and counted
/// against the caller: a source of membership answers).
pub async fn check_rows(
    ctx: &Ctx,
    scope_path: &str,
    rows: &[RawRow],
    mut progress: impl FnMut(usize),
) -> AppResult<(Vec<(usize, i64, CheckedMember)>, Vec<RowError>, usize)> {
    let lookup = BranchLookup::load(ctx, scope_path).await?;
    let (member_rules, _) =
        crate::rules::effective::<crate::rules::MemberRules>(&ctx.db, scope_path).await?;
    let today = ctx.clock.today();
    let mut ok = Vec::new();
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let rowno = i + 2;
        if i % 1000 == 0 {
            progress(i);
        }
        let mut errs: Vec<(String, String)> = Vec::new();
        let branch = match lookup.resolve(row.get("所在党支部").unwrap_or("")) {
            Ok(b) => Some(b),
            Err(m) => {
                errs.push(("所在党支部".into(), m));
                None
            }
        };
        match to_input(row, branch.map(|b| b.id).unwrap_or(0)) {
            Err(e) => errs.extend(e),
            Ok(input) => match super::rules::check(&input, &member_rules, today, None) {
                Err(c) => errs.extend(
                    c.0.into_iter()
                        .map(|f| (header_for_field(&f.field).to_string(), f.message)),
                ),
                Ok(checked) => {
                    if let Some(idn) = &checked.id_number {
                        let idx = ctx.vault.blind_index("id", idn);
                        if let Some(first) = seen.get(&idx) {
                            errs.push((
                                "身份证号码".into(),
                                format!("与第{first}行的身份证号码重复"),
                            ));
                        } else {
                            seen.insert(idx, rowno);
                        }
                    }
                    if errs.is_empty() {
                        if let Some(b) = branch {
                            ok.push((rowno, b.id, checked));
                        }
                    }
                }
            },
        }
        errors.extend(errs.into_iter().map(|(column, message)| RowError {
            row: rowno,
            column,
            message,
        }));
    }
    // Duplicates against the database.
    let idxs: Vec<String> = seen.keys().cloned().collect();
    let existing: HashMap<String, String> = store::existing_id_indexes(ctx, &idxs)
        .await?
        .into_iter()
        .collect();
    let mut outside = 0;
    if !existing.is_empty() {
        let mut dup_rows = HashSet::new();
        for (idx, row) in &seen {
            if let Some(path) = existing.get(idx) {
                dup_rows.insert(*row);
                let inside = crate::org::in_subtree(scope_path, path);
                outside += usize::from(!inside);
                errors.push(RowError {
                    row: *row,
                    column: "身份证号码".into(),
                    message: if inside {
                        "该身份证号码已在本辖区党员库中".into()
                    } else {
                        store::DUPLICATE_ELSEWHERE.into()
                    },
                });
            }
        }
        ok.retain(|(r, _, _)| !dup_rows.contains(r));
    }
    errors.sort_by(|a, b| a.row.cmp(&b.row).then(a.column.cmp(&b.column)));
    Ok((ok, errors, outside))
}

/// The errors a report keeps: the first [`MAX_ERRORS`], and how many there were in all.
fn kept(mut errors: Vec<RowError>) -> (Vec<RowError>, usize) {
    let n = errors.len();
    errors.truncate(MAX_ERRORS);
    errors.shrink_to_fit();
    (errors, n)
}

/// Runs a whole import: check, then write (all rows in one transaction).
pub async fn run_import(
    ctx: &Ctx,
    actor: &Actor,
    scope_path: &str,
    rows: Vec<RawRow>,
    mode: ImportMode,
    jobs: Option<(&ImportJobs, &str)>,
) -> AppResult<ImportReport> {
    let total = rows.len();
    let upd = |f: &dyn Fn(&mut ImportReport)| {
        if let Some((j, id)) = jobs {
            j.update(id, |r| f(r));
        }
    };
    upd(&|r| {
        r.total_rows = total;
        r.phase = PHASES[1].into();
    });
    // numbers registered elsewhere are answered neutrally, and an account that keeps asking
    // is held off (each such row counts)
    let key = format!("dupcheck:{}", actor.id.unwrap_or(0));
    let now = ctx.clock.now().timestamp();
    if actor.id.is_some() {
        if let Some(wait) = ctx.limits.wait(&key, now, OUTSIDE_HITS, OUTSIDE_WINDOW) {
            audit_import(
                ctx,
                actor,
                total,
                0,
                0,
                0,
                Some("held off: too many numbers registered elsewhere"),
            )
            .await?;
            return Err(AppError::TooManyAttempts(wait));
        }
    }
    let (ok, errors, outside) =
        check_rows(ctx, scope_path, &rows, |i| upd(&|r| r.progress = i)).await?;
    if actor.id.is_some() {
        for _ in 0..outside.min(OUTSIDE_HITS as usize) {
            ctx.limits.fail(&key, now, OUTSIDE_HITS, OUTSIDE_WINDOW);
        }
    }
    // the checked members are what is written; the file's rows are not needed again
    drop(rows);
    let (errors, error_count) = kept(errors);
    let mut report = ImportReport {
        total_rows: total,
        valid_rows: ok.len(),
        errors,
        error_count,
        ..Default::default()
    };
    if total == 0 {
        report.failed = Some("文件中没有数据行".into());
    } else if report.errors.is_empty() || mode == ImportMode::ValidOnly {
        upd(&|r| {
            r.phase = PHASES[2].into();
            r.progress = 0;
        });
        let mut tx = ctx.db.begin().await?;
        for (k, chunk) in ok.chunks(store::INSERT_BATCH).enumerate() {
            let rows: Vec<_> = chunk
                .iter()
                .map(|(_, org_id, m)| (*org_id, None, m))
                .collect();
            store::insert_new_many(ctx, &mut tx, actor, &rows).await?;
            let done = k * store::INSERT_BATCH;
            if done % 1000 < store::INSERT_BATCH {
                upd(&|r| r.progress = done);
            }
        }
        tx.commit().await?;
        report.written = ok.len();
    } else {
        report.failed = Some(format!(
            "有{}处错误，未导入任何数据；请修改后重新导入，或选择“仅导入无误的行”",
            report.error_count
        ));
    }
    report.done = true;
    report.phase = PHASES[3].into();
    report.progress = total;
    audit_import(
        ctx,
        actor,
        total,
        report.valid_rows,
        report.written,
        report.error_count,
        report.failed.as_deref(),
    )
    .await?;
    Ok(report)
}

/// Rows naming an ID number registered outside the caller's subtree, per account and window,
/// before further imports are held off.
pub const OUTSIDE_HITS: u32 = 20;
pub const OUTSIDE_WINDOW: i64 = 3600;

/// Every import attempt is on the record: refused files, refused imports, written ones.
pub async fn audit_import(
    ctx: &Ctx,
    actor: &Actor,
    rows: usize,
    valid: usize,
    written: usize,
    errors: usize,
    failed: Option<&str>,
) -> AppResult<()> {
    crate::audit::record(
        &ctx.db,
        actor,
        crate::audit::NewEntry {
            action: "member.import",
            object_type: "member_list",
            object_id: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"rows": rows, "valid": valid, "written": written, "errors": errors, "failed": failed}),
        },
    )
    .await?;
    Ok(())
}

fn export_row(m: &Member) -> [String; 13] {
    [
        m.name.clone(),
        m.gender_label().to_string(),
        m.ethnicity.clone(),
        m.id_number.clone(),
        m.phone.clone().unwrap_or_default(),
        m.education.clone(),
        m.work_unit.clone(),
        m.org_name.clone(),
        m.join_date.to_string(),
        m.full_date.map(|d| d.to_string()).unwrap_or_default(),
        m.status_label().to_string(),
        m.grid_role_label().to_string(),
        m.mobile_destination.clone().unwrap_or_default(),
    ]
}

/// Exports exactly the filtered list (numbers masked) as CSV with a BOM for Excel.
pub async fn export_csv(
    ctx: &Ctx,
    f: &MemberFilter,
    scope_path: &str,
) -> AppResult<(Vec<u8>, i64)> {
    let mut w = crate::csvsafe::Writer::new();
    w.row(HEADERS)?;
    let n = store::for_each_filtered(ctx, f, scope_path, |m| w.row(export_row(&m))).await?;
    Ok((w.finish()?, n))
}

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> AppError {
    AppError::Internal(format!("xlsx: {e}"))
}

/// Exports exactly the filtered list (numbers masked) as xlsx.
pub async fn export_xlsx(
    ctx: &Ctx,
    f: &MemberFilter,
    scope_path: &str,
) -> AppResult<(Vec<u8>, i64)> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("党员名册").map_err(xlsx_err)?;
    let bold = Format::new().set_bold();
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(xlsx_err)?;
    }
    let mut r = 1u32;
    let n = store::for_each_filtered(ctx, f, scope_path, |m| {
        for (c, v) in export_row(&m).iter().enumerate() {
            ws.write_string(r, c as u16, v).map_err(xlsx_err)?;
        }
        r += 1;
        Ok(())
    })
    .await?;
    ws.set_column_width(3, 22).map_err(xlsx_err)?;
    ws.set_column_width(7, 28).map_err(xlsx_err)?;
    let bytes = wb.save_to_buffer().map_err(xlsx_err)?;
    Ok((bytes, n))
}

/// The empty template with one example row.
pub fn template_xlsx() -> AppResult<Vec<u8>> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("党员名册").map_err(xlsx_err)?;
    let bold = Format::new().set_bold();
    let text = Format::new().set_num_format("@");
    for (c, h) in HEADERS.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)
            .map_err(xlsx_err)?;
        ws.set_column_format(c as u16, &text).map_err(xlsx_err)?;
    }
    let example = [
        "张三",
        "男",
        "汉族",
        "11010519491231002X",
        "13800000000",
        "大学本科",
        "某某村",
        "第一党支部",
        "2015-07-01",
        "2016-07-01",
        "正式党员",
        "居民党员",
        "",
    ];
    for (c, v) in example.iter().enumerate() {
        ws.write_string(1, c as u16, *v).map_err(xlsx_err)?;
    }
    ws.set_column_width(3, 22).map_err(xlsx_err)?;
    ws.set_column_width(7, 28).map_err(xlsx_err)?;
    wb.save_to_buffer().map_err(xlsx_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_many_spellings() {
        let d = NaiveDate::from_ymd_opt(2020, 7, 1);
        for s in [
            "2020-07-01",
            "2020/07/01",
            "2020.7.1",
            "20200701",
            "2020年7月1日",
            "2020-07-01 00:00:00",
        ] {
            assert_eq!(parse_date(s), d, "{s}");
        }
        assert_eq!(parse_date("2020-13-01"), None);
        assert_eq!(excel_serial_to_date(44013.0), d);
    }

    #[test]
    fn csv_headers_are_checked() {
        assert!(read_csv("姓名,性别\n张三,男\n".as_bytes()).is_err());
        let ok = "\u{feff}姓名,身份证号码,所在党支部,入党日期,党员状态\n张三,1,一支部,2020-01-01,正式党员\n,,,,\n";
        let rows = read_csv(ok.as_bytes()).expect("csv");
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0]["所在党支部"], "一支部");
        assert!(read_csv(&[0xff, 0xfe, 0x00]).is_err());
    }

    #[test]
    fn template_round_trips_through_the_reader() {
        let bytes = template_xlsx().expect("template");
        let rows = read_xlsx(&bytes).expect("read");
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0]["身份证号码"], "11010519491231002X");
        assert_eq!(&rows[0]["入党日期"], "2015-07-01");
    }

    #[test]
    fn a_sheet_is_read_by_its_cells_wherever_it_starts() {
        // header on the third row from column B, a gap in a data row, an empty row, a number
        // and a date typed as such, a header-only sheet and an empty one
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        let head = ["姓名", "身份证号码", "所在党支部", "入党日期", "党员状态"];
        for (c, h) in head.iter().enumerate() {
            ws.write_string(2, 1 + c as u16, *h).expect("head");
        }
        ws.write_string(3, 1, "张三").expect("cell");
        ws.write_number(3, 2, 110105.0).expect("cell");
        ws.write_string(3, 3, "一支部").expect("cell");
        ws.write_number(3, 4, 44013.0).expect("cell");
        ws.write_string(3, 5, "正式党员").expect("cell");
        ws.write_string(5, 1, "李四").expect("cell");
        ws.write_string(5, 5, "预备党员").expect("cell");
        ws.write_string(5, 9, "不属于任何列").expect("cell");
        let rows = read_xlsx(&wb.save_to_buffer().expect("save")).expect("read");
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(&rows[0]["姓名"], "张三");
        assert_eq!(&rows[0]["身份证号码"], "110105");
        assert_eq!(&rows[0]["入党日期"], "2020-07-01");
        assert_eq!(&rows[1]["姓名"], "李四");
        assert_eq!(&rows[1]["党员状态"], "预备党员");
        assert!(!rows[1].contains_key("所在党支部"));

        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for (c, h) in head.iter().enumerate() {
            ws.write_string(0, c as u16, *h).expect("head");
        }
        assert_eq!(
            read_xlsx(&wb.save_to_buffer().expect("save"))
                .expect("read")
                .len(),
            0
        );
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet().write_string(0, 0, "姓名").expect("head");
        assert!(
            read_xlsx(&wb.save_to_buffer().expect("save")).is_err(),
            "required columns missing"
        );
        let mut wb = rust_xlsxwriter::Workbook::new();
        wb.add_worksheet();
        assert_eq!(
            read_xlsx(&wb.save_to_buffer().expect("save")),
            Err("文件为空".to_string())
        );
    }

    /// Fuzz targets for the importer: any bytes as CSV or xlsx, damaged copies of a real
    /// workbook, any text as a date, any number as an Excel serial date — an answer, never a
    /// panic.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn workbook() -> Vec<u8> {
            template_xlsx().expect("template")
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(3_000))]

            #[test]
            fn csv_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                text in "(\\PC{0,12}[,\\n\"]){0,40}") {
                let _ = read_csv(&bytes);
                let with_header = format!("姓名,身份证号码,所在党支部,入党日期,转正日期,党员状态\n{text}");
                if let Ok(rows) = read_csv(with_header.as_bytes()) {
                    prop_assert!(rows.iter().all(|r| !r.is_blank()));
                }
            }

            #[test]
            fn xlsx_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..4096),
                                 flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
                                 cut in any::<proptest::sample::Index>()) {
                let _ = read_xlsx(&bytes);
                let mut damaged = workbook();
                for (at, x) in &flips {
                    let i = at.index(damaged.len());
                    damaged[i] ^= x | 1;
                }
                let _ = read_xlsx(&damaged);
                let whole = workbook();
                let _ = read_xlsx(&whole[..cut.index(whole.len())]);
            }

            #[test]
            fn dates_never_panic(s in "\\PC{0,20}", f in any::<f64>()) {
                let _ = parse_date(&s);
                let _ = excel_serial_to_date(f);
            }
        }
    }
}
