//! The build context: the directory `krust image build DIR` names, less what `.dockerignore`
//! excludes, as the files COPY and ADD may read: sources with wildcards, docker's messages
//! for missing ones, a content hash of the sources for the build cache (as the classic
//! builder's `file:<hash>`/BuildKit's content checksums), and copies into a step directory.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::ignore::Ignore;
use super::rootfs::{self, Owner};
use crate::digest::{Digest, Hasher};
use crate::error::Result;

/// A build context.
pub struct Context {
    root: PathBuf,
    ignore: Ignore,
}

impl Context {
    /// The context at `root`, with its `.dockerignore` if any.
    pub fn open(root: &Path) -> Result<Context> {
        let ignore = match fs::read_to_string(root.join(".dockerignore")) {
            Ok(text) => Ignore::parse(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ignore::default(),
            Err(e) => return Err(e.into()),
        };
        Ok(Context {
            root: root.to_path_buf(),
            ignore,
        })
    }

    /// The context paths a COPY/ADD source names (relative, cleaned), wildcards expanded in
    /// the last component; docker's message when nothing is there.
    pub fn sources(&self, keyword: &str, src: &str) -> std::result::Result<Vec<String>, String> {
        let rel = clean(src);
        let missing = || {
            format!(
                "{keyword} failed: file not found in build context or excluded by .dockerignore: stat {src}: file does not exist"
            )
        };
        if !rel.contains(['*', '?', '[']) {
            let ok = rel.is_empty()
                || (fs::symlink_metadata(self.root.join(&rel)).is_ok()
                    && !self.excluded_whole(&rel));
            return if ok { Ok(vec![rel]) } else { Err(missing()) };
        }
        let (dir, pattern) = rel.rsplit_once('/').unwrap_or(("", &rel));
        let matcher = Ignore::parse(pattern);
        let mut found: Vec<String> = fs::read_dir(self.root.join(dir))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|name| matcher.excluded(name))
                    .map(|name| {
                        if dir.is_empty() {
                            name
                        } else {
                            format!("{dir}/{name}")
                        }
                    })
                    .filter(|rel| !self.excluded_whole(rel))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        if found.is_empty() {
            return Err(format!("{keyword} failed: no source files were specified"));
        }
        Ok(found)
    }

    /// Whether a source is a directory.
    pub fn is_dir(&self, rel: &str) -> bool {
        self.root.join(rel).is_dir()
    }

    /// The absolute path of a context path.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// A digest of the sources' names, kinds, modes, link targets and contents (what is
    /// excluded left out).
    pub fn hash(&self, sources: &[String]) -> Result<Digest> {
        let mut h = Hasher::default();
        for rel in sources {
            self.hash_path(rel, &mut h)?;
        }
        Ok(h.finish())
    }

    fn hash_path(&self, rel: &str, h: &mut Hasher) -> Result<()> {
        if !rel.is_empty() && self.ignore.excluded(rel) && !self.ignore.has_exceptions() {
            return Ok(());
        }
        let path = self.root.join(rel);
        let meta = fs::symlink_metadata(&path)?;
        let included = rel.is_empty() || !self.ignore.excluded(rel);
        if included {
            h.update(format!("{rel}\0{:o}\0", meta.mode()).as_bytes());
        }
        if meta.is_dir() {
            for name in sorted(&path)? {
                self.hash_path(&join(rel, &name), h)?;
            }
        } else if included && meta.file_type().is_symlink() {
            h.update(fs::read_link(&path)?.as_os_str().as_encoded_bytes());
        } else if included && meta.is_file() {
            io::copy(&mut fs::File::open(&path)?, h)?;
        }
        h.update(b"\n");
        Ok(())
    }

    /// Copies a source to `dest`: a file (or the file a symlink source names) to `dest`, a
    /// directory's contents into `dest`, skipping what is excluded.
    pub fn copy(&self, rel: &str, dest: &Path, owner: Owner) -> Result<()> {
        let path = self.root.join(rel);
        let meta = fs::metadata(&path)?;
        if meta.is_dir() {
            if !dest.is_dir() {
                fs::create_dir_all(dest)?;
                rootfs::finish(dest, &meta, owner)?;
            }
            for name in sorted(&path)? {
                self.copy_entry(&join(rel, &name), &dest.join(&name), owner)?;
            }
            Ok(())
        } else {
            if fs::symlink_metadata(dest).is_ok() {
                fs::remove_file(dest)?;
            }
            fs::copy(&path, dest)?;
            rootfs::finish(dest, &meta, owner)
        }
    }

    fn copy_entry(&self, rel: &str, dest: &Path, owner: Owner) -> Result<()> {
        let excluded = self.ignore.excluded(rel);
        if excluded && !self.ignore.has_exceptions() {
            return Ok(());
        }
        let path = self.root.join(rel);
        let meta = fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            if !excluded || self.has_included(rel)? {
                if !dest.is_dir() {
                    fs::create_dir(dest)?;
                }
                for name in sorted(&path)? {
                    self.copy_entry(&join(rel, &name), &dest.join(&name), owner)?;
                }
                if excluded {
                    fs::set_permissions(dest, fs::Permissions::from_mode(0o755))?;
                } else {
                    rootfs::finish(dest, &meta, owner)?;
                }
            }
            Ok(())
        } else if excluded {
            Ok(())
        } else {
            rootfs::copy_tree(&path, dest, owner)
        }
    }

    fn has_included(&self, rel: &str) -> Result<bool> {
        for name in sorted(&self.root.join(rel))? {
            let child = join(rel, &name);
            if !self.ignore.excluded(&child)
                || (self.root.join(&child).is_dir() && self.has_included(&child)?)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Excluded with nothing under it re-included.
    fn excluded_whole(&self, rel: &str) -> bool {
        self.ignore.excluded(rel)
            && !(self.root.join(rel).is_dir() && self.has_included(rel).unwrap_or(false))
    }
}

/// A path made relative, `.` dropped, `..` resolved lexically (never above the top).
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

fn sorted(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<io::Result<_>>()?;
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(files: &[(&str, &str)]) -> (tempfile::TempDir, Context) {
        let tmp = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let p = tmp.path().join(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }
        let c = Context::open(tmp.path()).unwrap();
        (tmp, c)
    }

    #[test]
    fn a_missing_or_ignored_source_gets_dockers_message() {
        let (_t, c) = context(&[
            (".dockerignore", "secret\n"),
            ("secret", "s"),
            ("a.txt", "a"),
        ]);
        let want = "COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist";
        assert_eq!(c.sources("COPY", "x").unwrap_err(), want);
        assert!(
            c.sources("COPY", "secret")
                .unwrap_err()
                .contains("stat secret")
        );
        assert_eq!(c.sources("COPY", "./a.txt").unwrap(), ["a.txt"]);
        assert_eq!(c.sources("COPY", "*.txt").unwrap(), ["a.txt"]);
    }

    #[test]
    fn a_directory_copy_leaves_out_ignored_files_but_keeps_exceptions() {
        let (t, c) = context(&[
            (".dockerignore", "app/*.log\n!app/keep.log\n"),
            ("app/index.html", "hi"),
            ("app/debug.log", "x"),
            ("app/keep.log", "k"),
        ]);
        let dest = t.path().join("out");
        c.copy("app", &dest, Some((0, 0))).unwrap();
        assert!(dest.join("index.html").is_file());
        assert!(dest.join("keep.log").is_file());
        assert!(!dest.join("debug.log").exists());
    }

    #[test]
    fn the_content_hash_changes_with_a_file_but_not_with_an_ignored_one() {
        let (t, c) = context(&[(".dockerignore", "*.tmp\n"), ("a", "1"), ("b.tmp", "x")]);
        let before = c.hash(&["".into()]).unwrap();
        fs::write(t.path().join("b.tmp"), "changed").unwrap();
        assert_eq!(c.hash(&["".into()]).unwrap(), before);
        fs::write(t.path().join("a"), "2").unwrap();
        assert_ne!(c.hash(&["".into()]).unwrap(), before);
    }
}
