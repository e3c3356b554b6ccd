//! Port specifications (`-p`, `--udp`, plans' and reports' `ports`): any
//! text parses or fails without panicking, and a parsed list round-trips
//! through its own nmap-style text. The first byte picks the protocol of
//! ports without a prefix.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portsweep::space::{PortList, Protocol};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(spec) = std::str::from_utf8(rest) else { return };
    let default = if which & 1 == 0 { Protocol::Tcp } else { Protocol::Udp };
    if let Ok(list) = PortList::parse(spec, default) {
        assert!(list.len() <= 2 * 65535);
        let again = PortList::parse(&list.to_spec(), Protocol::Tcp).expect("a list's own text parses");
        assert_eq!(again, list);
        for (i, &(proto, port)) in list.as_slice().iter().enumerate().step_by(97) {
            assert_eq!(list.index_of(proto, port), Some(i));
        }
    }
});
