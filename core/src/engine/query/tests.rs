//! Tests of query string parsing.

use super::*;

#[test]
fn parses_queries_like_url_search_params() {
    let q = parse_query(Some(
        "EIO=4&transport=polling&t=N8hyd6w&name=a%20b+c&flag&bad=%zz&x=%e2%82%ac",
    ));
    assert_eq!(query_param(&q, "EIO"), Some("4"));
    assert_eq!(query_param(&q, "name"), Some("a b c"));
    assert_eq!(query_param(&q, "flag"), Some(""));
    assert_eq!(query_param(&q, "bad"), Some("%zz"));
    assert_eq!(query_param(&q, "x"), Some("€"));
    assert_eq!(query_param(&q, "missing"), None);
    assert!(parse_query(None).is_empty());
    assert_eq!(query_param(&parse_query(Some("a=%")), "a"), Some("%"));
    assert_eq!(query_param(&parse_query(Some("a=%4")), "a"), Some("%4"));
}
