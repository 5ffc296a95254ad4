//! The console's flows through the site (issue 18), in chromium: one site controller with its
//! console on the site's register, a real nats-server, three doors (sync agents, their own
//! databases, simulated gates deciding from their replicas). A manager deletes a resident's
//! face data and it is gone at every door; issues a single-entry pass for door A that opens
//! once there and is then refused at A and, once gone from every door, at B; books an enrolment at door A, the resident completes it at A's gate, and
//! the resident's page shows the face on record; asks door B for a resident's new card, which
//! is tapped there, reaches every door, and the waiting page shows it arrived.

use std::sync::Arc;
use std::time::{Duration, Instant};

use facegate::access::Checked;
use facegate::access::checks::check_card;
use facegate::config::Config;
use facegate::console::accounts::ConsoleDb;
use facegate::console::roles::Role;
use facegate::console::{AppState, Console};
use facegate::credentials::{CardUid, Pin};
use facegate::runtime::gate::{Offer, Outcome};
use facegate::runtime::{Event, Screen};
use facegate::store::{PassRefusal, Store, unix_now};
use facegate::vision::FakeEngine;

use crate::browser_harness::ConsoleInBrowser;
use crate::console_http::PASSWORD;
use crate::site_card_tap::DoorGate;
use crate::site_rig::*;

/// Resident 1001's PIN, typed at door A's keypad.
const PIN: &str = "591604";

/// The console of `site`, on the controller's own files, with a manager `wang`.
fn console_of(site: &Site) -> AppState {
    let dir = site.site_dir();
    let accounts = ConsoleDb::in_memory().unwrap();
    accounts.add_account("wang", Role::Manager, PASSWORD, unix_now()).unwrap();
    let register = Store::open(&dir.register()).unwrap();
    Console::new(register, accounts, site.site_db(), Config::default(), Arc::new(unix_now))
}

/// The visitor decisions among a gate's events: granted, and why not.
fn visitor_decisions(events: &[Event]) -> Vec<(bool, Option<PassRefusal>)> {
    let decisions = events.iter().filter_map(|e| match e {
        Event::VisitorPass { granted, refusal, .. } => Some((*granted, *refusal)),
        _ => None,
    });
    decisions.collect()
}

fn wait(what: &str, f: impl FnMut() -> bool) {
    wait_until(Duration::from_secs(60), f).unwrap_or_else(|| panic!("{what}: not within 60 s"));
}

/// Whether `card` opens for resident `number` at a door.
fn opens(door: &Door, card: &CardUid, number: &str) -> bool {
    let store = door.open();
    let Checked::Card(Some(id)) = check_card(&store, card).unwrap() else { return false };
    store.resident_by_id(id).unwrap().number == number
}

fn has_face(door: &Door, number: &str) -> bool {
    !door.open().templates_of(number).unwrap().is_empty()
}

#[test]
fn a_manager_in_chromium_deletes_a_face_issues_a_pass_books_an_enrolment_and_adds_a_card_the_doors_follow()
 {
    let started = Instant::now();
    let mut site = Site::new();
    // 1001 and 1003 without a face, 1002 with one; each with a PIN and a card.
    add_residents(&mut site.register(), 1001, 3, 2);
    let pin = Pin::parse(PIN, &rules()).unwrap();
    site.register().set_pin("1001", &pin, &rules(), NOW, "Office").unwrap();
    site.start_controller();
    let mut doors: Vec<Door> =
        ["door-a", "door-b", "door-c"].iter().map(|name| site.door(name, false)).collect();
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));
    let (a, b) = (&doors[0], &doors[1]);
    assert!(doors.iter().all(|door| has_face(door, "1002")), "the face is at every door");
    let photos = tempfile::tempdir().unwrap();
    let frame = FakeEngine::frame(1, 255);
    let image = image::RgbImage::from_raw(frame.width(), frame.height(), frame.pixels().to_vec());
    image.unwrap().save(photos.path().join("li.png")).unwrap();

    let state = console_of(&site);
    site.rt.block_on(async {
        let browser = ConsoleInBrowser::start(state.clone()).await;
        browser.sign_in("wang", PASSWORD).await;

        browser.goto("/residents/1002").await;
        browser.press("Delete face data").await;
        assert!(browser.text_of(".notice").await.contains("Face data deleted"));
        wait("the face gone at every door", || doors.iter().all(|d| !has_face(d, "1002")));
        for door in &doors {
            let gallery = door.open().gallery(unix_now()).unwrap();
            let id = door.open().resident("1002").unwrap().id;
            assert!(gallery.verify(id, &embedding(1002)).is_none(), "{}", door.id);
        }

        browser.goto("/visitors").await;
        browser.fill("label", "Plumber for 1003").await;
        browser.fill("entries", "1").await;
        browser.fill("doors", "door-a").await;
        browser.submit("form.stack button").await;
        let code = browser.text_of("p.code").await;
        let passes = |door: &Door| door.open().visitor_passes(0).unwrap();
        wait("the pass at every door", || doors.iter().all(|d| passes(d).len() == 1));
        let mut gate_a = DoorGate::new(a, photos.path(), 0);
        let typed = format!("tap visitor\ntype {code}");
        assert_eq!(visitor_decisions(&gate_a.run(&typed)), [(true, None)], "once at A");
        gate_a.later(6_000);
        let refused = visitor_decisions(&gate_a.run(&typed));
        assert_eq!(refused, [(false, Some(PassRefusal::UsedUp))], "refused at A after");
        wait("the used pass gone from B", || passes(b).is_empty());
        let mut gate_b = DoorGate::new(b, photos.path(), 0);
        let refused = visitor_decisions(&gate_b.run(&typed));
        assert_eq!(refused, [(false, Some(PassRefusal::Unknown))], "refused at B after");

        browser.goto("/residents/1001").await;
        assert!(browser.source().await.contains("No face data."));
        browser.fill("door", "door-a").await;
        browser.press("Book").await;
        assert!(browser.text_of(".notice").await.contains("The enrolment is booked"));
        wait("the booking at A", || !a.open().bookings(unix_now()).unwrap().is_empty());
        gate_a.later(6_000);
        gate_a.run(&format!("tap pin\ntype 1001\ntype {PIN}"));
        let screen = gate_a.screen();
        assert!(matches!(screen, Screen::Result { offer: Offer::Booked, .. }), "{screen:?}");
        gate_a.run("tap enrol\nshow li.png\ntap agree");
        gate_a.later(1_000);
        let screen = gate_a.screen();
        let enrolled = matches!(screen, Screen::Result { outcome: Outcome::Enrolled { .. }, .. });
        assert!(enrolled, "{screen:?}");
        wait("the face in the register", || {
            !site.register().templates_of("1001").unwrap().is_empty()
        });
        wait("the face at every door", || doors.iter().all(|d| has_face(d, "1001")));
        browser.goto("/residents/1001").await;
        let page = browser.source().await;
        assert!(!page.contains("No face data.") && page.contains("Delete face data"), "on record");
        assert!(page.contains("Consent given"), "with the consent given at the door");
        assert!(!page.contains("Booked at"), "the booking is done");

        // A new card for 1003, tapped at door B: the waiting page reloads itself until it came.
        browser.goto("/residents/1003").await;
        let door_b = format!("#tap-door option[value='{}']", b.id);
        browser.choose(&door_b).await;
        browser.press("Wait 60 s for the card there").await;
        assert!(browser.text_of(".notice").await.contains("Waiting for the card at door door-b"));
        let asked = |s: &Screen| matches!(s, Screen::SiteCard { number } if number == "1003");
        assert!(gate_b.wait_for(Duration::from_secs(30), asked), "door B asks for the card");
        gate_b.run("card 55012");
        let card: CardUid = "55012".parse().unwrap();
        wait("the card at every door", || doors.iter().all(|d| opens(d, &card, "1003")));
        let mut shown = String::new();
        for _ in 0..40 {
            shown = browser.text_of("main p").await;
            if !shown.starts_with("Waiting") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert!(shown.contains("was added"), "the waiting page sees the card: {shown}");
        browser.close().await;
    });
    println!("console through the site in chromium: {:?}", started.elapsed());
}
