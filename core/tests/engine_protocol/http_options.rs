//! What the HTTP side offers: transports, CORS, the io cookie,
//! `allow_request`, and independent sessions.

use super::*;

#[tokio::test]
async fn cors_preflight_and_headers() {
    let config = EngineConfig {
        cors: Some(CorsConfig {
            origins: vec!["http://app.test".into()],
            credentials: true,
            max_age: None,
        }),
        ..suite_engine_config(P)
    };
    let (_, addr) = start_echo(config).await;
    let preflight = request(
        addr,
        Method::OPTIONS,
        &url("EIO=4&transport=polling"),
        "",
        &[
            ("origin", "http://app.test"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
    )
    .await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        "http://app.test"
    );
    assert_eq!(
        preflight.headers["access-control-allow-credentials"],
        "true"
    );
    assert_eq!(
        preflight.headers["access-control-allow-headers"],
        "content-type"
    );
    let allowed = request(
        addr,
        Method::GET,
        &url("EIO=4&transport=polling"),
        "",
        &[("origin", "http://app.test")],
    )
    .await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "http://app.test"
    );
    let other = request(
        addr,
        Method::GET,
        &url("EIO=4&transport=polling"),
        "",
        &[("origin", "http://evil.test")],
    )
    .await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));

    let (_, any) = start_echo(EngineConfig {
        cors: Some(CorsConfig::any()),
        ..suite_engine_config(P)
    })
    .await;
    let answer = request(
        any,
        Method::GET,
        &url("EIO=4&transport=polling"),
        "",
        &[("origin", "http://x.test")],
    )
    .await;
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn io_cookie_names_the_session() {
    let (_, addr) = start_echo(EngineConfig {
        cookie: Some(CookieConfig::default()),
        ..suite_engine_config(P)
    })
    .await;
    let answer = get(addr, &url("EIO=4&transport=polling")).await;
    let sid = serde_json::from_str::<serde_json::Value>(&answer.body[1..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        answer.headers["set-cookie"],
        format!("io={sid}; Path=/; HttpOnly; SameSite=Lax")
    );
    let later = get(
        addr,
        &url(&format!("EIO=4&transport=polling&sid={sid}&t=1")),
    )
    .await;
    assert!(
        !later.headers.contains_key("set-cookie"),
        "only the handshake sets it"
    );
}

#[tokio::test]
async fn allow_request_can_refuse_with_status_and_message() {
    let allow = AllowRequest::new(|parts: &http::request::Parts| {
        let token = parts.uri.query().unwrap_or("").contains("token=good");
        let teapot = parts.uri.query().unwrap_or("").contains("teapot");
        async move {
            match (token, teapot) {
                (true, _) => Ok(()),
                (false, true) => Err(Refusal {
                    status: StatusCode::IM_A_TEAPOT,
                    message: "short and stout".into(),
                }),
                (false, false) => Err(Refusal::forbidden("bad token")),
            }
        }
    });
    let (_, addr) = start_echo(EngineConfig {
        allow_request: Some(allow),
        ..suite_engine_config(P)
    })
    .await;
    let refused = get(addr, &url("EIO=4&transport=polling")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.body, r#"{"code":4,"message":"bad token"}"#);
    let teapot = get(addr, &url("EIO=4&transport=polling&teapot")).await;
    assert_eq!(teapot.status, StatusCode::IM_A_TEAPOT);
    assert_eq!(
        get(addr, &url("EIO=4&transport=polling&token=good"))
            .await
            .status,
        StatusCode::OK
    );
    assert!(
        Ws::connect(addr, &url("EIO=4&transport=websocket"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sessions_are_independent() {
    // A misbehaving session does not disturb its neighbours.
    let addr = echo().await;
    let (mut good, _) = Ws::open(addr, P).await;
    let (mut bad, _) = Ws::open(addr, P).await;
    bad.send("x-not-a-packet").await;
    bad.closed().await;
    good.send("4still here").await;
    assert_eq!(good.text().await, "4still here");
}
