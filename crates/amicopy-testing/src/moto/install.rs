//! Finding `moto_server`, and installing it when it is nowhere, so that `cargo test` needs no
//! set-up beyond PostgreSQL and Python.
//!
//! The binary is looked for in this order: `$MOTO_SERVER`, `moto_server` on `PATH`, then the
//! tools venv CI uses (`$AMICOPY_TOOLS_DIR/venv/bin`, default `~/.cache/amicopy-tools`). When it
//! is in none of them, moto is installed into that venv (`python3 -m venv`, then pip with
//! [`REQUIREMENT`], the spec `.ci/run` installs) under an exclusive lock on a file beside the
//! venv, so the test threads and test binaries that start together install it once.

use std::{
    ffi::OsString,
    fs::File,
    io::Write as _,
    path::{Path, PathBuf},
    process::Command,
};

/// What pip installs: the same spec as `.ci/run` (keep the two in step).
pub const REQUIREMENT: &str = "moto[server]>=5.1,<6";

/// Where `moto_server` may be, read from the environment once.
#[derive(Debug, Clone)]
pub struct Places {
    /// `$MOTO_SERVER`: the binary, named directly.
    pub named: Option<PathBuf>,
    /// `$PATH`.
    pub path: Option<OsString>,
    /// The tools directory whose `venv` CI installs moto into.
    pub tools_dir: Option<PathBuf>,
}

impl Places {
    /// The places this process's environment names.
    pub fn from_env() -> Self {
        let tools_dir = std::env::var_os("AMICOPY_TOOLS_DIR")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/amicopy-tools")));
        Self {
            named: std::env::var_os("MOTO_SERVER").map(PathBuf::from),
            path: std::env::var_os("PATH"),
            tools_dir,
        }
    }

    /// The venv moto is installed into, when there is a tools directory.
    pub fn venv(&self) -> Option<PathBuf> {
        self.tools_dir.as_ref().map(|dir| dir.join("venv"))
    }

    /// The first existing `moto_server`, in the order the module doc gives.
    pub fn find(&self) -> Option<PathBuf> {
        let on_path = self
            .path
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("moto_server"));
        let in_venv = self.venv().map(|venv| venv.join("bin/moto_server"));
        self.named
            .clone()
            .into_iter()
            .chain(on_path)
            .chain(in_venv)
            .find(|path| path.is_file())
    }
}

/// `moto_server` from [`Places::find`], installing it into the tools venv first when it is in
/// none of them. Blocks (on the lock and on pip): call it off the async runtime's threads. The
/// error says what failed and the commands that install moto by hand.
pub fn find_or_install(places: &Places) -> Result<PathBuf, String> {
    if let Some(found) = places.find() {
        return Ok(found);
    }
    let venv = places
        .venv()
        .ok_or_else(|| failed(None, "neither AMICOPY_TOOLS_DIR nor HOME is set"))?;
    let binary = venv.join("bin/moto_server");
    let tools_dir = venv.parent().unwrap_or(&venv);
    std::fs::create_dir_all(tools_dir)
        .map_err(|e| failed(Some(&venv), &format!("cannot create {}: {e}", tools_dir.display())))?;
    let lock_path = tools_dir.join("moto-install.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| failed(Some(&venv), &format!("cannot open {}: {e}", lock_path.display())))?;
    // Held until `lock` is dropped (or the process ends): whoever waited here finds moto
    // installed by the one that held it.
    lock.lock()
        .map_err(|e| failed(Some(&venv), &format!("cannot lock {}: {e}", lock_path.display())))?;
    if !binary.is_file() {
        install(&venv).map_err(|what| failed(Some(&venv), &what))?;
    }
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(failed(
            Some(&venv),
            &format!("pip finished but {} is missing", binary.display()),
        ))
    }
}

/// Creates the venv when it has no pip, then pip-installs [`REQUIREMENT`] into it.
fn install(venv: &Path) -> Result<(), String> {
    // Straight to stderr, past the test harness's capture: whoever waits half a minute for the
    // first moto test should see why.
    let _ = writeln!(
        std::io::stderr(),
        "moto_server not found: installing {REQUIREMENT} into {} (once)",
        venv.display()
    );
    let pip = venv.join("bin/pip");
    if !pip.is_file() {
        run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    }
    run(Command::new(&pip).args(["install", "--quiet", "--disable-pip-version-check", REQUIREMENT]))
}

/// Runs `command` to its end; an error names it and carries the end of what it printed.
fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let output = command.output().map_err(|e| format!("cannot run {shown}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let printed = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = printed.lines().collect();
    let tail = lines[lines.len().saturating_sub(10)..].join("\n");
    Err(format!("{shown} failed ({}): {tail}", output.status))
}

/// The message for a moto that is neither found nor installed: what went wrong, how to install
/// it by hand, and how to skip the tests that need it.
fn failed(venv: Option<&Path>, what: &str) -> String {
    let venv = venv.map_or_else(|| "~/.cache/amicopy-tools/venv".to_owned(), |v| v.display().to_string());
    format!(
        "moto_server was not found (MOTO_SERVER, PATH, {venv}/bin) and could not be installed: {what}; \
         install it by hand with `python3 -m venv {venv} && {venv}/bin/pip install '{REQUIREMENT}'`, \
         or name it in MOTO_SERVER; set AMICOPY_SKIP_MOTO_TESTS=1 to skip these tests"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) -> PathBuf {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
        path.to_owned()
    }

    fn places(named: Option<&Path>, path_dirs: &[&Path], tools_dir: Option<&Path>) -> Places {
        Places {
            named: named.map(Path::to_owned),
            path: Some(std::env::join_paths(path_dirs).unwrap()),
            tools_dir: tools_dir.map(Path::to_owned),
        }
    }

    #[test]
    fn moto_server_is_looked_for_in_moto_server_then_path_then_the_tools_venv() {
        let dir = tempfile::tempdir().unwrap();
        let named = touch(&dir.path().join("named/moto_server"));
        let first = dir.path().join("first");
        let second = touch(&dir.path().join("second/moto_server"));
        let tools = dir.path().join("tools");
        let in_venv = touch(&tools.join("venv/bin/moto_server"));

        let all = places(Some(&named), &[&first, second.parent().unwrap()], Some(&tools));
        assert_eq!(all.find(), Some(named));
        let nowhere = dir.path().join("nowhere/moto_server");
        let path_next = places(Some(&nowhere), &[&first, second.parent().unwrap()], Some(&tools));
        assert_eq!(
            path_next.find(),
            Some(second),
            "a MOTO_SERVER that names nothing is passed over"
        );
        let venv_last = places(Some(&nowhere), &[&first], Some(&tools));
        assert_eq!(venv_last.find(), Some(in_venv));
        assert_eq!(places(None, &[&first], Some(&dir.path().join("empty"))).find(), None);
        assert_eq!(places(None, &[], None).find(), None);
    }

    #[test]
    fn a_failed_install_names_the_commands_to_run_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the tools directory should be: nothing can be created under it.
        let tools = touch(&dir.path().join("not-a-directory"));
        let error = find_or_install(&places(None, &[], Some(&tools))).unwrap_err();
        let venv = tools.join("venv").display().to_string();
        assert!(
            error.contains(&format!(
                "python3 -m venv {venv} && {venv}/bin/pip install '{REQUIREMENT}'"
            )),
            "{error}"
        );
        assert!(error.contains("AMICOPY_SKIP_MOTO_TESTS=1"), "{error}");
        assert!(error.contains("cannot create"), "{error}");
    }
}
