//! The upload route's multipart bodies: any boundary, parts with any
//! headers and bytes, and images whose headers are anything, get no 5xx
//! and every 4xx is the API's JSON error.

use std::io::Cursor;
use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::http::{HeaderValue, Request, header};
use image::{ImageFormat, RgbImage};

use super::common::{SECRET, token_with};
use super::in_process::InProcess;
use super::seeds::Seeds;
use super::{Runs, TEST_TIME};

/// The boundary of bodies whose first line names none.
const BOUNDARY: &str = "fuzz";

/// How many leading bytes of an image the image case may change: the
/// headers (sizes, color types, chunk lengths) that decoders trust.
const IMAGE_HEADER: usize = 64;

#[test]
fn multipart() {
    // A panic fails the test, and nothing looks at the server after one.
    let server = AssertUnwindSafe(InProcess::start());
    let token = token_with(SECRET, "fuzzer", |_| {});
    let images = images();
    let seeds = Seeds::load(
        "multipart",
        &[
            b"\r\n",
            b"\r\n\r\n",
            b"--fuzz\r\n",
            b"--fuzz--\r\n",
            b"Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n",
            b"Content-Disposition: form-data; name=\"other\"\r\n",
            b"Content-Type: image/png\r\n",
            b"Content-Type: application/pdf\r\n",
            b"\x89PNG\r\n\x1a\n",
            b"\xff\xd8\xff",
            b"GIF89a",
            b"RIFF\x00\x00\x00\x00WEBPVP8L",
            b"%PDF-1.4\n",
        ],
    );
    let runs = Runs::new("multipart");
    bolero::check!(name = "multipart")
        .with_test_time(TEST_TIME)
        .for_each(|input: &[u8]| {
            runs.count();
            upload(&server, &token, input);
            upload(&server, &token, &seeds.mutate(input));
            upload(&server, &token, &image_body(&images, input));
        });
}

/// Posts `body`; a body whose first line is `--<boundary>` declares that
/// boundary, as the corpus files do; any other is sent with [`BOUNDARY`].
fn upload(server: &InProcess, token: &str, body: &[u8]) {
    let boundary = body
        .strip_prefix(b"--")
        .and_then(|rest| rest.split(|&byte| byte == b'\r' || byte == b'\n').next())
        .filter(|boundary| !boundary.is_empty())
        .unwrap_or(BOUNDARY.as_bytes());
    let mut content_type = b"multipart/form-data; boundary=".to_vec();
    content_type.extend_from_slice(boundary);
    // A header that cannot be sent never reaches the router.
    let Ok(content_type) = HeaderValue::from_bytes(&content_type) else {
        return;
    };
    let request = Request::builder()
        .method("POST")
        .uri("/api/v1/uploads")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_vec()))
        .expect("a valid request");
    let answer = server.call(request);
    answer.assert_clear(&format!("upload {:?}", String::from_utf8_lossy(body)));
}

/// A small image in each format the server decodes.
fn images() -> Vec<Vec<u8>> {
    let image = RgbImage::from_fn(8, 8, |x, y| image::Rgb([x as u8 * 30, y as u8 * 30, 128]));
    [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Gif,
        ImageFormat::WebP,
    ]
    .into_iter()
    .map(|format| {
        let mut out = Cursor::new(Vec::new());
        image
            .write_to(&mut out, format)
            .expect("an 8x8 image encodes");
        out.into_inner()
    })
    .collect()
}

/// An upload of one of `images` whose first bytes `input` overwrites: its
/// first byte picks the image, then each two bytes are a place and a value.
fn image_body(images: &[Vec<u8>], input: &[u8]) -> Vec<u8> {
    let pick = usize::from(input.first().copied().unwrap_or(0));
    let mut image = images[pick % images.len()].clone();
    let header = image.len().min(IMAGE_HEADER);
    for edit in input.get(1..).unwrap_or_default().chunks(2) {
        if let [at, value] = edit {
            image[usize::from(*at) % header] = *value;
        }
    }
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"image\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&image);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    body
}
