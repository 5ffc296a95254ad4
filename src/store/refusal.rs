//! Why the register refused a value a manager typed or imported, one kind each
//! ([`crate::store::StoreError::Refused`]). The English text here is the CLI's and the log's;
//! the console words each kind in its reader's language from its own catalogue.

/// A value the register refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("resident number must be 1 to 12 digits, got {0:?}")]
    BadNumber(String),
    #[error("name must be 1 to 100 characters")]
    BadName,
    #[error("{field} must be at most {max} characters, without line breaks or control characters")]
    LongText { field: TextField, max: usize },
    #[error("a courier code names its company")]
    NoCompany,
    #[error("a pass must end after it starts, and in the future")]
    PassWindow,
    #[error("a pass is valid for at most {0} days")]
    PassTooLong(i64),
    #[error("a pass gives 1 to {0} entries")]
    PassEntries(u32),
    #[error("a door is named twice")]
    DoorTwice,
    #[error(
        "a single-entry pass opens one door (another door could still accept it before the first door's report arrives): choose one door, or give the pass one entry per door"
    )]
    SingleEntryManyDoors,
    #[error("a booking ends in the future, at most {0} days ahead")]
    BookingWindow(i64),
    #[error("{0:?} is not a door id")]
    BadDoor(String),
}

/// A free-text field of a visitor pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    PassLabel,
    Company,
}

impl std::fmt::Display for TextField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::PassLabel => "a pass's label",
            Self::Company => "a courier's company",
        })
    }
}
