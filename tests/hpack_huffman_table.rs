//! The checked-in Huffman tables (src/hpack/huffman/table.rs) must equal what
//! the generator in src/hpack/huffman/gen.rs produces from RFC 7541 Appendix B.
//! Regenerate with `H2O_REGEN=1 cargo test --test hpack_huffman_table`.

const TABLE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/hpack/huffman/table.rs");

#[test]
fn generated_table_is_up_to_date() {
    let generated = h2o::hpack::huffman::gen::generate();
    if std::env::var_os("H2O_REGEN").is_some_and(|v| v == "1") {
        std::fs::write(TABLE_PATH, &generated).expect("write table.rs");
        return;
    }
    let checked_in = std::fs::read_to_string(TABLE_PATH).expect("read table.rs");
    assert!(
        generated == checked_in,
        "src/hpack/huffman/table.rs is stale; regenerate it with \
         `H2O_REGEN=1 cargo test --test hpack_huffman_table`"
    );
}
