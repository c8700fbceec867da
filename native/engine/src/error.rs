//! One error table, three encodings: this `#[repr(u8)]` enum, the same byte on the wire,
//! and `CorfuError.code` in TypeScript. `bindings/errors.ts` and a vitest test keep them equal.

use std::fmt;

#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    Ok = 0,
    Written = 1,
    Unwritten = 2,
    Trimmed = 3,
    Sealed = 4,
    TooLarge = 5,
    BadRequest = 6,
    Overloaded = 7,
    Io = 8,
    Full = 9,
    NoDevice = 10,
    NotFormatted = 11,
    AlreadyFormatted = 12,
    DeviceBusy = 13,
    DeviceTooSmall = 14,
    Corrupt = 15,
    Closed = 16,
    // Client-side codes: no unit or engine produces them (the table is shared so a
    // client error and a wire status never collide).
    Unavailable = 17,
    Timeout = 18,
    Aborted = 19,
    NoLayout = 20,
    // The sequencer's: its stream tails are being rebuilt from the log.
    Recovering = 21,
    // The object layer's (client-side): a transaction aborted on a conflict.
    Conflict = 22,
    // A server's: the peer's role (client or admin, from its certificate or AUTH token)
    // may not send this request, or it has not authenticated.
    Unauthorized = 23,
}

impl Code {
    pub const ALL: [Code; 24] = [
        Code::Ok,
        Code::Written,
        Code::Unwritten,
        Code::Trimmed,
        Code::Sealed,
        Code::TooLarge,
        Code::BadRequest,
        Code::Overloaded,
        Code::Io,
        Code::Full,
        Code::NoDevice,
        Code::NotFormatted,
        Code::AlreadyFormatted,
        Code::DeviceBusy,
        Code::DeviceTooSmall,
        Code::Corrupt,
        Code::Closed,
        Code::Unavailable,
        Code::Timeout,
        Code::Aborted,
        Code::NoLayout,
        Code::Recovering,
        Code::Conflict,
        Code::Unauthorized,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Written => "ERR_WRITTEN",
            Code::Unwritten => "ERR_UNWRITTEN",
            Code::Trimmed => "ERR_TRIMMED",
            Code::Sealed => "ERR_SEALED",
            Code::TooLarge => "ERR_TOO_LARGE",
            Code::BadRequest => "ERR_BAD_REQUEST",
            Code::Overloaded => "ERR_OVERLOADED",
            Code::Io => "ERR_IO",
            Code::Full => "ERR_FULL",
            Code::NoDevice => "ERR_NO_DEVICE",
            Code::NotFormatted => "ERR_NOT_FORMATTED",
            Code::AlreadyFormatted => "ERR_ALREADY_FORMATTED",
            Code::DeviceBusy => "ERR_DEVICE_BUSY",
            Code::DeviceTooSmall => "ERR_DEVICE_TOO_SMALL",
            Code::Corrupt => "ERR_CORRUPT",
            Code::Closed => "ERR_CLOSED",
            Code::Unavailable => "ERR_UNAVAILABLE",
            Code::Timeout => "ERR_TIMEOUT",
            Code::Aborted => "ERR_ABORTED",
            Code::NoLayout => "ERR_NO_LAYOUT",
            Code::Recovering => "ERR_RECOVERING",
            Code::Conflict => "ERR_CONFLICT",
            Code::Unauthorized => "ERR_UNAUTHORIZED",
        }
    }

    pub fn from_u8(b: u8) -> Option<Code> {
        Code::ALL.get(b as usize).copied()
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A whole-request failure. Per-entry outcomes (ERR_WRITTEN on one address of a batch)
/// are status bytes, not errors.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("unit is at epoch {unit_epoch}, request carried {request_epoch}")]
    Sealed { unit_epoch: u64, request_epoch: u64 },
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NoDevice(String),
    #[error("{0}")]
    NotFormatted(String),
    #[error("{0}")]
    AlreadyFormatted(String),
    #[error("{0}")]
    DeviceBusy(String),
    #[error("{0}")]
    DeviceTooSmall(String),
    #[error("{0}")]
    Corrupt(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("the store failed an earlier write or sync and refuses further work until it is reopened")]
    Failed,
    #[error("{0}; the store refuses further work until it is reopened")]
    RoundFailed(String),
    #[error("the store is closed")]
    Closed,
    #[error("too many requests in flight ({0}); retry later")]
    Overloaded(usize),
    #[error("{0}")]
    TooLarge(String),
}

impl EngineError {
    pub fn code(&self) -> Code {
        match self {
            EngineError::Sealed { .. } => Code::Sealed,
            EngineError::BadRequest(_) => Code::BadRequest,
            EngineError::NoDevice(_) => Code::NoDevice,
            EngineError::NotFormatted(_) => Code::NotFormatted,
            EngineError::AlreadyFormatted(_) => Code::AlreadyFormatted,
            EngineError::DeviceBusy(_) => Code::DeviceBusy,
            EngineError::DeviceTooSmall(_) => Code::DeviceTooSmall,
            EngineError::Corrupt(_) => Code::Corrupt,
            EngineError::Io { .. } | EngineError::Failed | EngineError::RoundFailed(_) => Code::Io,
            EngineError::Closed => Code::Closed,
            EngineError::Overloaded(_) => Code::Overloaded,
            EngineError::TooLarge(_) => Code::TooLarge,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        EngineError::Io { context: context.into(), source }
    }
}

pub type Result<T> = std::result::Result<T, EngineError>;
