//! `StringOr<T>`: a request field that is either a bare string (a short form such as a model
//! id) or a full object. Decoded with a visitor, so errors inside the object keep their path.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Clone, PartialEq)]
pub enum StringOr<T> {
    Str(String),
    Obj(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StringOr<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StringOrVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for StringOrVisitor<T> {
            type Value = StringOr<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an object")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
                Ok(StringOr::Str(value.to_owned()))
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(StringOr::Obj)
            }
        }

        deserializer.deserialize_any(StringOrVisitor(PhantomData))
    }
}

impl<T: utoipa::ToSchema> utoipa::PartialSchema for StringOr<T> {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::OneOfBuilder::new()
            .item(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::String))
            .item(utoipa::openapi::Ref::from_schema_name(T::name()))
            .into()
    }
}

impl<T: utoipa::ToSchema> utoipa::ToSchema for StringOr<T> {}
