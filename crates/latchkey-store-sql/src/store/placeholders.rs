//! Placeholders for statements built at run time with many rows (multi-row INSERTs).
//!
//! SQLite gets anonymous `?` placeholders, bound in order; PostgreSQL numbered `$n` ones. For
//! each parameter sqlx asks SQLite its name, and SQLite finds a name by walking the statement's
//! list of names: with numbered placeholders a statement's binding costs the square of its
//! parameter count (a fifth of a bulk import's time at 576 parameters, perf), with anonymous
//! ones the list is empty.
//!
//! PostgreSQL takes fewer rows per statement (`rows_per_statement`): a statement travels as
//! one message, and sqlx does not set TCP_NODELAY, so a message a little longer than one TCP
//! segment (64 KiB on loopback) sends its tail only after the server's delayed
//! acknowledgement, 40 ms later. A bulk import at 128 rows per statement ran at 2,500 users/s
//! with PostgreSQL idle, waiting on the client; at 16, 8,000 in a debug build.

use sqlx::AnyConnection;

/// Rows per multi-row statement on `conn`: `sqlite` there, `postgres` (chosen to keep a
/// typical statement within a few KiB per row times rows, well under 64 KiB) on PostgreSQL.
pub(super) fn rows_per_statement(conn: &AnyConnection, sqlite: usize, postgres: usize) -> usize {
    if is_sqlite(conn) { sqlite } else { postgres }
}

fn is_sqlite(conn: &AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

/// The dialect `conn` speaks.
pub(super) fn dialect_of(conn: &AnyConnection) -> crate::Dialect {
    if is_sqlite(conn) {
        crate::Dialect::Sqlite
    } else {
        crate::Dialect::Postgres
    }
}

/// Hands out the placeholders of one statement, in bind order: bind a value for every
/// placeholder handed out, a value used twice included.
pub(super) struct Placeholders {
    anonymous: bool,
    handed_out: usize,
}

impl Placeholders {
    /// For a statement run on `dialect`.
    pub(super) fn for_dialect(dialect: crate::Dialect) -> Self {
        Self {
            anonymous: dialect == crate::Dialect::Sqlite,
            handed_out: 0,
        }
    }

    /// For a statement run on `conn`.
    pub(super) fn for_connection(conn: &AnyConnection) -> Self {
        Self {
            anonymous: is_sqlite(conn),
            handed_out: 0,
        }
    }

    /// The next placeholder.
    pub(super) fn next(&mut self) -> String {
        self.handed_out += 1;
        if self.anonymous {
            "?".to_owned()
        } else {
            format!("${}", self.handed_out)
        }
    }

    /// `VALUES` rows: `rows` tuples of `columns` placeholders, comma-separated, appended to `sql`.
    pub(super) fn push_rows(&mut self, sql: &mut String, rows: usize, columns: usize) {
        for row in 0..rows {
            if row > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for column in 0..columns {
                if column > 0 {
                    sql.push_str(", ");
                }
                let p = self.next();
                sql.push_str(&p);
            }
            sql.push(')');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Placeholders;

    #[test]
    fn numbered_rows_count_on_across_rows() {
        let mut p = Placeholders {
            anonymous: false,
            handed_out: 0,
        };
        let mut sql = String::new();
        p.push_rows(&mut sql, 2, 3);
        assert_eq!(sql, "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(p.next(), "$7");
    }

    #[test]
    fn anonymous_rows_are_question_marks() {
        let mut p = Placeholders {
            anonymous: true,
            handed_out: 0,
        };
        let mut sql = String::new();
        p.push_rows(&mut sql, 2, 2);
        assert_eq!(sql, "(?, ?), (?, ?)");
    }
}
