//! `h2o hpack inflate|deflate`: HPACK story files in the hpack-test-case JSON
//! format (like nghttp2's `inflatehd` / `deflatehd`).
//!
//! A story is `{"cases": [{"seqno", "header_table_size"?, "wire", "headers":
//! [{name: value}, …]}, …], …}`. One decoder (inflate) or encoder (deflate)
//! context is used per story; a case's `header_table_size` is applied before
//! that case. Fields other than the ones rewritten are preserved.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::hpack::{Decoder, Encoder, HeaderField};

/// One case of a story.
#[derive(Debug, Serialize, Deserialize)]
struct Case {
    #[serde(skip_serializing_if = "Option::is_none")]
    seqno: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    header_table_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wire: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Vec<Map<String, Value>>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// A story as printed: cases first (fields in a fixed order), then the rest.
#[derive(Debug, Serialize)]
struct OutStory {
    cases: Vec<Case>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// A story failed; the message names the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoryError(pub String);

impl std::fmt::Display for StoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoryError {}

fn case_err(n: usize, msg: impl std::fmt::Display) -> StoryError {
    StoryError(format!("case {n}: {msg}"))
}

/// Direction of the transformation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `wire` → `headers`.
    Inflate,
    /// `headers` → `wire`.
    Deflate,
}

/// Transforms a whole story text and returns the pretty-printed result.
pub fn run_story(input: &str, mode: Mode) -> Result<String, StoryError> {
    let story: Value =
        serde_json::from_str(input).map_err(|e| StoryError(format!("invalid JSON: {e}")))?;
    let Value::Object(mut rest) = story else {
        return Err(StoryError("story is not a JSON object".into()));
    };
    let Some(Value::Array(cases)) = rest.remove("cases") else {
        return Err(StoryError("story has no \"cases\" array".into()));
    };
    let mut out_cases = Vec::with_capacity(cases.len());
    let mut decoder = Decoder::default();
    let mut encoder = Encoder::default();
    for (i, slot) in cases.into_iter().enumerate() {
        let mut case: Case = serde_json::from_value(slot)
            .map_err(|e| case_err(i, format_args!("invalid case: {e}")))?;
        let n = case
            .seqno
            .as_ref()
            .and_then(Value::as_u64)
            .map_or(i, |s| s as usize);
        match mode {
            Mode::Inflate => {
                if let Some(size) = case.header_table_size {
                    decoder.set_max_table_size(size as usize);
                }
                let wire = case
                    .wire
                    .as_deref()
                    .ok_or_else(|| case_err(n, "no \"wire\""))?;
                let block = from_hex(wire).map_err(|e| case_err(n, e))?;
                let mut headers = Vec::new();
                decoder
                    .decode(&block, |f| {
                        let mut m = Map::new();
                        m.insert(
                            String::from_utf8_lossy(f.name).into_owned(),
                            Value::String(String::from_utf8_lossy(f.value).into_owned()),
                        );
                        headers.push(m);
                    })
                    .map_err(|e| case_err(n, e))?;
                case.headers = Some(headers);
            }
            Mode::Deflate => {
                if let Some(size) = case.header_table_size {
                    encoder.set_max_table_size(size as usize);
                }
                let headers = case
                    .headers
                    .as_ref()
                    .ok_or_else(|| case_err(n, "no \"headers\""))?;
                let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(headers.len());
                for h in headers {
                    if h.len() != 1 {
                        return Err(case_err(n, "each header must be a one-entry object"));
                    }
                    for (k, v) in h {
                        let v = v.as_str().ok_or_else(|| {
                            case_err(n, format_args!("value of {k:?} is not a string"))
                        })?;
                        pairs.push((k.as_str(), v));
                    }
                }
                let mut block = Vec::new();
                encoder.encode(
                    pairs.iter().map(|(k, v)| HeaderField {
                        name: k.as_bytes(),
                        value: v.as_bytes(),
                        never_index: false,
                    }),
                    &mut block,
                );
                case.wire = Some(to_hex(&block));
            }
        }
        out_cases.push(case);
    }
    let story = OutStory {
        cases: out_cases,
        rest,
    };
    let mut s = serde_json::to_string_pretty(&story).map_err(|e| StoryError(e.to_string()))?;
    s.push('\n');
    Ok(s)
}

/// Lowercase hex of `b`.
pub fn to_hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(D[(x >> 4) as usize] as char);
        s.push(D[(x & 15) as usize] as char);
    }
    s
}

/// Decodes hex (either case, no separators).
pub fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return Err("invalid hex in \"wire\": odd length".into());
    }
    b.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16);
            let lo = (p[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(h), Some(l)) => Ok((h * 16 + l) as u8),
                _ => Err(format!(
                    "invalid hex in \"wire\": {:?}",
                    String::from_utf8_lossy(p)
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        assert_eq!(to_hex(&[0, 0xab, 0x7f]), "00ab7f");
        assert_eq!(from_hex("00AB7f").unwrap(), vec![0, 0xab, 0x7f]);
        assert!(from_hex("abc").is_err());
        assert!(from_hex("zz").is_err());
    }

    #[test]
    fn malformed_story_errors() {
        assert!(run_story("{", Mode::Inflate)
            .unwrap_err()
            .0
            .contains("invalid JSON"));
        assert!(run_story("{}", Mode::Inflate).is_err());
        let e = run_story(r#"{"cases":[{"seqno":0,"wire":"8g"}]}"#, Mode::Inflate).unwrap_err();
        assert!(e.0.starts_with("case 0: invalid hex"), "{e}");
    }
}
