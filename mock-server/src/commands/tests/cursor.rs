//! Cursors: getMore drains the batches, killCursors ends them.

use super::*;

#[test]
fn get_more_drains_batches_and_kill_cursors() {
    let s = server();
    let docs: Vec<Bson> = (0..250).map(|i| Bson::Document(doc! {"_id": i})).collect();
    ok(&s, "db", doc! {"insert": "c", "documents": docs});
    let first = ok(&s, "db", doc! {"find": "c"});
    assert_eq!(
        batch(&first, "firstBatch").len(),
        101,
        "mongod's default first batch"
    );
    let id = cursor_id(&first);
    assert_ne!(id, 0);
    let next = ok(
        &s,
        "db",
        doc! {"getMore": id, "collection": "c", "batchSize": 100},
    );
    assert_eq!(batch(&next, "nextBatch").len(), 100);
    assert_eq!(cursor_id(&next), id);
    let last = ok(&s, "db", doc! {"getMore": id, "collection": "c"});
    assert_eq!(batch(&last, "nextBatch").len(), 49);
    assert_eq!(cursor_id(&last), 0);
    assert_eq!(fails(&s, "db", doc! {"getMore": id, "collection": "c"}), 43);

    let open = ok(&s, "db", doc! {"find": "c", "batchSize": 2});
    let id = cursor_id(&open);
    let killed = ok(
        &s,
        "db",
        doc! {"killCursors": "c", "cursors": [id, 12345i64]},
    );
    assert_eq!(
        killed.get_array("cursorsKilled"),
        Ok(&vec![Bson::Int64(id)])
    );
    assert_eq!(
        killed.get_array("cursorsNotFound"),
        Ok(&vec![Bson::Int64(12345)])
    );
    assert_eq!(s.open_cursors(), 0);
    // singleBatch closes the cursor after the first batch.
    let single = ok(
        &s,
        "db",
        doc! {"find": "c", "batchSize": 2, "singleBatch": true},
    );
    assert_eq!(cursor_id(&single), 0);
}
