//! Image sizes read from file headers, without decoding: what an [`ImageFolder`] indexes.
//!
//! JPEG (what photographs and ImageNet are stored as) is read here, marker by marker: the
//! frame header gives the size, the Exif segment the orientation, and the file is not read past
//! the start of the scan, so indexing a folder reads a few kilobytes per file, whatever the
//! image's size. Every other format goes through the `image` crate's decoder up to its header
//! (PNG's `IHDR` and the chunks before the pixels, say).
//!
//! [`ImageFolder`]: crate::ImageFolder

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use image::ImageReader;
use image::metadata::Orientation;

use crate::error::{Error, Result};

/// What a file's header says: its stored size and its Exif orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// Stored width, before the orientation is applied.
    pub width: u32,
    /// Stored height, before the orientation is applied.
    pub height: u32,
    /// The Exif orientation (`NoTransforms` without one).
    pub orientation: Orientation,
}

impl Header {
    /// `(width, height)` of the image as it is shown: swapped by the orientations that turn it
    /// a quarter.
    pub fn upright(&self) -> (u32, u32) {
        match self.orientation {
            Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH => (self.height, self.width),
            _ => (self.width, self.height),
        }
    }
}

/// Reads the header of the image file at `path`.
///
/// # Errors
/// [`Error::Io`] / [`Error::MissingFile`] when the file cannot be read; [`Error::Image`] naming
/// the file when it is not an image the decoders know, or its header is cut short or malformed.
pub(crate) fn read_header(path: &Path) -> Result<Header> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // Most JPEG headers end (at their start of scan) within the first kilobyte.
    let mut reader = BufReader::with_capacity(4096, file);
    let start = reader.fill_buf().map_err(|e| Error::io(path, e))?;
    if start.starts_with(&[0xFF, 0xD8]) {
        return jpeg_header(&mut reader).map_err(|reason| Error::Image {
            path: path.to_path_buf(),
            reason,
        });
    }
    drop(reader);
    other_header(path)
}

/// Any format but JPEG: the `image` crate's decoder, up to its header.
fn other_header(path: &Path) -> Result<Header> {
    let image_err = |e: image::ImageError| Error::Image {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let reader = ImageReader::open(path)
        .map_err(|e| Error::io(path, e))?
        .with_guessed_format()
        .map_err(|e| Error::io(path, e))?;
    let mut decoder = reader.into_decoder().map_err(image_err)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    let orientation =
        image::ImageDecoder::orientation(&mut decoder).unwrap_or(Orientation::NoTransforms);
    Ok(Header {
        width,
        height,
        orientation,
    })
}

/// Walks a JPEG's markers from its start of image to its start of scan. The orientation is that
/// of the last Exif segment before the scan, as the `image` crate's decoder (zune-jpeg) takes it.
fn jpeg_header(reader: &mut BufReader<File>) -> std::result::Result<Header, String> {
    let cut = |what: &str| format!("the file ends in its header ({what})");
    let mut byte = [0u8; 1];
    let mut two = [0u8; 2];
    reader.read_exact(&mut two).map_err(|_| cut("start"))?;
    let mut size = None;
    let mut orientation = Orientation::NoTransforms;
    loop {
        // A marker: 0xFF (any number of fill bytes), then its code.
        reader.read_exact(&mut byte).map_err(|_| cut("marker"))?;
        if byte[0] != 0xFF {
            return Err(format!(
                "malformed JPEG header: 0x{:02X} where a marker was expected",
                byte[0]
            ));
        }
        let mut code = 0xFF;
        while code == 0xFF {
            reader.read_exact(&mut byte).map_err(|_| cut("marker"))?;
            code = byte[0];
        }
        match code {
            // Markers without a payload.
            0x01 | 0xD0..=0xD8 => continue,
            0xD9 => return Err("the JPEG ends before its image data".into()),
            _ => {}
        }
        reader
            .read_exact(&mut two)
            .map_err(|_| cut("segment length"))?;
        let length = usize::from(u16::from_be_bytes(two));
        if length < 2 {
            return Err(format!(
                "malformed JPEG header: a segment of length {length}"
            ));
        }
        let payload = length - 2;
        match code {
            // Start of scan: the header is over.
            0xDA => break,
            // Start of frame (every coding process; 0xC4, 0xC8 and 0xCC are other tables).
            0xC0..=0xCF if !matches!(code, 0xC4 | 0xC8 | 0xCC) => {
                let mut frame = vec![0u8; payload];
                reader
                    .read_exact(&mut frame)
                    .map_err(|_| cut("frame header"))?;
                if frame.len() < 5 {
                    return Err("malformed JPEG frame header".into());
                }
                let height = u32::from(u16::from_be_bytes([frame[1], frame[2]]));
                let width = u32::from(u16::from_be_bytes([frame[3], frame[4]]));
                size = Some((width, height));
            }
            0xE1 => {
                // The orientation is in the first IFD, at the start of the segment: a camera's
                // Exif block (up to 64 kB with its thumbnail) is read in full only when the
                // orientation is not found in its first 8 kB.
                let head = payload.min(8192);
                let mut segment = vec![0u8; head];
                reader
                    .read_exact(&mut segment)
                    .map_err(|_| cut("Exif segment"))?;
                if segment.len() > 6 && segment.starts_with(b"Exif\0\0") {
                    if Orientation::from_exif_chunk(&segment[6..]).is_none() && payload > head {
                        segment.resize(payload, 0);
                        reader
                            .read_exact(&mut segment[head..])
                            .map_err(|_| cut("Exif segment"))?;
                    } else {
                        reader
                            .seek_relative((payload - head) as i64)
                            .map_err(|e| e.to_string())?;
                    }
                    orientation = Orientation::from_exif_chunk(&segment[6..])
                        .unwrap_or(Orientation::NoTransforms);
                } else {
                    reader
                        .seek_relative((payload - head) as i64)
                        .map_err(|e| e.to_string())?;
                }
            }
            _ => {
                reader
                    .seek_relative(payload as i64)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    let (width, height) = size.ok_or("the JPEG has no frame header before its scan")?;
    Ok(Header {
        width,
        height,
        orientation,
    })
}
