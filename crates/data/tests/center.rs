//! `CenterResized`: torchvision's evaluation `Resize(size)` + `CenterCrop(size)`.

use selfsup_data::{CenterResized, Error, ImageDataset};

/// A dataset of images of any shapes, with labels.
struct Mixed {
    images: Vec<(Vec<u8>, [usize; 3])>,
}

impl ImageDataset for Mixed {
    fn len(&self) -> usize {
        self.images.len()
    }

    fn shape(&self, index: usize) -> [usize; 3] {
        self.images[index].1
    }

    fn pixels(&self, index: usize) -> selfsup_data::Result<std::borrow::Cow<'_, [u8]>> {
        Ok(std::borrow::Cow::Borrowed(&self.images[index].0))
    }

    fn target(&self, index: usize) -> Option<usize> {
        Some(index % 3)
    }

    fn num_classes(&self) -> usize {
        3
    }
}

/// A CHW image with pixel `(c, y, x) = f(c, y, x)`.
fn image(c: usize, h: usize, w: usize, f: impl Fn(usize, usize, usize) -> u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(c * h * w);
    for k in 0..c {
        for y in 0..h {
            for x in 0..w {
                out.push(f(k, y, x));
            }
        }
    }
    out
}

#[test]
fn a_non_square_image_is_resized_then_centre_cropped() {
    // 8×24 -> Resize(4) -> 4×12 -> CenterCrop(4) keeps resized columns 4..8. Their bilinear
    // antialiased taps (scale 2, support 2) read source columns 7..17, here all 100 + channel;
    // the rest is 0, so an off-centre crop would show it.
    let wide = image(3, 8, 24, |c, _, x| {
        if (7..17).contains(&x) {
            100 + c as u8
        } else {
            0
        }
    });
    // 7×4 (tall, already 4 wide: no resize) -> CenterCrop(4) starts at row
    // int(round((7 - 4) / 2.0)) == 2 (Python rounds half to even).
    let tall = image(3, 7, 4, |c, y, x| (10 * y + x + 100 * c) as u8);
    // 4×5: crop column offset int(round(0.5)) == 0.
    let short = image(3, 4, 5, |_, y, x| (10 * y + x) as u8);
    let data = Mixed {
        images: vec![(wide, [3, 8, 24]), (tall, [3, 7, 4]), (short, [3, 4, 5])],
    };
    let out = CenterResized::new(&data, 4).unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(out.num_classes(), 3);
    assert_eq!(
        (0..3)
            .map(|i| (out.shape(i), out.target(i)))
            .collect::<Vec<_>>(),
        vec![
            ([3, 4, 4], Some(0)),
            ([3, 4, 4], Some(1)),
            ([3, 4, 4], Some(2))
        ]
    );
    assert_eq!(
        &*out.pixels(0).unwrap(),
        [[100; 16], [101; 16], [102; 16]].concat()
    );
    assert_eq!(
        &*out.pixels(1).unwrap(),
        image(3, 4, 4, |c, y, x| (10 * (y + 2) + x + 100 * c) as u8)
    );
    assert_eq!(
        &*out.pixels(2).unwrap(),
        image(3, 4, 4, |_, y, x| (10 * y + x) as u8)
    );
}

#[test]
fn an_image_already_at_the_size_passes_through_unchanged() {
    let pixels = image(3, 6, 6, |c, y, x| ((c * 71 + y * 13 + x * 29) % 256) as u8);
    let data = Mixed {
        images: vec![
            (pixels.clone(), [3, 6, 6]),
            (vec![0; 3 * 12 * 9], [3, 12, 9]),
        ],
    };
    let out = CenterResized::with_indices(&data, &[1, 0], 6).unwrap();
    assert_eq!(out.source_indices(), &[1, 0]);
    assert_eq!(&*out.pixels(1).unwrap(), &pixels[..]);
    assert_eq!(out.target(1), Some(0));
    // 12×9 -> Resize(6) -> int(6 * 12 / 9) == 8 rows × 6 -> crop 6×6.
    assert_eq!(out.shape(0), [3, 6, 6]);
    assert_eq!(&*out.pixels(0).unwrap(), [0; 108]);
}

#[test]
fn the_crop_offset_rounds_half_to_even_like_python() {
    // Images 4 wide and 4 + d tall need no resize; CenterCrop(4) starts at row
    // int(round(d / 2.0)): [int(round(d / 2.0)) for d in range(8)] == [0, 0, 1, 2, 2, 2, 3, 4]
    let images = (0..8)
        .map(|d| (image(1, 4 + d, 4, |_, y, _| y as u8), [1, 4 + d, 4]))
        .collect();
    let out = CenterResized::new(&Mixed { images }, 4).unwrap();
    let first_rows: Vec<u8> = (0..8).map(|i| out.pixels(i).unwrap()[0]).collect();
    assert_eq!(first_rows, [0, 0, 1, 2, 2, 2, 3, 4]);
    assert_eq!(out.shape(7), [1, 4, 4]);
    assert_eq!(
        &*out.pixels(7).unwrap(),
        image(1, 4, 4, |_, y, _| (y + 4) as u8)
    );
}

#[test]
fn bad_arguments_are_errors() {
    let data = Mixed {
        images: vec![(vec![0; 12], [3, 2, 2])],
    };
    for result in [
        CenterResized::new(&data, 0),
        CenterResized::with_indices(&data, &[], 2),
        CenterResized::with_indices(&data, &[1], 2),
    ] {
        assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
    }
}
