//! Bulk import (`import-v2`): up to 100 items, each succeeding or failing alone, results to
//! be matched by `originalIndex`.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use wix_media_emulator::EmulatorConfig;
use wix_media_testkit::emulator::{Emu, md5_hex};

use crate::support::{ReadSide, Source};

fn bulk(env: &Emu, items: &[Value], return_entity: bool) -> wix_media_testkit::http::Resp {
    env.api_post(
        "/bulk/files/import-v2",
        &json!({"importFileRequests": items, "returnEntity": return_entity}),
    )
}

/// The result for request item `index`.
fn result_for(results: &[Value], index: usize) -> &Value {
    results
        .iter()
        .find(|r| r["itemMetadata"]["originalIndex"] == index)
        .unwrap_or_else(|| panic!("no result for item {index}"))
}

#[test]
fn each_item_succeeds_or_fails_alone_and_is_found_by_its_original_index() {
    let env = Emu::with(EmulatorConfig::new().processing_delay(Duration::ZERO));
    let source = Source::start();
    let items = [
        json!({"url": source.url("/pic.png"), "displayName": "one.png"}),
        json!({"url": "not-a-url"}),
        json!({"url": source.url("/pic.png"), "displayName": "two.png", "filePath": "/bulk"}),
        json!({"url": source.url("/pic.png"), "parentFolderId": "no-such-folder"}),
        json!({"url": "http://example.com/elsewhere.png"}),
        json!("not an object"),
        json!({"url": source.url("/noext"), "displayName": "three", "mimeType": "image/png"}),
    ];
    let r = bulk(&env, &items, true);
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    let results = body["results"].as_array().expect("results");
    let order: Vec<u64> = results
        .iter()
        .map(|r| r["itemMetadata"]["originalIndex"].as_u64().expect("index"))
        .collect();
    assert_eq!(
        order.iter().collect::<BTreeSet<_>>().len(),
        items.len(),
        "{order:?}"
    );
    assert_ne!(
        order,
        (0..items.len() as u64).collect::<Vec<_>>(),
        "not in request order"
    );
    assert_eq!(
        body["bulkActionMetadata"],
        json!({"totalSuccesses": 4, "totalFailures": 3, "undetailedFailures": 0})
    );

    for (index, code) in [
        (1, "INVALID_ARGUMENT"),
        (3, "NOT_FOUND"),
        (5, "INVALID_ARGUMENT"),
    ] {
        let meta = &result_for(results, index)["itemMetadata"];
        assert_eq!(meta["success"], false, "{meta}");
        assert_eq!(meta["error"]["code"], code, "{meta}");
        assert!(
            meta["error"]["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert!(result_for(results, index).get("item").is_none());
    }
    for (index, name) in [(0, "one.png"), (2, "two.png"), (6, "three")] {
        let result = result_for(results, index);
        assert_eq!(result["itemMetadata"]["success"], true, "{result}");
        let item = &result["item"];
        assert_eq!(item["displayName"], name);
        assert_eq!(item["operationStatus"], "PENDING");
        assert_eq!(result["itemMetadata"]["id"], item["id"]);
        let ready = env.settled(item["id"].as_str().expect("id"));
        assert_eq!(ready["operationStatus"], "READY", "{ready}");
        assert_eq!(ready["hash"], md5_hex(&source.pic));
    }
    let two = result_for(results, 2)["item"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(env.emu.path_of(&two).as_deref(), Some("/bulk/two.png"));
    // Accepted, then failed in the background: a source the emulator can't reach.
    let elsewhere = result_for(results, 4)["itemMetadata"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_eq!(env.settled(&elsewhere)["operationStatus"], "FAILED");
    assert_eq!(env.emu.files().len(), 4);

    // Without returnEntity: the metadata only.
    let r = bulk(&env, &items[..1], false);
    assert_eq!(r.status, 200, "{}", r.body);
    let result = &r.json()["results"][0];
    assert_eq!(result["itemMetadata"]["success"], true);
    assert!(result.get("item").is_none(), "{result}");
}

#[test]
fn one_call_takes_1_to_100_items() {
    let env = Emu::start();
    let items: Vec<Value> = (0..101)
        .map(|i| json!({ "url": format!("http://example.com/{i}.png") }))
        .collect();
    let r = bulk(&env, &items, false);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.rule_names(), vec!["MAX_SIZE".to_string()]);
    assert_eq!(bulk(&env, &[], false).status, 400);
    assert_eq!(
        env.api_post("/bulk/files/import-v2", &json!({})).status,
        400
    );
    assert!(env.emu.files().is_empty(), "a refused call imports nothing");

    let r = bulk(&env, &items[..100], false);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["results"].as_array().map(Vec::len), Some(100));
    assert_eq!(r.json()["bulkActionMetadata"]["totalSuccesses"], 100);
    assert_eq!(env.emu.route_counts().get("POST bulk-import-v2"), Some(&4));
}
