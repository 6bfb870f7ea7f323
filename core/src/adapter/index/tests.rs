//! Tests of the room index's compact sets.

use super::*;

fn sid(s: &str) -> Sid {
    Sid::from(s.to_owned())
}

#[test]
fn a_room_holds_one_member_inline_and_more_in_a_map() {
    let mut members = Members::Many(HashMap::new());
    assert!(members.is_empty());
    members.insert(&sid("a"), None);
    assert!(matches!(members, Members::One(..)));
    assert!(members.get_mut(&sid("a")).is_some());
    assert!(members.get_mut(&sid("b")).is_none());
    members.insert(&sid("b"), None);
    assert_eq!(members.len(), 2);
    let mut ids: Vec<_> = members.iter().map(|(s, _)| s.as_str().to_owned()).collect();
    ids.sort();
    assert_eq!(ids, ["a", "b"]);
    assert!(!members.remove(&sid("c")));
    assert!(members.remove(&sid("a")));
    assert!(members.remove(&sid("b")));
    assert!(members.is_empty());
    members.insert(&sid("c"), None);
    assert!(!members.remove(&sid("a")));
    assert!(members.remove(&sid("c")));
    assert!(members.is_empty());
}

#[test]
fn a_socket_in_many_rooms_keeps_them_in_a_set() {
    let mut rooms = RoomSet::default();
    for i in 0..FEW_ROOMS + 2 {
        assert!(rooms.insert(&Room::from(format!("r{i}"))));
        assert!(!rooms.insert(&Room::from(format!("r{i}"))));
    }
    assert!(matches!(rooms, RoomSet::Many(_)));
    assert_eq!(rooms.iter().count(), FEW_ROOMS + 2);
    assert!(rooms.remove(&Room::from("r0")));
    assert!(!rooms.remove(&Room::from("r0")));
    assert_eq!(rooms.into_set().len(), FEW_ROOMS + 1);
}

#[test]
fn index_targets_rooms_of_one_and_of_many() {
    let mut index = RoomIndex::default();
    index.add(&sid("a"), &[Room::from("a"), Room::from("all")]);
    index.add(&sid("b"), &[Room::from("b"), Room::from("all")]);
    assert_eq!(index.del(&sid("a"), &Room::from("a")), (true, true));
    assert!(!index.has_room(&Room::from("a")));
    assert!(index.has_room(&Room::from("b")));
    let (left, emptied) = index.del_all(&sid("b"));
    assert_eq!(left.len(), 2);
    assert_eq!(emptied, [Room::from("b")]);
    assert_eq!(index.socket_rooms(&sid("a")), [Room::from("all")]);
}
