//! Tests of reading a session's owner from its id.

use super::*;

#[test]
fn session_ids_name_their_owner() {
    assert_eq!(tag_of("AbCd-_0123456789abcdefg.1a2b3c4d"), Some("1a2b3c4d"));
    assert_eq!(tag_of("AbCd-_0123456789abcdefg"), None);
    assert_eq!(tag_of("trailing."), None);
}
