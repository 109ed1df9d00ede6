//! Output stage: one build at a time per `out/`. Touches only `out/` (created when missing, removed
//! again if still empty on release) and the lock file `out/.hydrate.lock`, which it removes when
//! the lock is released.
//!
//! The lock is an advisory lock on the open file (`flock` on Unix, `LockFileEx` on Windows,
//! through [`std::fs::File::try_lock`]): the kernel releases it when its process ends, however it
//! ends, so a killed build never leaves a stale lock behind. The file holds the holder's PID and
//! command, for the message of a build that waited too long.
//!
//! A second build polls for the lock for [`DEFAULT_WAIT`] (or `HYDRATE_LOCK_TIMEOUT` seconds),
//! then fails (exit 2) naming the holder.
//!
//! Removing the file on release would race with a waiter that already opened it (the waiter
//! would lock a file no longer named `.hydrate.lock` while a third build creates a new one), so a
//! build that gets the lock checks that the path still names the file it locked, and tries again
//! otherwise.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant};

use camino::{Utf8Path, Utf8PathBuf};

use crate::error::OutputError;

/// The lock file's name directly under `out/`: hidden, so `hydrate check` and the leftover
/// cleanup ignore it, and matched by the repository's `.gitignore` (`/out/.*`).
pub const LOCK_FILE: &str = ".hydrate.lock";

/// How long a build waits for another one by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The environment variable that sets the wait, in seconds (`0` fails at once).
pub const WAIT_VAR: &str = "HYDRATE_LOCK_TIMEOUT";

/// How often a waiting build tries again.
const POLL: Duration = Duration::from_millis(50);

/// Proof that this process alone writes `out/`; released (and its file removed) on drop.
#[derive(Debug)]
pub struct OutLock {
    file: File,
    out_root: Utf8PathBuf,
    /// `out/` did not exist: a build that wrote nothing removes it again.
    created_root: bool,
}

impl OutLock {
    /// Takes the lock of `out_root`, creating `out_root` when missing.
    ///
    /// When another process holds it, calls `on_wait` once with the holder (`pid 123: hydrate
    /// build --all`), then tries again every 50 ms until `wait` has passed, and fails with
    /// [`OutputError::Locked`].
    pub fn acquire(
        out_root: &Utf8Path,
        wait: Duration,
        mut on_wait: impl FnMut(&str),
    ) -> Result<OutLock, OutputError> {
        let io = |source| OutputError::Io {
            path: Utf8PathBuf::from("out").join(LOCK_FILE),
            source,
        };
        let path = out_root.join(LOCK_FILE);
        let start = Instant::now();
        let mut told = false;
        let mut created_root = false;
        loop {
            let opened = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path);
            let mut file = match opened {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // No `out/` yet (or its last holder removed it, empty): make it.
                    fs_err::create_dir_all(out_root).map_err(|source| OutputError::Io {
                        path: Utf8PathBuf::from("out"),
                        source,
                    })?;
                    created_root = true;
                    continue;
                }
                other => other.map_err(io)?,
            };
            match file.try_lock() {
                Ok(()) => {
                    if !still_named(&file, &path) {
                        continue; // released and removed by its holder meanwhile: start over
                    }
                    file.set_len(0).map_err(io)?;
                    file.write_all(holder_text().as_bytes()).map_err(io)?;
                    return Ok(OutLock {
                        file,
                        out_root: out_root.to_owned(),
                        created_root,
                    });
                }
                Err(TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    if !told {
                        on_wait(&holder);
                        told = true;
                    }
                    let waited = start.elapsed();
                    if waited >= wait {
                        return Err(OutputError::Locked {
                            lock: Utf8PathBuf::from("out").join(LOCK_FILE),
                            holder,
                            waited: format!("{:.1}", waited.as_secs_f64()),
                        });
                    }
                    drop(file);
                    std::thread::sleep(POLL.min(wait - waited));
                }
                Err(TryLockError::Error(source)) => return Err(io(source)),
            }
        }
    }

    /// The `out/` folder this lock protects.
    pub fn out_root(&self) -> &Utf8Path {
        &self.out_root
    }
}

impl Drop for OutLock {
    /// Removes the file while still holding the lock (and `out/` if this lock created it and it is
    /// still empty, so that a failed first build leaves no trace), then releases the lock.
    fn drop(&mut self) {
        let _ = fs_err::remove_file(self.out_root.join(LOCK_FILE));
        if self.created_root {
            let _ = std::fs::remove_dir(&self.out_root); // fails, as wanted, unless empty
        }
        let _ = self.file.unlock();
    }
}

/// The wait set by `HYDRATE_LOCK_TIMEOUT` (seconds, decimals allowed), or [`DEFAULT_WAIT`].
pub fn wait_from_env() -> Result<Duration, OutputError> {
    let Some(value) = std::env::var_os(WAIT_VAR) else {
        return Ok(DEFAULT_WAIT);
    };
    let value = value.to_string_lossy().into_owned();
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or(OutputError::BadEnv {
            var: WAIT_VAR,
            value,
            expected: "a number of seconds, such as `30` or `0.5`",
        })
}

/// `pid <pid>: <program> <args…>`, the program without its folder (no absolute paths).
fn holder_text() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .map(|p| {
            Utf8Path::new(&p)
                .file_name()
                .map_or_else(|| p.clone(), str::to_owned)
        })
        .unwrap_or_default();
    let mut text = format!("pid {}: {program}", std::process::id());
    for arg in args {
        text.push(' ');
        text.push_str(&arg);
    }
    text.push('\n');
    text
}

/// The holder as written in the file, or a placeholder while it is being written.
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.take(4096).read_to_string(&mut text));
    match (read, text.trim()) {
        (Ok(_), t) if !t.is_empty() => t.to_string(),
        _ => "another process (it has not written its PID yet)".to_string(),
    }
}

/// True when `path` still names the open `file` (same device and inode).
#[cfg(unix)]
fn still_named(file: &File, path: &Utf8Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs_err::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Without inode numbers, trust the open file (Windows refuses to remove an open file anyway).
#[cfg(not(unix))]
fn still_named(_file: &File, path: &Utf8Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_then_names_the_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(tmp.path()).unwrap().join("out");
        let first = OutLock::acquire(&out, Duration::ZERO, |_| {}).unwrap();
        let mut seen = String::new();
        let err = OutLock::acquire(&out, Duration::from_millis(120), |h| seen = h.to_string()).unwrap_err();
        let pid = format!("pid {}:", std::process::id());
        assert!(seen.starts_with(&pid), "{seen}");
        match err {
            OutputError::Locked { holder, lock, .. } => {
                assert!(holder.starts_with(&pid), "{holder}");
                assert_eq!(lock, "out/.hydrate.lock");
            }
            other => panic!("{other:?}"),
        }
        drop(first);
        assert!(!out.join(LOCK_FILE).exists(), "released locks remove their file");
        let again = OutLock::acquire(&out, Duration::ZERO, |_| {}).unwrap();
        assert!(out.join(LOCK_FILE).exists());
        drop(again);
    }

    #[test]
    fn a_waiting_lock_gets_it_when_the_holder_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let out = Utf8Path::from_path(tmp.path()).unwrap().join("out");
        let first = OutLock::acquire(&out, Duration::ZERO, |_| {}).unwrap();
        let waiter = {
            let out = out.clone();
            std::thread::spawn(move || OutLock::acquire(&out, Duration::from_secs(10), |_| {}).map(drop))
        };
        std::thread::sleep(Duration::from_millis(150));
        drop(first);
        waiter.join().unwrap().unwrap();
    }
}
