//! The real weights classify real photos: the end-to-end proof that loading, layout conversion
//! and the network's Caffe semantics are all right.

mod common;

use deepdream::classify::classify;

/// ImageNet's cats: 281-285 domestic, 286-293 wild (cougar, lynx, leopard, ... cheetah).
const CATS: std::ops::RangeInclusive<usize> = 281..=293;
const ESPRESSO: usize = 967;

#[test]
fn cat_is_cats_and_coffee_is_espresso() {
    for (name, device) in common::devices() {
        let (model, labels) = common::model(&device);
        // The square around the cat: the whole photo's 5th guess is the window screen behind her.
        let cat = common::crop("chelsea.png", 0, 100, 300, 300);
        let cat = pollster::block_on(classify(&model, &labels, &cat, 5, &device)).unwrap();
        eprintln!("{name} chelsea: {cat:?}");
        assert!(
            cat.iter().all(|c| CATS.contains(&c.index)),
            "{name}: chelsea's top 5 {cat:?}"
        );
        assert_eq!(cat[0].label, "Egyptian cat");
        assert!(cat[0].probability > 0.3, "{name}: {cat:?}");
        let whole = pollster::block_on(classify(
            &model,
            &labels,
            &common::photo("chelsea.png"),
            4,
            &device,
        ))
        .unwrap();
        assert!(
            whole.iter().all(|c| CATS.contains(&c.index)),
            "{name}: chelsea's top 4 {whole:?}"
        );

        let coffee = pollster::block_on(classify(
            &model,
            &labels,
            &common::photo("coffee.png"),
            5,
            &device,
        ))
        .unwrap();
        eprintln!("{name} coffee: {coffee:?}");
        assert_eq!(
            coffee[0].index, ESPRESSO,
            "{name}: coffee's top 5 {coffee:?}"
        );
        assert_eq!(coffee[0].label, "espresso");
        assert!(
            coffee
                .windows(2)
                .all(|w| w[0].probability >= w[1].probability)
        );
    }
}
