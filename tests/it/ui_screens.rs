//! The touchscreen rendered headless: every screen in Chinese and English shows what it is for
//! (read from its accessibility tree: the texts, the buttons and their sizes), looks like its
//! committed screenshot in `ui/screenshots/`, and taps on it reach the runtime as actions.
//! With `FACEGATE_SCREENSHOTS=DIR` the PNGs are written to DIR instead of compared.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use facegate::language::Language;
use facegate::runtime::gate::{AdminTask, FaceTile, FaceUnavailable, Offer, Outcome};
use facegate::runtime::{Action, Screen};
use facegate::store::consent::notice;
use facegate::ui::{GateWindow, connect, headless, select_language, show};
use facegate::vision::QualityIssue;
use facegate::vision::liveness::active::Turn;
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use slint::ComponentHandle;
use slint::platform::{PointerEventButton, WindowEvent};

const CATALOGUE: &str = "ui/lang/zh/LC_MESSAGES/facegate.po";
const LANGUAGE_BUTTON: &str = "中文 / English";

/// A string of the UI: its English source (a `@tr` msgid) and the values for its `{}`.
#[derive(Clone, Copy)]
struct Msg(&'static str, &'static [&'static str]);

const fn m(id: &'static str) -> Msg {
    Msg(id, &[])
}

/// What a screen must show: its texts (among others) and exactly these buttons (besides the
/// language switch), in this order.
struct Want {
    texts: Vec<Msg>,
    buttons: Vec<Msg>,
}

fn want(texts: &[Msg], buttons: &[Msg]) -> Want {
    Want { texts: texts.to_vec(), buttons: buttons.to_vec() }
}

const DIGITS: [Msg; 10] =
    [m("1"), m("2"), m("3"), m("4"), m("5"), m("6"), m("7"), m("8"), m("9"), m("0")];

/// The keypad's buttons in the tree's order: Cancel, the second button if any, the digits 1–9,
/// clear, 0 and OK.
fn keypad_buttons(extra: Option<Msg>) -> Vec<Msg> {
    let mut buttons = vec![m("Cancel")];
    buttons.extend(extra);
    buttons.extend(&DIGITS[..9]);
    buttons.extend([m("Clear"), m("0"), m("OK")]);
    buttons
}

fn keypad(title: Msg, shown: Msg) -> Want {
    Want { texts: vec![title, shown], buttons: keypad_buttons(None) }
}

/// A keypad with a second button under Cancel.
fn keypad_and(title: Msg, shown: Msg, extra: Msg) -> Want {
    Want { texts: vec![title, shown], buttons: keypad_buttons(Some(extra)) }
}

fn screens() -> Vec<(&'static str, Screen, Want)> {
    let mut config = facegate::config::Config::default();
    config.consent.controller = "Property management office, Building 3".into();
    config.consent.contact = "Office, ground floor, 9:00-18:00".into();
    let terms = config.notice_terms();
    let notice = |lang| notice(lang, &terms);
    let idle = |face| Screen::Idle { face };
    let unavailable = |why| idle(FaceTile::Unavailable(why));
    let result = |granted, outcome, offer| Screen::Result { granted, outcome, offer };
    let door = [m("Welcome home")];
    let three = [m("Face"), m("PIN"), m("Card"), m("Visitor")];
    let reset = m("I have a reset code");
    let hidden = Msg("PIN, hidden: {} digits", &["0"]);
    let consent_buttons = [m("Not now"), Msg("Resident {} has read this and agrees", &["1301"])];
    vec![
        (
            "idle",
            idle(FaceTile::Available),
            want(&[door[0], m("Optional. The camera turns on only now.")], &three),
        ),
        (
            "idle-no-camera",
            unavailable(FaceUnavailable::NoCameraSupport),
            want(&[m("Not available: this gate has no camera")], &three),
        ),
        (
            "idle-camera-failed",
            unavailable(FaceUnavailable::CameraFailed),
            want(&[m("Not available now: the camera is not working")], &three),
        ),
        (
            "idle-no-models",
            unavailable(FaceUnavailable::ModelsMissing),
            want(&[m("Not available: face recognition is not set up")], &three),
        ),
        (
            "idle-out-of-sync",
            unavailable(FaceUnavailable::OutOfSync),
            want(&[m("Not available now: this door has lost touch with the site office")], &three),
        ),
        (
            "idle-no-face",
            idle(FaceTile::NotOffered),
            want(&[m("Resident number and PIN")], &[m("PIN"), m("Card"), m("Visitor")]),
        ),
        (
            "face-guidance",
            Screen::Face { guidance: Some(QualityIssue::TooSmall), prompt: None },
            want(
                &[m("Please move closer"), m("No picture is stored.")],
                &[m("Cancel"), m("Use PIN"), m("Use card")],
            ),
        ),
        (
            "face-turn",
            Screen::Face { guidance: None, prompt: Some(Turn::Plus) },
            want(
                &[m("Arrow to the left"), m("Turn your head slowly to the left, then back")],
                &[m("Cancel"), m("Use PIN"), m("Use card")],
            ),
        ),
        ("pin", Screen::PinNumber, keypad_and(m("Enter your resident number"), m(""), reset)),
        (
            "visitor-code",
            Screen::VisitorCode,
            keypad_and(m("Enter your visitor code"), m(""), m("Show a QR code")),
        ),
        (
            "visitor-qr",
            Screen::VisitorQr,
            want(
                &[
                    m("Hold the QR code of your pass up to the camera"),
                    m("The camera is on only while this screen shows."),
                ],
                &[m("Cancel")],
            ),
        ),
        ("reset-pin", Screen::ResetPin, keypad(m("Enter your resident number"), m(""))),
        ("pin-code", Screen::PinCode, keypad(m("Enter your PIN"), hidden)),
        (
            "card",
            Screen::Card,
            want(
                &[m("Hold your card to the reader"), m("A card held to the reader")],
                &[m("Cancel")],
            ),
        ),
        (
            "result-granted",
            result(true, Outcome::Welcome { name: Some("Li".into()) }, Offer::MyData),
            want(&[Msg("Welcome, {}", &["Li"])], &[m("My data")]),
        ),
        (
            "result-denied",
            result(false, Outcome::FaceNotRecognised, Offer::PinOrCard),
            want(
                &[m("Face not recognised. Please use your PIN or card.")],
                &[m("Use PIN"), m("Use card")],
            ),
        ),
        (
            "result-locked",
            result(false, Outcome::LockedOut { seconds: 300 }, Offer::Nothing),
            want(&[Msg("Too many attempts. Try again in {} s.", &["300"])], &[]),
        ),
        (
            "result-visitor",
            result(true, Outcome::VisitorWelcome, Offer::Nothing),
            want(&[m("Welcome, visitor")], &[]),
        ),
        (
            "result-booked",
            result(true, Outcome::Welcome { name: None }, Offer::Booked),
            want(&[m("Welcome")], &[m("My data"), m("Enrol my face")]),
        ),
        (
            "result-pins-differ",
            result(false, Outcome::PinsDiffer, Offer::Nothing),
            want(&[m("The two new PINs differ. Nothing was changed.")], &[]),
        ),
        (
            "result-pin-changed",
            result(true, Outcome::PinChanged, Offer::Nothing),
            want(&[m("Your PIN is changed.")], &[]),
        ),
        (
            "result-pin-not-changed",
            result(false, Outcome::PinNotChanged, Offer::Nothing),
            want(&[m("PIN not changed: check your current PIN.")], &[]),
        ),
        (
            "my-data",
            Screen::MyData { templates: 1 },
            want(
                &[Msg("Face recognition is on for you ({} templates).", &["1"])],
                &[m("Delete my face data"), m("Change PIN"), m("Done")],
            ),
        ),
        ("change-pin", Screen::ChangePin, keypad_and(m("Enter your current PIN"), hidden, reset)),
        (
            "admin",
            Screen::Admin { alarms: vec!["2026-11-24 09:12  HeldOpen".into()] },
            want(
                &[m("Admin mode"), m("Door alarms"), m("2026-11-24 09:12  HeldOpen")],
                &[
                    m("Enrol a face"),
                    m("Delete face data"),
                    m("Add a card"),
                    m("Reset a PIN"),
                    m("Lift a lockout"),
                    m("Exit admin mode"),
                ],
            ),
        ),
        (
            "admin-number",
            Screen::AdminNumber { task: AdminTask::EnrolFace },
            keypad(m("Enrol a face: resident number"), m("")),
        ),
        (
            "admin-pin",
            Screen::AdminPin { number: "1201".into() },
            keypad(Msg("New PIN for resident {}", &["1201"]), hidden),
        ),
        (
            "admin-consent-zh",
            Screen::Consent { number: "1301".into(), notice: notice(Language::Zh) },
            want(&[Msg(leak(notice(Language::Zh)), &[])], &consent_buttons),
        ),
        (
            "admin-consent-en",
            Screen::Consent { number: "1301".into(), notice: notice(Language::En) },
            want(&[Msg(leak(notice(Language::En)), &[])], &consent_buttons),
        ),
        (
            "admin-enrol",
            Screen::Enrolling {
                number: "1301".into(),
                captured: 1,
                needed: 3,
                guidance: Some(QualityIssue::NotFrontal),
                prompt: None,
            },
            want(
                &[
                    m("Admin mode"),
                    m("Look straight at the camera"),
                    Msg("Resident {}: good frames {} of {}", &["1301", "1", "3"]),
                ],
                &[m("Cancel")],
            ),
        ),
        (
            "admin-card",
            Screen::AdminCard { number: "1201".into() },
            want(&[Msg("Tap the new card for resident {}", &["1201"])], &[m("Cancel")]),
        ),
        (
            "site-card",
            Screen::SiteCard { number: "1201".into() },
            want(&[Msg("Tap the new card for resident {}", &["1201"])], &[m("Cancel")]),
        ),
    ]
}

/// A notice is not a catalogue string; the screen shows it as given.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// The Chinese catalogue: (context, msgid) → msgstr.
fn catalogue() -> HashMap<(String, String), String> {
    let po = std::fs::read_to_string(CATALOGUE).unwrap();
    let quoted = |line: &str, key: &str| {
        line.strip_prefix(key)
            .and_then(|r| r.strip_prefix(" \"")?.strip_suffix('"'))
            .map(str::to_owned)
    };
    let lines: Vec<&str> = po.lines().collect();
    let mut entries = HashMap::new();
    for w in lines.windows(3) {
        if let (Some(ctx), Some(id), Some(text)) =
            (quoted(w[0], "msgctxt"), quoted(w[1], "msgid"), quoted(w[2], "msgstr"))
        {
            entries.insert((ctx, id), text);
        }
    }
    entries
}

/// A string as the screen shows it in `lang`, with its values filled in: for Chinese the
/// catalogue's translation (in any context: a source string reads the same everywhere). Strings
/// that are not in the catalogue (digits, a notice, an alarm) are shown as they are.
fn words(msg: Msg, lang: Language, zh: &HashMap<(String, String), String>) -> String {
    let Msg(id, values) = msg;
    let translated = zh.iter().find(|((_, source), _)| source == id).map(|(_, t)| t.as_str());
    let mut text = match lang {
        Language::Zh => translated.unwrap_or(id).to_owned(),
        Language::En => id.to_owned(),
    };
    for value in values {
        text = text.replacen("{}", value, 1);
    }
    text
}

/// The accessible elements on screen: (role, label) in tree order.
fn seen(window: &GateWindow) -> Vec<(AccessibleRole, String, ElementHandle)> {
    ElementQuery::from_root(window)
        .match_predicate(|e| e.accessible_role().is_some_and(|r| r != AccessibleRole::None))
        .find_all()
        .into_iter()
        .map(|e| {
            let label = e.accessible_label().unwrap_or_default().to_string();
            (e.accessible_role().unwrap(), label, e)
        })
        .collect()
}

fn buttons(window: &GateWindow) -> Vec<(String, ElementHandle)> {
    seen(window)
        .into_iter()
        .filter(|(role, label, _)| *role == AccessibleRole::Button && label != LANGUAGE_BUTTON)
        .map(|(_, label, e)| (label, e))
        .collect()
}

/// Checks that the screen shows what `want` says, in `lang`.
fn check(window: &GateWindow, name: &str, want: &Want, lang: Language) {
    let zh = catalogue();
    // What a screen reader reads: the labels, and the tiles' hints as their descriptions.
    let all = seen(window);
    let hints: Vec<String> =
        all.iter().filter_map(|(_, _, e)| e.accessible_description()).map(Into::into).collect();
    let labels: Vec<&str> = all
        .iter()
        .map(|(_, label, _)| label.as_str())
        .chain(hints.iter().map(String::as_str))
        .collect();
    for text in &want.texts {
        let text = words(*text, lang, &zh);
        assert!(
            labels.contains(&text.as_str()),
            "{lang:?}/{name} shows {text:?}; it shows {labels:?}"
        );
    }
    let shown: Vec<String> = buttons(window).into_iter().map(|b| b.0).collect();
    let wanted: Vec<String> = want.buttons.iter().map(|b| words(*b, lang, &zh)).collect();
    assert_eq!(shown, wanted, "{lang:?}/{name}: its buttons");
    assert!(labels.contains(&LANGUAGE_BUTTON), "{lang:?}/{name} has the language switch");
}

/// The share of pixels that differ visibly from the committed screenshot.
fn differs_from(image: &image::RgbImage, committed: &Path) -> f64 {
    let reference =
        image::open(committed).unwrap_or_else(|e| panic!("{}: {e}", committed.display())).to_rgb8();
    assert_eq!(reference.dimensions(), image.dimensions(), "{}", committed.display());
    let visible = |a: &image::Rgb<u8>, b: &image::Rgb<u8>| {
        a.0.iter().zip(b.0).any(|(&x, y)| x.abs_diff(y) > 48)
    };
    let differing = image.pixels().zip(reference.pixels()).filter(|(a, b)| visible(a, b)).count();
    differing as f64 / f64::from(image.width() * image.height())
}

fn tap(window: &GateWindow, x: f32, y: f32) {
    let position = slint::LogicalPosition::new(x, y);
    window
        .window()
        .dispatch_event(WindowEvent::PointerPressed { position, button: PointerEventButton::Left });
    window.window().dispatch_event(WindowEvent::PointerReleased {
        position,
        button: PointerEventButton::Left,
    });
}

/// Taps the middle of the button labelled `label`.
fn press(window: &GateWindow, label: &str) {
    let found = buttons(window).into_iter().find(|b| b.0 == label);
    let (_, button) = found.unwrap_or_else(|| panic!("no button {label:?}"));
    let (at, size) = (button.absolute_position(), button.size());
    tap(window, at.x + size.width / 2.0, at.y + size.height / 2.0);
}

/// Every `@tr` string of every UI file has its Chinese translation under its component (Slint's
/// translation context), so no screen falls back to English.
#[test]
fn every_string_of_the_ui_is_translated_to_chinese() {
    let zh = catalogue();
    let mut files: Vec<PathBuf> = vec!["ui/main.slint".into()];
    for dir in ["ui/screens", "ui/widgets"] {
        let mut found: Vec<PathBuf> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        found.sort();
        files.extend(found);
    }
    let mut count = 0;
    for file in &files {
        let ui = std::fs::read_to_string(file).unwrap();
        let mut context = String::new();
        for line in ui.lines() {
            let declared = line.trim_start().trim_start_matches("export ");
            if let Some(rest) = declared.strip_prefix("component ") {
                context = rest.split_whitespace().next().unwrap().to_owned();
            }
            for source in line.split("@tr(\"").skip(1) {
                let id = &source[..source.find('"').unwrap()];
                let key = (context.clone(), id.to_owned());
                let translated = zh.get(&key).unwrap_or_else(|| {
                    panic!("{}: no translation of {id:?} in context {context:?}", file.display())
                });
                assert!(!translated.is_empty(), "empty translation of {id:?}");
                count += 1;
            }
        }
    }
    assert!(count > 80, "{count} strings found in {} files", files.len());
}

/// One test for the rest: Slint's platform belongs to the thread that set it.
#[test]
fn every_screen_shows_what_it_is_for_in_both_languages_and_taps_become_actions() {
    let surface = headless::window(800, 480).unwrap();
    let window = GateWindow::new().unwrap();
    window.show().unwrap();
    let keep = std::env::var_os("FACEGATE_SCREENSHOTS").map(PathBuf::from);

    let mut rendered = Vec::new();
    for (lang, tag) in [(Language::En, "en"), (Language::Zh, "zh")] {
        select_language(lang);
        for (name, screen, want) in screens() {
            show(&window, &screen);
            let image = headless::render(&surface);
            check(&window, name, &want, lang);
            let file = format!("{tag}-{name}.png");
            match &keep {
                Some(dir) => image.save(dir.join(&file)).unwrap(),
                None => {
                    let share = differs_from(&image, &Path::new("ui/screenshots").join(&file));
                    assert!(
                        share < 0.01,
                        "{file}: {:.1} % of the pixels differ from the committed screenshot \
                         (if the change is meant, regenerate them, see the README)",
                        share * 100.0
                    );
                }
            }
            rendered.push((tag, name, image));
        }
    }

    // The idle screen's three tiles are the same size: in the tree, and as drawn (each third's
    // blue area is equal); the Visitor button below them is visibly smaller.
    select_language(Language::En);
    show(&window, &Screen::Idle { face: FaceTile::Available });
    let sizes: Vec<_> = buttons(&window).iter().map(|b| b.1.size()).collect();
    assert_eq!(sizes.len(), 4);
    let (tiles, visitor) = (&sizes[..3], sizes[3]);
    assert!(tiles.iter().all(|s| *s == tiles[0] && s.width > 200.0), "tile sizes {sizes:?}");
    assert!(
        visitor.width < tiles[0].width && visitor.height * 2.0 < tiles[0].height,
        "the Visitor button is secondary: {sizes:?}"
    );
    let idle = &rendered.iter().find(|r| r.0 == "en" && r.1 == "idle").unwrap().2;
    let blue = |x0: u32, x1: u32| {
        (x0..x1)
            .filter(|&x| (100..450).any(|y| idle.get_pixel(x, y).0 == [0x1d, 0x4e, 0xd8]))
            .count()
    };
    let widths = [blue(0, 270), blue(270, 530), blue(530, 800)];
    assert!(widths[0] > 200 && widths.iter().all(|&w| w.abs_diff(widths[0]) <= 2), "{widths:?}");
    // A greyed Face tile says so to a screen reader too.
    show(&window, &Screen::Idle { face: FaceTile::Unavailable(FaceUnavailable::CameraFailed) });
    let enabled: Vec<_> = buttons(&window).iter().map(|b| b.1.accessible_enabled()).collect();
    assert_eq!(enabled[..3], [Some(false), Some(true), Some(true)]);

    // Taps on the idle screen's tiles (three equal thirds below the title bar).
    show(&window, &Screen::Idle { face: FaceTile::Available });
    headless::render(&surface);
    let taps: Rc<RefCell<Vec<String>>> = Rc::default();
    let log = Rc::clone(&taps);
    connect(&window, move |action: Action| log.borrow_mut().push(format!("{action:?}")));
    for x in [140.0, 400.0, 660.0] {
        tap(&window, x, 280.0);
    }
    tap(&window, 680.0, 48.0);
    assert_eq!(*taps.borrow(), ["ChooseFace", "ChoosePin", "ChooseCard", "SwitchLanguage"]);
    taps.borrow_mut().clear();
    press(&window, "Visitor");
    show(&window, &Screen::VisitorCode);
    press(&window, "Show a QR code");
    show(&window, &Screen::PinNumber);
    press(&window, "I have a reset code");
    let booked = Offer::Booked;
    show(
        &window,
        &Screen::Result { granted: true, outcome: Outcome::Welcome { name: None }, offer: booked },
    );
    press(&window, "Enrol my face");
    assert_eq!(*taps.borrow(), ["ChooseVisitor", "ScanQr", "StartPinReset", "EnrolBooked"]);

    // "I have a reset code": number, code, the new PIN twice (as dots), then all four at once.
    show(&window, &Screen::ResetPin);
    taps.borrow_mut().clear();
    for (typed, next) in [
        ("1201", "Enter your reset code"),
        ("48151623", "Enter your new PIN"),
        ("7391", "Enter your new PIN again"),
    ] {
        typed.chars().for_each(|c| press(&window, &c.to_string()));
        press(&window, "OK");
        let labels: Vec<String> = seen(&window).into_iter().map(|s| s.1).collect();
        assert!(labels.contains(&next.to_owned()), "{labels:?}");
    }
    "7391".chars().for_each(|c| press(&window, &c.to_string()));
    let labels: Vec<String> = seen(&window).into_iter().map(|s| s.1).collect();
    assert!(!labels.iter().any(|l| l.contains("7391")), "the new PIN is not shown: {labels:?}");
    press(&window, "OK");
    let sent = "ResetPin { number: \"1201\", code: \"48151623\", new: \"7391\", repeat: \"7391\" }";
    assert_eq!(*taps.borrow(), [sent]);

    // The keypad (a 3×4 grid at the right) sends the typed digits on OK; ⌫ clears.
    show(&window, &Screen::PinNumber);
    headless::render(&surface);
    taps.borrow_mut().clear();
    let key = |col: f32, row: f32| (477.0 + col * 123.0, 134.0 + row * 94.5);
    for (col, row) in
        [(0.0, 0.0), (2.0, 2.0), (0.0, 3.0), (0.0, 0.0), (1.0, 0.0), (2.0, 2.0), (2.0, 3.0)]
    {
        let (x, y) = key(col, row);
        tap(&window, x, y);
    }
    assert_eq!(*taps.borrow(), ["Digits(\"129\")"], "1, 9, clear, then 1, 2, 9 and OK");

    // "My data" → "Change PIN": the current PIN, then the new one, both as dots, then both
    // together to the runtime.
    show(&window, &Screen::MyData { templates: 0 });
    taps.borrow_mut().clear();
    press(&window, "Change PIN");
    assert_eq!(*taps.borrow(), ["StartPinChange"]);
    show(&window, &Screen::ChangePin);
    taps.borrow_mut().clear();
    for label in ["2", "5", "8", "0", "OK"] {
        press(&window, label);
    }
    let labels: Vec<String> = seen(&window).into_iter().map(|s| s.1).collect();
    assert!(labels.contains(&"Enter your new PIN".to_owned()), "{labels:?}");
    assert!(labels.contains(&"PIN, hidden: 0 digits".to_owned()), "{labels:?}");
    for label in ["8", "6", "4", "2"] {
        press(&window, label);
    }
    let labels: Vec<String> = seen(&window).into_iter().map(|s| s.1).collect();
    assert!(labels.contains(&"PIN, hidden: 4 digits".to_owned()), "no digit is shown");
    assert!(!labels.iter().any(|l| l.contains("8642")), "no digit is shown: {labels:?}");
    press(&window, "OK");
    assert_eq!(*taps.borrow(), ["ChangePin { old: \"2580\", new: \"8642\" }"]);
    // Left and opened again, it starts over with the current PIN.
    show(&window, &Screen::Idle { face: FaceTile::Available });
    headless::render(&surface);
    show(&window, &Screen::ChangePin);
    let labels: Vec<String> = seen(&window).into_iter().map(|s| s.1).collect();
    assert!(labels.contains(&"Enter your current PIN".to_owned()), "{labels:?}");
}
