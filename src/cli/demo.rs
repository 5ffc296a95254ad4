//! `facegate demo`: the face path on sample photos, until the simulated gate (`run --sim`)
//! lands. A few identities of a photo folder are enrolled from their first photos (in memory
//! only); every other photo then comes to the door as a camera frame and gets the decision the
//! gate would give, with the quality gate's guidance when the face is not usable.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

use crate::config::Config;
use crate::vision::evaluation::{LabelledImage, scan};
use crate::vision::{Embedding, FacePipeline, Frame};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder of `<identity>/<image>` photos.
    #[arg(long)]
    pub dataset: PathBuf,
    /// How many identities become residents.
    #[arg(long, default_value_t = 6)]
    pub residents: usize,
    /// Photos fused into each resident's enrolment.
    #[arg(long, default_value_t = 2)]
    pub enrol_photos: usize,
    /// At most this many photos come to the door.
    #[arg(long, default_value_t = 60)]
    pub visitors: usize,
    /// Decision threshold (cosine); 0.42 is FMR ≈ 1e-4 on the dev set.
    #[arg(long, default_value_t = 0.42)]
    pub threshold: f32,
}

pub fn run(args: Args, config: &Config) -> anyhow::Result<()> {
    let images =
        scan(&args.dataset).with_context(|| format!("cannot read {}", args.dataset.display()))?;
    let mut pipeline = FacePipeline::load(&config.paths.models, &config.vision)?;
    let mut identities: Vec<&str> = images.iter().map(|i| i.identity.as_str()).collect();
    identities.dedup();

    let mut residents: Vec<(String, Embedding)> = Vec::new();
    let mut visitors: Vec<&LabelledImage> = Vec::new();
    for identity in &identities {
        let photos: Vec<&LabelledImage> =
            images.iter().filter(|i| i.identity == *identity).collect();
        let enrolled = residents.len() < args.residents && photos.len() > args.enrol_photos;
        if !enrolled {
            visitors.extend(photos);
            continue;
        }
        let good: Vec<Embedding> = photos[..args.enrol_photos]
            .iter()
            .filter_map(|p| pipeline.embed_image_file(&p.path).ok())
            .collect();
        match Embedding::mean(&good) {
            Some(template) if good.len() == args.enrol_photos => {
                println!("enrolled  {identity} from {} photos", good.len());
                residents.push((identity.to_string(), template));
                visitors.extend(&photos[args.enrol_photos..]);
            }
            _ => visitors.extend(photos),
        }
    }
    visitors.truncate(args.visitors);
    println!(
        "{} residents enrolled (in memory only); {} photos come to the door\n",
        residents.len(),
        visitors.len()
    );

    let (mut granted_right, mut granted_wrong, mut denied_resident, mut unusable) = (0, 0, 0, 0);
    for visitor in visitors {
        let Ok(frame) = Frame::open(&visitor.path) else { continue };
        let start = Instant::now();
        let analysis = pipeline.analyze(&frame)?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        let name = visitor.path.strip_prefix(&args.dataset).unwrap_or(&visitor.path).display();
        let probe = match analysis.outcome {
            Ok(probe) => probe,
            Err(issue) => {
                unusable += 1;
                println!("{name:40} not usable: {} ({ms:.0} ms)", issue.guidance());
                continue;
            }
        };
        let best = residents
            .iter()
            .map(|(who, template)| (who, template.cosine(&probe)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let is_resident = residents.iter().any(|(who, _)| *who == visitor.identity);
        match best {
            Some((who, score)) if score >= args.threshold => {
                let right = *who == visitor.identity;
                if right {
                    granted_right += 1
                } else {
                    granted_wrong += 1
                }
                let verdict = if right { "" } else { "  <- FALSE ACCEPT" };
                println!("{name:40} GRANTED {who} (score {score:.2}, {ms:.0} ms){verdict}");
            }
            best => {
                if is_resident {
                    denied_resident += 1;
                }
                let score = best.map_or(f32::NAN, |b| b.1);
                println!(
                    "{name:40} denied: not recognised (best {score:.2}, {ms:.0} ms): offer PIN or card"
                );
            }
        }
    }
    println!(
        "\nresidents let in: {granted_right}, residents turned to PIN/card: {denied_resident}, \
         false accepts: {granted_wrong}, photos not usable (quality gate): {unusable}"
    );
    Ok(())
}
