//! The seeds of a target and the mutations made of them.
//!
//! libFuzzer mutates the corpus files itself, but the stable engine of
//! `cargo test` only draws random bytes, which a JSON or multipart parser
//! refuses at the first byte. So each target also reads its random input
//! as an edit program over one of its seeds ([`Seeds::mutate`]): most
//! inputs it checks then look almost like real frames, which is where
//! parsers break.

use std::path::PathBuf;

/// The corpus files of one target, and tokens worth splicing into them.
pub struct Seeds {
    seeds: Vec<Vec<u8>>,
    tokens: Vec<Vec<u8>>,
}

/// Tokens of JSON, and values at the edges of what parsers accept.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1.5",
    "1e999",
    "-0",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775809",
    "\"\"",
    "{}",
    "[]",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\uDFFF\"",
    "\u{feff}",
    "é",
    "\u{10ffff}",
    "\"id\":",
    "\"method\":",
    "\"params\":",
    "\"event\":",
    "\"data\":",
    "\"channel\":",
    "\"user\":",
    "\"text\":",
    "\"channels\":",
    " ",
    "\t",
    "\n",
];

impl Seeds {
    /// The corpus of `target`, with `extra` tokens besides JSON's.
    pub fn load(target: &str, extra: &[&[u8]]) -> Self {
        let dir = corpus_dir(target);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
            .map(|entry| entry.expect("a corpus entry").path())
            .filter(|path| path.is_file())
            .collect();
        // Sorted, so that the same program picks the same seed everywhere.
        paths.sort();
        let seeds: Vec<Vec<u8>> = paths
            .iter()
            .map(|path| std::fs::read(path).expect("a readable corpus file"))
            .collect();
        assert!(!seeds.is_empty(), "{} holds no seeds", dir.display());
        let mut tokens: Vec<Vec<u8>> = JSON_TOKENS
            .iter()
            .map(|token| token.as_bytes().to_vec())
            .collect();
        // Deeper than serde_json's recursion limit of 128.
        tokens.push(b"[".repeat(200));
        tokens.push(b"{\"a\":".repeat(200));
        tokens.extend(extra.iter().map(|token| token.to_vec()));
        Self { seeds, tokens }
    }

    /// One seed changed by the edits `program` spells: its first byte picks
    /// the seed, then each three bytes are an edit (what, where, with what).
    pub fn mutate(&self, program: &[u8]) -> Vec<u8> {
        let Some((&pick, edits)) = program.split_first() else {
            return self.seeds[0].clone();
        };
        let mut out = self.seeds[usize::from(pick) % self.seeds.len()].clone();
        for edit in edits.chunks(3) {
            let what = edit[0];
            let at = edit
                .get(1)
                .map_or(0, |&at| usize::from(at) * out.len() / 256);
            let with = edit.get(2).copied().unwrap_or(0);
            match what % 8 {
                0 => {
                    if let Some(byte) = out.get_mut(at) {
                        *byte = with;
                    }
                }
                1 => out.insert(at, with),
                2 => {
                    let end = (at + usize::from(with % 16) + 1).min(out.len());
                    out.drain(at..end);
                }
                3 | 4 => {
                    let token = &self.tokens[usize::from(with) % self.tokens.len()];
                    out.splice(at..at, token.iter().copied());
                }
                5 => {
                    let end = (at + usize::from(with % 32)).min(out.len());
                    let span = out[at..end].to_vec();
                    out.splice(at..at, span);
                }
                6 => out.truncate(at),
                _ => {
                    // Another seed's tail: frames that start as one thing and
                    // end as another.
                    let other = &self.seeds[usize::from(with) % self.seeds.len()];
                    let from = other.len() / 2;
                    out.truncate(at);
                    out.extend_from_slice(&other[from..]);
                }
            }
        }
        out
    }
}

/// Where bolero keeps a target's corpus: next to this file, as
/// `check!(name = ...)` lays it out.
fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/__fuzz__")
        .join(target)
        .join("corpus")
}
