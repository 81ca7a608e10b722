//! The application error: what a use case can answer besides success.
//! Each variant has a stable machine `code` and a Chinese message; the web layer maps it to
//! an HTTP status. Server-side failures are logged, never shown.

use crate::db::DbError;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("输入有误")]
    Validation(Vec<FieldError>),
    #[error("{0}不存在")]
    NotFound(&'static str),
    /// An object outside the caller's subtree: answered exactly as an absent one (404, the same
    /// words), so that ids elsewhere cannot be told from ids that do not exist.
    #[error("不在本账号管辖范围内：{0}")]
    OutOfScope(String),
    #[error("没有权限：{0}")]
    Forbidden(String),
    #[error("请先登录")]
    Unauthenticated,
    #[error("{0}")]
    Conflict(String),
    /// A business rule refused the action.
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    #[error("请求过大")]
    TooLarge,
    /// Too many attempts: try again after this many seconds.
    #[error("尝试次数过多，请{}分钟后再试", (.0 + 59) / 60)]
    TooManyAttempts(i64),
    /// The server is at its limit for this kind of work: try again after this many seconds.
    #[error("服务器繁忙，请{0}秒后重试")]
    Busy(i64),
    /// A stored file no longer matches its recorded digest (altered or lost): named, with the
    /// expected and found digests, never hidden behind a server error.
    #[error("{0}")]
    Integrity(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Db(DbError::Sqlx(e))
    }
}

impl AppError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn refused(code: &'static str, message: impl Into<String>) -> Self {
        AppError::Refused {
            code,
            message: message.into(),
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation(_) => "validation_failed",
            AppError::NotFound(_) | AppError::OutOfScope(_) => "not_found",
            AppError::Forbidden(_) => "forbidden",
            AppError::Unauthenticated => "unauthenticated",
            AppError::Conflict(_) => "conflict",
            AppError::Integrity(_) => "integrity_failed",
            AppError::Refused { code, .. } => code,
            AppError::TooLarge => "payload_too_large",
            AppError::TooManyAttempts(_) => "rate_limited",
            AppError::Busy(_) => "busy",
            AppError::Db(e) if e.is_constraint() => "conflict",
            AppError::Db(e) if e.is_unavailable() => "storage_unavailable",
            AppError::Db(_) | AppError::Internal(_) => "internal_error",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Validation(_) | AppError::Refused { .. } => 422,
            AppError::NotFound(_) | AppError::OutOfScope(_) => 404,
            AppError::Forbidden(_) => 403,
            AppError::Unauthenticated => 401,
            AppError::Conflict(_) | AppError::Integrity(_) => 409,
            AppError::TooLarge => 413,
            AppError::TooManyAttempts(_) => 429,
            AppError::Busy(_) => 503,
            AppError::Db(e) if e.is_constraint() => 409,
            AppError::Db(e) if e.is_unavailable() => 503,
            AppError::Db(_) | AppError::Internal(_) => 500,
        }
    }

    /// The message a user may see. Server errors get a generic sentence.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Db(e) if e.is_constraint() => "与已有数据冲突（重复或被引用）".into(),
            AppError::Db(e) if e.is_unavailable() => {
                "存储暂时不可用（空间不足或读写故障），本次操作未保存，请稍后重试".into()
            }
            AppError::Db(_) | AppError::Internal(_) => "服务器内部错误，请稍后重试".into(),
            AppError::NotFound(_) | AppError::OutOfScope(_) => NOT_FOUND.into(),
            other => other.to_string(),
        }
    }

    pub fn fields(&self) -> &[FieldError] {
        match self {
            AppError::Validation(f) => f,
            _ => &[],
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// What an absent object and one outside the caller's subtree both answer.
pub const NOT_FOUND: &str = "所请求的对象不存在，或不在本账号管辖范围内";

/// Collects field errors and turns them into one `Validation` error.
#[derive(Debug, Default)]
pub struct Checks(pub Vec<FieldError>);

impl Checks {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }
    pub fn check(&mut self, ok: bool, field: &str, message: &str) {
        if !ok {
            self.add(field, message);
        }
    }
    pub fn finish(self) -> AppResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(self.0))
        }
    }
}
