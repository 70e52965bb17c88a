//! Floats that survive JSON: finite values as numbers, NaN and ±∞ as the strings `"NaN"`,
//! `"inf"` and `"-inf"`.
//!
//! JSON has no NaN nor infinity, and serde_json writes them as `null`, which a `f64` field then
//! refuses to read (and an `Option<f64>` reads as `None`): one NaN in a logged metric made every
//! later checkpoint unreadable. The history's and the online classifier's floats go through these
//! helpers (`#[serde(with = "crate::json_float::…")]`); finite values are written exactly as
//! before, so files written earlier read the same.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// `f32` or `f64`.
pub(crate) trait Float: Copy {
    fn is_finite(self) -> bool;
    fn is_nan(self) -> bool;
    fn is_sign_negative(self) -> bool;
    fn from_f64(value: f64) -> Self;
    fn serialize_finite<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error>;
}

impl Float for f64 {
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn is_sign_negative(self) -> bool {
        f64::is_sign_negative(self)
    }
    fn from_f64(value: f64) -> Self {
        value
    }
    fn serialize_finite<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self)
    }
}

impl Float for f32 {
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn is_sign_negative(self) -> bool {
        f32::is_sign_negative(self)
    }
    fn from_f64(value: f64) -> Self {
        value as f32
    }
    fn serialize_finite<S: Serializer>(self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f32(self)
    }
}

/// One float, written and read as this module says.
#[derive(Clone, Copy)]
pub(crate) struct JsonFloat<T>(pub T);

impl<T: Float> Serialize for JsonFloat<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let value = self.0;
        if value.is_finite() {
            value.serialize_finite(serializer)
        } else if value.is_nan() {
            serializer.serialize_str("NaN")
        } else if value.is_sign_negative() {
            serializer.serialize_str("-inf")
        } else {
            serializer.serialize_str("inf")
        }
    }
}

impl<'de, T: Float> Deserialize<'de> for JsonFloat<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FloatVisitor<T>(PhantomData<T>);
        impl<T: Float> Visitor<'_> for FloatVisitor<T> {
            type Value = JsonFloat<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(r#"a number, "NaN", "inf" or "-inf""#)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(JsonFloat(T::from_f64(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(JsonFloat(T::from_f64(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(JsonFloat(T::from_f64(v as f64)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match v {
                    "NaN" => Ok(JsonFloat(T::from_f64(f64::NAN))),
                    "inf" => Ok(JsonFloat(T::from_f64(f64::INFINITY))),
                    "-inf" => Ok(JsonFloat(T::from_f64(f64::NEG_INFINITY))),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        deserializer.deserialize_any(FloatVisitor(PhantomData))
    }
}

/// `f64` / `f32` fields: `#[serde(with = "crate::json_float")]`.
pub(crate) fn serialize<T: Float, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    JsonFloat(*value).serialize(s)
}

/// See [`serialize`].
pub(crate) fn deserialize<'de, T: Float, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    JsonFloat::deserialize(d).map(|f| f.0)
}

/// `Option<f64>` fields (`None` stays `null`).
pub(crate) mod option {
    use super::*;

    pub(crate) fn serialize<T: Float, S: Serializer>(
        value: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.map(JsonFloat).serialize(s)
    }

    pub(crate) fn deserialize<'de, T: Float, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Option::<JsonFloat<T>>::deserialize(d).map(|v| v.map(|f| f.0))
    }
}

/// `Vec<f32>` fields.
pub(crate) mod vec {
    use super::*;

    pub(crate) fn serialize<T: Float, S: Serializer>(
        values: &[T],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(values.iter().map(|&v| JsonFloat(v)))
    }

    pub(crate) fn deserialize<'de, T: Float, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Vec::<JsonFloat<T>>::deserialize(d).map(|v| v.into_iter().map(|f| f.0).collect())
    }
}

/// `Option<(Vec<f32>, Vec<f32>)>` fields (momentum buffers).
pub(crate) mod option_vec_pair {
    use super::*;

    type Pair<T> = (Vec<JsonFloat<T>>, Vec<JsonFloat<T>>);
    type Buffers<T> = Option<(Vec<T>, Vec<T>)>;

    fn wrap<T: Float>(values: &[T]) -> Vec<JsonFloat<T>> {
        values.iter().map(|&v| JsonFloat(v)).collect()
    }

    fn unwrap<T: Float>(values: Vec<JsonFloat<T>>) -> Vec<T> {
        values.into_iter().map(|f| f.0).collect()
    }

    pub(crate) fn serialize<T: Float, S: Serializer>(
        value: &Buffers<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().map(|(a, b)| (wrap(a), wrap(b))).serialize(s)
    }

    pub(crate) fn deserialize<'de, T: Float, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Buffers<T>, D::Error> {
        Option::<Pair<T>>::deserialize(d).map(|v| v.map(|(a, b)| (unwrap(a), unwrap(b))))
    }
}

/// `BTreeMap<String, f64>` fields.
pub(crate) mod map {
    use super::*;

    pub(crate) fn serialize<T: Float, S: Serializer>(
        values: &BTreeMap<String, T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_map(values.iter().map(|(k, &v)| (k, JsonFloat(v))))
    }

    pub(crate) fn deserialize<'de, T: Float, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, T>, D::Error> {
        BTreeMap::<String, JsonFloat<T>>::deserialize(d)
            .map(|m| m.into_iter().map(|(k, f)| (k, f.0)).collect())
    }
}
