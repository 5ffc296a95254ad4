//! The face session: the camera opened for it and its frames, the head-turn challenge when the
//! door asks for one, passive liveness, and who the face is (1:N, or 1:1 as a second factor).
//!
//! Passive liveness scores each frame with the function `eval-pad` measures (the full-resolution
//! crop, faces at least `min_face_width` wide) and decides by majority over the session's frames:
//! the first [`PASSIVE_VOTES`] of [`PASSIVE_FRAMES`] scored frames that agree decide, live or not.
//! Nobody is identified, nor told they are a stranger, before the face is judged live.

use super::{Event, Gate, Offer, Outcome, Screen};
use crate::access::{Checked, DenyReason, Method};
use crate::door::DoorPort;
use crate::runtime::camera::FrameSource;
use crate::runtime::error::Result;
use crate::store::{AuditKind, Chain};
use crate::templates::Identification;
use crate::vision::engine::uses_passive;
use crate::vision::liveness::LivenessMode;
use crate::vision::liveness::active::{HeadTurnChallenge, Progress};
use crate::vision::{Embedding, Frame, FrameResult, VisionError};

/// Scored frames a passive decision is made over, and the majority of them that decides.
pub const PASSIVE_FRAMES: usize = 3;
pub const PASSIVE_VOTES: usize = PASSIVE_FRAMES / 2 + 1;

/// A head-turn challenge and the resident recognised before it started.
pub(super) struct ActiveSession {
    pub(super) challenge: HeadTurnChallenge,
    first: Option<i64>,
}

impl<C: FrameSource, D: DoorPort> Gate<C, D> {
    pub(super) fn close_camera(&mut self, events: &mut Vec<Event>) {
        if self.camera.is_open() {
            self.camera.close();
            events.push(Event::CameraClosed);
        }
    }

    /// A camera that fails is not the gate failing: the Face tile says why, PIN and card stay,
    /// and the camera is tried again after [`super::CAMERA_RETRY_MS`].
    pub(super) fn camera_failed(
        &mut self,
        err: VisionError,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<()> {
        tracing::warn!("camera: {err}");
        self.close_camera(events);
        self.camera_fault = Some(now);
        self.pending = None;
        self.challenge = None;
        self.enrolment.clear();
        self.show_result(false, Outcome::CameraFailed, Offer::PinOrCard, now, events)
    }

    /// Opens the camera for a face session starting `now`; false when it failed (the session
    /// has then ended, see [`Self::camera_failed`]).
    pub(super) fn start_camera(&mut self, now: u64, events: &mut Vec<Event>) -> Result<bool> {
        if let Err(err) = self.camera.open() {
            self.camera_failed(err, now, events)?;
            return Ok(false);
        }
        self.face_started = now;
        events.push(Event::CameraOpened);
        Ok(true)
    }

    /// The camera's next frame; a failing camera ends the session and gives none.
    pub(super) fn next_frame(
        &mut self,
        now: u64,
        events: &mut Vec<Event>,
    ) -> Result<Option<Frame>> {
        match self.camera.next_frame() {
            Ok(frame) => Ok(frame),
            Err(err) => self.camera_failed(err, now, events).map(|()| None),
        }
    }

    /// Opens the camera for a face session, unless the face camera is locked after repeated
    /// failures (then the lock is the decision, and PIN or card are offered).
    pub(super) fn open_camera(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        if let Some(seconds) = self.locked(Method::Face, now)? {
            return self.conclude(Checked::Locked(Method::Face, seconds), now, events);
        }
        if !self.start_camera(now, events)? {
            return Ok(());
        }
        self.passive_votes.clear();
        self.challenge = self.head_turn();
        self.show(Screen::Face { guidance: None, prompt: None }, events);
        Ok(())
    }

    /// A new head-turn challenge with random prompts, when the door's liveness uses one.
    pub(super) fn head_turn(&self) -> Option<ActiveSession> {
        let liveness = &self.settings.liveness;
        matches!(liveness.mode, LivenessMode::Active | LivenessMode::Both).then(|| ActiveSession {
            challenge: HeadTurnChallenge::new(
                liveness.active.clone(),
                HeadTurnChallenge::random_prompts(&mut rand::rng()),
            ),
            first: None,
        })
    }

    pub(super) fn face_step(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        if now.saturating_sub(self.face_started) >= self.settings.gate.face_timeout_ms {
            self.close_camera(events);
            self.pending = None;
            self.challenge = None;
            return self.show_result(false, Outcome::FaceTimeout, Offer::PinOrCard, now, events);
        }
        let Some(frame) = self.next_frame(now, events)? else { return Ok(()) };
        let Ok(faces) = self.faces.as_mut() else { return Ok(()) };
        let FrameResult { face: dominant, probe, liveness } = faces.process(&frame)?;
        let live = self.passive_vote(liveness);
        if live == Some(false) {
            return self.liveness_failed(now, events);
        }
        if let Some(active) = self.challenge.as_mut() {
            // The head turns away from frontal during the challenge, so every detected face
            // counts, whatever the quality gate says about it.
            if let Some(face) = &dominant {
                active.challenge.push(now as f32 / 1000.0, &face.landmarks, face.score);
            }
            match active.challenge.progress() {
                Progress::Failed(_) => return self.liveness_failed(now, events),
                Progress::Passed => {}
                _ => {
                    if active.first.is_none()
                        && live == Some(true)
                        && let Ok(first) = &probe
                    {
                        let found = self.identify(first);
                        if found.is_none() {
                            // A stranger is told at once; no challenge to sit through.
                            self.challenge = None;
                            self.close_camera(events);
                            return self.conclude(Checked::Face(None), now, events);
                        }
                        if let Some(active) = self.challenge.as_mut() {
                            active.first = found.map(|f| f.0);
                        }
                    }
                    let prompt = self.challenge.as_ref().and_then(|a| a.challenge.prompt());
                    self.show(Screen::Face { guidance: probe.err(), prompt }, events);
                    return Ok(());
                }
            }
        }
        let probe = match probe {
            Ok(probe) => probe,
            Err(issue) => {
                self.show(Screen::Face { guidance: Some(issue), prompt: None }, events);
                return Ok(());
            }
        };
        if live.is_none() {
            // Still judging: the next frames vote.
            self.show(Screen::Face { guidance: None, prompt: None }, events);
            return Ok(());
        }
        let mut resident = self.identify(&probe);
        if let Some(active) = self.challenge.take()
            && resident.map(|r| r.0) != active.first
        {
            // Recognition must match the same resident again after the head turns.
            resident = None;
        }
        self.close_camera(events);
        if let Some((_, Some(template))) = resident {
            self.store.touch_template(template, self.unix(now))?;
        }
        self.conclude(Checked::Face(resident.map(|r| r.0)), now, events)
    }

    /// Counts a frame's passive score; the session's verdict so far: live, not live, or not
    /// decided yet. Always live when the door does not use passive liveness.
    fn passive_vote(&mut self, score: Option<f32>) -> Option<bool> {
        let config = &self.settings.liveness;
        if !uses_passive(config.mode) {
            return Some(true);
        }
        if let Some(score) = score {
            self.passive_votes.push(score >= config.threshold);
        }
        let live = self.passive_votes.iter().filter(|&&v| v).count();
        let not_live = self.passive_votes.len() - live;
        if live >= PASSIVE_VOTES {
            Some(true)
        } else if not_live >= PASSIVE_VOTES {
            Some(false)
        } else {
            None
        }
    }

    /// Who a probe is: 1:1 against the pending resident when the face is a second factor,
    /// else 1:N. Returns the resident and the matching template.
    fn identify(&self, probe: &Embedding) -> Option<(i64, Option<i64>)> {
        let matching = &self.settings.matching;
        match self.pending.filter(|p| p.second == Method::Face) {
            Some(p) => self
                .gallery
                .verify(p.resident_id, probe)
                .filter(|&s| s >= matching.threshold)
                .map(|_| (p.resident_id, None)),
            None => match self.gallery.identify(probe, matching.threshold, matching.margin) {
                Identification::Match { resident_id, template_id, .. } => {
                    Some((resident_id, Some(template_id)))
                }
                Identification::Unknown { .. } => None,
            },
        }
    }

    /// A photo, a screen, or a failed head-turn challenge: deny, say so, offer PIN or card.
    fn liveness_failed(&mut self, now: u64, events: &mut Vec<Event>) -> Result<()> {
        self.close_camera(events);
        self.challenge = None;
        self.pending = None;
        self.store.audit(
            Chain::Access,
            self.unix(now),
            AuditKind::AccessDenied,
            "unknown",
            "face: liveness failed",
        )?;
        events.push(Event::Decision {
            method: Method::Face,
            granted: false,
            reason: Some(DenyReason::LivenessFailed),
            resident: None,
            subject: None,
        });
        self.count_failure(Method::Face, now, events)?;
        self.door.deny(now)?;
        self.show_result(false, Outcome::NotLive, Offer::PinOrCard, now, events)
    }
}
