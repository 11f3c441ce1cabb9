//! Following one channel's stream from the offsets of its publications:
//! where the client is, and every offset it missed or got twice.

use crate::protocol::native::Position;

/// What a publication did to the stream followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The next offset.
    Next,
    /// Offsets were skipped: this many are missing.
    Gap(u64),
    /// An offset at or below the last one: seen already.
    Duplicate,
    /// A publication of another epoch: the stream started over, and what
    /// the client missed of the old one cannot be known.
    NewEpoch,
    /// No position is known yet (the subscribe reply has not come).
    Unplaced,
}

/// One client's place in a channel's stream.
#[derive(Debug, Default)]
pub struct Stream {
    position: Option<Position>,
    /// Offsets missing, over the whole run.
    pub gaps: u64,
    /// Publications received twice.
    pub duplicates: u64,
    /// Epoch changes seen within a subscription.
    pub new_epochs: u64,
}

impl Stream {
    /// The last position: of the last publication received, or of the
    /// subscribe reply if none came after it.
    pub fn position(&self) -> Option<&Position> {
        self.position.as_ref()
    }

    /// Places the stream at `position`: the next publication expected is
    /// the one after it.
    pub fn place(&mut self, position: Position) {
        self.position = Some(position);
    }

    /// Takes the publication at `offset` of stream `epoch`.
    pub fn take(&mut self, offset: u64, epoch: &[u8]) -> Step {
        let Some(position) = &mut self.position else {
            return Step::Unplaced;
        };
        if position.epoch.as_bytes() != epoch {
            self.new_epochs += 1;
            position.epoch = String::from_utf8_lossy(epoch).into_owned();
            position.offset = offset;
            return Step::NewEpoch;
        }
        if offset <= position.offset {
            self.duplicates += 1;
            return Step::Duplicate;
        }
        let missing = offset - position.offset - 1;
        position.offset = offset;
        if missing == 0 {
            Step::Next
        } else {
            self.gaps += missing;
            Step::Gap(missing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Position {
        Position {
            offset,
            epoch: "e".into(),
        }
    }

    #[test]
    fn gaps_and_duplicates_are_counted() {
        let mut stream = Stream::default();
        assert_eq!(stream.take(1, b"e"), Step::Unplaced);
        stream.place(at(10));
        assert_eq!(stream.take(11, b"e"), Step::Next);
        assert_eq!(stream.take(14, b"e"), Step::Gap(2));
        assert_eq!(stream.take(13, b"e"), Step::Duplicate);
        assert_eq!(stream.take(15, b"e"), Step::Next);
        assert_eq!((stream.gaps, stream.duplicates), (2, 1));
        assert_eq!(stream.position(), Some(&at(15)));
        assert_eq!(stream.take(3, b"f"), Step::NewEpoch);
        assert_eq!(stream.take(4, b"f"), Step::Next);
        assert_eq!(stream.new_epochs, 1);
        assert_eq!(stream.position().unwrap().epoch, "f");
    }
}
