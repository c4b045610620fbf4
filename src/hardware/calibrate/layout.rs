//! Where the stack sits while kernels are timed: calibration's and validation's passes each run
//! at another offset within a page (see [`on_shifted_stack`]).

use rand::RngExt;

use super::measure::rng_for;

/// Frames of [`on_shifted_stack`] at most: their sizes (a multiple of 16 bytes, about a hundred)
/// times this spans more than a 4 KiB page.
const MAX_STACK_SHIFT: usize = 64;

/// How many frames pass `pass` runs below (seeded, in `0..MAX_STACK_SHIFT`).
pub(crate) fn stack_shift(seed: u64, pass: usize) -> usize {
    rng_for(seed, &[usize::MAX - 1, pass]).random_range(0..MAX_STACK_SHIFT)
}

/// Runs `run` `frames` stack frames deeper than it would run, so that each pass puts the
/// kernels' stack at another offset within a page. The speed of candle's kernels on this machine
/// depends on where the stack sits: with address-space randomization off, changing only the size
/// of the environment (which moves the stack) moved minilm's 384 x 384 q4_0 at 8 rows from 107.0
/// to 113.6 us, and with it on, q4_0 and q8_0 shifted by up to 10% against each other from one
/// process to the next. A calibration or validation taken at one offset carries that draw; the
/// fastest of calls at several offsets does not (the randomized layouts of Curtsinger and
/// Berger's Stabilizer, by the simplest means).
#[inline(never)]
pub(crate) fn on_shifted_stack<R>(frames: usize, run: &mut dyn FnMut() -> R) -> R {
    let pad = [0u8; 64];
    std::hint::black_box(&pad);
    let result = if frames == 0 {
        run()
    } else {
        on_shifted_stack(frames - 1, run)
    };
    std::hint::black_box(&pad);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The address of a local of the innermost call.
    fn stack_address(frames: usize) -> usize {
        on_shifted_stack(frames, &mut || {
            let local = 0u8;
            std::hint::black_box(&local) as *const u8 as usize
        })
    }

    #[test]
    fn a_shifted_stack_runs_deeper_by_at_least_its_padding() {
        let (level, deeper) = (stack_address(0), stack_address(40));
        // The stack grows down: forty frames of 64 bytes of padding each at the least.
        assert!(level > deeper, "{level:#x} vs {deeper:#x}");
        assert!(level - deeper >= 40 * 64, "moved {} bytes", level - deeper);
        assert_eq!(on_shifted_stack(7, &mut || 42), 42);
    }

    #[test]
    fn stack_shifts_are_seeded_and_spread() {
        let shifts: Vec<usize> = (0..200).map(|pass| stack_shift(1, pass)).collect();
        assert_eq!(
            shifts,
            (0..200)
                .map(|pass| stack_shift(1, pass))
                .collect::<Vec<_>>()
        );
        assert!(shifts.iter().all(|&s| s < MAX_STACK_SHIFT));
        let distinct: std::collections::BTreeSet<usize> = shifts.into_iter().collect();
        assert!(distinct.len() > MAX_STACK_SHIFT / 2);
    }
}
