//! Request bodies read strictly. serde would fill a struct from a JSON array (its fields
//! in order) and keep the last of a key given twice, so `["bob","pw"]` would create user
//! `bob` and `{"name":"a","name":"b"}` user `b`. Every body of the operator API and the
//! device registry goes through here instead: [`parse_object`] takes the bytes (an
//! object, each key once, at every depth), [`from_json`] the typed value (a struct only
//! from an object, at every depth).

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use thiserror::Error;

use super::OpsError;

/// Why a body is refused before its fields are read.
#[derive(Debug, Error)]
pub enum BodyError {
    /// Not JSON, or a key given twice in one object.
    #[error("malformed JSON: {0}")]
    Malformed(#[from] serde_json::Error),
    /// JSON, but not an object.
    #[error("the body must be a JSON object, not {0}")]
    NotAnObject(&'static str),
}

/// Parses `bytes` as one JSON object in which no object gives a key twice.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, BodyError> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = UniqueKeys.deserialize(&mut reader)?;
    reader.end()?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(BodyError::NotAnObject(kind(&other))),
    }
}

/// Turns a JSON value into `T`, naming the field at fault: a missing field is E5990,
/// anything else (a wrong type, an unknown field, an array where an object belongs)
/// E5991.
pub fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, OpsError> {
    serde_path_to_error::deserialize(Strict(value)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let reason = if path == "." {
            inner.clone()
        } else {
            format!("{path}: {inner}")
        };
        if inner.starts_with("missing field") {
            OpsError::incomplete(reason)
        } else {
            OpsError::invalid(reason)
        }
    })
}

/// What a JSON value is, for a message.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Builds a [`Value`] as serde_json does, refusing an object that gives a key twice.
struct UniqueKeys;

impl<'de> DeserializeSeed<'de> for UniqueKeys {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(UniqueKeys)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "key {key:?} is given twice"
                )));
            }
            let value = map.next_value_seed(UniqueKeys)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A [`Value`] as a deserializer that gives a struct only from an object (serde_json's
/// own takes an array too), here and in everything the value holds.
struct Strict(Value);

impl<'de> Deserializer<'de> for Strict {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = Items(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                match seq.0.len() {
                    0 => Ok(value),
                    left => Err(de::Error::custom(format_args!(
                        "{left} more element(s) than expected"
                    ))),
                }
            }
            Value::Object(map) => visitor.visit_map(Fields {
                entries: map.into_iter(),
                value: None,
            }),
            scalar => scalar.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Object(_) => self.deserialize_any(visitor),
            other => Err(de::Error::custom(format_args!(
                "expected an object ({name}), found {}",
                kind(&other)
            ))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0 {
            // `{"Variant": content}`: the content is read strictly too.
            Value::Object(map) if map.len() == 1 => match map.into_iter().next() {
                Some((variant, content)) => visitor.visit_enum(Variant { variant, content }),
                None => Err(de::Error::custom("an enum needs its variant")),
            },
            other => other.deserialize_enum(name, variants, visitor),
        }
    }

    // Scalars go to the visitor as `Value` gives them; arrays and objects as above.
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

/// The elements of an array, each read strictly.
struct Items(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for Items {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Strict(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// The entries of an object, each value read strictly.
struct Fields {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for Fields {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(Value::String(key)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value asked for before its key"))?;
        seed.deserialize(Strict(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum given as `{"Variant": content}`.
struct Variant {
    variant: String,
    content: Value,
}

impl<'de> de::EnumAccess<'de> for Variant {
    type Error = serde_json::Error;
    type Variant = Strict;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Strict), Self::Error> {
        let variant = seed.deserialize(Value::String(self.variant))?;
        Ok((variant, Strict(self.content)))
    }
}

impl<'de> de::VariantAccess<'de> for Strict {
    type Error = serde_json::Error;

    fn unit_variant(self) -> Result<(), Self::Error> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, Self::Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Self::Error> {
        self.deserialize_struct("variant", fields, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        kind: String,
        value: String,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
        #[serde(default)]
        pairs: Vec<Pair>,
        #[serde(default)]
        first: Option<Pair>,
    }

    fn read(text: &str) -> Result<Body, String> {
        let map = parse_object(text.as_bytes()).map_err(|e| e.to_string())?;
        from_json(Value::Object(map)).map_err(|e| e.to_string())
    }

    #[test]
    fn an_object_of_the_shape_is_read() {
        let body = read(r#"{"name":"a","pairs":[{"kind":"mac","value":"v"}],"first":null}"#);
        assert_eq!(
            body.unwrap(),
            Body {
                name: "a".into(),
                pairs: vec![Pair {
                    kind: "mac".into(),
                    value: "v".into()
                }],
                first: None,
            }
        );
    }

    #[test]
    fn arrays_and_scalars_are_not_objects() {
        for (text, what) in [
            (r#"["a"]"#, "an array"),
            ("7", "a number"),
            (r#""a""#, "a string"),
            ("null", "null"),
            ("true", "a boolean"),
        ] {
            let e = read(text).unwrap_err();
            assert_eq!(e, format!("the body must be a JSON object, not {what}"));
        }
    }

    #[test]
    fn a_key_given_twice_is_refused_at_any_depth() {
        let e = read(r#"{"name":"a","name":"b"}"#).unwrap_err();
        assert!(e.contains(r#"key "name" is given twice"#), "{e}");
        let e = read(r#"{"name":"a","first":{"kind":"x","kind":"y","value":"v"}}"#).unwrap_err();
        assert!(e.contains(r#"key "kind" is given twice"#), "{e}");
    }

    #[test]
    fn a_nested_struct_is_not_read_from_an_array() {
        let e = read(r#"{"name":"a","pairs":[["mac","v"]]}"#).unwrap_err();
        assert!(
            e.contains("pairs[0]: expected an object (Pair), found an array"),
            "{e}"
        );
        let e = read(r#"{"name":"a","first":["mac","v"]}"#).unwrap_err();
        assert!(
            e.contains("first: expected an object (Pair), found an array"),
            "{e}"
        );
    }

    #[test]
    fn a_missing_field_is_incomplete_and_trailing_bytes_are_malformed() {
        let e = from_json::<Body>(serde_json::json!({})).unwrap_err();
        assert_eq!(e.code, crate::codes::ECode::IncompleteData);
        assert!(matches!(
            parse_object(br#"{"name":"a"} {}"#),
            Err(BodyError::Malformed(_))
        ));
    }
}
