//! Installs a pinned driver into a cache directory on first use, and says how to run its
//! script.
//!
//! - PyMongo ([`PYMONGO_VERSION`]): a virtual environment made with `python3 -m venv`,
//!   then `pip install pymongo==…`.
//! - The Node driver ([`NODE_DRIVER_VERSION`]): `npm install mongodb@…` into its own
//!   prefix, found through `NODE_PATH`.
//!
//! Each lives in a directory named for its version, built beside it under a temporary
//! name and renamed into place when complete, so an interrupted install is never taken
//! for a finished one and two runs installing at once do not mix. The scripts are written
//! from the binary each run, so they always match it.
//!
//! The cache directory is `--cache-dir`, else `$POOLCHECK_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/poolcheck`, else `$HOME/.cache/poolcheck`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::plan::Driver;

/// The PyMongo release installed.
pub const PYMONGO_VERSION: &str = "4.20.1";
/// The Node driver release installed.
pub const NODE_DRIVER_VERSION: &str = "7.9.1";
/// The oldest Node.js the Node driver supports (its `engines` field).
const NODE_MIN: (u32, u32) = (20, 19);

const PYMONGO_SCRIPT: &str = include_str!("scripts/pymongo_driver.py");
const NODE_SCRIPT: &str = include_str!("scripts/node_driver.js");

/// Why a driver cannot be run.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A program the driver needs is not on the PATH.
    #[error("`{program}` was not found on the PATH; {hint}")]
    Missing {
        /// The program.
        program: String,
        /// What to install.
        hint: &'static str,
    },
    /// The installed runtime is too old for the driver.
    #[error("{what}; {hint}")]
    TooOld {
        /// What was found.
        what: String,
        /// What to install.
        hint: &'static str,
    },
    /// No cache directory could be chosen.
    #[error("no cache directory: give --cache-dir or set POOLCHECK_CACHE_DIR (HOME is not set)")]
    NoCacheDir,
    /// A step of the installation failed.
    #[error("{step} failed: {detail}")]
    Step {
        /// The step, as a command line.
        step: String,
        /// Its error output, or why it could not start.
        detail: String,
    },
}

/// How to start a driver's script.
#[derive(Debug, Clone)]
pub struct Launcher {
    /// The program (a venv's python, or node).
    pub program: PathBuf,
    /// Its arguments before `--plan PATH`.
    pub args: Vec<String>,
    /// Environment variables to set.
    pub env: Vec<(String, String)>,
}

/// The cache directory: `explicit`, else the environment's (see the module docs).
pub fn cache_dir(explicit: Option<&Path>) -> Result<PathBuf, InstallError> {
    if let Some(dir) = explicit {
        return Ok(dir.to_path_buf());
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("POOLCHECK_CACHE_DIR") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(dir).join("poolcheck"));
    }
    var("HOME")
        .map(|home| PathBuf::from(home).join(".cache").join("poolcheck"))
        .ok_or(InstallError::NoCacheDir)
}

/// Makes `driver` ready to run from `cache` (installing it if needed); `None` for the Rust
/// driver, which runs in this process. `log` hears about each installation step.
pub fn prepare(
    driver: Driver,
    cache: &Path,
    log: &mut dyn FnMut(&str),
) -> Result<Option<Launcher>, InstallError> {
    match driver {
        Driver::Rust => Ok(None),
        Driver::Pymongo | Driver::PymongoAsync => {
            let python = python(cache, log)?;
            let script = write_script(cache, "pymongo_driver.py", PYMONGO_SCRIPT)?;
            let mode = if driver == Driver::Pymongo {
                "sync"
            } else {
                "async"
            };
            Ok(Some(Launcher {
                program: python,
                args: vec![path_arg(&script), "--mode".into(), mode.into()],
                env: vec![("PYTHONUNBUFFERED".into(), "1".into())],
            }))
        }
        Driver::Node => {
            let modules = node_modules(cache, log)?;
            let script = write_script(cache, "node_driver.js", NODE_SCRIPT)?;
            Ok(Some(Launcher {
                program: PathBuf::from("node"),
                args: vec![path_arg(&script)],
                env: vec![("NODE_PATH".into(), path_arg(&modules))],
            }))
        }
    }
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// The venv's python with PyMongo installed.
fn python(cache: &Path, log: &mut dyn FnMut(&str)) -> Result<PathBuf, InstallError> {
    let system = std::env::var("POOLCHECK_PYTHON").unwrap_or_else(|_| "python3".into());
    let hint = "install Python 3.9 or later (with its venv module), or set POOLCHECK_PYTHON";
    output(Command::new(&system).arg("--version"), &system, hint)?;
    let dir = cache.join(format!("pymongo-{PYMONGO_VERSION}"));
    let python = dir.join("bin").join("python");
    let probe = format!("import pymongo, sys; sys.exit(pymongo.version != '{PYMONGO_VERSION}')");
    if run_quiet(Command::new(&python).args(["-c", &probe])) {
        return Ok(python);
    }
    log(&format!(
        "installing pymongo {PYMONGO_VERSION} into {} (first use)",
        dir.display()
    ));
    build_into(&dir, |tmp| {
        let venv = path_arg(tmp);
        step(Command::new(&system).args(["-m", "venv", &venv]), &system)?;
        let pip = tmp.join("bin").join("python");
        step(
            Command::new(&pip).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("pymongo=={PYMONGO_VERSION}"),
            ]),
            "pip",
        )
    })?;
    Ok(python)
}

/// The `node_modules` directory holding the Node driver.
fn node_modules(cache: &Path, log: &mut dyn FnMut(&str)) -> Result<PathBuf, InstallError> {
    let hint = "install Node.js 20.19 or later (with npm)";
    let version = output(Command::new("node").arg("--version"), "node", hint)?;
    if parse_node_version(&version).is_some_and(|v| v < NODE_MIN) {
        return Err(InstallError::TooOld {
            what: format!(
                "node {} is older than {}.{}, which mongodb {NODE_DRIVER_VERSION} needs",
                version.trim(),
                NODE_MIN.0,
                NODE_MIN.1
            ),
            hint,
        });
    }
    let dir = cache.join(format!("node-mongodb-{NODE_DRIVER_VERSION}"));
    let modules = dir.join("node_modules");
    let installed = std::fs::read_to_string(modules.join("mongodb").join("package.json"))
        .is_ok_and(|text| text.contains(&format!("\"version\": \"{NODE_DRIVER_VERSION}\"")));
    if installed {
        return Ok(modules);
    }
    output(Command::new("npm").arg("--version"), "npm", hint)?;
    log(&format!(
        "installing mongodb {NODE_DRIVER_VERSION} (npm) into {} (first use)",
        dir.display()
    ));
    build_into(&dir, |tmp| {
        step(
            Command::new("npm").args([
                "install",
                "--prefix",
                &path_arg(tmp),
                &format!("mongodb@{NODE_DRIVER_VERSION}"),
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]),
            "npm install",
        )
    })?;
    Ok(modules)
}

/// `v20.20.2` as (20, 20).
fn parse_node_version(text: &str) -> Option<(u32, u32)> {
    let mut parts = text.trim().trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Builds `dir` by running `build` on a fresh temporary directory beside it, then renaming
/// that into place (if another run finished first, its directory is kept).
fn build_into(
    dir: &Path,
    build: impl FnOnce(&Path) -> Result<(), InstallError>,
) -> Result<(), InstallError> {
    let tmp = dir.with_extension(format!("partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    create_dir(tmp.parent().unwrap_or(Path::new(".")))?;
    let built = build(&tmp).and_then(|()| {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::rename(&tmp, dir).map_err(|e| InstallError::Step {
            step: format!("rename {} to {}", tmp.display(), dir.display()),
            detail: e.to_string(),
        })
    });
    let _ = std::fs::remove_dir_all(&tmp);
    built
}

fn create_dir(dir: &Path) -> Result<(), InstallError> {
    std::fs::create_dir_all(dir).map_err(|e| InstallError::Step {
        step: format!("mkdir -p {}", dir.display()),
        detail: e.to_string(),
    })
}

/// Writes a script into `cache/scripts/` (every run: it must match this binary).
fn write_script(cache: &Path, name: &str, text: &str) -> Result<PathBuf, InstallError> {
    let dir = cache.join("scripts");
    create_dir(&dir)?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| InstallError::Step {
        step: format!("write {}", path.display()),
        detail: e.to_string(),
    })?;
    Ok(path)
}

/// Runs a probe; its stdout, or `Missing` if the program cannot be started.
fn output(
    command: &mut Command,
    program: &str,
    hint: &'static str,
) -> Result<String, InstallError> {
    match command.stdin(Stdio::null()).output() {
        Ok(out) if out.status.success() => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => Err(InstallError::Step {
            step: format!("{program} --version"),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        }),
        Err(_) => Err(InstallError::Missing {
            program: program.to_string(),
            hint,
        }),
    }
}

fn run_quiet(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs an installation step; its error output on failure.
fn step(command: &mut Command, name: &str) -> Result<(), InstallError> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| InstallError::Step {
            step: name.to_string(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
    Err(InstallError::Step {
        step: name.to_string(),
        detail: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_versions_parse() {
        assert_eq!(parse_node_version("v20.20.2\n"), Some((20, 20)));
        assert_eq!(parse_node_version("v18.1.0"), Some((18, 1)));
        assert_eq!(parse_node_version("garbage"), None);
        assert!(parse_node_version("v20.18.0").is_some_and(|v| v < NODE_MIN));
    }

    #[test]
    fn an_explicit_cache_dir_wins() {
        let dir = cache_dir(Some(Path::new("/some/where"))).ok();
        assert_eq!(dir, Some(PathBuf::from("/some/where")));
    }

    #[test]
    fn a_failed_build_leaves_nothing_behind() {
        let root = std::env::temp_dir().join(format!("poolcheck-install-{}", std::process::id()));
        let dir = root.join("thing-1.0");
        let failed = build_into(&dir, |tmp| {
            std::fs::create_dir_all(tmp).map_err(|e| InstallError::Step {
                step: "mkdir".into(),
                detail: e.to_string(),
            })?;
            Err(InstallError::Step {
                step: "pip".into(),
                detail: "no network".into(),
            })
        });
        assert!(matches!(failed, Err(InstallError::Step { .. })));
        assert!(!dir.exists());
        let leftovers = std::fs::read_dir(&root).map(|d| d.count()).unwrap_or(0);
        assert_eq!(leftovers, 0);
        build_into(&dir, create_dir).ok();
        assert!(dir.is_dir());
        let _ = std::fs::remove_dir_all(&root);
    }
}
