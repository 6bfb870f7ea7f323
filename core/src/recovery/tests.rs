use super::*;

const MAX: usize = 1 << 20;

fn offset(n: u32) -> String {
    static BASE: OnceLock<u64> = OnceLock::new();
    format!("{:x}-test{n}", BASE.get_or_init(unix_millis))
}

fn logged(offset: &str, rooms: &[&str], except: &[&str]) -> LoggedPacket {
    LoggedPacket {
        offset: offset.into(),
        packet: Packet::event("/", "e", vec![Value::from(offset)]),
        opts: BroadcastOptions {
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            except: except.iter().map(|r| Room::from(*r)).collect(),
            ..Default::default()
        },
    }
}

fn session(pid: &str, rooms: &[&str]) -> SessionState {
    SessionState {
        sid: "s1".into(),
        pid: pid.into(),
        rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
        data: Value::Null,
        user: None,
    }
}

fn offsets(missed: &[Packet]) -> Vec<String> {
    missed
        .iter()
        .map(|p| match &p.kind {
            crate::protocol::PacketKind::Event { args, .. } => {
                args[0].as_str().unwrap_or_default().to_owned()
            }
            _ => String::new(),
        })
        .collect()
}

#[test]
fn gives_back_the_packets_after_the_offset_for_the_sessions_rooms() {
    let log = RecoveryLog::default();
    let keep = Duration::from_secs(60);
    let o: Vec<String> = (0..7).map(offset).collect();
    for p in [
        logged(&o[1], &[], &[]),
        logged(&o[2], &["a"], &[]),
        logged(&o[3], &["b"], &[]),
        logged(&o[4], &[], &["a"]),
        logged(&o[5], &["s1"], &[]),
        logged(&o[6], &[], &[]),
    ] {
        log.record(p, keep);
    }
    log.persist(session("p1", &["s1", "a"]), keep);
    let restored = log.restore("p1", &o[2], keep, MAX).expect("restored");
    assert_eq!(offsets(&restored.missed), [o[5].clone(), o[6].clone()]);
    assert!(
        log.restore("p1", &o[2], keep, MAX).is_none(),
        "a session is restored once"
    );
}

#[test]
fn refuses_unknown_sessions_and_offsets() {
    let log = RecoveryLog::default();
    let keep = Duration::from_secs(60);
    log.record(logged(&offset(1), &[], &[]), keep);
    log.persist(session("p1", &["s1"]), keep);
    assert!(log.restore("nope", &offset(1), keep, MAX).is_none());
    assert!(log.restore("p1", "unknown-offset", keep, MAX).is_none());
    assert!(
        !log.has_session("p1"),
        "a failed restore forgets the session"
    );
}

#[test]
fn refuses_to_replay_more_than_the_cap() {
    let log = RecoveryLog::default();
    let keep = Duration::from_secs(60);
    log.record(logged(&offset(0), &[], &[]), keep);
    for n in 1..=100 {
        log.record(logged(&offset(n), &[], &[]), keep);
    }
    log.persist(session("p1", &["s1"]), keep);
    log.persist(session("p2", &["s1"]), keep);
    let all: usize = (1..=100)
        .map(|n| logged(&offset(n), &[], &[]).replay_bytes())
        .sum();
    assert!(log.restore("p1", &offset(0), keep, all - 1).is_none());
    let restored = log.restore("p2", &offset(0), keep, all).unwrap();
    assert_eq!(restored.missed.len(), 100);
}

#[test]
fn forgets_what_is_older_than_the_window() {
    let log = RecoveryLog::default();
    log.record(logged(&offset(1), &[], &[]), Duration::from_secs(60));
    log.persist(session("p1", &["s1"]), Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(20));
    log.record(logged(&offset(2), &[], &[]), Duration::from_millis(5));
    assert_eq!(log.packet_count(), 1, "offset 1 pruned");
    assert!(
        log.restore("p1", &offset(2), Duration::from_millis(5), MAX)
            .is_none(),
        "expired"
    );
}

#[test]
fn offsets_carry_their_time() {
    let before = unix_millis();
    let o = new_offset();
    let made = offset_millis(&o).unwrap();
    assert!(made >= before && made <= unix_millis(), "{o}");
    assert!(offset_in_window(&o, Duration::from_secs(1)));
    let old = format!("{:x}-x1", before - 60_000);
    assert!(!offset_in_window(&old, Duration::from_secs(10)));
    assert!(offset_in_window(&old, Duration::from_secs(120)));
    for bogus in ["", "-", "zz-1", "nope", "1-", "1234567890abcd-1"] {
        assert!(
            !offset_in_window(bogus, Duration::from_secs(120)),
            "{bogus}"
        );
    }
    let future = format!("{:x}-x1", before + 3_600_000);
    assert!(!offset_in_window(&future, Duration::from_secs(120)));
}

#[test]
fn offsets_are_unique() {
    let a = new_offset();
    let b = new_offset();
    assert_ne!(a, b);
    assert!(a.len() >= 9);
}

#[test]
fn a_replay_never_sent_resumes_then_the_log_follows_once() {
    let log = RecoveryLog::default();
    let keep = Duration::from_secs(60);
    let o: Vec<String> = (0..8).map(offset).collect();
    // Kept here before the socket heard its rooms: not part of its replay.
    log.record(logged(&o[0], &["a"], &[]), keep);
    let since = std::time::Instant::now();
    // Live here since: one it was also replayed, one for another room.
    for p in [
        logged(&o[3], &["a"], &[]),
        logged(&o[4], &["a"], &[]),
        logged(&o[5], &["b"], &[]),
        logged(&o[6], &[], &[]),
    ] {
        log.record(p, keep);
    }
    let unsent = Unsent {
        offset: o[1].clone().into(),
        missed: [&o[2], &o[3]]
            .iter()
            .map(|o| logged(o, &["a"], &[]).packet)
            .collect(),
        since,
    };
    let rooms = [Room::from("s1"), Room::from("a")];
    let resume = |from: &str, max| log.resume(&unsent, from, &rooms, keep, max);
    let from_start = resume(&o[1], MAX).expect("its offset").expect("replayed");
    assert_eq!(
        offsets(&from_start),
        [&o[2], &o[3], &o[4], &o[6]].map(String::clone)
    );
    let from_inside = resume(&o[2], MAX)
        .expect("a replayed offset")
        .expect("replayed");
    assert_eq!(
        offsets(&from_inside),
        [&o[3], &o[4], &o[6]].map(String::clone)
    );
    assert!(
        resume(&o[4], MAX).is_none(),
        "not the replay's: the log answers"
    );
    assert_eq!(resume(&o[1], 4), Some(Err(Unrecoverable::TooMuch)));
}
