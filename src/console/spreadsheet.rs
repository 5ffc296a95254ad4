//! CSV cells a spreadsheet opens safely: one it would run as a formula (`=`, `+`, `-`, `@`, a
//! tab or a carriage return first) is exported with a leading `'`, which an import takes off
//! again. Every CSV the console writes goes through [`safe`].

/// Whether a spreadsheet would read a cell starting with `c` as a formula.
fn starts_formula(c: char) -> bool {
    matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// A cell as exported: one a spreadsheet would run as a formula gets a leading `'`.
pub fn safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if starts_formula(c) => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// A cell as imported: the `'` that [`safe`] added comes off again.
pub fn from_safe(cell: &str) -> &str {
    cell.strip_prefix('\'').filter(|rest| rest.starts_with(starts_formula)).unwrap_or(cell)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_formula_cell_is_quoted_on_export_and_unquoted_on_import() {
        for cell in ["=HYPERLINK(\"x\")", "+1", "-1", "@SUM(A1)", "\tx"] {
            assert_eq!(safe(cell), format!("'{cell}"));
            assert_eq!(from_safe(&safe(cell)), cell);
        }
        assert_eq!(safe("resident#3"), "resident#3");
        assert_eq!(from_safe("'quoted by the user"), "'quoted by the user");
    }
}
