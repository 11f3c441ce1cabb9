//! A namespace's text filter: profanity found by the `rustrict` crate, plus
//! the namespace's own word list, with one of three behaviours.

use rustrict::{Censor, Type};
use serde::{Deserialize, Serialize};

/// What the filter does with a message that matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterMode {
    /// Refuse the message with an error.
    Block,
    /// Store it with each matching word replaced by `*`.
    Mask,
    /// Store it as written and file a report for the moderators.
    Flag,
}

/// `filter = {mode = "block", words = ["spoiler"], profanity = true}` in a
/// namespace's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// What to do with a match.
    pub mode: FilterMode,
    /// Words (or phrases of words) matched whole and regardless of case, in
    /// addition to the profanity `rustrict` knows.
    #[serde(default)]
    pub words: Vec<String>,
    /// Whether `rustrict`'s profanity detection applies (by default it
    /// does); off, only `words` match.
    #[serde(default = "yes")]
    pub profanity: bool,
}

fn yes() -> bool {
    true
}

/// What the filter made of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing matched.
    Clean,
    /// Refuse the text; the reason names what matched.
    Refuse(String),
    /// Store this text instead.
    Masked(String),
    /// Store the text and report it for this reason.
    Flag(String),
}

impl FilterConfig {
    /// What is wrong with the configuration, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.words.iter().any(|word| tokens(word).next().is_none()) {
            return Some("filter words must contain letters or digits".into());
        }
        if self.words.len() > 10_000 {
            return Some("a filter holds at most 10000 words".into());
        }
        None
    }

    /// Checks a text against the filter.
    pub fn check(&self, text: &str) -> Verdict {
        let listed = self.listed_spans(text);
        let (censored, profane) = if self.profanity {
            let (censored, analysis) = Censor::from_str(text)
                .with_censor_threshold(Type::INAPPROPRIATE)
                .censor_and_analyze();
            (censored, analysis.is(Type::INAPPROPRIATE))
        } else {
            (String::new(), false)
        };
        if listed.is_empty() && !profane {
            return Verdict::Clean;
        }
        let reason = match (listed.is_empty(), profane) {
            (false, true) => "listed word and profanity",
            (false, false) => "listed word",
            (true, _) => "profanity",
        };
        match self.mode {
            FilterMode::Block => Verdict::Refuse(reason.into()),
            FilterMode::Flag => Verdict::Flag(format!("filter: {reason}")),
            FilterMode::Mask => {
                let base = if profane { censored } else { text.to_owned() };
                Verdict::Masked(mask(&base, &self.listed_spans(&base)))
            }
        }
    }

    /// The byte ranges of `text` covered by a listed word or phrase.
    fn listed_spans(&self, text: &str) -> Vec<(usize, usize)> {
        if self.words.is_empty() {
            return Vec::new();
        }
        let words: Vec<(usize, usize, String)> = token_spans(text)
            .map(|(start, end)| (start, end, text[start..end].to_lowercase()))
            .collect();
        let mut spans = Vec::new();
        for entry in &self.words {
            let phrase: Vec<String> = tokens(entry).map(str::to_lowercase).collect();
            if phrase.is_empty() || phrase.len() > words.len() {
                continue;
            }
            for window in words.windows(phrase.len()) {
                if window
                    .iter()
                    .zip(&phrase)
                    .all(|(word, part)| word.2 == *part)
                {
                    spans.push((window[0].0, window[window.len() - 1].1));
                }
            }
        }
        spans
    }
}

/// The words of a text: runs of letters and digits.
fn tokens(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
}

/// The byte ranges of a text's words.
fn token_spans(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut start = None;
    let mut spans = Vec::new();
    for (index, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(index),
            (false, Some(begin)) => {
                spans.push((begin, index));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(begin) = start {
        spans.push((begin, text.len()));
    }
    spans.into_iter()
}

/// `text` with every letter and digit inside `spans` replaced by `*`.
fn mask(text: &str, spans: &[(usize, usize)]) -> String {
    text.char_indices()
        .map(|(index, c)| {
            let covered = spans
                .iter()
                .any(|&(start, end)| index >= start && index < end);
            if covered && c.is_alphanumeric() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(mode: FilterMode) -> FilterConfig {
        FilterConfig {
            mode,
            words: vec!["spoiler".into(), "the butler".into()],
            profanity: true,
        }
    }

    #[test]
    fn listed_words_match_whole_and_regardless_of_case() {
        let block = filter(FilterMode::Block);
        assert_eq!(block.check("no spoilers here"), Verdict::Clean);
        assert!(matches!(block.check("SPOILER: x"), Verdict::Refuse(_)));
        assert_eq!(
            filter(FilterMode::Mask).check("It was The Butler, spoiler!"),
            Verdict::Masked("It was *** ******, *******!".into())
        );
    }

    #[test]
    fn profanity_is_masked_by_rustrict() {
        let Verdict::Masked(text) = filter(FilterMode::Mask).check("what the fuck") else {
            panic!("profanity not found");
        };
        assert!(
            text.starts_with("what the ") && !text.contains("fuck"),
            "{text}"
        );
        assert!(matches!(
            filter(FilterMode::Flag).check("fuck"),
            Verdict::Flag(_)
        ));
    }
}
