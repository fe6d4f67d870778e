//! `hello` (and its legacy names): the handshake fields, standalone and as a replica-set primary.

use super::*;

#[test]
fn hello_names_and_fields() {
    let s = server();
    let hello = ok(&s, "admin", doc! {"hello": 1, "helloOk": true});
    assert_eq!(hello.get_bool("isWritablePrimary"), Ok(true));
    assert_eq!(hello.get_bool("helloOk"), Ok(true));
    assert_eq!(hello.get_i32("connectionId"), Ok(7));
    assert_eq!(hello.get_i32("maxWireVersion"), Ok(21));
    assert_eq!(hello.get_i32("maxBsonObjectSize"), Ok(16_777_216));
    assert_eq!(hello.get_i32("maxMessageSizeBytes"), Ok(48_000_000));
    assert_eq!(hello.get_i32("maxWriteBatchSize"), Ok(100_000));
    assert_eq!(hello.get_i32("logicalSessionTimeoutMinutes"), Ok(30));
    assert!(hello.get_datetime("localTime").is_ok());
    let tv = hello
        .get_document("topologyVersion")
        .expect("topologyVersion");
    assert_eq!(tv.get_object_id("processId"), Ok(s.process_id()));
    assert_eq!(tv.get_i64("counter"), Ok(0));
    let legacy = ok(&s, "admin", doc! {"isMaster": 1});
    assert_eq!(legacy.get_bool("ismaster"), Ok(true));
    assert!(!legacy.contains_key("helloOk"), "helloOk only when asked");
    assert!(!legacy.contains_key("isWritablePrimary"));
}

#[test]
fn hello_as_replica_set_primary() {
    let standalone = ok(&server(), "admin", doc! {"hello": 1});
    assert!(
        !standalone.contains_key("setName"),
        "a standalone by default"
    );
    let s = Server::new(ServerOptions {
        host: "127.0.0.1:4242".into(),
        replica_set: Some("rs0".into()),
        ..ServerOptions::default()
    });
    let hello = ok(&s, "admin", doc! {"hello": 1});
    assert_eq!(hello.get_str("setName"), Ok("rs0"));
    assert_eq!(hello.get_bool("isWritablePrimary"), Ok(true));
    assert_eq!(hello.get_bool("secondary"), Ok(false));
    assert_eq!(hello.get_str("primary"), Ok("127.0.0.1:4242"));
    assert_eq!(hello.get_str("me"), Ok("127.0.0.1:4242"));
    assert_eq!(
        hello.get_array("hosts").expect("hosts"),
        &vec![Bson::String("127.0.0.1:4242".into())]
    );
    assert!(hello.get_object_id("electionId").is_ok());
    assert_eq!(hello.get_i32("setVersion"), Ok(1));
}
