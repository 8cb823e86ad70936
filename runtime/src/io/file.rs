//! Atomic file writes and whole-file reads, with errors that name the file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::string::ToString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::vec::Vec;

use super::error::{WeightsError, WeightsErrorKind};
use crate::Result;

fn io_error(path: &Path, expected: &str, e: &io::Error) -> crate::Error {
    WeightsError::whole(WeightsErrorKind::Io, expected, e.to_string())
        .in_file(path.display())
        .into()
}

/// The whole file at `path`.
///
/// # Errors
/// [`crate::Error::Weights`] naming the file.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| io_error(path, "a readable file", &e))
}

/// Writes `bytes` to `path` atomically: see [`write_atomic_with`].
///
/// # Errors
/// [`crate::Error::Weights`] naming the file; the previous file at `path` is intact.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |file| file.write_all(bytes))
}

/// Writes a file atomically: `write` fills a new temporary file in `path`'s directory, which is
/// then flushed, synced to disk and renamed over `path` (the directory is synced too, where the
/// platform allows). If any step fails, the temporary file is removed and `path` keeps its
/// previous content: readers see the old file or the new one, never a mix.
///
/// # Errors
/// [`crate::Error::Weights`] naming the file, with the operating system's message.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<()> {
    let temp = temp_path(path);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| io_error(path, "a writable directory", &e))?;
    let written = write(&mut file)
        .and_then(|()| file.flush())
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written.and_then(|()| fs::rename(&temp, path)) {
        let _ = fs::remove_file(&temp);
        return Err(io_error(path, "the whole file written", &e));
    }
    if let Some(dir) = path.parent() {
        // Makes the rename durable on Unix; directories cannot be opened this way everywhere.
        if let Ok(dir) = File::open(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        }) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// `dir/.name.tmp-PID-N`: in the same directory (so the rename stays on one file system),
/// hidden, and unique among this process's concurrent saves.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "weights".to_string());
    path.with_file_name(std::format!(".{name}.tmp-{}-{n}", std::process::id()))
}
