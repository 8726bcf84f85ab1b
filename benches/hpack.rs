//! HPACK throughput: h2o against `h2`, `httlib-hpack` and `fluke-hpack` over the
//! hpack-test-case corpus (`tests/data/hpack-test-case/raw-data`, in the repo).
//!
//! * `decode/<impl>/hpack-block-bytes`: throughput in header-block bytes. Every
//!   implementation decodes the SAME blocks: the header lists encoded once, in
//!   setup, by `httlib-hpack` (Huffman names and values, incremental indexing,
//!   best representation), a neutral third-party encoder. `h2` exposes no HPACK
//!   decoder, even with `unstable`, so it decodes the blocks wrapped in HEADERS
//!   frames through its `Codec`: that adds frame parsing and building
//!   `HeaderMap`/`Pseudo` (with name/value validation) to its work.
//! * `encode/<impl>/raw-name-value-bytes`: throughput in raw name + value bytes
//!   of the header lists. `h2` encodes HEADERS frames (prebuilt `Pseudo` +
//!   `HeaderMap`, built in setup) through its `Codec`; `fluke-hpack` never uses
//!   Huffman, so it does less work and produces larger blocks.
//!
//! One iteration processes all 32 stories; each story gets a fresh decoder or
//! encoder context, like one connection, so dynamic tables are exercised.
//! Connection-specific fields (connection, keep-alive, transfer-encoding, …),
//! which the HTTP/1.1-derived corpus contains and which `h2` would reject as
//! malformed, are dropped from the lists before anything else, and pseudo-headers
//! are moved to the front of each list (stable order otherwise).
//!
//! Run: `cargo bench --bench hpack -- --warm-up-time 1 --measurement-time 3`.

use std::borrow::Cow;
use std::hint::black_box;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Header list of one block: (name, value) pairs in order.
type List = Vec<(Vec<u8>, Vec<u8>)>;

struct Story {
    lists: Vec<List>,
}

const DROPPED: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

fn load_corpus() -> Vec<Story> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/hpack-test-case/raw-data");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no stories in {}", dir.display());
    paths
        .iter()
        .map(|p| {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let lists = v["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|case| {
                    let mut list = List::new();
                    for h in case["headers"].as_array().unwrap() {
                        for (n, v) in h.as_object().unwrap() {
                            if DROPPED.contains(&n.as_str()) {
                                continue;
                            }
                            list.push((
                                n.as_bytes().to_vec(),
                                v.as_str().unwrap().as_bytes().to_vec(),
                            ));
                        }
                    }
                    // One story (story_31) mixes `:status` into regular fields;
                    // HTTP/2 wants pseudo-headers first (h2 would reject it).
                    list.sort_by_key(|(n, _)| n[0] != b':');
                    list
                })
                .collect();
            Story { lists }
        })
        .collect()
}

fn raw_bytes(stories: &[Story]) -> u64 {
    stories
        .iter()
        .flat_map(|s| &s.lists)
        .flatten()
        .map(|(n, v)| (n.len() + v.len()) as u64)
        .sum()
}

// ---------- h2 plumbing: an in-memory transport for its Codec ----------

#[derive(Default)]
struct MockIo {
    input: Bytes,
    pos: usize,
    written: usize,
}

impl AsyncRead for MockIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.input.len() - self.pos);
        let start = self.pos;
        buf.put_slice(&self.input[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MockIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        black_box(buf);
        self.written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// HEADERS frames (END_HEADERS, streams 1, 3, 5, …) carrying `blocks`.
fn headers_frames(blocks: &[Vec<u8>]) -> Bytes {
    let mut wire = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let len = b.len() as u32;
        assert!(len < 1 << 24);
        wire.extend_from_slice(&len.to_be_bytes()[1..]);
        wire.push(0x1); // HEADERS
        wire.push(0x4); // END_HEADERS
        wire.extend_from_slice(&(2 * i as u32 + 1).to_be_bytes());
        wire.extend_from_slice(b);
    }
    wire.into()
}

fn h2_codec(input: Bytes) -> h2::Codec<MockIo, Bytes> {
    let mut codec = h2::Codec::with_max_recv_frame_size(
        MockIo {
            input,
            ..MockIo::default()
        },
        (1 << 24) - 1,
    );
    codec.set_max_recv_header_list_size(1 << 30);
    codec
}

fn pseudo_count(p: &h2::frame::Pseudo) -> usize {
    usize::from(p.method.is_some())
        + usize::from(p.scheme.is_some())
        + usize::from(p.authority.is_some())
        + usize::from(p.path.is_some())
        + usize::from(p.protocol.is_some())
        + usize::from(p.status.is_some())
}

/// Decodes all HEADERS frames of `wire`; returns the field count of each block.
fn h2_decode(wire: Bytes, mut per_block: impl FnMut(usize)) {
    let mut codec = h2_codec(wire);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        match Pin::new(&mut codec).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(h2::frame::Frame::Headers(h)))) => {
                let (pseudo, fields) = h.into_parts();
                per_block(pseudo_count(&pseudo) + fields.len());
                black_box((pseudo, fields));
            }
            Poll::Ready(Some(other)) => panic!("h2 codec: unexpected {other:?}"),
            Poll::Ready(None) => break,
            Poll::Pending => panic!("h2 codec pending on in-memory input"),
        }
    }
}

/// A HEADERS frame for `list` as h2 wants it: pseudo-headers + `HeaderMap`.
fn h2_frame(list: &List, stream_id: u32) -> h2::frame::Headers {
    let get = |name: &str| {
        list.iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| std::str::from_utf8(v).unwrap())
    };
    let pseudo = if let Some(status) = get(":status") {
        h2::frame::Pseudo::response(status.parse().unwrap())
    } else {
        let uri = format!(
            "{}://{}{}",
            get(":scheme").unwrap(),
            get(":authority").unwrap(),
            get(":path").unwrap()
        );
        h2::frame::Pseudo::request(
            get(":method").unwrap().parse().unwrap(),
            uri.parse().unwrap(),
            None,
        )
    };
    let mut fields = http::HeaderMap::new();
    for (n, v) in list.iter().filter(|(n, _)| n[0] != b':') {
        fields.append(
            http::HeaderName::from_bytes(n).unwrap(),
            http::HeaderValue::from_bytes(v).unwrap(),
        );
    }
    h2::frame::Headers::new(stream_id.into(), pseudo, fields)
}

// ---------- benches ----------

const HTTLIB_FLAGS: u8 = 0x1 | 0x2 | 0x4 | 0x10;

fn httlib_encode_story(story: &Story) -> Vec<Vec<u8>> {
    let mut enc = httlib_hpack::Encoder::default();
    story
        .lists
        .iter()
        .map(|list| {
            let mut out = Vec::new();
            for (n, v) in list {
                enc.encode((n.clone(), v.clone(), HTTLIB_FLAGS), &mut out)
                    .unwrap();
            }
            out
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let stories = load_corpus();
    // The same blocks for everybody.
    let blocks: Vec<Vec<Vec<u8>>> = stories.iter().map(httlib_encode_story).collect();
    let wires: Vec<Bytes> = blocks.iter().map(|b| headers_frames(b)).collect();
    let block_bytes: u64 = blocks.iter().flatten().map(|b| b.len() as u64).sum();

    // Setup check: every decoder yields the original lists (h2: the counts).
    for (si, story) in stories.iter().enumerate() {
        let mut ours = h2o::hpack::Decoder::new(4096);
        let mut fluke = fluke_hpack::Decoder::new();
        let mut httlib = httlib_hpack::Decoder::default();
        for (bi, (list, block)) in story.lists.iter().zip(&blocks[si]).enumerate() {
            let mut got = List::new();
            ours.decode(block, |f| got.push((f.name.to_vec(), f.value.to_vec())))
                .unwrap_or_else(|e| panic!("ours: story {si} block {bi}: {e}"));
            assert_eq!(&got, list, "ours: story {si} block {bi}");
            let mut got = List::new();
            fluke
                .decode_with_cb(block, |n, v| got.push((n.into_owned(), v.into_owned())))
                .unwrap();
            assert_eq!(&got, list, "fluke: story {si} block {bi}");
            let mut dst = Vec::new();
            httlib.decode(&mut block.clone(), &mut dst).unwrap();
            let got: List = dst.into_iter().map(|(n, v, _)| (n, v)).collect();
            assert_eq!(&got, list, "httlib: story {si} block {bi}");
        }
        let mut counts = Vec::new();
        h2_decode(wires[si].clone(), |n| counts.push(n));
        let want: Vec<usize> = story.lists.iter().map(Vec::len).collect();
        assert_eq!(counts, want, "h2: story {si}");
    }

    let mut g = c.benchmark_group("decode");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Bytes(block_bytes));

    g.bench_function("ours/hpack-block-bytes", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for story in &blocks {
                let mut dec = h2o::hpack::Decoder::new(4096);
                for block in story {
                    dec.decode(block, |f| {
                        black_box(f);
                        n += 1;
                    })
                    .unwrap();
                }
            }
            n
        })
    });
    // Not a peer: ours plus building `http::HeaderMap`s, roughly the extra work
    // h2's codec path does (h2 also parses frame headers and validates pseudo
    // values), to tell HPACK cost from `http` conversion cost.
    g.bench_function("ours+headermap/hpack-block-bytes", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for story in &blocks {
                let mut dec = h2o::hpack::Decoder::new(4096);
                for block in story {
                    let mut map = http::HeaderMap::new();
                    dec.decode(block, |f| {
                        n += 1;
                        if f.name.first() == Some(&b':') {
                            black_box(http::HeaderValue::from_bytes(f.value).unwrap());
                        } else {
                            map.append(
                                http::HeaderName::from_bytes(f.name).unwrap(),
                                http::HeaderValue::from_bytes(f.value).unwrap(),
                            );
                        }
                    })
                    .unwrap();
                    black_box(map);
                }
            }
            n
        })
    });
    g.bench_function("h2/hpack-block-bytes", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for wire in &wires {
                h2_decode(wire.clone(), |k| n += k);
            }
            n
        })
    });
    g.bench_function("httlib/hpack-block-bytes", |b| {
        // httlib consumes its input Vec: the copies are made in (untimed) setup.
        b.iter_batched(
            || blocks.clone(),
            |mut blocks| {
                let mut n = 0usize;
                let mut dst = Vec::new();
                for story in &mut blocks {
                    let mut dec = httlib_hpack::Decoder::default();
                    for block in story {
                        dst.clear();
                        dec.decode(block, &mut dst).unwrap();
                        n += dst.len();
                        black_box(&dst);
                    }
                }
                n
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("fluke/hpack-block-bytes", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for story in &blocks {
                let mut dec = fluke_hpack::Decoder::new();
                for block in story {
                    dec.decode_with_cb(block, |name: Cow<[u8]>, value: Cow<[u8]>| {
                        black_box((name, value));
                        n += 1;
                    })
                    .unwrap();
                }
            }
            n
        })
    });
    g.finish();
}

fn encode(c: &mut Criterion) {
    let stories = load_corpus();
    let raw = raw_bytes(&stories);

    // Setup check: our blocks decode back to the lists (with fluke's decoder).
    for (si, story) in stories.iter().enumerate() {
        let mut enc = h2o::hpack::Encoder::new(4096);
        let mut dec = fluke_hpack::Decoder::new();
        for (bi, list) in story.lists.iter().enumerate() {
            let mut out = Vec::new();
            enc.encode(
                list.iter().map(|(n, v)| h2o::hpack::HeaderField {
                    name: n,
                    value: v,
                    never_index: false,
                }),
                &mut out,
            );
            let mut got = List::new();
            dec.decode_with_cb(&out, |n, v| got.push((n.into_owned(), v.into_owned())))
                .unwrap();
            assert_eq!(&got, list, "ours encode: story {si} block {bi}");
        }
    }

    let mut g = c.benchmark_group("encode");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .throughput(Throughput::Bytes(raw));

    g.bench_function("ours/raw-name-value-bytes", |b| {
        let mut out = Vec::with_capacity(1 << 16);
        b.iter(|| {
            let mut n = 0usize;
            for story in &stories {
                let mut enc = h2o::hpack::Encoder::new(4096);
                for list in &story.lists {
                    out.clear();
                    enc.encode(
                        list.iter().map(|(n, v)| h2o::hpack::HeaderField {
                            name: n,
                            value: v,
                            never_index: false,
                        }),
                        &mut out,
                    );
                    n += black_box(&out).len();
                }
            }
            n
        })
    });
    g.bench_function("h2/raw-name-value-bytes", |b| {
        b.iter_batched(
            || {
                stories
                    .iter()
                    .map(|s| {
                        (s.lists.iter().enumerate())
                            .map(|(i, l)| h2_frame(l, 2 * i as u32 + 1))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            },
            |frames| {
                let mut cx = Context::from_waker(Waker::noop());
                let mut n = 0usize;
                for story in frames {
                    let mut codec: h2::Codec<MockIo, Bytes> = h2::Codec::new(MockIo::default());
                    for f in story {
                        assert!(codec.poll_ready(&mut cx).is_ready());
                        codec.buffer(f.into()).unwrap();
                    }
                    assert!(codec.flush(&mut cx).is_ready());
                    n += codec.get_ref().written;
                }
                n
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("httlib/raw-name-value-bytes", |b| {
        // httlib takes owned Vecs: the copies are made in (untimed) setup.
        b.iter_batched(
            || {
                (stories.iter())
                    .map(|s| {
                        (s.lists.iter())
                            .map(|l| {
                                (l.iter())
                                    .map(|(n, v)| (n.clone(), v.clone(), HTTLIB_FLAGS))
                                    .collect::<Vec<_>>()
                            })
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            },
            |stories| {
                let mut out = Vec::with_capacity(1 << 16);
                let mut n = 0usize;
                for story in stories {
                    let mut enc = httlib_hpack::Encoder::default();
                    for list in story {
                        out.clear();
                        for f in list {
                            enc.encode(f, &mut out).unwrap();
                        }
                        n += black_box(&out).len();
                    }
                }
                n
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("fluke/raw-name-value-bytes", |b| {
        let mut out = Vec::with_capacity(1 << 16);
        b.iter(|| {
            let mut n = 0usize;
            for story in &stories {
                let mut enc = fluke_hpack::Encoder::new();
                for list in &story.lists {
                    out.clear();
                    enc.encode_into(list.iter().map(|(n, v)| (&n[..], &v[..])), &mut out)
                        .unwrap();
                    n += black_box(&out).len();
                }
            }
            n
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
