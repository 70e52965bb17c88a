//! From image bytes to Burn tensors.

use burn::tensor::{Device, Tensor, TensorData};

/// Stacks `n` CHW `u8` images into a float tensor scaled to `[0, 1]` (torchvision's `ToTensor`).
///
/// # Shapes
/// - `pixels`: `n × c × h × w` bytes, image after image, each CHW
/// - output: `[n, c, h, w]`
///
/// # Panics
///
/// If `pixels.len()` is not `n × c × h × w`.
pub fn images_to_tensor(pixels: &[u8], [n, c, h, w]: [usize; 4], device: &Device) -> Tensor<4> {
    assert_eq!(
        pixels.len(),
        n * c * h * w,
        "images_to_tensor: {} bytes for shape [{n}, {c}, {h}, {w}]",
        pixels.len()
    );
    let values: Vec<f32> = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    Tensor::from_data(TensorData::new(values, [n, c, h, w]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_bytes_to_unit_interval_keeping_layout() {
        let device = Device::flex();
        let pixels: Vec<u8> = vec![0, 255, 51, 102, 0, 0, 0, 0];
        let t = images_to_tensor(&pixels, [2, 1, 2, 2], &device);
        let v = t.into_data().try_to_vec_as::<f32>().unwrap();
        assert_eq!(v[..4], [0.0, 1.0, 0.2, 0.4]);
        assert_eq!(v[4..], [0.0; 4]);
    }

    #[test]
    #[should_panic(expected = "images_to_tensor: 3 bytes")]
    fn wrong_length_panics_with_the_shape() {
        images_to_tensor(&[1, 2, 3], [1, 1, 2, 2], &Device::flex());
    }
}
