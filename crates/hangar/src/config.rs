//! Server configuration: command-line flag, then environment variable, then the TOML file
//! given with `--config`, then the embedded default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::collections::BTreeMap;

use anyhow::Context;
use clap::{Args, ValueEnum};
use hangar_core::harness::DEFAULT_MAX_OUTPUT_TOKENS;
use hangar_core::pricing::{ModelPrice, PriceTable};
use hangar_llm::{ProviderConfig, ProvidersConfig};
use serde::Deserialize;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8420";
pub const DEFAULT_DATA_DIR: &str = "./hangar-data";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8420].
    #[arg(long, env = "HANGAR_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the database and generated files [default: ./hangar-data].
    #[arg(long, env = "HANGAR_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Optional TOML configuration file.
    #[arg(long, env = "HANGAR_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format [default: human].
    #[arg(long, env = "HANGAR_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// The TOML file's shape. Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    /// The provider for bare model ids other than `claude-…`.
    default_provider: Option<String>,
    /// `[providers.NAME]` tables: `kind`, `base_url`, `api_key_env`, `max_tokens`, …
    #[serde(default)]
    providers: BTreeMap<String, ProviderConfig>,
    /// Output tokens asked for per model request.
    max_output_tokens: Option<u32>,
    /// `[prices."MODEL-ID"]` tables: `input_usd_per_mtok`, `output_usd_per_mtok`, and
    /// optionally `cache_write_usd_per_mtok`, `cache_read_usd_per_mtok`. A model needs one
    /// for `usage.list_cost` and session budgets.
    #[serde(default)]
    prices: BTreeMap<String, ModelPrice>,
    /// Run built-in tools in the local sandbox (default true).
    sandbox: Option<bool>,
    /// A SearXNG-compatible JSON search endpoint for `web_search` (`https://host/search`).
    web_search_endpoint: Option<String>,
}

/// The effective configuration of `hangar serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    /// `HANGAR_API_KEY`: a key accepted in addition to the stored ones (never stored).
    pub api_key: Option<String>,
    pub providers: ProvidersConfig,
    pub max_output_tokens: u32,
    pub prices: PriceTable,
    pub sandbox: bool,
    pub web_search_endpoint: Option<url::Url>,
}

impl ServeConfig {
    pub fn resolve(args: ServeArgs) -> anyhow::Result<ServeConfig> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = match args.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        Ok(ServeConfig {
            listen,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| DEFAULT_DATA_DIR.into()),
            log_format: args
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Human),
            api_key: std::env::var("HANGAR_API_KEY")
                .ok()
                .filter(|k| !k.trim().is_empty()),
            providers: ProvidersConfig {
                default_provider: file.default_provider,
                providers: file.providers,
            },
            max_output_tokens: file.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS),
            prices: PriceTable::new(file.prices),
            sandbox: file.sandbox.unwrap_or(true),
            web_search_endpoint: file
                .web_search_endpoint
                .as_deref()
                .map(url::Url::parse)
                .transpose()
                .context("web_search_endpoint is not a URL")?,
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_defaults_fill_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hangar.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9999\"\ndata_dir = \"/tmp/x\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            listen: Some("127.0.0.1:1234".parse().unwrap()),
            data_dir: None,
            config: Some(path),
            log_format: None,
        };
        let config = ServeConfig::resolve(args).unwrap();
        assert_eq!(config.listen.port(), 1234);
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.log_format, LogFormat::Human);
    }

    #[test]
    fn provider_tables_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hangar.toml");
        std::fs::write(
            &path,
            "default_provider = \"local\"\n[providers.local]\nkind = \"openai-chat\"\n\
             base_url = \"http://127.0.0.1:8080/v1\"\nmax_tokens = 512\n",
        )
        .unwrap();
        let args = ServeArgs {
            listen: None,
            data_dir: None,
            config: Some(path),
            log_format: None,
        };
        let config = ServeConfig::resolve(args).unwrap();
        assert_eq!(config.providers.default_provider.as_deref(), Some("local"));
        assert_eq!(config.providers.providers["local"].max_tokens, Some(512));
    }

    #[test]
    fn unknown_keys_in_the_file_are_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hangar.toml");
        std::fs::write(&path, "listne = \"x\"\n").unwrap();
        let args = ServeArgs {
            listen: None,
            data_dir: None,
            config: Some(path),
            log_format: None,
        };
        let err = ServeConfig::resolve(args).unwrap_err();
        assert!(format!("{err:#}").contains("listne"));
    }
}
