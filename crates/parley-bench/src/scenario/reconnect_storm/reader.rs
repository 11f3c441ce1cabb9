//! Reading one client's connection until something happens: the
//! subscribe reply, the last publication of a replay, the next storm, the
//! run's end or the connection's loss. On the way it follows the stream,
//! answers pings and counts deliveries.

use super::subscriber::Subscriber;
use crate::protocol::native::SubscribeReply;
use crate::protocol::ws::Frame;
use crate::protocol::{Conn, StreamInbound, excerpt};

/// What ended a read.
pub enum Event {
    /// The subscribe reply (native), or the confirmation (Pusher).
    Subscribed(Option<SubscribeReply>),
    /// Every offset up to the one awaited has arrived.
    CaughtUp,
    /// The storm began.
    Drop,
    /// The run ended.
    RunOver,
    /// The subscription was refused.
    Refused(String),
    /// The server closed the connection, or it broke.
    Lost(String),
}

/// What a read waits for.
#[derive(Clone, Copy)]
pub enum Until {
    /// The subscribe reply.
    Subscribed,
    /// The publication at this offset.
    CaughtUp(u64),
    /// Storm number `n`, if there is one left.
    Storm(Option<usize>),
}

impl Subscriber {
    /// Reads until `until`, with no replay to count.
    pub(super) async fn read(&mut self, conn: &mut Conn, until: Until) -> Event {
        let mut replayed = 0;
        self.read_counting(conn, until, &mut replayed).await
    }

    /// Reads frames until `until` (or the run's end, or a loss), following
    /// the stream and counting deliveries: a publication up to the offset
    /// awaited is a replay (counted in `replayed`, no latency), any other
    /// a live delivery with its latency.
    pub(super) async fn read_counting(
        &mut self,
        conn: &mut Conn,
        until: Until,
        replayed: &mut u64,
    ) -> Event {
        let shared = self.shared.clone();
        let shard = shared.tally.shard(self.index);
        let storm = match until {
            Until::Storm(Some(k)) => Some(&shared.storms[k].drop),
            _ => None,
        };
        // Made once per read: a cancellation future registers with its
        // token under a lock.
        let run_over = shared.end.cancelled();
        tokio::pin!(run_over);
        let dropped = async {
            match storm {
                Some(drop) => drop.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(dropped);
        loop {
            // Frames already received first: a read may bring the reply
            // and the start of the replay together.
            let mut pongs = 0;
            let mut event = None;
            loop {
                let bytes = match conn.ws.frame() {
                    Ok(Some(Frame::Text(bytes))) => bytes,
                    Ok(Some(Frame::Binary(_))) => continue,
                    Ok(Some(Frame::Close(code))) => {
                        shared.tally.closed(code);
                        event = Some(Event::Lost(format!("closed by the server: {code}")));
                        break;
                    }
                    Ok(None) => break,
                    Err(error) => {
                        shared.tally.dropped();
                        event = Some(Event::Lost(format!("protocol error: {error}")));
                        break;
                    }
                };
                match shared.client.stream_inbound(bytes) {
                    StreamInbound::Publication(Some((offset, epoch))) => {
                        self.stream.take(offset, epoch);
                        match until {
                            Until::CaughtUp(up_to) if offset <= up_to => {
                                *replayed += 1;
                                shard.count_delivery();
                            }
                            _ => {
                                shard.record_frame(bytes);
                            }
                        }
                    }
                    StreamInbound::Publication(None) => {
                        shard.record_frame(bytes);
                    }
                    StreamInbound::Subscribed(reply) => {
                        if matches!(until, Until::Subscribed) {
                            event = Some(Event::Subscribed(reply));
                            break;
                        }
                    }
                    StreamInbound::Refused => {
                        shared.tally.error_reply();
                        let text = excerpt(&String::from_utf8_lossy(bytes));
                        if matches!(until, Until::Subscribed) {
                            event = Some(Event::Refused(text));
                            break;
                        }
                        shared.tally.note_error(&format!("error reply: {text}"));
                    }
                    StreamInbound::Ping => pongs += 1,
                    StreamInbound::Other => {}
                }
                if let Until::CaughtUp(up_to) = until
                    && self.stream.position().is_some_and(|p| p.offset >= up_to)
                {
                    event = Some(Event::CaughtUp);
                    break;
                }
            }
            for _ in 0..pongs {
                conn.ws.queue_text(shared.client.pong_frame());
            }
            // Pongs, and the answer to a close.
            if conn.ws.has_output()
                && let Err(error) = conn.ws.flush().await
                && event.is_none()
            {
                shared.tally.dropped();
                event = Some(Event::Lost(error));
            }
            if let Some(event) = event {
                return event;
            }
            tokio::select! {
                biased;
                () = &mut run_over => return Event::RunOver,
                () = &mut dropped => return Event::Drop,
                read = conn.ws.fill() => {
                    if let Err(error) = read {
                        shared.tally.dropped();
                        return Event::Lost(error);
                    }
                }
            }
        }
    }
}
