//! Fuzz target `layout`: any text parsed as a `--layout` file and as a `--segments-file`;
//! the strict parsers must answer `Ok` or an error, never panic, and what they accept must
//! be what the file says (a layout's segments are all there, none `null`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pine_cli::layout_file;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = layout_file::parse(text) {
        let v: serde_json::Value = serde_json::from_str(text).expect("accepted text is JSON");
        let listed = v["segments"].as_array().map(Vec::len);
        assert_eq!(listed, Some(spec.segments.len()), "every segment is kept");
    }
    if let Ok(segments) = layout_file::parse_segments(text) {
        let v: serde_json::Value = serde_json::from_str(text).expect("accepted text is JSON");
        assert_eq!(v.as_array().map(Vec::len), Some(segments.len()));
    }
});
