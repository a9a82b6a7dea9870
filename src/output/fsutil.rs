//! Output files are written whole or not at all: into a temporary sibling, then renamed.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes `path` through `fill`; on any error the target is untouched and the temporary removed.
pub fn write_atomic(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temp_sibling(path);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        fill(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::io("cannot write", path, e)
    })
}

/// Fails early, before any long work, when `path` cannot be created (missing folder, no permission).
pub fn check_writable(path: &Path) -> Result<()> {
    let tmp = temp_sibling(path);
    File::create(&tmp).map_err(|e| Error::io("cannot write", path, e))?;
    let _ = fs::remove_file(&tmp);
    Ok(())
}

/// The temporary sibling `path` is written to before it is renamed into place.
pub(crate) fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.partial", std::process::id()))
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
    }
}
