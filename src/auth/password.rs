//! Passwords: argon2id hashes and the configurable policy (等保 level-3 defaults).

use crate::config::PasswordPolicy;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::Argon2;

/// An argon2id hash (default parameters: 19 MiB, 2 passes) in PHC form, computed in the
/// pooled working memory (see [`verify`]).
pub fn hash(password: &str) -> Result<String, String> {
    let salt =
        SaltString::encode_b64(&crate::crypto::random_bytes::<16>()).map_err(|e| e.to_string())?;
    let params = argon2::Params::default();
    let a = Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params.clone(),
    );
    let mut salt_buf = [0u8; 64];
    let raw_salt = salt
        .as_salt()
        .decode_b64(&mut salt_buf)
        .map_err(|e| e.to_string())?;
    let mut out = [0u8; 32];
    let mut blocks = take_blocks(params.block_count());
    let r = a.hash_password_into_with_memory(password.as_bytes(), raw_salt, &mut out, &mut blocks);
    give_blocks(blocks);
    r.map_err(|e| e.to_string())?;
    let output = argon2::password_hash::Output::new(&out).map_err(|e| e.to_string())?;
    let h = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: params
            .try_into()
            .map_err(|e: argon2::password_hash::Error| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(h.to_string())
}

/// Password hashing at once, at most: about the machine's cores. Each check fills 19 MiB and
/// a core for ~50 ms; more at a time only queue for the cores while holding memory.
fn permits() -> &'static tokio::sync::Semaphore {
    static P: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let n = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(1, 8);
        tokio::sync::Semaphore::new(n)
    })
}

/// How long a sign-in waits for a hashing permit before it is answered "busy".
pub const PERMIT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `f` (a hash or a check) under a permit on a blocking thread; when no permit frees up
/// within [`PERMIT_WAIT`], the caller is told to come back (503 with `Retry-After`).
async fn with_permit<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::error::AppError> {
    let permit = tokio::time::timeout(PERMIT_WAIT, permits().acquire())
        .await
        .map_err(|_| crate::error::AppError::Busy(2))?
        .map_err(|_| crate::error::AppError::Busy(2))?;
    let r = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| crate::error::AppError::Internal(e.to_string()));
    drop(permit);
    r
}

/// [`hash`] under a permit, on a blocking thread.
pub async fn hash_async(password: String) -> Result<String, crate::error::AppError> {
    with_permit(move || hash(&password))
        .await?
        .map_err(crate::error::AppError::Internal)
}

/// How many hashing permits are free now (for tests and the benchmark).
pub fn free_permits() -> usize {
    permits().available_permits()
}

/// Checks `password` against a stored argon2 hash, in working memory kept for reuse.
///
/// argon2id's default parameters fill 19 MiB per check. Allocated and freed at each sign-in,
/// that memory stayed with the allocator's per-thread arenas: sixteen sign-ins grew the server
/// by 117 MB (BENCHMARKS.md). Here the blocks come from a small pool (one buffer per check
/// running at once, at most [`POOL`] kept).
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(alg), Ok(params), Some(expected), Some(salt)) = (
        argon2::Algorithm::try_from(h.algorithm),
        argon2::Params::try_from(&h),
        h.hash,
        h.salt,
    ) else {
        return false;
    };
    let version = match h.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    let mut blocks = take_blocks(params.block_count());
    let ok = Argon2::new(alg, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut blocks)
        .is_ok();
    give_blocks(blocks);
    // `Output`'s equality is constant-time
    ok && argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// [`verify`] under a hashing permit, on a blocking thread, so a sign-in does not hold up
/// the requests that share its worker thread; `Err` (busy) when no permit frees up in time.
pub async fn verify_checked(
    password: String,
    stored: String,
) -> Result<bool, crate::error::AppError> {
    with_permit(move || verify(&password, &stored)).await
}

/// [`verify_checked`], a busy server counting as a failed check.
pub async fn verify_async(password: String, stored: String) -> bool {
    verify_checked(password, stored).await.unwrap_or(false)
}

/// Working memories kept for the next check: one per permit, so the memory of hashing is
/// bounded and reused, never grown per request.
const POOL: usize = 8;
static BLOCKS: std::sync::Mutex<Vec<Vec<argon2::Block>>> = std::sync::Mutex::new(Vec::new());

fn take_blocks(n: usize) -> Vec<argon2::Block> {
    let mut pool = BLOCKS.lock().unwrap_or_else(|e| e.into_inner());
    match pool.iter().position(|b| b.len() == n) {
        Some(i) => pool.swap_remove(i),
        None => vec![argon2::Block::default(); n],
    }
}

fn give_blocks(b: Vec<argon2::Block>) {
    let mut pool = BLOCKS.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < POOL {
        pool.push(b);
    }
}

/// A hash of a random password, verified against when the user does not exist, so that an
/// unknown user costs the same time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&crate::crypto::random_token()).unwrap_or_default())
}

/// The reasons a new password is refused, in Chinese; empty when it is acceptable.
pub fn policy_violations(p: &PasswordPolicy, password: &str, username: &str) -> Vec<String> {
    let mut out = Vec::new();
    if password.chars().count() < p.min_length {
        out.push(format!("密码至少{}位", p.min_length));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if classes < p.min_classes {
        out.push(format!(
            "密码须包含大写字母、小写字母、数字、特殊字符中的至少{}类",
            p.min_classes
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        out.push("密码不能包含用户名".into());
    }
    if password.chars().count() > 128 {
        out.push("密码不能超过128位".into());
    }
    out
}

/// A random password that satisfies the default policy (first-start administrator).
pub fn generate() -> String {
    let raw = crate::crypto::random_bytes::<12>();
    let alphabet = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut s: String = raw
        .iter()
        .map(|b| alphabet[(*b as usize) % alphabet.len()] as char)
        .collect();
    s.push_str("a7K#");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn hashing_runs_under_permits_and_reuses_its_memory() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::Arc;
        let limit = permits().available_permits();
        assert!(limit >= 1);
        // many at once: never more than the permits inside, the others wait their turn
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = Vec::new();
        for _ in 0..(limit * 4) {
            let (now, most) = (now.clone(), most.clone());
            tasks.push(tokio::spawn(with_permit(move || {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(30));
                now.fetch_sub(1, Ordering::SeqCst);
            })));
        }
        for t in tasks {
            assert!(t.await.expect("join").is_ok());
        }
        assert!(
            most.load(Ordering::SeqCst) <= limit,
            "{} > {limit}",
            most.load(Ordering::SeqCst)
        );
        // real checks: the working memories are taken from the pool and given back, never more
        // of them than the permits
        let stored = hash("Abcdef1!").expect("hash");
        let mut checks = Vec::new();
        for _ in 0..(limit * 3) {
            checks.push(tokio::spawn(verify_checked(
                "Abcdef1!".into(),
                stored.clone(),
            )));
        }
        for c in checks {
            assert_eq!(c.await.expect("join").ok(), Some(true));
        }
        let kept = BLOCKS.lock().map(|b| b.len()).unwrap_or(usize::MAX);
        // (other tests of this binary hash outside permits meanwhile: the pool's own bound)
        assert!((1..=POOL).contains(&kept), "{kept} working memories kept");
        assert_eq!(free_permits(), limit, "every permit back");
    }

    #[test]
    fn hash_and_verify() {
        let h = hash("Abcdef1!").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("Abcdef1!", &h));
        assert!(!verify("Abcdef1?", &h));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn policy_edges() {
        let p = PasswordPolicy::default();
        assert!(policy_violations(&p, "Abcdef1!", "u").is_empty());
        assert!(!policy_violations(&p, "Abcde1!", "u").is_empty(), "7 chars");
        assert!(
            policy_violations(&p, "Abcdefg1", "u").is_empty(),
            "3 classes"
        );
        assert!(
            !policy_violations(&p, "abcdefg1", "u").is_empty(),
            "2 classes"
        );
        assert!(!policy_violations(&p, "Zhangsan1!", "zhangsan").is_empty());
        assert!(policy_violations(&p, &generate(), "admin").is_empty());
    }
}
