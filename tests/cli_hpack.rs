//! `h2o hpack inflate|deflate` against the hpack-test-case stories: inflate of
//! other implementations' wire equals their headers, and deflate | inflate
//! round-trips the raw-data stories.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// `tests/data/hpack-test-case` (in the repo), or `$H2O_HPACK_VECTORS`
/// (same convention as tests/hpack_vectors.rs). Missing vectors fail the test.
fn vectors() -> PathBuf {
    let dir = match std::env::var_os("H2O_HPACK_VECTORS") {
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/hpack-test-case"),
    };
    assert!(
        dir.join("raw-data").is_dir(),
        "hpack-test-case vectors not found at {} (set H2O_HPACK_VECTORS)",
        dir.display()
    );
    dir
}

fn h2o(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_h2o"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn h2o");
    {
        let mut i = child.stdin.take().unwrap();
        if let Some(data) = stdin {
            i.write_all(data).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn headers_of(story: &Value) -> Vec<Vec<(String, String)>> {
    story["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            c["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .flat_map(|h| {
                    h.as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                })
                .collect()
        })
        .collect()
}

fn stories(sub: &str, take: usize) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(vectors().join(sub))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v.truncate(take);
    assert!(!v.is_empty(), "no stories in {sub}");
    v
}

fn read_json(p: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn inflate_matches_other_implementations() {
    for sub in [
        "nghttp2",
        "nghttp2-change-table-size",
        "python-hpack",
        "node-http2-hpack",
    ] {
        for path in stories(sub, usize::MAX) {
            let out = h2o(&["hpack", "inflate", path.to_str().unwrap()], None);
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            let got: Value = serde_json::from_slice(&out.stdout).unwrap();
            let want = read_json(&path);
            assert_eq!(headers_of(&got), headers_of(&want), "{}", path.display());
            // Other fields are preserved.
            assert_eq!(got["cases"][0]["wire"], want["cases"][0]["wire"]);
            assert_eq!(got["cases"][0]["seqno"], want["cases"][0]["seqno"]);
        }
    }
}

#[test]
fn deflate_then_inflate_round_trips() {
    for path in stories("raw-data", usize::MAX) {
        let deflated = h2o(&["hpack", "deflate", path.to_str().unwrap()], None);
        assert!(
            deflated.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&deflated.stderr)
        );
        let d: Value = serde_json::from_slice(&deflated.stdout).unwrap();
        for c in d["cases"].as_array().unwrap() {
            let w = c["wire"].as_str().expect("wire filled");
            assert!(w
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        }
        // Inflate from stdin.
        let inflated = h2o(&["hpack", "inflate"], Some(&deflated.stdout));
        assert!(
            inflated.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&inflated.stderr)
        );
        let got: Value = serde_json::from_slice(&inflated.stdout).unwrap();
        assert_eq!(
            headers_of(&got),
            headers_of(&read_json(&path)),
            "{}",
            path.display()
        );
    }
}

#[test]
fn deflate_honours_header_table_size() {
    // Shrinking the table mid-story must still round-trip.
    let story = r#"{"cases":[
        {"seqno":0,"header_table_size":4096,"headers":[{":method":"GET"},{"x-a":"aaaaaaaaaaaaaaaa"}]},
        {"seqno":1,"header_table_size":0,"headers":[{"x-a":"aaaaaaaaaaaaaaaa"}]},
        {"seqno":2,"header_table_size":256,"headers":[{"x-a":"aaaaaaaaaaaaaaaa"},{"x-a":"aaaaaaaaaaaaaaaa"}]}
    ]}"#;
    let d = h2o(&["hpack", "deflate"], Some(story.as_bytes()));
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    let dv: Value = serde_json::from_slice(&d.stdout).unwrap();
    assert_eq!(dv["cases"][1]["header_table_size"], 0);
    let i = h2o(&["hpack", "inflate"], Some(&d.stdout));
    assert!(i.status.success(), "{}", String::from_utf8_lossy(&i.stderr));
    let iv: Value = serde_json::from_slice(&i.stdout).unwrap();
    assert_eq!(
        headers_of(&iv),
        headers_of(&serde_json::from_str(story).unwrap())
    );
}

#[test]
fn malformed_input_fails_with_case_number() {
    let cases: [(&str, &[&str], &str); 4] = [
        ("{not json", &["inflate"], "invalid JSON"),
        (
            r#"{"cases":[{"seqno":0,"wire":"82"},{"seqno":1,"wire":"8x"}]}"#,
            &["inflate"],
            "case 1:",
        ),
        // Index 70 does not exist in an empty dynamic table.
        (
            r#"{"cases":[{"seqno":0,"wire":"c6"}]}"#,
            &["inflate"],
            "case 0:",
        ),
        (
            r#"{"cases":[{"seqno":0,"headers":[{"a":1}]}]}"#,
            &["deflate"],
            "case 0:",
        ),
    ];
    for (input, sub, want) in cases {
        let mut args = vec!["hpack"];
        args.extend_from_slice(sub);
        let out = h2o(&args, Some(input.as_bytes()));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{input}: {err}");
        assert!(err.contains(want), "{input}: stderr {err:?} lacks {want:?}");
        assert_eq!(err.lines().count(), 1, "one error line: {err:?}");
    }
}
