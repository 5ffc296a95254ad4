//! Console roles and what each may do: the one place where access rules live. Every handler
//! names the [`Action`] it performs and asks [`Role::may`] before it reads or changes anything.

use serde::{Deserialize, Serialize};

/// An account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Manager,
    /// Doors, alarms, lockouts and cards; no face data, no register export.
    Caretaker,
    /// The audit log, read only.
    Auditor,
}

impl Role {
    /// The stored (and typed) word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Manager => "manager",
            Self::Caretaker => "caretaker",
            Self::Auditor => "auditor",
        }
    }

    /// Whether this role may perform `action`.
    pub fn may(self, action: Action) -> bool {
        use Action::*;
        match self {
            Self::Manager => true,
            Self::Caretaker => {
                matches!(action, FindResidents | ManageCards | LiftLockouts | ViewDoors)
            }
            Self::Auditor => matches!(action, ReadAudit),
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "manager" => Ok(Self::Manager),
            "caretaker" => Ok(Self::Caretaker),
            "auditor" => Ok(Self::Auditor),
            _ => Err(format!("unknown role `{text}` (manager, caretaker or auditor)")),
        }
    }
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// List and search residents, open a resident's page (number, name, unit, status).
    FindResidents,
    /// Add, edit, suspend or remove residents; reset PINs.
    EditResidents,
    /// See consent records and face data, delete face data.
    FaceData,
    /// Add and revoke cards.
    ManageCards,
    /// Lift lockouts.
    LiftLockouts,
    /// Read, verify and export the audit log.
    ReadAudit,
    /// Import and export the register, back it up and restore it.
    RegisterExport,
    /// Retention preview, calibration, consent statistics.
    Reports,
    /// Issue and revoke visitor passes.
    VisitorPasses,
    /// See the doors: online, lag, outbox, alarms, selftest.
    ViewDoors,
    /// Unlock a door once from the console (with a reason).
    RemoteUnlock,
}

impl Action {
    /// Every action, for the rules' tests.
    #[cfg(test)]
    const ALL: [Action; 11] = [
        Action::FindResidents,
        Action::EditResidents,
        Action::FaceData,
        Action::ManageCards,
        Action::LiftLockouts,
        Action::ReadAudit,
        Action::RegisterExport,
        Action::Reports,
        Action::VisitorPasses,
        Action::ViewDoors,
        Action::RemoteUnlock,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caretakers_never_reach_face_data_the_register_export_or_a_remote_unlock_and_auditors_only_read_audit()
     {
        use Action::*;
        let all = Action::ALL;
        assert!(all.iter().all(|&a| Role::Manager.may(a)));
        let caretaker: Vec<Action> = all.into_iter().filter(|&a| Role::Caretaker.may(a)).collect();
        assert_eq!(caretaker, [FindResidents, ManageCards, LiftLockouts, ViewDoors]);
        let auditor: Vec<Action> = all.into_iter().filter(|&a| Role::Auditor.may(a)).collect();
        assert_eq!(auditor, [ReadAudit]);
    }
}
