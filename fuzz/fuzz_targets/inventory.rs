//! Inventories from text: the first byte picks the format (YAML, TOML,
//! kubectl JSON, Ansible INI); format detection runs on the text too.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portsweep::inventory::{detect_format, parse_services, Inventory, InventoryFormat, MAX_NODES};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let _ = detect_format(None, text);
    let format = [InventoryFormat::Yaml, InventoryFormat::Toml, InventoryFormat::KubectlJson, InventoryFormat::AnsibleIni][which as usize % 4];
    if let Ok(inv) = Inventory::parse(text, "fuzz", format) {
        assert!(!inv.is_empty() && inv.len() as u64 <= MAX_NODES);
        assert!(inv.nodes.windows(2).all(|w| w[0].address < w[1].address));
        for n in &inv.nodes {
            assert!(!n.roles.is_empty(), "{n:?}");
            assert_eq!(inv.get(n.address), Some(n));
        }
    }
    if format == InventoryFormat::KubectlJson {
        let _ = parse_services(text, "fuzz");
    }
});
