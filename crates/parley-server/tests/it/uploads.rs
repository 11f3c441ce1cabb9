//! Uploads and message attachments over the real wire, each test on SQLite
//! and on PostgreSQL.

use crate::common;

use std::io::Cursor;

use common::{API_KEY, Backend, TestServer, on_both_backends, start};
use image::{ImageFormat, RgbImage};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

on_both_backends!(
    png_is_reencoded_resized_and_stripped,
    jpeg_is_reencoded_resized_and_stripped,
    gif_and_webp_become_png,
    disguised_executable_is_refused,
    oversized_upload_is_refused_with_413,
    other_files_are_served_as_attachments,
    uploads_need_a_user_token,
    attachments_in_ack_push_and_history,
    another_users_upload_cannot_be_attached,
    images_past_the_pixel_budget_are_refused_with_422,
    text_is_accepted_by_extension_and_served_as_an_attachment,
    users_list_and_delete_their_own_uploads_only,
    an_attached_upload_is_deleted_only_once_its_message_is,
    the_quota_answers_413_and_the_rate_429,
);

/// A payload hidden after the image data, which re-encoding must drop.
const HIDDEN: &[u8] = b"HIDDEN-PAYLOAD-<script>alert(1)</script>";

fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    })
}

/// A PNG with bytes appended after its end.
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    gradient(width, height)
        .write_to(&mut out, ImageFormat::Png)
        .unwrap();
    let mut bytes = out.into_inner();
    bytes.extend_from_slice(HIDDEN);
    bytes
}

/// A JPEG with a comment segment right after its start marker.
fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    gradient(width, height)
        .write_to(&mut out, ImageFormat::Jpeg)
        .unwrap();
    let encoded = out.into_inner();
    let length = u16::try_from(HIDDEN.len() + 2).unwrap().to_be_bytes();
    let mut bytes = encoded[..2].to_vec();
    bytes.extend_from_slice(&[0xFF, 0xFE, length[0], length[1]]);
    bytes.extend_from_slice(HIDDEN);
    bytes.extend_from_slice(&encoded[2..]);
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Posts `bytes` as the `file` field, named and typed as given.
async fn upload(
    server: &TestServer,
    auth: Option<&str>,
    bytes: Vec<u8>,
    name: &str,
    declared: &str,
) -> (u16, Value) {
    let part = Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(declared)
        .unwrap();
    let form = Form::new().text("note", "hello").part("file", part);
    let mut request = reqwest::Client::new()
        .post(server.url("/api/v1/uploads"))
        .multipart(form);
    if let Some(auth) = auth {
        request = request.bearer_auth(auth);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Uploads as `user` and returns the reply, which must be 201.
async fn uploaded(server: &TestServer, user: &str, bytes: Vec<u8>) -> Value {
    let (status, body) = upload(
        server,
        Some(&server.token(user)),
        bytes,
        "x.bin",
        "image/png",
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body
}

struct Served {
    status: u16,
    content_type: String,
    disposition: String,
    nosniff: bool,
    bytes: Vec<u8>,
}

async fn fetch(server: &TestServer, path: &str) -> Served {
    let response = reqwest::get(server.url(path)).await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let nosniff = header("x-content-type-options") == "nosniff";
    Served {
        status: response.status().as_u16(),
        content_type,
        disposition,
        nosniff,
        bytes: response.bytes().await.unwrap().to_vec(),
    }
}

fn decoded_size(bytes: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory(bytes).unwrap();
    (image.width(), image.height())
}

async fn png_is_reencoded_resized_and_stripped(backend: Backend) {
    let server = start(backend).await;
    let reply = uploaded(&server, "alice", png(2400, 1200)).await;
    assert_eq!(reply["content_type"], "image/png");
    assert_eq!(
        (reply["width"].as_u64(), reply["height"].as_u64()),
        (Some(2000), Some(1000))
    );
    assert_eq!(reply["owner"], "alice");
    let id = reply["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(reply["url"], format!("/api/v1/uploads/{id}"));
    assert_eq!(reply["thumbnail"]["width"], 300);
    assert_eq!(reply["thumbnail"]["height"], 150);

    let served = fetch(&server, reply["url"].as_str().unwrap()).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.content_type, "image/png");
    assert_eq!(served.disposition, "inline");
    assert!(served.nosniff);
    assert_eq!(served.bytes.len() as u64, reply["size"].as_u64().unwrap());
    assert_eq!(decoded_size(&served.bytes), (2000, 1000));
    assert!(
        !contains(&served.bytes, HIDDEN),
        "the appended payload is gone"
    );

    let thumbnail = fetch(&server, reply["thumbnail"]["url"].as_str().unwrap()).await;
    assert_eq!(thumbnail.status, 200);
    assert_eq!(thumbnail.content_type, "image/png");
    assert_eq!(decoded_size(&thumbnail.bytes), (300, 150));

    // A small image keeps its size; so does its thumbnail.
    let small = uploaded(&server, "alice", png(40, 20)).await;
    assert_eq!(
        (small["width"].as_u64(), small["height"].as_u64()),
        (Some(40), Some(20))
    );
    assert_eq!(small["thumbnail"]["width"], 40);

    assert_eq!(
        fetch(&server, "/api/v1/uploads/0123456789abcdef0123456789abcdef")
            .await
            .status,
        404
    );
    assert_eq!(
        fetch(&server, "/api/v1/uploads/..%2F..%2Fetc").await.status,
        404
    );
    server.stop().await;
}

async fn jpeg_is_reencoded_resized_and_stripped(backend: Backend) {
    let server = start(backend).await;
    let original = jpeg(1000, 3000);
    assert!(contains(&original, HIDDEN));
    // The declared type and name say PNG; the content decides.
    let reply = uploaded(&server, "alice", original).await;
    assert_eq!(reply["content_type"], "image/jpeg");
    assert_eq!(reply["height"], 2000);
    let width = reply["width"].as_u64().unwrap();
    assert!((666..=667).contains(&width), "{width}");
    let served = fetch(&server, reply["url"].as_str().unwrap()).await;
    assert_eq!(served.content_type, "image/jpeg");
    assert_eq!(decoded_size(&served.bytes), (width as u32, 2000));
    assert!(
        !contains(&served.bytes, HIDDEN),
        "the comment segment is gone"
    );
    let thumbnail = fetch(&server, reply["thumbnail"]["url"].as_str().unwrap()).await;
    let (thumb_width, thumb_height) = decoded_size(&thumbnail.bytes);
    assert_eq!(thumb_height, 300);
    assert!((99..=101).contains(&thumb_width), "{thumb_width}");
    server.stop().await;
}

async fn gif_and_webp_become_png(backend: Backend) {
    let server = start(backend).await;
    let rgba = image::DynamicImage::ImageRgb8(gradient(600, 400)).to_rgba8();
    for format in [ImageFormat::Gif, ImageFormat::WebP] {
        let mut out = Cursor::new(Vec::new());
        rgba.write_to(&mut out, format).unwrap();
        let reply = uploaded(&server, "alice", out.into_inner()).await;
        assert_eq!(reply["content_type"], "image/png", "{format:?}");
        assert_eq!(
            (reply["width"].as_u64(), reply["height"].as_u64()),
            (Some(600), Some(400))
        );
        let served = fetch(&server, reply["url"].as_str().unwrap()).await;
        assert_eq!(
            image::guess_format(&served.bytes).unwrap(),
            ImageFormat::Png
        );
        let thumbnail = fetch(&server, reply["thumbnail"]["url"].as_str().unwrap()).await;
        assert_eq!(decoded_size(&thumbnail.bytes), (300, 200));
    }
    server.stop().await;
}

async fn disguised_executable_is_refused(backend: Backend) {
    let server = start(backend).await;
    let token = server.token("mallory");
    let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0\x3e\0\x01\0\0\0".to_vec();
    elf.resize(4096, 0x90);
    let (status, body) = upload(&server, Some(&token), elf, "cat.png", "image/png").await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"]["code"], 415);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("executable"),
        "{body}"
    );

    let mut pe = b"MZ".to_vec();
    pe.resize(512, 0);
    let (status, body) = upload(&server, Some(&token), pe, "cat.jpg", "image/jpeg").await;
    assert_eq!(status, 415, "{body}");

    // A PNG signature on something that is not a PNG does not decode.
    let mut fake = b"\x89PNG\r\n\x1a\n".to_vec();
    fake.extend_from_slice(&[0x41; 200]);
    let (status, body) = upload(&server, Some(&token), fake, "cat.png", "image/png").await;
    assert_eq!(status, 415, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("decoded"),
        "{body}"
    );

    let (status, body) = upload(
        &server,
        Some(&token),
        b"plain words".to_vec(),
        "a.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 415, "{body}");
    server.stop().await;
}

async fn oversized_upload_is_refused_with_413(backend: Backend) {
    let server = TestServer::start_on(backend, |config| config.uploads.max_bytes = 100_000).await;
    let token = server.token("alice");
    let (status, body) = upload(
        &server,
        Some(&token),
        vec![0x89; 300_000],
        "big.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], 413);

    // Without a declared length the limit holds while the body streams in.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![0u8; 8192])).collect();
    let part = Part::stream(reqwest::Body::wrap_stream(futures_util::stream::iter(
        chunks,
    )))
    .file_name("big.png");
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/uploads"))
        .bearer_auth(&token)
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], 413);

    // Just under the limit is accepted.
    let reply = uploaded(&server, "alice", png(100, 100)).await;
    assert_eq!(reply["width"], 100);
    server.stop().await;
}

async fn other_files_are_served_as_attachments(backend: Backend) {
    let server = start(backend).await;
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    let reply = uploaded(&server, "alice", pdf.clone()).await;
    assert_eq!(reply["content_type"], "application/pdf");
    assert_eq!(reply["size"], pdf.len());
    assert!(reply.get("width").is_none() && reply.get("thumbnail").is_none());
    let served = fetch(&server, reply["url"].as_str().unwrap()).await;
    assert_eq!(served.content_type, "application/pdf");
    assert_eq!(served.disposition, "attachment");
    assert!(served.nosniff);
    assert_eq!(served.bytes, pdf);
    let thumbnail = fetch(
        &server,
        &format!("{}/thumbnail", reply["url"].as_str().unwrap()),
    )
    .await;
    assert_eq!(thumbnail.status, 404);

    // A type the allow-list leaves out is refused.
    let server2 = TestServer::start_on(backend, |config| {
        config.uploads.allowed_types = vec!["image/png".to_owned()]
    })
    .await;
    let (status, body) = upload(
        &server2,
        Some(&server2.token("alice")),
        pdf,
        "a.pdf",
        "application/pdf",
    )
    .await;
    assert_eq!(status, 415, "{body}");
    server.stop().await;
    server2.stop().await;
}

async fn uploads_need_a_user_token(backend: Backend) {
    let server = start(backend).await;
    let (status, _) = upload(&server, None, png(10, 10), "a.png", "image/png").await;
    assert_eq!(status, 401);
    let (status, body) = upload(&server, Some(API_KEY), png(10, 10), "a.png", "image/png").await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = upload(
        &server,
        Some("not-a-token"),
        png(10, 10),
        "a.png",
        "image/png",
    )
    .await;
    assert_eq!(status, 401);
    // A form without a file field.
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/uploads"))
        .bearer_auth(server.token("alice"))
        .multipart(Form::new().text("note", "no file"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    server.stop().await;
}

async fn attachments_in_ack_push_and_history(backend: Backend) {
    let server = start(backend).await;
    let picture = uploaded(&server, "alice", png(800, 600)).await;
    let pdf = uploaded(&server, "alice", b"%PDF-1.4\n%%EOF\n".to_vec()).await;
    let mut reader = server.user("reader").await;
    reader
        .ok("subscribe", json!({"channel": "talk:room"}))
        .await;
    let mut alice = server.user("alice").await;
    let ack = alice
        .ok(
            "message_send",
            json!({"channel": "talk:room", "text": "look", "attachments": [picture["id"], pdf["id"]]}),
        )
        .await;
    let attachments = ack["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0], picture);
    assert_eq!(attachments[1], pdf);
    let push = reader.push().await;
    assert_eq!(push["push"], "message_created");
    assert_eq!(push["data"]["attachments"], ack["attachments"]);

    // An image alone, without text.
    let only = alice
        .ok(
            "message_send",
            json!({"channel": "talk:room", "attachments": [picture["id"]]}),
        )
        .await;
    assert_eq!(only["text"], "");
    assert_eq!(only["attachments"][0]["id"], picture["id"]);
    assert_eq!(
        alice
            .error_code("message_send", json!({"channel": "talk:room", "text": ""}))
            .await,
        400
    );

    let page = reader
        .ok(
            "messages",
            json!({"channel": "talk:room", "order": "oldest_first"}),
        )
        .await;
    assert_eq!(page["messages"][0]["attachments"], ack["attachments"]);
    assert_eq!(page["messages"][1]["attachments"][0]["width"], 800);
    let history = reader.ok("history", json!({"channel": "talk:room"})).await;
    assert_eq!(
        history["publications"][0]["data"]["attachments"],
        ack["attachments"]
    );

    // Over HTTP with the user's token, and in the HTTP messages read.
    let (status, sent) = common::api_call(
        &server.url("/api/v1/channels/talk:room/messages"),
        reqwest::Method::POST,
        Some(&server.token("alice")),
        Some(json!({"text": "again", "attachments": [pdf["id"]]})),
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["attachments"][0], pdf);
    let (_, listed) = server
        .api(
            reqwest::Method::GET,
            "/api/v1/channels/talk:room/messages",
            None,
        )
        .await;
    assert_eq!(listed["messages"][0]["attachments"][0], pdf);

    // Editing keeps the attachments; deleting drops them with the text.
    let id = ack["id"].as_str().unwrap();
    let edited = alice
        .ok("message_edit", json!({"id": id, "text": "look!"}))
        .await;
    assert_eq!(edited["attachments"], ack["attachments"]);
    let deleted = alice.ok("message_delete", json!({"id": id})).await;
    assert!(deleted.get("attachments").is_none(), "{deleted}");
    server.stop().await;
}

async fn another_users_upload_cannot_be_attached(backend: Backend) {
    let server = start(backend).await;
    let alices = uploaded(&server, "alice", png(20, 20)).await;
    let mut bob = server.user("bob").await;
    let reply = bob
        .call(
            "message_send",
            json!({"channel": "talk:room", "text": "mine now", "attachments": [alices["id"]]}),
        )
        .await;
    assert_eq!(reply["error"]["code"], 403, "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .unwrap()
            .contains("uploader"),
        "{reply}"
    );
    let (status, body) = common::api_call(
        &server.url("/api/v1/channels/talk:room/messages"),
        reqwest::Method::POST,
        Some(&server.token("bob")),
        Some(json!({"text": "mine now", "attachments": [alices["id"]]})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Nothing was stored.
    let page = bob.ok("messages", json!({"channel": "talk:room"})).await;
    assert_eq!(page["messages"], json!([]));

    let unknown = "0123456789abcdef0123456789abcdef";
    assert_eq!(
        bob.error_code(
            "message_send",
            json!({"channel": "talk:room", "text": "x", "attachments": [unknown]})
        )
        .await,
        404
    );
    assert_eq!(
        bob.error_code(
            "message_send",
            json!({"channel": "talk:room", "text": "x", "attachments": ["../x"]})
        )
        .await,
        400
    );
    let own = uploaded(&server, "bob", png(20, 20)).await;
    let eleven = vec![own["id"].clone(); 11];
    assert_eq!(
        bob.error_code(
            "message_send",
            json!({"channel": "talk:room", "text": "x", "attachments": eleven})
        )
        .await,
        400
    );
    assert_eq!(
        bob.error_code(
            "message_send",
            json!({"channel": "talk:room", "text": "x", "attachments": [own["id"], own["id"]]})
        )
        .await,
        400
    );
    // An upload of another app is not found in this one.
    let other_token = common::token_with(common::OTHER_SECRET, "bob", |_| {});
    let response = reqwest::Client::new()
        .post(server.url("/api/v1/uploads?app=other"))
        .bearer_auth(other_token)
        .multipart(Form::new().part("file", Part::bytes(png(10, 10)).file_name("a.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let foreign: Value = response.json().await.unwrap();
    assert_eq!(
        bob.error_code(
            "message_send",
            json!({"channel": "talk:room", "text": "x", "attachments": [foreign["id"]]})
        )
        .await,
        404
    );
    server.stop().await;
}

/// A PNG of `width`×`height` grey pixels, all black, that is small on the
/// wire: its zlib stream is one fixed-Huffman block of a literal zero and
/// then copies of 258 bytes at distance 1 (13 bits each). It is built by
/// hand so the test itself never holds the pixels it declares.
fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    let raw = u64::from(height) * (1 + u64::from(width));
    let mut bits = BitWriter::default();
    bits.push(1, 1); // BFINAL
    bits.push(1, 2); // BTYPE 01: fixed Huffman codes
    // Literal 0 is code 0b0011_0000 (8 bits), written from its top bit.
    bits.push_code(0b0011_0000, 8);
    let copies = (raw - 1) / 258;
    let tail = (raw - 1) % 258;
    for _ in 0..copies {
        // Length 258 is symbol 285: 0b1100_0101 (8 bits), no extra bits;
        // distance 1 is distance code 0 (5 bits), no extra bits.
        bits.push_code(0b1100_0101, 8);
        bits.push_code(0, 5);
    }
    for _ in 0..tail {
        bits.push_code(0b0011_0000, 8);
    }
    bits.push_code(0, 7); // end of block, symbol 256
    let mut zlib = vec![0x78, 0x01];
    zlib.extend_from_slice(&bits.finish());
    // Adler-32 of `raw` zero bytes: a stays 1 and b adds it each byte.
    let adler = (((raw % 65_521) as u32) << 16) | 1;
    zlib.extend_from_slice(&adler.to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit grey, no interlace
    png_chunk(&mut png, b"IHDR", &header);
    png_chunk(&mut png, b"IDAT", &zlib);
    png_chunk(&mut png, b"IEND", &[]);
    png
}

fn png_chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let table: Vec<u32> = (0..256u32)
        .map(|n| {
            (0..8).fold(n, |c, _| {
                if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                }
            })
        })
        .collect();
    !bytes.iter().fold(!0u32, |crc, &byte| {
        table[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8)
    })
}

/// Deflate's bit order: values from their lowest bit, Huffman codes from
/// their highest.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    current: u8,
    used: u8,
}

impl BitWriter {
    fn push(&mut self, value: u32, count: u8) {
        for bit in 0..count {
            self.bit((value >> bit) & 1);
        }
    }

    fn push_code(&mut self, code: u32, count: u8) {
        for bit in (0..count).rev() {
            self.bit((code >> bit) & 1);
        }
    }

    fn bit(&mut self, bit: u32) {
        self.current |= (bit as u8) << self.used;
        self.used += 1;
        if self.used == 8 {
            self.bytes.push(self.current);
            (self.current, self.used) = (0, 0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        if self.used > 0 {
            self.bytes.push(self.current);
        }
        self.bytes
    }
}

/// The resident memory of this process, which runs the server, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Issue 13: a PNG of under a megabyte declaring 12000×12000 pixels was
/// accepted and took the server past 500 MiB while it decoded. Its declared
/// size is now checked against `uploads.max_source_pixels` before any pixel
/// is decoded. The resident memory is sampled while the upload is in flight
/// (freed buffers of that size go back to the system, so a reading after
/// it would not show the peak).
async fn images_past_the_pixel_budget_are_refused_with_422(backend: Backend) {
    let server = start(backend).await;
    let token = server.token("alice");
    let bomb = bomb_png(12_000, 12_000);
    assert!(bomb.len() < 2 * 1024 * 1024, "{} bytes", bomb.len());
    let before = rss_kib();
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = tokio::spawn({
        let sampling = sampling.clone();
        async move {
            let mut peak = 0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib());
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            peak
        }
    });
    let (status, body) = upload(&server, Some(&token), bomb, "bomb.png", "image/png").await;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.unwrap();
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], 422);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("uploads.max_source_pixels"), "{message}");
    let grown_mib = peak.saturating_sub(before) / 1024;
    assert!(grown_mib < 100, "the server grew by {grown_mib} MiB");
    // A normal image still passes.
    let reply = uploaded(&server, "alice", png(300, 200)).await;
    assert_eq!(reply["width"], 300);
    server.stop().await;

    // The budget and the longest side are options of `[uploads]`.
    let server = TestServer::start_on(backend, |config| {
        config.uploads.max_source_pixels = 20_000;
        config.uploads.max_source_side = 250;
    })
    .await;
    let token = server.token("alice");
    for (width, height, limit) in [
        (200, 101, "max_source_pixels"),
        (251, 10, "max_source_side"),
    ] {
        let (status, body) = upload(
            &server,
            Some(&token),
            png(width, height),
            "x.png",
            "image/png",
        )
        .await;
        assert_eq!(status, 422, "{width}×{height}: {body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(limit), "{message}");
    }
    let reply = uploaded(&server, "alice", png(200, 100)).await;
    assert_eq!(reply["width"], 200);
    server.stop().await;
}

/// Posts `bytes` named `name` as `user` and returns status and body.
async fn upload_named(server: &TestServer, user: &str, bytes: &[u8], name: &str) -> (u16, Value) {
    upload(
        server,
        Some(&server.token(user)),
        bytes.to_vec(),
        name,
        "application/octet-stream",
    )
    .await
}

/// Calls `/api/v1/uploads...` with `user`'s token.
async fn as_user(
    server: &TestServer,
    user: &str,
    method: reqwest::Method,
    path: &str,
) -> (u16, Value) {
    common::api_call(&server.url(path), method, Some(&server.token(user)), None).await
}

async fn text_is_accepted_by_extension_and_served_as_an_attachment(backend: Backend) {
    let server = start(backend).await;
    let markdown = "# Notes\n\n- café *au lait*\r\n\t| a | b |\n".as_bytes();
    let cases = [
        ("notes.md", markdown, "text/markdown"),
        ("table.CSV", b"a,b\n1,2\n".as_slice(), "text/csv"),
        ("readme.txt", b"just some words".as_slice(), "text/plain"),
    ];
    for (name, bytes, content_type) in cases {
        let (status, reply) = upload_named(&server, "alice", bytes, name).await;
        assert_eq!(status, 201, "{name}: {reply}");
        assert_eq!(reply["content_type"], content_type);
        assert_eq!(reply["size"], bytes.len());
        let served = fetch(&server, reply["url"].as_str().unwrap()).await;
        assert_eq!(served.status, 200);
        assert_eq!(
            served.content_type,
            format!("{content_type}; charset=utf-8")
        );
        assert_eq!(served.disposition, "attachment");
        assert!(served.nosniff);
        assert_eq!(served.bytes, bytes);
    }

    // A binary named as text is refused, whatever it really is.
    let (status, body) = upload_named(&server, "alice", &png(10, 10), "image.md").await;
    assert_eq!(status, 415, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not UTF-8 text"),
        "{body}"
    );
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(256, 0);
    let (status, _) = upload_named(&server, "alice", &elf, "run.txt").await;
    assert_eq!(status, 415);
    let (status, _) = upload_named(&server, "alice", b"nul \0 inside", "a.csv").await;
    assert_eq!(status, 415);
    // Text without a text extension has no type.
    let (status, _) = upload_named(&server, "alice", b"# Notes", "notes.bin").await;
    assert_eq!(status, 415);

    // Left out of the allow-list, text is refused.
    let strict = TestServer::start_on(backend, |config| {
        config.uploads.allowed_types = vec!["image/png".to_owned()]
    })
    .await;
    let (status, body) = upload_named(&strict, "alice", markdown, "notes.md").await;
    assert_eq!(status, 415, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("text/markdown"),
        "{body}"
    );
    server.stop().await;
    strict.stop().await;
}

async fn users_list_and_delete_their_own_uploads_only(backend: Backend) {
    let server = start(backend).await;
    let mut ids = Vec::new();
    for index in 0..3 {
        let (status, reply) = upload_named(
            &server,
            "alice",
            format!("note {index}").as_bytes(),
            "n.txt",
        )
        .await;
        assert_eq!(status, 201, "{reply}");
        ids.push(reply["id"].as_str().unwrap().to_owned());
    }
    let (_, bobs) = upload_named(&server, "bob", b"bob's", "b.txt").await;
    let bobs = bobs["id"].as_str().unwrap().to_owned();

    // Newest first, two per page, then the last one.
    let (status, first) = as_user(
        &server,
        "alice",
        reqwest::Method::GET,
        "/api/v1/uploads?limit=2",
    )
    .await;
    assert_eq!(status, 200, "{first}");
    let listed = |page: &Value| -> Vec<String> {
        page["uploads"]
            .as_array()
            .unwrap()
            .iter()
            .map(|upload| upload["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(listed(&first), [ids[2].clone(), ids[1].clone()]);
    assert_eq!(first["uploads"][0]["owner"], "alice");
    let next = first["next"].as_str().unwrap();
    let (_, second) = as_user(
        &server,
        "alice",
        reqwest::Method::GET,
        &format!("/api/v1/uploads?limit=2&cursor={next}"),
    )
    .await;
    assert_eq!(listed(&second), [ids[0].clone()]);
    assert!(second.get("next").is_none(), "{second}");
    let (_, of_bob) = as_user(&server, "bob", reqwest::Method::GET, "/api/v1/uploads").await;
    assert_eq!(listed(&of_bob), [bobs.as_str()]);
    let (status, body) = as_user(
        &server,
        "alice",
        reqwest::Method::GET,
        "/api/v1/uploads?cursor=x",
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = server
        .api(reqwest::Method::GET, "/api/v1/uploads", None)
        .await;
    assert_eq!(status, 403);

    // Bob cannot delete Alice's upload; she can, and it is gone.
    let path = format!("/api/v1/uploads/{}", ids[1]);
    let (status, body) = as_user(&server, "bob", reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], 403);
    assert_eq!(fetch(&server, &path).await.status, 200);
    let (status, _) = as_user(&server, "alice", reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 204);
    assert_eq!(fetch(&server, &path).await.status, 404);
    let (status, body) = as_user(&server, "alice", reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 404, "{body}");
    let (_, left) = as_user(&server, "alice", reqwest::Method::GET, "/api/v1/uploads").await;
    assert_eq!(listed(&left), [ids[2].clone(), ids[0].clone()]);
    let (status, _) = server
        .api(
            reqwest::Method::DELETE,
            &format!("/api/v1/uploads/{bobs}"),
            None,
        )
        .await;
    assert_eq!(status, 403);
    server.stop().await;
}

async fn an_attached_upload_is_deleted_only_once_its_message_is(backend: Backend) {
    let server = start(backend).await;
    let (_, note) = upload_named(&server, "alice", b"attached", "a.md").await;
    let path = format!("/api/v1/uploads/{}", note["id"].as_str().unwrap());
    let mut alice = server.user("alice").await;
    let sent = alice
        .ok(
            "message_send",
            json!({"channel": "talk:room", "text": "see", "attachments": [note["id"]]}),
        )
        .await;
    let (status, body) = as_user(&server, "alice", reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], 409);
    assert_eq!(fetch(&server, &path).await.status, 200);
    alice.ok("message_delete", json!({"id": sent["id"]})).await;
    let (status, _) = as_user(&server, "alice", reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 204);
    assert_eq!(fetch(&server, &path).await.status, 404);
    server.stop().await;
}

async fn the_quota_answers_413_and_the_rate_429(backend: Backend) {
    let server =
        TestServer::start_on(backend, |config| config.uploads.quota_bytes = Some(100)).await;
    let (status, first) = upload_named(&server, "alice", &[b'a'; 60], "a.txt").await;
    assert_eq!(status, 201, "{first}");
    let (status, body) = upload_named(&server, "alice", &[b'b'; 60], "b.txt").await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], 413);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("quota of 100 bytes"), "{body}");
    // The quota is per user, and deleting frees it.
    let (status, _) = upload_named(&server, "bob", &[b'b'; 60], "b.txt").await;
    assert_eq!(status, 201);
    let path = format!("/api/v1/uploads/{}", first["id"].as_str().unwrap());
    let (status, _) = as_user(&server, "alice", reqwest::Method::DELETE, &path).await;
    assert_eq!(status, 204);
    let (status, _) = upload_named(&server, "alice", &[b'b'; 60], "b.txt").await;
    assert_eq!(status, 201);
    server.stop().await;

    let server = TestServer::start_on(backend, |config| {
        config.uploads.rate = Some("2/min".parse().unwrap())
    })
    .await;
    for _ in 0..2 {
        let (status, _) = upload_named(&server, "alice", b"x", "x.txt").await;
        assert_eq!(status, 201);
    }
    let (status, body) = upload_named(&server, "alice", b"x", "x.txt").await;
    assert_eq!(status, 429, "{body}");
    assert!(
        body["error"]["retry_after_ms"].as_u64().unwrap() > 0,
        "{body}"
    );
    let (status, _) = upload_named(&server, "bob", b"x", "x.txt").await;
    assert_eq!(status, 201);
    server.stop().await;
}
