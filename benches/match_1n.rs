//! 1:N identification time over galleries of 1k, 10k and 100k protected templates.
//! Run: `cargo bench --bench match_1n`. Targets on a 2-core x86_64: < 20 ms at 10k, < 200 ms
//! at 100k.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use facegate::keys::{KEY_LEN, SiteKey};
use facegate::templates::{Gallery, ProtectedTemplate, TemplateKey};
use facegate::vision::{EMBEDDING_DIM, Embedding};
use rand::{RngExt, SeedableRng};

fn random_face(rng: &mut rand_chacha::ChaCha8Rng) -> Embedding {
    Embedding::from_raw(std::array::from_fn::<f32, EMBEDDING_DIM, _>(|_| rng.random::<f32>() - 0.5))
        .expect("non-zero")
}

fn match_1n(c: &mut Criterion) {
    let key = TemplateKey::from_site(&SiteKey::from_bytes([1; KEY_LEN]));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let probe = random_face(&mut rng);
    let mut group = c.benchmark_group("identify");
    group.sample_size(10);
    for size in [1_000usize, 10_000, 100_000] {
        let mut gallery = Gallery::default();
        for id in 0..size as i64 {
            gallery.insert(&key, id, id, &ProtectedTemplate::protect(&key, &random_face(&mut rng)));
        }
        group.bench_with_input(BenchmarkId::from_parameter(size), &gallery, |b, g| {
            b.iter(|| g.identify(&probe, 0.42, 0.05))
        });
    }
    group.finish();
}

criterion_group!(benches, match_1n);
criterion_main!(benches);
