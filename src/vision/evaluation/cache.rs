//! `eval --cache FILE`: the dev set's embeddings kept between runs, so that protocols and
//! thresholds can be compared without embedding every photo again.
//!
//! The file holds what one run computed (each image's path and its frames' embeddings) and the
//! vision settings it was computed with; it is used when both match this run's and it holds at
//! least as many frames per image as this run fuses (a run of 3 frames serves runs of 1 and 2),
//! and is written again otherwise. It holds embeddings of
//! the evaluation photos: keep it beside the photos, never in the repository.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Embedded, LabelledImage};
use crate::vision::{EMBEDDING_DIM, Embedding};

#[derive(Serialize, Deserialize)]
struct CacheFile {
    settings: String,
    images: Vec<String>,
    /// Per image, per frame: the embedding's values, `None` without a face.
    frames: Vec<Vec<Option<Vec<f32>>>>,
    seconds: Vec<f64>,
}

fn paths(images: &[LabelledImage]) -> Vec<String> {
    images.iter().map(|i| i.path.display().to_string()).collect()
}

/// The cached embeddings of the first `frames` frames, if `path` holds those of these images
/// under these settings.
pub fn load(
    path: &Path,
    settings: &str,
    images: &[LabelledImage],
    frames: usize,
) -> Option<Vec<Embedded>> {
    let file: CacheFile = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let sizes = (file.frames.len(), file.seconds.len());
    if file.settings != settings
        || file.images != paths(images)
        || sizes != (images.len(), images.len())
    {
        return None;
    }
    let embedding = |values: &Vec<f32>| {
        let raw: [f32; EMBEDDING_DIM] = values.as_slice().try_into().ok()?;
        Embedding::from_raw(raw)
    };
    file.frames
        .iter()
        .zip(&file.seconds)
        .map(|(cached, &seconds)| {
            let wanted = frames.max(1);
            if cached.len() < wanted {
                return None;
            }
            let share = seconds * wanted as f64 / cached.len() as f64;
            let frames = cached[..wanted].iter().map(|frame| match frame {
                None => Some(None),
                Some(values) => embedding(values).map(Some),
            });
            Some(Embedded::from_frames(frames.collect::<Option<_>>()?, share))
        })
        .collect()
}

/// Writes the embeddings of these images under these settings.
pub fn save(
    path: &Path,
    settings: &str,
    images: &[LabelledImage],
    embedded: &[Embedded],
) -> std::io::Result<()> {
    let file = CacheFile {
        settings: settings.to_owned(),
        images: paths(images),
        frames: embedded
            .iter()
            .map(|e| e.frames.iter().map(|f| f.as_ref().map(|e| e.as_slice().to_vec())).collect())
            .collect(),
        seconds: embedded.iter().map(|e| e.seconds).collect(),
    };
    std::fs::write(path, serde_json::to_vec(&file)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embeddings_come_back_only_for_the_same_settings_and_images() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache.json");
        let images = vec![
            LabelledImage { identity: "a".into(), path: "a/1.jpg".into() },
            LabelledImage { identity: "a".into(), path: "a/2.jpg".into() },
        ];
        let mut v = [0f32; EMBEDDING_DIM];
        v[3] = 1.0;
        let e = Embedding::from_raw(v);
        let embedded = vec![
            Embedded::from_frames(vec![e.clone(), None], 1.5),
            Embedded::from_frames(vec![None, None], 0.0),
        ];
        save(&path, "flip", &images, &embedded).unwrap();
        let back = load(&path, "flip", &images, 2).unwrap();
        assert_eq!(back.len(), 2);
        assert!((back[0].photo().unwrap().cosine(e.as_ref().unwrap()) - 1.0).abs() < 1e-6);
        assert!(back[0].frames[1].is_none() && back[1].embedding.is_none());
        assert_eq!(back[0].seconds, 1.5);
        let first = load(&path, "flip", &images, 1).unwrap();
        assert_eq!((first[0].frames.len(), first[0].seconds), (1, 0.75), "the first frame only");
        assert!(load(&path, "flip", &images, 3).is_none(), "fewer frames than asked for");
        assert!(load(&path, "no flip", &images, 2).is_none(), "other settings");
        assert!(load(&path, "flip", &images[..1], 2).is_none(), "other images");
        std::fs::write(&path, b"{ not json").unwrap();
        assert!(load(&path, "flip", &images, 2).is_none(), "a damaged file is ignored");
    }
}
