//! 3×3 convolutions with one pixel of zero padding on every side, stride 1 or 2, on channel-
//! major planes (NCHW, one image): YuNet's and SFace's depthwise layers and YuNet's first layer.
//!
//! Each input channel is first copied once into a padded scratch plane (for stride 2, each padded
//! row split into its even and odd columns), so that every one of the nine taps of an output row
//! is a contiguous slice of the same length as the row. An output row is then one pass of nine
//! multiply-adds per pixel.

use std::ops::Range;

/// What is applied to each output value after the sum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation<'a> {
    Linear,
    /// `max(y, 0)`.
    Relu,
    /// `y` where `y ≥ 0`, else `slope · y`; one slope per output channel.
    PRelu(&'a [f32]),
}

/// One 3×3 convolution layer: padding 1 on every side, no dilation, `groups` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv3x3 {
    pub in_channels: usize,
    pub out_channels: usize,
    pub groups: usize,
    pub height: usize,
    pub width: usize,
    pub stride: usize,
}

impl Conv3x3 {
    /// Whether [`Conv3x3::run`] computes this layer.
    pub fn is_supported(&self) -> bool {
        matches!(self.stride, 1 | 2)
            && self.height >= 1
            && self.width >= 1
            && self.groups >= 1
            && self.in_channels > 0
            && self.in_channels.is_multiple_of(self.groups)
            && self.out_channels.is_multiple_of(self.groups)
            && self.out_channels > 0
    }

    pub fn out_height(&self) -> usize {
        (self.height - 1) / self.stride + 1
    }

    pub fn out_width(&self) -> usize {
        (self.width - 1) / self.stride + 1
    }

    /// Pixels in one output plane.
    pub fn out_plane(&self) -> usize {
        self.out_height() * self.out_width()
    }

    /// Computes the output channels `channels` into `out`, their planes one after the other.
    /// `weights` is `[out_channels][in_channels / groups][3][3]`, `bias` one value per output
    /// channel, then `activation`.
    ///
    /// # Panics
    /// If the layer is not supported or a slice's length does not fit the layer.
    pub fn run(
        &self,
        input: &[f32],
        weights: &[f32],
        bias: &[f32],
        activation: Activation,
        channels: Range<usize>,
        out: &mut [f32],
    ) {
        assert!(self.is_supported(), "unsupported 3×3 convolution {self:?}");
        assert_eq!(input.len(), self.in_channels * self.height * self.width, "input");
        assert_eq!(weights.len(), self.out_channels * self.in_channels / self.groups * 9);
        assert_eq!(bias.len(), self.out_channels, "bias");
        assert!(channels.end <= self.out_channels, "channels");
        if let Activation::PRelu(slopes) = activation {
            assert_eq!(slopes.len(), self.out_channels, "slopes");
        }
        assert_eq!(out.len(), channels.len() * self.out_plane(), "output");
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has AVX2 and FMA, checked just above.
            return unsafe { self.run_avx2_fma(input, weights, bias, activation, channels, out) };
        }
        // Every aarch64 CPU (the Pi's) has fused multiply-add; an x86_64 one without it would
        // call a library function for each.
        const FUSED: bool = cfg!(target_arch = "aarch64");
        self.run_inlined::<FUSED>(input, weights, bias, activation, channels, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn run_avx2_fma(
        &self,
        input: &[f32],
        weights: &[f32],
        bias: &[f32],
        activation: Activation,
        channels: Range<usize>,
        out: &mut [f32],
    ) {
        self.run_inlined::<true>(input, weights, bias, activation, channels, out)
    }

    /// The whole computation, inlined into each entry point so that it is compiled for that
    /// entry point's instruction set; `FUSED` multiply-adds round once instead of twice.
    #[inline(always)]
    fn run_inlined<const FUSED: bool>(
        &self,
        input: &[f32],
        weights: &[f32],
        bias: &[f32],
        activation: Activation,
        channels: Range<usize>,
        out: &mut [f32],
    ) {
        if channels.is_empty() {
            return;
        }
        let (in_group, out_group) =
            (self.in_channels / self.groups, self.out_channels / self.groups);
        let (out_height, out_width) = (self.out_height(), self.out_width());
        let plane = self.height * self.width;
        let padded = Padded::new(self);
        let mut scratch = vec![0.0; in_group * padded.len()];
        for group in channels.start / out_group..=(channels.end - 1) / out_group {
            let group_input = &input[group * in_group * plane..][..in_group * plane];
            for (source, target) in
                group_input.chunks_exact(plane).zip(scratch.chunks_exact_mut(padded.len()))
            {
                padded.fill(source, target);
            }
            let outputs =
                channels.start.max(group * out_group)..channels.end.min((group + 1) * out_group);
            for y in 0..out_height {
                for channel in outputs.clone() {
                    let first = (channel - channels.start) * out_height * out_width;
                    let row = &mut out[first + y * out_width..][..out_width];
                    let kernels = &weights[channel * in_group * 9..][..in_group * 9];
                    for (input_channel, kernel) in kernels.chunks_exact(9).enumerate() {
                        let taps = padded.taps(&scratch[input_channel * padded.len()..], y);
                        let start = (input_channel == 0).then_some(bias[channel]);
                        nine_taps::<FUSED>(row, &taps, kernel, start);
                    }
                    match activation {
                        Activation::Linear => {}
                        Activation::Relu => row.iter_mut().for_each(|v| *v = v.max(0.0)),
                        Activation::PRelu(slopes) => {
                            let slope = slopes[channel];
                            row.iter_mut()
                                .for_each(|v| *v = if *v < 0.0 { *v * slope } else { *v });
                        }
                    }
                }
            }
        }
    }
}

/// The padded scratch layout of one input channel.
struct Padded {
    height: usize,
    width: usize,
    stride: usize,
    out_width: usize,
    /// Floats per padded row: `width + 2`, or for stride 2 the even columns (`out_width + 1`)
    /// then the odd ones (`out_width`).
    row: usize,
}

impl Padded {
    fn new(layer: &Conv3x3) -> Self {
        let out_width = layer.out_width();
        let row = match layer.stride {
            1 => layer.width + 2,
            _ => 2 * out_width + 1,
        };
        Self { height: layer.height, width: layer.width, stride: layer.stride, out_width, row }
    }

    /// Floats of one channel's scratch plane.
    fn len(&self) -> usize {
        (self.height + 2) * self.row
    }

    /// Copies one input plane into `target` with a zero border.
    #[inline(always)]
    fn fill(&self, source: &[f32], target: &mut [f32]) {
        target[..self.row].fill(0.0);
        target[(self.height + 1) * self.row..].fill(0.0);
        for (source, target) in
            source.chunks_exact(self.width).zip(target[self.row..].chunks_exact_mut(self.row))
        {
            if self.stride == 1 {
                target[0] = 0.0;
                target[1..=self.width].copy_from_slice(source);
                target[self.width + 1] = 0.0;
            } else {
                // Padded column 2j is even[j], 2j + 1 is odd[j]; padded column 0 is the border,
                // so source column 2j is odd[j] and 2j + 1 is even[j + 1].
                let (even, odd) = target.split_at_mut(self.out_width + 1);
                even.fill(0.0);
                for ((pair, odd), even) in
                    source.chunks_exact(2).zip(odd.iter_mut()).zip(even[1..].iter_mut())
                {
                    *odd = pair[0];
                    *even = pair[1];
                }
                if !self.width.is_multiple_of(2) {
                    odd[self.width / 2] = source[self.width - 1];
                }
            }
        }
    }

    /// The nine tap rows of output row `y`, each `out_width` long, in kernel order.
    #[inline(always)]
    fn taps<'a>(&self, plane: &'a [f32], y: usize) -> [&'a [f32]; 9] {
        // Offsets of taps dx = 0, 1, 2 in a padded row.
        let columns = match self.stride {
            1 => [0, 1, 2],
            _ => [0, self.out_width + 1, 1],
        };
        std::array::from_fn(|tap| {
            let row = y * self.stride + tap / 3;
            &plane[row * self.row + columns[tap % 3]..][..self.out_width]
        })
    }
}

/// `row[x] = start + Σ kernel[t]·taps[t][x]` when `start` is given, else `row[x] += Σ …`.
#[inline(always)]
fn nine_taps<const FUSED: bool>(
    row: &mut [f32],
    taps: &[&[f32]; 9],
    kernel: &[f32],
    start: Option<f32>,
) {
    let n = row.len();
    let k: [f32; 9] = kernel.try_into().expect("nine weights");
    let [t0, t1, t2, t3, t4, t5, t6, t7, t8] = taps.map(|t| &t[..n]);
    let madd = |acc: f32, k: f32, x: f32| if FUSED { k.mul_add(x, acc) } else { acc + k * x };
    for x in 0..n {
        // One sum per kernel row, so that three short chains of multiply-adds run side by side.
        let top = madd(madd(k[0] * t0[x], k[1], t1[x]), k[2], t2[x]);
        let middle = madd(madd(k[3] * t3[x], k[4], t4[x]), k[5], t5[x]);
        let bottom = madd(madd(k[6] * t6[x], k[7], t7[x]), k[8], t8[x]);
        row[x] = start.unwrap_or(row[x]) + top + middle + bottom;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook definition, one output value at a time.
    fn reference(
        layer: &Conv3x3,
        input: &[f32],
        weights: &[f32],
        bias: &[f32],
        activation: Activation,
    ) -> Vec<f32> {
        let (h, w, s) = (layer.height as isize, layer.width as isize, layer.stride as isize);
        let in_group = layer.in_channels / layer.groups;
        let out_group = layer.out_channels / layer.groups;
        let mut out = Vec::new();
        for co in 0..layer.out_channels {
            let group = co / out_group;
            for y in 0..layer.out_height() as isize {
                for x in 0..layer.out_width() as isize {
                    let mut sum = bias[co];
                    for ci in 0..in_group {
                        let plane = (group * in_group + ci) * (h * w) as usize;
                        for dy in 0..3 {
                            for dx in 0..3 {
                                let (iy, ix) = (y * s + dy - 1, x * s + dx - 1);
                                if (0..h).contains(&iy) && (0..w).contains(&ix) {
                                    let k = weights
                                        [((co * in_group + ci) * 9) + (dy * 3 + dx) as usize];
                                    sum += k * input[plane + (iy * w + ix) as usize];
                                }
                            }
                        }
                    }
                    out.push(match activation {
                        Activation::Linear => sum,
                        Activation::Relu => sum.max(0.0),
                        Activation::PRelu(slopes) if sum < 0.0 => sum * slopes[co],
                        Activation::PRelu(_) => sum,
                    });
                }
            }
        }
        out
    }

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 * 0.37 + seed).sin() * 1.7).round() / 4.0).collect()
    }

    fn check(layer: Conv3x3, activation: Activation) {
        let input = values(layer.in_channels * layer.height * layer.width, 0.1);
        let weights = values(layer.out_channels * layer.in_channels / layer.groups * 9, 0.7);
        let bias = values(layer.out_channels, 2.0);
        let expected = reference(&layer, &input, &weights, &bias, activation);
        let mut out = vec![f32::NAN; expected.len()];
        layer.run(&input, &weights, &bias, activation, 0..layer.out_channels, &mut out);
        assert_eq!(out, expected, "{layer:?}");
        // Any channel range gives the same planes as the whole run.
        let plane = layer.out_plane();
        for start in 0..layer.out_channels {
            let end = (start + 2).min(layer.out_channels);
            let mut part = vec![f32::NAN; (end - start) * plane];
            layer.run(&input, &weights, &bias, activation, start..end, &mut part);
            assert_eq!(part, expected[start * plane..end * plane], "{layer:?} {start}..{end}");
        }
    }

    #[test]
    fn matches_the_definition_for_odd_and_even_sizes_both_strides_and_all_groupings() {
        // Values are multiples of 1/4 with small sums, so every order of addition is exact.
        for (height, width) in [(1, 1), (1, 5), (2, 2), (3, 7), (6, 4), (7, 7), (8, 13)] {
            for stride in [1, 2] {
                for (in_channels, out_channels, groups) in [(3, 4, 1), (4, 4, 4), (4, 8, 2)] {
                    let layer =
                        Conv3x3 { in_channels, out_channels, groups, height, width, stride };
                    check(layer, Activation::Linear);
                }
            }
        }
    }

    #[test]
    fn applies_the_activation_to_each_output_value() {
        let layer =
            Conv3x3 { in_channels: 4, out_channels: 8, groups: 2, height: 6, width: 9, stride: 1 };
        let slopes: Vec<f32> = (0..8).map(|c| c as f32 * 0.25 - 1.0).collect();
        for activation in [Activation::Relu, Activation::PRelu(&slopes)] {
            for stride in [1, 2] {
                check(Conv3x3 { stride, ..layer }, activation);
            }
        }
    }

    #[test]
    fn refuses_what_it_does_not_compute() {
        let layer =
            Conv3x3 { in_channels: 4, out_channels: 4, groups: 4, height: 5, width: 5, stride: 1 };
        assert!(layer.is_supported());
        assert!(!Conv3x3 { stride: 3, ..layer }.is_supported());
        assert!(!Conv3x3 { groups: 3, ..layer }.is_supported());
        assert!(!Conv3x3 { height: 0, ..layer }.is_supported());
        assert!(!Conv3x3 { in_channels: 0, groups: 1, ..layer }.is_supported());
    }
}
