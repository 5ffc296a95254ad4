//! The model files and their pinned SHA-256 sums from `models/manifest.toml`.
//!
//! A model is only loaded after its sum matches, so a truncated download or a swapped file is a
//! clear error that says how to fix it, never a panic deep in an inference engine.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::VisionError;

/// The face detector the gate loads.
pub const DETECTOR: &str = "yunet_fp32.onnx";
/// The face recogniser the gate loads.
pub const RECOGNISER: &str = "sface_fp32.onnx";

/// The command that fetches and converts the models.
pub const FETCH_COMMAND: &str = "models/fetch.sh";

#[derive(Deserialize)]
struct Manifest {
    model: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    file: String,
    sha256: String,
}

/// Returns the path of `file` in `dir` after checking it against the manifest in the same folder.
pub(crate) fn verified(dir: &Path, file: &str) -> Result<PathBuf, VisionError> {
    let manifest_path = dir.join("manifest.toml");
    let text = std::fs::read_to_string(&manifest_path).map_err(|source| VisionError::Manifest {
        path: manifest_path.clone(),
        reason: source.to_string(),
    })?;
    let manifest: Manifest = toml::from_str(&text).map_err(|source| VisionError::Manifest {
        path: manifest_path.clone(),
        reason: source.to_string(),
    })?;
    let sums: HashMap<_, _> =
        manifest.model.iter().map(|e| (e.file.as_str(), e.sha256.as_str())).collect();
    let expected = sums.get(file).ok_or_else(|| VisionError::Manifest {
        path: manifest_path.clone(),
        reason: format!("no entry for {file}"),
    })?;
    let path = dir.join(file);
    let actual = sha256_file(&path)
        .map_err(|source| VisionError::ModelMissing { path: path.clone(), source })?;
    if !actual.eq_ignore_ascii_case(expected) {
        return Err(VisionError::ModelChecksum { path, expected: expected.to_string(), actual });
    }
    Ok(path)
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(model_bytes: &[u8], sum: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.onnx"), model_bytes).unwrap();
        let manifest =
            format!("[[model]]\nfile = \"m.onnx\"\nsha256 = \"{sum}\"\nlicence = \"MIT\"\n");
        std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
        dir
    }

    // sha256("abc")
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    #[test]
    fn matching_file_is_accepted() {
        let dir = folder(b"abc", ABC);
        assert_eq!(verified(dir.path(), "m.onnx").unwrap(), dir.path().join("m.onnx"));
    }

    #[test]
    fn wrong_missing_or_unlisted_files_are_clear_errors() {
        let dir = folder(b"abd", ABC);
        let err = verified(dir.path(), "m.onnx").unwrap_err();
        assert!(matches!(err, VisionError::ModelChecksum { .. }));
        assert!(err.to_string().contains(FETCH_COMMAND), "{err}");
        std::fs::remove_file(dir.path().join("m.onnx")).unwrap();
        let err = verified(dir.path(), "m.onnx").unwrap_err();
        assert!(
            matches!(err, VisionError::ModelMissing { .. })
                && err.to_string().contains(FETCH_COMMAND)
        );
        assert!(matches!(verified(dir.path(), "other.onnx"), Err(VisionError::Manifest { .. })));
    }
}
