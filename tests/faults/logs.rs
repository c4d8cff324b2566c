//! LOG_FORMAT=json: every line the process writes is one JSON object a log shipper reads.

use reqwest::StatusCode;

use super::common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_and_the_outbox() {
    let _one = common::serial().await;
    let stack = common::stack().await;
    let mut env = common::BUSY_FIRM.to_vec();
    env.push(("LOG_FORMAT", "json"));
    let instance = stack.start(&env).await;
    let app = stack.app(&instance);
    let f = common::firm(&app).await;
    assert!(common::invite(&f, &instance.base, "cleo@client.test").await.is(StatusCode::SEE_OTHER));
    common::outbox_drained(&stack.db, &instance.base, std::time::Duration::from_secs(20)).await;
    // An invite link in the log would be a secret leaked: the path is masked.
    let link = app.invite_link("cleo@client.test", 1).await;
    let token = link.rsplit('/').next().unwrap().split('?').next().unwrap().to_string();
    assert!(common::get(&f.ada, &instance.base, &format!("/invites/{token}")).await.status.is_some());

    let log = instance.log();
    let mut lines = 0;
    let (mut requests, mut sent) = (0, 0);
    for line in log.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for field in ["timestamp", "level", "message", "target"] {
            assert!(v.get(field).is_some(), "{field} missing: {line}");
        }
        let message = v["message"].as_str().unwrap_or_default();
        if message.contains("\"POST /w/") {
            requests += 1;
        }
        if message == "outbox: sent" {
            assert!(v.get("outbox_id").is_some_and(|id| id.is_number()), "the event's fields are top-level: {line}");
            sent += 1;
        }
        lines += 1;
    }
    assert!(requests >= 1 && sent >= 2, "request lines {requests}, sent lines {sent}:\n{log}");
    assert!(!log.contains(&token), "the invite token is masked in the log");
    common::say(&format!(
        "logs: LOG_FORMAT=json: {lines} lines, each one JSON object ({requests} form posts, {sent} emails sent)"
    ));
}
