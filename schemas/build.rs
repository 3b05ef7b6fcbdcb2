//! Compiles `proto/pdfmill/v1/*.proto` into Rust without a system `protoc`.
//!
//! protox parses the files into a descriptor set; prost-build generates the message types
//! from it and pbjson-build generates their canonical proto3 JSON (serde) impls from the
//! same descriptors, so the two can never disagree about a field.

use std::error::Error;
use std::path::PathBuf;

use prost::Message as _;

/// The proto files, relative to the include root `proto/`.
const PROTOS: &[&str] = &[
    "pdfmill/v1/convert.proto",
    "pdfmill/v1/result.proto",
    "pdfmill/v1/email.proto",
    "pdfmill/v1/job.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");

    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);

    // Well-known types come from pbjson-types: they are prost types with serde impls that
    // follow the proto3 JSON mapping (Timestamp as an RFC 3339 string, Duration as "1.5s").
    // Maps are BTreeMaps so that encoding a message is deterministic.
    prost_build::Config::new()
        .compile_well_known_types()
        .extern_path(".google.protobuf", "::pbjson_types")
        .btree_map(["."])
        .enable_type_names()
        .compile_fds(descriptors.clone())?;

    pbjson_build::Builder::new()
        .register_descriptors(&descriptors.encode_to_vec())?
        .extern_path(".google.protobuf", "::pbjson_types")
        .btree_map(["."])
        .out_dir(&out_dir)
        .build(&[".pdfmill"])?;

    Ok(())
}
