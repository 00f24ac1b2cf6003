//! The configuration as the user typed it: serde structs that mirror feeds.toml
//! one to one, strict about unknown keys, with spans kept for error messages.
#![allow(missing_docs)] // field meanings are documented in the README feeds.toml reference

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `[settings]`.
    #[serde(default)]
    pub settings: RawSettings,
    /// `[[source]]` tables.
    #[serde(default)]
    pub source: Vec<Spanned<RawSource>>,
    /// `[tags.NAME]` tables.
    #[serde(default)]
    pub tags: BTreeMap<Spanned<String>, RawTag>,
    /// `[[merge]]` overrides: these URLs are one story.
    #[serde(default)]
    pub merge: Vec<Spanned<RawOverride>>,
    /// `[[split]]` overrides: these URLs are never in one story.
    #[serde(default)]
    pub split: Vec<Spanned<RawOverride>>,
}

/// `[[merge]]` or `[[split]]`: the entry URLs the user decides about.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    pub urls: Vec<Spanned<String>>,
}

/// `[tags.NAME]`: the categories that mean this tag, and its titles.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTag {
    #[serde(default)]
    pub aliases: Vec<String>,
    pub title: Option<RawTitle>,
}

/// A tag title: one string, or one per language.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum RawTitle {
    One(String),
    PerLanguage(BTreeMap<String, String>),
}

/// `[settings]`: every key optional.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub database: Option<String>,
    pub output_dir: Option<String>,
    pub languages: Option<Vec<Spanned<String>>>,
    pub contact: Option<Spanned<String>>,
    pub interval: Option<Spanned<String>>,
    pub min_interval: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub connect_timeout: Option<Spanned<String>>,
    pub max_body_size: Option<Spanned<SizeValue>>,
    pub max_decompressed_size: Option<Spanned<SizeValue>>,
    pub concurrency: Option<Spanned<i64>>,
    pub per_host_concurrency: Option<Spanned<i64>>,
    pub per_host_delay: Option<Spanned<String>>,
    pub lease: Option<Spanned<String>>,
    pub title: Option<String>,
    pub base_url: Option<Spanned<String>>,
    pub id_authority: Option<Spanned<String>>,
    pub items: Option<Spanned<i64>>,
    pub publish_untagged: Option<bool>,
    pub listen: Option<Spanned<String>>,
    pub hub: Option<Spanned<String>>,
    pub admin_listen: Option<Spanned<String>>,
}

/// A size given as a number of bytes or as a string such as `"10 MiB"`.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub enum SizeValue {
    /// Bytes.
    Bytes(i64),
    /// `"512 KiB"`, `"10MiB"`, `"1 GB"`.
    Text(String),
}

/// One `[[source]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub url: Spanned<String>,
    pub name: Option<String>,
    pub lang: Option<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<String>,
    pub group: Option<String>,
    pub interval: Option<Spanned<String>>,
    pub id_pattern: Option<Spanned<String>>,
    pub follow_pages: Option<bool>,
}
