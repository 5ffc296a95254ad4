//! A broker that loses its data, on a real nats-server restarted on an empty store dir: the
//! site's bucket is made anew, the controller puts every entry again, every door resyncs (and is
//! honest meanwhile: not caught up, shown as resyncing), and a resident removed before the loss
//! does not come back at a door that never saw the removal. A restart that keeps the store is no
//! loss.

use std::time::Duration;

use facegate::access::Checked;
use facegate::access::checks::check_pin;
use facegate::site::connect::{create_bucket, jetstream};
use facegate::site::status::door_statuses;
use facegate::store::replica::resync::Resync;
use facegate::store::unix_now;

use crate::site_rig::*;

/// When the door's replica last caught up with the site's bucket.
fn last_contact(door: &Door) -> i64 {
    door.open().replica().unwrap().unwrap().last_contact.expect("caught up once")
}

/// Whether a resident's PIN opens this door.
fn pin_opens(door: &Door, number: &str) -> bool {
    let store = door.open();
    let id = store.resident(number).unwrap().id;
    check_pin(&store, &rules(), number, &pin_of(number), unix_now()).unwrap()
        == Checked::Pin(Some(id))
}

/// Kills the broker, empties its store dir and starts it again on the same port.
fn wipe_broker(site: &mut Site) {
    site.server.kill9();
    std::fs::remove_dir_all(site.server.store_dir()).unwrap();
    site.server.restart();
}

#[test]
fn a_bucket_made_anew_is_filled_again_and_every_door_resyncs_without_a_removed_resident() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 4, 2);
    site.start_controller();
    let mut doors = vec![site.door("north", false), site.door("south", true)];
    doors.iter_mut().for_each(|door| site.start_agent(door));
    site.wait_converged(&doors, Duration::from_secs(60));
    let caught_up =
        || doors.iter().all(|d| d.open().replica().unwrap().unwrap().last_contact.is_some());
    wait_until(Duration::from_secs(10), caught_up).expect("both doors caught up once");

    // South is cut off when the office removes 1002; then the broker loses its store, and the
    // bucket is made anew (empty) before the controller is back.
    doors[1].proxy.as_ref().unwrap().cut();
    site.remove_resident("1002");
    let (north, south) = (&doors[0], &doors[1]);
    wait_until(Duration::from_secs(30), || north.open().resident("1002").is_err())
        .expect("the removal at north");
    site.stop_controller();
    wipe_broker(&mut site);
    let lost_at = unix_now();
    site.rt.block_on(async {
        let client = async_nats::connect(site.server.url()).await.unwrap();
        create_bucket(&jetstream(client), &site.site).await.unwrap();
    });
    wait_until(Duration::from_secs(30), || north.open().resync().unwrap() == Resync::AwaitingMark)
        .expect("north notices the bucket made anew");
    std::thread::sleep(Duration::from_millis(2_500));
    assert!(last_contact(north) <= lost_at, "north is not caught up with an empty bucket");
    assert!(pin_opens(north, "1001"), "north goes on deciding from its replica meanwhile");
    assert_eq!(north.records().len(), 3, "and keeps its residents until the site has put them");

    // The controller is back: it puts everything again; north catches up, south is still cut off
    // and the site shows it resyncing, not caught up with its revision of the lost bucket.
    site.start_controller();
    wait_until(Duration::from_secs(30), || north.open().resync().unwrap() == Resync::Following)
        .expect("north resynced");
    site.wait_converged(&doors[..1], Duration::from_secs(30));
    assert!(last_contact(north) > lost_at, "north is caught up again");
    let site_db = site.site_db();
    let status = |door: &Door| {
        door_statuses(&site_db).unwrap().into_iter().find(|s| s.door == door.id).unwrap()
    };
    wait_until(Duration::from_secs(10), || status(north).lag == Some(0))
        .expect("north reports its new revision");
    let cut_off = status(south);
    assert!(cut_off.resyncing && cut_off.lag.is_none(), "{cut_off:?}");
    assert!(south.open().resident("1002").is_ok(), "south never saw the removal");

    // South comes back: the new bucket holds no tombstone for 1002, and still 1002 goes.
    south.proxy.as_ref().unwrap().restore();
    let took = site.wait_converged(&doors, Duration::from_secs(60));
    println!("a door cut off across the broker's loss converged {took:?} after it came back");
    assert!(south.open().resident("1002").is_err(), "the removed resident is not back");
    wait_until(Duration::from_secs(10), || {
        let south = status(south);
        !south.resyncing && south.lag == Some(0)
    })
    .expect("south caught up, as its status says");

    // A change made at the site after the loss reaches every door.
    add_residents(&mut site.register(), 1010, 1, 1);
    site.wait_converged(&doors, Duration::from_secs(30));
    assert!(doors.iter().all(|door| pin_opens(door, "1010")));
}

#[test]
fn a_broker_restarted_with_its_store_is_no_loss_and_nothing_is_put_again() {
    let mut site = Site::new();
    add_residents(&mut site.register(), 1001, 3, 1_000);
    site.start_controller();
    let mut doors = vec![site.door("north", false)];
    site.start_agent(&mut doors[0]);
    site.wait_converged(&doors, Duration::from_secs(60));
    let published = site.site_db().published().unwrap();
    let bucket = site.site_db().bucket().unwrap().expect("the controller knows its bucket");
    site.server.restart();
    add_residents(&mut site.register(), 1010, 1, 1_000);
    site.wait_converged(&doors, Duration::from_secs(30));
    assert_eq!(site.site_db().bucket().unwrap(), Some(bucket), "the same bucket");
    let now = site.site_db().published().unwrap();
    for (key, (_, revision)) in &published {
        assert_eq!(now[key].1, *revision, "{key} was not put again");
    }
    assert_eq!(now.len(), published.len() + 1, "the new resident was");
    assert_eq!(doors[0].open().resync().unwrap(), Resync::Following);
}
