//! The plain-text part of a mail, derived from its HTML: every mail carries both, so text-only
//! clients and spam filters see the same message.

/// Readable text from an HTML mail body: block elements become line breaks, links keep their
/// target (`text (url)`), `<style>`/`<script>`/`<head>` vanish, entities are decoded and runs of
/// blank lines collapse.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut pending_href: Option<String> = None;
    while let Some(lt) = rest.find('<') {
        push_text(&mut out, &rest[..lt]);
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match name.as_str() {
            "style" | "script" | "head" | "title" if !closing => {
                let end = format!("</{name}");
                match rest.to_ascii_lowercase().find(&end) {
                    Some(i) => {
                        rest = &rest[i..];
                        if let Some(g) = rest.find('>') {
                            rest = &rest[g + 1..];
                        }
                    }
                    None => rest = "",
                }
            }
            "br" => out.push('\n'),
            "p" | "div" | "tr" | "table" | "h1" | "h2" | "h3" | "h4" | "li" | "ul" | "ol" => {
                out.push('\n');
                if name == "li" && !closing {
                    out.push_str("- ");
                }
            }
            "a" if !closing => pending_href = attribute(tag, "href"),
            "a" => {
                if let Some(href) = pending_href.take()
                    && !href.starts_with("mailto:")
                    && !out.trim_end().ends_with(&href)
                {
                    out.push_str(&format!(" ({href})"));
                }
            }
            _ => {}
        }
    }
    push_text(&mut out, rest);
    let mut text = String::new();
    let mut blank = 0;
    for line in out.lines().map(str::trim) {
        if line.is_empty() {
            blank += 1;
            if blank > 1 || text.is_empty() {
                continue;
            }
        } else {
            blank = 0;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.trim_end().to_owned() + "\n"
}

fn push_text(out: &mut String, raw: &str) {
    let collapsed = raw.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        if !raw.is_empty() && !out.ends_with([' ', '\n']) {
            out.push(' ');
        }
        return;
    }
    if raw.starts_with(char::is_whitespace) && !out.ends_with([' ', '\n']) {
        out.push(' ');
    }
    out.push_str(&latchkey_core::mail::unescape_html(&collapsed));
    if raw.ends_with(char::is_whitespace) {
        out.push(' ');
    }
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let at = lower.find(&format!("{name}="))? + name.len() + 1;
    let value = &tag[at..];
    let (quote, value) = match value.chars().next()? {
        q @ ('"' | '\'') => (Some(q), &value[1..]),
        _ => (None, value),
    };
    let end = match quote {
        Some(q) => value.find(q)?,
        None => value.find(char::is_whitespace).unwrap_or(value.len()),
    };
    Some(latchkey_core::mail::unescape_html(&value[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_keeps_words_links_and_paragraphs() {
        let html = r#"<html><head><style>p{color:red}</style></head><body><h1>Shop</h1>
<p>Hello Ann &amp; Bob,</p><p>Open <a href="https://id.example/lo/reset?ticket=abc#">Reset password</a></p>
<p>Or paste https://x.example/y</p></body></html>"#;
        let text = html_to_text(html);
        assert_eq!(
            text,
            "Shop\n\nHello Ann & Bob,\n\nOpen Reset password (https://id.example/lo/reset?ticket=abc#)\n\nOr paste https://x.example/y\n"
        );
    }
}
