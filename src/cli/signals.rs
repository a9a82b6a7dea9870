//! SIGINT and SIGTERM during `train`: while training (or writing what it trained), the first asks
//! it to stop after the current batch (the epoch loop then checkpoints and the command exits
//! 128 + the signal: 130 or 143); a second, or the first before training starts (reading a
//! corpus: nothing to save yet), removes this process's temporary files and exits at once with
//! the same code.
//!
//! signal-hook delivers the signals to a thread of ours, so the work done on them (removing
//! files, taking a lock) runs as ordinary code rather than in a signal handler.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::output::fsutil;

/// The first signal received (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Whether a first signal waits for the batch to finish (training has state worth saving).
static DEFERRED: AtomicBool = AtomicBool::new(false);

/// Whether a signal that ends the process does so without a line (a rank other than 0 whose
/// job rank 0 reports).
static SILENT: AtomicBool = AtomicBool::new(false);

/// From now on a signal that ends the process prints nothing: rank 0 has the job's line, and
/// mpirun may send this rank a SIGTERM while it finishes after rank 0 exits.
pub(super) fn silence() {
    SILENT.store(true, Ordering::SeqCst);
}

/// From now on a first signal stops training after the batch instead of exiting at once.
pub(super) fn defer() {
    DEFERRED.store(true, Ordering::SeqCst);
}

/// Starts listening for SIGINT and SIGTERM (once per process; later calls do nothing new).
pub(super) fn install() -> anyhow::Result<()> {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    INSTALLED.call_once(|| {
        result = Signals::new([SIGINT, SIGTERM])
            .map(|mut signals| {
                std::thread::spawn(move || {
                    for sig in signals.forever() {
                        on_signal(sig);
                    }
                });
            })
            .map_err(|e| anyhow::anyhow!("cannot listen for SIGINT/SIGTERM: {e}"));
    });
    result
}

fn on_signal(sig: i32) {
    let first = RECEIVED
        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if first && DEFERRED.load(Ordering::SeqCst) {
        return;
    }
    // No more waiting. The guards keep new temporaries from being made, and the command's own
    // error line from being printed too, while the process exits.
    let _line = last_line();
    let _guard = fsutil::remove_live_temps();
    let why = if first {
        "before training started: nothing to save"
    } else {
        "again: stopped at once (earlier checkpoints are kept); temporary files removed"
    };
    if !SILENT.load(Ordering::SeqCst) {
        eprintln!("error: interrupted by {} {why}", name(sig));
    }
    std::process::exit(128 + sig);
}

/// The right to print the process's last line (held for good by a signal that exits).
fn last_line() -> std::sync::MutexGuard<'static, ()> {
    static LAST_LINE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LAST_LINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Prints a failed command's line to stderr, unless a signal is already ending the process
/// with its own line (then this waits for the exit).
pub fn print_error(line: &str) {
    let _line = last_line();
    eprintln!("error: {line}");
}

/// The signal that asked the run to stop, if one did.
pub(super) fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        sig => Some(sig),
    }
}

/// `SIGINT`, `SIGTERM`.
pub(super) fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// A run stopped by a signal: the one line to print and the exit status (128 + the signal).
#[derive(Debug)]
pub struct Interrupted {
    pub signal: i32,
    pub line: String,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.line)
    }
}

impl std::error::Error for Interrupted {}

/// The exit status for a failed command: 128 + the signal for an interrupted run, else 1.
pub fn exit_status(e: &anyhow::Error) -> u8 {
    e.downcast_ref::<Interrupted>()
        .map_or(1, |i| (128 + i.signal).clamp(0, 255) as u8)
}
