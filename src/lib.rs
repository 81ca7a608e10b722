//! dangjian (党建): the platform on which organisation departments, Party committees,
//! branches and members run grassroots Party-building work.
//!
//! See ARCHITECTURE.md for the map of this crate.

pub mod appraisal;
pub mod audit;
pub mod auth;
pub mod blob;
pub mod cache;
pub mod cadre;
pub mod calendar;
pub mod circular;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod csvsafe;
pub mod db;
pub mod demo;
pub mod election;
pub mod error;
pub mod first_secretary;
pub mod heavy;
pub mod i18n;
pub mod idempotency;
pub mod love_bank;
pub mod meeting;
pub mod member;
pub mod obligation;
pub mod org;
pub mod points;
pub mod recruit;
pub mod rectification;
pub mod review;
pub mod rules;
pub mod scheduler;
pub mod stars;
pub mod upgrade;
pub mod web;
pub mod work_log;
pub mod workbench;
pub mod zipguard;

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
    /// Other sliding-window limits, by key (`lookup:<account>`, `score:<address>`, …).
    pub limits: Arc<auth::throttle::LoginThrottle>,
    /// The clock of every time rule (tests move it).
    pub clock: clock::Clock,
    /// The home dashboards' counts, reused for `dashboard_cache_seconds`.
    pub dashboards: Arc<cache::TtlCache<web::pages::Dashboard>>,
    /// Reports that aggregate a subtree: bounded, shared, refused quickly when full.
    pub heavy: Arc<heavy::Heavy>,
    /// Small figures reused for a minute: the navigation's to-do count per account, a
    /// subtree's term warnings (workbench).
    pub figures: Arc<cache::TtlCache<(i64, i64)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("data key: {0}")]
    Key(String),
    #[error("upgrading stored data: {0}")]
    Upgrade(String),
}

impl From<sqlx::Error> for StartError {
    fn from(e: sqlx::Error) -> Self {
        StartError::Db(db::DbError::Sqlx(e))
    }
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

/// Writes a file readable by its owner only (0600), replacing it.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    let mut f = opts.open(path)?;
    restrict(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Makes an existing file readable by its owner only.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// SQLite's files (the database, and the WAL and shared-memory files SQLite creates with the
/// database's permissions) and a backup are the owner's only: the database file is created
/// 0600 before SQLite opens it, and an existing one is made so.
pub fn prepare_sqlite_file(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        write_private(path, b"")?;
    }
    restrict(path)?;
    for suffix in ["-wal", "-shm"] {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        let p = PathBuf::from(s);
        if p.exists() {
            restrict(&p)?;
        }
    }
    Ok(())
}

fn read_key(path: &Path) -> Result<Option<[u8; 16]>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => crypto::parse_key(&text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn create_key(path: &Path) -> Result<[u8; 16], String> {
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

/// Whether the database already holds data written under some key: key check values, audit
/// entries or encrypted personal data.
async fn holds_data(db: &db::Db) -> Result<bool, db::DbError> {
    use db::DbRow;
    on_db!(db, p => {
        let n = sqlx::query("SELECT (SELECT COUNT(*) FROM key_checks) + (SELECT COUNT(*) FROM audit_log) + (SELECT COUNT(*) FROM members) AS n")
            .fetch_one(p).await?.i64("n")?;
        Ok(n > 0)
    })
}

/// Builds the key vault: the configured key, or the key file beside the database — generated
/// only for a database that holds nothing yet. Every key is checked against the check values
/// stored with the data; a key that does not match is refused, so nothing is ever written
/// under a wrong key.
pub async fn load_vault(cfg: &config::Config, db: &db::Db) -> Result<crypto::Vault, StartError> {
    let key = match &cfg.data_key {
        Some(k) => crypto::parse_key(k).map_err(StartError::Key)?,
        None => {
            let path = default_key_file(cfg);
            match read_key(&path).map_err(StartError::Key)? {
                Some(k) => k,
                None if holds_data(db).await? => {
                    return Err(StartError::Key(format!(
                        "{} is missing, but the database holds data written under a key: restore the key file (or set DANGJIAN_DATA_KEY); a new key is never made for a database that holds data",
                        path.display()
                    )))
                }
                None => create_key(&path).map_err(StartError::Key)?,
            }
        }
    };
    if !(1..=127).contains(&cfg.data_key_version) {
        return Err(StartError::Key("data_key_version must be 1–127".into()));
    }
    let mut old = std::collections::BTreeMap::new();
    for (v, k) in &cfg.old_data_keys {
        let v: u8 = v
            .parse()
            .ok()
            .filter(|v| (1..=127).contains(v))
            .ok_or_else(|| StartError::Key(format!("bad version {v} (1–127)")))?;
        old.insert(v, crypto::parse_key(k).map_err(StartError::Key)?);
    }
    let vault = crypto::Vault::new(cfg.data_key_version, key, old);
    check_keys(db, &vault).await?;
    Ok(vault)
}

/// Compares the vault's keys with the check values stored with the data, and stores those of
/// keys not seen before. A database from before check values (data but no checks) is first
/// opened with the key: if one of its ciphertexts does not open, the key is refused.
async fn check_keys(db: &db::Db, vault: &crypto::Vault) -> Result<(), StartError> {
    use db::DbRow;
    let stored: Vec<(i64, String)> = on_db!(db, p => {
        let rows = sqlx::query("SELECT version, check_value FROM key_checks").fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.i64("version")?, r.string("check_value")?))).collect::<Result<Vec<_>, db::DbError>>()?
    });
    for (v, c) in &stored {
        if let Some(mine) = u8::try_from(*v).ok().and_then(|v| vault.key_check(v)) {
            if &mine != c {
                return Err(StartError::Key(format!(
                    "data key version {v} does not match the key this database was written with (check value differs): refusing to start"
                )));
            }
        }
    }
    if stored.is_empty() {
        // written before check values: the key must open what is there
        let sample: Option<(i64, Vec<u8>)> = on_db!(db, p => {
            match sqlx::query("SELECT id, id_enc FROM members ORDER BY id LIMIT 1").fetch_optional(p).await? {
                Some(r) => Some((r.i64("id")?, r.bytes("id_enc")?)),
                None => None,
            }
        });
        if let Some((id, enc)) = sample {
            let opened = if crypto::Vault::is_legacy(&enc) {
                vault.decrypt_legacy(&enc).is_ok()
            } else {
                vault
                    .decrypt_bytes(&crypto::aad("members", "id_enc", id), &enc)
                    .is_ok()
            };
            if !opened {
                return Err(StartError::Key(
                    "the data key does not open this database's data: refusing to start".into(),
                ));
            }
        }
    }
    let now = chrono::Utc::now();
    for v in vault.versions() {
        if stored.iter().any(|(s, _)| *s == i64::from(v)) {
            continue;
        }
        let c = vault.key_check(v).unwrap_or_default();
        on_db!(db, p => {
            sqlx::query("INSERT INTO key_checks (version, check_value, created_at) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING")
                .bind(i64::from(v)).bind(&c).bind(now).execute(p).await?;
        });
    }
    Ok(())
}

impl Ctx {
    /// Connects, migrates, loads and checks the keys, and runs the start-up upgrades.
    pub async fn open(cfg: config::Config) -> Result<Self, StartError> {
        let zone = cfg.zone()?;
        clock::set_display_zone(zone);
        let cfg_dashboard_seconds = cfg.dashboard_cache_seconds;
        let url = cfg.db_url()?;
        if let config::DatabaseUrl::Sqlite(p) = &url {
            prepare_sqlite_file(p).map_err(|e| StartError::Key(format!("{}: {e}", p.display())))?;
        }
        let db = db::Db::connect(&url, cfg.sqlite_cache_mib).await?;
        db::migrate::run(&db).await?;
        let vault = load_vault(&cfg, &db).await?;
        let heavy_limit = cfg.heavy_concurrency;
        let heavy_wait = std::time::Duration::from_millis(cfg.heavy_wait_ms);
        let clock = clock::Clock::system(zone);
        db.init(clock.clone(), db::ChainKey(vault.chain_key()));
        let ctx = Self {
            db,
            vault: Arc::new(vault),
            config: Arc::new(cfg),
            imports: Default::default(),
            login_throttle: Default::default(),
            limits: Default::default(),
            clock,
            dashboards: Arc::new(cache::TtlCache::new(std::time::Duration::from_secs(
                cfg_dashboard_seconds,
            ))),
            heavy: Arc::new(heavy::Heavy::new(heavy_limit, heavy_wait)),
            figures: Arc::new(cache::TtlCache::new(std::time::Duration::from_secs(60))),
        };
        upgrade::run(&ctx).await?;
        calendar::store::seed_builtin(&ctx.db).await?;
        Ok(ctx)
    }
}
