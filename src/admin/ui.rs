//! The Admin UI's static build, served at `/admin/` from the npm package
//! `@socket.io/admin-ui` (its `ui/dist` folder), so that the UI needs no
//! other host. Paths outside the folder are never served (tower-http's
//! `ServeDir`).

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{Request, StatusCode, Uri};
use std::path::{Path, PathBuf};
use tower_http::services::ServeDir;
use tower_service::Service;

/// Where the build is looked for when no folder is given: the working
/// directory's `node_modules`, then the repository's (the binary in
/// `target/<profile>/`).
const PACKAGE_DIST: &str = "node_modules/@socket.io/admin-ui/ui/dist";

/// The folder holding the UI's `index.html`: `dir` if given, else the
/// npm package's build where it is installed.
pub fn find(dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = dir {
        return Some(dir.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from(PACKAGE_DIST)];
    if let Ok(exe) = std::env::current_exe()
        && let Some(repo) = exe.parent().and_then(Path::parent).and_then(Path::parent)
    {
        candidates.push(repo.join(PACKAGE_DIST));
    }
    candidates
        .into_iter()
        .find(|c| c.join("index.html").is_file())
}

/// `/admin` (redirected to `/admin/`) and everything under `/admin/`.
pub fn routes(dir: Option<PathBuf>) -> Router {
    let serve = move |req: Request<Body>| {
        let dir = dir.clone();
        async move { serve(dir.as_deref(), req).await }
    };
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route("/admin/", get(serve.clone()))
        .route("/admin/{*path}", get(serve))
}

async fn serve(dir: Option<&Path>, req: Request<Body>) -> Response {
    let Some(dir) = dir else {
        return (
            StatusCode::NOT_FOUND,
            "The Admin UI's files were not found: install them with `npm install @socket.io/admin-ui@0.5.1` \
             or give --admin-ui-dir. The admin namespace still serves the hosted UI (https://admin.socket.io).\n",
        )
            .into_response();
    };
    let (mut parts, body) = req.into_parts();
    let inner = parts
        .uri
        .path()
        .strip_prefix("/admin")
        .unwrap_or("/")
        .to_owned();
    parts.uri = match Uri::builder().path_and_query(inner).build() {
        Ok(uri) => uri,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let mut files = ServeDir::new(dir);
    match files.call(Request::from_parts(parts, body)).await {
        Ok(response) => response.map(Body::new),
        Err(e) => {
            tracing::warn!(error = %e, "Admin UI file not served");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
