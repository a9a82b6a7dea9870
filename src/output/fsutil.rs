//! Output files are written whole or not at all: into a temporary sibling, then renamed.
//!
//! - A symlink is followed: its final target is what gets replaced (atomically, through a
//!   temporary in the target's folder), and the link stays a link.
//! - Only regular files are ever replaced: a directory, device, FIFO or socket at the target is
//!   refused with one line (a rename would put a regular file in its place, as `-o /dev/null`
//!   once did as root).
//! - Every temporary (`.NAME.PID.partial`) is in a registry while it exists, so a signal handler
//!   can remove them ([`remove_live_temps`]); a run also removes the stale temporaries of its
//!   target that a killed process left (same name, a PID that is no longer running).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crate::error::{Error, Result};

/// The temporaries this process has created and not yet renamed or removed.
static LIVE_TEMPS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE_TEMPS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes every temporary this process has open, and keeps new ones from being registered
/// while the returned guard lives (hold it until the process exits).
pub fn remove_live_temps() -> MutexGuard<'static, Vec<PathBuf>> {
    let mut temps = live();
    for t in temps.drain(..) {
        let _ = fs::remove_file(t);
    }
    temps
}

/// Writes `path` through `fill`; on any error the target is untouched and the temporary removed.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let target = writable_target(path)?;
    remove_stale_temps(&target);
    let tmp = temp_sibling(&target);
    live().push(tmp.clone());
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        fs::rename(&tmp, &target)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    live().retain(|t| t != &tmp);
    result.map_err(|e| Error::io("cannot write", path, e))
}

/// Fails early, before any long work, when `path` cannot be written: a missing folder, no
/// permission, or something other than a regular file there.
/// Stale temporaries of `path` (left by killed runs) are removed on the way.
pub fn check_writable(path: &Path) -> Result<()> {
    let target = writable_target(path)?;
    remove_stale_temps(&target);
    let tmp = temp_sibling(&target);
    live().push(tmp.clone());
    let created = File::create(&tmp);
    let _ = fs::remove_file(&tmp);
    live().retain(|t| t != &tmp);
    created.map_err(|e| Error::io("cannot write", path, e))?;
    Ok(())
}

/// The file a write to `path` replaces: `path`, or the final target of the symlinks it is,
/// refused unless it is a regular file or does not exist yet.
pub fn writable_target(path: &Path) -> Result<PathBuf> {
    let target = follow_links(path)?;
    match fs::metadata(&target) {
        Ok(m) if m.is_dir() => Err(Error::format(
            path,
            "is a directory; give a file name inside it",
        )),
        Ok(m) if !m.is_file() => Err(Error::format(
            path,
            "is not a regular file (a device, FIFO or socket), which would be replaced by a file; \
             give a file name",
        )),
        _ => Ok(target),
    }
}

/// `path` with every symlink it is resolved (relative targets against the link's folder), at
/// most 40 hops as the kernel allows.
fn follow_links(path: &Path) -> Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p).map_err(|e| Error::io("cannot follow", path, e))?;
                p = match p.parent() {
                    Some(dir) if to.is_relative() => dir.join(to),
                    _ => to,
                };
            }
            _ => return Ok(p),
        }
    }
    Err(Error::format(
        path,
        "is a loop of symlinks; give a file name",
    ))
}

/// For a writer that streams into its own temporary (the corpus cache): removes `target`'s stale
/// temporaries, registers this process's one and returns its path. The writer renames or
/// removes it and then calls [`end_temp`].
pub(crate) fn begin_temp(target: &Path) -> PathBuf {
    remove_stale_temps(target);
    let tmp = temp_sibling(target);
    live().push(tmp.clone());
    tmp
}

/// `tmp` (from [`begin_temp`]) is renamed or removed: out of the registry.
pub(crate) fn end_temp(tmp: &Path) {
    live().retain(|t| t != tmp);
}

fn temp_sibling(path: &Path) -> PathBuf {
    path.with_file_name(format!(
        ".{}.{}.partial",
        file_name(path),
        std::process::id()
    ))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes the `.NAME.PID.partial` siblings of `target` whose process is gone (best effort:
/// only where `/proc` tells which processes run).
pub fn remove_stale_temps(target: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let prefix = format!(".{}.", file_name(target));
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".partial"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        let err = write_atomic(&p, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&p, |w| w.write_all(b"whole")).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "whole");
        assert!(check_writable(&dir.path().join("no/such/dir/x")).is_err());
        // Other tests' writers (the corpus cache's) may be registered meanwhile: only ours count.
        assert!(!live().iter().any(|t| t.starts_with(dir.path())));
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_is_followed_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        let target = dir.path().join("real/v.txt");
        fs::write(&target, "old").unwrap();
        let link = dir.path().join("v.txt");
        std::os::unix::fs::symlink("real/v.txt", &link).unwrap();
        write_atomic(&link, |w| w.write_all(b"new")).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&target).unwrap(), "new");
        // A dangling link creates its target.
        let dangling = dir.path().join("d.txt");
        std::os::unix::fs::symlink("real/made.txt", &dangling).unwrap();
        write_atomic(&dangling, |w| w.write_all(b"made")).unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("real/made.txt")).unwrap(),
            "made"
        );
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &looped).unwrap();
        assert!(check_writable(&looped)
            .unwrap_err()
            .to_string()
            .contains("loop"));
    }

    #[cfg(unix)]
    #[test]
    fn directories_devices_and_fifos_are_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let e = check_writable(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let e = write_atomic(Path::new("/dev/null"), |w| w.write_all(b"x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert!(!fs::metadata("/dev/null").unwrap().file_type().is_file());
        // A link to a device is refused as the device is.
        let link = dir.path().join("null");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert!(check_writable(&link).is_err());
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("v.bin");
        // PID 0x7fff_fff0 is above any Linux pid_max, so never a running process.
        let stale = dir.path().join(".v.bin.2147483632.partial");
        let other = dir.path().join(".w.bin.2147483632.partial");
        let ours = dir
            .path()
            .join(format!(".v.bin.{}.partial", std::process::id()));
        for p in [&stale, &other] {
            fs::write(p, "x").unwrap();
        }
        write_atomic(&target, |w| w.write_all(b"v")).unwrap();
        assert_eq!(stale.exists(), !Path::new("/proc/self").exists());
        assert!(other.exists() && !ours.exists());
    }
}
