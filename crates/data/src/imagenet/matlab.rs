//! A minimal reader of MATLAB level-5 MAT-files, enough for the ILSVRC-2012 devkit's `meta.mat`.
//!
//! The format is MathWorks' "MAT-File Format" (level 5, written by MATLAB's `save -v6` and
//! `-v7`, and by `scipy.io.savemat`): a 128-byte header, then one data element per variable.
//! A data element is an 8-byte tag (type, byte count) and its bytes, padded to 8; a tag whose
//! upper 16 bits are not zero is a *small* element, with up to 4 bytes of data in the tag's
//! second word. A variable is an `miMATRIX` element (array flags, dimensions, name, then the
//! data of its class), or an `miCOMPRESSED` element holding a zlib stream of one `miMATRIX`.
//!
//! Only little-endian files are read, and of the classes only what `meta.mat` needs is decoded:
//! struct arrays, real numeric scalars (whatever integer or float type MATLAB chose to store
//! them in) and char vectors. Other fields are skipped without being decoded. Every length is
//! checked against the bytes actually present before it is used, and files and decompressed
//! variables are capped in size, so a malformed file is an error, never a panic nor a huge
//! allocation.

use std::io::Read;
use std::path::Path;

use flate2::read::ZlibDecoder;

use crate::error::{Error, Result};

/// The largest file read, and the largest decompressed variable (`meta.mat` is a few MB).
const MAX_BYTES: u64 = 256 << 20;

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;
const MI_UTF16: u32 = 17;
const MI_UTF32: u32 = 18;

const MX_STRUCT_CLASS: u8 = 2;
const MX_CHAR_CLASS: u8 = 4;
/// `mxDOUBLE_CLASS` (6) to `mxUINT64_CLASS` (15): the numeric classes.
const MX_NUMERIC_CLASSES: std::ops::RangeInclusive<u8> = 6..=15;

/// What to decode from one field of a struct array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    /// A real numeric scalar.
    Scalar,
    /// A char row (or column) vector.
    Text,
}

/// A decoded field value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A real numeric scalar, converted to `f64`.
    Scalar(f64),
    /// A char vector.
    Text(String),
}

/// Reads the struct array variable `variable` of the MAT-file at `path` and returns, for each
/// of its elements in storage order, the values of `fields` (in that order).
///
/// # Errors
/// [`Error::Io`] / [`Error::MissingFile`] when the file cannot be read; [`Error::Invalid`]
/// naming the file for anything else: not a little-endian level-5 MAT-file, malformed or
/// truncated, no such variable, not a struct array, a missing field, or a field value of
/// another kind.
pub(crate) fn read_struct_fields(
    path: &Path,
    variable: &str,
    fields: &[(&str, FieldKind)],
) -> Result<Vec<Vec<Value>>> {
    let bytes = read_capped(path)?;
    parse_struct_fields(&bytes, variable, fields).map_err(|reason| {
        Error::Invalid(format!(
            "{} is not a readable MAT-file: {reason}",
            path.display()
        ))
    })
}

fn read_capped(path: &Path) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::Invalid(format!(
            "{} is larger than {MAX_BYTES} bytes: not a devkit meta.mat",
            path.display()
        )));
    }
    Ok(bytes)
}

type Parse<T> = std::result::Result<T, String>;

fn parse_struct_fields(
    bytes: &[u8],
    variable: &str,
    fields: &[(&str, FieldKind)],
) -> Parse<Vec<Vec<Value>>> {
    check_header(bytes)?;
    let mut top = Cursor::new(&bytes[128..]);
    while !top.is_empty() {
        let element = top.next()?;
        let inflated;
        let matrix_element = match element.kind {
            MI_MATRIX => element,
            MI_COMPRESSED => {
                inflated = inflate(element.data)?;
                Cursor::new(&inflated).next()?
            }
            // Other top-level elements (none in a MAT-file written by MATLAB or scipy) are
            // skipped, as they hold no variable.
            _ => continue,
        };
        let Some(mut matrix) = Matrix::parse(matrix_element)? else {
            continue;
        };
        if matrix.name != variable.as_bytes() {
            continue;
        }
        if matrix.class != MX_STRUCT_CLASS {
            return Err(format!(
                "variable `{variable}` is of class {}, not a struct array",
                class_name(matrix.class)
            ));
        }
        return struct_fields(&mut matrix, variable, fields);
    }
    Err(format!("it holds no variable `{variable}`"))
}

fn check_header(bytes: &[u8]) -> Parse<()> {
    if bytes.len() < 128 {
        return Err(format!(
            "{} bytes is shorter than the 128-byte header of a level-5 MAT-file",
            bytes.len()
        ));
    }
    match &bytes[126..128] {
        b"IM" => {}
        b"MI" => return Err("big-endian MAT-files are not supported".into()),
        _ => {
            return Err(
                "no level-5 MAT-file header (MATLAB v4 and other formats are not \
                        supported)"
                    .into(),
            );
        }
    }
    let version = u16::from_le_bytes([bytes[124], bytes[125]]);
    if version != 0x0100 {
        return Err(format!(
            "header version {version:#06x} is not 0x0100 (a MATLAB 7.3 file is HDF5, which is \
             not supported: save it with -v7)"
        ));
    }
    Ok(())
}

/// Decompresses one `miCOMPRESSED` element, at most [`MAX_BYTES`] of it.
fn inflate(data: &[u8]) -> Parse<Vec<u8>> {
    let mut out = Vec::new();
    ZlibDecoder::new(data)
        .take(MAX_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("a compressed variable cannot be decompressed: {e}"))?;
    if out.len() as u64 > MAX_BYTES {
        return Err(format!(
            "a compressed variable decompresses to more than {MAX_BYTES} bytes"
        ));
    }
    Ok(out)
}

/// One data element: its type and its bytes (without padding).
#[derive(Debug, Clone, Copy)]
struct Element<'a> {
    kind: u32,
    data: &'a [u8],
}

/// Reads data elements one after the other from a byte slice.
struct Cursor<'a> {
    bytes: &'a [u8],
    /// Always at most `bytes.len()`.
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn next(&mut self) -> Parse<Element<'a>> {
        let rest = &self.bytes[self.pos..];
        if rest.len() < 8 {
            return Err(format!(
                "a data element is cut short ({} bytes left, a tag takes 8)",
                rest.len()
            ));
        }
        let word = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if word >> 16 != 0 {
            // Small data element: type in the low half, byte count in the high half.
            let len = (word >> 16) as usize;
            if len > 4 {
                return Err(format!(
                    "a small data element claims {len} bytes, but holds at most 4"
                ));
            }
            self.pos += 8;
            return Ok(Element {
                kind: word & 0xffff,
                data: &rest[4..4 + len],
            });
        }
        let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        let body = &rest[8..];
        if len > body.len() {
            return Err(format!(
                "a data element of type {word} claims {len} bytes, but only {} remain",
                body.len()
            ));
        }
        // Elements are padded to 8 bytes, except a compressed one (its padding, if any, is
        // inside the zlib stream); the last element of a file may end without its padding.
        let padded = if word == MI_COMPRESSED {
            len
        } else {
            len.next_multiple_of(8).min(body.len())
        };
        self.pos += 8 + padded;
        Ok(Element {
            kind: word,
            data: &body[..len],
        })
    }
}

/// The header of an `miMATRIX` element and a cursor over the rest of it.
struct Matrix<'a> {
    class: u8,
    complex: bool,
    dims: Vec<usize>,
    name: &'a [u8],
    body: Cursor<'a>,
}

impl<'a> Matrix<'a> {
    /// `None` for an empty array written as an `miMATRIX` element of no bytes.
    fn parse(element: Element<'a>) -> Parse<Option<Self>> {
        if element.kind != MI_MATRIX {
            return Err(format!(
                "expected an array (miMATRIX, type 14), found a data element of type {}",
                element.kind
            ));
        }
        if element.data.is_empty() {
            return Ok(None);
        }
        let mut body = Cursor::new(element.data);
        let flags = body.next()?;
        if flags.kind != MI_UINT32 || flags.data.len() != 8 {
            return Err(format!(
                "an array's flags are {} bytes of type {}, expected 8 bytes of miUINT32",
                flags.data.len(),
                flags.kind
            ));
        }
        let class = flags.data[0];
        let complex = flags.data[1] & 0x08 != 0;
        let dims_element = body.next()?;
        if dims_element.kind != MI_INT32
            || dims_element.data.len() % 4 != 0
            || dims_element.data.len() < 8
        {
            return Err(format!(
                "an array's dimensions are {} bytes of type {}, expected at least two miINT32",
                dims_element.data.len(),
                dims_element.kind
            ));
        }
        let dims = dims_element
            .data
            .chunks_exact(4)
            .map(|d| {
                let d = i32::from_le_bytes([d[0], d[1], d[2], d[3]]);
                usize::try_from(d).map_err(|_| format!("an array has a negative dimension {d}"))
            })
            .collect::<Parse<Vec<_>>>()?;
        let name = body.next()?;
        if !matches!(name.kind, MI_INT8 | MI_UINT8 | MI_UTF8) {
            return Err(format!(
                "an array's name is of type {}, expected miINT8",
                name.kind
            ));
        }
        Ok(Some(Self {
            class,
            complex,
            dims,
            name: name.data,
            body,
        }))
    }

    /// The number of elements, the product of the dimensions.
    fn count(&self) -> Parse<usize> {
        self.dims
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .ok_or_else(|| format!("an array's dimensions {:?} overflow", self.dims))
    }
}

fn struct_fields(
    matrix: &mut Matrix<'_>,
    variable: &str,
    wanted: &[(&str, FieldKind)],
) -> Parse<Vec<Vec<Value>>> {
    let count = matrix.count()?;
    let name_len = matrix.body.next()?;
    if name_len.kind != MI_INT32 || name_len.data.len() != 4 {
        return Err(format!(
            "struct `{variable}`: the field name length is {} bytes of type {}, expected one \
             miINT32",
            name_len.data.len(),
            name_len.kind
        ));
    }
    let name_len = i32::from_le_bytes(name_len.data.try_into().expect("4 bytes"));
    let name_len = usize::try_from(name_len)
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("struct `{variable}`: field name length {name_len}"))?;
    let names = matrix.body.next()?;
    if !matches!(names.kind, MI_INT8 | MI_UINT8 | MI_UTF8) || names.data.len() % name_len != 0 {
        return Err(format!(
            "struct `{variable}`: field names are {} bytes of type {}, expected miINT8 in \
             blocks of {name_len}",
            names.data.len(),
            names.kind
        ));
    }
    let names: Vec<&[u8]> = names
        .data
        .chunks_exact(name_len)
        .map(|n| n.split(|&b| b == 0).next().unwrap_or_default())
        .collect();
    // Where each wanted field sits among the struct's fields.
    let positions = wanted
        .iter()
        .map(|(field, _)| {
            names
                .iter()
                .position(|n| *n == field.as_bytes())
                .ok_or_else(|| format!("struct `{variable}` has no field `{field}`"))
        })
        .collect::<Parse<Vec<_>>>()?;
    // Every field of every element takes at least one 8-byte tag: a count beyond what the
    // bytes can hold is caught here, before anything is allocated for it.
    if count > matrix.body.remaining() / 8 / names.len() {
        return Err(format!(
            "struct `{variable}` claims {count} elements of {} fields, more than its {} bytes \
             can hold",
            names.len(),
            matrix.body.remaining()
        ));
    }
    let mut out = Vec::with_capacity(count);
    for index in 0..count {
        let mut values = vec![None; wanted.len()];
        for field in 0..names.len() {
            let element = matrix.body.next()?;
            for (slot, &position) in positions.iter().enumerate() {
                if position == field {
                    let (name, kind) = wanted[slot];
                    let at = || format!("`{variable}({}).{name}`", index + 1);
                    values[slot] =
                        Some(decode(element, kind).map_err(|e| format!("{}: {e}", at()))?);
                }
            }
        }
        out.push(
            values
                .into_iter()
                .map(|v| v.expect("every wanted field is read"))
                .collect(),
        );
    }
    Ok(out)
}

fn decode(element: Element<'_>, kind: FieldKind) -> Parse<Value> {
    let matrix = Matrix::parse(element)?;
    match kind {
        FieldKind::Scalar => {
            let Some(mut matrix) = matrix else {
                return Err("an empty array, expected a number".into());
            };
            scalar(&mut matrix).map(Value::Scalar)
        }
        FieldKind::Text => match matrix {
            None => Ok(Value::Text(String::new())),
            Some(mut matrix) => text(&mut matrix).map(Value::Text),
        },
    }
}

fn scalar(matrix: &mut Matrix<'_>) -> Parse<f64> {
    if !MX_NUMERIC_CLASSES.contains(&matrix.class) {
        return Err(format!(
            "an array of class {}, expected a number",
            class_name(matrix.class)
        ));
    }
    if matrix.complex {
        return Err("a complex number, expected a real one".into());
    }
    let count = matrix.count()?;
    if count != 1 {
        return Err(format!(
            "an array of {count} elements ({:?}), expected one number",
            matrix.dims
        ));
    }
    let data = matrix.body.next()?;
    let width = match data.kind {
        MI_INT8 | MI_UINT8 => 1,
        MI_INT16 | MI_UINT16 => 2,
        MI_INT32 | MI_UINT32 | MI_SINGLE => 4,
        MI_DOUBLE | MI_INT64 | MI_UINT64 => 8,
        other => return Err(format!("numeric data of type {other}")),
    };
    if data.data.len() != width {
        return Err(format!(
            "{} bytes of numeric data of type {}, expected one value of {width} bytes",
            data.data.len(),
            data.kind
        ));
    }
    let b = data.data;
    Ok(match data.kind {
        MI_INT8 => f64::from(b[0] as i8),
        MI_UINT8 => f64::from(b[0]),
        MI_INT16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
        MI_UINT16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
        MI_INT32 => f64::from(i32::from_le_bytes(b.try_into().expect("4 bytes"))),
        MI_UINT32 => f64::from(u32::from_le_bytes(b.try_into().expect("4 bytes"))),
        MI_SINGLE => f64::from(f32::from_le_bytes(b.try_into().expect("4 bytes"))),
        MI_DOUBLE => f64::from_le_bytes(b.try_into().expect("8 bytes")),
        MI_INT64 => i64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
        _ => u64::from_le_bytes(b.try_into().expect("8 bytes")) as f64,
    })
}

fn text(matrix: &mut Matrix<'_>) -> Parse<String> {
    if matrix.class != MX_CHAR_CLASS {
        return Err(format!(
            "an array of class {}, expected text (char)",
            class_name(matrix.class)
        ));
    }
    // A row or a column: with a single dimension above 1, column-major order is reading order.
    if matrix.dims.iter().filter(|&&d| d > 1).count() > 1 {
        return Err(format!(
            "a char array of size {:?}, expected a single row",
            matrix.dims
        ));
    }
    if matrix.count()? == 0 {
        return Ok(String::new());
    }
    let data = matrix.body.next()?;
    let b = data.data;
    let utf16 = |b: &[u8]| {
        let units = b.chunks_exact(2).map(|u| u16::from_le_bytes([u[0], u[1]]));
        char::decode_utf16(units)
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect::<String>()
    };
    match data.kind {
        MI_UINT16 | MI_UTF16 if b.len() % 2 == 0 => Ok(utf16(b)),
        MI_UTF8 | MI_UINT8 | MI_INT8 => Ok(String::from_utf8_lossy(b).into_owned()),
        MI_UTF32 if b.len() % 4 == 0 => Ok(b
            .chunks_exact(4)
            .map(|u| {
                char::from_u32(u32::from_le_bytes([u[0], u[1], u[2], u[3]]))
                    .unwrap_or(char::REPLACEMENT_CHARACTER)
            })
            .collect()),
        kind => Err(format!(
            "char data of {} bytes of type {kind}, expected miUINT16 or miUTF8",
            b.len()
        )),
    }
}

fn class_name(class: u8) -> String {
    let name = match class {
        1 => "cell",
        2 => "struct",
        3 => "object",
        4 => "char",
        5 => "sparse",
        6 => "double",
        7 => "single",
        8 => "int8",
        9 => "uint8",
        10 => "int16",
        11 => "uint16",
        12 => "int32",
        13 => "uint32",
        14 => "int64",
        15 => "uint64",
        16 => "function",
        17 => "opaque",
        other => return format!("#{other} (unknown)"),
    };
    name.to_string()
}
