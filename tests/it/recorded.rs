//! The mock's answers have exactly the shape of the recorded ones in `fixtures/` (reconstructed
//! from RECORDED.md's description of benbjurstrom/cloudflare-images-php's Saloon recordings):
//! status, content type, key order, 2-space indentation; values differ (ids, times, names).

use cloudflare_images_mock::{MockImages, NewImage};
use serde_json::{json, Value};

use crate::helpers::*;

/// A fixture: its status, headers and raw body.
struct Recorded {
    status: u16,
    headers: serde_json::Map<String, Value>,
    body: String,
}

fn fixture(name: &str) -> Recorded {
    let path = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let fixture: Value = serde_json::from_str(&text).unwrap();
    assert!(
        fixture["provenance"]["confirmed"].is_boolean(),
        "{name}: provenance.confirmed"
    );
    Recorded {
        status: fixture["status"].as_u64().unwrap() as u16,
        headers: fixture["headers"].as_object().unwrap().clone(),
        body: fixture["body"].as_str().expect("a raw body").to_owned(),
    }
}

/// What the mock answered.
struct Answered {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn answer(request: reqwest::RequestBuilder) -> Answered {
    let response = request.bearer_auth(TOKEN).send().await.unwrap();
    Answered {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

/// The shape of a JSON text: keys in their order, the kind of each value, arrays element by
/// element (as text: maps compare without regard to order).
fn shape(text: &str) -> String {
    fn walk(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                Value::Object(map.iter().map(|(k, v)| (k.clone(), walk(v))).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(walk).collect()),
            Value::String(_) => "string".into(),
            Value::Number(_) => "number".into(),
            Value::Bool(_) => "bool".into(),
            Value::Null => Value::Null,
        }
    }
    walk(&serde_json::from_str(text).unwrap()).to_string()
}

/// Asserts the answer has the fixture's status and content type, is laid out as the recording
/// (2-space indentation, as `to_string_pretty`), and has its shape.
fn assert_recorded_shape(answered: &Answered, name: &str) {
    let recorded = fixture(name);
    assert_eq!(
        answered.status, recorded.status,
        "{name}: {}",
        answered.body
    );
    assert_eq!(
        answered.headers["content-type"],
        recorded.headers["content-type"].as_str().unwrap(),
        "{name}"
    );
    for text in [&answered.body, &recorded.body] {
        let value: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            text,
            &serde_json::to_string_pretty(&value).unwrap(),
            "{name}"
        );
    }
    assert_eq!(shape(&answered.body), shape(&recorded.body), "{name}");
}

fn images(mock: &MockImages) -> String {
    mock.upload_url()
}

#[tokio::test]
async fn upload_answers_as_recorded() {
    let mock = MockImages::start().await;

    let answered = answer(client().post(images(&mock)).multipart(png_form())).await;

    assert_recorded_shape(&answered, "post-image.json");
}

#[tokio::test]
async fn get_answers_as_recorded() {
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)).filename("a.png"));

    let answered = answer(client().get(format!("{}/{}", images(&mock), image.id))).await;

    assert_recorded_shape(&answered, "get-image.json");
}

#[tokio::test]
async fn list_v1_answers_as_recorded() {
    // Arrange: an image without metadata, then one with, as in the fixture.
    let mock = MockImages::start().await;
    mock.insert_image(NewImage::new(png(2, 2)).filename("a.png"));
    mock.insert_image(
        NewImage::new(png(3, 2))
            .filename("b.png")
            .metadata(json!({"key": "v"})),
    );

    let answered = answer(client().get(images(&mock))).await;

    assert_recorded_shape(&answered, "get-images.json");
}

#[tokio::test]
async fn patch_answers_as_recorded() {
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)).filename("a.png"));

    let answered = answer(
        client()
            .patch(format!("{}/{}", images(&mock), image.id))
            .json(&json!({"metadata": {"key": "v"}})),
    )
    .await;

    assert_recorded_shape(&answered, "patch-image.json");
}

#[tokio::test]
async fn delete_answers_the_recorded_body() {
    let mock = MockImages::start().await;
    let image = mock.insert_image(NewImage::new(png(2, 2)));

    let answered = answer(client().delete(format!("{}/{}", images(&mock), image.id))).await;

    assert_recorded_shape(&answered, "delete-image.json");
    assert_eq!(answered.body, fixture("delete-image.json").body);
}

#[tokio::test]
async fn a_missing_image_is_the_recorded_404_text() {
    let mock = MockImages::start().await;

    let answered = answer(client().delete(format!("{}/nope.png", images(&mock)))).await;

    let recorded = fixture("delete-image-not-found.json");
    assert_eq!(answered.status, recorded.status);
    assert_eq!(answered.body, recorded.body);
    // Every recorded header but cf-ray (the mock is no Cloudflare edge) and the cookies.
    for (name, value) in &recorded.headers {
        if name == "cf-ray" {
            continue;
        }
        assert_eq!(
            answered
                .headers
                .get(name.as_str())
                .map(|v| v.to_str().unwrap()),
            value.as_str(),
            "{name}"
        );
    }
}
