//! `latchkey users import FILE`: a bulk-import file (Auth0's format, a JSON array of users) of
//! any size, streamed. A reader thread parses the array element by element from any
//! `impl Read`, reads each batch of `IMPORT_BATCH` users against the schema (the service's
//! `BatchReader`, the API job's reading and report) and hands it over a bounded channel; this
//! task writes each batch through the service (`Migration::write_streamed_batch`, one
//! transaction per batch), so memory holds a couple of batches whatever the file's size and
//! the CPU work of the next batch overlaps the store's writing of this one. The job is a row like the API's
//! (`GET /api/v2/jobs/{id}`), without the file. On a terminal, stderr shows the progress:
//! users done, users/s, and the percentage and time left from the bytes read.

use anyhow::Context;
use latchkey_core::services::{IMPORT_BATCH, PreparedBatch, Services};
use serde::Serializer;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde_json::Value;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to import and how.
pub struct ImportOptions {
    /// The database connection's name.
    pub connection: String,
    pub upsert: bool,
}

/// How an import ended: the job as it ended, and where its refused users were written.
pub struct ImportOutcome {
    pub job: latchkey_core::store::JobRecord,
    pub errors_file: Option<std::path::PathBuf>,
    /// The file could not be read to its end (the users before the fault are written).
    pub fault: Option<String>,
}

/// One message from the reader thread.
enum Chunk<B> {
    /// The next users, read (`B`), and the bytes read so far.
    Users(B, u64),
    /// The array ended: the file's user count.
    End(u64),
    /// The file is not (or stops being) a JSON array.
    Fault(String),
}

/// Counts the bytes taken from the file (below the buffer), for the progress line.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Walks the top-level array, sending each full batch as it is read (through `prepare`);
/// answers the user count.
struct Batches<'a, B, P> {
    tx: &'a tokio::sync::mpsc::Sender<Chunk<B>>,
    read: &'a AtomicU64,
    prepare: P,
}

impl<'de, B, P: Fn(Vec<Value>) -> B> DeserializeSeed<'de> for Batches<'_, B, P> {
    type Value = u64;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, B, P: Fn(Vec<Value>) -> B> Visitor<'de> for Batches<'_, B, P> {
    type Value = u64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array of users")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
        let mut count = 0u64;
        let mut batch = Vec::with_capacity(IMPORT_BATCH);
        loop {
            match seq.next_element::<Value>() {
                Ok(Some(user)) => {
                    count += 1;
                    batch.push(user);
                    if batch.len() == IMPORT_BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(IMPORT_BATCH));
                        if self
                            .tx
                            .blocking_send(Chunk::Users(
                                (self.prepare)(full),
                                self.read.load(Ordering::Relaxed),
                            ))
                            .is_err()
                        {
                            return Err(serde::de::Error::custom("the import stopped"));
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The users before the fault are whole: they are written, then the job
                    // fails with the fault.
                    let _ = self.tx.blocking_send(Chunk::Users(
                        (self.prepare)(batch),
                        self.read.load(Ordering::Relaxed),
                    ));
                    return Err(e);
                }
            }
        }
        if !batch.is_empty()
            && self
                .tx
                .blocking_send(Chunk::Users(
                    (self.prepare)(batch),
                    self.read.load(Ordering::Relaxed),
                ))
                .is_err()
        {
            return Err(serde::de::Error::custom("the import stopped"));
        }
        Ok(count)
    }
}

/// Parses `reader` on this (blocking) thread, sending batches, read by `prepare`, to `tx`.
fn read_users<B>(
    reader: impl Read,
    read: &AtomicU64,
    tx: &tokio::sync::mpsc::Sender<Chunk<B>>,
    prepare: impl Fn(Vec<Value>) -> B,
) {
    let buffered = std::io::BufReader::with_capacity(256 * 1024, reader);
    let mut de = serde_json::Deserializer::from_reader(buffered);
    let parsed = Batches { tx, read, prepare }
        .deserialize(&mut de)
        .and_then(|count| de.end().map(|()| count));
    let last = match parsed {
        Ok(count) => Chunk::End(count),
        Err(e) => Chunk::Fault(format!("the file is not a JSON array of users: {e}")),
    };
    let _ = tx.blocking_send(last);
}

/// The progress line on a terminal, redrawn at most every 200 ms.
struct Progress {
    on: bool,
    started: Instant,
    shown: Instant,
    size: Option<u64>,
}

impl Progress {
    fn new(size: Option<u64>) -> Self {
        let now = Instant::now();
        Self {
            on: std::io::stderr().is_terminal(),
            started: now,
            shown: now,
            size,
        }
    }

    fn show(&mut self, done: u64, bytes: u64, last: bool) {
        if !self.on || (!last && self.shown.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.shown = Instant::now();
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let mut line = format!("\r{done} users, {rate:.0} users/s");
        if let Some(size) = self.size.filter(|s| *s > 0) {
            let fraction = (bytes as f64 / size as f64).min(1.0);
            line.push_str(&format!(", {:.1}%", fraction * 100.0));
            if fraction > 0.0 {
                let left = secs * (1.0 - fraction) / fraction;
                line.push_str(&format!(
                    ", ETA {}:{:02}",
                    (left as u64) / 60,
                    (left as u64) % 60
                ));
            }
        }
        line.push_str("   ");
        let mut err = std::io::stderr();
        let _ = err.write_all(line.as_bytes());
        if last {
            let _ = err.write_all(b"\n");
        }
        let _ = err.flush();
    }
}

/// Imports the users `reader` yields (`size`: its length in bytes when known, for the
/// progress and the job's estimated total). Refused users go to `errors_path`.
pub async fn import(
    services: &Services,
    reader: impl Read + Send + 'static,
    size: Option<u64>,
    options: &ImportOptions,
    errors_path: &Path,
) -> anyhow::Result<ImportOutcome> {
    let migration = &services.migration;
    let mut run = migration
        .begin_streamed_import(&options.connection, options.upsert)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let read = Arc::new(AtomicU64::new(0));
    // Two batches in flight: the reader parses and reads the next while this task writes one.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk<PreparedBatch>>(2);
    let batch_reader = run.batch_reader();
    let reader = Counting {
        inner: reader,
        read: read.clone(),
    };
    let reader_read = read.clone();
    let parser = std::thread::Builder::new()
        .name("import-reader".into())
        .spawn(move || {
            read_users(reader, &reader_read, &tx, |users| {
                batch_reader.prepare(&users)
            })
        })
        .context("starting the file reader")?;
    let mut progress = Progress::new(size);
    let mut fault = None;
    let mut failure = None;
    while let Some(chunk) = rx.recv().await {
        let done = run.job().position;
        let written = match chunk {
            Chunk::Users(batch, bytes) => {
                let settled = done + batch.len();
                // The total as far as the file's size tells; exact with the last batch.
                let estimate = match size {
                    Some(size) if bytes > 0 => {
                        (u128::from(settled) * u128::from(size) / u128::from(bytes)) as u64
                    }
                    _ => settled,
                };
                let written = migration
                    .write_streamed_batch(&mut run, batch, Some(estimate.max(settled)))
                    .await;
                progress.show(run.job().position, bytes, false);
                written
            }
            Chunk::End(count) => {
                progress.show(count, read.load(Ordering::Relaxed), true);
                migration
                    .write_streamed_batch(&mut run, PreparedBatch::default(), Some(count))
                    .await
            }
            Chunk::Fault(message) => {
                fault = Some(message);
                let position = run.job().position;
                migration
                    .write_streamed_batch(&mut run, PreparedBatch::default(), Some(position))
                    .await
            }
        };
        if let Err(e) = written {
            failure = Some(e);
            break;
        }
    }
    // Dropping the receiver stops the reader at its next batch.
    drop(rx);
    let _ = parser.join();
    if let Some(e) = failure {
        // The job stays where its last batch put it; the error is the store's.
        let _ = migration.end_streamed_import(run, false).await;
        return Err(anyhow::anyhow!("{e}"));
    }
    let job = migration
        .end_streamed_import(run, fault.is_none())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let errors_file = if job.failed > 0 {
        write_errors(services, &job.id, errors_path).await?;
        Some(errors_path.to_owned())
    } else {
        None
    };
    Ok(ImportOutcome {
        job,
        errors_file,
        fault,
    })
}

/// Writes the job's refused users to `path` as one pretty JSON array (the format of
/// `GET /jobs/{id}/errors`), page by page.
async fn write_errors(services: &Services, job_id: &str, path: &Path) -> anyhow::Result<()> {
    const PAGE: u64 = 1000;
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = serde_json::Serializer::pretty(std::io::BufWriter::new(file));
    let mut seq = out.serialize_seq(None)?;
    let mut from = 0u64;
    loop {
        let page = services
            .migration
            .job_errors_page(job_id, from, PAGE)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for f in &page {
            seq.serialize_element(&serde_json::json!({"user": f.user, "errors": f.errors}))?;
        }
        if (page.len() as u64) < PAGE {
            break;
        }
        from += PAGE;
    }
    seq.end()?;
    out.into_inner().flush()?;
    Ok(())
}

/// `latchkey users import FILE`: the import, then the summary on stdout.
pub async fn run(
    services: &Services,
    file: &Path,
    reader: impl Read + Send + 'static,
    options: &ImportOptions,
) -> anyhow::Result<()> {
    let size = std::fs::metadata(file).ok().map(|m| m.len());
    let mut errors_path = file.as_os_str().to_owned();
    errors_path.push(".errors.json");
    let outcome = import(services, reader, size, options, Path::new(&errors_path)).await?;
    let job = &outcome.job;
    println!(
        "{}: {} users: {} inserted, {} updated, {} failed",
        job.id, job.total, job.inserted, job.updated, job.failed
    );
    if let Some(path) = &outcome.errors_file {
        println!("refused users: {}", path.display());
    }
    match outcome.fault {
        Some(fault) => anyhow::bail!(
            "{fault}; the {} users before it were imported or reported (job {} failed)",
            job.total,
            job.id
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &str) -> (Vec<usize>, Option<String>, Option<u64>) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1000);
        let read = AtomicU64::new(0);
        read_users(input.as_bytes(), &read, &tx, |users| users);
        drop(tx);
        let (mut sizes, mut fault, mut end) = (Vec::new(), None, None);
        while let Ok(c) = rx.try_recv() {
            match c {
                Chunk::Users(u, _) => sizes.push(u.len()),
                Chunk::End(n) => end = Some(n),
                Chunk::Fault(f) => fault = Some(f),
            }
        }
        (sizes, fault, end)
    }

    #[test]
    fn an_array_is_handed_over_in_batches() {
        let users: Vec<Value> = (0..1234)
            .map(|i| serde_json::json!({"email": format!("u{i}@example.com")}))
            .collect();
        let (sizes, fault, end) = collect(&Value::Array(users).to_string());
        assert_eq!(sizes, vec![500, 500, 234]);
        assert_eq!((fault, end), (None, Some(1234)));
    }

    #[test]
    fn a_broken_file_is_a_fault_after_the_whole_users_before_it() {
        let (sizes, fault, end) = collect(r#"[{"email": "a@example.com"}, {"email": "#);
        assert_eq!(sizes, vec![1]);
        assert!(fault.is_some_and(|f| f.contains("JSON array")));
        assert_eq!(end, None);
        let (sizes, fault, _) = collect(r#"{"email": "a@example.com"}"#);
        assert!(sizes.is_empty());
        assert!(fault.is_some());
        let (_, fault, _) = collect(r#"[] trailing"#);
        assert!(fault.is_some());
    }
}
