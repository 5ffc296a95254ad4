//! The register's refusals ([`Refusal`]: a bad number, a name too long, a pass's window, …) and
//! its PIN refusals ([`PinError`]: the length, a weak PIN, …) as the console's catalogue
//! messages, so that each reader sees them in their own language.

use super::guard::Problem;
use crate::credentials::PinError;
use crate::credentials::pin::WeakPin;
use crate::store::refusal::{Refusal, TextField};

/// The page's words for a refusal.
pub fn problem(refusal: &Refusal) -> Problem {
    use Refusal::*;
    match refusal {
        BadNumber(number) => {
            Problem::bad_with("A resident number is 1 to 12 digits, not {}.", &[number])
        }
        BadName => Problem::bad("A name is 1 to 100 characters."),
        LongText { field: TextField::PassLabel, max } => Problem::bad_with(
            "A pass's label is at most {} characters, without line breaks.",
            &[max],
        ),
        LongText { field: TextField::Company, max } => Problem::bad_with(
            "A courier's company is at most {} characters, without line breaks.",
            &[max],
        ),
        NoCompany => Problem::bad("A courier code names its company."),
        PassWindow => Problem::bad("A pass must end after it starts, and in the future."),
        PassTooLong(days) => Problem::bad_with("A pass is valid for at most {} days.", &[days]),
        PassEntries(max) => Problem::bad_with("A pass gives 1 to {} entries.", &[max]),
        DoorTwice => Problem::bad("A door is named twice."),
        SingleEntryManyDoors => Problem::bad(
            "A single-entry pass opens one door: another door could still accept it before the first door's report arrives. Choose one door, or give the pass one entry per door.",
        ),
        BookingWindow(days) => {
            Problem::bad_with("A booking ends in the future, at most {} days ahead.", &[days])
        }
        BadDoor(door) => Problem::bad_with("{} is not a door id.", &[door]),
    }
}

/// The page's words for a PIN the register refused (never the PIN itself); a damaged hash or
/// unusable parameters are no reader's mistake.
pub fn pin_problem(err: &PinError) -> Problem {
    match err {
        PinError::Format { min, max } => {
            Problem::bad_with("A PIN is {} to {} digits.", &[min, max])
        }
        PinError::Weak(WeakPin::Repeated) => Problem::bad(
            "This PIN is too easy to guess: it repeats one digit or a short group of digits (like 0000 or 1212). Choose another.",
        ),
        PinError::Weak(WeakPin::Sequential) => Problem::bad(
            "This PIN is too easy to guess: its digits run up or down in order (like 1234 or 9876). Choose another.",
        ),
        PinError::Weak(WeakPin::ResidentNumber) => Problem::bad(
            "This PIN is too easy to guess: it contains the resident number. Choose another.",
        ),
        PinError::Weak(WeakPin::BirthYear) => Problem::bad(
            "This PIN is too easy to guess: it contains the resident's birth year. Choose another.",
        ),
        PinError::AdminTooShort(min) => {
            Problem::bad_with("An admin PIN is at least {} digits.", &[min])
        }
        PinError::SameAsDoorPin => {
            Problem::bad("An admin PIN must differ from the admin's door PIN.")
        }
        PinError::Params(_) | PinError::Damaged => Problem::Internal(err.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::language::Language;

    /// One refusal of every kind (the match in [`problem`] makes sure each has its words).
    fn every_kind() -> Vec<Refusal> {
        use Refusal::*;
        vec![
            BadNumber("12a".into()),
            BadName,
            LongText { field: TextField::PassLabel, max: 100 },
            LongText { field: TextField::Company, max: 60 },
            NoCompany,
            PassWindow,
            PassTooLong(31),
            PassEntries(100),
            DoorTwice,
            SingleEntryManyDoors,
            BookingWindow(7),
            BadDoor("North Gate".into()),
        ]
    }

    #[test]
    fn a_chinese_reader_sees_every_refusal_of_the_register_in_chinese() {
        let chinese = |text: &str| text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        for refusal in every_kind() {
            let problem = problem(&refusal);
            let (zh, en) = (problem.text(Language::Zh), problem.text(Language::En));
            assert!(chinese(&zh), "{refusal:?} in Chinese: {zh}");
            assert!(!chinese(&en) && en != zh, "{refusal:?} in English: {en}");
        }
        let zh = problem(&Refusal::PassEntries(100)).text(Language::Zh);
        assert!(zh.contains("100"), "the value is filled in: {zh}");
    }

    #[test]
    fn a_chinese_reader_sees_every_pin_refusal_without_english_words() {
        use crate::store::StoreError;
        let weak = [WeakPin::Repeated, WeakPin::Sequential, WeakPin::ResidentNumber];
        let mut refusals: Vec<PinError> = weak.into_iter().map(PinError::Weak).collect();
        refusals.push(PinError::Weak(WeakPin::BirthYear));
        refusals.push(PinError::Format { min: 4, max: 8 });
        refusals.push(PinError::AdminTooShort(6));
        refusals.push(PinError::SameAsDoorPin);
        for refusal in refusals {
            // As the console's pages get it: through the register's error.
            let problem = Problem::from(StoreError::Pin(refusal.clone()));
            let zh = problem.text(Language::Zh);
            let words = zh.replace("PIN", "");
            assert!(!words.chars().any(|c| c.is_ascii_alphabetic()), "{refusal:?}: {zh}");
            assert!(problem.text(Language::En).contains("PIN"), "{refusal:?} in English");
        }
        let zh = Problem::from(StoreError::Pin(PinError::Format { min: 4, max: 8 }));
        assert!(zh.text(Language::Zh).contains('4') && zh.text(Language::Zh).contains('8'));
        let damaged = Problem::from(StoreError::Pin(PinError::Damaged));
        assert!(matches!(damaged, Problem::Internal(_)), "no reader's mistake");
    }
}
