//! 2×2 max pooling with stride 2 on channel-major planes of even height and width (YuNet's four
//! pools): each output row is one pass over the two input rows it covers.

/// Writes the largest value of each 2×2 block of the `height`×`width` planes of `input` to the
/// halved planes of `out`.
///
/// # Panics
/// If a side is odd or zero, or the slices do not hold whole planes of the same count.
pub fn max_pool_2x2(input: &[f32], height: usize, width: usize, out: &mut [f32]) {
    assert!(height > 0 && width > 0 && height.is_multiple_of(2) && width.is_multiple_of(2));
    assert!(input.len().is_multiple_of(height * width), "whole planes");
    assert_eq!(out.len() * 4, input.len(), "halved planes");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { pool_avx2(input, width, out) };
    }
    pool(input, width, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pool_avx2(input: &[f32], width: usize, out: &mut [f32]) {
    pool(input, width, out)
}

/// Planes need no separate walk: with an even height, rows pair up across the whole input.
#[inline(always)]
fn pool(input: &[f32], width: usize, out: &mut [f32]) {
    for (rows, out) in input.chunks_exact(2 * width).zip(out.chunks_exact_mut(width / 2)) {
        let (top, bottom) = rows.split_at(width);
        for ((out, top), bottom) in
            out.iter_mut().zip(top.chunks_exact(2)).zip(bottom.chunks_exact(2))
        {
            *out = top[0].max(top[1]).max(bottom[0].max(bottom[1]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_output_is_the_largest_of_its_block() {
        let (channels, height, width) = (3, 4, 6);
        let input: Vec<f32> =
            (0..channels * height * width).map(|i| ((i * 37) % 23) as f32 - 11.0).collect();
        let mut out = vec![f32::NAN; input.len() / 4];
        max_pool_2x2(&input, height, width, &mut out);
        let at = |c: usize, y: usize, x: usize| input[(c * height + y) * width + x];
        let mut expected = Vec::new();
        for c in 0..channels {
            for y in 0..height / 2 {
                for x in 0..width / 2 {
                    let block = [(0, 0), (0, 1), (1, 0), (1, 1)]
                        .map(|(dy, dx)| at(c, 2 * y + dy, 2 * x + dx));
                    expected.push(block.into_iter().fold(f32::MIN, f32::max));
                }
            }
        }
        assert_eq!(out, expected);
    }

    #[test]
    #[should_panic]
    fn odd_sides_are_refused() {
        max_pool_2x2(&[0.0; 9], 3, 3, &mut [0.0; 2]);
    }
}
