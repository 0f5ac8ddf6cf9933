//! guichet's media folder. A file is named by the SHA-256 of its content (hex), under a folder
//! named by the first two characters: names are guichet's own, never a customer's, and two
//! nodes writing the same file write the same bytes to the same place. A download is written
//! to `.partial/` first, fsynced, then renamed into place and its folder fsynced, so that a
//! stored row never points at a file a crash could lose or leave half-written.

use std::io;
use std::path::{Path, PathBuf};

use tokio::fs;

/// Folder of downloads in progress.
const PARTIAL: &str = ".partial";

/// How old a partial file must be to be removed at start: older than any download can run, so
/// that another node's download in progress (shared storage) is never touched.
const STALE_PARTIAL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct MediaDir {
    root: PathBuf,
}

impl MediaDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates the folder if needed and clears partial files left by a crash long ago.
    pub async fn prepare(&self) -> io::Result<()> {
        let partial = self.root.join(PARTIAL);
        fs::create_dir_all(&partial).await?;
        let mut entries = fs::read_dir(&partial).await?;
        while let Some(entry) = entries.next_entry().await? {
            let stale = entry
                .metadata()
                .await
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_PARTIAL);
            if stale {
                let _ = fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }

    /// Where a stored file is; `None` for a key that is not one guichet makes (64 lower-case
    /// hex characters), so that no stored value can point outside the folder.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        let valid = key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| self.root.join(&key[..2]).join(key))
    }

    /// A new file for a download in progress.
    pub async fn partial(&self) -> io::Result<(PathBuf, fs::File)> {
        let dir = self.root.join(PARTIAL);
        fs::create_dir_all(&dir).await?;
        let path = dir.join(format!("{:016x}", rand::random::<u64>()));
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Customers' files: readable by guichet's own user only.
        #[cfg(unix)]
        options.mode(0o600);
        let file = options.open(&path).await?;
        Ok((path, file))
    }

    /// Moves a complete, fsynced download into place under `key`, durably.
    pub async fn keep(&self, partial: &Path, key: &str) -> io::Result<()> {
        let target = self
            .path_of(key)
            .ok_or_else(|| io::Error::other(format!("{key:?} is not a storage key")))?;
        let folder = target
            .parent()
            .ok_or_else(|| io::Error::other("a storage path has a folder"))?
            .to_owned();
        fs::create_dir_all(&folder).await?;
        // Same content, same name: replacing a file another node stored changes nothing.
        fs::rename(partial, &target).await?;
        sync_dir(folder).await
    }
}

/// Makes a rename in `dir` durable (POSIX: the folder's entry is only on disk once the folder
/// is fsynced).
async fn sync_dir(dir: PathBuf) -> io::Result<()> {
    tokio::task::spawn_blocking(move || {
        #[cfg(unix)]
        std::fs::File::open(&dir)?.sync_all()?;
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    })
    .await
    .map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_guichets_own_names_only() {
        let dir = MediaDir::new("/srv/media");
        let key = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert_eq!(
            dir.path_of(key),
            Some(PathBuf::from(format!("/srv/media/9f/{key}")))
        );
        for bad in [
            "",
            "../../etc/passwd",
            &key.to_uppercase(),
            &format!("{}/", &key[..63]),
            &key[..63],
        ] {
            assert_eq!(dir.path_of(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_kept_file_is_found_under_its_key() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = MediaDir::new(tmp.path().join("media"));
        dir.prepare().await.expect("prepare");
        let (path, file) = dir.partial().await.expect("partial");
        drop(file);
        fs::write(&path, b"abc").await.expect("write");
        let key = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        dir.keep(&path, key).await.expect("keep");
        let stored = dir.path_of(key).expect("a key");
        assert_eq!(fs::read(&stored).await.expect("read"), b"abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&stored)
                .await
                .expect("metadata")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "customers' files are guichet's alone");
        }
        assert!(!path.exists(), "the partial file was moved");
    }
}
