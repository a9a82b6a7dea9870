//! Reading an input file whole, refusing what never ends or was never a file (devices, sockets).

use std::fs::{File, FileType, Metadata};
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// The bytes of `path`: a regular file, or a FIFO (`<(zcat vectors.gz)`) read to its end.
/// Devices such as `/dev/zero` are refused before reading, since they could fill memory;
/// `action` names the read in errors ("cannot read vectors").
pub fn read_input(path: &Path, action: &'static str) -> Result<Vec<u8>> {
    let (mut file, meta) = open_input(path, action)?;
    // The length is only a hint (a FIFO's is 0, a file may grow): it sizes the first buffer.
    let hint = usize::try_from(meta.len()).unwrap_or(0);
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(hint)
        .map_err(|_| Error::format(path, format!("{hint} bytes do not fit in memory")))?;
    file.read_to_end(&mut bytes)
        .map_err(|e| Error::io(action, path, e))?;
    Ok(bytes)
}

/// `path` opened for reading when it is a regular file or a FIFO, with its metadata; directories,
/// devices and sockets are refused with one line, before anything is read.
pub fn open_input(path: &Path, action: &'static str) -> Result<(File, Metadata)> {
    let file = File::open(path).map_err(|e| Error::io(action, path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(action, path, e))?;
    check_kind(path, meta.file_type())?;
    Ok((file, meta))
}

/// Refuses a directory, a device or a socket (anything but a regular file or a FIFO) at `path`.
pub fn check_kind(path: &Path, kind: FileType) -> Result<()> {
    if kind.is_dir() {
        return Err(Error::format(path, "is a directory; give a file"));
    }
    if !kind.is_file() && !is_fifo(&kind) {
        return Err(Error::format(
            path,
            "is not a regular file (a device or socket); give a file or a pipe",
        ));
    }
    Ok(())
}

/// `bytes` as UTF-8 text, or the 1-based line of `bytes` that holds the first byte that is not
/// UTF-8 (for an error naming where the file is damaged).
pub fn utf8_lines(bytes: &[u8]) -> std::result::Result<&str, usize> {
    std::str::from_utf8(bytes).map_err(|e| {
        1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    })
}

#[cfg(unix)]
fn is_fifo(kind: &FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(kind)
}

#[cfg(not(unix))]
fn is_fifo(_: &FileType) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_and_refuses_directories_and_devices() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(read_input(&p, "cannot read test").unwrap(), b"abc");
        let e = read_input(dir.path(), "cannot read test").unwrap_err();
        assert!(e.to_string().contains("directory"), "{e}");
        if Path::new("/dev/zero").exists() {
            let e = read_input(Path::new("/dev/zero"), "cannot read test").unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
        let e = read_input(&dir.path().join("missing"), "cannot read test").unwrap_err();
        assert!(e.to_string().starts_with("cannot read test"), "{e}");
    }

    #[test]
    fn the_first_line_that_is_not_utf8_is_named() {
        assert_eq!(utf8_lines(b"a\nb"), Ok("a\nb"));
        assert_eq!(utf8_lines(b"\xff"), Err(1));
        assert_eq!(utf8_lines(b"a\nb\n\nc\xffd\n"), Err(4));
    }
}
