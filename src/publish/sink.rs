//! The file sink: writes artifacts under the output directory atomically
//! (temporary file, fsync, rename), only when their content changed. The
//! only part of `publish` that touches the filesystem.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use super::Artifact;

/// What a write changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    /// Files written (new or changed).
    pub written: usize,
    /// Files left alone because their content was the same.
    pub unchanged: usize,
    /// The artifact paths written, sorted (WebSub pings them).
    #[serde(skip)]
    pub changed: Vec<String>,
}

/// Writes artifacts under a directory one at a time, as they are rendered.
/// Each file is replaced atomically; the directories that changed are
/// synced once each by [`Writer::finish`] (not once per file), so
/// everything is durable when it returns. The first error stops the
/// writing and is what `finish` returns.
pub struct Writer<'d> {
    dir: &'d Path,
    stats: WriteStats,
    dirs: BTreeSet<PathBuf>,
    error: Option<std::io::Error>,
    /// Artifacts handed to `put`.
    seen: usize,
}

impl<'d> Writer<'d> {
    /// A writer into `dir`.
    pub fn new(dir: &'d Path) -> Self {
        Writer { dir, stats: WriteStats::default(), dirs: BTreeSet::new(), error: None, seen: 0 }
    }

    /// Writes one artifact, unless an earlier one failed.
    pub fn put(&mut self, a: &Artifact) {
        self.seen += 1;
        if self.error.is_none()
            && let Err(e) = self.write(a)
        {
            self.error = Some(e);
        }
    }

    fn write(&mut self, a: &Artifact) -> std::io::Result<()> {
        let path = target(self.dir, &a.path)?;
        if std::fs::read(&path).is_ok_and(|old| old == a.body) {
            self.stats.unchanged += 1;
            return Ok(());
        }
        replace(&path, &a.body)?;
        self.dirs.insert(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf());
        self.stats.written += 1;
        self.stats.changed.push(a.path.clone());
        Ok(())
    }

    /// How many artifacts were handed to [`Writer::put`].
    pub fn artifacts(&self) -> usize {
        self.seen
    }

    /// Syncs the directories that changed; the paths written, sorted.
    pub fn finish(mut self) -> std::io::Result<WriteStats> {
        if let Some(e) = self.error {
            return Err(e);
        }
        for d in &self.dirs {
            sync_dir(d);
        }
        self.stats.changed.sort();
        Ok(self.stats)
    }
}

/// The file for an artifact path; refuses anything that could leave `dir`.
fn target(dir: &Path, rel: &str) -> std::io::Result<PathBuf> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad artifact path {rel:?}")));
    }
    Ok(dir.join(p))
}

/// Temporary file in the same directory, fsync, rename, fsync the directory:
/// a reader sees the old file or the new one, never half of one. The old
/// file's permissions stay.
pub fn write_atomic(path: &Path, body: &[u8]) -> std::io::Result<()> {
    replace(path, body)?;
    sync_dir(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    Ok(())
}

/// Syncs a directory (its renames), best effort.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// [`write_atomic`] without the directory sync: the caller syncs the
/// directory once after all its files.
fn replace(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact");
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        // A fresh file (never one someone placed there), with the old
        // file's permissions when there is one.
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(body)?;
        if let Ok(md) = std::fs::metadata(path) {
            f.set_permissions(md.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every artifact through one writer.
    fn write_all(dir: &Path, artifacts: &[Artifact]) -> std::io::Result<WriteStats> {
        let mut w = Writer::new(dir);
        artifacts.iter().for_each(|a| w.put(a));
        w.finish()
    }

    fn art(path: &str, body: &str) -> Artifact {
        Artifact { path: path.into(), content_type: "text/plain", body: body.into(), updated: Default::default() }
    }

    #[test]
    fn writes_only_changes_and_refuses_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let s = write_all(dir.path(), &[art("a.txt", "1"), art("tags/b.txt", "2")]).unwrap();
        assert_eq!((s.written, s.unchanged), (2, 0));
        assert_eq!(s.changed, ["a.txt", "tags/b.txt"]);
        let s = write_all(dir.path(), &[art("a.txt", "1"), art("tags/b.txt", "3")]).unwrap();
        assert_eq!((s.written, s.unchanged), (1, 1));
        assert_eq!(s.changed, ["tags/b.txt"]);
        assert_eq!(std::fs::read_to_string(dir.path().join("tags/b.txt")).unwrap(), "3");
        assert!(write_all(dir.path(), &[art("../x", "no")]).is_err());
        assert!(write_all(dir.path(), &[art("/etc/x", "no")]).is_err());
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(".tmp"))
            .count();
        assert_eq!(leftovers, 0);
    }

    /// Artifacts written as they come: the paths written come back sorted,
    /// and after a failure nothing more is written and the failure is
    /// what the writer returns.
    #[test]
    fn a_writer_takes_artifacts_one_at_a_time_and_stops_at_the_first_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::new(dir.path());
        w.put(&art("tags/b.txt", "2"));
        w.put(&art("a.txt", "1"));
        assert_eq!(w.artifacts(), 2);
        assert_eq!(w.finish().unwrap().changed, ["a.txt", "tags/b.txt"]);
        let mut w = Writer::new(dir.path());
        w.put(&art("../escape", "no"));
        w.put(&art("c.txt", "3"));
        assert_eq!(w.finish().unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
        assert!(!dir.path().join("c.txt").exists(), "nothing is written after a failure");
    }
}
