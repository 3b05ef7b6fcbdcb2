//! The server documents itself: the OpenAPI document lists exactly the API's routes and every
//! one of them answers; Swagger UI, the web page and the mailbox are served from the binary.

mod support;

use std::{collections::BTreeSet, time::Duration};

use pdfmill_ingress::IngressSettings;
use serde_json::Value;
use support::{Options, TestApp, png};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openapi_document_lists_every_route_and_every_route_answers() {
    let app = TestApp::spawn().await;
    let id = app.submit_ok(&[("a.png", png(4, 4))], &[]).await;
    app.wait_for_state(&id, "converted", WAIT).await;

    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        document["openapi"]
    );
    assert_eq!(
        document,
        serde_json::to_value(pdfmill_ingress::openapi()).unwrap()
    );

    let mut operations = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected: BTreeSet<String> = [
        "POST /v1/conversions",
        "GET /v1/conversions/{id}",
        "GET /v1/conversions/{id}/events",
        "GET /v1/conversions/{id}/pdf",
        "POST /v1/emails",
        "GET /healthz",
        "GET /readyz",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(operations, expected);

    for operation in &operations {
        let (method, path) = operation.split_once(' ').unwrap();
        let url = app.url(&path.replace("{id}", &id));
        let request = match method {
            "GET" => app.http.get(&url),
            "POST" => app.http.post(&url),
            other => panic!("undocumented method {other}"),
        };
        let response = tokio::time::timeout(WAIT, request.send())
            .await
            .unwrap()
            .unwrap();
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{operation} answered {status}"
        );
        assert!(status < 500, "{operation} answered {status}");
        let documented = document["paths"][path][method.to_lowercase()]["responses"]
            .as_object()
            .unwrap()
            .contains_key(&status.to_string());
        assert!(
            documented,
            "{operation} answered {status}, which its documentation does not list"
        );
    }
    // Every error status the API uses has the documented body.
    let schemas = &document["components"]["schemas"];
    assert!(schemas["ErrorBody"].is_object(), "{schemas}");
    assert!(document["components"]["securitySchemes"]["api_key"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swagger_ui_and_the_web_page_are_built_in() {
    let app = TestApp::spawn().await;
    let docs = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));
    let bundle = app
        .http
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), 200);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);

    let page = app.http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<form id=\"upload\"") && html.contains("/assets/app.js"));
    let script = app
        .http
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(script.text().await.unwrap().contains("new EventSource"));
    let style = app
        .http
        .get(app.url("/assets/style.css"))
        .send()
        .await
        .unwrap();
    assert!(
        style.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    // No outbox configured: no mailbox.
    assert_eq!(
        app.http
            .get(app.url("/mailbox"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_mailbox_lists_and_shows_the_outbox() {
    let app = TestApp::spawn_with(Options {
        workers: true,
        outbox: true,
        ingress: IngressSettings::default(),
    })
    .await;
    let empty = app
        .http
        .get(app.url("/mailbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(empty.contains("The outbox is empty"), "{empty}");

    let id = app
        .submit_ok(&[("a.png", png(4, 4))], &[("email", "eve@example.com")])
        .await;
    app.wait_for_state(&id, "emailed", WAIT).await;
    let list = app
        .http
        .get(app.url("/mailbox"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("eve@example.com"), "{list}");
    assert!(list.contains("Your PDF is ready"), "{list}");
    let file = list
        .split("href=\"/mailbox/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert!(file.ends_with(".eml"), "{file}");

    let shown = app
        .http
        .get(app.url(&format!("/mailbox/{file}")))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status(), 200);
    let shown = shown.text().await.unwrap();
    assert!(
        shown.contains("<iframe class=\"email\" sandbox srcdoc="),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("/v1/conversions/{id}/pdf")),
        "{shown}"
    );
    let raw = app
        .http
        .get(app.url(&format!("/mailbox/{file}/raw")))
        .send()
        .await
        .unwrap();
    assert!(raw.text().await.unwrap().contains("Message-ID:"));

    for bad in [
        "/mailbox/..%2Fstore",
        "/mailbox/nothing.eml",
        "/mailbox/.hidden.eml",
    ] {
        assert_eq!(
            app.http.get(app.url(bad)).send().await.unwrap().status(),
            404,
            "{bad}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_serves_until_shutdown() {
    let nats = support::NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let settings = pdfmill_core::Settings {
        nats_url: nats.url.clone(),
        store_url: format!("file://{}", dir.path().display()),
        ..pdfmill_core::Settings::default()
    };
    let ctx = pdfmill_core::Context::connect_and_declare(settings, "run-test")
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(pdfmill_ingress::run(
        ctx,
        IngressSettings {
            listen: ([127, 0, 0, 1], port).into(),
            ..IngressSettings::default()
        },
        shutdown.clone(),
    ));
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut up = false;
    for _ in 0..100 {
        if let Ok(response) = reqwest::get(&url).await {
            up = response.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up, "the server did not come up");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
