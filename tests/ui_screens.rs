//! The touchscreen rendered headless: every screen in Chinese and English, and taps on the
//! tiles reaching the runtime as actions. With `FACEGATE_SCREENSHOTS=DIR` the PNGs are kept.

use std::cell::RefCell;
use std::rc::Rc;

use facegate::runtime::gate::{AdminTask, FaceTile, Offer, Outcome};
use facegate::runtime::{Action, Screen};
use facegate::store::Language;
use facegate::store::consent::notice;
use facegate::ui::{GateWindow, connect, headless, select_language, show};
use facegate::vision::QualityIssue;
use facegate::vision::liveness::active::Turn;
use slint::ComponentHandle;
use slint::platform::{PointerEventButton, WindowEvent};

fn screens() -> Vec<(&'static str, Screen)> {
    let welcome = Outcome::Welcome { name: Some("Li".into()) };
    let mut config = facegate::config::Config::default();
    config.consent.controller = "Property management office, Building 3".into();
    config.consent.contact = "Office, ground floor, 9:00-18:00".into();
    let notice = |lang| notice(lang, &config);
    vec![
        ("idle", Screen::Idle { face: FaceTile::Available }),
        ("idle-no-camera", Screen::Idle { face: FaceTile::Unavailable("camera not found".into()) }),
        ("idle-no-face", Screen::Idle { face: FaceTile::NotOffered }),
        ("face-guidance", Screen::Face { guidance: Some(QualityIssue::TooSmall), prompt: None }),
        ("face-turn", Screen::Face { guidance: None, prompt: Some(Turn::Plus) }),
        ("pin", Screen::PinNumber),
        ("card", Screen::Card),
        (
            "result-granted",
            Screen::Result { granted: true, outcome: welcome, offer: Offer::MyData },
        ),
        (
            "result-denied",
            Screen::Result {
                granted: false,
                outcome: Outcome::FaceNotRecognised,
                offer: Offer::PinOrCard,
            },
        ),
        (
            "result-locked",
            Screen::Result {
                granted: false,
                outcome: Outcome::LockedOut { seconds: 300 },
                offer: Offer::Nothing,
            },
        ),
        ("my-data", Screen::MyData { templates: 1 }),
        ("admin", Screen::Admin { alarms: vec!["2026-11-24 09:12  HeldOpen".into()] }),
        ("admin-number", Screen::AdminNumber { task: AdminTask::EnrolFace }),
        (
            "admin-consent-zh",
            Screen::Consent { number: "1301".into(), notice: notice(Language::Zh) },
        ),
        (
            "admin-consent-en",
            Screen::Consent { number: "1301".into(), notice: notice(Language::En) },
        ),
        (
            "admin-enrol",
            Screen::Enrolling {
                number: "1301".into(),
                captured: 1,
                needed: 3,
                guidance: Some(QualityIssue::NotFrontal),
            },
        ),
        ("admin-card", Screen::AdminCard { number: "1201".into() }),
    ]
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

/// Every `@tr` string of the UI has its Chinese translation.
#[test]
fn every_string_of_the_ui_is_translated_to_chinese() {
    let ui = std::fs::read_to_string("ui/main.slint").unwrap();
    let po = std::fs::read_to_string("ui/lang/zh/LC_MESSAGES/facegate.po").unwrap();
    let mut count = 0;
    for source in ui.split("@tr(\"").skip(1) {
        let id = &source[..source.find('"').unwrap()];
        let entry = format!("msgid \"{id}\"\nmsgstr \"");
        let at = po.find(&entry).unwrap_or_else(|| panic!("no translation of {id:?}"));
        let translated = &po[at + entry.len()..];
        assert!(!translated.starts_with('"'), "empty translation of {id:?}");
        count += 1;
    }
    assert!(count > 50, "{count} strings found");
}

/// One test for the rest: Slint's platform belongs to the thread that set it.
#[test]
fn every_screen_renders_in_both_languages_and_taps_become_actions() {
    let surface = headless::window(800, 480).unwrap();
    let window = GateWindow::new().unwrap();
    window.show().unwrap();
    let keep = std::env::var_os("FACEGATE_SCREENSHOTS").map(std::path::PathBuf::from);

    let mut rendered = Vec::new();
    for (lang, tag) in [(Language::En, "en"), (Language::Zh, "zh")] {
        select_language(lang);
        for (name, screen) in screens() {
            show(&window, &screen);
            let image = headless::render(&surface);
            let lit = image.pixels().filter(|p| p.0.iter().any(|&c| c > 200)).count();
            assert!(lit > 500, "{tag}/{name} shows text");
            if let Some(dir) = &keep {
                image.save(dir.join(format!("{tag}-{name}.png"))).unwrap();
            }
            rendered.push((tag, name, image));
        }
    }
    let find =
        |tag: &str, name: &str| &rendered.iter().find(|r| r.0 == tag && r.1 == name).unwrap().2;
    for name in ["idle", "pin", "result-denied", "admin", "admin-enrol"] {
        assert_ne!(find("en", name).as_raw(), find("zh", name).as_raw(), "{name} is translated");
    }
    for (a, b) in [("idle", "pin"), ("idle", "idle-no-face"), ("result-granted", "result-denied")] {
        assert_ne!(find("en", a).as_raw(), find("en", b).as_raw(), "{a} and {b} differ");
    }

    // The idle screen's three tiles are the same size: each third's blue area is equal.
    let idle = find("en", "idle");
    let blue = |x0: u32, x1: u32| {
        (x0..x1)
            .filter(|&x| (100..450).any(|y| idle.get_pixel(x, y).0 == [0x1d, 0x4e, 0xd8]))
            .count()
    };
    let widths = [blue(0, 270), blue(270, 530), blue(530, 800)];
    assert!(widths.iter().all(|&w| w.abs_diff(widths[0]) <= 2), "tile widths {widths:?}");

    // Taps on the idle screen's tiles (three equal thirds below the title bar).
    select_language(Language::En);
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
}
