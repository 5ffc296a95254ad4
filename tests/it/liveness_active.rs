//! The head-turn challenge reproduces every shared fixture: outcome and reason.

use crate::common;

use facegate::vision::liveness::active::{ActiveParams, HeadTurnChallenge, Progress, Turn};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    params: ActiveParams,
    fixtures: Vec<Fixture>,
}

#[derive(Deserialize)]
struct Fixture {
    name: String,
    prompts: Vec<Turn>,
    expected_ok: bool,
    expected_reason: String,
    frames: Vec<Frame>,
}

#[derive(Deserialize)]
struct Frame {
    t: f32,
    lm: [[f32; 2]; 5],
    score: f32,
}

#[test]
#[cfg_attr(not(shared_data), ignore = "needs ../shared")]
fn every_fixture_gives_its_expected_outcome_and_reason() {
    let shared = common::shared_dir().expect(common::NEEDS_SHARED);
    let text = std::fs::read_to_string(shared.join("testdata/liveness/fixtures.json")).unwrap();
    let all: Fixtures = serde_json::from_str(&text).unwrap();
    assert_eq!(all.params, ActiveParams::default(), "the defaults are the fixtures' thresholds");
    for fixture in &all.fixtures {
        let mut challenge = HeadTurnChallenge::new(all.params.clone(), fixture.prompts.clone());
        for frame in &fixture.frames {
            challenge.push(frame.t, &frame.lm, frame.score);
        }
        let (ok, reason) = match challenge.finish() {
            Progress::Passed => (true, "ok".to_owned()),
            Progress::Failed(failure) => (false, failure.to_string()),
            other => panic!("{}: unfinished {other:?}", fixture.name),
        };
        assert_eq!(
            (ok, reason.as_str()),
            (fixture.expected_ok, fixture.expected_reason.as_str()),
            "{}",
            fixture.name
        );
    }
}
