//! hostPath volumes (`pkg/volume/hostpath`): a host path used as is, after the `type`
//! check (`checkType`), which may create a missing directory or file.

use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use k8s_openapi::api::core::v1::HostPathVolumeSource;

use super::VolumeError;

/// Checks (and with `DirectoryOrCreate`/`FileOrCreate` creates) the host path.
pub fn setup(volume: &str, source: &HostPathVolumeSource) -> Result<(), VolumeError> {
    check_type(&source.path, source.type_.as_deref().unwrap_or_default())
        .map_err(|m| VolumeError::new(volume, m))
}

fn check_type(path: &str, kind: &str) -> Result<(), String> {
    let meta = std::fs::metadata(path);
    let is = |f: fn(&std::fs::FileType) -> bool| meta.as_ref().is_ok_and(|m| f(&m.file_type()));
    let failed = |what: &str| Err(format!("hostPath type check failed: {path} is not {what}"));
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_err() => make_dir(path).map_err(|e| e.to_string()),
        "DirectoryOrCreate" | "Directory" if !is(std::fs::FileType::is_dir) => {
            failed("a directory")
        }
        "FileOrCreate" if meta.is_err() => make_file(path).map_err(|e| e.to_string()),
        "FileOrCreate" | "File" if !is(std::fs::FileType::is_file) => failed("a file"),
        "Socket" if !is(|t| t.is_socket()) => failed("a socket file"),
        "CharDevice" if !is(|t| t.is_char_device()) => failed("a character device"),
        "BlockDevice" if !is(|t| t.is_block_device()) => failed("a block device"),
        "Directory" | "DirectoryOrCreate" | "File" | "FileOrCreate" | "Socket" | "CharDevice"
        | "BlockDevice" => Ok(()),
        other => Err(format!("{other} is an invalid volume type")),
    }
}

fn make_dir(path: &str) -> io::Result<()> {
    std::fs::create_dir_all(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Creates the file (not its parents), mode 0644, as the kubelet's `MakeFile`.
fn make_file(path: &str) -> io::Result<()> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(Path::new(path))
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(path: &Path, kind: &str) -> HostPathVolumeSource {
        HostPathVolumeSource {
            path: path.to_string_lossy().into_owned(),
            type_: Some(kind.into()),
        }
    }

    #[test]
    fn directory_or_create_makes_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b");
        setup("v", &source(&path, "DirectoryOrCreate")).unwrap();
        assert!(path.is_dir());
        let path = dir.path().join("f");
        setup("v", &source(&path, "FileOrCreate")).unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn a_type_mismatch_gives_the_kubelet_message() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        let err = setup("v", &source(&file, "Directory")).unwrap_err();
        assert_eq!(
            err.message,
            format!(
                "hostPath type check failed: {} is not a directory",
                file.display()
            )
        );
        let err = setup("v", &source(dir.path(), "FileOrCreate")).unwrap_err();
        assert_eq!(
            err.message,
            format!(
                "hostPath type check failed: {} is not a file",
                dir.path().display()
            )
        );
        let err = setup("v", &source(&dir.path().join("none"), "Socket")).unwrap_err();
        assert!(
            err.message.ends_with("is not a socket file"),
            "{}",
            err.message
        );
        let err = setup("v", &source(dir.path(), "Weird")).unwrap_err();
        assert_eq!(err.message, "Weird is an invalid volume type");
        assert!(setup("v", &source(&dir.path().join("none"), "")).is_ok());
    }
}
