//! CSV as RFC 4180 has it (fields separated by commas, lines by CRLF, a field holding a
//! comma, quote, CR or LF quoted with its quotes doubled), with every cell made safe to open
//! in a spreadsheet: one that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
//! would be read as a formula, so it gets a leading `'` (OWASP's advice for CSV injection).

use std::borrow::Cow;

/// A cell a spreadsheet shows as text, never runs as a formula.
pub fn csv_cell(value: &str) -> Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{value}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// One record: its cells made safe, quoted where RFC 4180 needs it, and a CRLF.
pub fn csv_record<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let cell = csv_cell(cell);
        if cell.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&cell);
        }
    }
    line.push_str("\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_cells_stay_as_they_are() {
        assert_eq!(
            csv_record(["Acme LLC", "bob@client.test", "2027-03-31"]),
            "Acme LLC,bob@client.test,2027-03-31\r\n"
        );
        assert_eq!(csv_record(["", "x"]), ",x\r\n");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_with_quotes_doubled() {
        assert_eq!(csv_record([r#"Booker, "Bob""#, "a\nb", "c\rd"]), "\"Booker, \"\"Bob\"\"\",\"a\nb\",\"c\rd\"\r\n");
    }

    #[test]
    fn formula_starts_are_escaped_and_the_rest_is_not() {
        for (input, safe) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2", "'-2"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("a=b", "a=b"),
            ("Ada", "Ada"),
        ] {
            assert_eq!(csv_cell(input), safe, "{input:?}");
        }
        // Escaped, then quoted when the cell also holds a quote or a comma.
        assert_eq!(csv_record(["=1+2,3"]), "\"'=1+2,3\"\r\n");
        assert_eq!(csv_record(["=HYPERLINK(\"x\")"]), "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
    }
}
