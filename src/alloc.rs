//! glibc allocator settings for processes that time kernels or run many passes side by side
//! (`mallopt`); no-ops off glibc. Each setting applies to later allocations only.

/// A `mallopt` parameter, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Blocks of at least this size get pages of their own (a fixed value also stops glibc from
    /// sliding it up as large blocks are freed).
    MmapThreshold,
    /// Free memory at the top of the heap beyond this goes back to the kernel.
    TrimThreshold,
    /// Extra bytes the heap grows by each time it grows.
    TopPad,
}

/// Sets `setting` to `bytes`.
pub fn set(setting: Setting, bytes: i32) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let parameter = match setting {
            Setting::MmapThreshold => libc::M_MMAP_THRESHOLD,
            Setting::TrimThreshold => libc::M_TRIM_THRESHOLD,
            Setting::TopPad => libc::M_TOP_PAD,
        };
        // SAFETY: mallopt only changes allocator parameters, which apply to later allocations.
        unsafe {
            libc::mallopt(parameter, bytes);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = (setting, bytes);
}
