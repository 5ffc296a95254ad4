//! Wiegand 26 and 34 bit readers on two GPIO inputs: a pulse on D0 is a 0, on D1 a 1; a frame
//! ends after a gap. The first bit is even parity over the first half of the data, the last
//! bit odd parity over the second half.

use super::ReaderError;
use crate::credentials::CardUid;

/// A gap this long (microseconds) ends a frame; bits come every ~2 ms within one.
pub const FRAME_GAP_MICROS: u64 = 25_000;
/// More bits than this is noise, not a card.
const MAX_BITS: usize = 64;

/// Collects pulses into frames.
#[derive(Default)]
pub struct WiegandDecoder {
    bits: Vec<bool>,
    last_pulse: Option<u64>,
}

impl WiegandDecoder {
    /// A pulse on D1 (`one`) or D0, at `at` microseconds.
    pub fn pulse(&mut self, one: bool, at: u64) -> Option<Result<CardUid, ReaderError>> {
        let finished = self.poll(at);
        if self.bits.len() <= MAX_BITS {
            self.bits.push(one);
        }
        self.last_pulse = Some(at);
        finished
    }

    /// Ends the frame if the line has been quiet long enough at `now`.
    pub fn poll(&mut self, now: u64) -> Option<Result<CardUid, ReaderError>> {
        let quiet =
            self.last_pulse.is_some_and(|last| now.saturating_sub(last) >= FRAME_GAP_MICROS);
        if !quiet || self.bits.is_empty() {
            return None;
        }
        self.last_pulse = None;
        Some(decode(&std::mem::take(&mut self.bits)))
    }
}

/// Checks parity and returns the data bits as bytes (26 bit: 3 bytes, 34 bit: 4 bytes).
pub fn decode(bits: &[bool]) -> Result<CardUid, ReaderError> {
    if bits.len() != 26 && bits.len() != 34 {
        return Err(ReaderError::FrameLength(bits.len()));
    }
    let data = &bits[1..bits.len() - 1];
    let (first, second) = data.split_at(data.len() / 2);
    let ones = |half: &[bool]| half.iter().filter(|&&b| b).count();
    let even_ok = (ones(first) + usize::from(bits[0])) % 2 == 0;
    let odd_ok = (ones(second) + usize::from(bits[bits.len() - 1])) % 2 == 1;
    if !even_ok || !odd_ok {
        return Err(ReaderError::Parity);
    }
    let bytes = data
        .chunks(8)
        .map(|byte| byte.iter().fold(0u8, |acc, &b| acc << 1 | u8::from(b)))
        .collect();
    CardUid::new(bytes).ok_or(ReaderError::Garbled("empty frame"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a valid frame around data bits.
    fn frame(data: &[bool]) -> Vec<bool> {
        let (first, second) = data.split_at(data.len() / 2);
        let even = first.iter().filter(|&&b| b).count() % 2 == 1;
        let odd = second.iter().filter(|&&b| b).count() % 2 == 0;
        std::iter::once(even).chain(data.iter().copied()).chain(std::iter::once(odd)).collect()
    }

    fn bits(value: u64, n: usize) -> Vec<bool> {
        (0..n).rev().map(|i| value >> i & 1 == 1).collect()
    }

    #[test]
    fn recorded_26_bit_frame_decodes() {
        // Facility 18, card 4660, as a standard 26-bit (H10301) reader sends it:
        // 1 00010010 0001001000110100 1
        let recorded = "10001001000010010001101001";
        let bits: Vec<bool> = recorded.chars().map(|c| c == '1').collect();
        assert_eq!(decode(&bits).unwrap().as_bytes(), &[18, 0x12, 0x34]);
    }

    #[test]
    fn thirty_four_bit_frames_and_parity_errors() {
        let good = frame(&bits(0xDEADBEEF, 32));
        assert_eq!(decode(&good).unwrap().as_bytes(), &[0xde, 0xad, 0xbe, 0xef]);
        let mut flipped = good.clone();
        flipped[5] = !flipped[5];
        assert_eq!(decode(&flipped), Err(ReaderError::Parity));
        assert_eq!(decode(&good[..20]), Err(ReaderError::FrameLength(20)));
    }

    #[test]
    fn pulses_become_a_frame_after_the_gap() {
        let mut d = WiegandDecoder::default();
        for (i, bit) in frame(&bits(0x123456, 24)).into_iter().enumerate() {
            assert!(d.pulse(bit, i as u64 * 2_000).is_none());
        }
        assert!(d.poll(60_000).is_none(), "not quiet long enough");
        assert_eq!(d.poll(80_000).unwrap().unwrap().as_bytes(), &[0x12, 0x34, 0x56]);
        assert!(d.poll(200_000).is_none());
    }

    /// Sends `frame` as pulses `gaps` apart (cycling), from `start`; returns the cards decoded
    /// on the way and the time of the last pulse.
    fn send(
        d: &mut WiegandDecoder,
        frame: &[bool],
        gaps: &[u64],
        start: u64,
    ) -> (Vec<Result<CardUid, ReaderError>>, u64) {
        let mut t = start;
        let mut out = vec![];
        for (i, &bit) in frame.iter().enumerate() {
            t += if i == 0 { 0 } else { gaps[i % gaps.len()] };
            out.extend(d.pulse(bit, t));
        }
        (out, t)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        /// Any 26 or 34 bit frame, with any bit timing inside the frame gap, decodes to its data;
        /// one flipped bit is a parity error, never another card.
        #[test]
        fn frames_decode_at_any_bit_timing_and_a_flipped_bit_is_refused(
            long in any::<bool>(), value in any::<u32>(),
            gaps in proptest::collection::vec(50u64..FRAME_GAP_MICROS, 1..8),
            flip in 0usize..34,
        ) {
            let n = if long { 32 } else { 24 };
            let good = frame(&bits(u64::from(value), n));
            let mut d = WiegandDecoder::default();
            let (early, last) = send(&mut d, &good, &gaps, 1_000);
            prop_assert!(early.is_empty(), "no card before the gap");
            let card = d.poll(last + FRAME_GAP_MICROS).expect("the gap ends the frame").unwrap();
            let bytes = value.to_be_bytes();
            prop_assert_eq!(card.as_bytes(), &bytes[4 - n / 8..]);

            let mut bad = good.clone();
            let flip = flip % bad.len();
            bad[flip] = !bad[flip];
            let (_, last) = send(&mut d, &bad, &gaps, last + 2 * FRAME_GAP_MICROS);
            prop_assert_eq!(d.poll(last + FRAME_GAP_MICROS), Some(Err(ReaderError::Parity)));
        }

        /// Noise: pulse trains of other lengths, or a frame cut by a gap, are errors.
        #[test]
        fn wrong_lengths_and_cut_frames_are_errors(
            noise in proptest::collection::vec(any::<bool>(), 1..70)
                .prop_filter("not a frame length", |b| b.len() != 26 && b.len() != 34),
            value in any::<u32>(), cut in 1usize..25,
        ) {
            let mut d = WiegandDecoder::default();
            let (early, last) = send(&mut d, &noise, &[2_000], 0);
            prop_assert!(early.is_empty());
            let len = noise.len().min(MAX_BITS + 1);
            prop_assert_eq!(d.poll(last + FRAME_GAP_MICROS), Some(Err(ReaderError::FrameLength(len))));

            // A 26-bit frame with a gap after `cut` bits is two short frames.
            let good = frame(&bits(u64::from(value & 0xff_ffff), 24));
            let (first, end) = send(&mut d, &good[..cut], &[2_000], last + 2 * FRAME_GAP_MICROS);
            prop_assert!(first.is_empty());
            let (second, last) = send(&mut d, &good[cut..], &[2_000], end + FRAME_GAP_MICROS);
            prop_assert_eq!(second, vec![Err(ReaderError::FrameLength(cut))]);
            prop_assert_eq!(d.poll(last + FRAME_GAP_MICROS), Some(Err(ReaderError::FrameLength(26 - cut))));
        }
    }
}
