//! The MFRC522 driver against the simulated chip and cards of `simulated_chip.rs`.

use proptest::prelude::*;

use super::simulated_chip::{SimCard, SimChip, crc16};
use super::*;

const UID4: [u8; 4] = [0xde, 0xad, 0xbe, 0xef];
const UID7: [u8; 7] = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
const UID10: [u8; 10] = [0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9];

fn ready(chip: SimChip) -> Mfrc522<SimChip> {
    Mfrc522::init(chip).expect("the simulated chip initialises")
}

#[test]
fn crc_a_matches_iso_14443_and_the_chip_computes_it() {
    // ISO/IEC 14443-3: HLTA is sent as 50 00 57 CD.
    assert_eq!(crc16(0x6363, &HLTA), [0x57, 0xCD]);
    assert_eq!(ready(SimChip::with_cards(vec![])).crc_a(&HLTA).unwrap(), [0x57, 0xCD]);
}

#[test]
fn reads_four_seven_and_ten_byte_uids_selecting_each_level_and_halting() {
    for uid in [&UID4[..], &UID7, &UID10] {
        let mut chip = ready(SimChip::with_card(uid));
        assert_eq!(chip.read_uid(Wake::Idle).unwrap().as_bytes(), uid);
        let heard = &chip.bus.heard;
        let selects: Vec<_> = heard.iter().filter(|f| f.len() == 9 && f[1] == 0x70).collect();
        assert_eq!(selects.len(), uid.len() / 3, "one SELECT per cascade level");
        assert_eq!(heard.last().unwrap(), &vec![0x50, 0x00, 0x57, 0xCD], "the card is halted");
    }
}

#[test]
fn a_resting_card_is_read_once_and_again_when_presented_again() {
    let mut reader = Rc522Reader::new(ready(SimChip::with_card(&UID7)));
    let wait = Duration::from_millis(200);
    assert_eq!(reader.next_card(wait).unwrap().unwrap().as_bytes(), &UID7);
    assert_eq!(reader.next_card(wait).unwrap(), None, "halted while it rests on the reader");
    reader.chip.bus.cards = vec![SimCard::new(&UID7)]; // taken away and presented again
    assert_eq!(reader.next_card(wait).unwrap().unwrap().as_bytes(), &UID7);
}

#[test]
fn wupa_wakes_a_halted_card_and_reqa_does_not() {
    let mut chip = ready(SimChip::with_card(&UID4));
    chip.read_uid(Wake::Idle).unwrap();
    assert_eq!(chip.read_uid(Wake::Idle), Err(ReaderError::NoCard));
    assert_eq!(chip.read_uid(Wake::All).unwrap().as_bytes(), &UID4);
}

#[test]
fn without_initialisation_commands_time_out() {
    // Straight after power-up: antenna off, timer not started by itself.
    let mut chip = Mfrc522 { bus: SimChip::with_card(&UID4) };
    assert!(matches!(chip.read_uid(Wake::Idle), Err(ReaderError::Device(_))));
    assert!(chip.bus.heard.is_empty(), "nothing reached the card");
}

#[test]
fn with_the_antenna_off_no_card_answers() {
    let mut chip = ready(SimChip::with_card(&UID4));
    chip.bus.poke(0x14, 0x80); // TxControlReg back to its reset value
    assert_eq!(chip.read_uid(Wake::Idle), Err(ReaderError::NoCard));
    assert!(chip.bus.heard.is_empty());
}

#[test]
fn a_select_with_a_wrong_crc_gets_no_answer() {
    let mut chip = ready(SimChip::with_card(&UID4));
    chip.transceive(&[REQA], 7).unwrap();
    let part = parse_anticollision(&chip.transceive(&[0x93, 0x20], 0).unwrap()).unwrap();
    let bcc = part.iter().fold(0, |x, b| x ^ b);
    let mut frame = vec![0x93, 0x70, part[0], part[1], part[2], part[3], bcc];
    let mut crc = chip.crc_a(&frame).unwrap();
    crc[0] ^= 1;
    frame.extend(crc);
    assert_eq!(chip.transceive(&frame, 0), Err(ReaderError::NoCard));
    // With the chip's CRC preset left at its reset value (0xFFFF) every SELECT is refused.
    chip.bus.poke(0x11, 0x3F);
    assert_eq!(chip.read_uid(Wake::Idle), Err(ReaderError::NoCard));
}

#[test]
fn no_card_collision_and_wrong_check_byte_are_errors() {
    assert_eq!(ready(SimChip::with_cards(vec![])).read_uid(Wake::Idle), Err(ReaderError::NoCard));
    let two = vec![SimCard::new(&UID4), SimCard::new(&[1, 2, 3, 4])];
    assert_eq!(ready(SimChip::with_cards(two)).read_uid(Wake::Idle), Err(ReaderError::Collision));
    let mut faulty = SimCard::new(&UID7);
    faulty.bad_bcc = true;
    let mut chip = ready(SimChip::with_cards(vec![faulty]));
    assert_eq!(chip.read_uid(Wake::Idle), Err(ReaderError::Checksum));
    // The reader passes such errors on rather than reporting a card.
    let mut reader = Rc522Reader::new(chip);
    assert_eq!(reader.next_card(Duration::from_millis(100)), Err(ReaderError::Checksum));
}

#[test]
fn a_wrong_check_byte_is_refused() {
    assert_eq!(parse_anticollision(&[1, 2, 3, 4, 4]), Ok([1, 2, 3, 4]));
    assert_eq!(parse_anticollision(&[1, 2, 3, 4, 5]), Err(ReaderError::Checksum));
    assert!(parse_anticollision(&[1, 2, 3]).is_err());
}

/// Records SPI traffic; answers every read with `answer`.
struct Recorder {
    sent: Vec<Vec<u8>>,
    answer: u8,
}

impl SpiBus for Recorder {
    fn transfer(&mut self, out: &[u8]) -> Result<Vec<u8>, ReaderError> {
        self.sent.push(out.to_vec());
        Ok(vec![0, self.answer])
    }
}

#[test]
fn register_framing_follows_the_datasheet() {
    // Address byte: bit 7 = read, bits 6..1 = register, bit 0 = 0.
    let mut chip = Mfrc522 { bus: Recorder { sent: vec![], answer: 0x20 } };
    chip.write(reg::BIT_FRAMING, 0x87).unwrap();
    chip.read(reg::FIFO_LEVEL).unwrap();
    assert_eq!(chip.bus.sent, vec![vec![0x1a, 0x87], vec![0x94, 0]]);
}

/// UIDs as cards carry them: the cascade tag never starts a level's UID bytes.
fn uid() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(4usize), Just(7), Just(10)]
        .prop_flat_map(|n| proptest::collection::vec(any::<u8>(), n))
        .prop_filter("no cascade tag where a level starts", |uid| {
            let last_level = 3 * (uid.len() / 3 - 1);
            uid[last_level] != CASCADE_TAG
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn any_card_reads_back_its_own_uid(uid in uid()) {
        let mut chip = ready(SimChip::with_card(&uid));
        let read = chip.read_uid(Wake::Idle).unwrap();
        prop_assert_eq!(read.as_bytes(), &uid[..]);
    }

    /// A card answer altered in flight (one byte, parity intact) is an error or still the
    /// card's own UID: never another card's.
    #[test]
    fn a_corrupted_answer_never_gives_another_uid(
        uid in uid(), answer in 0usize..8, byte in 0usize..5, xor in 1u8..=255,
    ) {
        let mut sim = SimChip::with_card(&uid);
        sim.corrupt = Some((answer, byte, xor));
        match ready(sim).read_uid(Wake::Idle) {
            Ok(read) => prop_assert_eq!(read.as_bytes(), &uid[..]),
            Err(ReaderError::Device(e)) => prop_assert!(false, "a device error: {}", e),
            Err(_) => {}
        }
    }

    #[test]
    fn random_answers_never_panic_and_are_errors(answer in proptest::collection::vec(any::<u8>(), 0..12)) {
        let parsed = parse_anticollision(&answer);
        let valid = answer.len() == 5 && answer[..4].iter().fold(0, |x, b| x ^ b) == answer[4];
        prop_assert_eq!(parsed.is_ok(), valid);
    }
}
