//! Screen → properties, taps → actions.

use std::rc::Rc;

use super::{
    FaceTile as UiFaceTile, GateWindow, Guidance, KeypadFor, Offer as UiOffer, Page, Prompt,
};
use super::{Outcome as UiOutcome, Task};
use crate::language::Language;
use crate::runtime::gate::{AdminTask, FaceTile, FaceUnavailable, Offer, Outcome};
use crate::runtime::{Action, Screen};
use crate::vision::QualityIssue;
use crate::vision::liveness::active::Turn;

/// Shows one screen of the runtime.
pub fn show(window: &GateWindow, screen: &Screen) {
    match screen {
        Screen::Idle { face } => {
            window.set_face(match face {
                FaceTile::Available => UiFaceTile::Available,
                FaceTile::NotOffered => UiFaceTile::NotOffered,
                FaceTile::Unavailable(FaceUnavailable::NoCameraSupport) => {
                    UiFaceTile::NoCameraSupport
                }
                FaceTile::Unavailable(FaceUnavailable::CameraFailed) => UiFaceTile::CameraFailed,
                FaceTile::Unavailable(FaceUnavailable::ModelsMissing) => UiFaceTile::ModelsMissing,
                FaceTile::Unavailable(FaceUnavailable::OutOfSync) => UiFaceTile::OutOfSync,
            });
            window.set_page(Page::Idle);
        }
        Screen::Face { guidance, prompt } => {
            window.set_page(Page::Face);
            window.set_guidance(ui_guidance(*guidance));
            window.set_prompt(ui_prompt(*prompt));
        }
        Screen::PinNumber => keypad(window, KeypadFor::ResidentNumber),
        Screen::PinCode => keypad(window, KeypadFor::Pin),
        Screen::VisitorCode => keypad(window, KeypadFor::VisitorCode),
        Screen::VisitorQr => window.set_page(Page::VisitorQr),
        Screen::ResetPin => window.set_page(Page::ResetPin),
        Screen::ChangePin => window.set_page(Page::ChangePin),
        Screen::Card => window.set_page(Page::Card),
        Screen::Result { granted, outcome, offer } => {
            let (outcome, text, count) = ui_outcome(outcome);
            window.set_granted(*granted);
            window.set_outcome(outcome);
            window.set_outcome_text(text.into());
            window.set_outcome_count(count);
            window.set_offer(match offer {
                Offer::Nothing => UiOffer::Nothing,
                Offer::PinOrCard => UiOffer::PinOrCard,
                Offer::MyData => UiOffer::MyData,
                Offer::Admin => UiOffer::Admin,
                Offer::Booked => UiOffer::Booked,
            });
            window.set_page(Page::Result);
        }
        Screen::MyData { templates } => {
            window.set_templates(*templates as i32);
            window.set_page(Page::MyData);
        }
        Screen::Admin { alarms } => {
            let alarms: Vec<slint::SharedString> = alarms.iter().map(Into::into).collect();
            window.set_alarms(Rc::new(slint::VecModel::from(alarms)).into());
            window.set_page(Page::Admin);
        }
        Screen::AdminNumber { task } => {
            window.set_task(ui_task(*task));
            keypad(window, KeypadFor::AdminNumber);
        }
        Screen::Consent { number, notice } => {
            window.set_subject(number.as_str().into());
            window.set_notice(notice.as_str().into());
            window.set_page(Page::Consent);
        }
        Screen::Enrolling { number, captured, needed, guidance, prompt } => {
            window.set_subject(number.as_str().into());
            window.set_captured(*captured as i32);
            window.set_needed(*needed as i32);
            window.set_guidance(ui_guidance(*guidance));
            window.set_prompt(ui_prompt(*prompt));
            window.set_page(Page::Enrolling);
        }
        Screen::AdminCard { number } | Screen::SiteCard { number } => {
            window.set_subject(number.as_str().into());
            window.set_page(Page::AdminCard);
        }
        Screen::AdminPin { number } => {
            window.set_subject(number.as_str().into());
            keypad(window, KeypadFor::AdminPin);
        }
    }
}

/// Switches every `@tr` string of the UI.
pub fn select_language(language: Language) {
    let code = match language {
        Language::Zh => "zh",
        Language::En => "",
    };
    // The empty code selects the source strings (English).
    let _ = slint::select_bundled_translation(code);
}

fn keypad(window: &GateWindow, what: KeypadFor) {
    window.set_keypad_for(what);
    window.set_page(Page::Keypad);
}

/// The preview is mirrored, so "+" (the nose toward the image's +x) is the resident's own
/// left, shown as an arrow to the left of the screen.
fn ui_prompt(prompt: Option<Turn>) -> Prompt {
    match prompt {
        None => Prompt::None,
        Some(Turn::Plus) => Prompt::ArrowLeft,
        Some(Turn::Minus) => Prompt::ArrowRight,
    }
}

fn ui_guidance(issue: Option<QualityIssue>) -> Guidance {
    match issue {
        None => Guidance::None,
        Some(QualityIssue::NoFace) => Guidance::NoFace,
        Some(QualityIssue::SeveralFaces) => Guidance::SeveralFaces,
        Some(QualityIssue::TooSmall) => Guidance::TooSmall,
        Some(QualityIssue::OutOfFrame) => Guidance::OutOfFrame,
        Some(QualityIssue::NotFrontal) => Guidance::NotFrontal,
        Some(QualityIssue::Blurry) => Guidance::Blurry,
    }
}

/// The outcome the result screen words, with its text and count details.
fn ui_outcome(outcome: &Outcome) -> (UiOutcome, String, i32) {
    let none = String::new;
    let n = |count: usize| count as i32;
    match outcome {
        Outcome::Welcome { name } => (UiOutcome::Welcome, name.clone().unwrap_or_default(), 0),
        Outcome::FaceNotRecognised => (UiOutcome::FaceNotRecognised, none(), 0),
        Outcome::FaceTimeout => (UiOutcome::FaceTimeout, none(), 0),
        Outcome::NotLive => (UiOutcome::NotLive, none(), 0),
        Outcome::LockedOut { seconds } => (UiOutcome::LockedOut, none(), *seconds as i32),
        Outcome::AccessNotValid => (UiOutcome::AccessNotValid, none(), 0),
        Outcome::NotAccepted => (UiOutcome::NotAccepted, none(), 0),
        Outcome::FaceDataDeleted { templates, at } => {
            (UiOutcome::FaceDataDeleted, at.clone(), n(*templates))
        }
        Outcome::PinChanged => (UiOutcome::PinChanged, none(), 0),
        Outcome::PinNotChanged => (UiOutcome::PinNotChanged, none(), 0),
        Outcome::PinsDiffer => (UiOutcome::PinsDiffer, none(), 0),
        Outcome::VisitorWelcome => (UiOutcome::VisitorWelcome, none(), 0),
        Outcome::Enrolled { number } => (UiOutcome::Enrolled, number.clone(), 0),
        Outcome::EnrolmentTimedOut => (UiOutcome::EnrolmentTimedOut, none(), 0),
        Outcome::EnrolmentFramesDiffer => (UiOutcome::EnrolmentFramesDiffer, none(), 0),
        Outcome::FaceAlreadyEnrolled { score } => {
            (UiOutcome::FaceAlreadyEnrolled, score.clone(), 0)
        }
        Outcome::GuardianConsentNeeded => (UiOutcome::GuardianConsentNeeded, none(), 0),
        Outcome::FaceUnavailable => (UiOutcome::FaceUnavailable, none(), 0),
        Outcome::TemplatesDeleted { number, templates } => {
            (UiOutcome::TemplatesDeleted, number.clone(), n(*templates))
        }
        Outcome::CardAdded { number } => (UiOutcome::CardAdded, number.clone(), 0),
        Outcome::CardAlreadyRegistered => (UiOutcome::CardAlreadyRegistered, none(), 0),
        Outcome::PinReset { number } => (UiOutcome::PinReset, number.clone(), 0),
        Outcome::PinRejected => (UiOutcome::PinRejected, none(), 0),
        Outcome::LockoutLifted { number, was_locked: true } => {
            (UiOutcome::LockoutLifted, number.clone(), 0)
        }
        Outcome::LockoutLifted { number, was_locked: false } => {
            (UiOutcome::NotLockedOut, number.clone(), 0)
        }
        Outcome::UnknownResident => (UiOutcome::UnknownResident, none(), 0),
        Outcome::CameraFailed => (UiOutcome::CameraFailed, none(), 0),
    }
}

fn ui_task(task: AdminTask) -> Task {
    match task {
        AdminTask::EnrolFace => Task::EnrolFace,
        AdminTask::DeleteFace => Task::DeleteFace,
        AdminTask::AddCard => Task::AddCard,
        AdminTask::ResetPin => Task::ResetPin,
        AdminTask::LiftLockout => Task::LiftLockout,
    }
}

fn runtime_task(task: Task) -> AdminTask {
    match task {
        Task::EnrolFace => AdminTask::EnrolFace,
        Task::DeleteFace => AdminTask::DeleteFace,
        Task::AddCard => AdminTask::AddCard,
        Task::ResetPin => AdminTask::ResetPin,
        Task::LiftLockout => AdminTask::LiftLockout,
    }
}

/// Sends every tap to `act` as the runtime's action.
pub fn connect(window: &GateWindow, act: impl Fn(Action) + 'static) {
    let act = Rc::new(act);
    let on = |action: Action| {
        let act = Rc::clone(&act);
        move || act(action.clone())
    };
    window.on_choose_face(on(Action::ChooseFace));
    window.on_choose_pin(on(Action::ChoosePin));
    window.on_choose_card(on(Action::ChooseCard));
    window.on_cancel(on(Action::Cancel));
    window.on_my_data(on(Action::MyData));
    window.on_delete_face(on(Action::DeleteMyFaceData));
    window.on_start_pin_change(on(Action::StartPinChange));
    window.on_admin(on(Action::Admin));
    window.on_agree(on(Action::Agree));
    window.on_switch_language(on(Action::SwitchLanguage));
    window.on_choose_visitor(on(Action::ChooseVisitor));
    window.on_scan_qr(on(Action::ScanQr));
    window.on_start_pin_reset(on(Action::StartPinReset));
    window.on_enrol_booked(on(Action::EnrolBooked));
    let reset_pin = Rc::clone(&act);
    window.on_reset_pin(move |number, code, new, repeat| {
        reset_pin(Action::ResetPin {
            number: number.to_string(),
            code: code.to_string(),
            new: new.to_string(),
            repeat: repeat.to_string(),
        })
    });
    let digits = Rc::clone(&act);
    window.on_digits(move |typed| digits(Action::Digits(typed.to_string())));
    let change_pin = Rc::clone(&act);
    window.on_change_pin(move |old, new| {
        change_pin(Action::ChangePin { old: old.to_string(), new: new.to_string() })
    });
    window.on_admin_task(move |t| act(Action::AdminTask(runtime_task(t))));
}
