//! DeepDream's behaviour on the real weights: determinism, stopping, tiling, small photos and
//! the other objectives.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;
use deepdream::device::Limits;
use deepdream::dream::{self, Dream, DreamParams, Objective, Progress, Rng, tiles};
use deepdream::image_io;
use deepdream::model::GoogLeNet;
use deepdream::session::Session;

fn cpu() -> (GoogLeNet, Device) {
    let device = deepdream::device::cpu();
    (common::model(&device).0, device)
}

fn dream_pixels(
    model: &GoogLeNet,
    device: &Device,
    photo: &image::RgbImage,
    params: DreamParams,
) -> Vec<f32> {
    let input = image_io::to_tensor(photo, device);
    common::read(
        dream::run(
            model,
            input,
            params,
            &Limits::PORTABLE,
            &AtomicBool::new(false),
            |_, _| {},
        )
        .unwrap(),
    )
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| (*x as f64) * (*y as f64))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn short() -> DreamParams {
    DreamParams {
        octaves: 2,
        steps: 2,
        ..DreamParams::default()
    }
}

#[test]
fn same_seed_same_dream_other_seed_other_dream() {
    let (model, device) = cpu();
    let photo = common::crop("coffee.png", 100, 200, 120, 150);
    let a = dream_pixels(&model, &device, &photo, DreamParams { seed: 1, ..short() });
    let b = dream_pixels(&model, &device, &photo, DreamParams { seed: 1, ..short() });
    let c = dream_pixels(&model, &device, &photo, DreamParams { seed: 2, ..short() });
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn progress_after_every_step_and_stop_keeps_a_full_size_result() {
    let (model, device) = cpu();
    let photo = common::crop("chelsea.png", 30, 120, 150, 200);
    let cancel = AtomicBool::new(false);
    let mut seen: Vec<Progress> = Vec::new();
    let mut preview_sizes = Vec::new();
    let params = DreamParams {
        octaves: 3,
        steps: 3,
        ..DreamParams::default()
    };
    let result = dream::run(
        &model,
        image_io::to_tensor(&photo, &device),
        params,
        &Limits::PORTABLE,
        &cancel,
        |d, p| {
            seen.push(p);
            preview_sizes.push(d.preview().dims());
            if p.done == 4 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
    )
    .unwrap();
    assert_eq!(seen.len(), 4, "stopped after the 4th step");
    assert_eq!((seen[0].octave, seen[0].step, seen[0].total), (1, 1, 9));
    assert_eq!((seen[3].octave, seen[3].step, seen[3].done), (2, 1, 4));
    // Octave 1 dreams at 150/1.4/1.4 = 76 by 200/1.4/1.4 = 101 px, octave 2 at 107 by 142.
    assert_eq!(preview_sizes[0], [1, 3, 76, 101]);
    assert_eq!(preview_sizes[3], [1, 3, 107, 142]);
    assert_eq!(result.dims(), [1, 3, 150, 200]);
    let values = common::read(result);
    assert!(values.iter().all(|v| (0.0..=255.0).contains(v)));
    let original = common::read(image_io::to_tensor(&photo, &device));
    let moved = values
        .iter()
        .zip(&original)
        .filter(|(a, b)| (**a - **b).abs() > 0.5)
        .count();
    assert!(
        moved > values.len() / 3,
        "the stopped dream kept its progress ({moved} values moved)"
    );
}

#[test]
fn each_tile_of_the_gradient_is_that_tile_s_own_gradient() {
    let (model, device) = cpu();
    let photo = common::crop("coffee.png", 50, 100, 260, 300);
    let image = image_io::to_tensor(&photo, &device);
    let objective = Objective::Layer("inception_4c/output".parse().unwrap());
    let min = objective.deepest().min_input();
    let mut rng = Rng::new(9);
    let mut layout = rng.clone();
    let rows = tiles::spans(260, 80, min, &mut layout);
    let cols = tiles::spans(300, 80, min, &mut layout);
    // Interior tiles share a shape, so they run in batches: each must still get its own gradient.
    assert!(rows.len() > 3 && cols.len() > 3);
    assert!(
        tiles::batch(
            [rows[1].len(), cols[1].len()],
            objective.deepest(),
            &Limits::PORTABLE
        ) > 1
    );
    let tiled = tiles::gradient(
        &model,
        &image,
        &objective,
        None,
        [0, 0],
        80,
        min,
        &Limits::PORTABLE,
        &mut rng,
    )
    .unwrap()
    .grad;
    for row in &rows {
        for col in &cols {
            let region = [0..1, 0..3, row.clone(), col.clone()];
            let alone =
                dream::gradient(&model, &image.clone().slice(region.clone()), &objective).unwrap();
            // Each tile carries its share of the image's objective.
            let share = (row.len() * col.len()) as f32 / (260 * 300) as f32;
            let want = common::read(alone * share);
            let got = common::read(tiled.clone().slice(region));
            let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let worst = got
                .iter()
                .zip(&want)
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                worst <= 1e-5 * scale,
                "tile {row:?}x{col:?}: off by {worst} (scale {scale})"
            );
        }
    }
}

#[test]
fn tiles_read_from_the_unrolled_image_match_the_rolled_image() {
    // The step reads each tile of the rolled image straight from the image; that must equal
    // rolling the whole image, taking its tiled gradient and rolling that back.
    let (model, device) = cpu();
    let photo = common::crop("coffee.png", 50, 100, 150, 190);
    let image = image_io::to_tensor(&photo, &device);
    let objective = Objective::Layer("inception_3a/output".parse().unwrap());
    let min = objective.deepest().min_input();
    for shift in [[17, -29], [-140, 3]] {
        let direct = tiles::gradient(
            &model,
            &image,
            &objective,
            None,
            shift,
            64,
            min,
            &Limits::PORTABLE,
            &mut Rng::new(4),
        )
        .unwrap()
        .grad;
        let via_roll = tiles::gradient(
            &model,
            &image.clone().roll(&shift, &[2, 3]),
            &objective,
            None,
            [0, 0],
            64,
            min,
            &Limits::PORTABLE,
            &mut Rng::new(4),
        )
        .unwrap()
        .grad
        .roll(&[-shift[0], -shift[1]], &[2, 3]);
        let (a, b) = (common::read(direct), common::read(via_roll));
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs()));
        let worst = a
            .iter()
            .zip(&b)
            .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            scale > 0.0 && worst <= 1e-6 * scale,
            "{shift:?}: off by {worst} (scale {scale})"
        );
    }
}

#[test]
fn jitter_is_rolled_back() {
    // conv1 sees 7 px, so its gradient hardly depends on a shift: a roll left undone would leave
    // the step uncorrelated with the unshifted one. (Stride 2 keeps it from being exact.)
    let (model, device) = cpu();
    let photo = common::crop("coffee.png", 50, 100, 200, 240);
    let original = common::read(image_io::to_tensor(&photo, &device));
    let step = |jitter| {
        let params = DreamParams {
            objective: Objective::Layer("conv1/7x7_s2".parse().unwrap()),
            octaves: 1,
            steps: 1,
            jitter,
            ..DreamParams::default()
        };
        let after = dream_pixels(&model, &device, &photo, params);
        after
            .iter()
            .zip(&original)
            .map(|(a, b)| a - b)
            .collect::<Vec<f32>>()
    };
    let still = step(0);
    let rolled = cosine(&still, &step(40));
    let shifted_by_two: Vec<f32> = still.iter().skip(8).copied().chain([0.0; 8]).collect();
    let misplaced = cosine(&still, &shifted_by_two);
    eprintln!(
        "cosine to the unshifted step: jittered {rolled:.3}; the same step 8 px off {misplaced:.3}"
    );
    assert!(rolled > 0.8 && rolled < 0.9999, "cosine {rolled}");
    assert!(
        misplaced < 0.5,
        "an 8 px misplacement must show ({misplaced})"
    );
}

#[test]
fn small_photos_dream_on_fewer_octaves_and_tiny_ones_are_refused() {
    let (model, device) = cpu();
    let photo = common::crop("coffee.png", 100, 200, 60, 80);
    let dream = Dream::new(
        &model,
        image_io::to_tensor(&photo, &device),
        DreamParams::default(),
        &Limits::PORTABLE,
    )
    .unwrap();
    // 60x80 -> 42x57 -> 30x40; a fourth octave (21x28) could not reach inception_4c (23 px).
    assert_eq!(dream.progress().octaves, 3);
    let tiny = common::crop("coffee.png", 0, 0, 20, 40);
    let err = Dream::new(
        &model,
        image_io::to_tensor(&tiny, &device),
        DreamParams::default(),
        &Limits::PORTABLE,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("needs at least 23×23 px"), "{err}");
}

#[test]
fn channel_and_multi_layer_objectives_dream_differently() {
    let (model, device) = cpu();
    let photo = common::crop("chelsea.png", 50, 150, 100, 120);
    let with = |objective| {
        dream_pixels(
            &model,
            &device,
            &photo,
            DreamParams {
                objective,
                octaves: 1,
                steps: 2,
                ..DreamParams::default()
            },
        )
    };
    let layer = with(Objective::Layer("inception_4c/output".parse().unwrap()));
    let channel = with(Objective::Channel {
        blob: "inception_4c/output".parse().unwrap(),
        channel: 10,
    });
    let mixed = with(Objective::Layers(vec![
        ("inception_3b/output".parse().unwrap(), 1.0),
        ("inception_4c/output".parse().unwrap(), 0.5),
    ]));
    let original = common::read(image_io::to_tensor(&photo, &device));
    for (name, result) in [("channel", &channel), ("mixed", &mixed)] {
        assert_ne!(result, &layer, "{name}");
        assert_ne!(result, &original, "{name}");
    }
}

/// The session's result after it has run to its end.
fn finish(session: &mut Session) -> image::RgbImage {
    while session.step().unwrap().is_some() {}
    pollster::block_on(session.rgb()).unwrap()
}

fn png_of(photo: &image::RgbImage) -> Vec<u8> {
    image_io::encode_png(photo, None, "", &[]).unwrap()
}

#[test]
fn dream_more_with_the_same_recipe_is_the_recipes_next_pass() {
    let (model, device) = cpu();
    let bytes = png_of(&common::crop("chelsea.png", 50, 150, 100, 120));
    let open = |params: DreamParams| {
        Session::open(
            &model,
            &device,
            &Limits::PORTABLE,
            Some(&bytes),
            params,
            None,
        )
        .unwrap()
    };
    let params = DreamParams {
        octaves: 1,
        ..short()
    };
    let mut first = open(params.clone());
    finish(&mut first);
    // The page sends the recipe it shows: the link's (passes=1) or the last answer's.
    let mut second = first.more(params.clone()).unwrap();
    assert!(second.recipe().contains("passes=2"), "{}", second.recipe());
    let shown = DreamParams::from_query(&second.recipe()).unwrap();
    let twice = finish(&mut second);
    let mut third = second.more(shown).unwrap();
    assert!(third.recipe().contains("passes=3"), "{}", third.recipe());
    let thrice = finish(&mut third);
    // Each recipe makes its picture again in one go.
    let again = |passes| {
        finish(&mut open(DreamParams {
            passes,
            ..params.clone()
        }))
    };
    assert_eq!(again(2), twice);
    assert_eq!(again(3), thrice);
    assert_ne!(twice, thrice);
    // Progress counts this run's passes: a three-pass recipe reports them all.
    let mut three = open(DreamParams {
        passes: 3,
        ..params.clone()
    });
    let mut last = None;
    while let Some(p) = three.step().unwrap() {
        last = Some(p);
    }
    let last = last.unwrap();
    assert_eq!(
        (last.pass, last.passes, last.done, last.total),
        (3, 3, 6, 6)
    );
    assert_eq!(last.work_done, last.work_total);
}

#[test]
fn dream_more_with_another_recipe_keeps_the_recipes_before_it_in_the_png() {
    let (model, device) = cpu();
    let bytes = png_of(&common::crop("chelsea.png", 50, 150, 100, 120));
    let params = DreamParams {
        octaves: 1,
        ..short()
    };
    let mut first = Session::open(
        &model,
        &device,
        &Limits::PORTABLE,
        Some(&bytes),
        params.clone(),
        None,
    )
    .unwrap();
    finish(&mut first);
    let before = first.recipe();
    let other = DreamParams::from_query(&format!("{before}&layer=inception_3b/output")).unwrap();
    let mut second = first.more(other).unwrap();
    finish(&mut second);
    let png = pollster::block_on(second.png()).unwrap();
    let text = png_text(&png);
    assert_eq!(text.get("deepdream"), Some(&second.recipe()));
    assert!(second.recipe().contains("inception_3b"));
    assert_eq!(text.get("deepdream-before"), Some(&before));
}

/// A PNG's tEXt chunks, keyword to text.
fn png_text(png: &[u8]) -> std::collections::HashMap<String, String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let reader = decoder.read_info().unwrap();
    reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect()
}

#[test]
fn a_negative_layer_weight_turns_the_gradient_round() {
    let (model, device) = cpu();
    let image = image_io::to_tensor(&common::crop("chelsea.png", 50, 150, 100, 120), &device);
    let params = DreamParams::from_query("layer=inception_4c/output*-1").unwrap();
    assert!(
        params
            .to_query()
            .starts_with("layer=inception_4c/output*-1&")
    );
    let blob = "inception_4c/output".parse().unwrap();
    let up = common::read(
        dream::gradient(&model, &image, &Objective::Layers(vec![(blob, 1.0)])).unwrap(),
    );
    let down = common::read(dream::gradient(&model, &image, &params.objective).unwrap());
    assert!(up.iter().any(|g| *g != 0.0));
    for (u, d) in up.iter().zip(&down) {
        assert!((u + d).abs() <= 1e-6 * u.abs().max(1.0), "{u} against {d}");
    }
}
