//! One process per SQLite database: an exclusive OS file lock (`flock`) beside the database file,
//! taken at start-up and held until the process ends.
//!
//! Two `amicopyd` on one SQLite file would run two engines and two simulators, and their watchers
//! would miss each other's events (SQLite has no change feed between processes). The lock makes
//! the second one refuse to start. Because the kernel drops the lock with the process's last file
//! descriptor, a `kill -9` or a crash releases it: a restart is never blocked by a stale lock.
//! The holder writes its pid into the file so the refusal can name it.

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

/// The lock file's name inside `--data-dir`.
pub const LOCK_FILE: &str = "amicopy.lock";

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds it.
    #[error(
        "{database} is in use by another amicopyd (pid {holder}, holding {lock}); stop that process or give this one another --data-dir"
    )]
    Held {
        /// The data directory or SQLite file the lock guards.
        database: String,
        /// The lock file.
        lock: String,
        /// The holder's pid as it wrote it, or `unknown` when it has not written it yet.
        holder: String,
    },
    /// The lock file could not be created, read or written.
    #[error("cannot lock {lock}: {source}")]
    Io {
        /// The lock file.
        lock: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// An exclusive lock on a SQLite database, held while this value lives.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Locks the data directory `dir` (creating it and its lock file if needed).
    pub fn data_dir(dir: &Path) -> Result<Self, LockError> {
        std::fs::create_dir_all(dir).map_err(|source| LockError::Io {
            lock: dir.display().to_string(),
            source,
        })?;
        Self::acquire(&dir.join(LOCK_FILE), &dir.display().to_string())
    }

    /// Locks the SQLite file `database`, through `<database>.lock` beside it.
    pub fn sqlite_file(database: &Path) -> Result<Self, LockError> {
        let mut lock = database.as_os_str().to_owned();
        lock.push(".lock");
        Self::acquire(Path::new(&lock), &database.display().to_string())
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn acquire(path: &Path, database: &str) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            lock: path.display().to_string(),
            source,
        };
        // Not truncated on open: the holder's pid must stay readable for the process refused.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Held {
                    database: database.to_owned(),
                    lock: path.display().to_string(),
                    holder: holder_pid(&mut file),
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_data().map_err(io)?;
        Ok(Self {
            _file: file,
            path: path.to_owned(),
        })
    }
}

/// The pid the holder wrote, or `unknown` (it may hold the lock and not have written it yet).
fn holder_pid(file: &mut File) -> String {
    let mut text = String::new();
    match file.read_to_string(&mut text) {
        Ok(_) => match text.trim().parse::<u32>() {
            Ok(pid) => pid.to_string(),
            Err(_) => "unknown".to_owned(),
        },
        Err(_) => "unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_a_held_data_dir_names_the_directory_and_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let held = DataDirLock::data_dir(dir.path()).unwrap();
        let error = DataDirLock::data_dir(dir.path()).unwrap_err().to_string();
        assert!(error.contains(&dir.path().display().to_string()), "{error}");
        assert!(error.contains(&format!("pid {}", std::process::id())), "{error}");
        assert!(!error.contains('\n'), "one line: {error}");
        drop(held);
        DataDirLock::data_dir(dir.path()).expect("free again once the holder is gone");
    }

    #[test]
    fn a_sqlite_file_is_locked_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("jobs.db");
        let held = DataDirLock::sqlite_file(&database).unwrap();
        assert_eq!(held.path(), dir.path().join("jobs.db.lock"));
        assert!(matches!(
            DataDirLock::sqlite_file(&database),
            Err(LockError::Held { .. })
        ));
    }

    #[test]
    fn a_holder_that_wrote_nothing_is_reported_as_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(LOCK_FILE);
        let file = File::create(&path).unwrap();
        file.try_lock().unwrap();
        let Err(LockError::Held { holder, .. }) = DataDirLock::data_dir(dir.path()) else {
            panic!("the lock is held");
        };
        assert_eq!(holder, "unknown");
    }
}
