//! One test at a time moves the clock; it is put back when the test ends, pass or fail.

use std::sync::OnceLock;

use tokio::sync::{Mutex, MutexGuard};

static SERIAL: OnceLock<Mutex<()>> = OnceLock::new();

/// The app's clock, held by one test: real time when taken, real time again when dropped.
pub struct Clock {
    _turn: MutexGuard<'static, ()>,
}

pub async fn clock() -> Clock {
    let turn = SERIAL.get_or_init(|| Mutex::new(())).lock().await;
    portico::clock::reset();
    Clock { _turn: turn }
}

impl Clock {
    pub fn advance_days(&self, days: i64) {
        portico::clock::advance(chrono::Duration::days(days));
    }

    #[allow(dead_code)]
    pub fn advance(&self, by: chrono::Duration) {
        portico::clock::advance(by);
    }
}

impl Drop for Clock {
    fn drop(&mut self) {
        portico::clock::reset();
    }
}
