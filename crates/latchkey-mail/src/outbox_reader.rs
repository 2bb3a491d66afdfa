//! Reading the development outbox back: the newest `.eml` addressed to someone, and the link
//! in it. Without SMTP settings mail lands in `DATA/outbox/` as the wire bytes lettre wrote, so
//! its text part is usually quoted-printable (a long link is folded with `=` line ends) and a
//! plain `grep` finds nothing. `latchkey outbox last-link` uses this.

use base64::Engine as _;
use std::path::Path;

/// The newest message in `dir` addressed to `to` (compared without case), as its plain text.
/// Files are named `<epoch millis>-<id>.eml`, so name order is delivery order.
pub fn newest_text_to(dir: &Path, to: &str) -> std::io::Result<Option<String>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    for path in files.iter().rev() {
        let raw = std::fs::read_to_string(path)?;
        let (headers, _) = split_head(&raw);
        let addressed = header(headers, "to").is_some_and(|v| names(&v, to));
        if addressed {
            return Ok(Some(plain_text(&raw)));
        }
    }
    Ok(None)
}

/// Whether a `To:` value names `address` (`Name <a@b>` or a bare address, comma-separated).
fn names(value: &str, address: &str) -> bool {
    value.split(',').any(|one| {
        let one = one.trim();
        let bare = match (one.rfind('<'), one.rfind('>')) {
            (Some(l), Some(r)) if l < r => &one[l + 1..r],
            _ => one,
        };
        bare.trim().eq_ignore_ascii_case(address.trim())
    })
}

/// The first `http(s)://` link in `text` that leads to one of Latchkey's hosted pages
/// (`/lo/…`, `/u/…`), else the first link at all.
pub fn first_link(text: &str) -> Option<String> {
    let links: Vec<String> = text
        .match_indices("http")
        .filter(|(i, _)| text[*i..].starts_with("http://") || text[*i..].starts_with("https://"))
        .map(|(i, _)| {
            text[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '<' | '>' | ')' | ']'))
                .collect::<String>()
        })
        .collect();
    links
        .iter()
        .find(|l| l.contains("/lo/") || l.contains("/u/"))
        .or(links.first())
        .cloned()
}

/// Headers (unfolded) and body of a message or MIME part.
fn split_head(raw: &str) -> (&str, &str) {
    raw.split_once("\r\n\r\n")
        .or_else(|| raw.split_once("\n\n"))
        .unwrap_or((raw, ""))
}

fn header(headers: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in headers.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((n, v)) = line.split_once(':')
            && n.trim().eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_owned());
        }
    }
    value
}

/// The `text/plain` part of a message (or the whole body of a single-part one), decoded.
fn plain_text(raw: &str) -> String {
    let (headers, body) = split_head(raw);
    let content_type = header(headers, "content-type").unwrap_or_default();
    let boundary = content_type.split(';').find_map(|p| {
        p.trim()
            .strip_prefix("boundary=")
            .map(|b| b.trim_matches('"').to_owned())
    });
    match boundary {
        Some(b) => body
            .split(&format!("--{b}"))
            .map(|part| part.trim_start_matches(['\r', '\n']))
            .map(split_head)
            .find(|(h, _)| {
                header(h, "content-type")
                    .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/plain"))
            })
            .map(|(h, b)| decode(&header(h, "content-transfer-encoding"), b))
            .unwrap_or_default(),
        None => decode(&header(headers, "content-transfer-encoding"), body),
    }
}

fn decode(encoding: &Option<String>, body: &str) -> String {
    match encoding.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("quoted-printable") => quoted_printable(body),
        Some("base64") => {
            let compact: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        }
        _ => body.to_owned(),
    }
}

/// RFC 2045 §6.7: `=XX` is a byte, `=` at a line's end joins it to the next.
fn quoted_printable(body: &str) -> String {
    let mut bytes = Vec::with_capacity(body.len());
    let src = body.as_bytes();
    let mut i = 0;
    while i < src.len() {
        if src[i] == b'=' {
            let rest = &src[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if rest.starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = rest
                .get(..2)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                bytes.push(b);
                i += 3;
                continue;
            }
        }
        bytes.push(src[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folded_quoted_printable_link_is_found_whole() {
        let raw = "To: jane@example.com\r\nContent-Type: multipart/alternative;\r\n boundary=\"XyZ\"\r\n\r\n--XyZ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nOpen https://id.example.com/lo/reset?ticket=3Dabc=\r\ndef# to reset.\r\n--XyZ\r\nContent-Type: text/html\r\n\r\n<a href=\"https://x/\">x</a>\r\n--XyZ--\r\n";
        let text = plain_text(raw);
        assert_eq!(
            first_link(&text).as_deref(),
            Some("https://id.example.com/lo/reset?ticket=abcdef#")
        );
    }

    #[test]
    fn only_the_exact_address_counts() {
        assert!(names("Jane <Jane@Example.com>", "jane@example.com"));
        assert!(names("x@y.z, jane@example.com", "jane@example.com"));
        assert!(!names("otherjane@example.com", "jane@example.com"));
    }

    #[test]
    fn base64_and_plain_bodies_decode() {
        let raw = "To: a@b.c\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\naHR0cDovL2gvbG8vdW5ibG9jaz90PTE=\n";
        assert_eq!(
            first_link(&plain_text(raw)).as_deref(),
            Some("http://h/lo/unblock?t=1")
        );
        let raw = "To: a@b.c\nContent-Type: text/plain\n\nsee http://h/x and http://h/u/login\n";
        assert_eq!(
            first_link(&plain_text(raw)).as_deref(),
            Some("http://h/u/login")
        );
    }
}
