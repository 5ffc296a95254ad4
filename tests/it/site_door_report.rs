//! What a door reports to the site besides its replica (issue 18's doors page): the alarms the
//! gate has now (forced open until the door closes) and the last selftest, carried by the sync
//! agent's status to `site.db`, as `facegate site status` and the console read them.

use std::time::Duration;

use facegate::door::Input;
use facegate::site::outbox::{DoorAlarms, Selftest};
use facegate::site::status::{DoorStatus, door_statuses};

use crate::site_remote_unlock::RunningGate;
use crate::site_rig::*;

#[test]
fn a_forced_door_shows_at_the_site_until_it_closes_and_so_does_the_last_selftest() {
    let mut site = Site::new();
    let mut north = site.door("north", false);
    let site_db = site.site_db(); // the rig added the door to site.db
    site.start_controller();
    site.start_agent(&mut north);
    let mut gate = RunningGate::new(&north, 0);
    let status = || -> DoorStatus { door_statuses(&site_db).unwrap().remove(0) };
    let wait_for = |gate: &mut RunningGate, what: &str, f: &dyn Fn(&DoorStatus) -> bool| {
        wait_until(Duration::from_secs(15), || {
            gate.run(Duration::from_millis(200), |_| false);
            f(&status())
        })
        .unwrap_or_else(|| panic!("{what}: the site shows {:?}", status()));
    };
    wait_for(&mut gate, "online", &|s| s.online && s.alarms_now == DoorAlarms::default());

    gate.gpio.drive(Input::DoorContact, true); // opened without a grant
    wait_for(&mut gate, "forced", &|s| s.alarms_now.forced_open);
    assert_eq!(status().alarms_now.names(), ["forced"]);
    gate.gpio.drive(Input::DoorContact, false);
    wait_for(&mut gate, "cleared", &|s| s.alarms_now == DoorAlarms::default());
    assert!(status().alarms >= 1, "the forced-open alarm is counted in the last 24 hours");

    let selftest = Selftest { at: NOW, ok: true };
    north.open().record_selftest(selftest).unwrap();
    wait_for(&mut gate, "selftest", &|s| s.last_selftest == Some(selftest));
}
