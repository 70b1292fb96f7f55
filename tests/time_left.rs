//! The time left the page shows, read from the work done: alone in its own test binary, since
//! tests that share a process share its cores, and this one times steps.

mod common;

use deepdream::device::Limits;
use deepdream::dream::DreamParams;
use deepdream::image_io;
use deepdream::session::Session;
use image::imageops::FilterType;

#[test]
fn the_time_left_read_from_the_work_done_holds_after_the_first_octave() {
    let device = deepdream::device::cpu();
    let model = common::model(&device).0;
    // Large enough that a step's cost is its pixels', as in a photo, not its fixed overhead.
    let photo = image::imageops::resize(
        &common::photo("chelsea.png"),
        720,
        480,
        FilterType::Triangle,
    );
    let bytes = image_io::encode_png(&photo, None, "", &[]).unwrap();
    let params = DreamParams {
        octaves: 3,
        steps: 3,
        ..DreamParams::default()
    };
    let mut session = Session::open(
        &model,
        &device,
        &Limits::PORTABLE,
        Some(&bytes),
        params,
        None,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let mut estimate = None;
    while let Some(p) = session.step().unwrap() {
        // The first step of the second octave: the first octave's pace is all that is known.
        if p.octave == 2 && p.step == 1 {
            let elapsed = started.elapsed().as_secs_f64();
            let work = p.work_done as f64 / p.work_total as f64;
            let by_steps = elapsed / p.done as f64 * (p.total - p.done) as f64;
            estimate = Some((elapsed, elapsed / work * (1.0 - work), by_steps));
        }
    }
    let total = started.elapsed().as_secs_f64();
    let (at, by_work, by_steps) = estimate.unwrap();
    let left = total - at;
    assert!(
        (by_work - left).abs() <= 0.3 * left,
        "estimated {by_work:.2} s left, took {left:.2} s (by steps: {by_steps:.2} s)"
    );
}
