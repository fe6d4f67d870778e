//! Dispatch of unknown commands, namespace commands (create, drop, list) and the
//! administrative commands.

use super::*;

#[test]
fn unknown_command_is_59() {
    let s = server();
    let err = run(&s, &client(), "frobnicate", "db", &doc! {"frobnicate": 1}).expect_err("unknown");
    let reply = err.to_document();
    assert_eq!(reply.get_i32("code"), Ok(59));
    assert_eq!(reply.get_str("codeName"), Ok("CommandNotFound"));
    assert_eq!(reply.get_str("errmsg"), Ok("no such command: 'frobnicate'"));
    assert_eq!(reply.get_f64("ok"), Ok(0.0));
    // Command names are case-sensitive, as in mongod.
    assert_eq!(fails(&s, "db", doc! {"PING": 1}), 59);
}

#[test]
fn namespaces() {
    let s = server();
    ok(&s, "db", doc! {"create": "a"});
    assert_eq!(fails(&s, "db", doc! {"create": "a"}), 48);
    ok(&s, "db", doc! {"insert": "b", "documents": [{"x": 1}]});
    let list = ok(&s, "db", doc! {"listCollections": 1, "nameOnly": true});
    let names: Vec<String> = batch(&list, "firstBatch")
        .iter()
        .filter_map(|d| d.get_str("name").ok().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    let filtered = ok(
        &s,
        "db",
        doc! {"listCollections": 1, "filter": {"name": "b"}},
    );
    assert_eq!(batch(&filtered, "firstBatch").len(), 1);
    let dbs = ok(&s, "admin", doc! {"listDatabases": 1});
    assert_eq!(dbs.get_array("databases").map(Vec::len), Ok(1));
    assert_eq!(fails(&s, "db", doc! {"listDatabases": 1}), 13, "admin only");
    let indexes = ok(&s, "db", doc! {"listIndexes": "b"});
    assert_eq!(batch(&indexes, "firstBatch")[0].get_str("name"), Ok("_id_"));
    assert_eq!(fails(&s, "db", doc! {"listIndexes": "zz"}), 26);
    let dropped = ok(&s, "db", doc! {"drop": "b"});
    assert_eq!(dropped.get_str("ns"), Ok("db.b"));
    ok(&s, "db", doc! {"drop": "b"}); // mongod 7.0: dropping a missing collection succeeds
    ok(&s, "db", doc! {"dropDatabase": 1});
    assert!(s.documents("db", "a").is_empty());
    assert_eq!(
        ok(&s, "admin", doc! {"listDatabases": 1})
            .get_array("databases")
            .map(Vec::len),
        Ok(0)
    );
}

#[test]
fn admin_commands() {
    let s = server();
    let build = ok(&s, "admin", doc! {"buildInfo": 1});
    assert_eq!(build.get_str("version"), Ok("7.0.0"));
    assert_eq!(build.get_array("versionArray").map(Vec::len), Ok(4));
    let status = ok(&s, "admin", doc! {"serverStatus": 1});
    let connections = status.get_document("connections").expect("connections");
    for field in ["current", "available", "totalCreated", "active"] {
        assert!(connections.contains_key(field), "{field}");
    }
    assert_eq!(status.get_str("version"), Ok("7.0.0"));
    ok(&s, "admin", doc! {"endSessions": [{"id": 1}]});
    assert_eq!(
        fails(
            &s,
            "db",
            doc! {"configureFailPoint": "failCommand", "mode": "off"}
        ),
        13
    );
    let reply = ok(&s, "admin", doc! {"poolcheckFault": "set", "latencyMS": 5});
    assert_eq!(
        reply
            .get_document("faults")
            .and_then(|f| f.get_i64("latencyMS")),
        Ok(5)
    );
    ok(&s, "admin", doc! {"poolcheckFault": "clear"});
    assert_eq!(s.faults(), crate::faults::Faults::default());
    assert_eq!(
        fails(&s, "admin", doc! {"poolcheckFault": "set", "latencyMs": 5}),
        2
    );
}

#[test]
fn sleep_is_checked_and_admin_only() {
    let s = server();
    ok(&s, "admin", doc! {"sleep": 1, "millis": 5});
    ok(&s, "admin", doc! {"sleep": 1});
    assert_eq!(fails(&s, "db", doc! {"sleep": 1, "millis": 5}), 13);
    assert_eq!(fails(&s, "admin", doc! {"sleep": 1, "millis": -1}), 2);
    assert_eq!(fails(&s, "admin", doc! {"sleep": 1, "millis": 60_001}), 2);
    assert_eq!(fails(&s, "admin", doc! {"sleep": 1, "millis": "x"}), 14);
    assert_eq!(
        super::super::sleep_millis(&doc! {"sleep": 1, "millis": 250}).ok(),
        Some(std::time::Duration::from_millis(250))
    );
}
