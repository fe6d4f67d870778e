//! aggregate: the countDocuments pipeline and its errors.

use super::*;

#[test]
fn aggregate_count_documents_and_errors() {
    let s = server();
    let docs: Vec<Bson> = (0..5)
        .map(|i| Bson::Document(doc! {"_id": i, "k": i % 2}))
        .collect();
    ok(&s, "db", doc! {"insert": "c", "documents": docs});
    let pipeline = vec![
        Bson::Document(doc! {"$match": {"k": 1}}),
        Bson::Document(doc! {"$group": {"_id": 1, "n": {"$sum": 1}}}),
    ];
    let reply = ok(
        &s,
        "db",
        doc! {"aggregate": "c", "pipeline": pipeline, "cursor": {}},
    );
    assert_eq!(batch(&reply, "firstBatch"), vec![doc! {"_id": 1, "n": 2}]);
    let empty = vec![
        Bson::Document(doc! {"$match": {"k": 9}}),
        Bson::Document(doc! {"$group": {"_id": 1, "n": {"$sum": 1}}}),
    ];
    let reply = ok(
        &s,
        "db",
        doc! {"aggregate": "c", "pipeline": empty, "cursor": {}},
    );
    assert!(
        batch(&reply, "firstBatch").is_empty(),
        "an empty match is an empty batch"
    );
    let reply = ok(
        &s,
        "db",
        doc! {"aggregate": "c", "pipeline": [{"$sort": {"_id": -1}}, {"$limit": 3}], "cursor": {"batchSize": 1}},
    );
    assert_eq!(batch(&reply, "firstBatch"), vec![doc! {"_id": 4, "k": 0}]);
    assert_ne!(cursor_id(&reply), 0);
    assert_eq!(fails(&s, "db", doc! {"aggregate": "c", "pipeline": []}), 9);
    assert_eq!(
        fails(
            &s,
            "db",
            doc! {"aggregate": "c", "pipeline": [{"$bogus": 1}], "cursor": {}}
        ),
        40324
    );
}
