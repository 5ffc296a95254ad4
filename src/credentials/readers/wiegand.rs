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

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]
        #[test]
        fn random_pulse_trains_never_panic(pulses in proptest::collection::vec((any::<bool>(), 0u64..40_000), 0..80)) {
            let mut d = WiegandDecoder::default();
            let mut t = 0u64;
            for (bit, gap) in pulses {
                t += gap;
                let _ = d.pulse(bit, t);
            }
            let _ = d.poll(t + FRAME_GAP_MICROS);
        }
    }
}
