//! The native append path's protocol core: no I/O, no clock of its own (etcd raft's
//! style; the tests drive it directly). It takes submissions of payloads, asks the
//! sequencer for their tokens (one TOKEN per sequencer and epoch per turn, for every
//! submission waiting), walks each entry down its chain head first (one WRITE frame per
//! unit and epoch per turn, for every entry bound there), and says how each entry ended.
//!
//! It does only the path on which nothing goes wrong. Whatever else happens to an entry
//! (an error answer, a status other than OK, no answer in time, a lost connection, an
//! address outside the layout's last segment) ends its walk here with what the walk
//! learned, and the TypeScript client takes it from there through its one append
//! protocol, exactly as it does for an entry that fell out of its own chain walk. So this
//! machine never retries, never refreshes a projection, never fills a hole: it cannot
//! decide anything the client's append protocol would decide differently.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::codec::{self, Answer, STATUS_OK, TOKEN_OPCODE, WRITE_OPCODE};

/// An index into the loop's table of servers (`host:port`s).
pub type ServerId = usize;

/// Where entries of one epoch go: the sequencer, and the projection's last segment
/// (`start`, `end` exclusive or open, its stripes' chains, head first); and how long its
/// client waits for an answer (a request's deadline is its most impatient entry's).
#[derive(Debug)]
pub struct Layout {
    pub epoch: u64,
    pub timeout_ns: u64,
    pub sequencer: ServerId,
    pub start: u64,
    pub end: Option<u64>,
    pub chains: Vec<Vec<ServerId>>,
}

impl Layout {
    /// The chain of `address`, or None outside the segment.
    fn chain(&self, address: u64) -> Option<&[ServerId]> {
        if address < self.start || self.end.is_some_and(|end| address >= end) || self.chains.is_empty() {
            return None;
        }
        Some(&self.chains[((address - self.start) % self.chains.len() as u64) as usize])
    }
}

/// One submission's payloads, copied once; every replica's WRITE frame copies from here.
#[derive(Debug)]
pub struct Payloads {
    bytes: Vec<u8>,
    /// (start, length) in `bytes`, one per entry.
    spans: Vec<(usize, usize)>,
}

impl Payloads {
    pub fn new(parts: &[&[u8]]) -> Payloads {
        let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut spans = Vec::with_capacity(parts.len());
        for p in parts {
            spans.push((bytes.len(), p.len()));
            bytes.extend_from_slice(p);
        }
        Payloads { bytes, spans }
    }

    /// Entries packed back to back in `bytes`, `lengths[i]` bytes each (they add up to
    /// `bytes.len()`; checked by the caller).
    pub fn packed(bytes: &[u8], lengths: &[u32]) -> Payloads {
        let mut spans = Vec::with_capacity(lengths.len());
        let mut at = 0;
        for &len in lengths {
            spans.push((at, len as usize));
            at += len as usize;
        }
        debug_assert_eq!(at, bytes.len());
        Payloads { bytes: bytes.to_vec(), spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn total_bytes(&self) -> usize {
        self.bytes.len()
    }

    fn get(&self, i: usize) -> &[u8] {
        let (start, len) = self.spans[i];
        &self.bytes[start..start + len]
    }
}

#[derive(Debug)]
struct Entry {
    batch: u32,
    index: u32,
    payloads: Arc<Payloads>,
    layout: Arc<Layout>,
    /// Its token, once it has one.
    address: u64,
    /// The replica its next (or current) WRITE goes to.
    replica: usize,
}

impl Entry {
    fn payload(&self) -> &[u8] {
        self.payloads.get(self.index as usize)
    }
}

/// How an entry ended here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Every replica of its chain answered OK: the append is done.
    Written,
    /// No token was taken for it (an error answer with `status`, 0 for none in time or a
    /// lost connection): the client asks for one itself.
    NoToken { status: u8 },
    /// Its walk stopped before `replica` answered OK (every replica before it did).
    /// `status`: a whole-frame error answer's status byte (with `message`), 0 for
    /// anything else (a status other than OK for the entry, no answer, an address outside
    /// the segment).
    Fell { replica: usize, status: u8, message: Option<Arc<str>> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub batch: u32,
    pub index: u32,
    /// The token, if it got one.
    pub address: Option<u64>,
    pub fate: Fate,
}

/// Limits: entries per WRITE frame, payload bytes per WRITE frame, tokens per TOKEN.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub frame_entries: usize,
    pub frame_payload_bytes: usize,
    pub tokens_per_request: usize,
    /// Entries held at once (submitted and not yet ended); submit refuses past it.
    pub max_entries: usize,
    /// Payload bytes held at once.
    pub max_bytes: usize,
}

#[derive(Debug)]
enum Flight {
    Token(Vec<Entry>),
    Write(Vec<Entry>),
}

#[derive(Debug)]
struct InFlight {
    deadline_ns: u64,
    what: Flight,
}

/// A frame to send to a server.
#[derive(Debug)]
pub struct Send {
    pub server: ServerId,
    pub frame: Vec<u8>,
}

pub struct Machine {
    limits: Limits,
    /// Entries waiting for a token, in submission order.
    waiting: Vec<Entry>,
    /// Entries whose next WRITE leaves at the end of this turn, by (server, epoch). Ordered
    /// maps, here and below: the simulator needs the same sends and outcomes in the same
    /// order from the same inputs (a HashMap's order changes from process to process).
    bound: BTreeMap<(ServerId, u64), Vec<Entry>>,
    in_flight: BTreeMap<(ServerId, u32), InFlight>,
    next_request_id: u32,
    held_entries: usize,
    held_bytes: usize,
    /// TOKEN requests sent, for the client's counters.
    pub token_requests: u64,
    pub sends: Vec<Send>,
    pub outcomes: Vec<Outcome>,
}

impl Machine {
    pub fn new(limits: Limits) -> Machine {
        assert!(limits.frame_entries > 0 && limits.tokens_per_request > 0 && limits.max_entries > 0, "appender limits must be positive");
        Machine {
            limits,
            waiting: Vec::new(),
            bound: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_request_id: 1,
            held_entries: 0,
            held_bytes: 0,
            token_requests: 0,
            sends: Vec::new(),
            outcomes: Vec::new(),
        }
    }

    /// Entries held: submitted and not yet ended.
    pub fn held(&self) -> usize {
        self.held_entries
    }

    /// Takes a submission, or refuses it (false, nothing taken) when it would pass the
    /// limits: the client then appends those entries itself.
    pub fn submit(&mut self, layout: &Arc<Layout>, batch: u32, payloads: Payloads) -> bool {
        let n = payloads.len();
        if n == 0 || self.held_entries + n > self.limits.max_entries || self.held_bytes + payloads.total_bytes() > self.limits.max_bytes {
            return false;
        }
        self.held_entries += n;
        self.held_bytes += payloads.total_bytes();
        let payloads = Arc::new(payloads);
        for index in 0..n {
            self.waiting.push(Entry { batch, index: index as u32, payloads: payloads.clone(), layout: layout.clone(), address: 0, replica: 0 });
        }
        true
    }

    /// As `submit`, for a submission under `layout` (None: one its client has forgotten);
    /// one refused comes back at once, each entry NoToken, for its client to append.
    pub fn take(&mut self, layout: Option<&Arc<Layout>>, batch: u32, payloads: Payloads) {
        let n = payloads.len() as u32;
        if !layout.is_some_and(|l| self.submit(l, batch, payloads)) {
            for index in 0..n {
                self.outcomes.push(Outcome { batch, index, address: None, fate: Fate::NoToken { status: 0 } });
            }
        }
    }

    /// The end of a turn: TOKENs for the entries waiting, WRITEs for the entries bound.
    pub fn turn(&mut self, now_ns: u64) {
        if !self.waiting.is_empty() {
            let mut groups: Vec<((ServerId, u64), Vec<Entry>)> = Vec::new();
            for e in self.waiting.drain(..) {
                let key = (e.layout.sequencer, e.layout.epoch);
                match groups.iter_mut().find(|(k, g)| *k == key && g.len() < self.limits.tokens_per_request) {
                    Some((_, g)) => g.push(e),
                    None => groups.push((key, vec![e])),
                }
            }
            for ((server, epoch), entries) in groups {
                let id = self.request_id();
                let mut frame = Vec::with_capacity(24);
                codec::token_request(&mut frame, id, epoch, entries.len() as u32);
                self.token_requests += 1;
                self.sends.push(Send { server, frame });
                let deadline_ns = now_ns + timeout_ns(&entries);
                self.in_flight.insert((server, id), InFlight { deadline_ns, what: Flight::Token(entries) });
            }
        }
        let bound = std::mem::take(&mut self.bound);
        for ((server, epoch), entries) in bound {
            let mut rest = entries.into_iter().peekable();
            while rest.peek().is_some() {
                let mut frame_entries = Vec::new();
                let mut bytes = 0;
                while let Some(e) = rest.peek() {
                    let len = e.payload().len();
                    if !frame_entries.is_empty()
                        && (frame_entries.len() >= self.limits.frame_entries || bytes + len > self.limits.frame_payload_bytes)
                    {
                        break;
                    }
                    bytes += len;
                    frame_entries.push(rest.next().expect("peeked"));
                }
                let id = self.request_id();
                let mut frame = Vec::with_capacity(codec::write_request_bytes(frame_entries.len(), bytes));
                codec::write_request(&mut frame, id, epoch, frame_entries.iter().map(|e| (e.address, e.payload())));
                self.sends.push(Send { server, frame });
                let deadline_ns = now_ns + timeout_ns(&frame_entries);
                self.in_flight.insert((server, id), InFlight { deadline_ns, what: Flight::Write(frame_entries) });
            }
        }
    }

    /// A whole answer frame from `server`. Err: the frame is not an answer this machine
    /// can read (the caller drops the connection, which fails what is in flight on it).
    /// An answer to a request no longer in flight (given up on) is ignored.
    pub fn answer(&mut self, server: ServerId, frame: &[u8]) -> Result<(), String> {
        if frame.len() < 12 {
            return Err(format!("a {}-byte frame", frame.len()));
        }
        let id = u32::from_le_bytes(frame[8..12].try_into().expect("4 bytes"));
        let Some(flight) = self.in_flight.remove(&(server, id)) else {
            return Ok(());
        };
        match flight.what {
            Flight::Token(entries) => match codec::answer(frame, TOKEN_OPCODE) {
                Ok((_, Answer::Token { first })) => self.tokens(first, entries),
                Ok((_, Answer::Error { status, .. })) => self.end_all(entries, |_| Fate::NoToken { status }),
                Ok((_, Answer::Write { .. })) => unreachable!("a TOKEN answer read as a WRITE's"),
                Err(why) => {
                    self.end_all(entries, |_| Fate::NoToken { status: 0 });
                    return Err(why);
                }
            },
            Flight::Write(entries) => match codec::answer(frame, WRITE_OPCODE) {
                Ok((_, Answer::Write { statuses })) if statuses.len() == entries.len() => {
                    let statuses = statuses.to_vec();
                    for (e, status) in entries.into_iter().zip(statuses) {
                        if status == STATUS_OK {
                            self.written_at_replica(e);
                        } else {
                            let replica = e.replica;
                            self.end(e, Fate::Fell { replica, status: 0, message: None });
                        }
                    }
                }
                Ok((_, Answer::Error { status, message })) => {
                    let message: Arc<str> = message.into();
                    self.end_all(entries, |e| Fate::Fell { replica: e.replica, status, message: Some(message.clone()) });
                }
                Ok((_, answer)) => {
                    self.end_all(entries, |e| Fate::Fell { replica: e.replica, status: 0, message: None });
                    return Err(format!("a WRITE of the wrong size answered: {answer:?}"));
                }
                Err(why) => {
                    self.end_all(entries, |e| Fate::Fell { replica: e.replica, status: 0, message: None });
                    return Err(why);
                }
            },
        }
        Ok(())
    }

    /// The connection to `server` is gone: nothing in flight on it will be answered.
    pub fn lost(&mut self, server: ServerId) {
        let ids: Vec<(ServerId, u32)> = self.in_flight.range((server, 0)..=(server, u32::MAX)).map(|(k, _)| *k).collect();
        for key in ids {
            let flight = self.in_flight.remove(&key).expect("listed");
            self.give_up(flight.what);
        }
    }

    /// Requests unanswered past their deadline are given up on; returns the servers they
    /// went to (whose connections the caller drops: an answer that late says the
    /// connection, or the server, is not to be waited on).
    pub fn expire(&mut self, now_ns: u64) -> Vec<ServerId> {
        let late: Vec<(ServerId, u32)> = self.in_flight.iter().filter(|(_, f)| f.deadline_ns <= now_ns).map(|(k, _)| *k).collect();
        let mut servers: Vec<ServerId> = late.iter().map(|(s, _)| *s).collect();
        servers.sort_unstable();
        servers.dedup();
        for key in late {
            let flight = self.in_flight.remove(&key).expect("listed");
            self.give_up(flight.what);
        }
        servers
    }

    /// The earliest deadline of a request in flight.
    pub fn next_deadline_ns(&self) -> Option<u64> {
        self.in_flight.values().map(|f| f.deadline_ns).min()
    }

    fn give_up(&mut self, flight: Flight) {
        match flight {
            Flight::Token(entries) => self.end_all(entries, |_| Fate::NoToken { status: 0 }),
            Flight::Write(entries) => self.end_all(entries, |e| Fate::Fell { replica: e.replica, status: 0, message: None }),
        }
    }

    fn tokens(&mut self, first: u64, entries: Vec<Entry>) {
        for (i, mut e) in entries.into_iter().enumerate() {
            e.address = first + i as u64;
            match e.layout.chain(e.address).map(|c| c[0]) {
                Some(head) => {
                    e.replica = 0;
                    self.bound.entry((head, e.layout.epoch)).or_default().push(e);
                }
                None => self.end(e, Fate::Fell { replica: 0, status: 0, message: None }),
            }
        }
    }

    fn written_at_replica(&mut self, mut e: Entry) {
        let chain = e.layout.chain(e.address).expect("an entry bound to a chain is in its segment");
        if e.replica + 1 < chain.len() {
            e.replica += 1;
            let next = chain[e.replica];
            self.bound.entry((next, e.layout.epoch)).or_default().push(e);
        } else {
            self.end(e, Fate::Written);
        }
    }

    fn end_all(&mut self, entries: Vec<Entry>, fate: impl Fn(&Entry) -> Fate) {
        for e in entries {
            let f = fate(&e);
            self.end(e, f);
        }
    }

    fn end(&mut self, e: Entry, fate: Fate) {
        debug_assert!(self.held_entries > 0, "an entry ended twice");
        self.held_entries -= 1;
        self.held_bytes -= e.payload().len();
        let address = match fate {
            Fate::NoToken { .. } => None,
            _ => Some(e.address),
        };
        self.outcomes.push(Outcome { batch: e.batch, index: e.index, address, fate });
    }

    fn request_id(&mut self) -> u32 {
        // Id 0 is AUTH's (docs/protocol.md); ids wrap long after any request is given up on.
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.checked_add(1).unwrap_or(1);
        id
    }
}

fn timeout_ns(entries: &[Entry]) -> u64 {
    entries.iter().map(|e| e.layout.timeout_ns).min().expect("a request has entries")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::front::wire::HEADER_BYTES;

    const SEQ: ServerId = 0;
    const TIMEOUT_NS: u64 = 1_000;

    fn limits() -> Limits {
        Limits { frame_entries: 3, frame_payload_bytes: 1 << 20, tokens_per_request: 100, max_entries: 10, max_bytes: 1 << 20 }
    }

    /// Epoch 4; addresses from 0, two stripes: chains [1, 2] and [3, 4].
    fn layout() -> Arc<Layout> {
        Arc::new(Layout { epoch: 4, timeout_ns: TIMEOUT_NS, sequencer: SEQ, start: 0, end: None, chains: vec![vec![1, 2], vec![3, 4]] })
    }

    fn reply(request: &[u8], body: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        crate::front::wire::answer_header(&mut f, request, body.len());
        f.extend_from_slice(body);
        f
    }

    fn token_ok(first: u64) -> Vec<u8> {
        let mut b = vec![0u8];
        b.extend_from_slice(&first.to_le_bytes());
        b
    }

    fn write_ok(statuses: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8];
        b.extend_from_slice(&(statuses.len() as u32).to_le_bytes());
        b.extend_from_slice(statuses);
        b.extend(statuses.iter().map(|_| 0u8));
        b
    }

    fn error(status: u8, message: &str) -> Vec<u8> {
        let mut b = vec![status];
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&(message.len() as u16).to_le_bytes());
        b.extend_from_slice(message.as_bytes());
        b
    }

    /// A send as the tests look at it: server, opcode, entry count (TOKEN: its count), frame.
    type Sent = (ServerId, u8, u32, Vec<u8>);

    /// The sends of the last turn, taken.
    fn take(m: &mut Machine) -> Vec<Sent> {
        m.sends
            .drain(..)
            .map(|s| (s.server, s.frame[5], u32::from_le_bytes(s.frame[HEADER_BYTES..HEADER_BYTES + 4].try_into().unwrap()), s.frame))
            .collect()
    }

    fn submit(m: &mut Machine, batch: u32, n: usize) {
        let parts: Vec<Vec<u8>> = (0..n).map(|i| vec![i as u8; 5]).collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        assert!(m.submit(&layout(), batch, Payloads::new(&refs)));
    }

    /// A fresh machine with `n` entries submitted as batch 1, their TOKEN answered from
    /// `first`: returns it and the WRITEs of the next turn, by server.
    fn tokened(limits: Limits, n: usize, first: u64) -> (Machine, Vec<Sent>) {
        let mut m = Machine::new(limits);
        submit(&mut m, 1, n);
        m.turn(0);
        let t = take(&mut m).remove(0).3;
        m.answer(SEQ, &reply(&t, &token_ok(first))).unwrap();
        m.turn(0);
        let mut writes = take(&mut m);
        writes.sort_by_key(|w| w.0);
        (m, writes)
    }

    #[test]
    fn one_token_for_the_turn_then_each_chain_head_first() {
        let mut m = Machine::new(limits());
        submit(&mut m, 1, 2);
        submit(&mut m, 2, 1);
        m.turn(0);
        let sends = take(&mut m);
        assert_eq!(sends.len(), 1, "one TOKEN for both submissions");
        let (server, opcode, count, token) = &sends[0];
        assert_eq!((*server, *opcode, *count), (SEQ, TOKEN_OPCODE, 3));
        m.answer(SEQ, &reply(token, &token_ok(10))).unwrap();
        m.turn(0);
        let mut writes = take(&mut m);
        writes.sort_by_key(|w| w.0);
        // 10, 12 on chain [1, 2]; 11 on [3, 4]: heads only.
        assert_eq!(writes.iter().map(|w| (w.0, w.1, w.2)).collect::<Vec<_>>(), vec![(1, WRITE_OPCODE, 2), (3, WRITE_OPCODE, 1)]);
        for (server, _, n, frame) in &writes {
            m.answer(*server, &reply(frame, &write_ok(&vec![0; *n as usize]))).unwrap();
        }
        assert!(m.outcomes.is_empty(), "nothing is done before its tail answers");
        m.turn(0);
        let mut tails = take(&mut m);
        tails.sort_by_key(|w| w.0);
        assert_eq!(tails.iter().map(|w| (w.0, w.2)).collect::<Vec<_>>(), vec![(2, 2), (4, 1)]);
        for (server, _, n, frame) in &tails {
            m.answer(*server, &reply(frame, &write_ok(&vec![0; *n as usize]))).unwrap();
        }
        let mut got: Vec<(u32, u32, Option<u64>)> = m.outcomes.iter().map(|o| (o.batch, o.index, o.address)).collect();
        got.sort();
        assert_eq!(got, vec![(1, 0, Some(10)), (1, 1, Some(11)), (2, 0, Some(12))]);
        assert!(m.outcomes.iter().all(|o| o.fate == Fate::Written));
        assert_eq!(m.held(), 0);
        assert_eq!(m.next_deadline_ns(), None);
    }

    #[test]
    fn the_head_holds_each_entry_s_own_bytes() {
        let (_, w) = tokened(limits(), 2, 0);
        // Address 0 on chain [1, 2] with payload [0; 5]; address 1 on [3, 4] with [1; 5].
        let body = &w[1].3[HEADER_BYTES..];
        assert_eq!(&body[4..12], &1u64.to_le_bytes());
        assert_eq!(&body[16..], &[1u8; 5]);
    }

    #[test]
    fn frames_split_at_the_entry_limit() {
        // Tokens 0..8: the even ones (4) on chain [1, 2], in frames of at most 3.
        let (_, writes) = tokened(Limits { max_entries: 100, ..limits() }, 8, 0);
        let counts: Vec<(ServerId, u32)> = writes.iter().map(|w| (w.0, w.2)).collect();
        assert_eq!(counts.iter().filter(|c| c.0 == 1).map(|c| c.1).sum::<u32>(), 4);
        assert!(counts.iter().all(|c| c.1 <= 3), "{counts:?}");
    }

    #[test]
    fn an_error_or_a_refused_entry_ends_the_walk_with_what_it_learned() {
        let (mut m, writes) = tokened(limits(), 2, 0);
        for (server, _, _, frame) in writes {
            if server == 1 {
                m.answer(1, &reply(&frame, &write_ok(&[1]))).unwrap(); // ERR_WRITTEN for address 0
            } else {
                m.answer(3, &reply(&frame, &write_ok(&[0]))).unwrap();
            }
        }
        m.turn(0);
        let tail = take(&mut m).remove(0);
        assert_eq!(tail.0, 4);
        m.answer(4, &reply(&tail.3, &error(codec::STATUS_SEALED, "sealed at 5"))).unwrap();
        let mut got = m.outcomes.clone();
        got.sort_by_key(|o| o.index);
        assert_eq!(got[0], Outcome { batch: 1, index: 0, address: Some(0), fate: Fate::Fell { replica: 0, status: 0, message: None } });
        assert_eq!(
            got[1],
            Outcome {
                batch: 1,
                index: 1,
                address: Some(1),
                fate: Fate::Fell { replica: 1, status: codec::STATUS_SEALED, message: Some("sealed at 5".into()) }
            }
        );
        assert_eq!(m.held(), 0);
    }

    #[test]
    fn a_token_error_leaves_the_entries_without_tokens() {
        let mut m = Machine::new(limits());
        submit(&mut m, 7, 2);
        m.turn(0);
        let t = take(&mut m).remove(0).3;
        m.answer(SEQ, &reply(&t, &error(codec::STATUS_SEALED, ""))).unwrap();
        assert!(m.outcomes.iter().all(|o| o.address.is_none() && o.fate == Fate::NoToken { status: codec::STATUS_SEALED }));
        assert_eq!(m.outcomes.len(), 2);
    }

    #[test]
    fn no_answer_in_time_or_a_lost_connection_gives_up_on_the_request() {
        let mut m = Machine::new(limits());
        submit(&mut m, 1, 1);
        m.turn(100);
        let t = take(&mut m).remove(0).3;
        assert_eq!(m.next_deadline_ns(), Some(100 + TIMEOUT_NS));
        assert!(m.expire(100 + TIMEOUT_NS - 1).is_empty());
        assert_eq!(m.expire(100 + TIMEOUT_NS), vec![SEQ]);
        assert_eq!(m.outcomes.pop().unwrap().fate, Fate::NoToken { status: 0 });
        // The late answer is ignored.
        m.answer(SEQ, &reply(&t, &token_ok(0))).unwrap();
        assert!(m.outcomes.is_empty() && m.sends.is_empty());

        submit(&mut m, 2, 1);
        m.turn(0);
        let t = take(&mut m).remove(0).3;
        m.answer(SEQ, &reply(&t, &token_ok(0))).unwrap();
        m.turn(0);
        assert_eq!(take(&mut m).len(), 1);
        m.lost(1);
        assert_eq!(
            m.outcomes.pop().unwrap(),
            Outcome { batch: 2, index: 0, address: Some(0), fate: Fate::Fell { replica: 0, status: 0, message: None } }
        );
        assert_eq!(m.held(), 0);
    }

    #[test]
    fn an_address_outside_the_segment_falls_at_once() {
        let mut m = Machine::new(limits());
        let closed = Arc::new(Layout { epoch: 4, timeout_ns: TIMEOUT_NS, sequencer: SEQ, start: 0, end: Some(1), chains: vec![vec![1]] });
        assert!(m.submit(&closed, 1, Payloads::new(&[b"a", b"b"])));
        m.turn(0);
        let t = take(&mut m).remove(0).3;
        m.answer(SEQ, &reply(&t, &token_ok(0))).unwrap();
        assert_eq!(
            m.outcomes,
            vec![Outcome { batch: 1, index: 1, address: Some(1), fate: Fate::Fell { replica: 0, status: 0, message: None } }]
        );
    }

    #[test]
    fn refuses_a_submission_past_its_limits_and_takes_nothing() {
        let mut m = Machine::new(limits());
        submit(&mut m, 1, 10);
        assert!(!m.submit(&layout(), 2, Payloads::new(&[b"x"])));
        assert_eq!(m.held(), 10);
        let mut small = Machine::new(Limits { max_bytes: 4, ..limits() });
        assert!(!small.submit(&layout(), 1, Payloads::new(&[b"12345"])));
        assert!(!small.submit(&layout(), 1, Payloads::new(&[])));
    }

    #[test]
    fn a_malformed_answer_fails_its_request() {
        let mut m = Machine::new(limits());
        submit(&mut m, 1, 1);
        m.turn(0);
        let t = take(&mut m).remove(0).3;
        assert!(m.answer(SEQ, &reply(&t, &[0, 1])).is_err());
        assert_eq!(m.outcomes.pop().unwrap().fate, Fate::NoToken { status: 0 });
    }
}
