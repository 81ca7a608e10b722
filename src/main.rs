//! The `dangjian` command: serve, demo, migrate, import, export, backup, audit verify.

use clap::{Parser, Subcommand};
use dangjian::config::{Config, DatabaseUrl};
use dangjian::{audit, demo, Ctx};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dangjian",
    version,
    about = "党建 — grassroots Party-building platform"
)]
struct Cli {
    /// Configuration file (TOML). Environment variables DANGJIAN_* override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default sqlite://dangjian.db) or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web server (creates the schema and the first administrator on first start).
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
        /// Load the demo city if the database is empty.
        #[arg(long)]
        demo: bool,
        /// Members in the demo city loaded by --demo.
        #[arg(long, default_value_t = 30_000)]
        demo_members: usize,
    },
    /// Fill an empty database with a realistic demo city.
    Demo {
        #[arg(long, default_value_t = 30_000)]
        members: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Reference date (YYYY-MM-DD); default today.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// Create or upgrade the schema.
    Migrate,
    /// Import members from an xlsx or csv file (checked first; nothing written if a row is wrong).
    Import {
        file: PathBuf,
        /// Only rows in this organisation's subtree may be imported (default: the root).
        #[arg(long)]
        org: Option<i64>,
        /// Write the valid rows even if some rows are wrong.
        #[arg(long)]
        valid_only: bool,
    },
    /// Export members (numbers masked) to an xlsx or csv file.
    Export {
        file: PathBuf,
        /// Organisation whose subtree is exported (default: the root).
        #[arg(long)]
        org: Option<i64>,
    },
    /// Make a consistent online copy of the database.
    Backup { path: PathBuf },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Account tools for the server's operator.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Issue a one-time password for an account (e.g. an audit administrator's, which no
    /// administrator of the platform may change); printed once, audited.
    Reset { username: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check the whole hash chain; exit 1 and name the first bad sequence number if broken.
    Verify,
}

/// glibc's malloc keeps an arena per thread that allocates (up to 8 per core), and each keeps
/// what it freed: the server's threads — the runtime's, the blocking pool's, one per pooled
/// SQLite connection — left it 80 MB larger after an export than with two arenas
/// (BENCHMARKS.md). The limit is read when the process starts, so `serve` sets it and starts
/// itself again, once; `MALLOC_ARENA_MAX` set by the operator is left as it is.
#[cfg(target_os = "linux")]
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MALLOC_ARENA_MAX", "2")
        .exec();
    // only returns on failure: go on with the default arenas
    eprintln!("MALLOC_ARENA_MAX: restart failed ({err}); continuing");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(target_os = "linux")]
    if matches!(cli.command, Command::Serve { .. }) {
        limit_malloc_arenas();
    }
    let mut cfg = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("配置错误 / configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(u) = &cli.database_url {
        cfg.database_url = u.clone();
    }
    if let Command::Serve {
        listen: Some(l), ..
    } = &cli.command
    {
        cfg.listen = l.clone();
    }
    if let Err(e) = cfg.validate() {
        eprintln!("配置错误 / configuration error: {e}");
        return ExitCode::from(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cfg.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // colour codes only for a person at a terminal, never into a log file or journal
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli.command, cfg)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res = Result<ExitCode, Box<dyn std::error::Error>>;

async fn root_path(ctx: &Ctx, org: Option<i64>) -> Result<String, Box<dyn std::error::Error>> {
    match org {
        Some(id) => Ok(dangjian::org::store::get(&ctx.db, id).await?.path),
        None => {
            let roots = dangjian::on_db!(&ctx.db, p => {
                sqlx::query("SELECT path FROM orgs WHERE parent_id IS NULL AND dissolved_at IS NULL ORDER BY id LIMIT 1").fetch_optional(p).await?
                    .map(|r| dangjian::db::DbRow::string(&r, "path")).transpose()?
            });
            roots.ok_or_else(|| "no organisation in the database".into())
        }
    }
}

fn print_demo(s: &demo::DemoSummary) {
    println!(
        "演示城市已载入 / demo city loaded: {} 个党组织（{} 个党支部），{} 名党员",
        s.orgs, s.branches, s.members
    );
    println!(
        "演示账号 / demo accounts (password {}):",
        demo::DEMO_PASSWORD
    );
    for (u, role, org) in &s.accounts {
        println!("  {u:<10} {role}  {org}");
    }
    println!("管理员须用动态口令登录 / administrators sign in with a TOTP code; add these secrets to an authenticator app:");
    for (u, secret) in &s.totp {
        println!("  {u:<10} TOTP {secret}");
    }
    println!(
        "述职评议评分码 / rater code for this year's review meeting: {} (/score)",
        demo::review::DEMO_RATER_CODE
    );
}

async fn run(cmd: Command, cfg: Config) -> Res {
    let ctx = Ctx::open(cfg.clone()).await?;
    // what a command wrote is recorded in the chain's anchor outside the database; a check
    // (verify, backup) moves nothing, and the server records its own before it closes the
    // pool (after which a second write could only fail)
    let writes = !matches!(
        cmd,
        Command::Audit { .. } | Command::Backup { .. } | Command::Serve { .. }
    );
    let result = run_with(&ctx, cmd, &cfg).await;
    if writes {
        if let Err(e) = audit::anchor::write(&ctx).await {
            eprintln!("audit anchor: {e}");
        }
    }
    // Closing the pool checkpoints SQLite's WAL into the database file.
    ctx.db.close().await;
    result
}

async fn run_with(ctx: &Ctx, cmd: Command, cfg: &Config) -> Res {
    let ctx = ctx.clone();
    match cmd {
        Command::Migrate => {
            println!("schema is up to date ({})", ctx.db.backend_name());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            members,
            seed,
            as_of,
        } => {
            let started = std::time::Instant::now();
            let opts = demo::DemoOptions {
                members,
                seed,
                as_of: as_of.unwrap_or_else(|| ctx.clock.today()),
            };
            let s = demo::generate(&ctx, &opts, |m| {
                eprintln!("  {m} ({:.1}s)", started.elapsed().as_secs_f64())
            })
            .await?;
            print_demo(&s);
            println!("用时 / took {:.1}s", started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            demo: load_demo,
            demo_members,
            ..
        } => serve(ctx, load_demo, demo_members).await,
        Command::Import {
            file,
            org,
            valid_only,
        } => {
            let scope = root_path(&ctx, org).await?;
            let bytes = std::fs::read(&file)?;
            let rows = if file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                dangjian::member::io::read_csv(&bytes)
            } else {
                dangjian::member::io::read_xlsx(&bytes)
            }?;
            let mode = if valid_only {
                dangjian::member::io::ImportMode::ValidOnly
            } else {
                dangjian::member::io::ImportMode::AllOrNothing
            };
            let actor = audit::Actor::system("cli-import");
            let r =
                dangjian::member::io::run_import(&ctx, &actor, &scope, rows, mode, None).await?;
            for e in &r.errors {
                println!("第{}行 [{}] {}", e.row, e.column, e.message);
            }
            println!(
                "rows {} valid {} written {}",
                r.total_rows, r.valid_rows, r.written
            );
            if let Some(f) = &r.failed {
                println!("{f}");
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { file, org } => {
            let scope = root_path(&ctx, org).await?;
            let f = dangjian::member::store::MemberFilter::default();
            let (bytes, n) = if file
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
            {
                dangjian::member::io::export_csv(&ctx, &f, &scope).await?
            } else {
                dangjian::member::io::export_xlsx(&ctx, &f, &scope).await?
            };
            std::fs::write(&file, bytes)?;
            audit::record(
                &ctx.db,
                &audit::Actor::system("cli-export"),
                audit::NewEntry {
                    action: "member.export",
                    object_type: "member_list",
                    object_id: String::new(),
                    before: serde_json::Value::Null,
                    after: serde_json::json!({"rows": n, "file": file.display().to_string()}),
                },
            )
            .await?;
            println!("exported {n} members to {}", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup { path } => backup(&ctx, cfg, &path).await,
        Command::Account {
            command: AccountCommand::Reset { username },
        } => {
            let otp = dangjian::auth::store::reset_on_server(&ctx, &username).await?;
            println!("一次性密码 / one-time password for {username}: {otp}");
            println!("首次登录须修改；此密码只显示这一次。 It must be changed at first sign-in; it is shown only once.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let started = std::time::Instant::now();
            let chain_ok = match audit::verify(&ctx).await? {
                audit::VerifyOutcome::Ok { entries } => {
                    let secs = started.elapsed().as_secs_f64();
                    println!("audit chain OK: {entries} entries verified in {secs:.2}s ({:.0} entries/s)", entries as f64 / secs.max(1e-9));
                    match audit::anchor::read(&ctx) {
                        Ok(Some((seq, _))) => println!(
                            "anchor {}: the chain reaches its seq {seq}",
                            audit::anchor::path(cfg).display()
                        ),
                        Ok(None) => println!(
                            "no anchor at {} (the chain is checked without that lower bound)",
                            audit::anchor::path(cfg).display()
                        ),
                        Err(e) => println!("anchor: {e}"),
                    }
                    true
                }
                audit::VerifyOutcome::Broken { seq, reason } => {
                    println!("audit chain BROKEN at seq {seq}: {reason}");
                    false
                }
            };
            // every stored document and evidence file against the digest its records name
            let started = std::time::Instant::now();
            let files = dangjian::blob::verify_all(&ctx).await?;
            let secs = started.elapsed().as_secs_f64();
            if files.bad.is_empty() {
                println!(
                    "stored files OK: {} files match their SM3 digests ({secs:.2}s)",
                    files.checked
                );
            } else {
                println!(
                    "stored files BAD: {} of {} fail their SM3 digests",
                    files.bad.len(),
                    files.checked
                );
                for b in &files.bad {
                    let used = if b.used_by.is_empty() {
                        "not named by any record".to_string()
                    } else {
                        b.used_by.join("; ")
                    };
                    println!("  {used}: expected SM3 {}, found: {}", b.digest, b.found);
                }
            }
            Ok(if chain_ok && files.bad.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

async fn backup(ctx: &Ctx, cfg: &Config, path: &std::path::Path) -> Res {
    match cfg.db_url()? {
        DatabaseUrl::Sqlite(_) => {
            if path.exists() {
                return Err(format!("{} already exists", path.display()).into());
            }
            // VACUUM INTO writes a consistent snapshot while the server keeps running, into an
            // empty file made readable by its owner only
            dangjian::write_private(path, b"")?;
            let target = path.to_string_lossy().replace('\'', "''");
            if let dangjian::db::Db::Sqlite(p, _) = &ctx.db {
                sqlx::query(&format!("VACUUM INTO '{target}'"))
                    .execute(p)
                    .await?;
            }
            dangjian::restrict(path)?;
            println!("backup written to {}", path.display());
            println!("the data key is not in the database: keep {} (or your DANGJIAN_DATA_KEY) with the backup", dangjian::default_key_file(cfg).display());
            Ok(ExitCode::SUCCESS)
        }
        DatabaseUrl::Postgres(url) => {
            dangjian::write_private(path, b"")?;
            let status = std::process::Command::new("pg_dump")
                .args(["--format=custom", "--file"])
                .arg(path)
                .arg(&url)
                .status()
                .map_err(|e| format!("pg_dump is needed for PostgreSQL backups: {e}"))?;
            if !status.success() {
                return Err("pg_dump failed".into());
            }
            dangjian::restrict(path)?;
            println!(
                "backup written to {} (restore with pg_restore)",
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(ctx: Ctx, load_demo: bool, demo_members: usize) -> Res {
    if load_demo {
        let orgs = dangjian::on_db!(&ctx.db, p => dangjian::db::DbRow::i64(&sqlx::query("SELECT COUNT(*) AS n FROM orgs").fetch_one(p).await?, "n")?);
        if orgs == 0 {
            eprintln!("正在载入演示城市 / loading the demo city ({demo_members} members)...");
            let started = std::time::Instant::now();
            let opts = demo::DemoOptions {
                members: demo_members,
                seed: 1,
                as_of: ctx.clock.today(),
            };
            let s = demo::generate(&ctx, &opts, |m| {
                eprintln!("  {m} ({:.1}s)", started.elapsed().as_secs_f64())
            })
            .await?;
            print_demo(&s);
        }
    }
    let made = dangjian::auth::store::bootstrap_admin(&ctx).await?;
    if !made.is_empty() {
        println!("==============================================================");
        println!(" 三员分立：以下管理员账号各交一人保管 / one administrator each:");
        for (user, role, pw) in &made {
            println!(" {role} {user}  一次性密码 / one-time password: {pw}");
        }
        println!(" 首次登录后须修改密码；这些密码只显示这一次。");
        println!(" Each must be changed at first login; they are shown only once.");
        println!("==============================================================");
    }
    let listener = tokio::net::TcpListener::bind(&ctx.config.listen).await?;
    let addr = listener.local_addr()?;
    println!(
        "dangjian 已启动 / listening on http://{addr}/ ({})",
        ctx.db.backend_name()
    );
    let db = ctx.db.clone();
    let last = ctx.clone();
    // the chain's anchor, and the scheduler (which verifies the chain at once, then every
    // audit_verify_hours)
    audit::checks::spawn_anchor(ctx.clone());
    dangjian::scheduler::spawn(ctx.clone());
    let app = dangjian::web::router(ctx);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return std::future::pending::<()>().await,
                };
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        #[cfg(not(unix))]
        {
            let _ = ctrl_c.await;
        }
    })
    .await?;
    // Every in-flight request has finished: record the head in the anchor, then close the
    // pool so SQLite checkpoints its WAL and PostgreSQL sees the sessions end.
    if let Err(e) = audit::anchor::write(&last).await {
        eprintln!("audit anchor: {e}");
    }
    db.close().await;
    println!("dangjian 已停止 / stopped");
    Ok(ExitCode::SUCCESS)
}
