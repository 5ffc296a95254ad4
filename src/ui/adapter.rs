//! Screen → properties, taps → actions.

use std::rc::Rc;

use super::{GateWindow, KeypadFor, Offer as UiOffer, Page, Task};
use crate::language::Language;
use crate::runtime::gate::{AdminTask, FaceTile, Offer, Outcome};
use crate::runtime::{Action, Screen};
use crate::vision::QualityIssue;
use crate::vision::liveness::active::Turn;

/// Shows one screen of the runtime.
pub fn show(window: &GateWindow, screen: &Screen) {
    match screen {
        Screen::Idle { face } => {
            window.set_page(Page::Idle);
            window.set_face_offered(*face != FaceTile::NotOffered);
            window.set_face_unavailable(match face {
                FaceTile::Unavailable(reason) => reason.as_str().into(),
                _ => "".into(),
            });
        }
        Screen::Face { guidance, prompt } => {
            window.set_page(Page::Face);
            window.set_guidance(guidance.map_or(0, guidance_code));
            // The preview is mirrored, so "+" (the nose toward the image's +x) is the resident's
            // own left, shown as an arrow to the left of the screen.
            window.set_prompt(match prompt {
                None => 0,
                Some(Turn::Plus) => 2,
                Some(Turn::Minus) => 1,
            });
        }
        Screen::PinNumber => keypad(window, KeypadFor::ResidentNumber),
        Screen::PinCode => keypad(window, KeypadFor::Pin),
        Screen::Card => window.set_page(Page::Card),
        Screen::Result { granted, outcome, offer } => {
            let (code, text, count) = outcome_code(outcome);
            window.set_granted(*granted);
            window.set_outcome(code);
            window.set_outcome_text(text.into());
            window.set_outcome_count(count);
            window.set_offer(match offer {
                Offer::Nothing => UiOffer::Nothing,
                Offer::PinOrCard => UiOffer::PinOrCard,
                Offer::MyData => UiOffer::MyData,
                Offer::Admin => UiOffer::Admin,
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
        Screen::Enrolling { number, captured, needed, guidance } => {
            window.set_subject(number.as_str().into());
            window.set_captured(*captured as i32);
            window.set_needed(*needed as i32);
            window.set_guidance(guidance.map_or(0, guidance_code));
            window.set_prompt(0);
            window.set_page(Page::Enrolling);
        }
        Screen::AdminCard { number } => {
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

fn guidance_code(issue: QualityIssue) -> i32 {
    match issue {
        QualityIssue::NoFace => 1,
        QualityIssue::SeveralFaces => 2,
        QualityIssue::TooSmall => 3,
        QualityIssue::OutOfFrame => 4,
        QualityIssue::NotFrontal => 5,
        QualityIssue::Blurry => 6,
    }
}

/// The code `result-text` in `ui/main.slint` words, with its text and count details.
fn outcome_code(outcome: &Outcome) -> (i32, String, i32) {
    let n = |count: usize| count as i32;
    match outcome {
        Outcome::Welcome { name } => (1, name.clone().unwrap_or_default(), 0),
        Outcome::FaceNotRecognised => (2, String::new(), 0),
        Outcome::FaceTimeout => (3, String::new(), 0),
        Outcome::NotLive => (4, String::new(), 0),
        Outcome::LockedOut { seconds } => (5, String::new(), *seconds as i32),
        Outcome::AccessNotValid => (6, String::new(), 0),
        Outcome::NotAccepted => (7, String::new(), 0),
        Outcome::FaceDataDeleted { templates, at } => (8, at.clone(), n(*templates)),
        Outcome::PinChanged => (9, String::new(), 0),
        Outcome::PinNotChanged => (10, String::new(), 0),
        Outcome::Enrolled { number } => (11, number.clone(), 0),
        Outcome::EnrolmentTimedOut => (12, String::new(), 0),
        Outcome::GuardianConsentNeeded => (13, String::new(), 0),
        Outcome::FaceUnavailable => (14, String::new(), 0),
        Outcome::TemplatesDeleted { number, templates } => (15, number.clone(), n(*templates)),
        Outcome::CardAdded { number } => (16, number.clone(), 0),
        Outcome::CardAlreadyRegistered => (17, String::new(), 0),
        Outcome::PinReset { number } => (18, number.clone(), 0),
        Outcome::PinRejected => (19, String::new(), 0),
        Outcome::LockoutLifted { number, was_locked: true } => (20, number.clone(), 0),
        Outcome::LockoutLifted { number, was_locked: false } => (21, number.clone(), 0),
        Outcome::UnknownResident => (22, String::new(), 0),
        Outcome::CameraFailed => (23, String::new(), 0),
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
    window.on_admin(on(Action::Admin));
    window.on_agree(on(Action::Agree));
    window.on_switch_language(on(Action::SwitchLanguage));
    let digits = Rc::clone(&act);
    window.on_digits(move |typed| digits(Action::Digits(typed.to_string())));
    window.on_admin_task(move |t| act(Action::AdminTask(runtime_task(t))));
}
