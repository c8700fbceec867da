//! Rounds that overlap at the device answer exactly what the same rounds answer one at a
//! time. Two stores on two simulated devices take the same random rounds (writes, fills,
//! trims, rewrites of addresses the round before wrote, reads, tails, seals, prefix
//! trims): one runs each round to its end (`execute`), the other begins the next round
//! before finishing the one before it. Every answer, every address read back at the end,
//! and every address after a reopen must be the same; and index summaries and checkpoints
//! must fall due at the same flushes.

mod common;

use std::collections::VecDeque;

use common::*;
use corfu_engine::device::sim::SimDevice;
use corfu_engine::device::sim::SplitMix64;
use corfu_engine::store::{Request, Response};
use corfu_engine::{CheckpointTrigger, RoundId, Store, SyncMode};

fn random_round(rng: &mut SplitMix64, next_addr: &mut u64, epoch: &mut u64) -> Vec<Req> {
    let mut reqs = Vec::new();
    for _ in 0..1 + rng.below(4) {
        let recent = |rng: &mut SplitMix64, next: u64| next.saturating_sub(1 + rng.below(6));
        reqs.push(match rng.below(20) {
            0..=10 => {
                let entries: Vec<(u64, Vec<u8>)> = (0..1 + rng.below(6))
                    .map(|_| {
                        // Mostly fresh; sometimes one of the last few (in a started flush).
                        let a = if rng.below(8) == 0 {
                            recent(rng, *next_addr)
                        } else {
                            *next_addr += 1;
                            *next_addr - 1
                        };
                        let len = [rng.below(40), 100 + rng.below(300), 3000 + rng.below(2000)][rng.below(3) as usize] as usize;
                        // Few salts: a rewrite is sometimes the same bytes.
                        (a, payload(a, rng.below(2), len))
                    })
                    .collect();
                write_req(*epoch, &entries)
            }
            11 => Request::Fill { epoch: *epoch, addresses: vec![*next_addr + rng.below(3)] },
            12 | 13 => Request::Trim { epoch: *epoch, addresses: vec![recent(rng, *next_addr)] },
            14 | 15 => Request::Read { epoch: *epoch, addresses: (0..3).map(|_| recent(rng, *next_addr + 2)).collect() },
            16 => Request::Tail { epoch: *epoch },
            17 => Request::PrefixTrim { epoch: *epoch, address: next_addr.saturating_sub(40) },
            18 => {
                *epoch += 1;
                Request::Seal { epoch: *epoch }
            }
            // A write under an epoch the store has left (refused, ERR_SEALED).
            _ => write_req(epoch.saturating_sub(1), &[(*next_addr, payload(*next_addr, 0, 10))]),
        });
    }
    reqs
}

fn answers(responses: &[Response]) -> Vec<String> {
    responses.iter().map(|r| format!("{r:?}")).collect()
}

fn read_all(store: &mut Store<SimDevice>, next_addr: u64) -> Vec<Seen> {
    let epoch = store.superblock().epoch;
    (0..next_addr + 3).map(|a| seen(&read(store, epoch, &[a]))).collect()
}

fn run(seed: u64, sync: SyncMode) {
    let (serial_dev, overlapped_dev) = (fresh_sim(3 * 1024 * 1024, seed, 8192), fresh_sim(3 * 1024 * 1024, seed, 8192));
    let mut serial = open(&serial_dev, sync);
    let mut overlapped = open(&overlapped_dev, sync);
    let mut rng = SplitMix64(seed);
    let (mut next_addr, mut epoch) = (0u64, 0u64);
    let mut waiting: VecDeque<(RoundId, Vec<String>)> = VecDeque::new();
    for round in 0..300 {
        let reqs = random_round(&mut rng, &mut next_addr, &mut epoch);
        let want = answers(&serial.execute(&reqs));
        waiting.push_back((overlapped.begin(&reqs), want));
        // Finish the oldest now, or leave it at the device while the next one begins.
        while waiting.len() > 1 || (waiting.len() == 1 && rng.below(2) == 0) {
            let (id, want) = waiting.pop_front().unwrap();
            assert_eq!(answers(&overlapped.finish(id)), want, "seed {seed}: round before {round}");
        }
    }
    while let Some((id, want)) = waiting.pop_front() {
        assert_eq!(answers(&overlapped.finish(id)), want, "seed {seed}: the last round");
    }
    assert!(overlapped_dev.state.lock().unwrap().most_started >= 2, "seed {seed}: no two flushes were at the device at once");
    assert_eq!(read_all(&mut overlapped, next_addr), read_all(&mut serial, next_addr), "seed {seed}: the logs differ");
    drop((serial, overlapped));
    let (mut serial, mut overlapped) = (open(&serial_dev, sync), open(&overlapped_dev, sync));
    assert_eq!(read_all(&mut overlapped, next_addr), read_all(&mut serial, next_addr), "seed {seed}: the logs differ after a reopen");
}

#[test]
fn overlapped_rounds_answer_as_serial_rounds_do() {
    for seed in 0..seeds(40) {
        run(seed, SyncMode::Always);
    }
}

#[test]
fn overlapped_rounds_answer_as_serial_rounds_do_without_sync() {
    for seed in 100..100 + seeds(20) {
        run(seed, SyncMode::None);
    }
}

/// Rounds of many small writes, one store one round at a time, the other overlapped: index
/// summaries (every 32 Ki records) and checkpoints fall due at the same flushes, so both
/// logs end alike and reopen through the same summaries and checkpoint.
fn same_cadence(trigger: CheckpointTrigger, rounds: u64) {
    let open_with = |dev| {
        let mut store = open(dev, SyncMode::Always);
        store.set_checkpoint_trigger(trigger);
        store
    };
    let (serial_dev, overlapped_dev) = (fresh_sim(16 * 1024 * 1024, 1, 4096), fresh_sim(16 * 1024 * 1024, 1, 4096));
    let (mut serial, mut overlapped) = (open_with(&serial_dev), open_with(&overlapped_dev));
    let mut waiting: Option<RoundId> = None;
    for r in 0..rounds {
        let entries: Vec<(u64, Vec<u8>)> = (r * 200..(r + 1) * 200).map(|a| (a, payload(a, 1, 8))).collect();
        let req = [write_req(0, &entries)];
        serial.execute(&req);
        let this = overlapped.begin(&req);
        if let Some(before) = waiting.replace(this) {
            overlapped.finish(before);
        }
    }
    if let Some(last) = waiting {
        overlapped.finish(last);
    }
    assert!(overlapped_dev.state.lock().unwrap().most_started >= 2, "no two flushes were at the device at once");
    let layout = |s: &Store<SimDevice>| {
        let (sb, st) = (s.superblock(), s.stats());
        (sb.summary_seq, sb.summary_off, sb.summary_len, sb.ckpt_seq, sb.ckpt_bytes, st.flushes, st.next_seq, st.checkpoints_written)
    };
    assert_eq!(layout(&overlapped), layout(&serial), "the overlapped log differs (summary, checkpoint, flushes)");
    match trigger {
        CheckpointTrigger::OnCloseOnly => assert_ne!(serial.superblock().summary_seq, u64::MAX, "no summary fell due"),
        // One flush a round: a checkpoint after every third (its own flushes not counted).
        _ => assert_eq!(serial.stats().checkpoints_written, rounds / 3, "checkpoints written"),
    }
    drop((serial, overlapped));
    let reopened = |dev| {
        let st = open_with(dev).stats();
        (st.recovery_summaries, st.recovery_pages, st.recovery_checkpoint_bytes)
    };
    assert_eq!(reopened(&overlapped_dev), reopened(&serial_dev), "the reopens differ");
}

#[test]
fn summaries_fall_due_as_with_serial_rounds() {
    same_cadence(CheckpointTrigger::OnCloseOnly, 400);
}

#[test]
fn checkpoints_fall_due_as_with_serial_rounds() {
    same_cadence(CheckpointTrigger::EveryFlushes(3), 400);
}
