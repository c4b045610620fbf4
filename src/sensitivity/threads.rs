//! Process set-up for running many model passes side by side (the analysis's cells on rayon's
//! workers): one cell per core, each running candle single-threaded, and an allocator that keeps
//! freed memory. For the start of a process (the `analyze` command, the sensitivity bench):
//! candle and glibc read these settings once.

use crate::alloc::{self, Setting};

/// Sets this process up for cells side by side and returns how many run at once:
/// RAYON_NUM_THREADS if it is set, else every CPU. Run the analysis in a rayon pool of that many
/// threads (see [`cell_pool`]).
///
/// Left to itself, candle splits every matmul over all cores (gemm follows RAYON_NUM_THREADS)
/// and sends element-wise ops to one shared pool of CANDLE_NUM_THREADS - 1 spinning helpers, so
/// cells running side by side queue for the same helpers: minilm's table on 32 messages took
/// 67.6 s that way, 45.5 s without the helpers, and the full table 183 s with single-threaded
/// element-wise ops but two-thread matmuls, 177 s with one thread for both. Call it before candle
/// does anything: it changes the environment, which other threads must not be reading.
pub fn prepare_cells_side_by_side() -> usize {
    let cells = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    std::env::set_var("RAYON_NUM_THREADS", "1");
    std::env::set_var("CANDLE_NUM_THREADS", "1");
    keep_freed_memory();
    cells
}

/// A rayon pool of `cells` workers to run the analysis in.
pub fn cell_pool(cells: usize) -> Result<rayon::ThreadPool, rayon::ThreadPoolBuildError> {
    rayon::ThreadPoolBuilder::new().num_threads(cells).build()
}

/// Tells glibc to keep freed memory for reuse: no block under 32 MiB gets pages of its own, the
/// heap is never trimmed, and it grows 256 MiB at a time (address space, not memory in use).
/// Every candle op allocates its output, and by default the pages of large freed blocks go back
/// to the kernel and fault in again on the next op: minilm's table on 32 messages spent 8.8 s of
/// 85 CPU seconds in the kernel that way, 0.3 s with this, and took 39.6 s instead of 43.1 s.
/// A no-op off glibc.
fn keep_freed_memory() {
    alloc::set(Setting::MmapThreshold, 32 << 20);
    alloc::set(Setting::TrimThreshold, i32::MAX);
    alloc::set(Setting::TopPad, 256 << 20);
}
