//! dangjian (党建): the platform on which organisation departments, Party committees,
//! branches and members run grassroots Party-building work.
//!
//! See ARCHITECTURE.md for the map of this crate.

pub mod audit;
pub mod auth;
pub mod blob;
pub mod cache;
pub mod calendar;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod idempotency;
pub mod love_bank;
pub mod member;
pub mod org;
pub mod points;
pub mod recruit;
pub mod rectification;
pub mod review;
pub mod rules;
pub mod stars;
pub mod web;

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Everything a use case needs: the database, the keys, the configuration.
#[derive(Clone)]
pub struct Ctx {
    pub db: db::Db,
    pub vault: Arc<crypto::Vault>,
    pub config: Arc<config::Config>,
    pub imports: member::io::ImportJobs,
    /// Failed sign-ins per client address.
    pub login_throttle: Arc<auth::throttle::LoginThrottle>,
    /// The clock of every time rule (tests move it).
    pub clock: clock::Clock,
    /// The home dashboards' counts, reused for `dashboard_cache_seconds`.
    pub dashboards: Arc<cache::TtlCache<web::pages::Dashboard>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("data key: {0}")]
    Key(String),
}

/// Where the generated data key lives when none is configured.
pub fn default_key_file(cfg: &config::Config) -> PathBuf {
    if let Some(p) = &cfg.data_key_file {
        return p.clone();
    }
    match cfg.db_url() {
        Ok(config::DatabaseUrl::Sqlite(p)) => {
            let mut s = p.into_os_string();
            s.push(".key");
            PathBuf::from(s)
        }
        _ => PathBuf::from("dangjian.key"),
    }
}

fn read_or_create_key(path: &Path) -> Result<[u8; 16], String> {
    if path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        return crypto::parse_key(&text);
    }
    let key = crypto::random_bytes::<16>();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(hex::encode(key).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::warn!(path = %path.display(), "generated a new data key; back it up with the database, it is never stored inside it");
    Ok(key)
}

/// Builds the key vault from the configuration (or the key file beside the database).
pub fn load_vault(cfg: &config::Config) -> Result<crypto::Vault, StartError> {
    let key = match &cfg.data_key {
        Some(k) => crypto::parse_key(k).map_err(StartError::Key)?,
        None => read_or_create_key(&default_key_file(cfg)).map_err(StartError::Key)?,
    };
    let mut old = std::collections::BTreeMap::new();
    for (v, k) in &cfg.old_data_keys {
        let v: u8 = v
            .parse()
            .map_err(|_| StartError::Key(format!("bad version {v}")))?;
        old.insert(v, crypto::parse_key(k).map_err(StartError::Key)?);
    }
    Ok(crypto::Vault::new(cfg.data_key_version, key, old))
}

impl Ctx {
    /// Connects, migrates and loads the keys.
    pub async fn open(cfg: config::Config) -> Result<Self, StartError> {
        let vault = load_vault(&cfg)?;
        let zone = cfg.zone()?;
        clock::set_display_zone(zone);
        let cfg_dashboard_seconds = cfg.dashboard_cache_seconds;
        let db = db::Db::connect(&cfg.db_url()?, cfg.sqlite_cache_mib).await?;
        db::migrate::run(&db).await?;
        let clock = clock::Clock::system(zone);
        db.init(clock.clone(), db::ChainKey(vault.chain_key()));
        calendar::store::seed_builtin(&db).await?;
        Ok(Self {
            db,
            vault: Arc::new(vault),
            config: Arc::new(cfg),
            imports: Default::default(),
            login_throttle: Default::default(),
            clock,
            dashboards: Arc::new(cache::TtlCache::new(std::time::Duration::from_secs(
                cfg_dashboard_seconds,
            ))),
        })
    }
}
