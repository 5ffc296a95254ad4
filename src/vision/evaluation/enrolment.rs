//! `eval`'s enrolment protocol: residents enrolled from several photos, as `admin enrol` does,
//! and probed by the gate's session embedding.
//!
//! Each identity is enrolled in turn from disjoint groups of `photos` of its images (group g:
//! its images g·k … g·k + k − 1 in sorted order; a group needs all k, and at least one image of
//! the identity left to probe with). Every group is one enrolment: its genuine comparisons are
//! the identity's other images, its impostor comparisons every image of another identity in the
//! same block. The gallery side takes each photo's own embedding (one frame, as `admin enrol`
//! embeds a photo); the probe side the session's fused embedding. An image without a face
//! leaves its enrolment without it; an enrolment without any face, or a probe without one,
//! scores −∞.

use serde::Serialize;

use super::metrics::Scores;
use super::{Embedded, LabelledImage, PairingOptions, Sampler, impostors};
use crate::vision::Embedding;

/// What the gallery keeps of one enrolment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GalleryKind {
    /// One template: the photos' embeddings averaged (what `admin enrol` stores).
    Averaged,
    /// One template per photo; a probe's score is its best.
    EachPhoto,
}

/// One enrolment: whose it is, which images it took, and its templates.
struct Enrolment {
    identity: usize,
    members: Vec<usize>,
    templates: Vec<Embedding>,
}

impl Enrolment {
    fn score(&self, probe: Option<&Embedding>) -> f32 {
        let Some(probe) = probe else { return f32::NEG_INFINITY };
        self.templates.iter().map(|t| t.cosine(probe)).fold(f32::NEG_INFINITY, f32::max)
    }
}

/// The images of each identity, by index, in the (sorted) order of `images`.
fn groups(images: &[LabelledImage]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, image) in images.iter().enumerate() {
        match groups.last_mut() {
            Some(group) if images[group[0]].identity == image.identity => group.push(i),
            _ => groups.push(vec![i]),
        }
    }
    groups
}

fn enrolments(
    identities: &[Vec<usize>],
    embedded: &[Embedded],
    photos: usize,
    kind: GalleryKind,
) -> Vec<Enrolment> {
    let photos = photos.max(1);
    let mut out = Vec::new();
    for (identity, images) in identities.iter().enumerate() {
        if images.len() <= photos {
            continue;
        }
        for members in images.chunks_exact(photos) {
            let found: Vec<Embedding> =
                members.iter().filter_map(|&i| embedded[i].photo()).cloned().collect();
            let templates = match kind {
                GalleryKind::Averaged => Embedding::mean(&found).into_iter().collect(),
                GalleryKind::EachPhoto => found,
            };
            out.push(Enrolment { identity, members: members.to_vec(), templates });
        }
    }
    out
}

/// Scores every enrolment against every probe image; returns the scores, how impostors were
/// paired, and the number of enrolments.
pub fn score_enrolled(
    images: &[LabelledImage],
    embedded: &[Embedded],
    photos: usize,
    kind: GalleryKind,
    options: PairingOptions,
) -> (Scores, String, usize) {
    let identities = groups(images);
    let enrolled = enrolments(&identities, embedded, photos, kind);
    let name = |e: &Enrolment| images[identities[e.identity][0]].identity.as_str();
    let is_impostor = |e: &Enrolment, j: usize| impostors(name(e), &images[j].identity);
    let total: usize =
        enrolled.iter().map(|e| (0..images.len()).filter(|&j| is_impostor(e, j)).count()).sum();
    let mut sampler = Sampler::new(images, total, options);
    let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
    for enrolment in &enrolled {
        for j in 0..images.len() {
            let probe = embedded[j].embedding.as_ref();
            if images[j].identity == name(enrolment) {
                if !enrolment.members.contains(&j) {
                    genuine.push(enrolment.score(probe));
                }
            } else if is_impostor(enrolment, j) && sampler.take() {
                impostor.push(enrolment.score(probe));
            }
        }
    }
    let pairing = sampler.pairing(impostor.len(), total);
    (Scores::new(genuine, impostor), pairing, enrolled.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::EMBEDDING_DIM;
    use std::path::PathBuf;

    /// A unit embedding along `axis`, tilted towards the next axis.
    fn along(axis: usize, tilt: f32) -> Option<Embedding> {
        let mut v = [0f32; EMBEDDING_DIM];
        v[axis] = 1.0;
        v[axis + 1] = tilt;
        Embedding::from_raw(v)
    }

    fn dataset(people: &[(&str, Vec<Option<Embedding>>)]) -> (Vec<LabelledImage>, Vec<Embedded>) {
        let mut images = Vec::new();
        let mut embedded = Vec::new();
        for (identity, photos) in people {
            for photo in photos {
                images.push(LabelledImage { identity: (*identity).into(), path: PathBuf::new() });
                embedded.push(Embedded::from_frames(vec![photo.clone()], 0.0));
            }
        }
        (images, embedded)
    }

    #[test]
    fn groups_of_photos_enrol_and_the_rest_probe() {
        // a: 5 photos → groups {0,1} and {2,3}, each probed by the other 3 of a's photos.
        // b: 2 photos → no group (nothing would be left to probe with), but b's photos probe a.
        let a: Vec<_> = (0..5).map(|i| along(0, i as f32 * 0.1)).collect();
        let b = vec![along(10, 0.0), along(10, 0.2)];
        let (images, embedded) = dataset(&[("a", a), ("b", b)]);
        let options = PairingOptions::default();
        let (scores, pairing, enrolments) =
            score_enrolled(&images, &embedded, 2, GalleryKind::Averaged, options);
        assert_eq!(enrolments, 2);
        assert_eq!(scores.genuine_pairs(), 6);
        assert_eq!(scores.impostor_pairs(), 4, "each of a's groups against b's two photos");
        assert_eq!(pairing, "all identities");
        assert_eq!(scores.at(0.9).fnmr, 0.0, "a's photos all lie near a's template");
        assert_eq!(scores.at(0.1).fmr, 0.0);
    }

    #[test]
    fn each_photo_scores_the_best_template_and_averaging_blurs_two_looks() {
        // Two looks of one person (axes 0 and 2): the averaged template sits between them.
        let looks = vec![along(0, 0.0), along(2, 0.0), along(0, 0.1)];
        let (images, embedded) = dataset(&[("a", looks)]);
        let options = PairingOptions::default();
        let (each, _, _) = score_enrolled(&images, &embedded, 2, GalleryKind::EachPhoto, options);
        let (mean, _, _) = score_enrolled(&images, &embedded, 2, GalleryKind::Averaged, options);
        assert_eq!(each.genuine_pairs(), 1);
        assert_eq!(each.at(0.99).fnmr, 0.0, "the probe matches its own look's template");
        assert_eq!(mean.at(0.99).fnmr, 1.0, "but not the average of both looks");
        assert_eq!(mean.at(0.7).fnmr, 0.0);
    }

    #[test]
    fn enrolment_without_a_face_and_probes_without_one_are_rejections() {
        let (images, embedded) = dataset(&[("a", vec![None, None, along(0, 0.0), None])]);
        let options = PairingOptions::default();
        let (scores, _, enrolments) =
            score_enrolled(&images, &embedded, 2, GalleryKind::Averaged, options);
        assert_eq!(enrolments, 2);
        // Group {0,1} has no face: both its probes fail. Group {2,3}: probe 0 and 1 have none.
        assert_eq!(scores.genuine_pairs(), 4);
        assert_eq!(scores.at(-1.0).fnmr, 1.0);
    }
}
