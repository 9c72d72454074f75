//! Feeds arbitrary bytes to the npy reader: it may refuse them, never panic, and
//! what it accepts is whole (see `matdiff_num::fuzz_entry::npy`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    matdiff_num::fuzz_entry::npy(data);
});
