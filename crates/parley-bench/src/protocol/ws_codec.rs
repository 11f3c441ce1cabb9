//! The frame codec of the lean client WebSocket ([`super::ws`]): received
//! bytes parsed in place into frames (server frames are unmasked; several
//! frames per read, frames split across reads, fragmented messages
//! reassembled), and masked client frames encoded for sending, with no
//! socket of its own.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The capacity of a connection's receive buffer. Bytes are read into its
/// free part without zero-filling it, and the buffer starts over whenever
/// every byte in it was parsed, so a connection only ever touches the
/// pages its largest read needed.
pub const READ_BUFFER: usize = 64 * 1024;
/// The least free space a read is offered: below it, the unparsed bytes
/// move to the front of the buffer first.
const MIN_READ: usize = 4 * 1024;
/// The largest frame (or reassembled message) accepted.
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// The close code reported when a close frame carries none.
pub const NO_STATUS: u16 = 1005;

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

/// A received message, borrowed from the connection's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A text message (not checked for UTF-8).
    Text(&'a [u8]),
    /// A binary message.
    Binary(&'a [u8]),
    /// The server closed with this code ([`NO_STATUS`] when it gave none).
    Close(u16),
}

/// A received message, owned: for the handshake and other cold paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
    /// The server closed with this code.
    Close(u16),
}

/// Where a parsed message's payload lies.
enum Found {
    /// In the receive buffer, at this range.
    Buffer(u8, usize, usize),
    /// In the reassembly buffer.
    Reassembled(u8),
    /// A close frame with this code.
    Close(u16),
}

/// The receiving and sending state of one connection, apart from its
/// socket: what was read and not yet parsed, a fragmented message being
/// reassembled, and frames waiting to be written.
#[derive(Debug)]
pub struct Codec {
    pub(super) buf: Vec<u8>,
    /// The first unparsed byte of `buf`.
    pub(super) start: usize,
    /// How many bytes, from `start`, the frame being received needs.
    want: usize,
    /// The opcode and payload of a fragmented message so far.
    partial: Option<(u8, Vec<u8>)>,
    /// Whether `partial` was just handed out and must be dropped.
    partial_done: bool,
    /// Frames to write, and how much of them went out.
    out: Vec<u8>,
    out_sent: usize,
    /// Masking keys.
    rng: u64,
    /// Whether a close frame was received.
    pub(super) closed: bool,
}

impl Default for Codec {
    fn default() -> Self {
        Self::new()
    }
}

impl Codec {
    /// An empty codec.
    pub fn new() -> Self {
        static SEED: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = splitmix(nanos ^ SEED.fetch_add(0x9E37_79B9_7F4A_7C15, Relaxed));
        Self {
            buf: Vec::new(),
            start: 0,
            want: 0,
            partial: None,
            partial_done: false,
            out: Vec::new(),
            out_sent: 0,
            rng: seed | 1,
            closed: false,
        }
    }

    /// Appends received bytes (tests, and bytes read past the upgrade).
    pub fn extend(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Makes room for a read: drops parsed bytes, moves a partial frame to
    /// the front when little space is left, grows for a frame larger than
    /// the buffer.
    pub(super) fn prepare_read(&mut self) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > 4 * READ_BUFFER {
                self.buf.shrink_to(READ_BUFFER);
            }
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(READ_BUFFER);
        }
        let spare = self.buf.capacity() - self.buf.len();
        let needed = self.start + self.want;
        if self.start > 0 && (spare < MIN_READ || needed > self.buf.capacity()) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let needed = (self.start + self.want).max(self.buf.len() + MIN_READ);
        if needed > self.buf.capacity() {
            self.buf.reserve(needed - self.buf.len());
        }
    }

    /// The next complete message in the buffer, or `None` when more bytes
    /// are needed. Pings are answered (queued) and pongs skipped on the
    /// way. An error is a protocol violation: the connection is unusable.
    pub fn frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        if self.partial_done {
            self.partial = None;
            self.partial_done = false;
        }
        let found = loop {
            let Some((fin, opcode, from, to)) = self.header()? else {
                return Ok(None);
            };
            self.start = to;
            match opcode {
                OP_TEXT | OP_BINARY if fin => {
                    if self.partial.is_some() {
                        return Err("a new message began inside a fragmented one".into());
                    }
                    break Found::Buffer(opcode, from, to);
                }
                OP_TEXT | OP_BINARY => {
                    if self.partial.is_some() {
                        return Err("a new message began inside a fragmented one".into());
                    }
                    self.partial = Some((opcode, self.buf[from..to].to_vec()));
                }
                OP_CONTINUATION => {
                    let Some((kind, partial)) = &mut self.partial else {
                        return Err("a continuation frame with no message to continue".into());
                    };
                    if partial.len() + (to - from) > MAX_MESSAGE {
                        return Err("a fragmented message over the size limit".into());
                    }
                    partial.extend_from_slice(&self.buf[from..to]);
                    if fin {
                        let kind = *kind;
                        self.partial_done = true;
                        break Found::Reassembled(kind);
                    }
                }
                OP_PING => {
                    let (buf, out) = (&self.buf, &mut self.out);
                    let mask = next_mask(&mut self.rng);
                    encode(out, OP_PONG, &buf[from..to], mask);
                }
                OP_PONG => {}
                OP_CLOSE => {
                    let code = if to - from >= 2 {
                        u16::from_be_bytes([self.buf[from], self.buf[from + 1]])
                    } else {
                        NO_STATUS
                    };
                    if !self.closed {
                        self.closed = true;
                        // Echo the close, as RFC 6455 asks.
                        self.send_close(if code == NO_STATUS { None } else { Some(code) });
                    }
                    break Found::Close(code);
                }
                other => return Err(format!("unknown opcode {other:#x}")),
            }
        };
        Ok(Some(match found {
            Found::Buffer(OP_TEXT, from, to) => Frame::Text(&self.buf[from..to]),
            Found::Buffer(_, from, to) => Frame::Binary(&self.buf[from..to]),
            Found::Reassembled(kind) => {
                let payload = self.partial.as_ref().map_or(&[][..], |(_, p)| p.as_slice());
                if kind == OP_TEXT {
                    Frame::Text(payload)
                } else {
                    Frame::Binary(payload)
                }
            }
            Found::Close(code) => Frame::Close(code),
        }))
    }

    /// Parses the header at `start`: `(fin, opcode, payload start, payload
    /// end)` once the whole frame is in the buffer.
    fn header(&mut self) -> Result<Option<(bool, u8, usize, usize)>, String> {
        let bytes = &self.buf[self.start..];
        if bytes.len() < 2 {
            self.want = 2;
            return Ok(None);
        }
        let (b0, b1) = (bytes[0], bytes[1]);
        if b0 & 0x70 != 0 {
            return Err("reserved bits set in a frame header".into());
        }
        if b1 & 0x80 != 0 {
            return Err("a masked frame from the server".into());
        }
        let fin = b0 & 0x80 != 0;
        let opcode = b0 & 0x0F;
        let (head, len) = match b1 & 0x7F {
            126 => {
                if bytes.len() < 4 {
                    self.want = 4;
                    return Ok(None);
                }
                (4, u64::from(u16::from_be_bytes([bytes[2], bytes[3]])))
            }
            127 => {
                if bytes.len() < 10 {
                    self.want = 10;
                    return Ok(None);
                }
                let mut len = [0; 8];
                len.copy_from_slice(&bytes[2..10]);
                (10, u64::from_be_bytes(len))
            }
            short => (2, u64::from(short)),
        };
        if opcode & 0x8 != 0 && (len > 125 || !fin) {
            return Err("a control frame that is fragmented or over 125 bytes".into());
        }
        if len > MAX_MESSAGE as u64 {
            return Err(format!("a frame of {len} bytes, over the size limit"));
        }
        let total = head + len as usize;
        if bytes.len() < total {
            self.want = total;
            return Ok(None);
        }
        self.want = 0;
        Ok(Some((fin, opcode, self.start + head, self.start + total)))
    }

    /// Queues a masked text frame.
    pub fn send_text(&mut self, payload: &[u8]) {
        let mask = next_mask(&mut self.rng);
        encode(&mut self.out, OP_TEXT, payload, mask);
    }

    /// Queues a masked close frame with `code`, or with no code.
    pub fn send_close(&mut self, code: Option<u16>) {
        let mask = next_mask(&mut self.rng);
        let payload = code.map(u16::to_be_bytes);
        encode(
            &mut self.out,
            OP_CLOSE,
            payload.as_ref().map_or(&[][..], |p| &p[..]),
            mask,
        );
    }

    /// Whether frames wait to be written.
    pub fn has_output(&self) -> bool {
        self.out_sent < self.out.len()
    }

    /// The queued output not yet written (tests).
    pub fn output(&self) -> &[u8] {
        &self.out[self.out_sent..]
    }

    pub(super) fn written(&mut self, count: usize) {
        self.out_sent += count;
        if self.out_sent == self.out.len() {
            self.out.clear();
            self.out_sent = 0;
            if self.out.capacity() > READ_BUFFER {
                self.out.shrink_to(1024);
            }
        }
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A masking key from the connection's xorshift generator.
fn next_mask(state: &mut u64) -> [u8; 4] {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    ((x >> 16) as u32).to_ne_bytes()
}

/// Appends a masked client frame (FIN set) to `out`.
pub fn encode(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= usize::from(u16::MAX) {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    let at = out.len();
    out.extend_from_slice(payload);
    let body = &mut out[at..];
    let wide = u64::from_ne_bytes([
        mask[0], mask[1], mask[2], mask[3], mask[0], mask[1], mask[2], mask[3],
    ]);
    let mut chunks = body.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().expect("8 bytes")) ^ wide;
        chunk.copy_from_slice(&word.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= mask[i % 4];
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An unmasked server frame.
    fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        let len = payload.len();
        if len < 126 {
            out.push(len as u8);
        } else if len <= 0xFFFF {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    /// Decodes one masked client frame: (fin, opcode, unmasked payload,
    /// bytes used).
    fn decode_client(bytes: &[u8]) -> (bool, u8, Vec<u8>, usize) {
        assert_ne!(bytes[1] & 0x80, 0, "client frames are masked");
        let (head, len) = match bytes[1] & 0x7F {
            126 => (4, u16::from_be_bytes([bytes[2], bytes[3]]) as usize),
            127 => (
                10,
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
            ),
            n => (2, n as usize),
        };
        let mask = &bytes[head..head + 4];
        let payload = bytes[head + 4..head + 4 + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        (
            bytes[0] & 0x80 != 0,
            bytes[0] & 0x0F,
            payload,
            head + 4 + len,
        )
    }

    /// Every message the codec yields from `bytes` fed in `chunk`-sized
    /// pieces, as owned values.
    fn feed(bytes: &[u8], chunk: usize) -> Vec<Message> {
        let mut codec = Codec::new();
        let mut got = Vec::new();
        for piece in bytes.chunks(chunk.max(1)) {
            codec.prepare_read();
            codec.extend(piece);
            while let Some(frame) = codec.frame().unwrap() {
                got.push(match frame {
                    Frame::Text(t) => Message::Text(String::from_utf8(t.to_vec()).unwrap()),
                    Frame::Binary(b) => Message::Binary(b.to_vec()),
                    Frame::Close(code) => Message::Close(code),
                });
            }
        }
        got
    }

    pub(in crate::protocol) fn text(len: usize, seed: u8) -> String {
        (0..len)
            .map(|i| char::from(b'a' + ((i as u8).wrapping_add(seed)) % 26))
            .collect()
    }

    #[test]
    fn every_length_form_parses_whole_and_split_at_every_size() {
        // 7-bit, the 125/126 and 65535/65536 edges: 16-bit and 64-bit lengths.
        let sizes = [0, 1, 100, 125, 126, 127, 1000, 65_535, 65_536, 200_000];
        let mut stream = Vec::new();
        let mut want = Vec::new();
        for (i, size) in sizes.iter().enumerate() {
            let payload = text(*size, i as u8);
            stream.extend(server_frame(true, OP_TEXT, payload.as_bytes()));
            want.push(Message::Text(payload));
        }
        stream.extend(server_frame(true, OP_BINARY, &[0, 1, 2, 255]));
        want.push(Message::Binary(vec![0, 1, 2, 255]));
        for chunk in [1, 2, 3, 7, 10, 127, 4096, 65_537, stream.len()] {
            assert_eq!(feed(&stream, chunk), want, "chunk {chunk}");
        }
    }

    #[test]
    fn many_frames_in_one_buffer() {
        let mut stream = Vec::new();
        for i in 0..1000 {
            stream.extend(server_frame(
                true,
                OP_TEXT,
                format!("{{\"n\":{i}}}").as_bytes(),
            ));
        }
        let got = feed(&stream, stream.len());
        assert_eq!(got.len(), 1000);
        assert_eq!(got[999], Message::Text("{\"n\":999}".into()));
    }

    #[test]
    fn split_headers_wait_for_the_rest() {
        let frame = server_frame(true, OP_TEXT, text(300, 0).as_bytes());
        let mut codec = Codec::new();
        codec.extend(&frame[..1]);
        assert_eq!(codec.frame().unwrap(), None);
        codec.extend(&frame[1..3]);
        assert_eq!(codec.frame().unwrap(), None);
        assert_eq!(codec.want, 4);
        codec.extend(&frame[3..4]);
        assert_eq!(codec.frame().unwrap(), None);
        assert_eq!(codec.want, 304);
        codec.extend(&frame[4..]);
        assert_eq!(
            codec.frame().unwrap(),
            Some(Frame::Text(text(300, 0).as_bytes()))
        );
        assert_eq!(codec.frame().unwrap(), None);
    }

    #[test]
    fn a_frame_larger_than_the_buffer_grows_it() {
        let payload = text(3 * READ_BUFFER + 5, 3);
        let frame = server_frame(true, OP_TEXT, payload.as_bytes());
        assert_eq!(feed(&frame, 1000), vec![Message::Text(payload)]);
    }

    #[test]
    fn pings_are_answered_with_masked_pongs_and_closes_echoed() {
        let mut stream = server_frame(true, OP_TEXT, b"a");
        stream.extend(server_frame(true, OP_PING, b"hello"));
        stream.extend(server_frame(true, OP_PONG, b"ignored"));
        stream.extend(server_frame(true, OP_TEXT, b"b"));
        stream.extend(server_frame(true, OP_CLOSE, &4201u16.to_be_bytes()));
        let mut codec = Codec::new();
        codec.extend(&stream);
        assert_eq!(codec.frame().unwrap(), Some(Frame::Text(b"a")));
        assert!(!codec.has_output());
        assert_eq!(codec.frame().unwrap(), Some(Frame::Text(b"b")));
        assert_eq!(codec.frame().unwrap(), Some(Frame::Close(4201)));
        let out = codec.output().to_vec();
        let (fin, opcode, payload, used) = decode_client(&out);
        assert!(fin);
        assert_eq!((opcode, payload.as_slice()), (OP_PONG, &b"hello"[..]));
        let (_, opcode, payload, rest) = decode_client(&out[used..]);
        assert_eq!(opcode, OP_CLOSE);
        assert_eq!(payload, 4201u16.to_be_bytes());
        assert_eq!(used + rest, out.len());
        // A close without a code.
        let mut codec = Codec::new();
        codec.extend(&server_frame(true, OP_CLOSE, b""));
        assert_eq!(codec.frame().unwrap(), Some(Frame::Close(NO_STATUS)));
    }

    #[test]
    fn fragmented_messages_are_reassembled() {
        let mut stream = server_frame(false, OP_TEXT, b"hel");
        stream.extend(server_frame(true, OP_PING, b""));
        stream.extend(server_frame(false, OP_CONTINUATION, b"lo "));
        stream.extend(server_frame(true, OP_CONTINUATION, b"world"));
        stream.extend(server_frame(true, OP_TEXT, b"next"));
        for chunk in [1, 5, stream.len()] {
            assert_eq!(
                feed(&stream, chunk),
                vec![
                    Message::Text("hello world".into()),
                    Message::Text("next".into())
                ]
            );
        }
    }

    #[test]
    fn protocol_violations_are_errors() {
        let violations = [
            server_frame(true, OP_CONTINUATION, b"x"),
            vec![0x81, 0x81, 1, 2, 3, 4, b'x'], // masked
            vec![0xC1, 0x01, b'x'],             // RSV1
            vec![0x83, 0x00],                   // opcode 3
            server_frame(false, OP_PING, b""),
            server_frame(true, OP_PING, &[0; 126]),
            [
                server_frame(false, OP_TEXT, b"a"),
                server_frame(true, OP_TEXT, b"b"),
            ]
            .concat(),
        ];
        for bytes in violations {
            let mut codec = Codec::new();
            codec.extend(&bytes);
            let result = loop {
                match codec.frame() {
                    Ok(Some(_)) => {}
                    other => break other.map(|_| ()),
                }
            };
            assert!(result.is_err(), "{bytes:?} should be refused");
        }
    }

    #[test]
    fn sent_frames_are_masked_in_every_length_form() {
        let mut codec = Codec::new();
        for size in [0, 5, 125, 126, 1000, 65_535, 65_536, 70_000] {
            let payload = text(size, 1);
            codec.send_text(payload.as_bytes());
            let out = codec.output().to_vec();
            let (fin, opcode, got, used) = decode_client(&out);
            assert!(fin);
            assert_eq!(opcode, OP_TEXT);
            assert_eq!(got, payload.as_bytes());
            assert_eq!(used, out.len());
            let head = match size {
                0..126 => 2,
                126..=65_535 => 4,
                _ => 10,
            };
            assert_eq!(used, head + 4 + size);
            if size >= 8 {
                assert_ne!(
                    &out[head + 4..],
                    payload.as_bytes(),
                    "the payload is masked"
                );
            }
            codec.written(out.len());
        }
        // Masking keys change from frame to frame.
        let mut keys = std::collections::HashSet::new();
        for _ in 0..100 {
            codec.send_text(b"x");
            keys.insert(codec.output()[2..6].to_vec());
            let len = codec.output().len();
            codec.written(len);
        }
        assert!(keys.len() > 90);
    }
}
