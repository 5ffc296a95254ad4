//! 1:N identification and 1:1 verification over the enrolled, protected templates.
//!
//! Each template's transform is derived once when the gallery is loaded and kept in memory
//! (never on disk); a probe is transformed per template (O(d log d)) and compared with a dot
//! product. Raw embeddings are never held for the gallery: DESIGN.md's faster alternative
//! (inverting all templates at load) is not used.

use super::{ProtectedTemplate, TemplateKey, Transform};
use crate::vision::{Embedding, dot};

/// Galleries at least this large are scored on several threads.
const PARALLEL_FROM: usize = 2_048;

/// One loaded template.
pub struct GalleryEntry {
    pub template_id: i64,
    pub resident_id: i64,
    transform: Transform,
    vector: super::Vector,
}

/// The outcome of a 1:N search.
#[derive(Debug, Clone, PartialEq)]
pub enum Identification {
    /// One resident matched clearly.
    Match { resident_id: i64, template_id: i64, score: f32 },
    /// Nobody reached the threshold, or two residents were too close to tell apart.
    Unknown { best: Option<f32> },
}

/// All active templates, ready to match.
#[derive(Default)]
pub struct Gallery {
    entries: Vec<GalleryEntry>,
}

impl Gallery {
    /// Adds a stored template.
    pub fn insert(
        &mut self,
        key: &TemplateKey,
        template_id: i64,
        resident_id: i64,
        template: &ProtectedTemplate,
    ) {
        self.entries.push(GalleryEntry {
            template_id,
            resident_id,
            transform: key.transform(&template.salt),
            vector: template.vector,
        });
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many residents have at least one template (what the 1:N threshold follows).
    pub fn residents(&self) -> usize {
        let mut ids: Vec<i64> = self.entries.iter().map(|e| e.resident_id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.len()
    }

    /// The score of every template, in gallery order. Large galleries are split across the
    /// CPU's cores (a 10k gallery takes ~20 ms on one x86 core, each template costing one
    /// probe transform).
    fn scores(&self, probe: &Embedding) -> Vec<f32> {
        let score = |e: &GalleryEntry| dot(&e.vector, &e.transform.apply(probe.as_slice()));
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        if threads == 1 || self.entries.len() < PARALLEL_FROM {
            return self.entries.iter().map(score).collect();
        }
        let chunk = self.entries.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let parts: Vec<_> = self
                .entries
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().map(score).collect::<Vec<f32>>()))
                .collect();
            parts.into_iter().flat_map(|p| p.join().expect("scoring does not panic")).collect()
        })
    }

    /// Who the probe is: the best resident if at or above `threshold` and ahead of the next
    /// resident by at least `margin`.
    pub fn identify(&self, probe: &Embedding, threshold: f32, margin: f32) -> Identification {
        // Best score per resident: (resident, template, score), best first.
        let mut best: Option<(i64, i64, f32)> = None;
        let mut second: Option<f32> = None;
        for (entry, score) in self.entries.iter().zip(self.scores(probe)) {
            match best {
                Some((resident, _, top)) if resident == entry.resident_id => {
                    if score > top {
                        best = Some((resident, entry.template_id, score));
                    }
                }
                Some((_, _, top)) if score > top => {
                    second = Some(top.max(second.unwrap_or(f32::MIN)));
                    best = Some((entry.resident_id, entry.template_id, score));
                }
                Some(_) => second = Some(score.max(second.unwrap_or(f32::MIN))),
                None => best = Some((entry.resident_id, entry.template_id, score)),
            }
        }
        match best {
            Some((resident_id, template_id, score))
                if score >= threshold && second.is_none_or(|s| score - s >= margin) =>
            {
                Identification::Match { resident_id, template_id, score }
            }
            best => Identification::Unknown { best: best.map(|b| b.2) },
        }
    }

    /// The resident other than `except` whose template scores highest against the probe, and
    /// that score (the duplicate check before an enrolment).
    pub fn closest_other(&self, probe: &Embedding, except: i64) -> Option<(i64, f32)> {
        self.entries
            .iter()
            .zip(self.scores(probe))
            .filter(|(e, _)| e.resident_id != except)
            .map(|(e, score)| (e.resident_id, score))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// 1:1: the best score of one claimed resident's templates, if they have any.
    pub fn verify(&self, resident_id: i64, probe: &Embedding) -> Option<f32> {
        self.entries
            .iter()
            .filter(|e| e.resident_id == resident_id)
            .map(|e| dot(&e.vector, &e.transform.apply(probe.as_slice())))
            .max_by(f32::total_cmp)
    }
}

/// The highest score between templates of different residents, per pair of residents,
/// highest first: how close the enrolled residents are to each other (`admin calibrate`).
/// Only [`super::closest_pairs`] hands it raw embeddings.
pub(super) fn closest_pairs(embeddings: &[(i64, Embedding)]) -> Vec<(i64, i64, f32)> {
    let mut pairs = Vec::new();
    for (i, (a, ea)) in embeddings.iter().enumerate() {
        for (b, eb) in &embeddings[i + 1..] {
            if a != b {
                pairs.push((*a.min(b), *a.max(b), ea.cosine(eb)));
            }
        }
    }
    pairs.sort_by(|x, y| y.2.total_cmp(&x.2));
    let mut seen = std::collections::HashSet::new();
    pairs.retain(|&(a, b, _)| seen.insert((a, b)));
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KEY_LEN, SiteKey};
    use crate::vision::EMBEDDING_DIM;

    fn axis(i: usize, tilt: f32) -> Embedding {
        let mut v = [0f32; EMBEDDING_DIM];
        v[i] = 1.0;
        v[(i + 1) % EMBEDDING_DIM] = tilt;
        Embedding::from_raw(v).unwrap()
    }

    fn gallery(key: &TemplateKey, people: &[(i64, Embedding)]) -> Gallery {
        let mut g = Gallery::default();
        for (n, (resident, e)) in people.iter().enumerate() {
            g.insert(key, n as i64, *resident, &ProtectedTemplate::protect(key, e));
        }
        g
    }

    #[test]
    fn identifies_the_right_resident_and_says_unknown_otherwise() {
        let key = TemplateKey::from_site(&SiteKey::from_bytes([5; KEY_LEN]));
        let g = gallery(&key, &[(10, axis(0, 0.0)), (10, axis(0, 0.3)), (20, axis(5, 0.0))]);
        match g.identify(&axis(0, 0.1), 0.5, 0.05) {
            Identification::Match { resident_id, score, .. } => {
                assert_eq!(resident_id, 10);
                assert!(score > 0.99);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(g.identify(&axis(9, 0.0), 0.5, 0.05), Identification::Unknown { .. }));
        assert_eq!((g.len(), g.residents()), (3, 2), "two templates of resident 10 count once");
        assert!(g.verify(20, &axis(5, 0.0)).unwrap() > 0.99);
        assert!(g.verify(20, &axis(0, 0.0)).unwrap() < 0.1);
        assert_eq!(g.verify(30, &axis(0, 0.0)), None);
    }

    #[test]
    fn two_residents_too_close_to_tell_apart_is_unknown() {
        let key = TemplateKey::from_site(&SiteKey::from_bytes([5; KEY_LEN]));
        let g = gallery(&key, &[(1, axis(0, 0.05)), (2, axis(0, -0.05))]);
        let probe = axis(0, 0.0);
        assert!(matches!(g.identify(&probe, 0.5, 0.05), Identification::Unknown { best: Some(_) }));
        assert!(matches!(g.identify(&probe, 0.5, 0.0), Identification::Match { .. }));
    }

    #[test]
    fn a_large_gallery_scored_in_parallel_finds_the_same_resident() {
        let key = TemplateKey::from_site(&SiteKey::from_bytes([5; KEY_LEN]));
        let people: Vec<(i64, Embedding)> = (0..3_000)
            .map(|i| (i as i64, axis(i % EMBEDDING_DIM, (i / EMBEDDING_DIM) as f32 * 0.5)))
            .collect();
        let g = gallery(&key, &people);
        let probe = axis(7, 2.0);
        match g.identify(&probe, 0.9, 0.0) {
            Identification::Match { resident_id, .. } => {
                assert_eq!(resident_id, 7 + 4 * EMBEDDING_DIM as i64)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn closest_pairs_lists_each_pair_of_residents_once() {
        let people = [(1, axis(0, 0.0)), (1, axis(0, 0.2)), (2, axis(0, 0.5)), (3, axis(9, 0.0))];
        let pairs = closest_pairs(&people);
        assert_eq!(pairs.len(), 3);
        assert_eq!((pairs[0].0, pairs[0].1), (1, 2));
    }
}
