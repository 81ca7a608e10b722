//! One typed configuration: defaults < TOML file < `DANGJIAN_*` environment.
//! Validated once at start; an invalid value stops the program with a clear message.

use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid configuration value {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// Which database the URL names. Anything else is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        if let Some(rest) = url.strip_prefix("sqlite://") {
            let path = rest.split('?').next().unwrap_or(rest);
            if path.is_empty() {
                return Err(ConfigError::Invalid {
                    key: "database_url",
                    reason: "sqlite:// needs a file path".into(),
                });
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_string()))
        } else {
            Err(ConfigError::Invalid {
                key: "database_url",
                reason: format!("unknown scheme in {url:?}: use sqlite://PATH or postgres://..."),
            })
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_classes: usize,
    pub max_failures: u32,
    pub lock_minutes: i64,
    pub idle_timeout_minutes: i64,
    pub absolute_timeout_hours: i64,
    /// Failed sign-ins from one client address within `ip_window_minutes` before that
    /// address is refused for the rest of the window.
    pub ip_max_failures: u32,
    pub ip_window_minutes: i64,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        // 等保 2.0 level-3 defaults.
        Self {
            min_length: 8,
            min_classes: 3,
            max_failures: 5,
            lock_minutes: 30,
            idle_timeout_minutes: 30,
            absolute_timeout_hours: 12,
            ip_max_failures: 20,
            ip_window_minutes: 15,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: String,
    pub database_url: String,
    /// Hex-encoded 16-byte SM4 data key. Never stored in the database.
    pub data_key: Option<String>,
    /// Where a generated key is kept when `data_key` is unset (created 0600 on first start).
    pub data_key_file: Option<PathBuf>,
    /// Version number of `data_key`, written beside every ciphertext.
    pub data_key_version: u8,
    /// Earlier keys still needed to read old ciphertexts: version → hex key.
    pub old_data_keys: std::collections::BTreeMap<String, String>,
    pub password: PasswordPolicy,
    /// Require TOTP for the three administrator roles.
    pub require_totp_for_admins: bool,
    /// Largest accepted request body in bytes (uploads included).
    pub max_body_bytes: usize,
    /// Set when served behind TLS: adds `Secure` to the session cookie.
    pub secure_cookies: bool,
    /// Addresses of reverse proxies in front of the server: from these (only), the client's
    /// address is read from `X-Forwarded-For` — for the audit log and the per-address
    /// sign-in limit, which would otherwise count every user as the proxy.
    pub trusted_proxies: Vec<String>,
    /// SQLite's page cache per pooled connection, in MiB (8 connections). Pages beyond it
    /// come from the operating system's file cache; the server's memory is bounded by it.
    pub sqlite_cache_mib: u32,
    /// How long the dashboards' counts (the home page's panels) may be reused before they
    /// are counted again, in seconds; 0 counts on every request. The page says when they
    /// were counted.
    pub dashboard_cache_seconds: u64,
    /// The zone instants are shown in and dates are counted in (`Asia/Shanghai`, `UTC` or an
    /// offset like `+08:00`).
    pub time_zone: String,
    /// The audit chain's anchor outside the database (default: `<database>.anchor` beside a
    /// SQLite file, else `dangjian.anchor`).
    pub audit_anchor_file: Option<PathBuf>,
    /// Hours between the server's verifications of the audit chain (it also verifies at start).
    pub audit_verify_hours: u64,
    /// Hours between the server's checks of every stored file against its digest (reads them
    /// all: documents, evidence).
    pub files_verify_hours: u64,
    /// Heavy reports (a subtree's statistics, boards, rankings) computed at once, at most;
    /// below the connection pool's size (SQLite 8, PostgreSQL 16) so the everyday pages keep
    /// their connections.
    pub heavy_concurrency: usize,
    /// How long a heavy report waits for its turn before the answer is 503 with Retry-After.
    pub heavy_wait_ms: u64,
    /// Every read's deadline (503 with Retry-After past it); below the pool's acquire
    /// timeout (10 s). Long operations (audit verification, imports, exports) get
    /// `long_request_seconds`. Writes are bounded by the pool's and the write gate's timeouts.
    pub request_deadline_ms: u64,
    pub long_request_seconds: u64,
    /// Days an API token lives unless its creator asks for fewer (1–366).
    pub token_days: i64,
    pub log: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            database_url: "sqlite://dangjian.db".into(),
            data_key: None,
            data_key_file: None,
            data_key_version: 1,
            old_data_keys: Default::default(),
            password: PasswordPolicy::default(),
            require_totp_for_admins: true,
            max_body_bytes: 32 * 1024 * 1024,
            secure_cookies: false,
            trusted_proxies: Vec::new(),
            sqlite_cache_mib: 8,
            dashboard_cache_seconds: 30,
            time_zone: "Asia/Shanghai".into(),
            audit_anchor_file: None,
            audit_verify_hours: 6,
            files_verify_hours: 24,
            heavy_concurrency: 2,
            heavy_wait_ms: 2000,
            request_deadline_ms: 8000,
            long_request_seconds: 300,
            token_days: 90,
            log: "info".into(),
        }
    }
}

impl Config {
    /// defaults < file < environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut cfg = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_path_buf(),
                    message: e.to_string(),
                })?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn parse<T: std::str::FromStr>(key: &'static str, v: &str) -> Result<T, ConfigError> {
            v.parse().map_err(|_| ConfigError::Invalid {
                key,
                reason: format!("cannot parse {v:?}"),
            })
        }
        if let Some(v) = get("DANGJIAN_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("DANGJIAN_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("DANGJIAN_DATA_KEY") {
            self.data_key = Some(v);
        }
        if let Some(v) = get("DANGJIAN_DATA_KEY_FILE") {
            self.data_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("DANGJIAN_DATA_KEY_VERSION") {
            self.data_key_version = parse("data_key_version", &v)?;
        }
        if let Some(v) = get("DANGJIAN_REQUIRE_TOTP_FOR_ADMINS") {
            self.require_totp_for_admins = parse("require_totp_for_admins", &v)?;
        }
        if let Some(v) = get("DANGJIAN_MAX_BODY_BYTES") {
            self.max_body_bytes = parse("max_body_bytes", &v)?;
        }
        if let Some(v) = get("DANGJIAN_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = get("DANGJIAN_SECURE_COOKIES") {
            self.secure_cookies = parse("secure_cookies", &v)?;
        }
        if let Some(v) = get("DANGJIAN_SQLITE_CACHE_MIB") {
            self.sqlite_cache_mib = parse("sqlite_cache_mib", &v)?;
        }
        if let Some(v) = get("DANGJIAN_DASHBOARD_CACHE_SECONDS") {
            self.dashboard_cache_seconds = parse("dashboard_cache_seconds", &v)?;
        }
        if let Some(v) = get("DANGJIAN_AUDIT_ANCHOR_FILE") {
            self.audit_anchor_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("DANGJIAN_AUDIT_VERIFY_HOURS") {
            self.audit_verify_hours = parse("audit_verify_hours", &v)?;
        }
        if let Some(v) = get("DANGJIAN_FILES_VERIFY_HOURS") {
            self.files_verify_hours = parse("files_verify_hours", &v)?;
        }
        if let Some(v) = get("DANGJIAN_HEAVY_CONCURRENCY") {
            self.heavy_concurrency = parse("heavy_concurrency", &v)?;
        }
        if let Some(v) = get("DANGJIAN_HEAVY_WAIT_MS") {
            self.heavy_wait_ms = parse("heavy_wait_ms", &v)?;
        }
        if let Some(v) = get("DANGJIAN_REQUEST_DEADLINE_MS") {
            self.request_deadline_ms = parse("request_deadline_ms", &v)?;
        }
        if let Some(v) = get("DANGJIAN_LONG_REQUEST_SECONDS") {
            self.long_request_seconds = parse("long_request_seconds", &v)?;
        }
        if let Some(v) = get("DANGJIAN_TOKEN_DAYS") {
            self.token_days = parse("token_days", &v)?;
        }
        if let Some(v) = get("DANGJIAN_TIME_ZONE") {
            self.time_zone = v;
        }
        if let Some(v) = get("DANGJIAN_LOG") {
            self.log = v;
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen
            .parse::<std::net::SocketAddr>()
            .map_err(|_| ConfigError::Invalid {
                key: "listen",
                reason: format!("{:?} is not host:port", self.listen),
            })?;
        DatabaseUrl::parse(&self.database_url)?;
        if let Some(k) = &self.data_key {
            crate::crypto::parse_key(k).map_err(|reason| ConfigError::Invalid {
                key: "data_key",
                reason,
            })?;
        }
        for (v, k) in &self.old_data_keys {
            v.parse::<u8>().map_err(|_| ConfigError::Invalid {
                key: "old_data_keys",
                reason: format!("version {v:?} is not 0-255"),
            })?;
            crate::crypto::parse_key(k).map_err(|reason| ConfigError::Invalid {
                key: "old_data_keys",
                reason,
            })?;
        }
        let p = &self.password;
        if p.min_length < 8 || !(1..=4).contains(&p.min_classes) || p.max_failures == 0 {
            return Err(ConfigError::Invalid {
                key: "password",
                reason: "min_length >= 8, min_classes 1-4, max_failures >= 1".into(),
            });
        }
        if p.idle_timeout_minutes <= 0
            || p.lock_minutes <= 0
            || p.absolute_timeout_hours <= 0
            || p.ip_max_failures == 0
            || p.ip_window_minutes <= 0
        {
            return Err(ConfigError::Invalid {
                key: "password",
                reason: "timeouts must be positive".into(),
            });
        }
        if let Some(bad) = self
            .trusted_proxies
            .iter()
            .find(|a| a.parse::<std::net::IpAddr>().is_err())
        {
            return Err(ConfigError::Invalid {
                key: "trusted_proxies",
                reason: format!("{bad:?} is not an IP address"),
            });
        }
        if !(1..=4096).contains(&self.sqlite_cache_mib) {
            return Err(ConfigError::Invalid {
                key: "sqlite_cache_mib",
                reason: "1-4096 MiB per connection".into(),
            });
        }
        if self.dashboard_cache_seconds > 3600 {
            return Err(ConfigError::Invalid {
                key: "dashboard_cache_seconds",
                reason: "at most 3600 seconds".into(),
            });
        }
        self.zone()?;
        if !(1..=366).contains(&self.token_days) {
            return Err(ConfigError::Invalid {
                key: "token_days",
                reason: "1–366 days".into(),
            });
        }
        if !(1..=168).contains(&self.audit_verify_hours) {
            return Err(ConfigError::Invalid {
                key: "audit_verify_hours",
                reason: "1–168 hours".into(),
            });
        }
        if !(1..=7).contains(&self.heavy_concurrency) {
            return Err(ConfigError::Invalid {
                key: "heavy_concurrency",
                reason: "1–7 (below the SQLite pool's 8 connections)".into(),
            });
        }
        if !(10..=8000).contains(&self.heavy_wait_ms) {
            return Err(ConfigError::Invalid {
                key: "heavy_wait_ms",
                reason: "10–8000 ms".into(),
            });
        }
        if !(100..crate::db::POOL_ACQUIRE_MS).contains(&self.request_deadline_ms) {
            return Err(ConfigError::Invalid {
                key: "request_deadline_ms",
                reason: format!(
                    "100 ms up to the pool's acquire timeout ({} ms)",
                    crate::db::POOL_ACQUIRE_MS
                ),
            });
        }
        if !(10..=3600).contains(&self.long_request_seconds) {
            return Err(ConfigError::Invalid {
                key: "long_request_seconds",
                reason: "10–3600 s".into(),
            });
        }
        if !(1..=720).contains(&self.files_verify_hours) {
            return Err(ConfigError::Invalid {
                key: "files_verify_hours",
                reason: "1–720 hours".into(),
            });
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid {
                key: "max_body_bytes",
                reason: "at least 1024".into(),
            });
        }
        Ok(())
    }

    pub fn zone(&self) -> Result<crate::clock::Zone, ConfigError> {
        crate::clock::Zone::parse(&self.time_zone).map_err(|reason| ConfigError::Invalid {
            key: "time_zone",
            reason,
        })
    }

    pub fn db_url(&self) -> Result<DatabaseUrl, ConfigError> {
        DatabaseUrl::parse(&self.database_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_is_an_error() {
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert!(DatabaseUrl::parse("dangjian.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
        assert_eq!(
            DatabaseUrl::parse("sqlite://a/b.db").ok(),
            Some(DatabaseUrl::Sqlite("a/b.db".into()))
        );
        assert!(matches!(
            DatabaseUrl::parse("postgres://u@h/db"),
            Ok(DatabaseUrl::Postgres(_))
        ));
    }

    #[test]
    fn env_overrides_file_and_defaults() {
        let mut c: Config = toml::from_str("listen = \"127.0.0.1:9000\"").expect("toml");
        assert_eq!(c.listen, "127.0.0.1:9000");
        c.apply_env(|k| (k == "DANGJIAN_LISTEN").then(|| "127.0.0.1:9001".to_string()))
            .expect("env");
        assert_eq!(c.listen, "127.0.0.1:9001");
        assert!(c.validate().is_ok());
        c.database_url = "redis://x".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        assert!(toml::from_str::<Config>("lsiten = \"x\"").is_err());
    }
}
