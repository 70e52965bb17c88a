//! Picture grids of images and their views, for looking at what augmentations do.

use crate::error::{Error, Result};
use crate::transforms::Image;

/// Lays out `rows` of 3-channel images (values in `[0, 1]`; denormalise first) as an RGB
/// picture: every image scaled up `scale` times (nearest neighbour), `pad` white pixels between
/// and around them. Rows may have different lengths; all images must have the same size.
pub fn image_grid(rows: &[Vec<Image>], scale: usize, pad: usize) -> Result<image::RgbImage> {
    let first = rows
        .iter()
        .flatten()
        .next()
        .ok_or_else(|| Error::Invalid("image grid: no images".into()))?;
    if scale == 0 {
        return Err(Error::Invalid("image grid: scale must be positive".into()));
    }
    let [_, h, w] = first.shape();
    for img in rows.iter().flatten() {
        if img.shape() != [3, h, w] {
            return Err(Error::Invalid(format!(
                "image grid: every image must be [3, {h}, {w}], got {:?}",
                img.shape()
            )));
        }
    }
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let (cell_w, cell_h) = (w * scale, h * scale);
    let width = cols * (cell_w + pad) + pad;
    let height = rows.len() * (cell_h + pad) + pad;
    let mut out = image::RgbImage::from_pixel(width as u32, height as u32, image::Rgb([255; 3]));
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let bytes = img.to_chw_u8();
            let (x0, y0) = (pad + c * (cell_w + pad), pad + r * (cell_h + pad));
            for y in 0..cell_h {
                for x in 0..cell_w {
                    let p = (y / scale) * w + x / scale;
                    let px = [bytes[p], bytes[h * w + p], bytes[2 * h * w + p]];
                    out.put_pixel((x0 + x) as u32, (y0 + y) as u32, image::Rgb(px));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(v: f32) -> Image {
        Image::new(3, 2, 2, vec![v; 12]).unwrap()
    }

    #[test]
    fn places_scaled_cells_between_white_padding() {
        let grid = image_grid(&[vec![solid(0.0), solid(1.0)], vec![solid(0.2)]], 3, 1).unwrap();
        assert_eq!(grid.dimensions(), (2 * 7 + 1, 2 * 7 + 1));
        assert_eq!(grid.get_pixel(0, 0).0, [255; 3]); // padding
        assert_eq!(grid.get_pixel(1, 1).0, [0; 3]); // row 0, col 0
        assert_eq!(grid.get_pixel(6, 6).0, [0; 3]);
        assert_eq!(grid.get_pixel(7, 1).0, [255; 3]); // padding between columns
        assert_eq!(grid.get_pixel(8, 1).0, [255; 3]); // row 0, col 1 is white (1.0)
        assert_eq!(grid.get_pixel(1, 8).0, [51; 3]); // row 1, col 0: 0.2 * 255
        assert_eq!(grid.get_pixel(8, 8).0, [255; 3]); // row 1 has no second image
    }

    #[test]
    fn rejects_empty_and_mismatched_inputs() {
        assert!(image_grid(&[], 1, 0).is_err());
        let small = Image::new(3, 1, 1, vec![0.0; 3]).unwrap();
        let err = image_grid(&[vec![solid(0.0), small]], 1, 0).unwrap_err();
        assert!(
            err.to_string().contains("every image must be [3, 2, 2]"),
            "{err}"
        );
    }
}
