//! Captured `console.*` output: bounded in size, and scrubbed of the action's secrets before it
//! leaves the runtime (logs end up in execution records that administrators can read).

/// The line that replaces whatever did not fit in `max_log_bytes`.
pub const TRUNCATED_MARKER: &str = "… (log truncated)";
/// What a secret value is replaced with.
pub const REDACTED: &str = "[redacted]";
/// Shorter secrets are not redacted: replacing every "ab" would wreck the logs and hide nothing.
const MIN_REDACTED_LEN: usize = 4;

/// One line per `console.*` call, capped at a total number of bytes.
#[derive(Debug)]
pub struct LogBuffer {
    lines: Vec<String>,
    bytes: usize,
    max_bytes: usize,
    truncated: bool,
}

impl LogBuffer {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            lines: Vec::new(),
            bytes: 0,
            max_bytes,
            truncated: false,
        }
    }

    /// Keeps `line` if it fits; the first line that does not is cut at the limit and followed
    /// by [`TRUNCATED_MARKER`], and everything after it is dropped.
    pub fn push(&mut self, line: String) {
        if self.truncated {
            return;
        }
        let room = self.max_bytes.saturating_sub(self.bytes);
        if line.len() <= room {
            self.bytes += line.len();
            self.lines.push(line);
            return;
        }
        let mut cut = room;
        while cut > 0 && !line.is_char_boundary(cut) {
            cut -= 1;
        }
        if cut > 0 {
            self.lines.push(line[..cut].to_owned());
        }
        self.bytes = self.max_bytes;
        self.lines.push(TRUNCATED_MARKER.to_owned());
        self.truncated = true;
    }

    /// The lines, with `secrets` redacted.
    pub fn finish(self, secrets: &[&str]) -> Vec<String> {
        self.lines
            .into_iter()
            .map(|line| redact(&line, secrets))
            .collect()
    }
}

/// Replaces every occurrence of each secret value (longest first, so a secret that contains
/// another is replaced whole) with [`REDACTED`].
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut secrets: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| s.len() >= MIN_REDACTED_LEN)
        .collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in secrets {
        if out.contains(secret) {
            out = out.replace(secret, REDACTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_once_with_a_marker() {
        let mut logs = LogBuffer::new(10);
        logs.push("12345".into());
        logs.push("abcdefgh".into());
        logs.push("more".into());
        assert_eq!(logs.finish(&[]), vec!["12345", "abcde", TRUNCATED_MARKER]);
    }

    #[test]
    fn cuts_on_a_char_boundary() {
        let mut logs = LogBuffer::new(3);
        logs.push("aéé".into());
        assert_eq!(logs.finish(&[]), vec!["aé", TRUNCATED_MARKER]);
    }

    #[test]
    fn redacts_long_secrets_only() {
        assert_eq!(
            redact("key=hunter22 pin=ab", &["hunter22", "ab", "hunter"]),
            "key=[redacted] pin=ab"
        );
    }
}
