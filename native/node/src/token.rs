//! The native token counter. `shared(name)` returns the process-wide counter of that
//! name: the addon is loaded once per process, so every worker_thread gets the same
//! `AtomicU64`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use corfu_engine::TokenCounter as Counter;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::convert::{to_js_number, to_u64};

fn registry() -> &'static Mutex<HashMap<String, Arc<Counter>>> {
    static REGISTRY: OnceLock<Mutex<HashMap<String, Arc<Counter>>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

#[napi]
pub struct TokenCounter {
    inner: Arc<Counter>,
}

#[napi]
impl TokenCounter {
    #[napi(constructor)]
    pub fn new(start: Option<f64>) -> Result<Self> {
        Ok(TokenCounter { inner: Arc::new(Counter::new(to_u64("start", start.unwrap_or(0.0))?)) })
    }

    /// The process-wide counter called `name`, created at `start` on first use.
    #[napi(factory)]
    pub fn shared(name: String, start: Option<f64>) -> Result<Self> {
        let start = to_u64("start", start.unwrap_or(0.0))?;
        let mut reg = registry().lock().expect("registry lock");
        let inner = reg.entry(name).or_insert_with(|| Arc::new(Counter::new(start))).clone();
        Ok(TokenCounter { inner })
    }

    /// The first of `n` consecutive tokens (default 1; 0 is refused).
    #[napi]
    pub fn next(&self, n: Option<u32>) -> Result<f64> {
        let n = n.unwrap_or(1);
        if n == 0 {
            return Err(crate::convert::js_error(&corfu_engine::EngineError::BadRequest("next(n) needs n >= 1".into())));
        }
        Ok(to_js_number(self.inner.next(n as u64)))
    }

    #[napi]
    pub fn peek(&self) -> f64 {
        to_js_number(self.inner.peek())
    }
}
