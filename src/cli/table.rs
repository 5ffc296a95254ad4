//! Output helpers shared by the verbs: aligned tables for people, JSON for scripts, dates.

use serde::Serialize;

pub(crate) use crate::dates::{format_time, parse_date};

/// Prints rows as a left-aligned table under a header.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    rows.iter().for_each(|r| line(r.clone()));
}

/// Prints a value as one line of JSON.
pub(crate) fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// An optional time as a table cell.
pub(crate) fn cell_time(at: Option<i64>) -> String {
    at.map_or_else(|| "-".into(), |t| format_time(t)[..10].to_owned())
}
